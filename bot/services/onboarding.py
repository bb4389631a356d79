"""A new vendor sets up its programme by chatting with the platform's number.

The platform operator invites the owner's phone (`vendors invite`); the conversation collects
the answers; the vendor is then made exactly as a tenant file would make it: the answers become
a tenant file, which goes through the same schema and loader as `tenants load`. Until then
nothing exists but the invitation, which holds the conversation."""
from __future__ import annotations

import hashlib
import hmac
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import phonenumbers
from marshmallow import ValidationError
from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import countries
from bot.codes import random_code
from bot.errors import Refused
from bot.messages import words_of
from bot.money import AmountError, Money, exponent, parse_amount
from bot.phones import InvalidPhone, to_e164
from bot.qr import join_link
from bot.services import audit
from bot.services.customers import route_phone
from bot.services.staff import PinChoice
from bot.services.tenant_file import BUSINESS_TYPES, RewardSchema, TenantFileSchema, parse_tenant_file
from bot.services.tenants import ReloadRefused, load_tenant
from models import PlatformMessage, Tenant, SetupInvitation

INVITATION_VALID = timedelta(days=7)
# An unfinished setup continues where it stopped for this long after its last answer.
SETUP_RESUMABLE = timedelta(hours=24)
_TOKEN_LENGTH = 12  # 31**12, about 59 bits: not guessable within an invitation's week
_MAX_EARN_AMOUNT = 10_000_000


class InviteError(ValueError):
    pass


@dataclass(frozen=True)
class Invited:
    phone: str
    link: str
    expires_at: datetime


def setup_link(platform_number: str, token: str) -> str:
    """The wa.me link that opens WhatsApp on the platform number with `SETUP <token>` typed in."""
    return f"https://wa.me/{platform_number.lstrip('+')}?text=SETUP%20{token}"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.strip().upper().encode()).hexdigest()


def invite(session: Session, phone: str, country: str | None, platform_number: str, now: datetime) -> Invited:
    """A one-time invitation for `phone` (read in `country`, which also becomes the setup's
    default), valid 7 days. It replaces any earlier one for the phone that was not used. InviteError
    says why not: an unknown country, not a phone, or the platform's own number."""
    if country is not None and country.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise InviteError(f"unknown country code {country!r}")
    country = country.upper() if country else None
    try:
        phone = to_e164(phone, country, strict=True)
    except InvalidPhone:
        if country:
            raise InviteError(f"not a phone number in {country}: {phone}") from None
        raise InviteError(f"not a phone number: {phone} (a local number needs --country, like --country NG)") from None
    if phone == platform_number:  # the owner would be writing to themselves
        raise InviteError(f"{phone} is the platform's own number (PLATFORM_WHATSAPP_NUMBER): invite the shop owner's phone")
    session.execute(
        update(SetupInvitation)
        .where(SetupInvitation.phone_number == phone, SetupInvitation.used_at.is_(None), SetupInvitation.expires_at > now)
        .values(expires_at=now)
    )
    token = random_code(_TOKEN_LENGTH)
    expires_at = now + INVITATION_VALID
    session.add(
        SetupInvitation(token_hash=_token_hash(token), phone_number=phone, country=country, expires_at=expires_at, created_at=now)
    )
    return Invited(phone, setup_link(platform_number, token), expires_at)


_UNDER_WAY_OR_ANSWERED = select(
    exists().where(
        SetupInvitation.phone_number == bindparam("phone"),
        SetupInvitation.used_at.is_(None),
        SetupInvitation.expires_at > bindparam("now"),
        SetupInvitation.setup_updated_at > bindparam("since"),
    ),
    exists().where(PlatformMessage.message_sid == bindparam("sid")),
)


def setup_under_way_or_answered(session: Session, phone: str, sid: str, now: datetime) -> bool:
    """Whether the phone is in the middle of a setup, or this very message was answered by the
    platform's conversation already (a retry must get that answer, not a vendor's)."""
    under_way, answered = session.execute(
        _UNDER_WAY_OR_ANSWERED, {"phone": phone, "sid": sid, "now": now, "since": now - SETUP_RESUMABLE}
    ).one()
    return under_way or answered


