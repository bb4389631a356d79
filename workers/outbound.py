"""RQ jobs of the delivery engine (bot/services/delivery.py): send a batch of outbound messages,
and reconcile the claims of workers that died. Each job takes ids, opens its own sessions and
owns its transactions: a claim is committed before anything is sent."""
from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from datetime import timedelta

from bot import runtime
from bot.outbound import MARKETING
from bot.runtime import Runtime
from bot.services import delivery
from bot.services.delivery import Action, Answer, Send

log = logging.getLogger(__name__)

RECORD_EVERY = 100  # answers written per transaction while a batch goes out
OPT_OUTS_EVERY = 1.0  # seconds: how soon a STOP stops the marketing a worker has already claimed


class PushedBack(Exception):
    """Twilio pushed back or could not be reached: RQ runs the batch again later (its Retry)."""


def send_batch(keys: list[tuple[str, str]]) -> dict[str, int]:
    """Send a batch: claim what is still queued (one commit), send each at its sender's pace,
    and record Twilio's answers as they come (every RECORD_EVERY, and at the end, even after an
    error). The first push-back stops the batch: the rest are released for RQ's retry. So does
    Twilio refusing our account (credentials, account SID), logged as an error: every message
    stays queued, and reconcile hands them over again until the account is put right."""
    rt = runtime.current()
    lease = timedelta(seconds=rt.config.outbox_lease_seconds)
    with rt.db.transaction() as session:
        sends, skips, lease_until = delivery.claim(session, [_parse(key) for key in keys], rt.clock(), lease)
    tally: Counter = Counter(skipped=len(skips))
    results: list[tuple[Send, Answer | None]] = []
    stopped_by: Answer | None = None  # a push-back, or our account refused: the rest are not tried
    lost: set = set()  # claims taken over while this job was stalled, or withdrawn: not to send
    opt_outs_checked = time.monotonic()
    try:
        for position, send in enumerate(sends):
            if send.key in lost:
                continue
            if stopped_by:
                results.append((send, None))
                continue
            rt.pacer.wait_turn(send.from_number, send.per_second)
            if lease_until - rt.clock() < lease / 2:  # keep the lease well ahead of any send
                # What was answered is written first: its claim ends with this lease, and a
                # reconcile after that would look for it at Twilio (a refusal is not there) and
                # send it again.
                _record(rt, results, lease, tally)
                lease_until, lost = _renew(rt, sends[position:], lease_until, lease)
            if send.category == MARKETING and time.monotonic() - opt_outs_checked >= OPT_OUTS_EVERY:
                withdrawn = _withdraw_opted_out(rt, sends[position:])
                lost |= withdrawn
                tally["skipped"] += len(withdrawn)
                opt_outs_checked = time.monotonic()
            if send.key in lost:
                continue
            answer = _send(rt, send)
            results.append((send, answer))
            if delivery.decide(answer) in (Action.RETRY, Action.ACCOUNT):
                stopped_by = answer
            if len(results) >= RECORD_EVERY:
                _record(rt, results, lease, tally)
    finally:
        _record(rt, results, lease, tally)
    log.info("sent batch of %d message(s) (first %s): %s", len(keys), keys[0][1] if keys else "-", dict(tally))
    if stopped_by and delivery.decide(stopped_by) is Action.ACCOUNT:
        log.error("Twilio refused our account (%s): check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN; "
                  "%d message(s) stay queued until then", stopped_by.text, tally["account"] + tally["released"])
    elif stopped_by:
        raise PushedBack(f"Twilio pushed back: {dict(tally)}")
    return dict(tally)


def _parse(key) -> delivery.MessageKey:
    tenant_id, message_id = key
    return uuid.UUID(tenant_id), uuid.UUID(message_id)


def _send(rt: Runtime, send: Send) -> Answer:
    answer = rt.sender.send(send)
    if delivery.decide(answer) is Action.TEMPLATE and send.template_sid and not send.content_sid:
        # Twilio saw the window closed: the same message as its template, stored before it goes.
        send = send.as_template()
        with rt.db.transaction() as session:
            delivery.store_plans(session, [send])
        answer = rt.sender.send(send)
    return answer


def _renew(rt: Runtime, sends: list[Send], lease_until, lease: timedelta):
    new_lease_until = rt.clock() + lease
    with rt.db.transaction() as session:
        held = delivery.renew(session, sends, lease_until, new_lease_until)
    return new_lease_until, {send.key for send in sends} - held


def _withdraw_opted_out(rt: Runtime, sends: list[Send]) -> set:
    with rt.db.transaction() as session:
        return delivery.withdraw_opted_out(session, sends)


def _record(rt: Runtime, results: list, lease: timedelta, tally: Counter) -> None:
    if results:
        with rt.db.transaction() as session:
            tally.update(delivery.record(session, results, rt.clock(), lease))
        results.clear()


def reconcile() -> dict[str, int]:
    """Settle every claim whose lease ran out: a receipt already gave its SID, or it is found at
    Twilio -> sent with its SID; not found -> queued again. Then hand again to the job queue the
    queued rows that never reached a worker (the queue was down, a job was lost, a deferral is
    due). Safe to run twice at once: each claim is taken by one run."""
    rt = runtime.current()
    lease = timedelta(seconds=rt.config.outbox_lease_seconds)
    started = rt.clock()
    tally: Counter = Counter()
    again = []
    while True:
        with rt.db.transaction() as session:
            lookups = delivery.take_expired_claims(session, started, lease)
        if not lookups:
            break
        for lookup in lookups:
            sid = lookup.message_sid or _look_up(rt, lookup)
            if sid is False:
                tally["unknown"] += 1  # Twilio could not be asked: its lease runs out again, the next run retries
                continue
            with rt.db.transaction() as session:
                if delivery.settle(session, lookup, sid, rt.clock()):
                    again.append(lookup.key)
            tally["found" if sid else "queued again"] += 1
    with rt.db.transaction() as session:
        waiting = delivery.requeue_waiting(session, rt.clock(), lease)
    tally["waiting queued again"] = len(waiting)
    rt.deliver(again + waiting)
    return dict(tally)


def _look_up(rt: Runtime, lookup: delivery.Lookup):
    """The SID Twilio has for this message, None if it has none, False if it could not say."""
    def taken(sids: list[str]) -> set[str]:
        with rt.db.sessions() as session:
            return delivery.taken_sids(session, lookup.key[0], sids)

    def others() -> set[str]:
        with rt.db.sessions() as session:
            return delivery.unsettled_texts(session, lookup)

    try:
        return rt.sender.find(lookup, taken, others)
    except Exception:
        log.exception("could not look up message %s at Twilio", lookup.key[1])
        return False
