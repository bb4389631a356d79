"""Outbound messages: queued in the transaction, sent by a job after commit, at most once."""
from __future__ import annotations

from urllib.parse import parse_qs, urlencode

import pytest
import responses
from sqlalchemy import select
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

from bot.app import create_app
from bot.outbound import queue_message
from models import Customer, Tenant, WhatsAppMessage
from tests.conftest import AUTH_TOKEN, PUBLIC_BASE_URL, make_config, run_jobs
from workers.outbound import send_message

ACCOUNT_SID = "AC" + "0" * 32
MESSAGES_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


@pytest.fixture
def twilio_app(app, database_url):
    """The same database, with a Twilio account configured: the real twilio client sends."""
    return create_app(make_config(database_url, twilio_account_sid=ACCOUNT_SID))


@pytest.fixture
def member(phone, mama, db):
    phone().send("JOIN MAMA")
    with db.sessions() as session:
        return session.scalars(select(Customer)).one()


def queue(app, member, body="Your points are waiting!"):
    runtime = app.extensions["runtime"]
    outbox = []
    with runtime.db.transaction() as session:
        tenant = session.get(Tenant, member.tenant_id)
        message = queue_message(session, outbox, tenant, member, body, triggered_by="test")
    runtime.deliver(outbox)
    run_jobs(app)
    return message.id


def stored(db, message_id) -> WhatsAppMessage:
    with db.sessions() as session:
        return session.scalars(select(WhatsAppMessage).where(WhatsAppMessage.id == message_id)).one()


def test_console_sender_stores_and_prints_without_sending(app, member, db, capsys):
    message_id = queue(app, member)
    message = stored(db, message_id)
    assert message.status == "sent" and message.message_sid.startswith("SMconsole")
    assert "[outbound whatsapp to +2348031234567] Your points are waiting!" in capsys.readouterr().out


@responses.activate
def test_twilio_sender_posts_to_the_messages_api(twilio_app, member, db):
    responses.post(MESSAGES_URL, json={"sid": "SM" + "a" * 32, "status": "queued"}, status=201)
    message = stored(db, queue(twilio_app, member))
    assert (message.status, message.message_sid) == ("sent", "SM" + "a" * 32)
    sent = parse_qs(responses.calls[0].request.body)
    assert sent["From"] == ["whatsapp:+14155238886"]
    assert sent["To"] == ["whatsapp:+2348031234567"]
    assert sent["Body"] == ["Your points are waiting!"]
    assert sent["StatusCallback"] == [f"{PUBLIC_BASE_URL}/webhooks/twilio/status"]


@responses.activate
def test_a_refused_message_is_marked_failed_and_not_retried(twilio_app, member, db):
    responses.post(MESSAGES_URL, json={"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}, status=400)
    message = stored(db, queue(twilio_app, member))
    assert message.status == "failed"
    assert message.error_code == "21211"
    assert len(responses.calls) == 1


@responses.activate
def test_a_failed_send_is_logged_with_the_message_id(twilio_app, member, caplog):
    responses.post(MESSAGES_URL, json={"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}, status=400)
    message_id = queue(twilio_app, member)
    failures = [record.getMessage() for record in caplog.records if record.name == "workers.outbound"]
    assert failures and all(f"sending message {message_id} failed (final)" in text for text in failures)
    assert "whatsapp_messages" not in caplog.text  # no SQL expression


@responses.activate
def test_a_twilio_outage_leaves_the_message_queued_for_a_retry(twilio_app, member, db):
    responses.post(MESSAGES_URL, json={"code": 20500, "message": "Internal error", "status": 500}, status=500)
    outbox = []
    with twilio_app.extensions["runtime"].db.transaction() as session:
        queue_message(session, outbox, session.get(Tenant, member.tenant_id), member, "hi", triggered_by="test")
    with pytest.raises(TwilioRestException):
        send_message(*map(str, outbox[0]))
    message = stored(db, outbox[0][1])
    assert message.status == "queued"  # the retry can claim it again
    responses.replace(responses.POST, MESSAGES_URL, json={"sid": "SM" + "b" * 32}, status=201)
    assert send_message(*map(str, outbox[0])) == "SM" + "b" * 32
    assert stored(db, outbox[0][1]).status == "sent"


@responses.activate
def test_a_duplicate_job_sends_nothing_twice(twilio_app, member, db):
    responses.post(MESSAGES_URL, json={"sid": "SM" + "c" * 32}, status=201)
    message_id = queue(twilio_app, member)
    assert send_message(str(member.tenant_id), str(message_id)) is None
    assert len(responses.calls) == 1


@responses.activate
def test_twilio_api_base_can_point_at_a_local_fake(app, database_url, member, db):
    fake = create_app(make_config(database_url, twilio_account_sid=ACCOUNT_SID, twilio_api_base="http://127.0.0.1:9999"))
    responses.post(
        f"http://127.0.0.1:9999/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json", json={"sid": "SM" + "d" * 32}, status=201
    )
    assert stored(db, queue(fake, member)).message_sid == "SM" + "d" * 32


def post_status(app, form):
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_BASE_URL + "/webhooks/twilio/status", form)
    return app.test_client().post(
        "/webhooks/twilio/status",
        data=urlencode(form),
        headers={"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"},
    )


def test_delivery_receipts_move_the_status_forward_only(app, member, db):
    message = stored(db, queue(app, member))
    sid = message.message_sid
    assert post_status(app, {"MessageSid": sid, "MessageStatus": "read"}).status_code == 204
    post_status(app, {"MessageSid": sid, "MessageStatus": "delivered"})  # late, out of order
    assert stored(db, message.id).status == "read"


def test_delivery_receipts_record_failures(app, member, db):
    message = stored(db, queue(app, member))
    post_status(app, {"MessageSid": message.message_sid, "MessageStatus": "undelivered", "ErrorCode": "63016"})
    after = stored(db, message.id)
    assert (after.status, after.error_code) == ("undelivered", "63016")


def test_unsigned_delivery_receipts_are_refused(app, member, db):
    message = stored(db, queue(app, member))
    response = app.test_client().post("/webhooks/twilio/status", data={"MessageSid": message.message_sid, "MessageStatus": "failed"})
    assert response.status_code == 403
    assert stored(db, message.id).status == "sent"


def test_outbox_flush_requeues_messages_that_never_reached_the_queue(app, member, db):
    runtime = app.extensions["runtime"]
    with runtime.db.transaction() as session:
        lost = queue_message(session, [], session.get(Tenant, member.tenant_id), member, "lost", triggered_by="test")
    result = app.test_cli_runner().invoke(args=["outbox", "flush", "--older-than", "0"])
    assert result.exit_code == 0, result.output
    assert "Queued 1 message(s)." in result.output
    run_jobs(app)
    assert stored(db, lost.id).status == "sent"
