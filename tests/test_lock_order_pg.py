"""Locks are taken in one global order (a staff row, then customer rows in id order), so that
messages never wait on each other in a circle (PostgreSQL only)."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from bot.services import points
from bot.services.spins import spin_mismatches
from models import Customer
from tests.conftest import Phone

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
    barrier = threading.Barrier(2)

    def confirm(staff: Phone) -> str:
        barrier.wait()
        return staff.send("1").text

    answers = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        for _ in range(15):
            assert "1. Confirm" in ada.send(f"LOG {BAYO} 1000").text
            assert "1. Confirm" in bayo.send(f"LOG {ADA} 1000").text
            answers += pool.map(confirm, [ada, bayo])
    assert [answer.split(" for ")[0] for answer in answers] == ["Logged ₦1,000"] * 30, answers
    with db.sessions() as session:
        assert session.scalars(select(Customer.total_purchases)).all() == [15, 15]
        assert points.ledger_mismatches(session) == [] and spin_mismatches(session) == []
