"""Where one BAL message's time goes, in process: the real app's WSGI callable, no gunicorn.

Needs the database bench/webhook.py leaves behind (`bench_webhook`, customers enrolled).
Pre-builds signed WSGI environs, times them plain, counts the SQL statements per message,
then runs them under cProfile and prints the top functions.

    .venv/bin/python bench/profile_webhook.py [--messages 2000] [--top 25]
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from urllib.parse import urlencode

import webhook as bench  # bench/ is on sys.path when this file runs as a script
from twilio.request_validator import RequestValidator
from werkzeug.test import EnvironBuilder

BASE_URL = "http://127.0.0.1:5000"


def make_app():
    os.environ.update(bench.app_env(BASE_URL))
    sys.path.insert(0, str(bench.ROOT))
    from bot.app import create_app

    return create_app()


def environs(count: int, customers: int, tag: str) -> list[dict]:
    validator = RequestValidator(bench.AUTH_TOKEN)
    built = []
    for i in range(count):
        form = {
            "MessageSid": f"SM{tag}{i:0{32 - len(tag)}x}",
            "From": f"whatsapp:{bench.phone(i % customers)}",
            "To": f"whatsapp:{bench.VENDOR_NUMBER}",
            "Body": "BAL",
            "NumMedia": "0",
            "ProfileName": f"Bench {i % customers}",
        }
        signature = validator.compute_signature(BASE_URL + bench.INBOUND_PATH, form)
        builder = EnvironBuilder(
            path=bench.INBOUND_PATH, method="POST", base_url=BASE_URL, data=urlencode(form),
            content_type="application/x-www-form-urlencoded", headers={"X-Twilio-Signature": signature},
        )
        built.append(builder.get_environ())
    return built


def run(app, batch: list[dict]) -> float:
    statuses = []
    start = time.perf_counter()
    for environ in batch:
        b"".join(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    elapsed = time.perf_counter() - start
    failed = [status for status in statuses if not status.startswith("200")]
    if failed:
        sys.exit(f"{len(failed)} answers were not 200, e.g. {failed[0]}")
    return elapsed


def count_statements(app, batch: list[dict]) -> float:
    from sqlalchemy import event

    engine = app.extensions["runtime"].db.engine
    counter = [0]

    def count(*_):
        counter[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        run(app, batch)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return counter[0] / len(batch)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    app = make_app()
    stamp = f"{int(time.time()) % 10**8:08x}"
    run(app, environs(200, args.customers, f"pw{stamp}"))  # warm-up: connections, caches
    plain = run(app, environs(args.messages, args.customers, f"pp{stamp}"))
    print(f"{args.messages / plain:.0f} BAL/s in one process, {plain / args.messages * 1000:.2f} ms each")
    print(f"{count_statements(app, environs(200, args.customers, f'pc{stamp}')):.1f} SQL statements per BAL")
    batch = environs(args.messages, args.customers, f"pf{stamp}")
    profiler = cProfile.Profile()
    profiler.runcall(run, app, batch)
    stats = pstats.Stats(profiler).strip_dirs().sort_stats("tottime")
    print(f"\ntop {args.top} by own time over {args.messages} messages:")
    stats.print_stats(args.top)
    print(f"top {args.top} by cumulative time:")
    stats.sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
