"""Staff identity: PINs (hashed, with lockout), and the short session a good PIN opens."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from bot.services import audit
from bot.services.context import Context
from models import Tenant, VendorUser

MAX_PIN_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
SESSION = timedelta(minutes=10)


def pin_problem(pin: str) -> str | None:
    """Why a PIN may not be used, or None. 4-8 digits, not all one digit, not a run like 1234 or 4321."""
    if not re.fullmatch(r"\d{4,8}", pin):
        return "must be 4 to 8 digits"
    steps = {int(b) - int(a) for a, b in zip(pin, pin[1:])}
    if steps == {0}:
        return "is too easy to guess (all one digit)"
    if steps in ({1}, {-1}):
        return "is too easy to guess (a run of digits)"
    return None


def hash_pin(pin: str) -> str:
    return generate_password_hash(pin)  # scrypt with a random salt


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
        return check_password_hash(draft, pin.strip())


def find_staff_locked(session: Session, tenant: Tenant, phone: str) -> VendorUser | None:
    """The active staff member with this phone at this vendor, locked: PIN failures and
    sessions are counted on this row across all of the staff member's conversations."""
    return session.scalars(
        select(VendorUser)
        .where(VendorUser.tenant_id == tenant.id, VendorUser.phone_number == phone, VendorUser.is_active)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


@dataclass(frozen=True)
class PinCheck:
    ok: bool
    attempts_left: int = 0
    locked_until: datetime | None = None


class StaffService:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    @property
    def name(self) -> str:
        return self._user().full_name

    @property
    def has_pin(self) -> bool:
        return self._user().pin_hash is not None

    @property
    def is_owner(self) -> bool:
        return self._user().role == "owner"

    def _user(self) -> VendorUser:
        if self.ctx.staff is None:
            raise LookupError("this phone is not staff here")
        return self.ctx.staff

    def in_session(self) -> bool:
        expires = self._user().session_expires_at
        return expires is not None and expires > self.ctx.now

    def locked_until(self) -> datetime | None:
        until = self._user().locked_until
        return until if until and until > self.ctx.now else None

    def check_pin(self, pin: str) -> PinCheck:
        """A good PIN opens a 10-minute session; the fifth wrong one in a row locks for 15 minutes."""
        user, now = self._user(), self.ctx.now
        if self.locked_until():
            return PinCheck(False, locked_until=user.locked_until)
        if user.pin_hash and check_password_hash(user.pin_hash, pin.strip()):
            user.failed_pin_attempts = 0
            user.session_expires_at = now + SESSION
            return PinCheck(True)
        user.failed_pin_attempts += 1
        self._audit("staff.pin_failed", attempts=user.failed_pin_attempts)
        if user.failed_pin_attempts >= MAX_PIN_FAILURES:
            user.failed_pin_attempts = 0
            user.locked_until = now + LOCKOUT
            user.session_expires_at = None
            self._audit("staff.locked_out", until=user.locked_until.isoformat())
            return PinCheck(False, locked_until=user.locked_until)
        return PinCheck(False, attempts_left=MAX_PIN_FAILURES - user.failed_pin_attempts)

    def set_own_pin(self, draft: str) -> None:
        """The staff member chose their PIN (a `PinChoice` draft they typed twice)."""
        user = self._user()
        store_pin_hash(self.ctx.session, user, draft, actor_type="vendor_user", actor_id=user.id)

    def _audit(self, action: str, **details) -> None:
        user = self._user()
        audit.record(
            self.ctx.session, user.tenant_id, action, actor_type="vendor_user", actor_id=user.id,
            entity_type="vendor_user", entity_id=user.id, **details,
        )


def set_pin(session: Session, user: VendorUser, pin: str) -> None:
    """Set or reset a PIN (refusing weak ones); clears any lockout and open session."""
    problem = pin_problem(pin)
    if problem:
        raise ValueError(f"PIN {problem}")
    store_pin_hash(session, user, hash_pin(pin))


def store_pin_hash(session: Session, user: VendorUser, pin_hash: str, actor_type: str = "system", actor_id=None) -> None:
    user.pin_hash = pin_hash
    user.failed_pin_attempts = 0
    user.locked_until = None
    user.session_expires_at = None
    audit.record(
        session, user.tenant_id, "staff.pin_set", actor_type=actor_type, actor_id=actor_id,
        entity_type="vendor_user", entity_id=user.id,
    )
