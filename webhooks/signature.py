"""Twilio request signatures, checked against the public URL Twilio called.

Twilio signs with the account's auth token (HMAC-SHA1), unless one of the account's Webhook
Rules matches the URL: then it signs with that rule's SharedKey, by the algorithm the header
X-Twilio-Webhooks-Signature-Settings names (HMAC_SHA1 or HMAC_SHA256)."""
from __future__ import annotations

import hmac
import logging
from base64 import b64encode
from functools import lru_cache
from urllib.parse import unquote

from twilio.request_validator import (
    HMAC_SHA1, HMAC_SHA256, SIGNATURE_SETTINGS_HEADER, RequestValidator, get_signature_algorithm,
)
from werkzeug.wsgi import get_current_url, get_path_info

log = logging.getLogger(__name__)

FORM_MIMETYPE = "application/x-www-form-urlencoded"  # how Twilio posts its webhooks


def public_url(environ: dict, public_base_url: str | None) -> str:
    """The URL Twilio signed, from the request's WSGI environ. Behind a proxy or TLS terminator
    the app sees another host and scheme, so PUBLIC_BASE_URL, when set, replaces them."""
    if not public_base_url:
        return get_current_url(environ)
    query = environ.get("QUERY_STRING", "").encode("latin1").decode()
    return public_base_url + "/" + get_path_info(environ).lstrip("/") + (f"?{query}" if query else "")


def signed_form(
    environ: dict, body: bytes, auth_token: str | None, public_base_url: str | None, shared_key_secrets: tuple[str, ...] = (),
) -> dict[str, str] | None:
    """The form's fields when Twilio signed the request (its WSGI environ, and its body as
    read), else None. `auth_token`: None when none is configured (then only a SharedKey signs).
    `shared_key_secrets`: those of the SharedKeys Twilio may sign with instead of the auth token
    (several while rotating)."""
    signature = environ.get("HTTP_X_TWILIO_SIGNATURE", "")
    params = _fields(environ.get("CONTENT_TYPE", ""), body)
    if not signature or params is None:
        return None
    url = public_url(environ, public_base_url)
    settings = environ.get(_SETTINGS_KEY)
    if not settings:
        if not auth_token:
            log.warning("a webhook signed with an auth token was refused: TWILIO_AUTH_TOKEN is not set")
            return None
        return params if _signed_with(auth_token, None, url, params, signature) else None
    if not shared_key_secrets:
        log.error("a webhook signed with a Twilio SharedKey (%r) was refused: TWILIO_SHARED_KEY_SECRETS is not set", settings)
        return None
    algorithm = get_signature_algorithm(settings)
    return params if any(_signed_with(secret, algorithm, url, params, signature) for secret in shared_key_secrets) else None


_SETTINGS_KEY = "HTTP_" + SIGNATURE_SETTINGS_HEADER.upper().replace("-", "_")  # the header's WSGI environ key


# The hash of each algorithm Twilio signs with (those twilio's RequestValidator knows).
_DIGESTS = {HMAC_SHA1: "sha1", HMAC_SHA256: "sha256"}


def _signed_with(secret: str, algorithm: str | None, url: str, params: dict[str, str], signature: str) -> bool:
    digest = _DIGESTS.get((algorithm or HMAC_SHA1).upper())
    if digest is None:
        log.warning("a webhook signed with the unsupported algorithm %r was refused", algorithm)
        return False
    # The validator signs the URL both with and without its port to find the one Twilio used:
    # the URL as we know it is tried first, so a good request costs one signature, not two.
    expected = _signature(secret, digest, url, params)
    return hmac.compare_digest(expected.encode(), signature.encode()) or _validator(secret).validate(url, params, signature, algorithm)


def _signature(secret: str, digest: str, url: str, params: dict[str, str]) -> str:
    """The signature RequestValidator.compute_signature gives a form of one value a field (the
    URL, then each field's name and value in the names' order, HMAC'd and in base64), at half
    its cost: one HMAC call, and no look-ups of each field's values, at every message."""
    signed = url + "".join([name + params[name] for name in sorted(params)])
    return b64encode(hmac.digest(secret.encode(), signed.encode(), digest)).decode()


@lru_cache(maxsize=4)
def _validator(auth_token: str) -> RequestValidator:
    return RequestValidator(auth_token)


class _Fields(dict):
    """The form, one value a field, as the validator reads a MultiDict (`getall`): a plain dict
    would make it try two other ways, each failing with an exception, for every field."""

    def getall(self, name: str) -> list[str]:
        return [self[name]]


def is_form(content_type: str) -> bool:
    """Whether a Content-Type header names an urlencoded form, whatever its parameters."""
    return content_type.partition(";")[0].strip().lower() == FORM_MIMETYPE


def _fields(content_type: str, body: bytes) -> _Fields | None:
    """The form's fields, or None when one is repeated: Twilio never repeats a field, and a
    repeated one would be read as one value but could be signed as another. Parsed straight
    from the body (bounded before: webhooks/request_limits.py): werkzeug's form machinery around the
    same parse cost more than the parse itself, at every message."""
    if not is_form(content_type):
        return _Fields()
    pairs = form_pairs(body.decode("utf-8", "replace"))
    fields = _Fields(pairs)
    return fields if len(fields) == len(pairs) else None


def form_pairs(body: str) -> list[tuple[str, str]]:
    """The (name, value) pairs of an urlencoded body, as parse_qsl(body, keep_blank_values=True)
    reads them, at half its cost: a "+" is a space wherever it is, and only a field with a "%"
    in it goes through unquote (parse_qsl calls it, and more, for each name and each value)."""
    pairs = []
    for field in body.replace("+", " ").split("&"):
        if field:
            name, _, value = field.partition("=")
            pairs.append((unquote(name), unquote(value)) if "%" in field else (name, value))
    return pairs
