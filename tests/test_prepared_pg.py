"""The statements every message runs go as server-side prepared statements on PostgreSQL
(bot/db.py, fetch_prepared), and answer exactly as before (PostgreSQL only)."""
from __future__ import annotations

import codecs
import pickle
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

import psycopg2.extensions
import pytest
from sqlalchemy import ARRAY, BigInteger, Boolean, Date, DateTime, Float, Integer, Numeric, String, Uuid, bindparam, cast, literal, select, text, update

from bot.db import _CURSOR, fetch_prepared
from bot.services.staff import find_staff_locked, sender_from_json, staff_locked
from models import Message, PinLockout, Tenant
from tests.conftest import Phone, balance_of
from tests.test_staff_pins import BAYO, BAYO_PIN


def prepared_statements(db) -> list[str]:
    """The statements prepared on the connection this thread's messages run on."""
    with db.message_connection() as connection:
        return connection.execute(text("SELECT statement FROM pg_prepared_statements")).scalars().all()


def test_a_message_prepares_its_hot_statements_once_and_reuses_them(app, mama, db):
    phone = Phone(app, "+2348031111111")
    phone.send("JOIN MAMA")
    db.dispose()  # every connection from now on is new: what it prepares, this test saw
    assert "Balance: 50 points" in phone.send("BAL").text
    prepared = prepared_statements(db)
    assert any("WITH candidates AS" in statement for statement in prepared), prepared
    assert any("customer_points_balance" in statement for statement in prepared), prepared
    assert any("INSERT INTO whatsapp_messages" in statement for statement in prepared), prepared
    for _ in range(3):  # EXECUTE of what is prepared: same answers, nothing prepared twice
        assert "Balance: 50 points" in phone.send("BAL").text
    again = prepared_statements(db)
    assert sorted(again) == sorted(set(again)) and len(again) == len(prepared)
    assert balance_of(db, "+2348031111111") == 50


def kept_cursor(db):
    with db.message_connection() as connection:
        return connection.info[_CURSOR]


def test_a_connection_runs_its_prepared_statements_on_one_cursor_it_keeps(app, mama, db):
    phone = Phone(app, "+2348031111114")
    phone.send("JOIN MAMA")
    kept = kept_cursor(db)
    for _ in range(3):
        assert "Balance: 50 points" in phone.send("BAL").text
    assert kept_cursor(db) is kept and not kept.closed and b"EXECUTE" in kept.query  # the last BAL's statement ran on it
    kept.close()  # a cursor found closed is replaced, not used
    assert "Balance: 50 points" in phone.send("BAL").text
    assert kept_cursor(db) is not kept and not kept_cursor(db).closed


def test_a_replayed_message_is_answered_from_its_stored_reply_through_the_prepared_query(app, mama, db):
    phone = Phone(app, "+2348031111112")
    phone.send("JOIN MAMA")
    first = phone.send("BAL", sid="SM" + "a" * 32).text
    assert phone.send("BAL", sid="SM" + "a" * 32).text == first
    with db.engine.connect() as connection:
        stored = connection.execute(text("SELECT count(*) FROM whatsapp_messages WHERE message_sid = :sid"),
                                    {"sid": "SM" + "a" * 32}).scalar()
    assert stored == 1


def test_a_staff_message_reads_the_pin_lockout_with_its_staff_row_and_a_purchase_moves_points_prepared(app, mama, db):
    Phone(app, "+2348031234567").send("JOIN MAMA")  # a member's balance row is moved by the prepared statement, a new one's is not
    staff = Phone(app, BAYO)
    db.dispose()
    staff.send("LOG")
    assert staff.send(BAYO_PIN).text == "Customer's phone number or member code?"
    staff.send("CANCEL")
    assert "1. Confirm" in staff.send("LOG 08031234567 1500").text
    assert staff.send("1").text.startswith("Logged")
    prepared = prepared_statements(db)
    assert any("FROM vendor_users" in statement and "pin_lockouts" in statement for statement in prepared), prepared
    # The string that prepared it may carry writes that waited before it (bot/db.py's write).
    assert any("PREPARE " in statement and "WITH lot AS" in statement and "UPDATE customer_points_balance" in statement
               for statement in prepared), prepared
    assert balance_of(db, "+2348031234567") > 0


def test_fetch_prepared_answers_as_sqlalchemy_does_with_types_defaults_and_no_rows(app, mama, db):
    phone = Phone(app, "+2348031111113")
    phone.send("JOIN MAMA")
    phone.send("BAL", sid="SM" + "b" * 32)  # its row was written by fetch_prepared (the state and message statement)
    statement = select(
        Message.reply, Message.media, Message.created_at, literal(7, Integer).label("seven"),
    ).where(Message.message_sid == bindparam("sid"), Message.direction == "inbound")
    with db.engine.begin() as connection:
        fast = fetch_prepared(connection, statement, {"sid": "SM" + "b" * 32})
        plain = connection.execute(statement, {"sid": "SM" + "b" * 32}).all()
        assert [tuple(row) for row in fast] == [tuple(row) for row in plain]
        (row,) = fast
        assert "Balance: 50 points" in row.reply[0]["body"] and row.media == []
        assert row.created_at.tzinfo is not None and row.created_at.utcoffset().total_seconds() == 0 and row.seven == 7
        with pytest.raises(KeyError):  # a parameter left out is an error, not a NULL
            fetch_prepared(connection, statement, {})
        done = update(Message).where(Message.message_sid == bindparam("sid")).values(status=bindparam("status"))
        assert fetch_prepared(connection, done, {"sid": "SM" + "b" * 32, "status": "read"}) == []
        assert connection.scalar(select(Message.status).where(Message.message_sid == "SM" + "b" * 32)) == "read"


