"""The REST API, /api/v1: HTTP <-> the same services the WhatsApp flows call. No business rule
lives here: the views translate requests into service calls and results into JSON; how every
request is authenticated, limited, made idempotent and answered is in api/machinery.py."""
from __future__ import annotations

import logging

from flask import Flask, request
from werkzeug.exceptions import HTTPException

# Each module declares its endpoints on the blueprint when imported.
from api import broadcasts, customers, openapi, purchases, rewards, vendor  # noqa: F401
from api.machinery import PREFIX, blueprint
from api.problems import Problem, from_http

log = logging.getLogger(__name__)


def register(app: Flask) -> None:
    app.register_blueprint(blueprint)
    # A URL or method no route matches never reaches the blueprint's handlers: answer those
    # under /api/v1 as problems too, and leave every other path to Flask.
    for status in (404, 405):
        app.register_error_handler(status, _unrouted)


def _unrouted(error: HTTPException):
    if request.path == PREFIX or request.path.startswith(PREFIX + "/"):
        return from_http(error).response()
    return error


@blueprint.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    return from_http(error).response()


@blueprint.errorhandler(Exception)
def _unexpected(error: Exception):
    log.exception("API request %s %s failed", request.method, request.path)
    return Problem("server-error").response()
