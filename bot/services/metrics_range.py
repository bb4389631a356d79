"""A vendor's daily figures over a range of days, for the API's /metrics.

STUB, the one place to finish at merge: the `daily_metrics` table (one row per vendor and local
day) is being built at the same time by another branch (the delivery engine's daily metrics).
Until it is merged this answers no computed day. At merge, make `daily_metrics` read the rows
`DailyMetrics.tenant_id == tenant.id, metric_date BETWEEN start AND end` ordered by date, and
take FIGURES from that module (the names below are that branch's columns)."""
from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from models import Tenant

FIGURES = (
    "new_members", "active_members", "purchases", "revenue", "points_issued", "points_redeemed", "points_expired",
    "redemptions", "spins", "messages_in", "messages_out", "delivered", "read", "failed", "skipped",
)


def daily_metrics(session: Session, tenant: Tenant, start: date, end: date) -> list[dict]:
    """The vendor's computed days from `start` to `end` (inclusive), oldest first, each
    `{"date": date, <figure>: int, ...}`; days not computed yet are absent."""
    return []  # STUB: see the module's docstring
