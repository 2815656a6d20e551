"""Fine-tune runs of tenants' pronunciation adapters.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'finetune_runs',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('tenant_id', sa.String(length=36), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('trigger', sa.String(length=20), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('metrics', sa.JSON(), nullable=False),
        sa.Column('adapter_key', sa.String(length=500), nullable=True),
        sa.Column('adapter_sha256', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('rolled_back_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_finetune_runs_tenant_id_tenants'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_finetune_runs')),
        sa.UniqueConstraint('tenant_id', 'version', name=op.f('uq_finetune_runs_tenant_id')),
    )
    op.create_index(op.f('ix_finetune_runs_tenant_id'), 'finetune_runs', ['tenant_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_finetune_runs_tenant_id'), table_name='finetune_runs')
    op.drop_table('finetune_runs')
