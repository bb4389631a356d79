"""What the benchmarks share: the database, the servers, signed requests, the load generators
and the report. A benchmark script imports it (`import harness as bench`: bench/ is on
sys.path when a script there runs) and keeps only what it measures.

- Database: `recreate_database()` makes a fresh, migrated DB_NAME (each benchmark sets its own)
  with a vendor loaded; `app_env()` is the app's environment for it; `sql()` runs one statement.
- Servers: `gunicorn()` starts any WSGI app on a free port under the given settings (SYNC, or
  GTHREAD: the Procfile's) and stops it; `reference_dir()` finds /work/shared/reference's
  hello-world and raw-SQL floor.
- Requests: `messages()` pre-builds and pre-signs inbound webhooks the way Twilio signs them.
- Load: `wrk()` replays pre-signed requests through wrk (a C load generator, so that the
  generator does not take the CPU the servers need); `drive()` and `run_in_parallel()` are a
  threaded Python client for what wrk cannot do: conversations that read each reply.
- Report: `start_run()`, `print_table()` and `report_checks()`.
"""
from __future__ import annotations

import http.client
import importlib
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ElementTree
from contextlib import contextmanager
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
from tests.processes import stop  # noqa: E402  (also bench.stop, for the benchmarks' servers)

BIN = ROOT / ".venv" / "bin"
PG_URL = "postgresql://postgres@127.0.0.1:5432"
DB_NAME = "bench_webhook"  # each benchmark sets its own before calling the helpers below
AUTH_TOKEN = "bench-webhook-auth-token"
PIN_PEPPER = "bench-pin-pepper"
HOST = "127.0.0.1"
INBOUND_PATH = "/webhooks/twilio/inbound"
VENDOR_NUMBER = "+14155238886"
FIRST_PHONE = 2348040000000
# gunicorn settings: plain sync workers, and the Procfile's threaded workers.
SYNC = ["--workers", "2", "--worker-class", "sync"]
GTHREAD = ["--workers", "2", "--worker-class", "gthread", "--threads", "8"]
SETTINGS = {"sync": SYNC, "gthread": GTHREAD}
GUNICORN_ARGS = GTHREAD  # what the app runs with in production
WRK_SCRIPT = Path(__file__).resolve().parent / "signed_requests.lua"

STARTUP_TIMEOUT = 30  # seconds for a server to answer its first request
SOCKET_TIMEOUT = 10  # seconds for any one socket operation
ENROL_TIMEOUT = 60  # seconds for all JOINs


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
    latencies: list[float]  # of the good answers, in seconds
    client_cpu: float  # CPU seconds the load generator itself used

    @property
    def rate(self) -> float:
        return (self.requests - self.errors) / self.seconds

    def percentile_ms(self, p: int) -> float:
        if len(self.latencies) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1] * 1000


@dataclass(frozen=True)
class WrkResult:
    """What wrk measured (it keeps its own latency histogram)."""

    requests: int
    errors: int  # socket errors, timeouts, and answers that were not 200 with the expected text
    seconds: float
    p50_ms: float
    p99_ms: float
    client_cpu: float
    ran_out: bool  # the pre-built requests were used up before the time was

    @property
    def rate(self) -> float:
        return (self.requests - self.errors) / self.seconds

    def percentile_ms(self, p: int) -> float:
        return {50: self.p50_ms, 99: self.p99_ms}[p]


@dataclass
class Tally:
    """What one connection saw."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0


# --- database -----------------------------------------------------------------------------


def db_url() -> str:
    return f"{PG_URL}/{DB_NAME}"


REDIS_URL: str | None = None  # a benchmark may set a real Redis for the job queue; None: in-process, jobs inline


def use_redis(url: str | None) -> None:
    """The app's Redis from here on: a real one (emptied now), or None/'' for the in-process fake."""
    global REDIS_URL
    REDIS_URL = url or None
    if REDIS_URL:
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()


def app_env(public_base_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TWILIO_ACCOUNT_SID", "PUBLIC_BASE_URL")}
    env.update(DATABASE_URL=db_url(), TWILIO_AUTH_TOKEN=AUTH_TOKEN, PIN_PEPPER=PIN_PEPPER)
    if REDIS_URL:
        env["REDIS_URL"] = REDIS_URL
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


def flask(*args: str) -> None:
    command = [str(BIN / "flask"), "--app", "wsgi", *args]
    done = subprocess.run(command, cwd=ROOT, env=app_env(), capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")


def ledger_check() -> tuple[bool, str]:
    """`flask ledger check`: every balance equals its ledger and its lots, and none is negative."""
    done = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "ledger", "check"],
        cwd=ROOT, env=app_env(), capture_output=True, text=True, timeout=300,
    )
    lines = (done.stdout + done.stderr).strip().splitlines()
    return done.returncode == 0, lines[-1] if lines else f"exit {done.returncode}"


