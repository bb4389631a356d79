"""Twilio's webhooks: inbound messages (WhatsApp and SMS) and delivery status callbacks."""
from __future__ import annotations

import re
from functools import lru_cache
from xml.sax.saxutils import escape

from flask import Blueprint, Response, abort, current_app, g, request
from werkzeug.wsgi import get_current_url

from bot.messages import MAX_MESSAGE_CHARS, Inbound, message_length, without_control_characters
from bot.phones import InvalidPhone, from_twilio, to_e164
from bot.services.delivery import record_receipt
from models import Customer, Message
from webhooks.endpoint import Answer, Endpoint
from webhooks.request_limits import MAX_REQUEST_BYTES, has_too_many_fields
from webhooks.signature import is_form, signed_form

# Long enough for any real answer; longer texts are cut and the customer is told.
MAX_BODY_CHARS = 1000
# Twilio sends at most 10 media with a message; a larger NumMedia is never looped over.
MAX_MEDIA = 10
# Fields are bounded by the columns they are stored in: longer ones are not Twilio's.
_SID = re.compile(rf"[A-Za-z0-9]{{1,{Message.__table__.c.message_sid.type.length}}}")
_SHORT_CODE = re.compile(rf"[A-Za-z0-9]{{1,{Message.__table__.c.to_number.type.length}}}")
_MAX_PHONE_CHARS = Message.__table__.c.from_number.type.length
_MAX_NAME_CHARS = Customer.__table__.c.whatsapp_name.type.length

blueprint = Blueprint("twilio", __name__, url_prefix="/webhooks/twilio")
INBOUND_PATH = f"{blueprint.url_prefix}/inbound"

_TOO_LARGE = Answer("413 REQUEST ENTITY TOO LARGE", b"Larger than any message Twilio sends.")
_UNSIGNED = Answer("403 FORBIDDEN", b"Not signed by Twilio.")
_NOT_TWILIOS = Answer("400 BAD REQUEST", b"Not a message as Twilio sends it.")


class InboundEndpoint(Endpoint):
    """POST /webhooks/twilio/inbound, every message and vote, in front of Flask (see
    webhooks/endpoint.py; a vote in process: 0.40 ms of CPU through Flask, 0.27 ms here). Like
    the Flask views it reads the signed form, makes it an Inbound and answers TwiML."""

    path, method, wrong_method_text = INBOUND_PATH, "POST", b"Twilio posts its messages here."
    failed = Answer("500 INTERNAL SERVER ERROR", b"The message could not be handled: Twilio will try again.")

    def answer(self, environ: dict) -> Answer:
        body = _bounded_body(environ)
        if body is None:
            return _TOO_LARGE
        config = self.runtime.config
        form = signed_form(environ, body, config.twilio_auth_token, config.public_base_url, config.twilio_shared_key_secrets)
        if form is None:
            return _UNSIGNED
        site = site_url(environ, config.public_base_url)
        message = parse_inbound(form, site)
        if message is None:
            return _NOT_TWILIOS
        return Answer("200 OK", twiml(self.router.handle(message), site).encode(), "application/xml; charset=utf-8")


def _bounded_body(environ: dict) -> bytes | None:
    """The request's body, or None when it is larger than any of Twilio's or has more fields
    (webhooks/request_limits.py), refused before more of it is read than that."""
    length = _int(environ.get("CONTENT_LENGTH"))
    if length > MAX_REQUEST_BYTES:
        return None
    if not length and "wsgi.input_terminated" not in environ:
        return b""  # no length, and no end marked by the server: nothing can be read safely
    body = _read(environ["wsgi.input"], length or MAX_REQUEST_BYTES + 1)
    if len(body) > MAX_REQUEST_BYTES or (is_form(environ.get("CONTENT_TYPE", "")) and has_too_many_fields(body)):
        return None
    return body


