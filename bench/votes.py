"""Benchmark of a burst of SMS votes against a hello-world Flask baseline.

What it measures: votes per second, p50/p99 latency and errors of POST
/webhooks/twilio/inbound when 100,000 distinct phones each text a contestant to the show's
short code, signed like Twilio's requests, with the real app (`wsgi:app`, PostgreSQL) under
gunicorn with the Procfile's settings (2 workers of 8 threads, gthread). The same requests, at
the same concurrency, then go to the shared hello-world webhook (hello_webhook.py from
shared/reference: fixed TwiML, no signature check, no database) under the same gunicorn
settings; the ratio of the two rates says how much of the WSGI stack's capacity a vote leaves.
With `--door kannel` the app gets the same votes as Kannel's smsbox gets them to it (GET
/webhooks/kannel/inbound with the shared key, the carrier's message id and the phone as the
SMSC writes it), the way carriers' short codes come in; hello-world still gets Twilio's POSTs,
the stack's ceiling either way. Beside the rates, each burst's machine CPU time per request
(/proc/stat: the server, PostgreSQL, wrk and the kernel): on a shared machine whose spare CPU
comes and goes, the ratio of those moves less than the ratio of the rates.
Every vote is durable in PostgreSQL before its 200 (synchronous commit; concurrent commits
share their WAL flushes), so afterwards `flask --app wsgi voting results` must count exactly
as many votes as there were 200 answers.

How: it drops and recreates the database `bench_votes`, runs the migrations, loads a show
whose episode 1 is open now, pre-signs every request (a unique MessageSid and phone each) and
drives each server with wrk (`apt-get install wrk`) and bench/votes.lua at --connections
keep-alive connections: first a warm-up of --warmup votes, then the burst. That is one round;
--rounds rounds alternate app and hello, each with new phones, and the medians are reported.

Run from the project root:

    .venv/bin/python bench/votes.py [--phones 100000] [--connections 64] [--rounds 3] [--door kannel]

Exits 1 when a target misses: >= 2,000 votes/s, ratio >= 0.3, p99 < 100 ms, every request
answered 200, and results equal to the 200s.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import harness as bench  # bench/ is on sys.path when this file runs as a script
from twilio.request_validator import RequestValidator

bench.DB_NAME = "bench_votes"  # read by bench's database, flask and server helpers
SHOW_CODE, SHORT_CODE = "BENCH", "1515"
APP_PORT, HELLO_PORT = 5650, 5651  # this project's bench ports
FIRST_PHONE = 85510000000  # +855 10 000 000: a Cambodian mobile range
CONTESTANTS = ["SOKHA", "DARA", "CHANTHA", "VICHEKA"]
BODIES = ["1", "VOTE 2", "v3", "vicheka"]  # the forms viewers use, in turn
REFERENCE_DIRS = ("../shared/reference", "../../shared/reference")  # CI's checkout; a worktree's
MIN_RATE, MIN_RATIO, MAX_P99_MS = 2000.0, 0.3, 100.0
WRK_LIMIT_SECONDS = 600  # a burst that has not finished by then is a failure
SERVER_ARGS = list(bench.GUNICORN_ARGS)  # the Procfile's, unless --threads says otherwise
KANNEL_PATH, KANNEL_KEY = "/webhooks/kannel/inbound", "bench-kannel-key"


@dataclass(frozen=True)
class Burst:
    ok: int
    failed: int
    sent: int
    responses: int
    duration_us: int
    p50_us: int
    p99_us: int
    max_us: int
    connect_errors: int
    read_errors: int
    write_errors: int
    timeouts: int
    busy_cpu_s: float = 0.0  # the whole machine's busy CPU time during the burst (/proc/stat)

    @property
    def rate(self) -> float:
        return self.ok / (self.duration_us / 1e6)

    @property
    def cpu_ms(self) -> float:
        """The machine's CPU time per request answered: the server, PostgreSQL, wrk and the
        kernel together. Steadier than the rates on a shared machine, whose load comes and goes."""
        return 1000 * self.busy_cpu_s / max(self.ok, 1)

    @property
    def errors(self) -> int:
        return self.failed + self.connect_errors + self.read_errors + self.write_errors + self.timeouts


def show_file() -> dict:
    """A show whose first episode is voting now, with caps no single vote reaches."""
    zone = ZoneInfo("Asia/Phnom_Penh")
    now = datetime.now(zone).replace(second=0, microsecond=0, tzinfo=None)
    return {
        "code": SHOW_CODE, "name": "Bench Factor", "country": "KH", "timezone": "Asia/Phnom_Penh",
        "shortcodes": [{"carrier": "smart", "number": SHORT_CODE, "price": 0.25, "currency": "USD"}],
        "max_votes_per_phone_per_episode": 50, "max_votes_per_phone_per_minute": 20,
        "contestants": [{"number": i, "code": code, "name": code.title()} for i, code in enumerate(CONTESTANTS, 1)],
        "episodes": [{"number": 1, "title": "Bench night", "voting_start": (now - timedelta(hours=1)).isoformat(),
                      "voting_end": (now + timedelta(hours=6)).isoformat(), "contestants": [1, 2, 3, 4]}],
    }


def reference_dir(given: str | None) -> Path:
    candidates = [Path(given)] if given else [bench.ROOT / relative for relative in REFERENCE_DIRS]
    for folder in candidates:
        if (folder / "hello_webhook.py").exists():
            return folder.resolve()
    sys.exit(f"hello_webhook.py not found in {', '.join(map(str, candidates))}: give --reference DIR")


@contextmanager
def gunicorn(name: str, app_spec: str, port: int, chdir: Path | None = None) -> Iterator[bench.Server]:
    """bench.gunicorn on a port of this bench's own, with SERVER_ARGS."""
    server = bench.Server(name, port)
    command = [str(bench.BIN / "gunicorn"), *SERVER_ARGS, "--bind", f"{bench.HOST}:{port}"]
    command += ["--chdir", str(chdir)] if chdir else []
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen([*command, app_spec], cwd=bench.ROOT, env=bench.app_env(server.url), stdout=log,
                                   stderr=subprocess.STDOUT)
        try:
            bench.wait_until_answering(process, server, log)
            yield server
        finally:
            bench.stop(process)