def sql(statement: str, params: dict | None = None) -> list[tuple]:
    """Run one statement in its own transaction; its rows, if any."""
    connection = psycopg2.connect(db_url())
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()


def count_customers() -> int:
    return sql("SELECT count(*) FROM customers")[0][0]


# --- servers ------------------------------------------------------------------------------


def rq_worker(redis_url: str) -> tuple[str, ...]:
    """An RQ worker started as the Procfile starts it."""
    return (str(BIN / "rq"), "worker", "--worker-class", "rq.worker.SimpleWorker", "--with-scheduler", "-c", "workers.rq_config", "--url", redis_url, "default")


def reference_dir() -> Path:
    """/work/shared/reference's servers: `shared/reference` beside the clone or beside one of
    its parents (in CI `shared/` is a sibling of the clone; a worktree sits one level deeper)."""
    for folder in ROOT.parents:
        candidate = folder / "shared" / "reference"
        if (candidate / "floor_webhook.py").exists():
            return candidate
    sys.exit(f"no shared/reference/floor_webhook.py beside {ROOT} or its parents")


def reference_module(name: str):
    """A reference server's module (floor_webhook, hello_webhook), loaded into this process; the
    floor's connection goes to this benchmark's database."""
    os.environ["REF_DSN"] = db_url()
    folder = str(reference_dir())
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module(name)


FLOOR_BAL_REPLY = "You have 25 points."  # the BAL floor's answer to the phones set_up_floor enrols


def set_up_floor(customers: int) -> None:
    """The BAL floor's ref_* tables, with the first `customers` phones enrolled."""
    reference_module("floor_webhook").ref_setup(db_url(), VENDOR_NUMBER, [phone(i) for i in range(customers)])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(
    name: str, app_spec: str, settings: list[str] = GUNICORN_ARGS, env: dict[str, str] | None = None,
    chdir: Path = ROOT,
) -> Iterator[Server]:
    """`app_spec` under gunicorn with `settings`, on a free port; `env` adds to app_env()."""
    server = Server(name, free_port())
    command = [str(BIN / "gunicorn"), *settings, "--bind", f"{HOST}:{server.port}", app_spec]
    with tempfile.TemporaryFile() as log:
        environment = {**app_env(server.url), **(env or {})}
        process = subprocess.Popen(command, cwd=chdir, env=environment, stdout=log, stderr=subprocess.STDOUT)
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


# --- requests -----------------------------------------------------------------------------


def phone(index: int) -> str:
    return f"+{FIRST_PHONE + index}"


def inbound_form(sid: str, sender: str, body: str, profile_name: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "AccountSid": "ACbench",
        "From": f"whatsapp:{sender}",
        "To": f"whatsapp:{VENDOR_NUMBER}",
        "Body": body,
        "NumMedia": "0",
        "ProfileName": profile_name,
    }


def signature(server: Server, form: dict[str, str]) -> str:
    return RequestValidator(AUTH_TOKEN).compute_signature(server.url + INBOUND_PATH, form)


