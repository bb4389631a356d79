"""The lucky wheel: who may spin, what pays for the spin, the draw, and the prize."""
from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import date
from random import Random

from sqlalchemy import case, func, or_, select, update

from bot.errors import Refused
from bot.messages import say
from bot.services import points
from bot.services.context import Context
from bot.services.rewards import at_limit, find_available, issue_code, take_unit
from bot.services.spins import move_spins
from bot.wheel import pick
from models import Customer, Reward, SpinHistory, WheelItem
from models.base import new_id

NO_PRIZE = "No prize"


@dataclass(frozen=True)
class Spins:
    free: int  # free spins left today
    earned: int  # from purchases and extra-spin prizes
    cost: int  # points for a bought spin; 0: spins cannot be bought

    @property
    def total(self) -> int:
        return self.free + self.earned


@dataclass(frozen=True)
class SpinResult:
    label: str
    kind: str  # points | reward | extra_spin | nothing
    prize: str  # what was won, in words
    code: str | None  # a reward's redemption code
    media_path: str  # the picture of the wheel stopped on it
    spins_left: int
    points: int = 0  # won, for a points prize


class WheelService:
    def __init__(self, ctx: Context, rng: Random | None = None):
        self.ctx = ctx
        self.rng = rng or secrets.SystemRandom()  # the OS's secure source; tests inject a seeded one

    @property
    def settings(self) -> dict | None:
        return self.ctx.tenant.settings.get("wheel")

    def spins(self) -> Spins:
        customer = self.ctx.require_customer()
        wheel = self.settings or {}
        used_free = self.ctx.session.scalar(
            select(func.count()).where(
                SpinHistory.tenant_id == customer.tenant_id,
                SpinHistory.customer_id == customer.id,
                SpinHistory.local_day == self._today(),
                SpinHistory.paid_by == "free",
            )
        )
        free = max(0, wheel.get("daily_free_spins", 0) - used_free)
        return Spins(free, customer.spin_credits, wheel.get("spin_cost_points", 0))

    def spin(self, message_sid: str, buy: bool = False, quoted: int | None = None) -> SpinResult:
        """Spend a spin (free first, then earned; with `buy`, points) and apply the prize, in this
        transaction; the customer row is locked by the dispatcher. Raises Refused (wheel_none,
        spin_not_enough_points, spin_none_left, or spin_price_changed when a bought spin no longer
        costs the `quoted` points) when the spin cannot be made, having changed nothing."""
        ctx = self.ctx
        customer = ctx.require_customer()
        if not self.settings:
            raise Refused("wheel_none")
        spins, spin_id = self.spins(), new_id()
        if spins.free:
            paid_by, spent = "free", 0
        elif spins.earned:
            paid_by, spent = "earned", 0
            move_spins(ctx.session, customer, -1, "used", ctx.now, spin_id=spin_id)
        elif buy and spins.cost:
            if quoted is not None and spins.cost != quoted:
                raise Refused("spin_price_changed", cost=spins.cost)
            if points.spendable(ctx.session, customer, ctx.now) < spins.cost:
                raise Refused("spin_not_enough_points")
            points.debit(ctx.session, customer, spins.cost, transaction_type="redeemed", source="spin",
                         description=say("ledger.spin_bought"), now=ctx.now)
            paid_by, spent = "points", spins.cost
        else:
            raise Refused("spin_none_left")
        items = self._items()
        won = pick(items, lambda item: item.weight, self.rng, self._claim)
        spins_left = spins.total - (paid_by != "points")
        return self._record(spin_id, customer, items, won, paid_by, spent, message_sid, spins_left)

    def _items(self) -> list[WheelItem]:
        return list(self.ctx.session.scalars(
            select(WheelItem)
            .where(WheelItem.tenant_id == self.ctx.tenant.id, WheelItem.is_active)
            .order_by(WheelItem.position)
        ))

    def _claim(self, item: WheelItem) -> bool:
        """Whether the drawn item can still be won; if so its win is counted.

        Only what is actually won is locked: the item's counters, then the reward's unit, each
        taken by a conditional UPDATE that locks nothing when it fails. So a spin never holds a
        lock on something it did not win, and parallel spins cannot deadlock. An item with
        neither stock nor daily cap is not counted, so it is never waited for."""
        reward = self._reward(item) if item.kind == "reward" else None
        if item.kind == "reward" and not self._may_have(reward):
            return False
        limited = item.stock is not None or item.daily_cap is not None
        if limited and not self._count_win(item, +1):
            return False
        if reward is not None and not take_unit(self.ctx.session, reward):
            if limited:  # the reward ran out in between: give the item its win back
                self._count_win(item, -1)
            return False
        return True

    def _may_have(self, reward: Reward | None) -> bool:
        """The reward is offered, has a unit left, and the customer may hold one more."""
        return _in_stock(reward) and not at_limit(self.ctx.session, reward, self.ctx.require_customer())

    def _count_win(self, item: WheelItem, change: int) -> bool:
        today = self._today()
        same_day = WheelItem.won_on == today
        statement = (
            update(WheelItem)
            .where(WheelItem.tenant_id == item.tenant_id, WheelItem.id == item.id)
            .values(
                won=WheelItem.won + change,
                won_today=case((same_day, WheelItem.won_today + change), else_=max(change, 0)),
                won_on=today,
            )
        )
        if change > 0:
            statement = statement.where(
                or_(WheelItem.stock.is_(None), WheelItem.won < WheelItem.stock),
                or_(WheelItem.daily_cap.is_(None), WheelItem.won_on.is_distinct_from(today), WheelItem.won_today < WheelItem.daily_cap),
            )
        return self.ctx.session.execute(statement).rowcount == 1

    def _reward(self, item: WheelItem) -> Reward | None:
        ctx = self.ctx
        reward_id = ctx.session.scalar(select(Reward.id).where(Reward.tenant_id == ctx.tenant.id, Reward.name == item.reward_name))
        return find_available(ctx.session, ctx.tenant.id, reward_id, ctx.now) if reward_id else None

    def _record(
        self, spin_id: uuid.UUID, customer: Customer, items: list[WheelItem], won: WheelItem | None, paid_by: str, spent: int,
        sid: str, spins_left: int,
    ) -> SpinResult:
        ctx = self.ctx
        code, redemption_id = None, None
        label, kind = (won.label, won.kind) if won else (NO_PRIZE, "nothing")
        prize = label
        if kind == "points":
            points.credit(
                ctx.session, ctx.tenant, customer, won.value, source="spin", description=say("ledger.wheel", label=label),
                now=ctx.now,
            )
            prize = f"{won.value} points"
        elif kind == "reward":
            redemption_id = new_id()
            issued = issue_code(ctx.session, ctx.tenant, customer, self._reward(won), ctx.now, redemption_id=redemption_id)
            code, prize = issued.code, won.reward_name
        elif kind == "extra_spin":
            move_spins(ctx.session, customer, 1, "won", ctx.now, spin_id=spin_id)
            spins_left += 1
        labels = [item.label for item in items] + ([] if won else [NO_PRIZE])
        winner = labels.index(label)
        ctx.session.add(SpinHistory(
            tenant_id=ctx.tenant.id, id=spin_id, customer_id=customer.id, wheel_item_id=won.id if won else None,
            label=label, kind=kind, prize=prize, paid_by=paid_by, points_spent=spent, local_day=self._today(),
            message_sid=sid, redemption_id=redemption_id, wheel=labels, winner=winner, created_at=ctx.now,
        ))
        ctx.session.flush()
        media = f"/media/spin/{ctx.tenant.id}/{spin_id}.png"
        return SpinResult(label, kind, prize, code, media, spins_left, won.value if kind == "points" else 0)

    def _today(self) -> date:
        return self.ctx.now.astimezone(self.ctx.zone).date()


def _in_stock(reward: Reward | None) -> bool:
    """The reward is offered now and has a unit left."""
    return reward is not None and (reward.stock is None or reward.stock_used < reward.stock)
