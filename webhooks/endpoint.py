"""The doors every inbound message comes through (Twilio's, Kannel's), each a WSGI app of its
own in front of Flask's, which gets every other path: Flask's request and response machinery
around a message cost half as much CPU again as the message's own work. A door reads its
request, makes it an Inbound, hands it to the router and writes the answer; what to answer
is all the router's."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Flask

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    status: str
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    more_headers: tuple[tuple[str, str], ...] = ()  # an Allow, an X-Kannel-Coding

    def headers(self) -> list[tuple[str, str]]:
        return [("Content-Type", self.content_type), ("Content-Length", str(len(self.body))), *self.more_headers]


class Endpoint:
    """`path`, answered by `answer(environ)` when asked with `method`; any other method gets a
    405 naming it, with `wrong_method_text`, and a message that cannot be handled (the database
    is unreachable, say) is logged and answered `failed` (a 500), as Flask would."""

    path: str
    method: str
    wrong_method_text: bytes
    failed: Answer

    def __init__(self, app: Flask):
        self.passed_on = app.wsgi_app  # Flask's, or the door in front of it
        self.runtime = app.extensions["runtime"]
        self.router = app.extensions["router"]
        self.wrong_method = Answer("405 METHOD NOT ALLOWED", self.wrong_method_text, more_headers=(("Allow", self.method),))

    def __call__(self, environ: dict, start_response):
        if environ.get("PATH_INFO") != self.path:
            return self.passed_on(environ, start_response)
        try:
            answer = self.answer(environ) if environ.get("REQUEST_METHOD") == self.method else self.wrong_method
        except Exception:
            log.exception("an inbound message failed at %s", self.path)
            answer = self.failed
        start_response(answer.status, answer.headers())
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [answer.body]

    def answer(self, environ: dict) -> Answer:
        raise NotImplementedError
