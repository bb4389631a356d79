"""Vendors configured from a JSON file: validated, then created or updated in place."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from bot.catalog import CATALOG
from bot.db import insert_on_conflict
from bot.limits import LIMITS, MESSAGES, STAFF_MESSAGES
from bot.locales import DEFAULT_LANGUAGE, LOCALES
from bot.money import CURRENCIES, to_minor
from bot.phones import InvalidPhone, to_e164
from bot.points_rules import RULE_TYPES
from bot.services import audit
from bot.services.rewards import HOLDING_STOCK
from bot.services.staff import fingerprint_pin, hash_pin, pin_problem
from bot.vendor_codes import code_problem
from models import Customer, PointsTransaction, Purchase, Reward, RewardRedemption, Tenant, VendorUser, WheelItem
from models.base import new_id

# The largest count an INTEGER column holds, and the largest amount (in major units) a file may give.
_MAX_COUNT = 2**31 - 1
_MAX_AMOUNT = 1_000_000_000_000


class Text(fields.String):
    """A string without control characters: a NUL cannot even be stored, and the others have no
    place in a name. `multiline` text (a greeting, a description) may have line breaks and tabs."""

    default_error_messages = {"control": "must not contain control characters (such as NUL)"}

    def __init__(self, *args, multiline: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.allowed = "\n\t" if multiline else ""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if any(unicodedata.category(char) == "Cc" and char not in self.allowed for char in text):
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
_YEARS = range(2000, 3000)


def _pin_hash(value: str) -> None:
    """What `hash_pin` writes (werkzeug's method:parameters$salt$hash), as `tenants export` gives it."""
    if not re.fullmatch(r"(scrypt|pbkdf2):[\w:]+\$\w+\$[0-9a-f]+", value):
        raise ValidationError("must be a PIN hash as `tenants export` writes it")


def _date_or_datetime(value: str) -> None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError("must be a date like 2026-12-31 or a time like 2026-12-31T18:00") from None
    if moment.year not in _YEARS:
        raise ValidationError(f"must be in the years {_YEARS.start} to {_YEARS.stop - 1}")


class StaffSchema(Schema):
    class Meta:
        unknown = RAISE

    name = Text(required=True, validate=validate.Length(1, 255))
    phone = Text(required=True)
    pin = Text(validate=_pin)
    # The export cannot know a PIN, only its hash: a file carries one or the other.
    pin_hash = Text(validate=_pin_hash)
    role = Text(load_default="staff", validate=validate.OneOf(["owner", "admin", "staff"]))

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
    per_amount = fields.Decimal(validate=validate.Range(0, _MAX_AMOUNT, min_inclusive=False), as_string=False)
    every = fields.Integer(strict=True, validate=validate.Range(2, 10_000))
    multiplier = fields.Decimal(validate=validate.Range(1, 10), as_string=False)
    starts = fields.Date()
    ends = fields.Date()
    min_amount = fields.Decimal(validate=validate.Range(0, _MAX_AMOUNT), as_string=False)

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
    min_points = fields.Integer(required=True, strict=True, validate=validate.Range(0, _MAX_COUNT))
    multiplier = fields.Decimal(load_default=Decimal(1), validate=validate.Range(1, 10), as_string=False)

    @post_load
    def to_plain_json(self, data, **kwargs):
        return {key: _json_value(value) for key, value in data.items()}


class RewardSchema(Schema):
    class Meta:
        unknown = RAISE

    name = Text(required=True, validate=validate.Length(1, 255))
    points = fields.Integer(required=True, strict=True, validate=validate.Range(1, 100_000_000))
    description = Text(load_default=None, multiline=True, validate=validate.Length(max=1000))
    stock = fields.Integer(load_default=None, strict=True, validate=validate.Range(0, _MAX_COUNT))
    max_per_customer = fields.Integer(load_default=None, strict=True, validate=validate.Range(1, _MAX_COUNT))
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
    reward = Text(validate=validate.Length(1, 255))
    weight = fields.Integer(required=True, strict=True, validate=validate.Range(1, 1_000_000))
    stock = fields.Integer(load_default=None, strict=True, validate=validate.Range(0, _MAX_COUNT))
    daily_cap = fields.Integer(load_default=None, strict=True, validate=validate.Range(0, _MAX_COUNT))

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
    spin_min_amount = fields.Integer(load_default=0, strict=True, validate=validate.Range(0, _MAX_AMOUNT))
    spin_cost_points = fields.Integer(load_default=0, strict=True, validate=validate.Range(0, 1_000_000))
    items = fields.List(fields.Nested(WheelItemSchema), required=True, validate=validate.Length(min=1, max=24))


class MissionSchema(Schema):
    class Meta:
        unknown = RAISE

    title = Text(required=True, validate=validate.Length(1, 255))
    type = Text(required=True, validate=validate.OneOf(["visit_count", "spend_total", "referral"]))
    target = fields.Integer(required=True, strict=True, validate=validate.Range(1, _MAX_AMOUNT))
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
    """How much one phone may do at the vendor in a window (bot/limits.py); staff may send more."""

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
    max_purchase_amount = fields.Integer(load_default=10_000_000, strict=True, validate=validate.Range(1, _MAX_AMOUNT))
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
    marketing_per_week = fields.Integer(load_default=None, strict=True, validate=validate.Range(0, 100))  # None: no cap

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
        """per_amount must be at least one minor unit of the currency (0.01 naira)."""
        for index, rule in enumerate(data.get("points_rules", [])):
            per_amount = rule.get("per_amount")
            if per_amount is not None and to_minor(Decimal(str(per_amount)), data.get("currency", "")) < 1:
                raise ValidationError({"points_rules": {index: {"per_amount": ["is smaller than the currency's smallest unit"]}}})

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
        """A reward's valid_until comes after its valid_from, both read in the vendor's timezone."""
        errors = {}
        for index, reward in enumerate(data.get("rewards", [])):
            starts, ends = reward["valid_from"], reward["valid_until"]
            if starts and ends and _moment(ends, data["timezone"], end_of_day=True) <= _moment(starts, data["timezone"], end_of_day=False):
                errors[index] = {"valid_until": [f"{ends} is not after valid_from {starts}"]}
        if errors:
            raise ValidationError({"rewards": errors})


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


@dataclass(frozen=True)
class LoadResult:
    tenant: Tenant
    created: bool
    changed: list[str]


_COLUMNS = ("name", "whatsapp_number", "country", "currency", "timezone")
# Amounts and phones on record were read in these: changing them on a vendor with history needs force.
_SETTLED = ("currency", "country")


class ReloadRefused(TenantFileError):
    """The file would rewrite an existing vendor in a way that is more likely a mistake (a file
    reusing another vendor's code) than meant. Loading it with `force` does it."""

    def __init__(self, messages: dict, tenant: Tenant):
        super().__init__(messages)
        self.vendor = f"{tenant.vendor_code} ({tenant.name})"


def load_tenant(session: Session, config: dict, force: bool = False, pin_pepper: str | None = None) -> LoadResult:
    """Create or update the vendor described by a parsed tenant file. Idempotent: loading the
    same file again changes no row (a PIN is rehashed only when it no longer matches). A file
    with PINs in clear needs `pin_pepper` (Config.pin_pepper) for their fingerprints.

    Two first loads of one vendor at once meet on its unique code: one creates it, the other
    waits for it, then updates it like any reload. A reload that would change the currency or
    country of a vendor with history, or remove all its staff, is refused unless `force`."""
    settings = {key: value for key, value in config.items() if key not in (*_COLUMNS, "code", "staff", "rewards")}
    if settings["wheel"]:  # the items live in wheel_items, with their win counters
        settings["wheel"] = {key: value for key, value in settings["wheel"].items() if key != "items"}
    values = {"vendor_code": config["code"], "settings": settings, **{name: config[name] for name in _COLUMNS}}
    created = insert_on_conflict(session, Tenant, values, ["vendor_code"])
    tenant = session.scalars(
        select(Tenant).where(Tenant.vendor_code == config["code"]).with_for_update().execution_options(populate_existing=True)
    ).one()
    risky = {} if created else _risky_changes(session, tenant, config)
    if risky and not force:
        raise ReloadRefused(risky, tenant)
    before = {name: getattr(tenant, name) for name in _COLUMNS}
    changed = [f"{name} {before[name]} -> {config[name]}" for name in _COLUMNS if assign(tenant, name, config[name])]
    if assign(tenant, "settings", settings):
        changed.append("settings")
    session.flush()
    changed += _sync_staff(session, tenant, config["staff"], pin_pepper)
    changed += sync_rewards(session, tenant, config["rewards"])
    changed += sync_wheel(session, tenant, (config["wheel"] or {}).get("items", []))
    if created or changed:
        audit.record(
            session, tenant.id, "tenant.created" if created else "tenant.updated",
            entity_type="tenant", entity_id=tenant.id, changed=changed, forced=sorted(risky),
        )
    return LoadResult(tenant, created, changed)


def _risky_changes(session: Session, tenant: Tenant, config: dict) -> dict:
    """What reloading `config` onto `tenant` would do that needs force, by field."""
    risky = {}
    moved = [name for name in _SETTLED if getattr(tenant, name) != config[name]]
    if moved and _has_history(session, tenant):
        for name in moved:
            risky[name] = [
                f"would change {tenant.vendor_code}'s {name} from {getattr(tenant, name)} to {config[name]}, "
                "but it already has customers, purchases or points on record"
            ]
    active = set(session.scalars(select(VendorUser.phone_number).where(VendorUser.tenant_id == tenant.id, VendorUser.is_active)))
    if active and not active & {member["phone"] for member in config["staff"]}:
        risky["staff"] = [f"would remove all {len(active)} of {tenant.vendor_code}'s staff"]
    return risky


def _has_history(session: Session, tenant: Tenant) -> bool:
    return any(
        session.scalar(select(exists().where(model.tenant_id == tenant.id)))
        for model in (Customer, Purchase, PointsTransaction)
    )


def assign(row, attribute: str, value) -> bool:
    """Set an attribute only if it differs; True when it did, so a reload writes nothing."""
    if getattr(row, attribute) == value:
        return False
    setattr(row, attribute, value)
    return True


def _sync_staff(session: Session, tenant: Tenant, staff: list[dict], pin_pepper: str | None) -> list[str]:
    existing = {
        user.phone_number: user
        for user in session.scalars(select(VendorUser).where(VendorUser.tenant_id == tenant.id))
    }
    changed = []
    for member in staff:
        user = existing.pop(member["phone"], None)
        if user is None:
            # Its id now, not at the flush: its PIN's fingerprint is keyed by it.
            user = VendorUser(tenant_id=tenant.id, id=new_id(), phone_number=member["phone"])
            session.add(user)
        touched = [
            assign(user, "full_name", member["name"]),
            assign(user, "role", member["role"]),
            assign(user, "is_active", True),
            _sync_pin(user, member, pin_pepper),
        ]
        if any(touched):
            changed.append(f"staff {member['phone']}")
    for user in existing.values():  # dropped from the file: kept for history, but disabled
        if assign(user, "is_active", False):
            changed.append(f"staff {user.phone_number} removed")
    return changed


def _sync_pin(user: VendorUser, member: dict, pin_pepper: str | None) -> bool:
    """A PIN in clear is rehashed only when it no longer matches, and gets its fingerprint; a
    `pin_hash` is stored as it is, and drops the fingerprint of the PIN it replaces (the PIN's
    next right check gives it one). True when the row changed."""
    pin = member.get("pin")
    if pin:
        if pin_pepper is None:
            raise ValueError("a tenant file with PINs in clear is loaded with the PIN pepper")
        rehashed = not (user.pin_hash and check_password_hash(user.pin_hash, pin))
        if rehashed:
            user.pin_hash = hash_pin(pin)
        return assign(user, "pin_fingerprint", fingerprint_pin(pin_pepper, user.id, pin)) or rehashed
    if "pin_hash" in member and assign(user, "pin_hash", member["pin_hash"]):
        user.pin_fingerprint = None
        return True
    return False


def sync_rewards(session: Session, tenant: Tenant, rewards: list[dict]) -> list[str]:
    """Rewards are matched by name. One dropped from the file is deleted, or, if it has been
    redeemed, deactivated. Stock is the total offered: units already redeemed stay used."""
    existing = {reward.name: reward for reward in session.scalars(select(Reward).where(Reward.tenant_id == tenant.id))}
    changed, errors = [], {}
    for position, item in enumerate(rewards):
        reward = existing.pop(item["name"], None)
        if reward is None:
            reward = Reward(tenant_id=tenant.id, name=item["name"], stock_used=0)
            session.add(reward)
        problem = stock_problem(session, reward, item["stock"])
        if problem:
            errors[position] = {"stock": [problem]}
        if any([assign(reward, name, value) for name, value in reward_values(tenant, item, position).items()]):
            changed.append(f"reward {item['name']}")
    if errors:
        raise TenantFileError({"rewards": errors})
    for reward in existing.values():
        redeemed = session.scalar(select(RewardRedemption.id).where(
            RewardRedemption.tenant_id == tenant.id, RewardRedemption.reward_id == reward.id).limit(1))
        if redeemed is None:
            session.delete(reward)
            changed.append(f"reward {reward.name} removed")
        elif assign(reward, "is_active", False):
            changed.append(f"reward {reward.name} deactivated")
    return changed


def stock_problem(session: Session, reward: Reward, stock: int | None) -> str | None:
    """Why `stock` cannot be the reward's total offered, or None. Unlimited rewards keep no
    count: limiting one starts from the units its redemptions hold now."""
    if stock is not None and reward.stock is None and reward.id is not None:
        reward.stock_used = session.scalar(select(func.count()).where(
            RewardRedemption.tenant_id == reward.tenant_id, RewardRedemption.reward_id == reward.id,
            RewardRedemption.status.in_(HOLDING_STOCK)))
    if stock is not None and stock < reward.stock_used:
        return f"{stock} is below the {reward.stock_used} already redeemed"
    return None


def reward_values(tenant: Tenant, item: dict, position: int) -> dict:
    """A reward's columns from its entry in the tenant file (as RewardSchema loads it)."""
    return {
        "points_required": item["points"],
        "description": item["description"],
        "stock": item["stock"],
        "max_per_customer": item["max_per_customer"],
        "valid_from": _moment(item["valid_from"], tenant.timezone, end_of_day=False),
        "valid_until": _moment(item["valid_until"], tenant.timezone, end_of_day=True),
        "is_active": item["active"],
        "position": position,
    }


def _moment(value: str | None, zone: str, end_of_day: bool) -> datetime | None:
    """'2026-12-31' -> the start (or the end) of that day in the vendor's timezone, in UTC."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    if len(value) == 10 and end_of_day:  # a bare date runs to the end of the day
        moment += timedelta(days=1)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(timezone.utc)


def sync_wheel(session: Session, tenant: Tenant, items: list[dict]) -> list[str]:
    """Wheel items are matched by label; a dropped one is switched off, so that its wins stay
    counted and its history readable. A reload changes future spins only."""
    existing = {item.label: item for item in session.scalars(select(WheelItem).where(WheelItem.tenant_id == tenant.id))}
    changed = []
    for position, item in enumerate(items):
        row = existing.pop(item["label"], None)
        if row is None:
            row = WheelItem(tenant_id=tenant.id, label=item["label"], won=0, won_today=0)
            session.add(row)
        values = {
            "kind": item["type"], "value": item.get("value", 0), "reward_name": item.get("reward"),
            "weight": item["weight"], "stock": item["stock"], "daily_cap": item["daily_cap"],
            "is_active": True, "position": position,
        }
        if any([assign(row, name, value) for name, value in values.items()]):
            changed.append(f"wheel item {item['label']}")
    for row in existing.values():
        if assign(row, "is_active", False):
            changed.append(f"wheel item {row.label} removed")
    return changed


def export_tenant(session: Session, tenant: Tenant) -> dict:
    """The tenant file of a vendor as it stands, which `load_tenant` takes back without a change.
    Staff PINs are written as their hashes (`pin_hash`): nobody knows the PINs themselves."""
    settings = {key: value for key, value in tenant.settings.items() if value is not None}
    wheel = settings.pop("wheel", None)
    exported = {
        "code": tenant.vendor_code,
        **{name: getattr(tenant, name) for name in _COLUMNS},
        **settings,
        "staff": _export_staff(session, tenant),
        "rewards": _export_rewards(session, tenant),
    }
    if wheel is not None:
        exported["wheel"] = {**wheel, "items": _export_wheel_items(session, tenant)}
    return exported


def _export_staff(session: Session, tenant: Tenant) -> list[dict]:
    users = session.scalars(
        select(VendorUser).where(VendorUser.tenant_id == tenant.id, VendorUser.is_active).order_by(VendorUser.created_at)
    )
    return [
        {"name": user.full_name, "phone": user.phone_number, "role": user.role}
        | ({"pin_hash": user.pin_hash} if user.pin_hash else {})
        for user in users
    ]


def _export_rewards(session: Session, tenant: Tenant) -> list[dict]:
    rewards = session.scalars(select(Reward).where(Reward.tenant_id == tenant.id).order_by(Reward.position, Reward.name))
    zone = ZoneInfo(tenant.timezone)
    exported = []
    for reward in rewards:
        optional = {
            "description": reward.description,
            "stock": reward.stock,
            "max_per_customer": reward.max_per_customer,
            "valid_from": _local_text(reward.valid_from, zone, end_of_day=False),
            "valid_until": _local_text(reward.valid_until, zone, end_of_day=True),
            "active": None if reward.is_active else False,
        }
        exported.append(
            {"name": reward.name, "points": reward.points_required}
            | {key: value for key, value in optional.items() if value is not None}
        )
    return exported


def _local_text(moment: datetime | None, zone: ZoneInfo, end_of_day: bool) -> str | None:
    """The reverse of `_moment`: a local midnight as a bare date, any other time with its offset."""
    if moment is None:
        return None
    local = moment.astimezone(zone)
    if local.time() != datetime.min.time():
        return local.isoformat()
    return (local.date() - timedelta(days=1) if end_of_day else local.date()).isoformat()


def _export_wheel_items(session: Session, tenant: Tenant) -> list[dict]:
    items = session.scalars(
        select(WheelItem).where(WheelItem.tenant_id == tenant.id, WheelItem.is_active).order_by(WheelItem.position)
    )
    exported = []
    for item in items:
        optional = {"value": item.value or None, "reward": item.reward_name, "stock": item.stock, "daily_cap": item.daily_cap}
        exported.append(
            {"label": item.label, "type": item.kind, "weight": item.weight}
            | {key: value for key, value in optional.items() if value is not None}
        )
    return exported
