"""Broadcasts: a vendor's message to a segment of its members, sent as many pushes through the one
delivery engine (bot/services/delivery.py), so that each has the guarantees of any push: its
channel and the 24-hour window, templates, Twilio's answers, pacing, reconcile.

Lifecycle: draft -> scheduled -> sending -> completed, with paused (and back to sending) and
cancelled. Every move is a compare-and-set on the broadcast row (UPDATE ... WHERE status IN ...):
of two launches, or a launch and the scheduled job, or a pause and a runner, one acts.

Launching (or the scheduled time) freezes the audience into `broadcast_recipients` (one row per
customer: its primary key) in the transaction that moves the broadcast to sending. A runner job
(workers/broadcasts.py, holding a lease on the broadcast) then feeds the recipients to the
delivery engine, a chunk per transaction: the chunk's recipient rows are locked and marked with
their push in the transaction that queues it, so a recipient becomes at most one push however
many runners race, and the engine sends each push at most once, whatever crashes.

Pause and quiet hours hold the broadcast's queued pushes (the engine's `not_before`); cancel
skips them. Pushes a worker has already claimed still go (a batch at most); a STOP stops even
those (the worker checks opt-outs as it goes).

The use cases are `BroadcastService`'s, bound to a unit of work at one tenant (the vendor API,
the dashboard, the command line); the scheduled start and the runner's steps below take the
session and act as the system. None of them commits. A move whose result says `run` wants a
runner once committed: `runtime.start_runners([moved])`."""
from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import Uuid, bindparam, case, func, literal, or_, select, update
from sqlalchemy.orm import Session

from bot.db import insert_for
from bot.outbound import MARKETING, MessageKey, queue_texts
from bot.quiet_hours import quiet_until
from bot.services import audit, pages
from bot.services.audience import REPLY_HOURS, SUPPRESSIONS, Writer, audience, members, replied, within
from bot.services.broadcast_file import RETARGETS, REWARD_VARIABLES, Definition, DefinitionSchema, parse
from bot.services.context import Actor, Context
from bot.services.delivery import REACHED
from bot.services.pages import Page
from bot.services.rewards import catalog
from models import (
    Broadcast, BroadcastRecipient, Customer, Purchase, RewardRedemption, Tenant, Message,
)
from models.base import UTCDateTime, new_id

SAMPLES = 3
FEED_CHUNK = 500  # recipients made pushes per transaction
IN_FLIGHT = 5000  # the broadcast's pushes queued or being sent at once, at most (ten send batches)
FAILURE_WINDOW, FAILURE_LIMIT = 200, 50  # auto-pause: more than 25% of the last 200 sends failed
CONVERSION_HOURS = 7 * 24
# The not_before of a paused broadcast's queued pushes: until it is resumed.
HELD = datetime(9999, 12, 31, tzinfo=timezone.utc)
FAILED = ("failed", "undelivered")
ANSWERED = (*REACHED, *FAILED)
IN_PROGRESS = ("queued", "sending")
MOVABLE = {  # what each move starts from
    "scheduled": ("draft",),
    "sending": ("draft", "scheduled"),
    "paused": ("sending",),
    "resumed": ("paused",),
    "completed": ("sending",),
    "cancelled": ("draft", "scheduled", "sending", "paused"),
}


# Why a member was not sent a broadcast, in the vendor's words (preview's suppressed, stats' skipped).
REASONS = {
    "opted_out": "opted out", "frequency_cap": "had their week's offers",
    "outside_window": "outside WhatsApp's 24-hour window (no template)",
    "no_template": "outside WhatsApp's 24-hour window (no template)", "unreachable": "unreachable numbers",
    "cancelled": "cancelled", "too_long": "too long for one message once its variables were filled in",
}


class BroadcastError(ValueError):
    """What cannot be done, in the vendor's words."""


@dataclass(frozen=True)
class Moved:
    broadcast: Broadcast
    moved: bool  # False: it was already there (a second launch, a pause of a paused one)
    run: bool = False  # hand it to a runner once committed


def owner_of(session: Session, broadcast_id: uuid.UUID) -> Tenant:
    """The tenant of a broadcast known by its id alone (the command line)."""
    tenant_id = session.scalar(select(Broadcast.tenant_id).where(Broadcast.id == broadcast_id))
    if tenant_id is None:
        raise BroadcastError(f"No broadcast {broadcast_id}.")
    return session.get(Tenant, tenant_id)


