"""Twilio request signatures, checked against the public URL Twilio called."""
from __future__ import annotations

from functools import lru_cache
from hmac import compare_digest
from urllib.parse import parse_qsl

from flask import Request
from twilio.request_validator import RequestValidator

FORM_MIMETYPE = "application/x-www-form-urlencoded"  # how Twilio posts its webhooks


def public_url(request: Request, public_base_url: str | None) -> str:
    """The URL Twilio signed. Behind a proxy or TLS terminator the app sees another host and
    scheme, so PUBLIC_BASE_URL, when set, replaces them."""
    if not public_base_url:
        return request.url
    query = request.query_string.decode()
    return public_base_url + request.path + (f"?{query}" if query else "")


def signed_form(request: Request, auth_token: str, public_base_url: str | None) -> dict[str, str] | None:
    """The form's fields when Twilio signed the request, else None."""
    signature = request.headers.get("X-Twilio-Signature", "")
    params = _fields(request)
    if not signature or params is None:
        return None
    validator, url = _validator(auth_token), public_url(request, public_base_url)
    # The validator signs the URL both with and without its port to find the one Twilio used:
    # the URL as we know it is tried first, so a good request costs one signature, not two.
    if compare_digest(validator.compute_signature(url, params).encode(), signature.encode()) or validator.validate(url, params, signature):
        return params
    return None


@lru_cache(maxsize=4)
def _validator(auth_token: str) -> RequestValidator:
    return RequestValidator(auth_token)


class _Fields(dict):
    """The form, one value a field, as the validator reads a MultiDict (`getall`): a plain dict
    would make it try two other ways, each failing with an exception, for every field."""

    def getall(self, name: str) -> list[str]:
        return [self[name]]


def _fields(request: Request) -> _Fields | None:
    """The form's fields, or None when one is repeated: Twilio never repeats a field, and a
    repeated one would be read as one value but could be signed as another. Parsed straight
    from the body (bot/request_limits.py has bounded it): werkzeug's form machinery around the
    same parse cost more than the parse itself, at every message."""
    if request.mimetype != FORM_MIMETYPE:
        return _Fields()
    pairs = parse_qsl(request.get_data(cache=True).decode("utf-8", "replace"), keep_blank_values=True)
    fields = _Fields(pairs)
    return fields if len(fields) == len(pairs) else None
