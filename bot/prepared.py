"""Server-side prepared statements for psycopg2, which has none of its own.

PostgreSQL plans every statement it is sent; for the short statements of a message the plan
costs more than running it (0.6 ms against 0.1 ms for the vendor look-up). A connection made
by `PreparingConnection` counts the statements it runs; from the PREPARE_AFTER-th run of one on
that connection it is prepared once (`PREPARE s3 AS ...`, with `$n` parameters) and from then
on sent as `EXECUTE s3 (...)`, so PostgreSQL parses and plans it once per connection (after
five runs a prepared statement keeps a generic plan, unless custom plans are cheaper).

Only statements with named parameters (what SQLAlchemy sends) are prepared, and only inside a
transaction: the PREPARE runs under a savepoint, so a statement PostgreSQL cannot prepare (a
parameter whose type it cannot infer) is remembered and sent as before, and the transaction
goes on. Prepared statements live as long as the connection; a connection keeps at most
MAX_PREPARED.
"""
from __future__ import annotations

import re

import psycopg2.extensions

PREPARE_AFTER = 3  # runs of one statement on one connection before it is prepared
MAX_PREPARED = 500  # per connection: the app has a few hundred distinct statements
_PREPARABLE = re.compile(r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", re.IGNORECASE)
_PARAMETER = re.compile(r"%\((\w+)\)s|%%")
_CANNOT = object()  # a statement PostgreSQL refused to prepare


class PreparingCursor(psycopg2.extensions.cursor):
    def execute(self, query, vars=None):
        if isinstance(vars, dict) and vars:
            query = self.connection.prepared_form(query, self)
        return super().execute(query, vars)


class PreparingConnection(psycopg2.extensions.connection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cursor_factory = PreparingCursor
        self._runs: dict[str, int] = {}
        self._prepared: dict[str, object] = {}  # statement -> its EXECUTE, or _CANNOT

    def prepared_form(self, query: str, cursor: PreparingCursor) -> str:
        """The statement to send for `query`: its EXECUTE once prepared, else itself."""
        execute = self._prepared.get(query)
        if execute is not None:
            return query if execute is _CANNOT else execute
        runs = self._runs[query] = self._runs.get(query, 0) + 1
        if runs < PREPARE_AFTER or len(self._prepared) >= MAX_PREPARED or not self._in_transaction():
            return query
        if not _PREPARABLE.match(query):
            self._prepared[query] = _CANNOT
            return query
        name = f"s{len(self._prepared)}"
        body, names = _numbered(query)
        try:
            with self.cursor() as prepare:
                prepare.execute(f"SAVEPOINT prepare_{name}; PREPARE {name} AS {body}; RELEASE SAVEPOINT prepare_{name}")
        except psycopg2.Error:
            with self.cursor() as undo:
                undo.execute(f"ROLLBACK TO SAVEPOINT prepare_{name}; RELEASE SAVEPOINT prepare_{name}")
            self._prepared[query] = _CANNOT
            return query
        del self._runs[query]
        execute = f"EXECUTE {name} ({', '.join(f'%({n})s' for n in names)})" if names else f"EXECUTE {name}"
        self._prepared[query] = execute
        return execute

    def _in_transaction(self) -> bool:
        # The savepoint needs a transaction: psycopg2 opens one before a statement, unless in
        # autocommit mode; a failed transaction is left to fail on its own statement.
        status = self.info.transaction_status
        return not self.autocommit and status in (
            psycopg2.extensions.TRANSACTION_STATUS_IDLE, psycopg2.extensions.TRANSACTION_STATUS_INTRANS
        )


def _numbered(query: str) -> tuple[str, list[str]]:
    """`%(name)s` placeholders as `$1, $2...` (one number per name), `%%` as `%`; the names
    in the order of their numbers."""
    names: list[str] = []

    def number(match: re.Match) -> str:
        name = match.group(1)
        if name is None:
            return "%"
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _PARAMETER.sub(number, query), names
