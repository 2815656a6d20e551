"""Render cache: items record a content hash and whether their audio was reused.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 03:26:23.018210
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('reused', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index('ix_items_tenant_content_hash', ['tenant_id', 'content_hash'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_index('ix_items_tenant_content_hash')
        batch_op.drop_column('reused')
        batch_op.drop_column('content_hash')

