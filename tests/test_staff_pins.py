"""Staff PINs: never kept or repeated, wherever in a message they are; the lockout counts a phone's
wrong PINs at every vendor; a confirmation checks the session and the lockout again."""
from __future__ import annotations

import hmac
import json
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from bot.services import staff as staff_service
from bot.services.staff import fingerprint_pin, hash_pin
from bot.services.tenants import load_tenant
from models import AuditLog, Customer, PinLockout, Purchase, RewardRedemption, Staff, Message
from models.base import utcnow
from tests.conftest import PIN_PEPPER, count, tenant_file
from tests.test_rewards import give_points, redeem_jollof

BAYO, BAYO_PIN = "+2348030000002", "731205"
CUSTOMER = "+2348031234567"
SALON_NUMBER, SALON_PIN = "+2349010000000", "582931"


@pytest.fixture
def bayo(phone, mama):
    return phone(BAYO)


@pytest.fixture
def member(phone, mama):
    phone(CUSTOMER).send("JOIN MAMA")


def stored_text(db) -> str:
    """Everything the messages and conversations left in the database, as one text."""
    with db.sessions() as session:
        messages = session.execute(select(Message.body, Message.reply)).all()
        states = [*session.scalars(select(Customer.conversation_state)), *session.scalars(select(Staff.conversation_state))]
    return json.dumps([[body, reply] for body, reply in messages] + states, ensure_ascii=False)


def open_session(staff, pin=BAYO_PIN):
    staff.send("LOG")
    assert staff.send(pin).text == "Customer's phone number or member code?"
    staff.send("CANCEL")


# The PIN is never stored, kept in the conversation or repeated, whatever surrounds it


def test_verify_with_the_pin_asks_for_the_pin_then_for_the_code(bayo, db):
    assert bayo.send(f"VERIFY {BAYO_PIN}").text == "Hi Bayo, please send your staff PIN."
    assert bayo.send(BAYO_PIN).text == "Which code? (like RD-7KX4QF)"  # not "No reward code 731205"
    assert BAYO_PIN not in stored_text(db)


def test_log_with_the_pin_does_not_take_it_for_an_amount(bayo, member, db):
    assert bayo.send(f"LOG {BAYO_PIN}").text == "Hi Bayo, please send your staff PIN."
    assert bayo.send(BAYO_PIN).text == "Customer's phone number or member code?"
    assert bayo.send("0803 123 4567").text == "Amount spent? (like 15000, 15,000 or 15k)"  # no ₦731,205
    stored = stored_text(db)
    assert BAYO_PIN not in stored and "731,205" not in stored


@pytest.mark.parametrize("text", [f"pin {BAYO_PIN}", f"my pin is {BAYO_PIN}", f"PIN:{BAYO_PIN}!", f"{BAYO_PIN} thanks"])
def test_the_pin_in_words_is_read_at_the_pin_question_and_never_kept(bayo, member, db, text):
    bayo.send("LOG 0803 123 4567 1500")
    assert bayo.send(text).text.startswith("Log ₦1,500 for Chidi")
    bayo.send(text)  # again, at the confirmation: not understood, and not kept either
    bayo.send("CANCEL")
    bayo.send(text)  # and with nothing going on
    assert BAYO_PIN not in stored_text(db)
    with db.sessions() as session:
        bodies = session.scalars(
            select(Message.body).where(Message.from_number == BAYO).order_by(Message.created_at)
        ).all()
    redacted = "[redacted: may contain a PIN]"
    assert bodies == ["LOG 0803 123 4567 1500", redacted, redacted, "CANCEL", redacted]


def test_the_pin_where_an_amount_or_a_customer_is_asked_is_neither(bayo, member, db):
    open_session(bayo)
    bayo.send("LOG")
    assert "couldn't read that" in bayo.send(f"customer {BAYO_PIN}").text
    bayo.send("08031234567")
    assert bayo.send(BAYO_PIN).text.startswith("That's not an amount I can read.")
    assert bayo.send(f"LOG 08031234567 {BAYO_PIN}").text == "Amount spent? (like 15000, 15,000 or 15k)"
    stored = stored_text(db)
    assert BAYO_PIN not in stored and "731,205" not in stored
    assert count(db, Purchase) == 0


