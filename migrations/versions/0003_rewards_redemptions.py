"""Rewards catalog and redemptions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 03:35:45.440616
"""
from alembic import op
import sqlalchemy as sa
import models.base


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rewards',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('points_required', sa.Integer(), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=True),
    sa.Column('stock_used', sa.Integer(), nullable=False),
    sa.Column('max_per_customer', sa.Integer(), nullable=True),
    sa.Column('valid_from', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('valid_until', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('points_required > 0', name=op.f('ck_rewards_points_positive')),
    sa.CheckConstraint('stock IS NULL OR stock_used <= stock', name=op.f('ck_rewards_stock_not_exceeded')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_rewards_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_rewards')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_rewards_tenant_id_name'))
    )
    with op.batch_alter_table('rewards', schema=None) as batch_op:
        batch_op.create_index('ix_rewards_catalog', ['tenant_id', 'is_active', 'points_required'], unique=False)

    op.create_table('reward_redemptions',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('reward_id', sa.Uuid(), nullable=False),
    sa.Column('points_deducted', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('redemption_code', sa.String(length=20), nullable=False),
    sa.Column('media_token', sa.String(length=64), nullable=False),
    sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('debit_id', sa.Uuid(), nullable=False),
    sa.Column('verified_by_user_id', sa.Uuid(), nullable=True),
    sa.Column('fulfilled_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancellation_reason', sa.String(length=255), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'customer_id'], ['customers.tenant_id', 'customers.id'], name=op.f('fk_reward_redemptions_tenant_id_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id', 'reward_id'], ['rewards.tenant_id', 'rewards.id'], name=op.f('fk_reward_redemptions_tenant_id_reward_id_rewards')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_reward_redemptions')),
    sa.UniqueConstraint('media_token', name=op.f('uq_reward_redemptions_media_token')),
    sa.UniqueConstraint('redemption_code', name=op.f('uq_reward_redemptions_redemption_code'))
    )
    with op.batch_alter_table('reward_redemptions', schema=None) as batch_op:
        batch_op.create_index('ix_reward_redemptions_customer', ['tenant_id', 'customer_id', 'status'], unique=False)
        batch_op.create_index('ix_reward_redemptions_due', ['status', 'expires_at'], unique=False)
        batch_op.create_index('ix_reward_redemptions_reward', ['tenant_id', 'reward_id', 'customer_id'], unique=False)

    with op.batch_alter_table('points_transactions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reward_redemption_id', sa.Uuid(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('points_transactions', schema=None) as batch_op:
        batch_op.drop_column('reward_redemption_id')

    with op.batch_alter_table('reward_redemptions', schema=None) as batch_op:
        batch_op.drop_index('ix_reward_redemptions_reward')
        batch_op.drop_index('ix_reward_redemptions_due')
        batch_op.drop_index('ix_reward_redemptions_customer')

    op.drop_table('reward_redemptions')
    with op.batch_alter_table('rewards', schema=None) as batch_op:
        batch_op.drop_index('ix_rewards_catalog')

    op.drop_table('rewards')
