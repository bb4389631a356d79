"""Test set-up. By default: a migrated SQLite file and in-process fake Redis. With
TEST_DATABASE_URL / TEST_REDIS_URL: the real PostgreSQL and Redis (and the row-lock tests)."""
from __future__ import annotations

import json
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import partial
from pathlib import Path
from urllib.parse import urlencode

import pytest
from rq import SimpleWorker
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from twilio.request_validator import RequestValidator
from werkzeug.security import generate_password_hash

from bot import migrate
from bot.app import create_app
from bot.catalog import CATALOG, render
from bot.config import Config, normalise_database_url
from bot.devclient import parse_twiml
from bot.messages import say
from bot.services import staff
from bot.services.tenant_file import parse_tenant_file
from bot.services.tenants import load_tenant
from bot.vendor_cache import VendorCache
from models import Base, Customer, CustomerPointsBalance
from models.base import utcnow
from tests.fake_twilio import FakeTwilio

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_TENANT = ROOT / "examples" / "tenant.json"
PUBLIC_BASE_URL = "https://bot.example.test"
AUTH_TOKEN = "test-auth-token"
PIN_PEPPER = "test-pin-pepper"
INBOUND_URL = "/webhooks/twilio/inbound"
MAMA_NUMBER = "+14155238886"
# The bot's answer, in any language, when handling a message raised: no test conversation gets it unless it asks.
CATCH_ALL = {render(say("error"), language) for language in CATALOG}
PLATFORM_NUMBER = "+14155550100"  # new vendors are set up by chatting with it (and start on it)

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")
REDIS_URL = os.environ.get("TEST_REDIS_URL")

# Row locks only exist on PostgreSQL: those tests are collected only when it is configured.
collect_ignore_glob = [] if POSTGRES_URL else ["test_*_pg.py"]


# PINs are hashed with scrypt at werkzeug's work factor: 0.2-0.7 s a hash here, and most of a
# test's time went to the two PINs of each vendor it loads. Tests hash with scrypt at a small work
# factor instead (as Django's docs advise for tests); a check reads the factor from the hash, so
# hashing and checking still run the real code.
TEST_PIN_HASH = "scrypt:1024:8:1"


@pytest.fixture(scope="session", autouse=True)
def cheap_pin_hashes():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(staff, "generate_password_hash", partial(generate_password_hash, method=TEST_PIN_HASH))
        yield


@pytest.fixture
def fake():
    """A local fake of Twilio's Messages API (tests/fake_twilio.py), for the real twilio client."""
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    if POSTGRES_URL:
        url = normalise_database_url(POSTGRES_URL)
        # The suite wipes the schema: refuse anything that is not plainly a test database.
        assert "test" in make_url(url).database, f"TEST_DATABASE_URL must name a test database, not {url}"
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    migrate.upgrade(url)
    return url


def make_config(database_url: str, **overrides) -> Config:
    config = Config(
        database_url=database_url,
        redis_url=REDIS_URL,
        twilio_account_sid=None,
        twilio_auth_token=AUTH_TOKEN,
        twilio_api_base=None,
        public_base_url=PUBLIC_BASE_URL,
        pin_pepper=PIN_PEPPER,
        dev_phone=True,
        platform_whatsapp_number=PLATFORM_NUMBER,
    )
    return replace(config, **overrides)


class Clock:
    """The app's time in tests: real time until a test moves it forward."""

    def __init__(self):
        self.offset = timedelta()

    def __call__(self):
        return utcnow() + self.offset

    def advance(self, **delta) -> None:
        self.offset += timedelta(**delta)


def kill_the_apps_connections(db) -> None:
    """Kill every other connection to the test database, as a restart would: the app's next
    statement on one it kept finds it dead."""
    admin = create_engine(db.url)
    with admin.connect() as connection:
        connection.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        )
    admin.dispose()


def _empty_tables(db) -> None:
    """Every row gone, in one round trip: DELETE is much faster than TRUNCATE on tables this small."""
    deletes = "; ".join(f"DELETE FROM {table.name}" for table in reversed(Base.metadata.sorted_tables))
    if db.engine.dialect.name == "sqlite":
        connection = db.engine.raw_connection()
        try:
            connection.driver_connection.executescript(f"BEGIN IMMEDIATE; {deletes}; COMMIT;")
        finally:
            connection.close()
        return
    try:
        _execute(db, deletes)
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
        _execute(db, deletes)  # a test killed the database's connections (a restart): the pool threw them all away


def _execute(db, sql: str) -> None:
    with db.engine.begin() as connection:
        connection.exec_driver_sql(sql)


@pytest.fixture(scope="session")
def shared_app(database_url):
    """One app for the whole run: building it (routes, engine, connections) costs more than
    most tests. The `app` fixture puts it back as new before each test."""
    app = create_app(make_config(database_url), clock=Clock())
    pristine = {name: dict(vars(extension)) for name, extension in app.extensions.items()}
    yield app, pristine
    app.extensions["runtime"].db.dispose()


