"""Hostile and clumsy requests: size limits, repeated fields, bytes the database cannot store,
over-long fields and path parameters. Each gets a clear answer or a 4xx and changes nothing."""
from __future__ import annotations

from urllib.parse import urlencode

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from werkzeug.test import EnvironBuilder

from bot.app import create_app
from bot.outbound import queue_message
from models import Customer, Tenant, Message
from tests.conftest import AUTH_TOKEN, INBOUND_URL, PUBLIC_BASE_URL, Phone, count, make_config
from webhooks.request_limits import MAX_FORM_FIELDS, MAX_REQUEST_BYTES
from webhooks.twilio import MAX_MEDIA

STATUS_URL = "/webhooks/twilio/status"


def signed(path: str, form: dict) -> dict:
    return {"X-Twilio-Signature": RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_BASE_URL + path, form)}


def post_raw(app, path: str, body: str, headers: dict):
    return app.test_client().post(
        path, data=body, headers={**headers, "Content-Type": "application/x-www-form-urlencoded"}
    )


def media(n: int) -> dict:
    return {f"MediaUrl{i}": f"https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME{i:032d}" for i in range(n)}


def assert_nothing_stored(db):
    assert count(db, Message) == 0
    assert count(db, Customer) == 0


# --- request size (item 1) ---------------------------------------------------------------

@pytest.mark.parametrize("path", [INBOUND_URL, STATUS_URL, "/dev/phone/send", "/healthz"])
def test_a_body_over_the_limit_is_refused_on_every_route(app, mama, db, phone, path):
    form = phone().form("JOIN MAMA", Padding="x" * MAX_REQUEST_BYTES)
    response = post_raw(app, path, urlencode(form), signed(path, form))
    assert response.status_code == 413
    assert_nothing_stored(db)


def test_a_form_with_too_many_fields_is_refused_before_its_signature_is_checked(app, mama, db, phone):
    form = {**phone().form("JOIN MAMA"), **{f"F{i}": "" for i in range(MAX_FORM_FIELDS)}}
    assert len(urlencode(form)) < MAX_REQUEST_BYTES  # small, but too many fields to parse
    response = post_raw(app, INBOUND_URL, urlencode(form), {"X-Twilio-Signature": "anything"})
    assert response.status_code == 413  # not 403: refused before the form was parsed
    assert_nothing_stored(db)


def chunked(form: dict, stream=None) -> dict:
    """The environ of a signed POST of `form` sent chunked: no Content-Length, its end marked by
    the server (gunicorn sets wsgi.input_terminated). `stream`: the body as the server reads it."""
    environ = EnvironBuilder(
        path=INBOUND_URL, method="POST", base_url=PUBLIC_BASE_URL, data=urlencode(form),
        content_type="application/x-www-form-urlencoded", headers=signed(INBOUND_URL, form),
    ).get_environ()
    del environ["CONTENT_LENGTH"]
    environ["wsgi.input_terminated"] = True
    if stream is not None:
        environ["wsgi.input"] = stream
    return environ


class Trickle:
    """A body a server hands over a few bytes a read, as a read may return fewer than asked."""

    def __init__(self, body: bytes):
        self.body = body

    def read(self, size: int) -> bytes:
        part, self.body = self.body[:min(size, 100)], self.body[min(size, 100):]
        return part


class Endless:
    """A body that never ends; `taken` counts the bytes read of it."""

    taken = 0

    def read(self, size: int) -> bytes:
        assert size >= 0  # a read "to the end" would never return
        self.taken += size
        return b"x" * size


def wsgi_call(app, environ: dict) -> tuple[str, dict, str]:
    answered = []
    body = b"".join(app(environ, lambda status, headers, exc_info=None: answered.append((status, dict(headers)))))
    return *answered[0], body.decode()


def test_a_chunked_message_is_read_to_its_end_however_it_trickles_in(app, mama, db, phone):
    form = phone().form("JOIN MAMA")
    status, headers, body = wsgi_call(app, chunked(form, Trickle(urlencode(form).encode())))
    assert status == "200 OK" and headers["Content-Type"] == "application/xml; charset=utf-8"
    assert "Mama" in body and count(db, Customer) == 1


def test_a_chunked_body_is_refused_once_it_passes_the_limit(app, mama, db, phone):
    body = Endless()
    status, _, _ = wsgi_call(app, chunked(phone().form("JOIN MAMA"), body))
    assert status.startswith("413")
    assert body.taken == MAX_REQUEST_BYTES + 1  # not a byte more read than needed to know
    assert_nothing_stored(db)


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"])
def test_only_a_post_reaches_the_inbound_webhook(app, mama, db, phone, method):
    form = phone().form("JOIN MAMA")
    response = app.test_client().open(
        INBOUND_URL, method=method, data=urlencode(form), content_type="application/x-www-form-urlencoded",
        headers=signed(INBOUND_URL, form),
    )
    assert response.status_code == 405 and response.headers["Allow"] == "POST"
    assert (response.data == b"") == (method == "HEAD")  # a HEAD answer has no body
    assert_nothing_stored(db)


