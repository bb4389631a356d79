"""Locks are taken in one global order (a staff row, then customer rows in id order), so that
messages never wait on each other in a circle (PostgreSQL only)."""
from __future__ import annotations

import threading
from datetime import timedelta
from functools import partial

from sqlalchemy import select

from bot.db import ROW_LOCK
from bot.outbound import queue_message
from bot.services import delivery, points
from bot.services.spins import spin_mismatches
from models import Customer, Tenant
from models.base import utcnow
from tests.conftest import Phone, at_once
from tests.test_tenants_pg import wait_for_a_lock_wait

ADA, ADA_PIN = "+2348030000001", "482916"
BAYO, BAYO_PIN = "+2348030000002", "731205"


def test_staff_who_are_customers_logging_for_each_other_at_once_never_deadlock(app, mama, db):
    """Each staff member is also a customer, Ada joined by Bayo's link (so a purchase for her
    also locks Bayo, her referrer), and they confirm purchases for each other at the same moment:
    30 confirmations, none may get the catch-all error (2 in 30 did)."""
    ada, bayo = Phone(app, ADA), Phone(app, BAYO)
    bayo.send("JOIN MAMA")
    with db.sessions() as session:
        code = session.scalars(select(Customer.member_code).where(Customer.phone_number == BAYO)).one()
    ada.send(f"JOIN MAMA R-{code}")
    for staff, pin in ((ada, ADA_PIN), (bayo, BAYO_PIN)):
        staff.send("LOG")
        assert "Customer's phone" in staff.send(pin).text
        staff.send("CANCEL")
    answers = []
    for _ in range(15):
        assert "1. Confirm" in ada.send(f"LOG {BAYO} 1000").text
        assert "1. Confirm" in bayo.send(f"LOG {ADA} 1000").text
        answers += [sent.text for sent in at_once([partial(ada.send, "1"), partial(bayo.send, "1")])]
    assert [answer.split(" for ")[0] for answer in answers] == ["Logged ₦1,000"] * 30, answers
    with db.sessions() as session:
        assert session.scalars(select(Customer.total_purchases)).all() == [15, 15]
        assert points.ledger_mismatches(session) == [] and spin_mismatches(session) == []


def test_a_worker_recording_answers_takes_their_customers_in_id_order(app, mama, db):
    """Twilio says two numbers cannot get messages, the later customer's answer first, while a
    claim holds the earlier customer's row and is about to take the later's (a claim takes its
    marketing's customers in id order): the record waits for the earlier holding nothing of the
    later, so the claim goes on (they waited for each other, and PostgreSQL aborted one)."""
    for number in ("+2348031230001", "+2348031230002"):
        Phone(app, number).send("JOIN MAMA")
    lease = timedelta(seconds=60)
    with db.transaction() as session:
        tenant = session.get(Tenant, mama.id)
        earlier, later = session.scalars(select(Customer).order_by(Customer.id)).all()
        keys = [queue_message(session, [], tenant, customer, "hello", triggered_by="test") for customer in (later, earlier)]
    with db.transaction() as session:
        sends = {send.key: send for send in delivery.claim(session, keys, utcnow(), lease)[0]}
    answers = [(sends[key], delivery.Answer(code="21211", text="invalid 'To' number")) for key in keys]  # the later's first
    recorded: list = []

    def record():
        with db.transaction() as session:
            recorded.append(delivery.record(session, answers, utcnow(), lease))

    def lock(customer: Customer, **options):
        return select(Customer.id).where(Customer.id == customer.id).with_for_update(**ROW_LOCK, **options)

    recording = threading.Thread(target=record)
    with db.transaction() as session:  # the claim
        session.execute(lock(earlier))
        recording.start()
        wait_for_a_lock_wait(db)  # the record waits for the earlier customer...
        session.execute(lock(later, nowait=True))  # ...and holds nothing of the later
    recording.join(10)
    assert recorded == [{"unreachable": 2}]
    with db.sessions() as session:
        assert session.scalars(select(Customer.unreachable_code)).all() == ["21211", "21211"]
