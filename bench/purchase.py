"""Benchmark of staff logging purchases through the webhook, against BAL in the same run, and
of the ledger check.

What it measures:
1. Purchases per second and p50/p99 latency of each step of one purchase, as staff log it
   over WhatsApp: "LOG <phone> <amount>" (answered with a confirmation) then "1" (the purchase
   is logged, the phone enrolled, its points earned, the customer notified). One purchase per
   customer, a new phone each; --staff tills log in parallel, each one message after the
   other as a real phone would, with their PIN sessions open. In turns with them (--turn
   seconds of purchases, then as long of BAL, until every purchase is logged), the earlier
   purchases' customers send BAL through the same client at the same concurrency: the ratio
   purchases/s to BAL msg/s says what a purchase costs in BALs (target: at least 1/3). Taking
   turns, both meet the same machine: on a shared VM whose speed drifts by a quarter from one
   minute to the next, a run of each, one after the other, gave ratios from 0.23 to 0.36 for
   the same code. The real app (`wsgi:app`, PostgreSQL, console sender, in-process fake Redis:
   the send jobs of the two notices run inline, in the web process; with --redis-url, a real
   Redis where they wait, as in production, where a worker sends them) runs under gunicorn
   with the Procfile's settings. Any answer but 200, or a reply other than the one expected,
   counts as an error. Afterwards the database must hold exactly --customers +
   --earlier purchases and customers, and `flask ledger check` must pass.
   With --floor, the same turns then run on the hand-written floors, under sync workers (each
   keeps one connection a process): --customers more new phones' purchases on
   bench/floor_purchase.py, which writes the app's rows in raw SQL, and BAL on
   shared/reference/floor_webhook.py. Their ratio is what hand-written code reaches, beside
   the app's; the ledger check must still pass after. It needs --redis-url (the floor's
   notices wait in a Redis list), and compares new phones' purchases (not --enrolled).
2. The wall time of `flask --app wsgi ledger check` (and of ledger_mismatches in-process) over
   --bulk more customers written by bulk SQL, each with a welcome lot, a purchase lot and, for
   one in three, a redemption (0 mismatches expected); then one balance is corrupted, which
   must come out as 1 mismatch and exit 1 (and is put back). --bulk 0 skips it.

How: it drops and recreates the database `bench_purchase`, runs the migrations, loads a
vendor (MAMA) with --staff staff members, starts the app, opens each staff member's PIN
session (LOG, PIN, CANCEL), optionally enrols the customers with JOIN MAMA (--enrolled;
by default the phones are new and the purchase enrols them), logs --earlier purchases from
other phones and runs ANALYZE (a live shop's tables have rows and statistics: planned on the
empty tables of a database just made, a foreign key's check scanned the shop's every
customer, and a purchase cost PostgreSQL twice what it does), pre-builds and pre-signs the
purchases, then drives them and BAL in turns (each turn's BALs signed before it). The client is
bench/harness.py's threaded one (a new connection per request), since each step's reply is
read and checked.

Run from the project root:

    .venv/bin/python bench/purchase.py [--customers 1000] [--staff 16] [--earlier 200] [--turn 2] [--bulk 100000] [--enrolled]
                                       [--redis-url redis://127.0.0.1:6379/N] [--floor]

Exits 1 if any check fails: purchases/s >= 1/3 of BAL msg/s, confirm p99 < 100 ms, no errors,
a clean ledger.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from functools import partial
from itertools import count
from xml.etree.ElementTree import ParseError

import harness as bench  # bench/ is on sys.path when this file runs as a script
from redis import Redis

sys.path.insert(0, str(bench.ROOT))
from bot.catalog import render
from bot.codes import ALPHABET
from bot.config import normalise_database_url
from bot.db import Database
from bot.messages import say
from bot.services.points import ledger_mismatches

bench.DB_NAME = "bench_purchase"  # bench.app_env and bench.flask read it at each call
FIRST_STAFF_PHONE = 2348050000000
FIRST_BULK_PHONE = 2348100000000
WELCOME_BONUS, FIRST_PURCHASE_BONUS, NAIRA_PER_POINT = 50, 20, 100
RUN_TIMEOUT = 300  # seconds for all purchases
MIN_RATIO, MAX_CONFIRM_P99_MS = 1 / 3, 100.0
_sids = count()
first_error: list[str] = []  # the first failed step, to show


@dataclass(frozen=True)
class Step:
    payload: bytes
    expected: str  # the exact reply text
    tally: bench.Tally
    more: bool = False  # other messages may follow the expected one


Conversation = list[Step]  # sent in order; a failed step ends it


# --- setup --------------------------------------------------------------------------------


def tenant_file(staff: int) -> dict:
    vendor = bench.example_vendor()
    vendor.update(
        welcome_bonus=WELCOME_BONUS,
        staff=[{"name": f"Staff {i}", "phone": staff_phone(i), "pin": pin(i), "role": "staff"} for i in range(staff)],
        points_rules=[
            {"type": "per_amount_spent", "points": 1, "per_amount": NAIRA_PER_POINT},
            {"type": "first_purchase_bonus", "points": FIRST_PURCHASE_BONUS},
        ],
        missions=[],  # a completed mission adds its points to some balances: the replies would vary
    )
    return vendor


def staff_phone(i: int) -> str:
    return f"+{FIRST_STAFF_PHONE + i}"


def pin(i: int) -> str:
    return f"48{i:04d}"  # 4 -> 8 is neither a repeat nor a run, so never refused as too easy


# --- conversations ------------------------------------------------------------------------


def message(app: bench.Server, sender: str, body: str) -> bytes:
    return bench.signed_request(app, bench.inbound_form(f"SMpu{next(_sids):030x}", sender, body, "Bench staff"))


def open_session(app: bench.Server, i: int, tally: bench.Tally) -> Conversation:
    """LOG, the PIN (opens a 10-minute session), CANCEL."""
    return [
        Step(message(app, staff_phone(i), "LOG"), render(say("pin_prompt", name=f"Staff {i}")), tally),
        Step(message(app, staff_phone(i), pin(i)), render(say("log_ask_customer")), tally),
        Step(message(app, staff_phone(i), "CANCEL"), render(say("cancelled")), tally, more=True),  # then the menu
    ]


def purchase(
    app: bench.Server, staff: int, customer: int, enrolled: bool, log: bench.Tally, confirm: bench.Tally
) -> Conversation:
    phone, amount = bench.phone(customer), 1000 + customer % 40 * 500  # naira
    points = amount // NAIRA_PER_POINT + FIRST_PURCHASE_BONUS
    who, money = (f"Bench {customer}, {phone}" if enrolled else phone), f"₦{amount:,}"
    question = say("log_confirm" if enrolled else "log_confirm_new", customer=who, amount=money, points=points)
    done = say("log_done", customer=who, amount=money, points=points, balance=WELCOME_BONUS + points)
    return [
        Step(message(app, staff_phone(staff), f"LOG {phone} {amount}"), render(question), log),
        Step(message(app, staff_phone(staff), "1"), render(done), confirm),
    ]


def drive(port: int, lanes: list[deque[Conversation]], seconds: float) -> float:
    """Run the lanes in parallel, each one step after the other, until done or `seconds`
    pass (the conversation in flight finishes); returns the elapsed seconds. A lane keeps
    the conversations it has not started, for a later drive."""
    deadline = time.perf_counter() + seconds
    lanes_run = [partial(run_lane, port, lane, deadline) for lane in lanes]
    return bench.run_in_parallel(lanes_run, deadline + 3 * bench.SOCKET_TIMEOUT)


def run_lane(port: int, lane: deque[Conversation], deadline: float) -> None:
    while lane and time.perf_counter() < deadline:
        for step in lane.popleft():
            if not send(port, step):
                break


def send(port: int, step: Step) -> bool:
    sent = time.perf_counter()
    try:
        answer = bench.exchange(port, step.payload)
        text = bench.reply_text(answer) if bench.is_ok(answer) else None
        ok = text == step.expected or (step.more and text is not None and text.startswith(step.expected + " | "))
    except (OSError, ParseError) as error:
        answer, ok = repr(error).encode(), False
    if ok:
        step.tally.latencies.append(time.perf_counter() - sent)
    else:
        step.tally.errors += 1
        if not first_error:
            first_error.append(f"expected {step.expected!r}, got {answer[-400:]!r}")
    return ok


# --- the two parts ------------------------------------------------------------------------


def purchases(args: argparse.Namespace) -> list[tuple[bool, str]]:
    with bench.gunicorn("app", "wsgi:app") as app:
        queue = f"jobs queued in Redis {bench.REDIS_URL}" if bench.REDIS_URL else "jobs run inline (in-process fake Redis)"
        print(f"app on {app.url} ({' '.join(bench.GUNICORN_ARGS)}), {queue}")
        open_sessions(app, args.staff)
        if args.enrolled:
            print(f"enrolling {args.customers + args.earlier} customers with JOIN MAMA (--earlier's too)")
            bench.enrol(app, args.customers + args.earlier, args.staff)
        earlier(app, args)
        logs, confirms = [bench.Tally() for _ in range(args.staff)], [bench.Tally() for _ in range(args.staff)]
        timed = range(args.earlier, args.earlier + args.customers)  # the phones after the earlier ones
        lanes = [
            deque(purchase(app, s, c, args.enrolled, logs[s], confirms[s]) for c in timed[s::args.staff])
            for s in range(args.staff)
        ]
        state = "already enrolled with JOIN MAMA" if args.enrolled else "new phones, enrolled by their purchase"
        print(f"logging {args.customers} purchases ({state}), {args.staff} tills in parallel, in turns of {args.turn:g} s "
              f"with BAL from the {args.earlier} earlier customers, {args.staff} connections")
        seconds, bal = in_turns(app, app, "Balance: ", args, lanes)
    log, confirm = bench.result_of(logs, seconds), bench.result_of(confirms, seconds)
    ratio = print_results(log, confirm, bal, seconds)
    logged, customers = bench.sql("SELECT (SELECT count(*) FROM purchases), (SELECT count(*) FROM customers)")[0]
    ledger_ok, ledger_line = bench.ledger_check()
    expected = args.customers + args.earlier
    return [
        (ratio >= MIN_RATIO, f"purchases/s >= {MIN_RATIO:.2f} x BAL msg/s: {ratio:.2f}"),
        (confirm.percentile_ms(99) < MAX_CONFIRM_P99_MS, f"confirm p99 < {MAX_CONFIRM_P99_MS:.0f} ms: {confirm.percentile_ms(99):.1f} ms"),
        (log.errors + confirm.errors + bal.errors == 0, f"zero errors: {log.errors} LOG, {confirm.errors} confirm, {bal.errors} BAL"),
        (logged == expected, f"{expected} purchases in the database: {logged}"),
        (customers == expected, f"{expected} customers in the database: {customers}"),
        (ledger_ok, f"ledger check after the purchases: {ledger_line}"),
    ]


def print_results(log: bench.Result, confirm: bench.Result, bal: bench.Result, seconds: float) -> float:
    """The table of the three steps, and the ratio purchases/s to BAL msg/s, which it returns."""
    print(f"\n{'step':<10}{'ok':>7}{'per s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for name, r in (("LOG", log), ("confirm", confirm), ("BAL", bal)):
        p50, p99 = r.percentile_ms(50), r.percentile_ms(99)
        print(f"{name:<10}{r.requests - r.errors:>7}{r.rate:>9.1f}{p50:>9.1f}{p99:>9.1f}{r.errors:>8}")
    ratio = confirm.rate / bal.rate
    print(f"{confirm.rate:.1f} purchases/s ({confirm.requests - confirm.errors} in {seconds:.1f} s), "
          f"{bal.rate:.1f} BAL/s: ratio {ratio:.2f} (a purchase costs {1 / ratio:.1f} BALs)")
    if first_error:
        print(f"  first error: {first_error[0]}")
    return ratio


def floors(args: argparse.Namespace) -> list[tuple[bool, str]]:
    """The same turns on the hand-written floors, the staff's PIN sessions reopened: --customers
    more new phones' purchases on bench/floor_purchase.py, BAL from the earlier customers on
    shared/reference/floor_webhook.py (its ref_* tables holding their phones): the ratio that
    hand-written code reaches. Its rows are the app's, so the ledger check holds after it."""
    first_error.clear()  # the app's, shown already
    reference = bench.reference_dir()
    bench.set_up_floor(args.earlier)
    reopen_sessions()
    env = {"REF_DSN": bench.db_url(), "REF_REDIS_URL": bench.REDIS_URL}
    workers = bench.SYNC  # a floor keeps one connection a process, which threads would share
    with bench.gunicorn("floor purchase", "floor_purchase:app", workers, env, bench.ROOT / "bench") as purchase_floor, \
            bench.gunicorn("floor", "floor_webhook:app", workers, env, reference) as bal_floor:
        logs, confirms = [bench.Tally() for _ in range(args.staff)], [bench.Tally() for _ in range(args.staff)]
        phones = range(args.earlier + args.customers, args.earlier + 2 * args.customers)  # new: after the app's
        lanes = [
            deque(purchase(purchase_floor, s, c, False, logs[s], confirms[s]) for c in phones[s::args.staff])
            for s in range(args.staff)
        ]
        print(f"\nthe hand-written floors: {args.customers} purchases of new phones on bench/floor_purchase.py, in turns"
              f" with BAL on floor_webhook.py from the {args.earlier} earlier customers ({' '.join(workers)})")
        seconds, bal = in_turns(purchase_floor, bal_floor, bench.FLOOR_BAL_REPLY, args, lanes)
    log, confirm = bench.result_of(logs, seconds), bench.result_of(confirms, seconds)
    ratio = print_results(log, confirm, bal, seconds)
    logged = bench.sql("SELECT count(*) FROM purchases WHERE logged_via = 'staff_pin'")[0][0]
    ledger_ok, ledger_line = bench.ledger_check()
    expected = args.earlier + 2 * args.customers
    return [
        (log.errors + confirm.errors + bal.errors == 0, f"floors: zero errors: {log.errors} LOG, {confirm.errors} confirm,"
                                                        f" {bal.errors} BAL (their ratio, not a target: {ratio:.2f})"),
        (logged == expected, f"{expected} purchases in the database, the floor's too: {logged}"),
        (ledger_ok, f"ledger check after the floor's purchases: {ledger_line}"),
    ]