def test_a_message_that_cannot_be_handled_is_a_500_that_twilio_retries(tmp_path, caplog):
    unreachable = create_app(make_config(f"sqlite:///{tmp_path / 'no-such-folder' / 'bot.sqlite3'}"))
    me = Phone(unreachable, "+2348031234567")
    try:
        response = me.post(me.form("JOIN MAMA"))
    finally:
        unreachable.extensions["runtime"].db.dispose()
    assert response.status_code == 500
    assert "an inbound message failed" in caplog.text


def test_the_largest_real_twilio_message_is_accepted(phone, mama, db):
    # 4,096 emoji (12 bytes each once percent-encoded) and 10 media links.
    sent = phone().send("JOIN MAMA " + "👍" * 4086, NumMedia=str(MAX_MEDIA), **media(MAX_MEDIA))
    assert sent.status == 200
    assert "Welcome to Mama Put Kitchen rewards!" in sent.text


@pytest.mark.parametrize("num_media", ["12", "1000000000"])
def test_a_signed_num_media_is_bounded(phone, mama, db, num_media):
    me = phone()
    me.send("JOIN MAMA")
    sent = me.send("", NumMedia=num_media, **media(12))
    assert sent.text == "I can't read pictures or voice notes yet, only text."
    with db.sessions() as session:
        stored = session.scalars(select(Message.media).where(Message.message_sid == sent.sid)).one()
    assert stored == list(media(MAX_MEDIA).values())


# --- repeated fields (item 13) -----------------------------------------------------------

def test_a_signed_form_that_repeats_a_field_is_refused(app, mama, db, phone):
    me = phone()
    form = me.form("BAL")
    # Signed over the first Body; a parser that kept the last one would read JOIN MAMA.
    response = post_raw(app, INBOUND_URL, urlencode(form) + "&Body=JOIN+MAMA", signed(INBOUND_URL, form))
    assert response.status_code == 403
    assert_nothing_stored(db)


# --- bytes the database cannot store, over-long fields (item 11) -------------------------

def test_nul_bytes_in_the_text_and_the_name_are_dropped(phone, mama, db):
    me = phone()
    sent = me.send("JOIN\x00 MAMA\x00", ProfileName="Chi\x00di")
    assert "Welcome to Mama Put Kitchen rewards!" in sent.text
    with db.sessions() as session:
        assert session.scalars(select(Message.body)).one() == "JOIN MAMA"
        assert session.scalars(select(Customer.whatsapp_name)).one() == "Chidi"


def test_an_over_long_profile_name_is_cut_to_what_is_stored(phone, mama, db):
    phone().send("JOIN MAMA", ProfileName="N" * 1000)
    with db.sessions() as session:
        assert session.scalars(select(Customer.whatsapp_name)).one() == "N" * 255


@pytest.mark.parametrize(
    "field, value",
    [
        ("MessageSid", "SM\x00abc"),
        ("MessageSid", "SM" + "a" * 100),
        ("To", "whatsapp:+1415\x005238886"),
        ("To", "whatsapp:+1415523888600000000000000000"),
        ("To", "whatsapp:" + "9" * 40),
        ("From", "whatsapp:+234803" + "1" * 40),
    ],
)
def test_a_malformed_identifier_is_a_bad_request(phone, mama, db, field, value):
    me = phone()
    form = {**me.form("JOIN MAMA"), field: value}
    assert me.post(form).status_code == 400
    assert_nothing_stored(db)


def test_a_short_code_is_still_taken_as_it_came(phone, mama, db):
    sent = phone(channel="sms", to="32811").send("HELLO")
    assert "send JOIN and the shop's code" in sent.text


def test_a_delivery_receipt_with_a_nul_is_ignored_or_cleaned(app, mama, db, phone):
    phone().send("JOIN MAMA")
    with db.transaction() as session:
        member = session.scalars(select(Customer)).one()
        queue_message(session, [], session.get(Tenant, member.tenant_id), member, "hi", triggered_by="test")
        outbound = session.scalars(select(Message).where(Message.direction == "outbound")).one()
        outbound.status, outbound.message_sid = "sent", "SMout1"
    for form in (
        {"MessageSid": "SMout1\x00", "MessageStatus": "failed"},
        {"MessageSid": "SMout1", "MessageStatus": "undelivered", "ErrorCode": "30\x00003"},
    ):
        assert post_raw(app, STATUS_URL, urlencode(form), signed(STATUS_URL, form)).status_code == 204
    with db.sessions() as session:
        after = session.scalars(select(Message).where(Message.direction == "outbound")).one()
    assert (after.status, after.error_code) == ("undelivered", "30003")


@pytest.mark.parametrize("path", ["/qr/MAMA%00.png", "/media/%00.png", "/qr/" + "M" * 300 + ".png", "/media/a%20b.png"])
def test_malformed_path_parameters_are_not_found(app, mama, path):
    assert app.test_client().get(path).status_code == 404


# --- the catch-all answer is recognised ---------------------------------------------------

def test_the_phone_helper_fails_on_the_catch_all_unless_asked(app, phone, mama, monkeypatch):
    me = phone()
    me.send("JOIN MAMA")
    with pytest.raises(AssertionError):
        me.send("BAL", expect_error=True)  # a normal answer is not the error asked for

    def broken(*args, **kwargs):
        raise RuntimeError("engine broke")

    monkeypatch.setattr(app.extensions["dispatcher"].engine, "handle", broken)
    assert me.send("BAL", expect_error=True).status == 200
    with pytest.raises(AssertionError, match="BAL"):
        me.send("BAL")
