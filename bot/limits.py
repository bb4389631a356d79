"""Per-phone rate limits at each vendor, counted in Redis.

A limit allows so many messages (or redemptions, or wrong look-ups) from one phone at one vendor
in a fixed window of time. What is counted is MessageSids, in a Redis hash per phone, limit and
window that expires with the window: a replayed message is already in it, so it never counts
twice, and one round trip (a Lua script) both counts and reads the total.

The message that goes one past a limit gets one short notice; the ones after it get silence
until the window passes. Going past raises RateLimited, and the dispatcher rolls the message
back: nothing is written but the count. Windows follow the dispatcher's clock."""
from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, TypeVar

from redis import Redis
from redis.connection import Connection
from redis.exceptions import ConnectionError, NoScriptError, TimeoutError

from bot.locales import language_of
from bot.messages import Msg, say
from models import Tenant

T = TypeVar("T")


@dataclass(frozen=True)
class Limit:
    seconds: int  # the window
    default: int  # what a window allows when the tenant file's `rate_limits` does not say
    notice: str  # the catalog key of the one notice


MINUTE, HOUR = 60, 3600
MESSAGES, STAFF_MESSAGES = "messages_per_minute", "staff_messages_per_minute"
REDEMPTIONS, WRONG_LOOKUPS = "redemptions_per_hour", "wrong_lookups_per_hour"
LIMITS = {
    MESSAGES: Limit(MINUTE, 20, "limit_messages"),
    STAFF_MESSAGES: Limit(MINUTE, 60, "limit_messages"),
    REDEMPTIONS: Limit(HOUR, 3, "limit_redemptions"),
    WRONG_LOOKUPS: Limit(HOUR, 10, "limit_wrong_lookups"),  # phones and codes staff typed that match nothing
}


class RateLimited(Exception):
    """The phone went past a limit: answer `notice` (the first time in the window) or nothing.
    The notice goes in the customer's language, else `language` (the vendor's), which `staff`
    phones read."""

    def __init__(self, notice: Msg | None, tenant_id, phone: str, language: str, staff: bool):
        super().__init__(notice.key if notice else "silence")
        self.notice, self.tenant_id, self.phone, self.language, self.staff = notice, tenant_id, phone, language, staff


class PhoneLimits:
    """The limits of one phone at one vendor, as one inbound message meets them."""

    def __init__(self, redis: Redis, tenant: Tenant, phone: str, sid: str, now: datetime, staff: bool):
        self.redis, self.phone, self.sid, self.staff = redis, phone, sid, staff
        self.tenant_id, self.language = tenant.id, language_of(tenant)
        self._set_by_vendor = tenant.settings.get("rate_limits", {})
        self.moment = int(now.timestamp())

    def count(self, name: str) -> None:
        """Count this message towards the limit `name`; past it, raise RateLimited."""
        added, total = _count(self.redis, self._key(name), self.sid, LIMITS[name].seconds)
        allowed = self._allowed(name)
        if total > allowed:
            first_past = added and total == allowed + 1
            self._refuse(say(LIMITS[name].notice) if first_past else None)

    def look_up(self, find: Callable[[], T | None]) -> T | None:
        """A look-up staff asked for: a miss counts towards the wrong look-ups limit, and past it
        every look-up gets silence, found or not, so that guessing learns nothing."""
        if _ask(self.redis, "HLEN", self._key(WRONG_LOOKUPS)) > self._allowed(WRONG_LOOKUPS):
            self._refuse(None)
        found = find()
        if found is None:
            self.count(WRONG_LOOKUPS)
        return found

    def _allowed(self, name: str) -> int:
        return self._set_by_vendor.get(name, LIMITS[name].default)

    def _key(self, name: str) -> str:
        window = self.moment // LIMITS[name].seconds
        return f"limit:{self.tenant_id}:{self.phone}:{name}:{window}"

    def _refuse(self, notice: Msg | None):
        raise RateLimited(notice, self.tenant_id, self.phone, self.language, self.staff)


# Adds the MessageSid to the window's hash (once), totals it and keeps the hash for the window:
# one atomic step and one reply, where a MULTI pipeline of the three costs five replies and more
# of the client's CPU (a BAL in process: 1.11 ms of CPU with the pipeline, 1.06 with the script).
_COUNT = """
local added = redis.call('HSETNX', KEYS[1], ARGV[1], 1)
local total = redis.call('HLEN', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return {added, total}
"""
_COUNT_SHA = hashlib.sha1(_COUNT.encode()).hexdigest()


def _count(redis: Redis, key: str, sid: str, seconds: int) -> tuple[int, int]:
    """Whether the MessageSid was new to the window, and the window's total."""
    return _ask(redis, "EVALSHA", _COUNT_SHA, 1, key, sid, seconds, script=_COUNT)


def _ask(redis: Redis, *command, script: str | None = None):
    """Send `command` on this thread's own connection to `redis`'s server and read its reply.
    Every message counts, and a staff look-up first reads its window's misses; the client's way
    (taking a pooled connection and giving it back, its retry and metrics around the command)
    cost as much CPU as the round trip itself: a twentieth of a BAL's instructions. An EVALSHA
    of `script` loads it when the server lacks it (after a restart); a broken connection is
    replaced once, as the client's retry would (counting the same MessageSid twice counts it
    once). A restart does both: the new connection finds no script."""
    connection = _own_connection(redis)
    reconnected = loaded = False
    while True:
        try:
            connection.send_command(*command)
            return connection.read_response()
        except NoScriptError:
            if script is None or loaded:
                raise
            redis.script_load(script)
            loaded = True
        except (ConnectionError, TimeoutError):
            if reconnected:
                raise
            connection.disconnect()  # the next command connects again
            reconnected = True


def _own_connection(redis: Redis) -> Connection:
    """This thread's connection to `redis`'s server, of its pool's class and settings but
    outside it (never waited for, nor counted against its maximum), closed when the thread
    ends. One client at a time: a thread that meets another (tests make many) closes the one
    it had. A forked child makes its own."""
    own = getattr(_threads, "own", None)
    if own is None or own[0] is not redis or own[1].pid != os.getpid():
        if own is not None:
            own[1].disconnect()
        pool = redis.connection_pool
        own = _threads.own = (redis, pool.connection_class(**pool.connection_kwargs))
    return own[1]


_threads = threading.local()


class Unlimited:
    """For work that no inbound message started (jobs, commands): nothing is limited."""

    def count(self, name: str) -> None:
        pass

    def look_up(self, find: Callable[[], T | None]) -> T | None:
        return find()


UNLIMITED = Unlimited()