NASTY_TEXTS = ["it's", "''", "back\\slash\\'", "50% off %s %(x)s", "line\nbreak\ttab", "Ŋ ☕ 🙂", "'; DROP TABLE tenants; --", ""]


def test_fetch_prepared_writes_every_kind_of_value_as_the_driver_would(app, db):
    """fetch_prepared writes the values of EXECUTE as literals itself (cheaper than the driver's
    adaptation): every kind of value comes back as it went, and as the driver's own way gives it."""
    values = {
        **{f"text{i}": text for i, text in enumerate(NASTY_TEXTS)},
        "whole": -42, "big": 2**62, "yes": True, "no": False, "ratio": 0.1, "money": Decimal("12.50"),
        "day": date(2026, 11, 26), "at": datetime(2026, 11, 26, 23, 54, 32, 142974, tzinfo=timezone.utc),
        "id": uuid.UUID("01a21a41-dae4-7fa6-b0af-9aa63dcf7ef2"), "nothing": None, "codes": [3, 1, 2],
    }
    types = {"whole": Integer(), "big": BigInteger(), "yes": Boolean(), "no": Boolean(), "ratio": Float(), "money": Numeric(10, 2),
             "day": Date(), "at": DateTime(timezone=True), "id": Uuid(), "nothing": String(), "codes": ARRAY(Integer)}
    read_as_text = {"ratio": "0.1", "money": "12.50"}  # (fetch_prepared reads no float or numeric columns back)

    def column(name):
        parameter = bindparam(name, type_=types.get(name, String()))
        return (cast(parameter, String) if name in read_as_text else parameter).label(name)

    statement = select(*map(column, values))
    with db.engine.connect() as connection:
        (row,) = fetch_prepared(connection, statement, values)
        assert row._asdict() == values | read_as_text
        connection.exec_driver_sql("SET standard_conforming_strings = off")  # backslashes escape: the driver's way then
        (row,) = fetch_prepared(connection, statement, values)
        assert row._asdict() == values | read_as_text
        connection.exec_driver_sql("RESET standard_conforming_strings")
        with pytest.raises(ValueError, match="NUL"):  # refused as the driver refuses it, nothing sent
            fetch_prepared(connection, statement, {**values, "text0": "a\x00b"})


def test_a_message_with_quotes_backslashes_and_percents_is_stored_and_replayed_exactly(app, mama, db):
    """The state-and-message statement goes through fetch_prepared's literals: what the customer
    wrote is stored as written, and a replay is answered with the stored reply."""
    phone = Phone(app, "+2348031111114")
    phone.send("JOIN MAMA")
    body = "it's 'quoted' \\ back\\slash 100% %s %(x)s ☕"
    first = phone.send(body, sid="SM" + "c" * 32)
    with db.engine.connect() as connection:
        stored = connection.execute(select(Message.body, Message.reply).where(
            Message.message_sid == "SM" + "c" * 32, Message.direction == "inbound")).one()
    assert stored.body == body and [reply["body"] for reply in stored.reply] == [reply.body for reply in first.replies]
    assert phone.send(body, sid="SM" + "c" * 32).text == first.text


def test_the_driver_reads_uuids_and_column_names_cheaply_to_the_same_values(db, monkeypatch):
    """psycopg2 builds UUIDs without uuid.UUID's constructor and decodes column names with the
    UTF-8 codec's C function (bot/db.py, _read_uuids_and_names_cheaply), to the same values."""
    written = uuid.uuid4()
    monkeypatch.setattr(uuid.UUID, "__init__", None)  # not called: it would raise
    assert codecs.lookup(psycopg2.extensions.encodings["UTF8"]).decode is codecs.utf_8_decode
    with db.message_connection() as connection:
        cursor = connection.connection.dbapi_connection.cursor()
        cursor.execute('SELECT %s::uuid AS "naïve_名", NULL::uuid AS "none"', (str(written),))
        read, missing = cursor.fetchone()
        names = [column.name for column in cursor.description]
        cursor.close()
    monkeypatch.undo()
    assert (read, hash(read), str(read), read.version, missing) == (written, hash(written), str(written), 4, None)
    assert pickle.loads(pickle.dumps(read)) == written and {read: 1}[written] == 1 and read.is_safe is uuid.SafeUUID.unknown
    assert names == ["naïve_名", "none"]


def test_the_staff_row_the_first_query_reads_as_json_is_what_its_own_statement_reads(app, mama, db):
    staff = Phone(app, BAYO)
    staff.send("JOIN MAMA")  # a member too
    staff.send("LOG")
    staff.send(BAYO_PIN)  # a session open, a conversation under way
    with db.transaction() as session:
        session.execute(update(PinLockout).where(PinLockout.phone_number == BAYO).values(
            locked_until=datetime(2026, 1, 2, 3, 4, 5, 678901, timezone.utc)))
    with db.transaction() as session:
        tenant = session.scalars(select(Tenant).where(Tenant.vendor_code == "MAMA")).one()
        read = session.execute(select(staff_locked(literal(tenant.id), literal(BAYO), literal(BAYO)))).scalar()  # BAYO names BAYO
        from_json = sender_from_json(session, read)
        session.expunge_all()
        own = find_staff_locked(session, tenant, BAYO)

        def columns(row):
            return {column.key: getattr(row, column.key) for column in type(row).__table__.c}

        assert columns(from_json.staff) == columns(own.staff) and own.staff.conversation_state["flow"] == "log"
        assert columns(from_json.customer) == columns(own.customer) and isinstance(own.customer.id, uuid.UUID)
        assert from_json.lockout == own.lockout and own.lockout.until.microsecond == 678901
        assert uuid.UUID(from_json.named_read[1]) == own.customer.id and not from_json.waited
