"""What a purchase caused, recorded with it (so a void can take it back); PIN lockouts per phone.

The spin-credit ledger opens with one row per customer holding spins; the lockouts kept on
staff rows move to one row per phone.

Revision ID: 0005
Revises: 0009
Create Date: 2026-11-26 06:24:51.418416
"""
import uuid
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa
import models.base


revision = '0005'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pin_lockouts',
    sa.Column('phone_number', sa.String(length=20), nullable=False),
    sa.Column('failed_attempts', sa.Integer(), nullable=False),
    sa.Column('locked_until', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('phone_number', name=op.f('pk_pin_lockouts'))
    )
    spin_credits = op.create_table('spin_credits',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('spins', sa.Integer(), nullable=False),
    sa.Column('purchase_id', sa.Uuid(), nullable=True),
    sa.Column('spin_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'customer_id'], ['customers.tenant_id', 'customers.id'], name=op.f('fk_spin_credits_tenant_id_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_spin_credits'))
    )
    with op.batch_alter_table('spin_credits', schema=None) as batch_op:
        batch_op.create_index('ix_spin_credits_customer', ['tenant_id', 'customer_id', 'created_at'], unique=False)
        batch_op.create_index('ix_spin_credits_purchase', ['tenant_id', 'purchase_id'], unique=False)

    with op.batch_alter_table('mission_completions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purchase_id', sa.Uuid(), nullable=True))
        batch_op.create_index('ix_mission_completions_purchase', ['tenant_id', 'purchase_id'], unique=False)

    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purchase_id', sa.Uuid(), nullable=True))
        batch_op.create_index('ix_referrals_purchase', ['tenant_id', 'purchase_id'], unique=False)

    _open_spin_ledger(spin_credits)
    _move_lockouts_to_phones()

    with op.batch_alter_table('vendor_users', schema=None) as batch_op:
        batch_op.drop_column('failed_pin_attempts')
        batch_op.drop_column('locked_until')


def _open_spin_ledger(spin_credits: sa.Table) -> None:
    """Spins held before the ledger existed become its opening rows."""
    connection = op.get_bind()
    now = datetime.now(timezone.utc)
    held = connection.execute(sa.text("SELECT tenant_id, id, spin_credits FROM customers WHERE spin_credits > 0")).all()
    rows = [
        {"tenant_id": _uuid(tenant_id), "id": uuid.uuid4(), "customer_id": _uuid(customer_id), "kind": "opening",
         "spins": spins, "created_at": now}
        for tenant_id, customer_id, spins in held
    ]
    if rows:
        op.bulk_insert(spin_credits, rows)


def _move_lockouts_to_phones() -> None:
    op.execute(
        "INSERT INTO pin_lockouts (phone_number, failed_attempts, locked_until, updated_at) "
        "SELECT phone_number, SUM(failed_pin_attempts), MAX(locked_until), CURRENT_TIMESTAMP FROM vendor_users "
        "WHERE failed_pin_attempts > 0 OR locked_until IS NOT NULL GROUP BY phone_number"
    )


def _uuid(value) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def downgrade() -> None:
    with op.batch_alter_table('vendor_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locked_until', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('failed_pin_attempts', sa.Integer(), server_default='0', nullable=False))

    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_index('ix_referrals_purchase')
        batch_op.drop_column('purchase_id')

    with op.batch_alter_table('mission_completions', schema=None) as batch_op:
        batch_op.drop_index('ix_mission_completions_purchase')
        batch_op.drop_column('purchase_id')

    with op.batch_alter_table('spin_credits', schema=None) as batch_op:
        batch_op.drop_index('ix_spin_credits_purchase')
        batch_op.drop_index('ix_spin_credits_customer')

    op.drop_table('spin_credits')
    op.drop_table('pin_lockouts')
