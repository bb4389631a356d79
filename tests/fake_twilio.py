"""A local stand-in for Twilio's Messages REST API, for tests and bench/outbound.py: point the
real twilio client at it with TWILIO_API_BASE.

It speaks create (POST .../Messages.json), fetch (GET .../Messages/SID.json) and list (GET
.../Messages.json with To, From and DateSent filters), keeps every message it accepted, and
counts how often each of our messages arrived (by the message id our StatusCallback URL
carries), so that a duplicate shows (GET /_fake/stats, /_fake/arrivals from another process). Knobs say how to answer the next creates: an error status
and code (429/20429, 5xx, 21211...), a delay (a timeout), a dropped connection, with or without
keeping the message; `on_create` runs a function before each answer (a test kills a worker
there). In another process: `python -m tests.fake_twilio --port N`, then GET /_fake/stats.
"""
from __future__ import annotations

import argparse
import json
import os
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterable
from urllib.parse import parse_qs, urlsplit

API = "/2010-04-01/Accounts/"


@dataclass
class Planned:
    """How to answer one create."""

    status: int = 201
    code: int | None = None
    message: str = ""
    delay: float = 0.0  # seconds before answering
    drop: bool = False  # close the connection without an answer
    # Whether the message went through; by default when the answer says so (a 2xx, not dropped).
    keep: bool | None = None
    sid: bool = True  # whether a 2xx answer shows the message's SID
    problem: bool = False  # an error in RFC 9457's problem details (type, title, status, code, detail)

    @property
    def kept(self) -> bool:
        return self.keep if self.keep is not None else self.status < 300 and not self.drop


def _port_range(text: str) -> range:
    first, last = text.split("-")
    return range(int(first), int(last) + 1)


# Tests and benchmarks listen on these local ports (the first one free); FAKE_TWILIO_PORTS
# (e.g. 6000-6099) gives another range.
PORTS = _port_range(os.environ.get("FAKE_TWILIO_PORTS") or "5500-5599")


class FakeTwilio:
    def __init__(self, host: str = "127.0.0.1", ports: Iterable[int] = PORTS):
        self.messages: dict[str, dict] = {}  # by SID, in arrival order
        self._to: dict[str, list[dict]] = {}  # the same by recipient: a lookup reads only theirs
        self.arrivals: Counter = Counter()  # our message id -> times accepted
        self.planned: deque[Planned] = deque()
        self.on_create: Callable[[dict], None] | None = None
        self.creates = 0  # create requests, answered or not
        self._lock = threading.Lock()
        self.server = _bind(host, ports, _handler(self))
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeTwilio":
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "FakeTwilio":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # Knobs

    def answer_next(self, count: int = 1, **planned) -> None:
        """The next `count` creates get this answer (see Planned)."""
        with self._lock:
            self.planned.extend(Planned(**planned) for _ in range(count))

    def stats(self) -> dict:
        with self._lock:
            return {
                "creates": self.creates,
                "accepted": len(self.messages),
                "distinct": len(self.arrivals),
                "duplicates": sum(n - 1 for n in self.arrivals.values() if n > 1),
            }

    # The API

    def create(self, form: dict) -> tuple[int, dict | None]:
        with self._lock:
            self.creates += 1
            planned = self.planned.popleft() if self.planned else Planned()
        if self.on_create:
            self.on_create(form)
        message = self._keep(form) if planned.kept else None  # a 2xx that kept nothing answers null
        if planned.delay:
            time.sleep(planned.delay)
        if planned.drop:
            return 0, None
        if planned.status >= 300 and planned.problem:
            return planned.status, {"type": f"https://www.twilio.com/docs/errors/{planned.code}", "title": "fake problem",
                                    "status": planned.status, "code": planned.code, "detail": planned.message or "fake error"}
        if planned.status >= 300:
            return planned.status, {"code": planned.code, "message": planned.message or "fake error", "status": planned.status,
                                    "more_info": f"https://www.twilio.com/docs/errors/{planned.code}"}
        return 201, message if planned.sid or message is None else {key: value for key, value in message.items() if key != "sid"}

    def _keep(self, form: dict) -> dict:
        now = datetime.now(timezone.utc)
        stamp = format_datetime(now, usegmt=True)
        callback = form.get("StatusCallback", "")
        ours = callback.rstrip("/").rsplit("/", 1)[-1] if callback else f"{form.get('To')}|{form.get('Body')}"
        sid = f"SM{uuid.uuid4().hex}"
        body = form.get("Body") or f"(template {form.get('ContentSid')} {form.get('ContentVariables', '{}')})"
        message = {
            "sid": sid, "account_sid": "AC", "api_version": "2010-04-01", "direction": "outbound-api",
            "to": form.get("To"), "from": form.get("From"), "body": body, "status": "queued",
            "num_segments": "1", "num_media": str(len(form.get("MediaUrl", []))), "price": None, "price_unit": "USD",
            "error_code": None, "error_message": None, "messaging_service_sid": None,
            "date_created": stamp, "date_updated": stamp, "date_sent": stamp, "uri": f"/Messages/{sid}.json", "subresource_uris": {},
            "_ours": ours, "_sent_at": now.isoformat(),
        }
        with self._lock:
            self.messages[sid] = message
            self._to.setdefault(message["to"], []).append(message)
            self.arrivals[ours] += 1
        return message

    def listing(self, query: dict) -> dict:
        """Newest first, filtered by To, From and DateSent (=, >=, <=), as Twilio does."""
        with self._lock:
            candidates = self._to.get(query["To"], []) if "To" in query else list(self.messages.values())
            found = [m for m in reversed(candidates) if _matches(m, query)]
        size = int(query.get("PageSize", "50"))
        return {"messages": found[:size], "page": 0, "page_size": size, "start": 0, "end": min(size, len(found)) - 1,
                "first_page_uri": None, "next_page_uri": None, "previous_page_uri": None, "uri": API}