def earlier(app: bench.Server, args: argparse.Namespace) -> None:
    """The shop's earlier purchases (other phones, not timed), then ANALYZE, as autovacuum runs it
    on a live database once its tables grow: else the timed purchases run on plans made for
    empty tables (see the module's docstring)."""
    tallies = [bench.Tally() for _ in range(args.staff)]  # one a till, for both steps: only its count is read
    phones = range(args.earlier)  # the first ones; the timed purchases' come after
    lanes = [deque(purchase(app, s, c, args.enrolled, tallies[s], tallies[s]) for c in phones[s::args.staff]) for s in range(args.staff)]
    drive(app.port, lanes, RUN_TIMEOUT)
    done = sum(len(tally.latencies) for tally in tallies) // 2
    if done < args.earlier:
        sys.exit(f"{done} of the {args.earlier} earlier purchases logged: {first_error[0] if first_error else 'out of time'}")
    bench.sql("ANALYZE")
    print(f"  {args.earlier} earlier purchases logged (other phones), then ANALYZE, as on a live database")


def open_sessions(app: bench.Server, staff: int) -> None:
    sessions = [bench.Tally() for _ in range(staff)]
    drive(app.port, [deque([open_session(app, i, sessions[i])]) for i in range(staff)], 60)
    opened = sum(len(tally.latencies) == 3 for tally in sessions)
    print(f"  {opened} of {staff} staff PIN sessions opened")
    if opened < staff:
        sys.exit(f"could not open the staff sessions: {first_error[0]}")


