"""The dispatcher: one transaction per inbound message.

It answers a replayed MessageSid from the stored reply, finds the vendor the message is for,
holds it to the phone's rate limit there (counted in Redis meanwhile, bot/limits.py), locks
the customer row for the whole message, runs the engine on the saved conversation state, saves
the new state and the message with its reply, commits, and only then hands any outbound
messages to the sender, so that nothing is sent for work that was rolled back. Services may
write a row without looking for a clash first (bot/db.py's write_blind): a message whose run
did, and failed on a row written meanwhile (an IntegrityError), runs once more without
(Context.blind_writes off), the services looking first."""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Callable

from redis import Redis
from sqlalchemy import bindparam, exists, func, insert, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.catalog import render
from bot.db import (
    ROW_LOCK, Database, column_keys, connection_of, fetch_prepared, finish_prepared, loaded, model_columns, wrote_blind,
)
from bot.engine import Engine
from bot.limits import MessageCount, PhoneLimits, RateLimited
from bot.locales import DEFAULT_LANGUAGE, language_of
from bot.messages import Inbound, Msg, say
from bot.phones import typed_phone
from bot.services import Services
from bot.services.context import Context
from bot.services.customers import find_customer, keep_named_read, route_phone
from bot.services.points import balance_read, keep_balance_read, member_version
from bot.services.staff import NOT_STAFF, StaffSender, find_staff_locked, sender_from_json, staff_locked
from bot.vendor_cache import VendorCache, row_version
from bot.vendor_codes import addressed_code, join_code, without_code
from flows.base import State
from flows.consent import CONSENT_WORDS
from models import Customer, PhoneRoute, Tenant, Staff, Message
from models.base import new_id, utcnow

log = logging.getLogger(__name__)

REDACTED = "[redacted: may contain a PIN]"


@dataclass(frozen=True)
class Reply:
    body: str
    media_url: str | None = None

    def to_json(self) -> dict:
        return {"body": self.body, "media_url": self.media_url}

    @classmethod
    def from_json(cls, raw: dict) -> "Reply":
        return cls(raw["body"], raw.get("media_url"))


