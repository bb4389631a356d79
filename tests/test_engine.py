"""The engine and the flows are pure: here they run on fake services, without a database or HTTP."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from bot.catalog import render
from bot.engine import Engine
from bot.messages import Inbound, Msg
from flows import FLOWS, MAIN_MENU
from flows.base import State

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
ENGINE = Engine(FLOWS, MAIN_MENU)


@dataclass
class FakePoints:
    balance_value: int = 120

    def balance(self):
        return SimpleNamespace(balance=self.balance_value, earned=300, next_expiry_points=0, next_expiry_on=None, member_code="K7Q4XM")


@dataclass
class FakeStaff:
    session_open: bool = True
    pins: list[str] = field(default_factory=list)
    name: str = "Bayo"

    def locked_until(self):
        return None

    def has_pin(self) -> bool:
        return True

    def is_owner(self) -> bool:
        return False

    def hide_pin(self, text: str) -> str:
        return text.replace("731205", "•••")

    def in_session(self) -> bool:
        return self.session_open

    def check_pin(self, pin: str):
        self.pins.append(pin)
        self.session_open = pin == "731205"
        return SimpleNamespace(ok=self.session_open, attempts_left=4, locked_until=None, tried=True)


@dataclass
class FakePurchases:
    logged: list[tuple[str, int]] = field(default_factory=list)
    currency: str = "NGN"

    def read_amount(self, text: str) -> int:
        from bot.money import parse_amount

        return parse_amount(text, self.currency, 10_000_000)

    def read_customer(self, text: str) -> str | None:
        digits = "".join(c for c in text if c.isdigit())
        return f"+234{digits[1:]}" if len(digits) == 11 else None

    def read_phone(self, text: str) -> str | None:
        return self.read_customer(text) if text.replace(" ", "").isdigit() else None

    def preview(self, who: str, amount: int):
        return SimpleNamespace(customer=who, amount=f"₦{amount // 100:,}", points=amount // 10_000, new_customer=False)

    def log(self, who: str, amount: int, new: bool = False):
        self.logged.append((who, amount, new))
        return SimpleNamespace(customer=who, amount=f"₦{amount // 100:,}", points=amount // 10_000, balance=999)


def services(member: bool = True, staff: FakeStaff | None = None, **overrides) -> SimpleNamespace:
    fake = SimpleNamespace(
        member=member,
        is_staff=staff is not None,
        tenant=SimpleNamespace(name="Mama Put Kitchen", code="MAMA", greeting="Welcome!"),
        points=FakePoints(),
        staff=staff or FakeStaff(),
        purchases=FakePurchases(),
        now=NOW,
        local=lambda moment: moment,
    )
    for name, value in overrides.items():
        setattr(fake, name, value)
    return fake


def message(text: str) -> Inbound:
    return Inbound(sid="SMtest", phone="+2348031234567", to="+14155238886", channel="whatsapp", text=text)


def keys(replies: list[Msg]) -> list[str]:
    return [reply.key for reply in replies]


def test_bal_answers_the_balance_from_the_points_service_and_ends_the_flow():
    state, replies = ENGINE.handle(State(), message("bal"), services(points=FakePoints(balance_value=4321)), NOW)
    assert keys(replies) == ["balance"]
    assert replies[0].params["balance"] == 4321 and replies[0].params["vendor"] == "Mama Put Kitchen"
    assert state.idle and state.updated_at == NOW


def test_a_phone_that_has_not_joined_is_told_how_to():
    state, replies = ENGINE.handle(State(), message("BAL"), services(member=False), NOW)
    assert keys(replies) == ["not_member"] and replies[0].params["code"] == "MAMA"


def test_a_menu_number_starts_that_entry_of_the_menu():
    _, replies = ENGINE.handle(State(), message("1"), services(), NOW)
    assert keys(replies) == ["balance"]  # 1. My points


def test_three_answers_not_understood_bring_the_menu_back():
    state, fake = State(), services()
    for expected_misses in (1, 2):
        state, replies = ENGINE.handle(state, message("what?"), fake, NOW)
        assert keys(replies) == ["not_understood"] and state.misses == expected_misses
    state, replies = ENGINE.handle(state, message("what?"), fake, NOW)
    assert keys(replies) == ["too_many_misses", "menu"] and state.misses == 0
    assert "1. My points" in render(replies[1])


def test_a_flow_left_idle_for_half_an_hour_starts_over_with_a_notice():
    waiting = State(flow="log", step="confirm", data={"customer": "+2348031234567", "amount": 150000}, updated_at=NOW)
    later = NOW + timedelta(minutes=31)
    state, replies = ENGINE.handle(waiting, message("1"), services(staff=FakeStaff()), later)
    assert keys(replies)[0] == "session_expired"
    assert "log_done" not in keys(replies)


def test_staff_log_at_once_asks_to_confirm_then_logs_through_the_purchase_service():
    fake = services(member=False, staff=FakeStaff())
    state, replies = ENGINE.handle(State(), message("LOG 0803 123 4567 15000"), fake, NOW)
    assert keys(replies) == ["log_confirm"] and (state.flow, state.step) == ("log", "confirm")
    assert fake.purchases.logged == []
    state, replies = ENGINE.handle(state, message("1"), fake, NOW)
    assert keys(replies) == ["log_done"] and state.idle
    assert fake.purchases.logged == [("+2348031234567", 1_500_000, False)]  # the preview found them: not new


@pytest.mark.parametrize("text, named", [
    ("LOG 0803 123 4567 15000", "+2348031234567"),  # the phone, then the amount
    ("LOG 0803 123 4567 15 000", "+2348031234567"),  # an amount in groups
    ("log 08031234567", "+2348031234567"),  # the phone alone
    ("LOG K7Q4XM 15000", None),  # a member code: looked up as usual
    ("LOG 15000", None),
    ("LOG", None),
    ("BAL", None),
])
def test_the_phone_a_log_names_is_read_before_anything_is_looked_up(text, named):
    """For the dispatcher's first query to read that member (bot/engine.py, named_phone)."""
    assert ENGINE.named_phone(message(text), FakePurchases().read_phone) == named


