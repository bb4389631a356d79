"""Staff identity: PINs (hashed, with a lockout counted per phone), and the short session a
good PIN opens."""
from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, literal_column, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from bot import pins
from bot.db import (
    connection_of, from_json_array, insert_on_conflict, json_array, loaded, model_columns, on_postgresql, run_prepared, snapshot_version,
)
from bot.pins import ascii_digits, pin_problem  # the tenant loader and the CLI import pin_problem from here
from bot.services import audit
from bot.services.customers import named_member_read
from bot.services.context import Context, Lockout
from models import Customer, PinLockout, Tenant, Staff

MAX_PIN_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
SESSION = timedelta(minutes=10)
# A message with more digit runs that could be the PIN has them all masked instead: for staff
# without a fingerprint yet, each run costs a check against the slow hash (about 70 ms).
MAX_PIN_CANDIDATES = 3


def hash_pin(pin: str) -> str:
    return generate_password_hash(ascii_digits(pin))  # scrypt with a random salt


def deactivate(user: Staff) -> bool:
    """Take a staff member off: their open PIN session and whatever they were in the middle of
    end with it, so that being taken back on starts afresh. True when they were active."""
    if not user.is_active:
        return False
    user.is_active, user.session_expires_at, user.conversation_state = False, None, {}
    return True


def clear_pin(user: Staff) -> None:
    """Forget a staff member's PIN, and the session it opened: they choose a new one by chat
    (taken on again, or their PIN reset)."""
    user.pin_hash, user.pin_fingerprint, user.session_expires_at = None, None, None


def matches_pin(pin_hash: str | None, pin: str) -> bool:
    """Whether `pin`, in the digits of any script, is the one `pin_hash` was made from."""
    return bool(pin_hash) and check_password_hash(pin_hash, ascii_digits(pin))


def fingerprint_pin(pepper: str, staff_id: uuid.UUID, pin: str) -> str:
    """A fast keyed fingerprint of a staff member's PIN, to find it inside messages without a
    slow hash per digit run. Without the pepper (never in the database) it tells nothing."""
    return hmac.new(pepper.encode(), f"{staff_id}:{ascii_digits(pin)}".encode(), hashlib.sha256).hexdigest()


class PinChoice:
    """Choosing a PIN by chat: it is typed twice, and between the two messages only its hash is
    kept (in the conversation state), never the PIN."""

    @staticmethod
    def draft(pin: str) -> str | None:
        """The hash of a PIN that keeps the rules, to confirm against; None if it breaks them."""
        pin = pin.strip()
        return None if pin_problem(pin) else hash_pin(pin)

    @staticmethod
    def confirms(draft: str, pin: str) -> bool:
        return matches_pin(draft, pin.strip())


@dataclass(frozen=True)
class StaffSender:
    """The sender of a message, as the vendor's staff table knows them (all None: not staff)."""

    staff: Staff | None
    customer: Customer | None
    lockout: Lockout | None
    # The dispatcher's first query waited for the staff row (staff_locked): what else it read, it
    # read as of before the message it waited for, which may have changed it.
    waited: bool = False
    # What that query read of the member the message names (customers.named_member_read).
    named_read: list | None = None


NOT_STAFF = StaffSender(None, None, None)


def find_staff_locked(session: Session, tenant: Tenant, phone: str) -> StaffSender:
    """The active staff member with this phone at this vendor, locked (the staff member's
    session and conversation there are kept on this row), their own membership there, if any,
    read in the same statement but not locked (customer rows are locked after staff rows), and
    the phone's PIN lockout, which every staff message checks. The dispatcher's first query
    reads the same on PostgreSQL when the message can only be for this vendor (staff_locked)."""
    row = run_prepared(connection_of(session), _STAFF_LOCKED, {"tenant": tenant.id, "phone": phone})
    return NOT_STAFF if row is None else _sender(session, row)


def staff_locked(tenant_id, phone, named_phone):
    """SQL for the dispatcher's first query, on PostgreSQL (NULL elsewhere): what find_staff_locked
    reads at the vendor `tenant_id` (SQL), as one JSON array (sender_from_json reads it), the
    staff row locked. A staff message then costs no statement of its own for it. Then whether
    the query waited for the row (the row it locked is not the version its snapshot sees: every
    staff message saves its conversation there), and the member with the phone `named_phone`
    (SQL) there, which the message's command names (customers.named_member_read)."""
    read = (*_STAFF_READ, named_member_read(Staff.tenant_id, named_phone))
    return on_postgresql(_staff_row((json_array(read),), tenant_id, phone).scalar_subquery())