class Dispatcher:
    def __init__(
        self, db: Database, engine: Engine, deliver: Callable[[list], None], redis: Redis, pin_pepper: str,
        clock=utcnow, platform=None,
    ):
        self.db = db
        self.engine = engine
        self.deliver = deliver  # hands committed outbound message keys to the sender
        self.redis = redis  # counts the rate limits
        self.pin_pepper = pin_pepper  # for the services: it keys the staff PINs' fingerprints
        self.clock = clock
        self.vendors = VendorCache()  # the vendors' rows, which the first query names by version
        self.platform = platform  # the platform number's own conversation (bot/platform.py), if any

    def handle(self, inbound: Inbound) -> list[Reply]:
        reader = _Reader()
        try:
            return self.db.once_more_if_disconnected(lambda: self._handle(inbound, reader))
        except Exception:
            log.exception("inbound %s failed", inbound.sid)
            return [Reply(render(say("error"), reader.language))]

    def _handle(self, inbound: Inbound, reader: _Reader, blind_writes: bool = True) -> list[Reply]:
        # The transaction is the connection's, and the session joins it when a service first
        # needs it: the usual message then costs none of the session's own transaction and
        # commit, a tenth of its CPU. Its statements take the connection (connection_of). After
        # a rollback the session is closed before it reads again: what it held, and its part in
        # the transaction that ended, go with it. At the end, one that never joined the
        # transaction (a BAL's) is dropped, not closed: it owns no connection, each message
        # builds objects of its own (vendors' too), and the closing, SQLAlchemy detaching what
        # the message has already let go, cost a BAL 3% of its instructions. One that joined is
        # closed, which frees it at once (it and its transaction refer to each other).
        again = False
        with self.db.message_connection() as connection:
            session = self.db.sessions(bind=connection)
            try:
                with connection.begin():
                    replies, outbox = self._converse(session, inbound, reader, blind_writes)
                    session.flush()  # as the session's commit did: a path that records nothing may have changed rows
                if session.in_transaction():
                    session.close()
            except RateLimited as limited:
                session.close()
                return _limited(session, limited)
            except Exception as error:
                # A duplicate racing a first copy that committed while it waited for the lock
                # fails on the unique MessageSid, or on what the first one changed: it was all
                # rolled back, and it answers as the first one did.
                blind = wrote_blind(session)
                session.close()
                stored = _stored_reply(session, inbound.sid)
                if stored is not None:
                    return stored
                # A row written blind met one written meanwhile: nothing happened, and the
                # message runs once more, looking first.
                if not (blind and isinstance(error, IntegrityError)):
                    raise
                log.info("inbound %s met a row written meanwhile (%s): run once more, looking first", inbound.sid, error.orig)
                again = True
        if again:
            return self._handle(inbound, reader, blind_writes=False)
        if outbox:
            self.deliver(outbox)
        return replies

    def _converse(self, session: Session, inbound: Inbound, reader: _Reader, blind_writes: bool) -> tuple[list[Reply], list]:
        now = self.clock()
        for_staff = self.vendors.staff_on(inbound.to, inbound.phone)  # which form of the first query
        named_phone, looked_up_at = self._named(inbound) if for_staff else (None, None)
        # Read once the first query is back: their round trips overlap.
        counted = MessageCount(self.redis, inbound, now, looked_up_at)
        destination = _resolve_tenant(session, inbound, self.platform, now, self.vendors, named_phone, for_staff)
        if destination.stored_reply is not None:  # a retry of a message already answered
            return _replies(destination.stored_reply), []
        if destination.platform:  # for no vendor, on the platform's own number
            return self.platform.converse(session, inbound, now), []
        tenant = destination.tenant
        if destination.outsider_of is not None:  # STOP or START naming a vendor the sender does not belong to
            named = destination.outsider_of
            return [Reply(render(say("not_a_member", vendor=named.name, code=named.vendor_code), language_of(named)))], []
        if destination.elsewhere is not None:  # LOG MAMA written to another vendor's own number
            named = destination.elsewhere
            reply = say("command_elsewhere", vendor=named.name, number=named.whatsapp_number)
            return [Reply(render(reply, language_of(named)))], []
        if tenant is None:
            return [Reply(render(_no_vendor(destination), destination.language))], []
        reader.language = language_of(tenant)  # until the sender's own is known
        received, inbound = inbound, destination.as_read_by_flows(inbound)  # the log keeps what was received
        now = self.clock()
        limits = PhoneLimits(self.redis, tenant, inbound.phone, inbound.sid, now, staff=destination.is_staff)
        limits.admit(counted, missed_as_read=_unwaited(destination.staff))
        # Locks in one global order, so that no two messages wait on each other in a circle:
        # the sender's staff row first (a staff phone keeps its conversation there), then
        # customer rows, each when first needed and in id order when several are. So a staff
        # member who is also a customer does not hold their own customer row while logging a
        # purchase for a colleague who is logging one for them.
        sender = destination.staff or (find_staff_locked(session, tenant, inbound.phone) if destination.is_staff else NOT_STAFF)
        staff, customer = sender.staff, sender.customer
        if staff is None:
            customer = destination.member if destination.member_locked else find_customer(session, tenant, inbound.phone, lock=True)
        reader.language = _reply_language(tenant, customer, staff)
        ctx = Context(
            session=session, tenant=tenant, phone=inbound.phone, now=now, pin_pepper=self.pin_pepper, customer=customer,
            staff=staff, lockout=sender.lockout, site=inbound.site, limits=limits, customer_locked=staff is None,
            blind_writes=blind_writes,
        )
        services = Services(ctx)
        holder = staff or customer
        state = State.from_json(holder.conversation_state if holder else None)
        secret = self.engine.is_secret(state, inbound, services)
        state, messages = self.engine.handle(state, inbound, services, now)
        holder = staff or ctx.customer  # JOIN may have just created the customer
        if destination.addressed:
            # A command naming a vendor (LOG MAMA...) keeps the phone talking to it: the PIN that follows has no code.
            route_phone(session, inbound.phone, tenant)
        language = _reply_language(tenant, ctx.customer, staff)  # LANG may have just changed it
        replies = [Reply(render(message, language), message.media_url) for message in messages]
        kept = [Reply(render(say("secret_reply_not_kept"), language)) if m.secret else r for m, r in zip(messages, replies)]
        logged = _inbound_row(tenant, ctx.customer, replace(received, text=REDACTED) if secret else received, kept, now)
        _record(session, holder, state, inbound, logged, now)
        return replies, ctx.outbox

    def _named(self, inbound: Inbound) -> tuple[str | None, uuid.UUID | None]:
        """The customer's phone the command of a phone guessed to be staff names (LOG 0803 123 4567
        15000), and the vendor at which the look-ups the sender missed are to be read with the
        message's count.
        A guess, as the vendor is not known yet: the one this process last read on the number
        written to, in whose country the phone is read. The first query reads that member, for
        the flow's look-up of the phone, which then costs no query, and the count brings the
        misses; a look-up of another phone, or at another vendor, runs as it would, and so does
        one of a message that waited for its staff row (_unwaited)."""
        guess = self.vendors.last_on(inbound.to)
        named = None if guess is None else self.engine.named_phone(inbound, lambda text: typed_phone(text, guess[1]))
        return named, (guess[0] if named else None)


