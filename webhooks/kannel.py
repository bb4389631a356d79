"""Kannel's webhook: carriers connect over SMPP to Kannel, whose smsbox calls
`GET /webhooks/kannel/inbound?key=K&from=%p&to=%P&text=%a&smsc=%i&id=%I&ts=%T&charset=%C&coding=%c`
once per mobile-originated message; the reply SMS is the response body (text/plain), which
Kannel sends back. `key` must equal KANNEL_SHARED_SECRET (compared in constant time), `smsc`
names the carrier and `id` is the message id a retry repeats. `ts` is accepted and not used: the
vote window is judged by this server's clock, as for Twilio.

Text is not always UTF-8: smsbox writes a message's bytes in the charset it names (`charset`),
which follows the message's coding: UTF-8 for the 7-bit GSM alphabet, UTF-16BE for UCS-2 (any
text with a character outside that alphabet: Khmer script, ៛), raw bytes for 8-bit data. A
reply outside the GSM alphabet asks for UCS-2 (`X-Kannel-Coding: 2`, which the sms-service's
`accept-x-kannel-headers` lets through); otherwise Kannel would send it as 7-bit, with a `?` for
every such character."""
from __future__ import annotations

import hmac
from urllib.parse import parse_qsl

from flask import Blueprint, Response, abort, current_app, request

from bot.messages import Inbound
from bot.phones import InvalidPhone, to_e164
from models import SmsVoteLog
from webhooks.twilio import MAX_BODY_CHARS, site_url, storable_text

blueprint = Blueprint("kannel", __name__, url_prefix="/webhooks/kannel")

# The GSM 03.38 default alphabet and its extension table (^{}\[~]|€ and form feed).
GSM_ALPHABET = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà\f^{}\\[~]|€"
)
UCS2_CODING = "2"  # Kannel's number for the UCS-2 coding (0: 7-bit, 1: 8-bit)
# Fields are bounded by the columns they are stored in: longer ones are not Kannel's.
_MAX_LENGTHS = {
    "id": SmsVoteLog.__table__.c.carrier_message_id.type.length,
    "smsc": SmsVoteLog.__table__.c.carrier.type.length,
    "to": SmsVoteLog.__table__.c.short_code.type.length,
}


@blueprint.before_request
def require_shared_secret():
    secret = current_app.extensions["runtime"].config.kannel_shared_secret
    key = request.args.get("key", "")
    if not secret or not hmac.compare_digest(key.encode(), secret.encode()):
        abort(Response("", status=403, mimetype="text/plain"))


@blueprint.get("/inbound")
def inbound():
    router, args = current_app.extensions["router"], request.args  # each read through a proxy costs a call
    site = site_url(request.environ, current_app.extensions["runtime"].config.public_base_url)
    message = parse_inbound(args, router, request.query_string, site)
    if message is None:
        abort(Response("", status=400, mimetype="text/plain"))
    replies = router.handle(message, carrier=args["smsc"].lower())
    return _sms_reply("\n".join(reply.body for reply in replies))


def parse_inbound(args, router, query_string: bytes, site: str) -> Inbound | None:
    fields = {name: args.get(name, "").strip() for name in ("from", "to", "id", "smsc")}
    if not all(fields.values()) or any(len(fields[name]) > limit for name, limit in _MAX_LENGTHS.items()):
        return None
    show = router.show_for(fields["to"])
    phone = _phone(fields["from"], show.country if show else None)
    if phone is None:
        return None
    text = _text(query_string, args.get("charset", ""))
    return Inbound(
        sid=fields["id"], phone=phone, to=fields["to"], channel="sms",
        text=text[:MAX_BODY_CHARS], truncated=len(text) > MAX_BODY_CHARS, site=site,
    )


def _sms_reply(body: str) -> Response:
    """The reply as smsbox reads it: UTF-8 text, asked to go as UCS-2 when the GSM alphabet
    cannot carry it."""
    response = Response(body, mimetype="text/plain")
    if not GSM_ALPHABET.issuperset(body):
        response.headers["X-Kannel-Coding"] = UCS2_CODING
    return response


def _text(query_string: bytes, charset: str) -> str:
    """The message's text from the raw query (werkzeug's `args` read every value as UTF-8), in
    the charset smsbox names; without one (an older sms-service), as UTF-8."""
    raw = next((value for name, value in parse_qsl(query_string.decode("latin-1"), encoding="latin-1") if name == "text"), "")
    return storable_text(_decoded(raw.encode("latin-1"), charset))


def _decoded(raw: bytes, charset: str) -> str:
    codec = "latin-1" if charset.upper() == "8-BIT" else charset or "utf-8"  # 8-bit data: each byte kept as a character
    try:
        return raw.decode(codec, "replace")
    except LookupError:  # a charset Python does not know
        return raw.decode("utf-8", "replace")


def _phone(raw: str, country: str | None) -> str | None:
    """SMSCs send numbers as they like: +85512..., 85512... or 012... (in the short code's country)."""
    for candidate, region in ((raw, country), ("+" + raw.lstrip("+"), None)):
        try:
            return to_e164(candidate, region)
        except InvalidPhone:
            continue
    return None
