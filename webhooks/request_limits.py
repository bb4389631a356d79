"""Limits on every request, checked before any route reads the body, so that a few large
requests cannot hold the workers (the signature check itself has to parse the form)."""
from __future__ import annotations

from flask import Flask, abort, request

from webhooks.signature import is_form

# Twilio's webhook bodies are a few KB; the largest real one (a 4,096-character WhatsApp
# message of emoji, percent-encoded, and 10 media links) stays under this.
MAX_REQUEST_BYTES = 64 * 1024
# Twilio's inbound form has about 20 fields, 40 more with 10 media; nothing needs more.
MAX_FORM_FIELDS = 100


def install(app: Flask) -> None:
    # Werkzeug enforces these while reading (bodies without a Content-Length, multipart forms);
    # the check below refuses what it can see before anything is read or parsed.
    app.config.update(MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES, MAX_FORM_MEMORY_SIZE=MAX_REQUEST_BYTES, MAX_FORM_PARTS=MAX_FORM_FIELDS)
    app.before_request(refuse_oversized_requests)


def refuse_oversized_requests() -> None:
    current = request._get_current_object()  # one read through the proxy, not three
    if (current.content_length or 0) > MAX_REQUEST_BYTES:
        abort(413)
    if is_form(current.environ.get("CONTENT_TYPE", "")) and has_too_many_fields(current.get_data(cache=True)):
        abort(413)


def has_too_many_fields(form_body: bytes) -> bool:
    """Werkzeug bounds the fields of multipart forms only: those of an urlencoded one (at most
    one per "&") are counted on the raw body, which the form parser then reuses."""
    return form_body.count(b"&") >= MAX_FORM_FIELDS