def _no_vendor(destination: Destination) -> Msg:
    """The answer to a message no vendor takes: the code after JOIN is no vendor's; staff of
    several vendors are asked to name theirs (LOG MAMA); anyone else, to JOIN one."""
    if destination.unknown_code:
        return say("unknown_code", code=destination.unknown_code)
    if destination.employers:
        lines = [say("staff_which_shop_line", code=shop.vendor_code, vendor=shop.name) for shop in destination.employers]
        return say("staff_which_shop", code=destination.employers[0].vendor_code, lines=lines)
    return say("need_code")


@dataclass
class _Reader:
    """The language the sender reads, as far as the message got before its handling failed
    (the vendor's, then the sender's own): the failure is answered in it, with no query more."""

    language: str = DEFAULT_LANGUAGE


def _shared_language(shops: tuple[Tenant, ...]) -> str:
    """The language of these vendors when they all have the same, which their staff read."""
    languages = {language_of(shop) for shop in shops}
    return languages.pop() if len(languages) == 1 else DEFAULT_LANGUAGE


def _reply_language(tenant: Tenant, customer: Customer | None, staff: Staff | None) -> str:
    """The language the sender chose with LANG, else their vendor's. A staff phone reads its
    vendor's language, whatever it asks (its conversation is the staff one, and the amounts it
    types are read the vendor's way); its choice as a member is for the vendor's pushes."""
    return language_of(tenant, customer.language if customer is not None and staff is None else None)


_CHOSEN_LANGUAGE = select(Customer.language).where(
    Customer.tenant_id == bindparam("tenant"), Customer.phone_number == bindparam("phone")
)


def _limited(session: Session, limited: RateLimited) -> list[Reply]:
    """The message went past a limit and was rolled back: nothing is written but the count. The
    first one past it gets the notice, in the customer's language (staff: the vendor's); the
    next ones, silence."""
    if limited.notice is None:
        return []
    chosen = None if limited.staff else session.scalar(_CHOSEN_LANGUAGE, {"tenant": limited.tenant_id, "phone": limited.phone})
    return [Reply(render(limited.notice, chosen or limited.language))]


_STORED_REPLY = (
    select(Message.reply)
    .where(Message.message_sid == bindparam("sid"), Message.direction == "inbound")
    .limit(1)
)


