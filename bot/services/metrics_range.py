"""A vendor's daily figures over a range of days: the API's /metrics and the dashboard's charts."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.services.metrics import FIGURES
from models import DailyMetrics, Tenant


def daily_metrics(session: Session, tenant: Tenant, start: date, end: date) -> list[dict]:
    """The vendor's computed days from `start` to `end` (inclusive), oldest first, each
    `{"date": date, <figure>: int, ...}`; days not computed yet are absent."""
    rows = session.scalars(
        select(DailyMetrics)
        .where(DailyMetrics.tenant_id == tenant.id, DailyMetrics.metric_date.between(start, end))
        .order_by(DailyMetrics.metric_date)
    )
    return [{"date": row.metric_date, **{name: getattr(row, name) for name in FIGURES}} for row in rows]
