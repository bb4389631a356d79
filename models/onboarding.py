"""Setting up a vendor by chat on the platform's own number. Platform-level, like `tenants`:
these rows belong to no vendor yet."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, new_id, utcnow


class SetupInvitation(Base):
    """A one-time invitation for one phone to set up a vendor by chat. Only a hash of its token
    is kept. Until the vendor is created, the setup conversation lives here: its state, and
    when it last moved (None when no setup is under way)."""

    __tablename__ = "vendor_invitations"
    __table_args__ = (Index("ix_vendor_invitations_phone_number", "phone_number", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    phone_number: Mapped[str] = mapped_column(String(20))
    country: Mapped[str | None] = mapped_column(String(2))  # the setup's default country, if given
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tenants.id", ondelete="SET NULL"))
    conversation_state: Mapped[dict] = mapped_column(default=dict)
    setup_updated_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PlatformMessage(Base):
    """A message the platform's own conversation answered, with its reply (redacted when it may
    carry a PIN), so that a retried MessageSid gets the same answer and changes nothing."""

    __tablename__ = "platform_messages"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    message_sid: Mapped[str] = mapped_column(String(64), unique=True)
    invitation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("vendor_invitations.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(10))
    from_number: Mapped[str] = mapped_column(String(20))
    to_number: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text, default="")
    reply: Mapped[list] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
