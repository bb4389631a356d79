"""The owner manages the staff by chat: STAFF ADD takes someone on and sends them an invitation
to choose their own PIN; STAFF REMOVE deactivates (the row stays, for history)."""
from __future__ import annotations

from dataclasses import dataclass

from marshmallow import ValidationError
from sqlalchemy import select

from bot.db import insert_on_conflict
from bot.errors import Refused
from bot.messages import say, words_of
from bot.outbound import notify
from bot.phones import InvalidPhone, to_e164
from bot.services import audit
from bot.services.context import Context
from bot.services.customers import route_phone
from bot.services.staff import clear_pin, deactivate, set_pin
from bot.services.tenant_file import StaffSchema
from bot.vendor_codes import is_command_word
from models import Staff


@dataclass(frozen=True)
class Member:
    name: str
    phone: str
    role: str
    has_pin: bool


class TeamService:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def members(self) -> list[Member]:
        users = self.ctx.session.scalars(
            select(Staff)
            .where(Staff.tenant_id == self.ctx.tenant.id, Staff.is_active)
            .order_by(Staff.created_at)
        )
        return [Member(user.full_name, user.phone_number, user.role, user.pin_hash is not None) for user in users]

    def removable(self) -> list[Member]:
        """Everyone on the staff but the one asking."""
        return [member for member in self.members() if member.phone != self.ctx.phone]

    def read_phone(self, text: str) -> str | None:
        """A phone in any form, read in the vendor's country as the tenant file reads staff phones."""
        try:
            return to_e164(text.strip(), self.ctx.tenant.country, strict=True)
        except InvalidPhone:
            return None

    @staticmethod
    def valid_name(name: str) -> bool:
        """The tenant file's rule for a staff member's name, with a letter in it and not a
        command word alone: "99", "-1", an emoji or BACK is no answer to "Their name?"."""
        words = words_of(name)
        if not any(char.isalpha() for char in name) or (len(words) == 1 and is_command_word(words[0])):
            return False
        try:
            StaffSchema().fields["name"].deserialize(name)
        except ValidationError:
            return False
        return True

    def add(self, phone: str, name: str) -> None:
        """Take `phone` on as staff (again, if they were removed: with a new PIN to choose) and
        invite them to choose their PIN. Their messages that name no shop now come here, as after
        JOIN. Refused staff_already when they are on the staff."""
        ctx = self.ctx
        self._check_owner()
        # A new phone's row is written first, inactive: two adds of one phone at once meet on
        # the unique key, where the second waits for the first and then finds them on the staff.
        insert_on_conflict(ctx.session, Staff, {
            "tenant_id": ctx.tenant.id, "phone_number": phone, "full_name": name, "is_active": False,
        }, ["tenant_id", "phone_number"])
        user = self._user(phone)
        if user.is_active:
            raise Refused("staff_already", phone=phone)
        user.full_name, user.role, user.is_active = name, "staff", True
        clear_pin(user)
        user.conversation_state = {}
        ctx.session.flush()
        self._audit("staff.added", user, before=None, after={"name": name, "role": "staff", "active": True})
        route_phone(ctx.session, phone, ctx.tenant)
        notify(ctx.session, ctx.outbox, ctx.tenant, user, say("staff_invitation", name=name, vendor=ctx.tenant.name))

    def removal_problem(self, phone: str) -> str | None:
        """Why `phone` cannot be removed (a Refused reason: staff_remove_self, staff_not_found); None if it can."""
        if phone == self.ctx.phone:
            return "staff_remove_self"
        if not any(member.phone == phone for member in self.members()):
            return "staff_not_found"
        return None

    def remove(self, phone: str) -> None:
        """Deactivate a staff member (never yourself)."""
        self._check_removable(phone)
        user = self._user(phone)
        deactivate(user)
        self._audit("staff.removed", user, before={"active": True}, after={"active": False})

    def reset_pin(self, phone: str) -> None:
        """Clear a staff member's PIN (and end their open session) and send them a message to
        choose a new one with PIN, as when they were taken on. A lockout of their phone stays:
        it counts at every vendor, which one owner cannot lift. Never your own PIN: you change
        yours with PIN."""
        self._check_removable(phone)
        ctx, user = self.ctx, self._user(phone)
        had_pin = user.pin_hash is not None
        clear_pin(user)
        self._audit("staff.pin_reset", user, before={"has_pin": had_pin}, after={"has_pin": False})
        notify(ctx.session, ctx.outbox, ctx.tenant, user, say("staff_pin_reset_notice", name=user.full_name, vendor=ctx.tenant.name))

    def set_pin(self, phone: str, pin: str) -> Staff:
        """Set or reset the PIN of the staff member on `phone` (the command line, where the
        operator types it). Ends their open session and the phone's lockout. Raises ValueError
        saying why not: a weak PIN, or a phone with no PIN holder (see `pin_holder`)."""
        user = self.pin_holder(phone)
        set_pin(self.ctx.session, user, pin, self.ctx.pin_pepper)
        return user

    def pin_holder(self, phone: str) -> Staff:
        """The staff member on `phone`, whose PIN the command line may set; ValueError when the
        phone is not on the staff, or no longer is (the bot takes them for a stranger)."""
        user, vendor = self._user(phone), self.ctx.tenant.vendor_code
        if user is None:
            raise ValueError(f"{phone} is not on {vendor}'s staff.")
        if not user.is_active:
            raise ValueError(f"{phone} is no longer on {vendor}'s staff.")
        return user

    def _check_owner(self) -> None:
        """Only an owner changes the staff: the role is read again when the change is made, as
        it may have changed (a tenant file loaded) since the owner started it."""
        staff = self.ctx.staff
        if staff is not None and staff.role != "owner":
            raise Refused("staff_owner_only")

    def _check_removable(self, phone: str) -> None:
        self._check_owner()
        problem = self.removal_problem(phone)
        if problem:
            raise Refused(problem, phone=phone)

    def _user(self, phone: str) -> Staff | None:
        return self.ctx.session.scalars(
            select(Staff)
            .where(Staff.tenant_id == self.ctx.tenant.id, Staff.phone_number == phone)
            .with_for_update()
        ).one_or_none()

    def _audit(self, action: str, user: Staff, **details) -> None:
        owner = self.ctx.staff
        audit.record(
            self.ctx.session, self.ctx.tenant.id, action, actor_type="vendor_user", actor_id=owner.id if owner else None,
            entity_type="vendor_user", entity_id=user.id, phone=user.phone_number, **details,
        )
