"""On PostgreSQL a write nobody reads (bot/db.py's write) waits on the connection for the
transaction's next statement, or its COMMIT, and goes in front of it in the same string; a
rollback drops it, and an error in it fails the transaction where it is sent (PostgreSQL only)."""
from __future__ import annotations

from datetime import timedelta, timezone

import pytest
from sqlalchemy import bindparam, delete, insert, literal_column, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError

from bot.db import fetch_prepared, finish_prepared, run_prepared, update_loaded, write, write_new, write_rows
from models import AuditLog, Customer
from tests.conftest import Phone
from tests.test_transactions_pg import _audit_row, _stored, in_transaction, sent, sql  # noqa: F401 (sent: a fixture)

_ACTION = select(AuditLog.action).where(AuditLog.id == bindparam("id"))


def rows(db, count: int) -> list[dict]:
    return [_audit_row(db) for _ in range(count)]


def went(row: dict, strings: list[str]) -> bool:
    """Whether the row was in anything sent."""
    return any(row["id"].hex in string for string in strings)


def test_a_write_waits_for_the_next_statement_which_carries_it_and_sees_it(mama, db, sent):
    (row,) = rows(db, 1)
    sent.clear()
    with db.transaction() as session:
        write_rows(session, AuditLog, row)
        assert sql(sent) == []
        assert session.execute(_ACTION, {"id": row["id"]}).scalar() == "test"
        assert len(sql(sent)) == 1 and sql(sent)[0].startswith("BEGIN; INSERT INTO audit_logs") and went(row, sql(sent))
    assert sql(sent)[-1] == "COMMIT"
    assert _stored(db, row["id"])


def test_writes_still_waiting_at_the_end_go_with_the_commit(mama, db, sent):
    first, second = rows(db, 2)
    sent.clear()
    with db.transaction() as session:
        write_rows(session, AuditLog, first)
        write_rows(session, AuditLog, second)
    assert len(sql(sent)) == 1, sql(sent)
    assert sql(sent)[0].startswith("BEGIN; INSERT INTO audit_logs") and sql(sent)[0].endswith("; COMMIT") and went(second, sql(sent))
    assert _stored(db, first["id"]) and _stored(db, second["id"])


def test_a_write_of_one_row_runs_a_statement_its_connection_prepares_once_alone_even_if_rolled_back(mama, db, sent):
    first, second, third = rows(db, 3)
    sent.clear()
    with pytest.raises(ValueError):
        with db.transaction() as session:
            write_rows(session, AuditLog, first)
            assert len(sent) == 1 and sent[0].startswith("PREPARE p_") and " AS INSERT INTO audit_logs " in sent[0]
            raise ValueError("the work failed")
    sent.clear()
    with db.transaction() as session:
        write_rows(session, AuditLog, second)
        assert sent == []  # prepared already: it waits
        write_rows(session, AuditLog, third)
    assert len(sent) == 1 and sent[0].startswith("BEGIN; EXECUTE p_") and sent[0].count("EXECUTE p_") == 2
    assert went(second, sent) and went(third, sent) and "INSERT" not in sent[0]
    assert not _stored(db, first["id"]) and _stored(db, second["id"]) and _stored(db, third["id"])


def test_several_rows_go_as_one_insert(mama, db, sent):
    many = rows(db, 3)
    sent.clear()
    with db.transaction() as session:
        write_rows(session, AuditLog, many)
    assert sql(sent)[0].count("INSERT INTO audit_logs") == 1 and all(went(row, sql(sent)) for row in many)
    assert all(_stored(db, row["id"]) for row in many)


def test_a_rolled_back_transaction_leaves_none_of_its_writes_and_sends_those_waiting_nowhere(mama, db, sent):
    carried, waiting = rows(db, 2)
    sent.clear()
    with pytest.raises(ValueError):
        with db.transaction() as session:
            write_rows(session, AuditLog, carried)
            pid = session.execute(text("SELECT pg_backend_pid()")).scalar()
            write_rows(session, AuditLog, waiting)
            raise ValueError("the work failed")
    assert sql(sent)[-1] == "ROLLBACK" and not went(waiting, sql(sent))
    assert not _stored(db, carried["id"]) and not _stored(db, waiting["id"])
    assert in_transaction(db, pid) == "idle"


