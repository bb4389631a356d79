"""Declarative base and the column types every model shares."""
from __future__ import annotations

import random
import time
import uuid
from datetime import datetime, timezone

from sqlalchemy import JSON, DateTime, MetaData, TypeDecorator, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase


def partial(condition: str) -> dict:
    """A partial index's condition, on both databases: Index(..., **partial("x IS NOT NULL"))."""
    return {"postgresql_where": text(condition), "sqlite_where": text(condition)}


NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, the version, 12 random bits, the
# variant, 62 random bits.
_V7 = (0x7 << 76) | (0b10 << 62)
_LOW_62 = (1 << 62) - 1
_SAFETY_UNKNOWN = uuid.SafeUUID.unknown  # what uuid.UUID's constructor sets when it is not told


def new_id() -> uuid.UUID:
    """A time-ordered id (UUID version 7): new rows land at the end of their primary key's index
    rather than on a random page of it, and making one costs no system call (uuid4 reads the
    OS's random source each time, which showed in a vote's profile). The random bits come from
    `random`, which each forked process seeds anew: ids are not secrets, and what must not be
    guessed (PINs, codes, tokens, keys) comes from `secrets`."""
    bits = random.getrandbits(74)
    return uuid_of((time.time_ns() // 1_000_000 << 80) | _V7 | (bits >> 62 << 64) | (bits & _LOW_62))


def uuid_of(number: int) -> uuid.UUID:
    """The UUID of a 128-bit `number` made right (here, or by the server), as uuid.UUID's
    constructor makes it (its two slots set), without the checks that cost a message's ids
    (a dozen a purchase) more than making them."""
    made = object.__new__(uuid.UUID)
    object.__setattr__(made, "int", number)
    object.__setattr__(made, "is_safe", _SAFETY_UNKNOWN)
    return made


class UTCDateTime(TypeDecorator):
    """Stores UTC and always hands back an aware UTC datetime (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; store times in UTC")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict: JSONType, list: JSONType}
