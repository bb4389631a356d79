"""The lucky wheel, missions, referrals and the leaderboard, through the webhook."""
from __future__ import annotations

import io
import math
import re
from collections import Counter
from datetime import timedelta
from random import Random
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from sqlalchemy import select, update

from bot.services.context import Context
from bot.services.tenants import load_tenant
from bot.services.wheel import WheelService
from bot.wheel import pick
from models import (
    Customer, Message, MissionCompletion, PointsTransaction, Referral, RewardRedemption, SpinHistory, Tenant, WheelItem,
)
from models.base import utcnow
from tests.conftest import PIN_PEPPER, PUBLIC_BASE_URL, balance_of, count, run_jobs, tenant_file

CUSTOMER, FRIEND = "+2348031234567", "+2348039990000"
BAYO, BAYO_PIN = "+2348030000002", "731205"


def wheel(*items, **settings):
    return {"daily_free_spins": 1, "spins_per_purchase": 1, "spin_min_amount": 1000, "spin_cost_points": 30,
            **settings, "items": list(items)}


def reload(db, **changes):
    with db.transaction() as session:
        load_tenant(session, tenant_file(**changes), pin_pepper=PIN_PEPPER)


@pytest.fixture
def member(phone, mama):
    me = phone(CUSTOMER)
    me.send("JOIN MAMA")
    return me


def log_purchase(phone, number, amount):
    bayo = phone(BAYO)
    sent = bayo.send(f"LOG {number} {amount}")
    if "PIN" in sent.text:
        bayo.send(BAYO_PIN)
    return bayo.send("1")


# The wheel


def test_spin_uses_the_free_spin_and_shows_the_wheel(member, db, app):
    reload(db, wheel=wheel({"label": "10 points", "type": "points", "value": 10, "weight": 1}))
    sent = member.send("SPIN")
    assert sent.replies[0].body == "You have 1 free spin today and 0 earned spins. Spinning..."
    assert sent.replies[1].body == "🎉 You won 10 points!\nSpins left: 0."
    [picture] = sent.replies[1].media
    image = Image.open(io.BytesIO(app.test_client().get(picture.removeprefix(PUBLIC_BASE_URL)).data))
    assert image.format == "PNG" and image.size == (480, 480)
    assert balance_of(db, CUSTOMER) == 60
    with db.sessions() as session:
        spin = session.scalars(select(SpinHistory)).one()
        ledger = session.scalars(select(PointsTransaction.source).order_by(PointsTransaction.created_at)).all()
    assert (spin.label, spin.kind, spin.paid_by, spin.prize, spin.message_sid) == ("10 points", "points", "free", "10 points", sent.sid)
    assert ledger == ["welcome", "spin"]


def test_spins_are_spent_free_first_then_earned_then_bought_after_confirming(member, phone, db):
    reload(db, wheel=wheel({"label": "Nothing", "type": "nothing", "weight": 1}))
    log_purchase(phone, CUSTOMER, 1000)  # earns one spin
    assert "1 free spin today and 1 earned spin." in member.send("SPIN").text
    assert "0 free spins today and 1 earned spin." in member.send("SPIN").text
    assert member.send("SPIN").text == "No spins left. Buy one for 30 points?\n1. Yes, spin\n2. No"
    before = balance_of(db, CUSTOMER)
    assert "The wheel stopped on: Nothing." in member.send("1").text
    assert balance_of(db, CUSTOMER) == before - 30
    with db.sessions() as session:
        paid = session.scalars(select(SpinHistory.paid_by).order_by(SpinHistory.created_at)).all()
    assert paid == ["free", "earned", "points"]


def test_a_small_purchase_earns_no_spin_and_spins_cannot_be_bought_when_cost_is_zero(member, phone, db):
    reload(db, wheel=wheel({"label": "Nothing", "type": "nothing", "weight": 1}, spin_cost_points=0))
    log_purchase(phone, CUSTOMER, 999)
    member.send("SPIN")
    assert member.send("SPIN").text == "No spins left today. Come back tomorrow, or earn spins with a purchase!"


def test_a_spin_price_changed_while_the_customer_confirms_is_said_and_nothing_is_spent(member, db):
    reload(db, wheel=wheel({"label": "Nothing", "type": "nothing", "weight": 1}))
    member.send("SPIN")
    assert "Buy one for 30 points?" in member.send("SPIN").text
    reload(db, wheel=wheel({"label": "Nothing", "type": "nothing", "weight": 1}, spin_cost_points=45))
    assert member.send("1").text == "A spin now costs 45 points. Nothing was spent: reply SPIN to buy one at that price."
    assert (balance_of(db, CUSTOMER), count(db, SpinHistory)) == (50, 1)


