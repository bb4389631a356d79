from __future__ import annotations

from bot import runtime
from bot.services.context import Context
from bot.services.rewards import RewardService, due_redemptions
from models import Tenant


def expire_redemptions() -> int:
    """Expire the pending redemptions past their validity, each in its own short transaction;
    the customers' notices go out after each commit. Returns how many expired."""
    rt = runtime.current()
    total = 0
    while True:
        with rt.db.sessions() as session:
            due = due_redemptions(session, rt.clock())
        if not due:
            return total
        for tenant_id, redemption_id in due:
            with rt.db.transaction() as session:
                ctx = Context.at(session, session.get(Tenant, tenant_id), rt.clock())
                total += RewardService(ctx).expire(redemption_id)
            rt.deliver(ctx.outbox)
