"""The Twilio webhook: signatures, replays, awkward messages, TwiML, health."""
from __future__ import annotations

import gc

from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from bot.app import create_app
from bot.config import DEV_AUTH_TOKEN
from bot.devclient import parse_twiml
from models import Customer, CustomerPointsBalance, Message
from tests.conftest import AUTH_TOKEN, INBOUND_URL, MAMA_NUMBER, PUBLIC_BASE_URL, Phone, count, make_config
from webhooks.twilio import MAX_BODY_CHARS, _twiml_text, split_message


def test_the_messages_sessions_are_freed_at_once_with_what_they_held(phone, mama, db):
    """The dispatcher drops a BAL's session rather than closing it, and closes one that took
    part in the transaction (bot/dispatcher.py): either way it is freed as the message ends,
    with the rows it read, without waiting for the collector."""
    me = phone()
    me.send("JOIN MAMA")

    def alive(kind) -> int:
        return sum(isinstance(thing, kind) for thing in gc.get_objects())

    gc.collect()
    gc.disable()
    try:
        sessions, customers = alive(Session), alive(Customer)
        for text, answer in [("BAL", "Balance: 50 points"), ("HISTORY", "Welcome bonus"), ("REWARDS", "Free Zobo drink")] * 2:
            assert answer in me.send(text).text
        assert (alive(Session), alive(Customer)) == (sessions, customers)
    finally:
        gc.enable()


def test_missing_signature_is_refused_and_stores_nothing(phone, mama, db):
    me = phone()
    response = me.client.post("/webhooks/twilio/inbound", data=me.form("JOIN MAMA"))
    assert response.status_code == 403
    assert count(db, Message) == 0
    assert count(db, Customer) == 0


def test_wrong_signature_is_refused_and_stores_nothing(phone, mama, db):
    me = phone()
    response = me.post(me.form("JOIN MAMA"), signature="bm90IGEgcmVhbCBzaWduYXR1cmU=")
    assert response.status_code == 403
    assert count(db, Message) == 0


def test_signature_over_other_parameters_is_refused(phone, mama, db):
    me = phone()
    signed = me.form("BAL")
    good = me.post(signed)
    assert good.status_code == 200
    tampered = {**signed, "Body": "JOIN MAMA", "MessageSid": "SMtampered"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_BASE_URL + INBOUND_URL, signed)
    assert me.post(tampered, signature=signature).status_code == 403
    assert count(db, Customer) == 0


def test_without_an_auth_token_a_message_signed_with_the_public_dev_token_is_refused(make_app, mama, db, caplog):
    """A Kannel-only server has no TWILIO_AUTH_TOKEN: a forged Twilio webhook gets nothing."""
    me = Phone(make_app(twilio_auth_token=None), "+2348031234567")
    form = me.form("JOIN MAMA")
    assert me.post(form, signature=RequestValidator(DEV_AUTH_TOKEN).compute_signature(PUBLIC_BASE_URL + INBOUND_URL, form)).status_code == 403
    assert count(db, Message) == 0
    assert count(db, Customer) == 0
    assert "TWILIO_AUTH_TOKEN is not set" in caplog.text


def test_signature_over_the_url_with_its_port_is_accepted(phone, mama, db):
    """Twilio may sign https://host:443/...; the URL as configured is tried first, then that form."""
    me = phone()
    form = me.form("JOIN MAMA")
    with_port = PUBLIC_BASE_URL.replace(".test", ".test:443") + INBOUND_URL
    assert me.post(form, signature=RequestValidator(AUTH_TOKEN).compute_signature(with_port, form)).status_code == 200
    assert count(db, Customer) == 1


def test_a_signature_that_is_not_ascii_is_refused(phone, mama, db):
    me = phone()
    assert me.post(me.form("JOIN MAMA"), signature="sïgnature").status_code == 403
    assert count(db, Message) == 0


