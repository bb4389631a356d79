"""Set-based points expiry (PostgreSQL): the same ledger as the customer-by-customer rule, no
mismatch, and customers busy with a message are skipped, never waited for."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import select, text

from bot.services.points import expire_lots, ledger_mismatches
from models import Customer, CustomerPointsBalance, PointsLotAllocation, PointsTransaction
from models.base import new_id, utcnow
from workers.points import expire_one_by_one, expire_set_based

NOW = utcnow()
PAST, FUTURE = NOW - timedelta(days=1), NOW + timedelta(days=30)
# Each customer's lots: (points, spent, expires_at).
SHAPES = [
    [(50, 0, PAST)],
    [(50, 20, PAST), (30, 0, PAST), (40, 0, FUTURE)],  # one partly spent, two due, one not yet
    [(70, 70, PAST), (10, 0, None)],  # the due lot was spent entirely; one never expires
    [(25, 0, FUTURE)],
]


def make_customers(db, tenant, tag: str) -> list:
    """Customers with the SHAPES' lots, their spending recorded through allocations."""
    ids = []
    with db.transaction() as session:
        for n, lots in enumerate(SHAPES):
            customer = Customer(tenant_id=tenant.id, phone_number=f"+23480{tag}{n:05}", member_code=f"{tag}{n:04}")
            session.add(customer)
            session.flush()
            balance = sum(points - spent for points, spent, _ in lots)
            session.add(CustomerPointsBalance(tenant_id=tenant.id, customer_id=customer.id, current_balance=balance,
                                              total_earned=sum(p for p, _, _ in lots),
                                              total_redeemed=sum(s for _, s, _ in lots)))
            for points, spent, expires_at in lots:
                lot = PointsTransaction(id=new_id(), tenant_id=tenant.id, customer_id=customer.id, transaction_type="earned",
                                        source="test", points=points, remaining=points - spent, expires_at=expires_at,
                                        created_at=NOW - timedelta(days=60))
                session.add(lot)
                if spent:
                    debit = PointsTransaction(id=new_id(), tenant_id=tenant.id, customer_id=customer.id,
                                              transaction_type="redeemed", source="test", points=-spent,
                                              created_at=NOW - timedelta(days=30))
                    session.add(debit)
                    session.add(PointsLotAllocation(tenant_id=tenant.id, debit_id=debit.id, lot_id=lot.id, points=spent))
            ids.append(customer.id)
    return ids


def ledger_of(db, customer_id) -> tuple:
    """What expiry wrote for one customer, without ids or times."""
    with db.sessions() as session:
        expired = session.execute(
            select(PointsTransaction.id, PointsTransaction.points, PointsTransaction.source, PointsTransaction.description,
                   PointsTransaction.details)
            .where(PointsTransaction.customer_id == customer_id, PointsTransaction.transaction_type == "expired")
        ).all()
        taken = sorted(session.scalars(select(PointsLotAllocation.points).where(
            PointsLotAllocation.debit_id.in_([row.id for row in expired]))))
        lots = sorted(session.scalars(select(PointsTransaction.remaining).where(
            PointsTransaction.customer_id == customer_id, PointsTransaction.transaction_type == "earned")))
        balance = session.get(CustomerPointsBalance, (session.scalar(select(Customer.tenant_id).where(Customer.id == customer_id)), customer_id))
    return ([tuple(row[1:]) for row in expired], taken, lots, (balance.current_balance, balance.total_expired))


def test_set_based_expiry_books_what_the_per_customer_rule_books(db, mama):
    by_rule = make_customers(db, mama, "10")
    assert expire_one_by_one(db, NOW) == 50 + 30 + 30
    set_based = make_customers(db, mama, "20")
    assert expire_set_based(db, NOW, limit=2) == 50 + 30 + 30  # chunks of two customers
    assert [ledger_of(db, c) for c in set_based] == [ledger_of(db, c) for c in by_rule]
    assert ledger_of(db, set_based[1]) == (
        [(-60, "expiry", "Points expired", {"description": {"key": "ledger.expired", "params": {}}})], [], [0, 0, 40], (40, 60))
    assert ledger_mismatches_of(db) == []
    assert expire_set_based(db, NOW) == 0  # nothing left: running again books nothing


def ledger_mismatches_of(db):
    with db.sessions() as session:
        return ledger_mismatches(session)


@contextmanager
def a_message_holding(db, customer_id):
    """The customer's row held as the dispatcher holds it for one message, until the yielded
    `end()` is called or the block ends."""
    locked, release = threading.Event(), threading.Event()

    def hold_the_row():
        with db.transaction() as session:
            session.execute(text("SELECT 1 FROM customers WHERE id = :id FOR UPDATE"), {"id": customer_id})
            locked.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    locked.wait(5)

    def end():
        release.set()
        holder.join()

    try:
        yield end
    finally:
        end()


def test_a_customer_busy_with_a_message_is_skipped_not_waited_for(db, mama):
    busy, *others = make_customers(db, mama, "30")
    with a_message_holding(db, busy):
        started = time.monotonic()
        assert expire_set_based(db, NOW) == 30 + 30  # the others' due points; never waited on the busy one
        assert time.monotonic() - started < 2
    assert ledger_of(db, busy)[0] == []
    assert expire_set_based(db, NOW) == 50  # the next run takes it
    assert ledger_mismatches_of(db) == []


def test_a_customer_busy_during_the_pass_is_taken_again_by_the_same_run(db, mama):
    busy, *others = make_customers(db, mama, "40")
    skipped = []
    with a_message_holding(db, busy) as end_the_message:

        def message_ends_after_a_chunk_skipped_it(chunk, _took, _held):
            skipped.extend(chunk.busy)
            if chunk.busy:
                end_the_message()

        assert expire_set_based(db, NOW, limit=2, report=message_ends_after_a_chunk_skipped_it, streams=1) == 50 + 30 + 30
    assert skipped == [(str(mama.id), str(busy))]
    assert ledger_of(db, busy)[0] == [(-50, "expiry", "Points expired", {"description": {"key": "ledger.expired", "params": {}}})]
    assert ledger_mismatches_of(db) == []


def test_a_lot_a_message_expired_after_the_chunk_began_is_not_booked_twice(db, mama):
    (customer,) = make_customers(db, mama, "50")[:1]  # one due lot of 50 points
    with db.sessions() as session:
        lot = session.scalars(select(PointsTransaction.id).where(PointsTransaction.customer_id == customer)).one()
    lot_held, message_done = threading.Event(), threading.Event()

    def a_message_that_expires_the_lot_itself():
        with db.transaction() as session:
            session.execute(text("SELECT 1 FROM points_transactions WHERE id = :id FOR UPDATE"), {"id": lot})
            lot_held.set()
            wait_until_expiry_waits_for_the_lot(db)
            expire_lots(session, session.get(Customer, (mama.id, customer)), NOW)
        message_done.set()

    message = threading.Thread(target=a_message_that_expires_the_lot_itself)
    message.start()
    lot_held.wait(5)
    try:
        assert expire_set_based(db, NOW, streams=1) == 30 + 30  # the others' lots; the message took its own
    finally:
        message.join()
    assert message_done.is_set()
    assert ledger_of(db, customer)[0] == [(-50, "expiry", "Points expired", {"description": {"key": "ledger.expired", "params": {}}})]
    assert ledger_mismatches_of(db) == []


def wait_until_expiry_waits_for_the_lot(db) -> None:
    for _ in range(500):
        with db.engine.connect() as connection:
            if connection.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar():
                return
        time.sleep(0.01)
    raise AssertionError("expiry never waited for the lot")
