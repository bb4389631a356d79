from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, new_id, utcnow


class Tenant(Base):
    """A vendor. Platform-level: the one table without tenant_id."""

    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    vendor_code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    whatsapp_number: Mapped[str] = mapped_column(String(20), index=True)
    country: Mapped[str] = mapped_column(String(2))
    currency: Mapped[str] = mapped_column(String(3))
    timezone: Mapped[str] = mapped_column(String(64))
    # Everything else from the tenant file (greeting, welcome bonus, rules, rewards...).
    settings: Mapped[dict] = mapped_column(default=dict)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Staff(Base):
    """A member of a vendor's staff. Of the PIN, only a slow salted hash is kept, and a keyed
    fingerprint useless without the pepper, which is not in the database. A staff phone
    keeps its conversation at this vendor here (also when it is a customer too)."""

    __tablename__ = "vendor_users"
    __table_args__ = (
        UniqueConstraint("tenant_id", "phone_number"),
        # Which vendors a phone works for, before the vendor is known.
        Index("ix_vendor_users_phone_number", "phone_number"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    full_name: Mapped[str] = mapped_column(String(255))
    phone_number: Mapped[str] = mapped_column(String(20))
    role: Mapped[str] = mapped_column(String(20), default="staff")
    pin_hash: Mapped[str | None] = mapped_column(String(255))
    # HMAC-SHA256 of "id:PIN" under PIN_PEPPER (never stored): only for spotting the PIN inside
    # messages fast. NULL until the PIN is next given in clear (set, loaded, or checked right).
    pin_fingerprint: Mapped[str | None] = mapped_column(String(64))
    session_expires_at: Mapped[datetime | None]
    conversation_state: Mapped[dict] = mapped_column(default=dict)
    last_inbound_at: Mapped[datetime | None]
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PhoneRoute(Base):
    """Which vendor a phone is talking to now: set on JOIN and on a PROGRAMS switch.

    Platform-level routing (a phone may belong to several tenants), like `tenants`."""

    __tablename__ = "phone_routes"

    phone_number: Mapped[str] = mapped_column(String(20), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PinLockout(Base):
    """Wrong PINs counted per phone, whichever vendors they were sent to: five in a row lock the
    phone out of staff actions everywhere. Platform-level, like `phone_routes`."""

    __tablename__ = "pin_lockouts"

    phone_number: Mapped[str] = mapped_column(String(20), primary_key=True)
    failed_attempts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
