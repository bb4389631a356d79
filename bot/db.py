"""Engine and session factory. Services receive a Session; only the caller commits."""
from __future__ import annotations

import codecs
import hashlib
import re
import threading
import uuid
from contextlib import contextmanager, suppress
from collections import namedtuple
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from sqlalchemy import (
    JSON, Boolean, Connection, Engine, Executable, Integer, PrimaryKeyConstraint, String, Table, UniqueConstraint, Uuid, bindparam,
    create_engine, event, func, insert, inspect, literal, literal_column, select, text, update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.sqltypes import NullType

from models.base import UTCDateTime, uuid_of


# How a row is locked for an update that changes no key: FOR NO KEY UPDATE, which does not
# block the foreign-key checks of rows that refer to it. So a transaction that holds a customer
# row never makes another wait merely for writing a message or a ledger row about that customer
# (which would be a lock the global order does not see). SQLite ignores it.
ROW_LOCK = {"key_share": True}

T = TypeVar("T")


class Database:
    def __init__(self, url: str):
        self.url = url
        self.engine = _make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Connections that each thread keeps for itself, outside the pool: in autocommit, with no
        # transaction ever open, closing one has nothing to roll back (see `autocommit`); and with
        # psycopg2, the pooled ones' twins for messages' transactions (see `message_connection`).
        self._unpooled = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT", pool_reset_on_return=None)
        self.message_engine = self.engine
        if _begins_with_first_statement(url):
            _read_uuids_and_names_cheaply(self._unpooled)
            self.message_engine = _make_engine(url, poolclass=NullPool)
        self._threads = threading.local()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any error."""
        with self.sessions() as session, session.begin():
            yield session

    def autocommit(self) -> _OwnConnection:
        """This thread's own connection, on which each statement is a transaction of its own (no
        BEGIN and COMMIT round trips), for a path that writes with one statement (a vote): `with
        db.autocommit() as connection`. The thread keeps it for its life, outside the pool: no
        checkout and return at each use (a seventh of a vote's time), and a burst of threads never
        waits for a pooled connection. A connection found dead is replaced at the next use."""
        return self._own("autocommit", self._unpooled)

    def message_connection(self) -> _OwnConnection | Connection:
        """The connection a message's transaction runs on, entered with `with`: with psycopg2,
        this thread's own, which saves the pool's checkout and return (a twentieth of a BAL's
        CPU), a transaction left open on it rolled back at the end; elsewhere a pooled one,
        closed at the end (SQLite's writers take the write lock at BEGIN, which only the pooled
        engine does)."""
        if self.message_engine is self.engine:
            return self.engine.connect()
        return self._own("messages", self.message_engine, ends_transactions=True)

    @property
    def engines(self) -> set[Engine]:
        """The engines transactions run through: the pool's, and messages' own connections' (one
        and the same but with psycopg2). What watches the SQL sent (benchmarks, tests) listens
        on each."""
        return {self.engine, self.message_engine}

    def _own(self, use: str, engine: Engine, ends_transactions: bool = False) -> _OwnConnection:
        """This thread's own connection for `use`; a dead one (a restart) is replaced."""
        own = getattr(self._threads, use, None)
        if own is None or own.connection.invalidated:
            own = _OwnConnection(engine.connect(), self.engine, ends_transactions)
            setattr(self._threads, use, own)
        return own

    def dispose(self) -> None:
        """Close the pool's connections and this thread's own: the next use makes new ones."""
        self.engine.dispose()
        for own in list(vars(self._threads).values()):
            with suppress(DBAPIError):  # already dead (a restart): nothing to close
                own.connection.close()
        vars(self._threads).clear()

    def once_more_if_disconnected(self, work: Callable[[], T]) -> T:
        """`work()`, run once more when a connection it took had died (a database restart):
        nothing it did happened, the pool has thrown away every connection it held then, and a
        thread's own dead one is replaced at its next use, so the second run gets a live one."""
        try:
            return work()
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            return work()

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))


class _OwnConnection:
    """A thread's own connection, closed when the thread ends (its thread-local goes). Entered,
    it gives the connection; a statement that finds the server gone throws away the pool's
    connections too (they went with it). A class, not a generator: every vote enters it. With
    `ends_transactions`, a transaction still open at the end of a use (begun by a read after
    its user rolled back) is rolled back, as closing a pooled connection would."""

    def __init__(self, connection: Connection, pooled: Engine, ends_transactions: bool = False):
        self.connection = connection
        self.pooled = pooled
        self.ends_transactions = ends_transactions

    def __enter__(self) -> Connection:
        return self.connection

    def __exit__(self, kind, error, traceback) -> None:
        try:
            if self.ends_transactions and self.connection.in_transaction():
                self.connection.rollback()
        finally:
            if isinstance(error, DBAPIError) and error.connection_invalidated:
                self.pooled.dispose()

    def __del__(self):
        with suppress(DBAPIError):  # already dead (a restart): nothing to close
            self.connection.close()


def _make_engine(url: str, **pooling) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # No pre-ping (a round trip per request): the dispatcher retries once on a dead connection.
        # With psycopg2, an UPDATE with many parameter sets (the delivery engine records a hundred
        # answers at once) goes in one round trip (execute_batch), not one per row; and the
        # driver runs in autocommit, its transactions begun and ended as described below.
        psycopg2 = _begins_with_first_statement(url)
        driven = {"executemany_mode": "values_plus_batch", "executemany_batch_page_size": 500, "isolation_level": "AUTOCOMMIT"}
        pooling = pooling or {"pool_size": 10, "max_overflow": 20, "pool_recycle": 3600}
        engine = create_engine(url, **pooling, **(driven if psycopg2 else {}))
        if psycopg2:
            _begin_with_first_statement(engine)
            _read_uuids_and_names_cheaply(engine)
        return engine
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    _serialise_sqlite_writers(engine)
    return engine


def _read_uuids_and_names_cheaply(engine: Engine) -> None:
    """Two things psycopg2 does for every statement through Python functions, made cheaper (a
    BAL 1.1% fewer instructions): it builds each UUID through uuid.UUID's constructor (the
    caster SQLAlchemy registers), whose checks of the text the server's text needs none of; and
    it decodes each column's name (and the server's messages) through the UTF-8 codec's Python
    wrapper, encodings.utf_8.decode, where the C function the wrapper calls does. The codec
    psycopg2 takes for a connection's encoding is read from its `encodings` when it connects,
    for every psycopg2 connection of the process. The wrapper decodes with final=True and the C
    function as used with final=False: they differ on a truncated sequence only, which it drops
    instead of replacing, and which the server never sends."""
    import psycopg2.extensions

    _decode_utf8_in_c()
    uuids = psycopg2.extensions.new_type((_UUID_OID,), "UUID", _uuid_from_text)
    event.listen(engine, "connect", lambda dbapi_connection, _record: psycopg2.extensions.register_type(uuids, dbapi_connection))


