"""The housekeeping job: what is kept past its use is deleted, hourly."""
from __future__ import annotations

from bot import runtime
from bot.services.housekeeping import purge


def purge_expired() -> int:
    """Delete what is kept past its use (bot/services/housekeeping.py). Returns how many rows went."""
    rt = runtime.current()
    with rt.db.transaction() as session:
        return purge(session, rt.clock())
