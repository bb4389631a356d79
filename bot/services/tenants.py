"""Vendors configured from a JSON file: validated, then created or updated in place."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from bot.catalog import CATALOG, DEFAULT_LANGUAGE
from bot.money import to_minor
from bot.phones import InvalidPhone, to_e164
from bot.points_rules import RULE_TYPES
from bot.services import audit
from bot.services.rewards import HOLDING_STOCK
from bot.services.staff import hash_pin, pin_problem
from flows import COMMAND_WORDS
from models import Reward, RewardRedemption, Tenant, VendorUser, WheelItem



def _code(value: str) -> None:
    if not re.fullmatch(r"(?=.*[A-Z])[A-Z0-9]{2,20}", value):
        raise ValidationError("must be 2 to 20 capital letters or digits, with at least one letter")
    if value in COMMAND_WORDS:
        raise ValidationError(f"{value} is a bot command; choose another code")


def _timezone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
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


def _date_or_datetime(value: str) -> None:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError("must be a date like 2026-12-31 or a time like 2026-12-31T18:00") from None


class StaffSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Length(1, 255))
    phone = fields.String(required=True)
    pin = fields.String(validate=_pin)
    role = fields.String(load_default="staff", validate=validate.OneOf(["owner", "admin", "staff"]))


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

    type = fields.String(required=True, validate=validate.OneOf(sorted(RULE_TYPES)))
    name = fields.String(validate=validate.Length(1, 100))
    points = fields.Integer(strict=True, validate=validate.Range(1, 1_000_000))
    per_amount = fields.Decimal(validate=validate.Range(min=0, min_inclusive=False), as_string=False)
    every = fields.Integer(strict=True, validate=validate.Range(2, 10_000))
    multiplier = fields.Decimal(validate=validate.Range(1, 10), as_string=False)
    starts = fields.Date()
    ends = fields.Date()
    min_amount = fields.Decimal(validate=validate.Range(min=0), as_string=False)

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

    name = fields.String(required=True, validate=validate.Length(1, 50))
    min_points = fields.Integer(required=True, strict=True, validate=validate.Range(0))
    multiplier = fields.Decimal(load_default=Decimal(1), validate=validate.Range(1, 10), as_string=False)

    @post_load
    def to_plain_json(self, data, **kwargs):
        return {key: _json_value(value) for key, value in data.items()}


class RewardSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Length(1, 255))
    points = fields.Integer(required=True, strict=True, validate=validate.Range(1, 100_000_000))
    description = fields.String(load_default=None, validate=validate.Length(max=1000))
    stock = fields.Integer(load_default=None, strict=True, validate=validate.Range(0))
    max_per_customer = fields.Integer(load_default=None, strict=True, validate=validate.Range(1))
    # A date means the whole day in the vendor's timezone; a time may be given too.
    valid_from = fields.String(load_default=None, validate=_date_or_datetime)
    valid_until = fields.String(load_default=None, validate=_date_or_datetime)
    active = fields.Boolean(load_default=True)


class WheelItemSchema(Schema):
    class Meta:
        unknown = RAISE

    NEEDS = {"points": ("value",), "reward": ("reward",)}

    label = fields.String(required=True, validate=validate.Length(1, 100))
    type = fields.String(required=True, validate=validate.OneOf(["points", "reward", "extra_spin", "nothing"]))
    value = fields.Integer(strict=True, validate=validate.Range(1, 1_000_000))
    reward = fields.String(validate=validate.Length(1, 255))
    weight = fields.Integer(required=True, strict=True, validate=validate.Range(1, 1_000_000))
    stock = fields.Integer(load_default=None, strict=True, validate=validate.Range(0))
    daily_cap = fields.Integer(load_default=None, strict=True, validate=validate.Range(0))

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
    spin_min_amount = fields.Integer(load_default=0, strict=True, validate=validate.Range(0))
    spin_cost_points = fields.Integer(load_default=0, strict=True, validate=validate.Range(0, 1_000_000))
    items = fields.List(fields.Nested(WheelItemSchema), required=True, validate=validate.Length(min=1, max=24))


class MissionSchema(Schema):
    class Meta:
        unknown = RAISE

    title = fields.String(required=True, validate=validate.Length(1, 255))
    type = fields.String(required=True, validate=validate.OneOf(["visit_count", "spend_total", "referral"]))
    target = fields.Integer(required=True, strict=True, validate=validate.Range(1))
    period = fields.String(required=True, validate=validate.OneOf(["day", "week", "month", "all_time"]))
    points = fields.Integer(required=True, strict=True, validate=validate.Range(0, 1_000_000))


class ReferralSchema(Schema):
    class Meta:
        unknown = RAISE

    points = fields.Integer(required=True, strict=True, validate=validate.Range(0, 1_000_000))
    rewarded = fields.String(load_default="both", validate=validate.OneOf(["referrer", "referred", "both"]))


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

    code = fields.String(required=True, validate=_code)
    name = fields.String(required=True, validate=validate.Length(1, 255))
    whatsapp_number = fields.String(required=True, validate=_e164)
    country = fields.String(required=True, validate=_country)
    currency = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{3}$", error="must be an ISO 4217 code like NGN"))
    timezone = fields.String(required=True, validate=_timezone)
    language = fields.String(load_default="en", validate=validate.Length(2, 8))
    greeting = fields.String(load_default=None, validate=validate.Length(1, 500))
    welcome_bonus = fields.Integer(load_default=0, strict=True, validate=validate.Range(0, 1_000_000))
    points_expiry_days = fields.Integer(load_default=None, strict=True, validate=validate.Range(1, 3650))
    staff = fields.List(fields.Nested(StaffSchema), load_default=list)
    max_purchase_amount = fields.Integer(load_default=10_000_000, strict=True, validate=validate.Range(1, 1_000_000_000_000))
    points_rules = fields.List(fields.Nested(PointsRuleSchema), load_default=list)
    tiers = fields.List(fields.Nested(TierSchema), load_default=list)
    rewards = fields.List(fields.Nested(RewardSchema), load_default=list)
    redemption_valid_hours = fields.Integer(load_default=24, strict=True, validate=validate.Range(1, 24 * 90))
    wheel = fields.Nested(WheelSchema, load_default=None)
    missions = fields.List(fields.Nested(MissionSchema), load_default=list)
    referral = fields.Nested(ReferralSchema, load_default=None)
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
        """Rewards, wheel items and missions are known by their names: each name once."""
        lists = {
            "rewards": ("name", data.get("rewards", [])),
            "wheel": ("label", (data.get("wheel") or {}).get("items", [])),
            "missions": ("title", data.get("missions", [])),
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


class TenantFileError(ValueError):
    def __init__(self, messages: dict):
        self.messages = messages
        super().__init__("; ".join(_flatten(messages)))


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


def load_tenant(session: Session, config: dict) -> LoadResult:
    """Create or update the vendor described by a parsed tenant file. Idempotent: loading the
    same file again changes no row (a PIN is rehashed only when it no longer matches)."""
    tenant = session.scalars(select(Tenant).where(Tenant.vendor_code == config["code"]).with_for_update()).one_or_none()
    created = tenant is None
    if created:
        tenant = Tenant(vendor_code=config["code"], settings={})
        session.add(tenant)
    changed = [name for name in _COLUMNS if assign(tenant, name, config[name])]
    settings = {key: value for key, value in config.items() if key not in (*_COLUMNS, "code", "staff", "rewards")}
    if settings["wheel"]:  # the items live in wheel_items, with their win counters
        settings["wheel"] = {key: value for key, value in settings["wheel"].items() if key != "items"}
    if assign(tenant, "settings", settings):
        changed.append("settings")
    session.flush()
    changed += _sync_staff(session, tenant, config["staff"])
    changed += sync_rewards(session, tenant, config["rewards"])
    changed += sync_wheel(session, tenant, (config["wheel"] or {}).get("items", []))
    if created or changed:
        audit.record(
            session, tenant.id, "tenant.created" if created else "tenant.updated",
            entity_type="tenant", entity_id=tenant.id, changed=changed,
        )
    return LoadResult(tenant, created, changed)


def assign(row, attribute: str, value) -> bool:
    """Set an attribute only if it differs; True when it did, so a reload writes nothing."""
    if getattr(row, attribute) == value:
        return False
    setattr(row, attribute, value)
    return True


def _sync_staff(session: Session, tenant: Tenant, staff: list[dict]) -> list[str]:
    existing = {
        user.phone_number: user
        for user in session.scalars(select(VendorUser).where(VendorUser.tenant_id == tenant.id))
    }
    changed = []
    for member in staff:
        user = existing.pop(member["phone"], None)
        if user is None:
            user = VendorUser(tenant_id=tenant.id, phone_number=member["phone"])
            session.add(user)
        touched = [
            assign(user, "full_name", member["name"]),
            assign(user, "role", member["role"]),
            assign(user, "is_active", True),
        ]
        pin = member.get("pin")
        if pin and not (user.pin_hash and check_password_hash(user.pin_hash, pin)):
            user.pin_hash = hash_pin(pin)
            touched.append(True)
        if any(touched):
            changed.append(f"staff {member['phone']}")
    for user in existing.values():  # dropped from the file: kept for history, but disabled
        if assign(user, "is_active", False):
            changed.append(f"staff {user.phone_number} removed")
    return changed


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
        if item["stock"] is not None and reward.stock is None and reward.id is not None:
            # Unlimited rewards keep no count: limiting one starts from what is held now.
            reward.stock_used = session.scalar(select(func.count()).where(
                RewardRedemption.tenant_id == tenant.id, RewardRedemption.reward_id == reward.id,
                RewardRedemption.status.in_(HOLDING_STOCK)))
        if item["stock"] is not None and item["stock"] < reward.stock_used:
            errors[position] = {"stock": [f"{item['stock']} is below the {reward.stock_used} already redeemed"]}
        values = {
            "points_required": item["points"],
            "description": item["description"],
            "stock": item["stock"],
            "max_per_customer": item["max_per_customer"],
            "valid_from": _moment(item["valid_from"], tenant.timezone, end_of_day=False),
            "valid_until": _moment(item["valid_until"], tenant.timezone, end_of_day=True),
            "is_active": item["active"],
            "position": position,
        }
        if any([assign(reward, name, value) for name, value in values.items()]):
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