_UTF8_IN_C = codecs.CodecInfo(codecs.utf_8_encode, codecs.utf_8_decode, name="utf_8_in_c")
_UUID_OID = 2950


@cache
def _decode_utf8_in_c() -> None:
    """Once per process: the codec, and psycopg2 taking it for UTF8."""
    import psycopg2.extensions

    codecs.register(lambda name: _UTF8_IN_C if name == _UTF8_IN_C.name else None)
    psycopg2.extensions.encodings["UTF8"] = _UTF8_IN_C.name


def _uuid_from_text(text: str | None, _cursor=None) -> uuid.UUID | None:
    """The UUID PostgreSQL wrote as `text` (uuid_of), in a column or in JSON."""
    return None if text is None else uuid_of(int(text.replace("-", ""), 16))


# --- Transactions without round trips of their own (PostgreSQL through psycopg2) ---------------
#
# The driver runs in autocommit, so that it never sends a BEGIN of its own. The dialect's begin
# only marks the connection; the transaction's first statement then carries "BEGIN; " in front
# of it (the driver sends several statements in one string as one round trip). Its end goes
# alone when the caller commits or rolls back, or with the transaction's last statement
# (finish_prepared). A message's transaction costs two round trips fewer; a transaction that
# ran no statement costs none. Writes nobody reads wait on the connection to go the same way
# (see `write`). The state lives in the connection's `info` (its pool record's, NullPool's too):
_STATE = "transaction"
_PENDING, _OPEN, _FINISHED = "pending", "open", "finished"  # begun, not yet sent; sent; committed with its last statement
_WAITING = "waiting writes"  # _Waiting: the SQL text of writes not sent yet, in their order


def _begins_with_first_statement(url: str) -> bool:
    """Whether transactions on `url` go as described above: PostgreSQL through psycopg2."""
    parsed = make_url(url)
    return parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() == "psycopg2"


def _begin_with_first_statement(engine: Engine) -> None:
    """The dialect's begin, commit and rollback as described above. Ends go through the
    dialect (also the pool's rollback when a connection comes back), so that a failing COMMIT
    comes out as SQLAlchemy's error, a dead connection invalidated."""
    dialect = engine.dialect
    rollback_to_savepoint = dialect.do_rollback_to_savepoint

    def do_begin(dbapi_connection) -> None:
        _info(dbapi_connection)[_STATE] = _PENDING

    def do_commit(dbapi_connection) -> None:
        info = _info(dbapi_connection)
        waiting = _opening(info) if info.get(_WAITING) else ""  # and the BEGIN, if it has not gone
        _end(dbapi_connection, waiting + "COMMIT")

    def do_rollback(dbapi_connection) -> None:
        _info(dbapi_connection).pop(_WAITING, None)
        _end(dbapi_connection, "ROLLBACK")

    def do_rollback_to_savepoint(connection, name: str) -> None:
        # The SAVEPOINT took what waited then: what waits now was written after it, and is undone.
        connection.info.pop(_WAITING, None)
        rollback_to_savepoint(connection, name)

    dialect.do_begin, dialect.do_commit, dialect.do_rollback = do_begin, do_commit, do_rollback
    dialect.do_rollback_to_savepoint = do_rollback_to_savepoint
    event.listen(engine, "do_execute", _execute)
    event.listen(engine, "do_execute_no_params", _execute_no_params)
    event.listen(engine, "do_executemany", _executemany)


def _end(dbapi_connection, command: str) -> None:
    """Send the transaction's end if its BEGIN went. A COMMIT that fails ends the transaction,
    as PostgreSQL's own does: one carrying waiting writes stops at the write that failed and
    would leave the transaction open (aborted, its locks held) on a connection that a caller
    who commits as it goes then closes without a rollback; so a ROLLBACK follows it."""
    info = _info(dbapi_connection)
    if info.pop(_STATE, None) != _OPEN:
        return
    with dbapi_connection.cursor() as cursor:
        try:
            cursor.execute(command)
        except Exception:
            with suppress(Exception):  # a dead connection: the pool throws it away
                cursor.execute("ROLLBACK")
            raise


def _info(connection) -> dict:
    """The connection's `info` (its pool record's); a connection outside any pool (the dialect's
    first look at a new one, or the raw driver's) keeps no state: every statement runs as it
    comes."""
    try:
        info = connection.info
    except NotImplementedError:
        return {}
    return info if isinstance(info, dict) else {}


def _opening(info: dict) -> str:
    """What goes in front of the statement about to run: "BEGIN; " for its transaction's first,
    then the writes waiting (see `write`). It may hold "%": a caller that sends parameters
    with it escapes it (_escaped)."""
    state = info.get(_STATE)
    if state is None:
        return ""
    if state == _FINISHED:
        raise RuntimeError("a statement after its transaction's last one (finish_prepared)")
    opening = ""
    if state == _PENDING:
        info[_STATE] = _OPEN
        opening = "BEGIN; "
    waiting = info.pop(_WAITING, None)
    return opening + "; ".join(waiting) + "; " if waiting else opening


def _escaped(opening: str) -> str:
    """The opening in front of a statement sent with parameters, which the driver reads as a
    format: its "%" doubled."""
    return opening.replace("%", "%%") if "%" in opening else opening


def _closing(info: dict) -> str:
    """What goes after the transaction's last statement: "; COMMIT" if a BEGIN went before it."""
    return "; COMMIT" if info.get(_STATE) == _OPEN else ""


def _execute_no_params(cursor, statement: str, context) -> bool:
    opening = _opening(_info(context.root_connection))
    if opening:
        cursor.execute(opening + statement)
    return bool(opening)


def _executemany(cursor, statement: str, parameters, context) -> bool:
    """A statement run once per parameter set cannot carry the BEGIN or waiting writes: they go
    alone first."""
    opening = _opening(_info(context.root_connection))
    if opening:
        cursor.execute(opening)
    return False


@dataclass(frozen=True)
class _Prepared:
    name: str
    prepare: str  # PREPARE name (types) AS the statement with $1, $2...
    execute: str  # EXECUTE name (%s, %s...), for the driver to fill in
    names: tuple[str, ...]  # the parameters, in the order of $1, $2...
    # For fetch_prepared only: the values of parameters the statement holds (literals), each
    # parameter's processor and writer (_writer), each result column's processor, and the type
    # of the rows.
    defaults: dict = field(default_factory=dict)
    processors: tuple = ()
    writers: tuple = ()
    results: tuple = ()
    row: type = tuple


