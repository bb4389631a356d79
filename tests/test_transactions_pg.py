"""On PostgreSQL a transaction has no round trips of its own (bot/db.py): its BEGIN travels
with its first statement, its COMMIT alone at the end or with its last statement
(finish_prepared), and whatever ends it, the pooled connection comes back out of any
transaction (PostgreSQL only)."""
from __future__ import annotations

import re

import psycopg2.extensions
import pytest
from sqlalchemy import create_engine, event, insert, select, text
from sqlalchemy.pool import NullPool

from bot.db import finish_prepared
from bot.outbound import queue_message
from bot.services.tenants import load_tenant
from models import AuditLog, Customer, Tenant
from models.base import new_id, utcnow
from tests.conftest import PIN_PEPPER, Phone, balance_of, tenant_file
from tests.test_staff_pins import BAYO, open_session


class _Recording(psycopg2.extensions.cursor):
    """A cursor that notes every string it sends, and the statements it prepares by name."""

    sent: list[str] = []
    prepared: dict[str, str] = {}

    def execute(self, query, params=None):
        string = query if isinstance(query, str) else query.decode()
        _Recording.sent.append(string)
        if found := _PREPARE.search(string):  # a PREPARE is the last statement of its string
            _Recording.prepared[found[1]] = found[2]
        return super().execute(query, params)


_PREPARE = re.compile(r"PREPARE (p_\w+) \((?:[^()]|\([^()]*\))*\) AS (.*)$", re.DOTALL)
_EXECUTE = re.compile(r"EXECUTE (p_\w+) ")


def sql(strings: list[str]) -> list[str]:
    """The strings sent but the PREPAREs a connection sends alone the first time it meets a
    write, each EXECUTE of a prepared statement written as that statement (its values follow)."""
    return [_EXECUTE.sub(lambda found: _Recording.prepared[found[1]] + " ", string) for string in strings
            if not string.startswith("PREPARE ")]


@pytest.fixture
def sent(db):
    """The SQL strings the pool's connections and messages' own ones send, from new connections on."""

    def record(dbapi_connection, _record):
        dbapi_connection.cursor_factory = _Recording

    engines = db.engines
    db.dispose()
    for engine in engines:
        event.listen(engine, "connect", record)
    _Recording.sent, _Recording.prepared = [], {}
    yield _Recording.sent
    for engine in engines:
        event.remove(engine, "connect", record)
    db.dispose()


