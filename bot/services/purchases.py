"""Purchases logged by staff, the points they earn, and voiding the last one."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from bot.codes import MEMBER_CODE
from bot.locales import language_of
from bot.money import Money, parse_amount, to_minor
from bot.outbound import notify
from bot.phones import InvalidPhone, to_e164
from bot.points_rules import PurchaseFacts, award, tier_for
from bot.services import audit, points
from bot.services.context import Context
from bot.services.customers import describe, enroll, greeting, route_phone
from bot.services.missions import complete_missions
from bot.services.referrals import reward_referral
from bot.services.rewards import nearest_reward
from flows.base import Msg, say
from models import Customer, CustomerPointsBalance, PointsTransaction, Purchase
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

    def read_customer(self, text: str) -> str | None:
        """A member code ('K7Q4XM'), or a phone in any form, in E.164; None if neither. A miss
        counts towards the staff phone's limit of wrong look-ups."""
        return self.ctx.limits.look_up(lambda: self._read_customer(text))

    def _read_customer(self, text: str) -> str | None:
        compact = re.sub(r"[\s\-().]", "", text).upper()
        if MEMBER_CODE.fullmatch(compact) and self._find(compact) is not None:
            return compact
        try:
            return to_e164(compact, self.ctx.tenant.country, strict=True)
        except InvalidPhone:
            return None

    def preview(self, who: str, amount: int) -> Preview:
        customer = self._find(who)
        balance = self._balance(customer) if customer else None
        facts = self._facts(customer, balance, amount)
        earned = sum(c.points for c in award(self._rules(), facts))
        label = describe(customer) if customer else who
        return Preview(label, Money(amount, self.currency), earned, customer is None)

    def log(self, who: str, amount: int) -> Logged:
        """Record the purchase, earn its points and tell the customer, in this transaction."""
        ctx, staff = self.ctx, self.ctx.staff
        customer = self._find(who, lock=True) or self._enroll(who)
        balance = self._balance(customer)
        contributions = award(self._rules(), self._facts(customer, balance, amount))
        earned = sum(c.points for c in contributions)
        purchase = Purchase(
            id=new_id(), tenant_id=ctx.tenant.id, customer_id=customer.id, amount=amount, currency=self.currency,
            logged_by_user_id=staff.id, logged_via="staff_pin", points_awarded=earned,
            points_breakdown=[c.to_json() for c in contributions], created_at=ctx.now,
        )
        ctx.session.add(purchase)
        ctx.session.flush()
        money = Money(amount, self.currency)
        if earned:
            points.credit(
                ctx.session, ctx.tenant, customer, earned, source="purchase", description=say("ledger.purchase", amount=money),
                now=ctx.now, created_by=staff.id, purchase_id=purchase.id,
            )
        customer.total_purchases += 1
        customer.total_spent += amount
        customer.last_purchase_at = ctx.now
        ctx.session.refresh(balance)
        audit.record(
            ctx.session, ctx.tenant.id, "purchase.logged", actor_type="vendor_user", actor_id=staff.id,
            entity_type="purchase", entity_id=purchase.id, amount=amount, points=earned,
        )
        self._notify(customer, say(
            "purchase_notice", vendor=ctx.tenant.name, amount=money, points=earned, balance=balance.current_balance,
            progress=nearest_reward(ctx.session, ctx.tenant.id, balance.current_balance, ctx.now),
        ))
        self._update_tier(customer, balance)
        self._engage(customer, amount)
        return Logged(purchase.id, describe(customer), money, earned, balance.current_balance)

    def _engage(self, customer: Customer, amount: int) -> None:
        """What a purchase also brings: wheel spins, a referral's reward, completed missions."""
        ctx = self.ctx
        wheel = ctx.tenant.settings.get("wheel") or {}
        if wheel.get("spins_per_purchase") and amount >= to_minor(wheel.get("spin_min_amount", 0), self.currency):
            customer.spin_credits += wheel["spins_per_purchase"]
        if customer.total_purchases == 1:
            reward_referral(ctx.session, ctx.outbox, ctx.tenant, customer, ctx.now)
        complete_missions(ctx.session, ctx.outbox, ctx.tenant, customer, ctx.now, {"visit_count", "spend_total"})

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

    def void(self, purchase_id: uuid.UUID) -> str:
        """Reverse the purchase by new ledger rows. Returns 'voided', or why not: 'void_expired'
        (too late, or already voided) or 'void_points_spent'."""
        ctx = self.ctx
        purchase = ctx.session.get(Purchase, (ctx.tenant.id, purchase_id), with_for_update=True)
        if purchase is None or purchase.status != "completed" or purchase.created_at <= ctx.now - VOID_WINDOW:
            return "void_expired"
        customer = ctx.session.get(Customer, (purchase.tenant_id, purchase.customer_id), with_for_update=True)
        lots = list(ctx.session.scalars(
            select(PointsTransaction).where(
                PointsTransaction.tenant_id == purchase.tenant_id,
                PointsTransaction.purchase_id == purchase.id,
                PointsTransaction.transaction_type == "earned",
            )
        ))
        if any(lot.remaining != lot.points for lot in lots):
            return "void_points_spent"
        money = Money(purchase.amount, purchase.currency)
        if purchase.points_awarded:
            points.debit(
                ctx.session, customer, purchase.points_awarded, transaction_type="reversed", source="void",
                description=say("ledger.void", amount=money), now=ctx.now, lots=lots, created_by=ctx.staff.id,
                purchase_id=purchase.id,
            )
        purchase.status, purchase.voided_at, purchase.voided_by_user_id = "voided", ctx.now, ctx.staff.id
        customer.total_purchases -= 1
        customer.total_spent -= purchase.amount
        balance = self._balance(customer)
        ctx.session.refresh(balance)
        customer.tier = _tier_name(tier_for(self._tiers(), balance.total_earned))
        audit.record(
            ctx.session, ctx.tenant.id, "purchase.voided", actor_type="vendor_user", actor_id=ctx.staff.id,
            entity_type="purchase", entity_id=purchase.id, points=purchase.points_awarded,
        )
        self._notify(customer, say(
            "void_notice", vendor=ctx.tenant.name, amount=money, points=purchase.points_awarded,
            balance=balance.current_balance,
        ))
        return "voided"

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

    def _find(self, who: str, lock: bool = False) -> Customer | None:
        """The customer by E.164 phone or member code; with `lock`, their row locked, so that
        purchases by several staff for one customer go one at a time."""
        key = Customer.phone_number if who.startswith("+") else Customer.member_code
        query = select(Customer).where(Customer.tenant_id == self.ctx.tenant.id, key == who)
        if lock:
            query = query.with_for_update().execution_options(populate_existing=True)
        return self.ctx.session.scalars(query).one_or_none()

    def _enroll(self, phone: str) -> Customer:
        """A phone not yet enrolled is enrolled by its purchase and welcomed; it has not
        agreed to offers, so it is not opted in to them until it says START."""
        ctx = self.ctx
        enrollment = enroll(ctx.session, ctx.tenant, phone, ctx.now, source="staff", consent=False)
        route_phone(ctx.session, phone, ctx.tenant, replace=False)
        if enrollment.created:
            self._notify(enrollment.customer, say(
                "welcome_by_staff", greeting=greeting(ctx.tenant),
                bonus=enrollment.bonus, code=ctx.tenant.vendor_code,
            ))
        return enrollment.customer

    def _balance(self, customer: Customer) -> CustomerPointsBalance:
        return self.ctx.session.get(CustomerPointsBalance, (customer.tenant_id, customer.id))

    def _update_tier(self, customer: Customer, balance: CustomerPointsBalance) -> None:
        tier = tier_for(self._tiers(), balance.total_earned)
        name = _tier_name(tier)
        if name == customer.tier:
            return
        customer.tier = name
        if tier is not None:
            self._notify(customer, say("tier_reached", vendor=self.ctx.tenant.name, tier=name))

    def _notify(self, customer: Customer, message: Msg) -> None:
        notify(self.ctx.session, self.ctx.outbox, self.ctx.tenant, customer, message)


def _tier_name(tier: dict | None) -> str | None:
    return tier["name"] if tier else None