_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_prepared_plans: dict[Executable, _Prepared] = {}  # by the statement fetch_prepared ran


def _execute(cursor, statement: str, parameters, context) -> bool:
    """The dialect's do_execute: the transaction's BEGIN, and the writes waiting, in front of
    the statement (see _begin_with_first_statement)."""
    opening = _opening(_info(context.root_connection))
    if not opening:
        return False
    cursor.execute(_escaped(opening) + statement, parameters)
    return True


def connection_of(session: Session) -> Connection:
    """The connection `session`'s statements go on: the one it was made on, whose transaction
    its owner began (the dispatcher's), taken as it is; else the session's own, begun if need
    be. A session that joins a transaction only when it must costs no transaction of its own
    to a message that only reads and writes through the prepared statements below."""
    bind = session.bind
    if not isinstance(bind, Connection):
        return session.connection()
    if not bind.in_transaction():  # it ended (a rollback): a statement now would run on its own
        raise RuntimeError("the connection's transaction has ended")
    return bind


def joined_connection(session: Session) -> Connection:
    """`session.connection()`: the connection its statements go on, the session joining the
    transaction there (its innermost: a savepoint begun sends its SAVEPOINT) if it has not yet.
    Once it has, the same connection, noted for that transaction while it is active: the
    session's own way through its transaction's states cost a confirmation's fifteen writes
    1.3% of a purchase's instructions."""
    transaction = _innermost_transaction(session)
    joined = session.info.get(_JOINED)
    if joined is not None and joined[0] is transaction and transaction.is_active:
        return joined[1]
    connection = session.connection()
    session.info[_JOINED] = (_innermost_transaction(session), connection)
    return connection


_JOINED = "joined"  # in session.info: (the transaction joined_connection last joined, its connection)


def _innermost_transaction(session: Session):
    """The session's innermost transaction (a savepoint's, if one is open), or None."""
    return session.get_nested_transaction() or session.get_transaction()


def run_prepared(connection: Connection, statement: Executable, params: dict):
    """`statement`'s first row back, or None; see fetch_prepared."""
    rows = fetch_prepared(connection, statement, params)
    return rows[0] if rows else None


def finish_prepared(connection: Connection, statement: Executable, params: dict) -> None:
    """Run `statement`, a write whose rows nobody reads, as its transaction's last statement: on
    PostgreSQL the COMMIT travels with it (see fetch_prepared), and nothing may run in the
    transaction after it (that raises). The caller still ends the transaction as usual, which
    then sends nothing."""
    fetch_prepared(connection, statement, params, commit=True)


def fetch_prepared(connection: Connection, statement: Executable, params: dict, commit: bool = False) -> list:
    """The rows `statement` returns (none for one that returns none), with their columns as
    attributes. On PostgreSQL it goes as a prepared statement straight on the driver's cursor,
    without SQLAlchemy's execution around it (which costs as much as the round trip), for the
    statements that every message or vote runs: parsed and planned once per connection instead
    of at each message (planning the dispatcher's first query costs more than running it). Its
    parameters must not be expanding (IN lists, whose text changes with their length). A
    prepared statement outlives a rollback. The values go through their types' bind and
    result processing (JSON, the UTC timestamp type) as they would through SQLAlchemy's. Errors
    come out as SQLAlchemy's, a dead connection invalidated (the caller's retry then finds
    another). Elsewhere it is a plain execute. `commit`: see finish_prepared (no rows come back)."""
    if connection.dialect.name != "postgresql":
        result = connection.execute(statement, params)
        return result.all() if result.returns_rows else []
    plan = _prepared_plans.get(statement) or _prepared_plans.setdefault(statement, _compiled_plan(statement, connection.dialect))
    given = {**plan.defaults, **params} if plan.defaults else params  # a missing one without a default: KeyError
    driver, dbapi_connection = connection.dialect.loaded_dbapi, connection.connection.dbapi_connection
    values = list(map(given.__getitem__, plan.names))
    plain = _plain_strings(dbapi_connection)
    if not plain:
        values = _processed(values, plan.processors)
    info = connection.info
    alone = False
    try:
        cursor = _own_cursor(info, dbapi_connection)
        # Written before the transaction's state moves: a value refused here (a NUL) leaves
        # the BEGIN and the waiting writes to the next statement, as nothing was sent.
        literals = ", ".join(_literals(values, plan.writers, dbapi_connection)) if plain else None
        _prepare_once(connection, plan)
        alone = commit and info.get(_STATE) == _PENDING and not info.get(_WAITING)
        if alone:  # the transaction's only statement: in autocommit, a transaction of its own
            info[_STATE] = None
        opening = _opening(info)
        closing = _closing(info) if commit else ""
        if literals is not None:
            cursor.execute(f"{opening}EXECUTE {plan.name} ({literals}){closing}")
        else:
            cursor.execute(_escaped(opening) + plan.execute + closing, values)
        rows = [] if cursor.description is None else cursor.fetchall()
        if commit:
            info[_STATE] = _FINISHED
    except driver.Error as error:
        if alone:  # it failed, and with it the transaction it was: none is open
            info[_STATE] = _PENDING
        raise _driver_error(connection, error, plan.execute, values) from error
    return [plan.row(*_processed(row, plan.results)) for row in rows]


def _own_cursor(info: dict, dbapi_connection):
    """The connection's cursor, made once and kept in its info (which the pool clears when it
    connects again), rather than one made and closed for each statement. It holds the last
    statement's rows until the next one: a few, for the statements run this way."""
    cursor = info.get(_CURSOR)
    if cursor is None or cursor.closed:
        cursor = info[_CURSOR] = dbapi_connection.cursor()
    return cursor


def _driver_error(connection: Connection, error: Exception, statement: str, values) -> DBAPIError:
    """The driver's `error` as SQLAlchemy's, a dead connection invalidated (the caller's retry
    then finds another)."""
    dead = connection.dialect.is_disconnect(error, connection.connection.dbapi_connection, None)
    if dead:
        connection.invalidate()
    driver = connection.dialect.loaded_dbapi
    return DBAPIError.instance(statement, values, error, driver.Error, connection_invalidated=dead, dialect=connection.dialect)


# Values written as quoted literals by their text form, which the prepared statement's declared
# parameter types read back. psycopg2 adapts each parameter through its generic protocol (an
# adapter object, a failed look-up of `prepare`, a method call): about 11,000 instructions a
# value, a sixth of a vote's CPU for its 23 values; a literal costs a few hundred.
_TEXT_FORM = frozenset({float, bool, datetime, date, Decimal})


