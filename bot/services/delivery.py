"""The delivery engine: every push (a notice, a reminder, a broadcast) reaches Twilio exactly
once, or ends with a reason.

An outbound row moves queued -> sending (claimed by a worker, with a lease) -> sent -> delivered
-> read, or ends failed / undelivered / skipped; it never moves back, except that a claim which
ends without Twilio taking the message releases the row to `queued`, and a row `reconcile`
settled with another message's SID goes back to `sending` to be looked up again. The worker
(workers/outbound.py) owns the transactions: it claims in one commit, sends, then records
Twilio's answers here; `reconcile` settles the claims whose worker died. Twilio's answers decide
what happens next in one table, ANSWERS, applied alike to the answer of a send and to a delivery
receipt."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from bot.db import ROW_LOCK
from bot.messages import MAX_MESSAGE_CHARS, message_length
from bot.quiet_hours import quiet_until
from bot.outbound import MARKETING, TRANSACTIONAL, MessageKey, insert_rows, template_for
from bot.services import audit
from models import Broadcast, Customer, Tenant, Message
from models.base import new_id

WINDOW = timedelta(hours=24)  # WhatsApp's customer service window after their last message
DEFER = timedelta(hours=4)  # Meta or the channel asked us to hold off
MAYBE_SENT_WAIT = timedelta(seconds=30)  # lets a receipt arrive before reconcile looks the message up
DEFAULT_MESSAGES_PER_SECOND = 10


class Action(Enum):
    SENT = "sent"  # Twilio took it: record its SID
    RETRY = "retry"  # it never reached Twilio, or Twilio pushed back: back to queued, RQ retries with backoff
    MAYBE_SENT = "maybe sent"  # no clear answer: reconcile looks it up at Twilio before any resend
    UNREACHABLE = "unreachable"  # failed; the number is marked unreachable; no retry
    OPTED_OUT = "opted out"  # failed; the customer is opted out (with the code): no more marketing
    TEMPLATE = "template"  # outside WhatsApp's window: resend as the key's template, else skipped
    DEFER = "defer"  # back to queued, not before DEFER from now
    ACCOUNT = "account"  # Twilio refused our account, not the message: back to queued, the batch stops
    FAILED = "failed"  # refused: failed, no retry


# Twilio's answers (an error code, or what happened to the request) and what each one means.
# README.md ("Delivery") shows this same table.
ANSWERS: dict[str, Action] = {
    "20429": Action.RETRY,  # too many requests
    "http_429": Action.RETRY,
    "connection_refused": Action.RETRY,  # nothing was sent
    "http_401": Action.ACCOUNT,  # wrong credentials
    "http_404": Action.ACCOUNT,  # no such account
    "http_5xx": Action.MAYBE_SENT,
    "timeout": Action.MAYBE_SENT,
    "no_response": Action.MAYBE_SENT,  # the connection dropped after the request went out
    "21211": Action.UNREACHABLE,  # invalid 'To' number
    "21614": Action.UNREACHABLE,  # not a mobile number
    "63024": Action.UNREACHABLE,  # invalid message recipient
    "30005": Action.UNREACHABLE,  # unknown destination handset (a receipt's)
    "30006": Action.UNREACHABLE,  # a landline, or a carrier that cannot take it (a receipt's)
    "21610": Action.OPTED_OUT,  # the recipient replied STOP to the sender
    "63014": Action.OPTED_OUT,  # the user blocked the business
    "131050": Action.OPTED_OUT,  # the user stopped marketing messages
    "63016": Action.TEMPLATE,  # free-form text outside the 24-hour window
    "63018": Action.DEFER,  # rate limit of the channel
    "131049": Action.DEFER,  # Meta held it back to keep engagement healthy
}


@dataclass(frozen=True)
class Answer:
    """What came back from one send: a SID, or an error code (see ANSWERS) and its text."""

    sid: str | None = None
    code: str | None = None
    text: str = ""


def decide(answer: Answer) -> Action:
    if answer.sid:
        return Action.SENT
    return ANSWERS.get(answer.code or "", Action.FAILED)


# Claiming and planning (the worker's first commit)


@dataclass(frozen=True)
class Send:
    """One message to hand to Twilio, as planned when it was claimed."""

    key: MessageKey
    attempts: int  # the claim's fence: a late write of an older claim changes nothing
    channel: str
    from_number: str
    to_number: str
    body: str
    media: list
    content_sid: str | None  # send this template instead of the body
    content_variables: dict | None
    template_sid: str | None  # the key's template, for a resend after 63016
    per_second: float
    created_at: datetime
    category: str = TRANSACTIONAL  # marketing stops when the customer opts out, even once claimed

    def as_template(self) -> "Send":
        return replace(self, content_sid=self.template_sid, template_sid=None)


@dataclass(frozen=True)
class Skip:
    key: MessageKey
    reason: str  # the error_code it is stored with
    text: str


_CLAIMED = (
    "tenant_id", "id", "customer_id", "attempts", "triggered_by", "category", "to_number", "body", "media",
    "content_sid", "content_variables", "template_sid", "created_at", "broadcast_id",
)


def claim(session: Session, keys: list[MessageKey], now: datetime, lease: timedelta) -> tuple[list[Send], list[Skip], datetime]:
    """Claim the keys still queued and due (queued -> sending, lease until now + lease), and plan
    each: its channel and numbers, free text or template, or a skip with its reason (recorded
    here). A broadcast's push inside its quiet hours goes back to queued until they end. Returns
    the sends, the skips and the lease."""
    lease_until = now + lease
    table = Message.__table__
    claimed = session.execute(
        update(table)
        .where(
            table.c.tenant_id.in_({tenant_id for tenant_id, _ in keys}),
            table.c.id.in_([message_id for _, message_id in keys]),
            table.c.direction == "outbound",
            table.c.status == "queued",
            or_(table.c.not_before.is_(None), table.c.not_before <= now),
        )
        .values(status="sending", attempts=table.c.attempts + 1, lease_until=lease_until, enqueued_at=None)
        .returning(*(table.c[column] for column in _CLAIMED))
    ).all()
    # Planned in the order they were queued (UPDATE ... RETURNING keeps none): when the weekly cap
    # leaves room for only some, the first queued go.
    claimed.sort(key=lambda row: (row.created_at, row.id))
    if not claimed:
        return [], [], lease_until
    tenants = {tenant_id: session.get(Tenant, tenant_id) for tenant_id in {row.tenant_id for row in claimed}}
    claimed = _outside_quiet_hours(session, claimed, tenants, now)
    if not claimed:
        return [], [], lease_until
    facts = _customer_facts(session, claimed, now)
    plans = _plans(claimed, tenants, facts, now)
    sends = [plan for plan in plans if isinstance(plan, Send)]
    skips = [plan for plan in plans if isinstance(plan, Skip)]
    store_plans(session, [send for send, row in zip(plans, claimed) if isinstance(send, Send) and _replanned(send, row, tenants)])
    _store_skips(session, skips)
    return sends, skips, lease_until


def _outside_quiet_hours(session: Session, claimed, tenants: dict, now: datetime) -> list:
    """The claimed rows but the pushes of broadcasts in their quiet hours now (a runner fed them
    just before these began), which go back to queued until the quiet hours end."""
    keys = {(row.tenant_id, row.broadcast_id) for row in claimed if row.broadcast_id}
    if not keys:
        return claimed
    until = {
        (tenant_id, broadcast_id): quiet_until(quiet_hours, ZoneInfo(tenants[tenant_id].timezone), now)
        for tenant_id, broadcast_id, quiet_hours in session.execute(
            select(Broadcast.tenant_id, Broadcast.id, Broadcast.quiet_hours)
            .where(Broadcast.tenant_id.in_({key[0] for key in keys}), Broadcast.id.in_({key[1] for key in keys})))
    }
    ends = {row.id: until.get((row.tenant_id, row.broadcast_id)) for row in claimed}
    held = [row for row in claimed if ends[row.id]]
    if held:
        session.execute(
            update(Message.__table__).where(*_KEY).values(status="queued", lease_until=None, not_before=bindparam("p_until")),
            [{**_key_params((row.tenant_id, row.id)), "p_until": ends[row.id]} for row in held],
        )
    return [row for row in claimed if not ends[row.id]]


@dataclass
class _Facts:
    opted_in: bool = True
    unreachable: bool = False
    last_channel: str | None = None  # of the latest inbound message
    last_whatsapp_at: datetime | None = None
    marketing_this_week: int = 0  # marketing pushes sent or being sent in the last 7 days


CAP_PERIOD = timedelta(days=7)  # of the vendor's `max_marketing_per_week`
DEFAULT_MAX_MARKETING_PER_WEEK = 2
REACHED = ("sent", "delivered", "read")  # Twilio took it
COUNTED = (*REACHED, "sending")  # against the cap: Twilio took it, or a worker claimed it to send


def max_marketing_per_week(tenant: Tenant) -> int:
    return tenant.settings.get("max_marketing_per_week", DEFAULT_MAX_MARKETING_PER_WEEK)


def marketing_counts(now: datetime, *where):
    """SQL: tenant_id, customer_id, pushes: each customer's marketing pushes of any kind that
    Twilio took, or a worker is sending, within the cap's period (the engine's cap at each
    claim, a broadcast's preview)."""
    return (
        select(Message.tenant_id, Message.customer_id, func.count().label("pushes"))
        .where(Message.category == MARKETING, Message.status.in_(COUNTED),
               Message.created_at > now - CAP_PERIOD, *where)
        .group_by(Message.tenant_id, Message.customer_id)
    )