def test_replayed_message_sid_returns_first_reply_and_changes_nothing(phone, mama, db):
    me = phone()
    first = me.send("JOIN MAMA", sid="SMreplay1")
    again = me.send("JOIN MAMA", sid="SMreplay1")
    assert first.status == again.status == 200
    assert again.text == first.text
    assert "50 welcome points" in first.text
    assert count(db, Message, Message.message_sid == "SMreplay1") == 1
    assert count(db, Customer) == 1
    with db.sessions() as session:
        assert session.scalar(select(CustomerPointsBalance.current_balance)) == 50


def test_reply_is_twiml_with_one_message_per_reply(phone, mama):
    response = phone().post(phone().form("JOIN MAMA"))
    assert response.mimetype == "application/xml"
    body = response.get_data(as_text=True)
    assert body.startswith('<?xml version="1.0" encoding="UTF-8"?><Response><Message>')
    assert body.count("<Message>") == 3  # greeting, bonus, menu


def test_a_reply_longer_than_a_message_goes_as_several_cut_between_lines_in_order():
    lines = [f"{n}. " + "y" * 300 for n in range(1, 9)]  # 8 lines of 303 characters: 2,431 in all
    parts = split_message("\n".join(lines))
    assert parts == ["\n".join(lines[:5]), "\n".join(lines[5:])]
    long_line = " ".join(["word"] * 400) + " " + "😀" * 800  # 2,000 characters, then 1,600 of Twilio's in emoji
    parts = split_message(long_line)
    assert parts == [" ".join(["word"] * 320), " ".join(["word"] * 80), "😀" * 800]  # a line is cut at a space
    assert split_message("short\nreply") == ["short\nreply"]
    replies = parse_twiml(_twiml_text((("\n".join(lines), "/media/qr.png"), ("next", None)), "https://bot.example"))
    assert [reply.body for reply in replies] == ["\n".join(lines[:5]), "\n".join(lines[5:]), "next"]
    assert [reply.media for reply in replies] == [["https://bot.example/media/qr.png"], [], []]  # with the first part


def test_the_twiml_written_by_hand_is_what_twilios_library_writes():
    """webhooks/twilio.py writes TwiML itself (the library's ElementTree cost a BAL twenty
    times more): character for character the same as twilio's MessagingResponse."""
    long_body = "\n".join(f"{n}. " + "y" * 300 for n in range(1, 9))
    cases = [
        (),
        (("Balance: 50 points", None),),
        (("a & b < c > d \"quoted\" 'single'", None), ("second", None)),
        (("Your QR code", "/media/qr.png"), ("next", None)),
        (("", None),),
        (("", "https://cdn.example/x.png?a=1&b=2"),),
        (("bell\x07 and tab\t and line\nbreak", None),),
        (("a lone half of a pair \ud800 is dropped", None),),
        ((long_body, "/media/qr.png"),),
        (("Ñoño café ₦5,000 😀", None),),
    ]
    for replies in cases:
        expected = MessagingResponse()
        for body, media_url in replies:
            for number, part in enumerate(split_message(body.replace("\x07", "").replace("\ud800", ""))):
                message = expected.message(part)
                if media_url and number == 0:
                    message.media(media_url if "://" in media_url else "https://bot.example" + media_url)
        assert _twiml_text(replies, "https://bot.example") == str(expected), replies


def test_a_longer_reply_is_cut_between_paragraphs_that_fit_in_a_message():
    paragraphs = [f"{n}. A title\n" + "y" * 300 for n in range(1, 7)]  # 6 of 311 characters, a blank line between
    assert split_message("\n\n".join(paragraphs)) == ["\n\n".join(paragraphs[:5]), paragraphs[5]]
    too_long = "a title\n" + "\n".join(["z" * 300] * 6)  # a paragraph longer than a message: cut between lines
    assert split_message(f"{too_long}\n\nend") == ["\n".join(too_long.split("\n")[:6]), "z" * 300 + "\n\nend"]