@lru_cache(maxsize=256)  # a message writes a few times over and over: its now, its stamps, an expiry
def _utc_literal(value: datetime) -> str:
    """A UTC time's literal (its text costs a microsecond)."""
    return f"'{value}'"


def _plain_strings(dbapi_connection) -> bool:
    """Whether a quote inside a string literal is the only character to escape: the server
    reads backslashes as themselves (the default since PostgreSQL 9.1; the server reports it)."""
    return dbapi_connection.info.parameter_status("standard_conforming_strings") == "on"


def _literal(value, dbapi_connection) -> str:
    """`value` as PostgreSQL reads it with standard_conforming_strings on: NULL, a number, or its
    text form in quotes (a quote doubled). Other types (arrays...) go through the driver's own
    adaptation. The commonest types are tested first: this runs for every value of every message."""
    kind = type(value)
    if kind is str:
        if "'" not in value and "\x00" not in value:  # most: nothing to double or refuse
            return f"'{value}'"
        text = value
    elif value is None:
        return "NULL"
    elif kind is uuid.UUID:
        return f"'{value.bytes.hex()}'"  # 32 hex digits, a form PostgreSQL reads, cheaper than str() and .hex
    elif kind is int:
        return str(value) if value >= 0 else f" {value}"  # as the driver does: after a "-", no "--" (a comment)
    elif kind is datetime and value.tzinfo is timezone.utc:
        return _utc_literal(value)
    elif kind in _TEXT_FORM:
        text = str(value)
    else:
        return _quoted_by_driver(value, dbapi_connection)
    if "\x00" in text:  # as the driver refuses it: PostgreSQL text cannot hold NUL
        raise ValueError("A string literal cannot contain NUL (0x00) characters.")
    return "'" + text.replace("'", "''") + "'"


def _processed(values, processors) -> list:
    """Each value through its processor (None: as it is)."""
    return [value if process is None else process(value) for value, process in zip(values, processors)]


def _compiled_plan(statement: Executable, dialect) -> _Prepared:
    """The plan with what fetch_prepared needs besides."""
    compiled = statement.compile(dialect=dialect)
    plan = _plan(compiled.string, compiled)
    binds = _binds(compiled)
    processors, writers = _processing(binds, plan.names, dialect)
    columns = list(statement.exported_columns)
    return replace(
        plan,
        defaults={name: binds[name].value for name in plan.names if not binds[name].required},
        processors=processors, writers=writers,
        results=tuple(column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns),
        row=namedtuple("Row", [column.key for column in columns], rename=True) if columns else tuple,
    )


def _binds(compiled) -> dict:
    return {compiled.escaped_bind_names.get(key, key): bind for key, bind in compiled.binds.items()}


def _plan(statement: str, compiled) -> _Prepared:
    names: list[str] = []

    def numbered(match) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    text = _PLACEHOLDER.sub(numbered, statement).replace("%%", "%")
    binds = _binds(compiled)
    types = ", ".join(_type_name(binds[name].type, compiled.dialect) for name in names)
    name = "p_" + hashlib.sha1(statement.encode()).hexdigest()[:24]
    placeholders = ", ".join(["%s"] * len(names))
    return _Prepared(name, f"PREPARE {name} ({types}) AS {text}", f"EXECUTE {name} ({placeholders})", tuple(names))


def _type_name(type_, dialect) -> str:
    """The parameter's SQL type, or `unknown` for PostgreSQL to infer it from where it is used."""
    return "unknown" if isinstance(type_, NullType) else type_.compile(dialect=dialect)


def _serialise_sqlite_writers(engine: Engine) -> None:
    """SQLite has no row locks: take the write lock at BEGIN so that transactions run one
    after the other instead of failing on a lock upgrade (the recipe from SQLAlchemy's docs)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys=ON")
        dbapi_connection.execute("PRAGMA journal_mode=WAL")

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")



def insert_for(session: Session):
    """The dialect's INSERT construct, the one that knows ON CONFLICT."""
    return insert_for_dialect(session.get_bind().dialect.name)


