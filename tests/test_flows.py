"""Flows are pure step tables: here the rewards flow runs through the engine on a fake rewards
service (plain objects, no database), as tests/test_engine.py does for the engine itself."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace

from bot.catalog import render
from bot.errors import Refused
import flows.purchase as purchase_flow
from flows.base import State
from tests.test_engine import ENGINE, NOW, FakePoints, keys, message, services

CAKE = SimpleNamespace(id="r-cake", name="Cake", points=100, stock_left=None)
MEAL = SimpleNamespace(id="r-meal", name="Free meal", points=500, stock_left=3)


@dataclass
class FakeRewards:
    items: list = field(default_factory=lambda: [CAKE, MEAL])
    refusal: Refused | None = None  # what redeem says instead of redeeming
    redeemed: list[tuple[str, int | None]] = field(default_factory=list)

    def catalog(self):
        return list(self.items)

    def redeem(self, reward_id: str, quoted: int | None = None):
        if self.refusal:
            raise self.refusal
        self.redeemed.append((reward_id, quoted))
        name = next(item.name for item in self.items if item.id == reward_id)
        return SimpleNamespace(media_path=None, code="RW-7K2M", reward=name, expires_at=NOW + timedelta(days=7), balance=20)

    def pending_codes(self):
        return []


def chat(fake, *texts: str, state: State = State()):
    """Send the messages in turn; the state and replies after the last one."""
    replies = []
    for text in texts:
        state, replies = ENGINE.handle(state, message(text), fake, NOW)
    return state, replies


def test_rewards_lists_the_catalog_with_what_the_balance_affords():
    fake = services(rewards=FakeRewards(), points=FakePoints(balance_value=120))
    state, replies = chat(fake, "REWARDS")
    assert keys(replies) == ["rewards"] and (state.flow, state.step) == ("rewards", "choose")
    listing = render(replies[0])
    assert "1. Cake" in listing and "2. Free meal" in listing and "3 left" in listing


def test_choosing_then_confirming_redeems_through_the_service_once():
    rewards = FakeRewards()
    fake = services(rewards=rewards, points=FakePoints(balance_value=120))
    state, replies = chat(fake, "REWARDS", "1")
    assert keys(replies) == ["redeem_confirm"] and replies[0].params["after"] == 20
    assert rewards.redeemed == []  # nothing is spent before the confirmation
    state, replies = chat(fake, "1", state=state)
    assert keys(replies) == ["redeemed"] and replies[0].params["code"] == "RW-7K2M"
    assert rewards.redeemed == [("r-cake", 100)] and state.idle  # at the price the customer was shown


def test_redeem_with_a_number_goes_straight_to_the_confirmation():
    state, replies = chat(services(rewards=FakeRewards(), points=FakePoints(balance_value=900)), "REDEEM 2")
    assert keys(replies) == ["redeem_confirm"] and state.data["reward"] == "r-meal"


def test_a_reward_the_balance_cannot_pay_for_says_how_many_points_are_missing_and_spends_nothing():
    rewards = FakeRewards()
    state, replies = chat(services(rewards=rewards, points=FakePoints(balance_value=120)), "REWARDS", "2")
    assert keys(replies) == ["reward_missing_long"] and replies[0].params["points"] == 380
    assert state.step == "choose" and rewards.redeemed == []


def test_a_refusal_of_the_service_is_said_and_ends_the_flow():
    rewards = FakeRewards(refusal=Refused("redeem_out_of_stock"))
    state, replies = chat(services(rewards=rewards, points=FakePoints(balance_value=120)), "REWARDS", "1", "1")
    assert keys(replies) == ["redeem_out_of_stock"] and state.idle


def test_a_reward_gone_since_the_list_was_shown_is_unavailable():
    rewards = FakeRewards()
    fake = services(rewards=rewards, points=FakePoints(balance_value=900))
    state, _ = chat(fake, "REWARDS")
    rewards.items = [MEAL]  # the cake left the catalog meanwhile
    state, replies = chat(fake, "1", state=state)
    assert keys(replies) == ["redeem_unavailable"] and state.idle and rewards.redeemed == []


def test_an_amount_in_groups_is_read_whole_where_the_phone_could_end_either_way():
    """Phones of 9 or 10 digits, as in Cambodia: `012 345 678 1 500` is 1,500 for 012 345 678."""
    def read_phone(text: str) -> str | None:
        return text if len(text.replace(" ", "")) in (9, 10) else None

    split = purchase_flow._split
    assert split("012 345 678 1 500".split(), read_phone) == ("012 345 678", "1 500")
    assert split("012 345 678 500".split(), read_phone) == ("012 345 678", "500")
