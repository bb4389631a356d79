"""Lists a page at a time, by keyset: a cursor holds the sort key of the last row shown, so a
page costs the same wherever it is and rows written meanwhile are neither skipped nor repeated.
The cursor is opaque to callers (base64 of JSON); a tampered one is refused, never trusted
beyond the tenant the query already filters on."""
from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Generic, Sequence, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import Session

from bot.json_input import parse_json

T = TypeVar("T")
MAX_LIMIT = 200


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class Page(Generic[T]):
    data: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class SortKey:
    """A column of the sort order, and how to read its value back from a cursor."""

    column: Any
    parse: Callable[[str], Any]


def moment(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("a cursor's time has its zone")
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:  # past the calendar's ends once in UTC: no row's time
        raise ValueError("a cursor's time is out of range") from None


def integer(text: str) -> int:
    """A cursor's whole number, within what a column of integers holds."""
    value = int(text)
    if abs(value) >= 2**63:
        raise ValueError("a cursor's number is out of range")
    return value


def by_newest(created_at, row_id) -> list[SortKey]:
    """The usual order: newest first, ties broken by id."""
    return [SortKey(created_at, moment), SortKey(row_id, uuid.UUID)]


def page(
    session: Session, query: Select, keys: Sequence[SortKey], cursor: str | None, limit: int, *,
    descending: bool = True, key_of: Callable[[Any], tuple], convert: Callable[[Any], T] = lambda row: row,
) -> Page[T]:
    """Run `query` (without its ORDER BY) ordered by `keys`, from after `cursor`. `key_of(row)`
    gives a row's values for `keys`; `convert(row)` what the page holds."""
    limit = max(1, min(limit, MAX_LIMIT))
    order = [key.column.desc() if descending else key.column.asc() for key in keys]
    if cursor:
        query = query.where(_after(keys, _decode(cursor, keys), descending))
    rows = session.execute(query.order_by(*order).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _encode(key_of(rows[-1])) if more else None
    return Page([convert(row) for row in rows], next_cursor)


def _after(keys: Sequence[SortKey], values: list, descending: bool):
    """(a, b) after (x, y) in the order: a beyond x, or a = x and b beyond y."""
    def beyond(column, value):
        return column < value if descending else column > value

    clauses = []
    for i, key in enumerate(keys):
        equal = [keys[j].column == values[j] for j in range(i)]
        clauses.append(and_(*equal, beyond(key.column, values[i])))
    return or_(*clauses)


def _encode(values: tuple) -> str:
    text = json.dumps([value.isoformat() if hasattr(value, "isoformat") else str(value) for value in values])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str, keys: Sequence[SortKey]) -> list:
    try:
        raw = parse_json(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(keys) or not all(isinstance(value, str) for value in raw):
            raise ValueError("wrong shape")  # every value a cursor holds was written as a string
        return [key.parse(value) for key, value in zip(keys, raw)]
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        raise BadCursor("not a cursor this list gave") from None
