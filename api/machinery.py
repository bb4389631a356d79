"""How every /api/v1 request runs, declared once per endpoint with `@endpoint(...)`:

1. the key (`Authorization: Bearer ...`) is found by its hash, with its vendor; then its rate
   (Redis, per key per minute) and its scopes are checked;
2. the query and body are read with the endpoint's marshmallow schemas (the same ones the
   OpenAPI document is generated from): bad input is a 422 naming each field;
3. a changing POST claims its Idempotency-Key in the same transaction as the change: a retry
   gets the first answer again, a racing copy waits for the first to commit, and a failure rolls
   the claim back with everything else;
4. the view gets `Services` built for the key's vendor, with the key as the actor, exactly as
   the dispatcher builds them for a staff phone; one transaction; committed, then outbound
   messages are handed to the sender and launched broadcasts to a runner.

A new resource is a module of views decorated with `@endpoint`, imported in
api/__init__.py: it gets auth, scopes, idempotency, problems and its OpenAPI entry from here."""
from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from typing import Callable

from flask import Blueprint, Response, current_app, request
from marshmallow import Schema, ValidationError
from sqlalchemy.orm import Session

from api.problems import Problem, invalid
from bot.json_input import parse_json
from bot.services import Services, idempotency
from bot.services.apikeys import authenticate, mark_used, needs_last_used
from bot.services.context import Context
from bot.services.pages import BadCursor
from bot.services.tenant_file import TenantFileError
from models import ApiKey

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
blueprint = Blueprint("api", __name__, url_prefix=PREFIX, template_folder="templates")
RATE_WINDOW = 60  # seconds
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII, as Stripe's


@dataclass(frozen=True)
class Operation:
    method: str
    rule: str  # Flask's, under PREFIX: /customers/<uuid:customer_id>
    view: Callable
    summary: str
    scope: str  # the resource a key's scopes must name (`customers`, or `customers:read` for reads)
    query: type[Schema] | None
    body: type[Schema] | None
    response: type[Schema] | None
    status: int
    problems: tuple[int, ...]
    # The service validates the body itself (the tenant file's rules): the schema only documents it.
    service_validates: bool
    reads: bool  # a POST that only reads: its body asks a question (a broadcast's preview)

    @property
    def changes(self) -> bool:
        return self.method != "GET" and not self.reads

    @property
    def idempotent(self) -> bool:
        """A changing POST takes an Idempotency-Key (PATCH sets values: repeating it is harmless)."""
        return self.method == "POST" and self.changes


OPERATIONS: list[Operation] = []


def scopes() -> list[str]:
    """What `apikeys create --scope` accepts: each resource, or read-only access to it."""
    names = sorted({operation.scope for operation in OPERATIONS})
    return [scope for name in names for scope in (name, f"{name}:read")]


def endpoint(
    method: str, rule: str, *, scope: str, summary: str, query: type[Schema] | None = None,
    body: type[Schema] | None = None, response: type[Schema] | None = None, status: int = 200,
    problems: tuple[int, ...] = (), service_validates: bool = False, reads: bool = False,
):
    """Declare a view `(services, **path, query=..., body=...) -> object to dump with `response``."""

    def register(view: Callable) -> Callable:
        operation = Operation(method, rule, view, summary, scope, query, body, response, status, problems, service_validates, reads)
        OPERATIONS.append(operation)

        def run(**path):
            return _run(operation, path)

        run.__name__ = view.__name__
        blueprint.add_url_rule(rule, endpoint=view.__name__, view_func=run, methods=[method])
        return view

    return register


def _run(operation: Operation, path: dict) -> Response:
    runtime = current_app.extensions["runtime"]
    secret = _bearer()
    # Read before a database connection is taken (a slow upload holds none), parsed only once
    # the key is known: nobody without one makes the server parse what they send.
    raw = request.get_data(cache=True) if operation.method != "GET" else None
    now = runtime.clock()
    with runtime.db.sessions() as session:
        with session.begin():
            key, tenant = _authenticate(session, secret)
            _rate_limit(runtime, key, now)
            _check_scope(key, operation)
            body = _json_body(raw) if raw is not None else None
            arguments = _arguments(operation, body)
            claim = _claim(session, key, operation, body, now) if operation.idempotent else None
            if isinstance(claim, Response):  # a retry: the first answer again, nothing changed
                return claim
            ctx = Context(session=session, tenant=tenant, phone="", now=now, pin_pepper=runtime.config.pin_pepper, api_key_id=key.id)
            payload = _answer(operation, operation.view(Services(ctx), **path, **arguments))
            if claim is not None:
                idempotency.store_answer(session, tenant.id, claim, operation.status, payload)
    if ctx.outbox:
        runtime.deliver(ctx.outbox)
    runtime.start_runners(ctx.runners)
    if needs_last_used(key, now):
        with runtime.db.transaction() as session:
            mark_used(session, tenant.id, key.id, now)
    return _json(payload, operation.status)


