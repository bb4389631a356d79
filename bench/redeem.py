"""Benchmark of reward redemption through the WhatsApp webhook, and of a race for scarce stock.

What it measures, with the real app (`wsgi:app`, PostgreSQL, console sender) under gunicorn with
the Procfile's settings, customers running in parallel over --connections lanes, each customer's
messages one after the other:

- Part A: every customer redeems reward 1 (unlimited stock): "REDEEM 1", then "1" to confirm.
  Prints redemptions per second, p50/p99 of each step and the errors (an answer that is not
  200 or not the expected reply), then checks the database: one redemption per customer, all
  codes distinct, and `flask ledger check` passing (no balance off its ledger, none negative).
- Part B: every customer races for reward 2, of which there are 100. All are first brought to
  its confirmation ("REDEEM 2"); then all the "1"s go at once. Prints the rate, how many got a
  code and how many were told it ran out; checks that exactly 100 won, stock_used is 100 and
  the ledger check passes.

How: it drops and recreates the database `bench_redeem`, runs the migrations, loads vendor MAMA
(examples/tenant.json with a welcome bonus of 1000 points and the two rewards), starts the app
on a free port, enrols --customers phones by "JOIN MAMA" through the webhook, and pre-builds and
pre-signs every request before timing (bench/harness.py). Figures are indicative when
other work shares the machine.

Run from the project root:

    .venv/bin/python bench/redeem.py [--customers 1000] [--connections 16]

Exits 1 when a check fails.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from functools import partial

import harness as bench  # bench/ is on sys.path when this file runs as a script

bench.DB_NAME = "bench_redeem"  # read by bench's database, flask and gunicorn helpers
WELCOME_BONUS = 1000
RACE_STOCK = 100
REWARDS = [{"name": "Free Zobo drink", "points": 100}, {"name": "Race prize", "points": 100, "stock": RACE_STOCK}]
PHASE_TIMEOUT = 120  # seconds for any one phase

CONFIRM = r"Redeem {} for 100 points\?\nBalance: .+\n1\. Confirm\n2\. Cancel$"
DONE = r"Done! Your code for {} is \*RD-\w{{6}}\*"
RAN_OUT = "Sorry, that reward has just run out. Nothing was spent."


@dataclass(frozen=True)
class Answer:
    step: int
    latency: float  # seconds
    text: str  # the reply, or what went wrong
    passed: bool  # 200 and the reply expected at that step


@dataclass(frozen=True)
class Phase:
    seconds: float
    answers: list[Answer]

    def step(self, step: int) -> bench.Result:
        mine = [a for a in self.answers if a.step == step]
        failed = sum(not a.passed for a in mine)
        return bench.Result(len(mine), failed, self.seconds, [a.latency for a in mine if a.passed], 0.0)

    def replies(self, step: int) -> list[str]:
        return [a.text for a in self.answers if a.step == step and a.passed]

    @property
    def failures(self) -> list[Answer]:
        return [a for a in self.answers if not a.passed]


# --- load generator -----------------------------------------------------------------------


def converse(port: int, conversations: list[list[bytes]], patterns: list[str], connections: int) -> Phase:
    """Every customer's requests in order, the customers spread over `connections` lanes that
    run at once. Step k passes on a 200 whose reply matches patterns[k]; a customer stops at
    its first failed step. Lanes start no request after PHASE_TIMEOUT."""
    lanes = [conversations[i::connections] for i in range(connections)]
    outputs: list[list[Answer]] = [[] for _ in lanes]
    deadline = time.perf_counter() + PHASE_TIMEOUT
    elapsed = bench.run_in_parallel(
        [partial(run_lane, port, lane, patterns, deadline, output) for lane, output in zip(lanes, outputs)],
        deadline + 2 * bench.SOCKET_TIMEOUT,
    )
    return Phase(elapsed, [answer for output in outputs for answer in output])


def run_lane(port: int, lane: list[list[bytes]], patterns: list[str], deadline: float, output: list[Answer]) -> None:
    clock = time.perf_counter
    for requests in lane:
        for step, (payload, pattern) in enumerate(zip(requests, patterns)):
            sent = clock()
            if sent >= deadline:
                return
            try:
                answer = bench.exchange(port, payload)
                ok = bench.is_ok(answer)
                text = bench.reply_text(answer) if ok else answer[:40].decode(errors="replace")
                passed = ok and re.match(pattern, text) is not None
            except (OSError, ElementTree.ParseError) as error:
                text, passed = repr(error), False
            output.append(Answer(step, clock() - sent, text, passed))
            if not passed:
                break


# --- setup and checks ---------------------------------------------------------------------


def vendor() -> dict:
    """examples/tenant.json with our welcome bonus and rewards."""
    return {**bench.example_vendor(), "welcome_bonus": WELCOME_BONUS, "rewards": REWARDS}


def rewards_in_database() -> dict[str, tuple[int | None, int, int, int]]:
    """Per reward name: stock, stock_used, redemptions, distinct codes among them."""
    rows = bench.sql(
        "SELECT w.name, w.stock, w.stock_used, count(r.id), count(DISTINCT r.redemption_code)"
        " FROM rewards w LEFT JOIN reward_redemptions r ON r.tenant_id = w.tenant_id AND r.reward_id = w.id"
        " GROUP BY w.name, w.stock, w.stock_used"
    )
    return {name: tuple(rest) for name, *rest in rows}


def codes(replies: list[str]) -> set[str]:
    return {match.group(1) for reply in replies if (match := re.search(r"\*(RD-\w+)\*", reply))}


def print_steps(phase: Phase, names: list[str]) -> None:
    print(f"  {'step':<14}{'answers':>8}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for step, name in enumerate(names):
        result = phase.step(step)
        print(f"  {name:<14}{result.requests:>8}{result.percentile_ms(50):>9.1f}{result.percentile_ms(99):>9.1f}{result.errors:>8}")
    for failure in phase.failures[:3]:
        print(f"  e.g. step {names[failure.step]!r} answered {failure.text[:120]!r}".replace("\\n", " / "))


# --- the benchmark ------------------------------------------------------------------------


def part_a(app: bench.Server, customers: int, connections: int) -> list[tuple[bool, str]]:
    name = REWARDS[0]["name"]
    redeem = bench.messages(app, "a1", customers, customers, "REDEEM 1")
    confirm = bench.messages(app, "a2", customers, customers, "1")
    print(f"\nPart A: {customers} customers redeem {name!r} (REDEEM 1, then 1), {connections} lanes")
    phase = converse(app.port, [list(pair) for pair in zip(redeem, confirm)], [CONFIRM.format(name), DONE.format(name)], connections)
    done = phase.replies(1)
    print(f"  {len(done)} redemptions in {phase.seconds:.1f} s: {len(done) / phase.seconds:.1f} redemptions/s")
    print_steps(phase, ["REDEEM 1", "1 (confirm)"])
    _, _, redemptions, distinct = rewards_in_database()[name]
    ledger_ok, ledger_line = bench.ledger_check()
    return [
        (not phase.failures and len(done) == customers, f"A: {len(done)} of {customers} redeemed, {len(phase.failures)} errors"),
        (len(codes(done)) == customers, f"A: {len(codes(done))} distinct codes in the replies"),
        (redemptions == distinct == customers, f"A: {redemptions} redemptions in the database, {distinct} distinct codes"),
        (ledger_ok, f"A: ledger check: {ledger_line}"),
    ]


def part_b(app: bench.Server, customers: int, connections: int) -> list[tuple[bool, str]]:
    name = REWARDS[1]["name"]
    redeem = bench.messages(app, "b1", customers, customers, "REDEEM 2")
    confirm = bench.messages(app, "b2", customers, customers, "1")
    print(f"\nPart B: {customers} customers race for {RACE_STOCK} x {name!r}, {connections} lanes")
    ready = converse(app.port, [[r] for r in redeem], [CONFIRM.format(name)], connections)
    print(f"  {len(ready.replies(0))} at the confirmation in {ready.seconds:.1f} s, {len(ready.failures)} errors")
    if ready.failures:
        print_steps(ready, ["REDEEM 2"])
        return [(False, f"B: {len(ready.failures)} customers did not reach the confirmation")]
    race = converse(app.port, [[c] for c in confirm], [f"{DONE.format(name)}|{re.escape(RAN_OUT)}"], connections)
    replies = race.replies(0)
    won = [r for r in replies if r.startswith("Done!")]
    print(
        f"  {len(replies)} confirmations in {race.seconds:.1f} s: {len(replies) / race.seconds:.1f}/s; "
        f"{len(won)} got a code, {len(replies) - len(won)} were told it ran out"
    )
    print_steps(race, ["1 (confirm)"])
    stock, stock_used, redemptions, distinct = rewards_in_database()[name]
    expected = min(customers, RACE_STOCK)
    ledger_ok, ledger_line = bench.ledger_check()
    return [
        (not race.failures and len(replies) == customers, f"B: {len(replies)} of {customers} answered, {len(race.failures)} errors"),
        (len(won) == expected, f"B: {len(won)} won (expected {expected})"),
        (stock_used == redemptions == distinct == expected, f"B: stock_used {stock_used} of {stock}, {redemptions} redemptions, {distinct} distinct codes"),
        (ledger_ok, f"B: ledger check: {ledger_line}"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1000, help="phones to enrol (default 1000)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent lanes (default 16)")
    args = parser.parse_args()
    bench.start_run()
    print(f"recreating database {bench.DB_NAME}")
    bench.recreate_database(vendor())
    with bench.gunicorn("app", "wsgi:app") as app:
        print(f"app on {app.url} ({' '.join(bench.GUNICORN_ARGS)})")
        print(f"enrolling {args.customers} customers through the webhook, {args.connections} connections")
        bench.enrol(app, args.customers, args.connections)
        checks = part_a(app, args.customers, args.connections) + part_b(app, args.customers, args.connections)
    return bench.report_checks(checks)


if __name__ == "__main__":
    sys.exit(main())