def _stored_reply(session: Session, sid: str) -> list[Reply] | None:
    reply = session.connection().scalar(_STORED_REPLY, {"sid": sid})
    return None if reply is None else _replies(reply)


def _replies(stored: list[dict]) -> list[Reply]:
    return [Reply.from_json(item) for item in stored]


@dataclass(frozen=True)
class Destination:
    """The vendor a message is for, whether the sender is on its staff, and how the text named
    it: the code it joins, the code a command addressed, or the unknown code after JOIN."""

    tenant: Tenant | None
    is_staff: bool = False
    code: str | None = None
    addressed: str | None = None
    unknown_code: str | None = None
    stored_reply: list | None = None  # the reply already given to this MessageSid
    platform: bool = False  # the platform number's own conversation takes it
    # A vendor STOP or START named (STOP SALON) that the sender is neither a member nor staff of:
    # the consent it asks to change is not another vendor's.
    outsider_of: Tenant | None = None
    # A vendor a command named (LOG MAMA), the sender's, on another vendor's own number: what
    # follows there (the PIN, a confirmation) would go to that number's vendor, so it is told
    # where to write instead.
    elsewhere: Tenant | None = None
    # The sender's customer row at the vendor (None: not a member), when finding the vendor
    # already locked it.
    member: Customer | None = None
    member_locked: bool = False
    # The sender as the vendor's staff, their row locked, when finding the vendor did it.
    staff: StaffSender | None = None
    # The vendors a staff phone works for, when the message could be for any of them.
    employers: tuple[Tenant, ...] = ()
    # The language to answer in when no vendor takes the message: that of the number's vendor.
    language: str = DEFAULT_LANGUAGE

    def as_read_by_flows(self, inbound: Inbound) -> Inbound:
        """The message as flows see it: with the code it joins, or without the code that
        chose the vendor (`VERIFY MAMA RD-7KX4QF` reads as `VERIFY RD-7KX4QF`)."""
        if self.addressed:
            return replace(inbound, text=without_code(inbound.text, self.addressed))
        # Unchanged, the same object: it keeps the words it has worked out.
        return inbound if inbound.vendor_code == self.code else replace(inbound, vendor_code=self.code)


def _resolve_tenant(
    session: Session, inbound: Inbound, platform, now: datetime, vendors: VendorCache, named_phone: str | None,
    for_staff: bool,
) -> Destination:
    """The vendor is the one the text joins (`JOIN MAMA`, or `MAMA` alone unless the sender is
    staff of the number's vendor), or the one a command names (`STOP SALON`, `LOG MAMA ...`) if
    the sender is already its member or staff; else the one the number written to belongs to,
    if only one; else the one this phone last talked to; else, for staff, the one vendor they
    work for (staff of several are asked to name it). A code anywhere else is just a word (see
    bot/vendor_codes.py). On another vendor's own number, a command naming a vendor is answered
    with where to write to it, as the messages after it would go to the number's vendor; only
    STOP and START, which nothing follows, reach it there. The usual case costs one query, which
    also finds a reply already given to this MessageSid, and the sender's row at the one vendor it
    finds: their staff row, with the member with the phone `named_phone` (what the command names,
    if anything), if they are guessed to be its staff (`for_staff`), else their member row.

    On the platform's own number, its conversation comes first for what it `claims` (a vendor
    being set up); the number belongs to no vendor, and what finds no vendor (nor staff of
    several) is its too."""
    words = inbound.words
    joining, addressed = join_code(words), addressed_code(words)
    params = {
        "phone": inbound.phone, "to": inbound.to, "joining": joining, "addressed": addressed, "sid": inbound.sid, "named": named_phone,
    }
    stored, found = _replay_or_candidates(session, params, vendors, for_staff)
    if stored is not None:
        return Destination(None, stored_reply=stored)
    named = {row.tenant.vendor_code: row for row in found}
    at_platform = platform is not None and platform.is_home(inbound)
    if at_platform and platform.claims(session, inbound, now, named.keys()):
        return Destination(None, platform=True)
    owners = [row for row in named.values() if row.tenant.whatsapp_number == inbound.to]
    # The code alone from staff of a vendor on the number written to is an answer in their
    # conversation (a name at STAFF ADD), not a join: they join with JOIN CODE.
    if joining in named and (words[0] == "JOIN" or not any(row.is_staff for row in owners)):
        return _found(named[joining], code=joining)
    if len(words) >= 2 and words[0] == "JOIN":  # a code no vendor has, said in the number's vendor's language
        language = language_of(owners[0].tenant) if len(owners) == 1 else DEFAULT_LANGUAGE
        return Destination(None, unknown_code=words[1], language=language)
    number_owner = owners[0] if len(owners) == 1 and not at_platform else None  # the one vendor whose number it is
    known = named.get(addressed)
    if known is not None and (known.is_staff or known.is_member):
        if number_owner is not None and number_owner is not known and words[0] not in CONSENT_WORDS:
            return Destination(None, elsewhere=known.tenant)
        return _found(known, addressed=addressed)
    if known is not None and words[0] in CONSENT_WORDS:  # STOP SALON never stops another vendor's offers
        return Destination(None, outsider_of=known.tenant)
    if number_owner is not None:
        return _found(number_owner)
    routed = session.execute(_ROUTED, params).first()
    if routed:
        return Destination(routed.Tenant, routed.is_staff)
    employers = session.execute(_EMPLOYERS, params).all()
    if len(employers) == 1:
        return Destination(employers[0].Tenant, employers[0].is_staff)
    if employers:  # staff of several vendors, and nothing says which: they are asked
        shops = tuple(sorted((row.Tenant for row in employers), key=lambda shop: shop.name))
        return Destination(None, employers=shops, language=_shared_language(shops))
    return Destination(None, platform=at_platform)


