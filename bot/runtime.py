"""The process's shared resources: database, Redis, job queue, outbound sender and pacer.

One way in: the web app builds them at start (`init_app`) and keeps them as its extension. A job
(workers/) asks `current()`: run inline (without Redis) that is the runtime that ran it; inside
the app (a CLI command, the in-process schedule) the app's; in an RQ worker process, one built
from the environment.
Jobs are enqueued by name, so nothing here imports them."""
from __future__ import annotations

import logging
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Callable

import fakeredis
from flask import Flask, current_app, has_app_context
from redis import Redis
from rq import Queue, Retry
from rq.utils import now as rq_now, utcformat

from bot.config import Config
from bot.db import Database
from bot.outbound import MessageKey
from bot.pacing import Pacer
from bot.redis_line import InOrder, post, run_in_order
from bot.senders import ConsoleSender, TwilioSender
from models.base import utcnow

log = logging.getLogger(__name__)

SEND_JOB = "workers.outbound.send_batch"
SEND_BATCH = 500  # messages per job: one claim and a few writes for many sends
BROADCAST_JOB = "workers.broadcasts.run_broadcast"
JOB_OPTIONS = {  # a job not named here takes RQ's defaults
    # Twilio pushing back (429) or unreachable: the batch is tried again after 10 s, 1 min and
    # 5 min. Past that its messages wait `queued` for `outbox reconcile` to queue them again. A
    # paced batch may take minutes; its lease is renewed as it goes.
    SEND_JOB: {"retry": Retry(max=3, interval=[10, 60, 300]), "job_timeout": 3600},
    # A runner's turn lasts 10 minutes at most (workers/broadcasts.py), then its wind-down.
    BROADCAST_JOB: {"job_timeout": 900},
}


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
    _templates: dict = field(default_factory=dict)  # by job name: how RQ enqueues it (_JobTemplate)

    def deliver(self, keys: list[MessageKey], wait: bool = True) -> None:
        """Hand committed outbound messages to the send job, in batches (`wait`: see enqueue). A
        failure here leaves them `queued` in the database, where `outbox reconcile` queues them
        again."""
        for start in range(0, len(keys), SEND_BATCH):
            batch = [(str(tenant_id), str(message_id)) for tenant_id, message_id in keys[start:start + SEND_BATCH]]
            try:
                self.enqueue(SEND_JOB, batch, wait=wait)
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
        self.enqueue(BROADCAST_JOB, str(tenant_id), str(broadcast_id), *token)

    def enqueue(self, job: str, *args, wait: bool = True) -> None:
        """Hand a job to the queue, with its options (JOB_OPTIONS); without Redis it runs here and
        now, with this runtime. With Redis, it is written as RQ writes it (_JobTemplate) and
        waited for, an error raised; or, not `wait`ing (a message's notices, whose reply costs a
        round trip), posted on this thread's line to Redis, an error only logged, later."""
        if self.queue.is_async:
            template = self._templates.get(job) or self._templates.setdefault(job, _JobTemplate(self.queue, job))
            script = template.script(args)
            if wait:
                run_in_order(self.redis, script)
            else:
                post(self.redis, script, f"queueing the job {job}")
            return
        token = _inline.set(self)
        try:
            self.queue.enqueue(job, *args, **JOB_OPTIONS.get(job, {}))
        finally:
            _inline.reset(token)


class _JobTemplate:
    """The Redis commands by which RQ enqueues a job of one name: learnt from RQ once, on a
    pipeline that only collects them, and filled in for each job with its id, its arguments
    (serialised as RQ keeps them) and the time; a test holds them equal to RQ's. RQ's own way
    builds and checks a Job object each time: with the pipeline sent and its replies read, it
    cost 937,000 instructions a job, more than half a BAL; this way, 176,000, its reply read,
    the commands packed once (InOrder) and only the job's own words at each job. The commands
    (the job, the queue's registration, its place in the queue) run in order as one, so the
    job is whole before it is in the queue. A job posted and lost with its connection is no
    loss: its messages wait `queued` for `outbox reconcile`."""

    _ID = "00000000-0000-4000-8000-000000000000"  # the learning job's id, replaced in each job
    _FILLED = frozenset({"data", "created_at", "enqueued_at"})  # fields whose values each job fills

    def __init__(self, queue: Queue, job: str):
        pipe = queue.connection.pipeline(transaction=False)
        # Described by its name: RQ would otherwise write the arguments out in the description.
        queue.enqueue(job, pipeline=pipe, job_id=self._ID, description=job, **JOB_OPTIONS.get(job, {}))
        commands = [command for command, _ in pipe.command_stack]
        self._in_order = InOrder(commands, queue.connection.get_encoder())
        self._holes = tuple(
            (self._in_order.place(number, at), command[at], field)
            for number, command in enumerate(commands) for at, field in self._holes_in(command)
        )
        self._job, self._serializer = job, queue.serializer

    def script(self, args: tuple) -> bytes:
        """The commands of a job of `args`, packed to run in order as one."""
        job_id = str(uuid.uuid4())
        filled = {
            # Not compressed: RQ reads uncompressed data as it is, and compressing a job's few
            # hundred bytes cost 140,000 instructions, the set-up of zlib's tables.
            "data": self._serializer.dumps((self._job, None, args, {})),
            "created_at": (moment := utcformat(rq_now())), "enqueued_at": moment,
        }
        return self._in_order.filled(
            {place: learnt.replace(self._ID, job_id) if field is None else filled[field] for place, learnt, field in self._holes}
        )

    def _holes_in(self, command: tuple) -> list[tuple]:
        """Where a job's own values go in a learnt command, found once: (at, None) for a word
        holding the learning job's id, (at, field) for the value of a field each job fills.
        Looking for them in every word of every job cost a purchase 0.7% of its instructions."""
        holes = [(at, None) for at, word in enumerate(command) if isinstance(word, str) and self._ID in word]
        if command[0] == "HSET":  # HSET key field value field value...
            holes += [(at + 1, command[at]) for at in range(2, len(command), 2) if command[at] in self._FILLED]
        return holes


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
