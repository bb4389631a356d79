"""Benchmark of the inbound WhatsApp webhook against a hello-world Flask baseline.

What it measures: messages per second, p50/p99 latency and errors of POST
/webhooks/twilio/inbound when enrolled customers send BAL, with the real app (`wsgi:app`,
PostgreSQL, console sender, in-process fake Redis) under gunicorn with the Procfile's settings
(2 workers of 4 threads: gthread overlaps one request's database waits with another's work). The same
load, at the same concurrency, then goes to bench/hello_app.py under the same gunicorn
settings; the ratio of the two throughputs says how much of the WSGI stack's capacity the
app's own work (signature check, one transaction with a row lock, ledger reads, TwiML) leaves.

How: it drops and recreates the database `bench_webhook`, runs the migrations, loads
examples/tenant.json (vendor MAMA), starts both servers on free ports, enrols --customers
phones by sending "JOIN MAMA" through the real webhook, then pre-builds and pre-signs every
request (a unique MessageSid each, customers taken round-robin) and drives each server for
--warmup then --seconds. The load generator is one thread per connection over raw sockets
sending pre-encoded bytes, one TCP connection per request (as Twilio's requests arrive); any answer but 200 counts as an error.

Run from the project root:

    .venv/bin/python bench/webhook.py [--customers 1000] [--connections 16] [--seconds 10]

Exits 1 when a target misses: throughput ratio >= 0.15 (aim 0.25), app p99 < 100 ms, no errors.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ElementTree
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urlencode

import psycopg2
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bot.limits import LIMITS  # noqa: E402  (the limits' names, for the vendor file)
BIN = ROOT / ".venv" / "bin"
PG_URL = "postgresql://postgres@127.0.0.1:5432"
DB_NAME = "bench_webhook"
AUTH_TOKEN = "bench-webhook-auth-token"
HOST = "127.0.0.1"
INBOUND_PATH = "/webhooks/twilio/inbound"
VENDOR_NUMBER = "+14155238886"
FIRST_PHONE = 2348040000000
# The Procfile's web settings, for both servers.
GUNICORN_ARGS = ["--workers", "2", "--worker-class", "gthread", "--threads", "4"]

STARTUP_TIMEOUT = 30  # seconds for a server to answer its first request
SOCKET_TIMEOUT = 10  # seconds for any one socket operation
ENROL_TIMEOUT = 60  # seconds for all JOINs

MIN_RATIO, AIM_RATIO, MAX_P99_MS = 0.15, 0.25, 100.0


@dataclass(frozen=True)
class Server:
    name: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


@dataclass(frozen=True)
class Result:
    requests: int
    errors: int
    seconds: float
    latencies: list[float]  # of the 200 answers, in seconds
    client_cpu: float  # CPU seconds the load generator itself used

    @property
    def rate(self) -> float:
        return (self.requests - self.errors) / self.seconds

    def percentile_ms(self, p: int) -> float:
        if len(self.latencies) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1] * 1000


@dataclass
class Tally:
    """What one connection saw."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0


# --- database -----------------------------------------------------------------------------


def app_env(public_base_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TWILIO_ACCOUNT_SID", "PUBLIC_BASE_URL")}
    env.update(DATABASE_URL=f"{PG_URL}/{DB_NAME}", TWILIO_AUTH_TOKEN=AUTH_TOKEN)
    if public_base_url:
        env["PUBLIC_BASE_URL"] = public_base_url
    return env


def example_vendor() -> dict:
    """examples/tenant.json with rate limits no load here reaches: a benchmark measures answers,
    and its phones send far faster than any customer (the limiter still counts every message)."""
    vendor = json.loads((ROOT / "examples" / "tenant.json").read_text())
    return {**vendor, "rate_limits": {name: 100_000 for name in LIMITS}}


def recreate_database(vendor: dict | None = None) -> None:
    """A fresh DB_NAME, migrated, with `vendor` (default: examples/tenant.json) loaded."""
    connection = psycopg2.connect(f"{PG_URL}/postgres")
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
            cursor.execute(f"CREATE DATABASE {DB_NAME}")
    finally:
        connection.close()
    flask("db", "upgrade")
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        json.dump(vendor or example_vendor(), file)
        file.flush()
        flask("tenants", "load", file.name)


def run_in_parallel(lanes: list[Callable[[], None]], give_up: float) -> float:
    """Run the lanes in threads at once; the seconds they took. Raises if one is still
    running at the monotonic time `give_up` (each lane bounds itself in time first)."""
    start = time.perf_counter()
    threads = [threading.Thread(target=lane, daemon=True) for lane in lanes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, give_up - time.perf_counter()))
    if any(thread.is_alive() for thread in threads):
        raise RuntimeError("a lane hung past its deadline")
    return time.perf_counter() - start


