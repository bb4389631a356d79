"""Where one message's time goes, in process: the real app's WSGI callable, no gunicorn.

For BAL (enrolled customers) and for a purchase's confirmation ("1" after staff sent
"LOG <new phone> <amount>", PIN session open), it prints: messages per second and ms per
message in one process; round trips to PostgreSQL per message (each string the driver sends,
which may carry the transaction's BEGIN or COMMIT with a statement); and the time per layer, exclusive (a layer's time excludes the layers it calls):

- HTTP/Flask: the WSGI stack, form parsing, reading the inbound message (what is left);
- signature: the Twilio signature check (webhooks/signature.py, twilio's RequestValidator);
- dispatcher + SQLAlchemy: the dispatcher's own work (vendor, lock, saving the state and the
  message, the session and its transaction), outside the services;
- services: the use cases (bot/services, bot/outbound), with their SQLAlchemy work;
- SQL round trips: time inside the database driver (network and server);
- engine/flows: the engine and the flow steps;
- rendering: the message catalog and the TwiML;
- outbound job: the send job, which runs inline with the in-process fake Redis (with a real one,
  --redis-url, the web process only queues it, as in production).

The layers are timed by wrapping those functions, which adds a little to each; the plain rate
is timed without the wrappers. --top N adds cProfile's top N functions by own time.

How: it drops and recreates the database `bench_profile`, loads MAMA with --staff staff, builds
the app in this process, enrols --customers phones by JOIN MAMA through it, opens the staff PIN
sessions, then times pre-signed WSGI requests.

    .venv/bin/python bench/profile_webhook.py [--messages 2000] [--purchases 400] [--top 0]
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import inspect
import itertools
import os
import pstats
import sys
import time
from collections import defaultdict
from urllib.parse import urlencode

import harness as bench  # bench/ is on sys.path when this file runs as a script
import purchase
from twilio.request_validator import RequestValidator
from werkzeug.test import EnvironBuilder

bench.DB_NAME = "bench_profile"  # after importing purchase, which sets its own
BASE_URL = "http://127.0.0.1:5000"
LAYERS = (
    "HTTP/Flask", "signature", "dispatcher + SQLAlchemy", "services", "SQL round trips", "engine/flows", "rendering",
    "outbound job",
)
_sids = itertools.count()
_RUN = f"{time.time_ns() // 1000 % 16**10:010x}"  # MessageSids unique across runs on one database


class Meter:
    """Exclusive time per layer, from wrapped functions (one thread)."""

    def __init__(self):
        self.totals: dict[str, float] = defaultdict(float)
        self.nested: list[float] = []  # time spent in wrapped callees, per open call
        self.on = False
        self.statements = 0
        self.commits = 0

    def wrap(self, layer: str, function):
        @functools.wraps(function)
        def timed(*args, **kwargs):
            if not self.on:
                return function(*args, **kwargs)
            started = time.perf_counter()
            self.nested.append(0.0)
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                self.totals[layer] += elapsed - self.nested.pop()
                if self.nested:
                    self.nested[-1] += elapsed

        timed.__wrapped_by_meter__ = True
        return timed

    def reset(self) -> None:
        self.totals.clear()
        self.statements = self.commits = 0


def make_app():
    os.environ.update(bench.app_env(BASE_URL))
    sys.path.insert(0, str(bench.ROOT))
    from bot.app import create_app

    return create_app()


def environ(sender: str, body: str) -> dict:
    return signed_environ(bench.inbound_form(f"SM{_RUN}{next(_sids):022x}", sender, body, "Bench"))


def signed_environ(form: dict[str, str]) -> dict:
    """The WSGI environ of Twilio's POST of `form`, signed."""
    signature = RequestValidator(bench.AUTH_TOKEN).compute_signature(BASE_URL + bench.INBOUND_PATH, form)
    builder = EnvironBuilder(
        path=bench.INBOUND_PATH, method="POST", base_url=BASE_URL, data=urlencode(form),
        content_type="application/x-www-form-urlencoded", headers={"X-Twilio-Signature": signature},
    )
    return builder.get_environ()


def call(app, request: dict, expected: str = "") -> None:
    statuses = []
    body = b"".join(app(request, lambda status, headers, exc_info=None: statuses.append(status))).decode()
    if not statuses[0].startswith("200") or expected not in body:
        sys.exit(f"answered {statuses[0]}: {body[:300]!r} (expected {expected!r})")


# --- instrumenting ------------------------------------------------------------------------


