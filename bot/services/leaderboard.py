"""TOP: this month's best customers by points earned, names shortened and phones masked."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

import phonenumbers
from sqlalchemy import func, or_, select

from bot.services.context import Context
from models import Customer, PointsTransaction, Purchase

# Earning counts; a voided purchase's reversal takes its points back off.
_EARNING = ("earned", "reversed")


@dataclass(frozen=True)
class Standing:
    rank: int
    name: str
    points: int


def short_name(name: str | None) -> str:
    """'Ada Okafor' -> 'Ada O.'; no name -> 'Customer'."""
    parts = (name or "").split()
    if not parts:
        return "Customer"
    return parts[0] if len(parts) == 1 else f"{parts[0]} {parts[-1][0]}."


def masked_phone(e164: str) -> str:
    """'+2348031234567' -> '+234•••4567'."""
    country = phonenumbers.parse(e164).country_code
    return f"+{country}•••{e164[-4:]}"


class LeaderboardService:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def month(self, size: int = 10) -> tuple[list[Standing], Standing | None]:
        """The top `size`, and the asker's own standing (None before they earn this month)."""
        ctx = self.ctx
        local = ctx.now.astimezone(ctx.zone)
        since = datetime.combine(local.date().replace(day=1), time(), tzinfo=ctx.zone)
        earned = func.sum(PointsTransaction.points).label("earned")
        rows = ctx.session.execute(
            select(PointsTransaction.customer_id, earned)
            .outerjoin(Purchase, (Purchase.tenant_id == PointsTransaction.tenant_id) & (Purchase.id == PointsTransaction.purchase_id))
            .where(
                PointsTransaction.tenant_id == ctx.tenant.id,
                PointsTransaction.transaction_type.in_(_EARNING),
                PointsTransaction.created_at >= since,
                # A void takes back what its purchase earned in the month it earned it: a purchase
                # of last month voided after midnight takes nothing from this month.
                or_(PointsTransaction.transaction_type != "reversed", Purchase.id.is_(None), Purchase.created_at >= since),
            )
            .group_by(PointsTransaction.customer_id)
            .having(earned > 0)
            .order_by(earned.desc(), PointsTransaction.customer_id)
        ).all()
        ranks = {row.customer_id: (rank, row.earned) for rank, row in enumerate(rows, start=1)}
        top_ids = [row.customer_id for row in rows[:size]]
        people = {c.id: c for c in ctx.session.scalars(select(Customer).where(Customer.tenant_id == ctx.tenant.id, Customer.id.in_(top_ids)))}
        top = [
            Standing(ranks[cid][0], f"{short_name(people[cid].whatsapp_name)} {masked_phone(people[cid].phone_number)}", ranks[cid][1])
            for cid in top_ids
        ]
        me = ctx.require_customer()
        mine = ranks.get(me.id)
        return top, Standing(mine[0], "you", mine[1]) if mine else None
