"""Staff PINs, purchase logging, the points engine and VOID, end to end through the webhook."""
from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from werkzeug.security import check_password_hash

from bot.codes import random_code
from bot.services import customers, points
from bot.services.tenants import load_tenant
from models import (
    AuditLog, Customer, CustomerPointsBalance, PinLockout, PointsLotAllocation, PointsTransaction, Purchase, Staff,
    Message,
)
from models.base import utcnow
from tests.conftest import PIN_PEPPER, Phone, balance_of, count, run_jobs, tenant_file

BAYO, BAYO_PIN = "+2348030000002", "731205"
ADA, ADA_PIN = "+2348030000001", "482916"
CUSTOMER = "+2348031234567"


@pytest.fixture
def bayo(phone, mama):
    return phone(BAYO)


@pytest.fixture
def member(phone, mama, db):
    phone(CUSTOMER).send("JOIN MAMA")
    with db.sessions() as session:
        return session.scalars(select(Customer).where(Customer.phone_number == CUSTOMER)).one()


def log_purchase(staff, text="LOG 0803 123 4567 15000", pin=BAYO_PIN):
    """LOG, the PIN when asked, then 1 to confirm; returns the last reply."""
    sent = staff.send(text)
    if "PIN" in sent.text:
        sent = staff.send(pin)
    assert "1. Confirm" in sent.text, sent.text
    return staff.send("1")


def outbound_to(db, number):
    with db.sessions() as session:
        return session.scalars(
            select(Message.body)
            .where(Message.direction == "outbound", Message.to_number == number)
            .order_by(Message.created_at)
        ).all()


def test_one_shot_log_enrols_a_new_phone_and_awards_points_by_the_rules(bayo, db, app):
    assert bayo.send("LOG 0803 123 4567 15000").text == "Hi Bayo, please send your staff PIN."
    confirm = bayo.send(BAYO_PIN)
    assert confirm.text.startswith("Log ₦15,000 for +2348031234567? They are new")
    assert "earn 170 points" in confirm.text  # 150 for the amount + 20 first purchase bonus
    done = bayo.send("1")
    assert done.text == "Logged ₦15,000 for +2348031234567: 170 points. Their balance: 220 points."
    run_jobs(app)
    with db.sessions() as session:
        purchase = session.scalars(select(Purchase)).one()
        staff = session.scalars(select(Staff).where(Staff.phone_number == BAYO)).one()
        customer = session.scalars(select(Customer)).one()
    assert (purchase.amount, purchase.currency, purchase.logged_via) == (1_500_000, "NGN", "staff_pin")
    assert purchase.logged_by_user_id == staff.id
    assert purchase.points_breakdown == [
        {"rule": "per_amount_spent", "points": 150}, {"rule": "first_purchase_bonus", "points": 20},
    ]
    assert (customer.source, customer.opted_in, customer.total_purchases, customer.total_spent) == ("staff", False, 1, 1_500_000)
    assert balance_of(db, CUSTOMER) == 220
    welcome, notice = outbound_to(db, CUSTOMER)
    assert "enrolled at the counter" in welcome and "50 welcome points" in welcome
    assert notice == (
        "Thanks for shopping at *Mama Put Kitchen*! ₦15,000 earned you 170 points. Balance: 220 points.\n"
        "280 more points for Jollof rice plate."
    )


def test_step_by_step_log_with_any_phone_format(bayo, member, db):
    assert "PIN" in bayo.send("#log").text
    assert bayo.send(BAYO_PIN).text == "Customer's phone number or member code?"
    assert "Amount spent?" in bayo.send("+234 (803) 123-4567").text
    confirm = bayo.send("₦2,500")
    assert confirm.text.startswith("Log ₦2,500 for Chidi, +2348031234567? They earn 45 points.")
    bayo.send("1")
    assert balance_of(db, CUSTOMER) == 50 + 45


def test_member_code_identifies_the_customer(bayo, member, db):
    log_purchase(bayo, f"LOG {member.member_code.lower()} 1000")
    assert balance_of(db, CUSTOMER) == 50 + 10 + 20