def instrument(app, meter: Meter) -> None:
    """Wrap each layer's functions, wherever the project's modules refer to them."""
    from bot import catalog, db
    from bot.dispatcher import Dispatcher
    from bot.engine import Engine
    from webhooks import signature, twilio as webhook

    replace_everywhere(signature.signed_form, meter.wrap("signature", signature.signed_form))
    Dispatcher.handle = meter.wrap("dispatcher + SQLAlchemy", Dispatcher.handle)
    dispatcher = app.extensions["dispatcher"]
    dispatcher.deliver = meter.wrap("outbound job", dispatcher.deliver)
    for name in ("handle", "is_secret"):
        setattr(Engine, name, meter.wrap("engine/flows", getattr(Engine, name)))
    replace_everywhere(catalog.render, meter.wrap("rendering", catalog.render))
    replace_everywhere(webhook.twiml, meter.wrap("rendering", webhook.twiml))
    for module in [m for name, m in list(sys.modules.items()) if name.startswith("bot.services.") or name == "bot.outbound"]:
        wrap_module(module, "services", meter)
    database = app.extensions["runtime"].db
    for dialect in {engine.dialect for engine in database.engines}:
        for name in ("do_execute", "do_execute_no_params", "do_executemany", "do_commit", "do_rollback"):
            setattr(dialect, name, meter.wrap("SQL round trips", getattr(dialect, name)))
    # Statements run straight on the driver's cursor pass by none of those: the whole call counts
    # as the round trip (its own Python is a few microseconds).
    replace_everywhere(db.fetch_prepared, meter.wrap("SQL round trips", db.fetch_prepared))
    count_round_trips(app, meter)


def wrap_module(module, layer: str, meter: Meter) -> None:
    """Every plain function and method defined in `module` (not generators, not dunders)."""
    for value in list(vars(module).values()):
        if inspect.isfunction(value) and value.__module__ == module.__name__ and _wrappable(value):
            replace_everywhere(value, meter.wrap(layer, value))
        elif inspect.isclass(value) and value.__module__ == module.__name__:
            for name, member in list(vars(value).items()):
                if inspect.isfunction(member) and not name.startswith("__") and _wrappable(member):
                    setattr(value, name, meter.wrap(layer, member))


def _wrappable(function) -> bool:
    return not (inspect.isgeneratorfunction(function) or getattr(function, "__wrapped_by_meter__", False))


def replace_everywhere(original, wrapped) -> None:
    """Point every project module's name for `original` at `wrapped`."""
    for name, module in list(sys.modules.items()):
        if module is None or not name.split(".")[0] in ("bot", "flows", "webhooks", "workers"):
            continue
        for attribute, value in list(vars(module).items()):
            if value is original:
                setattr(module, attribute, wrapped)


def count_round_trips(app, meter: Meter) -> None:
    """Each string the driver's cursors send is a round trip: counted on the cursors of the
    pool's connections and of messages' own (new ones from now on), with those that carry a
    COMMIT."""
    import psycopg2.extensions
    from sqlalchemy import event

    class Counting(psycopg2.extensions.cursor):
        def execute(self, query, params=None):
            if meter.on:
                meter.statements += 1
                meter.commits += query.endswith("COMMIT")
            return super().execute(query, params)

    db = app.extensions["runtime"].db
    for engine in db.engines:
        event.listen(engine, "connect", lambda dbapi_connection, _record: setattr(dbapi_connection, "cursor_factory", Counting))
    db.dispose()


# --- measuring ----------------------------------------------------------------------------