def signed_request(server: Server, form: dict[str, str]) -> bytes:
    """The bytes of the POST Twilio would send, signed the way Twilio signs it."""
    body = urlencode(form).encode()
    head = (
        f"POST {INBOUND_PATH} HTTP/1.1\r\n"
        f"Host: {HOST}:{server.port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"X-Twilio-Signature: {signature(server, form)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


def forms(tag: str, count: int, customers: int, body: str) -> list[dict[str, str]]:
    """`count` messages `body`, from the customers in turn; MessageSids unique per tag."""
    return [
        inbound_form(f"SM{tag}{i:0{32 - len(tag)}x}", phone(i % customers), body, f"Bench {i % customers}")
        for i in range(count)
    ]


def messages(server: Server, tag: str, count: int, customers: int, body: str) -> list[bytes]:
    """`forms()` as signed requests for `server`."""
    return [signed_request(server, form) for form in forms(tag, count, customers, body)]


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


# --- load generators ----------------------------------------------------------------------


def wrk(server: Server, requests: list[dict[str, str]], expected: str, connections: int, seconds: float) -> WrkResult:
    """Replay the signed `requests` (each once) at `server` through wrk over `connections`
    connections for `seconds`. An answer counts when it is a 200 containing `expected`."""
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    threads = 2 if connections >= 2 else 1
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as file:
        # One "signature body" line per request: wrk cannot sign (HMAC-SHA1), so it replays.
        file.writelines(f"{signature(server, form)} {urlencode(form)}\n" for form in requests)
        file.flush()
        command = [
            "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", f"{SOCKET_TIMEOUT}s",
            "-s", str(WRK_SCRIPT), server.url + INBOUND_PATH, "--", file.name, expected, str(threads),
        ]
        cpu_before = children_cpu_seconds()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = process.communicate(timeout=seconds + 60)
        client_cpu = children_cpu_seconds() - cpu_before  # wrk's, now that it was waited for
    if process.returncode != 0:
        sys.exit(f"wrk failed ({process.returncode}):\n{err[-2000:]}")
    figures = json.loads(out.strip().splitlines()[-1])
    return WrkResult(
        requests=figures["requests"],
        errors=figures["socket_errors"] + figures["wrong"],
        seconds=figures["seconds"],
        p50_ms=figures["p50_ms"],
        p99_ms=figures["p99_ms"],
        client_cpu=client_cpu,
        ran_out=figures["ran_out"] > 0,
    )


def wrk_measure(
    server: Server, tag: str, customers: int, body: str, expected: str, connections: int, warmup: float, seconds: float,
    max_requests: int,
) -> WrkResult:
    """Warm up, then the timed run, with as many pre-built requests as three times the warm-up
    pace needs (a run that uses them all up is flagged)."""
    pace = wrk(server, forms(f"w{tag}", max_requests // 8, customers, body), expected, connections, warmup).rate
    count = min(max_requests, int(pace * seconds * 3) + 5000)
    timed = forms(f"t{tag}", count, customers, body)
    return wrk(server, timed, expected, connections, seconds)


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


def drive(server: Server, requests: list[bytes], connections: int, seconds: float, expected: str = "") -> Result:
    """The threaded client: send `requests` over `connections` concurrent connections (a new
    one per request, as Twilio's arrive) until they run out or `seconds` pass; the requests in
    flight at the deadline finish and count. Any answer but a 200 containing `expected` is an error."""
    lanes = [requests[i::connections] for i in range(connections)]
    tallies = [Tally() for _ in lanes]
    cpu_before = cpu_seconds()
    deadline = time.perf_counter() + seconds
    lane_runs = [partial(run_lane, server.port, lane, deadline, tally, expected.encode()) for lane, tally in zip(lanes, tallies)]
    # The last request of a lane may start just before the deadline.
    elapsed = run_in_parallel(lane_runs, deadline + 2 * SOCKET_TIMEOUT)
    return result_of(tallies, elapsed, cpu_seconds() - cpu_before)


def run_lane(port: int, lane: list[bytes], deadline: float, tally: Tally, expected: bytes = b"") -> None:
    clock = time.perf_counter
    for payload in lane:
        sent = clock()
        if sent >= deadline:
            return
        try:
            answer = exchange(port, payload)
            ok = is_ok(answer) and expected in answer
        except OSError:
            ok = False
        if ok:
            tally.latencies.append(clock() - sent)
        else:
            tally.errors += 1


def result_of(tallies: list[Tally], seconds: float, client_cpu: float = 0.0) -> Result:
    latencies = [latency for tally in tallies for latency in tally.latencies]
    errors = sum(tally.errors for tally in tallies)
    return Result(len(latencies) + errors, errors, seconds, latencies, client_cpu)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def children_cpu_seconds() -> float:
    """CPU used by the child processes that have ended and been waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
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


def enrol(app: Server, customers: int, connections: int) -> None:
    """JOIN MAMA from `customers` phones through the webhook."""
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


# --- report -------------------------------------------------------------------------------


def start_run() -> None:
    """What every benchmark does first: stop cleanly on SIGTERM, and warn when the machine is busy."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the servers get stopped
    busy = cpu_busy_share()
    if busy > 0.1:
        print(f"warning: the CPUs are already {busy:.0%} busy; other work on this machine skews the figures")


def print_table(rows: dict[str, Result | WrkResult], first: str = "server") -> None:
    print(f"{first:<16}{'msg/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'requests':>10}{'generator CPU':>15}")
    for name, r in rows.items():
        print(
            f"{name:<16}{r.rate:>9.1f}{r.percentile_ms(50):>9.1f}{r.percentile_ms(99):>9.1f}"
            f"{r.errors:>8}{r.requests:>10}{r.client_cpu / r.seconds:>14.0%}"
        )
    print("(generator CPU: the load generator's own use, as a share of one core)")


def report_checks(checks: list[tuple[bool, str]]) -> int:
    """Print the checks; the exit status: 1 if any failed."""
    print("\nchecks:")
    for passed, text in checks:
        print(f"  [{'PASS' if passed else 'FAIL'}] {text}")
    return 0 if all(passed for passed, _ in checks) else 1
