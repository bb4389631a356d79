"""The housekeeping job: what is kept past its use is deleted, hourly."""
from __future__ import annotations

from bot import runtime
from bot.services.housekeeping import purge_batch


def purge_expired() -> int:
    """Delete what is kept past its use (bot/services/housekeeping.py), a batch of each table
    per short transaction, until none is left. Returns how many rows went."""
    rt = runtime.current()
    total = 0
    while True:
        with rt.db.transaction() as session:
            purged = purge_batch(session, rt.clock())
        if not purged:
            return total
        total += purged
