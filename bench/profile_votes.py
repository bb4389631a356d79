"""Where a vote's CPU goes, in process: the real app's WSGI callable, no gunicorn.

The same votes bench/votes.py sends (a signed SMS to the show's short code from a new phone,
the bodies in turn), through the app against PostgreSQL, counted three ways; with `--door
kannel`, the same votes as Kannel's smsbox gets them to the app (its door's CPU instead of
Twilio's):

- instructions per vote under valgrind's callgrind (`--callgrind`): the same figure run after
  run, where timings on a shared machine swing; this process only, not PostgreSQL's;
- CPU milliseconds per vote in this process, and SQL statements per vote;
- with `--top N`, cProfile's top N functions by own time.

How: it drops and recreates the database `profile_votes`, loads the show of bench/votes.py,
builds the app here, warms it up with --warmup votes, then sends --votes votes; the router's
table of shows is read once (see hold_show_table). Under callgrind only `itertools.starmap` is
counted (as bench/instructions.py does), with the start-up heap frozen out of the collector's
reach and Python's hash seed fixed.

    .venv/bin/python bench/profile_votes.py [--votes 2000] [--top 30] [--callgrind] [--door kannel]
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import itertools
import json
import os
import pstats
import re
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlencode

from werkzeug.test import EnvironBuilder

import harness as bench  # bench/ is on sys.path when this file runs as a script
import instructions
import profile_webhook as inprocess

bench.DB_NAME = "profile_votes"  # after importing the benchmarks that set their own
EXPECTED = "counted"
os.environ["KANNEL_SHARED_SECRET"] = instructions.votes.KANNEL_KEY  # before the app reads its configuration (bench.app_env)


def prepare() -> None:
    print(f"recreating database {bench.DB_NAME}, loading show {instructions.votes.SHOW_CODE}", flush=True)
    bench.recreate_database()
    with tempfile.NamedTemporaryFile("w", suffix=".json") as show:
        json.dump(instructions.votes.show_file(), show)
        show.flush()
        bench.flask("voting", "load", show.name)


def vote_requests(first: int, count: int, door: str = "twilio") -> list[tuple[dict, str]]:
    build = kannel_environ if door == "kannel" else instructions.vote_environ
    return [(build(i), EXPECTED) for i in range(first, first + count)]


def kannel_environ(index: int) -> dict:
    """The vote instructions.vote_environ signs for Twilio, as smsbox gets it to the app."""
    votes = instructions.votes
    query = votes.kannel_query(votes.FIRST_PHONE + index, f"K{inprocess._RUN}{index:022x}", votes.BODIES[index % len(votes.BODIES)])
    return EnvironBuilder(path=votes.KANNEL_PATH, base_url=inprocess.BASE_URL, query_string=urlencode(query)).get_environ()


def warmed_app(warmup: int, door: str = "twilio"):
    app = inprocess.make_app()
    hold_show_table(app)
    for request, expected in vote_requests(0, warmup, door):
        inprocess.call(app, request, expected)
    return app


def hold_show_table(app) -> None:
    """The router keeps the table of shows it reads at the first vote, where it reads it again
    every 2 seconds: a read costs a few votes, a fraction of a percent of a live server's 2
    seconds of votes, but under callgrind, where a vote takes 50 times as long, it would be
    counted 50 times as often, and as often as the machine is slow."""
    router = app.extensions["router"]
    started = router.clock()
    router.clock = lambda: started
    router.forget()


def send(app, requests: list[tuple[dict, str]]) -> None:
    list(itertools.starmap(inprocess.call, ((app, request, expected) for request, expected in requests)))


def child(args: argparse.Namespace) -> None:
    """Runs under callgrind: warm up, switch counting on, send the votes."""
    app = warmed_app(args.warmup, args.door)
    requests = vote_requests(args.warmup, args.votes, args.door)
    gc.collect()
    gc.freeze()
    subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], check=True, capture_output=True)
    send(app, requests)


def callgrind(args: argparse.Namespace) -> float:
    out = args.callgrind_out or os.path.join(tempfile.gettempdir(), f"callgrind.votes.{os.getpid()}")
    command = [
        "valgrind", "--tool=callgrind", "--instr-atstart=no", "--toggle-collect=starmap_next", f"--callgrind-out-file={out}",
        sys.executable, __file__, "--child", "--votes", str(args.votes), "--warmup", str(args.warmup),
        "--door", args.door,
    ]
    environment = {**bench.app_env(inprocess.BASE_URL), "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, cwd=bench.ROOT, env=environment, capture_output=True, text=True, timeout=3600)
    collected = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or collected is None:
        sys.exit(f"callgrind run failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    print(f"callgrind output: {out}")
    return int(collected.group(1)) / args.votes


def statements_per_vote(app, requests) -> float:
    """SQL statements per vote: through SQLAlchemy, and straight on the driver's cursor."""
    from sqlalchemy import event

    from bot import db

    counted = 0

    def statement(*_):
        nonlocal counted
        counted += 1

    def fetch(*args):
        statement()
        return original(*args)

    database, original = app.extensions["runtime"].db, db.fetch_prepared
    engines = (database.engine, database._unpooled)
    for engine in engines:
        event.listen(engine, "before_cursor_execute", statement)
    db.fetch_prepared = fetch  # what run_prepared calls
    try:
        send(app, requests)
    finally:
        db.fetch_prepared = original
        for engine in engines:
            event.remove(engine, "before_cursor_execute", statement)
    return counted / len(requests)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--votes", type=int, default=2000, help="votes measured (default 2000; 300 is plenty under callgrind)")
    parser.add_argument("--warmup", type=int, default=200, help="votes sent first, not measured (default 200)")
    parser.add_argument("--top", type=int, default=0, help="also show cProfile's top N functions by own time")
    parser.add_argument("--callgrind", action="store_true", help="count instructions per vote under valgrind")
    parser.add_argument("--callgrind-out", help="where callgrind writes its profile (default: a temporary file)")
    parser.add_argument("--door", choices=("twilio", "kannel"), default="twilio", help="the way the votes come in (default twilio)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return 0
    prepare()
    if args.callgrind:
        print(f"{callgrind(args):,.0f} instructions per vote ({args.votes} votes after {args.warmup} to warm up)")
        return 0
    app = warmed_app(args.warmup, args.door)
    first = args.warmup
    requests = vote_requests(first, args.votes, args.door)
    gc.collect()
    started, cpu_started = time.perf_counter(), time.process_time()
    send(app, requests)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    first += args.votes
    per = 1000 / args.votes
    print(f"{args.votes / wall:,.0f} votes/s in one process, {wall * per:.3f} ms each, of which {cpu * per:.3f} ms CPU here")
    print(f"{statements_per_vote(app, vote_requests(first, 200, args.door)):.1f} SQL statements per vote")
    first += 200
    if args.top:
        profiler = cProfile.Profile()
        profiler.runcall(send, app, vote_requests(first, args.votes, args.door))
        pstats.Stats(profiler).strip_dirs().sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