def test_sms_messages_are_understood(phone, mama, db):
    me = phone(channel="sms")
    sent = me.send("JOIN MAMA")
    assert "Welcome to Mama Put Kitchen rewards!" in sent.text
    with db.sessions() as session:
        assert session.scalar(select(Message.channel)) == "sms"


def test_media_only_message_gets_a_friendly_answer(phone, mama):
    me = phone()
    me.send("JOIN MAMA")
    sent = me.send("", NumMedia="1", MediaUrl0="https://api.twilio.com/media/photo.jpg", MediaContentType0="image/jpeg")
    assert sent.status == 200
    assert "only text" in sent.text


def test_empty_body_gets_a_friendly_answer(phone, mama):
    me = phone()
    me.send("JOIN MAMA")
    sent = me.send("   ")
    assert sent.status == 200
    assert "only read text" in sent.text


def test_very_long_body_is_cut_and_the_customer_told(phone, mama, db):
    me = phone()
    me.send("JOIN MAMA")
    sent = me.send("BAL " + "x" * 5000)
    assert sent.status == 200
    assert f"first {MAX_BODY_CHARS:,} characters" in sent.text
    assert "Balance: 50 points" in sent.text
    with db.sessions() as session:
        bodies = session.scalars(select(Message.body)).all()
    assert max(len(body) for body in bodies) == MAX_BODY_CHARS


def test_emoji_and_non_latin_text_get_a_hint_not_an_error(phone, mama):
    me = phone()
    me.send("JOIN MAMA")
    for text in ("👍🏾", "សួស្តី", "こんにちは", "مرحبا", "\u200b"):
        sent = me.send(text)  # the helper fails on the catch-all error
        assert sent.status == 200
        assert "Reply with a number" in sent.text  # the hint, or the menu after three misses


def test_full_width_and_punctuated_commands_are_understood(phone, mama):
    me = phone()
    me.send("JOIN MAMA")
    assert "Balance: 50 points" in me.send("ＢＡＬ").text
    assert "Balance: 50 points" in me.send("bal!!!").text


def test_form_without_message_sid_is_a_bad_request(phone, mama, db):
    me = phone()
    form = me.form("JOIN MAMA")
    del form["MessageSid"]
    assert me.post(form).status_code == 400
    assert count(db, Customer) == 0


def test_healthz_reports_database_and_redis(app):
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": True, "redis": True}


def test_healthz_says_what_is_unreachable():
    unreachable = make_config("postgresql+psycopg2://postgres@127.0.0.1:1/none", redis_url="redis://127.0.0.1:1/0")
    response = create_app(unreachable).test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "degraded", "database": False, "redis": False}


def test_signature_uses_public_base_url_behind_a_proxy(phone, mama):
    me = phone()
    form = me.form("JOIN MAMA")
    # Signed for the URL the app itself sees (http://localhost), not the public one Twilio called.
    local = RequestValidator(AUTH_TOKEN).compute_signature("http://localhost/webhooks/twilio/inbound", form)
    assert me.post(form, signature=local).status_code == 403
    assert me.post(form).status_code == 200


def test_to_number_in_reply_is_the_vendor_number(phone, mama, db):
    phone().send("JOIN MAMA")
    with db.sessions() as session:
        assert session.scalar(select(Message.to_number)) == MAMA_NUMBER


def test_sms_to_a_carrier_short_code_is_answered(phone, mama, db):
    sent = phone(channel="sms", to="32811").send("VOTE 3")
    assert sent.status == 200 and "send JOIN and the shop's code" in sent.text


def test_anything_that_looks_like_a_pin_is_stored_redacted_whoever_sends_it(phone, mama, db):
    me = phone()
    me.send("JOIN MAMA")
    me.send(" 482916 ")
    with db.sessions() as session:
        bodies = session.scalars(select(Message.body).order_by(Message.created_at)).all()
    assert bodies == ["JOIN MAMA", "[redacted: may contain a PIN]"]


