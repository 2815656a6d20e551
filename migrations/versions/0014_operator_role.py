"""The operator's keys, and signed checkpoints that anchor the audit chain.

``operator_keys``: keys of the deployment's operator, who belongs to no tenant and alone
reviews consents that speech recognition cannot check. ``audit_checkpoints``: HMAC-signed
(chain position, head hash) pairs written by the migrating role; on PostgreSQL a trigger
makes them append-only like the audit rows they anchor.

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-02 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

APPEND_ONLY_FUNCTION = """
CREATE FUNCTION audit_checkpoints_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_checkpoints is append-only';
END
$$
"""


def upgrade() -> None:
    op.create_table(
        'operator_keys',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('prefix', sa.String(length=16), nullable=False),
        sa.Column('key_hash', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_operator_keys')),
        sa.UniqueConstraint('prefix', name=op.f('uq_operator_keys_prefix')),
    )
    op.create_table(
        'audit_checkpoints',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('rows', sa.Integer(), nullable=False),
        sa.Column('head_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('signature', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_checkpoints')),
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(APPEND_ONLY_FUNCTION)
        op.execute('CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints '
                   'FOR EACH ROW EXECUTE FUNCTION audit_checkpoints_append_only()')
        op.execute('CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints '
                   'FOR EACH STATEMENT EXECUTE FUNCTION audit_checkpoints_append_only()')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS audit_checkpoints_no_truncate ON audit_checkpoints')
        op.execute('DROP TRIGGER IF EXISTS audit_checkpoints_append_only ON audit_checkpoints')
        op.execute('DROP FUNCTION IF EXISTS audit_checkpoints_append_only()')
    op.drop_table('audit_checkpoints')
    op.drop_table('operator_keys')