def _customer_facts(session: Session, claimed, now: datetime) -> dict[tuple, _Facts]:
    """What planning needs about the claimed messages' customers, in two queries (four with
    marketing among them)."""
    tenant_ids = {row.tenant_id for row in claimed}
    customer_ids = {row.customer_id for row in claimed}
    marketing = [row for row in claimed if row.category == MARKETING]
    if marketing:
        _lock_customers_of(session, marketing)
    facts: dict[tuple, _Facts] = {}
    for tenant_id, customer_id, opted_in, unreachable in session.execute(
        select(Customer.tenant_id, Customer.id, Customer.opted_in, unreachable_now())
        .where(Customer.tenant_id.in_(tenant_ids), Customer.id.in_(customer_ids))
    ):
        facts[(tenant_id, customer_id)] = _Facts(opted_in, bool(unreachable))
    latest: dict[tuple, datetime] = {}
    for tenant_id, customer_id, channel, last_at in session.execute(
        select(Message.tenant_id, Message.customer_id, Message.channel, func.max(Message.created_at))
        .where(
            Message.tenant_id.in_(tenant_ids), Message.customer_id.in_(customer_ids),
            Message.direction == "inbound",
        )
        .group_by(Message.tenant_id, Message.customer_id, Message.channel)
    ):
        fact = facts.setdefault((tenant_id, customer_id), _Facts())
        if channel == "whatsapp":
            fact.last_whatsapp_at = last_at
        if (tenant_id, customer_id) not in latest or last_at > latest[(tenant_id, customer_id)]:
            latest[(tenant_id, customer_id)] = last_at
            fact.last_channel = channel
    if marketing:
        for tenant_id, customer_id, sent in session.execute(marketing_counts(
            now, Message.tenant_id.in_(tenant_ids), Message.customer_id.in_(customer_ids),
            Message.id.not_in([row.id for row in marketing]),  # this batch counts as it is planned (_plans)
        )):
            facts.setdefault((tenant_id, customer_id), _Facts()).marketing_this_week = sent
    return facts


