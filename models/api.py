from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, ForeignKeyConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, new_id, utcnow


class ApiKey(Base):
    """A vendor's key to the REST API. Only a SHA-256 of the key is kept (the key is 256 random
    bits, so a fast hash is enough); `prefix` is its first characters, to tell keys apart in lists."""

    __tablename__ = "api_keys"
    # Looked up by its hash before the vendor is known, like a redemption code.
    __table_args__ = (UniqueConstraint("key_hash"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list] = mapped_column(default=list)  # empty: every scope
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class ApiIdempotencyKey(Base):
    """The first answer to a changing request sent with an Idempotency-Key, written in the
    transaction of the change itself: a retry gets it again, and a racing copy waits on the
    unique key until the first commits (or rolls back and leaves the key free)."""

    __tablename__ = "api_idempotency_keys"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "api_key_id"], ["api_keys.tenant_id", "api_keys.id"], ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "api_key_id", "key"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    api_key_id: Mapped[uuid.UUID]
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))  # method, path and body
    response_status: Mapped[int | None]
    response_body: Mapped[dict | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
