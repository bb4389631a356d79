"""Joining, vendor resolution and the global commands, end to end through the webhook."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.services.tenants import load_tenant
from models import AuditLog, Customer, CustomerPointsBalance, PointsTransaction, Purchase, RewardRedemption, Tenant
from models.base import utcnow
from tests.conftest import count, tenant_file
from tests.test_rewards import give_points

SALON_NUMBER = "+2349010000000"


@pytest.fixture
def salon(db, mama):
    """A second vendor with its own number."""
    config = tenant_file(code="SALON", name="Glow Salon", whatsapp_number=SALON_NUMBER, staff=[], welcome_bonus=10)
    with db.transaction() as session:
        return load_tenant(session, config).tenant


@pytest.fixture
def noodle(db, mama):
    """A third vendor sharing MAMA's number (as on Twilio's sandbox)."""
    config = tenant_file(code="NOODLE", name="Noodle House", staff=[], timezone="Asia/Phnom_Penh", country="KH")
    with db.transaction() as session:
        return load_tenant(session, config).tenant


def customer_of(db, tenant, number="+2348031234567") -> Customer | None:
    with db.sessions() as session:
        return session.scalars(
            select(Customer).where(Customer.tenant_id == tenant.id, Customer.phone_number == number)
        ).one_or_none()


def test_join_enrols_with_consent_bonus_greeting_and_menu(phone, mama, db):
    sent = phone().send("JOIN MAMA")
    assert [reply.body for reply in sent.replies][:2] == [
        "Welcome to Mama Put Kitchen rewards!",
        "You got 50 welcome points. Your balance: 50 points.",
    ]
    assert "1. My points" in sent.replies[2].body
    customer = customer_of(db, mama)
    assert customer.opted_in and customer.opted_in_at is not None
    assert customer.whatsapp_name == "Chidi"
    with db.sessions() as session:
        ledger = session.scalars(select(PointsTransaction)).one()
        assert (ledger.points, ledger.source, ledger.remaining) == (50, "welcome", 50)
        assert ledger.expires_at - ledger.created_at == timedelta(days=180)
        assert session.scalar(select(AuditLog.action).where(AuditLog.action == "customer.joined"))


@pytest.mark.parametrize("text", ["mama", "Mama!", "JOIN  mama!!", "join MAMA 🎉", "JOIN MAMA please"])
def test_the_code_joins_in_any_case_after_join_or_as_the_whole_message(phone, mama, db, text):
    assert "welcome points" in phone().send(text).text
    assert customer_of(db, mama) is not None


def test_joining_twice_says_already_member_and_credits_once(phone, mama, db):
    me = phone()
    me.send("JOIN MAMA")
    sent = me.send("JOIN MAMA")
    assert "already a member of *Mama Put Kitchen*. Your balance: 50 points" in sent.text
    assert count(db, PointsTransaction) == 1


def test_unknown_code_gets_a_clear_answer_and_creates_nothing(phone, mama, db):
    sent = phone().send("JOIN NOPE")
    assert sent.text == "Sorry, I couldn't find a shop with the code NOPE. Please check it and try again."
    assert count(db, Customer) == 0


def test_a_non_member_writing_to_a_vendor_number_is_invited_to_join(phone, mama, db):
    sent = phone().send("BAL")
    assert sent.text == "Welcome to *Mama Put Kitchen*! To join its rewards, reply JOIN MAMA."
    assert count(db, Customer) == 0


def test_stop_with_a_code_from_a_non_member_does_not_enrol(phone, mama, db):
    sent = phone().send("STOP MAMA")
    assert "JOIN MAMA" in sent.text
    assert count(db, Customer) == 0


def test_a_phone_with_no_vendor_and_no_code_is_asked_for_one(phone, mama, noodle, db):
    sent = phone().send("hello")  # MAMA and NOODLE share this number: no way to tell
    assert "send JOIN and the shop's code" in sent.text
    assert count(db, Customer) == 0


def test_vendor_comes_from_the_code_then_the_number_then_the_last_one_used(phone, mama, salon, noodle, db):
    me = phone()
    me.send("JOIN SALON")  # written to the shared number: the code decides
    assert customer_of(db, salon) is not None
    assert "*Glow Salon*" in me.send("BAL").text  # shared number: the last vendor used
    me.send("JOIN MAMA")
    assert "*Mama Put Kitchen*" in me.send("BAL").text
    salon_phone = phone(to=SALON_NUMBER)
    assert "*Glow Salon*" in salon_phone.send("BAL").text  # the number belongs to one vendor


def test_programs_lists_memberships_and_switches(phone, mama, salon, noodle, db):
    me = phone()
    me.send("JOIN SALON")
    me.send("JOIN MAMA")
    listing = me.send("PROGRAMS").text
    assert "1. Glow Salon (10 points)" in listing
    assert "2. Mama Put Kitchen (50 points) - current" in listing
    assert "Switched to *Glow Salon*" in me.send("1").text
    assert "*Glow Salon*\nBalance: 10 points" in me.send("BAL").text


def test_programs_shows_the_points_that_can_be_spent_and_expires_nothing(phone, mama, db, clock):
    """MAMA's points are past their 180 days, the salon's (a year) are not; the listing leaves
    the expired ones out without writing at either vendor, and BAL then agrees."""
    config = tenant_file(code="SALON", name="Glow Salon", whatsapp_number=SALON_NUMBER, staff=[], welcome_bonus=10,
                         points_expiry_days=365)
    with db.transaction() as session:
        load_tenant(session, config)
    me = phone()
    me.send("JOIN SALON")
    me.send("JOIN MAMA")
    clock.advance(days=181)
    listing = me.send("PROGRAMS").text
    assert "1. Glow Salon (10 points)" in listing
    assert "2. Mama Put Kitchen (0 points) - current" in listing
    with db.sessions() as session:
        assert session.scalars(select(PointsTransaction).where(PointsTransaction.transaction_type == "expired")).all() == []
    assert "*Mama Put Kitchen*\nBalance: 0 points" in me.send("BAL").text


def test_a_question_left_open_at_a_vendor_does_not_take_the_answer_after_switching_back(phone, mama, noodle, db):
    """A redemption asked at MAMA, then JOIN NOODLE and a switch back with PROGRAMS: the next
    "1" is the menu's (My points), not the confirmation left open there."""
    me = phone()
    me.send("JOIN MAMA")
    give_points(db, 620)
    me.send("REWARDS")
    assert "1. Confirm" in me.send("2").text
    me.send("JOIN NOODLE")
    me.send("PROGRAMS")
    assert "Switched to *Mama Put Kitchen*" in me.send("1").text
    assert "*Mama Put Kitchen*\nBalance: 670 points" in me.send("1").text
    assert count(db, RewardRedemption) == 0