def test_buying_a_spin_without_the_points_changes_nothing(phone, mama, db):
    reload(db, welcome_bonus=0, wheel=wheel({"label": "Nothing", "type": "nothing", "weight": 1}))
    me = phone(CUSTOMER)
    me.send("JOIN MAMA")
    me.send("SPIN")
    me.send("SPIN")
    assert me.send("1").text == "You don't have enough points to buy a spin. Nothing was spent."
    assert count(db, SpinHistory) == 1


def test_reward_and_extra_spin_prizes(member, db, clock):
    reload(db, wheel=wheel({"label": "Zobo", "type": "reward", "reward": "Free Zobo drink", "weight": 1}))
    won = member.send("SPIN").text
    code = re.search(r"RD-[A-Z0-9]{6}", won).group()
    assert "You won Free Zobo drink! Your code is" in won
    with db.sessions() as session:
        redemption = session.scalars(select(RewardRedemption)).one()
    assert (redemption.redemption_code, redemption.points_deducted, redemption.debit_id) == (code, 0, None)
    assert code in member.send("CODES").text
    reload(db, wheel=wheel({"label": "Again", "type": "extra_spin", "weight": 1}), **{"rewards": tenant_file()["rewards"]})
    clock.advance(days=1)  # a new day: a new free spin
    assert "You won an extra spin!" in member.send("SPIN").text
    with db.sessions() as session:
        assert session.scalars(select(Customer.spin_credits)).one() == 1


def test_items_out_of_stock_or_over_the_daily_cap_are_left_out(phone, mama, db):
    items = [{"label": "Jackpot", "type": "points", "value": 500, "weight": 1000, "stock": 1},
             {"label": "Daily", "type": "points", "value": 50, "weight": 1000, "daily_cap": 1},
             {"label": "Nothing", "type": "nothing", "weight": 1}]
    reload(db, wheel=wheel(*items, daily_free_spins=5))
    me = phone(CUSTOMER)
    me.send("JOIN MAMA")
    labels = [spin_label(me) for _ in range(5)]
    assert sorted(labels[:2]) == ["Daily", "Jackpot"]  # almost surely first, then gone
    assert labels[2:] == ["Nothing"] * 3
    with db.sessions() as session:
        rows = {item.label: (item.won, item.won_today) for item in session.scalars(select(WheelItem))}
    assert rows["Jackpot"] == (1, 1) and rows["Daily"] == (1, 1)


def test_a_reward_prize_is_left_out_once_the_customer_holds_it_as_often_as_one_customer_may(phone, mama, db):
    jollof = {"label": "Jollof", "type": "reward", "reward": "Jollof rice plate", "weight": 1}  # 2 per customer
    reload(db, wheel=wheel(jollof, daily_free_spins=3))
    me = phone(CUSTOMER)
    me.send("JOIN MAMA")
    assert [spin_label(me) for _ in range(3)] == ["Jollof", "Jollof", "No prize"]
    assert count(db, RewardRedemption) == 2


def spin_label(phone) -> str:
    phone.send("SPIN")
    with phone.client.application.extensions["runtime"].db.sessions() as session:
        return session.scalars(select(SpinHistory.label).order_by(SpinHistory.created_at.desc()).limit(1)).one()


def test_without_any_prize_left_the_built_in_no_prize_is_drawn(member, db):
    reload(db, wheel=wheel({"label": "Jackpot", "type": "points", "value": 500, "weight": 1, "stock": 0}))
    assert "The wheel stopped on: No prize." in member.send("SPIN").text


def test_reloading_the_wheel_changes_future_spins_only(member, db):
    reload(db, wheel=wheel({"label": "10 points", "type": "points", "value": 10, "weight": 1}))
    member.send("SPIN")
    reload(db, wheel=wheel({"label": "20 points", "type": "points", "value": 20, "weight": 1}, daily_free_spins=2))
    member.send("SPIN")
    with db.sessions() as session:
        history = session.execute(select(SpinHistory.label, SpinHistory.wheel).order_by(SpinHistory.created_at)).all()
        active = session.scalars(select(WheelItem.label).where(WheelItem.is_active)).all()
    assert history == [("10 points", ["10 points"]), ("20 points", ["20 points"])]
    assert active == ["20 points"]


def test_a_replayed_spin_message_never_spins_twice(member, db):
    first = member.send("SPIN", sid="SMspin")
    again = member.send("SPIN", sid="SMspin")
    assert again.text == first.text
    assert count(db, SpinHistory) == 1


