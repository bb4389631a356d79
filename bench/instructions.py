"""Instructions per message, counted by valgrind's callgrind: the same figure run after run,
where timings on a shared machine swing by a quarter.

What it measures: the instructions this process runs per message (the CPU of the Python side;
not PostgreSQL's, not the kernel's), for a BAL from an enrolled customer and for a vote from a
new phone, through the real app's WSGI callable against PostgreSQL, side by side with the
references on the same requests: the floor webhook (shared/reference/floor_webhook.py) for
BAL, hello-world (hello_webhook.py) for votes. And per purchase as staff log it (LOG <a new
phone> 5000, then 1, PIN sessions open), against the app's own BAL: what a purchase costs in
BALs, the ratio issue 9 sets at 3 at most; and the same purchases on the hand-written floor
(bench/floor_purchase.py, with a real Redis only) against the floor's BAL.

How: it drops and recreates the database `bench_instructions`, loads MAMA, enrols --customers
phones by JOIN MAMA through the app, opens the PIN sessions of 4 staff members, and loads a show whose episode is voting now. The app's
rate limits go to a real Redis (--redis-url, emptied first), as in production. Then, for
each server, a child process under `valgrind --tool=callgrind` builds its requests, warms up
(every enrolled phone sends once, so the caches hold what a live server's do), switches
counting on, and sends --messages messages through `itertools.starmap`, the only place
counted (`--toggle-collect=starmap_next`). Python's hash seed is fixed.

Run from the project root (`apt-get install valgrind`):

    .venv/bin/python bench/instructions.py [--messages 100] [--customers 1000] [--redis-url URL]
"""
from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import harness as bench  # bench/ is on sys.path when this file runs as a script
import profile_webhook as inprocess
import purchase
import votes
import webhook

bench.DB_NAME = "bench_instructions"  # after importing the benchmarks that set their own
SERVERS = {"BAL": ("app", "floor"), "vote": ("app", "hello"), "purchase": ("app", "floor")}  # a purchase's reference: BAL on its server
EXPECTED = {("BAL", "app"): "Balance:", ("BAL", "floor"): bench.FLOOR_BAL_REPLY, ("vote", "app"): "counted", ("vote", "hello"): ""}
STAFF = 4


def vote_environ(index: int) -> dict:
    """A signed vote from a phone of its own (the database is new at each run)."""
    return inprocess.signed_environ({
        "MessageSid": f"SM{inprocess._RUN}{index:022x}", "AccountSid": "ACbench",
        "From": f"+{votes.FIRST_PHONE + index}", "To": votes.SHORT_CODE,
        "Body": votes.BODIES[index % len(votes.BODIES)], "NumMedia": "0",
    })


def requests(kind: str, name: str, count: int, customers: int) -> list[tuple[dict, str]]:
    """`count` messages; for a purchase, `count` pairs (LOG, then its confirmation)."""
    if kind == "purchase":
        return inprocess.purchase_steps(inprocess.confirm_requests(STAFF), count)
    expected = EXPECTED[kind, name]
    if kind == "BAL":
        return [(inprocess.environ(bench.phone(i % customers), "BAL"), expected) for i in range(count)]
    return [(vote_environ(i), expected) for i in range(count)]


def server(kind: str, name: str):
    if name == "app":
        return inprocess.make_app()
    if kind == "purchase":
        os.environ["REF_DSN"] = bench.db_url()
        import floor_purchase

        return floor_purchase.app
    return bench.reference_module(f"{name}_webhook").app


def child(kind: str, name: str, messages: int, customers: int) -> None:
    """Runs under callgrind: warm up, switch counting on, send `messages` messages."""
    app = server(kind, name)
    warm = customers if kind == "BAL" else 50
    built = requests(kind, name, warm + messages, customers)
    if kind == "purchase":
        warm *= 2  # two requests a purchase
        open_sessions(app, name)  # again: PIN sessions last 10 minutes, and callgrind is slow
    for request, expected in built[:warm]:
        inprocess.call(app, request, expected)
    # The start-up heap (modules, the warm-up's caches) frozen out of the collector's reach: a full
    # collection of it, once in a long-lived server's millions of messages, would otherwise land
    # in the few counted or not, and swing the figure by half.
    gc.collect()
    gc.freeze()
    if name == "app":
        # The router keeps the table of numbers the warm-up read: it reads it again every 2 s,
        # once in a few thousand messages of a live server, but under callgrind, fifty times
        # slower, once in a few dozen, and the counted messages held one reading more or less.
        app.extensions["router"].clock = lambda: 0.0
    subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], check=True, capture_output=True)
    list(itertools.starmap(inprocess.call, ((app, request, expected) for request, expected in built[warm:])))


def open_sessions(app, name: str) -> None:
    if name == "app":
        inprocess.open_sessions(app, STAFF)
    else:  # the floor opens none: the app's, reopened
        purchase.reopen_sessions()


def count(kind: str, name: str, args: argparse.Namespace, folder: Path) -> float:
    command = [
        "valgrind", "--tool=callgrind", "--instr-atstart=no", "--toggle-collect=starmap_next",
        f"--callgrind-out-file={folder / f'{kind}-{name}.out'}",
        sys.executable, __file__, "--child", kind, name, "--messages", str(args.messages), "--customers", str(args.customers),
        "--redis-url", args.redis_url,
    ]
    # app_env starts from this environment; the purchase floor's notices go to the same Redis
    environment = {**bench.app_env(inprocess.BASE_URL), "PYTHONHASHSEED": "0", "REF_REDIS_URL": args.redis_url}
    done = subprocess.run(command, cwd=bench.ROOT, env=environment, capture_output=True, text=True, timeout=1800)
    collected = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or collected is None:
        sys.exit(f"{kind} on {name} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    return int(collected.group(1)) / args.messages


def prepare(customers: int) -> None:
    print(f"recreating database {bench.DB_NAME}, enrolling {customers:,} phones, loading show {votes.SHOW_CODE}", flush=True)
    bench.recreate_database(purchase.tenant_file(STAFF))
    app = inprocess.make_app()
    for i in range(customers):
        inprocess.call(app, inprocess.environ(bench.phone(i), "JOIN MAMA"))
    with tempfile.NamedTemporaryFile("w", suffix=".json") as show:
        json.dump(votes.show_file(), show)
        show.flush()
        bench.flask("voting", "load", show.name)
    bench.sql("ANALYZE")
    bench.set_up_floor(customers)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100, help="messages counted per server (default 100)")
    parser.add_argument("--customers", type=int, default=1000, help="enrolled phones sending BAL (default 1000)")
    parser.add_argument("--redis-url", default=webhook.REDIS_URL, help=f"the app's Redis (default {webhook.REDIS_URL}; '': in-process)")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "SERVER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    bench.use_redis(args.redis_url)
    if args.child:
        child(*args.child, args.messages, args.customers)
        return 0
    prepare(args.customers)
    with tempfile.TemporaryDirectory() as folder:
        servers = SERVERS if args.redis_url else {**SERVERS, "purchase": ("app",)}  # the floor's notices wait in Redis
        figures = {(kind, name): count(kind, name, args, Path(folder)) for kind, names in servers.items() for name in names}
    print(f"\n{'message':<10}{'server':<8}{'instructions':>14}{'x reference':>13}")
    for (kind, name), figure in figures.items():
        reference = ("BAL", name) if kind == "purchase" else (kind, SERVERS[kind][1])
        print(f"{kind:<10}{name:<8}{figure:>14,.0f}{figure / figures[reference]:>13.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
