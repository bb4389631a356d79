"""Rewards catalog, redemption codes, staff verification and expiry, through the webhook."""
from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import pytest
from PIL import Image
from pyzbar.pyzbar import decode
from sqlalchemy import select, update

from bot.codes import ALPHABET
from bot.services import points
from bot.services.tenants import load_tenant
from models import (
    Customer, PointsLotAllocation, PointsTransaction, Reward, RewardRedemption, Tenant,
    Message,
)
from models.base import utcnow
from tests.conftest import EXAMPLE_TENANT, PIN_PEPPER, PUBLIC_BASE_URL, balance_of, count, run_jobs, tenant_file

CUSTOMER, BAYO, BAYO_PIN = "+2348031234567", "+2348030000002", "731205"
CODE = re.compile(rf"RD-[{ALPHABET}]{{6}}")


@pytest.fixture
def rich(phone, mama, db):
    """A member with 670 points."""
    me = phone(CUSTOMER)
    me.send("JOIN MAMA")
    give_points(db, 620)
    return me


def give_points(db, amount, number=CUSTOMER):
    with db.transaction() as session:
        customer = session.scalars(select(Customer).where(Customer.phone_number == number).with_for_update()).one()
        tenant = session.get(Tenant, customer.tenant_id)
        points.credit(session, tenant, customer, amount, source="test", description="Test points", now=utcnow())


def redemption(db) -> RewardRedemption:
    with db.sessions() as session:
        return session.scalars(select(RewardRedemption)).one()


def reward(db, name) -> Reward:
    with db.sessions() as session:
        return session.scalars(select(Reward).where(Reward.name == name)).one()


def redeem_jollof(me):
    me.send("REWARDS")
    me.send("2")
    return me.send("1")


def reload_rewards(db, rewards, **changes):
    with db.transaction() as session:
        load_tenant(session, tenant_file(rewards=rewards, wheel=None, **changes), pin_pepper=PIN_PEPPER)


def test_catalog_lists_rewards_with_cost_stock_and_what_is_missing(phone, mama):
    me = phone(CUSTOMER)
    me.send("JOIN MAMA")
    text = me.send("rewards").text
    assert "*Mama Put Kitchen rewards* (you have 50 points)" in text
    assert "1. Free Zobo drink - 100 points - 50 more points needed" in text
    assert "2. Jollof rice plate - 500 points (20 left) - 450 more points needed" in text
    assert me.send("CATALOG").text == text


def test_catalog_hides_inactive_out_of_window_and_sold_out_rewards(phone, mama, db):
    yesterday = (utcnow() - timedelta(days=2)).date().isoformat()
    reload_rewards(db, [
        {"name": "Soon", "points": 10, "valid_from": "2099-01-01"},
        {"name": "Gone", "points": 10, "valid_until": yesterday},
        {"name": "Off", "points": 10, "active": False},
        {"name": "Sold out", "points": 10, "stock": 0},
        {"name": "Puff puff", "points": 10},
    ])
    me = phone(CUSTOMER)
    me.send("JOIN MAMA")
    text = me.send("REWARDS").text
    assert "1. Puff puff" in text
    assert not any(name in text for name in ("Soon", "Gone", "Off", "Sold out"))


def test_more_than_nine_rewards_are_paged(phone, mama, db):
    reload_rewards(db, [{"name": f"Reward {n:02}", "points": 1000 + n} for n in range(1, 13)])
    me = phone(CUSTOMER)
    me.send("JOIN MAMA")
    first = me.send("REWARDS").text
    assert "9. Reward 09" in first and "Reward 10" not in first and "MORE for more" in first
    second = me.send("more").text
    assert "10. Reward 10" in second and "12. Reward 12" in second and "Reward 09" not in second


def test_a_page_of_long_reward_names_comes_as_several_messages_each_one_twilio_takes(phone, mama, db):
    """Nine names near their 255 characters make a 2,700-character page: it is cut between its
    lines, in order, each part at most the 1,600 characters of a WhatsApp message."""
    names = [f"Reward {n:02} " + "x" * 240 for n in range(1, 13)]
    reload_rewards(db, [{"name": name, "points": 1000 + n} for n, name in enumerate(names, start=1)])
    me = phone(CUSTOMER)
    me.send("JOIN MAMA")
    replies = [reply.body for reply in me.send("REWARDS").replies]
    assert len(replies) == 2 and all(len(body) <= 1600 for body in replies)
    assert replies[0].startswith("*Mama Put Kitchen rewards* (you have 50 points)")
    lines = "\n".join(replies).splitlines()
    assert [line.split(" - ")[0] for line in lines if line[:1].isdigit()] == [f"{n}. {names[n - 1]}" for n in range(1, 10)]
    assert "MORE for more" in replies[-1]