@dataclass(frozen=True)
class _Candidate:
    """A vendor the first query found, with whether the sender is on its staff or a member, and
    their member row there when the query locked it (`locked_at` is then the vendor's id), or
    their staff row when it locked that."""

    tenant: Tenant
    is_staff: bool
    is_member: bool
    member: Customer | None
    locked_at: uuid.UUID | None
    staff: StaffSender | None  # the sender as its staff, their row locked


def _replay_or_candidates(
    session: Session, params: dict, vendors: VendorCache, for_staff: bool,
) -> tuple[list | None, list[_Candidate]]:
    """The first query, straight on the driver (every message runs it; the ORM's loading of its
    rows cost more than the query), in its form `for_staff` or not: the reply stored for the
    MessageSid, and the candidates, their rows made the session's own (as_loaded), the vendors'
    from `vendors` by version. With one candidate, `vendors` notes whether the sender is on its
    staff, for the next message's guess."""
    rows = fetch_prepared(connection_of(session), _REPLAY_OR_TENANTS[for_staff], params)
    candidates = [
        _candidate(session, tenant, row, for_staff)
        for row in rows
        if row[_TENANT_AT] is not None and (tenant := vendors.tenant(session, row[_TENANT_AT], row[_TENANT_AT + 1])) is not None
    ]
    if len(candidates) == 1:
        vendors.found_sender(params["to"], params["phone"], candidates[0].is_staff)
    staff = candidates[0].staff if candidates else None  # read only where the vendor is the one candidate
    if params["named"] is not None and _unwaited(staff):
        keep_named_read(session, candidates[0].tenant.id, params["named"], staff.named_read)
    return rows[0][0], candidates


def _unwaited(sender: StaffSender | None) -> bool:
    """Whether the first query took the sender's staff row without waiting for another message:
    what it read besides (a LOG's member; the look-ups the phone missed, read with the count)
    is then as the message would find it, nothing having changed since the snapshot it read
    with. A message that waited (one of the same phone just before it) may have changed it."""
    return sender is not None and not sender.waited