@pytest.mark.parametrize(
    "amount, reason",
    [
        ("0", "more than zero"), ("0.001", "more than zero"), ("₦0", "more than zero"), ("-200", "can't be negative"),
        ("lots", "not an amount"), ("20000000", "₦10,000,000 limit"), ("15.005", "more decimals"),
    ],
)
def test_bad_amounts_are_refused_and_asked_again(bayo, member, db, amount, reason):
    bayo.send("LOG 08031234567")
    bayo.send(BAYO_PIN)
    sent = bayo.send(amount)  # "0" is MENU elsewhere; asked for an amount, it is one
    assert reason in sent.text and sent.text.endswith("Amount spent? (like 15000, 15,000 or 15k)")
    assert "1. Confirm" in bayo.send("15000").text  # the flow is still there
    assert count(db, Purchase) == 0


def test_menu_still_works_where_an_amount_is_asked(bayo, member):
    bayo.send("LOG 08031234567")
    bayo.send(BAYO_PIN)
    assert "*Mama Put Kitchen* menu" in bayo.send("MENU").text


@pytest.mark.parametrize("text", ["LOG 0803 123 4567", "LOG +234 803 123 4567", "LOG 0803-123-4567"])
def test_a_one_shot_log_of_a_phone_alone_asks_for_the_amount(bayo, member, text):
    """The last group of the phone is not the amount (it was read as ₦4,567)."""
    bayo.send(text)
    assert bayo.send(BAYO_PIN).text == "Amount spent? (like 15000, 15,000 or 15k)"
    assert bayo.send("2500").text.startswith("Log ₦2,500 for Chidi, +2348031234567?")


@pytest.mark.parametrize("amount", ["0", "0.001"])
def test_a_one_shot_log_of_zero_says_it_must_be_above_zero(bayo, member, db, amount):
    bayo.send(f"LOG 0803 123 4567 {amount}")
    sent = bayo.send(BAYO_PIN)
    assert [reply.body for reply in sent.replies] == [
        "The amount must be more than zero.", "Amount spent? (like 15000, 15,000 or 15k)",
    ]
    assert bayo.send("1500").text.startswith("Log ₦1,500 for Chidi, +2348031234567?")
    assert count(db, Purchase) == 0


def test_one_shot_logs_are_not_wrong_look_ups(bayo, member):
    """Reading the whole of `LOG 0803 123 4567 1500` as a phone first must not count as a miss
    towards the limit of 10 wrong look-ups an hour."""
    log_purchase(bayo, "LOG 0803 123 4567 1500")
    for _ in range(11):
        assert "1. Confirm" in bayo.send("LOG 0803 123 4567 1500").text
        bayo.send("2")


def test_a_one_shot_log_of_a_member_code_alone_asks_for_the_amount(bayo, member):
    bayo.send(f"LOG {member.member_code}")
    assert bayo.send(BAYO_PIN).text == "Amount spent? (like 15000, 15,000 or 15k)"


def test_a_member_code_of_digits_only_is_the_member_not_an_amount(bayo, member, db):
    with db.transaction() as session:
        session.execute(update(Customer).where(Customer.id == member.id).values(member_code="234567"))
    bayo.send("LOG 234567")
    assert bayo.send(BAYO_PIN).text == "Amount spent? (like 15000, 15,000 or 15k)"


@pytest.mark.parametrize("rest", [
    "0803 123 4567 15 000", "+234 803 123 4567 1 500 000", "{code} 15 000", "{code} 15000", "+234 803 123 456 7 15 000",
])
def test_a_one_shot_log_reads_an_amount_typed_in_groups(bayo, member, rest):
    bayo.send("LOG " + rest.format(code=member.member_code))
    amount = "₦1,500,000" if "1 500 000" in rest else "₦15,000"
    assert bayo.send(BAYO_PIN).text.startswith(f"Log {amount} for Chidi, +2348031234567?")


def test_a_one_shot_log_with_a_broken_phone_keeps_nothing_from_it(bayo, member):
    bayo.send("LOG 0803 123 15000")
    assert bayo.send(BAYO_PIN).text == "Customer's phone number or member code?"
    assert bayo.send("08031234567").text == "Amount spent? (like 15000, 15,000 or 15k)"


def test_unreadable_customer_is_asked_again(bayo, member):
    bayo.send("LOG")
    bayo.send(BAYO_PIN)
    assert "couldn't read that" in bayo.send("my friend").text


def test_cancelling_at_confirmation_logs_nothing(bayo, member, db):
    bayo.send("LOG 08031234567 5000")
    bayo.send(BAYO_PIN)
    assert bayo.send("2").text == "Cancelled. Nothing was changed."
    assert count(db, Purchase) == 0


