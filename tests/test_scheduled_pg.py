"""Scheduled jobs run twice at once (two schedulers) send and book nothing twice (PostgreSQL)."""
from __future__ import annotations

import os
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text, update

from bot.services.customers import lock_customers
from bot.services.points import debit
from models import Customer, DailyMetrics, ExpiryReminder, PointsTransaction, Tenant, Message
from tests.conftest import AUTH_TOKEN, PIN_PEPPER, PUBLIC_BASE_URL, REDIS_URL, at_once
from tests.test_outbound_pg import Workers, wait_for
from workers.scheduled import _remind, compute_metrics, send_reminders

MORNING = datetime(2026, 11, 26, 9, 30, tzinfo=timezone.utc)  # 10:30 in Lagos
MEMBERS = 20


def twice_at_once(app, job, *args) -> None:
    """The job run by two schedulers at once."""
    def run():
        with app.app_context():
            job(*args)

    at_once([run, run])


def test_two_reminder_runs_at_once_remind_each_member_once(app, phone, mama, db):
    for n in range(MEMBERS):
        phone(f"+23480312{n:05}").send("JOIN MAMA")
    with db.transaction() as session:
        session.execute(update(PointsTransaction).values(expires_at=datetime(2026, 11, 29, 18, tzinfo=timezone.utc)))
        tenant = session.get(Tenant, mama.id)
    twice_at_once(app, _remind, app.extensions["runtime"], tenant, MORNING)  # past the day's marker, as two schedulers could be
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ExpiryReminder)) == MEMBERS
        sent = session.scalar(select(func.count()).where(Message.triggered_by == "expiry_reminder"))
    assert sent == MEMBERS


@pytest.mark.parametrize("spent, reminded", [(50, []), (30, ["*Mama Put Kitchen*: 20 points expire on 29 Nov 2026"])])
def test_a_reminder_leaves_out_the_points_of_a_redemption_under_way(app, phone, mama, db, spent, reminded):
    """A redemption holds the customer's row and spends from the lot when the job computes what
    is due: the reminder waits for it, then counts what the lot has left."""
    phone("+2348031234567").send("JOIN MAMA")
    with db.transaction() as session:
        session.execute(update(PointsTransaction).values(expires_at=datetime(2026, 11, 29, 18, tzinfo=timezone.utc)))
    reminding = threading.Thread(target=_remind, args=(app.extensions["runtime"], mama, MORNING))  # due() at once
    with db.transaction() as session:
        customer_id = session.scalars(select(Customer.id)).one()
        customer = lock_customers(session, mama.id, [customer_id])[customer_id]  # as a redemption does
        debit(session, customer, spent, transaction_type="redeemed", source="reward", description="Free Zobo drink", now=MORNING)
        session.flush()
        reminding.start()
        wait_for_a_lock_wait_or(db, reminding)
    reminding.join(10)
    with db.sessions() as session:
        bodies = session.scalars(select(Message.body).where(Message.triggered_by == "expiry_reminder")).all()
    assert [body.partition(". ")[0] for body in bodies] == reminded


def lock_waits(db) -> int:
    """How many transactions of the test's database wait for a lock another one holds (pg_locks
    would count those of every database on the server)."""
    with db.engine.connect() as connection:
        return connection.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"))


def wait_for_a_lock_wait_or(db, thread: threading.Thread) -> None:
    """Until some transaction waits for a lock another one holds, or `thread` has ended."""
    deadline = time.monotonic() + 10
    while thread.is_alive() and time.monotonic() < deadline:
        if lock_waits(db):
            return
        time.sleep(0.02)


@pytest.fixture
def workers(database_url):
    workers = Workers({**os.environ, "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, "PIN_PEPPER": PIN_PEPPER,
                       "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "PUBLIC_BASE_URL": PUBLIC_BASE_URL})
    yield workers
    workers.stop()


@pytest.mark.skipif(not REDIS_URL, reason="needs TEST_REDIS_URL: a real worker shares a real Redis")
def test_a_reminder_run_killed_with_sigkill_leaves_the_day_to_the_first_run_after_its_lease(app, phone, mama, db, workers):
    phone("+2348031234567").send("JOIN MAMA")
    with db.transaction() as session:
        session.execute(update(PointsTransaction).values(expires_at=datetime(2026, 11, 29, 18, tzinfo=timezone.utc)))
    with db.transaction() as session:
        customer_id = session.scalars(select(Customer.id)).one()
        lock_customers(session, mama.id, [customer_id])  # the worker's run waits for this row, then dies there
        app.extensions["runtime"].queue.enqueue("workers.scheduled.send_reminders", MORNING)
        worker = workers.start()
        wait_for(lambda: lock_waits(db) > 0)
        workers.kill(worker)
    with app.app_context():
        assert send_reminders(MORNING + timedelta(minutes=15)) == 0  # it might still be at work
        assert send_reminders(MORNING + timedelta(minutes=45)) == 1  # past its timeout, it is not
    with db.sessions() as session:
        assert session.scalar(select(func.count()).where(Message.triggered_by == "expiry_reminder")) == 1


def test_two_metrics_runs_at_once_keep_one_row_per_day(app, mama, db):
    twice_at_once(app, compute_metrics, MORNING)
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(DailyMetrics)) == 1
