"""The outbox sweeps' index holds only rows in flight (`queued`, `sending`): every message in
paid for an entry in it, and the index grew with them all.

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-28 17:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

IN_FLIGHT = "status IN ('queued', 'sending')"


def upgrade() -> None:
    _recreate(IN_FLIGHT)


def downgrade() -> None:
    _recreate(None)


def _recreate(where: str | None) -> None:
    # Built without holding off writes on PostgreSQL: every message in is one.
    op.drop_index('ix_whatsapp_messages_outbox', table_name='whatsapp_messages')
    options = {"postgresql_where": sa.text(where), "sqlite_where": sa.text(where)} if where else {}
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.create_index('ix_whatsapp_messages_outbox', 'whatsapp_messages', ['status', 'lease_until'],
                            postgresql_concurrently=True, **options)
    else:
        op.create_index('ix_whatsapp_messages_outbox', 'whatsapp_messages', ['status', 'lease_until'], **options)
