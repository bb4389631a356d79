"""RQ jobs of broadcasts (bot/services/broadcasts.py): the runner that feeds one broadcast to the
delivery engine, and the scheduled job that starts broadcasts whose time has come and gives a
runner to any sending broadcast without a live one (its runner finished a turn, or died)."""
from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta

from bot import runtime
from bot.services import broadcasts
from bot.services.broadcasts import FEED_CHUNK
from models import Broadcast

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5  # between turns that found nothing to do
IDLE_SECONDS = 1.0  # with nothing to do for this long, a runner hands the broadcast to a fresh job
TURN_SECONDS = 600  # and at the latest after this long (its job_timeout in runtime.JOB_OPTIONS allows for it)


class Allowance:
    """How many recipients a broadcast's own messages_per_second lets the runner hand over now
    (the sender's pace is the delivery engine's business); unlimited without one."""

    def __init__(self, per_second: int | None):
        self.per_second = per_second
        self.credit = float(per_second or 0)
        self.at = time.monotonic()

    def now(self) -> int:
        if not self.per_second:
            return FEED_CHUNK
        moment = time.monotonic()
        self.credit = min(self.credit + (moment - self.at) * self.per_second, float(self.per_second))
        self.at = moment
        return int(self.credit)

    def spend(self, count: int) -> None:
        self.credit -= count

    def wait(self) -> bool:
        """With none allowed now, sleep until one is; returns whether it slept."""
        if not self.per_second or self.now() >= 1:
            return False
        time.sleep((1 - self.credit) / self.per_second)
        return True


def run_broadcast(tenant_id: str, broadcast_id: str, token: str | None = None) -> str:
    """Feed the broadcast to the delivery engine, turn after turn, while it is sending and this
    job holds its lease (`token`: a job continuing an earlier one's); returns why it stopped. A
    second runner finds the lease taken and stops at once; a runner that dies loses its lease,
    and the scheduled job starts another."""
    rt = runtime.current()
    key = (uuid.UUID(tenant_id), uuid.UUID(broadcast_id))
    lease = timedelta(seconds=rt.config.outbox_lease_seconds)
    with rt.db.transaction() as session:
        if token is None:
            token = str(uuid.uuid4())
            broadcast = broadcasts.take_runner(session, key, uuid.UUID(token), rt.clock(), lease)
        else:
            broadcast = session.get(Broadcast, key)
        if broadcast is None:
            return "taken"
        allowance = Allowance(broadcast.messages_per_second)
    started = active = time.monotonic()
    while time.monotonic() - started < TURN_SECONDS:
        with rt.db.transaction() as session:
            step = broadcasts.step(session, key, uuid.UUID(token), rt.clock(), lease, allowance.now())
        allowance.spend(step.fed)
        rt.deliver(step.outbox)
        if step.over:
            log.info("broadcast %s: %s", broadcast_id, step.over)
            return step.over
        if step.fed or step.outbox:
            active = time.monotonic()
        elif allowance.wait():
            continue  # the broadcast's own pace held it back, not the workers: its next turn is due
        elif time.monotonic() - active > IDLE_SECONDS and rt.queue.is_async:
            break  # the pushes in flight wait for workers: this one's turn ends, behind them in the queue
        else:
            time.sleep(POLL_SECONDS)
    rt.run_broadcast(tenant_id, broadcast_id, token)
    return "continued"


def advance_broadcasts() -> dict[str, int]:
    """The scheduled job (every minute): start the scheduled broadcasts whose time has come
    (each start is a compare-and-set: a launch at the same moment does not start it twice), and
    give a runner to every sending broadcast without a live one."""
    rt = runtime.current()
    with rt.db.sessions() as session:
        due = [(broadcast.tenant_id, broadcast.id) for broadcast in broadcasts.due(session, rt.clock())]
    started = 0
    for key in due:
        with rt.db.transaction() as session:
            moved = broadcasts.start(session, session.get(Broadcast, key), rt.clock())
        started += moved.moved
        rt.start_runners([moved])
    with rt.db.sessions() as session:
        unattended = broadcasts.unattended(session, rt.clock())
    for broadcast in unattended:
        rt.run_broadcast(broadcast.tenant_id, broadcast.id)
    return {"started": started, "runners": len(unattended)}
