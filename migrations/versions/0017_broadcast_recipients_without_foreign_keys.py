"""The frozen audience of a broadcast keeps no foreign keys: its rows are written by the
hundred thousand in the launch's one statement, from the broadcast's own members, and a
per-row check of two foreign keys cost as much as the rest of the launch.

Revision ID: 0017
Revises: 0015
Create Date: 2026-11-26 10:12:00
"""
from alembic import op


revision = '0017'
down_revision = '0015'
branch_labels = None
depends_on = None

FOREIGN_KEYS = {
    'fk_broadcast_recipients_tenant_id_broadcast_id_broadcasts': ('broadcasts', ['tenant_id', 'broadcast_id'], ['tenant_id', 'id']),
    'fk_broadcast_recipients_tenant_id_customer_id_customers': ('customers', ['tenant_id', 'customer_id'], ['tenant_id', 'id']),
}


def upgrade() -> None:
    with op.batch_alter_table('broadcast_recipients', schema=None) as batch_op:
        for name in FOREIGN_KEYS:
            batch_op.drop_constraint(name, type_='foreignkey')


def downgrade() -> None:
    with op.batch_alter_table('broadcast_recipients', schema=None) as batch_op:
        for name, (table, local, remote) in FOREIGN_KEYS.items():
            batch_op.create_foreign_key(name, table, local, remote, ondelete='CASCADE')
