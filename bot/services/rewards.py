"""The rewards catalog and redemptions: codes shown at the counter and verified by staff."""
from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from bot.codes import ALPHABET, random_code
from bot.db import ROW_LOCK, connection_of, fetch_prepared, insert_on_conflict
from bot.errors import Refused
from bot.limits import REDEMPTIONS
from bot.messages import Msg, say
from bot.outbound import notify
from bot.services import audit, points
from bot.services.context import Actor, Context
from bot.services.customers import describe
from bot.services.pages import Page, SortKey, integer, page
from models import (
    Customer, CustomerPointsBalance, PointsLotAllocation, PointsTransaction, Reward, RewardRedemption, Tenant, Staff,
)
from models.base import new_id

CODE_PREFIX = "RD-"
_CODE_BODY = re.compile(rf"^(?:RD)?([{ALPHABET}]{{6}})$")
# A code among other words: with its RD ("thanks RD-7KX4QF"), or alone ("7KX4QF please").
_PREFIXED_CODE_WORD = re.compile(rf"(?<![A-Z0-9])RD-?([{ALPHABET}]{{6}})(?![A-Z0-9])")
_CODE_WORD = re.compile(rf"(?<![A-Z0-9-])([{ALPHABET}]{{6}})(?![A-Z0-9])")
_CODE_TRIES = 5
HOLDING_STOCK = ("pending", "fulfilled")  # redemptions that keep a unit and count to the limit


@dataclass(frozen=True)
class CatalogItem:
    id: str
    name: str
    points: int
    stock_left: int | None


@dataclass(frozen=True)
class Redeemed:
    code: str
    reward: str
    expires_at: datetime
    media_path: str
    balance: int


@dataclass(frozen=True)
class CodeView:
    id: str
    code: str
    reward: str
    customer: str
    status: str
    expires_at: datetime
    when: datetime | None  # fulfilled or cancelled at
    by: str | None  # fulfilled by
    points: int  # paid for it: 0 for a prize won on the wheel
    customer_id: uuid.UUID
    created_at: datetime

    def usable(self, now: datetime) -> bool:
        return self.status == "pending" and self.expires_at > now


def available(now: datetime):
    """The SQL condition of a reward that can be redeemed now (stock aside)."""
    return (
        Reward.is_active,
        or_(Reward.valid_from.is_(None), Reward.valid_from <= now),
        or_(Reward.valid_until.is_(None), Reward.valid_until > now),
    )


def _offered(tenant_id, now) -> tuple:
    """The SQL condition of the vendor's rewards that can be had now, stock included
    (`tenant_id` and `now` are values, or bind parameters)."""
    return (Reward.tenant_id == tenant_id, *available(now), or_(Reward.stock.is_(None), Reward.stock_used < Reward.stock))


def catalog(session: Session, tenant_id: uuid.UUID, now: datetime) -> list[Reward]:
    return list(session.scalars(select(Reward).where(*_offered(tenant_id, now)).order_by(Reward.position, Reward.points_required)))


def find_available(session: Session, tenant_id: uuid.UUID, reward_id: uuid.UUID, now: datetime) -> Reward | None:
    """The reward if it is offered now (active, inside its dates); stock aside. It is read with
    a shared lock (FOR KEY SHARE: redemptions do not wait for each other) that a change of its
    stock waits for, so that whether it is limited cannot change between this read and the
    unit taken (take_unit) or not taken for an unlimited one: a limit set meanwhile would
    miss this redemption's unit."""
    return session.scalars(
        select(Reward).where(Reward.tenant_id == tenant_id, Reward.id == reward_id, *available(now))
        .with_for_update(read=True, key_share=True).execution_options(populate_existing=True)
    ).one_or_none()


