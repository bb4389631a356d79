"""Missions: visit N times, spend X, bring friends, within a day, week, month or ever.
A mission pays out once per customer and period, when the purchase or join completing it happens."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.db import insert_on_conflict
from bot.messages import say
from bot.money import to_minor
from bot.outbound import notify
from bot.services import points
from bot.services.context import Context
from models import Customer, MissionCompletion, Purchase, Referral, Tenant


@dataclass(frozen=True)
class Progress:
    title: str
    done: int
    target: int
    points: int
    completed: bool  # already paid out this period


def period_of(period: str, local_now: datetime) -> tuple[str, datetime | None]:
    """The period's key and its start (in the vendor's timezone; None for all time)."""
    day = local_now.date()
    if period == "day":
        start = day
        key = day.isoformat()
    elif period == "week":
        start = day - timedelta(days=day.weekday())
        year, week, _ = day.isocalendar()
        key = f"{year}-W{week:02}"
    elif period == "month":
        start = day.replace(day=1)
        key = start.strftime("%Y-%m")
    else:
        return "all", None
    return key, datetime.combine(start, time(), tzinfo=local_now.tzinfo)


def _done(session: Session, tenant: Tenant, customer: Customer, mission: dict, since: datetime | None) -> int:
    """How far the customer has got: purchases, money spent (major units), or friends rewarded."""
    if mission["type"] == "referral":
        query = select(func.count()).where(
            Referral.tenant_id == tenant.id, Referral.referrer_id == customer.id, Referral.rewarded_at.is_not(None),
            *([Referral.rewarded_at >= since] if since else []),
        )
        return session.scalar(query)
    measure = func.count() if mission["type"] == "visit_count" else func.coalesce(func.sum(Purchase.amount), 0)
    query = select(measure).where(
        Purchase.tenant_id == tenant.id, Purchase.customer_id == customer.id, Purchase.status == "completed",
        *([Purchase.created_at >= since] if since else []),
    )
    done = int(session.scalar(query))  # PostgreSQL sums a bigint column as a numeric
    return done if mission["type"] == "visit_count" else done // to_minor(1, tenant.currency)


def progress(session: Session, tenant: Tenant, customer: Customer, now: datetime) -> list[Progress]:
    local_now = now.astimezone(ZoneInfo(tenant.timezone))
    found = []
    for mission in tenant.settings.get("missions", []):
        key, since = period_of(mission["period"], local_now)
        paid = session.scalar(select(MissionCompletion.id).where(
            MissionCompletion.tenant_id == tenant.id, MissionCompletion.customer_id == customer.id,
            MissionCompletion.mission == mission["title"], MissionCompletion.period == key,
        ))
        done = _done(session, tenant, customer, mission, since)
        found.append(Progress(mission["title"], min(done, mission["target"]), mission["target"], mission["points"], paid is not None))
    return found


def complete_missions(
    session: Session, outbox: list, tenant: Tenant, customer: Customer, now: datetime, kinds: set[str],
    purchase_id: uuid.UUID,
) -> None:
    """Pay out every mission of these kinds the customer has just completed, once per period.
    The completion and its points name the purchase that caused them (for a referral mission,
    the friend's), so that a void of it takes them back."""
    local_now = now.astimezone(ZoneInfo(tenant.timezone))
    for mission in tenant.settings.get("missions", []):
        if mission["type"] not in kinds:
            continue
        key, since = period_of(mission["period"], local_now)
        if _done(session, tenant, customer, mission, since) < mission["target"]:
            continue
        first_time = insert_on_conflict(session, MissionCompletion, {
            "tenant_id": tenant.id, "customer_id": customer.id, "mission": mission["title"], "period": key,
            "points": mission["points"], "purchase_id": purchase_id, "created_at": now,
        })
        if not first_time:
            continue
        if mission["points"]:
            points.credit(
                session, tenant, customer, mission["points"], source="mission",
                description=say("ledger.mission", title=mission["title"]), now=now, purchase_id=purchase_id,
            )
        key = "mission_complete" if mission["points"] else "mission_complete_badge"
        notify(session, outbox, tenant, customer, say(key, title=mission["title"], points=mission["points"]))


class MissionService:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def progress(self) -> list[Progress]:
        return progress(self.ctx.session, self.ctx.tenant, self.ctx.require_customer(), self.ctx.now)
