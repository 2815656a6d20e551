"""Consents record the language their statement is spoken in and its one-time code.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 04:03:47.104466
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), server_default='zh', nullable=False))
        batch_op.add_column(sa.Column('code', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.drop_column('code')
        batch_op.drop_column('language')

