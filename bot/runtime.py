"""The process's shared resources: database, Redis, job queue, outbound sender and pacer.

One way in: the web app builds them at start (`init_app`) and keeps them as its extension. A job
(workers/) asks `current()`: run inline (without Redis) that is the runtime that ran it; inside
the app (a CLI command, the in-process schedule) the app's; in an RQ worker process, one built
from the environment.
Jobs are enqueued by name, so nothing here imports them."""
from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Callable

import fakeredis
from flask import Flask, current_app, has_app_context
from redis import Redis
from rq import Queue, Retry

from bot.config import Config
from bot.db import Database
from bot.outbound import MessageKey
from bot.pacing import Pacer
from bot.senders import ConsoleSender, TwilioSender
from models.base import utcnow

log = logging.getLogger(__name__)

SEND_JOB = "workers.outbound.send_batch"
# Twilio pushing back (429) or unreachable: the batch is tried again after 10 s, 1 min and 5 min.
# Past that its messages wait `queued` for `outbox reconcile` to queue them again.
SEND_RETRY = Retry(max=3, interval=[10, 60, 300])
SEND_BATCH = 500  # messages per job: one claim and a few writes for many sends
SEND_JOB_TIMEOUT = 3600  # a paced batch may take minutes; its lease is renewed as it goes
BROADCAST_JOB = "workers.broadcasts.run_broadcast"
BROADCAST_JOB_TIMEOUT = 900  # a runner's turn lasts 10 minutes at most (workers/broadcasts.py), then its wind-down


@dataclass
class Runtime:
    config: Config
    db: Database
    redis: Redis
    queue: Queue
    sender: ConsoleSender | TwilioSender
    pacer: Pacer
    # What time it is for conversations, services and jobs: tests move it instead of editing rows.
    clock: Callable[[], datetime] = utcnow

    def deliver(self, keys: list[MessageKey]) -> None:
        """Hand committed outbound messages to the send job, in batches. A failure here leaves
        them `queued` in the database, where `outbox reconcile` queues them again."""
        for start in range(0, len(keys), SEND_BATCH):
            batch = [(str(tenant_id), str(message_id)) for tenant_id, message_id in keys[start:start + SEND_BATCH]]
            try:
                self.enqueue(SEND_JOB, batch, retry=SEND_RETRY, job_timeout=SEND_JOB_TIMEOUT)
            except Exception:
                log.exception("could not queue %d outbound message(s), first %s", len(batch), batch[0][1])

    def start_runners(self, moves) -> None:
        """After the commit of launches or resumes (bot.services.broadcasts.Moved): a runner for
        each broadcast that is sending."""
        for moved in moves:
            if moved.run:
                self.run_broadcast(moved.broadcast.tenant_id, moved.broadcast.id)

    def run_broadcast(self, tenant_id, broadcast_id, *token: str) -> None:
        """A runner that feeds the broadcast to the delivery engine (a turn: `token`, its claim)."""
        self.enqueue(BROADCAST_JOB, str(tenant_id), str(broadcast_id), *token, job_timeout=BROADCAST_JOB_TIMEOUT)

    def enqueue(self, job: str, *args, **options) -> None:
        """Hand a job to the queue; without Redis it runs here and now, with this runtime. With
        Redis, the job and its queue's registration go in one pipelined round trip, where RQ
        alone sends two (a purchase went to Redis three times, counting its rate limit)."""
        if self.queue.is_async:
            with self.redis.pipeline() as pipe:
                self.queue.enqueue(job, *args, pipeline=pipe, **options)
                pipe.execute()
            return
        token = _inline.set(self)
        try:
            self.queue.enqueue(job, *args, **options)
        finally:
            _inline.reset(token)


def build(config: Config, clock: Callable[[], datetime] = utcnow) -> Runtime:
    # The fake's server made here, not looked up by each new connection: threads connecting at
    # once could each make one of their own, and count apart.
    redis = Redis.from_url(config.redis_url) if config.redis_url else fakeredis.FakeRedis(server=fakeredis.FakeServer())
    # Without a real Redis there is no worker process: jobs run inline, at enqueue.
    queue = Queue("default", connection=redis, is_async=bool(config.redis_url))
    sender = ConsoleSender() if config.console_sender else TwilioSender(config)
    return Runtime(config, Database(config.database_url), redis, queue, sender, Pacer(redis), clock)


def init_app(app: Flask, config: Config, clock: Callable[[], datetime] = utcnow) -> Runtime:
    runtime = build(config, clock)
    app.extensions["runtime"] = runtime
    return runtime


_inline: ContextVar[Runtime | None] = ContextVar("inline_runtime", default=None)


def current() -> Runtime:
    """The runtime a job runs with: the one that ran it inline, else the app's inside the app,
    else the worker process's own."""
    if _inline.get() is not None:
        return _inline.get()
    if has_app_context():
        return current_app.extensions["runtime"]
    return _from_environment()


@cache
def _from_environment() -> Runtime:
    return build(Config.from_env())