def test_while_the_pin_is_asked_no_other_flow_takes_its_digits(bayo, member, db):
    assert "PIN" in bayo.send("VOID").text
    assert bayo.send("LOG 731250").text == "Hi Bayo, please send your staff PIN."  # a mistyped PIN, with LOG
    assert bayo.send(BAYO_PIN).text == "Customer's phone number or member code?"
    assert "731250" not in stored_text(db) and "731,250" not in stored_text(db)


def test_a_pin_question_timed_out_masks_no_digits_of_the_next_message(bayo, member, clock):
    """After 30 minutes the PIN question is over: a one-shot LOG keeps its phone and amount."""
    assert "PIN" in bayo.send("VOID").text
    clock.advance(minutes=31)
    assert "PIN" in bayo.send("LOG 0803 123 4567 15000").text
    assert bayo.send(BAYO_PIN).text.startswith("Log ₦15,000 for Chidi")


def test_other_numbers_in_staff_messages_are_kept(bayo, member, db):
    open_session(bayo)
    bayo.send("LOG 0803 123 4567 15000")
    with db.sessions() as session:
        assert session.scalars(select(Message.body).where(Message.body.like("LOG 0803%"))).one() == (
            "LOG 0803 123 4567 15000"
        )


def test_a_staff_message_with_too_many_pin_like_numbers_is_kept_out_whole(bayo, member, db):
    open_session(bayo)
    assert "Customer's phone" in bayo.send("LOG 2468 1357 9753 8642").text  # none of them read as anything
    with db.sessions() as session:
        assert session.scalars(select(Message.body).where(Message.body.like("%2468%"))).all() == []


def test_without_a_session_the_reply_does_not_tell_whether_a_number_was_the_pin(bayo, member):
    right = bayo.send(f"LOG 08031234567 {BAYO_PIN}").text
    bayo.send("CANCEL")
    wrong = bayo.send("LOG 08031234567 731250").text
    assert right == wrong == "Hi Bayo, please send your staff PIN."


WRONG_PIN = "731250"


@pytest.mark.parametrize("shape", ["1 {}", "{}", "LOG {}", "VERIFY {}", "LANG {}", "REDEEM {}", "hello {}"])
def test_without_a_session_no_reply_tells_the_pin_from_another_number(bayo, db, shape):
    """Bayo is a member too (LANG and REDEEM are his as well): whatever the shape of a message,
    the PIN in it gets the reply any other number gets, and counts as nothing."""
    bayo.send("JOIN MAMA")
    bayo.send("MENU")
    wrong = bayo.send(shape.format(WRONG_PIN)).text
    bayo.send("MENU")
    right = bayo.send(shape.format(BAYO_PIN)).text
    assert right == wrong
    assert BAYO_PIN not in stored_text(db)
    with db.sessions() as session:
        assert session.get(PinLockout, BAYO) is None


@pytest.mark.parametrize("question", ["LOG 08031234567", "LOG", "VERIFY"])
def test_after_the_session_ended_mid_question_no_reply_tells_the_pin_from_another_number(bayo, member, clock, question):
    """A question left open when the session ends: the answer is not read (a 4-8 digit amount
    or code would be the PIN's tell) until the PIN opens a session again."""
    replies = []
    for number in (WRONG_PIN, BAYO_PIN):
        open_session(bayo)
        bayo.send(question)
        end_session(clock)
        replies.append(bayo.send(number).text)
        bayo.send("CANCEL")
    assert replies == ["Hi Bayo, please send your staff PIN."] * 2


# The lockout counts a phone's wrong PINs at all its vendors


@pytest.fixture
def salon(db, mama):
    """A second vendor where Bayo also works, with another PIN."""
    with db.transaction() as session:
        load_tenant(session, tenant_file(
            code="SALON", name="Glow Salon", whatsapp_number=SALON_NUMBER,
            staff=[{"name": "Bayo", "phone": BAYO, "pin": SALON_PIN, "role": "staff"}],
        ), pin_pepper=PIN_PEPPER)