def test_a_staff_question_left_open_at_a_vendor_does_not_take_the_answer_after_switching_back(phone, mama, noodle, db):
    """The same for a staff phone, whose conversation is kept on its staff row: a void asked at
    MAMA is not confirmed by the menu's "1" after a JOIN elsewhere and a switch back."""
    bayo = phone("+2348030000002")
    bayo.send("JOIN MAMA")
    bayo.send("LOG 0803 123 4567 1500")
    bayo.send("731205")
    assert bayo.send("1").text.startswith("Logged ₦1,500")
    assert "1. Confirm" in bayo.send("VOID").text
    bayo.send("JOIN NOODLE")
    bayo.send("PROGRAMS")
    assert "Switched to *Mama Put Kitchen*" in bayo.send("1").text
    assert "Balance: 50 points" in bayo.send("1").text
    with db.sessions() as session:
        assert session.scalars(select(Purchase.status)).all() == ["completed"]


def test_a_first_purchase_for_a_colleagues_phone_leaves_their_open_question_alone(phone, mama, db):
    """Ada logs a purchase for Bayo's phone, which enrols him as a member: his phone had no
    route, but nothing moved, and the question his own LOG left open still takes his answer."""
    bayo = phone("+2348030000002")
    bayo.send("LOG")
    assert bayo.send("731205").text == "Customer's phone number or member code?"
    ada = phone("+2348030000001")
    ada.send("LOG 0803 000 0002 1500")
    ada.send("482916")
    assert ada.send("1").text.startswith("Logged ₦1,500")
    assert bayo.send("0803 123 4567").text.startswith("Amount spent")


def test_programs_answer_out_of_range_gets_a_hint(phone, mama):
    me = phone()
    me.send("JOIN MAMA")
    me.send("PROGRAMS")
    assert me.send("7").text == "Please reply with a number from 1 to 1, or MENU."


def test_balance_shows_lifetime_and_next_expiry_in_vendor_timezone(phone, mama):
    me = phone()
    me.send("JOIN MAMA")
    text = me.send("balance please").text
    expiry = (utcnow() + timedelta(days=180)).astimezone(__import__("zoneinfo").ZoneInfo("Africa/Lagos"))
    assert "Balance: 50 points\nEarned in total: 50 points" in text
    assert f"50 points expire on {expiry:%d %b %Y}." in text


def test_history_lists_ledger_entries(phone, mama):
    me = phone()
    me.send("JOIN MAMA")
    assert "+50 Welcome bonus" in me.send("HISTORY").text


def test_menu_numbers_open_the_entries(phone, mama):
    me = phone()
    me.send("JOIN MAMA")
    assert "Balance: 50 points" in me.send("1").text
    assert "Mama Put Kitchen rewards" in me.send("2").text
    me.send("MENU")
    assert "no reward codes" in me.send("3").text
    assert "free spin" in me.send("4").text
    assert "Your missions" in me.send("5").text
    assert "Invite a friend" in me.send("6").text
    assert "top customers this month" in me.send("7").text
    assert "Welcome bonus" in me.send("8").text
    assert "Your programmes" in me.send("9").text
    assert "HISTORY - recent points" in me.send("HELP").text


