"""Benchmark of the lucky wheel through the WhatsApp webhook, with and without its picture.

What it measures, with the real app (`wsgi:app`, PostgreSQL, console sender) under gunicorn with
the Procfile's settings, customers spread over --connections parallel lanes, each lane sending
its customers' messages one after the other:

1. images off: every customer sends "SPIN" once. Prints spins per second, p50/p99 latency and
   the errors (an answer that is not 200, or a reply without "Spins left").
2. images on: every customer sends "SPIN" once more and the lane then GETs the reply's <Media>
   URL at once, as Twilio fetches a WhatsApp image before delivering it; a spin counts when its
   picture (a 200 image/png) has arrived. Prints the same figures for spin + picture, and the
   picture's GET alone.
3. Checks the database: exactly 2 x --customers spin_history rows, at most the daily cap of
   each capped prize won, and no balance off its ledger (ledger_mismatches).
4. The wheel picture rendered in-process (bot.wheel.wheel_png, for the vendor's wheel):
   cold (both caches cleared), marked only (base wheel cached, new winner) and fully cached;
   the median of --repeats calls each.

How: it drops and recreates the database `bench_spin`, runs the migrations, loads vendor MAMA
(examples/tenant.json with 100 free spins a day, so that no customer reaches the bought-spin
question), starts the app on a free port, enrols --customers phones by "JOIN MAMA" through the
webhook and pre-builds and pre-signs every SPIN before timing (bench/harness.py).
Figures are indicative when other work shares the machine.

Run from the project root:

    .venv/bin/python bench/spin.py [--customers 1000] [--connections 16] [--repeats 20]

Exits 1 when a check fails.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from urllib.parse import urlsplit
from xml.etree import ElementTree

import harness as bench  # bench/ is on sys.path when this file runs as a script

sys.path.insert(0, str(bench.ROOT))
from bot import wheel
from bot.config import normalise_database_url
from bot.db import Database
from bot.services.points import ledger_mismatches

bench.DB_NAME = "bench_spin"  # read by bench's database, flask and gunicorn helpers
DB_URL = f"{bench.PG_URL}/{bench.DB_NAME}"
FREE_SPINS = 100  # a day: the most the tenant file allows, and more than the two spins needed
PHASE_TIMEOUT = 120  # seconds for any one phase
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
first_error: list[str] = []  # the first failure, to show


@dataclass
class Lane:
    spins: list[bytes]  # pre-signed SPINs, one per customer of this lane
    tally: bench.Tally = field(default_factory=bench.Tally)  # a spin's latency, with its picture if fetched
    pictures: list[float] = field(default_factory=list)  # seconds of the picture's GET alone


# --- load generator -----------------------------------------------------------------------


def drive(port: int, spins: list[bytes], connections: int, images: bool) -> tuple[bench.Result, list[float]]:
    """The spins over `connections` lanes at once, each lane in order; lanes start no spin
    after PHASE_TIMEOUT. The result, and the picture GETs' seconds."""
    lanes = [Lane(spins[i::connections]) for i in range(connections)]
    deadline = time.perf_counter() + PHASE_TIMEOUT
    lanes_run = [partial(run_lane, port, lane, images, deadline) for lane in lanes]
    elapsed = bench.run_in_parallel(lanes_run, deadline + 3 * bench.SOCKET_TIMEOUT)
    latencies = [latency for lane in lanes for latency in lane.tally.latencies]
    errors = sum(lane.tally.errors for lane in lanes)
    pictures = [seconds for lane in lanes for seconds in lane.pictures]
    return bench.Result(len(latencies) + errors, errors, elapsed, latencies, 0.0), pictures


def run_lane(port: int, lane: Lane, images: bool, deadline: float) -> None:
    clock = time.perf_counter
    for payload in lane.spins:
        sent = clock()
        if sent >= deadline:
            return
        try:
            problem = spin(port, payload, lane.pictures if images else None)
        except (OSError, ElementTree.ParseError) as error:
            problem = repr(error)
        if problem is None:
            lane.tally.latencies.append(clock() - sent)
        else:
            lane.tally.errors += 1
            if not first_error:
                first_error.append(problem)


def spin(port: int, payload: bytes, pictures: list[float] | None) -> str | None:
    """One SPIN and, when `pictures` is given, the GET of its picture; what went wrong, if anything."""
    answer = bench.exchange(port, payload)
    if not bench.is_ok(answer):
        return f"SPIN answered {answer[:60]!r}"
    if "Spins left" not in (text := bench.reply_text(answer)):
        return f"SPIN replied {text[:200]!r}"
    if pictures is None:
        return None
    urls = [media.text for media in ElementTree.fromstring(answer.partition(b"\r\n\r\n")[2]).iter("Media")]
    if not urls:
        return f"no <Media> in {text[:200]!r}"
    url = urlsplit(urls[0])
    fetched = time.perf_counter()
    picture = bench.exchange(url.port, f"GET {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nConnection: close\r\n\r\n".encode())
    pictures.append(time.perf_counter() - fetched)
    head, _, body = picture.partition(b"\r\n\r\n")
    if not bench.is_ok(picture) or b"\r\ncontent-type: image/png" not in head.lower() or not body.startswith(PNG_SIGNATURE):
        return f"GET {url.path} answered {head[:200]!r}"
    return None


