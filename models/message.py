from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, new_id, partial, utcnow

_broadcasts_only = partial("broadcast_id IS NOT NULL")
_marketing_only = partial("category = 'marketing'")
_in_flight_only = partial("status IN ('queued', 'sending')")


class Message(Base):
    """Every message in and out (WhatsApp and SMS). An inbound row keeps the reply it got,
    so a retried MessageSid is answered again without doing anything twice."""

    __tablename__ = "whatsapp_messages"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "customer_id"], ["customers.tenant_id", "customers.id"]
        ),
        ForeignKeyConstraint(["tenant_id", "broadcast_id"], ["broadcasts.tenant_id", "broadcasts.id"]),
        UniqueConstraint("tenant_id", "message_sid"),
        # Replays are looked up by sid before the vendor is known.
        Index("ix_whatsapp_messages_message_sid", "message_sid"),
        Index("ix_whatsapp_messages_customer", "tenant_id", "customer_id", "created_at"),
        # The outbox sweeps: queued rows waiting too long, `sending` rows whose lease ran out.
        # Only rows in flight: every message in, and every answered one, stays out of it.
        Index("ix_whatsapp_messages_outbox", "status", "lease_until", **_in_flight_only),
        # A broadcast's pushes: how many are in flight, its latest answers, its stats.
        Index("ix_whatsapp_messages_broadcast_status", "tenant_id", "broadcast_id", "status", **_broadcasts_only),
        Index("ix_whatsapp_messages_broadcast_created", "tenant_id", "broadcast_id", "created_at", **_broadcasts_only),
        # The frequency cap counts each customer's recent marketing pushes.
        Index("ix_whatsapp_messages_marketing", "tenant_id", "created_at", **_marketing_only),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    customer_id: Mapped[uuid.UUID | None]
    direction: Mapped[str] = mapped_column(String(10))  # inbound | outbound
    channel: Mapped[str] = mapped_column(String(10))  # whatsapp | sms
    from_number: Mapped[str] = mapped_column(String(20))
    to_number: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text, default="")
    media: Mapped[list] = mapped_column(default=list)
    message_sid: Mapped[str | None] = mapped_column(String(64))
    # Inbound: received. Outbound (see bot/services/delivery.py): queued -> sending -> sent ->
    # delivered -> read, or failed | undelivered | skipped; never backwards.
    status: Mapped[str] = mapped_column(String(20))
    reply: Mapped[list | None]
    # The catalog key of an outbound message (purchase_notice...): it picks the template.
    triggered_by: Mapped[str | None] = mapped_column(String(50))
    error_code: Mapped[str | None] = mapped_column(String(20))
    error_message: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    # Outbound: when Twilio's answer to its send was recorded (sent, or refused).
    answered_at: Mapped[datetime | None]
    # Outbound delivery.
    category: Mapped[str | None] = mapped_column(String(20))  # transactional | marketing
    attempts: Mapped[int] = mapped_column(server_default="0")  # claims so far; fences a claim
    lease_until: Mapped[datetime | None]  # while `sending`: when the claim runs out
    not_before: Mapped[datetime | None]  # while `queued`: deferred until then
    enqueued_at: Mapped[datetime | None]  # while `queued`: last handed to the job queue
    content_sid: Mapped[str | None] = mapped_column(String(64))  # the template it goes (or went) out as
    content_variables: Mapped[dict | None]  # the template's variables, rendered when queued
    # The template it goes out as outside WhatsApp's window, when the message brings its own
    # (a broadcast's); otherwise the vendor's template for its kind (`triggered_by`).
    template_sid: Mapped[str | None] = mapped_column(String(64))
    broadcast_id: Mapped[uuid.UUID | None]  # the broadcast it is one push of


class AuditLog(Base):
    __tablename__ = "audit_logs"
    __table_args__ = (Index("ix_audit_logs_created", "tenant_id", "created_at"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    actor_type: Mapped[str] = mapped_column(String(20))  # customer | vendor_user | system
    actor_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(String(100))
    entity_type: Mapped[str | None] = mapped_column(String(50))
    entity_id: Mapped[uuid.UUID | None]
    details: Mapped[dict] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