def test_staff_without_an_open_session_are_asked_for_their_pin_and_the_answer_is_secret():
    staff = FakeStaff(session_open=False)
    fake = services(member=False, staff=staff)
    state, replies = ENGINE.handle(State(), message("LOG"), fake, NOW)
    assert keys(replies) == ["pin_prompt"] and state.step == "pin"
    assert ENGINE.is_secret(state, message("731205"), fake)
    state, replies = ENGINE.handle(state, message("731205"), fake, NOW)
    assert staff.pins == ["731205"] and keys(replies) == ["log_ask_customer"]


def test_customers_never_reach_staff_flows():
    fake = services(member=True)
    _, replies = ENGINE.handle(State(), message("LOG 0803 123 4567 15000"), fake, NOW)
    assert keys(replies) == ["not_understood"]
    assert fake.purchases.logged == []


def test_a_global_command_interrupts_a_flow_and_cancel_says_what_it_stopped():
    waiting = State(flow="log", step="amount", data={"customer": "+2348031234567"}, updated_at=NOW)
    state, replies = ENGINE.handle(waiting, message("cancel"), services(staff=FakeStaff()), NOW)
    assert keys(replies) == ["cancelled", "menu"] and state.idle


def test_an_empty_message_is_answered_and_changes_nothing():
    waiting = State(flow="log", step="amount", data={"customer": "+2348031234567"}, misses=1, updated_at=NOW)
    state, replies = ENGINE.handle(waiting, message("   "), services(staff=FakeStaff()), NOW)
    assert keys(replies) == ["empty_message"]
    assert (state.flow, state.step, state.misses) == ("log", "amount", 1)


def test_balance_expiry_line_is_added_when_points_expire():
    class Expiring(FakePoints):
        def balance(self):
            return SimpleNamespace(balance=80, earned=80, next_expiry_points=30, next_expiry_on=date(2027, 1, 5), member_code="K7Q4XM")

    _, replies = ENGINE.handle(State(), message("points"), services(points=Expiring()), NOW)
    assert keys(replies) == ["balance", "balance_expiry"]
    assert render(replies[1]) == "30 points expire on 05 Jan 2027."


@pytest.mark.parametrize("text, number", [
    ("2", 2), (" 2. ", 2), ("2)", 2), ("(2)", 2), ("*2*", 2), ("2\ufe0f\u20e3", 2), ("\u200b2", 2), ("２", 2), ("٢", 2),
    ("-1", None), ("+1", None), ("1.5", None), ("2 3", None), ("two", None), ("", None),
])
def test_a_choice_is_read_as_people_type_it_never_with_a_sign(text, number):
    """Digits in any script, with the decoration WhatsApp users add (a keycap emoji, bold); a
    sign makes it no choice, so "-1" confirms nothing."""
    assert message(text).number == number