def test_redeeming_spends_points_takes_stock_and_gives_a_code_with_a_picture(rich, db, app):
    rich.send("REWARDS")
    confirm = rich.send("2")
    assert confirm.text == "Redeem Jollof rice plate for 500 points?\nBalance: 670 -> 170 points\n1. Confirm\n2. Cancel"
    done = rich.send("1")
    code = CODE.search(done.text).group()
    assert f"Your code for Jollof rice plate is *{code}*" in done.text and "Balance: 170 points." in done.text
    [media] = done.replies[0].media
    assert media.startswith(f"{PUBLIC_BASE_URL}/media/") and media.endswith(".png")
    found = redemption(db)
    assert (found.redemption_code, found.status, found.points_deducted) == (code, "pending", 500)
    assert timedelta(hours=23, minutes=59) < found.expires_at - utcnow() <= timedelta(hours=24)
    assert reward(db, "Jollof rice plate").stock_left == 19
    assert balance_of(db, CUSTOMER) == 170
    with db.sessions() as session:  # the earliest-expiring lot (the welcome bonus) went first
        taken = session.execute(
            select(PointsTransaction.source, PointsLotAllocation.points)
            .join(PointsTransaction, PointsTransaction.id == PointsLotAllocation.lot_id)
            .where(PointsLotAllocation.debit_id == found.debit_id)
            .order_by(PointsTransaction.created_at)
        ).all()
    assert taken == [("welcome", 50), ("test", 450)]
    picture = app.test_client().get(media.removeprefix(PUBLIC_BASE_URL))
    assert picture.status_code == 200
    assert [s.data.decode() for s in decode(Image.open(io.BytesIO(picture.data)))] == [code]
    assert app.test_client().get("/media/not-a-real-token.png").status_code == 404


def test_redeem_with_the_number_straight_away(rich, db):
    assert "Redeem Free Zobo drink for 100 points?" in rich.send("REDEEM 1").text
    assert CODE.search(rich.send("1").text)


def test_a_choice_is_a_number_maybe_with_a_dot_or_bracket_never_with_a_sign(rich, db):
    rich.send("REDEEM 2")
    assert rich.send("-1").text == "Reply 1 to confirm or 2 to cancel."
    assert count(db, RewardRedemption) == 0
    rich.send("REWARDS")
    assert "Redeem Jollof rice plate" in rich.send(" 2. ").text
    assert CODE.search(rich.send("1)").text)


def test_not_enough_points_is_said_before_asking_to_confirm(phone, mama, db):
    me = phone(CUSTOMER)
    me.send("JOIN MAMA")
    assert me.send("REDEEM 2").text == "You need 450 more points for Jollof rice plate. Choose another, or MENU."
    assert count(db, RewardRedemption) == 0


def test_every_failed_check_at_confirmation_changes_nothing_and_says_which(rich, db):
    rich.send("REDEEM 2")
    with db.transaction() as session:  # the last units went while the customer hesitated
        session.execute(update(Reward).where(Reward.name == "Jollof rice plate").values(stock=0))
    assert rich.send("1").text == "Sorry, that reward has just run out. Nothing was spent."
    assert (balance_of(db, CUSTOMER), count(db, RewardRedemption)) == (670, 0)
    with db.transaction() as session:
        session.execute(update(Reward).values(stock=None, is_active=True))
    rich.send("REDEEM 2")
    with db.transaction() as session:
        session.execute(update(Reward).where(Reward.name == "Jollof rice plate").values(is_active=False))
    assert "no longer available" in rich.send("1").text
    assert (balance_of(db, CUSTOMER), count(db, RewardRedemption)) == (670, 0)


def test_a_price_changed_while_the_customer_confirms_is_said_and_nothing_is_spent(rich, db):
    assert "for 500 points?" in rich.send("REDEEM 2").text
    with db.transaction() as session:  # the vendor raises the price before the customer says 1
        session.execute(update(Reward).where(Reward.name == "Jollof rice plate").values(points_required=600))
    assert rich.send("1").text == (
        "The shop has just changed Jollof rice plate to 600 points. Nothing was spent: reply REWARDS to choose again."
    )
    assert (balance_of(db, CUSTOMER), count(db, RewardRedemption)) == (670, 0)
    rich.send("REDEEM 2")
    assert rich.send("1").text.startswith("Done!")
    assert balance_of(db, CUSTOMER) == 70


def test_the_per_customer_limit_holds(rich, db):
    give_points(db, 1000)
    redeem_jollof(rich)
    redeem_jollof(rich)
    rich.send("REDEEM 2")
    assert "as many times as allowed" in rich.send("1").text
    assert count(db, RewardRedemption) == 2


def test_codes_lists_pending_codes(rich, db):
    code = CODE.search(redeem_jollof(rich).text).group()
    assert f"{code} - Jollof rice plate (until" in rich.send("CODES").text