def test_five_wrong_pins_across_two_vendors_lock_the_phone_at_both(phone, salon, db):
    at_mama, at_salon = phone(BAYO), phone(BAYO, to=SALON_NUMBER)
    at_mama.send("LOG")
    for left in (4, 3, 2):
        assert f"{left} tries left" in at_mama.send("999999").text
    at_salon.send("LOG")
    assert "1 try left" in at_salon.send("999999").text
    assert "locked until" in at_salon.send("999999").text
    assert "locked until" in at_mama.send("LOG").text
    assert "locked until" in at_salon.send("VERIFY").text
    with db.sessions() as session:
        assert session.get(PinLockout, BAYO).locked_until - utcnow() > timedelta(minutes=14)


@pytest.mark.parametrize("junk", ["BACK", "ok", "1", "?", "582931 731250"])
def test_an_answer_that_is_no_pin_at_the_pin_question_is_no_try(bayo, member, db, junk):
    """Only 4 to 8 digits can be a PIN: anything else at the PIN question (two PINs at once too)
    gets a hint and counts no try, where five such answers locked the phone out everywhere."""
    for _ in range(5):
        bayo.send("LOG 0803 123 4567 1500")
        assert bayo.send(junk).text == "A staff PIN is 4 to 8 digits: send yours, or CANCEL."
        bayo.send("CANCEL")
    with db.sessions() as session:
        assert session.scalars(select(AuditLog).where(AuditLog.action == "staff.pin_failed")).all() == []
    bayo.send("LOG 0803 123 4567 1500")
    bayo.send(junk)
    assert "Log ₦1,500" in bayo.send(BAYO_PIN).text


def test_a_right_pin_at_one_vendor_starts_the_count_again(phone, salon):
    at_mama, at_salon = phone(BAYO), phone(BAYO, to=SALON_NUMBER)
    at_mama.send("LOG")
    for _ in range(4):
        at_mama.send("999999")
    at_salon.send("LOG")
    assert at_salon.send(SALON_PIN).text == "Customer's phone number or member code?"
    assert "4 tries left" in at_mama.send("999999").text


def test_setting_a_pin_ends_the_lockout(app, phone, mama, db):
    bayo = phone(BAYO)
    bayo.send("LOG")
    for _ in range(5):
        bayo.send("999999")
    result = app.test_cli_runner().invoke(args=["staff", "pin", "--tenant", "MAMA", "--phone", BAYO], input="583920\n583920\n")
    assert result.exit_code == 0, result.output
    assert bayo.send("LOG").text == "Hi Bayo, please send your staff PIN."


# A confirmation checks the session and the lockout again


def end_session(clock):
    clock.advance(minutes=10, seconds=1)


def lock_out_at_the_salon(phone):
    """Five wrong PINs from Bayo's phone at the other vendor."""
    at_salon = phone(BAYO, to=SALON_NUMBER)
    at_salon.send("LOG")
    for _ in range(5):
        reply = at_salon.send("999999")
    assert "locked until" in reply.text


def test_confirming_a_purchase_after_the_session_ended_asks_the_pin_and_keeps_the_purchase(bayo, member, db, clock):
    open_session(bayo)
    assert bayo.send("LOG 08031234567 1500").text.startswith("Log ₦1,500 for Chidi")
    end_session(clock)
    assert bayo.send("1").text == "Hi Bayo, please send your staff PIN."
    assert count(db, Purchase) == 0
    assert bayo.send(BAYO_PIN).text.startswith("Log ₦1,500 for Chidi")  # the same question again
    assert bayo.send("1").text.startswith("Logged ₦1,500")
    assert count(db, Purchase) == 1


def test_a_staff_member_a_reload_takes_off_and_back_on_starts_afresh(bayo, member, db):
    open_session(bayo)
    assert bayo.send("LOG 08031234567 1500").text.startswith("Log ₦1,500 for Chidi")
    with db.transaction() as session:  # a file without Bayo, then the whole file again
        load_tenant(session, tenant_file(staff=[ADA]), pin_pepper=PIN_PEPPER)
    reload_bayo(db, pin=BAYO_PIN)
    assert bayo.send("1").text == "Hi Bayo, please send your staff PIN."  # the menu's 1, LOG, behind the PIN again
    assert bayo.send(BAYO_PIN).text == "Customer's phone number or member code?"  # not the old purchase
    assert count(db, Purchase) == 0


