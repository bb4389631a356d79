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
    options = {"postgresql_where": sa.text(where), "sqlite_where": sa.text(where)} if where else {}
    if op.get_bind().dialect.name != "postgresql":
        op.drop_index(INDEX, table_name='whatsapp_messages')
        op.create_index(INDEX, 'whatsapp_messages', ['status', 'lease_until'], **options)
        return
    # On PostgreSQL the new index is built beside the old one without holding off writes (every
    # message in is one), then takes its place: the sweeps always have one. A build that failed
    # leaves an invalid index behind, dropped when this runs again.
    with op.get_context().autocommit_block():
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {BUILDING}")
        op.create_index(BUILDING, 'whatsapp_messages', ['status', 'lease_until'], postgresql_concurrently=True, **options)
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
        op.execute(f"ALTER INDEX {BUILDING} RENAME TO {INDEX}")


INDEX, BUILDING = 'ix_whatsapp_messages_outbox', 'ix_whatsapp_messages_outbox_building'
