"""What a purchase costs in BALs, in CPU, by process: the app's, PostgreSQL's and Redis's.

What it measures: the CPU seconds per message of this process (the real app's WSGI callable,
no gunicorn), of PostgreSQL's processes (every backend, the WAL writer, the checkpointer...)
and of redis-server, for a BAL from an enrolled customer and for a purchase as staff log it
(LOG <a new phone> 5000, then 1, PIN sessions open), and the ratio: a purchase in BALs, by
process and in all (issue 9 sets it at 3 at most, measured under load by bench/purchase.py).
BALs and purchases alternate in small batches, --rounds times, so that a machine whose speed
drifts by a quarter from one minute to the next (a shared VM) slows both alike: the ratio
holds where timed runs a few seconds apart do not. One message at a time: no contention,
no HTTP server; what the two cost, not how they queue.

How: it drops and recreates the database `bench_purchase_cpu`, loads MAMA with 4 staff,
builds the app in this process against a real Redis (--redis-url, emptied first: the send
jobs wait there, as in production), enrols --customers phones by JOIN MAMA, opens the PIN
sessions, runs ANALYZE, warms up, then times. CPU comes from /proc (Linux), by process name,
so nothing else on the machine should use PostgreSQL or this Redis meanwhile.

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="batches of each kind, alternating (default 20)")
    parser.add_argument("--bals", type=int, default=100, help="BALs a batch; a purchases batch has half as many (default 100)")
    parser.add_argument("--customers", type=int, default=1000, help="enrolled phones sending BAL (default 1000)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9", help="the app's Redis, emptied first")
    args = parser.parse_args()
    app = prepare(args.customers, args.redis_url)
    bals, confirms = inprocess.bal_requests(args.customers), inprocess.confirm_requests(STAFF)
    for request, expected in bals(200)[0] + inprocess.purchase_steps(confirms, 100):  # warm-up: caches, plans, prepared statements
        inprocess.call(app, request, expected)
    totals = {"BAL": [0.0] * 3, "purchase": [0.0] * 3}
    for _ in range(args.rounds):
        timed(app, bals(args.bals)[0], totals["BAL"])
        timed(app, inprocess.purchase_steps(confirms, args.bals // 2), totals["purchase"])
    counts = {"BAL": args.rounds * args.bals, "purchase": args.rounds * (args.bals // 2)}
    per = {kind: [seconds / counts[kind] * 1000 for seconds in totals[kind]] for kind in totals}
    print(f"\n{counts['BAL']:,} BALs and {counts['purchase']:,} purchases, alternating in {args.rounds} rounds;"
          " CPU ms per message:")
    print(f"{'':<10}" + "".join(f"{name:>12}" for name in (*PROCESSES, "all")))
    for kind, figures in per.items():
        print(f"{kind:<10}" + "".join(f"{figure:>12.3f}" for figure in (*figures, sum(figures))))
    ratios = [p / b if b else float("nan") for p, b in zip(per["purchase"], per["BAL"])]
    print(f"{'in BALs':<10}" + "".join(f"{ratio:>12.2f}" for ratio in (*ratios, sum(per["purchase"]) / sum(per["BAL"]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
