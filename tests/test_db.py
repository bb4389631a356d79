"""The write helpers of bot/db.py that the hot paths use instead of the ORM's unit of work
(both databases)."""
from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, inspect, select, update
from sqlalchemy.dialects.postgresql import psycopg2

from bot.db import (
    _literal, _writer, as_loaded, column_keys, from_json_array, insert_on_conflict, joined_connection, update_loaded,
    write_if_new, write_new, write_rows, written_here,
)
from bot.services.customers import enroll
from models import AuditLog, Customer, CustomerPointsBalance, PhoneRoute, Tenant
from models.base import JSONType, UTCDateTime, new_id
from tests.conftest import Phone

NUMBER = "+2348031111111"
EARLY, LATE, LATER = (datetime(2026, 1, day, 9, tzinfo=timezone.utc) for day in (1, 2, 3))


@contextmanager
def statements(db):
    """The SQL statements run inside the block."""
    seen: list[str] = []
    listener = lambda *args: seen.append(args[2])  # noqa: E731 (conn, cursor, statement, ...)
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)


def moved_by_ten(session, balance_key):
    """The balance row moved by a Core statement, as the ledger moves it, with the row returned."""
    table = CustomerPointsBalance.__table__
    moved = (
        update(table)
        .where(table.c.tenant_id == balance_key[0], table.c.customer_id == balance_key[1])
        .values(current_balance=table.c.current_balance + 10)
        .returning(*table.c)
    )
    return session.connection().execute(moved).one()


def balance_key(db) -> tuple:
    with db.sessions() as session:
        return tuple(session.execute(select(CustomerPointsBalance.tenant_id, CustomerPointsBalance.customer_id)).one())


def test_as_loaded_refreshes_the_sessions_copy_without_a_query_and_leaves_it_clean(app, mama, db):
    Phone(app, NUMBER).send("JOIN MAMA")
    key = balance_key(db)
    with db.transaction() as session:
        held = session.get(CustomerPointsBalance, key)
        before = held.current_balance
        row = moved_by_ten(session, key)
        with statements(db) as seen:
            assert as_loaded(session, CustomerPointsBalance, row) is held
            assert held.current_balance == before + 10
            assert session.get(CustomerPointsBalance, key) is held
        assert seen == [] and not session.dirty


def test_as_loaded_adds_a_row_the_session_does_not_hold_so_that_reading_it_costs_no_query(app, mama, db):
    Phone(app, NUMBER).send("JOIN MAMA")
    key = balance_key(db)
    with db.transaction() as session:
        added = as_loaded(session, CustomerPointsBalance, moved_by_ten(session, key))
        with statements(db) as seen:
            assert session.get(CustomerPointsBalance, key) is added
        assert seen == [] and not session.dirty and not session.new
    with db.sessions() as session:
        assert session.get(CustomerPointsBalance, key).current_balance == added.current_balance


def test_a_row_as_loaded_adds_is_the_sessions_own_as_a_loaded_one_is(app, mama, db):
    """as_loaded attaches a new copy the way the ORM's loading does (bot/db.py, _attach_as_loaded):
    persistent and clean, its changes flushed, detached when the session closes."""
    Phone(app, NUMBER).send("JOIN MAMA")
    key = balance_key(db)
    with db.transaction() as session:
        added = as_loaded(session, CustomerPointsBalance, moved_by_ten(session, key))
        state = inspect(added)
        assert state.persistent and state.key == inspect(CustomerPointsBalance).identity_key_from_primary_key(list(key))
        assert not state.modified and state.attrs.current_balance.history.unchanged == [added.current_balance]
        added.current_balance += 5
        assert list(session.dirty) == [added]
        moved = added.current_balance
    assert inspect(added).detached
    with db.sessions() as session:
        assert session.get(CustomerPointsBalance, key).current_balance == moved


def test_write_rows_inserts_with_the_columns_defaults_in_one_statement_at_most(app, mama, db):
    with db.transaction() as session:
        session.connection()  # the transaction begun (SQLite's BEGIN is a statement too)
        with statements(db) as seen:
            write_rows(session, AuditLog, [
                {"tenant_id": mama.id, "actor_type": "system", "actor_id": None, "action": f"test.{i}",
                 "entity_type": None, "entity_id": None, "details": {"i": i}}
                for i in range(3)
            ])
        assert len(seen) == (0 if db.engine.dialect.name == "postgresql" else 1)  # there, they wait (test_writes_pg.py)
    with db.sessions() as session:
        rows = session.scalars(select(AuditLog).where(AuditLog.action.like("test.%")).order_by(AuditLog.action)).all()
    assert [(row.action, row.details) for row in rows] == [(f"test.{i}", {"i": i}) for i in range(3)]
    assert len({row.id for row in rows}) == 3 and all(row.created_at is not None for row in rows)


