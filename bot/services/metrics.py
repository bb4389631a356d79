"""Daily metrics: each vendor's figures for one day in its timezone. Recomputing a day replaces
its row, so the scheduled job and the command can run any number of times."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, union
from sqlalchemy.orm import Session

from bot.db import insert_on_conflict
from bot.services.context import Context
from bot.services.purchases import VOID_WINDOW
from models import (
    Customer, DailyMetrics, PointsTransaction, Purchase, RewardRedemption, SpinHistory, Tenant, Message,
)

FIGURES = (
    "new_members", "active_members", "purchases", "revenue", "points_issued", "points_redeemed", "points_expired",
    "redemptions", "spins", "messages_in", "messages_out", "delivered", "read", "failed", "skipped",
)


@dataclass(frozen=True)
class Day:
    tenant: Tenant
    day: date

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """The local day as a UTC range (23 or 25 hours long when the clocks change)."""
        zone = ZoneInfo(self.tenant.timezone)
        start = datetime.combine(self.day, time(), tzinfo=zone)
        return start, datetime.combine(self.day + timedelta(days=1), time(), tzinfo=zone)


def yesterday(tenant: Tenant, now: datetime) -> date:
    return now.astimezone(ZoneInfo(tenant.timezone)).date() - timedelta(days=1)


class MetricsService:
    """The daily figures of the tenant in `ctx`."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def compute(self, day: date) -> dict:
        """Compute the day and store it in place of any earlier computation; returns the figures."""
        tenant = self.ctx.tenant
        figures = self.figures(day)
        values = {"tenant_id": tenant.id, "metric_date": day, "computed_at": self.ctx.now, **figures}
        insert_on_conflict(self.ctx.session, DailyMetrics, values, ["tenant_id", "metric_date"],
                           update={name: value for name, value in values.items() if name not in ("tenant_id", "metric_date")})
        return figures

    def figures(self, day: date) -> dict:
        """The day's figures as they stand, stored nowhere (today's, or a day not computed yet)."""
        return _figures(self.ctx.session, Day(self.ctx.tenant, day))

    def settled(self, day: date) -> bool:
        """Whether the day is stored as computed after the last change it can take: the void of
        a purchase of its last minutes, up to VOID_WINDOW after its midnight."""
        stored = self.ctx.session.get(DailyMetrics, (self.ctx.tenant.id, day))
        return stored is not None and stored.computed_at >= Day(self.ctx.tenant, day).bounds[1] + VOID_WINDOW

    def stored(self, start: date, end: date) -> list[dict]:
        """The computed days from `start` to `end` (inclusive), oldest first, each
        `{"date": date, <figure>: int, ...}`; days not computed yet are absent (the API's
        /metrics and the dashboard's charts)."""
        rows = self.ctx.session.scalars(
            select(DailyMetrics)
            .where(DailyMetrics.tenant_id == self.ctx.tenant.id, DailyMetrics.metric_date.between(start, end))
            .order_by(DailyMetrics.metric_date)
        )
        return [{"date": row.metric_date, **{name: getattr(row, name) for name in FIGURES}} for row in rows]


def _figures(session: Session, day: Day) -> dict:
    tenant_id = day.tenant.id
    start, end = day.bounds

    def during(model):
        return model.tenant_id == tenant_id, model.created_at >= start, model.created_at < end

    def scalar(query) -> int:
        return int(session.scalar(query) or 0)  # PostgreSQL sums bigints as numeric

    completed = (*during(Purchase), Purchase.status == "completed")
    active = union(
        select(Message.customer_id).where(*during(Message), Message.direction == "inbound",
                                          Message.customer_id.is_not(None)),
        select(Purchase.customer_id).where(*completed),
    ).subquery()
    points = dict(session.execute(
        select(PointsTransaction.transaction_type, func.sum(PointsTransaction.points))
        .where(*during(PointsTransaction)).group_by(PointsTransaction.transaction_type)
    ).all())

    def net(*kinds) -> int:
        return sum(int(points.get(kind) or 0) for kind in kinds)

    # A void takes its purchase's points back on the purchase's day, as it takes the purchase out
    # of that day's count (it may come up to VOID_WINDOW after midnight: see settled).
    reversed_points = scalar(
        select(func.sum(PointsTransaction.points))
        .join(Purchase, (Purchase.tenant_id == PointsTransaction.tenant_id) & (Purchase.id == PointsTransaction.purchase_id))
        .where(*during(Purchase), Purchase.status == "voided", PointsTransaction.transaction_type == "reversed")
    )
    messages = session.execute(
        select(Message.direction, Message.status, func.count())
        .where(*during(Message)).group_by(Message.direction, Message.status)
    ).all()
    out = {status: n for direction, status, n in messages if direction == "outbound"}
    return {
        "new_members": scalar(select(func.count()).where(*during(Customer))),
        "active_members": scalar(select(func.count()).select_from(active)),
        "purchases": scalar(select(func.count()).where(*completed)),
        "revenue": scalar(select(func.sum(Purchase.amount)).where(*completed)),
        # As the balance's totals count them: earned less voided, redeemed less refunded
        # (a code that expired or was cancelled, on the day its points came back).
        "points_issued": net("earned") + reversed_points,
        "points_redeemed": -net("redeemed", "refunded"),
        "points_expired": -net("expired"),
        "redemptions": scalar(select(func.count()).where(*during(RewardRedemption))),
        "spins": scalar(select(func.count()).where(*during(SpinHistory))),
        "messages_in": sum(n for direction, _, n in messages if direction == "inbound"),
        "messages_out": sum(n for status, n in out.items() if status != "skipped"),
        "delivered": out.get("delivered", 0) + out.get("read", 0),
        "read": out.get("read", 0),
        "failed": out.get("failed", 0) + out.get("undelivered", 0),
        "skipped": out.get("skipped", 0),
    }