def _answer(operation: Operation, result) -> dict:
    return operation.response().dump(result) if operation.response else {}


def _json(payload, status: int, headers: dict | None = None) -> Response:
    return Response(json.dumps(payload), status, headers=headers, mimetype="application/json")


# --- who is asking --------------------------------------------------------------------------


def _bearer() -> str:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise _unauthorized("Send the key as `Authorization: Bearer <key>`.")
    return secret.strip()


def _authenticate(session: Session, secret: str):
    found = authenticate(session, secret)
    if found is None:
        raise _unauthorized("Unknown or revoked API key.")
    return found


def _unauthorized(detail: str) -> Problem:
    return Problem("unauthorized", detail, headers={"WWW-Authenticate": 'Bearer realm="api"'})


def _rate_limit(runtime, key: ApiKey, now) -> None:
    """A fixed window per key per minute, counted in Redis. If Redis cannot count, the request
    goes through: the limit protects the service, it must not stop the tills."""
    seconds = int(now.timestamp())
    window = seconds // RATE_WINDOW
    counter = f"api:rate:{key.id}:{window}"
    try:
        pipe = runtime.redis.pipeline(transaction=False)
        pipe.incr(counter)
        pipe.expire(counter, 2 * RATE_WINDOW)
        count = pipe.execute()[0]
    except Exception:
        log.exception("could not count API requests in Redis; letting the request through")
        return
    if count > runtime.config.api_rate_limit:
        retry_after = RATE_WINDOW - seconds % RATE_WINDOW
        raise Problem(
            "rate-limited", f"At most {runtime.config.api_rate_limit} requests a minute per key; retry in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )


def _check_scope(key: ApiKey, operation: Operation) -> None:
    granted = set(key.scopes or ())
    if not granted or operation.scope in granted or (not operation.changes and f"{operation.scope}:read" in granted):
        return
    access = "change" if operation.changes else "read"
    raise Problem("forbidden", f"This key may not {access} {operation.scope}; its scopes: {', '.join(sorted(granted))}.")


# --- what is asked --------------------------------------------------------------------------


def _json_body(raw: bytes) -> dict:
    if not raw.strip():
        return {}
    if request.mimetype != "application/json":
        raise Problem("unsupported-media-type", "Send the body as application/json.")
    try:
        body = parse_json(raw)
    except ValueError:
        raise Problem("not-json", "The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise Problem("not-json", "The body must be a JSON object.")
    return body


def _arguments(operation: Operation, body: dict | None) -> dict:
    arguments = {}
    if operation.query:
        arguments["query"] = _load(operation.query, _query_args())
    if operation.body:
        arguments["body"] = body if operation.service_validates else _load(operation.body, body)
    return arguments


def _query_args() -> dict:
    repeated = {name: ["given more than once"] for name, values in request.args.lists() if len(values) > 1}
    if repeated:
        raise invalid(repeated)
    return request.args.to_dict()


def _load(schema: type[Schema], data: dict) -> dict:
    try:
        return schema().load(data)
    except ValidationError as error:
        raise invalid(error.messages) from None


# --- idempotency ----------------------------------------------------------------------------


def _claim(session: Session, key: ApiKey, operation: Operation, body: dict, now):
    """The id of the claimed Idempotency-Key, or the response to a retry of the same request."""
    header = request.headers.get("Idempotency-Key")
    if header is None:
        raise Problem("idempotency-key-missing", "Send an Idempotency-Key header (a UUID, say) with every changing POST.",
                      errors={"Idempotency-Key": ["required"]})
    if not _IDEMPOTENCY_KEY.fullmatch(header):
        raise Problem("bad-request", "Idempotency-Key must be 1 to 255 printable ASCII characters.",
                      errors={"Idempotency-Key": ["1 to 255 printable ASCII characters"]})
    fingerprint = hashlib.sha256(
        f"{operation.method} {request.path}\n{json.dumps(body, sort_keys=True, separators=(',', ':'))}".encode()
    ).hexdigest()
    claimed = idempotency.claim(session, key, header, fingerprint, now)
    if not isinstance(claimed, idempotency.FirstAnswer):
        return claimed
    if not claimed.same_request:
        raise Problem("idempotency-key-reused", "This Idempotency-Key was used with another request; use a new key.")
    return _json(claimed.body, claimed.status, {"Idempotent-Replayed": "true"})


# --- errors ---------------------------------------------------------------------------------


@blueprint.errorhandler(Problem)
def _problem(problem: Problem) -> Response:
    return problem.response()


@blueprint.errorhandler(TenantFileError)
def _refused_by_the_tenant_file_rules(error: TenantFileError) -> Response:
    return invalid(error.messages).response()


@blueprint.errorhandler(BadCursor)
def _bad_cursor(error: BadCursor) -> Response:
    return invalid({"cursor": [str(error)]}).response()