def list_broadcasts(session: Session, tenant: Tenant | None = None) -> list[Broadcast]:
    query = select(Broadcast).order_by(Broadcast.created_at.desc())
    if tenant is not None:
        query = query.where(Broadcast.tenant_id == tenant.id)
    return list(session.scalars(query))


# Defining


@dataclass(frozen=True)
class Preview:
    matched: int
    suppressed: dict[str, int]
    recipients: int
    samples: list[dict]  # {"phone": ..., "text": ...}

    def as_json(self) -> dict:
        return {"matched": self.matched, "suppressed": self.suppressed, "recipients": self.recipients,
                "samples": self.samples}


def start(session: Session, broadcast: Broadcast, now: datetime, actor: Actor | None = None) -> Moved:
    """-> sending, and the audience frozen into broadcast_recipients in the same transaction."""
    if not _move(session, broadcast, "sending", now, actor, launched_at=now):
        return Moved(broadcast, False, run=broadcast.status == "sending")
    tenant = session.get(Tenant, broadcast.tenant_id)
    recipients = audience(tenant, Definition.of(broadcast), now).subquery()
    frozen = session.execute(
        insert_for(session)(BroadcastRecipient)
        .from_select(["tenant_id", "broadcast_id", "customer_id", "created_at"], select(
            literal(tenant.id, Uuid()), literal(broadcast.id, Uuid()), recipients.c.customer_id, literal(now, UTCDateTime()),
        ).where(recipients.c.reason.is_(None)))
        .on_conflict_do_nothing()
    ).rowcount
    broadcast.total_recipients = frozen
    return Moved(broadcast, True, run=True)


def due(session: Session, now: datetime) -> list[Broadcast]:
    """Scheduled broadcasts whose time has come (for the scheduled job)."""
    return list(session.scalars(select(Broadcast).where(Broadcast.status == "scheduled", Broadcast.send_at <= now)))


def _pause(session: Session, broadcast: Broadcast, now: datetime, reason: str, actor: Actor | None = None) -> bool:
    if not _move(session, broadcast, "paused", now, actor, pause_reason=reason[:255], runner=None, runner_until=None):
        return False
    _hold(session, broadcast, HELD)
    return True


