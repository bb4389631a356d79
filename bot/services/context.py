"""What every service of one unit of work shares."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.db import ROW_LOCK
from bot.limits import UNLIMITED, PhoneLimits, Unlimited
from models import Customer, Tenant, VendorUser


@dataclass
class Context:
    session: Session
    tenant: Tenant
    phone: str
    now: datetime
    customer: Customer | None = None
    staff: VendorUser | None = None  # when the phone is on this vendor's staff
    limits: PhoneLimits | Unlimited = UNLIMITED  # the phone's rate limits, for the message being answered
    # False while the customer row was only read (a staff sender's own membership): it is
    # locked when a service first needs it, after the staff row (the dispatcher's lock order).
    customer_locked: bool = True
    # Outbound messages written in this transaction, to hand to the sender after commit.
    outbox: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tenant.timezone)

    def require_customer(self) -> Customer:
        """The customer this conversation is with, its row locked."""
        if self.customer is None:
            raise LookupError("this conversation has no enrolled customer")
        if not self.customer_locked:
            key = (self.customer.tenant_id, self.customer.id)
            self.session.get(Customer, key, with_for_update=ROW_LOCK, populate_existing=True)
            self.customer_locked = True
        return self.customer
