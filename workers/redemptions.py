from __future__ import annotations

from bot import runtime
from bot.services.rewards import expire_due
from models.base import utcnow


def expire_redemptions() -> int:
    """Expire the pending redemptions past their validity, in batches, each its own transaction;
    the customers' notices go out after each commit. Returns how many expired."""
    rt = runtime.current()
    total = 0
    while True:
        outbox: list = []
        with rt.db.transaction() as session:
            expired = expire_due(session, outbox, utcnow())
        rt.deliver(outbox)
        total += expired
        if expired == 0:
            return total
