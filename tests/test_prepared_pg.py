"""Statements prepared once per connection on PostgreSQL (bot/prepared.py)."""
from __future__ import annotations

import psycopg2
import pytest
from sqlalchemy.engine import make_url

from bot.prepared import PREPARE_AFTER, PreparingConnection


@pytest.fixture
def connection(database_url):
    url = make_url(database_url)
    connection = psycopg2.connect(
        host=url.host, port=url.port, user=url.username, dbname=url.database, connection_factory=PreparingConnection
    )
    yield connection
    connection.close()


def prepared(connection) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_a_statement_run_often_is_prepared_once_and_answers_the_same(connection):
    query = "SELECT %(a)s::int + %(b)s::int, '100%%'"
    answers = []
    with connection.cursor() as cursor:
        for n in range(PREPARE_AFTER + 3):
            cursor.execute(query, {"a": n, "b": 1})
            answers.append(cursor.fetchone())
    assert answers == [(n + 1, "100%") for n in range(PREPARE_AFTER + 3)]
    statements = prepared(connection)
    assert len(statements) == 1 and "PREPARE s0 AS SELECT $1::int + $2::int, '100%'" in statements[0]


def test_a_statement_postgresql_cannot_prepare_runs_as_before_and_the_transaction_goes_on(connection):
    query = "SELECT %(a)s + %(b)s"  # unknown + unknown: PREPARE cannot choose the operator
    with connection.cursor() as cursor:
        for n in range(PREPARE_AFTER + 2):
            cursor.execute(query, {"a": n, "b": 1})
            assert cursor.fetchone() == (n + 1,)
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
    connection.commit()
    assert prepared(connection) == []


def test_nothing_is_prepared_in_autocommit_mode(connection):
    connection.autocommit = True
    with connection.cursor() as cursor:
        for _ in range(PREPARE_AFTER + 1):
            cursor.execute("SELECT %(a)s::int", {"a": 1})
    assert prepared(connection) == []