def reopen_sessions() -> None:
    """Every staff member's PIN session open for 10 minutes more, as the hand-written floor,
    which opens none, finds them."""
    bench.sql("UPDATE vendor_users SET session_expires_at = now() + interval '10 minutes'")


def in_turns(
    purchase_server: bench.Server, bal_server: bench.Server, bal_reply: str, args: argparse.Namespace,
    lanes: list[deque[Conversation]],
) -> tuple[float, bench.Result]:
    """Purchases on `purchase_server` for --turn seconds, then BAL on `bal_server` (its answers
    holding `bal_reply`) for as long through the same client at the same concurrency, over and
    over until every purchase is logged: the seconds the purchases took, and BAL's result. A
    machine whose speed drifts from one minute to the next (a shared VM) slows both alike,
    where a run of each, one after the other, met two machines."""
    purchase_seconds, bals, give_up = 0.0, [], time.perf_counter() + RUN_TIMEOUT
    while any(lanes):
        if time.perf_counter() > give_up:
            sys.exit(f"the purchases and BAL took more than {RUN_TIMEOUT} s")
        purchase_seconds += drive(purchase_server.port, lanes, args.turn)
        bals.append(balances(bal_server, bal_reply, args, len(bals)))
    return purchase_seconds, bench.Result(
        sum(r.requests for r in bals), sum(r.errors for r in bals), sum(r.seconds for r in bals),
        [latency for r in bals for latency in r.latencies], sum(r.client_cpu for r in bals),
    )


