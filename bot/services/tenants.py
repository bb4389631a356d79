"""Vendors configured from a JSON file (read by bot/services/tenant_file.py): created or updated in place, and exported."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from bot.db import insert_on_conflict
from bot.services import audit
from bot.services.rewards import HOLDING_STOCK
from bot.services.staff import clear_pin, deactivate, fingerprint_pin, hash_pin, matches_pin
from bot.services.tenant_file import TenantFileError, _moment
from models import Customer, PointsTransaction, Purchase, Reward, RewardRedemption, Show, Tenant, Staff, WheelItem
from models.base import new_id


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
    with PINs in clear gets their fingerprints with `pin_pepper` (Config.pin_pepper); without it,
    redaction checks the slow hash until each staff member's next right PIN writes one.

    Two first loads of one vendor at once meet on its unique code: one creates it, the other
    waits for it, then updates it like any reload. A reload that would change the currency or
    country of a vendor with history, or remove all its staff, is refused unless `force`."""
    if session.scalar(select(exists().where(Show.whatsapp_number == config["whatsapp_number"]))):
        raise TenantFileError({"whatsapp_number": [f"{config['whatsapp_number']} is a TV show's voting number"]})
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
    active = set(session.scalars(select(Staff.phone_number).where(Staff.tenant_id == tenant.id, Staff.is_active)))
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
        for user in session.scalars(select(Staff).where(Staff.tenant_id == tenant.id))
    }
    changed = []
    for member in staff:
        user = existing.pop(member["phone"], None)
        if user is None:
            # Its id now, not at the flush: its PIN's fingerprint is keyed by it.
            user = Staff(tenant_id=tenant.id, id=new_id(), phone_number=member["phone"])
            session.add(user)
        elif not user.is_active and "pin" not in member and "pin_hash" not in member:
            clear_pin(user)  # taken on again with no PIN in the file: they choose a new one, as after STAFF ADD
        touched = [
            assign(user, "full_name", member["name"]),
            assign(user, "role", member["role"]),
            assign(user, "is_active", True),
            _sync_pin(user, member, pin_pepper),
        ]
        if any(touched):
            changed.append(f"staff {member['phone']}")
    for user in existing.values():  # dropped from the file: kept for history, but disabled
        if deactivate(user):
            changed.append(f"staff {user.phone_number} removed")
    return changed


def _sync_pin(user: Staff, member: dict, pin_pepper: str | None) -> bool:
    """A PIN in clear is rehashed only when it no longer matches, and gets its fingerprint; a
    `pin_hash` is stored as it is, and drops the fingerprint of the PIN it replaces (the PIN's
    next right check gives it one). True when the row changed."""
    pin = member.get("pin")
    if pin:
        rehashed = not matches_pin(user.pin_hash, pin)
        if rehashed:
            user.pin_hash, user.pin_fingerprint = hash_pin(pin), None
        if pin_pepper is None:  # no fingerprint without the pepper: redaction uses the slow hash till the next right PIN
            return rehashed
        return assign(user, "pin_fingerprint", fingerprint_pin(pin_pepper, user.id, pin)) or rehashed
    if "pin_hash" in member and assign(user, "pin_hash", member["pin_hash"]):
        user.pin_fingerprint = None
        return True
    return False


def sync_rewards(session: Session, tenant: Tenant, rewards: list[dict]) -> list[str]:
    """Rewards are matched by name. One dropped from the file is deleted, or, if it has been
    redeemed, deactivated. Stock is the total offered: units already redeemed stay used."""
    # Locked, as the dashboard's and the API's changes lock a reward: a redemption under way
    # finishes first, and its unit is counted before the stock is checked.
    existing = {reward.name: reward for reward in session.scalars(
        select(Reward).where(Reward.tenant_id == tenant.id).with_for_update().execution_options(populate_existing=True))}
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
        select(Staff).where(Staff.tenant_id == tenant.id, Staff.is_active).order_by(Staff.created_at)
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