def _lock_customers_of(session: Session, rows) -> None:
    """The customers' rows, locked in id order (the global lock order) until the claim commits:
    another worker claiming their marketing at the same time waits here, then counts these
    pushes (`sending` by then) against the cap."""
    session.execute(
        select(Customer.id)
        .where(Customer.tenant_id.in_({row.tenant_id for row in rows}), Customer.id.in_({row.customer_id for row in rows}))
        .order_by(Customer.id)
        .with_for_update(**ROW_LOCK)
    )


def unreachable_now():
    """SQL: Twilio said the customer's number cannot get messages, and no message from it came
    since (one would prove it works again)."""
    return and_(Customer.unreachable_at.is_not(None),
                or_(Customer.last_inbound_at.is_(None), Customer.last_inbound_at < Customer.unreachable_at))


def _plans(claimed, tenants: dict, facts: dict[tuple, _Facts], now: datetime) -> list[Send | Skip]:
    """Each claimed row's plan, in order: a marketing send counts against its customer's cap for
    the rows after it (two offers to one customer in one batch are two)."""
    plans = []
    for row in claimed:
        fact = facts.setdefault((row.tenant_id, row.customer_id), _Facts())
        plan = _plan(row, tenants[row.tenant_id], fact, now)
        if isinstance(plan, Send) and plan.category == MARKETING:
            fact.marketing_this_week += 1
        plans.append(plan)
    return plans