def chi_square_p_value(statistic: float, degrees: int) -> float:
    """P(X >= statistic) for a chi-square with `degrees` degrees of freedom: the regularised
    upper incomplete gamma Q(k/2, x/2), by its series (x small) or continued fraction."""
    a, x = degrees / 2, statistic / 2
    if x < a + 1:
        term = total = 1 / a
        n = a
        while term > total * 1e-15:
            n += 1
            term *= x / n
            total += term
        return 1 - total * math.exp(-x + a * math.log(x) - math.lgamma(a))
    b, c, d = x + 1 - a, 1e300, 1 / (x + 1 - a)
    h = d
    for i in range(1, 1000):
        an = -i * (i - a)
        b += 2
        d = 1 / (an * d + b)
        c = b + an / c
        h *= d * c
    return math.exp(-x + a * math.log(x) - math.lgamma(a)) * h


def draws(weights: dict[str, int], rng: Random, unavailable: set[str], n: int) -> Counter:
    return Counter(pick(list(weights), weights.get, rng, lambda item: item not in unavailable) for _ in range(n))


@pytest.mark.parametrize("gone", [set(), {"Zobo"}, {"Zobo", "Extra spin"}])
def test_draws_match_the_weights_including_after_an_item_runs_out(gone):
    weights = {"10 points": 60, "Zobo": 5, "Extra spin": 5, "Nothing": 30}
    counts = draws(weights, Random(20261122), gone, 100_000)
    live = {item: weight for item, weight in weights.items() if item not in gone}
    assert set(counts) == set(live)
    total = sum(live.values())
    statistic = sum((counts[item] - 100_000 * w / total) ** 2 / (100_000 * w / total) for item, w in live.items())
    assert chi_square_p_value(statistic, len(live) - 1) > 0.001


def test_the_chi_square_check_would_catch_a_biased_wheel():
    weights = {"a": 50, "b": 50}
    counts = Counter({"a": 51_000, "b": 49_000})  # 2% off over 100,000 draws
    statistic = sum((counts[k] - 50_000) ** 2 / 50_000 for k in weights)
    assert chi_square_p_value(statistic, 1) < 0.001


# Missions


def test_missions_show_progress_and_pay_once_per_period(member, phone, db, app):
    assert "Visit 3 times this month\n░░░░░░░░░░ 0/3 - 100 points" in member.send("MISSIONS").text
    for _ in range(4):
        log_purchase(phone, CUSTOMER, 1000)
    run_jobs(app)
    text = member.send("MISSIONS").text
    assert "Visit 3 times this month\n▓▓▓▓▓▓▓▓▓▓ 3/3 - done ✅" in text
    with db.sessions() as session:
        completions = session.execute(select(MissionCompletion.mission, MissionCompletion.period)).all()
    assert completions == [("Visit 3 times this month", utcnow().astimezone(ZoneInfo("Africa/Lagos")).strftime("%Y-%m"))]
    with db.sessions() as session:
        missions = session.scalars(select(PointsTransaction.points).where(PointsTransaction.source == "mission")).all()
    assert missions == [100]


