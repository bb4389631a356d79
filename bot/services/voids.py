"""What a purchase causes, and how a void takes it all back.

Every effect of a purchase is a row that names the purchase that caused it (`purchase_id`):
points (the customer's, and a referrer's), spin credits, mission completions (the customer's,
and a referrer's), a referral reward. A void finds them by that cause and reverses every one in
its transaction, or, when one was already used (points spent, spins spun), changes nothing and
says which. EFFECTS is the one list of them: a purchase that writes a row anywhere else makes
tests/test_void.py fail, so a new effect cannot be forgotten by the void. A mission a later
purchase completed also rests on the purchases that counted toward it: when it falls short
without the voided one, it goes too, with its points (missions.resting_on)."""
from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.errors import Refused
from bot.messages import say
from bot.money import Money
from bot.outbound import notify
from bot.points_rules import contribution_name, tier_name
from bot.services import audit, missions, points
from bot.services.context import Actor
from bot.services.spins import move_spins, unused_spins
from models import (
    AuditLog, Customer, CustomerPointsBalance, MissionCompletion, PointsLotAllocation, PointsTransaction, Purchase, Referral,
    SpinCredit, Tenant,
    Message,
)


@dataclass
class Undo:
    """One void in progress: what it reverses, and whom that reaches."""

    session: Session
    outbox: list
    tenant: Tenant
    purchase: Purchase
    actor: Actor  # the staff member in their PIN session, or the vendor's API key
    now: datetime
    customers: dict[uuid.UUID, Customer]  # all it reaches, locked
    points_back: Counter = field(default_factory=Counter)  # points taken back, by customer
    spins_back: Counter = field(default_factory=Counter)
    _rows: dict = field(default_factory=dict)
    _fallen: list[MissionCompletion] | None = None
    _lots: list[PointsTransaction] | None = None

    def rows(self, model) -> list:
        """The rows of `model` this purchase caused (read once, before anything is reversed)."""
        if model not in self._rows:
            self._rows[model] = list(self.session.scalars(
                select(model)
                .where(model.tenant_id == self.tenant.id, model.purchase_id == self.purchase.id)
                .execution_options(populate_existing=True)
            ))
        return self._rows[model]

    def fallen_missions(self) -> list[MissionCompletion]:
        """Missions another purchase completed that this one counted toward and that fall short
        without it (read once, before anything is reversed)."""
        if self._fallen is None:
            self._fallen = [
                completion
                for customer in self.customers.values()
                for completion in missions.resting_on(self.session, self.tenant, customer, self.purchase)
                if completion.purchase_id != self.purchase.id  # its own completions are among its rows
            ]
        return self._fallen

    def lots(self) -> list[PointsTransaction]:
        """The lots the purchase gave, and those of the missions that fall without it (read once,
        before anything is reversed). Not a lot another void took back already: a mission this
        purchase completed, taken back by the void of a purchase that had counted toward it."""
        if self._lots is None:
            fallen = [missions.paid_lot(self.session, completion) for completion in self.fallen_missions()]
            given = [row for row in self.rows(PointsTransaction) if row.transaction_type == "earned"] + [lot for lot in fallen if lot]
            reversed_already = _reversed(self.session, self.tenant.id, [lot.id for lot in given])
            self._lots = [lot for lot in given if lot.id not in reversed_already]
        return self._lots

    @property
    def money(self) -> Money:
        return Money(self.purchase.amount, self.purchase.currency)


@dataclass(frozen=True)
class Effect:
    model: type  # where the effect is recorded, each row with the purchase_id that caused it
    owners: tuple[str, ...]  # the columns naming the customers it reaches
    refusal: Callable[[Undo], str | None]  # why it cannot be taken back (a Refused reason), or None
    reverse: Callable[[Undo], None]


