"""Benchmark of logging purchases through the REST API, side by side with the same purchases
logged by staff over WhatsApp.

What it measures, in one run against one server: purchases per second and p50/p99 latency of
1. `POST /api/v1/purchases` with a fresh Idempotency-Key each (one request per purchase);
2. the same purchase through the WhatsApp webhook as staff log it with their PIN session open:
   the one-shot `LOG <phone> <amount>` (answered with a confirmation) then `1` (two requests per
   purchase; its latency is from the first sent to the second answered);
3. the API requests of the last round sent again with their Idempotency-Keys (retries: the
   first answers come back and nothing is logged twice).
Every purchase is for a new phone (enrolled, welcomed, points earned, customer notified), with
--connections clients in parallel, each on its own keep-alive connection, one request after the
other. The real app (`wsgi:app`, PostgreSQL, console sender, in-process fake Redis: jobs run
inline) runs under gunicorn with the Procfile's settings. Rounds alternate which path goes
first; the table gives each round and the medians (the machine is shared: read the ratio).
Any answer but the one expected counts as an error. Afterwards the database must hold exactly
the purchases made (none twice) and a consistent ledger.

How: it drops and recreates the database `bench_api`, migrates it, loads a vendor with one
staff member per connection and round, makes an API key, starts gunicorn on 127.0.0.1:--port,
opens the round's staff PIN sessions (LOG, PIN, CANCEL; untimed) before it, pre-builds and
pre-signs every request, then drives the rounds.

Run from the project root:

    .venv/bin/python bench/api.py [--purchases 400] [--connections 16] [--rounds 3] [--port 5901]

Exits 1 if any check fails.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urlencode

import psycopg2
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bot.catalog import render  # noqa: E402
from bot.db import Database  # noqa: E402
from bot.devclient import parse_twiml  # noqa: E402
from bot.limits import LIMITS  # noqa: E402
from bot.messages import say  # noqa: E402
from bot.money import Money  # noqa: E402
from bot.services.apikeys import ApiKeyService  # noqa: E402
from bot.services.context import Context  # noqa: E402
from bot.services.points import ledger_mismatches  # noqa: E402
from bot.services.tenant_file import parse_tenant_file  # noqa: E402
from bot.services.tenants import load_tenant  # noqa: E402
from models.base import utcnow  # noqa: E402

PG_URL = "postgresql://postgres@127.0.0.1:5432"
DB_NAME = "bench_api"
DB_URL = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{DB_NAME}"
AUTH_TOKEN = "bench-api-auth-token"
HOST = "127.0.0.1"
VENDOR_NUMBER = "+14155238886"
INBOUND = "/webhooks/twilio/inbound"
WELCOME, FIRST_BONUS, NAIRA_PER_POINT = 50, 20, 100
GUNICORN = ["--workers", "2", "--worker-class", "gthread", "--threads", "8"]  # the Procfile's
PHONES = {"api": 2348060000000, "log": 2348070000000, "staff": 2348050000000}


# --- set-up ---------------------------------------------------------------------------------


def recreate_database() -> None:
    connection = psycopg2.connect(f"{PG_URL}/postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {DB_NAME}")
    connection.close()
    subprocess.run([sys.executable, "-c", f"from bot import migrate; migrate.upgrade({DB_URL!r})"], cwd=ROOT, check=True)


def staff_phone(i: int) -> str:
    return f"+{PHONES['staff'] + i}"


def pin(i: int) -> str:
    return f"48{i:04d}"  # neither a repeat nor a run


def load_vendor(staff: int) -> str:
    """The example vendor with one staff member per connection and round, no missions (their
    points would make the expected replies vary) and per-phone limits out of reach; returns a
    new API key."""
    vendor = json.loads((ROOT / "examples" / "tenant.json").read_text())
    vendor.update(
        welcome_bonus=WELCOME, missions=[], rate_limits={name: 100_000 for name in LIMITS},  # a phone's, not measured here
        staff=[{"name": f"Staff {i}", "phone": staff_phone(i), "pin": pin(i)} for i in range(staff)],
        points_rules=[{"type": "per_amount_spent", "points": 1, "per_amount": NAIRA_PER_POINT},
                      {"type": "first_purchase_bonus", "points": FIRST_BONUS}],
    )
    database = Database(DB_URL)
    try:
        with database.transaction() as session:
            tenant = load_tenant(session, parse_tenant_file(vendor)).tenant
            return ApiKeyService(Context.at(session, tenant, utcnow())).create("bench", []).secret
    finally:
        database.engine.dispose()


@contextmanager
def gunicorn(port: int, log: Path) -> Iterator[None]:
    env = {**os.environ, "DATABASE_URL": DB_URL, "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "PIN_PEPPER": "bench-pin-pepper",
           "PUBLIC_BASE_URL": f"http://{HOST}:{port}", "API_RATE_LIMIT": "1000000000"}
    for name in ("REDIS_URL", "TWILIO_ACCOUNT_SID", "DEV_PHONE"):
        env.pop(name, None)
    command = [str(ROOT / ".venv" / "bin" / "gunicorn"), *GUNICORN, "--bind", f"{HOST}:{port}", "wsgi:app"]
    with log.open("w") as output:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not _healthy(port):
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"gunicorn did not start; see {log}")
            time.sleep(0.3)
        yield
    finally:
        server.terminate()
        server.wait(timeout=30)


def _healthy(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection(HOST, port, timeout=2)
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False


# --- requests -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes
    headers: dict
    check: Callable[[int, bytes], bool]  # is this the answer expected?


Purchase = list[Request]  # sent in order on one connection; its latency spans them all


def amount_of(n: int) -> int:
    return 1000 + n % 40 * 500  # naira


def points_of(naira: int) -> int:
    return naira // NAIRA_PER_POINT + FIRST_BONUS


def api_purchase(key: str, n: int) -> Purchase:
    naira, phone = amount_of(n), f"+{PHONES['api'] + n}"
    body = json.dumps({"customer": phone, "amount": naira * 100}).encode()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())}

    def logged(status: int, answer: bytes) -> bool:
        if status != 201:
            return False
        got = json.loads(answer)
        return got["points"] == points_of(naira) and got["balance_after"] == WELCOME + points_of(naira)

    return [Request("POST", "/api/v1/purchases", body, headers, logged)]


class Signer:
    def __init__(self, port: int):
        self.url = f"http://{HOST}:{port}{INBOUND}"
        self.validator = RequestValidator(AUTH_TOKEN)

    def message(self, sender: str, text: str, expected: Callable[[str], bool]) -> Request:
        form = {"MessageSid": f"SM{uuid.uuid4().hex}", "AccountSid": "ACbench", "From": f"whatsapp:{sender}",
                "To": f"whatsapp:{VENDOR_NUMBER}", "Body": text, "NumMedia": "0", "ProfileName": "Bench"}
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "X-Twilio-Signature": self.validator.compute_signature(self.url, form)}
        return Request("POST", INBOUND, urlencode(form).encode(), headers,
                       lambda status, answer: status == 200 and expected(_text(answer)))


def _text(twiml: bytes) -> str:
    return "\n".join(reply.body for reply in parse_twiml(twiml.decode()))


def log_purchase(signer: Signer, staff: int, n: int) -> Purchase:
    naira, phone = amount_of(n), f"+{PHONES['log'] + n}"
    earned = points_of(naira)
    done = render(say("log_done", customer=phone, amount=Money(naira * 100, "NGN"), points=earned, balance=WELCOME + earned))
    return [
        signer.message(staff_phone(staff), f"LOG {phone} {naira}", lambda text: "1. Confirm" in text),
        signer.message(staff_phone(staff), "1", lambda text: text == done),
    ]


def open_session(signer: Signer, staff: int) -> Purchase:
    """LOG, the PIN (a 10-minute session), CANCEL: not timed, but checked."""
    return [
        signer.message(staff_phone(staff), "LOG", lambda text: "PIN" in text),
        signer.message(staff_phone(staff), pin(staff), lambda text: text == render(say("log_ask_customer"))),
        signer.message(staff_phone(staff), "CANCEL", lambda text: text.startswith(render(say("cancelled")))),
    ]


# --- driving --------------------------------------------------------------------------------


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None


@dataclass(frozen=True)
class Figures:
    rate: float  # purchases per second
    p50: float  # ms
    p99: float
    errors: int
    done: int


def drive(port: int, lanes: list[list[Purchase]]) -> Figures:
    """Each lane on its own thread and keep-alive connection; all start together."""
    tallies = [Tally() for _ in lanes]
    start = threading.Barrier(len(lanes) + 1)
    threads = [threading.Thread(target=_lane, args=(port, lane, tally, start)) for lane, tally in zip(lanes, tallies)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    latencies = sorted(latency for tally in tallies for latency in tally.latencies)
    errors = sum(tally.errors for tally in tallies)
    first = next((tally.first_error for tally in tallies if tally.first_error), None)
    if first:
        print(f"    first error: {first}")
    return Figures(len(latencies) / elapsed, _percentile(latencies, 50), _percentile(latencies, 99), errors, len(latencies))


def _percentile(values: list[float], p: int) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))] * 1000


def _lane(port: int, lane: list[Purchase], tally: Tally, start: threading.Barrier) -> None:
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    start.wait()
    for purchase in lane:
        began = time.perf_counter()
        for request in purchase:
            try:
                connection.request(request.method, request.path, request.body, request.headers)
                answer = connection.getresponse()
                status, body = answer.status, answer.read()
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                connection = http.client.HTTPConnection(HOST, port, timeout=30)
                status, body = 0, repr(error).encode()
            if not request.check(status, body):
                tally.errors += 1
                tally.first_error = tally.first_error or f"{request.path}: {status} {body[:300]!r}"
                break
        else:
            tally.latencies.append(time.perf_counter() - began)
    connection.close()


def split(items: list, lanes: int) -> list[list]:
    return [items[i::lanes] for i in range(lanes)]


# --- the run --------------------------------------------------------------------------------


def counts() -> tuple[int, int, int]:
    connection = psycopg2.connect(f"{PG_URL}/{DB_NAME}")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT (SELECT count(*) FROM purchases), (SELECT count(*) FROM customers),"
                           " (SELECT count(*) FROM purchases WHERE logged_via = 'api')")
            return cursor.fetchone()
    finally:
        connection.close()


def mismatches() -> int:
    database = Database(DB_URL)
    try:
        with database.sessions() as session:
            return len(ledger_mismatches(session))
    finally:
        database.engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--purchases", type=int, default=400, help="purchases per path per round (default 400)")
    parser.add_argument("--connections", type=int, default=16, help="clients in parallel (default 16)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; each runs both paths (default 3)")
    parser.add_argument("--port", type=int, default=5901, help="the app's port (default 5901)")
    args = parser.parse_args()

    print(f"recreating database {DB_NAME}; vendor with {args.connections} staff per round and an API key")
    recreate_database()
    key = load_vendor(args.connections * args.rounds)
    signer = Signer(args.port)
    rows: dict[str, list[Figures]] = {"API POST /purchases": [], "WhatsApp LOG + 1": [], "API retry (same key)": []}
    last_api: list[Purchase] = []
    with tempfile.TemporaryDirectory() as folder, gunicorn(args.port, Path(folder) / "gunicorn.log"):
        print(f"app on http://{HOST}:{args.port} (gunicorn {' '.join(GUNICORN)}); {args.connections} connections, "
              f"{args.purchases} purchases per path per round, each for a new phone\n")
        for round_ in range(args.rounds):
            first = round_ * args.purchases
            api = [api_purchase(key, first + n) for n in range(args.purchases)]
            # Each round has its own staff, one per lane, whose PIN sessions open just before it.
            staff = [round_ * args.connections + lane for lane in range(args.connections)]
            log = [[log_purchase(signer, staff[lane], first + n) for n in range(lane, args.purchases, args.connections)]
                   for lane in range(args.connections)]
            sessions = drive(args.port, [[open_session(signer, i)] for i in staff])
            if sessions.errors:
                sys.exit("could not open the staff PIN sessions")
            lanes = {"API POST /purchases": split(api, args.connections), "WhatsApp LOG + 1": log}
            order = list(lanes) if round_ % 2 == 0 else list(reversed(lanes))
            for name in order:
                figures = drive(args.port, lanes[name])
                rows[name].append(figures)
                print(f"  round {round_ + 1} {name:<22} {figures.rate:7.1f}/s  p50 {figures.p50:6.1f} ms  "
                      f"p99 {figures.p99:6.1f} ms  errors {figures.errors}")
            last_api = api
        before = counts()
        replayed = drive(args.port, split(last_api, args.connections))  # the same requests, keys and all
        rows["API retry (same key)"].append(replayed)
        print(f"  retries of round {args.rounds}'s API purchases    {replayed.rate:7.1f}/s  p50 {replayed.p50:6.1f} ms  "
              f"p99 {replayed.p99:6.1f} ms  errors {replayed.errors}")
        after = counts()

    print(f"\n{'medians over ' + str(args.rounds) + ' rounds':<26}{'purchases/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for name, figures in rows.items():
        print(f"{name:<26}{statistics.median(f.rate for f in figures):>12.1f}{statistics.median(f.p50 for f in figures):>9.1f}"
              f"{statistics.median(f.p99 for f in figures):>9.1f}{sum(f.errors for f in figures):>8}")
    api_rate = statistics.median(f.rate for f in rows["API POST /purchases"])
    log_rate = statistics.median(f.rate for f in rows["WhatsApp LOG + 1"])
    print(f"API / WhatsApp LOG: {api_rate / log_rate:.2f}x the purchases per second")

    made = args.rounds * args.purchases
    checks = [
        (sum(f.errors for figures in rows.values() for f in figures) == 0, "no errors"),
        (before == (2 * made, 2 * made, made), f"{2 * made} purchases for {2 * made} new customers, {made} by API: {before}"),
        (after == before, f"retries logged nothing: {after}"),
        (mismatches() == 0, "no ledger mismatch"),
    ]
    print()
    for ok, text in checks:
        print(f"{'ok  ' if ok else 'FAIL'} {text}")
    return 0 if all(ok for ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
