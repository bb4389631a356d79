"""What every service of one unit of work shares."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.db import ROW_LOCK
from bot.limits import UNLIMITED, PhoneLimits, Unlimited
from models import Customer, Tenant, Staff


@dataclass(frozen=True)
class Actor:
    """Who makes a change: a staff member in a PIN session, or a vendor's API key."""

    type: str  # vendor_user | api_key (audit_logs.actor_type)
    id: uuid.UUID

    @property
    def user_id(self) -> uuid.UUID | None:
        """For the columns that name a staff member (logged_by_user_id...): None for a key."""
        return self.id if self.type == "vendor_user" else None

    @property
    def via(self) -> str:
        return "staff_pin" if self.type == "vendor_user" else "api"


@dataclass(frozen=True)
class Lockout:
    """A phone's PIN lockout as read with its staff row: locked until then (None: not locked)."""

    until: datetime | None


@dataclass
class Context:
    """One unit of work at one tenant: every use case is a method of its feature's service
    class bound to one of these (`Services` gathers them for a flow, the API and the dashboard;
    the command line and scheduled jobs make one with `Context.at`)."""

    session: Session
    tenant: Tenant
    phone: str
    now: datetime
    pin_pepper: str  # keys the staff PINs' fingerprints (Config.pin_pepper)
    site: str = ""  # the address the world reaches us at (Inbound.site), for links the bot writes
    customer: Customer | None = None
    staff: Staff | None = None  # when the phone is on this vendor's staff
    lockout: Lockout | None = None  # the phone's PIN lockout, when read with the staff row
    api_key_id: uuid.UUID | None = None  # when the vendor's API key acts (no phone then)
    limits: PhoneLimits | Unlimited = UNLIMITED  # the phone's rate limits, for the message being answered
    # False while the customer row was only read (a staff sender's own membership): it is
    # locked when a service first needs it, after the staff row (the dispatcher's lock order).
    customer_locked: bool = True
    # Outbound messages written in this transaction, to hand to the sender after commit.
    outbox: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)
    # Broadcast moves (broadcasts.Moved) that want a runner, to hand over after commit.
    runners: list = field(default_factory=list)
    # The command line or a scheduled job: the system acts (audited with no actor).
    system: bool = False
    # Whether services may write a row without looking for a clash first (bot/db.py's
    # write_blind): only where a clash runs the unit of work once more, with this off (the
    # dispatcher's messages).
    blind_writes: bool = False

    @classmethod
    def at(cls, session: Session, tenant: Tenant, now: datetime, **more) -> Context:
        """A unit of work of the system at `tenant`, with nobody on the phone."""
        return cls(session=session, tenant=tenant, phone="", now=now, pin_pepper=more.pop("pin_pepper", ""),
                   system=True, **more)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tenant.timezone)

    @property
    def actor(self) -> Actor | None:
        """Who acts; None for the system."""
        if self.staff is not None:
            return Actor("vendor_user", self.staff.id)
        if self.api_key_id is not None:
            return Actor("api_key", self.api_key_id)
        if self.system:
            return None
        raise LookupError("neither a staff member nor an API key acts in this unit of work")

    def require_customer(self) -> Customer:
        """The customer this conversation is with, its row locked."""
        if self.customer is None:
            raise LookupError("this conversation has no enrolled customer")
        if not self.customer_locked:
            key = (self.customer.tenant_id, self.customer.id)
            self.session.get(Customer, key, with_for_update=ROW_LOCK, populate_existing=True)
            self.customer_locked = True
        return self.customer
