"""Which words name a vendor: `JOIN CODE` or the code alone join it, a command followed by the
code addresses a vendor the sender belongs to, and a code anywhere else is just a word. The
tenant loader refuses codes that would turn up in ordinary messages. Through the signed webhook."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from bot.catalog import render
from bot.codes import ALPHABET
from bot.messages import say, words_of
from bot.services.tenants import load_tenant
from bot.vendor_codes import addressed_code, join_code, link_join_code, without_code
from models import AuditLog, Customer, PhoneRoute, Purchase, RewardRedemption, Tenant, Staff, Message
from tests.conftest import EXAMPLE_TENANT, PIN_PEPPER, count, tenant_file
from tests.test_rewards import give_points

CUSTOMER, BAYO, BAYO_PIN = "+2348031234567", "+2348030000002", "731205"
ADA, ADA_PIN = "+2348030000001", "482916"
CHOP_NUMBER = "+2349010000000"
INVITED_TO_MAMA = "Welcome to *Mama Put Kitchen*! To join its rewards, reply JOIN MAMA."
NOT_UNDERSTOOD = "Sorry, I didn't get that. Reply with a number from the menu, or MENU."
PIN_PROMPT = "Hi Bayo, please send your staff PIN."
ERROR = render(say("error"))


def load(db, config) -> Tenant:
    with db.transaction() as session:
        return load_tenant(session, config, pin_pepper=PIN_PEPPER).tenant


@pytest.fixture
def chop(db, mama):
    """A second vendor with its own number and no staff."""
    return load(db, tenant_file(code="CHOP", name="Chop Bar", whatsapp_number=CHOP_NUMBER, staff=[]))


def legacy_vendor(db, code: str, number: str) -> Tenant:
    """A vendor whose code the loader now refuses, as if it had been loaded before the rule."""
    config = tenant_file(code="LEGACY", name=f"Vendor {code}", whatsapp_number=number, staff=[])
    return load(db, {**config, "code": code})


def customers_at(db, tenant) -> list[str]:
    with db.sessions() as session:
        return session.scalars(select(Customer.phone_number).where(Customer.tenant_id == tenant.id)).all()


def consent_at(db, tenant, number=CUSTOMER) -> bool:
    with db.sessions() as session:
        return session.scalar(
            select(Customer.opted_in).where(Customer.tenant_id == tenant.id, Customer.phone_number == number)
        )


# --- the rule itself ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, joins",
    [
        ("JOIN MAMA", "MAMA"), ("join mama R-K7Q4XM", "MAMA"), ("mama!", "MAMA"), ("JOIN MAMA please", "MAMA"),
        ("is the mama open?", None), ("I want to join mama", None), ("STOP MAMA", None), ("JOIN ME", None),
        ("me", None), ("15k", None), ("hello", None),
    ],
)
def test_a_message_joins_a_code_only_after_join_or_as_the_whole_message(text, joins):
    assert join_code(words_of(text)) == joins


@pytest.mark.parametrize(
    "text, joins",
    [("JOIN MAMA", "MAMA"), ("join mama R-K7Q4XM", "MAMA"), ("JOIN MAMA RK7Q4XM", "MAMA"), ("Join Mama Cafe", None), ("mama", None)],
)
def test_a_join_link_is_join_and_the_code_with_nothing_after_but_a_referral(text, joins):
    assert link_join_code(words_of(text)) == joins


@pytest.mark.parametrize(
    "text, addressed",
    [("STOP SALON", "SALON"), ("verify mama RD-7KX4QF", "MAMA"), ("LOG 0803 555 0001 15k", None), ("is mama open", None)],
)
def test_a_command_followed_by_a_code_addresses_it(text, addressed):
    assert addressed_code(words_of(text)) == addressed


def test_the_addressing_code_is_taken_out_of_what_the_command_reads():
    assert without_code("verify mama RD-7KX4QF", "MAMA") == "verify RD-7KX4QF"
    assert without_code("LOG MAMAS MAMA 0803", "MAMA") == "LOG MAMAS 0803"


# --- routing through the webhook ----------------------------------------------------------


def test_a_code_inside_a_sentence_written_to_another_vendor_joins_nothing(phone, mama, chop, db):
    assert phone().send("is the chop bar open?").text == INVITED_TO_MAMA
    assert count(db, Customer) == 0 and count(db, PhoneRoute) == 0


def test_a_member_asking_about_another_vendor_stays_with_its_own(phone, mama, chop, db):
    me = phone()
    me.send("JOIN MAMA")
    assert me.send("is the chop bar open?").text == NOT_UNDERSTOOD
    assert customers_at(db, chop) == []


def test_staff_verifying_with_another_vendors_code_are_not_joined_to_it(phone, mama, chop, db):
    assert phone(BAYO).send("VERIFY CHOP RD-7KX4QF").text == PIN_PROMPT  # still at MAMA, where Bayo works
    assert count(db, Customer) == 0


@pytest.mark.parametrize(
    "code, sender, text",
    [
        ("ME", CUSTOMER, "help me"),
        ("ME", CUSTOMER, "me"),
        ("PIN", BAYO, "forgot my pin"),
        ("15K", BAYO, "LOG 0803 555 0001 15k"),
        ("THE", CUSTOMER, "is the chop bar open?"),
    ],
)
def test_a_vendor_whose_code_is_an_ordinary_word_is_not_joined_by_it(phone, mama, db, code, sender, text):
    legacy = legacy_vendor(db, code, CHOP_NUMBER)
    sent = phone(sender).send(text)
    assert sent.status == 200 and sent.text != ERROR and "welcome points" not in sent.text
    assert customers_at(db, legacy) == []
    assert count(db, Customer) == 0


def test_a_code_in_a_message_does_not_give_back_consent(phone, mama, db):
    me = phone()
    me.send("JOIN MAMA")
    me.send("STOP")
    me.send("thanks mama, see you tomorrow")
    me.send("is MAMA open today?")
    assert consent_at(db, mama) is False
    me.send("JOIN MAMA")  # joining again is the explicit consent
    assert consent_at(db, mama) is True


def test_a_phone_enrolled_by_staff_gives_consent_only_by_joining(phone, mama, db):
    bayo = phone(BAYO)
    bayo.send("LOG 0803 123 4567 15000")
    bayo.send(BAYO_PIN)
    bayo.send("1")
    me = phone()
    me.send("mama, how many points do I have?")
    assert consent_at(db, mama) is False
    me.send("mama")
    assert consent_at(db, mama) is True


def test_staff_answering_with_another_vendors_code_alone_join_nothing(phone, mama, db):
    """The owner's answer to "Their name?" is a name, though a vendor has it for its code; a
    customer writing that code alone still joins it."""
    kemi = load(db, tenant_file(code="KEMI", name="Kemi Hair", whatsapp_number="+2349010000009", staff=[]))
    ada = phone(ADA)
    ada.send("STAFF ADD 0803 555 1234")
    ada.send(ADA_PIN)
    assert "Add Kemi (+2348035551234)" in ada.send("Kemi").text
    assert customers_at(db, kemi) == []
    phone().send("kemi")
    assert customers_at(db, kemi) == [CUSTOMER]


@pytest.fixture
def noodle(db, mama):
    """A vendor sharing MAMA's number (as on Twilio's sandbox), where Bayo works too."""
    staff = [{"name": "Bayo", "phone": BAYO, "pin": BAYO_PIN}]
    return load(db, tenant_file(code="NOODLE", name="Noodle House", staff=staff))


def test_staff_of_two_vendors_on_one_number_name_the_one_they_log_at(phone, mama, noodle, db):
    bayo = phone(BAYO)
    assert bayo.send("LOG").text == (  # two employers: which one?
        "You work for several shops: send the command again with the shop's code after it, like LOG MAMA.\n"
        "MAMA: Mama Put Kitchen\nNOODLE: Noodle House"
    )
    assert bayo.send("LOG NOODLE 0803 123 4567 15000").text == PIN_PROMPT
    assert bayo.send(BAYO_PIN).text.startswith("Log ₦15,000 for +2348031234567?")  # the PIN followed to NOODLE
    assert bayo.send("1").text.startswith("Logged ₦15,000")
    with db.sessions() as session:
        assert session.scalars(select(Purchase.tenant_id)).all() == [noodle.id]
        assert session.scalars(select(Customer.phone_number)).all() == [CUSTOMER]  # Bayo joined nothing
        logged = session.scalars(select(Message.body).where(Message.direction == "inbound")).all()
    assert "LOG NOODLE 0803 123 4567 15000" in logged  # stored as sent


def test_staff_verify_a_code_at_the_vendor_they_name(phone, mama, noodle, db):
    me = phone(CUSTOMER)
    me.send("JOIN MAMA")
    give_points(db, 100)
    me.send("REWARDS")
    me.send("1")
    code = re.search(rf"RD-[{ALPHABET}]{{6}}", me.send("1").text).group()
    bayo = phone(BAYO)
    assert bayo.send(f"VERIFY MAMA {code}").text == PIN_PROMPT
    assert bayo.send(BAYO_PIN).text.startswith(f"{code}: Free Zobo drink for Chidi")
    assert bayo.send("1").text == "Done: marked as handed over. The customer has been told."
    with db.sessions() as session:
        assert session.scalars(select(RewardRedemption.status)).one() == "fulfilled"
    assert customers_at(db, mama) == [CUSTOMER] and customers_at(db, noodle) == []


def test_staff_naming_a_vendor_they_do_not_work_for_stay_where_they_are(phone, mama, chop, db):
    bayo = phone(BAYO)
    assert bayo.send("LOG CHOP 0803 123 4567 15000").text == PIN_PROMPT
    assert bayo.send(BAYO_PIN).text.startswith("Log ₦15,000")  # at MAMA: CHOP was never chosen
    assert count(db, Customer) == 0 and count(db, Staff, Staff.tenant_id == chop.id) == 0


def test_staff_naming_their_vendor_on_another_vendors_own_number_are_told_where_to_write(phone, mama, chop, db):
    """What follows LOG MAMA (the PIN, the confirmation) would go to CHOP, whose number it is."""
    at_chop = phone(BAYO, to=CHOP_NUMBER)
    where = "Nothing was done here: *Mama Put Kitchen* has its own WhatsApp number. Send that to +14155238886."
    assert at_chop.send("LOG MAMA 0803 123 4567 15000").text == where
    load(db, tenant_file(code="CHOP", name="Chop Bar", whatsapp_number=CHOP_NUMBER,
                         staff=[{"name": "Bayo", "phone": BAYO, "pin": BAYO_PIN}]))
    assert at_chop.send("LOG MAMA 0803 123 4567 15000").text == where  # working at both: not logged at CHOP either
    assert at_chop.send(BAYO_PIN).text == NOT_UNDERSTOOD  # CHOP's conversation, which asked nothing
    assert count(db, Purchase) == 0 and count(db, Customer) == 0 and count(db, PhoneRoute) == 0
    me = phone(to=CHOP_NUMBER)
    me.send("JOIN MAMA")
    me.send("STOP MAMA")  # consent is still changed wherever it is asked
    assert consent_at(db, mama) is False


def test_a_member_stopping_one_vendor_by_name_leaves_the_other_alone(phone, mama, noodle, db):
    me = phone()
    me.send("JOIN NOODLE")
    me.send("JOIN MAMA")
    me.send("STOP NOODLE")
    assert (consent_at(db, noodle), consent_at(db, mama)) == (False, True)
    assert "*Noodle House*" in me.send("BAL").text  # naming it made it the current vendor


def test_stop_naming_a_vendor_the_phone_never_joined_stops_nothing(phone, mama, chop, db):
    me = phone()
    me.send("JOIN MAMA")
    answer = me.send("STOP CHOP").text
    assert answer == "You're not a member of *Chop Bar*: it sends you nothing to stop or start. To join, send JOIN CHOP."
    assert consent_at(db, mama) is True and count(db, Customer, Customer.tenant_id == chop.id) == 0


def test_a_command_naming_a_vendor_the_phone_never_joined_does_not_reach_it(phone, mama, chop, db):
    assert phone().send("BAL CHOP").text == INVITED_TO_MAMA
    assert count(db, Customer) == 0 and count(db, PhoneRoute) == 0


# --- the loader refuses codes people would write anyway -----------------------------------


def load_file(app, tmp_path, **changes):
    raw = json.loads(EXAMPLE_TENANT.read_text())
    raw.update(changes)
    path = tmp_path / "tenant.json"
    path.write_text(json.dumps(raw))
    return app.test_cli_runner().invoke(args=["tenants", "load", str(path)])


@pytest.mark.parametrize(
    "code, reason",
    [
        ("ME", "ordinary messages"), ("THE", "ordinary messages"), ("PIN", "bot command"),
        ("ABEG", "ordinary messages"), ("MERCI", "ordinary messages"),
        ("HELP", "bot command"), ("OK", "bot command"), ("YES", "bot command"), ("JOIN", "bot command"),
        ("15K", "reads as an amount"), ("2M", "reads as an amount"),
        ("K7Q4XM", "member or reward code"), ("RK7Q4XM", "member or reward code"), ("RD7KX4QF", "member or reward code"),
        ("1234", "capital letters or digits"), ("ma ma", "capital letters or digits"),
        ("FR", "language code"), ("EN", "language code"),
    ],
)
def test_the_loader_refuses_codes_the_bot_would_read_as_something_else(app, db, tmp_path, code, reason):
    result = load_file(app, tmp_path, code=code)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)  # an answer, not a traceback
    assert "code: " in result.output and reason in result.output
    assert count(db, Tenant) == 0 and count(db, AuditLog) == 0


@pytest.mark.parametrize("code", ["MAMA", "CHOP", "K7Q4XMA", "SHOP24", "MAMA2"])
def test_ordinary_vendor_codes_still_load(app, db, tmp_path, code):
    result = load_file(app, tmp_path, code=code)
    assert result.exit_code == 0, result.output
    assert f"Created vendor {code}." in result.output


def test_staff_of_two_french_vendors_are_asked_which_in_french(phone, db):
    load(db, tenant_file(language="fr"))
    load(db, tenant_file(code="NOODLE", name="Noodle House", language="fr", staff=[{"name": "Bayo", "phone": BAYO, "pin": BAYO_PIN}]))
    assert phone(BAYO).send("LOG").text.startswith("Vous travaillez pour plusieurs boutiques")