def test_the_pin_opens_a_ten_minute_session(bayo, member, clock):
    log_purchase(bayo)
    clock.advance(minutes=9)
    assert bayo.send("LOG 08031234567 1000").text.startswith("Log ₦1,000")  # no PIN asked
    bayo.send("2")
    clock.advance(minutes=1, seconds=1)
    assert "PIN" in bayo.send("LOG 08031234567 1000").text


def test_a_pin_is_never_stored_or_logged_in_clear(bayo, member, db, caplog):
    caplog.set_level(logging.DEBUG)
    log_purchase(bayo)
    bayo.send(ADA_PIN)  # a PIN-looking message outside a PIN question
    with db.sessions() as session:
        bodies = session.scalars(select(Message.body)).all()
        hashes = session.scalars(select(Staff.pin_hash)).all()
    assert not any(BAYO_PIN in body or ADA_PIN in body for body in bodies)
    assert bodies.count("[redacted: may contain a PIN]") == 2
    assert BAYO_PIN not in caplog.text and ADA_PIN not in caplog.text
    assert not any(BAYO_PIN in h or ADA_PIN in h for h in hashes)


def test_five_wrong_pins_lock_the_staff_member_for_fifteen_minutes(bayo, member, db, clock):
    bayo.send("LOG 08031234567 1000")
    for left in ("4 tries", "3 tries", "2 tries", "1 try"):
        assert f"{left} left" in bayo.send("999999").text
    assert "locked until" in bayo.send("999999").text
    assert "locked until" in bayo.send("LOG 08031234567 1000").text  # a new attempt is refused outright
    with db.sessions() as session:
        actions = session.scalars(select(AuditLog.action).where(AuditLog.action.like("staff.%"))).all()
        lockout = session.get(PinLockout, BAYO)
    assert actions.count("staff.pin_failed") == 5 and actions.count("staff.locked_out") == 1
    assert lockout.locked_until - utcnow() > timedelta(minutes=14)
    clock.advance(minutes=14)
    assert "locked until" in bayo.send("LOG 08031234567 1000").text
    clock.advance(minutes=1, seconds=1)
    assert "PIN" in bayo.send("LOG 08031234567 1000").text
    assert "1. Confirm" in bayo.send(BAYO_PIN).text


def test_the_lockout_is_kept_in_the_database_not_in_the_process(bayo, member, db, make_app):
    bayo.send("LOG 08031234567 1000")
    for _ in range(5):
        bayo.send("999999")
    restarted = make_app()
    assert "locked until" in Phone(restarted, BAYO).send("LOG").text


def test_customers_do_not_see_staff_commands(phone, member, db):
    assert "didn't get that" in phone(CUSTOMER).send("LOG 08031234567 1000").text
    assert "Log a purchase" not in phone(CUSTOMER).send("MENU").text
    assert count(db, Purchase) == 0


def test_staff_menu_lists_staff_entries(bayo):
    menu = bayo.send("MENU").text
    assert "1. Log a purchase" in menu and "2. Void my last purchase" in menu
    assert "PIN" in bayo.send("1").text


def test_staff_of_one_vendor_cannot_log_at_another(phone, mama, member, db):
    with db.transaction() as session:
        load_tenant(session, tenant_file(code="SALON", name="Glow Salon", whatsapp_number="+2349010000000", staff=[]))
    at_salon = phone(BAYO, to="+2349010000000")
    assert "To join its rewards, reply JOIN SALON" in at_salon.send("LOG 08031234567 1000").text
    assert count(db, Purchase) == 0


def test_staff_cannot_reach_another_vendors_customer_by_member_code(phone, mama, bayo, db):
    with db.transaction() as session:
        load_tenant(session, tenant_file(code="SALON", name="Glow Salon", whatsapp_number="+2349010000000", staff=[]))
    phone("+2348039999999", to="+2349010000000").send("JOIN SALON")
    with db.sessions() as session:
        code = session.scalars(select(Customer.member_code)).one()
    bayo.send("LOG")
    bayo.send(BAYO_PIN)
    assert "couldn't read that" in bayo.send(code).text


def test_a_replayed_confirmation_logs_once_and_notifies_once(bayo, member, db, app):
    bayo.send("LOG 08031234567 5000")
    bayo.send(BAYO_PIN)
    first = bayo.send("1", sid="SMconfirm")
    again = bayo.send("1", sid="SMconfirm")
    run_jobs(app)
    assert again.text == first.text
    assert count(db, Purchase) == 1
    assert len([body for body in outbound_to(db, CUSTOMER) if body.startswith("Thanks for shopping")]) == 1