def _move(session: Session, broadcast: Broadcast, move: str, now: datetime, actor: Actor | None = None, **values) -> bool:
    """The compare-and-set: the move happens only from the statuses it may start from. The
    object then shows the row as it is (moved by us, or by whoever was first)."""
    before, status = broadcast.status, "sending" if move == "resumed" else move
    moved = session.execute(
        update(Broadcast)
        .where(Broadcast.tenant_id == broadcast.tenant_id, Broadcast.id == broadcast.id,
               Broadcast.status.in_(MOVABLE[move]))
        .values(status=status, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    session.refresh(broadcast)
    if moved:
        details = {"reason": values["pause_reason"]} if values.get("pause_reason") else {}
        audit.record(session, broadcast.tenant_id, f"broadcast.{move}", entity_type="broadcast", entity_id=broadcast.id,
                     **_by(actor), before={"status": before}, after={"status": status}, **details)
    return moved


def _by(actor: Actor | None) -> dict:
    """Audit columns naming who acted (without one: the system)."""
    return {"actor_type": actor.type, "actor_id": actor.id} if actor else {}


def _pushes(broadcast: Broadcast) -> tuple:
    return Message.tenant_id == broadcast.tenant_id, Message.broadcast_id == broadcast.id


def _recipients(broadcast: Broadcast) -> tuple:
    return BroadcastRecipient.tenant_id == broadcast.tenant_id, BroadcastRecipient.broadcast_id == broadcast.id


def _waiting() -> tuple:
    """Recipients whose turn has not come: no push yet, not skipped."""
    return BroadcastRecipient.message_id.is_(None), BroadcastRecipient.skip_reason.is_(None)


def _hold(session: Session, broadcast: Broadcast, until: datetime) -> None:
    """Queued pushes wait until then (the delivery engine claims none before); the runner hands
    them to the workers again when they are due."""
    session.execute(
        update(Message)
        .where(*_pushes(broadcast), Message.status == "queued",
               or_(Message.not_before.is_(None), Message.not_before < until))
        .values(not_before=until, enqueued_at=None)
        .execution_options(synchronize_session=False)
    )


# The runner (workers/broadcasts.py): a lease on the broadcast, then one step per transaction


def take_runner(session: Session, key: tuple, token: uuid.UUID, now: datetime, lease: timedelta) -> Broadcast | None:
    """Become the broadcast's runner until now + lease, if it is sending and has no live one."""
    return session.scalars(
        update(Broadcast)
        .where(Broadcast.tenant_id == key[0], Broadcast.id == key[1], Broadcast.status == "sending",
               or_(Broadcast.runner_until.is_(None), Broadcast.runner_until < now))
        .values(runner=token, runner_until=now + lease)
        .returning(Broadcast)
        .execution_options(synchronize_session=False)
    ).one_or_none()


def release_runner(session: Session, key: tuple, token: uuid.UUID) -> None:
    session.execute(
        update(Broadcast).where(Broadcast.tenant_id == key[0], Broadcast.id == key[1], Broadcast.runner == token)
        .values(runner=None, runner_until=None).execution_options(synchronize_session=False)
    )


def unattended(session: Session, now: datetime) -> list[Broadcast]:
    """Sending broadcasts with no live runner (it finished a turn, waits, or died)."""
    return list(session.scalars(select(Broadcast).where(
        Broadcast.status == "sending", or_(Broadcast.runner_until.is_(None), Broadcast.runner_until < now))))


@dataclass
class Step:
    outbox: list[MessageKey] = field(default_factory=list)  # to hand to the delivery engine after commit
    fed: int = 0  # recipients whose turn came (made pushes, or skipped)
    over: str | None = None  # why the runner stops: completed, paused, cancelled, quiet, waiting, lost


def step(session: Session, key: tuple, token: uuid.UUID, now: datetime, lease: timedelta, allowance: int) -> Step:
    """One turn: renew the lease (which also locks the row, so no move interleaves), pause if
    too many sends failed, hold everything during quiet hours, hand over pushes that are due
    again, feed up to `allowance` recipients while the pushes in flight leave room, and complete
    when nothing is left."""
    broadcast = _renew(session, key, token, now, lease)
    if broadcast is None:
        current = session.get(Broadcast, key, populate_existing=True)
        return Step(over="lost" if current and current.status == "sending" else (current.status if current else "gone"))
    tenant = session.get(Tenant, broadcast.tenant_id)
    reason = _failure_reason(session, broadcast) or _missing_reward(session, tenant, broadcast, now)
    if reason:
        _pause(session, broadcast, now, reason)
        return Step(over="paused")
    quiet = quiet_until(broadcast.quiet_hours, ZoneInfo(tenant.timezone), now)
    if quiet:
        _hold(session, broadcast, quiet)
        release_runner(session, key, token)  # the scheduled job looks again
        return Step(over="quiet")
    result = Step(outbox=_due_again(session, broadcast, now))
    flight = _in_flight(session, broadcast, now)
    space = IN_FLIGHT - sum(flight.values())
    room = min(allowance, FEED_CHUNK, space)
    if room > 0:
        result.fed = _feed(session, tenant, broadcast, now, room, result.outbox)
    if result.fed or result.outbox or flight["due"] or flight["sending"]:
        return result
    waiting = _any_waiting(session, broadcast)
    if not waiting and not flight["deferred"]:
        _move(session, broadcast, "completed", now, completed_at=now, runner=None, runner_until=None)
        result.over = "completed"
    elif not waiting or space <= 0:
        # Only deferred pushes are left, or they fill the room: the scheduled job looks again.
        release_runner(session, key, token)
        result.over = "waiting"
    return result  # recipients wait for the allowance (the broadcast's own pace): the runner goes on


def _renew(session: Session, key: tuple, token: uuid.UUID, now: datetime, lease: timedelta) -> Broadcast | None:
    return session.scalars(
        update(Broadcast)
        .where(Broadcast.tenant_id == key[0], Broadcast.id == key[1], Broadcast.status == "sending",
               Broadcast.runner == token)
        .values(runner_until=now + lease)
        .returning(Broadcast)
        .execution_options(synchronize_session=False, populate_existing=True)
    ).one_or_none()


def _failure_reason(session: Session, broadcast: Broadcast) -> str | None:
    """Why to pause: more than FAILURE_LIMIT of the last FAILURE_WINDOW answered sends (since
    the launch or the last resume) failed; the reason names the commonest error codes. A push
    counts by when its answer came: one held during a pause and sent after the resume counts,
    though it was written before."""
    answered = session.execute(
        select(Message.status, Message.error_code)
        .where(*_pushes(broadcast), Message.status.in_(ANSWERED),
               Message.answered_at >= (broadcast.resumed_at or broadcast.launched_at))
        .order_by(Message.answered_at.desc())
        .limit(FAILURE_WINDOW)
    ).all()
    failed = Counter(code or "no code" for status, code in answered if status in FAILED)
    if sum(failed.values()) <= FAILURE_LIMIT:
        return None
    codes = ", ".join(f"{code} x{n}" for code, n in failed.most_common(3))
    return f"auto-paused: {sum(failed.values())} of the last {len(answered)} sends failed ({codes})"


def _missing_reward(session: Session, tenant: Tenant, broadcast: Broadcast, now: datetime) -> str | None:
    """Why to pause: the text's reward variables find no reward in the catalog now (it was
    checked when the broadcast was made, and may have emptied since): never a blank in a push."""
    if not Definition.of(broadcast).variables & REWARD_VARIABLES or catalog(session, tenant.id, now):
        return None
    return "paused: {nearest_reward} needs a reward in the catalog; add one, then resume"


def _due_again(session: Session, broadcast: Broadcast, now: datetime) -> list[MessageKey]:
    """Queued pushes that were held (paused, quiet hours) and are due now: handed over again."""
    table = Message.__table__
    rows = session.execute(
        update(table)
        .where(table.c.tenant_id == broadcast.tenant_id, table.c.broadcast_id == broadcast.id,
               table.c.status == "queued", table.c.enqueued_at.is_(None),
               or_(table.c.not_before.is_(None), table.c.not_before <= now))
        .values(enqueued_at=now, not_before=None)
        .returning(table.c.tenant_id, table.c.id)
    ).all()
    return [tuple(row) for row in rows]


def _in_flight(session: Session, broadcast: Broadcast, now: datetime) -> dict[str, int]:
    """The broadcast's pushes not answered yet: due, deferred (not before a later time), sending."""
    kind = case((Message.status == "sending", "sending"), (Message.not_before > now, "deferred"),
                else_="due")
    counts = dict(session.execute(
        select(kind, func.count()).where(*_pushes(broadcast), Message.status.in_(IN_PROGRESS)).group_by(kind)
    ).all())
    return {name: counts.get(name, 0) for name in ("due", "deferred", "sending")}


def _any_waiting(session: Session, broadcast: Broadcast) -> bool:
    return session.scalar(select(BroadcastRecipient.customer_id).where(*_recipients(broadcast), *_waiting()).limit(1)) is not None


def _feed(session: Session, tenant: Tenant, broadcast: Broadcast, now: datetime, limit: int,
          outbox: list[MessageKey]) -> int:
    """The next recipients become pushes: their rows locked (skipping rows another runner
    holds) and marked with their push in this transaction, so each becomes one at most. The
    delivery engine applies its rules again when each goes (an opt-out, the weekly cap reached
    since the launch, a window closed)."""
    chosen = session.scalars(
        select(BroadcastRecipient.customer_id).where(*_recipients(broadcast), *_waiting())
        .order_by(BroadcastRecipient.customer_id).limit(limit).with_for_update(skip_locked=True)
    ).all()
    if not chosen:
        return 0
    writer = Writer(session, tenant, Definition.of(broadcast), now)
    pushes = [writer.push(member) for member in members(session, tenant, chosen, now)]
    keys = queue_texts(
        session, outbox, tenant, pushes, triggered_by="broadcast", media_url=broadcast.media_url, category=MARKETING,
        now=now, broadcast_id=broadcast.id, template_sid=(broadcast.template or {}).get("content_sid"),
    )
    # Row by row on the primary key: a plan that stays fast when the statistics have not yet
    # seen the audience frozen a moment ago (a join here was planned as minutes of scans).
    session.execute(
        update(BroadcastRecipient.__table__)
        .where(*_recipients(broadcast), BroadcastRecipient.customer_id == bindparam("recipient"))
        .values(message_id=bindparam("push")),
        [{"recipient": member.id, "push": message_id} for (member, _, _), (_, message_id) in zip(pushes, keys)],
    )
    return len(chosen)


# Results


@dataclass(frozen=True)
class Stats:
    name: str
    status: str
    pause_reason: str | None
    targeted: int
    sent: int  # Twilio took it (delivered and read included)
    delivered: int  # read included
    read: int
    failed: int
    failed_by_code: dict[str, int]
    skipped: int
    skipped_by_reason: dict[str, int]
    queued: int  # not answered yet (recipients whose turn has not come included)
    replied: int  # within 72 hours of their push
    opted_out: int  # within 72 hours of their push
    conversions: dict[str, int]  # purchases, redemptions, revenue (minor units) within 7 days

    def as_json(self) -> dict:
        return {
            "status": self.status, "targeted": self.targeted, "sent": self.sent, "delivered": self.delivered,
            "read": self.read, "failed": self.failed, "failed_by_code": self.failed_by_code, "skipped": self.skipped,
            "skipped_by_reason": self.skipped_by_reason, "queued": self.queued, "replied": self.replied,
            "opted_out": self.opted_out, "conversions": self.conversions, "pause_reason": self.pause_reason,
        }


def _latest_pushes(session: Session, broadcast: Broadcast) -> list[tuple[str, str | None, int]]:
    rank = func.row_number().over(partition_by=Message.customer_id,
                                  order_by=(Message.created_at.desc(), Message.id.desc()))
    latest = select(Message.status, Message.error_code, rank.label("rank")).where(*_pushes(broadcast)).subquery()
    return session.execute(
        select(latest.c.status, latest.c.error_code, func.count()).where(latest.c.rank == 1)
        .group_by(latest.c.status, latest.c.error_code)
    ).all()


def _responses(session: Session, broadcast: Broadcast) -> tuple[int, int, dict[str, int]]:
    """Replies and opt-outs within 72 hours of each recipient's push; purchases (and their
    revenue) and redemptions within 7 days."""
    if broadcast.launched_at is None:
        return 0, 0, {"purchases": 0, "redemptions": 0, "revenue": 0}
    tenant_id, since = broadcast.tenant_id, broadcast.launched_at

    def after_push(customer_id, moment, hours: int):
        return within(tenant_id, broadcast.id, customer_id, moment, hours)

    repliers = replied(tenant_id, broadcast.id, since).subquery()
    replies = session.scalar(select(func.count(func.distinct(repliers.c.customer_id))))
    opted_out = session.scalar(select(func.count()).where(
        Customer.tenant_id == tenant_id, Customer.opted_out_at >= since,
        after_push(Customer.id, Customer.opted_out_at, REPLY_HOURS)))
    purchases, revenue = session.execute(select(func.count(), func.coalesce(func.sum(Purchase.amount), 0)).where(
        Purchase.tenant_id == tenant_id, Purchase.status == "completed", Purchase.created_at >= since,
        after_push(Purchase.customer_id, Purchase.created_at, CONVERSION_HOURS))).one()
    redemptions = session.scalar(select(func.count()).where(
        RewardRedemption.tenant_id == tenant_id, RewardRedemption.status != "cancelled", RewardRedemption.created_at >= since,
        after_push(RewardRedemption.customer_id, RewardRedemption.created_at, CONVERSION_HOURS)))
    return replies, opted_out, {"purchases": purchases, "redemptions": redemptions, "revenue": int(revenue)}


# The use cases at one tenant: its API key, its owner in the dashboard, or the command line


class BroadcastService:
    """The broadcasts of the tenant in `ctx`, audited as whoever acts there. A move that wants a
    runner is noted in `ctx.runners`, for the caller to hand over once committed."""

    # The statuses each move changes (from others it is refused, or changes nothing).
    CHANGES = {"launch": MOVABLE["scheduled"], "pause": MOVABLE["paused"], "resume": MOVABLE["resumed"],
               "cancel": MOVABLE["cancelled"]}

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def definition(self, raw) -> Definition:
        """A definition as the API and the dashboard send it (the tenant is theirs); raises
        BroadcastFileError naming every bad field."""
        return parse(self.ctx.session, raw, self.ctx.tenant, self.ctx.now, schema=DefinitionSchema)

    def get(self, broadcast_id: uuid.UUID) -> Broadcast:
        broadcast = self.find(broadcast_id)
        if broadcast is None:
            raise BroadcastError(f"{self.ctx.tenant.vendor_code} has no broadcast {broadcast_id}.")
        return broadcast

    def find(self, broadcast_id: uuid.UUID) -> Broadcast | None:
        """One of the tenant's broadcasts; another tenant's is as unknown as a wrong id."""
        return self.ctx.session.get(Broadcast, (self.ctx.tenant.id, broadcast_id))

    def listed(self, cursor: str | None, limit: int) -> Page[Broadcast]:
        """A page of the tenant's broadcasts, newest first."""
        return pages.page(
            self.ctx.session, select(Broadcast).where(Broadcast.tenant_id == self.ctx.tenant.id),
            pages.by_newest(Broadcast.created_at, Broadcast.id), cursor, limit,
            key_of=lambda row: (row.Broadcast.created_at, row.Broadcast.id), convert=lambda row: row.Broadcast,
        )

    def preview(self, definition: Definition) -> Preview:
        """Exactly who a launch now would reach: the members the segment matches, those suppressed
        by each reason, the recipients, and the message as three of them would get it."""
        session, tenant, now = self.ctx.session, self.ctx.tenant, self.ctx.now
        query = audience(tenant, definition, now).subquery()
        counts = dict(session.execute(select(query.c.reason, func.count()).group_by(query.c.reason)).all())
        sampled = session.scalars(
            select(query.c.customer_id).where(query.c.reason.is_(None)).order_by(query.c.customer_id).limit(SAMPLES)).all()
        writer = Writer(session, tenant, definition, now)
        samples = [{"phone": member.phone_number, "text": writer.body(member, writer.variables(member))}
                   for member in members(session, tenant, sampled, now)]
        return Preview(sum(counts.values()), {reason: counts.get(reason, 0) for reason in SUPPRESSIONS},
                       counts.get(None, 0), samples)

    def reach(self, broadcast: Broadcast) -> int:
        """How many a launch of this one now would reach."""
        return self.preview(Definition.of(broadcast)).recipients

    def create(self, definition: Definition) -> Broadcast:
        """A draft; nothing is sent until it is launched."""
        ctx = self.ctx
        broadcast = Broadcast(tenant_id=ctx.tenant.id, id=new_id(), status="draft", total_recipients=0,
                              created_at=ctx.now, updated_at=ctx.now, **definition.columns())
        ctx.session.add(broadcast)
        ctx.session.flush()
        audit.record(ctx.session, ctx.tenant.id, "broadcast.created", entity_type="broadcast", entity_id=broadcast.id,
                     **_by(ctx.actor), before=None, after={"name": broadcast.name, "status": broadcast.status})
        return broadcast

    def retarget(self, broadcast_id: uuid.UUID, retarget: str, definition: Definition) -> Broadcast:
        """A follow-up draft to the recipients of a broadcast who did not read it (`not_read`) or
        did not reply within 72 hours (`not_replied`), within the definition's own segment; who
        they are is settled when the follow-up is launched."""
        if retarget not in RETARGETS:
            raise BroadcastError(f"A follow-up is for {' or '.join(RETARGETS)}, not {retarget!r}.")
        earlier = self.get(broadcast_id)
        if earlier.launched_at is None:
            raise BroadcastError(f"Broadcast {earlier.name!r} has not been sent yet: nobody to follow up.")
        return self.create(replace(definition, retarget_of=earlier.id, retarget=retarget))

    def move(self, broadcast_id: uuid.UUID, move: str) -> Moved:
        """launch, pause, resume or cancel; raises BroadcastError when it cannot be done."""
        if move not in self.CHANGES:  # only the lifecycle's moves, never another method by its name
            raise ValueError(f"{move!r} is not a move of a broadcast")
        moved = getattr(self, move)(self.get(broadcast_id))
        if moved.run:
            self.ctx.runners.append(moved)
        return moved

    def moves(self, broadcast: Broadcast) -> list[str]:
        """The moves that would change it now (a page's buttons)."""
        return [move for move, starts in self.CHANGES.items() if broadcast.status in starts]

    def launch(self, broadcast: Broadcast) -> Moved:
        """Send it now, or at its send_at: draft -> scheduled, or -> sending with the audience
        frozen. Launching again changes nothing."""
        session, now, actor = self.ctx.session, self.ctx.now, self.ctx.actor
        if broadcast.status == "cancelled":
            raise BroadcastError(f"Broadcast {broadcast.name!r} was cancelled; create it again to send it.")
        not_yet = broadcast.send_at is not None and broadcast.send_at > now
        if broadcast.status == "draft" and not_yet:
            return Moved(broadcast, _move(session, broadcast, "scheduled", now, actor))
        if broadcast.status in ("draft", "scheduled") and not not_yet:
            return start(session, broadcast, now, actor)
        return Moved(broadcast, False, run=broadcast.status == "sending")

    def pause(self, broadcast: Broadcast, reason: str = "paused by the vendor") -> Moved:
        """sending -> paused: its queued pushes are held until it is resumed."""
        if broadcast.status == "paused":
            return Moved(broadcast, False)
        if not _pause(self.ctx.session, broadcast, self.ctx.now, reason, self.ctx.actor):
            raise BroadcastError(f"Broadcast {broadcast.name!r} is {broadcast.status}: only a sending one can be paused.")
        return Moved(broadcast, True)

    def resume(self, broadcast: Broadcast) -> Moved:
        """paused -> sending: its held pushes are let go and a runner goes on from where it was.
        Failures before the resume no longer count towards an auto-pause."""
        session, now = self.ctx.session, self.ctx.now
        if broadcast.status == "sending":
            return Moved(broadcast, False, run=True)
        if not _move(session, broadcast, "resumed", now, self.ctx.actor, pause_reason=None, resumed_at=now):
            raise BroadcastError(f"Broadcast {broadcast.name!r} is {broadcast.status}: only a paused one can be resumed.")
        session.execute(
            update(Message)
            .where(*_pushes(broadcast), Message.status == "queued", Message.not_before == HELD)
            .values(not_before=None)  # the runner hands them to the workers (outside quiet hours)
            .execution_options(synchronize_session=False)
        )
        return Moved(broadcast, True, run=True)

    def cancel(self, broadcast: Broadcast) -> Moved:
        """-> cancelled: queued pushes are skipped, recipients not reached yet get none."""
        session, now = self.ctx.session, self.ctx.now
        if broadcast.status == "cancelled":
            return Moved(broadcast, False)
        if not _move(session, broadcast, "cancelled", now, self.ctx.actor, cancelled_at=now, runner=None, runner_until=None):
            raise BroadcastError(f"Broadcast {broadcast.name!r} is already {broadcast.status}.")
        session.execute(
            update(Message).where(*_pushes(broadcast), Message.status == "queued")
            .values(status="skipped", error_code="cancelled", error_message="the broadcast was cancelled",
                    not_before=None, enqueued_at=None)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(BroadcastRecipient).where(*_recipients(broadcast), *_waiting())
            .values(skip_reason="cancelled").execution_options(synchronize_session=False)
        )
        return Moved(broadcast, True)

    def stats(self, broadcast_id: uuid.UUID) -> Stats:
        """Each recipient counts once, by its latest push (a resend as template replaces the first)
        or by why it has none: targeted = sent + failed + skipped + queued, always."""
        session, broadcast = self.ctx.session, self.get(broadcast_id)
        tally: Counter = Counter()
        failed_by_code: Counter = Counter()
        skipped_by_reason: Counter = Counter()
        for status, code, n in _latest_pushes(session, broadcast):
            if status in REACHED:
                tally.update({"sent": n, "delivered": n if status != "sent" else 0, "read": n if status == "read" else 0})
            elif status in FAILED:
                failed_by_code[code or "unknown"] += n
            elif status == "skipped":
                skipped_by_reason[code or "unknown"] += n
            else:
                tally["queued"] += n
        for reason, n in session.execute(
            select(BroadcastRecipient.skip_reason, func.count())
            .where(*_recipients(broadcast), BroadcastRecipient.message_id.is_(None)).group_by(BroadcastRecipient.skip_reason)
        ):
            if reason:
                skipped_by_reason[reason] += n
            else:
                tally["queued"] += n
        targeted = session.scalar(select(func.count()).where(*_recipients(broadcast)))
        return Stats(
            broadcast.name, broadcast.status, broadcast.pause_reason, targeted, tally["sent"], tally["delivered"],
            tally["read"], sum(failed_by_code.values()), dict(failed_by_code), sum(skipped_by_reason.values()),
            dict(skipped_by_reason), tally["queued"], *_responses(session, broadcast),
        )