def write_requests(path: Path, server: bench.Server, first_phone: int, count: int, tag: str, door: str = "twilio") -> None:
    """`count` votes from phones first_phone.., one a line: the Twilio signature, a tab, the
    body; or, through Kannel's door, the query smsbox sends."""
    if door == "kannel":
        write_kannel_requests(path, first_phone, count, tag)
        return
    validator = RequestValidator(bench.AUTH_TOKEN)
    url = server.url + bench.INBOUND_PATH
    with path.open("w") as file:
        for i in range(count):
            form = {
                "MessageSid": f"SM{tag}{i:0{32 - len(tag)}x}", "AccountSid": "ACbench", "From": f"+{first_phone + i}",
                "To": SHORT_CODE, "Body": BODIES[i % len(BODIES)], "NumMedia": "0",
            }
            file.write(f"{validator.compute_signature(url, form)}\t{urlencode(form)}\n")


def write_kannel_requests(path: Path, first_phone: int, count: int, tag: str) -> None:
    with path.open("w") as file:
        for i in range(count):
            file.write(urlencode(kannel_query(first_phone + i, f"K{tag}{i:0{32 - len(tag)}x}", BODIES[i % len(BODIES)])) + "\n")


def kannel_query(phone: int, message_id: str, text: str) -> dict[str, str]:
    """A vote as smsbox gets it to the app: the phone as the SMSC writes it (no "+")."""
    return {
        "key": KANNEL_KEY, "from": str(phone), "to": SHORT_CODE, "text": text, "smsc": "smart", "id": message_id,
        "ts": "1796468400", "charset": "UTF-8", "coding": "0",
    }