def _plan(row, tenant: Tenant, facts: _Facts, now: datetime) -> Send | Skip:
    """What a push goes out as (`_planned`), unless its text is longer than Twilio takes in one
    message: then it is skipped, saying so, rather than refused by Twilio (21617). A template
    goes, whatever the text."""
    plan = _planned(row, tenant, facts, now)
    if isinstance(plan, Send) and plan.content_sid is None and message_length(plan.body) > MAX_MESSAGE_CHARS:
        return Skip(plan.key, "too_long", f"longer than the {MAX_MESSAGE_CHARS:,} characters of a message")
    return plan


def _planned(row, tenant: Tenant, facts: _Facts, now: datetime) -> Send | Skip:
    """The rules of a push: marketing only to who has not opted out, and no more a week than the
    vendor's `max_marketing_per_week`; nothing to a number known to be unreachable; the channel the
    customer last wrote on (SMS only if the vendor has an SMS number); on WhatsApp, free text
    inside the 24-hour window, else the key's template, else skip."""
    key = (row.tenant_id, row.id)
    if row.category == MARKETING and not facts.opted_in:
        return Skip(key, "opted_out", "marketing to a customer who opted out")
    cap = max_marketing_per_week(tenant)
    if row.category == MARKETING and facts.marketing_this_week >= cap:
        return Skip(key, "frequency_cap", f"the customer had {cap} marketing message(s) in the last 7 days")
    if facts.unreachable:
        return Skip(key, "unreachable", "Twilio said this number cannot get messages")
    template_sid = _template_sid(tenant, row)
    send = Send(
        key, row.attempts, "whatsapp", tenant.whatsapp_number, row.to_number, row.body, list(row.media or []),
        row.content_sid, row.content_variables, template_sid,
        float(tenant.settings.get("messages_per_second", DEFAULT_MESSAGES_PER_SECOND)), row.created_at, row.category,
    )
    sms_number = tenant.settings.get("sms_number")
    if facts.last_channel == "sms" and sms_number:
        return replace(send, channel="sms", from_number=sms_number, content_sid=None, template_sid=None)
    in_window = facts.last_whatsapp_at is not None and facts.last_whatsapp_at > now - WINDOW
    if send.content_sid or in_window:
        return send
    if template_sid:
        return send.as_template()
    return Skip(key, "no_template", f"outside WhatsApp's 24-hour window, and no template for {row.triggered_by}")


def _template_sid(tenant: Tenant, message) -> str | None:
    """The template a message goes out as outside the window: its own (a broadcast's), else the
    vendor's for its kind; only if its variables were rendered when it was queued."""
    if message.content_variables is None:
        return None
    template = template_for(tenant, message.triggered_by or "")
    return message.template_sid or (template["content_sid"] if template else None)


