from __future__ import annotations

from sqlalchemy import select

from bot import runtime
from bot.db import ROW_LOCK
from bot.services.points import expire_lots
from models import Customer, PointsTransaction


def expire_points(batch: int = 500) -> int:
    """Expire what is left of every lot past its expiry, one customer per short transaction
    (their row locked, as for any of their messages). Returns the points expired."""
    rt = runtime.current()
    total = 0
    while True:
        with rt.db.sessions() as session:
            due = session.execute(
                select(PointsTransaction.tenant_id, PointsTransaction.customer_id)
                .where(PointsTransaction.remaining > 0, PointsTransaction.expires_at <= rt.clock())
                .distinct()
                .limit(batch)
            ).all()
        if not due:
            return total
        for tenant_id, customer_id in due:
            with rt.db.transaction() as session:
                customer = session.get(Customer, (tenant_id, customer_id), with_for_update=ROW_LOCK)
                total += expire_lots(session, customer, rt.clock())