def sender_from_json(session: Session, values: list | None) -> StaffSender | None:
    """What staff_locked read (None: nothing, or not on PostgreSQL)."""
    if values is None:
        return None
    row = from_json_array(_STAFF_READ, values[:-1])
    return _sender(session, row[:-1], waited=row[-1], named_read=values[-1])


def _sender(session: Session, row, **read_with_it) -> StaffSender:
    staff, customer = loaded(session, Staff, row, 0), loaded(session, Customer, row, _CUSTOMER_AT)
    return StaffSender(staff, customer, Lockout(row[-1]), **read_with_it)


def _staff_row(columns: tuple, tenant_id, phone):
    """`columns` of the staff member's row (locked), their membership and their phone's lockout."""
    return (
        select(*columns)
        .select_from(Staff)
        .outerjoin(Customer, (Customer.tenant_id == Staff.tenant_id) & (Customer.phone_number == Staff.phone_number))
        .outerjoin(PinLockout, PinLockout.phone_number == Staff.phone_number)
        .where(Staff.tenant_id == tenant_id, Staff.phone_number == phone, Staff.is_active)
        .with_for_update(of=Staff)
    )


# What is read: the staff row's columns, the membership's (from _CUSTOMER_AT), locked_until.
_STAFF_ROW = (*model_columns(Staff), *model_columns(Customer), PinLockout.locked_until)
_CUSTOMER_AT = len(Staff.__table__.c)
_STAFF_LOCKED = _staff_row(_STAFF_ROW, bindparam("tenant"), bindparam("phone"))
_STAFF_READ = (*_STAFF_ROW, literal_column("vendor_users.xmin") != snapshot_version(Staff.__table__, Staff.__table__))


@dataclass(frozen=True)
class PinCheck:
    ok: bool
    attempts_left: int = 0
    locked_until: datetime | None = None
    tried: bool = True  # False: the answer was not 4-8 digits ("ok", "BACK"), so no guess, nothing counted