def _replanned(send: Send, row, tenants: dict) -> bool:
    return (send.channel, send.from_number, send.content_sid) != ("whatsapp", tenants[row.tenant_id].whatsapp_number, row.content_sid)


def store_plans(session: Session, sends: list[Send]) -> None:
    """What a send goes out as is stored before it goes, so that a lookup after a crash finds it."""
    if sends:
        session.execute(
            update(Message.__table__).where(*_KEY).values(
                channel=bindparam("p_channel"), from_number=bindparam("p_from"), content_sid=bindparam("p_content")),
            [{**_key_params(send.key), "p_channel": send.channel, "p_from": send.from_number, "p_content": send.content_sid}
             for send in sends],
        )


def _store_skips(session: Session, skips: list[Skip]) -> None:
    if skips:
        session.execute(
            update(Message.__table__).where(*_KEY).values(
                status="skipped", lease_until=None, error_code=bindparam("p_code"), error_message=bindparam("p_text")),
            [{**_key_params(skip.key), "p_code": skip.reason, "p_text": skip.text} for skip in skips],
        )


_KEY = (Message.__table__.c.tenant_id == bindparam("k_tenant"), Message.__table__.c.id == bindparam("k_id"))
_FENCE = (*_KEY, Message.__table__.c.status == "sending", Message.__table__.c.attempts == bindparam("k_attempts"))


def _key_params(key: MessageKey, attempts: int | None = None) -> dict:
    params = {"k_tenant": key[0], "k_id": key[1]}
    if attempts is not None:
        params["k_attempts"] = attempts
    return params


def renew(session: Session, sends: list[Send], lease_until: datetime, new_lease_until: datetime) -> set[MessageKey]:
    """Extend a claim still held (its lease unchanged); returns the keys still held."""
    table = Message.__table__
    held = session.execute(
        update(table)
        .where(
            table.c.tenant_id.in_({send.key[0] for send in sends}), table.c.id.in_([send.key[1] for send in sends]),
            table.c.status == "sending", table.c.lease_until == lease_until,
        )
        .values(lease_until=new_lease_until)
        .returning(table.c.tenant_id, table.c.id)
    ).all()
    return {tuple(row) for row in held}


def withdraw_opted_out(session: Session, sends: list[Send]) -> set[MessageKey]:
    """Marketing sends still held whose customer opted out since they were claimed (a STOP in
    the middle of a broadcast): skipped now, never sent. Returns their keys."""
    marketing = [send for send in sends if send.category == MARKETING]
    if not marketing:
        return set()
    table = Message.__table__
    opted_out = select(Customer.id).where(
        Customer.tenant_id == table.c.tenant_id, Customer.id == table.c.customer_id, Customer.opted_in.is_(False))
    withdrawn = session.execute(
        update(table)
        .where(
            table.c.tenant_id.in_({send.key[0] for send in marketing}), table.c.id.in_([send.key[1] for send in marketing]),
            table.c.status == "sending", opted_out.exists(),
        )
        .values(status="skipped", lease_until=None, error_code="opted_out", error_message="the customer opted out before it went")
        .returning(table.c.tenant_id, table.c.id)
    ).all()
    return {tuple(row) for row in withdrawn}


# Recording Twilio's answers (the worker's last commit)


def record(session: Session, results: list[tuple[Send, Answer | None]], now: datetime, lease: timedelta) -> dict[str, int]:
    """Apply the answer of each send by ANSWERS; None means it was not tried (released to
    queued). Writes only where the claim still holds. Returns how many ended how."""
    by_action: dict[Action | None, list[tuple[Send, Answer | None]]] = {}
    for send, answer in results:
        by_action.setdefault(decide(answer) if answer else None, []).append((send, answer))
    table = Message.__table__
    _take_back_guessed_sids(session, [(send.key, answer.sid) for send, answer in by_action.get(Action.SENT, [])], now)
    for action, items in by_action.items():
        error = {"error_code": bindparam("p_code"), "error_message": bindparam("p_text")}
        session.execute(
            update(table).where(*_FENCE).values(**_outcome(action, now, lease), **error),
            [{**_key_params(send.key, send.attempts), **_answer_params(answer)} for send, answer in items],
        )
    _mark_customers(session, [(send.key, action, answer.code) for action in (Action.UNREACHABLE, Action.OPTED_OUT)
                              for send, answer in by_action.get(action, [])], now)
    return {(action.value if action else "released"): len(items) for action, items in by_action.items()}