def test_a_staff_member_a_file_takes_back_on_without_a_pin_chooses_a_new_one(bayo, db):
    """As when the owner takes them on again by chat: the PIN they had before no longer opens a session."""
    with db.transaction() as session:
        load_tenant(session, tenant_file(staff=[ADA]), pin_pepper=PIN_PEPPER)
    reload_bayo(db)  # neither pin nor pin_hash: he chooses it by chat
    assert (bayo_row(db).pin_hash, bayo_row(db).pin_fingerprint) == (None, None)
    assert bayo.send("LOG").text == "You haven't chosen your staff PIN yet. Reply PIN to choose it."
    assert bayo.send(BAYO_PIN).text != "Customer's phone number or member code?"
    assert bayo_row(db).session_expires_at is None


def test_confirming_a_void_after_the_session_ended_asks_the_pin(bayo, member, db, clock):
    open_session(bayo)
    bayo.send("LOG 08031234567 1500")
    bayo.send("1")
    assert "Void ₦1,500" in bayo.send("VOID").text
    end_session(clock)
    assert bayo.send("1").text == "Hi Bayo, please send your staff PIN."
    assert "Void ₦1,500" in bayo.send(BAYO_PIN).text
    assert bayo.send("1").text.startswith("Voided.")


@pytest.mark.parametrize("command", ["LOG 08031234567 1500", "VOID"])
def test_confirming_while_locked_out_is_refused(phone, bayo, member, salon, db, command):
    open_session(bayo)
    if command == "VOID":
        bayo.send("LOG 08031234567 1500")
        bayo.send("1")
    assert "1. Confirm" in bayo.send(command).text
    lock_out_at_the_salon(phone)
    assert "locked until" in bayo.send("1").text
    with db.sessions() as session:
        assert session.scalars(select(Purchase.status)).all() == (["completed"] if command == "VOID" else [])


def test_handing_over_a_reward_after_the_session_ended_asks_the_pin_and_when_locked_is_refused(
    phone, bayo, member, salon, db, clock
):
    give_points(db, 450)
    code = redeem_jollof(phone(CUSTOMER)).text.split("*")[1]
    open_session(bayo)
    assert "1. Hand it over" in bayo.send(f"VERIFY {code}").text
    end_session(clock)
    assert bayo.send("1").text == "Hi Bayo, please send your staff PIN."
    assert "1. Hand it over" in bayo.send(BAYO_PIN).text
    lock_out_at_the_salon(phone)
    assert "locked until" in bayo.send("1").text
    with db.sessions() as session:
        assert session.scalars(select(RewardRedemption.status)).one() == "pending"


# The PIN's fingerprint: written whenever the PIN is known in clear, so that finding it in a
# message costs no slow hash; dropped with a hash it may not match


ADA = {"name": "Ada", "phone": "+2348030000001", "pin": "482916", "role": "owner"}


def bayo_row(db) -> Staff:
    with db.sessions() as session:
        return session.scalars(select(Staff).where(Staff.phone_number == BAYO)).one()


def fingerprinted(db, pin: str) -> bool:
    """Whether Bayo's row holds the fingerprint of `pin`."""
    user = bayo_row(db)
    return user.pin_fingerprint == fingerprint_pin(PIN_PEPPER, user.id, pin)


def reload_bayo(db, **pin) -> None:
    """MAMA's file again, Bayo's PIN given as `pin=` or `pin_hash=`."""
    with db.transaction() as session:
        load_tenant(session, tenant_file(staff=[ADA, {"name": "Bayo", "phone": BAYO, "role": "staff", **pin}]), pin_pepper=PIN_PEPPER)


@pytest.fixture
def slow_checks(monkeypatch) -> list[str]:
    """What the staff service checks against a PIN's slow hash, in order."""
    checked = []

    def check(pin_hash: str, text: str) -> bool:
        checked.append(text)
        return check_password_hash(pin_hash, text)

    monkeypatch.setattr(staff_service, "check_password_hash", check)
    return checked


def test_a_pin_loaded_in_clear_is_fingerprinted_and_a_pin_hash_that_changes_it_drops_the_fingerprint(db, mama):
    assert fingerprinted(db, BAYO_PIN)
    reload_bayo(db, pin_hash=bayo_row(db).pin_hash)  # the same hash, as `tenants export` gives it: kept
    assert fingerprinted(db, BAYO_PIN)
    reload_bayo(db, pin_hash=hash_pin("640213"))
    assert bayo_row(db).pin_fingerprint is None
    reload_bayo(db, pin="640213")  # in clear again: the hash matches, and the fingerprint is back
    assert fingerprinted(db, "640213")


