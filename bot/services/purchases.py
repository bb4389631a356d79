"""Purchases logged by staff, the points they earn, and voiding the last one."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.codes import MEMBER_CODE
from bot.db import update_loaded, write_rows
from bot.errors import Refused
from bot.locales import language_of
from bot.messages import Msg, say
from bot.money import Money, check_amount, parse_amount, to_minor
from bot.outbound import notify
from bot import phones
from bot.points_rules import MAX_POINTS_PER_PURCHASE, Contribution, PurchaseFacts, award, tier_for, tier_name
from bot.services import audit, points, voids
from bot.services.context import Context
from bot.services.customers import (
    Enrollment, Named, describe, enroll, find_member, greeting, lock_customers, lock_member, route_phone,
)
from bot.services.missions import complete_missions
from bot.services.referrals import reward_referral
from bot.services.rewards import nearest_reward
from bot.services.spins import move_spins
from models import Customer, CustomerPointsBalance, Purchase
from models.base import new_id

VOID_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class Preview:
    customer: str  # how the staff member sees the customer
    amount: Money
    points: int
    new_customer: bool


@dataclass(frozen=True)
class Logged:
    purchase_id: uuid.UUID
    customer: str
    amount: Money
    points: int
    balance: int
    customer_id: uuid.UUID
    created_at: datetime


@dataclass(frozen=True)
class Voidable:
    purchase_id: uuid.UUID
    customer: str
    amount: Money
    points: int


class PurchaseService:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    @property
    def currency(self) -> str:
        return self.ctx.tenant.currency

    @property
    def _maximum_major(self) -> int:
        return self.ctx.tenant.settings.get("max_purchase_amount", 10_000_000)

    @property
    def maximum(self) -> Money:
        return Money(to_minor(self._maximum_major, self.currency), self.currency)

    def read_amount(self, text: str) -> int:
        """Minor units; raises AmountError with the reason as a catalog key."""
        return parse_amount(text, self.currency, self._maximum_major, language_of(self.ctx.tenant))

    def check_amount(self, minor: int) -> int:
        """An amount already in minor units (as the API takes them), within the same bounds."""
        return check_amount(minor, self.currency, self._maximum_major)

    def read_customer(self, text: str) -> str | None:
        """A member code ('K7Q4XM'), or a phone in any form, in E.164; None if neither. Only what
        is shaped like one is looked up, and a member code nobody has (and no phone) counts
        towards the staff phone's limit of wrong look-ups: "ok" or "back" looks nothing up."""
        compact, phone = phones.compact(text).upper(), self.read_phone(text)
        code = compact if MEMBER_CODE.fullmatch(compact) else None
        if code is None and phone is None:
            return None
        return self.ctx.limits.look_up(lambda: code if code and self._find(code) is not None else phone)

    def read_phone(self, text: str) -> str | None:
        """A phone in any form, in E.164, or None: read, not looked up, so never a wrong look-up."""
        return phones.typed_phone(text, self.ctx.tenant.country)

    def preview(self, who: str, amount: int) -> Preview:
        found = self._find(who)
        customer, balance = (found.customer, found.balance) if found else (None, None)
        earned = sum(c.points for c in self._contributions(customer, balance, amount))
        label = describe(customer) if customer else who
        return Preview(label, Money(amount, self.currency), earned, customer is None)

    def log(self, who: str, amount: int, new: bool = False) -> Logged:
        """Record the purchase, earn its points and tell the customer, in this transaction.
        Everything the purchase causes names it, so that a void can take it back. The actor is
        the staff member in their PIN session, or the vendor's API key. `new`: the preview found
        no such member, so where the context allows blind writes the phone is enrolled without
        being looked up first, its row a write that waits (two round trips less); one enrolled
        since fails the transaction, and the message's second run, looking first, finds it."""
        ctx, actor = self.ctx, self.ctx.actor
        customer, referrer, balance = self._customer(who, amount, new)
        before = balance.current_balance
        contributions = self._contributions(customer, balance, amount)
        earned = sum(c.points for c in contributions)
        purchase_id = new_id()
        write_rows(ctx.session, Purchase, {
            "id": purchase_id, "tenant_id": ctx.tenant.id, "customer_id": customer.id, "amount": amount,
            "currency": self.currency, "logged_by_user_id": actor.user_id, "logged_via": actor.via,
            "points_awarded": earned, "points_breakdown": [c.to_json() for c in contributions], "created_at": ctx.now,
        })
        money = Money(amount, self.currency)
        if earned:
            points.credit(
                ctx.session, ctx.tenant, customer, earned, source="purchase", description=say("ledger.purchase", amount=money),
                now=ctx.now, created_by=actor.user_id, purchase_id=purchase_id,
            )
        update_loaded(
            ctx.session, customer, total_purchases=customer.total_purchases + 1, total_spent=customer.total_spent + amount,
            last_purchase_at=ctx.now,
        )
        self._engage(customer, purchase_id, amount, referred=referrer is not None)
        shown = balance.current_balance  # every credit refreshes the row: the missions' and a referral's too
        audit.record(
            ctx.session, ctx.tenant.id, "purchase.logged", actor_type=actor.type, actor_id=actor.id,
            entity_type="purchase", entity_id=purchase_id, amount=amount, points=earned,
            before={"balance": before}, after={"balance": shown},
        )
        self._notify(customer, say(
            "purchase_notice", vendor=ctx.tenant.name, amount=money, points=earned, balance=shown,
            progress=nearest_reward(ctx.session, ctx.tenant.id, shown, ctx.now),
        ))
        self._update_tier(customer, balance)
        return Logged(purchase_id, describe(customer), money, earned, shown, customer.id, ctx.now)

    def _engage(self, customer: Customer, purchase_id: uuid.UUID, amount: int, referred: bool) -> None:
        """What a purchase also brings: wheel spins, a referral's reward (if someone `referred`
        the customer and is not paid yet), completed missions."""
        ctx = self.ctx
        wheel = ctx.tenant.settings.get("wheel") or {}
        if wheel.get("spins_per_purchase") and amount >= to_minor(wheel.get("spin_min_amount", 0), self.currency):
            move_spins(ctx.session, customer, wheel["spins_per_purchase"], "earned", ctx.now, purchase_id=purchase_id)
        if referred:  # the first purchase, or the next one after a void took the referral back
            reward_referral(ctx.session, ctx.outbox, ctx.tenant, customer, ctx.now, purchase_id)
        complete_missions(ctx.session, ctx.outbox, ctx.tenant, customer, ctx.now, {"visit_count", "spend_total"}, purchase_id)

    def get(self, purchase_id: uuid.UUID) -> Purchase | None:
        """One of this vendor's purchases; another vendor's is as unknown as a made-up id."""
        return self.ctx.session.get(Purchase, (self.ctx.tenant.id, purchase_id))

    def last_voidable(self) -> Voidable | None:
        """This staff member's last purchase, if logged in the last 15 minutes and not voided."""
        purchase = self.ctx.session.scalars(
            select(Purchase)
            .where(
                Purchase.tenant_id == self.ctx.tenant.id,
                Purchase.logged_by_user_id == self.ctx.staff.id,
                Purchase.created_at > self.ctx.now - VOID_WINDOW,
            )
            .order_by(Purchase.created_at.desc())
            .limit(1)
        ).one_or_none()
        if purchase is None or purchase.status != "completed":
            return None
        customer = self.ctx.session.get(Customer, (purchase.tenant_id, purchase.customer_id))
        return Voidable(purchase.id, describe(customer), Money(purchase.amount, purchase.currency), purchase.points_awarded)

    def void(self, purchase_id: uuid.UUID) -> None:
        """Reverse everything the purchase caused (see bot/services/voids.py). Raises Refused,
        having changed nothing: void_expired (too late, or already voided), or what was already
        used (void_points_spent, void_referrer_spent, void_spins_used)."""
        ctx = self.ctx
        key = (ctx.tenant.id, purchase_id)
        purchase = ctx.session.get(Purchase, key)
        if purchase is None:
            raise Refused("void_expired")
        customers = lock_customers(ctx.session, ctx.tenant.id, voids.reached(ctx.session, purchase))
        purchase = ctx.session.get(Purchase, key, with_for_update=True, populate_existing=True)
        if purchase.status != "completed" or purchase.created_at <= ctx.now - VOID_WINDOW:
            raise Refused("void_expired")
        voids.void_purchase(voids.Undo(ctx.session, ctx.outbox, ctx.tenant, purchase, ctx.actor, ctx.now, customers))

    # Helpers

    def _rules(self) -> list[dict]:
        return self.ctx.tenant.settings.get("points_rules", [])

    def _tiers(self) -> list[dict]:
        return self.ctx.tenant.settings.get("tiers", [])

    def _facts(self, customer: Customer | None, balance: CustomerPointsBalance | None, amount: int) -> PurchaseFacts:
        lifetime = balance.total_earned if balance else int(self.ctx.tenant.settings.get("welcome_bonus") or 0)
        return PurchaseFacts(
            amount=amount,
            currency=self.currency,
            number=(customer.total_purchases if customer else 0) + 1,
            local_date=self.ctx.now.astimezone(self.ctx.zone).date(),
            tier=tier_for(self._tiers(), lifetime),
        )

    def _contributions(self, customer: Customer | None, balance: CustomerPointsBalance | None, amount: int) -> list[Contribution]:
        """What each points rule gives for the purchase; Refused (log_too_many_points) when all
        together pass what one purchase may earn."""
        contributions = award(self._rules(), self._facts(customer, balance, amount))
        earned = sum(c.points for c in contributions)
        if earned > MAX_POINTS_PER_PURCHASE:
            raise Refused("log_too_many_points", points=earned, maximum=MAX_POINTS_PER_PURCHASE)
        return contributions

    def _find(self, who: str) -> Named | None:
        """The customer by E.164 phone or member code, with their balance."""
        return find_member(self.ctx.session, self.ctx.tenant.id, who)

    def _customer(self, who: str, amount: int, new: bool) -> tuple[Customer, uuid.UUID | None, CustomerPointsBalance]:
        """The customer the purchase is for, their row locked, their referrer's id if any, and
        their balance row. A phone not yet enrolled is enrolled (once its purchase is known to
        be one that may be logged): a row new in this transaction is its own, and nobody
        referred it (only joining records a referral). `new`: see log."""
        ctx = self.ctx
        blind = new and ctx.blind_writes
        found = None if blind else lock_member(ctx.session, ctx.tenant.id, who, ctx.now)
        if found is None:
            self._contributions(None, None, amount)  # refused before anything is written
            enrollment = self._enroll(who, blind)
            if enrollment.created:
                return enrollment.customer, None, enrollment.balance_row
            found = lock_member(ctx.session, ctx.tenant.id, who, ctx.now)  # enrolled by another transaction meanwhile
        if found.past_expiry:
            # The balance the notice and staff are shown is what can be spent, as BAL says, even
            # before the hourly expiry has come round (it refreshes `found.balance`).
            points.expire_lots(ctx.session, found.customer, ctx.now)
        return found.customer, found.referrer, found.balance

    def _enroll(self, phone: str, blind: bool) -> Enrollment:
        """A phone not yet enrolled is enrolled by its purchase and welcomed; it has not
        agreed to offers, so it is not opted in to them until it says START."""
        ctx = self.ctx
        enrollment = enroll(ctx.session, ctx.tenant, phone, ctx.now, source="staff", consent=False, blind=blind)
        route_phone(ctx.session, phone, ctx.tenant, replace=False)
        if enrollment.created:
            self._notify(enrollment.customer, say(
                "welcome_by_staff", greeting=greeting(ctx.tenant),
                bonus=enrollment.bonus, code=ctx.tenant.vendor_code,
            ))
        return enrollment

    def _update_tier(self, customer: Customer, balance: CustomerPointsBalance) -> None:
        """The tier the lifetime points reach, the purchase's missions and referral bonus included
        (their credits refreshed `balance`)."""
        name = tier_name(self._tiers(), balance.total_earned)
        if name == customer.tier:
            return
        update_loaded(self.ctx.session, customer, tier=name)
        if name is not None:
            self._notify(customer, say("tier_reached", vendor=self.ctx.tenant.name, tier=name))

    def _notify(self, customer: Customer, message: Msg) -> None:
        notify(self.ctx.session, self.ctx.outbox, self.ctx.tenant, customer, message)
