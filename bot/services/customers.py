"""Enrolment and marketing consent."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import JSON, Executable, Select, bindparam, func, select, update
from sqlalchemy.orm import Session

from bot.codes import random_code
from bot.db import (
    ROW_LOCK, as_loaded, connection_of, fetch_prepared, from_json_array, insert_for, insert_on_conflict, json_array, loaded,
    model_columns, run_prepared, with_defaults, write_blind, write_if_new,
)
from bot.locales import LOCALES, language_of
from bot.messages import Msg, say
from bot.services import audit, points
from bot.services.context import Context
from bot.services.pages import Page, by_newest, page
from bot.services.referrals import record_referral, unpaid_referrer_of
from models import Customer, CustomerPointsBalance, PhoneRoute, Staff, Tenant
from models.base import utcnow

_MEMBER_CODE_TRIES = 5


@dataclass(frozen=True)
class Language:
    code: str
    name: str  # in the language itself
    current: bool  # the one the customer is written to in


@dataclass(frozen=True)
class Enrollment:
    customer: Customer
    created: bool
    bonus: int
    balance: int
    # The balance row, held: the session keeps only what is referenced, and every move of the
    # balance refreshes it, so reading it again in this transaction costs no query.
    balance_row: CustomerPointsBalance


_FIND_CUSTOMER = select(Customer).where(Customer.tenant_id == bindparam("tenant"), Customer.phone_number == bindparam("phone"))
_LOCK_CUSTOMER = _FIND_CUSTOMER.with_for_update(**ROW_LOCK).execution_options(populate_existing=True)


def find_customer(session: Session, tenant: Tenant, phone: str, lock: bool) -> Customer | None:
    """The customer row; with `lock`, locked until the transaction ends (FOR NO KEY UPDATE on
    PostgreSQL; SQLite already serialises whole write transactions)."""
    return session.scalars(_LOCK_CUSTOMER if lock else _FIND_CUSTOMER, {"tenant": tenant.id, "phone": phone}).one_or_none()


def lock_customers(session: Session, tenant_id: uuid.UUID, ids) -> dict[uuid.UUID, Customer]:
    """Lock these customers' rows in one statement, in id order: whatever needs several takes
    them in the same order, so two such transactions never wait on each other in a circle."""
    rows = session.scalars(
        select(Customer)
        .where(Customer.tenant_id == tenant_id, Customer.id.in_(sorted(set(ids))))
        .order_by(Customer.id)
        .with_for_update(**ROW_LOCK)
        .execution_options(populate_existing=True)
    )
    return {customer.id: customer for customer in rows}


@dataclass(frozen=True)
class Named:
    """The customer staff named, with their balance row, and whoever referred them while that
    referral is unpaid (the id, else None), when their rows were locked."""

    customer: Customer
    balance: CustomerPointsBalance | None
    referrer: uuid.UUID | None = None
    past_expiry: bool = False  # some of their points are past their expiry, not expired yet


def find_member(session: Session, tenant_id: uuid.UUID, who: str) -> Named | None:
    """The customer by E.164 phone or member code (as staff name them), with their balance. The
    message's first look-up of the phone its command named costs no query: the dispatcher's
    first query read it (keep_named_read)."""
    kept = session.info.pop(_NAMED_READ, None)
    if kept is not None and kept[0] == (tenant_id, who):
        row = from_json_array(_MEMBER_ROW, kept[1]) if kept[1] else None
    else:
        row = run_prepared(connection_of(session), _FIND_MEMBER[_is_phone(who)], {"tenant": tenant_id, "who": who})
    return Named(*_member_and_balance(session, row)) if row else None


def named_member_read(tenant_id, phone):
    """SQL, for the dispatcher's first query on PostgreSQL (bot/services/staff.py, staff_locked):
    what find_member reads of the member with the E.164 `phone` (SQL) at the vendor `tenant_id`
    (SQL), as one JSON array, empty if there is none."""
    found = _with_balance((json_array(_MEMBER_ROW),)).where(Customer.tenant_id == tenant_id, Customer.phone_number == phone)
    return func.coalesce(found.scalar_subquery(), func.json_build_array(), type_=JSON)


def keep_named_read(session: Session, tenant_id: uuid.UUID, phone: str, read: list) -> None:
    """Keep what the first query read (named_member_read) of the member with `phone` at the
    vendor, for the message's first find_member, which takes it if it looks that phone up (the
    command's look-up comes before anything the message changes). The read is of the
    statement's snapshot, a moment before the look-up's own would be (the dispatcher keeps
    none when the query waited for the sender's row): a phone enrolled in between is as one
    enrolled just after, which a purchase's blind write meets."""
    session.info[_NAMED_READ] = ((tenant_id, phone), read)


_NAMED_READ = "named member read"  # in a session's info: what keep_named_read keeps


def lock_member(session: Session, tenant_id: uuid.UUID, who: str, now: datetime) -> Named | None:
    """As find_member, with the customer's row locked and, while their referral is unpaid, their
    referrer's (whom the purchase rewards), in one statement and in id order, as lock_customers
    does: so that purchases by several staff for one customer go one at a time. It also says
    whether any of their points are past their expiry (`now`)."""
    is_phone = _is_phone(who)
    rows = fetch_prepared(connection_of(session), _LOCK_MEMBER[is_phone], {"tenant": tenant_id, "who": who, "now": now})
    members = [(*_member_and_balance(session, row), row.past_expiry) for row in rows]
    named = next((member for member in members if getattr(member[0], _name_column(is_phone).key) == who), None)
    if named is None:
        return None
    referrer = next((customer.id for customer, _, _ in members if customer is not named[0]), None)
    return Named(named[0], named[1], referrer, named[2])


def _member_and_balance(session: Session, row) -> tuple[Customer, CustomerPointsBalance | None]:
    return loaded(session, Customer, row, 0), loaded(session, CustomerPointsBalance, row, len(Customer.__table__.c))


def _is_phone(who: str) -> bool:
    """Staff name a customer by E.164 phone or by member code."""
    return who.startswith("+")


def _named(who: str):
    return _name_column(_is_phone(who)) == who


def _name_column(is_phone: bool):
    return Customer.phone_number if is_phone else Customer.member_code


def _with_balance(columns: tuple = ()):
    """The customer's columns, then their balance row's (read back with _member_and_balance), or
    `columns` of them."""
    balance = CustomerPointsBalance
    return select(*(columns or _MEMBER_ROW)).select_from(Customer).outerjoin(
        balance, (balance.tenant_id == Customer.tenant_id) & (balance.customer_id == Customer.id)
    )


_MEMBER_ROW = (*model_columns(Customer), *model_columns(CustomerPointsBalance))


def _named_at_tenant(is_phone: bool):
    """The customer staff named (parameter `who`) at the vendor of parameter `tenant`."""
    return (Customer.tenant_id == bindparam("tenant")) & (_name_column(is_phone) == bindparam("who"))


def _lock_member(is_phone: bool) -> Executable:
    named = select(Customer.id).where(_named_at_tenant(is_phone)).scalar_subquery()
    return (
        _with_balance()
        .add_columns(points.past_expiry_at(bindparam("now")).label("past_expiry"))
        .where(Customer.tenant_id == bindparam("tenant"), Customer.id.in_([named, unpaid_referrer_of(named).scalar_subquery()]))
        .order_by(Customer.id)
        .with_for_update(of=Customer, **ROW_LOCK)
    )


_FIND_MEMBER = {
    is_phone: _with_balance().where(_named_at_tenant(is_phone)) for is_phone in (True, False)
}
_LOCK_MEMBER = {is_phone: _lock_member(is_phone) for is_phone in (True, False)}


def with_spendable_balance(now: datetime) -> Select:
    """The customers with their balance row and what each can spend at `now` (`spendable`), as
    the back office (the API, the dashboard) shows them: read as PROGRAMS reads it, points past
    their expiry left out rather than expired (that would lock and write every customer listed)."""
    balance = CustomerPointsBalance
    return select(Customer, balance, func.coalesce(points.spendable_balance(now), 0).label("spendable")).outerjoin(
        balance, (balance.tenant_id == Customer.tenant_id) & (balance.customer_id == Customer.id),
    )


@dataclass(frozen=True)
class Member:
    """A customer as the vendor's back office sees them."""

    id: uuid.UUID
    phone: str
    member_code: str | None
    name: str | None
    balance: int
    lifetime_points: int
    tier: str | None
    opted_in: bool
    joined_at: datetime
    language: str
    total_purchases: int
    total_spent: int
    last_purchase_at: datetime | None

    @classmethod
    def of(cls, customer: Customer, balance: CustomerPointsBalance | None, spendable: int) -> "Member":
        return cls(
            customer.id, customer.phone_number, customer.member_code, customer.whatsapp_name,
            spendable, balance.total_earned if balance else 0, customer.tier,
            customer.opted_in, customer.created_at, customer.language, customer.total_purchases, customer.total_spent,
            customer.last_purchase_at,
        )


def describe(customer: Customer) -> str:
    """How staff see a customer: 'Chidi, +2348031234567'."""
    name = f"{customer.whatsapp_name}, " if customer.whatsapp_name else ""
    return f"{name}{customer.phone_number}"


def greeting(tenant: Tenant) -> str | Msg:
    """The vendor's own welcome, else one from the catalog."""
    return tenant.settings.get("greeting") or say("greeting_default", vendor=tenant.name)


# The phone's route, locked: of two messages moving it at once, the second reads where the first left it.
_ROUTE = select(PhoneRoute.tenant_id).where(PhoneRoute.phone_number == bindparam("phone")).with_for_update()


def route_phone(session: Session, phone: str, tenant: Tenant, replace: bool = True) -> None:
    """Make `tenant` the vendor this phone talks to when a message names none
    (with `replace` off, only if it has none yet). A move from another vendor ends the phone's
    conversations at the vendor it leaves and at the one it goes to: a question left open there
    must not take the next answer (the menu's "1" confirming a redemption asked before a JOIN
    elsewhere). A first route moves nothing: no question of the phone's is left anywhere else,
    and nothing is read (it waits for the next statement: bot/db.py's write)."""
    values = {"phone_number": phone, "tenant_id": tenant.id}
    if not replace:
        write_if_new(session, PhoneRoute, values, ["phone_number"])
        return
    left = session.scalar(_ROUTE, {"phone": phone})
    insert_on_conflict(session, PhoneRoute, values, ["phone_number"], update={"tenant_id": tenant.id, "updated_at": utcnow()})
    if left is not None and left != tenant.id:
        _end_conversations(session, phone, [left, tenant.id])


def _end_conversations(session: Session, phone: str, tenant_ids: list[uuid.UUID]) -> None:
    """The phone's conversations at these vendors back to the menu, as staff and as a member.
    A row another transaction holds (a message of that phone being answered at the other
    vendor) is skipped rather than waited for: those rows are taken out of the global lock
    order, and waiting could close a circle. The one this message is in is saved after, with
    what the message did."""
    for model in (Staff, Customer):
        free = (
            select(model.id)
            .where(model.phone_number == phone, model.tenant_id.in_(tenant_ids))
            .with_for_update(skip_locked=True, **ROW_LOCK)
        )
        session.execute(
            update(model).where(model.tenant_id.in_(tenant_ids), model.id.in_(free)).values(conversation_state={})
        )


def enroll(
    session: Session,
    tenant: Tenant,
    phone: str,
    now: datetime,
    *,
    profile_name: str | None = None,
    source: str = "whatsapp",
    consent: bool,
    blind: bool = False,
) -> Enrollment:
    """Enrol `phone` with the vendor, once, and lock its row; a new member gets a member code
    and the welcome bonus through the ledger. `consent` (to offers) is given only by the phone
    itself joining: there is no default.

    Two enrolments racing for one phone meet on the unique (tenant_id, phone_number) key:
    exactly one inserts, the other waits for it and finds the row. With `blind` (a phone just
    found unenrolled, where the context allows blind writes: a JOIN, a purchase's new
    customer), the row is written with write_blind (bot/db.py), which costs no round trip of
    its own, and a phone (or member code) taken meanwhile fails the transaction instead: the
    dispatcher runs the message once more, with blind writes off."""
    values = {
        "tenant_id": tenant.id, "phone_number": phone, "whatsapp_name": profile_name, "source": source,
        "opted_in": consent, "opted_in_at": now if consent else None, "created_at": now, "updated_at": now,
    }
    if blind:
        customer, created = write_blind(session, Customer, {**values, "member_code": random_code()}), True
    else:
        customer, created = _insert_or_find(session, tenant, values)
    if created:
        balance = points.open_balance(session, customer)
        bonus = _welcome(session, tenant, customer, now)
    else:
        balance, bonus = session.get(CustomerPointsBalance, (customer.tenant_id, customer.id)), 0
    return Enrollment(customer, created, bonus, balance.current_balance, balance)


def _insert_or_find(session: Session, tenant: Tenant, values: dict) -> tuple[Customer, bool]:
    """The customer's row inserted with a member code drawn, or the one found with its phone,
    locked; whether it was inserted."""
    for _ in range(_MEMBER_CODE_TRIES):
        # The row this transaction inserts is its own until it commits: no lock to take.
        row = with_defaults(Customer, {**values, "member_code": random_code()})
        if run_prepared(connection_of(session), _new_member(insert_for(session)), row) is not None:
            return as_loaded(session, Customer, row), True
        customer = find_customer(session, tenant, values["phone_number"], lock=True)
        if customer is not None:
            return customer, False
    # Every code drawn was taken: the alphabet is far too small for this vendor.
    raise RuntimeError("could not draw a free member code")


@cache
def _new_member(insert) -> Executable:
    """The customer's INSERT with the dialect's `insert`, built once: it skips a phone or member
    code already taken, and returns the id of a row it wrote. Every column is a parameter
    (run_prepared prepares it as it is): the row is given whole (with_defaults), and no column
    is filled by the server (tests/test_db.py holds it), so the row written is the values
    given; reading its columns back cost a purchase 150,000 instructions."""
    return insert(Customer.__table__).on_conflict_do_nothing().returning(Customer.__table__.c.id)


def _welcome(session: Session, tenant: Tenant, customer: Customer, now: datetime) -> int:
    audit.record(
        session, tenant.id, "customer.joined", actor_type="customer", actor_id=customer.id,
        entity_type="customer", entity_id=customer.id, source=customer.source,
    )
    bonus = int(tenant.settings.get("welcome_bonus") or 0)
    if bonus:
        points.credit(session, tenant, customer, bonus, source="welcome", description=say("ledger.welcome"), now=now)
    return bonus


class CustomerService:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def join(self, profile_name: str | None, text: str = "") -> Enrollment:
        """The phone joins with its consent and this vendor becomes the one it talks to. A
        referral code in the text (`JOIN MAMA R-K7Q4XM`) links a new member to its referrer. The
        dispatcher looked the phone up (`ctx.customer`): one that is no member here is enrolled
        blind where the context allows it (see enroll)."""
        ctx = self.ctx
        blind = ctx.blind_writes and ctx.customer is None
        enrollment = enroll(ctx.session, ctx.tenant, ctx.phone, ctx.now, profile_name=profile_name, consent=True, blind=blind)
        ctx.customer, ctx.customer_locked = enrollment.customer, True
        route_phone(ctx.session, ctx.phone, ctx.tenant)
        if enrollment.created:
            record_referral(ctx.session, ctx.tenant, enrollment.customer, text)
        else:  # enrolled at the counter before: joining is the consent they had not given
            self.opt_in()
        return enrollment

    def opt_out(self) -> None:
        self._set_consent(False)

    def opt_in(self) -> None:
        self._set_consent(True)

    def _set_consent(self, opted_in: bool) -> None:
        ctx = self.ctx
        customer = ctx.require_customer()
        if customer.opted_in == opted_in:
            return
        customer.opted_in = opted_in
        if opted_in:
            customer.opted_in_at = ctx.now
        else:
            customer.opted_out_at = ctx.now
        audit.record(
            ctx.session, ctx.tenant.id, "customer.opted_in" if opted_in else "customer.opted_out",
            actor_type="customer", actor_id=customer.id, entity_type="customer", entity_id=customer.id,
        )

    def languages(self) -> list[Language]:
        current = language_of(self.ctx.tenant, self.ctx.require_customer().language)
        return [Language(code, written.name, code == current) for code, written in LOCALES.items()]

    def set_language(self, code: str) -> None:
        """Write to the customer in `code` from now on: replies, and messages the shop sends."""
        if code not in LOCALES:
            raise ValueError(f"no language {code!r}")
        self.ctx.require_customer().language = code

    # The vendor's back office (the API): members of this vendor only.

    def members(self, who: str | None, cursor: str | None, limit: int) -> Page[Member]:
        """Newest first; `who` (an E.164 phone or a member code) narrows to that member."""
        ctx = self.ctx
        query = with_spendable_balance(ctx.now).where(Customer.tenant_id == ctx.tenant.id)
        if who is not None:
            query = query.where(_named(who))
        return page(
            ctx.session, query, by_newest(Customer.created_at, Customer.id), cursor, limit,
            key_of=lambda row: (row.Customer.created_at, row.Customer.id), convert=lambda row: Member.of(*row),
        )

    def member(self, customer_id: uuid.UUID) -> Member | None:
        ctx = self.ctx
        row = ctx.session.execute(
            with_spendable_balance(ctx.now).where(Customer.tenant_id == ctx.tenant.id, Customer.id == customer_id)
        ).one_or_none()
        return Member.of(*row) if row else None

    def choose(self, customer_id: uuid.UUID, lock: bool) -> Customer | None:
        """Make one of this vendor's customers the one this unit of work is about (None if there
        is no such customer here). To change anything, `lock` their row, as the dispatcher locks
        a phone's: customer rows are always locked first."""
        return choose_customer(self.ctx, customer_id, lock)


def choose_customer(ctx: Context, customer_id: uuid.UUID, lock: bool) -> Customer | None:
    """Make one of the vendor's customers the one `ctx` is about (None if there is no such
    customer). Unlocked, their row is locked when a service first changes anything about them
    (even reading the balance expires lots past their expiry), as for a staff sender's membership."""
    ctx.customer = ctx.session.get(
        Customer, (ctx.tenant.id, customer_id), with_for_update=ROW_LOCK if lock else None, populate_existing=lock,
    )
    ctx.customer_locked = lock
    return ctx.customer
