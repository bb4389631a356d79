"""Setting up a vendor by chat on the platform number, the tenant file export, and staff added by
chat choosing their own PIN: end to end through the signed webhook."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from bot.catalog import CATALOG
from bot.config import Config
from bot.services.tenant_file import BUSINESS_TYPES, STAFF_ROLES, TenantFileError, parse_tenant_file
from bot.services.tenants import load_tenant
from models import (
    Customer, PlatformMessage, Purchase, Reward, Tenant, SetupInvitation, Staff, Message,
)
from models.base import utcnow
from tests.conftest import EXAMPLE_TENANT, MAMA_NUMBER, PIN_PEPPER, PLATFORM_NUMBER, count, run_jobs, tenant_file

OWNER, OWNER_PIN = "+2348051112233", "582039"
ADA, ADA_PIN = "+2348030000001", "482916"
BAYO, BAYO_PIN = "+2348030000002", "731205"
TOLU = "+2348039998877"
# Every answer of a setup, after SETUP: name, type (3: salon), code (1: as suggested), country
# (1: from the phone), currency (1: the country's), bonus, spend per point, reward, its points,
# the PIN twice. Nigeria has one timezone: no question.
ANSWERS = ["Ada's Salon", "3", "1", "1", "1", "50", "100", "Free braids", "500", OWNER_PIN, OWNER_PIN]


def invite(app, phone=OWNER, *options) -> str:
    """`vendors invite`; returns the token of the link it prints."""
    result = app.test_cli_runner().invoke(args=["vendors", "invite", phone, *options])
    assert result.exit_code == 0, result.output
    assert "https://wa.me/14155550100?text=SETUP%20" in result.output
    return re.search(r"text=SETUP%20([A-Z0-9]+)", result.output).group(1)


@pytest.fixture
def owner(app, phone):
    """The invited owner, writing to the platform number."""
    return phone(OWNER, to=PLATFORM_NUMBER)


def answer(owner, *texts):
    for text in texts:
        sent = owner.send(text)
        assert sent.status == 200
    return sent


def set_up(app, owner, answers=ANSWERS):
    """A whole setup; returns the summary and the answer to confirming it."""
    summary = answer(owner, f"SETUP {invite(app)}", *answers)
    return summary, owner.send("1")


def vendor(db, code="ADAS") -> Tenant | None:
    with db.sessions() as session:
        return session.scalars(select(Tenant).where(Tenant.vendor_code == code)).one_or_none()


def invitation(db) -> SetupInvitation:
    with db.sessions() as session:
        return session.scalars(select(SetupInvitation).order_by(SetupInvitation.created_at.desc())).first()


# Invitations

def test_the_platform_number_comes_from_the_environment():
    assert Config.from_env({"PLATFORM_WHATSAPP_NUMBER": "whatsapp:+1 415 555 0100"}).platform_whatsapp_number == PLATFORM_NUMBER
    assert Config.from_env({}).platform_whatsapp_number is None
    with pytest.raises(ValueError, match="PLATFORM_WHATSAPP_NUMBER must be a phone number"):
        Config.from_env({"PLATFORM_WHATSAPP_NUMBER": "12"})


def test_invite_stores_only_a_hash_of_a_one_time_token_valid_seven_days(app, db):
    token = invite(app, "0805", "111", "2233", "--country", "ng")
    stored = invitation(db)
    assert stored.phone_number == OWNER and stored.country == "NG"
    assert token not in stored.token_hash and len(token) == 12
    assert timedelta(days=6, hours=23) < stored.expires_at - utcnow() <= timedelta(days=7)
    assert stored.used_at is None


def test_invite_refuses_a_bad_phone_or_country_and_needs_the_platform_number(app, db, make_app):
    runner = app.test_cli_runner()
    assert "not a phone number in NG: 12345" in runner.invoke(args=["vendors", "invite", "12345", "--country", "NG"]).output
    assert "unknown country code 'XX'" in runner.invoke(args=["vendors", "invite", OWNER, "--country", "XX"]).output
    without = make_app(platform_whatsapp_number=None).test_cli_runner()
    refused = without.invoke(args=["vendors", "invite", OWNER])
    assert refused.exit_code != 0 and "Set PLATFORM_WHATSAPP_NUMBER" in refused.output
    assert count(db, SetupInvitation) == 0


def test_invite_refuses_the_platform_number_and_asks_a_local_phone_for_its_country(app, db):
    runner = app.test_cli_runner()
    own = runner.invoke(args=["vendors", "invite", "+1", "415", "555", "0100"])
    assert own.exit_code == 1 and "+14155550100 is the platform's own number" in own.output
    local = runner.invoke(args=["vendors", "invite", "0803", "123", "4567"])
    assert local.exit_code == 1 and "not a phone number: 0803 123 4567 (a local number needs --country, like --country NG)" in local.output
    assert count(db, SetupInvitation) == 0


def test_a_new_invitation_replaces_an_unused_one(app, owner, db):
    first = invite(app)
    second = invite(app)
    assert "can't be used" in owner.send(f"SETUP {first}").text
    assert "What is your business called?" in owner.send(f"SETUP {second}").text


def test_without_an_invitation_the_platform_number_explains_and_creates_nothing(phone, mama, db):
    stranger = phone("+2348031234567", to=PLATFORM_NUMBER)
    sent = stranger.send("Hello, I want to start a loyalty programme")
    assert "you need an invitation link from us" in sent.text and "JOIN MAMA" in sent.text
    assert "can't be used" in stranger.send("SETUP K7Q4XMK7Q4XM").text
    assert count(db, Tenant) == 1 and count(db, SetupInvitation) == 0 and count(db, Customer) == 0


def test_an_invitation_works_only_from_the_invited_phone_and_only_once(app, owner, phone, db):
    token = invite(app)
    assert "can't be used" in phone("+2348031234567", to=PLATFORM_NUMBER).send(f"SETUP {token}").text
    set_up(app, owner)  # a second invitation, used
    assert "can't be used" in owner.send(f"SETUP {token}").text  # replaced by the second
    assert count(db, Tenant) == 1


# The conversation

def test_a_full_setup_creates_the_vendor_with_its_owner_and_sends_the_poster_and_link(app, owner, db):
    summary, done = set_up(app, owner)
    assert summary.text == (
        "*Please check:*\nBusiness: Ada's Salon (Salon or beauty)\nCode: ADAS\nCountry: Nigeria, NGN, Africa/Lagos\n"
        "Welcome bonus: 50 points\nEarning: 1 point per ₦100 spent\nFirst reward: Free braids for 500 points\n"
        "Your owner PIN: chosen\n\n1. Create my programme\n2. Cancel\nOr BACK to change an answer."
    )
    poster, link = done.replies
    assert poster.body.startswith("🎉 *Ada's Salon* is ready!")
    assert poster.media == ["https://bot.example.test/qr/ADAS.png"]
    assert "https://wa.me/14155550100?text=JOIN%20ADAS" in link.body
    assert app.test_client().get("/qr/ADAS.png").mimetype == "image/png"
    shop = vendor(db)
    assert (shop.name, shop.whatsapp_number, shop.country, shop.currency, shop.timezone) == (
        "Ada's Salon", PLATFORM_NUMBER, "NG", "NGN", "Africa/Lagos"
    )
    assert shop.settings["welcome_bonus"] == 50 and shop.settings["business_type"] == "salon"
    assert shop.settings["points_rules"] == [{"type": "per_amount_spent", "points": 1, "per_amount": 100}]
    with db.sessions() as session:
        owner_row = session.scalars(select(Staff)).one()
        reward = session.scalars(select(Reward)).one()
    assert (owner_row.phone_number, owner_row.role, owner_row.full_name) == (OWNER, "owner", "Chidi")
    assert check_password_hash(owner_row.pin_hash, OWNER_PIN)
    assert (reward.name, reward.points_required) == ("Free braids", 500)
    used = invitation(db)
    assert used.used_at is not None and used.tenant_id == shop.id and used.setup_updated_at is None


def test_the_new_vendor_lives_on_the_platform_number(app, owner, phone, db):
    set_up(app, owner)
    customer = phone("+2348031234567", to=PLATFORM_NUMBER)
    assert "You got 50 welcome points" in customer.send("JOIN ADAS").text
    assert "*Ada's Salon*\nBalance: 50 points" in customer.send("BAL").text
    assert owner.send("LOG 0803 123 4567 15000").text == "Hi Chidi, please send your staff PIN."
    assert "earn 150 points" in owner.send(OWNER_PIN).text
    assert "Logged ₦15,000" in owner.send("1").text
    assert count(db, Purchase) == 1


def test_the_pin_is_never_stored_in_clear(app, owner, db):
    set_up(app, owner)
    with db.sessions() as session:
        logged = session.scalars(select(PlatformMessage.body)).all()
        states = session.scalars(select(SetupInvitation.conversation_state)).all()
    assert logged.count("[redacted: may contain a PIN]") == 2
    assert "SETUP [token]" in logged and "Ada's Salon" in logged
    assert OWNER_PIN not in json.dumps([logged, states])


def test_back_goes_to_the_previous_question_and_keeps_the_rest(app, owner, db):
    answer(owner, f"SETUP {invite(app)}", "Ada's Salon", "3")
    assert "What kind of business is *Ada's Salon*?" in owner.send("BACK").text
    assert "What is your business called?" in owner.send("back").text
    sent = owner.send("BACK")
    assert sent.text == "This is the first question.\nWhat is your business called?"
    summary = answer(owner, *ANSWERS)
    assert "Business: Ada's Salon (Salon or beauty)" in summary.text
    assert "choose your owner PIN" in owner.send("BACK").text  # from the summary: the PIN, afresh
    owner.send(OWNER_PIN)
    assert "choose your owner PIN" in owner.send("BACK").text  # and from its confirmation too
    assert "How many points does *Free braids* cost?" in owner.send("BACK").text


def test_cancel_creates_nothing_and_the_next_message_starts_over(app, owner, db):
    answer(owner, f"SETUP {invite(app)}", "Ada's Salon", "3")
    assert owner.send("CANCEL").text.startswith("Setup cancelled: nothing was created.")
    assert count(db, Tenant) == 0 and count(db, Staff) == 0
    assert "What is your business called?" in owner.send("hello").text


def test_wrong_answers_get_a_hint_and_change_nothing(app, owner):
    answer(owner, f"SETUP {invite(app)}", "Ada's Salon")
    assert owner.send("9").text == "Please reply with a number from 1 to 8."
    answer(owner, "3", "1", "1")
    assert "three-letter currency code" in owner.send("naira").text
    answer(owner, "1")
    assert owner.send("lots").text == "Please send a whole number, like 50."
    answer(owner, "50")
    assert "How much must a customer spend" in owner.send("nothing").text
    answer(owner, "5 per 1,000", "Free braids")
    assert owner.send("-5").text == "Please send a whole number, like 50."
    answer(owner, "500")
    assert "won't do" in owner.send("1234").text
    owner.send(OWNER_PIN)
    sent = owner.send("582093")
    assert sent.text.startswith("The two PINs were different.\nLast step: choose your owner PIN")
    summary = answer(owner, OWNER_PIN, OWNER_PIN)
    assert "Earning: 5 points per ₦1,000 spent" in summary.text


def test_answers_starting_with_join_or_setup_stay_in_the_setup(app, owner, mama, db):
    answer(owner, f"SETUP {invite(app)}")
    assert "What kind of business is *Join Us Cafe*?" in owner.send("Join Us Cafe").text  # US is no vendor
    owner.send("BACK")
    assert "What kind of business is *Setup Studio*?" in owner.send("Setup Studio").text  # not the token
    answer(owner, "3", "1", "1", "1", "50", "100")
    assert "How many points does *Join bonus drink* cost?" in owner.send("Join bonus drink").text
    assert "You got 50 welcome points" in owner.send("JOIN MAMA").text  # a vendor's code still joins it
    summary = answer(owner, "500", OWNER_PIN, OWNER_PIN)
    assert "Business: Setup Studio (Salon or beauty)" in summary.text
    assert "First reward: Join bonus drink for 500 points" in summary.text


def test_an_answer_starting_with_join_and_a_vendors_code_stays_in_the_setup(app, owner, phone, mama, db):
    answer(owner, f"SETUP {invite(app)}")
    assert "What kind of business is *Join Mama Cafe*?" in owner.send("Join Mama Cafe").text  # MAMA exists
    assert count(db, Customer) == 0
    phone(TOLU).send("JOIN MAMA")
    with db.sessions() as session:
        tolu_code = session.scalars(select(Customer.member_code)).one()
    assert "You got 50 welcome points" in owner.send(f"JOIN MAMA R-{tolu_code}").text  # a friend's link joins
    assert "Customers join by sending your shop's code" in owner.send("3").text  # the setup carries on
    with db.sessions() as session:
        assert session.scalars(select(Customer.phone_number).order_by(Customer.created_at)).all() == [TOLU, OWNER]


def test_the_code_is_suggested_unique_and_not_a_word_or_command(app, owner, mama, db):
    answer(owner, f"SETUP {invite(app)}", "Mama Put Kitchen")
    assert "I suggest *MAMAPUT*" in owner.send("1").text  # MAMA is taken
    assert "HELP can't be a code" in owner.send("help").text
    assert "THANKS can't be a code" in owner.send("thanks").text
    # A whole message that is a vendor's code is an answer here, not a message to that vendor.
    assert owner.send("MAMA").text == "MAMA is already taken. Send another, or 1 for MAMAPUT."
    assert "Where is *Mama Put Kitchen*?" in owner.send("mama put 2").text
    summary = answer(owner, "1", "1", "50", "100", "Free drink", "100", OWNER_PIN, OWNER_PIN)
    assert "Code: MAMAPUT2" in summary.text
    assert count(db, Customer) == 0  # nothing was sent to MAMA


def test_a_name_without_letters_gets_a_code_of_its_own(app, owner, db):
    answer(owner, f"SETUP {invite(app)}", "24/7")
    suggested = owner.send("3").text  # the type; then the code is suggested
    code = re.search(r"I suggest \*(SHOP[A-Z0-9]{5})\*", suggested).group(1)
    summary = answer(owner, "1", "1", "1", "50", "100", "Free braids", "500", OWNER_PIN, OWNER_PIN)
    assert f"Code: {code}" in summary.text
    assert "ready" in owner.send("1").text and vendor(db, code).name == "24/7"


def test_an_owner_whose_whatsapp_name_has_control_characters_can_finish(app, phone, db):
    owner = phone(OWNER, to=PLATFORM_NUMBER)
    sent = None
    for text in [f"SETUP {invite(app)}", *ANSWERS, "1"]:
        sent = owner.post(owner.form(text, ProfileName="Ada\tOkafor\x07"))
        assert sent.status_code == 200
    assert "ready" in sent.get_data(as_text=True)
    with db.sessions() as session:
        assert session.scalars(select(Staff.full_name).where(Staff.phone_number == OWNER)).one() == "Ada Okafor"


def test_a_code_taken_while_answering_sends_back_to_the_code_question(app, owner, db):
    answer(owner, f"SETUP {invite(app)}", *ANSWERS)
    with db.transaction() as session:
        load_tenant(session, tenant_file(code="ADAS", staff=[]))
    sent = owner.send("1")
    assert sent.text.startswith("Sorry, another shop has just taken the code ADAS. Please choose another.\n")
    assert "I suggest *ADASSALON*" in sent.text
    assert "Code: ADASSALON\nCountry: Nigeria" in owner.send("1").text  # the other answers stand
    assert "ready" in owner.send("1").text and vendor(db, "ADASSALON") is not None
    assert vendor(db, "ADAS").name == "Mama Put Kitchen"  # the other shop is untouched


def test_after_a_code_taken_meanwhile_going_back_leads_on_to_the_code_again(app, owner, db):
    answer(owner, f"SETUP {invite(app)}", *ANSWERS)
    with db.transaction() as session:
        load_tenant(session, tenant_file(code="ADAS", staff=[]))
    assert "another shop has just taken the code ADAS" in owner.send("1").text
    assert "What kind of business is *Ada's Salon*?" in owner.send("BACK").text
    assert "I suggest *ADASSALON*" in owner.send("3").text  # the code again, not the summary with ADAS
    summary = owner.send("1")
    assert "Code: ADASSALON\nCountry: Nigeria" in summary.text and "First reward: Free braids" in summary.text
    assert "ready" in owner.send("1").text and vendor(db, "ADASSALON") is not None


def test_country_currency_and_a_choice_of_timezones(app, owner, db):
    answer(owner, f"SETUP {invite(app)}", "Ada's Salon", "3", "1")
    assert "Which currency do you sell in?\n1. CDF" in owner.send("Congo (Dem. Rep.)").text
    zones = owner.send("1").text
    assert "1. Africa/Kinshasa (Dem. Rep. of Congo (west))\n2. Africa/Lubumbashi (Dem. Rep. of Congo (east))" in zones
    assert "How many welcome points" in owner.send("2").text
    answer(owner, "BACK", "BACK", "BACK")  # back to the country: the United States have many zones
    assert "1. USD" in owner.send("us").text
    listing = owner.send("1").text
    assert "1. America/New_York (Eastern (most areas))\n2. America/Chicago (Central (most areas))" in listing
    assert "13." not in listing
    for no_place in ("Factory", "localtime"):  # in the timezone database, but no place a tenant file takes
        assert owner.send(no_place).text == "Please reply with a number from 1 to 12, or a timezone name like Africa/Lagos."
    answer(owner, "chicago", "0", "1", "Free coffee", "10", OWNER_PIN, OWNER_PIN)
    answer(owner, "1")
    assert (vendor(db).country, vendor(db).currency, vendor(db).timezone) == ("US", "USD", "America/Chicago")


def test_a_setup_for_a_french_speaking_country_is_in_french_and_so_is_the_shop(app, owner, db):
    assert owner.send(f"SETUP {invite(app, OWNER, '--country', 'SN')}").text.endswith("Quel est le nom de votre commerce ?")
    earning = answer(owner, *ANSWERS[:6])  # Senegal: XOF, and one timezone
    assert "10\u00a0000\u00a0FCFA" in earning.text  # money written the French way
    summary = answer(owner, *ANSWERS[6:])
    assert summary.text.startswith("*Vérifiez vos réponses :*")
    owner.send("1")
    assert vendor(db).settings["language"] == "fr"


def test_an_unfinished_setup_resumes_within_24_hours_and_starts_over_after(app, owner, db):
    answer(owner, f"SETUP {invite(app)}", "Ada's Salon", "3")
    assert count(db, Tenant) == 0

    def idle_for(hours):
        with db.transaction() as session:
            row = session.scalars(select(SetupInvitation)).one()
            before = utcnow() - timedelta(hours=hours)
            row.conversation_state = {**row.conversation_state, "updated_at": before.isoformat()}
            row.setup_updated_at = before

    idle_for(23)
    assert "Where is *Ada's Salon*?" in owner.send("1").text  # the code question, answered
    idle_for(25)
    sent = owner.send("1")
    assert sent.text.startswith("Your setup was left unfinished for over 24 hours, so we're starting again.")
    assert sent.text.endswith("What is your business called?")


def test_opening_the_link_again_continues_where_it_stopped(app, owner):
    token = invite(app)
    answer(owner, f"SETUP {token}", "Ada's Salon", "3")
    sent = owner.send(f"SETUP {token}")
    assert sent.text.startswith("Welcome back! Let's carry on where you stopped.\nCustomers join by sending")


def test_a_retried_message_is_answered_again_and_done_once(app, owner, db):
    answer(owner, f"SETUP {invite(app)}", *ANSWERS)
    first = owner.send("1", sid="SMconfirm")
    again = owner.send("1", sid="SMconfirm")
    assert again.text == first.text and "ready" in first.text
    assert count(db, Tenant) == 1 and count(db, PlatformMessage) == len(ANSWERS) + 2
    assert count(db, Message) == 0  # the owner's "1" went to no vendor's menu


# The tenant file

def test_export_writes_the_file_that_loads_back_unchanged(app, mama, tmp_path):
    runner = app.test_cli_runner()
    path = tmp_path / "mama.json"
    assert runner.invoke(args=["tenants", "export", "mama", "-o", str(path)]).output == f"Wrote {path}\n"
    exported = json.loads(path.read_text())
    assert [member.get("pin") for member in exported["staff"]] == [None, None]
    assert all(member["pin_hash"].startswith("scrypt:") for member in exported["staff"])
    assert runner.invoke(args=["tenants", "load", str(path)]).output == "Vendor MAMA is already up to date.\n"
    original = json.loads(EXAMPLE_TENANT.read_text())
    assert {key: exported[key] for key in original if key != "staff"} == {
        key: value for key, value in original.items() if key != "staff"
    }


def test_what_the_chat_creates_is_a_tenant_file(app, owner, db, tmp_path):
    set_up(app, owner)
    runner = app.test_cli_runner()
    path = tmp_path / "adas.json"
    runner.invoke(args=["tenants", "export", "ADAS", "-o", str(path)])
    exported = json.loads(path.read_text())
    pin_hash = exported["staff"][0].pop("pin_hash")
    assert check_password_hash(pin_hash, OWNER_PIN)
    assert exported == {
        "code": "ADAS", "name": "Ada's Salon", "whatsapp_number": PLATFORM_NUMBER, "country": "NG", "currency": "NGN",
        "timezone": "Africa/Lagos", "business_type": "salon", "language": "en", "welcome_bonus": 50,
        "staff": [{"name": "Chidi", "phone": OWNER, "role": "owner"}], "max_purchase_amount": 10_000_000,
        "points_rules": [{"type": "per_amount_spent", "points": 1, "per_amount": 100}], "tiers": [],
        "rewards": [{"name": "Free braids", "points": 500}], "redemption_valid_hours": 24, "missions": [],
        "rate_limits": {
            "messages_per_minute": 20, "staff_messages_per_minute": 60, "redemptions_per_hour": 3, "wrong_lookups_per_hour": 10,
        },
        "templates": {}, "messages_per_second": 10, "expiry_reminder_days": 7, "max_marketing_per_week": 2,
    }
    assert runner.invoke(args=["tenants", "load", str(path)]).output == "Vendor ADAS is already up to date.\n"
    # Given a number of its own, the shop moves to it.
    path.write_text(json.dumps({**exported, "whatsapp_number": "+2349010000000"} | {"staff": [
        {"name": "Chidi", "phone": OWNER, "role": "owner", "pin_hash": pin_hash}]}))
    assert "Updated vendor ADAS: whatsapp_number" in runner.invoke(args=["tenants", "load", str(path)]).output


@pytest.mark.parametrize("member, error", [
    ({"pin": "482916", "pin_hash": "scrypt:32768:8:1$abc$0123"}, "give either pin or pin_hash, not both"),
    ({"pin_hash": "482916"}, "must be a PIN hash as `tenants export` writes it"),
])
def test_a_file_carries_a_pin_or_its_hash(member, error):
    raw = json.loads(EXAMPLE_TENANT.read_text())
    raw["staff"][0] = {"name": "Ada", "phone": ADA, **member}
    with pytest.raises(TenantFileError, match=re.escape(error)):
        parse_tenant_file(raw)


def test_a_vendor_code_may_not_be_an_ordinary_word():
    raw = json.loads(EXAMPLE_TENANT.read_text())
    with pytest.raises(TenantFileError, match="THANKS is a word people write in ordinary messages"):
        parse_tenant_file({**raw, "code": "THANKS"})


# Staff by chat

def outbound_to(db, number):
    with db.sessions() as session:
        return session.scalars(
            select(Message).where(Message.direction == "outbound", Message.to_number == number)
        ).all()


def test_the_owner_adds_staff_who_choose_their_own_pin(app, phone, mama, db):
    ada = phone(ADA)
    assert ada.send("STAFF ADD 0803 999 8877 Tolu").text == "Hi Ada, please send your staff PIN."
    assert ada.send(ADA_PIN).text == (
        "Add Tolu (+2348039998877) to the staff of *Mama Put Kitchen*? "
        "They'll get a message asking them to choose their own PIN.\n1. Confirm\n2. Cancel"
    )
    assert ada.send("1").text == "Done: Tolu is on your staff. I've sent them a message to choose their PIN."
    run_jobs(app)
    (invitation_message,) = outbound_to(db, TOLU)
    assert invitation_message.body.startswith("Hi Tolu! *Mama Put Kitchen* has added you to its staff")
    assert invitation_message.from_number == MAMA_NUMBER and invitation_message.customer_id is None
    tolu = phone(TOLU)
    assert tolu.send("LOG").text == "You haven't chosen your staff PIN yet. Reply PIN to choose it."
    assert tolu.send("PIN").text.startswith("Tolu, choose your staff PIN")
    assert "won't do" in tolu.send("1111").text
    assert tolu.send("640213").text == "Please send the same PIN again."
    assert tolu.send("640231").text == "The two PINs were different."
    tolu.send("640213")
    assert tolu.send("640213").text.startswith("Your PIN is set.")
    assert tolu.send("LOG 0803 123 4567 2000").text == "Hi Tolu, please send your staff PIN."
    assert "1. Confirm" in tolu.send("640213").text
    with db.sessions() as session:
        bodies = session.scalars(select(Message.body).where(Message.from_number == TOLU)).all()
        user = session.scalars(select(Staff).where(Staff.phone_number == TOLU)).one()
    assert not any("640213" in body or "640231" in body or "1111" in body for body in bodies)
    assert user.role == "staff" and check_password_hash(user.pin_hash, "640213")


def test_staff_add_asks_for_what_is_missing(phone, mama):
    ada = phone(ADA)
    ada.send("STAFF ADD")
    assert ada.send(ADA_PIN).text == "The new staff member's phone number? (like 0803 123 4567)"
    assert ada.send("12").text == "I couldn't read that as a phone number. Try like 0803 123 4567."
    assert ada.send("0803 999 8877").text == "Their name?"
    assert "Add Tolu (+2348039998877)" in ada.send("Tolu").text
    assert ada.send("STAFF ADD 08030000002 Bayo").text == "+2348030000002 is already on your staff."


@pytest.mark.parametrize("answer", ["BACK", "yes", "99", "1.", "-1", "🙂"])
def test_a_name_has_a_letter_and_is_no_command_word(phone, mama, db, answer):
    ada = phone(ADA)
    ada.send("STAFF ADD 0803 999 8877")
    ada.send(ADA_PIN)
    assert ada.send(answer).text == "Their name?"
    assert "Add Tolu (+2348039998877)" in ada.send("Tolu").text


@pytest.mark.parametrize("command", ["STAFF ADD 0803 999 8877 Tolu", "STAFF REMOVE 0803 000 0002"])
def test_an_owner_made_staff_while_asked_to_confirm_changes_no_staff(phone, mama, db, command):
    ada = phone(ADA)
    ada.send(command)
    assert "1. Confirm" in ada.send(ADA_PIN).text
    with db.transaction() as session:  # a reload of the tenant file makes Ada staff meanwhile
        session.scalars(select(Staff).where(Staff.phone_number == ADA)).one().role = "staff"
    assert ada.send("1").text == "Only the owner can manage the staff."
    with db.sessions() as session:
        staff = dict(session.execute(select(Staff.phone_number, Staff.is_active)).all())
    assert staff == {ADA: True, BAYO: True}


def test_staff_lists_and_removes_and_only_the_owner_may(phone, mama, db):
    bayo = phone(BAYO)
    assert bayo.send("STAFF").text == "Only the owner can manage the staff."
    ada = phone(ADA)
    ada.send("STAFF")
    listing = ada.send(ADA_PIN).text
    assert "*Mama Put Kitchen staff*\nAda, +2348030000001 (owner)\nBayo, +2348030000002 (staff)" in listing
    assert "STAFF ADD 0803 123 4567 Bayo" in listing
    assert ada.send("STAFF REMOVE 0803 000 0001").text == "You can't remove yourself from the staff."
    assert ada.send("STAFF REMOVE").text == "Who should be removed?\n1. Bayo, +2348030000002\n\nReply with a number."
    assert "Remove Bayo (+2348030000002)" in ada.send("1").text
    assert ada.send("1").text == "Done: Bayo is no longer on your staff."
    assert "JOIN MAMA" in bayo.send("LOG").text  # no staff commands any more
    with db.sessions() as session:
        assert session.scalars(select(Staff.is_active).where(Staff.phone_number == BAYO)).one() is False


def test_a_french_owner_reads_the_staff_roles_in_french(phone, db):
    with db.transaction() as session:
        load_tenant(session, tenant_file(language="fr"), pin_pepper=PIN_PEPPER)
    ada = phone(ADA)
    ada.send("STAFF")
    listing = ada.send(ADA_PIN).text
    assert "Ada, +2348030000001 (propriétaire)\nBayo, +2348030000002 (employé)" in listing


def test_help_tells_the_owner_how_to_manage_staff(phone, mama):
    assert "STAFF ADD 0803 123 4567 Bayo adds someone" in phone(ADA).send("HELP").text
    assert "STAFF ADD" not in phone(BAYO).send("HELP").text


def test_every_business_type_has_a_label():
    assert all(f"setup_type.{kind}" in CATALOG["en"] for kind in BUSINESS_TYPES)


def test_every_staff_role_has_a_label():
    assert all(f"staff_role.{role}" in CATALOG["en"] for role in STAFF_ROLES)


def test_staff_change_their_pin_after_giving_the_current_one(phone, mama, db):
    bayo = phone(BAYO)
    assert bayo.send("PIN").text == "Hi Bayo, please send your staff PIN."
    assert bayo.send(BAYO_PIN).text.startswith("Bayo, choose your staff PIN")
    answer(bayo, "640213", "640213")
    with db.sessions() as session:
        pin_hash = session.scalars(select(Staff.pin_hash).where(Staff.phone_number == BAYO)).one()
    assert check_password_hash(pin_hash, "640213")


def test_staff_added_to_a_vendor_on_the_platform_number_reach_it_there(app, owner, phone, db):
    set_up(app, owner)
    answer(owner, "STAFF ADD 0803 999 8877 Tolu", OWNER_PIN)
    assert "Done: Tolu is on your staff" in owner.send("1").text
    (invitation_message,) = outbound_to(db, TOLU)
    assert invitation_message.from_number == PLATFORM_NUMBER
    tolu = phone(TOLU, to=PLATFORM_NUMBER)
    assert tolu.send("PIN").text.startswith("Tolu, choose your staff PIN")