def insert_for_dialect(dialect: str):
    """The INSERT construct that knows ON CONFLICT, for the dialect named `dialect`."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


# --- Writes that wait for the transaction's next statement (PostgreSQL through psycopg2) --------
#
# A write whose outcome nobody reads (no rows back, no count) need not cost a round trip of its
# own: `write` renders it to SQL text on the spot, its values written in as literals as
# fetch_prepared writes them (a write of one row as the EXECUTE of a statement the connection
# prepared, whose PREPARE goes alone the first time the connection meets it), and keeps it on
# the pooled connection (`info`). The transaction's next statement carries it in front, in the
# same string (after the BEGIN if that has not gone yet), or its COMMIT does; a rollback drops
# it. Every statement sends what waits, a SAVEPOINT too, so what waits at a ROLLBACK TO
# SAVEPOINT was written after that savepoint: it is dropped as well. Elsewhere (SQLite, a
# connection in no transaction of ours) a write runs at once.


def write(session: Session, statement: Executable, params: dict | list[dict]) -> None:
    """Run `statement`, an INSERT, UPDATE or DELETE without RETURNING whose outcome nobody reads,
    with one parameter set or a list of them (several rows of a plain INSERT go as one INSERT).
    On PostgreSQL it waits for the transaction's next statement or its COMMIT (see above). Any
    later statement of the transaction sees it, since it goes first. But an error of the write
    (a constraint it breaks) surfaces there too, at the next statement or the commit, and fails
    the transaction: no caller may catch it around the write itself to carry on (none catches
    an IntegrityError around one). What it refers to must be written already (flushed, or
    written this way). Columns left out take their Python-side defaults, as SQLAlchemy gives
    them. The statement must be built once (its rendering is kept by it, as fetch_prepared
    keeps a statement's plan) and take no IN lists."""
    connection = joined_connection(session)
    _write(connection, _waiting_on(connection), statement, params)


def _write(connection: Connection, waiting: _Waiting | None, statement: Executable, params: dict | list[dict]) -> None:
    if waiting is None:  # also raises, for a finished transaction
        connection.execute(statement, params)
        return
    rows = params if isinstance(params, list) else [params]
    if rows:
        waiting.add(statement, _rendered(connection, statement, rows))


class _Waiting(list):
    """The SQL text of the writes waiting on a connection, in their order, and which of them
    are one row's own (`rows`: by table and key, its INSERT from write_new or its UPDATE from
    update_loaded), for update_loaded to write a later change of the row into. A write that is
    not one of those may meet the row in a way nobody sees from here: a write of rows by value
    or by key (write_rows, write_if_new, update_loaded) makes its table's rows forgotten, any
    other write all of them."""

    def __init__(self):
        super().__init__()
        self.rows: dict[tuple, _RowWrite] = {}

    def add(self, statement: Executable, text: str) -> None:
        """`text`, the write of `statement`, waits after the others; the rows it may meet are forgotten."""
        self.append(text)
        if id(statement) not in _BY_VALUE_OR_KEY:
            self.rows.clear()
            return
        for key in [key for key in self.rows if key[0] is statement.table]:
            del self.rows[key]


@dataclass
class _RowWrite:
    at: int  # its place among the waiting writes
    values: dict  # the INSERT's whole row, or the UPDATE's columns
    # The INSERT's rendering and the row's literals in its order, for a change to rewrite only
    # its own (_rewritten); None: the row's UPDATE by key.
    inserted: tuple[_Rendering, list[str]] | None = None


def _waiting_on(connection: Connection) -> _Waiting | None:
    """The writes waiting on the connection's transaction; None where writes run at once."""
    info = connection.info
    if info.get(_STATE) not in (_PENDING, _OPEN):
        return None
    waiting = info.get(_WAITING)
    if waiting is None:
        waiting = info[_WAITING] = _Waiting()
    return waiting


def write_rows(session: Session, model, rows: dict | list[dict]) -> None:
    """Insert rows that nothing in this transaction reads back as objects (a message, an audit
    line, a spin credit), straight to the table as a `write`: the unit of work's bookkeeping
    costs twice the statement, and on PostgreSQL the rows wait for the next statement."""
    write(session, _insert(model.__table__), rows)


def write_new(session: Session, model: type[T], values: dict) -> T:
    """A new row written (`write_rows`) and made the session's own as if loaded (as_loaded):
    the unit of work's INSERT, without its bookkeeping nor, on PostgreSQL, its round trip.
    Columns left out take their defaults (with_defaults), in the session's copy too."""
    row = with_defaults(model, values)
    connection = joined_connection(session)
    waiting = _waiting_on(connection)
    statement, written = _insert(model.__table__), None
    if waiting is None:
        _write(connection, waiting, statement, row)
    else:
        rendering = _rendering_on(connection, statement, [row])
        literals = _row_literals(rendering, row, connection.connection.dbapi_connection)
        waiting.add(statement, _one_row(rendering, literals))
        written = _RowWrite(len(waiting) - 1, row, (rendering, literals))
    instance = as_loaded(session, model, row)
    _written_here(session).add(inspect(instance).key)
    if written is not None:
        waiting.rows[_row_key(instance)] = written
    return instance


def write_blind(session: Session, model: type[T], values: dict) -> T:
    """`write_new` for a row that may clash on a unique key with one another transaction wrote
    meanwhile, where nothing looked first: the clash fails the transaction at its next
    statement (on SQLite, at once), and `wrote_blind` tells whoever runs it again, looking."""
    session.info[_WROTE_BLIND] = True
    return write_new(session, model, values)


def wrote_blind(session: Session) -> bool:
    """Whether the session wrote a row with write_blind (since it was made)."""
    return session.info.get(_WROTE_BLIND, False)


_WROTE_BLIND = "wrote blind"  # in session.info: write_blind wrote a row


def written_here(session: Session, instance) -> bool:
    """Whether write_new wrote `instance`'s row in the session's current transaction (its
    innermost: not across a savepoint), with no rollback since. Until that transaction commits,
    no other sees the row, let alone changes it: the session's copy is the row as it is, and a
    change to it can be worked out here and written without reading it back (update_loaded)."""
    return session.get_transaction() is not None and inspect(instance).key in _written_here(session)


def _written_here(session: Session) -> set:
    """The identity keys of the rows write_new wrote in the session's current transaction."""
    transaction = _innermost_transaction(session)
    held = session.info.setdefault(_WRITTEN_HERE, {})
    keys = held.get(transaction)
    if keys is None:
        for ended in [other for other in held if not other.is_active]:
            del held[ended]
        keys = held[transaction] = set()
    return keys


@event.listens_for(Session, "after_soft_rollback")
def _forget_written_here(session: Session, _previous) -> None:
    """A rollback, a savepoint's too, may undo what the session's copies of those rows still
    show (a savepoint's move of one): none counts as written here any more."""
    session.info.pop(_WRITTEN_HERE, None)


_WRITTEN_HERE = "rows written here"  # in session.info: {a transaction: the keys write_new wrote in it}


def with_defaults(model, values: dict) -> dict:
    """The whole row that inserting `values` writes: the columns left out at their Python-side
    defaults (one with none is NULL: a column the server fills must be given). A name that is
    no column raises, as the model's constructor would, instead of being dropped unwritten."""
    names = _column_names(model)
    if not values.keys() <= names:
        raise TypeError(f"not columns of {model.__tablename__}: {sorted(values.keys() - names)}")
    return {key: values[key] if key in values else _default_value(default) for key, default in _defaults(model.__table__)}


@cache
def _column_names(model) -> frozenset[str]:
    return frozenset(column_keys(model))


def write_if_new(session: Session, model, values: dict, conflict_columns: list[str]) -> None:
    """insert_on_conflict's DO NOTHING as a `write`: the row, unless one clashes with it on the
    unique key of `conflict_columns` (which nobody learns)."""
    write(session, _upsert(session.get_bind().dialect.name, model.__table__, tuple(conflict_columns), ()), values)


def update_loaded(session: Session, instance, **values) -> None:
    """Set columns of a row the session holds and this transaction has locked (or written), by
    its key, as a `write` instead of the unit of work's UPDATE, and the session's copy to the
    values as loaded ones, so that no flush writes them again. A column the ORM stamps at each
    update (`updated_at`) is stamped here too, unless given."""
    table = instance.__table__
    for key, default in _defaults(table, updating=True):
        values.setdefault(key, _default_value(default))
    connection, row_key = joined_connection(session), _row_key(instance)
    waiting = _waiting_on(connection)
    earlier = waiting.rows.get(row_key) if waiting is not None and _movable(table, tuple(values)) else None
    if earlier is not None:  # the row's own write still waits: the change goes in it
        waiting[earlier.at], waiting.rows[row_key] = _rewritten(connection, table, row_key[1], earlier, values)
    else:
        _write(connection, waiting, _update_by_key(table, tuple(values)), _update_params(table, row_key[1], values))
        if waiting is not None:
            waiting.rows[row_key] = _RowWrite(len(waiting) - 1, values)
    for key, value in values.items():
        set_committed_value(instance, key, value)


def _row_key(instance) -> tuple:
    """(its table, its primary key's values)."""
    table = instance.__table__
    return table, tuple(getattr(instance, column.key) for column in table.primary_key)


def _update_params(table: Table, key: tuple, values: dict) -> dict:
    """_update_by_key's parameters: the row's key, the columns' values."""
    keys = {f"k_{column.key}": value for column, value in zip(table.primary_key, key)}
    return {**keys, **{f"v_{name}": value for name, value in values.items()}}


def _rewritten(connection: Connection, table: Table, key: tuple, earlier: _RowWrite, values: dict) -> tuple[str, _RowWrite]:
    """The text of the row's waiting write with `values` changed in it, and the write: an
    INSERT keeps the literals of the rest of its row (a purchase changes its new customer's
    and balance's rows twice each, and writing out their twenty values again cost more than
    the change), an UPDATE is written again whole. So a value changed in place (a JSON dict)
    after its row was written is not written: as the ORM, which would not flush it either."""
    merged = {**earlier.values, **values}
    if earlier.inserted is None:
        text = _rendered(connection, _update_by_key(table, tuple(merged)), [_update_params(table, key, merged)])
        return text, _RowWrite(earlier.at, merged)
    rendering, literals = earlier.inserted
    literals = _patched(rendering, literals, values, connection.connection.dbapi_connection)
    return _one_row(rendering, literals), _RowWrite(earlier.at, merged, (rendering, literals))


@cache
def _movable(table: Table, columns: tuple[str, ...]) -> bool:
    """Whether a change of these columns may be written into the row's write that waits ahead
    of others: none is part of a key or a unique constraint, or refers to another row, so no
    write between meets the row any differently (a conflict, a reference to a row not there)."""
    keyed = {column.key for constraint in table.constraints if isinstance(constraint, (PrimaryKeyConstraint, UniqueConstraint))
             for column in constraint.columns}
    keyed |= {column.key for index in table.indexes if index.unique for column in index.columns}
    return not any(name in keyed or table.c[name].unique or table.c[name].foreign_keys for name in columns)


_BY_VALUE_OR_KEY: set[int] = set()  # the ids of the writes below: each meets only the rows it names


def _by_value_or_key(statement: Executable) -> Executable:
    _BY_VALUE_OR_KEY.add(id(statement))  # built once and kept (cache): its id stays its own
    return statement


@cache
def _insert(table: Table):
    return _by_value_or_key(insert(table))


@cache
def _update_by_key(table: Table, keys: tuple[str, ...]):
    """The UPDATE of these columns of one row; parameters k_<key column>, v_<column>."""
    return _by_value_or_key(
        update(table)
        .where(*(column == bindparam(f"k_{column.key}") for column in table.primary_key))
        .values({table.c[key]: bindparam(f"v_{key}") for key in keys})
    )


@cache
def _defaults(table: Table, updating: bool = False) -> tuple:
    """(column key, its Python-side default) for every column when inserting (None: it has
    none), or for the columns stamped at each update."""
    if updating:
        return tuple((column.key, column.onupdate) for column in table.c if column.onupdate is not None)
    return tuple((column.key, column.default) for column in table.c)


def _default_value(default):
    """A column default's value, made as SQLAlchemy makes it (a callable's without a context)."""
    if default is None:
        return None
    return default.arg(None) if default.is_callable else default.arg


@dataclass(frozen=True)
class _Rendering:
    """A write's SQL text with "{}" for each value (`row`), in the order of `names` (one may come
    twice). Several rows of an INSERT share `head`, one `row` each joined by `joint`, then
    `tail`; other statements repeat whole. A write of one row runs a prepared statement (`row`
    is its EXECUTE), PREPAREd once per connection: PostgreSQL then neither parses nor plans it
    at each message, which cost it more than running most of them."""

    head: str
    row: str
    joint: str
    tail: str
    names: tuple[str, ...]
    places: dict  # each name's places in `names`
    writers: tuple  # each name's writer: its literal, its bind processing done (_writer)
    quoted: tuple  # the same without standard strings: the driver quotes (_by_driver)
    fixed: dict  # the values of parameters the statement holds (literals)
    generated: tuple  # (name, column default) for the values SQLAlchemy makes when not given
    prepared: _Prepared | None = None  # the statement EXECUTE runs


_renderings: dict[tuple, _Rendering] = {}  # by statement, the first row's keys, and whether it is one row


def _rendered(connection: Connection, statement: Executable, rows: list[dict]) -> str:
    rendering = _rendering_on(connection, statement, rows)
    dbapi_connection = connection.connection.dbapi_connection
    rendered = [rendering.row.format(*_row_literals(rendering, row, dbapi_connection)) for row in rows]
    return rendering.head + rendering.joint.join(rendered) + rendering.tail


def _rendering_on(connection: Connection, statement: Executable, rows: list[dict]) -> _Rendering:
    """How `statement` is written for `rows` (made once), its statement prepared on the connection."""
    key = (statement, tuple(rows[0]), len(rows) == 1)
    rendering = _renderings.get(key) or _renderings.setdefault(key, _rendering(statement, *key[1:], connection.dialect))
    if rendering.prepared is not None:
        _prepare_once(connection, rendering.prepared)
    return rendering


def _one_row(rendering: _Rendering, literals: list[str]) -> str:
    """The write of one row, its literals (_row_literals) written in."""
    return rendering.head + rendering.row.format(*literals) + rendering.tail


def _row_literals(rendering: _Rendering, row: dict, dbapi_connection) -> list[str]:
    """The literals of a row's values, in the rendering's order."""
    given = {**rendering.fixed, **row}
    for name, default in rendering.generated:
        if name not in given:
            given[name] = _default_value(default)
    return _literals(map(given.__getitem__, rendering.names), _writers_on(rendering, dbapi_connection), dbapi_connection)


def _patched(rendering: _Rendering, literals: list[str], values: dict, dbapi_connection) -> list[str]:
    """A row's `literals` (_row_literals) with those of `values` written anew."""
    writers, patched = _writers_on(rendering, dbapi_connection), list(literals)
    for name, value in values.items():
        for at in rendering.places[name]:
            patched[at] = writers[at](value, dbapi_connection)
    return patched


def _writers_on(rendering: _Rendering, dbapi_connection) -> tuple:
    return rendering.writers if _plain_strings(dbapi_connection) else rendering.quoted


def _processing(binds: dict, names: tuple[str, ...], dialect) -> tuple[tuple, tuple]:
    """Each parameter's bind processor (None: none), and its writer (_writer)."""
    types = [binds[name].type for name in names]
    processors = tuple(type_.dialect_impl(dialect).bind_processor(dialect) for type_ in types)
    return processors, tuple(map(_writer, types, processors))


def _literals(values, writers: tuple, dbapi_connection) -> list[str]:
    """The values' literals, each processed as its type's bind processor would."""
    return [write(value, dbapi_connection) for write, value in zip(writers, values)]


def _writer(type_, process) -> Callable:
    """The function (value, dbapi_connection) -> the literal of a parameter of `type_`, its bind
    processor `process` (or None) applied, for connections with standard strings (_literal).
    What UTCDateTime's processing passes as it is, NULL and a UTC time, goes straight to the
    literal: most times written are the message's, in UTC. JSON's None, {} and [] (a message's
    media, a lot's details, a notice's variables: half the JSON a purchase writes) are written
    as its processing wrote them once, not serialised each time."""
    if process is None:
        return _literal
    if isinstance(type_, UTCDateTime):
        return lambda value, dbapi_connection: _literal(
            value if value is None or value.tzinfo is timezone.utc else process(value), dbapi_connection
        )
    if isinstance(type_, JSON):
        empty = {kind: _literal(process(kind()), None) for kind in (type(None), dict, list)}  # text: no connection needed
        return lambda value, dbapi_connection: (
            empty[type(value)] if not value and type(value) in empty else _literal(process(value), dbapi_connection)
        )
    return lambda value, dbapi_connection: _literal(process(value), dbapi_connection)


def _by_driver(process) -> Callable:
    """A writer (_writer) for connections without standard strings: the driver quotes the value
    its bind processor `process` (or None) made."""
    if process is None:
        return _quoted_by_driver
    return lambda value, dbapi_connection: _quoted_by_driver(process(value), dbapi_connection)


def _quoted_by_driver(value, dbapi_connection) -> str:
    with dbapi_connection.cursor() as cursor:
        return cursor.mogrify("%s", (value,)).decode()


def _rendering(statement: Executable, keys: tuple[str, ...], one_row: bool, dialect) -> _Rendering:
    """How `statement` is written for rows with these keys, compiled once as SQLAlchemy would
    run it: the same text, defaults and bind processing. One row: as the EXECUTE of the
    statement prepared. Several: a plain INSERT is split where SQLAlchemy splits it to send
    many rows at once (its insertmanyvalues)."""
    compiled = statement.compile(dialect=dialect, column_keys=list(keys), for_executemany=not one_row)
    text = compiled.string
    if "POSTCOMPILE" in text:
        raise ValueError("a write cannot wait with an IN list: its text depends on the values")
    if compiled.returning:
        raise ValueError("a write that returns rows cannot wait: nobody would read them")
    many = getattr(compiled, "_insertmanyvalues", None)  # a plain INSERT: the VALUES of one row, to repeat
    binds = _binds(compiled)
    prepared = _plan(text, compiled) if one_row else None
    # Not prepared: a statement of no parameter (PREPARE takes no empty list), or with one of no
    # type, which PostgreSQL cannot always place (-$1).
    if prepared is not None and (not prepared.names or any(isinstance(binds[name].type, NullType) for name in prepared.names)):
        prepared = None
    if prepared is not None:
        head, tail, joint = "", "", "; "
        names = prepared.names
        row = f"EXECUTE {prepared.name} ({', '.join(['{}'] * len(names))})"
    else:
        if many is not None and not one_row:
            head, tail = text.split(many.single_values_expr)
            text, joint = many.single_values_expr, "), ("
        else:
            head, tail, joint = "", "", "; "
        parts = _PLACEHOLDER.split(text)  # text, name, text, name... text, a "%" written "%%"
        names = tuple(parts[1::2])
        row = "{}".join(part.replace("%%", "%").replace("{", "{{").replace("}", "}}") for part in parts[0::2])
    # The columns whose Python-side default SQLAlchemy would make before running the statement.
    generated = tuple((column.key, column.default) for column in compiled.insert_prefetch)
    generated += tuple((column.key, column.onupdate) for column in compiled.update_prefetch)
    made = {name for name, _ in generated}
    if not made <= set(names):
        raise ValueError(f"defaults of {sorted(made)} are not all parameters of the statement")
    processors, writers = _processing(binds, names, dialect)
    places = {name: tuple(at for at, other in enumerate(names) if other == name) for name in names}
    return _Rendering(
        head=head.replace("%%", "%"), row=row, joint=joint, tail=tail.replace("%%", "%"), names=names, places=places,
        writers=writers, quoted=tuple(map(_by_driver, processors)),
        fixed={name: bind.value for name, bind in binds.items() if not bind.required and name not in made},
        generated=generated, prepared=prepared,
    )


def _prepare_once(connection: Connection, prepared: _Prepared) -> None:
    """PREPARE the statement on the connection unless it was (fetch_prepared's, a write's):
    alone, at once, before the BEGIN and the writes waiting, which go with the statement that
    runs it (a PREPARE changes no row, and outlives a rollback). Once per connection and
    statement: a live server's connections soon hold all of them."""
    known = connection.info.setdefault(_PREPARED, set())
    if prepared.name in known:
        return
    try:
        with connection.connection.dbapi_connection.cursor() as cursor:
            cursor.execute(prepared.prepare)
    except connection.dialect.loaded_dbapi.Error as error:
        if not _already_prepared(error, known, prepared.name) or connection.info.get(_STATE) == _OPEN:
            raise _driver_error(connection, error, prepared.prepare, None) from error
    known.add(prepared.name)


def _already_prepared(error: Exception, known: set, name: str) -> bool:
    """Whether the server had prepared `name` already: a PREPARE it ran, cut short before it was
    noted here (a job's timeout signal). Noted now, so that the connection's next use of the
    statement runs it instead of failing the same way."""
    if getattr(error, "pgcode", None) != _DUPLICATE_PREPARED_STATEMENT:
        return False
    known.add(name)
    return True


_PREPARED = "prepared_statements"  # in a connection's info: the names of the statements it prepared
_CURSOR = "own_cursor"  # in a connection's info: its cursor (_own_cursor)
_DUPLICATE_PREPARED_STATEMENT = "42P05"


def as_loaded(session: Session, model: type[T], row) -> T:
    """The session's copy of a row a statement just read or wrote (a Row, SQLAlchemy's or
    fetch_prepared's, or a dict keyed by the model's attributes; every column of the model in
    it, since a column missing from a new copy would read as None), as if the ORM had loaded it
    with populate_existing: refreshed when the session holds it, else made and put in its
    identity map clean, so that reading it later costs no query. Far cheaper than the ORM's
    loading, which wraps a few dict writes in a deal of machinery."""
    mapper = inspect(model)
    values = row if isinstance(row, dict) else row._asdict()
    key = mapper.identity_key_from_primary_key([values[column.key] for column in mapper.primary_key])
    instance = session.identity_map.get(key)
    if instance is None:
        instance = mapper.class_manager.new_instance()  # as the ORM's loading does: no __init__
        instance.__dict__.update(values)
        _attach_as_loaded(session, instance_state(instance), key)
    else:
        for name, value in values.items():
            set_committed_value(instance, name, value)
    return instance


def _attach_as_loaded(session: Session, state, key) -> None:
    """Make a new object's state persistent in `session` under `key`, clean, in the three steps
    the ORM's own loading takes (sqlalchemy/orm/loading.py, `_instance`). Making it detached and
    adding it (make_transient_to_detached, Session.add) does the same through the cascades and
    attach events of an object a caller hands in: a twelfth of a BAL's instructions, twice a
    message. Private to SQLAlchemy, hence its version pinned and tests/test_db.py's checks that
    such an object is the session's own: found by get, its changes flushed, detached on close."""
    state.key = key
    state.session_id = session.hash_key
    session.identity_map._add_unpresent(state, key)


def model_columns(model, source=None) -> list:
    """A model's columns in its table's order, taken from `source` (a subquery or CTE of the
    table; default the table): what a statement selects so that `loaded` reads the row back."""
    source = model.__table__ if source is None else source
    return [source.c[column.key] for column in model.__table__.c]


def loaded(session: Session, model: type[T], row, start: int) -> T | None:
    """The object whose columns (as model_columns lists them) start at `start` in `row`, the
    session's own (as_loaded); None when its key is NULL (an outer join found none)."""
    keys, key_at = _column_keys(model)
    if row[start + key_at] is None:
        return None
    return as_loaded(session, model, dict(zip(keys, row[start:start + len(keys)])))


@cache
def column_keys(model) -> tuple[str, ...]:
    """The model's column keys in table order, as model_columns selects them."""
    return tuple(column.key for column in model.__table__.c)


@cache
def _column_keys(model) -> tuple[tuple[str, ...], int]:
    """column_keys, and where the last of the primary key's is (never NULL in a row)."""
    keys = column_keys(model)
    return keys, keys.index(inspect(model).primary_key[-1].key)


def insert_on_conflict(
    session: Session, model, values: dict, conflict_columns: list[str] | None = None, update: dict | None = None
) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING (or DO UPDATE SET `update`); True when a row was written.
    Without `conflict_columns`, a clash on any unique key skips the row. What the row refers to
    is flushed first, as a query would.

    Safe under concurrency: a racing transaction waits on the unique key, then skips or updates."""
    session.flush()
    connection = session.connection()
    statement = _upsert(connection.dialect.name, model.__table__, tuple(conflict_columns or ()), tuple(update or ()))
    return connection.execute(statement, {**values, **{f"set_{name}": value for name, value in (update or {}).items()}}).rowcount == 1


@cache
def _upsert(dialect: str, table: Table, conflict_columns: tuple[str, ...], updated: tuple[str, ...]):
    """The statement, built once: the values are parameters, those of the update named set_*."""
    statement = insert_for_dialect(dialect)(table)
    if updated:
        statement = statement.on_conflict_do_update(index_elements=conflict_columns, set_={name: bindparam(f"set_{name}") for name in updated})
    else:
        statement = statement.on_conflict_do_nothing(index_elements=conflict_columns or None)
    return _by_value_or_key(statement)


def json_array(columns):
    """SQL: the values of `columns` as one JSON array, which from_json_array reads back. A row of
    many columns in a statement every message runs, as one: the driver describes each column of
    a statement at every execution, about 3,000 instructions a column."""
    _json_readers(tuple(columns))  # a type it cannot read back is refused here
    return func.json_build_array(*columns)


def from_json_array(columns: tuple, values: list) -> tuple:
    """The values json_array wrote, as the columns' own types read them."""
    row = list(values)
    for at, read in _json_readers(columns):
        if row[at] is not None:
            row[at] = read(row[at])
    return tuple(row)


@cache
def _json_readers(columns: tuple) -> tuple:
    """(place, reader) for the columns whose values are read back from their JSON (_json_reader):
    a staff message's row has 37 columns, 16 of them such."""
    readers = ((at, _json_reader(column.type)) for at, column in enumerate(columns))
    return tuple((at, read) for at, read in readers if read is not None)


def _json_reader(kind) -> Callable | None:
    """How a value of the type `kind` reads back from JSON: UUIDs and UTC times from their text;
    strings, numbers, booleans and JSON as they are. Other types are refused when the statement
    is built rather than misread."""
    if isinstance(kind, Uuid):
        return _uuid_from_text
    if isinstance(kind, UTCDateTime):
        return _utc_from_json
    if isinstance(kind, (String, Integer, Boolean, JSON)):
        return None
    raise TypeError(f"a {kind!r} column cannot be read back from JSON")


def _utc_from_json(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(timezone.utc)


def snapshot_version(table, row):
    """SQL (PostgreSQL): the version (xmin) of `table`'s row with the key of `row` (the table, or
    a subquery of it, in the outer query) as the statement's snapshot sees it. A row locked
    after a wait for another transaction is the newer version that one wrote: the two differ
    when what the statement read with its snapshot may be from before that transaction."""
    seen = table.alias("seen")
    return (
        select(literal_column("seen.xmin"))
        .where(seen.c.tenant_id == row.c.tenant_id, seen.c.id == row.c.id)
        .correlate(row)  # the outer query's row: else a subquery `row` runs, and locks, once more in here
        .scalar_subquery()
    )


class on_postgresql(FunctionElement):
    """SQL: `expression` on PostgreSQL, NULL elsewhere: what a statement reads there only to
    save a later query, which the caller runs elsewhere."""

    inherit_cache = True


@compiles(on_postgresql, "postgresql")
def _on_postgresql(element, compiler, **kw) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(on_postgresql)
def _elsewhere(element, compiler, **kw) -> str:
    return "NULL"


class later(FunctionElement):
    """SQL: a stored time plus some hours (PostgreSQL's intervals, SQLite's date modifiers), to
    ask whether an event came within hours of another one."""

    type = UTCDateTime()
    inherit_cache = True

    def __init__(self, moment, hours: int):
        super().__init__(moment, literal(hours, Integer()))


@compiles(later, "postgresql")
def _later_postgresql(element, compiler, **kw) -> str:
    moment, hours = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"({moment} + make_interval(hours => {hours}))"


@compiles(later, "sqlite")
def _later_sqlite(element, compiler, **kw) -> str:
    moment, hours = (compiler.process(clause, **kw) for clause in element.clauses)
    # The format SQLAlchemy stores SQLite times in, so that they compare as text.
    return f"strftime('%Y-%m-%d %H:%M:%f', {moment}, '+' || {hours} || ' hours')"