def test_a_pin_given_as_a_hash_is_found_by_the_slow_check_until_the_first_right_pin_fingerprints_it(
    bayo, db, slow_checks
):
    reload_bayo(db, pin_hash=hash_pin(BAYO_PIN))
    slow_checks.clear()  # the reload's own check of Ada's PIN
    assert bayo.send(f"VERIFY {BAYO_PIN}").text == "Hi Bayo, please send your staff PIN."
    assert slow_checks == [BAYO_PIN]  # once for the message, though it is read twice
    assert "4 tries left" in bayo.send("999999").text
    assert bayo_row(db).pin_fingerprint is None  # a wrong PIN writes nothing
    assert bayo.send(BAYO_PIN).text == "Which code? (like RD-7KX4QF)"
    assert fingerprinted(db, BAYO_PIN)
    assert BAYO_PIN not in stored_text(db)


def test_setting_a_pin_from_the_command_line_fingerprints_it(app, mama, db):
    result = app.test_cli_runner().invoke(args=["staff", "pin", "--tenant", "MAMA", "--phone", BAYO], input="583920\n583920\n")
    assert result.exit_code == 0, result.output
    assert fingerprinted(db, "583920")


def test_the_pin_command_asks_for_the_pin_hidden_and_never_takes_it_on_the_command_line(app, mama, db):
    runner = app.test_cli_runner()
    given = runner.invoke(args=["staff", "pin", "--tenant", "MAMA", "--phone", BAYO, "--pin", "583920"])
    assert given.exit_code == 2 and "No such option '--pin'" in given.output
    assert not check_password_hash(bayo_row(db).pin_hash, "583920")
    asked = runner.invoke(args=["staff", "pin", "--tenant", "MAMA", "--phone", BAYO], input="583920\n583920\n")
    assert asked.exit_code == 0, asked.output
    assert "583920" not in asked.output and asked.output.endswith("PIN set for Bayo (+2348030000002).\n")
    assert check_password_hash(bayo_row(db).pin_hash, "583920")


@pytest.mark.parametrize("tenant, number, said", [
    ("NOPE", BAYO, "No vendor with code NOPE."),
    ("MAMA", "08030009999", "+2348030009999 is not on MAMA's staff."),
    ("MAMA", "08030000002", "+2348030000002 is no longer on MAMA's staff."),  # the file below took Bayo off
])
def test_the_pin_command_refuses_a_vendor_or_phone_without_the_staff_member_before_asking_the_pin(
    app, mama, db, tenant, number, said
):
    with db.transaction() as session:
        load_tenant(session, tenant_file(staff=[ADA]), pin_pepper=PIN_PEPPER)
    result = app.test_cli_runner().invoke(args=["staff", "pin", "--tenant", tenant, "--phone", number], input="583920\n583920\n")
    assert (result.exit_code, result.output) == (1, f"Error: {said}\n")  # no PIN asked for
    assert check_password_hash(bayo_row(db).pin_hash, BAYO_PIN)


def test_changing_the_pin_asks_for_the_current_one_even_in_a_session(bayo, db):
    open_session(bayo)
    assert bayo.send("PIN").text == "Hi Bayo, please send your staff PIN."
    assert bayo.send("640213").text.startswith("That PIN is not right.")
    assert bayo.send(BAYO_PIN).text.startswith("Bayo, choose your staff PIN")


def test_a_pin_chosen_by_chat_is_fingerprinted_when_typed_the_second_time(bayo, db):
    bayo.send("PIN")
    assert bayo.send(BAYO_PIN).text.startswith("Bayo, choose your staff PIN")
    assert bayo.send("640213").text == "Please send the same PIN again."
    assert fingerprinted(db, BAYO_PIN)  # not yet: only the new PIN's hash is kept meanwhile
    assert bayo.send("640213").text.startswith("Your PIN is set.")
    assert fingerprinted(db, "640213")
    assert "640213" not in stored_text(db)


KEMI = "+2348030000009"