def timed(app, pairs: list[tuple[dict, str]], before=None, meter: Meter | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of the requests (each after its `before` request, not timed, if
    given), with the `meter` on for them alone."""
    wall = cpu = 0.0
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):  # the console sender prints
        for i, (request, expected) in enumerate(pairs):
            if before:
                call(app, *before[i])
            if meter:
                meter.on = True
            started, cpu_started = time.perf_counter(), time.process_time()
            call(app, request, expected)
            wall += time.perf_counter() - started
            cpu += time.process_time() - cpu_started
            if meter:
                meter.on = False
    return wall, cpu


def measure(app, meter: Meter, title: str, build, args: argparse.Namespace) -> None:
    """`build(n)` gives n (requests, set-up requests or None): warm up, time plain, then
    metered, then optionally under cProfile."""
    timed(app, *build(100))
    count = args.messages if title == "BAL" else args.purchases
    plain, cpu = timed(app, *build(count))
    meter.reset()
    metered, _ = timed(app, *build(count), meter=meter)
    per = 1000 / count
    print(f"\n{title}: {count / plain:.0f}/s in one process, {plain * per:.2f} ms each, of which {cpu * per:.2f} ms "
          f"CPU in this process ({metered * per:.2f} ms with the layer timers)")
    print(f"  {meter.statements / count:.1f} round trips to PostgreSQL per message, {meter.commits / count:.1f} of them with"
          " the COMMIT (the BEGIN goes with the first)")
    print(f"  {'layer':<26}{'ms':>7}{'share':>7}")
    layered = dict(meter.totals)
    layered["HTTP/Flask"] = metered - sum(v for k, v in layered.items() if k != "HTTP/Flask")
    for layer in LAYERS:
        seconds = layered.get(layer, 0.0)
        print(f"  {layer:<26}{seconds * per:>7.3f}{seconds / metered:>7.0%}")
    if args.top:
        profiler = cProfile.Profile()
        profiler.runcall(timed, app, *build(count))
        print(f"\n  top {args.top} by own time under cProfile:")
        pstats.Stats(profiler).strip_dirs().sort_stats("tottime").print_stats(args.top)


def bal_requests(customers: int):
    turn = itertools.count()

    def build(n: int):
        return [(environ(bench.phone(next(turn) % customers), "BAL"), "Balance:") for _ in range(n)], None

    return build


def confirm_requests(staff: int):
    """Each purchase: LOG <a new phone> <amount> (set-up, not timed), then "1" (timed)."""
    customers = itertools.count(1_000_000 + time.time_ns() // 10**9 % 80 * 100_000)  # new phones, run after run

    def build(n: int):
        lanes = [(purchase.staff_phone(i % staff), bench.phone(next(customers))) for i in range(n)]
        logs = [(environ(till, f"LOG {customer} 5000"), "Log ₦5,000") for till, customer in lanes]
        confirms = [(environ(till, "1"), "Logged ₦5,000") for till, _ in lanes]
        return confirms, logs

    return build


def purchase_steps(build, count: int) -> list[tuple[dict, str]]:
    """`count` purchases from `build` (confirm_requests'), each its LOG then its confirmation."""
    confirms, logs = build(count)
    return [step for pair in zip(logs, confirms) for step in pair]


def open_sessions(app, staff: int) -> None:
    for i in range(staff):
        phone = purchase.staff_phone(i)
        call(app, environ(phone, "LOG"), "PIN")
        call(app, environ(phone, purchase.pin(i)), "phone number or member code")
        call(app, environ(phone, "CANCEL"), "Cancelled")


def floor_replies(build):
    """`build`'s BALs (bal_requests'), n at a time, each expecting the BAL floor's answer."""
    return lambda n: [(request, bench.FLOOR_BAL_REPLY) for request, _ in build(n)[0]]


def floor_bal(customers: int, count: int) -> None:
    """The reference floor webhook on the same database, in this process, for comparison."""
    bench.set_up_floor(customers)
    floor_webhook = bench.reference_module("floor_webhook")
    requests = floor_replies(bal_requests(customers))
    timed(floor_webhook.app, requests(100))
    plain, cpu = timed(floor_webhook.app, requests(count))
    print(f"\nfloor (shared/reference/floor_webhook.py) BAL: {count / plain:.0f}/s in one process, "
          f"{plain / count * 1000:.2f} ms each, of which {cpu / count * 1000:.2f} ms CPU in this process"
          " (5 round trips: BEGIN, 3 statements, COMMIT)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000, help="BALs timed (default 2000)")
    parser.add_argument("--purchases", type=int, default=400, help="confirmations timed (default 400)")
    parser.add_argument("--customers", type=int, default=1000, help="enrolled customers sending BAL (default 1000)")
    parser.add_argument("--staff", type=int, default=4, help="staff members taking turns (default 4)")
    parser.add_argument("--top", type=int, default=0, help="also show cProfile's top N functions")
    parser.add_argument("--redis-url", default="", help="a real Redis for the app (emptied first); default: in-process")
    args = parser.parse_args()
    bench.use_redis(args.redis_url)
    print(f"recreating database {bench.DB_NAME}")
    bench.recreate_database(purchase.tenant_file(args.staff))
    app = make_app()
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        for i in range(args.customers):
            call(app, environ(bench.phone(i), "JOIN MAMA"))
        open_sessions(app, args.staff)
    bench.sql("ANALYZE")  # statistics for the rows just written, as a live database has them
    meter = Meter()
    instrument(app, meter)
    floor_bal(args.customers, args.messages)
    measure(app, meter, "BAL", bal_requests(args.customers), args)
    measure(app, meter, "purchase confirm", confirm_requests(args.staff), args)


if __name__ == "__main__":
    main()