def balances(server: bench.Server, bal_reply: str, args: argparse.Namespace, turn: int) -> bench.Result:
    """A turn of BAL from the customers of the earlier purchases (enrolled by them)."""
    requests = bench.messages(server, f"bal{turn}", args.bal_requests, args.earlier, "BAL")
    result = bench.drive(server, requests, args.staff, args.turn, expected=bal_reply)
    if result.requests == len(requests):
        print(f"  note: all {len(requests)} pre-built BALs were used before {args.turn:g} s (--bal-requests)")
    return result


BULK_SQL = """
INSERT INTO customers (tenant_id, id, phone_number, member_code, source, language, opted_in, conversation_state,
                       total_purchases, total_spent, last_purchase_at, created_at, updated_at)
SELECT %(tenant)s, gen_random_uuid(), '+' || (%(first_phone)s + n), code, 'import', 'en', false, '{}',
       1, (1000 + n %% 40 * 500) * 100, now(), now(), now()
FROM unnest(%(codes)s::text[]) WITH ORDINALITY AS t(code, n);

CREATE TEMP TABLE bulk ON COMMIT DROP AS
SELECT tenant_id, id AS customer_id, total_spent / 100 AS amount, gen_random_uuid() AS purchase_id,
       gen_random_uuid() AS welcome_id, gen_random_uuid() AS debit_id,
       total_spent / 100 / %(per_point)s + %(first_bonus)s AS earned,
       CASE WHEN right(phone_number, 6)::int %% 3 = 0 THEN 30 ELSE 0 END AS spent
FROM customers WHERE tenant_id = %(tenant)s AND source = 'import';

INSERT INTO purchases (tenant_id, id, customer_id, amount, currency, source, logged_via, points_awarded,
                       points_breakdown, status, created_at)
SELECT tenant_id, purchase_id, customer_id, amount * 100, 'NGN', 'import', 'import', earned, '[]', 'completed', now()
FROM bulk;

INSERT INTO points_transactions (tenant_id, id, customer_id, transaction_type, source, points, remaining, expires_at,
                                 purchase_id, description, details, created_at)
SELECT tenant_id, welcome_id, customer_id, 'earned', 'welcome', %(welcome)s, %(welcome)s - spent,
       now() + interval '180 days', NULL, 'Welcome bonus', '{}'::jsonb, now() - interval '1 day' FROM bulk
UNION ALL
SELECT tenant_id, gen_random_uuid(), customer_id, 'earned', 'purchase', earned, earned,
       now() + interval '180 days', purchase_id, 'Purchase', '{}', now() FROM bulk
UNION ALL
SELECT tenant_id, debit_id, customer_id, 'redeemed', 'redemption', -spent, NULL,
       NULL, NULL, 'Redeemed', '{}', now() FROM bulk WHERE spent > 0;

INSERT INTO points_lot_allocations (tenant_id, id, debit_id, lot_id, points)
SELECT tenant_id, gen_random_uuid(), debit_id, welcome_id, spent FROM bulk WHERE spent > 0;

INSERT INTO customer_points_balance (tenant_id, customer_id, current_balance, total_earned, total_redeemed,
                                     total_expired, updated_at)
SELECT tenant_id, customer_id, %(welcome)s + earned - spent, %(welcome)s + earned, spent, 0, now() FROM bulk;
"""


