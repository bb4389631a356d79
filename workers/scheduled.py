"""The jobs that run on a schedule (listed with their schedules in workers/schedule.py), besides
the outbox reconcile (workers/outbound.py) and the expiry of points and reward codes. Each takes
the time, opens its own sessions and is idempotent."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Callable

from redis.exceptions import WatchError
from rq.timeouts import JobTimeoutException
from sqlalchemy import select

from bot import runtime
from bot.services import reminders
from bot.services.context import Context
from bot.services.metrics import MetricsService, yesterday
from bot.services.reminders import ReminderService
from models import Tenant

log = logging.getLogger(__name__)

REMINDERS_PER_TRANSACTION = 500
REMINDERS_TIMEOUT = 1800  # seconds: the reminders job's timeout (workers/schedule.py)
# While a run works on a vendor's day, its marker says RUNNING until when: the job's start, its
# timeout, the minute RQ then gives a work horse before killing it, and a minute more. A run
# killed outright (SIGKILL, out of memory, a restart) neither finishes nor gives the day back: the
# first run after that time takes it.
RUN_LEASE = timedelta(seconds=REMINDERS_TIMEOUT + 120)
RUNNING, DONE = b"running until ", b"done"
MARKER_KEPT = timedelta(days=2)  # past the vendor's day


def send_reminders(now: datetime | None = None, tenant_code: str | None = None) -> int:
    """Queue the expiry reminders due now: for each vendor, once a day from 10:00 in its
    timezone (a Redis marker per vendor and day keeps later runs that day, and a second
    scheduler, from reminding points earned since). A vendor whose run fails has its marker
    taken back, for the next run to try again, and the other vendors go on; one whose run was
    killed outright is taken again once that run's lease is over. Returns how many were
    queued."""
    rt = runtime.current()
    now = now or rt.clock()
    return _each_vendor(_tenants(rt, tenant_code), "expiry reminders", lambda tenant: _remind_once_today(rt, tenant, now))


def _remind_once_today(rt, tenant: Tenant, now: datetime) -> int:
    """The vendor's reminders, if due and no other run took its day; a run that fails gives the
    day back."""
    if not reminders.due_now(tenant, now):
        return 0
    marker = f"reminders:{tenant.id}:{reminders.local_day(tenant, now)}"
    if not _take_day(rt.redis, marker, now):
        return 0  # run today, or another run is at it
    try:
        sent = _remind(rt, tenant, now)
    except Exception:
        rt.redis.delete(marker)  # the reminders queued stay queued; the next run sends the rest
        raise
    rt.redis.set(marker, DONE, ex=MARKER_KEPT)
    return sent


def _take_day(redis, marker: str, now: datetime) -> bool:
    """Whether this run takes the vendor's day (compare-and-set: of two runs at once, one does)."""
    with redis.pipeline() as pipe:
        try:
            pipe.watch(marker)
            if _held(pipe.get(marker), now):
                return False
            pipe.multi()
            pipe.set(marker, RUNNING + str((now + RUN_LEASE).timestamp()).encode(), ex=MARKER_KEPT)
            pipe.execute()
            return True
        except WatchError:
            return False  # another run took it meanwhile


def _held(marker: bytes | None, now: datetime) -> bool:
    """Whether the day is taken: by a run that finished it, or one still within RUN_LEASE."""
    if marker is None:
        return False
    if marker.startswith(RUNNING):
        return float(marker.removeprefix(RUNNING)) > now.timestamp()
    return True


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
    rt = runtime.current()
    now = now or rt.clock()
    return _each_vendor(_tenants(rt), "daily metrics", lambda tenant: _compute_yesterday(rt, tenant, now))


def _compute_yesterday(rt, tenant: Tenant, now: datetime) -> bool:
    day = yesterday(tenant, now)
    with rt.db.transaction() as session:
        metrics = MetricsService(Context.at(session, session.get(Tenant, tenant.id), now))
        if metrics.settled(day):
            return False
        metrics.compute(day)
        return True


def _each_vendor(tenants: list[Tenant], what: str, job: Callable[[Tenant], int]) -> int:
    """`job` for each vendor, adding up what it returns: a vendor whose job fails is logged and
    left for the next run, and the other vendors go on."""
    total = 0
    for tenant in tenants:
        try:
            total += job(tenant)
        except JobTimeoutException:
            raise  # the job's time is up: the vendors left wait for the next run
        except Exception:
            log.exception("%s for %s failed; the next run tries again", what, tenant.vendor_code)
    return total


def _tenants(rt, code: str | None = None) -> list[Tenant]:
    with rt.db.sessions() as session:
        query = select(Tenant).where(Tenant.is_active).order_by(Tenant.vendor_code)
        if code:
            query = query.where(Tenant.vendor_code == code.upper())
        return list(session.scalars(query))