def flask(*args: str) -> None:
    command = [str(BIN / "flask"), "--app", "wsgi", *args]
    done = subprocess.run(command, cwd=ROOT, env=app_env(), capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")


def count_customers() -> int:
    connection = psycopg2.connect(f"{PG_URL}/{DB_NAME}")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM customers")
            return cursor.fetchone()[0]
    finally:
        connection.close()


# --- servers ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(name: str, app_spec: str) -> Iterator[Server]:
    server = Server(name, free_port())
    command = [str(BIN / "gunicorn"), *GUNICORN_ARGS, "--bind", f"{HOST}:{server.port}", app_spec]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=ROOT, env=app_env(server.url), stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until_answering(process, server, log)
            yield server
        finally:
            stop(process)


def wait_until_answering(process: subprocess.Popen, server: Server, log) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            connection = http.client.HTTPConnection(HOST, server.port, timeout=1)
            connection.request("GET", "/")
            connection.getresponse().read()
            connection.close()
            return
        except OSError:
            time.sleep(0.1)
    log.seek(0)
    raise RuntimeError(f"{server.name} server did not start:\n{log.read().decode(errors='replace')[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM is gunicorn's graceful shutdown; kill it if that takes too long."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


# --- requests -----------------------------------------------------------------------------


def phone(index: int) -> str:
    return f"+{FIRST_PHONE + index}"


def signed_request(server: Server, form: dict[str, str]) -> bytes:
    """The bytes of the POST Twilio would send, signed the way Twilio signs it."""
    signature = RequestValidator(AUTH_TOKEN).compute_signature(server.url + INBOUND_PATH, form)
    body = urlencode(form).encode()
    head = (
        f"POST {INBOUND_PATH} HTTP/1.1\r\n"
        f"Host: {HOST}:{server.port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"X-Twilio-Signature: {signature}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


def messages(server: Server, tag: str, count: int, customers: int, body: str) -> list[bytes]:
    """`count` signed messages `body`, from the customers in turn; MessageSids unique per tag."""
    return [
        signed_request(
            server,
            {
                "MessageSid": f"SM{tag}{i:0{32 - len(tag)}x}",
                "AccountSid": "ACbench",
                "From": f"whatsapp:{phone(i % customers)}",
                "To": f"whatsapp:{VENDOR_NUMBER}",
                "Body": body,
                "NumMedia": "0",
                "ProfileName": f"Bench {i % customers}",
            },
        )
        for i in range(count)
    ]


def exchange(port: int, payload: bytes) -> bytes:
    """One request on a fresh connection; the answer up to the server's close."""
    with socket.create_connection((HOST, port), timeout=SOCKET_TIMEOUT) as sock:
        sock.sendall(payload)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def is_ok(answer: bytes) -> bool:
    return answer[9:13] == b"200 "


def reply_text(answer: bytes) -> str:
    xml = answer.partition(b"\r\n\r\n")[2]
    return " | ".join(message.text or "" for message in ElementTree.fromstring(xml).iter("Message"))


# --- load generator -----------------------------------------------------------------------


def drive(server: Server, requests: list[bytes], connections: int, seconds: float) -> Result:
    """Send `requests` over `connections` concurrent connections until they run out or
    `seconds` pass; the requests in flight at the deadline finish and count."""
    lanes = [requests[i::connections] for i in range(connections)]
    tallies = [Tally() for _ in lanes]
    cpu_before = cpu_seconds()
    deadline = time.perf_counter() + seconds
    elapsed = run_in_parallel(
        [partial(run_lane, server.port, lane, deadline, tally) for lane, tally in zip(lanes, tallies)],
        deadline + 2 * SOCKET_TIMEOUT,  # the last request of a lane may start just before the deadline
    )
    latencies = [latency for tally in tallies for latency in tally.latencies]
    errors = sum(tally.errors for tally in tallies)
    return Result(len(latencies) + errors, errors, elapsed, latencies, cpu_seconds() - cpu_before)


def run_lane(port: int, lane: list[bytes], deadline: float, tally: Tally) -> None:
    clock = time.perf_counter
    for payload in lane:
        sent = clock()
        if sent >= deadline:
            return
        try:
            ok = is_ok(exchange(port, payload))
        except OSError:
            ok = False
        if ok:
            tally.latencies.append(clock() - sent)
        else:
            tally.errors += 1


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_busy_share(seconds: float = 1.0) -> float:
    """How busy all CPUs are over `seconds`, from /proc/stat (0 where that does not exist)."""

    def sample() -> tuple[int, int]:
        try:
            fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        except OSError:
            return 0, 0
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait

    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return 1 - (idle1 - idle0) / (total1 - total0) if total1 > total0 else 0.0


# --- the benchmark ------------------------------------------------------------------------


def enrol(app: Server, customers: int, connections: int) -> None:
    joins = messages(app, "e0", customers, customers, "JOIN MAMA")
    first = exchange(app.port, joins[0])
    if not is_ok(first):
        sys.exit(f"the first JOIN failed: {first[:300]!r}")
    print(f"  first JOIN answers: {reply_text(first)[:100]}...")
    result = drive(app, joins[1:], connections, ENROL_TIMEOUT)
    enrolled = count_customers()
    print(f"  {enrolled} enrolled in {result.seconds:.1f} s ({result.rate:.0f} JOIN/s), {result.errors} errors")
    if enrolled != customers or result.errors:
        sys.exit(f"expected {customers} customers and no errors")


def measure(server: Server, args: argparse.Namespace) -> Result:
    """Warm up, then the timed run, with as many pre-built requests as twice the warm-up pace needs."""
    tag = server.name[0]
    warmup = messages(server, f"w{tag}", args.max_requests // 4, args.customers, "BAL")
    pace = drive(server, warmup, args.connections, args.warmup).rate
    count = min(args.max_requests, int(pace * args.seconds * 2) + 1000)
    timed = messages(server, f"t{tag}", count, args.customers, "BAL")
    result = drive(server, timed, args.connections, args.seconds)
    if result.requests == count:
        print(f"  note: {server.name} used all {count} pre-built requests before {args.seconds:g} s")
    return result


def report(results: dict[str, Result], connections: int) -> bool:
    print(f"\n{'server':<8}{'msg/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'requests':>10}{'generator CPU':>15}")
    for name, r in results.items():
        print(
            f"{name:<8}{r.rate:>9.1f}{r.percentile_ms(50):>9.1f}{r.percentile_ms(99):>9.1f}"
            f"{r.errors:>8}{r.requests:>10}{r.client_cpu / r.seconds:>14.0%}"
        )
    print("(generator CPU: the load generator's own use, as a share of one core)")
    app, hello = results["app"], results["hello"]
    ratio, p99 = app.rate / hello.rate, app.percentile_ms(99)
    print(f"\nthroughput ratio app/hello: {ratio:.3f}")
    aim = ", aim met" if ratio >= AIM_RATIO else ""
    checks = [
        (ratio >= MIN_RATIO, f"ratio >= {MIN_RATIO} (aim {AIM_RATIO}): {ratio:.3f}{aim}"),
        (p99 < MAX_P99_MS, f"app p99 < {MAX_P99_MS:.0f} ms at {connections} connections: {p99:.1f} ms"),
        (app.errors + hello.errors == 0, f"zero errors: {app.errors} app, {hello.errors} hello"),
    ]
    print("targets:")
    for passed, text in checks:
        print(f"  [{'PASS' if passed else 'FAIL'}] {text}")
    return all(passed for passed, _ in checks)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1000, help="phones to enrol (default 1000)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument("--seconds", type=float, default=10, help="timed run per server (default 10)")
    parser.add_argument("--warmup", type=float, default=2, help="warm-up per server, not counted (default 2)")
    parser.add_argument("--max-requests", type=int, default=60000, help="pre-built requests cap (default 60000)")
    return parser.parse_args()


def start_run() -> None:
    """What every benchmark does first: stop cleanly on SIGTERM, and warn when the machine is busy."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the servers get stopped
    busy = cpu_busy_share()
    if busy > 0.1:
        print(f"warning: the CPUs are already {busy:.0%} busy; other work on this machine skews the figures")


def report_checks(checks: list[tuple[bool, str]]) -> int:
    """Print the checks; the exit status: 1 if any failed."""
    print("\nchecks:")
    for passed, text in checks:
        print(f"  [{'PASS' if passed else 'FAIL'}] {text}")
    return 0 if all(passed for passed, _ in checks) else 1


def main() -> int:
    args = parse_args()
    start_run()
    print(f"recreating database {DB_NAME}")
    recreate_database()
    with ExitStack() as servers:
        app = servers.enter_context(gunicorn("app", "wsgi:app"))
        hello = servers.enter_context(gunicorn("hello", "bench.hello_app:app"))
        print(f"app on {app.url}, hello on {hello.url} ({' '.join(GUNICORN_ARGS)})")
        print(f"enrolling {args.customers} customers through the webhook, {args.connections} connections")
        enrol(app, args.customers, args.connections)
        bal = messages(app, "s0", 1, args.customers, "BAL")[0]
        print(f"  BAL answers: {reply_text(exchange(app.port, bal))}".replace("\n", " / "))
        results = {}
        for server in (app, hello):
            print(f"driving {server.name}: {args.warmup:g} s warm-up, {args.seconds:g} s timed")
            results[server.name] = measure(server, args)
    return 0 if report(results, args.connections) else 1


if __name__ == "__main__":
    sys.exit(main())
