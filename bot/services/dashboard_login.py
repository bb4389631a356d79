"""Signing in to the owner's dashboard without a password, the way this product lives: the owner
sends DASHBOARD from their staff phone (in a PIN session) and gets a one-time link, valid 10
minutes; opening it starts a browser session. Only hashes of the link's and the session's
tokens are stored, so a copy of the database opens nothing."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.errors import Refused
from bot.services import audit
from bot.services.context import Context
from models import DashboardLink, DashboardSession, Tenant, Staff

LINK_VALID = timedelta(minutes=10)
SESSION_VALID = timedelta(hours=8)
PRESSED_AGAIN_WITHIN = timedelta(minutes=1)  # a double tap on the sign-in button, or the browser's resend
LOGIN_PATH = "/dashboard/login/"

# What opening a link found (`open_link`, `link_status`).
VALID, USED, EXPIRED, UNKNOWN, REFUSED = "valid", "used", "expired", "unknown", "refused"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


class DashboardLoginService:
    """What the DASHBOARD flow asks for."""

    valid_minutes = int(LINK_VALID.total_seconds() // 60)

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def link(self) -> str:
        """A new one-time link for the owner asking (the flow checked the PIN). Refused
        dashboard_owner_only when they are not an owner (any more: the role may have changed
        while the PIN was asked)."""
        ctx, owner = self.ctx, self.ctx.staff
        if owner is None or owner.role != "owner":
            raise Refused("dashboard_owner_only")
        token = _new_token()
        ctx.session.add(DashboardLink(
            tenant_id=ctx.tenant.id, vendor_user_id=owner.id, token_hash=_hash(token),
            expires_at=ctx.now + LINK_VALID, created_at=ctx.now,
        ))
        _audit(ctx.session, owner, "dashboard.link_sent")
        return f"{ctx.site}{LOGIN_PATH}{token}"

    def other_shops(self, written_to: str | None) -> list[Shop]:
        """The other vendors on the number written to (one several share, or the platform's)
        that this phone is an active owner of, by name: DASHBOARD there could have meant them."""
        ctx = self.ctx
        rows = ctx.session.execute(
            select(Tenant.name, Tenant.vendor_code)
            .join(Staff, Staff.tenant_id == Tenant.id)
            .where(
                Tenant.whatsapp_number == written_to, Tenant.is_active, Tenant.id != ctx.tenant.id,
                Staff.phone_number == ctx.phone, Staff.role == "owner", Staff.is_active,
            )
            .order_by(Tenant.name)
        ).all()
        return [Shop(row.name, row.vendor_code) for row in rows]


@dataclass(frozen=True)
class Shop:
    """Another vendor the owner runs, as DASHBOARD names it."""

    name: str
    code: str


@dataclass(frozen=True)
class Owner:
    """Who a dashboard session acts as."""

    tenant: Tenant
    user: Staff


def link_status(session: Session, token: str, now: datetime) -> str:
    """What opening the link would find, without using it (a link preview must not spend it)."""
    found = session.execute(
        select(DashboardLink, Staff, Tenant)
        .join(Staff, (Staff.tenant_id == DashboardLink.tenant_id) & (Staff.id == DashboardLink.vendor_user_id))
        .join(Tenant, Tenant.id == DashboardLink.tenant_id)
        .where(DashboardLink.token_hash == _hash(token))
    ).one_or_none()
    if found is None:
        return UNKNOWN
    link, user, tenant = found
    if link.used_at is not None:
        return USED
    if link.expires_at <= now:
        return EXPIRED
    return VALID if _may_sign_in(user, tenant) else REFUSED


def open_link(session: Session, token: str, browser: str, now: datetime) -> tuple[str, str | None]:
    """Use the link from the browser whose sign-in form carried the nonce `browser`: (VALID,
    the new session's token), or (why not, None). One conditional UPDATE spends it, so two
    browsers racing with one link never both get a session. The browser that used it, pressing
    again within PRESSED_AGAIN_WITHIN (a double tap), gets a session of its own too: its second
    press cancelled the first, whose answer, with the first session's cookie, it never took."""
    status = link_status(session, token, now)
    if status == VALID:
        spent = session.execute(
            update(DashboardLink)
            .where(DashboardLink.token_hash == _hash(token), DashboardLink.used_at.is_(None), DashboardLink.expires_at > now)
            .values(used_at=now, used_by=_hash(browser))
        )
        if spent.rowcount == 1:
            return VALID, _start_session(session, token, now)
        status = USED  # another press won
    if status == USED and _pressed_again(session, token, browser, now):
        return VALID, _start_session(session, token, now)
    return status, None


def _pressed_again(session: Session, token: str, browser: str, now: datetime) -> bool:
    return session.scalar(
        select(DashboardLink.id).where(
            DashboardLink.token_hash == _hash(token), DashboardLink.used_by == _hash(browser),
            DashboardLink.used_at > now - PRESSED_AGAIN_WITHIN,
        )
    ) is not None


def _start_session(session: Session, token: str, now: datetime) -> str:
    """A session for the owner the link was sent to; its token."""
    link = session.scalars(select(DashboardLink).where(DashboardLink.token_hash == _hash(token))).one()
    owner = session.get(Staff, (link.tenant_id, link.vendor_user_id))
    session_token = _new_token()
    session.add(DashboardSession(
        tenant_id=link.tenant_id, vendor_user_id=owner.id, token_hash=_hash(session_token),
        expires_at=now + SESSION_VALID, created_at=now,
    ))
    _audit(session, owner, "dashboard.signed_in")
    return session_token


def find_owner(session: Session, session_token: str, now: datetime) -> Owner | None:
    """The owner a browser session acts as; None once it ended, expired, or its owner is no
    longer an active owner of an active vendor."""
    found = session.execute(
        select(Staff, Tenant)
        .join(DashboardSession, (DashboardSession.tenant_id == Staff.tenant_id) & (DashboardSession.vendor_user_id == Staff.id))
        .join(Tenant, Tenant.id == Staff.tenant_id)
        .where(
            DashboardSession.token_hash == _hash(session_token),
            DashboardSession.ended_at.is_(None),
            DashboardSession.expires_at > now,
        )
    ).one_or_none()
    if found is None or not _may_sign_in(*found):
        return None
    return Owner(tenant=found.Tenant, user=found.Staff)


def end_session(session: Session, session_token: str, now: datetime) -> None:
    """Sign out: the session's cookie is worth nothing from now on."""
    ended = session.scalars(
        select(DashboardSession).where(DashboardSession.token_hash == _hash(session_token), DashboardSession.ended_at.is_(None))
    ).one_or_none()
    if ended is None:
        return
    ended.ended_at = now
    _audit(session, session.get(Staff, (ended.tenant_id, ended.vendor_user_id)), "dashboard.signed_out")


def _may_sign_in(user: Staff, tenant: Tenant) -> bool:
    return user.is_active and user.role == "owner" and tenant.is_active


def _audit(session: Session, user: Staff, action: str) -> None:
    audit.record(
        session, user.tenant_id, action, actor_type="vendor_user", actor_id=user.id,
        entity_type="vendor_user", entity_id=user.id,
    )
