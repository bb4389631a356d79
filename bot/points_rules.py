"""The points engine: each rule a small pure function over the facts of one purchase.

Rules are applied in this order, whatever their order in the tenant file:
  1. per_amount_spent    `points` for every whole `per_amount` spent
  2. per_purchase        a fixed `points` per purchase
  3. first_purchase_bonus `points` on the customer's first purchase
  4. milestone           `points` on every `every`-th purchase
  5. campaign_multiplier the earning points of 1-2 times (`multiplier` - 1) extra, between
                         `starts` and `ends` (dates, inclusive, in the vendor's timezone)
  6. tier                the same for the customer's tier multiplier
Bonuses (3, 4) are never multiplied. Every rule may carry `min_amount`: below it, it gives
nothing. Amounts in the tenant file are in major units (naira, cedis); each contribution is
rounded down to whole points."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Callable, Mapping

from bot.money import to_minor


@dataclass(frozen=True)
class PurchaseFacts:
    amount: int  # minor units
    currency: str
    number: int  # 1 for the customer's first purchase
    local_date: date
    tier: Mapping | None = None  # {"name", "min_points", "multiplier"}


@dataclass(frozen=True)
class Contribution:
    rule: str
    points: int

    def to_json(self) -> dict:
        return {"rule": self.rule, "points": self.points}


def _per_amount_spent(rule: Mapping, facts: PurchaseFacts, base: int) -> int:
    return facts.amount // to_minor(rule["per_amount"], facts.currency) * rule["points"]


def _per_purchase(rule: Mapping, facts: PurchaseFacts, base: int) -> int:
    return rule["points"]


def _first_purchase_bonus(rule: Mapping, facts: PurchaseFacts, base: int) -> int:
    return rule["points"] if facts.number == 1 else 0


def _milestone(rule: Mapping, facts: PurchaseFacts, base: int) -> int:
    return rule["points"] if facts.number % rule["every"] == 0 else 0


def _campaign_multiplier(rule: Mapping, facts: PurchaseFacts, base: int) -> int:
    starts, ends = date.fromisoformat(str(rule["starts"])), date.fromisoformat(str(rule["ends"]))
    if not starts <= facts.local_date <= ends:
        return 0
    return _extra(base, rule["multiplier"])


def _extra(base: int, multiplier) -> int:
    return math.floor(base * (Decimal(str(multiplier)) - 1))


Rule = Callable[[Mapping, PurchaseFacts, int], int]
EARNING: dict[str, Rule] = {"per_amount_spent": _per_amount_spent, "per_purchase": _per_purchase}
BONUSES: dict[str, Rule] = {"first_purchase_bonus": _first_purchase_bonus, "milestone": _milestone}
MULTIPLIERS: dict[str, Rule] = {"campaign_multiplier": _campaign_multiplier}
RULE_TYPES = frozenset(EARNING) | frozenset(BONUSES) | frozenset(MULTIPLIERS)
# The most one purchase may earn: far above any sane programme (the dearest reward a file may
# set costs 100,000,000), and what keeps a balance within its column (2,147,483,647) for
# thousands of purchases. Past it, rules that earn millions per naira are a mistake to catch.
MAX_POINTS_PER_PURCHASE = 1_000_000


def contribution_name(rule: Mapping) -> str:
    """What a rule's contribution is recorded as, on the purchase: its name, else its type."""
    return rule.get("name") or rule["type"]


def award(rules: list[Mapping], facts: PurchaseFacts) -> list[Contribution]:
    """What each rule gives for this purchase, in the documented order; zero contributions left out."""
    contributions: list[Contribution] = []

    def apply(kinds: dict[str, Rule], base: int) -> None:
        for kind, function in kinds.items():
            for rule in rules:
                if rule["type"] == kind and facts.amount >= to_minor(rule.get("min_amount", 0), facts.currency):
                    contributions.append(Contribution(contribution_name(rule), function(rule, facts, base)))

    apply(EARNING, 0)
    base = sum(c.points for c in contributions)
    apply(BONUSES, base)
    apply(MULTIPLIERS, base)
    if facts.tier and facts.tier.get("multiplier", 1) != 1:
        contributions.append(Contribution(f"tier {facts.tier['name']}", _extra(base, facts.tier["multiplier"])))
    return [c for c in contributions if c.points > 0]


def tier_for(tiers: list[Mapping], lifetime_points: int) -> Mapping | None:
    """The highest tier whose minimum the customer's lifetime earned points reach."""
    reached = [tier for tier in tiers if lifetime_points >= tier["min_points"]]
    return max(reached, key=lambda tier: tier["min_points"], default=None)


def tier_name(tiers: list[Mapping], lifetime_points: int) -> str | None:
    tier = tier_for(tiers, lifetime_points)
    return tier["name"] if tier else None
