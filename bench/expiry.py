"""Benchmark of points expiry: set-based (workers.points.expire_set_based, what `flask --app wsgi
ledger expire` runs on PostgreSQL) against today's customer-by-customer loop (expire_one_by_one),
side by side in one run on the same kind of data.

How: it drops and recreates the database `bench_expiry`, runs the migrations, loads
examples/tenant.json, and writes --customers members with --lots due lots each (1,000,000 due
lots by default) straight with SQL, then VACUUMs them (as autovacuum long since has, in
production, lots that are due) and takes a checkpoint (as an hourly run finds one behind it,
so it pays the full-page writes a real run pays). The set-based run expires them all while a
prober, standing in for inbound messages, locks random due customers' rows one at a time
(SELECT ... FOR NO KEY UPDATE, as the dispatcher does) and records how long each waited; every chunk's transaction is timed
too, and how long of it the chunk held its customers' rows (from the start of the one statement
that finds, locks and expires them, to the commit: the lock the target is about). Then `ledger
check` must be clean. The loop then expires --loop-customers fresh members
(too slow for the full set); the ratio compares lots expired per second.

Run from the project root (figures are noisy on a shared machine: run it twice, take the median):

    .venv/bin/python bench/expiry.py [--customers 200000] [--lots 5] [--loop-customers 4000]

Exits 1 when a target misses: set-based <= 10 s for 1,000,000 lots, >= 20x the loop, no chunk
holding its rows and no prober wait over 1 s, ledger check clean.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from pathlib import Path

import harness as bench  # bench/ is on sys.path when this file runs as a script
import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import migrate  # noqa: E402
from bot.config import normalise_database_url  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.services.points import ledger_mismatches  # noqa: E402
from bot.services.tenant_file import parse_tenant_file  # noqa: E402
from bot.services.tenants import load_tenant  # noqa: E402
from models.base import utcnow  # noqa: E402
from workers.points import expire_one_by_one, expire_set_based  # noqa: E402

PG_URL = "postgresql://postgres@127.0.0.1:5432"
DB_NAME = "bench_expiry"
MAX_SECONDS_PER_MILLION, MIN_RATIO, MAX_LOCK_SECONDS = 10.0, 20.0, 1.0


def recreate_database() -> Database:
    connection = psycopg2.connect(f"{PG_URL}/postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {DB_NAME}")
    connection.close()
    url = normalise_database_url(f"{PG_URL}/{DB_NAME}")
    migrate.upgrade(url)
    db = Database(url)
    with db.transaction() as session:
        load_tenant(session, parse_tenant_file(json.loads((ROOT / "examples" / "tenant.json").read_text())))
    return db


def add_members(db: Database, first: int, customers: int, lots: int) -> None:
    """`customers` members numbered from `first`, each with `lots` due lots of 10 points."""
    params = {"first": first, "last": first + customers - 1, "lots": lots}
    statements = [
        """INSERT INTO customers (tenant_id, id, phone_number, source, language, opted_in, conversation_state,
               total_purchases, total_spent, spin_credits, created_at, updated_at)
           SELECT t.id, gen_random_uuid(), '+23490' || lpad(n::text, 8, '0'), 'bench', 'en', true, '{}', 0, 0, 0, now(), now()
           FROM tenants t, generate_series(%(first)s, %(last)s) n""",
        """INSERT INTO customer_points_balance (tenant_id, customer_id, current_balance, total_earned, total_redeemed,
               total_expired, updated_at)
           SELECT tenant_id, id, 10 * %(lots)s, 10 * %(lots)s, 0, 0, now() FROM customers
           WHERE phone_number BETWEEN '+23490' || lpad(%(first)s::text, 8, '0') AND '+23490' || lpad(%(last)s::text, 8, '0')""",
        """INSERT INTO points_transactions (tenant_id, id, customer_id, transaction_type, source, points, remaining,
               expires_at, description, details, created_at)
           SELECT c.tenant_id, gen_random_uuid(), c.id, 'earned', 'bench', 10, 10, now() - interval '1 day' * lot,
               'bench', '{}', now() - interval '200 days'
           FROM customers c, generate_series(1, %(lots)s) lot
           WHERE phone_number BETWEEN '+23490' || lpad(%(first)s::text, 8, '0') AND '+23490' || lpad(%(last)s::text, 8, '0')""",
    ]
    connection = db.engine.raw_connection()
    try:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement, params)
        connection.commit()
        # Due lots are months old: autovacuum has long since been over them. VACUUM them as it
        # would have (so the run does not pay for setting every new row's hint bits, which no real
        # run does), and start from a checkpoint, as an hourly run does.
        autocommit, connection.driver_connection.autocommit = connection.driver_connection.autocommit, True
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE) customers, customer_points_balance, points_transactions")
            cursor.execute("CHECKPOINT")
        connection.driver_connection.autocommit = autocommit  # as the pool's connections run (bot/db.py)
    finally:
        connection.close()


class Prober:
    """Stands in for inbound messages: locks random customers' rows, one short transaction each."""

    def __init__(self, db: Database, customer_keys: list):
        self.db, self.keys = db, customer_keys
        self.waits: list[float] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        connection = self.db.engine.raw_connection()
        with connection.cursor() as cursor:
            while not self.stop.is_set():
                started = time.perf_counter()
                # By the primary key: the dispatcher too finds the row it locks through an index. (By
                # id alone, which no index leads with, each lock scanned the whole table, and the
                # prober took a core from the run it watches.)
                cursor.execute("SELECT 1 FROM customers WHERE tenant_id = %s AND id = %s FOR NO KEY UPDATE", random.choice(self.keys))
                connection.commit()
                self.waits.append(time.perf_counter() - started)
                time.sleep(0.005)
        connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--lots", type=int, default=5)
    parser.add_argument("--loop-customers", type=int, default=4_000)
    args = parser.parse_args()
    due = args.customers * args.lots
    print(f"preparing {args.customers:,} members with {args.lots} due lots each ({due:,} lots)...", flush=True)
    db = recreate_database()
    add_members(db, 0, args.customers, args.lots)
    with db.engine.connect() as connection:
        keys = [tuple(row) for row in connection.exec_driver_sql("SELECT tenant_id, id FROM customers ORDER BY random() LIMIT 5000")]

    chunks: list[float] = []  # each chunk's transaction
    holds: list[float] = []  # how long each held its customers' rows: the lock the target is about
    prober = Prober(db, keys)
    prober.thread.start()
    started = time.perf_counter()
    expired = expire_set_based(db, utcnow(), report=lambda chunk, seconds, held: (chunks.append(seconds), holds.append(held)))
    set_seconds = time.perf_counter() - started
    prober.stop.set()
    prober.thread.join()
    started = time.perf_counter()
    with db.sessions() as session:
        mismatches = len(ledger_mismatches(session))
    check_seconds = time.perf_counter() - started

    add_members(db, 10_000_000, args.loop_customers, args.lots)
    started = time.perf_counter()
    loop_expired = expire_one_by_one(db, utcnow())
    loop_seconds = time.perf_counter() - started
    db.dispose()

    set_rate, loop_rate = due / set_seconds, args.loop_customers * args.lots / loop_seconds
    per_million = set_seconds * 1_000_000 / due
    print(f"\n{'method':<22}{'lots':>12}{'seconds':>10}{'lots/s':>12}{'longest chunk s':>17}{'longest hold s':>16}")
    print(f"{'set-based':<22}{due:>12,}{set_seconds:>10.2f}{set_rate:>12,.0f}{max(chunks, default=0):>17.3f}"
          f"{max(holds, default=0):>16.3f}")
    print(f"{'customer by customer':<22}{args.loop_customers * args.lots:>12,}{loop_seconds:>10.2f}{loop_rate:>12,.0f}{'-':>17}{'-':>16}")
    print(f"\nratio {set_rate / loop_rate:.1f}x; {len(chunks)} chunks; prober: {len(prober.waits)} locks, "
          f"longest wait {max(prober.waits, default=0):.3f} s; ledger check {check_seconds:.2f} s, {mismatches} mismatch(es)")
    checks = [
        (expired == due * 10, f"set-based expired every due point ({expired:,} of {due * 10:,})"),
        (loop_expired == args.loop_customers * args.lots * 10, "the loop expired every due point"),
        (per_million <= MAX_SECONDS_PER_MILLION, f"{per_million:.1f} s per million lots (<= {MAX_SECONDS_PER_MILLION:.0f})"),
        (set_rate / loop_rate >= MIN_RATIO, f"{set_rate / loop_rate:.1f}x the loop (>= {MIN_RATIO:.0f}x)"),
        (max(holds, default=0) <= MAX_LOCK_SECONDS, f"no chunk held its rows over {MAX_LOCK_SECONDS:.0f} s"),
        (max(prober.waits, default=0) <= MAX_LOCK_SECONDS, f"no customer waited over {MAX_LOCK_SECONDS:.0f} s"),
        (mismatches == 0, "ledger check clean"),
    ]
    return bench.report_checks(checks)


if __name__ == "__main__":
    sys.exit(main())
