"""The process's shared resources: database, Redis, job queue and outbound sender.

The web app installs them at start; an RQ worker process builds them from the environment
the first time a job asks."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

import fakeredis
from redis import Redis
from rq import Queue, Retry

from bot.config import Config
from bot.db import Database
from bot.outbound import ConsoleSender, MessageKey, TwilioSender
from models.base import utcnow

log = logging.getLogger(__name__)

# Transient send failures are retried after 10 s, 1 min and 5 min.
SEND_RETRY = Retry(max=3, interval=[10, 60, 300])


@dataclass
class Runtime:
    config: Config
    db: Database
    redis: Redis
    queue: Queue
    sender: ConsoleSender | TwilioSender
    # What time it is for conversations, services and jobs: tests move it instead of editing rows.
    clock: Callable[[], datetime] = utcnow

    def deliver(self, keys: list[MessageKey]) -> None:
        """Hand committed outbound messages to the send job. A failure here leaves them
        `queued` in the database, where `flask --app wsgi outbox flush` picks them up."""
        from workers.outbound import send_message

        for tenant_id, message_id in keys:
            try:
                self.queue.enqueue(send_message, str(tenant_id), str(message_id), retry=SEND_RETRY)
            except Exception:
                log.exception("could not queue outbound message %s", message_id)


def build(config: Config, clock: Callable[[], datetime] = utcnow) -> Runtime:
    if config.redis_url:
        redis = Redis.from_url(config.redis_url)
    else:
        redis = fakeredis.FakeRedis()
    # Without a real Redis there is no worker process: jobs run inline, at enqueue.
    queue = Queue("default", connection=redis, is_async=bool(config.redis_url))
    sender = ConsoleSender() if config.console_sender else TwilioSender(config)
    return Runtime(config, Database(config.database_url), redis, queue, sender, clock)


_current: Runtime | None = None


def install(runtime: Runtime) -> Runtime:
    global _current
    _current = runtime
    return runtime


def current() -> Runtime:
    return _current if _current is not None else install(build(Config.from_env()))
