"""Staff PINs and sessions, purchases, lot allocations, member codes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 03:28:16.442742
"""
from alembic import op
import sqlalchemy as sa
import models.base
import secrets

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('points_lot_allocations',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('debit_id', sa.Uuid(), nullable=False),
    sa.Column('lot_id', sa.Uuid(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.CheckConstraint('points > 0', name=op.f('ck_points_lot_allocations_points_positive')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_points_lot_allocations'))
    )
    with op.batch_alter_table('points_lot_allocations', schema=None) as batch_op:
        batch_op.create_index('ix_points_lot_allocations_debit', ['tenant_id', 'debit_id'], unique=False)
        batch_op.create_index('ix_points_lot_allocations_lot', ['tenant_id', 'lot_id'], unique=False)

    op.create_table('purchases',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('logged_by_user_id', sa.Uuid(), nullable=True),
    sa.Column('logged_via', sa.String(length=20), nullable=False),
    sa.Column('points_awarded', sa.Integer(), nullable=False),
    sa.Column('points_breakdown', models.base.JSONType, nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('voided_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('voided_by_user_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_purchases_amount_positive')),
    sa.ForeignKeyConstraint(['tenant_id', 'customer_id'], ['customers.tenant_id', 'customers.id'], name=op.f('fk_purchases_tenant_id_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_purchases'))
    )
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.create_index('ix_purchases_customer', ['tenant_id', 'customer_id', 'created_at'], unique=False)
        batch_op.create_index('ix_purchases_logged_by', ['tenant_id', 'logged_by_user_id', 'created_at'], unique=False)

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('member_code', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('total_purchases', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('total_spent', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('last_purchase_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('tier', sa.String(length=50), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_customers_tenant_id_member_code'), ['tenant_id', 'member_code'])
    _give_member_codes()

    with op.batch_alter_table('points_transactions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purchase_id', sa.Uuid(), nullable=True))
        batch_op.create_index('ix_points_transactions_purchase', ['tenant_id', 'purchase_id'], unique=False)

    with op.batch_alter_table('vendor_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_pin_attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('locked_until', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('session_expires_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('conversation_state', models.base.JSONType, nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('last_inbound_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_vendor_users_phone_number', ['phone_number'], unique=False)



def _give_member_codes() -> None:
    """Customers who joined before member codes existed get one now (same alphabet as bot.codes)."""
    connection = op.get_bind()
    customers = sa.table("customers", sa.column("tenant_id", sa.Uuid()), sa.column("id", sa.Uuid()), sa.column("member_code", sa.String()))
    alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
    given: set[tuple] = set()
    for tenant_id, customer_id in connection.execute(sa.select(customers.c.tenant_id, customers.c.id)).all():
        code = "".join(secrets.choice(alphabet) for _ in range(6))
        while (tenant_id, code) in given:  # unique per vendor, as the constraint wants
            code = "".join(secrets.choice(alphabet) for _ in range(6))
        given.add((tenant_id, code))
        connection.execute(
            customers.update()
            .where(customers.c.tenant_id == tenant_id, customers.c.id == customer_id)
            .values(member_code=code)
        )


def downgrade() -> None:
    with op.batch_alter_table('vendor_users', schema=None) as batch_op:
        batch_op.drop_index('ix_vendor_users_phone_number')
        batch_op.drop_column('last_inbound_at')
        batch_op.drop_column('conversation_state')
        batch_op.drop_column('session_expires_at')
        batch_op.drop_column('locked_until')
        batch_op.drop_column('failed_pin_attempts')

    with op.batch_alter_table('points_transactions', schema=None) as batch_op:
        batch_op.drop_index('ix_points_transactions_purchase')
        batch_op.drop_column('purchase_id')

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_customers_tenant_id_member_code'), type_='unique')
        batch_op.drop_column('tier')
        batch_op.drop_column('last_purchase_at')
        batch_op.drop_column('total_spent')
        batch_op.drop_column('total_purchases')
        batch_op.drop_column('member_code')

    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.drop_index('ix_purchases_logged_by')
        batch_op.drop_index('ix_purchases_customer')

    op.drop_table('purchases')
    with op.batch_alter_table('points_lot_allocations', schema=None) as batch_op:
        batch_op.drop_index('ix_points_lot_allocations_lot')
        batch_op.drop_index('ix_points_lot_allocations_debit')

    op.drop_table('points_lot_allocations')
