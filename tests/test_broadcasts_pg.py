"""The proof that a customer gets a broadcast at most once: launches fired at the same time (the
command and the scheduled job), feeders racing, and real `rq worker` processes killed with
SIGKILL in the middle of a broadcast, against a local fake of Twilio's REST API. PostgreSQL and
Redis only (collected when TEST_DATABASE_URL is set)."""
from __future__ import annotations

import os
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from bot.services import broadcasts
from bot.services.broadcast_file import parse
from bot.services.customers import enroll
from bot.services.tenants import load_tenant
from models import AuditLog, Broadcast, BroadcastRecipient, Tenant, Message
from models.base import utcnow
from tests.conftest import AUTH_TOKEN, PIN_PEPPER, PUBLIC_BASE_URL, REDIS_URL, tenant_file
from tests.test_outbound_pg import Workers, wait_for
from tests.processes import kill_running
from tests.test_broadcasts import broadcasts_at
from workers.broadcasts import advance_broadcasts
from workers.outbound import reconcile

pytestmark = pytest.mark.skipif(not REDIS_URL, reason="needs TEST_REDIS_URL: real workers share a real Redis")

ACCOUNT_SID = "AC" + "0" * 32
LEASE = 2  # seconds: claims and the runner's lease run out soon after a worker dies


@pytest.fixture
def twilio_app(make_app, fake):
    return make_app(twilio_account_sid=ACCOUNT_SID, twilio_api_base=fake.url, outbox_lease_seconds=LEASE)


@pytest.fixture
def workers(database_url, fake):
    workers = Workers({
        **os.environ, "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "PIN_PEPPER": PIN_PEPPER,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_API_BASE": fake.url, "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "OUTBOX_LEASE_SECONDS": str(LEASE),
    })
    yield workers
    workers.stop()


def vendor_with_members(db, count: int) -> Tenant:
    """Unpaced, with members who wrote a minute ago (inside WhatsApp's window)."""
    now = utcnow()
    with db.transaction() as session:
        tenant = load_tenant(session, tenant_file(messages_per_second=0)).tenant
        for i in range(count):
            customer = enroll(session, tenant, f"+23480310{i:05d}", now, profile_name=f"Member {i}", consent=True).customer
            customer.last_inbound_at = now - timedelta(minutes=1)
            session.add(Message(
                tenant_id=tenant.id, customer_id=customer.id, direction="inbound", channel="whatsapp", status="received",
                from_number=customer.phone_number, to_number=tenant.whatsapp_number, body="HI",
                created_at=now - timedelta(minutes=1)))
    return tenant


def create(db, tenant, **changes) -> Broadcast:
    raw = {"tenant": "MAMA", "name": "Friday", "text": "Hi {first_name}, double points on Friday!", **changes}
    with db.transaction() as session:
        tenant = session.get(Tenant, tenant.id)
        return broadcasts_at(session, tenant).create(parse(session, raw, tenant, utcnow()))


def arrivals_by_phone(fake) -> Counter:
    return Counter(message["to"] for message in fake.messages.values())


def status_of(db, broadcast) -> str:
    with db.sessions() as session:
        return session.get(Broadcast, (broadcast.tenant_id, broadcast.id), populate_existing=True).status


def stats(db, broadcast) -> dict:
    with db.sessions() as session:
        return broadcasts_at(session, session.get(Tenant, broadcast.tenant_id)).stats(broadcast.id).as_json()


def stuck_rows(db) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).where(Message.status == "sending"))


def assert_each_member_got_it_once(db, fake, broadcast, members: int) -> None:
    arrivals = arrivals_by_phone(fake)
    assert len(arrivals) == members and set(arrivals.values()) == {1}
    assert fake.stats()["duplicates"] == 0 and stuck_rows(db) == 0
    result = stats(db, broadcast)
    assert (result["status"], result["targeted"], result["sent"]) == ("completed", members, members)
    assert result["targeted"] == result["sent"] + result["failed"] + result["skipped"] + result["queued"]


