"""Each tenant's own nightly fine-tune time.

A local hour in an IANA time zone, and a switch to turn the nightly run off. Both time
columns are nullable: a tenant that never chose runs at the deployment's
``finetune_hour_utc``, in UTC, as every tenant did before this revision.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 09:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('finetune_hour', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('finetune_timezone', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('finetune_enabled', sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.drop_column('finetune_enabled')
        batch_op.drop_column('finetune_timezone')
        batch_op.drop_column('finetune_hour')
