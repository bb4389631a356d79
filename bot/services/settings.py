"""The vendor's configuration changed from its back office rather than its tenant file: through
the tenant file's own validation, each change audited with what it was before.

Reloading the tenant file makes the file the truth again: export before editing the file."""
from __future__ import annotations

import uuid

from marshmallow import ValidationError

from bot.services import audit
from bot.services.context import Context
from bot.services.tenants import RewardSchema, TenantFileError, stock_problem
from models import Reward

# A reward's fields the back office may change, and their columns. The name stays: the tenant
# file and the wheel's items find the reward by it.
REWARD_FIELDS = {
    "points": "points_required", "description": "description", "stock": "stock",
    "max_per_customer": "max_per_customer", "active": "is_active",
}


class SettingsService:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def update_reward(self, reward_id: uuid.UUID, changes: dict) -> Reward | None:
        """Change some of a reward's REWARD_FIELDS, each validated as in the tenant file; the
        stock (the total offered, None: unlimited) never below the units already redeemed.
        None if the vendor has no such reward; raises TenantFileError naming each bad field,
        changing nothing."""
        ctx, staff = self.ctx, self.ctx.staff
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
        if changed:
            for name in changed:
                setattr(reward, REWARD_FIELDS[name], valid[name])
            audit.record(
                ctx.session, ctx.tenant.id, "reward.updated", actor_type="vendor_user", actor_id=staff.id,
                entity_type="reward", entity_id=reward.id, reward=reward.name,
                before={name: before[name] for name in changed}, after={name: valid[name] for name in changed},
            )
        return reward