def _as_new(app, pristine: dict) -> None:
    """The app as create_app left it: attributes a test replaced (a config, a clock, a pacer) are
    put back, the routing table is read again, the clock is back to real time; then no rows and
    an empty Redis."""
    for name, attributes in pristine.items():
        vars(app.extensions[name]).clear()
        vars(app.extensions[name]).update(attributes)
    app.extensions["dispatcher"].vendors = VendorCache()  # what the last test's messages left in it: guesses
    runtime = app.extensions["runtime"]
    runtime.clock.offset = timedelta()
    _empty_tables(runtime.db)
    runtime.redis.flushdb()


@pytest.fixture
def app(shared_app):
    app, pristine = shared_app
    _as_new(app, pristine)
    return app


@pytest.fixture
def make_app(app, database_url):
    """Another app on the test's database (emptied, like `app`'s), with its own configuration:
    `make_app(twilio_account_sid=...)`, what another process would be. Its connections are
    closed after the test."""
    made = []

    def make(clock=utcnow, **overrides):
        made.append(create_app(make_config(database_url, **overrides), clock=clock))
        return made[-1]

    yield make
    for other in made:
        other.extensions["runtime"].db.dispose()


@pytest.fixture
def clock(app):
    """Moves the time the app sees: `clock.advance(minutes=31)`."""
    clock = app.extensions["runtime"].clock
    yield clock
    clock.offset = timedelta()


@pytest.fixture
def db(app):
    return app.extensions["runtime"].db


@pytest.fixture
def mama(db):
    """The example vendor, loaded from examples/tenant.json."""
    with db.transaction() as session:
        return load_tenant(session, tenant_file(), pin_pepper=PIN_PEPPER).tenant


def tenant_file(**changes) -> dict:
    raw = json.loads(EXAMPLE_TENANT.read_text())
    raw.update(changes)
    return parse_tenant_file(raw)


@dataclass
class Sent:
    status: int
    replies: list  # DevReply(body, media)
    sid: str

    @property
    def text(self) -> str:
        return "\n".join(reply.body for reply in self.replies)


class Phone:
    """Sends messages to the webhook exactly as Twilio does, signature included."""

    def __init__(self, app, number: str, to: str = MAMA_NUMBER, channel: str = "whatsapp", base_url: str | None = None):
        """`base_url`: the host Twilio calls, for an app without PUBLIC_BASE_URL."""
        self.client = app.test_client()
        self.number = number
        self.to = to
        self.prefix = "whatsapp:" if channel == "whatsapp" else ""
        self.base_url = base_url

    def form(self, body: str, sid: str | None = None, **extra) -> dict:
        return {
            "MessageSid": sid or f"SM{uuid.uuid4().hex}",
            "AccountSid": "ACtest",
            "From": self.prefix + self.number,
            "To": self.prefix + self.to,
            "Body": body,
            "NumMedia": "0",
            "ProfileName": "Chidi",
            **extra,
        }

    def post(self, form: dict, signature: str | None = None):
        if signature is None:
            signature = RequestValidator(AUTH_TOKEN).compute_signature((self.base_url or PUBLIC_BASE_URL) + INBOUND_URL, form)
        return self.client.post(
            INBOUND_URL,
            base_url=self.base_url,
            data=urlencode(form),
            headers={"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"},
        )

    def send(self, body: str, sid: str | None = None, expect_error: bool = False, **extra) -> Sent:
        """Send and read the reply. A reply with the catch-all error fails the test (the bot
        raised), unless `expect_error`, which wants exactly that."""
        form = self.form(body, sid, **extra)
        response = self.post(form)
        replies = parse_twiml(response.get_data(as_text=True)) if response.status_code == 200 else []
        crashed = any(reply.body in CATCH_ALL for reply in replies)
        assert crashed == expect_error, f"{body!r} got {[reply.body for reply in replies]} (see the log for the exception)"
        return Sent(response.status_code, replies, form["MessageSid"])


@pytest.fixture
def phone(app):
    def make(number: str = "+2348031234567", **kwargs) -> Phone:
        return Phone(app, number, **kwargs)

    return make


def run_jobs(app) -> None:
    """With a real Redis, jobs wait in the queue: run them here, inside the app, so that they
    use its runtime. Without, they ran inline."""
    runtime = app.extensions["runtime"]
    if runtime.queue.is_async:
        with app.app_context():
            SimpleWorker([runtime.queue], connection=runtime.redis).work(burst=True)


def at_once(calls: list) -> list:
    """Run the calls from threads released together; their results, in order."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def count(db, model, *where) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def balance_of(db, number: str) -> int | None:
    """The current balance of the member with this phone (at the one vendor the test has)."""
    with db.sessions() as session:
        return session.scalar(
            select(CustomerPointsBalance.current_balance)
            .join(Customer, Customer.id == CustomerPointsBalance.customer_id)
            .where(Customer.phone_number == number)
        )


def connection_lost(statement: str) -> OperationalError:
    """What SQLAlchemy raises when the database server goes away during `statement`."""
    return OperationalError(statement, {}, Exception("server closed the connection unexpectedly"))
