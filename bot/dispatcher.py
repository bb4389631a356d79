"""The dispatcher: one transaction per inbound message.

It answers a replayed MessageSid from the stored reply, finds the vendor the message is for,
locks the customer row for the whole message, runs the engine on the saved conversation state,
saves the new state and the message with its reply, commits, and only then hands any outbound
messages to the sender, so that nothing is sent for work that was rolled back."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.catalog import DEFAULT_LANGUAGE, render
from bot.db import Database
from bot.engine import Engine
from bot.services import Services
from bot.services.context import Context
from bot.services.customers import find_locked
from bot.services.staff import find_staff_locked
from flows.base import Inbound, Msg, State, say
from models import Customer, PhoneRoute, Tenant, VendorUser, WhatsAppMessage
from models.base import utcnow

log = logging.getLogger(__name__)

# As the tenant file requires: 2-20 letters or digits, at least one letter (so no phone or amount).
VENDOR_CODE = re.compile(r"(?=.*[A-Z])[A-Z0-9]{2,20}")
_MAX_CODE_CANDIDATES = 8
REDACTED = "[redacted: may contain a PIN]"


@dataclass(frozen=True)
class Reply:
    body: str
    media_url: str | None = None

    def to_json(self) -> dict:
        return {"body": self.body, "media_url": self.media_url}

    @classmethod
    def from_json(cls, raw: dict) -> "Reply":
        return cls(raw["body"], raw.get("media_url"))


class Dispatcher:
    def __init__(self, db: Database, engine: Engine, deliver: Callable[[list], None], clock=utcnow):
        self.db = db
        self.engine = engine
        self.deliver = deliver  # hands committed outbound message keys to the sender
        self.clock = clock

    def handle(self, inbound: Inbound) -> list[Reply]:
        try:
            return self._handle(inbound)
        except Exception:
            log.exception("inbound %s failed", inbound.sid)
            return [Reply(render(say("error")))]

    def _handle(self, inbound: Inbound) -> list[Reply]:
        with self.db.sessions() as session:
            try:
                with session.begin():
                    replies, outbox = self._converse(session, inbound)
            except IntegrityError:
                # The same MessageSid raced in on another connection and won.
                stored = _stored_reply(session, inbound.sid)
                if stored is None:
                    raise
                return stored
        if outbox:
            self.deliver(outbox)
        return replies

    def _converse(self, session: Session, inbound: Inbound) -> tuple[list[Reply], list]:
        stored = _stored_reply(session, inbound.sid)
        if stored is not None:
            return stored, []
        tenant, code, unknown_code = _resolve_vendor(session, inbound)
        if tenant is None:
            message = say("unknown_code", code=unknown_code) if unknown_code else say("need_code")
            return [Reply(render(message))], []
        inbound = replace(inbound, vendor_code=code)
        now = self.clock()
        # Locks in a fixed order (customer, then staff) so that two messages cannot deadlock.
        customer = find_locked(session, tenant, inbound.phone)
        staff = find_staff_locked(session, tenant, inbound.phone)
        # Re-read under the lock: a duplicate that waited for it finds the first one's reply.
        stored = _stored_reply(session, inbound.sid)
        if stored is not None:
            return stored, []
        ctx = Context(session=session, tenant=tenant, phone=inbound.phone, now=now, customer=customer, staff=staff)
        services = Services(ctx)
        holder = customer or staff
        state = State.from_json(holder.conversation_state if holder else None)
        secret = self.engine.is_secret(state, inbound, services)
        state, messages = self.engine.handle(state, inbound, services, now)
        holder = ctx.customer or staff  # JOIN may have just created the customer
        replies = [_render(message, ctx.customer) for message in messages]
        if holder is not None:
            _save_conversation(holder, state, inbound, now)
        body = REDACTED if secret else inbound.text
        _store_inbound(session, tenant, ctx.customer, replace(inbound, text=body), replies, now)
        return replies, ctx.outbox


def _render(message: Msg, customer: Customer | None) -> Reply:
    language = customer.language if customer else DEFAULT_LANGUAGE
    return Reply(render(message, language), message.media_url)


def _stored_reply(session: Session, sid: str) -> list[Reply] | None:
    reply = session.scalar(
        select(WhatsAppMessage.reply).where(WhatsAppMessage.message_sid == sid, WhatsAppMessage.direction == "inbound")
    )
    return None if reply is None else [Reply.from_json(item) for item in reply]


def _resolve_vendor(session: Session, inbound: Inbound) -> tuple[Tenant | None, str | None, str | None]:
    """(tenant, code named in the text, unknown code after JOIN).

    The vendor is the one whose code the text names; else the one the number written to
    belongs to, if only one; else the one this phone last talked to; else, for staff, the
    one vendor they work for."""
    words = inbound.words
    candidates = [word for word in words if VENDOR_CODE.fullmatch(word)][:_MAX_CODE_CANDIDATES]
    if candidates:
        named = session.scalars(select(Tenant).where(Tenant.vendor_code.in_(candidates), Tenant.is_active)).all()
        if named:
            by_code = {tenant.vendor_code: tenant for tenant in named}
            code = next(word for word in candidates if word in by_code)
            return by_code[code], code, None
    if len(words) >= 2 and words[0] == "JOIN":
        return None, None, words[1]
    owners = session.scalars(select(Tenant).where(Tenant.whatsapp_number == inbound.to, Tenant.is_active).limit(2)).all()
    if len(owners) == 1:
        return owners[0], None, None
    route = session.get(PhoneRoute, inbound.phone)
    if route is not None:
        tenant = session.get(Tenant, route.tenant_id)
        if tenant is not None and tenant.is_active:
            return tenant, None, None
    employers = session.scalars(
        select(Tenant)
        .join(VendorUser, VendorUser.tenant_id == Tenant.id)
        .where(VendorUser.phone_number == inbound.phone, VendorUser.is_active, Tenant.is_active)
        .limit(2)
    ).all()
    if len(employers) == 1:
        return employers[0], None, None
    return None, None, None


def _save_conversation(holder: Customer | VendorUser, state: State, inbound: Inbound, now: datetime) -> None:
    """The state lives on the customer row, or on the staff row for staff who are not members."""
    holder.conversation_state = state.to_json()
    holder.last_inbound_at = now
    if isinstance(holder, Customer) and inbound.profile_name and inbound.profile_name != holder.whatsapp_name:
        holder.whatsapp_name = inbound.profile_name


def _store_inbound(
    session: Session, tenant: Tenant, customer: Customer | None, inbound: Inbound, replies: list[Reply], now: datetime
) -> None:
    session.add(
        WhatsAppMessage(
            tenant_id=tenant.id,
            customer_id=customer.id if customer else None,
            direction="inbound",
            channel=inbound.channel,
            from_number=inbound.phone,
            to_number=inbound.to,
            body=inbound.text,
            media=list(inbound.media),
            message_sid=inbound.sid,
            status="received",
            reply=[reply.to_json() for reply in replies],
            created_at=now,
        )
    )