def _read(stream, size: int) -> bytes:
    """Up to `size` bytes of `stream`, to its end if that comes first: a read may return fewer
    than asked for (gunicorn's return all they can; another server's need not)."""
    chunks, left = [], size
    while left > 0:
        chunk = stream.read(left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


@blueprint.before_request
def require_twilio_signature():
    """Only Twilio's requests go on; the views read the form it signed (g.form)."""
    config = current_app.extensions["runtime"].config
    current = request._get_current_object()  # one read through the proxy, not two
    form = signed_form(
        current.environ, current.get_data(cache=True), config.twilio_auth_token, config.public_base_url,
        config.twilio_shared_key_secrets,
    )
    if form is None:
        abort(403)
    g.form = form


@blueprint.post("/status")
@blueprint.post("/status/<uuid:tenant_id>/<uuid:message_id>")
def delivery_status(tenant_id=None, message_id=None):
    """A delivery receipt. The URL set on each send carries the message's own id."""
    sid, status = _sid(g.form), storable_text(g.form.get("MessageStatus", ""))
    if sid and status:
        runtime = current_app.extensions["runtime"]
        key = (tenant_id, message_id) if tenant_id else None
        outbox: list = []  # a resend the receipt asks for (as template, or later)
        with runtime.db.transaction() as session:
            record_receipt(session, outbox, sid, status, storable_text(g.form.get("ErrorCode", "")) or None, runtime.clock(), key=key)
        runtime.deliver(outbox)
    return Response(status=204)


def parse_inbound(form, site: str) -> Inbound | None:
    """The message in Twilio's form, or None when a field is missing or is not what Twilio
    sends. Free text is cleaned of what the database cannot store (NUL) and bounded. `site`:
    where it came in (site_url)."""
    sid, (sender, channel) = _sid(form), from_twilio(form.get("From", ""))
    phone, to = _phone(sender), _recipient(from_twilio(form.get("To", ""))[0])
    if not sid or not phone or not to:
        return None
    body = storable_text(form.get("Body", ""))
    media_count = min(_int(form.get("NumMedia")), MAX_MEDIA)
    return Inbound(
        sid=sid,
        phone=phone,
        to=to,
        channel=channel,
        text=body[:MAX_BODY_CHARS],
        truncated=len(body) > MAX_BODY_CHARS,
        media=tuple(storable_text(form[f"MediaUrl{i}"]) for i in range(media_count) if f"MediaUrl{i}" in form),
        profile_name=_name(form.get("ProfileName", "")),
        site=site,
    )


def _sid(form) -> str | None:
    sid = form.get("MessageSid") or form.get("SmsMessageSid") or ""
    return sid if _SID.fullmatch(sid) else None


def _phone(raw: str) -> str | None:
    if not raw or len(raw) > _MAX_PHONE_CHARS:
        return None
    try:
        return to_e164(raw)
    except InvalidPhone:
        return None


def _recipient(raw: str) -> str | None:
    """The number written to in E.164, or a carrier short code kept as it came (Twilio writes
    every phone number with its "+", so only those are parsed)."""
    if not raw.startswith("+") and _SHORT_CODE.fullmatch(raw):
        return raw
    return _phone(raw)


def _name(value: str) -> str | None:
    """A WhatsApp profile name as a name: its spaces and line breaks made single spaces, other
    control characters (a bell, an escape) dropped; bounded by its column."""
    return without_control_characters(" ".join(value.split()))[:_MAX_NAME_CHARS] or None


def storable_text(value: str) -> str:
    """Text as the database can store it: PostgreSQL refuses NUL in text and JSON."""
    return value.replace("\x00", "")


def site_url(environ: dict, public_base_url: str | None) -> str:
    """Where the world reaches us, the base of the links we send: PUBLIC_BASE_URL, else the
    request's own scheme and host (computing that costs a URL parse: only when unset)."""
    return public_base_url or get_current_url(environ, host_only=True).rstrip("/")


def twiml(replies, site: str) -> str:
    """The replies as TwiML; a media link of ours is made absolute with `site`."""
    has_media = any(reply.media_url for reply in replies)  # only those need the base (a cache key)
    return _twiml_text(tuple((reply.body, reply.media_url) for reply in replies), site if has_media else "")


# What XML 1.0 cannot carry: control characters but tab and line breaks, two non-characters,
# and halves of a surrogate pair alone (nor can UTF-8). A reply can echo them (a customer's
# name, a code staff typed); TwiML with one is unreadable.
_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@lru_cache(maxsize=1024)  # a burst of votes gets the same few answers again and again
def _twiml_text(replies: tuple[tuple[str, str | None], ...], base: str) -> str:
    """Written here as twilio's MessagingResponse writes it (a test holds the two equal): its
    ElementTree cost twenty times more, a fortieth of a BAL."""
    messages = []
    for body, media_url in replies:
        for number, part in enumerate(split_message(_NOT_IN_XML.sub("", body))):
            media = ""
            if media_url and number == 0:
                media = _element("Media", media_url if "://" in media_url else base + media_url)
            messages.append(_element("Message", part, media))
    return '<?xml version="1.0" encoding="UTF-8"?>' + _element("Response", "", "".join(messages))


def _element(name: str, text: str, children: str = "") -> str:
    content = escape(text) + children
    return f"<{name}>{content}</{name}>" if content else f"<{name} />"


def split_message(body: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """A reply as the messages Twilio takes (a longer body is refused, and the customer gets
    nothing): whole when it fits, else cut into parts of at most `limit`, in order, between
    paragraphs (at a blank line), so that what a paragraph holds together (a mission's title and
    its progress bar) arrives together. A paragraph is cut at line breaks only when it is longer
    than a message on its own, and a line at spaces only when it is."""
    if message_length(body) <= limit:
        return [body]
    parts: list[str] = []
    part = ""  # the part being filled, and its length
    size = 0
    for separator, piece in _pieces_of(body, limit):
        if part and size + message_length(separator + piece) > limit:
            parts.append(part)
            part, size = "", 0
        added = separator + piece if part else piece
        part += added
        size += message_length(added)
    parts.append(part)
    return [text.strip("\n") for text in parts if text.strip()]


def _pieces_of(body: str, limit: int):
    """The body's paragraphs, each with what separates it from the one before; one longer than
    `limit` comes as its lines, and a line longer than `limit` as pieces (each on a line)."""
    for index, paragraph in enumerate(body.split("\n\n")):
        separator = "\n\n" if index else ""
        if message_length(paragraph) <= limit:
            yield separator, paragraph
            continue
        for line in paragraph.split("\n"):
            for piece in _pieces(line, limit):
                yield separator, piece
                separator = "\n"


def _pieces(line: str, limit: int):
    """A line in pieces of at most `limit`, cut at the last space that fits (anywhere, without one)."""
    while message_length(line) > limit:
        fits = _fitting(line, limit)
        space = line.rfind(" ", 0, fits + 1)
        cut = space if space > 0 else fits
        yield line[:cut]
        line = line[cut:].lstrip(" ")
    yield line


def _fitting(text: str, limit: int) -> int:
    """How many characters of `text` make at most `limit` of Twilio's (message_length)."""
    units = 0
    for index, char in enumerate(text):
        units += message_length(char)
        if units > limit:
            return index
    return len(text)


def _int(value) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0
