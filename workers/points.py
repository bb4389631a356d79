"""The points-expiry job: what is left of every lot past its expiry is taken away through the
ledger. On PostgreSQL it works set-based, a chunk of customers per short transaction; SQLite (the
development database) goes customer by customer with the same rule (bot/services/points.py)."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from sqlalchemy import select, text

from bot import runtime
from bot.db import ROW_LOCK, Database
from bot.services.points import FIRST_KEY, ExpiredChunk, customer_ranges, expire_again, expire_chunk, expire_lots
from models import Customer, PointsTransaction

# A chunk's transaction holds its customers' rows: sized to last about this long, far under the
# second that a customer's own message may wait.
CHUNK_SECONDS = 0.15
MAX_RETRIES = 4  # customers still busy after as many retries wait for the next run
STREAMS = 2  # chunks expired at once, on as many connections (this machine has two cores)


def expire_points() -> int:
    """Expire what is left of every lot past its expiry. Returns the points expired."""
    rt = runtime.current()
    if rt.db.engine.dialect.name == "postgresql":
        return expire_set_based(rt.db, rt.clock())
    return expire_one_by_one(rt.db, rt.clock())


def expire_set_based(db: Database, now: datetime, limit: int = 1000, report=None, streams: int = STREAMS) -> int:
    """`streams` connections at once, each over its own range of customers (so they never meet)
    in chunks in key order, each chunk expired in one transaction. `report(chunk, seconds, held)`
    hears of each chunk (benchmarks): its transaction's seconds, and how long of them it held
    the customer rows."""
    with ThreadPoolExecutor(streams) as pool:
        runs = [pool.submit(_expire_range, db, now, limit, report, customers) for customers in customer_ranges(streams)]
        return sum(run.result() for run in runs)


def _expire_range(db: Database, now: datetime, limit: int, report, customers: tuple) -> int:
    """The chunk size adapts so that each transaction takes about CHUNK_SECONDS. Customers whose
    rows are busy are skipped, then taken again by their keys after the pass."""
    total, after, busy = 0, FIRST_KEY, ()
    while True:
        started = time.perf_counter()
        chunk = _in_one_transaction(db, lambda session: expire_chunk(session, now, after, limit, customers))
        if chunk.last is None:
            break
        total, busy, after = total + chunk.points, busy + chunk.busy, chunk.last
        ended = time.perf_counter()
        took = max(ended - started, 0.001)
        if report:
            report(chunk, took, ended - chunk.locked_at)
        limit = max(50, min(5_000, int(limit * min(2.0, max(0.5, CHUNK_SECONDS / took)))))
    for _ in range(MAX_RETRIES):
        if not busy:
            break
        chunk = _in_one_transaction(db, lambda session: expire_again(session, now, busy))
        total, busy = total + chunk.points, chunk.busy
    return total


def _in_one_transaction(db: Database, expire) -> ExpiredChunk:
    with db.transaction() as session:
        # No wait for the commit's flush to disk: a commit lost in a crash is only expiry not
        # yet done, which the next run (idempotent) does again.
        session.execute(text("SET LOCAL synchronous_commit = off"))
        return expire(session)


def expire_one_by_one(db: Database, now: datetime, batch: int = 500) -> int:
    """One customer per short transaction (their row locked, as for any of their messages)."""
    total = 0
    while True:
        with db.sessions() as session:
            due = session.execute(
                select(PointsTransaction.tenant_id, PointsTransaction.customer_id)
                .where(PointsTransaction.remaining > 0, PointsTransaction.expires_at <= now)
                .distinct()
                .limit(batch)
            ).all()
        if not due:
            return total
        for tenant_id, customer_id in due:
            with db.transaction() as session:
                customer = session.get(Customer, (tenant_id, customer_id), with_for_update=ROW_LOCK)
                total += expire_lots(session, customer, now)
