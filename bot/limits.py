"""Per-phone rate limits at each vendor, counted in Redis.

A limit allows so many messages (or redemptions, or wrong look-ups) from one phone at one vendor
in a fixed window of time. What is counted is MessageSids, in a Redis hash per phone, limit and
window that expires with the window: a replayed message is already in it, so it never counts
twice, and one round trip (a Lua script) both counts and reads the total.

Messages are counted at the number they were written to rather than at the vendor, which only
the dispatcher's first query finds: the count goes to Redis before that query and its reply is
read after it (MessageCount), so that the two round trips overlap. A vendor with its own number
sees no difference; a phone writing to vendors that share a number counts there once, each
vendor holding it to its own limit. Staff and customers count in one window, each held to theirs.
A message that names a customer (LOG 0803 123 4567 15000) also reads there the look-ups its
sender missed at the vendor the process last read on that number, which its look-up takes if
that is the vendor it is for and the message did not wait for its staff row meanwhile: a
look-up costs no round trip of its own then.

The first message past a limit gets one short notice, the vendor marking in Redis that it gave
it (a round trip that only messages past a limit make: a window shared with others, or a
message run again after a database restart, cannot tell by its count alone); the ones after it
get silence until the window passes. Going past raises RateLimited, and the dispatcher rolls the
message back: nothing is written but the count. Windows follow the dispatcher's clock."""
from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, TypeVar

from redis import Redis
from redis.exceptions import ConnectionError, NoScriptError, TimeoutError

from bot.locales import language_of
from bot.messages import Inbound, Msg, say
from bot.redis_line import ask, line_to
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
    STAFF_MESSAGES: Limit(MINUTE, 60, "limit_messages"),  # held in the messages' window: keep it theirs
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
        self._missed: int | None = None  # the look-ups missed, as read with the message's count

    def admit(self, message: MessageCount, missed_as_read: bool) -> None:
        """Let the message in, or past the phone's messages limit (staff's, for staff) raise
        RateLimited. `missed_as_read`: whether the look-ups missed that the count read too (if
        it did, at this vendor) still hold for the message's look-up; else it asks."""
        self._hold_to(STAFF_MESSAGES if self.staff else MESSAGES, message.total())
        if missed_as_read:
            self._missed = message.missed.get(self._key(WRONG_LOOKUPS))

    def count(self, name: str) -> None:
        """Count this message towards the limit `name`; past it, raise RateLimited."""
        self._hold_to(name, _count(self.redis, self._key(name), self.sid, LIMITS[name].seconds))

    def _hold_to(self, name: str, total: int) -> None:
        if total > self._allowed(name):
            self._refuse(say(LIMITS[name].notice) if self._first_notice(name) else None)

    def _first_notice(self, name: str) -> bool:
        """Whether this is the window's first notice of the limit `name` here (marked if so)."""
        return ask(self.redis, "SET", f"{self._key(name)}:notified", 1, "NX", "EX", LIMITS[name].seconds) is not None

    def look_up(self, find: Callable[[], T | None]) -> T | None:
        """A look-up staff asked for: a miss counts towards the wrong look-ups limit, and past it
        every look-up gets silence, found or not, so that guessing learns nothing."""
        missed, self._missed = self._missed, None  # read with the message's count, if it was: once
        if missed is None:
            missed = ask(self.redis, "HLEN", self._key(WRONG_LOOKUPS))
        if missed > self._allowed(WRONG_LOOKUPS):
            self._refuse(None)
        found = find()
        if found is None:
            self.count(WRONG_LOOKUPS)
        return found

    def _allowed(self, name: str) -> int:
        return self._set_by_vendor.get(name, LIMITS[name].default)

    def _key(self, name: str) -> str:
        return _window_key(self.tenant_id, self.phone, name, self.moment)

    def _refuse(self, notice: Msg | None):
        raise RateLimited(notice, self.tenant_id, self.phone, self.language, self.staff)


class MessageCount:
    """An inbound message's count towards its phone's messages limit at the number it was
    written to, sent when made and read by `total()`: the dispatcher makes it before its first
    query and reads it after, the two round trips overlapping (the one to Redis, waited for on
    its own, cost a BAL under load about a twentieth of its throughput)."""

    def __init__(self, redis: Redis, inbound: Inbound, now: datetime, looked_up_at: uuid.UUID | None = None):
        """`looked_up_at`: the vendor whose missed look-ups to read too (the message names a customer)."""
        moment = int(now.timestamp())
        keys = [_window_key(inbound.to, inbound.phone, MESSAGES, moment)]
        if looked_up_at is not None:
            keys.append(_window_key(looked_up_at, inbound.phone, WRONG_LOOKUPS, moment))
        self.redis, self.keys = redis, keys
        self.command = ("EVALSHA", _COUNT_SHA, len(keys), *keys, inbound.sid, LIMITS[MESSAGES].seconds)
        self.missed: dict[str, int] = {}  # a window of missed look-ups: its count, once read
        self.line = line_to(redis)
        try:
            self.line.send(self.command, "the count of a message that failed")
            self.turn = self.line.turn
        except (ConnectionError, TimeoutError):
            self.turn = None  # asked for again by total()

    def total(self) -> int:
        """The window's total, this message's MessageSid in it; read once. A reply lost (the
        server restarted, or dropped the connection) is asked for again, and so is one another
        command on the line read before it: counting a MessageSid twice counts it once. The
        look-ups missed, if asked for too, go in `missed`."""
        reply = self._reply()
        if len(self.keys) == 1:
            return reply
        total, self.missed[self.keys[1]] = reply
        return total

    def _reply(self):
        if self.turn == self.line.turn:
            try:
                return self.line.read()
            except NoScriptError:
                pass  # a restarted server: asked for again, the script loaded
            except (ConnectionError, TimeoutError):
                self.line.drop()
        return ask(self.redis, *self.command, script=_COUNT)


def _window_key(scope, phone: str, name: str, moment: int) -> str:
    """The window of the limit `name` at `moment` (seconds) for `phone` at `scope` (the vendor's
    id; for messages, the number written to)."""
    return f"limit:{scope}:{phone}:{name}:{moment // LIMITS[name].seconds}"


# Adds the MessageSid to the window's hash (once), totals it and keeps the hash for the window:
# one atomic step and one reply, where a MULTI pipeline of the three costs five replies and more
# of the client's CPU (a BAL in process: 1.11 ms of CPU with the pipeline, 1.06 with the script).
# Given a second window, it answers its total too, in a pair with the first's.
_COUNT = """
redis.call('HSETNX', KEYS[1], ARGV[1], 1)
redis.call('EXPIRE', KEYS[1], ARGV[2])
local total = redis.call('HLEN', KEYS[1])
if #KEYS == 1 then
  return total
end
return {total, redis.call('HLEN', KEYS[2])}
"""
_COUNT_SHA = hashlib.sha1(_COUNT.encode()).hexdigest()


def _count(redis: Redis, key: str, sid: str, seconds: int) -> int:
    """The window's total, the MessageSid in it."""
    return ask(redis, "EVALSHA", _COUNT_SHA, 1, key, sid, seconds, script=_COUNT)


class Unlimited:
    """For work that no inbound message started (jobs, commands): nothing is limited."""

    def count(self, name: str) -> None:
        pass

    def look_up(self, find: Callable[[], T | None]) -> T | None:
        return find()


UNLIMITED = Unlimited()
