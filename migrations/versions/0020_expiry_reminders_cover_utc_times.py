"""An expiry reminder covers the points expiring within UTC times (its day in the vendor's
timezone when it was sent), no longer a local date read again in the vendor's current
timezone, which reminded the same points a second time after the timezone changed. The
reminders already sent cover their day in the vendor's timezone of now.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-27 09:00:00
"""
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa

import models.base


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('expiry_reminders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expiring_from', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('expiring_until', models.base.UTCDateTime(timezone=True), nullable=True))
    _cover_the_reminders_sent()
    with op.batch_alter_table('expiry_reminders', schema=None) as batch_op:
        batch_op.alter_column('expiring_from', existing_type=models.base.UTCDateTime(timezone=True), nullable=False)
        batch_op.alter_column('expiring_until', existing_type=models.base.UTCDateTime(timezone=True), nullable=False)
        batch_op.drop_constraint('uq_expiry_reminders_tenant_id_customer_id_expires_on', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_expiry_reminders_tenant_id_customer_id_expiring_from'),
                                          ['tenant_id', 'customer_id', 'expiring_from'])


def _cover_the_reminders_sent() -> None:
    """Each reminder sent covers its local date, as UTC times in its vendor's timezone."""
    connection = op.get_bind()
    tenants = sa.table("tenants", sa.column("id", sa.Uuid()), sa.column("timezone", sa.String()))
    reminders = sa.table(
        "expiry_reminders", sa.column("tenant_id", sa.Uuid()), sa.column("expires_on", sa.Date()),
        sa.column("expiring_from", models.base.UTCDateTime(timezone=True)),
        sa.column("expiring_until", models.base.UTCDateTime(timezone=True)),
    )
    days = connection.execute(
        sa.select(reminders.c.tenant_id, tenants.c.timezone, reminders.c.expires_on).distinct()
        .join(tenants, tenants.c.id == reminders.c.tenant_id)
    ).all()
    for tenant_id, zone, day in days:
        connection.execute(
            reminders.update()
            .where(reminders.c.tenant_id == tenant_id, reminders.c.expires_on == day)
            .values(expiring_from=datetime.combine(day, time(), tzinfo=ZoneInfo(zone)),
                    expiring_until=datetime.combine(day + timedelta(days=1), time(), tzinfo=ZoneInfo(zone)))
        )


def downgrade() -> None:
    with op.batch_alter_table('expiry_reminders', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_expiry_reminders_tenant_id_customer_id_expiring_from'), type_='unique')
        batch_op.create_unique_constraint('uq_expiry_reminders_tenant_id_customer_id_expires_on',
                                          ['tenant_id', 'customer_id', 'expires_on'])
        batch_op.drop_column('expiring_until')
        batch_op.drop_column('expiring_from')