@pytest.mark.parametrize("text", ["MENU", "hi", "Hello there", "0", "menu."])
def test_menu_words_show_the_menu_even_mid_flow(phone, mama, text):
    me = phone()
    me.send("JOIN MAMA")
    me.send("PROGRAMS")
    assert "*Mama Put Kitchen* menu" in me.send(text).text


def test_cancel_leaves_the_flow(phone, mama, db):
    me = phone()
    me.send("JOIN MAMA")
    me.send("PROGRAMS")
    assert me.send("ok cancel").replies[0].body == "Cancelled. Nothing was changed."
    assert customer_of(db, mama).conversation_state["flow"] is None
    assert me.send("CANCEL").replies[0].body == "Nothing to cancel."


def test_stop_and_start_record_consent_and_the_bot_still_answers(phone, mama, db):
    me = phone()
    me.send("JOIN MAMA")
    assert "won't get offers" in me.send("Please STOP").text
    customer = customer_of(db, mama)
    assert customer.opted_in is False and customer.opted_out_at is not None
    assert "Balance: 50 points" in me.send("BAL").text
    assert "Welcome back" in me.send("start").text
    assert customer_of(db, mama).opted_in is True
    with db.sessions() as session:
        actions = session.scalars(select(AuditLog.action).order_by(AuditLog.created_at)).all()
    assert actions[-2:] == ["customer.opted_out", "customer.opted_in"]


def test_three_misses_in_a_row_bring_the_menu(phone, mama):
    me = phone()
    me.send("JOIN MAMA")
    assert "didn't get that" in me.send("blah").text
    assert "didn't get that" in me.send("what is this").text
    third = me.send("qwerty")
    assert third.replies[0].body == "Let's start again from the menu."
    assert "1. My points" in third.replies[1].body
    assert "didn't get that" in me.send("blah").text  # the count started again


def test_misses_inside_a_flow_also_bring_the_menu(phone, mama, db):
    me = phone()
    me.send("JOIN MAMA")
    me.send("PROGRAMS")
    me.send("x")
    me.send("y")
    assert "1. My points" in me.send("z").text
    assert customer_of(db, mama).conversation_state["flow"] is None


def test_an_idle_flow_resets_after_30_minutes_with_a_notice(phone, mama, clock):
    me = phone()
    me.send("JOIN MAMA")
    me.send("PROGRAMS")
    clock.advance(minutes=31)
    sent = me.send("1")
    assert sent.replies[0].body == "Your last conversation timed out, so we started again."
    assert "Balance: 50 points" in sent.replies[1].body  # "1" read from the menu, not as a programme


def test_a_recent_flow_does_not_reset(phone, mama, clock):
    me = phone()
    me.send("JOIN MAMA")
    me.send("PROGRAMS")
    clock.advance(minutes=29)
    assert "Switched to" in me.send("1").text


def test_vendor_codes_are_unique_per_tenant_rows(db, mama, salon):
    with db.sessions() as session:
        codes = session.scalars(select(Tenant.vendor_code).order_by(Tenant.vendor_code)).all()
    assert codes == ["MAMA", "SALON"]


def test_balance_row_equals_ledger_sum_after_joins(phone, mama, salon, db):
    me = phone()
    me.send("JOIN MAMA")
    me.send("JOIN SALON")
    with db.sessions() as session:
        balances = {row.tenant_id: row.current_balance for row in session.scalars(select(CustomerPointsBalance))}
    assert balances == {mama.id: 50, salon.id: 10}


def test_switching_to_a_vendor_with_its_own_number_says_where_to_write(phone, mama, salon, db):
    me = phone()  # MAMA's number belongs to MAMA alone: a switch cannot take effect here
    me.send("JOIN SALON")
    me.send("JOIN MAMA")
    me.send("PROGRAMS")
    assert me.send("1").text == "*Glow Salon* has its own WhatsApp number: write to +2349010000000 to talk to it."


def test_joining_a_vendor_with_its_own_number_on_another_vendors_number_says_where_to_write(phone, mama, salon, db):
    me = phone()  # MAMA's number belongs to MAMA alone: the next message here goes to MAMA
    joined = me.send("JOIN SALON")
    assert "You got 10 welcome points" in joined.text
    assert joined.replies[-1].body == "*Glow Salon* has its own WhatsApp number: write to +2349010000000 to talk to it."
    assert "menu" not in joined.text
    assert customer_of(db, salon) is not None
    again = me.send("JOIN SALON")
    assert "already a member of *Glow Salon*" in again.text
    assert again.replies[-1].body.startswith("*Glow Salon* has its own WhatsApp number")


@pytest.mark.parametrize("text", ["don't stop", "do not stop", "no stop"])
def test_a_negated_command_is_not_obeyed(phone, mama, db, text):
    me = phone()
    me.send("JOIN MAMA")
    me.send(text)
    assert customer_of(db, mama).opted_in is True


def test_balance_works_in_the_middle_of_a_flow(phone, mama):
    me = phone()
    me.send("JOIN MAMA")
    me.send("PROGRAMS")
    assert "Balance: 50 points" in me.send("BAL").text
