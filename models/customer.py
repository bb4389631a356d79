from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, new_id, utcnow


class Customer(Base):
    """A phone enrolled in one vendor's programme. The row is also the conversation:
    the dispatcher locks it for each inbound message and keeps the flow state on it."""

    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("tenant_id", "phone_number"),
        UniqueConstraint("tenant_id", "member_code"),
        # Cross-vendor look-up of one phone (PROGRAMS, routing).
        Index("ix_customers_phone_number", "phone_number"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    phone_number: Mapped[str] = mapped_column(String(20))
    whatsapp_name: Mapped[str | None] = mapped_column(String(255))
    # Short code a customer can tell the cashier instead of their phone number.
    member_code: Mapped[str | None] = mapped_column(String(12))
    source: Mapped[str] = mapped_column(String(20), default="whatsapp")
    language: Mapped[str | None] = mapped_column(String(8))  # chosen with LANG; None: the vendor's language
    opted_in: Mapped[bool] = mapped_column(default=True)
    opted_in_at: Mapped[datetime | None]
    opted_out_at: Mapped[datetime | None]
    opt_out_code: Mapped[str | None] = mapped_column(String(20))  # Twilio's error code when the carrier said so
    # Twilio said the number cannot get messages; a later inbound message proves it can again.
    unreachable_at: Mapped[datetime | None]
    unreachable_code: Mapped[str | None] = mapped_column(String(20))
    conversation_state: Mapped[dict] = mapped_column(default=dict)
    total_purchases: Mapped[int] = mapped_column(default=0)
    total_spent: Mapped[int] = mapped_column(BigInteger, default=0)  # minor units of the vendor's currency
    last_purchase_at: Mapped[datetime | None]
    tier: Mapped[str | None] = mapped_column(String(50))
    spin_credits: Mapped[int] = mapped_column(default=0)  # spins earned or won: the sum of its spin_credits rows
    last_inbound_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
