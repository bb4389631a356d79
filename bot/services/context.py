"""What every service of one unit of work shares."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

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
    # Outbound messages written in this transaction, to hand to the sender after commit.
    outbox: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tenant.timezone)

    def require_customer(self) -> Customer:
        if self.customer is None:
            raise LookupError("this conversation has no enrolled customer")
        return self.customer
