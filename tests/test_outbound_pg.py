"""The proof: real `rq worker` processes killed with SIGKILL at each point of a send, against a
local fake of Twilio's REST API. Every message reaches the fake exactly once and none stays
`sending`. PostgreSQL and Redis only (collected when TEST_DATABASE_URL is set)."""
from __future__ import annotations

import os
import subprocess
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.outbound import MARKETING, queue_message
from bot.services import delivery
from bot.services.tenants import load_tenant
from models import Customer, Tenant, Message
from models.base import utcnow
from tests.conftest import AUTH_TOKEN, PIN_PEPPER, PUBLIC_BASE_URL, REDIS_URL, ROOT, tenant_file
from tests.processes import kill_running, kill_tree
from tests.test_tenants_pg import wait_for_a_lock_wait
from workers.outbound import reconcile

pytestmark = pytest.mark.skipif(not REDIS_URL, reason="needs TEST_REDIS_URL: real workers share a real Redis")

ACCOUNT_SID = "AC" + "0" * 32
LEASE = 2  # seconds: short, so that reconcile may act soon after a worker dies
MESSAGES = 5


@pytest.fixture
def env(database_url, fake) -> dict:
    return {
        **os.environ, "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "PIN_PEPPER": PIN_PEPPER,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_API_BASE": fake.url, "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "OUTBOX_LEASE_SECONDS": str(LEASE),
    }


@pytest.fixture
def twilio_app(make_app, fake):
    return make_app(twilio_account_sid=ACCOUNT_SID, twilio_api_base=fake.url, outbox_lease_seconds=LEASE)


class Workers:
    """Real `rq worker` processes, started as the Procfile starts them. A kill takes, with
    SIGKILL, the worker and every process it started, as a crash would."""

    def __init__(self, env: dict):
        self.env = env
        self.processes: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        process = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "rq"), "worker", "--worker-class", "rq.worker.SimpleWorker", "--with-scheduler", "-c", "workers.rq_config", "--url", REDIS_URL, "default"],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen) -> None:
        kill_tree(process)

    def stop(self) -> None:
        kill_running(self.processes)



@pytest.fixture
def workers(env):
    workers = Workers(env)
    yield workers
    workers.stop()


def member(db) -> Customer:
    """A member who wrote a minute ago: inside WhatsApp's window."""
    with db.transaction() as session:
        tenant = load_tenant(session, tenant_file(messages_per_second=0)).tenant
        customer = Customer(tenant_id=tenant.id, phone_number="+2348031234567", member_code="K7Q4XM")
        session.add(customer)
        session.flush()
        session.add(Message(
            tenant_id=tenant.id, customer_id=customer.id, direction="inbound", channel="whatsapp", status="received",
            from_number=customer.phone_number, to_number=tenant.whatsapp_number, body="BAL", message_sid="SMin",
            created_at=utcnow() - timedelta(minutes=1),
        ))
    return customer


def queue_batch(app, customer, hand_over: bool = True) -> list:
    runtime = app.extensions["runtime"]
    outbox: list = []
    with runtime.db.transaction() as session:
        tenant = session.get(Tenant, customer.tenant_id)
        for i in range(MESSAGES):
            queue_message(session, outbox, tenant, customer, f"message {i}", triggered_by="test")
    if hand_over:
        runtime.deliver(outbox)  # one job for the batch
    return outbox


def statuses(db) -> dict:
    with db.sessions() as session:
        return dict(session.execute(
            select(Message.status, func.count()).where(Message.direction == "outbound")
            .group_by(Message.status)
        ).all())


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def kill_at_third_create(fake, workers, worker, **answer) -> threading.Event:
    """The third message of the batch: the worker dies there (and the fake answers as told)."""
    killed = threading.Event()
    fake.answer_next(2)  # the first two go through
    fake.answer_next(**answer)

    def on_create(form):
        if fake.creates == 3 and not killed.is_set():
            workers.kill(worker)
            killed.set()

    fake.on_create = on_create
    return killed


