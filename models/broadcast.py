"""Broadcasts: a vendor's message to a segment of its members, sent as one push per member
through the delivery engine (see bot/services/broadcasts.py)."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, new_id, partial, utcnow


class Broadcast(Base):
    """The definition (as its file gave it, normalised) and where it stands. `status` moves
    draft -> scheduled -> sending -> completed, or to paused (and back to sending) and
    cancelled, each move a compare-and-set on this row."""

    __tablename__ = "broadcasts"
    __table_args__ = (
        Index("ix_broadcasts_tenant", "tenant_id", "created_at"),
        # The scheduled job: broadcasts whose time has come, and those sending.
        Index("ix_broadcasts_status", "status", "send_at"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    template: Mapped[dict | None]  # {"content_sid": ..., "variables": [...]}
    media_url: Mapped[str | None] = mapped_column(String(1000))
    segment: Mapped[dict] = mapped_column(default=dict)  # phones in E.164, min_spent in minor units
    send_at: Mapped[datetime | None]  # None: when launched
    quiet_hours: Mapped[list | None]  # ["21:00", "08:00"], the vendor's local time
    messages_per_second: Mapped[int | None]
    # A follow-up: to the recipients of `retarget_of` who did not read it, or did not reply.
    retarget_of: Mapped[uuid.UUID | None]
    retarget: Mapped[str | None] = mapped_column(String(20))  # not_read | not_replied
    status: Mapped[str] = mapped_column(String(20), default="draft")
    pause_reason: Mapped[str | None] = mapped_column(String(255))
    total_recipients: Mapped[int] = mapped_column(default=0)  # frozen at launch
    # The job feeding it to the delivery engine holds it until `runner_until` (a lease).
    runner: Mapped[uuid.UUID | None]
    runner_until: Mapped[datetime | None]
    launched_at: Mapped[datetime | None]
    resumed_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class BroadcastRecipient(Base):
    """The audience frozen at launch: one row per (broadcast, customer), so that a customer is
    pushed a broadcast at most once. `message_id` is the push it became; `skip_reason` says why
    it became none (the broadcast was cancelled before its turn). No foreign keys: the launch
    writes every row in one statement from the broadcast's own members (customers are never
    deleted), and checking two keys per row doubled the time of a launch to 100,000 members."""

    __tablename__ = "broadcast_recipients"
    __table_args__ = (
        # The ones still waiting for their turn: the feeder takes them from here.
        Index("ix_broadcast_recipients_pending", "tenant_id", "broadcast_id", "customer_id",
              **partial("message_id IS NULL AND skip_reason IS NULL")),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    broadcast_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    message_id: Mapped[uuid.UUID | None]
    skip_reason: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