def test_a_replayed_confirmation_makes_one_redemption_and_one_code(rich, db):
    rich.send("REDEEM 2")
    first = rich.send("1", sid="SMredeem")
    again = rich.send("1", sid="SMredeem")
    assert again.text == first.text
    assert count(db, RewardRedemption) == 1
    assert balance_of(db, CUSTOMER) == 170


@pytest.mark.parametrize("form", [
    "VERIFY {code}", "verify {lower}", "#VERIFY {nodash}", "Verify {body}", "VERIFY {wide}", "VERIFY {code} please",
    "verify code {lower}", "VERIFY member {code}",
])
def test_staff_verify_a_code_typed_any_way_and_hand_it_over(rich, phone, db, app, form):
    code = CODE.search(redeem_jollof(rich).text).group()
    bayo = phone(BAYO)
    wide = "".join(chr(ord(char) + 0xFEE0) for char in code)  # full-width, as some keyboards type
    typed = form.format(code=code, lower=code.lower(), nodash=code.replace("-", ""), body=code[3:], wide=wide)
    assert "PIN" in bayo.send(typed).text
    shown = bayo.send(BAYO_PIN).text
    assert shown.startswith(f"{code}: Jollof rice plate for Chidi, +2348031234567, valid until")
    assert bayo.send("1").text == "Done: marked as handed over. The customer has been told."
    run_jobs(app)
    found = redemption(db)
    assert found.status == "fulfilled" and found.fulfilled_at is not None and found.verified_by_user_id is not None
    again = bayo.send(f"VERIFY {code}").text
    assert again.startswith(f"{code} was already used on") and again.endswith("given by Bayo.")


def test_cancel_with_refund_gives_points_and_stock_back(rich, phone, db):
    code = CODE.search(redeem_jollof(rich).text).group()
    bayo = phone(BAYO)
    bayo.send(f"VERIFY {code}")
    bayo.send(BAYO_PIN)
    assert "points are back" in bayo.send("2").text
    assert redemption(db).status == "cancelled"
    assert balance_of(db, CUSTOMER) == 670
    assert reward(db, "Jollof rice plate").stock_left == 20
    with db.sessions() as session:
        kinds = session.scalars(select(PointsTransaction.transaction_type).where(PointsTransaction.transaction_type == "refunded")).all()
        assert points.ledger_mismatches(session) == []
    assert len(kinds) == 2  # one per lot the redemption had taken


def test_a_wheel_prize_cancelled_or_expired_is_said_to_give_no_points_back(phone, mama, db, clock):
    jollof = {"label": "Jollof", "type": "reward", "reward": "Jollof rice plate", "weight": 1}
    with db.transaction() as session:
        load_tenant(session, tenant_file(wheel={"daily_free_spins": 2, "items": [jollof]}), pin_pepper=PIN_PEPPER)
    me = phone(CUSTOMER)
    me.send("JOIN MAMA")
    cancelled, expired = (CODE.search(me.send("SPIN").text).group() for _ in range(2))
    bayo = phone(BAYO)
    bayo.send(f"VERIFY {cancelled}")
    assert "(a wheel prize)" in bayo.send(BAYO_PIN).text
    assert bayo.send("2").text == "Cancelled. A wheel prize gives no points back; the reward is back in stock."
    assert balance_of(db, CUSTOMER) == 50 and reward(db, "Jollof rice plate").stock_left == 19
    clock.advance(hours=24, minutes=1)
    bayo.send(f"VERIFY {expired}")
    assert bayo.send(BAYO_PIN).text == f"{expired} has expired and can't be used."


def test_a_code_from_another_vendor_reads_exactly_like_an_unknown_one(rich, phone, db):
    code = CODE.search(redeem_jollof(rich).text).group()
    with db.transaction() as session:
        load_tenant(session, tenant_file(
            code="SALON", name="Glow Salon", whatsapp_number="+2349010000000",
            staff=[{"name": "Bayo", "phone": BAYO, "pin": BAYO_PIN}],
        ), pin_pepper=PIN_PEPPER)
    at_salon = phone(BAYO, to="+2349010000000")
    at_salon.send(f"VERIFY {code}")
    other = at_salon.send(BAYO_PIN).text
    unknown = at_salon.send("VERIFY RD-ZZZZZZ").text
    assert other == f"No reward code {code} here. Check the letters and try again."
    assert unknown == "No reward code RD-ZZZZZZ here. Check the letters and try again."
    assert redemption(db).status == "pending"


def test_a_long_answer_to_verify_is_not_repeated_whole(phone, mama):
    bayo = phone(BAYO)
    bayo.send("VERIFY")
    bayo.send(BAYO_PIN)
    answer = bayo.send("x" * 1000).text
    assert f"{'X' * 20}…" in answer and "X" * 21 not in answer


