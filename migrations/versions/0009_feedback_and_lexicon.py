"""Reviewer feedback and a versioned lexicon.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 06:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lexicon_versions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_lexicon_versions_tenant_id_tenants'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lexicon_versions')),
    sa.UniqueConstraint('tenant_id', 'version', name=op.f('uq_lexicon_versions_tenant_id'))
    )
    with op.batch_alter_table('lexicon_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lexicon_versions_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('lexicon_entries',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('voice_id', sa.String(length=36), nullable=True),
    sa.Column('word', sa.String(length=200), nullable=False),
    sa.Column('reading', sa.String(length=200), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('created_version', sa.Integer(), nullable=False),
    sa.Column('deleted_version', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_lexicon_entries_tenant_id_tenants'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['voice_id'], ['voices.id'], name=op.f('fk_lexicon_entries_voice_id_voices'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lexicon_entries'))
    )
    with op.batch_alter_table('lexicon_entries', schema=None) as batch_op:
        batch_op.create_index('ix_lexicon_entries_tenant_live', ['tenant_id', 'deleted_version'], unique=False)

    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lexicon_version', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('readings', sa.JSON(), nullable=True))

    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.add_column(sa.Column('word', sa.String(length=200), server_default='', nullable=False))
        batch_op.add_column(sa.Column('language', sa.String(length=8), server_default='zh', nullable=False))
        batch_op.add_column(sa.Column('lexicon_entry_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.drop_column('updated_at')
        batch_op.drop_column('lexicon_entry_id')
        batch_op.drop_column('language')
        batch_op.drop_column('word')

    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_column('readings')
        batch_op.drop_column('lexicon_version')

    with op.batch_alter_table('lexicon_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_lexicon_entries_tenant_live')
    op.drop_table('lexicon_entries')

    with op.batch_alter_table('lexicon_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lexicon_versions_tenant_id'))
    op.drop_table('lexicon_versions')
