"""The points engine's rules and amount reading: pure functions."""
from __future__ import annotations

from datetime import date

import pytest

from bot.money import AmountError, format_money, parse_amount
from bot.points_rules import PurchaseFacts, award, tier_for
from bot.services.staff import pin_problem

RULES = [
    {"type": "first_purchase_bonus", "points": 20},  # listed first, applied third
    {"type": "per_amount_spent", "points": 1, "per_amount": 100},
]


def facts(amount_major=15000, number=2, day=date(2026, 11, 22), tier=None, currency="NGN"):
    return PurchaseFacts(amount=amount_major * 100, currency=currency, number=number, local_date=day, tier=tier)


def breakdown(rules, f):
    return [(c.rule, c.points) for c in award(rules, f)]


@pytest.mark.parametrize(
    "text, minor",
    [("15000", 1_500_000), ("15,000", 1_500_000), ("₦15,000", 1_500_000), ("15k", 1_500_000),
     ("15000.50", 1_500_050), ("NGN 15000", 1_500_000), ("N15000", 1_500_000), ("1.5k", 150_000)],
)
def test_amounts_are_read_in_the_forms_cashiers_type(text, minor):
    assert parse_amount(text, "NGN", 10_000_000) == minor


@pytest.mark.parametrize(
    "text, reason",
    [("0", "amount_zero"), ("-500", "amount_negative"), ("abc", "amount_not_a_number"), ("1,5", "amount_not_a_number"),
     ("10000001", "amount_too_large"), ("15.005", "amount_too_precise"), ("", "amount_not_a_number")],
)
def test_bad_amounts_are_refused_with_a_reason(text, reason):
    with pytest.raises(AmountError) as error:
        parse_amount(text, "NGN", 10_000_000)
    assert error.value.reason == reason


def test_zero_decimal_currencies_have_no_minor_units():
    assert parse_amount("5000", "XOF", 10_000_000) == 5000
    with pytest.raises(AmountError):
        parse_amount("5000.5", "XOF", 10_000_000)
    assert format_money(5000, "XOF") == "5,000\u00a0FCFA"
    assert format_money(1_500_050, "NGN") == "₦15,000.50"


def test_three_decimal_currencies_count_in_their_thousandths():
    assert parse_amount("12.505", "KWD", 10_000_000) == 12_505
    assert parse_amount("0.001", "KWD", 10_000_000) == 1
    assert format_money(12_505, "KWD") == "KWD\u00a012.505"


def test_a_zero_decimal_amount_grouped_with_dots_is_thousands():
    """As francophone West Africa writes 15.000 FCFA; an amount with decimals stays refused."""
    assert parse_amount("15.000", "XOF", 10_000_000) == 15_000
    assert parse_amount("1.500.000", "XOF", 10_000_000) == 1_500_000
    with pytest.raises(AmountError):
        parse_amount("15.5", "XOF", 10_000_000)


@pytest.mark.parametrize("minus", ["\u2212", "\u2013", "\u2014", "\uff0d"])
def test_an_amount_after_a_minus_sign_or_a_dash_is_negative(minus):
    with pytest.raises(AmountError) as error:
        parse_amount(f"{minus}15000", "NGN", 10_000_000)
    assert error.value.reason == "amount_negative"


def test_rules_apply_in_the_documented_order_whatever_the_file_order():
    assert breakdown(RULES, facts(number=1)) == [("per_amount_spent", 150), ("first_purchase_bonus", 20)]
    assert breakdown(RULES, facts(number=2)) == [("per_amount_spent", 150)]


def test_per_amount_spent_rounds_down():
    assert breakdown(RULES, facts(amount_major=199)) == [("per_amount_spent", 1)]
    assert breakdown(RULES, facts(amount_major=99)) == []


def test_milestone_every_nth_purchase():
    rules = [{"type": "milestone", "points": 50, "every": 5}, {"type": "per_purchase", "points": 3}]
    assert breakdown(rules, facts(number=5)) == [("per_purchase", 3), ("milestone", 50)]
    assert breakdown(rules, facts(number=6)) == [("per_purchase", 3)]


def test_min_amount_gates_a_rule():
    rules = [{"type": "per_purchase", "points": 10, "min_amount": 5000}]
    assert breakdown(rules, facts(amount_major=4999)) == []
    assert breakdown(rules, facts(amount_major=5000)) == [("per_purchase", 10)]


def test_campaign_multiplies_earning_points_not_bonuses_inside_its_dates():
    rules = RULES + [{"type": "campaign_multiplier", "multiplier": 2, "starts": "2026-12-01", "ends": "2026-12-24", "name": "Xmas"}]
    assert breakdown(rules, facts(number=1, day=date(2026, 12, 24))) == [
        ("per_amount_spent", 150), ("first_purchase_bonus", 20), ("Xmas", 150),
    ]
    assert breakdown(rules, facts(number=1, day=date(2026, 12, 25))) == [("per_amount_spent", 150), ("first_purchase_bonus", 20)]


def test_tier_multiplier_rounds_down():
    gold = {"name": "Gold", "min_points": 1000, "multiplier": "1.5"}
    assert breakdown(RULES, facts(amount_major=15100, tier=gold)) == [("per_amount_spent", 151), ("tier Gold", 75)]


def test_tier_comes_from_lifetime_points():
    tiers = [{"name": "Silver", "min_points": 500, "multiplier": 1}, {"name": "Gold", "min_points": 2000, "multiplier": 2}]
    assert tier_for(tiers, 499) is None
    assert tier_for(tiers, 500)["name"] == "Silver"
    assert tier_for(tiers, 5000)["name"] == "Gold"


@pytest.mark.parametrize("pin", ["1111", "000000", "1234", "123456", "4321", "98765", "12", "123456789", "12a4"])
def test_weak_or_malformed_pins_are_refused(pin):
    assert pin_problem(pin) is not None


@pytest.mark.parametrize("pin", ["482916", "731205", "1357", "12345670"])
def test_ordinary_pins_are_accepted(pin):
    assert pin_problem(pin) is None
