"""Twilio's webhooks: inbound messages (WhatsApp and SMS) and delivery status callbacks."""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, request
from twilio.twiml.messaging_response import MessagingResponse

from bot.phones import InvalidPhone, to_e164
from bot.services.delivery import record_status
from flows.base import Inbound
from webhooks.signature import is_signed

# Long enough for any real answer; longer texts are cut and the customer is told.
MAX_BODY_CHARS = 1000
WHATSAPP_PREFIX = "whatsapp:"

blueprint = Blueprint("twilio", __name__, url_prefix="/webhooks/twilio")


@blueprint.before_request
def require_twilio_signature():
    config = current_app.extensions["runtime"].config
    if not is_signed(request, config.twilio_auth_token, config.public_base_url):
        abort(403)


@blueprint.post("/inbound")
def inbound():
    message = parse_inbound(request.form)
    if message is None:
        abort(400)
    replies = current_app.extensions["router"].handle(message)
    return twiml(replies, request.host_url)


@blueprint.post("/status")
def delivery_status():
    sid, status = request.form.get("MessageSid"), request.form.get("MessageStatus")
    if sid and status:
        runtime = current_app.extensions["runtime"]
        with runtime.db.transaction() as session:
            record_status(session, sid, status, request.form.get("ErrorCode"))
    return Response(status=204)


def parse_inbound(form) -> Inbound | None:
    sid = form.get("MessageSid") or form.get("SmsMessageSid")
    sender, recipient = form.get("From", ""), form.get("To", "")
    if not sid or not sender or not recipient:
        return None
    try:
        phone = to_e164(sender.removeprefix(WHATSAPP_PREFIX))
    except InvalidPhone:
        return None
    to = recipient.removeprefix(WHATSAPP_PREFIX)
    try:
        to = to_e164(to)
    except InvalidPhone:
        pass  # a carrier short code, kept as it came
    body = form.get("Body", "")
    media_count = _int(form.get("NumMedia"))
    return Inbound(
        sid=sid,
        phone=phone,
        to=to,
        channel="whatsapp" if sender.startswith(WHATSAPP_PREFIX) else "sms",
        text=body[:MAX_BODY_CHARS],
        truncated=len(body) > MAX_BODY_CHARS,
        media=tuple(form[f"MediaUrl{i}"] for i in range(media_count) if f"MediaUrl{i}" in form),
        profile_name=form.get("ProfileName") or None,
    )


def twiml(replies, host_url: str) -> Response:
    response = MessagingResponse()
    base = current_app.extensions["runtime"].config.public_base_url or host_url.rstrip("/")
    for reply in replies:
        message = response.message(reply.body)
        if reply.media_url:
            message.media(reply.media_url if "://" in reply.media_url else base + reply.media_url)
    return Response(str(response), mimetype="application/xml")


def _int(value) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0
