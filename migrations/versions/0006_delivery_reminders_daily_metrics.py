"""Outbound delivery (claims with a lease, deferral, templates), reachability and opt-out codes,
expiry reminders, daily metrics.

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-26 06:23:53.000432
"""
from alembic import op
import sqlalchemy as sa
import models.base

revision = '0006'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('daily_metrics',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('metric_date', sa.Date(), nullable=False),
    sa.Column('new_members', sa.Integer(), nullable=False),
    sa.Column('active_members', sa.Integer(), nullable=False),
    sa.Column('purchases', sa.Integer(), nullable=False),
    sa.Column('revenue', sa.BigInteger(), nullable=False),
    sa.Column('points_issued', sa.BigInteger(), nullable=False),
    sa.Column('points_redeemed', sa.BigInteger(), nullable=False),
    sa.Column('points_expired', sa.BigInteger(), nullable=False),
    sa.Column('redemptions', sa.Integer(), nullable=False),
    sa.Column('spins', sa.Integer(), nullable=False),
    sa.Column('messages_in', sa.Integer(), nullable=False),
    sa.Column('messages_out', sa.Integer(), nullable=False),
    sa.Column('delivered', sa.Integer(), nullable=False),
    sa.Column('read', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('computed_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_daily_metrics_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'metric_date', name=op.f('pk_daily_metrics'))
    )
    op.create_table('expiry_reminders',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'customer_id'], ['customers.tenant_id', 'customers.id'], name=op.f('fk_expiry_reminders_tenant_id_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_expiry_reminders')),
    sa.UniqueConstraint('tenant_id', 'customer_id', 'expires_on', name=op.f('uq_expiry_reminders_tenant_id_customer_id_expires_on'))
    )
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('opt_out_code', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('unreachable_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('unreachable_code', sa.String(length=20), nullable=True))

    with op.batch_alter_table('whatsapp_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('category', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('lease_until', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('not_before', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('enqueued_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('content_sid', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('content_variables', models.base.JSONType, nullable=True))
        batch_op.create_index('ix_whatsapp_messages_outbox', ['status', 'lease_until'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        # Spending and expiry rewrite `remaining` in place: room left in each page keeps those
        # updates HOT (no index writes), which set-based expiry of many lots depends on.
        op.execute("ALTER TABLE points_transactions SET (fillfactor = 70)")



def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE points_transactions RESET (fillfactor)")
    with op.batch_alter_table('whatsapp_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_whatsapp_messages_outbox')
        batch_op.drop_column('content_variables')
        batch_op.drop_column('content_sid')
        batch_op.drop_column('enqueued_at')
        batch_op.drop_column('not_before')
        batch_op.drop_column('lease_until')
        batch_op.drop_column('attempts')
        batch_op.drop_column('category')

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('unreachable_code')
        batch_op.drop_column('unreachable_at')
        batch_op.drop_column('opt_out_code')

    op.drop_table('expiry_reminders')
    op.drop_table('daily_metrics')
