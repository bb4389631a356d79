"""The points-expiry job: what is left of every lot past its expiry is taken away through the
ledger. On PostgreSQL it works set-based, a chunk of customers per short transaction; SQLite (the
development database) goes customer by customer with the same rule (bot/services/points.py)."""
from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import select

from bot import runtime
from bot.db import Database
from bot.services.points import FIRST_KEY, expire_chunk, expire_lots
from models import Customer, PointsTransaction
from models.base import utcnow

# A chunk's transaction holds its customers' rows: sized to last about this long, far under the
# second that a customer's own message may wait.
CHUNK_SECONDS = 0.25
MAX_PASSES = 5  # customers busy in every pass wait for the next run


def expire_points() -> int:
    """Expire what is left of every lot past its expiry. Returns the points expired."""
    db = runtime.current().db
    if db.engine.dialect.name == "postgresql":
        return expire_set_based(db, utcnow())
    return expire_one_by_one(db, utcnow())


def expire_set_based(db: Database, now: datetime, limit: int = 1000, report=None) -> int:
    """Chunks of customers in key order, each expired in one transaction; the chunk size adapts
    so that each transaction takes about CHUNK_SECONDS. Customers whose rows are busy are skipped
    and taken by the next pass. `report(chunk, seconds)` hears of each chunk (benchmarks)."""
    total = 0
    for _ in range(MAX_PASSES):
        after, busy = FIRST_KEY, 0
        while True:
            started = time.perf_counter()
            with db.transaction() as session:
                chunk = expire_chunk(session, now, after, limit)
            if chunk.last is None:
                break
            total, busy, after = total + chunk.points, busy + chunk.busy, chunk.last
            took = max(time.perf_counter() - started, 0.001)
            if report:
                report(chunk, took)
            limit = max(100, min(50_000, int(limit * min(2.0, max(0.5, CHUNK_SECONDS / took)))))
        if not busy:
            break
    return total


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
                customer = session.get(Customer, (tenant_id, customer_id), with_for_update=True)
                total += expire_lots(session, customer, now)