def _take_back_guessed_sids(session: Session, given: list[tuple[MessageKey, str]], now: datetime) -> None:
    """Twilio gave each of these messages its SID. Another row holding one of them got it from a
    reconcile lookup, which guesses and took the wrong one of two alike messages (nothing else
    stores a SID Twilio did not give that row): it gives the SID back and is looked up again
    (`sending`, its lease over), rather than the write of the right one failing on the unique
    SID and rolling back the answers written with it."""
    if given:
        table = Message.__table__
        session.execute(
            update(table)
            .where(
                table.c.tenant_id.in_({key[0] for key, _ in given}), table.c.message_sid.in_([sid for _, sid in given]),
                table.c.id.not_in([key[1] for key, _ in given]),  # a receipt may have stored a message's own SID first
            )
            .values(status="sending", message_sid=None, sent_at=None, answered_at=None, lease_until=now)
        )


def _outcome(action: Action | None, now: datetime, lease: timedelta) -> dict:
    """The columns each kind of answer sets on its row."""
    released = {"status": "queued", "lease_until": None, "enqueued_at": now}
    return {
        Action.SENT: {"status": "sent", "message_sid": bindparam("p_sid"), "sent_at": now, "answered_at": now, "lease_until": None},
        None: released,  # not tried
        Action.RETRY: released,
        Action.MAYBE_SENT: {"lease_until": now + min(MAYBE_SENT_WAIT, lease)},
        Action.DEFER: {"status": "queued", "lease_until": None, "not_before": now + DEFER},
        Action.ACCOUNT: released,  # reconcile hands it over again after a lease: it goes once the account is put right
        Action.TEMPLATE: {"status": "skipped", "lease_until": None, "answered_at": now},  # the template resend got 63016 too, or there is none
        Action.UNREACHABLE: {"status": "failed", "lease_until": None, "answered_at": now},
        Action.OPTED_OUT: {"status": "failed", "lease_until": None, "answered_at": now},
        Action.FAILED: {"status": "failed", "lease_until": None, "answered_at": now},
    }[action]


def _answer_params(answer: Answer | None) -> dict:
    if answer is None or answer.sid:
        return {"p_sid": answer.sid if answer else None, "p_code": None, "p_text": None}
    return {"p_sid": None, "p_code": (answer.code or "")[:20] or None, "p_text": answer.text[:255] or None}


def _mark_customers(session: Session, marks: list[tuple[MessageKey, Action, str | None]], now: datetime) -> None:
    """Mark the customers of these messages (`_mark_customer`), their rows locked first in id
    order, the global lock order, whatever order the answers came in: a claim holding some of
    them and waiting for another never waits for this transaction in a circle."""
    if not marks:
        return
    messages = session.execute(
        select(Message.tenant_id, Message.id, Message.customer_id)
        .where(Message.tenant_id.in_({key[0] for key, _, _ in marks}), Message.id.in_([key[1] for key, _, _ in marks]))
    ).all()
    _lock_customers_of(session, messages)
    customer_of = {(row.tenant_id, row.id): row.customer_id for row in messages}
    for key, action, code in marks:
        _mark_customer(session, key[0], customer_of[key], action, code, now)


def _mark_customer(
    session: Session, tenant_id: uuid.UUID, customer_id: uuid.UUID | None, action: Action, code: str | None, now: datetime,
) -> None:
    """Twilio said the number cannot get messages, or that the customer opted out."""
    where = (Customer.tenant_id == tenant_id, Customer.id == customer_id)
    if action is Action.UNREACHABLE:
        session.execute(update(Customer).where(*where).values(unreachable_at=now, unreachable_code=code))
        return
    opted = session.execute(
        update(Customer).where(*where, Customer.opted_in).values(opted_in=False, opted_out_at=now, opt_out_code=code)
    ).rowcount
    if opted:
        audit.record(session, tenant_id, "customer.opted_out", entity_type="customer", entity_id=customer_id, code=code)


