"""Lucky wheel, spin history, missions, referrals.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 04:06:06.623249
"""
from alembic import op
import sqlalchemy as sa
import models.base

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('wheel_items',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.Column('reward_name', sa.String(length=255), nullable=True),
    sa.Column('weight', sa.Integer(), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=True),
    sa.Column('daily_cap', sa.Integer(), nullable=True),
    sa.Column('won', sa.Integer(), nullable=False),
    sa.Column('won_today', sa.Integer(), nullable=False),
    sa.Column('won_on', sa.Date(), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.CheckConstraint('daily_cap IS NULL OR won_today <= daily_cap', name=op.f('ck_wheel_items_daily_cap_not_exceeded')),
    sa.CheckConstraint('stock IS NULL OR won <= stock', name=op.f('ck_wheel_items_stock_not_exceeded')),
    sa.CheckConstraint('weight > 0', name=op.f('ck_wheel_items_weight_positive')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_wheel_items_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_wheel_items')),
    sa.UniqueConstraint('tenant_id', 'label', name=op.f('uq_wheel_items_tenant_id_label'))
    )
    op.create_table('mission_completions',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('mission', sa.String(length=255), nullable=False),
    sa.Column('period', sa.String(length=20), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'customer_id'], ['customers.tenant_id', 'customers.id'], name=op.f('fk_mission_completions_tenant_id_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_mission_completions')),
    sa.UniqueConstraint('tenant_id', 'customer_id', 'mission', 'period', name=op.f('uq_mission_completions_tenant_id_customer_id_mission_period'))
    )
    op.create_table('referrals',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('referrer_id', sa.Uuid(), nullable=False),
    sa.Column('referred_id', sa.Uuid(), nullable=False),
    sa.Column('rewarded_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'referred_id'], ['customers.tenant_id', 'customers.id'], name=op.f('fk_referrals_tenant_id_referred_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id', 'referrer_id'], ['customers.tenant_id', 'customers.id'], name=op.f('fk_referrals_tenant_id_referrer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_referrals')),
    sa.UniqueConstraint('tenant_id', 'referred_id', name=op.f('uq_referrals_tenant_id_referred_id'))
    )
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.create_index('ix_referrals_referrer', ['tenant_id', 'referrer_id', 'rewarded_at'], unique=False)

    op.create_table('spin_history',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('wheel_item_id', sa.Uuid(), nullable=True),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('prize', sa.String(length=255), nullable=False),
    sa.Column('paid_by', sa.String(length=20), nullable=False),
    sa.Column('points_spent', sa.Integer(), nullable=False),
    sa.Column('local_day', sa.Date(), nullable=False),
    sa.Column('message_sid', sa.String(length=64), nullable=True),
    sa.Column('redemption_id', sa.Uuid(), nullable=True),
    sa.Column('wheel', models.base.JSONType, nullable=False),
    sa.Column('winner', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'customer_id'], ['customers.tenant_id', 'customers.id'], name=op.f('fk_spin_history_tenant_id_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_spin_history'))
    )
    with op.batch_alter_table('spin_history', schema=None) as batch_op:
        batch_op.create_index('ix_spin_history_customer', ['tenant_id', 'customer_id', 'created_at'], unique=False)

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('spin_credits', sa.Integer(), nullable=False, server_default='0'))

    with op.batch_alter_table('reward_redemptions', schema=None) as batch_op:
        batch_op.alter_column('debit_id',
               existing_type=sa.Uuid(),
               nullable=True)



def downgrade() -> None:
    with op.batch_alter_table('reward_redemptions', schema=None) as batch_op:
        batch_op.alter_column('debit_id',
               existing_type=sa.Uuid(),
               nullable=False)

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('spin_credits')

    with op.batch_alter_table('spin_history', schema=None) as batch_op:
        batch_op.drop_index('ix_spin_history_customer')

    op.drop_table('spin_history')
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_index('ix_referrals_referrer')

    op.drop_table('referrals')
    op.drop_table('mission_completions')
    op.drop_table('wheel_items')
