"""Benchmark of finding a staff member's PIN inside their messages: the keyed fingerprint
against the slow hash it replaces, beside a message with nothing to look for.

What it measures, in process (the real dispatcher: one transaction per message on PostgreSQL,
in-process fake Redis, no HTTP or gunicorn), with a staff member whose PIN session is open:
- reference: "LOG 08031234567 15k" then "1": a purchase whose LOG holds no digit run that
  could be a PIN (the phone is 11 digits, the amount has 2), so nothing is checked;
- slow hash: "LOG 0803 123 4567 15000" then "1", the staff row without a fingerprint (as every
  row was before fingerprints): "0803" and "15000" are each checked against the scrypt hash;
- fingerprint: the same, with the fingerprint the PIN check wrote.
The three take turns, --batch purchases at a time, so that the noise of the machine (shared
with other work) falls on all of them alike. It prints the median and p90 milliseconds of the
LOG message and of the whole purchase, purchases per second in one thread, and each as a ratio
to the reference.

How: it drops and recreates the database `bench_pin`, runs the migrations and loads
examples/tenant.json (its rate limits raised) with helpers from bench/harness.py, opens Bayo's
PIN session, then drives the dispatcher directly. Every reply must be the one expected.

Run from the project root:

    .venv/bin/python bench/pin_redaction.py [--purchases 60] [--batch 5]
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import statistics
import sys
import time
from itertools import count

import harness as bench  # bench/ is on sys.path when this file runs as a script

sys.path.insert(0, str(bench.ROOT))
from sqlalchemy import select, update  # noqa: E402

from bot.app import create_app  # noqa: E402
from bot.messages import Inbound  # noqa: E402
from models import Staff  # noqa: E402

bench.DB_NAME = "bench_pin"  # bench.app_env and bench.flask read it at each call
BAYO, BAYO_PIN = "+2348030000002", "731205"
SCENARIOS = {  # name: (LOG message, whether the staff row keeps its fingerprint)
    "reference (no candidate)": ("LOG 08031234567 15k", True),
    "slow hash (before)": ("LOG 0803 123 4567 15000", False),
    "fingerprint (after)": ("LOG 0803 123 4567 15000", True),
}
_sids = count()


def make_dispatcher():
    os.environ.update(bench.app_env())
    dispatcher = create_app().extensions["dispatcher"]
    logging.getLogger().setLevel(logging.WARNING)  # not a line per job
    return dispatcher


def send(dispatcher, text: str) -> str:
    inbound = Inbound(sid=f"SMpin{next(_sids):028x}", phone=BAYO, to=bench.VENDOR_NUMBER, channel="whatsapp", text=text)
    return "\n".join(reply.body for reply in dispatcher.handle(inbound))


def expect(reply: str, start: str) -> None:
    if not reply.startswith(start):
        sys.exit(f"expected a reply starting {start!r}, got {reply!r}")


def set_fingerprint(dispatcher, kept: bool, saved: str) -> None:
    with dispatcher.db.transaction() as session:
        session.execute(update(Staff).where(Staff.phone_number == BAYO).values(pin_fingerprint=saved if kept else None))


def saved_fingerprint(dispatcher) -> str | None:
    with dispatcher.db.sessions() as session:
        return session.scalars(select(Staff.pin_fingerprint).where(Staff.phone_number == BAYO)).one()


def purchase(dispatcher, log: str) -> tuple[float, float]:
    """Milliseconds of the LOG message and of the whole purchase (LOG, then 1)."""
    start = time.perf_counter()
    expect(send(dispatcher, log), "Log ₦15,000 for")
    logged = time.perf_counter()
    expect(send(dispatcher, "1"), "Logged ₦15,000")
    done = time.perf_counter()
    return (logged - start) * 1000, (done - start) * 1000


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


def drive(dispatcher, purchases: int, batch: int) -> dict[str, tuple[list[float], list[float]]]:
    """Per scenario, the milliseconds of each LOG message and of each purchase."""
    expect(send(dispatcher, "LOG"), "Hi Bayo, please send your staff PIN.")
    expect(send(dispatcher, BAYO_PIN), "Customer's phone number or member code?")  # writes the fingerprint
    send(dispatcher, "CANCEL")
    fingerprint = saved_fingerprint(dispatcher)
    if fingerprint is None:
        sys.exit("the right PIN wrote no fingerprint")
    for log, _ in SCENARIOS.values():  # warm up each path once
        purchase(dispatcher, log)

    timings = {name: ([], []) for name in SCENARIOS}
    for _ in range(0, purchases, batch):
        for name, (log, kept) in SCENARIOS.items():
            set_fingerprint(dispatcher, kept, fingerprint)
            for _ in range(batch):
                log_ms, purchase_ms = purchase(dispatcher, log)
                timings[name][0].append(log_ms)
                timings[name][1].append(purchase_ms)
    return timings



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--purchases", type=int, default=60, help="per scenario")
    parser.add_argument("--batch", type=int, default=5, help="purchases in a row before the next scenario's turn")
    args = parser.parse_args()

    bench.recreate_database()
    dispatcher = make_dispatcher()
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):  # the console sender prints each notification
        timings = drive(dispatcher, args.purchases, args.batch)
    reference = statistics.median(timings["reference (no candidate)"][1])
    print(f"{args.purchases} purchases per scenario, in turns of {args.batch}; one thread, PostgreSQL {bench.DB_NAME}")
    print(f"{'scenario':<26}{'LOG p50 ms':>11}{'LOG p90 ms':>11}{'purchase p50':>13}{'p90':>8}{'purchases/s':>12}{'x reference':>12}")
    for name, (logs, purchases) in timings.items():
        median = statistics.median(purchases)
        print(
            f"{name:<26}{statistics.median(logs):>11.1f}{p90(logs):>11.1f}{median:>13.1f}{p90(purchases):>8.1f}"
            f"{1000 / median:>12.1f}{median / reference:>12.2f}"
        )
    print("Medians on a machine shared with other work: compare the ratios, not the absolute figures.")


if __name__ == "__main__":
    main()
