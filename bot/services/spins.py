"""The spin-credit ledger: every spin earned by a purchase, won on the wheel, used, or taken back
by a void is a row naming its cause, and `customers.spin_credits` is kept equal to their sum in
the same transaction. The caller holds the customer row lock."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.db import update_loaded, write_rows
from models import Customer, SpinCredit


def move_spins(
    session: Session, customer: Customer, spins: int, kind: str, now: datetime, *,
    purchase_id: uuid.UUID | None = None, spin_id: uuid.UUID | None = None,
) -> None:
    """Give (`spins` > 0) or take spins: `earned` by a purchase, `won` or `used` by a spin,
    `reversed` by a void."""
    write_rows(session, SpinCredit, {
        "tenant_id": customer.tenant_id, "customer_id": customer.id, "kind": kind, "spins": spins,
        "purchase_id": purchase_id, "spin_id": spin_id, "created_at": now,
    })
    update_loaded(session, customer, spin_credits=customer.spin_credits + spins)


def unused_spins(session: Session, customer: Customer, purchase_id: uuid.UUID) -> int:
    """How many of the spins this purchase gave the customer are still unused. Spins are used
    earliest-given first, as points are: spins given later (another purchase's, a prize) do not
    hide that these were spun."""
    rows = session.scalars(
        select(SpinCredit)
        .where(SpinCredit.tenant_id == customer.tenant_id, SpinCredit.customer_id == customer.id)
        .order_by(SpinCredit.created_at, SpinCredit.spins.desc())  # a prize after the spin that won it
    ).all()
    left: dict[uuid.UUID, int] = {}  # what is left of each grant, earliest first
    for row in rows:
        if row.spins > 0:
            left[row.id] = row.spins
        elif row.kind == "reversed":  # a void took back exactly its purchase's spins
            left.update({grant.id: 0 for grant in rows if grant.spins > 0 and grant.purchase_id == row.purchase_id})
        else:
            _use(left, -row.spins)
    return sum(left[row.id] for row in rows if row.spins > 0 and row.purchase_id == purchase_id)


def _use(left: dict[uuid.UUID, int], spins: int) -> None:
    for grant, unused in left.items():
        if spins == 0:
            return
        taken = min(unused, spins)
        left[grant] -= taken
        spins -= taken


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