def take_unit(session: Session, reward: Reward) -> bool:
    """Take one unit of a limited stock with one conditional UPDATE: it locks the row only when
    it succeeds, so racing redemptions never wait on a reward that has run out, and nothing
    that fails holds a lock. An unlimited reward keeps no count and is never touched."""
    if reward.stock is None:
        return True
    taken = session.execute(
        update(Reward)
        .where(Reward.tenant_id == reward.tenant_id, Reward.id == reward.id, Reward.stock_used < Reward.stock)
        .values(stock_used=Reward.stock_used + 1)
    )
    return taken.rowcount == 1


@dataclass(frozen=True)
class IssuedCode:
    id: uuid.UUID
    code: str
    expires_at: datetime
    media_path: str  # the URL path of its QR picture


def issue_code(
    session: Session, tenant: Tenant, customer: Customer, reward: Reward, now: datetime, *,
    redemption_id: uuid.UUID, points_deducted: int = 0, debit_id: uuid.UUID | None = None,
) -> IssuedCode:
    """A pending redemption of `reward` (whose unit the caller has taken) with a fresh code,
    unique across the platform."""
    expires_at = now + timedelta(hours=tenant.settings.get("redemption_valid_hours", 24))
    media_token = secrets.token_urlsafe(24)
    for _ in range(_CODE_TRIES):
        code = CODE_PREFIX + random_code()
        inserted = insert_on_conflict(session, RewardRedemption, {
            "tenant_id": tenant.id, "id": redemption_id, "customer_id": customer.id, "reward_id": reward.id,
            "points_deducted": points_deducted, "status": "pending", "redemption_code": code,
            "media_token": media_token, "expires_at": expires_at, "debit_id": debit_id,
            "created_at": now, "updated_at": now,
        })
        if inserted:  # else that code is taken: draw another
            return IssuedCode(redemption_id, code, expires_at, f"/media/{media_token}.png")
    raise RuntimeError("could not draw a free redemption code")


# What nearest_reward needs of the catalog, as plain rows from one statement built once (and
# prepared on PostgreSQL): every purchase notice and expiry reminder asks.
_PRICES = (
    select(Reward.points_required, Reward.name)
    .where(*_offered(bindparam("tenant"), bindparam("now")))
    .order_by(Reward.position, Reward.points_required)
)


def nearest_reward(session: Session, tenant_id: uuid.UUID, balance: int, now: datetime) -> Msg:
    """How far the customer is from the cheapest reward they cannot afford yet."""
    rewards = fetch_prepared(connection_of(session), _PRICES, {"tenant": tenant_id, "now": now})
    missing = min(((r.points_required - balance, r.name) for r in rewards if r.points_required > balance), default=None)
    if missing:
        return say("progress_next", points=missing[0], reward=missing[1])
    if rewards:
        return say("progress_can_redeem", reward=max(rewards, key=lambda r: r.points_required).name)
    return say("progress_none")


def at_limit(session: Session, reward: Reward, customer: Customer) -> bool:
    """Whether the customer holds the reward as many times as it may be had by one customer
    (redeemed or won on the wheel, codes pending or used)."""
    if reward.max_per_customer is None:
        return False
    held = session.scalar(
        select(func.count()).where(
            RewardRedemption.tenant_id == reward.tenant_id,
            RewardRedemption.reward_id == reward.id,
            RewardRedemption.customer_id == customer.id,
            RewardRedemption.status.in_(HOLDING_STOCK),
        )
    )
    return held >= reward.max_per_customer


def normalise_code(text: str) -> str | None:
    """'rd7kx4qf', 'RD-7KX4QF', '7kx4qf', 'rd 7kx 4qf', 'RD-7KX4QF please', full-width
    'ＲＤ－７ＫＸ４ＱＦ' -> 'RD-7KX4QF'; None if it cannot be a code. Among other words, a code
    with its RD is taken first; one without, only when no other word could be one."""
    folded = unicodedata.normalize("NFKC", text).upper()
    whole = _CODE_BODY.match(re.sub(r"[^A-Z0-9]", "", folded))
    if whole:
        return CODE_PREFIX + whole.group(1)
    prefixed = _PREFIXED_CODE_WORD.search(folded)
    bare = _CODE_WORD.findall(folded)
    body = prefixed.group(1) if prefixed else bare[0] if len(bare) == 1 else None
    return CODE_PREFIX + body if body else None


