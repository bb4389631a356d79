"""The OpenAPI 3.1 document, generated from the endpoints' declarations and their marshmallow
schemas (apispec), and the docs page rendered from it on the server (no assets from elsewhere)."""
from __future__ import annotations

import json
import re
from decimal import Decimal
from functools import cache

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import jsonify, render_template

from api.machinery import OPERATIONS, PREFIX, RATE_WINDOW, Operation, blueprint
from api.problems import MEDIA_TYPE, TYPES, title_of
from api.schemas import ProblemSchema

_PATH_PARAMETER = re.compile(r"<(?:(\w+):)?(\w+)>")
DESCRIPTION = f"""The vendor's side of the loyalty bot: customers, purchases, rewards, redemption codes,
points adjustments, broadcasts, settings and daily figures. Each key sees only its own vendor.

- **Auth**: `Authorization: Bearer <key>` (`flask --app wsgi apikeys create --tenant CODE --name NAME`).
- **Idempotency**: every POST that changes something takes an `Idempotency-Key` header; the same
  key with the same body answers the first response again (with `Idempotent-Replayed: true`) and
  changes nothing; with another body it is a 422.
- **Errors**: `application/problem+json` with `type`, `title`, `status`, `detail` and `errors` by field.
- **Pagination**: lists are `{{"data": [...], "next_cursor": ...}}`; pass `cursor=<next_cursor>`.
- **Rate limit**: per key, counted over windows of {RATE_WINDOW} s; over it, 429 with `Retry-After` (seconds).
- **Money** in integer minor units (125050 is ₦1,250.50); times in ISO 8601, UTC."""


@cache
def document() -> dict:
    spec = APISpec(
        title="Loyalty bot API", version="1.0.0", openapi_version="3.1.0", plugins=[MarshmallowPlugin()],
        info={"description": DESCRIPTION}, servers=[{"url": PREFIX}],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer", "description": "A vendor's API key"})
    spec.components.schema("Problem", schema=ProblemSchema)
    spec.components.parameter("IdempotencyKey", "header", {
        "name": "Idempotency-Key", "required": True, "schema": {"type": "string", "maxLength": 255},
        "description": "Unique per change (a UUID, say); a retry with the same key and body changes nothing",
    })
    for operation in OPERATIONS:
        spec.path(path=openapi_path(operation.rule), operations={operation.method.lower(): _operation(operation)})
    # Decimal bounds (the tenant file's) are numbers in JSON, not the strings Flask would write.
    return json.loads(json.dumps(spec.to_dict(), default=_number))


def _number(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def openapi_path(rule: str) -> str:
    return _PATH_PARAMETER.sub(r"{\2}", rule)


def _operation(operation: Operation) -> dict:
    parameters = [_path_parameter(converter, name) for converter, name in _PATH_PARAMETER.findall(operation.rule)]
    if operation.query:
        parameters.append({"in": "query", "schema": operation.query})
    if operation.idempotent:
        parameters.append("IdempotencyKey")
    described = {
        "operationId": operation.view.__name__, "summary": operation.summary, "tags": [operation.scope],
        "security": [{"bearer": []}], "parameters": parameters, "responses": _responses(operation),
        "description": f"Scope: `{operation.scope}`" + ("" if operation.changes else f" or `{operation.scope}:read`"),
    }
    if operation.body:
        described["requestBody"] = {"required": True, "content": {"application/json": {"schema": operation.body}}}
    return described


def _path_parameter(converter: str, name: str) -> dict:
    schema = {"type": "string", "format": "uuid"} if converter == "uuid" else {"type": "string"}
    return {"in": "path", "name": name, "required": True, "schema": schema}


def _responses(operation: Operation) -> dict:
    success = {"description": "OK" if operation.status == 200 else "Created"}
    if operation.response:
        success["content"] = {"application/json": {"schema": operation.response}}
    statuses = {401, 403, 429, *operation.problems}
    if operation.idempotent:
        statuses |= {400, 422}
    responses = {str(operation.status): success}
    for status in sorted(statuses):
        responses[str(status)] = {"description": title_of(status), "content": {MEDIA_TYPE: {"schema": "Problem"}}}
    responses["429"]["headers"] = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}
    return responses


@blueprint.get("/openapi.json")
def openapi_json():
    return jsonify(document())


@blueprint.get("/docs")
def docs():
    spec = document()
    return render_template("api_docs.html", spec=spec, operations=list(_listed(spec)), problems=TYPES,
                           schema=lambda node: _resolve(spec, node), type_of=_type_of)


def _listed(spec: dict):
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield {"method": method.upper(), "path": path, **operation}


def _resolve(spec: dict, node: dict | None) -> dict:
    """A schema with its $ref followed (one level: the page shows each field's type)."""
    if node and "$ref" in node:
        return spec["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node or {}


def _type_of(node: dict) -> str:
    """How the docs page names a field's type: `string (uuid)`, `array of Customer`, `integer | null`."""
    if "$ref" in node:
        return node["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in node:
        return " | ".join(_type_of(option) for option in node["anyOf"])
    kind = node.get("type", "any")
    kind = " | ".join(kind) if isinstance(kind, list) else kind
    if "items" in node:
        kind = kind.replace("array", f"array of {_type_of(node['items'])}")
    return f"{kind} ({node['format']})" if "format" in node else kind