def _by_key(key: MessageKey):
    return Message.tenant_id == key[0], Message.id == key[1]


# Delivery receipts (Twilio's status callbacks)

# Twilio's statuses in ours: anything Twilio holds has been sent as far as we are concerned.
_RECEIPT_STATUS = {
    "accepted": "sent", "scheduled": "sent", "queued": "sent", "sending": "sent", "sent": "sent",
    "delivered": "delivered", "read": "read", "failed": "failed", "undelivered": "undelivered", "canceled": "failed",
}
# Receipts can arrive in any order; a status never moves back down this ladder.
_PROGRESS = {"queued": 0, "sending": 1, "sent": 2, "delivered": 3, "read": 4}
FINAL = {"failed", "undelivered", "skipped"}


def record_receipt(
    session: Session, outbox: list[MessageKey], sid: str, status: str, error_code: str | None, now: datetime,
    key: MessageKey | None = None,
) -> bool:
    """Apply a status callback to its message, found by the id its URL carries (so a receipt
    that beats the worker's write of the SID still finds it), else by SID. A failure's code
    goes through ANSWERS: a resend as template or a deferred resend is a new queued row, in
    `outbox`. Returns whether the row changed."""
    where = _by_key(key) if key else (Message.message_sid == sid,)
    message = session.scalars(
        select(Message).where(*where, Message.direction == "outbound").with_for_update()
    ).one_or_none()
    new = _RECEIPT_STATUS.get(status)
    if message is None or new is None:
        return False
    learned_sid = message.message_sid is None
    if learned_sid:
        _take_back_guessed_sids(session, [((message.tenant_id, message.id), sid)], now)
        message.message_sid, message.sent_at, message.answered_at = sid, message.sent_at or now, message.answered_at or now
    if not _moves_forward(message.status, new):
        return learned_sid
    if message.status in ("queued", "sending"):  # it reached Twilio: no claim or resend is needed
        message.lease_until = message.enqueued_at = message.not_before = None
    if new in FINAL and error_code:
        new = _follow_failure(session, outbox, message, new, error_code[:20], now)
        message.error_code = error_code[:20]
    message.status = new
    return True


def _moves_forward(current: str, new: str) -> bool:
    if current in FINAL or current == new:
        return False
    if new in FINAL:
        return True
    return _PROGRESS.get(new, -1) > _PROGRESS.get(current, -1)


def _follow_failure(
    session: Session, outbox: list[MessageKey], message: Message, status: str, code: str, now: datetime,
) -> str:
    """What a failure receipt's code asks for; returns the status the row ends in."""
    action = ANSWERS.get(code, Action.FAILED)
    if action in (Action.UNREACHABLE, Action.OPTED_OUT):
        _mark_customer(session, message.tenant_id, message.customer_id, action, code, now)
    elif action is Action.TEMPLATE:
        template_sid = _template_sid(session.get(Tenant, message.tenant_id), message)
        if template_sid is None or message.content_sid:
            message.error_message = f"outside WhatsApp's 24-hour window, and no template for {message.triggered_by}"
            return "skipped"
        _resend(session, outbox, message, now, content_sid=template_sid)
    elif action is Action.DEFER:
        _resend(session, outbox, message, now, not_before=now + DEFER)
    return status


def _resend(session: Session, outbox: list[MessageKey], message: Message, now: datetime, *,
            content_sid: str | None = None, not_before: datetime | None = None) -> None:
    row = {
        column: getattr(message, column)
        for column in ("tenant_id", "customer_id", "direction", "channel", "from_number", "to_number", "body", "media",
                       "triggered_by", "category", "content_variables", "template_sid", "broadcast_id")
    }
    row.update(id=new_id(), status="queued", created_at=now, content_sid=content_sid, not_before=not_before,
               enqueued_at=None if not_before else now)
    insert_rows(session, outbox if not_before is None else [], [row])


