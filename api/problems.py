"""Errors as JSON problem details (RFC 9457): `type`, `title`, `status`, `detail`, and `errors`
by field for bad input. Each `type` points at its entry on the docs page."""
from __future__ import annotations

from flask import Response, json
from werkzeug.exceptions import HTTPException

from bot.catalog import render
from bot.errors import Refused
from bot.messages import say

MEDIA_TYPE = "application/problem+json"
DOCS = "/api/v1/docs"

# slug -> (status, title); the docs page lists them.
TYPES = {
    "bad-request": (400, "Bad request"),
    "not-json": (400, "The body is not JSON"),
    "idempotency-key-missing": (400, "Idempotency-Key header required"),
    "unauthorized": (401, "Missing or unknown API key"),
    "forbidden": (403, "The key's scopes do not allow this"),
    "not-found": (404, "Not found"),
    "method-not-allowed": (405, "Method not allowed"),
    "conflict": (409, "Conflict with the current state"),
    "payload-too-large": (413, "Request too large"),
    "unsupported-media-type": (415, "Send JSON"),
    "validation": (422, "Invalid input"),
    "idempotency-key-reused": (422, "Idempotency-Key already used with another request"),
    "rate-limited": (429, "Too many requests"),
    "server-error": (500, "Something went wrong on our side"),
}
_BY_STATUS = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found", 405: "method-not-allowed",
              409: "conflict", 413: "payload-too-large", 415: "unsupported-media-type", 422: "validation",
              429: "rate-limited"}


def title_of(status: int) -> str:
    return TYPES[_BY_STATUS.get(status, "server-error")][1]


class Problem(Exception):
    def __init__(self, slug: str, detail: str | None = None, *, errors: dict | None = None, headers: dict | None = None):
        super().__init__(detail or slug)
        self.slug, self.detail, self.errors, self.headers = slug, detail, errors, headers or {}
        self.status, self.title = TYPES[slug]

    def to_json(self) -> dict:
        body = {"type": f"{DOCS}#{self.slug}", "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        if self.errors is not None:
            body["errors"] = self.errors
        return body

    def response(self) -> Response:
        return Response(json.dumps(self.to_json()), self.status, headers=self.headers, mimetype=MEDIA_TYPE)


def invalid(errors: dict, detail: str = "Some fields are not right; see errors.") -> Problem:
    return Problem("validation", detail, errors=errors)


def not_found(what: str) -> Problem:
    return Problem("not-found", f"No such {what} here.")


def conflict(refused: Refused) -> Problem:
    """A service refused, changing nothing: the detail is the bot's own answer."""
    return Problem("conflict", render(say(refused.reason, **refused.params)))


def from_http(error: HTTPException) -> Problem:
    slug = _BY_STATUS.get(error.code or 500, "server-error")
    allowed = getattr(error, "valid_methods", None)
    headers = {"Allow": ", ".join(allowed)} if allowed else None
    return Problem(slug, error.description if slug == "bad-request" else None, headers=headers)
