"""A broadcast's definition: the JSON file of `flask --app wsgi broadcasts create FILE`, and the
same shape through the vendor API. Validated with marshmallow; an error names its field and
nothing is written. A text may use only the variables below: an unknown one is an error here,
never a blank in a customer's message."""
from __future__ import annotations

import re
import string
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, time, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.catalog import CATALOG, as_text, render
from bot.messages import MAX_MESSAGE_CHARS, message_length, say
from bot.money import to_minor
from bot.phones import InvalidPhone, to_e164
from bot.services.rewards import catalog
from bot.services.tenant_file import MAX_AMOUNT, MAX_COUNT, TenantFileError, Text, in_years
from models import Broadcast, Customer, Reward, Tenant

VARIABLES = ("first_name", "name", "points", "vendor", "member_code", "nearest_reward", "points_to_nearest_reward")
REWARD_VARIABLES = frozenset({"nearest_reward", "points_to_nearest_reward"})
RETARGETS = ("not_read", "not_replied")
# A push is the text, a line break and the opt-out line (longest in French), in one message.
STOP_LINE_CHARS = max(message_length(render(say("broadcast_stop_line"), language)) for language in CATALOG)
MAX_TEXT = MAX_MESSAGE_CHARS - 1 - STOP_LINE_CHARS
# The most each variable can add to a text: what its column or the points take (a name is one
# the webhook cut to its column; a number is grouped, as a member reads it).
LONGEST_POINTS = max(len(as_text(MAX_COUNT, language)) for language in CATALOG)
LONGEST = {
    "first_name": Customer.__table__.c.whatsapp_name.type.length,
    "name": Customer.__table__.c.whatsapp_name.type.length,
    "points": LONGEST_POINTS,
    "vendor": Tenant.__table__.c.name.type.length,
    "member_code": Customer.__table__.c.member_code.type.length,
    "nearest_reward": Reward.__table__.c.name.type.length,
    "points_to_nearest_reward": LONGEST_POINTS,
}
MAX_DAYS = 3650


class BroadcastFileError(TenantFileError):
    """An invalid definition; `messages` names each bad field, as marshmallow does."""


def variables_in(text: str) -> list[str]:
    """The {variables} a text uses, in order. Raises ValidationError for an unknown one."""
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError:
        raise ValidationError("has a { or } that opens no variable; write variables like {first_name}") from None
    used = []
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in VARIABLES:
            raise ValidationError(f"unknown variable {{{name}}}; the variables are {', '.join(VARIABLES)}")
        if spec or conversion:
            raise ValidationError(f"write {{{name}}} without a format")
        used.append(name)
    return used


def longest_push(text: str) -> int:
    """The longest a push of `text` can be (message_length): its variables at their longest
    (LONGEST), then the opt-out line."""
    literal = "".join(literal for literal, _, _, _ in string.Formatter().parse(text))
    return message_length(literal) + sum(LONGEST[name] for name in variables_in(text)) + 1 + STOP_LINE_CHARS


def _clock(value: str) -> None:
    """HH:MM, as the runner reads it in the vendor's timezone: not "9:00", nor seconds, nor an
    offset ("21+01", "2100Z"), which the runner could not compare with the vendor's time."""
    if not re.fullmatch(r"[0-9]{2}:[0-9]{2}", value):
        raise ValidationError("must be a time like 21:00")
    try:
        time.fromisoformat(value)  # not 25:00
    except ValueError:
        raise ValidationError("must be a time like 21:00") from None


def _local_time(value: str) -> None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError("must be a time like 2026-12-04T09:00 (the vendor's timezone)") from None
    in_years(moment)


def _days(**kwargs):
    return fields.Integer(load_default=None, allow_none=True, strict=True, validate=validate.Range(1, MAX_DAYS), **kwargs)