class RewardService:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def catalog(self) -> list[CatalogItem]:
        return [
            CatalogItem(str(r.id), r.name, r.points_required, r.stock_left)
            for r in catalog(self.ctx.session, self.ctx.tenant.id, self.ctx.now)
        ]

    def redeem(self, reward_id: str, quoted: int | None = None) -> Redeemed:
        """Spend the points on the reward, in this transaction, with the customer (locked by
        the dispatcher) and the reward locked. A failed check changes nothing and raises
        Refused: redeem_unavailable, redeem_out_of_stock, redeem_limit, redeem_not_enough, or
        redeem_price_changed when the reward no longer costs the `quoted` points the customer agreed to."""
        ctx = self.ctx
        customer = ctx.require_customer()
        reward = find_available(ctx.session, ctx.tenant.id, uuid.UUID(reward_id), ctx.now)
        self._check(customer, reward)
        if quoted is not None and reward.points_required != quoted:
            raise Refused("redeem_price_changed", name=reward.name, points=reward.points_required)
        ctx.limits.count(REDEMPTIONS)
        if not take_unit(ctx.session, reward):  # the last unit went to someone else just now
            raise Refused("redeem_out_of_stock")
        redemption_id = new_id()
        debit = points.debit(
            ctx.session, customer, reward.points_required, transaction_type="redeemed", source="redemption",
            description=say("ledger.redeemed", reward=reward.name), now=ctx.now, reward_redemption_id=redemption_id,
        )
        issued = issue_code(
            ctx.session, ctx.tenant, customer, reward, ctx.now, redemption_id=redemption_id,
            points_deducted=reward.points_required, debit_id=debit.id,
        )
        audit.record(
            ctx.session, ctx.tenant.id, "reward.redeemed", actor_type="customer", actor_id=customer.id,
            entity_type="reward_redemption", entity_id=redemption_id, reward=reward.name, points=reward.points_required,
        )
        balance = ctx.session.get(CustomerPointsBalance, (customer.tenant_id, customer.id), populate_existing=True)
        return Redeemed(issued.code, reward.name, issued.expires_at, issued.media_path, balance.current_balance)

    def _check(self, customer: Customer, reward: Reward | None) -> None:
        ctx = self.ctx
        if reward is None:  # gone, switched off, or outside its dates
            raise Refused("redeem_unavailable")
        if reward.stock is not None and reward.stock_used >= reward.stock:
            raise Refused("redeem_out_of_stock")
        if at_limit(ctx.session, reward, customer):
            raise Refused("redeem_limit")
        if points.spendable(ctx.session, customer, ctx.now) < reward.points_required:
            raise Refused("redeem_not_enough")

    def offered(self, cursor: str | None, limit: int) -> Page[Reward]:
        """Every reward of the vendor's, switched off or not, in the catalog's order."""
        query = select(Reward).where(Reward.tenant_id == self.ctx.tenant.id)
        keys = [SortKey(Reward.position, integer), SortKey(Reward.id, uuid.UUID)]
        return page(
            self.ctx.session, query, keys, cursor, limit, descending=False,
            key_of=lambda row: (row.Reward.position, row.Reward.id), convert=lambda row: row.Reward,
        )

    def pending_codes(self) -> list[CodeView]:
        customer = self.ctx.require_customer()
        return [
            view for view in self._views(RewardRedemption.customer_id == customer.id, RewardRedemption.status == "pending")
            if view.expires_at > self.ctx.now
        ]

    def waiting_codes(self) -> list[CodeView]:
        """The vendor's codes still to be handed over, oldest first."""
        return [view for view in self._views(RewardRedemption.status == "pending") if view.expires_at > self.ctx.now]

    def find_code(self, text: str) -> CodeView | None:
        """A code of this vendor's; another vendor's code is exactly as unknown as a wrong one.
        Only what may be a code (normalise_code) is looked up, and a miss counts towards the
        staff phone's limit of wrong look-ups: "ok" or "back" looks nothing up."""
        code = normalise_code(text)
        if code is None:
            return None
        return self.ctx.limits.look_up(lambda: next(iter(self._views(RewardRedemption.redemption_code == code)), None))

    def _views(self, *where) -> list[CodeView]:
        rows = self.ctx.session.execute(
            select(RewardRedemption, Reward.name, Customer, Staff.full_name)
            .join(Reward, (Reward.tenant_id == RewardRedemption.tenant_id) & (Reward.id == RewardRedemption.reward_id))
            .join(Customer, (Customer.tenant_id == RewardRedemption.tenant_id) & (Customer.id == RewardRedemption.customer_id))
            .outerjoin(
                Staff,
                (Staff.tenant_id == RewardRedemption.tenant_id) & (Staff.id == RewardRedemption.verified_by_user_id),
            )
            .where(RewardRedemption.tenant_id == self.ctx.tenant.id, *where)
            .order_by(RewardRedemption.created_at)
        ).all()
        return [
            CodeView(
                str(r.id), r.redemption_code, name, describe(customer), r.status, r.expires_at,
                r.fulfilled_at or r.cancelled_at, staff_name, r.points_deducted, r.customer_id, r.created_at,
            )
            for r, name, customer, staff_name in rows
        ]

    def fulfil(self, redemption_id: str) -> None:
        """Mark the reward handed over."""
        ctx = self.ctx
        redemption = self._lock_pending(redemption_id)
        actor = ctx.actor
        redemption.status, redemption.fulfilled_at, redemption.verified_by_user_id = "fulfilled", ctx.now, actor.user_id
        reward = ctx.session.get(Reward, (redemption.tenant_id, redemption.reward_id))
        audit.record(
            ctx.session, ctx.tenant.id, "reward.fulfilled", actor_type=actor.type, actor_id=actor.id,
            entity_type="reward_redemption", entity_id=redemption.id,
            before={"status": "pending"}, after={"status": "fulfilled"},
        )
        customer = ctx.session.get(Customer, (redemption.tenant_id, redemption.customer_id))
        notify(ctx.session, ctx.outbox, ctx.tenant, customer, say("redemption_fulfilled_notice", reward=reward.name, vendor=ctx.tenant.name))

    def cancel(self, redemption_id: str) -> None:
        """Cancel with a refund of the points and the unit of stock."""
        ctx = self.ctx
        redemption = self._lock_pending(redemption_id)
        give_back(ctx.session, ctx.outbox, ctx.tenant, redemption, "cancelled", ctx.now, actor=ctx.actor)

    def expire(self, redemption_id: uuid.UUID) -> bool:
        """Expire one pending redemption past its validity (the scheduled job): refund, restock,
        tell the customer. False if it was used or cancelled meanwhile."""
        ctx = self.ctx
        redemption = _lock_with_customer(ctx.session, ctx.tenant.id, redemption_id)
        if redemption is None or redemption.status != "pending" or redemption.expires_at > ctx.now:
            return False
        give_back(ctx.session, ctx.outbox, ctx.tenant, redemption, "expired", ctx.now)
        return True

    def _lock_pending(self, redemption_id: str) -> RewardRedemption:
        """The redemption locked; Refused code_not_pending when it was used, cancelled or expired
        while staff looked at it."""
        ctx = self.ctx
        redemption = _lock_with_customer(ctx.session, ctx.tenant.id, uuid.UUID(redemption_id))
        if redemption.status != "pending" or redemption.expires_at <= ctx.now:
            raise Refused("code_not_pending")
        return redemption


