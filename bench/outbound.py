"""Benchmark of the delivery engine: queued pushes sent by real `rq worker` processes to a local
fake of Twilio's REST API (tests/fake_twilio.py), pacing off.

What it measures, side by side in one run:
  1. reference: the twilio client posting straight to the fake from --workers processes, no
     database and no queue: the ceiling of this machine for these sends. Twice: through twilio's
     own HTTP client (requests), and through the transport the engine's sender gives the same
     twilio client (bot.senders.Transport, urllib3), so that "vs same client" compares like
     with like (same client, same fake, same number of processes) and "vs twilio default" shows
     what the engine gains over the bare library. Each reference's clock starts when all its
     senders have loaded (the engine's workers load before theirs);
  2. engine: --pushes queued pushes (rows in whatsapp_messages, handed to RQ in batches of 500)
     sent by --workers RQ workers: sends/s, and the peak memory of a worker;
  3. crash: the same again while one worker is killed with SIGKILL a
     third of the way through and a new one started; the reconcile job is queued every few
     seconds, as the scheduler (`rq cron`) queues it every minute.
Each engine run checks that the fake received exactly --pushes messages, none twice (the fake
counts our message ids from the StatusCallback URLs), and that no row is left `sending`.

How: it drops and recreates the database `bench_outbound`, loads examples/tenant.json with
messages_per_second 0 (no pacing), writes the members (each wrote once, so WhatsApp's window is
open) and their pushes with SQL, uses Redis db 5 (flushed) and ports 5500-5599.

Run from the project root (figures are noisy on a shared machine: run it twice, take the median):

    .venv/bin/python bench/outbound.py [--pushes 100000] [--workers 4] [--members 10000]

Exits 1 when a check fails; the target is 1,000 sends/s or more (reported, with the ratio to the
reference).
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg2

import harness as bench  # bench/ is on sys.path when this file runs as a script

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import Config  # noqa: E402
from bot.runtime import Runtime, build  # noqa: E402
from fake_twilio_runs import ACCOUNT_SID, Processes  # noqa: E402
from tests.processes import descendants  # noqa: E402

bench.DB_NAME = "bench_outbound"  # read by bench.recreate_database and bench.sql
REDIS_URL = "redis://127.0.0.1:6379/5"
FAKE_PORT = 5580
AUTH_TOKEN = "bench-outbound-auth-token"
LEASE = 10  # seconds: a killed worker's claims are settled soon after
TARGET = 1000.0  # sends/s
RECONCILE_JOB = "workers.outbound.reconcile"
WORKER = bench.rq_worker(REDIS_URL)


def env() -> dict:
    return {
        **os.environ, "DATABASE_URL": bench.db_url(), "REDIS_URL": REDIS_URL, "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "PIN_PEPPER": "pepper-for-the-workers",
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_API_BASE": f"http://127.0.0.1:{FAKE_PORT}",
        "PUBLIC_BASE_URL": "https://bench.example.test", "OUTBOX_LEASE_SECONDS": str(LEASE),
    }


def recreate_database(members: int) -> None:
    vendor = json.loads((ROOT / "examples" / "tenant.json").read_text())
    bench.recreate_database({**vendor, "messages_per_second": 0})
    bench.sql("""INSERT INTO customers (tenant_id, id, phone_number, source, language, opted_in, conversation_state,
               total_purchases, total_spent, spin_credits, created_at, updated_at)
           SELECT t.id, gen_random_uuid(), '+23491' || lpad(n::text, 8, '0'), 'bench', 'en', true, '{}', 0, 0, 0, now(), now()
           FROM tenants t, generate_series(1, %(members)s) n""", {"members": members})
    bench.sql("""INSERT INTO whatsapp_messages (tenant_id, id, customer_id, direction, channel, from_number, to_number, body,
               media, message_sid, status, created_at)
           SELECT c.tenant_id, gen_random_uuid(), c.id, 'inbound', 'whatsapp', c.phone_number, t.whatsapp_number, 'BAL',
               '[]', 'SMin' || c.id, 'received', now()
           FROM customers c JOIN tenants t ON t.id = c.tenant_id""")


def queue_pushes(pushes: int, members: int, tag: str) -> Runtime:
    """Write the pushes as queued rows, then hand them to RQ as the app does after a commit (the
    runtime that did, to enqueue more jobs)."""
    per_member = -(-pushes // members)
    bench.sql("""INSERT INTO whatsapp_messages (tenant_id, id, customer_id, direction, channel, from_number, to_number, body,
               media, status, triggered_by, category, attempts, created_at, enqueued_at)
           SELECT tenant_id, gen_random_uuid(), id, 'outbound', 'whatsapp', whatsapp_number, phone_number,
               %(tag)s || ' push ' || n || ' to ' || phone_number, '[]', 'queued', 'bench', 'transactional', 0, now(), now()
           FROM (SELECT c.tenant_id, c.id, t.whatsapp_number, c.phone_number, n
                 FROM customers c JOIN tenants t ON t.id = c.tenant_id, generate_series(1, %(per)s) n
                 ORDER BY n, c.id LIMIT %(pushes)s) due""", {"tag": tag, "per": per_member, "pushes": pushes})
    keys = bench.sql("SELECT tenant_id, id FROM whatsapp_messages WHERE status = 'queued' AND body LIKE %(tag)s ORDER BY created_at, id",
               {"tag": f"{tag} %"})
    runtime = build(Config.from_env(env()))
    runtime.deliver(keys)
    return runtime


def statuses() -> dict:
    return dict(bench.sql("SELECT status, count(*) FROM whatsapp_messages WHERE direction = 'outbound' GROUP BY status"))


def unfinished(connection) -> int:
    """Rows still queued or sending, read through the outbox's index on one open connection: the
    poll every quarter second takes next to no CPU from the run it watches."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM whatsapp_messages WHERE status IN ('queued', 'sending')")
        return cursor.fetchone()[0]


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_engine(args, processes: Processes, tag: str, crash: bool) -> dict:
    """One run: fresh fake, workers started, pushes queued, until every row is sent."""
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    fake = processes.start_fake()
    workers = [processes.start(*WORKER)
               for _ in range(args.workers)]
    time.sleep(2)  # the workers are listening
    runtime = queue_pushes(args.pushes, args.members, tag)
    watch = psycopg2.connect(bench.db_url())
    watch.autocommit = True
    started, peak, killed_at, last_reconcile = time.perf_counter(), 0.0, None, 0.0
    deadline = started + args.timeout
    for poll in itertools.count():
        left = unfinished(watch)
        done = args.pushes - left
        if poll % 4 == 0:  # once a second: a walk of /proc per worker takes ~5 ms of the CPU the run needs
            peak = max([peak] + [rss_mb(w.pid) + sum(rss_mb(c) for c in descendants(w.pid)) for w in workers if w.poll() is None])
        if crash and killed_at is None and done >= args.pushes // 3:
            victim = workers.pop(0)
            processes.kill(victim)
            killed_at = time.perf_counter() - started
            workers.append(processes.start(*WORKER))
        if killed_at is not None and time.perf_counter() - last_reconcile > LEASE / 2:
            runtime.enqueue(RECONCILE_JOB)  # as `rq cron` does (workers/schedule.py), more often
            last_reconcile = time.perf_counter()
        if not left:
            break
        if time.perf_counter() > deadline:
            break
        time.sleep(0.25)
    seconds = time.perf_counter() - started
    watch.close()
    stats = processes.fake_stats()
    ours = {str(row[0]) for row in bench.sql("SELECT id FROM whatsapp_messages WHERE body LIKE %(tag)s", {"tag": f"{tag} %"})}
    stats["exactly ours"] = set(processes.fake_stats("arrivals")) == ours
    for process in [*workers, fake]:
        processes.kill(process)
    return {"seconds": seconds, "rate": args.pushes / seconds, "peak_mb": peak, "fake": stats, "statuses": statuses(),
            "killed_at": killed_at}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pushes", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--reference", type=int, default=20_000, help="sends in the reference run")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds an engine run may take")
    parser.add_argument("--log", type=argparse.FileType("w"), default=subprocess.DEVNULL, help="file for the workers' logs")
    args = parser.parse_args()
    processes = Processes(env(), FAKE_PORT, args.log)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        print(f"preparing {args.members:,} members...", flush=True)
        recreate_database(args.members)
        print("reference: the twilio client straight to the fake...", flush=True)
        reference = processes.run_reference(args.reference, args.workers)
        same_client = processes.run_reference(args.reference, args.workers, transport="engine")
        print(f"engine: {args.pushes:,} pushes, {args.workers} workers...", flush=True)
        clean = run_engine(args, processes, "clean", crash=False)
        print("engine with a worker killed mid-run...", flush=True)
        crash = run_engine(args, processes, "crash", crash=True)
    finally:
        processes.stop_all()
    print(f"\n{'run':<38}{'sends/s':>9}{'seconds':>9}{'vs twilio default':>19}{'vs same client':>16}{'peak MB/worker':>16}")
    print(f"{'reference: twilio default client':<38}{reference:>9,.0f}{'':>9}{'1.00':>19}{'':>16}{'':>16}")
    print(f"{'reference: twilio, engine transport':<38}{same_client:>9,.0f}{'':>9}{same_client / reference:>19.2f}{'1.00':>16}{'':>16}")
    for name, run in (("engine", clean), ("engine, one worker SIGKILLed", crash)):
        print(f"{name:<38}{run['rate']:>9,.0f}{run['seconds']:>9.1f}{run['rate'] / reference:>19.2f}"
              f"{run['rate'] / same_client:>16.2f}{run['peak_mb']:>16.0f}")
    print(f"\n{args.workers} workers; the kill came at {crash['killed_at'] or 0:.1f} s; final rows: {crash['statuses']}")
    checks = []
    for name, run in (("engine", clean), ("crash", crash)):
        fake = run["fake"]
        checks += [
            (fake["accepted"] == args.pushes and fake["distinct"] == args.pushes and fake["exactly ours"],
             f"{name}: the fake received exactly the {args.pushes:,} pushes ({fake['accepted']:,}, {fake['distinct']:,} distinct)"),
            (fake["duplicates"] == 0, f"{name}: no duplicates ({fake['duplicates']})"),
            (not run["statuses"].get("sending") and not run["statuses"].get("queued"), f"{name}: none stuck"),
        ]
    checks.append((clean["rate"] >= TARGET, f"engine {clean['rate']:,.0f} sends/s (target {TARGET:,.0f})"))
    return bench.report_checks(checks)


if __name__ == "__main__":
    sys.exit(main())
