"""Scheduled jobs run twice at once (two schedulers) send and book nothing twice (PostgreSQL)."""
from __future__ import annotations

import threading
from datetime import datetime, timezone

from sqlalchemy import func, select, update

from models import DailyMetrics, ExpiryReminder, PointsTransaction, Tenant, Message
from workers.scheduled import _remind, compute_metrics

MORNING = datetime(2026, 11, 26, 9, 30, tzinfo=timezone.utc)  # 10:30 in Lagos
MEMBERS = 20


def at_once(app, job, *args) -> None:
    def run():
        with app.app_context():
            job(*args)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_two_reminder_runs_at_once_remind_each_member_once(app, phone, mama, db):
    for n in range(MEMBERS):
        phone(f"+23480312{n:05}").send("JOIN MAMA")
    with db.transaction() as session:
        session.execute(update(PointsTransaction).values(expires_at=datetime(2026, 11, 29, 18, tzinfo=timezone.utc)))
        tenant = session.get(Tenant, mama.id)
    at_once(app, _remind, app.extensions["runtime"], tenant, MORNING)  # past the day's marker, as two schedulers could be
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ExpiryReminder)) == MEMBERS
        sent = session.scalar(select(func.count()).where(Message.triggered_by == "expiry_reminder"))
    assert sent == MEMBERS


def test_two_metrics_runs_at_once_keep_one_row_per_day(app, mama, db):
    at_once(app, compute_metrics, MORNING)
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(DailyMetrics)) == 1
