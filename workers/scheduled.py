"""The jobs that run on a schedule (listed with their schedules in workers/schedule.py), besides
the outbox reconcile (workers/outbound.py) and the expiry of points and reward codes. Each takes
the time, opens its own sessions and is idempotent."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from rq.timeouts import JobTimeoutException
from sqlalchemy import select

from bot import runtime
from bot.services import reminders
from bot.services.context import Context
from bot.services.metrics import MetricsService, yesterday
from bot.services.reminders import ReminderService
from models import Tenant
from models.base import utcnow

log = logging.getLogger(__name__)

REMINDERS_PER_TRANSACTION = 500


def send_reminders(now: datetime | None = None, tenant_code: str | None = None) -> int:
    """Queue the expiry reminders due now: for each vendor, once a day from 10:00 in its
    timezone (a Redis marker per vendor and day keeps later runs that day, and a second
    scheduler, from reminding points earned since). A vendor whose run fails has its marker
    taken back, for the next run to try again, and the other vendors go on. Returns how many
    were queued."""
    rt, now = runtime.current(), now or utcnow()
    total = 0
    for tenant in _tenants(rt, tenant_code):
        if not reminders.due_now(tenant, now):
            continue
        marker = f"reminders:{tenant.id}:{reminders.local_day(tenant, now)}"
        if not rt.redis.set(marker, now.isoformat(), nx=True, ex=int(timedelta(days=2).total_seconds())):
            continue  # already run today
        try:
            total += _remind(rt, tenant, now)
        except Exception as error:
            rt.redis.delete(marker)  # the reminders queued stay queued; the next run sends the rest
            if isinstance(error, JobTimeoutException):
                raise  # the job's time is up: the vendors left wait for the next run
            log.exception("expiry reminders for %s failed; the next run tries again", tenant.vendor_code)
    return total


def _remind(rt, tenant: Tenant, now: datetime) -> int:
    with rt.db.sessions() as session:
        due = list(ReminderService(Context.at(session, tenant, now)).due().items())
    sent = 0
    for start in range(0, len(due), REMINDERS_PER_TRANSACTION):
        with rt.db.transaction() as session:
            ctx = Context.at(session, session.get(Tenant, tenant.id), now)
            sent += ReminderService(ctx).remind(dict(due[start:start + REMINDERS_PER_TRANSACTION]))
        rt.deliver(ctx.outbox)
    log.info("queued %d expiry reminder(s) for %s", sent, tenant.vendor_code)
    return sent


def compute_metrics(now: datetime | None = None) -> int:
    """Each vendor's yesterday, once its local midnight has passed, if not computed yet or
    computed while it could still change: a purchase of its last minutes may be voided for
    VOID_WINDOW after midnight. A vendor whose computation fails is left for the next run, and
    the other vendors go on. Returns how many days were computed."""
    rt, now = runtime.current(), now or utcnow()
    done = 0
    for tenant in _tenants(rt):
        try:
            done += _compute_yesterday(rt, tenant, now)
        except JobTimeoutException:
            raise  # the job's time is up: the vendors left wait for the next run
        except Exception:
            log.exception("daily metrics for %s failed; the next run tries again", tenant.vendor_code)
    return done


def _compute_yesterday(rt, tenant: Tenant, now: datetime) -> bool:
    day = yesterday(tenant, now)
    with rt.db.transaction() as session:
        metrics = MetricsService(Context.at(session, session.get(Tenant, tenant.id), now))
        if metrics.settled(day):
            return False
        metrics.compute(day)
        return True


def _tenants(rt, code: str | None = None) -> list[Tenant]:
    with rt.db.sessions() as session:
        query = select(Tenant).where(Tenant.is_active).order_by(Tenant.vendor_code)
        if code:
            query = query.where(Tenant.vendor_code == code.upper())
        return list(session.scalars(query))
