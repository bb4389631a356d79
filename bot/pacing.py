"""Pacing: sends from one sender number never exceed its rate, across every worker process.

Each send reserves the next free slot of its sender in Redis (a generic cell rate algorithm: the
key holds the time the next slot opens, on Redis's clock, so every worker shares one timeline)
and waits until it comes. The reservation is one optimistic transaction (WATCH/MULTI), which
also runs on the in-process fake Redis."""
from __future__ import annotations

import time

from redis import Redis, WatchError


class Pacer:
    def __init__(self, redis: Redis, sleep=time.sleep):
        self.redis = redis
        self.sleep = sleep

    def wait_turn(self, sender: str, per_second: float) -> float:
        """Block until `sender` may send again at `per_second`; 0 or less means unpaced.
        Returns the seconds waited."""
        if per_second <= 0:
            return 0.0
        delay = self._reserve(f"pace:{sender}", 1.0 / per_second)
        if delay > 0:
            self.sleep(delay)
        return delay

    def _reserve(self, key: str, interval: float) -> float:
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    seconds, micros = pipe.time()
                    now = seconds + micros / 1e6
                    slot = max(float(pipe.get(key) or 0), now)
                    pipe.multi()
                    # Kept just past the slot it names: an idle sender leaves nothing behind.
                    pipe.set(key, repr(slot + interval), px=int((slot + interval - now) * 1000) + 1000)
                    pipe.execute()
                    return slot - now
                except WatchError:
                    continue  # another worker took a slot meanwhile: read again