def test_a_long_list_of_missions_comes_as_several_messages_of_whole_missions_each_one_twilio_takes(member, db):
    titles = [f"Visit {n} times this month for a treat" for n in range(1, 26)]
    reload(db, missions=[
        {"title": title, "type": "visit_count", "target": n, "period": "month", "points": 100}
        for n, title in enumerate(titles, start=1)
    ])
    replies = [reply.body for reply in member.send("MISSIONS").replies]
    assert len(replies) == 2 and all(len(body) <= 1600 for body in replies)
    assert replies[0].startswith("*Your missions*\n\nVisit 1 times this month for a treat\n░░░░░░░░░░ 0/1 - 100 points\n\nVisit 2")
    assert [line for line in "\n".join(replies).splitlines() if line.startswith("Visit")] == titles
    for body in replies:  # each title with its progress bar under it, in the same message
        lines = [line for line in body.splitlines() if line and line != "*Your missions*"]
        assert [line.startswith("Visit") for line in lines] == [True, False] * (len(lines) // 2)


def test_spend_mission_completes_when_the_purchase_reaches_the_target(member, phone, db, app):
    log_purchase(phone, CUSTOMER, 15000)
    done = log_purchase(phone, CUSTOMER, 5000).text
    with db.sessions() as session:
        assert session.scalars(select(MissionCompletion.mission)).all() == ["Spend 20,000 this week"]
    # The balance staff and the customer are told counts the mission's points, as BAL does.
    balance = balance_of(db, CUSTOMER)
    assert done.endswith(f"Their balance: {balance:,} points.") and balance == 50 + 170 + 50 + 150
    run_jobs(app)
    with db.sessions() as session:
        notices = session.scalars(select(Message.body).where(Message.triggered_by == "purchase_notice").order_by(Message.created_at)).all()
    assert f"Balance: {balance:,} points." in notices[-1]


# Referrals


def test_refer_gives_the_personal_link(member, db):
    with db.sessions() as session:
        code = session.scalars(select(Customer.member_code)).one()
    assert f"https://wa.me/14155238886?text=JOIN%20MAMA%20R-{code}" in member.send("REFER").text


def test_a_friend_joining_by_the_link_rewards_both_at_their_first_purchase_once(member, phone, db, app):
    with db.sessions() as session:
        code = session.scalars(select(Customer.member_code)).one()
    phone(FRIEND).send(f"JOIN MAMA R-{code}")
    assert count(db, Referral) == 1
    log_purchase(phone, FRIEND, 1000)
    log_purchase(phone, FRIEND, 1000)
    run_jobs(app)
    assert balance_of(db, CUSTOMER) == 50 + 50
    assert balance_of(db, FRIEND) == 50 + 30 + 10 + 50  # welcome, first purchase, second, referral
    with db.sessions() as session:
        assert session.scalars(select(MissionCompletion.mission)).all() == ["Bring a friend"]
    assert "Bring a friend\n▓▓▓▓▓▓▓▓▓▓ 1/1 - done ✅" in member.send("MISSIONS").text


def test_self_referral_and_referring_an_existing_member_do_nothing(member, phone, db):
    with db.sessions() as session:
        code = session.scalars(select(Customer.member_code)).one()
    member.send(f"JOIN MAMA R-{code}")
    friend = phone(FRIEND)
    friend.send("JOIN MAMA")
    friend.send(f"JOIN MAMA R-{code}")
    assert count(db, Referral) == 0


# Leaderboard


def test_top_shows_this_months_best_with_short_names_and_masked_phones(member, phone, db):
    phone(FRIEND).send("JOIN MAMA")
    with db.transaction() as session:
        session.execute(update(Customer).where(Customer.phone_number == FRIEND).values(whatsapp_name="Ada Okafor"))
    log_purchase(phone, FRIEND, 20000)
    text = member.send("TOP").text
    assert "1. Ada O. +234•••0000 - 420 points" in text  # welcome 50, purchase 220, spend mission 150
    assert "2. Chidi +234•••4567 - 50 points" in text
    assert text.endswith("You are number 2 with 50 points.")


def test_the_service_draws_with_the_random_source_it_is_given(member, db):
    items = [{"label": name, "type": "nothing", "weight": weight} for name, weight in (("A", 60), ("B", 30), ("C", 10))]
    reload(db, wheel=wheel(*items, daily_free_spins=40))
    with db.transaction() as session:
        customer = session.scalars(select(Customer).with_for_update()).one()
        ctx = Context(
            session=session, tenant=session.get(Tenant, customer.tenant_id), phone=CUSTOMER, now=utcnow(),
            pin_pepper=PIN_PEPPER, customer=customer,
        )
        service = WheelService(ctx, rng=Random(7))
        labels = [service.spin(f"SM{n}").label for n in range(40)]
    expected = Random(7)
    weights = {"A": 60, "B": 30, "C": 10}
    assert labels == [pick(list(weights), weights.get, expected, lambda item: True) for _ in range(40)]


def test_a_purchase_of_last_month_voided_after_midnight_takes_nothing_from_this_month(member, phone, db, clock):
    lagos = ZoneInfo("Africa/Lagos")
    local = utcnow().astimezone(lagos)
    next_month = (local.replace(day=28) + timedelta(days=4)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    clock.offset = next_month - timedelta(minutes=5) - utcnow()  # 23:55 on the month's last day
    log_purchase(phone, CUSTOMER, 20000)
    clock.offset = next_month + timedelta(minutes=3) - utcnow()  # 00:03, in the void window
    bayo = phone(BAYO)
    assert "1. Confirm" in bayo.send("VOID").text and "Voided" in bayo.send("1").text
    earned = re.search(r": ([\d,]+) points\.", log_purchase(phone, CUSTOMER, 10000).text).group(1)
    assert member.send("TOP").text.endswith(f"You are number 1 with {earned} points.")  # this month's purchase alone
