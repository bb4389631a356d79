from __future__ import annotations

from bot import runtime
from bot.services.rewards import due_redemptions, expire_redemption


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
            outbox: list = []
            with rt.db.transaction() as session:
                total += expire_redemption(session, outbox, tenant_id, redemption_id, rt.clock())
            rt.deliver(outbox)
