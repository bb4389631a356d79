"""Twilio request signatures, checked against the public URL Twilio called."""
from __future__ import annotations

from flask import Request
from twilio.request_validator import RequestValidator


def public_url(request: Request, public_base_url: str | None) -> str:
    """The URL Twilio signed. Behind a proxy or TLS terminator the app sees another host and
    scheme, so PUBLIC_BASE_URL, when set, replaces them."""
    if not public_base_url:
        return request.url
    query = request.query_string.decode()
    return public_base_url + request.path + (f"?{query}" if query else "")


def is_signed(request: Request, auth_token: str, public_base_url: str | None) -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or _repeats_a_key(request):
        return False
    validator = RequestValidator(auth_token)
    return validator.validate(public_url(request, public_base_url), request.form.to_dict(), signature)


def _repeats_a_key(request: Request) -> bool:
    """Twilio never repeats a field. A repeated one would be read as one value but could be
    signed as another, so such a request is not taken as signed."""
    return any(len(values) > 1 for values in request.form.listvalues())