def test_insert_on_conflict_takes_each_calls_values_though_its_statement_is_built_once(app, mama, db):
    first, second = "+2348031111112", "+2348031111113"
    with db.transaction() as session:
        assert insert_on_conflict(session, PhoneRoute, {"phone_number": first, "tenant_id": mama.id, "updated_at": EARLY})
        assert insert_on_conflict(session, PhoneRoute, {"phone_number": second, "tenant_id": mama.id, "updated_at": EARLY})
        assert not insert_on_conflict(session, PhoneRoute, {"phone_number": first, "tenant_id": mama.id, "updated_at": LATE})
        for phone, moment in ((first, LATE), (second, LATER)):  # an update's values are its own parameters (set_*)
            assert insert_on_conflict(
                session, PhoneRoute, {"phone_number": phone, "tenant_id": mama.id}, ["phone_number"],
                update={"tenant_id": mama.id, "updated_at": moment},
            )
    with db.sessions() as session:
        stored = dict(session.execute(select(PhoneRoute.phone_number, PhoneRoute.updated_at)).all())
    assert stored == {first: LATE, second: LATER}


def test_write_new_writes_a_row_with_its_defaults_and_the_session_holds_it_as_written(app, mama, db):
    with db.transaction() as session:
        line = write_new(session, AuditLog, {"tenant_id": mama.id, "actor_type": "system", "action": "test.new"})
        with statements(db) as seen:
            assert session.get(AuditLog, (mama.id, line.id)) is line
        assert seen == [] and not session.new and not session.dirty
        assert line.details == {} and line.entity_id is None and line.created_at is not None
        held = (line.id, line.created_at)
    with db.sessions() as session:
        stored = session.scalars(select(AuditLog).where(AuditLog.action == "test.new")).one()
    assert (stored.id, stored.created_at, stored.details) == (*held, {})


def test_a_name_that_is_no_column_is_refused_before_anything_is_written(app, mama, db):
    with pytest.raises(TypeError, match="actor"), db.transaction() as session:
        write_new(session, AuditLog, {"tenant_id": mama.id, "actor": "system", "action": "test.typo"})
    with db.sessions() as session:
        assert session.scalars(select(AuditLog).where(AuditLog.action == "test.typo")).all() == []


def test_a_new_members_copy_made_from_the_values_inserted_is_the_row_written(app, mama, db):
    """enroll reads nothing back of the row it inserts: no column may be filled by the server."""
    with db.transaction() as session:
        member = enroll(session, session.get(Tenant, mama.id), NUMBER, EARLY, profile_name="Ama", consent=True).customer
        copy = {key: getattr(member, key) for key in column_keys(Customer)}
    with db.sessions() as session:
        stored = session.get(Customer, (mama.id, copy["id"]))
        assert {key: getattr(stored, key) for key in column_keys(Customer)} == copy
    assert copy["phone_number"] == NUMBER and copy["whatsapp_name"] == "Ama" and copy["created_at"] == EARLY


def test_a_row_is_written_here_in_the_transaction_that_wrote_it_only(app, mama, db):
    with db.sessions() as session:
        with session.begin():
            line = write_new(session, AuditLog, {"tenant_id": mama.id, "actor_type": "system", "action": "test.here"})
            assert written_here(session, line)
            savepoint = session.begin_nested()
            assert not written_here(session, line)  # a savepoint's own writes are apart
            savepoint.commit()
            assert written_here(session, line)
            loaded = session.scalars(select(Customer).where(Customer.tenant_id == mama.id)).all()
            assert not any(written_here(session, row) for row in loaded)
        with session.begin():
            assert not written_here(session, line)  # committed: other transactions may change it now
        with session.begin():
            undone = write_new(session, AuditLog, {"tenant_id": mama.id, "actor_type": "system", "action": "test.undone"})
            session.begin_nested().rollback()  # what a savepoint did to the copy may be undone in the row
            assert not written_here(session, undone)
        assert not written_here(session, line)  # no transaction open