def test_reaching_a_tier_sends_a_congratulation(phone, db, app):
    with db.transaction() as session:
        load_tenant(session, tenant_file(tiers=[{"name": "Silver", "min_points": 200, "multiplier": 1.5}]), pin_pepper=PIN_PEPPER)
    log_purchase(phone(BAYO), "LOG 08031234567 15000")
    run_jobs(app)
    assert "Congratulations! You've reached *Silver* at *Mama Put Kitchen*." in outbound_to(db, CUSTOMER)
    with db.sessions() as session:
        assert session.scalars(select(Customer.tier)).one() == "Silver"
    # Silver multiplies the next purchase's earning points: 10 + 5.
    log_purchase(phone(BAYO), "LOG 08031234567 1000")
    assert balance_of(db, CUSTOMER) == 220 + 15


def test_void_reverses_by_new_ledger_rows_and_tells_the_customer(bayo, member, db, app):
    log_purchase(bayo, "LOG 08031234567 15000")
    assert "Void ₦15,000 for Chidi, +2348031234567 (170 points)?" in bayo.send("VOID").text
    assert bayo.send("1").text.startswith("Voided. What it brought (points, spins, missions, referral bonus) was taken back")
    run_jobs(app)
    assert balance_of(db, CUSTOMER) == 50
    with db.sessions() as session:
        kinds = session.scalars(select(PointsTransaction.transaction_type).order_by(PointsTransaction.created_at)).all()
        purchase = session.scalars(select(Purchase)).one()
        customer = session.scalars(select(Customer)).one()
        total_earned = session.scalar(select(CustomerPointsBalance.total_earned))
    assert kinds == ["earned", "earned", "reversed"]
    assert purchase.status == "voided" and purchase.voided_at is not None
    assert (customer.total_purchases, customer.total_spent, total_earned) == (0, 0, 50)
    assert any("cancelled a purchase of ₦15,000" in body for body in outbound_to(db, CUSTOMER))
    assert bayo.send("VOID").text == "You have no purchase from the last 15 minutes to void."


def test_keeping_the_purchase_at_void_says_it_stays(phone, db):
    with db.transaction() as session:
        load_tenant(session, tenant_file(language="fr"), pin_pepper=PIN_PEPPER)
    bayo = phone(BAYO)
    log_purchase(bayo)
    assert bayo.send("VOID").text.endswith("1. Oui, l'annuler\n2. Non, le garder")
    assert bayo.send("2").text == "D'accord, l'achat reste tel quel."
    assert count(db, Purchase, Purchase.status == "voided") == 0


def test_void_is_refused_once_the_points_are_spent(bayo, member, db, mama):
    log_purchase(bayo, "LOG 08031234567 15000")
    with db.transaction() as session:  # the customer spends 180 of their 220 points
        customer = session.get(Customer, (member.tenant_id, member.id), with_for_update=True)
        points.debit(session, customer, 180, transaction_type="redeemed", source="test", description="Reward", now=utcnow())
    bayo.send("VOID")
    assert bayo.send("1").text == "Can't void: the customer has already spent those points."
    assert balance_of(db, CUSTOMER) == 40


def test_spending_takes_the_earliest_expiring_lots_first(bayo, member, db):
    log_purchase(bayo, "LOG 08031234567 15000")
    with db.transaction() as session:
        customer = session.get(Customer, (member.tenant_id, member.id), with_for_update=True)
        debit = points.debit(session, customer, 60, transaction_type="redeemed", source="test", description="Reward", now=utcnow())
        debit_id = debit.id
    with db.sessions() as session:
        allocations = session.execute(
            select(PointsTransaction.source, PointsLotAllocation.points)
            .join(PointsTransaction, PointsTransaction.id == PointsLotAllocation.lot_id)
            .where(PointsLotAllocation.debit_id == debit_id)
            .order_by(PointsTransaction.expires_at)
        ).all()
    assert allocations == [("welcome", 50), ("purchase", 10)]


def test_only_the_staff_member_who_logged_it_can_void_it_within_fifteen_minutes(phone, bayo, member, clock):
    log_purchase(bayo, "LOG 08031234567 15000")
    ada = phone(ADA)
    ada.send("VOID")
    assert ada.send(ADA_PIN).text == "You have no purchase from the last 15 minutes to void."
    clock.advance(minutes=16)
    assert "PIN" in bayo.send("VOID").text  # his session is over too
    assert bayo.send(BAYO_PIN).text == "You have no purchase from the last 15 minutes to void."