def give_back(
    session: Session, outbox: list, tenant: Tenant, redemption: RewardRedemption, status: str, now: datetime,
    actor: Actor | None = None,
) -> None:
    """Cancel or expire a pending redemption: the points come back as new ledger rows, one per
    lot the redemption consumed and with that lot's expiry, and the unit goes back in stock.
    Points whose lot expired meanwhile expire again at once, and the customer is told so: they
    hear what they can spend."""
    customer = session.get(Customer, (redemption.tenant_id, redemption.customer_id), with_for_update=ROW_LOCK)
    reward = session.get(Reward, (redemption.tenant_id, redemption.reward_id))
    consumed = session.execute(
        select(PointsLotAllocation.points, PointsTransaction.expires_at)
        .join(PointsTransaction, (PointsTransaction.tenant_id == PointsLotAllocation.tenant_id) & (PointsTransaction.id == PointsLotAllocation.lot_id))
        .where(PointsLotAllocation.tenant_id == redemption.tenant_id, PointsLotAllocation.debit_id == redemption.debit_id)
    ).all()
    lapsed = 0  # refunded from lots past their expiry
    for taken, expires_at in consumed:
        points.refund(
            session, customer, taken, expires_at=expires_at, description=say("ledger.refund", reward=reward.name), now=now,
            reward_redemption_id=redemption.id,
        )
        if expires_at is not None and expires_at <= now:
            lapsed += taken
    session.execute(  # a unit back in a limited stock; an unlimited reward is not touched, nor locked
        update(Reward)
        .where(Reward.tenant_id == reward.tenant_id, Reward.id == reward.id, Reward.stock.is_not(None))
        .values(stock_used=Reward.stock_used - 1)
    )
    redemption.status, redemption.cancelled_at = status, now
    redemption.cancellation_reason = "expired unused" if status == "expired" else "cancelled by staff"
    redemption.verified_by_user_id = actor.user_id if actor else None
    audit.record(
        session, tenant.id, f"reward.{status}", actor_type=actor.type if actor else "system",
        actor_id=actor.id if actor else None, entity_type="reward_redemption", entity_id=redemption.id,
        points=redemption.points_deducted, before={"status": "pending"}, after={"status": status},
    )
    balance = points.spendable(session, customer, now)  # expires what came back past its expiry
    key = f"redemption_{status}_notice" if redemption.points_deducted else f"prize_{status}_notice"
    notify(session, outbox, tenant, customer, say(
        key, reward=reward.name, points=redemption.points_deducted - lapsed, balance=balance,
        lapsed=say("refund_lapsed", count=lapsed) if lapsed else "",
    ))


def due_redemptions(session: Session, now: datetime, limit: int = 500) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(tenant_id, id) of pending redemptions past their validity."""
    return [
        tuple(row)
        for row in session.execute(
            select(RewardRedemption.tenant_id, RewardRedemption.id)
            .where(RewardRedemption.status == "pending", RewardRedemption.expires_at <= now)
            .order_by(RewardRedemption.expires_at)
            .limit(limit)
        )
    ]


def _lock_with_customer(session: Session, tenant_id: uuid.UUID, redemption_id: uuid.UUID) -> RewardRedemption | None:
    """The redemption, locked after its customer: customer rows are always locked first (as the
    dispatcher does), so staff, the expiry job and the customer never wait on each other in a circle."""
    customer_id = session.scalar(
        select(RewardRedemption.customer_id).where(RewardRedemption.tenant_id == tenant_id, RewardRedemption.id == redemption_id)
    )
    if customer_id is None:
        return None
    session.get(Customer, (tenant_id, customer_id), with_for_update=ROW_LOCK, populate_existing=True)
    return session.get(RewardRedemption, (tenant_id, redemption_id), with_for_update=True, populate_existing=True)