def in_transaction(db, pid: int) -> str:
    """The state of the server process `pid` as a connection from outside the pool sees it."""
    engine = create_engine(db.url, poolclass=NullPool)
    with engine.connect() as connection:
        return connection.execute(text("SELECT state FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}).scalar()


def test_a_balance_costs_two_round_trips_with_begin_and_commit_riding_on_its_statements(app, mama, db, sent):
    phone = Phone(app, "+2348031111121")
    phone.send("JOIN MAMA")
    phone.send("BAL")  # prepares what a BAL runs, on this connection
    sent.clear()
    assert "Balance: 50 points" in phone.send("BAL").text
    assert len(sent) == 2, sent  # the first query reads the balance with the member (bot/services/points.py)
    assert sent[0].startswith("BEGIN; EXECUTE ")
    assert sent[-1].startswith("EXECUTE ") and sent[-1].endswith("; COMMIT")
    assert not any(statement.strip() in ("BEGIN", "COMMIT", "ROLLBACK") for statement in sent)
    first = sql(sent)[0]
    assert first.count("FOR NO KEY UPDATE") == 1, first  # the member's row, found and locked once
    # is_member, the member, `seen` (its version in the snapshot): a customer's form of the query,
    # without the staff row's part (bot/dispatcher.py, _replay_or_tenants)
    assert first.count("FROM customers") == 3, first
    assert "FOR UPDATE OF vendor_users" not in first, first


def test_a_purchase_for_a_new_customer_costs_five_round_trips_its_writes_riding_on_them(app, mama, db, sent):
    with db.transaction() as session:  # as bench/purchase.py has it: no missions, whose progress costs queries of its own
        load_tenant(session, tenant_file(missions=[]), pin_pepper=PIN_PEPPER)
    staff = Phone(app, BAYO)
    open_session(staff)
    assert "1. Confirm" in staff.send("LOG 0803 111 1131 15000").text  # prepares what a purchase runs, on this connection
    assert staff.send("1").text.startswith("Logged")
    sent.clear()
    assert "1. Confirm" in staff.send("LOG 0803 111 1132 15000").text
    # Finding the vendor with the staff row, locked (the first query: bot/services/staff.py,
    # staff_locked) and the member the message names (none: bot/services/customers.py,
    # named_member_read), then saving the state and the message.
    assert len(sent) == 2, sent
    assert "FOR UPDATE OF vendor_users" in sql(sent)[0] and "+2348031111132" in sent[0]
    sent.clear()
    assert staff.send("1").text.startswith("Logged")
    # Finding the vendor with the staff row, the rewards' prices, saving the state and the
    # message: the writes wait for the next of them (bot/db.py's write), the new customer's row
    # too (the preview found no member: a phone enrolled meanwhile fails the transaction, which
    # the dispatcher runs again, looking first), and the ledger's, since the balance row is new
    # in this transaction. Each write goes as the EXECUTE of a statement the connection prepared
    # at the first purchase.
    assert len(sent) == 3, sent
    assert sent[0].startswith("BEGIN; EXECUTE ") and sent[-1].endswith("; COMMIT")
    assert not any("INSERT INTO" in string or "UPDATE " in string for string in sent)
    statements = sql(sent)
    waited = ("customers", "customer_points_balance", "points_transactions", "audit_logs", "phone_routes", "purchases", "spin_credits")
    for table in waited:
        assert any(f"INSERT INTO {table} " in statement for statement in statements[1:]), table
    # The purchase's totals go in the new customer's INSERT, which still waits: no UPDATE of it.
    assert not any("UPDATE customers " in statement for statement in statements), statements
    assert balance_of(db, "+2348031111132") == 50 + 150 + 20  # the welcome, a point per ₦100, the first purchase's bonus


def test_a_member_named_by_log_is_read_by_the_first_query_and_previewed_as_a_member(app, mama, db, sent):
    Phone(app, "+2348031111133").send("JOIN MAMA")
    staff = Phone(app, BAYO)
    open_session(staff)
    staff.send("LOG 0803 111 1131 15000")  # prepares what LOG runs, on this connection
    staff.send("CANCEL")
    sent.clear()
    preview = staff.send("LOG 0803 111 1133 15000").text
    assert "They earn 170 points" in preview, preview
    assert len(sent) == 2, sent
    assert staff.send("1").text.startswith("Logged")
    assert balance_of(db, "+2348031111133") == 50 + 150 + 20


def test_the_first_query_takes_the_form_the_phones_last_message_found_it_in(app, mama, db, sent):
    """A phone first seen is taken for a customer: a staff phone's first message finds its staff
    row with a statement of its own, and its next ones in the first query. One that is no
    longer staff is answered as a customer all the same, and then read as one."""
    staff = Phone(app, BAYO)
    assert staff.send("LOG").text.startswith("Hi Bayo")  # asks for the PIN
    assert "FOR UPDATE OF vendor_users" not in sql(sent)[0]
    assert any("FOR UPDATE OF vendor_users" in statement for statement in sql(sent)[1:]), sent
    sent.clear()
    assert staff.send("CANCEL").text.startswith("Cancelled")
    assert "FOR UPDATE OF vendor_users" in sql(sent)[0]
    assert "NULL AS" not in sql(sent)[0]  # each form reads only its own part's columns
    with db.transaction() as session:
        session.execute(text("UPDATE vendor_users SET is_active = false WHERE phone_number = :phone"), {"phone": BAYO})
    sent.clear()
    assert "Welcome to Mama Put Kitchen" in staff.send("JOIN MAMA").text
    assert "FOR UPDATE OF vendor_users" in sql(sent)[0]  # the staff form, which finds no staff row now
    staff.send("BAL")  # prepares what a BAL runs, on this connection
    sent.clear()
    assert "Balance: 50 points" in staff.send("BAL").text
    assert len(sent) == 2 and "FOR UPDATE OF vendor_users" not in sql(sent)[0], sent
    assert "NULL AS" not in sql(sent)[0]


def test_a_transaction_that_runs_nothing_sends_nothing(db, sent):
    with db.transaction():
        pass
    assert sent == []


def test_a_transaction_commits_alone_when_its_last_statement_did_not_carry_it(mama, db, sent):
    row = _audit_row(db)
    sent.clear()
    with db.transaction() as session:
        session.execute(insert(AuditLog), row)
    assert sent[0].startswith("BEGIN; INSERT INTO audit_logs")
    assert sent[-1] == "COMMIT"
    assert _stored(db, row["id"])


def test_work_rolled_back_after_an_error_is_gone_and_its_connection_leaves_the_transaction(mama, db):
    row = _audit_row(db)
    with pytest.raises(ValueError):
        with db.transaction() as session:
            session.execute(insert(AuditLog), row)
            pid = session.execute(text("SELECT pg_backend_pid()")).scalar()
            raise ValueError("the work failed")
    assert not _stored(db, row["id"])
    assert in_transaction(db, pid) == "idle"


def test_a_failed_statement_rolls_back_and_the_connection_serves_the_next_transaction(db):
    with pytest.raises(Exception, match="division by zero"):
        with db.transaction() as session:
            pid = session.execute(text("SELECT pg_backend_pid()")).scalar()
            session.execute(text("SELECT 1 / 0"))
    assert in_transaction(db, pid) == "idle"
    with db.transaction() as session:
        assert session.execute(text("SELECT 2")).scalar() == 2


def test_the_last_statement_carries_the_commit_and_nothing_may_run_after_it(mama, db, sent):
    first, last = _audit_row(db), _audit_row(db)
    sent.clear()
    with pytest.raises(RuntimeError, match="after its transaction's last"):
        with db.transaction() as session:
            session.execute(insert(AuditLog), first)
            finish_prepared(session.connection(), insert(AuditLog), last)
            session.execute(select(AuditLog.id))
    assert sent[-1].endswith("; COMMIT")
    assert _stored(db, first["id"]) and _stored(db, last["id"])  # committed with the last statement, as promised


def test_a_failed_last_statement_rolls_back_the_transaction(mama, db):
    row = _audit_row(db)
    with pytest.raises(Exception, match="duplicate key"):
        with db.transaction() as session:
            session.execute(insert(AuditLog), row)
            pid = session.execute(text("SELECT pg_backend_pid()")).scalar()
            finish_prepared(session.connection(), insert(AuditLog), {**row})  # the same id again
    assert not _stored(db, row["id"])
    assert in_transaction(db, pid) == "idle"


def _audit_row(db) -> dict:
    with db.engine.connect() as connection:
        tenant = connection.execute(text("SELECT id FROM tenants LIMIT 1")).scalar()
    return {"tenant_id": tenant, "id": new_id(), "actor_type": "system", "actor_id": None, "action": "test",
            "entity_type": "test", "entity_id": None, "details": {}, "created_at": utcnow()}


def _stored(db, row_id) -> bool:
    with db.engine.connect() as connection:
        return connection.execute(select(AuditLog.id).where(AuditLog.id == row_id)).first() is not None


def test_a_new_phones_join_writes_its_customer_without_a_round_trip_of_its_own(app, mama, db, sent):
    Phone(app, "+2348031111141").send("JOIN MAMA")  # prepares what a JOIN runs, on this connection
    sent.clear()
    assert "welcome points" in Phone(app, "+2348031111142").send("JOIN MAMA").text
    # The first query found no member (bot/dispatcher.py), so the customer's row is written
    # blind (bot/services/customers.py, enroll): it waits, with the balance row, the audit line
    # and the welcome lot, for the phone route's look-up; then the route, the number's vendors,
    # and saving the state with the message.
    assert len(sent) == 5, sent
    carrying = [statement for statement in sql(sent) if "INSERT INTO customers " in statement]
    assert len(carrying) == 1 and "RETURNING" not in carrying[0]
    assert "SELECT phone_routes.tenant_id" in carrying[0]


def test_the_outbox_index_holds_only_messages_in_flight_not_those_received(app, mama, db):
    """The outbox sweeps look for `queued` and `sending` rows; every message in would otherwise
    be in their index too, and cost each an entry written."""
    phone = Phone(app, "+2348031111141")
    phone.send("JOIN MAMA")
    phone.send("BAL")
    with db.transaction() as session:  # a notice, queued for a sender
        customer = session.scalars(select(Customer)).one()
        queue_message(session, [], session.get(Tenant, customer.tenant_id), customer, "Double points today!", triggered_by="test")
    with db.engine.begin() as connection:
        connection.execute(text("ANALYZE whatsapp_messages"))  # counts a partial index's rows (all of them: a small table)
        entries = connection.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'ix_whatsapp_messages_outbox'"))
        in_flight = connection.scalar(text("SELECT count(*) FROM whatsapp_messages WHERE status IN ('queued', 'sending')"))
        received = connection.scalar(text("SELECT count(*) FROM whatsapp_messages WHERE direction = 'inbound'"))
    assert received == 2 and in_flight == 1
    assert entries == in_flight, (entries, in_flight)
