"""What the scheduled jobs keep: expiry reminders sent, and each vendor's daily figures."""
from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, ForeignKeyConstraint, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, new_id, utcnow


class ExpiryReminder(Base):
    """One reminder per customer and expiry date (a day in the vendor's timezone): it covers
    the customer's points expiring from `expiring_from` to `expiring_until`, that day as UTC
    times, so that the same points are never reminded again, even after the vendor's timezone
    changes. The unique key makes the reminder job safe to run twice, or twice at once."""

    __tablename__ = "expiry_reminders"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "customer_id"], ["customers.tenant_id", "customers.id"], ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "customer_id", "expiring_from"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    customer_id: Mapped[uuid.UUID]
    expires_on: Mapped[date]  # the day the message named
    expiring_from: Mapped[datetime]
    expiring_until: Mapped[datetime]
    points: Mapped[int]
    message_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DailyMetrics(Base):
    """A vendor's figures for one local day; recomputing the day replaces the row."""

    __tablename__ = "daily_metrics"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    metric_date: Mapped[date] = mapped_column(primary_key=True)
    new_members: Mapped[int] = mapped_column(default=0)
    active_members: Mapped[int] = mapped_column(default=0)
    purchases: Mapped[int] = mapped_column(default=0)
    revenue: Mapped[int] = mapped_column(BigInteger, default=0)  # minor units of the vendor's currency
    points_issued: Mapped[int] = mapped_column(BigInteger, default=0)
    points_redeemed: Mapped[int] = mapped_column(BigInteger, default=0)
    points_expired: Mapped[int] = mapped_column(BigInteger, default=0)
    redemptions: Mapped[int] = mapped_column(default=0)
    spins: Mapped[int] = mapped_column(default=0)
    messages_in: Mapped[int] = mapped_column(default=0)
    messages_out: Mapped[int] = mapped_column(default=0)
    delivered: Mapped[int] = mapped_column(default=0)
    read: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