def _reversed(session: Session, tenant_id: uuid.UUID, lot_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Those of the lots a void's reversing entry has consumed."""
    if not lot_ids:
        return set()
    debit = PointsTransaction
    return set(session.scalars(
        select(PointsLotAllocation.lot_id)
        .join(debit, (debit.tenant_id == PointsLotAllocation.tenant_id) & (debit.id == PointsLotAllocation.debit_id))
        .where(PointsLotAllocation.tenant_id == tenant_id, PointsLotAllocation.lot_id.in_(lot_ids), debit.transaction_type == "reversed")
    ))


def _points_used(undo: Undo) -> str | None:
    for lot in undo.lots():
        if lot.remaining != lot.points:
            return "void_points_spent" if lot.customer_id == undo.purchase.customer_id else "void_referrer_spent"
    return None


def _take_back_points(undo: Undo) -> None:
    """One reversing entry per customer, consuming exactly the lots the purchase gave them."""
    by_customer = defaultdict(list)
    for lot in undo.lots():
        by_customer[lot.customer_id].append(lot)
    for customer_id, lots in by_customer.items():
        taken = sum(lot.points for lot in lots)
        points.debit(
            undo.session, undo.customers[customer_id], taken, transaction_type="reversed", source="void",
            description=say("ledger.void", amount=undo.money), now=undo.now, lots=lots, created_by=undo.actor.user_id,
            purchase_id=undo.purchase.id,
        )
        undo.points_back[customer_id] += taken


def _spins_given(undo: Undo) -> Counter:
    given = Counter()
    for row in undo.rows(SpinCredit):
        given[row.customer_id] += row.spins
    return given


def _spins_used(undo: Undo) -> str | None:
    for customer_id, spins in _spins_given(undo).items():
        if unused_spins(undo.session, undo.customers[customer_id], undo.purchase.id) < spins:
            return "void_spins_used"
    return None


def _take_back_spins(undo: Undo) -> None:
    for customer_id, spins in _spins_given(undo).items():
        move_spins(undo.session, undo.customers[customer_id], -spins, "reversed", undo.now, purchase_id=undo.purchase.id)
        undo.spins_back[customer_id] += spins


def _nothing_in_the_way(undo: Undo) -> None:
    return None


def _uncomplete_missions(undo: Undo) -> None:
    """The missions it completed, or helped complete, are not done any more: they can be
    completed, and paid, again. (Their points are taken back with the other points.)"""
    for completion in undo.rows(MissionCompletion) + undo.fallen_missions():
        undo.session.delete(completion)


def _unreward_referral(undo: Undo) -> None:
    """The friend has not made a first purchase after all: their next one rewards the referral."""
    for referral in undo.rows(Referral):
        referral.rewarded_at, referral.purchase_id = None, None


EFFECTS = (
    Effect(PointsTransaction, ("customer_id",), _points_used, _take_back_points),
    Effect(SpinCredit, ("customer_id",), _spins_used, _take_back_spins),
    Effect(MissionCompletion, ("customer_id",), _nothing_in_the_way, _uncomplete_missions),
    Effect(Referral, ("referrer_id", "referred_id"), _nothing_in_the_way, _unreward_referral),
)
# What a purchase also writes that is its record, not an effect: a void keeps it.
RECORDS = (Purchase, AuditLog, Message)


def reached(session: Session, purchase: Purchase) -> set[uuid.UUID]:
    """The customers the purchase's effects reach: its customer, and a referrer maybe."""
    found = {purchase.customer_id}
    for effect in EFFECTS:
        columns = [getattr(effect.model, name) for name in effect.owners]
        rows = session.execute(
            select(*columns).where(effect.model.tenant_id == purchase.tenant_id, effect.model.purchase_id == purchase.id)
        )
        found.update(value for row in rows for value in row)
    return found


def void_purchase(undo: Undo) -> None:
    """Reverse everything the purchase caused, with the customers it reached locked (in id
    order) by the caller. Raises Refused with what is in the way, having changed nothing."""
    for check in (_counted_later, *(effect.refusal for effect in EFFECTS)):
        refusal = check(undo)
        if refusal:
            raise Refused(refusal)
    for effect in EFFECTS:
        effect.reverse(undo)
    purchase, customer = undo.purchase, undo.customers[undo.purchase.customer_id]
    purchase.status, purchase.voided_at, purchase.voided_by_user_id = "voided", undo.now, undo.actor.user_id
    _restore_totals(undo, customer)
    balance = undo.session.get(CustomerPointsBalance, (customer.tenant_id, customer.id)).current_balance
    audit.record(
        undo.session, undo.tenant.id, "purchase.voided", actor_type=undo.actor.type, actor_id=undo.actor.id,
        entity_type="purchase", entity_id=purchase.id, points=sum(undo.points_back.values()),
        spins=sum(undo.spins_back.values()), before={"status": "completed"}, after={"status": "voided", "balance": balance},
    )
    _tell(undo)


def _counted_later(undo: Undo) -> str | None:
    """A later purchase of the customer earned a milestone (every n-th purchase) counting this
    one: without it, the purchases after would be numbered anew and the milestone paid again."""
    rules = undo.tenant.settings.get("points_rules", [])
    milestones = {contribution_name(rule) for rule in rules if rule["type"] == "milestone"}
    if not milestones:
        return None
    purchase = undo.purchase
    later = undo.session.scalars(select(Purchase.points_breakdown).where(
        Purchase.tenant_id == purchase.tenant_id, Purchase.customer_id == purchase.customer_id,
        Purchase.status == "completed", Purchase.created_at >= purchase.created_at, Purchase.id != purchase.id,
    ))
    if any(part["rule"] in milestones for breakdown in later for part in breakdown):
        return "void_counted_later"
    return None


def _restore_totals(undo: Undo, customer: Customer) -> None:
    """The counters as if the purchase had never been: count, spend, last visit, and the tier
    (from the lifetime points, which the reversal lowered)."""
    session, purchase = undo.session, undo.purchase
    customer.total_purchases -= 1
    customer.total_spent -= purchase.amount
    customer.last_purchase_at = session.scalar(
        select(func.max(Purchase.created_at)).where(
            Purchase.tenant_id == customer.tenant_id, Purchase.customer_id == customer.id, Purchase.status == "completed",
        )
    )
    balance = session.get(CustomerPointsBalance, (customer.tenant_id, customer.id), populate_existing=True)
    customer.tier = tier_name(undo.tenant.settings.get("tiers", []), balance.total_earned)


def _tell(undo: Undo) -> None:
    """The customer hears what was taken back; so does a referrer who lost a bonus."""
    for customer_id, customer in undo.customers.items():
        taken, spins = undo.points_back[customer_id], undo.spins_back[customer_id]
        balance = undo.session.get(CustomerPointsBalance, (customer.tenant_id, customer_id)).current_balance
        if customer_id == undo.purchase.customer_id:
            message = say(
                "void_notice", vendor=undo.tenant.name, amount=undo.money, points=taken, balance=balance,
                spins=say("void_notice_spins", spins=spins) if spins else "",
            )
        elif taken:
            message = say("void_referral_notice", vendor=undo.tenant.name, points=taken, balance=balance)
        else:
            continue
        notify(undo.session, undo.outbox, undo.tenant, customer, message)
