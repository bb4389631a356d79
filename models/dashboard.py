"""The owner's dashboard: one-time sign-in links sent by the bot, and the browser sessions they
open. Only hashes of their tokens are kept; the tokens are looked up before the vendor is known,
so their hashes are unique across the platform (platform-level tables, like api_keys). And the
one-time nonces of the forms that changed something, each vendor's own."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, ForeignKeyConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, new_id, utcnow


def _owner_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["tenant_id", "vendor_user_id"], ["vendor_users.tenant_id", "vendor_users.id"], ondelete="CASCADE"
    )


class DashboardLink(Base):
    """A link the owner got by sending DASHBOARD: valid 10 minutes, used once."""

    __tablename__ = "dashboard_links"
    __table_args__ = (_owner_fk(),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    vendor_user_id: Mapped[uuid.UUID]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by: Mapped[str | None] = mapped_column(String(64))  # hash of the sign-in form's nonce of the browser that used it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DashboardSession(Base):
    """A browser signed in with a link; its cookie holds the token. Ends at `expires_at` or on
    sign-out, and is worth nothing once its owner is no longer an active owner."""

    __tablename__ = "dashboard_sessions"
    __table_args__ = (_owner_fk(),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    vendor_user_id: Mapped[uuid.UUID]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DashboardFormNonce(Base):
    """The one-time nonce a dashboard form carried when it changed something, claimed in the
    transaction of the change: the same form sent again (a double tap, a browser's resend)
    changes nothing and goes on to the page the first went to."""

    __tablename__ = "dashboard_form_nonces"
    __table_args__ = (UniqueConstraint("tenant_id", "nonce"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    nonce: Mapped[str] = mapped_column(String(64))
    went_to: Mapped[str | None] = mapped_column(String(255))  # the page's path, written in the same transaction
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