def test_ledger_check_passes_and_catches_a_tampered_balance(bayo, member, db, app):
    log_purchase(bayo)
    runner = app.test_cli_runner()
    good = runner.invoke(args=["ledger", "check"])
    assert good.exit_code == 0 and "0 mismatch(es)" in good.output
    with db.transaction() as session:
        session.execute(update(CustomerPointsBalance).values(current_balance=CustomerPointsBalance.current_balance + 1))
    bad = runner.invoke(args=["ledger", "check"])
    assert bad.exit_code == 1 and "MISMATCH" in bad.output


def test_staff_pin_command_prompts_and_refuses_weak_pins(app, mama, db):
    runner = app.test_cli_runner()
    weak = runner.invoke(args=["staff", "pin", "--tenant", "MAMA", "--phone", "08030000002"], input="1234\n1234\n")
    assert weak.exit_code != 0 and "too easy to guess" in weak.output
    good = runner.invoke(args=["staff", "pin", "--tenant", "mama", "--phone", "08030000002"], input="583920\n583920\n")
    assert good.exit_code == 0, good.output
    with db.sessions() as session:
        assert check_password_hash(session.scalars(select(Staff.pin_hash).where(Staff.phone_number == BAYO)).one(), "583920")
    unknown = runner.invoke(args=["staff", "pin", "--tenant", "MAMA", "--phone", "08030009999"], input="583920\n583920\n")
    assert unknown.exit_code != 0 and "not on MAMA's staff" in unknown.output


def test_a_pin_typed_where_the_customer_is_asked_is_not_taken_for_a_phone(bayo, member, db):
    bayo.send("LOG")
    bayo.send(BAYO_PIN)
    assert "couldn't read that" in bayo.send(ADA_PIN).text
    assert count(db, Customer) == 1


def test_joining_after_being_enrolled_at_the_counter_records_consent(bayo, phone, db):
    log_purchase(bayo)
    phone(CUSTOMER).send("JOIN MAMA")
    with db.sessions() as session:
        customer = session.scalars(select(Customer)).one()
    assert customer.opted_in is True and customer.opted_in_at is not None


def test_a_phone_that_joins_between_the_preview_and_the_confirmation_earns_as_the_member_it_is(bayo, phone, db, app):
    bayo.send("LOG 0803 123 4567 15000")
    assert "They are new" in bayo.send(BAYO_PIN).text
    phone(CUSTOMER).send("JOIN MAMA")
    done = bayo.send("1")
    assert done.text == "Logged ₦15,000 for Chidi, +2348031234567: 170 points. Their balance: 220 points."
    assert count(db, Customer) == 1 and balance_of(db, CUSTOMER) == 50 + 170
    run_jobs(app)
    assert sum("enrolled at the counter" in body for body in outbound_to(db, CUSTOMER)) == 0


def test_a_member_code_drawn_twice_is_drawn_again_and_the_purchase_logged(bayo, member, db, monkeypatch, caplog):
    """The preview found no member, so the new customer's row is written without looking: a
    member code already taken fails it, and the message runs once more, looking first."""
    drawn = iter([member.member_code])
    monkeypatch.setattr(customers, "random_code", lambda: next(drawn, None) or random_code())
    bayo.send("LOG 0803 999 0001 3000")
    assert "They are new" in bayo.send(BAYO_PIN).text
    with caplog.at_level(logging.INFO, logger="bot.dispatcher"):
        assert bayo.send("1").text.startswith("Logged ₦3,000 for +2348039990001")
    assert any("run once more, looking first" in record.getMessage() for record in caplog.records)
    with db.sessions() as session:
        enrolled = session.scalars(select(Customer).where(Customer.phone_number == "+2348039990001")).one()
    assert enrolled.member_code not in (None, member.member_code)
    assert (enrolled.total_purchases, enrolled.total_spent) == (1, 300_000)
    assert count(db, Purchase) == 1 and balance_of(db, "+2348039990001") == 50 + 30 + 20


