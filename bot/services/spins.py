"""The spin-credit ledger: every spin earned by a purchase, won on the wheel, used, or taken back
by a void is a row naming its cause, and `customers.spin_credits` is kept equal to their sum in
the same transaction. The caller holds the customer row lock."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Customer, SpinCredit


def move_spins(
    session: Session, customer: Customer, spins: int, kind: str, now: datetime, *,
    purchase_id: uuid.UUID | None = None, spin_id: uuid.UUID | None = None,
) -> None:
    """Give (`spins` > 0) or take spins: `earned` by a purchase, `won` or `used` by a spin,
    `reversed` by a void."""
    session.add(SpinCredit(
        tenant_id=customer.tenant_id, customer_id=customer.id, kind=kind, spins=spins, purchase_id=purchase_id,
        spin_id=spin_id, created_at=now,
    ))
    customer.spin_credits += spins


@dataclass(frozen=True)
class SpinMismatch:
    tenant_id: uuid.UUID
    customer_id: uuid.UUID
    spins: int  # the counter on the customer
    ledger: int  # the sum of its rows


def spin_mismatches(session: Session) -> list[SpinMismatch]:
    """Every customer whose spin count is not the sum of its spin-credit rows, or is negative."""
    ledger = (
        select(SpinCredit.tenant_id, SpinCredit.customer_id, func.sum(SpinCredit.spins).label("total"))
        .group_by(SpinCredit.tenant_id, SpinCredit.customer_id)
        .subquery()
    )
    total = func.coalesce(ledger.c.total, 0)
    rows = session.execute(
        select(Customer.tenant_id, Customer.id, Customer.spin_credits, total)
        .outerjoin(ledger, (ledger.c.tenant_id == Customer.tenant_id) & (ledger.c.customer_id == Customer.id))
        .where((Customer.spin_credits != total) | (Customer.spin_credits < 0))
    ).all()
    return [SpinMismatch(*row) for row in rows]
