"""Quiet hours: the part of the vendor's day, on its own clocks, in which a broadcast sends nothing."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo


def quiet_until(quiet_hours: list | None, zone: ZoneInfo, now: datetime) -> datetime | None:
    """The end of the quiet hours `now` falls in (in UTC), or None outside them. ["21:00",
    "08:00"] runs over midnight; ["13:00", "14:00"] does not. A time stored with an offset
    ("2100Z", "21+01", which validation took before it refused them) is read on the vendor's
    clocks, the offset left out, as the vendor who wrote it most likely meant."""
    if not quiet_hours:
        return None
    start, end = (time.fromisoformat(value).replace(tzinfo=None) for value in quiet_hours)
    local = now.astimezone(zone)
    moment = local.time()
    inside = start <= moment < end if start < end else (moment >= start or moment < end)
    if not inside:
        return None
    day = local.date() if moment < end else local.date() + timedelta(days=1)
    return _next_reading(datetime.combine(day, end, tzinfo=zone), now)


def _next_reading(wall: datetime, now: datetime) -> datetime:
    """The first moment after `now` (in UTC) at which the vendor's clocks read `wall`. The night
    they go back they read it twice, and `now` may be past the first; a time they skip going
    forward is read as zoneinfo reads it (01:30, when 01:00 jumps to 02:00, is 02:30), so quiet
    hours ending then end late, never early."""
    readings = {wall.replace(fold=fold).astimezone(timezone.utc) for fold in (0, 1)}
    shown = sorted(moment for moment in readings if moment > now and moment.astimezone(wall.tzinfo).time() == wall.time())
    return shown[0] if shown else wall.astimezone(timezone.utc)
