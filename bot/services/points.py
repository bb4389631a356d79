"""The points ledger: append-only rows, with the balance kept beside them in the same
transaction. Credits are lots that remember what is left of them and when they expire."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.services.context import Context
from models import Customer, CustomerPointsBalance, PointsTransaction, Tenant


@dataclass(frozen=True)
class Balance:
    balance: int
    earned: int
    next_expiry_points: int
    next_expiry_on: date | None


@dataclass(frozen=True)
class LedgerLine:
    when: datetime  # in the vendor's timezone
    points: int
    description: str


def open_balance(session: Session, customer: Customer) -> None:
    session.add(CustomerPointsBalance(tenant_id=customer.tenant_id, customer_id=customer.id))


def expiry_for(tenant: Tenant, now: datetime) -> datetime | None:
    days = tenant.settings.get("points_expiry_days")
    return now + timedelta(days=days) if days else None


def credit(
    session: Session,
    tenant: Tenant,
    customer: Customer,
    points: int,
    *,
    source: str,
    description: str,
    now: datetime,
    created_by: uuid.UUID | None = None,
    **details,
) -> PointsTransaction:
    """Earn `points` as a new lot expiring after the vendor's points_expiry_days."""
    if points <= 0:
        raise ValueError("a credit must be positive")
    entry = PointsTransaction(
        tenant_id=customer.tenant_id,
        customer_id=customer.id,
        transaction_type="earned",
        source=source,
        points=points,
        remaining=points,
        expires_at=expiry_for(tenant, now),
        description=description,
        details=details,
        created_by_user_id=created_by,
        created_at=now,
    )
    session.add(entry)
    session.execute(
        update(CustomerPointsBalance)
        .where(
            CustomerPointsBalance.tenant_id == customer.tenant_id,
            CustomerPointsBalance.customer_id == customer.id,
        )
        .values(
            current_balance=CustomerPointsBalance.current_balance + points,
            total_earned=CustomerPointsBalance.total_earned + points,
            updated_at=now,
        )
    )
    return entry


class PointsService:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def balance(self) -> Balance:
        customer = self.ctx.require_customer()
        session = self.ctx.session
        row = session.get(CustomerPointsBalance, (customer.tenant_id, customer.id))
        next_points, next_on = self._next_expiry(customer)
        return Balance(row.current_balance, row.total_earned, next_points, next_on)

    def _next_expiry(self, customer: Customer) -> tuple[int, date | None]:
        """The points of the earliest-expiring lots, all those ending on that same local day."""
        lots = self.ctx.session.execute(
            select(PointsTransaction.expires_at, PointsTransaction.remaining)
            .where(
                PointsTransaction.tenant_id == customer.tenant_id,
                PointsTransaction.customer_id == customer.id,
                PointsTransaction.remaining > 0,
                PointsTransaction.expires_at > self.ctx.now,
            )
            .order_by(PointsTransaction.expires_at)
            .limit(50)
        ).all()
        if not lots:
            return 0, None
        first_day = lots[0].expires_at.astimezone(self.ctx.zone).date()
        points = sum(lot.remaining for lot in lots if lot.expires_at.astimezone(self.ctx.zone).date() == first_day)
        return points, first_day

    def history(self, limit: int = 8) -> list[LedgerLine]:
        customer = self.ctx.require_customer()
        rows = self.ctx.session.scalars(
            select(PointsTransaction)
            .where(
                PointsTransaction.tenant_id == customer.tenant_id,
                PointsTransaction.customer_id == customer.id,
            )
            .order_by(PointsTransaction.created_at.desc())
            .limit(limit)
        )
        return [LedgerLine(row.created_at.astimezone(self.ctx.zone), row.points, row.description or "") for row in rows]


def ledger_total(session: Session, customer: Customer) -> int:
    return session.scalar(
        select(func.coalesce(func.sum(PointsTransaction.points), 0)).where(
            PointsTransaction.tenant_id == customer.tenant_id,
            PointsTransaction.customer_id == customer.id,
        )
    )