def _bind(host: str, ports: Iterable[int], handler) -> ThreadingHTTPServer:
    for port in ports:
        try:
            return ThreadingHTTPServer((host, port), handler)
        except OSError:
            continue
    raise OSError(f"no free port for the fake Twilio among {ports}")


def _matches(message: dict, query: dict) -> bool:
    """DateSent filters take a day (2026-11-26) or a moment (2026-11-26T10:00:00Z); `DateSent>`
    is the query string's `DateSent>=`."""
    sent = message["_sent_at"]
    def moment(value: str) -> str:
        return value.replace("Z", "+00:00") if "T" in value else value
    return (
        query.get("To", message["to"]) == message["to"]
        and query.get("From", message["from"]) == message["from"]
        and sent[:10] == query.get("DateSent", sent)[:10]
        and sent >= moment(query.get("DateSent>", sent))
        and sent[:len(moment(query.get("DateSent<", sent)))] <= moment(query.get("DateSent<", sent))
    )


def _public(message: dict) -> dict:
    return {key: value for key, value in message.items() if not key.startswith("_")}


def _handler(fake: FakeTwilio):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Twilio's client expects
        disable_nagle_algorithm = True  # headers and body leave at once, not 40 ms apart
        wbufsize = -1  # an answer is written in one piece when the request is done: one send, not two

        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if len(raw) < length:  # the client died mid-request: nothing arrived
                self.close_connection = True
                return
            form = {key: values if key == "MediaUrl" else values[0]
                    for key, values in parse_qs(raw.decode(), keep_blank_values=True).items()}
            path = urlsplit(self.path).path
            if not (path.startswith(API) and path.endswith("/Messages.json")):
                return self._json(404, {"code": 20404, "message": "not found", "status": 404})
            status, payload = fake.create(form)
            if payload is None:  # dropped: no answer at all
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self._json(status, _public(payload) if status < 300 else payload)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {key: values[0] for key, values in parse_qs(url.query).items()}
            if url.path == "/_fake/stats":
                return self._json(200, fake.stats())
            if url.path == "/_fake/arrivals":  # our message id -> times it arrived
                return self._json(200, dict(fake.arrivals))
            if url.path.startswith(API) and url.path.endswith("/Messages.json"):
                listing = fake.listing(query)
                listing["messages"] = [_public(m) for m in listing["messages"]]
                return self._json(200, listing)
            sid = url.path.rsplit("/", 1)[-1].removesuffix(".json")
            message = fake.messages.get(sid)
            if url.path.startswith(API) and message:
                return self._json(200, _public(message))
            self._json(404, {"code": 20404, "message": "not found", "status": 404})

        def _json(self, status: int, payload: dict) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description="A local fake of Twilio's Messages API.")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    fake = FakeTwilio(ports=[args.port])
    print(f"fake Twilio on {fake.url}", flush=True)
    fake.server.serve_forever()


if __name__ == "__main__":
    main()