def test_a_transaction_that_only_wrote_and_rolled_back_sends_nothing(mama, db, sent):
    (row,) = rows(db, 1)
    sent.clear()
    with pytest.raises(ValueError):
        with db.transaction() as session:
            write_rows(session, AuditLog, row)
            raise ValueError("the work failed")
    assert sql(sent) == []
    assert not _stored(db, row["id"])


def test_a_failing_write_fails_the_transaction_at_the_next_statement_and_frees_the_connection(mama, db):
    (row,) = rows(db, 1)
    with pytest.raises(IntegrityError, match="duplicate key"):
        with db.transaction() as session:
            pid = session.execute(text("SELECT pg_backend_pid()")).scalar()
            write_rows(session, AuditLog, [row, dict(row)])  # the same key twice: nothing raises yet
            session.execute(text("SELECT 1"))
    assert not _stored(db, row["id"])
    assert in_transaction(db, pid) == "idle"


def test_a_failing_write_fails_the_commit_that_carries_it_and_frees_the_connection(mama, db):
    first, other = rows(db, 2)
    with pytest.raises(IntegrityError, match="duplicate key"):
        with db.transaction() as session:
            session.execute(insert(AuditLog), first)
            pid = session.execute(text("SELECT pg_backend_pid()")).scalar()
            write_rows(session, AuditLog, other)
            write_rows(session, AuditLog, dict(first))  # its key is taken
    assert not _stored(db, first["id"]) and not _stored(db, other["id"])
    assert in_transaction(db, pid) == "idle"
    with db.transaction() as session:  # the pool's connection serves the next one
        assert session.execute(text("SELECT 2")).scalar() == 2


def test_a_failing_commit_of_a_session_committing_as_it_goes_leaves_no_transaction_behind(mama, db):
    """session.commit(), then close: SQLAlchemy closes a failed transaction without a rollback of its own."""
    first, other = rows(db, 2)
    session = db.sessions()
    session.execute(insert(AuditLog), first)
    pid = session.execute(text("SELECT pg_backend_pid()")).scalar()
    write_rows(session, AuditLog, other)
    write_rows(session, AuditLog, dict(first))  # its key is taken
    with pytest.raises(IntegrityError, match="duplicate key"):
        session.commit()
    session.close()
    assert in_transaction(db, pid) == "idle"
    assert not _stored(db, first["id"]) and not _stored(db, other["id"])


def test_a_value_refused_before_anything_is_sent_leaves_the_begin_and_the_writes_to_the_next_statement(mama, db, sent):
    (row,) = rows(db, 1)
    by_action = select(AuditLog.id).where(AuditLog.action == bindparam("action"))
    with db.transaction() as session:
        fetch_prepared(session.connection(), by_action, {"action": "prepared"})  # so that the next use sends only its EXECUTE
        write_rows(session, AuditLog, row)
        with pytest.raises(ValueError, match="NUL"):
            fetch_prepared(session.connection(), by_action, {"action": "a\x00b"})
        assert session.execute(_ACTION, {"id": row["id"]}).scalar() == row["action"]  # it went, in the transaction
    assert any(string.startswith("INSERT INTO audit_logs") and row["id"].hex in string for string in sql(sent))
    assert _stored(db, row["id"])


def test_a_negative_value_written_after_a_minus_is_read_as_a_number_not_a_comment(app, mama, db):
    Phone(app, "+2348031111131").send("JOIN MAMA")
    negated = update(Customer.__table__).where(Customer.phone_number == bindparam("phone")).values(spin_credits=-bindparam("v"))
    with db.transaction() as session:
        write(session, negated, {"phone": "+2348031111131", "v": -3})  # "-" then "-3"
    with db.transaction() as session:
        assert session.scalar(select(Customer.spin_credits).where(Customer.phone_number == "+2348031111131")) == 3


def test_an_upsert_waits_with_its_update_values_written_in_and_one_returning_rows_is_refused(mama, db):
    row = rows(db, 1)[0]
    upsert = pg_insert(AuditLog).on_conflict_do_update(index_elements=["tenant_id", "id"], set_={"action": bindparam("again")})
    with db.transaction() as session:
        session.execute(insert(AuditLog), row)
        write(session, upsert, {**row, "again": "written again"})
        assert session.execute(_ACTION, {"id": row["id"]}).scalar() == "written again"
        with pytest.raises(ValueError, match="returns rows"):
            write(session, insert(AuditLog).returning(AuditLog.id), rows(db, 1)[0])