class SegmentSchema(Schema):
    """Who is in: every key optional, all members when none. Points are the balance that can be
    spent now; activity is a purchase or a message from the member; amounts are in major units."""

    class Meta:
        unknown = RAISE

    tiers = fields.List(fields.String(validate=validate.Length(1, 50)), load_default=None, allow_none=True,
                        validate=validate.Length(min=1))
    min_points = fields.Integer(load_default=None, allow_none=True, strict=True, validate=validate.Range(0, MAX_COUNT))
    max_points = fields.Integer(load_default=None, allow_none=True, strict=True, validate=validate.Range(0, MAX_COUNT))
    inactive_days = _days()  # no purchase or message for that many days (and a member for longer)
    active_within_days = _days()
    joined_within_days = _days()
    min_spent = fields.Decimal(load_default=None, allow_none=True, as_string=False, validate=validate.Range(0, MAX_AMOUNT))
    spent_within_days = _days()  # min_spent counts the purchases of these days only
    phones = fields.List(fields.String(), load_default=None, allow_none=True, validate=validate.Length(1, 100_000))

    @validates_schema
    def consistent(self, data, **kwargs):
        if None not in (data.get("min_points"), data.get("max_points")) and data["min_points"] > data["max_points"]:
            raise ValidationError({"max_points": ["must not be below min_points"]})
        if data.get("spent_within_days") is not None and data.get("min_spent") is None:
            raise ValidationError({"spent_within_days": ["needs min_spent"]})
        inactive, active = data.get("inactive_days"), data.get("active_within_days")
        if None not in (inactive, active) and active <= inactive:
            raise ValidationError({"active_within_days": [
                "must be more than inactive_days (members active then, quiet since); nobody can be both"]})


class TemplateSchema(Schema):
    """The approved WhatsApp template to send outside the 24-hour window, its variables in order."""

    class Meta:
        unknown = RAISE

    content_sid = fields.String(required=True, validate=validate.Regexp(
        r"^HX[0-9a-fA-F]{32}$", error="must be a Twilio Content SID: HX and 32 hex digits"))
    variables = fields.List(fields.String(validate=validate.OneOf(VARIABLES, error="unknown variable {input}")),
                            load_default=list)


class DefinitionSchema(Schema):
    """A broadcast, as the vendor API and the dashboard take it (they know the vendor)."""

    class Meta:
        unknown = RAISE

    name = Text(required=True, validate=validate.Length(1, 255))
    text = Text(required=True, multiline=True, validate=[validate.Length(1, MAX_TEXT), variables_in])
    template = fields.Nested(TemplateSchema, load_default=None, allow_none=True)
    media_url = fields.Url(load_default=None, allow_none=True, schemes={"http", "https"}, validate=validate.Length(max=1000))
    segment = fields.Nested(SegmentSchema, load_default=None, allow_none=True)
    send_at = fields.String(load_default=None, allow_none=True, validate=_local_time)
    quiet_hours = fields.List(fields.String(validate=_clock), load_default=None, allow_none=True,
                              validate=validate.Length(equal=2, error="must be two times: [start, end], like [\"21:00\", \"08:00\"]"))
    messages_per_second = fields.Integer(load_default=None, allow_none=True, strict=True, validate=validate.Range(1, 1000))

    @validates_schema
    def text_fits_a_message(self, data, **kwargs):
        """Every member's push fits in one message, whatever their name, balance or reward."""
        longest = longest_push(data["text"])
        if longest > MAX_MESSAGE_CHARS:
            used = ", ".join(f"{{{name}}} up to {LONGEST[name]}" for name in dict.fromkeys(variables_in(data["text"])))
            raise ValidationError({"text": [
                f"can make a message of {longest:,} characters with its variables at their longest ({used}) "
                f"and the opt-out line, and a message takes {MAX_MESSAGE_CHARS:,}: shorten it by {longest - MAX_MESSAGE_CHARS:,}"
            ]})

    @validates_schema
    def quiet_hours_differ(self, data, **kwargs):
        quiet = data.get("quiet_hours")
        if quiet and len(quiet) == 2 and quiet[0] == quiet[1]:
            raise ValidationError({"quiet_hours": ["start and end must differ"]})


class BroadcastFileSchema(DefinitionSchema):
    """The file of the command line: the definition, and the vendor it is for."""

    tenant = fields.String(load_default=None, validate=validate.Length(1, 20))


