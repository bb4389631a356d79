"""Every periodic job and its schedule: the one list.

With Redis, RQ's cron scheduler enqueues them (`rq cron --url $REDIS_URL workers.schedule`, the
Procfile's `scheduler:`); cron times are the scheduler's clock. Jobs that depend on a vendor's
local time (reminders at 10:00, metrics after midnight) run every 15 minutes and act for the
vendors whose time has come. Without Redis (`make run`), the dev server runs the same list
in-process (`run_in_process`). Every job is idempotent: running it twice, or from two schedulers
at once, sends and books nothing twice."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Callable

from flask import Flask
from rq import cron
from rq.cron import CronJob
from rq.utils import now as rq_now

from workers.broadcasts import advance_broadcasts
from workers.housekeeping import purge_expired
from workers.outbound import reconcile
from workers.points import expire_points
from workers.redemptions import expire_redemptions
from workers.scheduled import REMINDERS_TIMEOUT, compute_metrics, send_reminders

log = logging.getLogger(__name__)

QUEUE = "default"


@dataclass(frozen=True)
class Periodic:
    job: Callable
    cron: str  # minute hour day month weekday
    timeout: int = 1800  # seconds


SCHEDULE = (
    Periodic(expire_points, "0 * * * *"),  # hourly
    Periodic(expire_redemptions, "*/5 * * * *"),  # every 5 minutes
    Periodic(send_reminders, "*/15 * * * *", timeout=REMINDERS_TIMEOUT),  # each vendor once a day, from 10:00 its time
    Periodic(compute_metrics, "*/15 * * * *"),  # each vendor's yesterday, after its midnight
    Periodic(reconcile, "* * * * *"),  # every minute
    Periodic(advance_broadcasts, "* * * * *"),  # scheduled broadcasts start; sending ones keep a runner
    Periodic(purge_expired, "30 * * * *"),  # hourly: idempotency answers, form nonces, ended sign-ins
)

for periodic in SCHEDULE:  # what `rq cron` reads when it loads this module
    cron.register(periodic.job, QUEUE, cron=periodic.cron, job_timeout=periodic.timeout)


def run_in_process(app: Flask, stop: threading.Event | None = None) -> threading.Thread:
    """Run the schedule in a thread of this process, timed by RQ's own CronJob: for the dev
    server, which has no Redis and no worker. Jobs run inline, inside the app."""
    stop = stop or threading.Event()
    jobs = in_process_jobs()

    def loop() -> None:
        while not stop.is_set():
            for job in jobs:
                if job.should_run():
                    job.set_enqueue_time(rq_now())
                    _run(app, job)
            stop.wait(min(max(1.0, _seconds_to_next(jobs)), 60.0))

    thread = threading.Thread(target=loop, name="schedule", daemon=True)
    thread.start()
    return thread


def in_process_jobs() -> list[CronJob]:
    return [CronJob(QUEUE, func=periodic.job, cron=periodic.cron) for periodic in SCHEDULE]


def _run(app: Flask, job: CronJob) -> None:
    try:
        with app.app_context():
            result = job.func()
        log.info("scheduled %s: %s", job.func_name, result)
    except Exception:
        log.exception("scheduled %s failed", job.func_name)


def _seconds_to_next(jobs: list[CronJob]) -> float:
    return min((job.next_enqueue_time - rq_now()).total_seconds() for job in jobs)