def test_the_last_statement_carries_waiting_writes_in_its_transaction(mama, db, sent):
    first, last = rows(db, 2)
    sent.clear()
    with db.transaction() as session:
        write_rows(session, AuditLog, first)
        finish_prepared(session.connection(), insert(AuditLog), last)
    assert sql(sent)[0].startswith("BEGIN; INSERT INTO audit_logs") and sql(sent)[-1].endswith("; COMMIT")
    assert _stored(db, first["id"]) and _stored(db, last["id"])
    with pytest.raises(IntegrityError, match="duplicate key"):  # and they fail together
        with db.transaction() as session:
            write_rows(session, AuditLog, (again := rows(db, 1)[0]))
            finish_prepared(session.connection(), insert(AuditLog), dict(first))
    assert not _stored(db, again["id"])


def test_statements_straight_on_the_driver_and_executemany_carry_them_too(mama, db, sent):
    first, second = rows(db, 2)
    sent.clear()
    with db.transaction() as session:
        write_rows(session, AuditLog, first)
        assert run_prepared(session.connection(), _ACTION, {"id": first["id"]}).action == "test"
        write_rows(session, AuditLog, second)
        renamed = update(AuditLog).where(AuditLog.id == bindparam("b_id")).values(action=bindparam("b_action"))
        session.connection().execute(renamed, [{"b_id": first["id"], "b_action": "one"}, {"b_id": second["id"], "b_action": "two"}])
        assert session.execute(select(AuditLog.action).where(AuditLog.id.in_([first["id"], second["id"]])).order_by(AuditLog.action)).scalars().all() == ["one", "two"]
    assert sql(sent)[0].startswith("BEGIN; INSERT INTO audit_logs") and went(first, sql(sent)[:1])


def test_a_written_value_is_stored_as_given_whatever_it_holds_before_a_statement_with_parameters(mama, db):
    (row,) = rows(db, 1)
    details = {"offer": "it's 50% off %(name)s %s, C:\\shop {0}", "n": 1.5, "yes": True}
    with db.transaction() as session:
        write_rows(session, AuditLog, {**row, "details": details})
        stored = session.execute(select(AuditLog.details).where(AuditLog.id == bindparam("id")), {"id": row["id"]}).scalar()
    assert stored == details


def test_a_written_value_and_a_change_to_it_are_stored_as_given_where_backslashes_escape(mama, db):
    """Without standard strings the driver quotes each value, the row's and its change's."""
    row = {**_audit_row(db), "action": "C:\\shop", "details": {"path": "C:\\till 'one'"}}
    with db.transaction() as session:
        session.execute(text("SET LOCAL standard_conforming_strings = off"))
        line = write_new(session, AuditLog, row)
        update_loaded(session, line, entity_type="it's \\n")
    with db.sessions() as session:
        stored = session.execute(select(AuditLog.action, AuditLog.entity_type, AuditLog.details).where(AuditLog.id == row["id"])).one()
    assert tuple(stored) == ("C:\\shop", "it's \\n", {"path": "C:\\till 'one'"})


def test_writes_before_a_savepoint_go_with_it_and_those_in_a_savepoint_rolled_back_never_go(mama, db, sent):
    before, inside, released = rows(db, 3)
    sent.clear()
    with db.transaction() as session:
        write_rows(session, AuditLog, before)
        savepoint = session.begin_nested()
        write_rows(session, AuditLog, dict(before))  # would break the key: the rollback drops it
        write_rows(session, AuditLog, inside)
        savepoint.rollback()
        kept = session.begin_nested()
        write_rows(session, AuditLog, released)
        kept.commit()
    assert sql(sent)[0].startswith("BEGIN; INSERT INTO audit_logs") and "SAVEPOINT" in sql(sent)[0]
    assert not went(inside, sql(sent))
    assert _stored(db, before["id"]) and not _stored(db, inside["id"]) and _stored(db, released["id"])


def test_a_failing_write_in_a_released_savepoint_fails_the_transaction(mama, db):
    first, other = rows(db, 2)
    with pytest.raises(IntegrityError, match="duplicate key"):
        with db.transaction() as session:
            write_rows(session, AuditLog, first)
            savepoint = session.begin_nested()
            write_rows(session, AuditLog, [other, dict(first)])
            savepoint.commit()
    assert not _stored(db, first["id"]) and not _stored(db, other["id"])