@pytest.mark.parametrize("number", [BAYO, KEMI])
def test_a_new_pin_sent_with_the_pin_command_is_never_kept(phone, mama, db, caplog, number):
    """`PIN 582931`, from Bayo (who has a PIN) or Kemi (who has none yet): the PIN about to be
    chosen is not the sender's yet, so nothing else would hide it."""
    caplog.set_level("DEBUG")
    bayo = {"name": "Bayo", "phone": BAYO, "role": "staff", "pin": BAYO_PIN}
    kemi = {"name": "Kemi", "phone": KEMI, "role": "staff"}  # no PIN: she chooses it
    with db.transaction() as session:
        load_tenant(session, tenant_file(staff=[ADA, bayo, kemi]), pin_pepper=PIN_PEPPER)
    staff = phone(number)
    staff.send("PIN 582931")
    answers = [BAYO_PIN, "582931", "582931"] if number == BAYO else ["582931", "582931"]
    assert [staff.send(text).text for text in answers][-1].startswith("Your PIN is set.")
    with db.sessions() as session:
        audited = json.dumps(session.scalars(select(AuditLog.details)).all())
    assert "582931" not in stored_text(db) + audited + caplog.text


def test_a_pin_is_the_same_number_whatever_script_its_digits_are_typed_in(bayo, member, db, clock):
    """Chosen in Arabic-Indic digits, it opens a session typed in 0-9 or in Khmer digits, and it
    is hidden from what is kept whichever way it was typed."""
    bayo.send("PIN")
    bayo.send(BAYO_PIN)
    assert bayo.send("٥٨٢٩٣١").text == "Please send the same PIN again."
    assert bayo.send("582931").text.startswith("Your PIN is set.")
    assert fingerprinted(db, "582931")
    clock.advance(minutes=11)  # past the session
    assert "PIN" in bayo.send("LOG").text
    assert bayo.send("៥៨២៩៣១").text == "Customer's phone number or member code?"
    bayo.send("CANCEL")
    clock.advance(minutes=11)
    assert "PIN" in bayo.send("LOG").text
    assert bayo.send("my pin is 582931").text == "Customer's phone number or member code?"
    assert "582931" not in stored_text(db) and "٥٨٢٩٣١" not in stored_text(db) and "៥៨២៩៣១" not in stored_text(db)


def test_with_a_fingerprint_finding_the_pin_in_a_message_costs_no_slow_check(bayo, member, db, slow_checks):
    open_session(bayo)
    slow_checks.clear()
    assert bayo.send("LOG 0803 123 4567 15000").text.startswith("Log ₦15,000 for Chidi")
    assert bayo.send(f"VERIFY {BAYO_PIN}").text == "Which code? (like RD-7KX4QF)"  # the PIN was found
    assert slow_checks == []
    with db.transaction() as session:
        session.scalars(select(Staff).where(Staff.phone_number == BAYO)).one().pin_fingerprint = None
    bayo.send("LOG 0803 123 4567 15000")
    assert slow_checks == ["0803", "15000"]  # without one, each digit run that could be the PIN


def test_each_digit_run_of_a_staff_message_is_held_against_the_fingerprint_once(bayo, member, db, monkeypatch):
    """Storing the message redacted and reading it with the PIN masked look for it once."""
    open_session(bayo)
    compared = []
    spy = SimpleNamespace(new=hmac.new, compare_digest=lambda a, b: compared.append(a) or hmac.compare_digest(a, b))
    monkeypatch.setattr(staff_service, "hmac", spy)  # the staff service's, not the signature check's
    assert bayo.send("LOG 0803 123 4567 15000").text.startswith("Log ₦15,000 for Chidi")
    assert len(compared) == 2  # 0803 and 15000


def test_redaction_goes_by_the_fingerprint_not_the_hash(bayo, member, db):
    open_session(bayo)
    with db.transaction() as session:  # a hash of another PIN beside the fingerprint of this one
        session.scalars(select(Staff).where(Staff.phone_number == BAYO)).one().pin_hash = hash_pin("640213")
    assert bayo.send(f"LOG 08031234567 {BAYO_PIN}").text == "Amount spent? (like 15000, 15,000 or 15k)"
    stored = stored_text(db)
    assert BAYO_PIN not in stored and "731,205" not in stored
