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

from bot.messages import Inbound
from bot.phones import InvalidPhone, to_e164
from models import SmsVoteLog
from webhooks.endpoint import Answer, Endpoint
from webhooks.twilio import MAX_BODY_CHARS, site_url, storable_text

INBOUND_PATH = "/webhooks/kannel/inbound"
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
_NOT_KANNELS = Answer("400 BAD REQUEST")
_REFUSED = Answer("403 FORBIDDEN")


class InboundEndpoint(Endpoint):
    """GET /webhooks/kannel/inbound, every carrier's message, in front of Flask (see
    webhooks/endpoint.py): the key, the message, the router's answer as the reply SMS."""

    path, method, wrong_method_text = INBOUND_PATH, "GET", b"Kannel's smsbox gets this URL."
    failed = Answer("500 INTERNAL SERVER ERROR", b"The message could not be handled.")

    def answer(self, environ: dict) -> Answer:
        raw = _raw_fields(environ.get("QUERY_STRING", ""))
        config = self.runtime.config
        if not config.kannel_shared_secret or not hmac.compare_digest(_field(raw, "key").encode(), config.kannel_shared_secret.encode()):
            return _REFUSED
        parsed = parse_inbound(raw, self.router, site_url(environ, config.public_base_url))
        if parsed is None:
            return _NOT_KANNELS
        message, carrier = parsed
        replies = self.router.handle(message, carrier=carrier)
        return _sms_reply("\n".join(reply.body for reply in replies))


def parse_inbound(raw: dict[str, str], router, site: str) -> tuple[Inbound, str] | None:
    """The message in smsbox's query (_raw_fields) and the carrier it came through (`smsc`), or
    None when a field is missing or longer than Kannel sends. The text is read in the charset
    smsbox names; without one (an older sms-service), as UTF-8."""
    fields = {name: _field(raw, name).strip() for name in ("from", "to", "id", "smsc")}
    if not all(fields.values()) or any(len(fields[name]) > limit for name, limit in _MAX_LENGTHS.items()):
        return None
    show = router.show_for(fields["to"])
    phone = _phone(fields["from"], show.country if show else None)
    if phone is None:
        return None
    text = storable_text(_decoded(raw.get("text", "").encode("latin-1"), _field(raw, "charset")))
    message = Inbound(
        sid=fields["id"], phone=phone, to=fields["to"], channel="sms",
        text=text[:MAX_BODY_CHARS], truncated=len(text) > MAX_BODY_CHARS, site=site,
    )
    return message, fields["smsc"].lower()


def _raw_fields(query: str) -> dict[str, str]:
    """The query's fields, percent-decoded to their bytes (as latin-1 text: WSGI gives the query
    so), the first of a name that comes twice: the text is in the charset smsbox names."""
    fields: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True, encoding="latin-1"):
        fields.setdefault(name, value)
    return fields


def _field(raw: dict[str, str], name: str) -> str:
    """A field but the text, read as UTF-8, a byte that is not UTF-8 replaced by U+FFFD (werkzeug
    kept it percent-encoded; smsbox's fields are ASCII, and a number with one is no number)."""
    return raw.get(name, "").encode("latin-1").decode("utf-8", "replace")


def _sms_reply(body: str) -> Answer:
    """The reply as smsbox reads it: UTF-8 text, asked to go as UCS-2 when the GSM alphabet
    cannot carry it."""
    coding = () if GSM_ALPHABET.issuperset(body) else (("X-Kannel-Coding", UCS2_CODING),)
    return Answer("200 OK", body.encode(), more_headers=coding)


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
