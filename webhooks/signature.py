"""Twilio request signatures, checked against the public URL Twilio called."""
from __future__ import annotations

from functools import lru_cache
from hmac import compare_digest

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
    validator, url, params = _validator(auth_token), public_url(request, public_base_url), request.form.to_dict()
    # The validator signs the URL both with and without its port to find the one Twilio used:
    # the URL as we know it is tried first, so a good request costs one signature, not two.
    return compare_digest(validator.compute_signature(url, params).encode(), signature.encode()) or validator.validate(url, params, signature)


@lru_cache(maxsize=4)
def _validator(auth_token: str) -> RequestValidator:
    return RequestValidator(auth_token)


def _repeats_a_key(request: Request) -> bool:
    """Twilio never repeats a field. A repeated one would be read as one value but could be
    signed as another, so such a request is not taken as signed."""
    return any(len(values) > 1 for values in request.form.listvalues())
