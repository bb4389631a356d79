"""Expiry writes fewer rows: the index of allocations by lot, which no query reads, is gone
(expiry writes no allocations any more, spending one index entry fewer each); the lots and
purchase indexes of the ledger keep only the rows they can find, so that a debit (an `expired`
entry per customer, a redemption) writes two index entries fewer.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-26 18:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

PARTIAL = {
    'ix_points_transactions_lots': (['tenant_id', 'customer_id', 'expires_at'], 'expires_at IS NOT NULL'),
    'ix_points_transactions_purchase': (['tenant_id', 'purchase_id'], 'purchase_id IS NOT NULL'),
}


def upgrade() -> None:
    op.drop_index('ix_points_lot_allocations_lot', table_name='points_lot_allocations')
    for name, (columns, condition) in PARTIAL.items():
        op.drop_index(name, table_name='points_transactions')
        op.create_index(name, 'points_transactions', columns,
                        postgresql_where=sa.text(condition), sqlite_where=sa.text(condition))


def downgrade() -> None:
    for name, (columns, _condition) in PARTIAL.items():
        op.drop_index(name, table_name='points_transactions')
        op.create_index(name, 'points_transactions', columns)
    op.create_index('ix_points_lot_allocations_lot', 'points_lot_allocations', ['tenant_id', 'lot_id'])