def test_a_clash_met_again_when_looking_first_is_answered_as_an_error_after_two_runs(bayo, member, db, monkeypatch):
    drawn = iter([member.member_code])  # the blind run's code clashes
    monkeypatch.setattr(customers, "random_code", lambda: next(drawn, None) or random_code())
    second_runs = []

    def clash_again(*args):
        second_runs.append(args)
        raise IntegrityError("INSERT INTO customers", {}, Exception("a clash again"))

    monkeypatch.setattr(customers, "_insert_or_find", clash_again)
    bayo.send("LOG 0803 999 0001 3000")
    assert "They are new" in bayo.send(BAYO_PIN).text
    bayo.send("1", expect_error=True)
    assert len(second_runs) == 1  # the blind run, then one run looking first: no third
    assert count(db, Purchase) == 0 and count(db, Customer) == 1


def test_a_clash_in_a_run_that_wrote_nothing_blind_is_not_run_again(phone, member, db, monkeypatch):
    runs = []

    def clash(self):
        runs.append(self)
        raise IntegrityError("UPDATE customer_points_balance", {}, Exception("a clash"))

    monkeypatch.setattr(points.PointsService, "balance", clash)
    phone(CUSTOMER).send("BAL", expect_error=True)
    assert len(runs) == 1


def test_rules_that_would_earn_more_than_a_purchase_may_are_refused_before_anything_is_written(app, phone, db):
    with db.transaction() as session:
        load_tenant(session, tenant_file(points_rules=[{"type": "per_amount_spent", "points": 1_000_000, "per_amount": 1}]),
                    pin_pepper=PIN_PEPPER)
    bayo = phone(BAYO)
    bayo.send("LOG 0803 123 4567 3000")
    refused = bayo.send(BAYO_PIN)
    assert refused.text == (
        "That purchase would earn 3,000,000,000 points, more than one purchase may (1,000,000 points). "
        "Check the amount, or ask the owner to check the points rules.\nAmount spent? (like 15000, 15,000 or 15k)"
    )
    assert count(db, Purchase) == 0
    assert "earn 1,000,000 points" in bayo.send("1").text  # the amount is asked again, and ₦1 fits
    assert "Logged ₦1" in bayo.send("1").text and count(db, Purchase) == 1


def test_a_reply_that_echoes_control_characters_is_still_readable_twiml(bayo, phone, db):
    phone(CUSTOMER).post(phone(CUSTOMER).form("JOIN MAMA", ProfileName="Chidi\x07"))
    with db.sessions() as session:
        assert session.scalars(select(Customer.whatsapp_name)).one() == "Chidi"
    bayo.send("VERIFY AB\x07CD")  # send() parses the TwiML: a control character in it would fail here
    reply = bayo.post(bayo.form(BAYO_PIN)).get_data(as_text=True)
    assert "\x07" not in reply and "ABCD" in reply


def test_rules_changed_between_preview_and_confirm_refuse_the_purchase_and_enrol_nobody(bayo, db):
    bayo.send("LOG 0803 999 0000 3000")
    assert "1. Confirm" in bayo.send(BAYO_PIN).text
    with db.transaction() as session:
        load_tenant(session, tenant_file(points_rules=[{"type": "per_amount_spent", "points": 1_000_000, "per_amount": 1}]),
                    pin_pepper=PIN_PEPPER)
    assert bayo.send("1").text.startswith("That purchase would earn 3,000,000,000 points")
    assert count(db, Purchase) == 0 and count(db, Customer, Customer.phone_number == "+2348039990000") == 0
    assert outbound_to(db, "+2348039990000") == []  # no welcome for an enrolment that did not happen


def test_the_member_the_first_query_read_for_a_command_is_taken_once_for_that_phone_alone(phone, mama, db):
    """What the dispatcher's first query read of the member a command named (on PostgreSQL:
    bot/services/customers.py, keep_named_read) answers the message's first look-up if it is
    of that phone; any other look-up, and the next one, ask the database."""
    phone(CUSTOMER).send("JOIN MAMA")
    other = "+2348031234568"
    phone(other).send("JOIN MAMA")
    with db.transaction() as session:
        tenant_id = session.scalars(select(Customer.tenant_id)).first()
        customers.keep_named_read(session, tenant_id, CUSTOMER, [])  # read as no member
        assert customers.find_member(session, tenant_id, CUSTOMER) is None
        assert customers.find_member(session, tenant_id, CUSTOMER).customer.phone_number == CUSTOMER
        customers.keep_named_read(session, tenant_id, CUSTOMER, [])
        assert customers.find_member(session, tenant_id, other).customer.phone_number == other
        assert customers.find_member(session, tenant_id, CUSTOMER).customer.phone_number == CUSTOMER