# Signatures with a Twilio SharedKey: a Webhook Rule that matches the URL makes Twilio sign with
# the key's secret, by the algorithm its settings header names, instead of the auth token.
SHARED_KEY = "shared-key-secret"
SETTINGS = "X-Twilio-Webhooks-Signature-Settings"


def shared_key_post(me, form: dict, secret: str = SHARED_KEY, algorithm: str = "HMAC_SHA256", url: str = INBOUND_URL):
    signature = RequestValidator(secret).compute_signature(PUBLIC_BASE_URL + url, form, algorithm)
    return me.client.post(url, data=form, headers={
        "X-Twilio-Signature": signature, SETTINGS: f"key=KS0123456789abcdef,algorithm={algorithm}",
    })


def test_a_message_signed_with_a_shared_key_is_answered(make_app, mama, db):
    me = Phone(make_app(twilio_shared_key_secrets=(SHARED_KEY,)), "+2348031234567")
    for algorithm in ("HMAC_SHA256", "HMAC_SHA1"):
        response = shared_key_post(me, me.form("BAL" if count(db, Customer) else "JOIN MAMA"), algorithm=algorithm)
        assert response.status_code == 200
        assert "points" in response.get_data(as_text=True)
    assert count(db, Message, Message.direction == "inbound") == 2


def test_either_shared_key_is_accepted_while_one_is_rotated(make_app, mama, db):
    me = Phone(make_app(twilio_shared_key_secrets=("new-secret", "old-secret")), "+2348031234567")
    assert shared_key_post(me, me.form("JOIN MAMA"), secret="old-secret").status_code == 200
    assert shared_key_post(me, me.form("BAL"), secret="new-secret").status_code == 200
    assert shared_key_post(me, me.form("BAL"), secret="retired-secret").status_code == 403
    assert count(db, Message, Message.direction == "inbound") == 2


def test_the_auth_token_does_not_sign_for_a_shared_key(make_app, mama, db):
    """With the settings header, only the SharedKey's secret signs: not the auth token."""
    me = Phone(make_app(twilio_shared_key_secrets=(SHARED_KEY,)), "+2348031234567")
    assert shared_key_post(me, me.form("JOIN MAMA"), secret=AUTH_TOKEN).status_code == 403
    assert count(db, Message) == 0


def test_a_shared_key_signature_without_its_secret_configured_is_refused_and_logged(phone, mama, db, caplog):
    me = phone()
    assert shared_key_post(me, me.form("JOIN MAMA")).status_code == 403
    assert count(db, Message) == 0
    assert "TWILIO_SHARED_KEY_SECRETS is not set" in caplog.text


def test_an_unknown_signature_algorithm_is_refused(make_app, mama, db, caplog):
    me = Phone(make_app(twilio_shared_key_secrets=(SHARED_KEY,)), "+2348031234567")
    form = me.form("JOIN MAMA")
    signature = RequestValidator(SHARED_KEY).compute_signature(PUBLIC_BASE_URL + INBOUND_URL, form, "HMAC_SHA256")
    response = me.client.post(INBOUND_URL, data=form, headers={
        "X-Twilio-Signature": signature, SETTINGS: "key=KS0123456789abcdef,algorithm=HMAC_SHA3",
    })
    assert response.status_code == 403
    assert count(db, Message) == 0
    assert "unsupported algorithm 'HMAC_SHA3'" in caplog.text


def test_a_delivery_receipt_signed_with_a_shared_key_is_recorded(make_app, mama):
    me = Phone(make_app(twilio_shared_key_secrets=(SHARED_KEY,)), "+2348031234567")
    receipt = {"MessageSid": "SMunknown", "MessageStatus": "delivered", "AccountSid": "ACtest"}
    assert shared_key_post(me, receipt, url="/webhooks/twilio/status").status_code == 204
    assert shared_key_post(me, receipt, secret="wrong", url="/webhooks/twilio/status").status_code == 403
