"""The vendors' rows as this process last read them, for the message's first query to name by id
and version instead of reading every column again.

Each message's first query reads the vendor's id and the version of its row (`row_version`:
PostgreSQL's xmin, which every UPDATE of the row changes, whoever makes it; on SQLite, the
updated_at the models stamp), so a reload or a settings change, made by any process, shows at
the very next message: a version the cache does not hold is read again, in a statement of its
own (a vendor found inactive then is taken for gone). A hit saves the first
query nine columns, each of which the driver describes and converts at every message, and the
decoding of the vendor's settings: about a twentieth of a BAL's instructions. An entry is read
again after ten minutes all the same, so that no old version can come back as a new one (xmin
wraps around after four billion transactions).

It also keeps whether the first query last found a phone writing to a number on the staff of
the one vendor it found (staff_on): a guess, by which the next message of the phone to that
number runs the query in the form for staff or the one for customers (bot/dispatcher.py).

Every message's copy of a vendor shares the settings read: they are frozen, so that a change in
place fails at once instead of reaching other messages; a change assigns new settings, as
bot/services/settings.py does."""
from __future__ import annotations

import copy
import time
import uuid

from sqlalchemy import bindparam, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import String

from bot.db import as_loaded, column_keys, connection_of, model_columns, run_prepared
from models import Tenant

MAX_AGE = 600.0  # seconds an entry is trusted before it is read again, whatever its version


class row_version(FunctionElement):
    """SQL: the version of a vendor's row, as text."""

    type = String()
    inherit_cache = True


@compiles(row_version, "postgresql")
def _row_version_postgresql(element, compiler, **kw) -> str:
    return "tenants.xmin::text"


@compiles(row_version)
def _row_version_elsewhere(element, compiler, **kw) -> str:
    return "CAST(tenants.updated_at AS TEXT)"


class VendorCache:
    def __init__(self, clock=time.monotonic):
        self._rows: dict[uuid.UUID, tuple[str, float, dict]] = {}  # id: (version, read at, column values)
        self._last_on: dict[str, tuple[uuid.UUID, str]] = {}  # a number: (id, country) of the vendor last read on it
        self._staff_on: set[tuple[str, str]] = set()  # (a number, a phone): see staff_on
        self._clock = clock

    def last_on(self, number: str) -> tuple[uuid.UUID, str] | None:
        """The id and country of the vendor last read on `number` (None: none read yet): a guess,
        for what a message is read and counted with before its first query finds the vendor."""
        return self._last_on.get(number)

    def staff_on(self, number: str, phone: str) -> bool:
        """Whether the first query last found `phone`, writing to `number`, on the staff of the one
        vendor it found: a guess, for which form of the query a message of it runs. A phone first
        seen is guessed to be a customer, as most are."""
        return (number, phone) in self._staff_on

    def found_sender(self, number: str, phone: str, is_staff: bool) -> None:
        """What the first query found of `phone` writing to `number`, for staff_on."""
        if is_staff:
            self._staff_on.add((number, phone))
        else:
            self._staff_on.discard((number, phone))

    def tenant(self, session: Session, tenant_id: uuid.UUID, version: str) -> Tenant | None:
        """The vendor as of `version`, the session's own (None if it is gone meanwhile)."""
        held = self._rows.get(tenant_id)
        if held is None or held[0] != version or self._clock() - held[1] > MAX_AGE:
            held = self._read(session, tenant_id)
            if held is None:
                return None
        return as_loaded(session, Tenant, held[2])

    def _read(self, session: Session, tenant_id: uuid.UUID) -> tuple[str, float, dict] | None:
        row = run_prepared(connection_of(session), _VENDOR, {"id": tenant_id})
        if row is None or not row.is_active:  # gone, or switched off since the first query
            return None
        values = dict(zip(column_keys(Tenant), row))
        values["settings"] = frozen(values["settings"])
        held = self._rows[tenant_id] = (row[-1], self._clock(), values)
        self._last_on[values["whatsapp_number"]] = (tenant_id, values["country"])
        return held


_VENDOR = select(*model_columns(Tenant), row_version()).where(Tenant.id == bindparam("id"))


def frozen(value):
    """`value` (what JSON holds) with its dicts and lists made read-only, all the way down."""
    if isinstance(value, dict):
        return FrozenDict({key: frozen(item) for key, item in value.items()})
    if isinstance(value, list):
        return FrozenList(frozen(item) for item in value)
    return value


def _refuse(self, *args, **kwargs):
    raise TypeError("a vendor's settings are shared by every message: assign new ones instead")


class FrozenDict(dict):
    """A dict that cannot change. Its copies are plain dicts (a copy's values are the same
    values, frozen; a deepcopy's or pickle's are plain all the way down)."""

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self):
        return dict, (dict(self),)

    def __deepcopy__(self, memo):
        return {key: copy.deepcopy(item, memo) for key, item in self.items()}


class FrozenList(list):
    """A list that cannot change. Its copies are plain lists, as FrozenDict's are dicts."""

    __setitem__ = __delitem__ = __iadd__ = __imul__ = append = clear = extend = insert = pop = remove = reverse = sort = _refuse

    def __reduce__(self):
        return list, (list(self),)

    def __deepcopy__(self, memo):
        return [copy.deepcopy(item, memo) for item in self]
