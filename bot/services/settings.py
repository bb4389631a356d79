"""The vendor's configuration changed from its back office (the API, the dashboard) rather than
its tenant file: through the tenant file's own validation, each change audited with what it was
before.

Reloading the tenant file makes the file the truth again (a reward created here and missing
from the file is then removed, or switched off if it was redeemed)."""
from __future__ import annotations

import uuid

from marshmallow import ValidationError
from sqlalchemy import func, select

from bot.db import ROW_LOCK
from bot.services import audit
from bot.services.context import Context
from bot.services.tenant_file import RewardSchema, TenantFileError, parse_tenant_file, window_problem
from bot.services.tenants import export_tenant, reward_values, stock_problem
from models import Reward, Tenant

# What can change without touching how the vendor is reached or how amounts and phones are read
# (code, number, country, currency, timezone stay with the file and its operator).
EDITABLE = (
    "name", "greeting", "welcome_bonus", "points_expiry_days", "max_purchase_amount", "redemption_valid_hours",
    "points_rules", "tiers", "referral",
)


# A reward's fields the back office may change, and their columns. The name stays: the tenant
# file and the wheel's items find the reward by it.
REWARD_FIELDS = {
    "points": "points_required", "description": "description", "stock": "stock",
    "max_per_customer": "max_per_customer", "active": "is_active",
}


class SettingsService:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def view(self) -> dict:
        """The vendor as its tenant file says it, less staff, rewards and the wheel's items."""
        tenant = self.ctx.tenant
        return {
            "code": tenant.vendor_code, "name": tenant.name, "whatsapp_number": tenant.whatsapp_number,
            "country": tenant.country, "currency": tenant.currency, "timezone": tenant.timezone, **tenant.settings,
        }

    def update(self, changes: dict) -> dict:
        """Change some EDITABLE fields; the vendor's whole file with them is validated as
        `tenants load` would. Raises TenantFileError naming each bad field, changing nothing."""
        ctx, actor = self.ctx, self.ctx.actor
        refused = {name: ["cannot be changed here"] for name in changes if name not in EDITABLE}
        if refused:
            raise TenantFileError(refused)
        tenant = self._lock_tenant()
        current = export_tenant(ctx.session, tenant)
        parsed = parse_tenant_file({**current, **changes})
        before = {name: current.get(name) for name in changes}
        after = {name: parsed[name] for name in changes}
        changed = sorted(name for name in changes if before[name] != after[name])
        if not changed:
            return self.view()
        if "name" in changed:
            tenant.name = after["name"]
        tenant.settings = {**tenant.settings, **{name: after[name] for name in changed if name != "name"}}
        audit.record(
            ctx.session, tenant.id, "tenant.settings_updated", actor_type=actor.type, actor_id=actor.id,
            entity_type="tenant", entity_id=tenant.id, changed=changed,
            before={name: before[name] for name in changed}, after={name: after[name] for name in changed},
        )
        return self.view()

    def add_reward(self, raw: dict) -> Reward:
        """A new reward, validated as in the tenant file, last in the catalog."""
        ctx, actor = self.ctx, self.ctx.actor
        try:
            item = RewardSchema().load(raw)
        except ValidationError as error:
            raise TenantFileError(error.messages) from None
        tenant = self._lock_tenant()  # a reward of the same name, and the last position, stay as read
        window = window_problem(item, tenant.timezone)
        if window:
            raise TenantFileError({"valid_until": [window]})
        taken = ctx.session.scalar(select(Reward.id).where(Reward.tenant_id == tenant.id, Reward.name == item["name"]))
        if taken is not None:
            raise TenantFileError({"name": [f"there is already a reward named {item['name']!r}"]})
        last = ctx.session.scalar(select(func.max(Reward.position)).where(Reward.tenant_id == tenant.id))
        reward = Reward(tenant_id=tenant.id, name=item["name"], stock_used=0,
                        **reward_values(tenant, item, 0 if last is None else last + 1))
        ctx.session.add(reward)
        ctx.session.flush()
        audit.record(
            ctx.session, tenant.id, "reward.created", actor_type=actor.type, actor_id=actor.id,
            entity_type="reward", entity_id=reward.id, before=None, after=item,
        )
        return reward

    def _lock_tenant(self) -> Tenant:
        """The vendor's row, locked and read again: changes to its settings, and rewards added,
        go one at a time, each on what the one before left (loading its tenant file locks it too)."""
        ctx = self.ctx
        return ctx.session.get(Tenant, ctx.tenant.id, with_for_update=ROW_LOCK, populate_existing=True)

    def set_stock(self, reward_id: uuid.UUID, stock: int | None) -> Reward | None:
        """The total offered (None: unlimited), never below the units already redeemed. None if
        the vendor has no such reward; raises TenantFileError, changing nothing, if refused."""
        return self.update_reward(reward_id, {"stock": stock}, action="reward.stock_changed")

    def update_reward(self, reward_id: uuid.UUID, changes: dict, action: str = "reward.updated") -> Reward | None:
        """Change some of a reward's REWARD_FIELDS, each validated as in the tenant file; the
        stock never below the units already redeemed. None if the vendor has no such reward;
        raises TenantFileError naming each bad field, changing nothing."""
        ctx, actor = self.ctx, self.ctx.actor
        refused = {name: ["cannot be changed here"] for name in changes if name not in REWARD_FIELDS}
        if refused:
            raise TenantFileError(refused)
        try:
            valid = RewardSchema(partial=True).load(changes)
        except ValidationError as error:
            raise TenantFileError(error.messages) from None
        reward = ctx.session.get(Reward, (ctx.tenant.id, reward_id), with_for_update=True, populate_existing=True)
        if reward is None:
            return None
        problem = stock_problem(ctx.session, reward, valid["stock"]) if "stock" in valid else None
        if problem:
            raise TenantFileError({"stock": [problem]})
        before = {name: getattr(reward, REWARD_FIELDS[name]) for name in valid}
        changed = sorted(name for name in valid if before[name] != valid[name])
        for name in changed:
            setattr(reward, REWARD_FIELDS[name], valid[name])
        if changed:
            audit.record(
                ctx.session, ctx.tenant.id, action, actor_type=actor.type, actor_id=actor.id, entity_type="reward",
                entity_id=reward.id, before={name: before[name] for name in changed}, after={name: valid[name] for name in changed},
            )
        return reward