def test_joined_connection_is_the_sessions_connection_and_joins_its_innermost_transaction(app, mama, db):
    def lines(session) -> list[str]:
        return session.scalars(select(AuditLog.action).where(AuditLog.action.like("test.%")).order_by(AuditLog.action)).all()

    with db.message_connection() as connection, connection.begin():
        session = db.sessions(bind=connection)
        assert not session.in_transaction()
        assert joined_connection(session) is connection
        assert session.in_transaction()  # joined, as session.connection() joins it: a write here is written_here
        line = write_new(session, AuditLog, {"tenant_id": mama.id, "actor_type": "system", "action": "test.joined"})
        assert written_here(session, line)
        savepoint = session.begin_nested()  # its SAVEPOINT goes when a statement first needs it
        write_rows(session, AuditLog, {"tenant_id": mama.id, "actor_type": "system", "action": "test.undone"})
        savepoint.rollback()
        write_rows(session, AuditLog, {"tenant_id": mama.id, "actor_type": "system", "action": "test.kept"})
        assert lines(session) == ["test.joined", "test.kept"]  # the savepoint's write went with it
        session.close()
    with db.sessions() as session:  # on no connection of its own: the one it takes, as session.connection()
        assert joined_connection(session) is session.connection()


def test_update_loaded_writes_the_columns_stamps_the_update_and_leaves_nothing_to_flush(app, mama, db):
    Phone(app, NUMBER).send("JOIN MAMA")
    with db.transaction() as session:
        customer = session.scalars(select(Customer).where(Customer.phone_number == NUMBER).with_for_update()).one()
        before = customer.updated_at
        update_loaded(session, customer, total_spent=1234, tier="Gold")
        assert (customer.total_spent, customer.tier) == (1234, "Gold") and customer.updated_at > before
        assert not session.dirty
        stamped = customer.updated_at
    with db.sessions() as session:
        stored = session.scalars(select(Customer).where(Customer.phone_number == NUMBER)).one()
    assert (stored.total_spent, stored.tier, stored.updated_at) == (1234, "Gold", stamped)


def test_write_if_new_writes_a_row_unless_its_key_is_taken(app, mama, db):
    with db.transaction() as session:
        write_if_new(session, PhoneRoute, {"phone_number": NUMBER, "tenant_id": mama.id, "updated_at": EARLY}, ["phone_number"])
        write_if_new(session, PhoneRoute, {"phone_number": NUMBER, "tenant_id": mama.id, "updated_at": LATE}, ["phone_number"])
    with db.sessions() as session:
        assert session.execute(select(PhoneRoute.updated_at).where(PhoneRoute.phone_number == NUMBER)).scalars().all() == [EARLY]


def test_a_time_is_written_as_its_type_would_process_it():
    """The literal of a UTC time skips UTCDateTime's processing (bot/db.py's _writer), to the
    same text: NULL, a UTC time, one with another offset (written in UTC), and a naive time
    refused."""
    dialect = psycopg2.dialect()
    process = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    write = _writer(UTCDateTime(), process)
    moment = datetime(2026, 11, 28, 12, 30, 5, 123456, tzinfo=timezone.utc)
    elsewhere = datetime(2026, 11, 28, 13, 31, tzinfo=timezone(timedelta(hours=1)))
    for value in (None, moment, elsewhere):
        assert write(value, None) == _literal(process(value), None)
    assert write(elsewhere, None) == "'2026-11-28 12:31:00+00:00'"
    with pytest.raises(ValueError, match="naive"):
        write(datetime(2026, 11, 28, 12, 30), None)


def test_json_is_written_as_its_type_would_process_it_and_an_empty_one_without_serialising():
    """NULL (JSON's null), an empty object and an empty list, which many rows hold, are written
    as the type's processing once wrote them; anything else (falsy or not) is processed."""
    dialect = psycopg2.dialect()
    process = JSONType.dialect_impl(dialect).bind_processor(dialect)
    processed = []
    write = _writer(JSONType, lambda value: processed.append(value) or process(value))
    processed.clear()
    values = (None, {}, [], {"a": "it's"}, [1, None], 0, "", False)
    assert [write(value, None) for value in values] == [_literal(process(value), None) for value in values]
    assert processed == [{"a": "it's"}, [1, None], 0, "", False]


def test_a_row_read_back_from_json_takes_its_columns_types():
    """UUIDs and UTC times from their text (a time at another offset in UTC), the rest as they
    are, NULLs as None."""
    columns = (Customer.id, Customer.phone_number, Customer.total_spent, Customer.created_at, Customer.updated_at,
               Customer.conversation_state, Customer.last_purchase_at, Customer.opted_in)
    made = new_id()
    row = from_json_array(columns, [str(made), "+2348031111111", 5, "2026-11-28T12:30:05.123456+00:00",
                                    "2026-11-28T13:30:05+01:00", {"flow": None}, None, True])
    assert row == (made, "+2348031111111", 5, datetime(2026, 11, 28, 12, 30, 5, 123456, tzinfo=timezone.utc),
                   datetime(2026, 11, 28, 12, 30, 5, tzinfo=timezone.utc), {"flow": None}, None, True)
    assert type(row[0]) is uuid.UUID and row[4].tzinfo is timezone.utc