def recover(twilio_app, db, fake, workers) -> None:
    """A new worker, the lease runs out, reconcile settles: then everything is sent."""
    workers.start()
    time.sleep(LEASE + 0.5)
    with twilio_app.app_context():
        reconcile()
    wait_for(lambda: statuses(db) == {"sent": MESSAGES})
    assert fake.stats()["distinct"] == MESSAGES and fake.stats()["duplicates"] == 0
    with db.sessions() as session:
        recorded = dict(session.execute(
            select(Message.id, Message.message_sid).where(Message.direction == "outbound")).all())
    assert {str(i): sid for i, sid in recorded.items()} == {m["_ours"]: sid for sid, m in fake.messages.items()}


@pytest.mark.parametrize("point, answer", [
    ("after claiming, before Twilio got the message", {"drop": True}),
    ("after Twilio accepted, before the SID was stored", {"drop": True, "keep": True}),
])
def test_a_worker_killed_mid_batch_loses_and_doubles_nothing(twilio_app, db, fake, workers, point, answer):
    customer = member(db)
    killed = kill_at_third_create(fake, workers, workers.start(), **answer)
    queue_batch(twilio_app, customer)
    assert killed.wait(30), "the worker never reached the third message"
    time.sleep(0.5)
    assert statuses(db) == {"sending": MESSAGES}  # the claim was committed; nothing recorded since
    assert fake.stats()["accepted"] == (3 if answer.get("keep") else 2)  # the fourth never left
    recover(twilio_app, db, fake, workers)
    assert fake.stats()["accepted"] == MESSAGES


def test_a_claim_whose_worker_died_before_any_send_is_recovered(twilio_app, db, fake, workers):
    """The claim was committed and the worker died before any request left (its job is gone)."""
    keys = queue_batch(twilio_app, member(db), hand_over=False)
    with db.transaction() as session:  # what the dead worker's claim committed
        delivery.claim(session, keys, utcnow(), timedelta(seconds=LEASE))
    assert statuses(db) == {"sending": MESSAGES}
    recover(twilio_app, db, fake, workers)
    assert fake.stats()["creates"] == MESSAGES


def test_two_workers_claiming_one_customers_marketing_at_once_keep_to_the_weekly_cap(db):
    """The second claim waits for the first's hold on the customer, then counts its pushes
    (sending, not taken by Twilio yet): of three offers, two go (the cap)."""
    customer = member(db)
    with db.transaction() as session:
        tenant = session.get(Tenant, customer.tenant_id)
        *first, third = [queue_message(session, [], tenant, customer, f"offer {i}", triggered_by="test", category=MARKETING)
                         for i in range(3)]
    second_claim: list = []

    def claim_the_third():
        with db.transaction() as session:
            second_claim.append(delivery.claim(session, [third], utcnow(), timedelta(seconds=LEASE)))

    claiming = threading.Thread(target=claim_the_third)
    with db.transaction() as session:
        sends, _, _ = delivery.claim(session, first, utcnow(), timedelta(seconds=LEASE))
        claiming.start()
        wait_for_a_lock_wait(db)  # the second claim waits for the first's commit
    claiming.join(10)
    [(late_sends, late_skips, _)] = second_claim
    assert len(sends) == 2 and late_sends == [] and [skip.reason for skip in late_skips] == ["frequency_cap"]


def test_two_reconcilers_at_once_settle_each_claim_once(twilio_app, db, fake, workers):
    customer = member(db)
    killed = kill_at_third_create(fake, workers, workers.start(), drop=True, keep=True)
    queue_batch(twilio_app, customer)
    assert killed.wait(30)
    time.sleep(LEASE + 0.5)
    results = []

    def run():
        with twilio_app.app_context():
            results.append(reconcile())

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.get("found", 0) for r in results) == 3  # the two that went through and the one whose answer was lost
    assert sum(r.get("queued again", 0) for r in results) == 2
    workers.start()
    wait_for(lambda: statuses(db) == {"sent": MESSAGES})
    assert fake.stats()["duplicates"] == 0 and fake.stats()["accepted"] == MESSAGES