# --- Changes to one row while its write waits ----------------------------------------------

NUMBER = "+2348031111141"


def statements_on(table: str, strings: list[str]) -> list[str]:
    """The writes to `table` in what was sent, one by one."""
    return [part for string in strings for part in string.split("; ") if part.startswith((f"INSERT INTO {table} ", f"UPDATE {table} "))]


def locked_customer(session) -> Customer:
    return session.scalars(select(Customer).where(Customer.phone_number == NUMBER).with_for_update()).one()


def stored_customer(db) -> Customer:
    with db.sessions() as session:
        return session.scalars(select(Customer).where(Customer.phone_number == NUMBER)).one()


def test_changes_to_a_row_waiting_together_go_as_one_update_with_the_last_values(app, mama, db, sent):
    Phone(app, NUMBER).send("JOIN MAMA")
    sent.clear()
    with db.transaction() as session:
        customer = locked_customer(session)
        update_loaded(session, customer, total_spent=1234, total_purchases=1)
        write_rows(session, AuditLog, _audit_row(db))  # another table's write between them
        update_loaded(session, customer, total_purchases=2, tier="Gold")
    (written,) = statements_on("customers", sql(sent))
    assert written.startswith("UPDATE customers SET ")
    assert all(column in written for column in ("total_purchases=", "total_spent=", "tier="))
    stored = stored_customer(db)
    assert (stored.total_spent, stored.total_purchases, stored.tier) == (1234, 2, "Gold")


def test_a_change_to_a_row_written_here_goes_in_its_insert(mama, db, sent):
    row = _audit_row(db)
    sent.clear()
    with db.transaction() as session:
        line = write_new(session, AuditLog, row)
        update_loaded(session, line, action="test.changed", details={"n": 1})
    (written,) = statements_on("audit_logs", sql(sent))
    assert written.startswith("INSERT INTO audit_logs ") and "'test.changed'" in written
    with db.sessions() as session:
        assert session.execute(select(AuditLog.action, AuditLog.details).where(AuditLog.id == row["id"])).one() == ("test.changed", {"n": 1})


def test_changes_written_into_a_waiting_insert_write_it_as_the_whole_row_would_be_written(mama, db, sent):
    """The INSERT is the one the row with the changes would send (a quote, a NULL and JSON among them)."""
    row, twin = _audit_row(db), _audit_row(db)
    changes = {"action": "test.it's", "entity_type": None, "details": {"n": 1}}
    sent.clear()
    with db.transaction() as session:
        line = write_new(session, AuditLog, row)
        update_loaded(session, line, action="test.first", details={"n": 0})
        update_loaded(session, line, **changes)
        write_new(session, AuditLog, {**twin, **changes, "created_at": row["created_at"]})
    merged, whole = statements_on("audit_logs", sql(sent))
    assert merged == whole.replace(twin["id"].hex, row["id"].hex), (merged, whole)
    with db.sessions() as session:
        stored = session.execute(select(AuditLog.action, AuditLog.entity_type, AuditLog.details).where(AuditLog.id == row["id"])).one()
    assert tuple(stored) == ("test.it's", None, {"n": 1})


class _CountedDetails(dict):
    """JSON details that count how often they are written out (the encoder asks a dict subclass
    for its items)."""

    written = 0

    def items(self):
        type(self).written += 1
        return super().items()


def test_a_change_written_into_a_waiting_insert_writes_out_only_the_changed_values_and_refuses_a_nul_at_once(mama, db, sent):
    """The rest of the row keeps the literals its INSERT was written with: a purchase changes
    its new customer's and balance's rows twice each, each of them twenty values."""
    row = {**_audit_row(db), "details": _CountedDetails(n=0)}
    _CountedDetails.written = 0
    sent.clear()
    with db.transaction() as session:
        line = write_new(session, AuditLog, row)
        assert _CountedDetails.written == 1
        update_loaded(session, line, action="test.first")
        update_loaded(session, line, action="test.second")
        assert _CountedDetails.written == 1
        with pytest.raises(ValueError, match="NUL"):
            update_loaded(session, line, action="a\x00b")
    (written,) = statements_on("audit_logs", sql(sent))
    assert "'test.second'" in written and '{"n": 0}' in written
    with db.sessions() as session:
        assert session.execute(select(AuditLog.action, AuditLog.details).where(AuditLog.id == row["id"])).one() == ("test.second", {"n": 0})


