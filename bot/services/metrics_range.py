"""A vendor's daily figures over a range of days (the dashboard's charts).

TO SWITCH AT MERGE: `daily_metrics` below computes the figures from the base tables, because the
`daily_metrics` table (one row per vendor and local day, with these figures' names) is built at
the same time on another branch. Once it is here, read its rows for the days it has computed and
compute only the days it has not (today) the same way the nightly job does; nothing else changes."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Customer, PointsTransaction, Purchase, RewardRedemption, Tenant, WhatsAppMessage

FIGURES = (
    "new_members", "purchases", "revenue", "points_issued", "points_redeemed", "redemptions",
    "messages_out", "delivered", "read", "failed",
)
_DELIVERED, _FAILED = ("delivered", "read"), ("failed", "undelivered")


def daily_metrics(session: Session, tenant: Tenant, start: date, end: date) -> list[dict]:
    """The vendor's figures for each local day from `start` to `end` (inclusive), oldest first,
    each `{"date": date, <figure>: int, ...}`; revenue in minor units.

    FROM THE BASE TABLES, until `daily_metrics` is merged (see the module's docstring): it reads
    each row of the range once and counts it on its local day."""
    zone = ZoneInfo(tenant.timezone)
    since, until = (datetime.combine(day, time(), tzinfo=zone) for day in (start, end + timedelta(days=1)))
    days = {start + timedelta(days=n): dict.fromkeys(FIGURES, 0) for n in range((end - start).days + 1)}

    def rows(model, *columns, where=()):
        return session.execute(
            select(model.created_at, *columns)
            .where(model.tenant_id == tenant.id, model.created_at >= since, model.created_at < until, *where)
        )

    def count(figure: str, moment: datetime, value: int = 1) -> None:
        days[moment.astimezone(zone).date()][figure] += value

    for (moment,) in rows(Customer):
        count("new_members", moment)
    for moment, amount in rows(Purchase, Purchase.amount, where=(Purchase.status == "completed",)):
        count("purchases", moment)
        count("revenue", moment, amount)
    earned_or_redeemed = (PointsTransaction.transaction_type.in_(("earned", "redeemed")),)
    for moment, kind, points in rows(PointsTransaction, PointsTransaction.transaction_type, PointsTransaction.points, where=earned_or_redeemed):
        count("points_issued" if kind == "earned" else "points_redeemed", moment, abs(points))
    for (moment,) in rows(RewardRedemption):
        count("redemptions", moment)
    for moment, status in rows(WhatsAppMessage, WhatsAppMessage.status, where=(WhatsAppMessage.direction == "outbound",)):
        count("messages_out", moment)
        count("delivered", moment, status in _DELIVERED)
        count("read", moment, status == "read")
        count("failed", moment, status in _FAILED)
    return [{"date": day, **figures} for day, figures in days.items()]