def busy_cpu_seconds() -> float:
    """The CPU time the machine has spent busy since it started (/proc/stat): user, nice, system,
    irq and softirq; not idle or I/O wait, nor time the hypervisor took (steal), and guest time
    is already in user."""
    user, nice, system, _idle, _iowait, irq, softirq = map(int, Path("/proc/stat").read_text().split(maxsplit=8)[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def wrk(server: bench.Server, requests: Path, connections: int, door: str = "twilio") -> Burst:
    threads = 2
    busy_before = busy_cpu_seconds()
    path, method = (KANNEL_PATH, "GET") if door == "kannel" else (bench.INBOUND_PATH, "POST")
    command = [
        "wrk", "-t", str(threads), "-c", str(connections), "-d", f"{WRK_LIMIT_SECONDS}s", "--timeout", "30s",
        "-s", str(bench.ROOT / "bench" / "votes.lua"), server.url, "--", str(requests), str(threads), path, method,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output, finished = [], 0
    for text in process.stdout:  # wrk runs until -d: interrupt it once every thread is done
        output.append(text)
        finished += text.startswith("THREAD-DONE")
        if finished == threads:
            process.send_signal(signal.SIGINT)
    process.wait(timeout=60)
    line = next((text for text in output if text.startswith("RESULT ")), None)
    if process.returncode != 0 or line is None:
        sys.exit("wrk failed:\n" + "".join(output)[-3000:])
    return Burst(**json.loads(line.removeprefix("RESULT ")), busy_cpu_s=busy_cpu_seconds() - busy_before)


def counted_votes() -> int:
    command = [str(bench.BIN / "flask"), "--app", "wsgi", "voting", "results", SHOW_CODE, "--episode", "1", "--json"]
    done = subprocess.run(command, cwd=bench.ROOT, env=bench.app_env(), capture_output=True, text=True, timeout=300, check=True)
    return json.loads(done.stdout)["total"]


def one_round(servers: dict[str, bench.Server], args: argparse.Namespace, round_number: int, folder: Path) -> dict[str, Burst]:
    bursts = {}
    for name, server in servers.items():
        # Phones never vote twice: each round and server has its own range, and its own warm-up range.
        first = FIRST_PHONE + (2 * round_number + (name == "hello")) * (args.phones + args.warmup)
        warmup, burst = folder / f"{name}-warmup.txt", folder / f"{name}-burst.txt"
        door = args.door if name == "app" else "twilio"  # hello-world answers Twilio's POSTs only
        write_requests(warmup, server, first, args.warmup, f"w{round_number}{name[0]}", door)
        write_requests(burst, server, first + args.warmup, args.phones, f"b{round_number}{name[0]}", door)
        warm = wrk(server, warmup, args.connections, door)
        bursts[name] = wrk(server, burst, args.connections, door)
        bursts[f"{name} warm-up"] = warm
        print(f"  round {round_number + 1} {name:<6}{line(bursts[name])}")
    return bursts


def line(burst: Burst) -> str:
    return (f"{burst.rate:>9,.0f} votes/s  p50 {burst.p50_us / 1000:>6.1f} ms  p99 {burst.p99_us / 1000:>6.1f} ms  "
            f"max {burst.max_us / 1000:>7.1f} ms  {burst.cpu_ms:.3f} ms CPU each  {burst.ok:,} x 200, {burst.errors} errors")


def report(rounds: list[dict[str, Burst]], counted: int) -> list[tuple[bool, str]]:
    app = [r["app"] for r in rounds]
    hello = [r["hello"] for r in rounds]
    rate, hello_rate = statistics.median(b.rate for b in app), statistics.median(b.rate for b in hello)
    p50, p99 = statistics.median(b.p50_us for b in app) / 1000, statistics.median(b.p99_us for b in app) / 1000
    ratios = [a.rate / h.rate for a, h in zip(app, hello)]
    ratio = statistics.median(ratios)
    answered = sum(r[name].ok for r in rounds for name in ("app", "app warm-up"))
    errors = sum(r[name].errors for r in rounds for name in r)
    print(f"\nmedian of {len(rounds)} round(s):")
    print(f"  app    {rate:>9,.0f} votes/s  p50 {p50:.1f} ms  p99 {p99:.1f} ms")
    print(f"  hello  {hello_rate:>9,.0f} req/s    p50 {statistics.median(b.p50_us for b in hello) / 1000:.1f} ms  "
          f"p99 {statistics.median(b.p99_us for b in hello) / 1000:.1f} ms")
    print(f"  ratio app/hello {ratio:.3f} (per round: {', '.join(f'{r:.3f}' for r in ratios)})")
    cpu_ratios = [h.cpu_ms / a.cpu_ms for a, h in zip(app, hello)]
    print(f"  machine CPU per request: app {statistics.median(b.cpu_ms for b in app):.3f} ms, hello "
          f"{statistics.median(b.cpu_ms for b in hello):.3f} ms; hello/app {statistics.median(cpu_ratios):.3f} "
          f"(per round: {', '.join(f'{r:.3f}' for r in cpu_ratios)})")
    print(f"  votes counted by `voting results`: {counted:,}; 200 answers from the app (warm-ups included): {answered:,}")
    return [
        (rate >= MIN_RATE, f"votes/s >= {MIN_RATE:,.0f}: {rate:,.0f}"),
        (ratio >= MIN_RATIO, f"ratio to hello-world >= {MIN_RATIO}: {ratio:.3f}"),
        (p99 < MAX_P99_MS, f"p99 < {MAX_P99_MS:.0f} ms: {p99:.1f} ms"),
        (errors == 0, f"every request answered 200: {errors} error(s)"),
        (counted == answered, f"none lost or counted twice: {counted:,} counted for {answered:,} answered 200"),
    ]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phones", type=int, default=100_000, help="distinct phones in a burst, one vote each (default 100000)")
    parser.add_argument("--connections", type=int, default=64, help="concurrent keep-alive connections (default 64)")
    parser.add_argument("--rounds", type=int, default=3, help="bursts per server, alternating; medians reported (default 3)")
    parser.add_argument("--warmup", type=int, default=5_000, help="votes sent before each burst, counted too (default 5000)")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker, for both servers (default 8, the Procfile's)")
    parser.add_argument("--reference", help="folder of hello_webhook.py (default: ../shared/reference from the project)")
    parser.add_argument("--door", choices=("twilio", "kannel"), default="twilio", help="how the app gets the votes (default twilio)")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    hello_dir = reference_dir(args.reference)
    SERVER_ARGS[SERVER_ARGS.index("--threads") + 1] = str(args.threads)
    os.environ["KANNEL_SHARED_SECRET"] = KANNEL_KEY  # for the app's environment (bench.app_env)
    bench.start_run()
    print(f"recreating database {bench.DB_NAME}")
    bench.recreate_database()
    with tempfile.TemporaryDirectory() as folder:
        show = Path(folder) / "show.json"
        show.write_text(json.dumps(show_file()))
        bench.flask("voting", "load", str(show))
        with gunicorn("app", "wsgi:app", APP_PORT) as app, gunicorn("hello", "hello_webhook:app", HELLO_PORT, hello_dir) as hello:
            print(f"app on {app.url} (votes through {args.door.title()}'s door), hello ({hello_dir / 'hello_webhook.py'}) "
                  f"on {hello.url}; {' '.join(SERVER_ARGS)}; wrk, {args.connections} connections")
            print(f"{args.rounds} round(s) of {args.phones:,} votes from distinct phones (after {args.warmup:,} to warm up)")
            rounds = [one_round({"app": app, "hello": hello}, args, n, Path(folder)) for n in range(args.rounds)]
    checks = report(rounds, counted_votes())
    return bench.report_checks(checks)


if __name__ == "__main__":
    sys.exit(main())