def test_a_change_is_an_update_of_its_own_after_the_row_was_sent_or_a_write_to_its_table_came_between(app, mama, db, sent):
    Phone(app, NUMBER).send("JOIN MAMA")
    sent.clear()
    with db.transaction() as session:
        customer = locked_customer(session)
        update_loaded(session, customer, total_spent=1)
        session.execute(select(AuditLog.id).limit(1))  # carries the update
        update_loaded(session, customer, total_spent=2)
        write(session, update(Customer).where(Customer.phone_number == "+2348039999999").values(tier="x"), {})
        update_loaded(session, customer, total_spent=3)
    assert len(statements_on("customers", sql(sent))) == 4
    assert stored_customer(db).total_spent == 3


def test_a_change_to_a_unique_column_is_not_moved_ahead_of_the_writes_between(app, mama, db, sent):
    Phone(app, NUMBER).send("JOIN MAMA")
    sent.clear()
    with db.transaction() as session:
        customer = locked_customer(session)
        update_loaded(session, customer, tier="Gold")
        update_loaded(session, customer, member_code="ZZ9ZZ9")
    assert len(statements_on("customers", sql(sent))) == 2
    assert (stored_customer(db).tier, stored_customer(db).member_code) == ("Gold", "ZZ9ZZ9")


def test_times_are_written_as_given_whichever_came_before(mama, db):
    """The literals of UTC times are kept (bot/db.py's _utc_literal): equal times made apart, a
    time just after one, and one with another offset each keep their own value."""
    base = _audit_row(db)["created_at"].astimezone(timezone.utc)
    times = [base, base + timedelta(microseconds=1), base.replace(), base.astimezone(timezone(timedelta(hours=1))), base]
    written = [{**_audit_row(db), "created_at": moment} for moment in times]
    with db.transaction() as session:
        for row in written:
            write_rows(session, AuditLog, row)
    with db.sessions() as session:
        stored = [session.scalar(select(AuditLog.created_at).where(AuditLog.id == row["id"])) for row in written]
    assert stored == times


def test_a_write_of_another_kind_between_two_changes_of_a_row_keeps_them_apart(app, mama, db, sent):
    """Only writes of rows by value or by key (write_rows, write_if_new, update_loaded) are known
    to leave other rows alone: after any other write, a change is an update of its own."""
    Phone(app, NUMBER).send("JOIN MAMA")
    sent.clear()
    with db.transaction() as session:
        customer = locked_customer(session)
        update_loaded(session, customer, total_spent=1)
        write(session, _RENAME_AUDIT_LINES, {"action": "renamed"})  # another table, but not by key
        update_loaded(session, customer, total_spent=2)
    assert len(statements_on("customers", sql(sent))) == 2
    assert stored_customer(db).total_spent == 2


_RENAME_AUDIT_LINES = update(AuditLog).where(AuditLog.action == "nothing").values(action=bindparam("action"))


def test_a_write_with_no_parameters_waits_as_text(mama, db, sent):
    (row,) = rows(db, 1)
    with db.transaction() as session:
        write_rows(session, AuditLog, row)
    sent.clear()
    with db.transaction() as session:
        write(session, _FORGET_TEST_LINES, {})  # PREPARE takes no empty list of parameters
        assert sent == []
    assert sent[0].startswith("BEGIN; DELETE FROM audit_logs") and not _stored(db, row["id"])


_FORGET_TEST_LINES = delete(AuditLog).where(AuditLog.action == literal_column("'test'"))


def test_a_statement_the_server_prepared_unnoticed_is_taken_as_prepared(mama, db):
    """A PREPARE the server ran but the connection did not note (cut short by a job's timeout
    signal) fails as already there the next time: it is noted then, and the write goes on."""
    first, second = rows(db, 2)
    with db.transaction() as session:
        write_rows(session, AuditLog, first)
        session.connection().info["prepared_statements"].clear()
        write_rows(session, AuditLog, second)
    assert _stored(db, first["id"]) and _stored(db, second["id"])