def _candidate(session: Session, tenant: Tenant, row, for_staff: bool) -> _Candidate:
    """A row of the first query in its form `for_staff` as a candidate, a member's balance kept
    for the message."""
    is_staff, is_member = row[_IS_STAFF_AT], row[_IS_STAFF_AT + 1]
    if for_staff:
        return _Candidate(tenant, is_staff, is_member, None, None, sender_from_json(session, row[_SENDER_AT]))
    member = loaded(session, Customer, row, _SENDER_AT)
    if member is not None:
        keep_balance_read(session, member, row[_BALANCE_AT])
    return _Candidate(tenant, is_staff, is_member, member, row[_LOCKED_AT], None)


def _found(row: _Candidate, **how) -> Destination:
    """The vendor of a candidate, with the sender's member or staff row there if the first query
    locked it."""
    locked = row.locked_at == row.tenant.id
    return Destination(row.tenant, row.is_staff, member=row.member if locked else None, member_locked=locked, staff=row.staff, **how)


def _tenants(condition):
    """Active vendors meeting `condition`, each with whether the sender is on its staff and
    whether it is a member. Built once: the parameters are `phone`, `to`, and the codes the
    text `joining` and `addressed` (or None)."""
    phone = bindparam("phone")
    is_staff = exists().where(Staff.tenant_id == Tenant.id, Staff.phone_number == phone, Staff.is_active)
    is_member = exists().where(Customer.tenant_id == Tenant.id, Customer.phone_number == phone)
    return select(Tenant, is_staff.label("is_staff"), is_member.label("is_member")).where(Tenant.is_active, condition)


def _replay_or_tenants(for_staff: bool):
    """One row per vendor the text names or the number belongs to (or one empty row), each
    carrying the reply stored for the MessageSid, if any. When there is only one such vendor,
    the sender's own row there comes too, locked for the message, in one of two forms of the
    query, as the dispatcher guesses the sender to be (VendorCache.staff_on): not `for_staff`,
    if the sender is not its staff, the sender's customer row (`locked_at` names the vendor
    then), with its balance on PostgreSQL (bot/services/points.py, balance_read): the usual
    message costs one query less, and a BAL two. `for_staff`, if the sender is its staff, their
    staff row, on PostgreSQL, with what else find_staff_locked reads (staff_locked): a staff
    message costs one query less. Each form leaves out the other's part and its columns: a part
    the message cannot use still cost PostgreSQL a sixth of the query (every table and node of
    a plan is opened and closed at each run, whether it runs or not), and each column the driver
    a microsecond. A wrong guess costs the statements that part saves, each then run on its own
    (the sender's row, a BAL's balance, a LOG's member). With several candidates, none is
    locked: they would be locked in no known order, and most of them are not the one the
    message is for."""
    stored = select(_STORED_REPLY.scalar_subquery().label("stored")).subquery()
    codes = [bindparam("joining", type_=Tenant.vendor_code.type), bindparam("addressed", type_=Tenant.vendor_code.type)]
    named_or_owning = or_(Tenant.vendor_code.in_(codes), Tenant.whatsapp_number == bindparam("to"))
    # Each with the version of its row, by which the vendors' rows kept are taken (bot/vendor_cache.py).
    candidates = _tenants(named_or_owning).add_columns(row_version().label("version")).cte("candidates")
    only_one = select(func.count()).select_from(candidates).scalar_subquery() == 1
    found = stored.outerjoin(candidates, true())
    if for_staff:
        sole_employer = select(candidates.c.id).where(candidates.c.is_staff, only_one).scalar_subquery()
        named = bindparam("named", type_=Customer.phone_number.type)
        sender_read = [staff_locked(sole_employer, bindparam("phone"), named).label("staff")]
    else:
        sole = select(candidates.c.id).where(~candidates.c.is_staff, only_one).scalar_subquery()
        member = (
            select(Customer, member_version())
            .where(Customer.tenant_id == sole, Customer.phone_number == bindparam("phone"))
            .with_for_update(**ROW_LOCK)
            .subquery("member")
        )
        sender_read = [*model_columns(Customer, member), balance_read(member).label("balance"), sole.label("locked_at")]
        found = found.outerjoin(member, member.c.tenant_id == candidates.c.id)
    return select(
        stored.c.stored, candidates.c.id, candidates.c.version, candidates.c.is_staff, candidates.c.is_member, *sender_read,
    ).select_from(found)