def test_a_mistyped_code_is_asked_again_and_the_next_answer_is_read_as_a_code(rich, phone, db, clock):
    """"Check the letters and try again": the code typed again is read as a code, whether the
    wrong one answered "Which code?" or came with VERIFY, after the PIN or at once in a session."""
    code = CODE.search(redeem_jollof(rich).text).group()
    typo = code[:-1] + ("A" if code[-1] != "A" else "B")
    unknown = f"No reward code {typo} here. Check the letters and try again."
    bayo = phone(BAYO)
    bayo.send("VERIFY")
    bayo.send(BAYO_PIN)
    assert bayo.send(typo).text == unknown
    assert "1. Hand it over" in bayo.send(code).text
    assert bayo.send(f"VERIFY {typo}").text == unknown
    assert "1. Hand it over" in bayo.send(code).text
    clock.advance(minutes=11)  # the session is over
    bayo.send(f"VERIFY {typo}")
    for junk in ("ok", "wait"):  # not the PIN, and not tries either
        bayo.send(junk)
    assert bayo.send(BAYO_PIN).text == unknown
    assert "1. Hand it over" in bayo.send(code).text
    assert bayo.send("1").text == "Done: marked as handed over. The customer has been told."


def test_an_expired_code_is_refused_and_the_expiry_command_refunds_it(rich, phone, db, app, clock):
    code = CODE.search(redeem_jollof(rich).text).group()
    assert "Expired 0" in app.test_cli_runner().invoke(args=["redemptions", "expire"]).output
    clock.advance(hours=24, minutes=1)
    bayo = phone(BAYO)
    bayo.send(f"VERIFY {code}")
    assert "has expired and can't be used" in bayo.send(BAYO_PIN).text
    result = app.test_cli_runner().invoke(args=["redemptions", "expire"])
    assert result.exit_code == 0 and "Expired 1 redemption(s)." in result.output
    run_jobs(app)
    assert redemption(db).status == "expired"
    assert balance_of(db, CUSTOMER) == 670 and reward(db, "Jollof rice plate").stock_left == 20
    with db.sessions() as session:
        notices = session.scalars(select(Message.body).where(Message.direction == "outbound")).all()
    assert any("expired unused: 500 points are back" in body for body in notices)
    assert "Expired 0" in app.test_cli_runner().invoke(args=["redemptions", "expire"]).output


def test_points_refunded_from_lots_that_expired_meanwhile_expire_at_once_and_the_customer_is_told(rich, db, app, clock):
    """Redeemed an hour before the points' 180 days were up; the code expired a day later."""
    clock.advance(days=179, hours=23)
    redeem_jollof(rich)
    clock.advance(hours=25)
    cli = app.test_cli_runner()
    assert cli.invoke(args=["ledger", "expire"]).exit_code == 0
    assert "Expired 1 redemption(s)." in cli.invoke(args=["redemptions", "expire"]).output
    run_jobs(app)
    with db.sessions() as session:
        notice = session.scalars(select(Message.body).where(Message.body.like("%expired unused%"))).one()
        assert points.ledger_mismatches(session) == []
    assert notice == (
        "Your Jollof rice plate code expired unused: 0 points are back (500 points had expired meanwhile). Balance: 0 points."
    )
    assert balance_of(db, CUSTOMER) == 0
    assert rich.send("BAL").text.startswith("*Mama Put Kitchen*\nBalance: 0 points")


def test_reloading_the_file_deactivates_redeemed_rewards_and_deletes_the_others(rich, db):
    redeem_jollof(rich)
    reload_rewards(db, [{"name": "Puff puff", "points": 30}])
    with db.sessions() as session:
        rows = {r.name: r.is_active for r in session.scalars(select(Reward))}
    assert rows == {"Jollof rice plate": False, "Puff puff": True}


def test_stock_cannot_be_cut_below_what_was_redeemed(rich, app, db, tmp_path):
    redeem_jollof(rich)
    raw = json.loads(EXAMPLE_TENANT.read_text())
    raw["rewards"][1]["stock"] = 0
    path = tmp_path / "tenant.json"
    path.write_text(json.dumps(raw))
    result = app.test_cli_runner().invoke(args=["tenants", "load", str(path)])
    assert result.exit_code != 0 and "rewards.1.stock: 0 is below the 1 already redeemed" in result.output
    assert reward(db, "Jollof rice plate").stock == 20


def test_limiting_an_unlimited_reward_counts_the_units_already_held(rich, db):
    rich.send("REDEEM 1")
    rich.send("1")
    assert reward(db, "Free Zobo drink").stock_used == 0  # unlimited: no counter to contend for
    reload_rewards(db, [{"name": "Free Zobo drink", "points": 100, "stock": 5}])
    assert reward(db, "Free Zobo drink").stock_left == 4
