"""Kannel's webhook: carriers connect over SMPP to Kannel, whose smsbox calls
`GET /webhooks/kannel/inbound?key=K&from=%p&to=%P&text=%a&smsc=%i&id=%I&ts=%T` once per
mobile-originated message; the reply SMS is the response body (text/plain), which Kannel sends
back. `key` must equal KANNEL_SHARED_SECRET (compared in constant time), `smsc` names the
carrier and `id` is the message id a retry repeats. `ts` is accepted and not used: the vote
window is judged by this server's clock, as for Twilio."""
from __future__ import annotations

import hmac

from flask import Blueprint, Response, abort, current_app, request

from bot.messages import Inbound
from bot.phones import InvalidPhone, to_e164
from webhooks.twilio import MAX_BODY_CHARS

blueprint = Blueprint("kannel", __name__, url_prefix="/webhooks/kannel")


@blueprint.before_request
def require_shared_secret():
    secret = current_app.extensions["runtime"].config.kannel_shared_secret
    key = request.args.get("key", "")
    if not secret or not hmac.compare_digest(key.encode(), secret.encode()):
        abort(Response("", status=403, mimetype="text/plain"))


@blueprint.get("/inbound")
def inbound():
    router, args = current_app.extensions["router"], request.args  # each read through a proxy costs a call
    message = parse_inbound(args, router)
    if message is None:
        abort(Response("", status=400, mimetype="text/plain"))
    replies = router.handle(message, carrier=args["smsc"].lower())
    return Response("\n".join(reply.body for reply in replies), mimetype="text/plain")


def parse_inbound(args, router) -> Inbound | None:
    sender, to, message_id, smsc = (args.get(name, "").strip() for name in ("from", "to", "id", "smsc"))
    if not sender or not to or not message_id or not smsc:
        return None
    show = router.show_for(to)
    phone = _phone(sender, show.country if show else None)
    if phone is None:
        return None
    text = args.get("text", "")
    return Inbound(
        sid=message_id, phone=phone, to=to, channel="sms",
        text=text[:MAX_BODY_CHARS], truncated=len(text) > MAX_BODY_CHARS,
    )


def _phone(raw: str, country: str | None) -> str | None:
    """SMSCs send numbers as they like: +85512..., 85512... or 012... (in the short code's country)."""
    for candidate, region in ((raw, country), ("+" + raw.lstrip("+"), None)):
        try:
            return to_e164(candidate, region)
        except InvalidPhone:
            continue
    return None