def test_launches_and_the_scheduled_job_racing_start_it_once(twilio_app, db, fake, workers):
    members = 40
    tenant = vendor_with_members(db, members)
    broadcast = create(db, tenant, send_at=f"{(utcnow() + timedelta(hours=3)):%Y-%m-%dT%H:%M}")
    with db.transaction() as session:
        broadcasts_at(session, session.get(Tenant, tenant.id)).move(broadcast.id, "launch")
        session.execute(update(Broadcast).values(send_at=utcnow() - timedelta(seconds=1)))  # its time has come
    for _ in range(2):
        workers.start()
    gate = threading.Barrier(6)
    errors: list = []

    def launch_command():
        with twilio_app.app_context():
            gate.wait()
            with db.transaction() as session:
                moved = broadcasts_at(session, session.get(Tenant, tenant.id)).move(broadcast.id, "launch")
            twilio_app.extensions["runtime"].start_runners([moved])

    def scheduled_job():
        with twilio_app.app_context():
            gate.wait()
            advance_broadcasts()

    def guarded(target):
        try:
            target()
        except Exception as error:  # noqa: BLE001 - the test reports it
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(target,))
               for target in [launch_command] * 4 + [scheduled_job] * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    wait_for(lambda: status_of(db, broadcast) == "completed", timeout=60)
    with db.sessions() as session:
        starts = session.scalar(select(func.count()).where(AuditLog.action == "broadcast.sending"))
        frozen = session.scalar(select(func.count()).select_from(BroadcastRecipient))
    assert (starts, frozen) == (1, members)
    assert_each_member_got_it_once(db, fake, broadcast, members)


def test_feeders_racing_make_one_push_per_recipient(app, db):
    """Below the runner's lease, the recipient rows themselves: feeders running at once, each
    taking chunks until none is left, never make two pushes for one recipient."""
    members = 300
    tenant = vendor_with_members(db, members)
    broadcast = create(db, tenant)
    with db.transaction() as session:
        broadcasts_at(session, session.get(Tenant, tenant.id)).move(broadcast.id, "launch")
    gate = threading.Barrier(6)
    fed: list[int] = []

    def feeder():
        gate.wait()
        total = 0
        while True:
            with db.transaction() as session:
                done = broadcasts._feed(session, session.get(Tenant, tenant.id),
                                        session.get(Broadcast, (tenant.id, broadcast.id)), utcnow(), 25, [])
            if not done:
                break
            total += done
        fed.append(total)

    threads = [threading.Thread(target=feeder) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with db.sessions() as session:
        per_customer = Counter(session.scalars(select(Message.customer_id).where(Message.broadcast_id == broadcast.id)))
        unlinked = session.scalar(select(func.count()).where(BroadcastRecipient.message_id.is_(None)))
    assert sum(fed) == members and len([n for n in fed if n]) > 1  # they did share the work
    assert len(per_customer) == members and set(per_customer.values()) == {1} and unlinked == 0


def kill_all_at(fake, workers, create_number: int, **answer) -> threading.Event:
    """At the fake's n-th create, every worker dies (the runner's and the senders'), and the
    fake answers as told."""
    killed = threading.Event()
    fake.answer_next(create_number - 1)
    fake.answer_next(**answer)

    def on_create(form):
        if fake.creates == create_number and not killed.is_set():
            kill_running(list(workers.processes))
            killed.set()

    fake.on_create = on_create
    return killed


@pytest.mark.parametrize("point, answer", [
    ("after a claim, before Twilio got the message", {"drop": True}),
    ("after Twilio accepted, before the SID was stored", {"drop": True, "keep": True}),
])
def test_workers_killed_mid_broadcast_lose_and_double_nothing(twilio_app, db, fake, workers, point, answer):
    members = 60
    tenant = vendor_with_members(db, members)
    broadcast = create(db, tenant)
    for _ in range(3):
        workers.start()
    killed = kill_all_at(fake, workers, 25, **answer)
    with db.transaction() as session:
        moved = broadcasts_at(session, session.get(Tenant, tenant.id)).move(broadcast.id, "launch")
    with twilio_app.app_context():
        twilio_app.extensions["runtime"].start_runners([moved])
    assert killed.wait(60), "no worker reached the 25th send"
    assert status_of(db, broadcast) == "sending" and stuck_rows(db) > 0
    for _ in range(2):
        workers.start()

    def settled() -> bool:  # the scheduled jobs, as `rq cron` runs them every minute (here every second)
        with twilio_app.app_context():
            reconcile()
            advance_broadcasts()
        return status_of(db, broadcast) == "completed"

    time.sleep(LEASE + 0.5)
    wait_for(lambda: settled() or time.sleep(1), timeout=90)
    assert_each_member_got_it_once(db, fake, broadcast, members)