# The first query's row: the stored reply, the vendor's id and version, is_staff, is_member,
# then the sender's part: in the customer form the member's columns, balance and locked_at; in
# the staff form the staff row's JSON.
_TENANT_AT = 1
_IS_STAFF_AT = _TENANT_AT + 2
_SENDER_AT = _IS_STAFF_AT + 2
_BALANCE_AT = _SENDER_AT + len(column_keys(Customer))
_LOCKED_AT = _BALANCE_AT + 1
_REPLAY_OR_TENANTS = {for_staff: _replay_or_tenants(for_staff) for for_staff in (False, True)}
_ROUTED = _tenants(Tenant.id == select(PhoneRoute.tenant_id).where(PhoneRoute.phone_number == bindparam("phone")).scalar_subquery())
_EMPLOYERS = _tenants(
    Tenant.id.in_(select(Staff.tenant_id).where(Staff.phone_number == bindparam("phone"), Staff.is_active))
)


def _record(
    session: Session, holder: Customer | Staff | None, state: State, inbound: Inbound, logged: dict, now: datetime
) -> None:
    """Save the conversation state (on the staff row for staff, else on the customer row) and
    log the message with its reply: the transaction's last statement. Every message does this,
    so the statements are built once, with Core, and on PostgreSQL they travel as one, with the
    COMMIT (finish_prepared); what the flows changed is written before them."""
    session.flush()
    connection = connection_of(session)
    if holder is None:
        finish_prepared(connection, _INSERT_MESSAGE, logged)
        return
    saved = {"b_tenant": holder.tenant_id, "b_id": holder.id, "state": state.to_json(), "now": now}
    if isinstance(holder, Customer):
        saved["name"] = inbound.profile_name or holder.whatsapp_name
    save, save_and_insert = _SAVES[type(holder)]
    if connection.dialect.name == "postgresql":
        finish_prepared(connection, save_and_insert, {**saved, **logged})
    else:
        connection.execute(save, saved)
        connection.execute(_INSERT_MESSAGE, logged)


def _save_statement(model, **extra):
    return (
        update(model.__table__)
        .where(model.tenant_id == bindparam("b_tenant"), model.id == bindparam("b_id"))
        .values(conversation_state=bindparam("state"), last_inbound_at=bindparam("now"), updated_at=bindparam("now"), **extra)
    )


_LOGGED = (
    "tenant_id", "id", "customer_id", "direction", "channel", "from_number", "to_number", "body", "media",
    "message_sid", "status", "reply", "created_at",
)
# Parameters named apart from the columns, so that none of them leaks into the UPDATE beside it.
_INSERT_MESSAGE = insert(Message.__table__).values({name: bindparam(f"m_{name}") for name in _LOGGED})
_SAVES = {
    model: (save, _INSERT_MESSAGE.add_cte(save.cte("saved")))
    for model, save in (
        (Customer, _save_statement(Customer, whatsapp_name=bindparam("name"))),
        (Staff, _save_statement(Staff)),
    )
}


def _inbound_row(tenant: Tenant, customer: Customer | None, inbound: Inbound, replies: list[Reply], now: datetime) -> dict:
    row = {
        "tenant_id": tenant.id,
        "id": new_id(),
        "customer_id": customer.id if customer else None,
        "direction": "inbound",
        "channel": inbound.channel,
        "from_number": inbound.phone,
        "to_number": inbound.to,
        "body": inbound.text,
        "media": list(inbound.media),
        "message_sid": inbound.sid,
        "status": "received",
        "reply": [reply.to_json() for reply in replies],
        "created_at": now,
    }
    return {f"m_{name}": value for name, value in row.items()}