@dataclass(frozen=True)
class Definition:
    """A validated broadcast, normalised for its vendor: `segment` holds only the keys given,
    phones in E.164, min_spent in minor units; `send_at` in UTC."""

    name: str
    text: str
    template: dict | None
    media_url: str | None
    segment: dict
    send_at: datetime | None
    quiet_hours: tuple[str, str] | None
    messages_per_second: int | None
    retarget_of: uuid.UUID | None = None
    retarget: str | None = None  # not_read | not_replied

    @property
    def variables(self) -> set[str]:
        return set(variables_in(self.text)) | set((self.template or {}).get("variables", []))

    @classmethod
    def of(cls, broadcast: Broadcast) -> "Definition":
        return cls(broadcast.name, broadcast.text, broadcast.template, broadcast.media_url, dict(broadcast.segment),
                   broadcast.send_at, tuple(broadcast.quiet_hours) if broadcast.quiet_hours else None,
                   broadcast.messages_per_second, broadcast.retarget_of, broadcast.retarget)

    def columns(self) -> dict:
        """As the broadcast row stores it."""
        values = asdict(self)
        values["quiet_hours"] = list(self.quiet_hours) if self.quiet_hours else None
        return values


def tenant_of(session: Session, raw) -> Tenant:
    """The vendor a file names (`tenant`), for the command line; the API knows its vendor."""
    code = raw.get("tenant") if isinstance(raw, dict) else None
    if not isinstance(code, str) or not code.strip():
        raise BroadcastFileError({"tenant": ["required: the vendor's code, like MAMA"]})
    tenant = session.scalars(select(Tenant).where(Tenant.vendor_code == code.strip().upper())).one_or_none()
    if tenant is None:
        raise BroadcastFileError({"tenant": [f"no vendor with code {code.strip().upper()}"]})
    return tenant


def parse(session: Session, raw, tenant: Tenant, now: datetime, schema: type[Schema] = BroadcastFileSchema) -> Definition:
    """Validate a definition for `tenant`: its shape (a file's, or DefinitionSchema without
    the vendor's code), then what depends on the vendor (its tiers, its country for phones, its
    currency, its timezone for send_at, its rewards for the reward variables). Raises
    BroadcastFileError naming every bad field."""
    if not isinstance(raw, dict):
        raise BroadcastFileError({"_schema": ["must be a JSON object"]})
    try:
        data = schema().load(raw)
    except ValidationError as error:
        raise BroadcastFileError(error.messages) from None
    errors: dict = {}
    if data.get("tenant") is not None and data["tenant"].strip().upper() != tenant.vendor_code:
        errors["tenant"] = [f"names {data['tenant']}, not {tenant.vendor_code}"]
    segment = _segment(data["segment"] or {}, tenant, errors)
    send_at = _send_at(data["send_at"], tenant, now, errors)
    definition = Definition(
        data["name"], data["text"], data["template"], data["media_url"], segment, send_at,
        tuple(data["quiet_hours"]) if data["quiet_hours"] else None, data["messages_per_second"],
    )
    if definition.variables & REWARD_VARIABLES and not catalog(session, tenant.id, now):
        errors["text"] = [f"{{nearest_reward}} and {{points_to_nearest_reward}} need a reward in {tenant.vendor_code}'s catalog"]
    if errors:
        raise BroadcastFileError(errors)
    return definition


def _segment(given: dict, tenant: Tenant, errors: dict) -> dict:
    segment = {key: value for key, value in given.items() if value is not None}
    problems: dict = {}
    tiers = [tier["name"] for tier in tenant.settings.get("tiers", [])]
    unknown = [name for name in segment.get("tiers", []) if name not in tiers]
    if unknown:
        problems["tiers"] = [f"no tier named {', '.join(unknown)}; {tenant.vendor_code}'s tiers: {', '.join(tiers) or 'none'}"]
    if "phones" in segment:
        phones, bad = [], {}
        for index, phone in enumerate(segment["phones"]):
            try:
                phones.append(to_e164(phone, tenant.country, strict=True))
            except InvalidPhone:
                bad[index] = [f"not a phone number in {tenant.country}: {phone}"]
        if bad:
            problems["phones"] = bad
        segment["phones"] = sorted(set(phones))
    if "min_spent" in segment:
        segment["min_spent"] = to_minor(Decimal(segment["min_spent"]), tenant.currency)
    if problems:
        errors["segment"] = problems
    return segment


def _send_at(value: str | None, tenant: Tenant, now: datetime, errors: dict) -> datetime | None:
    """A time in the vendor's timezone (unless it gives its own offset), in UTC; not past."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tenant.timezone))
    moment = moment.astimezone(timezone.utc)
    if moment < now:
        local = now.astimezone(ZoneInfo(tenant.timezone))
        errors["send_at"] = [f"is in the past (it is now {local:%Y-%m-%dT%H:%M} in {tenant.timezone})"]
    return moment