# Reconciling claims whose worker died, and queued rows that never reached a worker


@dataclass(frozen=True)
class Lookup:
    """A claim whose lease ran out: was the message sent?"""

    key: MessageKey
    attempts: int
    message_sid: str | None  # a receipt already told us
    channel: str
    from_number: str
    to_number: str
    body: str
    content_sid: str | None
    created_at: datetime


def take_expired_claims(session: Session, now: datetime, lease: timedelta, limit: int = 500) -> list[Lookup]:
    """`sending` rows whose lease ran out, each leased again to this reconciler so that another
    one running at the same time leaves it alone."""
    keys = session.execute(
        select(Message.tenant_id, Message.id)
        .where(Message.status == "sending", Message.lease_until < now)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not keys:
        return []
    table = Message.__table__
    rows = session.execute(
        update(table)
        .where(table.c.tenant_id.in_({k.tenant_id for k in keys}), table.c.id.in_([k.id for k in keys]),
               table.c.status == "sending", table.c.lease_until < now)
        .values(lease_until=now + lease)
        .returning(table.c.tenant_id, table.c.id, table.c.attempts, table.c.message_sid, table.c.channel,
                   table.c.from_number, table.c.to_number, table.c.body, table.c.content_sid, table.c.created_at)
    ).all()
    return [Lookup((row.tenant_id, row.id), *row[2:]) for row in sorted(rows, key=lambda row: row.created_at)]


def unsettled_texts(session: Session, lookup: Lookup) -> set[str]:
    """The texts of our other free-text messages to the same number that Twilio may hold without
    our knowing their SID yet (sending, no SID): a template's lookup, which cannot tell a
    template's text from another's, must not take one of them for its own."""
    return set(session.scalars(select(Message.body).where(
        Message.tenant_id == lookup.key[0], Message.direction == "outbound", Message.to_number == lookup.to_number,
        Message.status == "sending", Message.message_sid.is_(None), Message.content_sid.is_(None),
        Message.id != lookup.key[1],
    )))


def taken_sids(session: Session, tenant_id, sids: list[str]) -> set[str]:
    """Which of these Twilio SIDs are already recorded for a message: a lookup must not take one
    of them for the message it looks for (found by the unique index on the SID, not by scanning
    the messages to a number)."""
    if not sids:
        return set()
    return set(session.scalars(select(Message.message_sid).where(Message.tenant_id == tenant_id, Message.message_sid.in_(sids))))


def settle(session: Session, lookup: Lookup, sid: str | None, now: datetime) -> bool:
    """Found at Twilio: sent, with its SID. Not found: queued again (True: hand it to a worker)."""
    table = Message.__table__
    if sid:
        session.execute(update(table).where(*_FENCE).values(status="sent", message_sid=sid, sent_at=now, answered_at=now, lease_until=None),
                        _key_params(lookup.key, lookup.attempts))
        return False
    return session.execute(
        update(table).where(*_FENCE).values(status="queued", lease_until=None, enqueued_at=now),
        _key_params(lookup.key, lookup.attempts),
    ).rowcount == 1


def requeue_waiting(session: Session, now: datetime, lease: timedelta) -> list[MessageKey]:
    """Queued rows that are due and were handed to the job queue longer than a lease ago (or
    never: deferred, or the queue was down): marked handed over now, to hand again."""
    table = Message.__table__
    rows = session.execute(
        update(table)
        .where(
            table.c.status == "queued", table.c.direction == "outbound",
            or_(table.c.not_before.is_(None), table.c.not_before <= now),
            or_(table.c.enqueued_at.is_(None), table.c.enqueued_at < now - lease),
        )
        .values(enqueued_at=now)
        .returning(table.c.tenant_id, table.c.id)
    ).all()
    return [tuple(row) for row in rows]