def member_codes(count: int) -> list[str]:
    """`count` distinct six-letter codes, none already taken."""
    taken = {code for (code,) in bench.sql("SELECT member_code FROM customers WHERE member_code IS NOT NULL")}
    codes, n = [], 0
    while len(codes) < count:
        code = "".join(ALPHABET[n // len(ALPHABET) ** k % len(ALPHABET)] for k in range(6))
        if code not in taken:
            codes.append(code)
        n += 1
    return codes


def timed_ledger_check() -> tuple[int, str, float]:
    started = time.perf_counter()
    command = [str(bench.BIN / "flask"), "--app", "wsgi", "ledger", "check"]
    done = subprocess.run(
        command, cwd=bench.ROOT, env=bench.app_env(), capture_output=True, text=True, timeout=300, check=False
    )
    summary = next((line for line in done.stdout.splitlines() if line.startswith("Checked")), done.stderr[-500:])
    return done.returncode, summary, time.perf_counter() - started


def timed_ledger_mismatches() -> tuple[list, float]:
    database = Database(normalise_database_url(bench.db_url()))
    try:
        with database.sessions() as session:
            started = time.perf_counter()
            return ledger_mismatches(session), time.perf_counter() - started
    finally:
        database.engine.dispose()


def bulk_ledger(size: int) -> list[tuple[bool, str]]:
    print(f"\nwriting {size:,} customers with balances and ledger rows by bulk SQL")
    started = time.perf_counter()
    (tenant,) = bench.sql("SELECT id FROM tenants WHERE vendor_code = 'MAMA'")[0]
    params = {
        "tenant": tenant, "first_phone": FIRST_BULK_PHONE, "codes": member_codes(size), "per_point": NAIRA_PER_POINT,
        "first_bonus": FIRST_PURCHASE_BONUS, "welcome": WELCOME_BONUS,
    }
    bench.sql(BULK_SQL, params)
    bench.sql("ANALYZE")
    balances, rows = bench.sql(
        "SELECT (SELECT count(*) FROM customer_points_balance), (SELECT count(*) FROM points_transactions)"
    )[0]
    print(f"  {balances:,} balances, {rows:,} ledger rows in {time.perf_counter() - started:.1f} s")

    code, line, wall = timed_ledger_check()
    print(f"  flask --app wsgi ledger check: {wall:.2f} s wall (exit {code}): {line}")
    mismatches, seconds = timed_ledger_mismatches()
    print(f"  ledger_mismatches in-process: {seconds:.2f} s, {len(mismatches)} mismatch(es)")
    clean = code == 0 and " 0 mismatch" in line and not mismatches
    checks = [(clean, "ledger check on consistent data: 0 mismatches, exit 0")]

    corrupt = "UPDATE customer_points_balance SET current_balance = current_balance + %(by)s WHERE customer_id = " \
              "(SELECT id FROM customers WHERE phone_number = %(phone)s)"
    victim = f"+{FIRST_BULK_PHONE + size // 2}"
    bench.sql(corrupt, {"by": 1, "phone": victim})
    code, line, wall = timed_ledger_check()
    print(f"  after corrupting {victim}'s balance: {wall:.2f} s wall (exit {code}): {line}")
    bench.sql(corrupt, {"by": -1, "phone": victim})
    return checks + [(code == 1 and " 1 mismatch" in line, "one corrupted balance: 1 mismatch, exit 1")]


def positive(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError("at least 1")
    return number


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1000, help="purchases, one per customer (default 1000)")
    parser.add_argument("--staff", type=int, default=16, help="staff logging in parallel (default 16)")
    parser.add_argument("--turn", type=float, default=2, help="seconds of purchases, then of BAL, in turns (default 2)")
    parser.add_argument("--bal-requests", type=int, default=5_000, help="pre-built BALs a turn (default 5000)")
    parser.add_argument("--bulk", type=int, default=100_000, help="customers written by SQL for the ledger check (0: skip)")
    parser.add_argument("--earlier", type=positive, default=200, help="purchases logged before the timed ones, then ANALYZE; "
                        "their customers send the BALs (default 200)")
    parser.add_argument("--enrolled", action="store_true", help="enrol the customers with JOIN MAMA first")
    parser.add_argument(
        "--redis-url", help="a real Redis (its db is emptied) for the job queue, as in production: the web process only "
        "enqueues the customers' notices, no worker sends them during the run; default: in-process, jobs run inline"
    )
    parser.add_argument("--floor", action="store_true", help="then the same turns on the hand-written floors of a purchase "
                        "(bench/floor_purchase.py) and of BAL (floor_webhook.py); needs --redis-url, and new phones")
    args = parser.parse_args()
    if args.floor and not (args.redis_url and not args.enrolled):
        parser.error("--floor needs --redis-url (the floor's notices wait in Redis) and new phones (not --enrolled)")
    return args


def main() -> int:
    args = parse_args()
    bench.start_run()
    bench.use_redis(args.redis_url)
    print(f"recreating database {bench.DB_NAME} with {args.staff} staff")
    bench.recreate_database(tenant_file(args.staff))
    checks = purchases(args) + (floors(args) if args.floor else []) + (bulk_ledger(args.bulk) if args.bulk else [])
    if args.redis_url:
        Redis.from_url(args.redis_url).flushdb()  # the notices nobody sent
    return bench.report_checks(checks)


if __name__ == "__main__":
    sys.exit(main())