def current_invitation(session: Session, phone: str, now: datetime) -> SetupInvitation | None:
    """The phone's invitation that can still be used, locked: it holds the conversation, so
    the phone's messages run one after the other."""
    return session.scalars(
        select(SetupInvitation)
        .where(SetupInvitation.phone_number == phone, SetupInvitation.used_at.is_(None), SetupInvitation.expires_at > now)
        .order_by(SetupInvitation.created_at.desc())
        .limit(1)
        .with_for_update()
    ).one_or_none()


def save_conversation(invitation: SetupInvitation, state: dict, idle: bool, now: datetime) -> None:
    """Keep the setup conversation's state (`State.to_json()`) on the invitation."""
    invitation.conversation_state = state
    invitation.setup_updated_at = None if idle else now


@dataclass
class SetupContext:
    session: Session
    phone: str
    now: datetime
    platform_number: str
    invitation: SetupInvitation | None


@dataclass(frozen=True)
class Created:
    code: str
    name: str
    link: str
    poster: str  # the QR poster's path, /qr/CODE.png


class SetupService:
    business_types = BUSINESS_TYPES

    def __init__(self, ctx: SetupContext):
        self.ctx = ctx
        self._schema = TenantFileSchema()

    @property
    def invited(self) -> bool:
        return self.ctx.invitation is not None

    def claim(self, token: str) -> bool:
        """Whether `token` is the one of this phone's usable invitation."""
        invitation = self.ctx.invitation
        return invitation is not None and hmac.compare_digest(invitation.token_hash, _token_hash(token))

    # Each answer is checked by the tenant file's own field, so the chat accepts what a file does.
    def _field_ok(self, name: str, value, schema=None) -> bool:
        try:
            (schema or self._schema).fields[name].deserialize(value)
        except ValidationError:
            return False
        return True

    def read_name(self, text: str) -> str | None:
        name = " ".join(text.split())
        return name if self._field_ok("name", name) else None

    def code_problem(self, code: str) -> str | None:
        """Why `code` cannot be this vendor's, as a catalog key; None if it can."""
        if not self._field_ok("code", code):
            return "setup_code_invalid"
        return "setup_code_taken" if self._taken([code]) else None

    def suggest_code(self, name: str) -> str:
        """A free code from the name: its first word, its first two, all of it, its initials,
        then the first word numbered (MAMA, MAMAPUT, MAMAPUTKITCHEN, MPK, MAMA2...)."""
        plain = name.replace("'", "").replace("’", "")  # ADA'S -> ADAS
        words = [word for word in map(_ascii, words_of(plain)) if word] or ["SHOP"]
        candidates = [words[0], "".join(words[:2]), "".join(words), "".join(word[0] for word in words)]
        candidates += [f"{words[0][:17]}{number}" for number in range(2, 100)]
        unique = dict.fromkeys(candidate[:20] for candidate in candidates)
        valid = [code for code in unique if len(code) >= 3 and self._field_ok("code", code)]
        taken = self._taken(valid)
        # A name with no letter ("24/7") gives no code; a common one may find all of its taken.
        return next((code for code in valid if code not in taken), None) or self._free_random_code()

    def _free_random_code(self) -> str:
        while True:  # 31^5 codes: a taken one is drawn again, rarely
            code = "SHOP" + random_code(5)
            if self._field_ok("code", code) and not self._taken([code]):
                return code

    def _taken(self, codes: list[str]) -> set[str]:
        return set(self.ctx.session.scalars(select(Tenant.vendor_code).where(Tenant.vendor_code.in_(codes))))

    def default_country(self) -> str | None:
        """The country the operator gave with the invitation, else the owner's phone's."""
        invited = self.ctx.invitation.country if self.ctx.invitation else None
        return invited or countries.country_of_phone(self.ctx.phone)

    def language(self) -> str:
        """The language the setup is written in: that of its default country."""
        return countries.language_of_country(self.default_country())

    country_name = staticmethod(countries.country_name)
    read_country = staticmethod(countries.read_country)
    currency_of = staticmethod(countries.currency_of)

    def read_currency(self, text: str) -> str | None:
        currency = text.strip().upper()
        return currency if self._field_ok("currency", currency) else None

    def timezones(self, country: str) -> list[tuple[str, str]]:
        near = self.ctx.phone if countries.country_of_phone(self.ctx.phone) == country else None
        return countries.timezones(country, near)

    def read_timezone(self, text: str, country: str) -> str | None:
        return countries.read_timezone(text, countries.timezones(country))

    def read_bonus(self, text: str) -> int | None:
        bonus = _whole_number(text)
        return bonus if bonus is not None and self._field_ok("welcome_bonus", bonus) else None

    def read_earning(self, text: str, currency: str) -> tuple[int, int] | None:
        """'100' (1 point per 100) or '5 per 1000': (points, amount in minor units)."""
        points_text, _, amount_text = text.lower().partition("per")
        if not amount_text:
            points_text, amount_text = "1", points_text
        points = _whole_number(points_text)
        try:
            amount = parse_amount(amount_text, currency, _MAX_EARN_AMOUNT)
        except AmountError:
            return None
        return (points, amount) if points and points <= 1_000_000 else None

    def money(self, minor: int, currency: str) -> Money:
        return Money(minor, currency)  # the catalog writes it the setup's language's way

    def read_reward_name(self, text: str) -> str | None:
        name = " ".join(text.split())
        return name if self._field_ok("name", name, RewardSchema()) else None

    def read_reward_points(self, text: str) -> int | None:
        points = _whole_number(text)
        return points if points is not None and self._field_ok("points", points, RewardSchema()) else None

    def tenant_file(self, answers: dict) -> dict:
        """The answers as the tenant file they stand for. The vendor starts on the platform's
        number, in its country's language; its owner is its first staff member, with the PIN
        chosen (as its hash)."""
        currency = answers["currency"]
        per_amount = Decimal(answers["earn_amount"]) / 10 ** exponent(currency)
        return {
            "code": answers["code"],
            "name": answers["name"],
            "business_type": answers["type"],
            "language": countries.language_of_country(answers["country"]),
            "whatsapp_number": self.ctx.platform_number,
            "country": answers["country"],
            "currency": currency,
            "timezone": answers["timezone"],
            "welcome_bonus": answers["bonus"],
            "staff": [
                {"name": answers["owner"] or "Owner", "phone": self.ctx.phone, "role": "owner", "pin_hash": answers["pin_draft"]}
            ],
            "points_rules": [{"type": "per_amount_spent", "points": answers["earn_points"], "per_amount": str(per_amount)}],
            "rewards": [{"name": answers["reward"], "points": answers["reward_points"]}],
        }

    def create(self, answers: dict) -> Created:
        """Make the vendor; Refused setup_code_taken_meanwhile when its code was taken meanwhile."""
        ctx = self.ctx
        if self._taken([answers["code"]]):
            raise Refused("setup_code_taken_meanwhile")
        config = parse_tenant_file(self.tenant_file(answers))
        # A setup racing this one for the code may commit after the check: then loading fails
        # on the unique code, or finds that vendor and would update it (which the loader refuses,
        # since it would replace that vendor's staff). Each is undone here. (The loader's audit
        # line waits on PostgreSQL for the next statement, the RELEASE below at the latest, out
        # of this try: with a new key, it clashes with nothing.)
        savepoint = ctx.session.begin_nested()
        try:
            result = load_tenant(ctx.session, config)
        except (IntegrityError, ReloadRefused):
            result = None
        if result is None or not result.created:
            savepoint.rollback()
            raise Refused("setup_code_taken_meanwhile")
        savepoint.commit()  # releases the savepoint: the caller's transaction commits or not
        tenant = result.tenant
        ctx.invitation.used_at, ctx.invitation.tenant_id = ctx.now, tenant.id
        route_phone(ctx.session, ctx.phone, tenant)  # the owner's next messages go to the new shop
        audit.record(ctx.session, tenant.id, "tenant.set_up_by_chat", entity_type="tenant", entity_id=tenant.id, phone=ctx.phone)
        code = tenant.vendor_code
        return Created(code, tenant.name, join_link(tenant.whatsapp_number, code), f"/qr/{code}.png")


class PlatformServices:
    """What the platform conversation's flow steps receive (as `Services` for a vendor's)."""

    def __init__(self, ctx: SetupContext):
        self.setup = SetupService(ctx)
        self.pins = PinChoice()


def _ascii(word: str) -> str:
    """'CAFÉ' -> 'CAFE': codes are typed on any keyboard."""
    folded = unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode()
    return "".join(char for char in folded if char.isalnum())


def _whole_number(text: str) -> int | None:
    digits = text.strip().lower().removesuffix("points").removesuffix("point").strip().replace(",", "")
    return int(digits) if digits.isdecimal() and len(digits) <= 12 else None
