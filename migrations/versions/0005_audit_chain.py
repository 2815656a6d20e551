"""Audit rows carry a hash chain; API keys may expire after a rotation's grace period.

Existing audit rows are chained in id order, then both hash columns become NOT NULL and
``prev_hash`` unique (no fork). On PostgreSQL a trigger makes audit_events append-only for
every role, owners and superusers included.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 06:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

APPEND_ONLY_FUNCTION = """
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END
$$
"""


def _chain_existing_rows() -> None:
    from shared.audit import GENESIS, HASHED_FIELDS, row_hash

    types = {'details': sa.JSON(), 'created_at': sa.DateTime(timezone=True)}
    events = sa.table('audit_events', sa.column('id', sa.Integer), sa.column('prev_hash', sa.String),
                      sa.column('hash', sa.String),
                      *(sa.column(name, types.get(name, sa.String())) for name in HASHED_FIELDS))
    bind = op.get_bind()
    prev = GENESIS
    rows = bind.execute(sa.select(events).order_by(events.c.id)).mappings().all()
    for row in rows:
        digest = row_hash(row, prev)
        bind.execute(events.update().where(events.c.id == row['id']).values(prev_hash=prev, hash=digest))
        prev = digest


def upgrade() -> None:
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))
    _chain_existing_rows()
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint('uq_audit_events_prev_hash', ['prev_hash'])
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(APPEND_ONLY_FUNCTION)
        op.execute('CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events '
                   'FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()')
        op.execute('CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events '
                   'FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events')
        op.execute('DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events')
        op.execute('DROP FUNCTION IF EXISTS audit_events_append_only()')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_constraint('uq_audit_events_prev_hash', type_='unique')
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
