"""What a purchase costs in BALs, in CPU, by process: the app's, PostgreSQL's and Redis's.

What it measures: the CPU seconds per message of this process (the real app's WSGI callable,
no gunicorn), of PostgreSQL's processes (every backend, the WAL writer, the checkpointer...)
and of redis-server, for a BAL from an enrolled customer and for a purchase as staff log it
(LOG <a new phone> 5000, then 1, PIN sessions open), and the ratio: a purchase in BALs, by
process and in all (issue 9 sets it at 3 at most, measured under load by bench/purchase.py).
The same for the hand-written floors, in the same rounds: BAL's (shared/reference/
floor_webhook.py) and a purchase's (bench/floor_purchase.py, the app's rows in raw SQL):
the ratio for code written by hand. The kinds alternate in small batches, --rounds times,
so that a machine whose speed drifts by a quarter from one minute to the next (a shared VM)
slows all alike: the ratio holds where timed runs a few seconds apart do not. One message
at a time: no contention, no HTTP server; what they cost, not how they queue.

How: it drops and recreates the database `bench_purchase_cpu`, loads MAMA with 4 staff,
builds the app in this process against a real Redis (--redis-url, emptied first: the send
jobs wait there, as in production), enrols --customers phones by JOIN MAMA, opens the PIN
sessions, runs ANALYZE, writes the BAL floor's ref_* tables, warms up, then times. CPU comes
from /proc (Linux), by process name, so nothing else on the machine should use PostgreSQL or
this Redis meanwhile.

Run from the project root:

    .venv/bin/python bench/purchase_cpu.py [--rounds 20] [--bals 100] [--customers 1000]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

import harness as bench  # bench/ is on sys.path when this file runs as a script
import profile_webhook as inprocess
import purchase

bench.DB_NAME = "bench_purchase_cpu"  # after importing the benchmarks that set their own
STAFF = 4
PROCESSES = ("app", "PostgreSQL", "Redis")
_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_of(name: str) -> dict[str, float]:
    """CPU seconds used so far by each process whose name starts with `name`, by pid."""
    used = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            text = stat.read_text()
            if text[text.index("(") + 1:text.rindex(")")].startswith(name):
                fields = text[text.rindex(")") + 2:].split()
                used[stat.parent.name] = (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime
    return used


def spent(before: dict[str, float], after: dict[str, float]) -> float:
    """CPU seconds between two readings: a process started since counts whole; one that ended
    meanwhile (an autovacuum worker) loses what it used after the first reading."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def timed(app, requests: list[tuple[dict, str]], totals: list[float]) -> None:
    """Send `requests`, adding the CPU each process spent meanwhile to `totals`."""
    own, database, redis = time.process_time(), cpu_of("postgres"), cpu_of("redis-server")
    for request, expected in requests:
        inprocess.call(app, request, expected)
    totals[0] += time.process_time() - own
    totals[1] += spent(database, cpu_of("postgres"))
    totals[2] += spent(redis, cpu_of("redis-server"))


def prepare(customers: int, redis_url: str):
    print(f"recreating database {bench.DB_NAME}, enrolling {customers:,} phones", flush=True)
    bench.use_redis(redis_url)
    bench.recreate_database(purchase.tenant_file(STAFF))
    app = inprocess.make_app()
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        for i in range(customers):
            inprocess.call(app, inprocess.environ(bench.phone(i), "JOIN MAMA"))
        inprocess.open_sessions(app, STAFF)
    bench.sql("ANALYZE")  # statistics for the rows just written, as a live database has them
    return app


def floor_servers(customers: int, redis_url: str):
    """The hand-written floors in this process: BAL's (shared/reference/floor_webhook.py, its
    ref_* tables holding the same phones) and the purchase's (bench/floor_purchase.py)."""
    bench.set_up_floor(customers)
    floor_webhook = bench.reference_module("floor_webhook")  # sets REF_DSN, which both read
    os.environ["REF_REDIS_URL"] = redis_url
    import floor_purchase

    return floor_webhook.app, floor_purchase.app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="batches of each kind, alternating (default 20)")
    parser.add_argument("--bals", type=int, default=100, help="BALs a batch; a purchases batch has half as many (default 100)")
    parser.add_argument("--customers", type=int, default=1000, help="enrolled phones sending BAL (default 1000)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9", help="the app's Redis, emptied first")
    args = parser.parse_args()
    app = prepare(args.customers, args.redis_url)
    floor_bal_app, floor_purchase_app = floor_servers(args.customers, args.redis_url)
    bals, confirms = inprocess.bal_requests(args.customers), inprocess.confirm_requests(STAFF)

    purchases = args.bals // 2
    kinds = {  # who answers each kind, its batch of n, and how many it holds of --bals
        "BAL": (app, lambda n: bals(n)[0], args.bals),
        "purchase": (app, lambda n: inprocess.purchase_steps(confirms, n), purchases),
        "floor BAL": (floor_bal_app, inprocess.floor_replies(bals), args.bals),
        "floor purchase": (floor_purchase_app, lambda n: inprocess.purchase_steps(confirms, n), purchases),
    }
    for server, build, batch in kinds.values():  # warm-up: caches, plans, prepared statements
        for request, expected in build(2 * batch):
            inprocess.call(server, request, expected)
    totals = {kind: [0.0] * 3 for kind in kinds}
    for _ in range(args.rounds):
        for kind, (server, build, batch) in kinds.items():
            timed(server, build(batch), totals[kind])
    counts = {kind: args.rounds * batch for kind, (_, _, batch) in kinds.items()}
    per = {kind: [seconds / counts[kind] * 1000 for seconds in totals[kind]] for kind in totals}
    print(f"\n{counts['BAL']:,} BALs and {counts['purchase']:,} purchases on the app and on the hand-written floors,"
          f" alternating in {args.rounds} rounds; CPU ms per message:")
    print(f"{'':<30}" + "".join(f"{name:>12}" for name in (*PROCESSES, "all")))
    for kind, figures in per.items():
        print(f"{kind:<30}" + "".join(f"{figure:>12.3f}" for figure in (*figures, sum(figures))))
    for kind, reference in (("purchase", "BAL"), ("floor purchase", "floor BAL")):
        ratios = [p / b if b else float("nan") for p, b in zip(per[kind], per[reference])]
        print(f"{kind + ' in ' + reference + 's':<30}" + "".join(f"{ratio:>12.2f}" for ratio in ratios)
              + f"{sum(per[kind]) / sum(per[reference]):>12.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