# --- setup and checks ---------------------------------------------------------------------


def vendor_with_free_spins() -> dict:
    """examples/tenant.json with FREE_SPINS a day."""
    example = bench.example_vendor()
    return {**example, "wheel": {**example["wheel"], "daily_free_spins": FREE_SPINS}}


def mismatches() -> int:
    database = Database(normalise_database_url(DB_URL))
    try:
        with database.sessions() as session:
            return len(ledger_mismatches(session))
    finally:
        database.engine.dispose()


def check_database(customers: int, vendor: dict) -> list[tuple[bool, str]]:
    won = dict(bench.sql("SELECT label, count(*) FROM spin_history GROUP BY label ORDER BY 2 DESC"))
    print(f"\nwon: {', '.join(f'{label} {n}' for label, n in won.items())}")
    checks = [(sum(won.values()) == 2 * customers, f"{2 * customers} spin_history rows: {sum(won.values())}")]
    for item in vendor["wheel"]["items"]:
        if "daily_cap" in item:
            n, cap = won.get(item["label"], 0), item["daily_cap"]
            checks.append((n <= cap, f"{item['label']!r} won at most its daily cap of {cap}: {n}"))
    bad = mismatches()
    return checks + [(bad == 0, f"ledger_mismatches: {bad}")]


# --- the benchmark ------------------------------------------------------------------------


def render_ms(labels: tuple[str, ...], repeats: int, clear: Callable[[], None]) -> float:
    """Median ms of wheel_png, `clear` run before each call, the winner going round the wheel."""
    times = []
    for i in range(repeats):
        clear()
        started = time.perf_counter()
        wheel.wheel_png(labels, i % len(labels))
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def time_picture(vendor: dict, repeats: int) -> None:
    labels = tuple(item["label"] for item in vendor["wheel"]["items"])  # as spin_history keeps them
    size = len(wheel.wheel_png(labels, 0))
    print(f"\nwheel picture in-process ({len(labels)} segments, {size:,} bytes PNG), median of {repeats}:")
    cold = render_ms(labels, repeats, lambda: (wheel._base.cache_clear(), wheel._marked.cache_clear()))
    marked = render_ms(labels, repeats, wheel._marked.cache_clear)
    for winner in range(len(labels)):
        wheel.wheel_png(labels, winner)  # every marked wheel cached
    cached = render_ms(labels, repeats, lambda: None)
    for name, ms in (("cold", cold), ("marked only", marked), ("cached", cached)):
        print(f"  {name:<13}{ms:>9.3f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1000, help="phones to enrol (default 1000)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent lanes (default 16)")
    parser.add_argument("--repeats", type=int, default=20, help="in-process picture renders per case (default 20)")
    args = parser.parse_args()
    bench.start_run()
    print(f"recreating database {bench.DB_NAME}")
    vendor = vendor_with_free_spins()
    bench.recreate_database(vendor)
    results = {}
    with bench.gunicorn("app", "wsgi:app") as app:
        print(f"app on {app.url} ({' '.join(bench.GUNICORN_ARGS)})")
        print(f"enrolling {args.customers} customers through the webhook, {args.connections} connections")
        bench.enrol(app, args.customers, args.connections)
        for tag, name, images in (("s1", "images off", False), ("s2", "images on", True)):
            spins = bench.messages(app, tag, args.customers, args.customers, "SPIN")
            print(f"{name}: {args.customers} customers send SPIN{', then GET its picture' if images else ''}")
            results[name], pictures = drive(app.port, spins, args.connections, images)
    print(f"\n{'phase':<12}{'spins/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'spins':>8}")
    for name, r in results.items():
        print(f"{name:<12}{r.rate:>9.1f}{r.percentile_ms(50):>9.1f}{r.percentile_ms(99):>9.1f}{r.errors:>8}{r.requests:>8}")
    picture = bench.Result(len(pictures), 0, 1.0, pictures, 0.0)
    print(f"(images on: p50/p99 of SPIN + picture; the picture's GET alone: {picture.percentile_ms(50):.1f}"
          f" / {picture.percentile_ms(99):.1f} ms)")
    if first_error:
        print(f"  first error: {first_error[0]}")
    errors = sum(r.errors for r in results.values())
    checks = [(errors == 0, f"zero errors: {errors}")] + check_database(args.customers, vendor)
    time_picture(vendor, args.repeats)
    return bench.report_checks(checks)


if __name__ == "__main__":
    sys.exit(main())
