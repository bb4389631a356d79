"""Benchmark of broadcasts over a vendor with --members members (100,000 by default).

What it measures, each beside a floor on the same database in the same run (medians of --runs):
  1. preview: `BroadcastService.preview` (the segment, the four suppressions, three rendered samples),
     beside raw SQL counting the same segment (one pass over the members with their balances);
  2. launch: `BroadcastService.launch` and its commit, the audience frozen into broadcast_recipients
     (target 3 s or less), beside raw SQL inserting as many rows into a table of the same shape;
     and, once it is sent, `BroadcastService.stats` (no floor: for the record);
  3. end to end: from handing the launched broadcast to a runner until it is completed, every
     push sent by --workers real `rq worker` processes (one of them runs the runner) to a local
     fake of Twilio's REST API (tests/fake_twilio.py), pacing off: sends/s, beside the twilio
     client posting straight to the fake from --workers processes (no database, no queue).
The exactly-once check: the fake received exactly one message per recipient, none twice (it
counts our message ids from the StatusCallback URLs), the database holds one push per recipient
(so no customer got two), and no row is left queued or sending; the stats add up.

How: it drops and recreates the database `bench_broadcast`, loads examples/tenant.json (pacing
off, two tiers), writes the members with SQL (balances spread over 0-999 points, one in a
hundred opted out, each wrote an hour ago so WhatsApp's window is open), uses Redis db 10
(flushed) and port 6090 for the fake.

Run from the project root (the machine is shared: figures are noisy, hence medians and ratios):

    .venv/bin/python bench/broadcast.py [--members 100000] [--workers 4] [--runs 3]

Exits 1 when a check fails or the launch takes more than 3 s.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import time
from pathlib import Path

import harness as bench  # bench/ is on sys.path when this file runs as a script
import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import Config  # noqa: E402
from bot.runtime import build  # noqa: E402
from bot.services.broadcast_file import parse  # noqa: E402
from bot.services.broadcasts import BroadcastService  # noqa: E402
from bot.services.context import Context  # noqa: E402
from fake_twilio_runs import ACCOUNT_SID, Processes  # noqa: E402
from models import Tenant  # noqa: E402
from models.base import utcnow  # noqa: E402

bench.DB_NAME = "bench_broadcast"  # read by bench.recreate_database and bench.sql
REDIS_URL = "redis://127.0.0.1:6379/10"
FAKE_PORT = 6090
LAUNCH_TARGET = 3.0  # seconds
SEGMENT = {"min_points": 100}
TEXT = "Hi {first_name}! Double points at {vendor} this Friday: you have {points}, {points_to_nearest_reward} more for {nearest_reward}."


def env() -> dict:
    return {
        **os.environ, "DATABASE_URL": bench.db_url(), "REDIS_URL": REDIS_URL, "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "PIN_PEPPER": "pepper-for-the-workers",
        "TWILIO_AUTH_TOKEN": "bench-broadcast-auth-token", "TWILIO_API_BASE": f"http://127.0.0.1:{FAKE_PORT}",
        "PUBLIC_BASE_URL": "https://bench.example.test",
    }


def recreate_database(members: int) -> None:
    vendor = json.loads((ROOT / "examples" / "tenant.json").read_text())
    tiers = [{"name": "Silver", "min_points": 0}, {"name": "Gold", "min_points": 500}]
    bench.recreate_database({**vendor, "messages_per_second": 0, "tiers": tiers})
    bench.sql("""INSERT INTO customers (tenant_id, id, phone_number, whatsapp_name, member_code, source, language, opted_in,
               conversation_state, total_purchases, total_spent, spin_credits, tier, created_at, updated_at, last_inbound_at)
           SELECT t.id, gen_random_uuid(), '+23491' || lpad(n::text, 8, '0'), 'Member ' || n, 'M' || n, 'bench', 'en',
               n %% 100 <> 0, '{}', 0, 0, 0, CASE WHEN n %% 3 = 0 THEN 'Gold' ELSE 'Silver' END,
               now() - interval '30 days', now(), now() - interval '1 hour'
           FROM tenants t, generate_series(1, %(members)s) n""", {"members": members})
    bench.sql("""INSERT INTO customer_points_balance (tenant_id, customer_id, current_balance, total_earned, total_redeemed,
               total_expired, updated_at)
           SELECT tenant_id, id, abs(hashtext(id::text)) % 1000, 0, 0, 0, now() FROM customers""")
    bench.sql("""INSERT INTO whatsapp_messages (tenant_id, id, customer_id, direction, channel, from_number, to_number, body,
               media, message_sid, status, attempts, created_at)
           SELECT c.tenant_id, gen_random_uuid(), c.id, 'inbound', 'whatsapp', c.phone_number, t.whatsapp_number, 'BAL',
               '[]', 'SMin' || c.id, 'received', 0, now() - interval '1 hour'
           FROM customers c JOIN tenants t ON t.id = c.tenant_id""")
    bench.sql("""CREATE TABLE floor_recipients (tenant_id uuid, broadcast_id uuid, customer_id uuid, created_at timestamptz,
               PRIMARY KEY (tenant_id, broadcast_id, customer_id))""")
    connection = psycopg2.connect(bench.db_url())
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    connection.close()


def timed(action) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def floor_count() -> int:
    return bench.sql("""SELECT count(*) FROM customers c
                  LEFT JOIN customer_points_balance b ON b.tenant_id = c.tenant_id AND b.customer_id = c.id
                  WHERE coalesce(b.current_balance, 0) >= %(min)s""", {"min": SEGMENT["min_points"]})[0][0]


def floor_insert() -> int:
    rows = bench.sql("""INSERT INTO floor_recipients SELECT c.tenant_id, gen_random_uuid(), c.id, now() FROM customers c
                  LEFT JOIN customer_points_balance b ON b.tenant_id = c.tenant_id AND b.customer_id = c.id
                  WHERE coalesce(b.current_balance, 0) >= %(min)s AND c.opted_in RETURNING 1""", {"min": SEGMENT["min_points"]})
    return len(rows)


def definition(name: str) -> dict:
    return {"tenant": "MAMA", "name": name, "text": TEXT, "segment": SEGMENT}


def broadcasts_at(session, tenant: Tenant) -> BroadcastService:
    return BroadcastService(Context.at(session, tenant, utcnow()))


def run_preview(runtime, tenant_id):
    with runtime.db.sessions() as session:
        tenant = session.get(Tenant, tenant_id)
        return broadcasts_at(session, tenant).preview(parse(session, definition("preview"), tenant, utcnow()))


def create(runtime, tenant_id, name: str):
    with runtime.db.transaction() as session:
        tenant = session.get(Tenant, tenant_id)
        return broadcasts_at(session, tenant).create(parse(session, definition(name), tenant, utcnow()))


def launch(runtime, tenant_id, broadcast_id):
    with runtime.db.transaction() as session:
        return broadcasts_at(session, session.get(Tenant, tenant_id)).move(broadcast_id, "launch")


def cancel(runtime, tenant_id, broadcast_id) -> None:
    with runtime.db.transaction() as session:
        broadcasts_at(session, session.get(Tenant, tenant_id)).move(broadcast_id, "cancel")


def run_end_to_end(args, processes: Processes, runtime, moved) -> dict:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    fake = processes.start_fake()
    workers = [processes.start(*bench.rq_worker(REDIS_URL)) for _ in range(args.workers)]
    time.sleep(3)  # the workers are listening
    broadcast = moved.broadcast
    started = time.perf_counter()
    runtime.start_runners([moved])
    deadline = started + args.timeout
    while time.perf_counter() < deadline:
        status = bench.sql("SELECT status FROM broadcasts WHERE id = %(id)s", {"id": str(broadcast.id)})[0][0]
        if status != "sending":
            break
        time.sleep(0.25)
    seconds = time.perf_counter() - started
    stats = processes.fake_stats()
    for process in [*workers, fake]:
        processes.kill(process)
    pushes = bench.sql("""SELECT count(*), count(DISTINCT customer_id) FROM whatsapp_messages WHERE broadcast_id = %(id)s""",
                 {"id": str(broadcast.id)})[0]
    left = bench.sql("SELECT count(*) FROM whatsapp_messages WHERE status IN ('queued', 'sending')")[0][0]
    result = read_stats(runtime, broadcast)
    return {"seconds": seconds, "status": status, "fake": stats, "pushes": pushes, "left": left, "stats": result,
            "rate": result["sent"] / seconds}


def read_stats(runtime, broadcast) -> dict:
    with runtime.db.sessions() as session:
        return broadcasts_at(session, session.get(Tenant, broadcast.tenant_id)).stats(broadcast.id).as_json()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3, help="preview and launch runs (medians)")
    parser.add_argument("--reference", type=int, default=20_000, help="sends in the reference run")
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds the end-to-end run may take")
    args = parser.parse_args()
    processes = Processes(env(), FAKE_PORT)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    try:
        print(f"preparing {args.members:,} members...", flush=True)
        recreate_database(args.members)
        runtime = build(Config.from_env(env()))
        tenant_id = bench.sql("SELECT id FROM tenants")[0][0]
        previews = [timed(lambda: run_preview(runtime, tenant_id)) for _ in range(args.runs)]
        preview_floor = [timed(floor_count)[0] for _ in range(args.runs)]
        drafts = [create(runtime, tenant_id, f"launch {n}") for n in range(args.runs)]
        launches = [timed(lambda: launch(runtime, tenant_id, draft.id)) for draft in drafts]
        launch_floor = [timed(floor_insert) for _ in range(args.runs)]
        for draft in drafts[1:]:  # the first one is sent
            cancel(runtime, tenant_id, draft.id)
        print("reference: the twilio client straight to the fake...", flush=True)
        reference = processes.run_reference(args.reference, args.workers)
        print(f"end to end: {launches[0][1].broadcast.total_recipients:,} recipients, {args.workers} workers...", flush=True)
        run = run_end_to_end(args, processes, runtime, launches[0][1])
        stats_s = statistics.median(timed(lambda: read_stats(runtime, launches[0][1].broadcast))[0] for _ in range(args.runs))
    finally:
        processes.stop_all()
    preview = previews[0][1]
    recipients = launches[0][1].broadcast.total_recipients
    preview_s, preview_floor_s = statistics.median(t for t, _ in previews), statistics.median(preview_floor)
    launch_s, launch_floor_s = statistics.median(t for t, _ in launches), statistics.median(t for t, _ in launch_floor)
    print(f"\n{args.members:,} members; the segment matches {preview.matched:,}; suppressed {preview.suppressed}; "
          f"{preview.recipients:,} recipients. Medians of {args.runs} runs.")
    print(f"\n{'':<34}{'seconds':>10}{'floor (raw SQL)':>18}{'ratio':>8}")
    print(f"{'preview':<34}{preview_s:>10.2f}{preview_floor_s:>18.2f}{preview_s / preview_floor_s:>8.1f}")
    print(f"{'launch (audience freeze)':<34}{launch_s:>10.2f}{launch_floor_s:>18.2f}{launch_s / launch_floor_s:>8.1f}")
    print(f"{'stats, once sent':<34}{stats_s:>10.2f}")
    print(f"\n{'':<34}{'sends/s':>10}{'seconds':>10}{'vs reference':>14}")
    print(f"{'reference (client, no DB, no queue)':<34}{reference:>10,.0f}{'':>10}{'1.00':>14}")
    print(f"{'broadcast end to end':<34}{run['rate']:>10,.0f}{run['seconds']:>10.1f}{run['rate'] / reference:>14.2f}")
    print(f"\nstats: {run['stats']}")
    fake, (pushes, customers) = run["fake"], run["pushes"]
    result = run["stats"]
    checks = [
        (launch_s <= LAUNCH_TARGET, f"launch {launch_s:.2f} s (target {LAUNCH_TARGET:.0f} s or less)"),
        (preview.recipients == recipients, f"the preview's recipients ({preview.recipients:,}) are the ones frozen ({recipients:,})"),
        (run["status"] == "completed", f"the broadcast completed ({run['status']})"),
        (fake["accepted"] == recipients and fake["distinct"] == recipients,
         f"the fake received exactly {recipients:,} ({fake['accepted']:,}, {fake['distinct']:,} distinct)"),
        (fake["duplicates"] == 0, f"no duplicates at the fake ({fake['duplicates']})"),
        (pushes == customers == recipients, f"one push per recipient ({pushes:,} pushes, {customers:,} customers)"),
        (run["left"] == 0, f"none left queued or sending ({run['left']})"),
        (result["targeted"] == result["sent"] + result["failed"] + result["skipped"] + result["queued"],
         "targeted = sent + failed + skipped + queued"),
    ]
    return bench.report_checks(checks)


if __name__ == "__main__":
    sys.exit(main())
