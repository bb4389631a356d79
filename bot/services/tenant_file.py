"""The tenant file: its schema, field by field, and reading it (`parse_tenant_file`). Loading
what it says into the database is bot/services/tenants.py."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from bot.catalog import CATALOG
from bot.countries import NOT_PLACES
from bot.limits import LIMITS, MESSAGES, STAFF_MESSAGES
from bot.locales import DEFAULT_LANGUAGE, LOCALES
from bot.messages import has_control_characters
from bot.money import CURRENCIES, exponent, too_precise
from bot.phones import InvalidPhone, to_e164
from bot.points_rules import RULE_TYPES
from bot.services.staff import pin_problem
from bot.vendor_codes import code_problem

# The largest count an INTEGER column holds, and the largest amount (in major units) a file may give.
MAX_COUNT = 2**31 - 1
MAX_AMOUNT = 1_000_000_000_000


class Text(fields.String):
    """A string without control characters: a NUL cannot even be stored, and the others have no
    place in a name. `multiline` text (a greeting, a description) may have line breaks and tabs.
    A `stripped` one is read without the spaces around it, so a name of spaces is empty, and
    " Zobo" is the "Zobo" it looks like."""

    default_error_messages = {"control": "must not contain control characters (such as NUL)"}

    def __init__(self, *args, multiline: bool = False, stripped: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.allowed = "\n\t" if multiline else ""
        self.stripped = stripped

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if self.stripped:
            text = text.strip()
        if self.allowed:  # a browser's textarea sends its line breaks as \r\n
            text = text.replace("\r\n", "\n")
        if has_control_characters(text, self.allowed):
            raise self.make_error("control")
        return text


def _code(value: str) -> None:
    problem = code_problem(value)
    if problem:
        raise ValidationError(problem)


def _currency(value: str) -> None:
    if value not in CURRENCIES:
        raise ValidationError(f"{value} is not an ISO 4217 currency code like NGN, GHS or USD")


def _timezone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
        raise ValidationError(f"unknown timezone {value!r}") from None
    if value in NOT_PLACES:
        raise ValidationError(f"{value!r} names no place; give one like Africa/Lagos")


def _country(value: str) -> None:
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(f"unknown country code {value!r}")


def _e164(value: str) -> None:
    try:
        to_e164(value)
    except InvalidPhone:
        raise ValidationError("must be a phone number in international format, like +14155238886") from None


def _pin(value: str) -> None:
    problem = pin_problem(value)
    if problem:
        raise ValidationError(problem)


# Reward dates are shifted to the end of their day and to UTC: far from the calendar's ends.
YEARS = range(2000, 3000)
YEARS_RULE = f"must be in the years {YEARS.start} to {YEARS.stop - 1}"


def in_years(moment: datetime) -> None:
    """A ValidationError unless `moment` falls in YEARS."""
    if moment.year not in YEARS:
        raise ValidationError(YEARS_RULE)


def _pin_hash(value: str) -> None:
    """What `hash_pin` writes (werkzeug's method:parameters$salt$hash), as `tenants export` gives it."""
    if not re.fullmatch(r"(scrypt|pbkdf2):[\w:]+\$\w+\$[0-9a-f]+", value):
        raise ValidationError("must be a PIN hash as `tenants export` writes it")


def _date_or_datetime(value: str) -> None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError("must be a date like 2026-12-31 or a time like 2026-12-31T18:00") from None
    in_years(moment)


STAFF_ROLES = ("owner", "admin", "staff")


class StaffSchema(Schema):
    class Meta:
        unknown = RAISE

    name = Text(required=True, validate=validate.Length(1, 255))
    phone = Text(required=True)
    pin = Text(validate=_pin)
    # The export cannot know a PIN, only its hash: a file carries one or the other.
    pin_hash = Text(validate=_pin_hash)
    role = Text(load_default="staff", validate=validate.OneOf(STAFF_ROLES))

    @validates_schema
    def one_pin(self, data, **kwargs):
        if "pin" in data and "pin_hash" in data:
            raise ValidationError({"pin_hash": ["give either pin or pin_hash, not both"]})


class PointsRuleSchema(Schema):
    class Meta:
        unknown = RAISE

    # What each type needs besides `type` (see bot.points_rules for what they do).
    NEEDS = {
        "per_amount_spent": ("points", "per_amount"),
        "per_purchase": ("points",),
        "first_purchase_bonus": ("points",),
        "milestone": ("points", "every"),
        "campaign_multiplier": ("multiplier", "starts", "ends"),
    }

    type = Text(required=True, validate=validate.OneOf(sorted(RULE_TYPES)))
    name = Text(validate=validate.Length(1, 100))
    points = fields.Integer(strict=True, validate=validate.Range(1, 1_000_000))
    per_amount = fields.Decimal(validate=validate.Range(0, MAX_AMOUNT, min_inclusive=False), as_string=False)
    every = fields.Integer(strict=True, validate=validate.Range(2, 10_000))
    multiplier = fields.Decimal(validate=validate.Range(1, 10), as_string=False)
    starts = fields.Date()
    ends = fields.Date()
    min_amount = fields.Decimal(validate=validate.Range(0, MAX_AMOUNT), as_string=False)

    @validates_schema
    def has_what_its_type_needs(self, data, **kwargs):
        missing = [name for name in self.NEEDS.get(data.get("type"), ()) if name not in data]
        if missing:
            raise ValidationError({name: [f"required for {data['type']}"] for name in missing})
        if "starts" in data and "ends" in data and data["starts"] > data["ends"]:
            raise ValidationError({"ends": ["must not be before starts"]})

    @post_load
    def to_plain_json(self, data, **kwargs):
        """Settings are stored as JSON: decimals and dates as their text."""
        return {key: _json_value(value) for key, value in data.items()}


def _json_value(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


class TierSchema(Schema):
    class Meta:
        unknown = RAISE

    name = Text(required=True, validate=validate.Length(1, 50))
    min_points = fields.Integer(required=True, strict=True, validate=validate.Range(0, MAX_COUNT))
    multiplier = fields.Decimal(load_default=Decimal(1), validate=validate.Range(1, 10), as_string=False)

    @post_load
    def to_plain_json(self, data, **kwargs):
        return {key: _json_value(value) for key, value in data.items()}


class RewardSchema(Schema):
    class Meta:
        unknown = RAISE

    name = Text(required=True, stripped=True, validate=validate.Length(1, 255))
    points = fields.Integer(required=True, strict=True, validate=validate.Range(1, 100_000_000))
    description = Text(load_default=None, multiline=True, validate=validate.Length(max=1000))
    stock = fields.Integer(load_default=None, strict=True, validate=validate.Range(0, MAX_COUNT))
    max_per_customer = fields.Integer(load_default=None, strict=True, validate=validate.Range(1, MAX_COUNT))
    # A date means the whole day in the vendor's timezone; a time may be given too.
    valid_from = Text(load_default=None, validate=_date_or_datetime)
    valid_until = Text(load_default=None, validate=_date_or_datetime)
    active = fields.Boolean(load_default=True)


class WheelItemSchema(Schema):
    class Meta:
        unknown = RAISE

    NEEDS = {"points": ("value",), "reward": ("reward",)}

    label = Text(required=True, validate=validate.Length(1, 100))
    type = Text(required=True, validate=validate.OneOf(["points", "reward", "extra_spin", "nothing"]))
    value = fields.Integer(strict=True, validate=validate.Range(1, 1_000_000))
    reward = Text(stripped=True, validate=validate.Length(1, 255))  # a RewardSchema name
    weight = fields.Integer(required=True, strict=True, validate=validate.Range(1, 1_000_000))
    stock = fields.Integer(load_default=None, strict=True, validate=validate.Range(0, MAX_COUNT))
    daily_cap = fields.Integer(load_default=None, strict=True, validate=validate.Range(0, MAX_COUNT))

    @validates_schema
    def has_what_its_type_needs(self, data, **kwargs):
        missing = [name for name in self.NEEDS.get(data.get("type"), ()) if name not in data]
        if missing:
            raise ValidationError({name: [f"required for {data['type']}"] for name in missing})


class WheelSchema(Schema):
    class Meta:
        unknown = RAISE

    daily_free_spins = fields.Integer(load_default=1, strict=True, validate=validate.Range(0, 100))
    spins_per_purchase = fields.Integer(load_default=0, strict=True, validate=validate.Range(0, 100))
    spin_min_amount = fields.Integer(load_default=0, strict=True, validate=validate.Range(0, MAX_AMOUNT))
    spin_cost_points = fields.Integer(load_default=0, strict=True, validate=validate.Range(0, 1_000_000))
    items = fields.List(fields.Nested(WheelItemSchema), required=True, validate=validate.Length(min=1, max=24))


class MissionSchema(Schema):
    class Meta:
        unknown = RAISE

    title = Text(required=True, validate=validate.Length(1, 255))
    type = Text(required=True, validate=validate.OneOf(["visit_count", "spend_total", "referral"]))
    target = fields.Integer(required=True, strict=True, validate=validate.Range(1, MAX_AMOUNT))
    period = Text(required=True, validate=validate.OneOf(["day", "week", "month", "all_time"]))
    points = fields.Integer(required=True, strict=True, validate=validate.Range(0, 1_000_000))


class ReferralSchema(Schema):
    class Meta:
        unknown = RAISE

    points = fields.Integer(required=True, strict=True, validate=validate.Range(0, 1_000_000))
    rewarded = Text(load_default="both", validate=validate.OneOf(["referrer", "referred", "both"]))


class RateLimitsSchema(Schema.from_dict({
    name: fields.Integer(load_default=limit.default, strict=True, validate=validate.Range(1, 100_000))
    for name, limit in LIMITS.items()
})):
    """How much one phone may do at the vendor in a window (bot/limits.py: its messages are
    counted at the number it writes to); staff may send more."""

    @validates_schema
    def staff_may_send_more(self, data, **kwargs):
        if data[STAFF_MESSAGES] < data[MESSAGES]:
            raise ValidationError({STAFF_MESSAGES: [f"must not be below {MESSAGES}"]})


# What kind of shop a vendor is (asked when it is set up by chat).
BUSINESS_TYPES = ("restaurant", "bar", "salon", "shop", "pharmacy", "fashion", "services", "other")


class TemplateSchema(Schema):
    """An approved WhatsApp template (Twilio Content) for one message kind, for pushes outside
    the 24-hour window: its variables name the message's parameters, in the template's order."""

    class Meta:
        unknown = RAISE

    content_sid = fields.String(required=True, validate=validate.Regexp(
        r"^HX[0-9a-fA-F]{32}$", error="must be a Twilio Content SID: HX and 32 hex digits"))
    variables = fields.List(fields.String(validate=validate.Length(1, 50)), load_default=list)


def _message_kind(value: str) -> None:
    if value not in CATALOG[DEFAULT_LANGUAGE]:
        raise ValidationError(f"{value!r} is not a message the bot sends")


class TenantFileSchema(Schema):
    class Meta:
        unknown = RAISE

    code = Text(required=True, validate=_code)
    name = Text(required=True, validate=validate.Length(1, 255))
    business_type = Text(load_default=None, validate=validate.OneOf(BUSINESS_TYPES))
    whatsapp_number = Text(required=True, validate=_e164)
    country = Text(required=True, validate=_country)
    currency = Text(required=True, validate=_currency)
    timezone = Text(required=True, validate=_timezone)
    language = Text(load_default=DEFAULT_LANGUAGE, validate=validate.OneOf(sorted(LOCALES)))
    greeting = Text(load_default=None, multiline=True, validate=validate.Length(1, 500))
    welcome_bonus = fields.Integer(load_default=0, strict=True, validate=validate.Range(0, 1_000_000))
    points_expiry_days = fields.Integer(load_default=None, strict=True, validate=validate.Range(1, 3650))
    staff = fields.List(fields.Nested(StaffSchema), load_default=list)
    max_purchase_amount = fields.Integer(load_default=10_000_000, strict=True, validate=validate.Range(1, MAX_AMOUNT))
    points_rules = fields.List(fields.Nested(PointsRuleSchema), load_default=list)
    tiers = fields.List(fields.Nested(TierSchema), load_default=list)
    rewards = fields.List(fields.Nested(RewardSchema), load_default=list)
    redemption_valid_hours = fields.Integer(load_default=24, strict=True, validate=validate.Range(1, 24 * 90))
    wheel = fields.Nested(WheelSchema, load_default=None)
    missions = fields.List(fields.Nested(MissionSchema), load_default=list)
    referral = fields.Nested(ReferralSchema, load_default=None)
    rate_limits = fields.Nested(RateLimitsSchema, load_default=lambda: RateLimitsSchema().load({}))
    # Delivery: the SMS number, WhatsApp templates by message kind, the senders' pace, reminders, a cap.
    sms_number = fields.String(load_default=None, validate=_e164)
    templates = fields.Dict(keys=fields.String(validate=_message_kind), values=fields.Nested(TemplateSchema), load_default=dict)
    messages_per_second = fields.Integer(load_default=10, strict=True, validate=validate.Range(0, 1000))  # 0: unpaced
    expiry_reminder_days = fields.Integer(load_default=7, strict=True, validate=validate.Range(0, 365))  # 0: none
    # Marketing pushes of any kind (broadcasts, reminders) a member gets in 7 days, at most (0: none).
    max_marketing_per_week = fields.Integer(load_default=2, strict=True, validate=validate.Range(0, 100))

    @post_load
    def normalise_phones(self, data, **kwargs):
        """Numbers in E.164; staff phones typed in local form are read in the vendor's country."""
        data["whatsapp_number"] = to_e164(data["whatsapp_number"])
        if data["sms_number"]:
            data["sms_number"] = to_e164(data["sms_number"])
        errors = {}
        for index, member in enumerate(data["staff"]):
            try:
                member["phone"] = to_e164(member["phone"], data["country"], strict=True)
            except InvalidPhone:
                errors[index] = {"phone": [f"not a phone number in {data['country']}: {member['phone']}"]}
        if errors:
            raise ValidationError({"staff": errors})
        phones = [member["phone"] for member in data["staff"]]
        if len(phones) != len(set(phones)):
            raise ValidationError({"staff": ["the same phone is listed twice"]})
        return data

    @validates_schema
    def names_are_unique(self, data, **kwargs):
        """Rewards, wheel items, missions and tiers are known by their names: each name once."""
        lists = {
            "rewards": ("name", data.get("rewards", [])),
            "wheel": ("label", (data.get("wheel") or {}).get("items", [])),
            "missions": ("title", data.get("missions", [])),
            "tiers": ("name", data.get("tiers", [])),
        }
        for field, (key, items) in lists.items():
            names = [item[key] for item in items]
            duplicates = sorted({name for name in names if names.count(name) > 1})
            if duplicates:
                raise ValidationError({field: [f"{key} listed twice: {', '.join(duplicates)}"]})

    @validates_schema
    def amounts_fit_the_currency(self, data, **kwargs):
        """A rule's per_amount and min_amount are whole numbers of the currency's smallest unit
        (0.01 naira, 1 franc CFA), per_amount at least one: the rules count in those units."""
        places = exponent(data.get("currency", ""))
        for index, rule in enumerate(data.get("points_rules", [])):
            for name in ("per_amount", "min_amount"):
                if rule.get(name) is None:
                    continue
                minor = Decimal(str(rule[name])) * 10**places
                if name == "per_amount" and minor < 1:
                    problem = "is smaller than the currency's smallest unit"
                elif too_precise(rule[name], data.get("currency", "")):
                    problem = f"has more decimals than the currency's {places}"
                else:
                    continue
                raise ValidationError({"points_rules": {index: {name: [problem]}}})

    @validates_schema
    def wheel_rewards_exist(self, data, **kwargs):
        """A wheel item that gives a reward must name one of the file's rewards."""
        names = {reward["name"] for reward in data.get("rewards", [])}
        items = (data.get("wheel") or {}).get("items", [])
        errors = {i: {"reward": [f"no reward named {item['reward']!r}"]} for i, item in enumerate(items)
                  if item["type"] == "reward" and item["reward"] not in names}
        if errors:
            raise ValidationError({"wheel": {"items": errors}})

    @validates_schema
    def rewards_end_after_they_start(self, data, **kwargs):
        errors = {}
        for index, reward in enumerate(data.get("rewards", [])):
            problem = window_problem(reward, data["timezone"])
            if problem:
                errors[index] = {"valid_until": [problem]}
        if errors:
            raise ValidationError({"rewards": errors})


def window_problem(reward: dict, zone: str) -> str | None:
    """Why a reward's valid_until does not come after its valid_from, both read in the vendor's
    timezone `zone`; None when it does (or either is open)."""
    starts, ends = reward.get("valid_from"), reward.get("valid_until")
    if starts and ends and _moment(ends, zone, end_of_day=True) <= _moment(starts, zone, end_of_day=False):
        return f"{ends} is not after valid_from {starts}"
    return None


class TenantFileError(ValueError):
    def __init__(self, messages: dict):
        self.messages = messages
        self.lines = _flatten(messages)  # "rewards.1.stock: ..."
        super().__init__("; ".join(self.lines))


def _flatten(messages, prefix: str = "") -> list[str]:
    if isinstance(messages, dict):
        return [line for key, value in messages.items() for line in _flatten(value, f"{prefix}{key}.")]
    return [f"{prefix.rstrip('.')}: {message}" for message in messages]


def parse_tenant_file(raw: dict) -> dict:
    try:
        return TenantFileSchema().load(raw)
    except ValidationError as error:
        raise TenantFileError(error.messages) from None


def _is_date(value: str) -> bool:
    """Whether `value` is a date alone, in any form ISO 8601 writes one (2026-12-31, 20261231)."""
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _moment(value: str | None, zone: str, end_of_day: bool) -> datetime | None:
    """'2026-12-31' -> the start (or the end) of that day in the vendor's timezone, in UTC."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    if end_of_day and _is_date(value):  # a bare date runs to the end of the day
        moment += timedelta(days=1)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(timezone.utc)
