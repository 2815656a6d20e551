"""Batches planned from a stored source.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 06:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('zip_key', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('source_key', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('source_format', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('dispatched_seq', sa.Integer(), nullable=False, server_default='-1'))
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.alter_column('voice_id', existing_type=sa.String(length=36), nullable=True)
        batch_op.create_index('ix_items_batch_status_seq', ['batch_id', 'status', 'seq'], unique=False)


def downgrade() -> None:
    op.execute("DELETE FROM items WHERE voice_id IS NULL")
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_index('ix_items_batch_status_seq')
        batch_op.alter_column('voice_id', existing_type=sa.String(length=36), nullable=False)
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.drop_column('dispatched_seq')
        batch_op.drop_column('source_format')
        batch_op.drop_column('source_key')
        batch_op.drop_column('zip_key')