class StaffService:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self._checked: dict[str, bool] = {}  # the strings already checked against the hash for this message
        self._hidden: dict[tuple, str] = {}  # hide_pin's answers for this message, by text and PIN

    @property
    def name(self) -> str:
        return self._user().full_name

    @property
    def has_pin(self) -> bool:
        return self._user().pin_hash is not None

    @property
    def is_owner(self) -> bool:
        return self._user().role == "owner"

    def _user(self) -> Staff:
        if self.ctx.staff is None:
            raise LookupError("this phone is not staff here")
        return self.ctx.staff

    def in_session(self) -> bool:
        expires = self._user().session_expires_at
        return expires is not None and expires > self.ctx.now

    def locked_until(self) -> datetime | None:
        """Until when this phone is locked out of staff actions, at every vendor."""
        lockout = self.ctx.lockout or Lockout(self._read_lockout())
        return lockout.until if lockout.until and lockout.until > self.ctx.now else None

    def _read_lockout(self) -> datetime | None:
        lockout = self.ctx.session.get(PinLockout, self._user().phone_number)
        return lockout.locked_until if lockout else None

    def hide_pin(self, text: str) -> str:
        """`text` with the staff member's PIN masked wherever it appears ("VERIFY 582931",
        "my pin is 582931"). Every candidate is checked, match or not, so the time taken does
        not tell which one matched: against the PIN's fingerprint, or, for staff who have none
        yet, against its slow hash. Each text once a message: it is stored redacted, and read
        with the PIN masked."""
        user = self._user()
        key = (text, user.pin_fingerprint, user.pin_hash)
        if key not in self._hidden:
            self._hidden[key] = self._masked(text)
        return self._hidden[key]

    def _masked(self, text: str) -> str:
        runs = pins.candidates(text)
        if len(runs) > MAX_PIN_CANDIDATES:
            return pins.mask(text, lambda run: run in runs)
        hidden = {run for run in runs if self._hides(run)}
        return pins.mask(text, lambda run: run in hidden) if hidden else text

    def check_pin(self, text: str) -> PinCheck:
        """The answer to the PIN question. A good PIN opens a 10-minute session here; the fifth
        wrong one in a row, at any of the vendors this phone works for, locks it out of all of
        them for 15 minutes. An answer that cannot be a PIN (not 4-8 digits) is no try."""
        user, now = self._user(), self.ctx.now
        lockout = self._lock_lockout()
        if lockout.locked_until and lockout.locked_until > now:
            return PinCheck(False, locked_until=lockout.locked_until)
        pin = pins.answer(text)
        if not pins.PIN_LIKE.fullmatch(pin):
            return PinCheck(False, tried=False)
        if self._is_pin(pin):
            lockout.failed_attempts = 0
            user.session_expires_at = now + SESSION
            user.pin_fingerprint = self._fingerprint(pin)  # for PINs given as a hash, or under another pepper
            return PinCheck(True)
        lockout.failed_attempts += 1
        self._audit("staff.pin_failed", attempts=lockout.failed_attempts)
        if lockout.failed_attempts >= MAX_PIN_FAILURES:
            lockout.failed_attempts = 0
            lockout.locked_until = now + LOCKOUT
            user.session_expires_at = None
            self._audit("staff.locked_out", until=lockout.locked_until.isoformat())
            return PinCheck(False, locked_until=lockout.locked_until)
        return PinCheck(False, attempts_left=MAX_PIN_FAILURES - lockout.failed_attempts)

    def set_own_pin(self, draft: str, pin: str) -> None:
        """The staff member chose their PIN: `draft` (a `PinChoice` draft), confirmed by `pin`,
        the same PIN typed again. It does not end a lockout: that would let a locked phone choose
        its way out at another vendor."""
        user = self._user()
        store_pin_hash(
            self.ctx.session, user, draft, self._fingerprint(pin.strip()), actor_type="vendor_user", actor_id=user.id
        )

    def _is_pin(self, text: str) -> bool:
        if text not in self._checked:
            self._checked[text] = matches_pin(self._user().pin_hash, text)
        return self._checked[text]

    def _hides(self, run: str) -> bool:
        """Whether a digit run is the PIN, to redact it: by the fingerprint when there is one
        (microseconds), else by the slow hash."""
        fingerprint = self._user().pin_fingerprint
        if fingerprint is None:
            return self._is_pin(run)
        return hmac.compare_digest(self._fingerprint(run), fingerprint)

    def _fingerprint(self, pin: str) -> str:
        return fingerprint_pin(self.ctx.pin_pepper, self._user().id, pin)

    def _lock_lockout(self) -> PinLockout:
        """The phone's failure count, locked: after the staff row (the dispatcher's), before any
        customer row, so the global lock order holds."""
        phone = self._user().phone_number
        self.ctx.lockout = None  # as read with the staff row: it changes now
        insert_on_conflict(self.ctx.session, PinLockout, {"phone_number": phone, "failed_attempts": 0, "updated_at": self.ctx.now})
        return self.ctx.session.get(PinLockout, phone, with_for_update=True, populate_existing=True)

    def _audit(self, action: str, **details) -> None:
        user = self._user()
        audit.record(
            self.ctx.session, user.tenant_id, action, actor_type="vendor_user", actor_id=user.id,
            entity_type="vendor_user", entity_id=user.id, **details,
        )


def set_pin(session: Session, user: Staff, pin: str, pepper: str) -> None:
    """Set or reset a PIN from the command line (refusing weak ones); ends any open session and
    the phone's lockout."""
    problem = pin_problem(pin)
    if problem:
        raise ValueError(f"PIN {problem}")
    store_pin_hash(session, user, hash_pin(pin), fingerprint_pin(pepper, user.id, pin))
    lockout = session.get(PinLockout, user.phone_number)
    if lockout is not None:
        lockout.failed_attempts, lockout.locked_until = 0, None


def store_pin_hash(
    session: Session, user: Staff, pin_hash: str, fingerprint: str, actor_type: str = "system", actor_id=None
) -> None:
    user.pin_hash, user.pin_fingerprint = pin_hash, fingerprint
    user.session_expires_at = None
    audit.record(
        session, user.tenant_id, "staff.pin_set", actor_type=actor_type, actor_id=actor_id,
        entity_type="vendor_user", entity_id=user.id,
    )
