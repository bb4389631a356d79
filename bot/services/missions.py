"""Missions: visit N times, spend X, bring friends, within a day, week, month or ever.
A mission pays out once per customer and period, when the purchase or join completing it happens."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import partial
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
from models import Customer, MissionCompletion, PointsTransaction, Purchase, Referral, Tenant


@dataclass(frozen=True)
class Progress:
    title: str
    done: int
    target: int
    points: int
    completed: bool  # already paid out this period


def period_of(period: str, local_now: datetime) -> tuple[str, datetime | None, datetime | None]:
    """The period's key, its start and its end (in the vendor's timezone; None for all time)."""
    day = local_now.date()
    if period == "day":
        start, end = day, day + timedelta(days=1)
        key = day.isoformat()
    elif period == "week":
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=7)
        year, week, _ = day.isocalendar()
        key = f"{year}-W{week:02}"
    elif period == "month":
        start = day.replace(day=1)
        end = (start + timedelta(days=31)).replace(day=1)
        key = start.strftime("%Y-%m")
    else:
        return "all", None, None
    return key, datetime.combine(start, time(), tzinfo=local_now.tzinfo), datetime.combine(end, time(), tzinfo=local_now.tzinfo)


def _done(
    session: Session, tenant: Tenant, customer: Customer, mission: dict, since: datetime | None, until: datetime | None,
    without: uuid.UUID | None = None,
) -> int:
    """How far the customer got in the period: purchases, money spent (major units), or friends
    rewarded; `without` a purchase, it and the friend it rewarded do not count."""
    if mission["type"] == "referral":
        query = select(func.count()).where(
            Referral.tenant_id == tenant.id, Referral.referrer_id == customer.id, Referral.rewarded_at.is_not(None),
            *([Referral.rewarded_at >= since, Referral.rewarded_at < until] if since else []),
            *([Referral.purchase_id.is_distinct_from(without)] if without else []),
        )
        return session.scalar(query)
    measure = func.count() if mission["type"] == "visit_count" else func.coalesce(func.sum(Purchase.amount), 0)
    query = select(measure).where(
        Purchase.tenant_id == tenant.id, Purchase.customer_id == customer.id, Purchase.status == "completed",
        *([Purchase.created_at >= since, Purchase.created_at < until] if since else []),
        *([Purchase.id != without] if without else []),
    )
    done = int(session.scalar(query))  # PostgreSQL sums a bigint column as a numeric
    return done if mission["type"] == "visit_count" else done // to_minor(1, tenant.currency)


def progress(session: Session, tenant: Tenant, customer: Customer, now: datetime) -> list[Progress]:
    local_now = now.astimezone(ZoneInfo(tenant.timezone))
    found = []
    for mission in tenant.settings.get("missions", []):
        key, since, until = period_of(mission["period"], local_now)
        paid = session.scalar(select(MissionCompletion.id).where(
            MissionCompletion.tenant_id == tenant.id, MissionCompletion.customer_id == customer.id,
            MissionCompletion.mission == mission["title"], MissionCompletion.period == key,
        ))
        done = _done(session, tenant, customer, mission, since, until)
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
        key, since, until = period_of(mission["period"], local_now)
        if _done(session, tenant, customer, mission, since, until) < mission["target"]:
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
                mission=mission["title"],
            )
        key = "mission_complete" if mission["points"] else "mission_complete_badge"
        notify(session, outbox, tenant, customer, say(key, title=mission["title"], points=mission["points"]))


def resting_on(session: Session, tenant: Tenant, customer: Customer, purchase: Purchase) -> list[MissionCompletion]:
    """The customer's missions completed in `purchase`'s periods that it counted toward and that
    fall short of their target without it (for a referral mission, without the friend it
    rewarded), whichever purchase completed them: a void of it takes them back."""
    local_then = purchase.created_at.astimezone(ZoneInfo(tenant.timezone))
    found = []
    for mission in tenant.settings.get("missions", []):
        key, since, until = period_of(mission["period"], local_then)
        completion = session.scalars(select(MissionCompletion).where(
            MissionCompletion.tenant_id == tenant.id, MissionCompletion.customer_id == customer.id,
            MissionCompletion.mission == mission["title"], MissionCompletion.period == key,
        ).execution_options(populate_existing=True)).one_or_none()
        if completion is None:
            continue
        done = partial(_done, session, tenant, customer, mission, since, until)
        if done(without=purchase.id) < mission["target"] <= done():
            found.append(completion)
    return found


def paid_lot(session: Session, completion: MissionCompletion) -> PointsTransaction | None:
    """The points lot a completion paid (None for a badge): its purchase's mission credit of that title."""
    lots = session.scalars(select(PointsTransaction).where(
        PointsTransaction.tenant_id == completion.tenant_id, PointsTransaction.customer_id == completion.customer_id,
        PointsTransaction.purchase_id == completion.purchase_id, PointsTransaction.source == "mission",
        PointsTransaction.transaction_type == "earned",
    ).execution_options(populate_existing=True))
    return next((lot for lot in lots if lot.details.get("mission") == completion.mission), None)


class MissionService:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def progress(self) -> list[Progress]:
        return progress(self.ctx.session, self.ctx.tenant, self.ctx.require_customer(), self.ctx.now)
