"""The senders: hand one planned send to Twilio (or print it) and say what came back, in the
delivery engine's terms (an `Answer`: a SID, or a code from its ANSWERS table)."""
from __future__ import annotations

import json
import logging
import uuid
from datetime import timedelta
from typing import Callable
from urllib.parse import urlencode, urlsplit
from urllib.request import getproxies, proxy_bypass

import certifi
import urllib3
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.rest import Client
from urllib3.exceptions import ConnectTimeoutError, ReadTimeoutError, SSLError

from bot.config import Config
from bot.phones import twilio_address
from bot.services.delivery import Answer, Lookup, Send

TWILIO_API = "https://api.twilio.com"
# A send never takes longer than this, so that a worker checking its lease before each send
# never sends after the lease ran out (see workers/outbound.py).
MAX_SEND_SECONDS = 15.0
CLOCK_SKEW = timedelta(minutes=5)  # between our clock and Twilio's, when matching a lookup


def send_timeout(config: Config) -> float:
    return min(MAX_SEND_SECONDS, config.outbox_lease_seconds / 4)


class ConsoleSender:
    """For development without a Twilio account: prints instead of sending."""

    def send(self, send: Send) -> Answer:
        media = f" [{', '.join(send.media)}]" if send.media else ""
        template = f" (template {send.content_sid} {json.dumps(send.content_variables)})" if send.content_sid else ""
        print(f"[outbound {send.channel} to {send.to_number}] {send.body}{media}{template}", flush=True)
        return Answer(sid=f"SMconsole{uuid.uuid4().hex[:25]}")

    def find(self, lookup: Lookup, taken: Callable[[list[str]], set[str]], others: Callable[[], set[str]]) -> str | None:
        return None  # nothing printed can be looked up: a lost claim is printed again


class Transport(HttpClient):
    """How the twilio client reaches Twilio: its HTTP client interface over a urllib3 pool (a
    kept-alive connection). twilio's own TwilioHttpClient goes through requests, whose handling
    of each request cost more CPU than the claim, the record and the database's work together:
    a create against the local fake took ~1,300 us of CPU that way, ~700 us this way
    (bench/outbound.py shows both). No retries here: a POST goes out once, and what a failure
    means is the engine's to decide (`answer_for`)."""

    def __init__(self, api_base: str, timeout: float):
        super().__init__(logging.getLogger("twilio.http_client"), is_async=False, timeout=timeout)
        options = {"retries": False, "ca_certs": certifi.where()}
        # A proxy from the environment is read once, here, rather than on every send.
        proxy = None if proxy_bypass(urlsplit(api_base).hostname or "") else getproxies().get(urlsplit(api_base).scheme)
        self.pool = urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)

    def request(self, method: str, url: str, params=None, data=None, headers=None, auth=None, timeout=None,
                allow_redirects: bool = False) -> Response:
        headers = dict(headers or {})
        if auth:
            headers.update(urllib3.make_headers(basic_auth=":".join(auth)))
        if params:
            url = f"{url}?{urlencode(params, doseq=True)}"
        body = None
        if data:
            body = json.dumps(data) if headers.get("Content-Type") == "application/json" else urlencode(data, doseq=True)
        logs = self.logger.isEnabledFor(logging.INFO)  # twilio's request log, only when someone reads it
        if logs:
            self.log_request({"method": method, "url": url, "params": None, "headers": headers})
        timeout = timeout or self.timeout  # for connecting, and then for the answer (as requests has it)
        answer = self.pool.request(method, url, body=body, headers=headers, redirect=allow_redirects,
                                   timeout=urllib3.Timeout(connect=timeout, read=timeout))
        if logs:
            self.log_response(answer.status, answer)
        return Response(answer.status, answer.data.decode("utf-8"), answer.headers)


class TwilioSender:
    def __init__(self, config: Config):
        transport = Transport(config.twilio_api_base or TWILIO_API, send_timeout(config))
        self.client = Client(config.twilio_account_sid, config.twilio_auth_token, http_client=transport)
        if config.twilio_api_base:
            self.client.api.base_url = config.twilio_api_base
        self.public_base_url = config.public_base_url

    def send(self, send: Send) -> Answer:
        options = {}
        if self.public_base_url:
            # The message's own id rides in the URL: a receipt that beats the SID's write finds its row.
            tenant_id, message_id = send.key
            options["status_callback"] = f"{self.public_base_url}/webhooks/twilio/status/{tenant_id}/{message_id}"
        if send.content_sid:
            options["content_sid"] = send.content_sid
            options["content_variables"] = json.dumps(send.content_variables or {})
        else:
            options["body"] = send.body
            if send.media:
                options["media_url"] = [self._absolute(url) for url in send.media]
        try:
            sent = self.client.messages.create(from_=twilio_address(send.from_number, send.channel), to=twilio_address(send.to_number, send.channel), **options)
        except Exception as error:  # every failure is an answer: the engine decides what it means
            return answer_for(error)
        if not sent.sid:  # taken, but with no SID to show for it: reconcile looks for it before any resend
            return Answer(code="no_response", text="Twilio answered without a message SID")
        return Answer(sid=sent.sid)

    def find(self, lookup: Lookup, taken: Callable[[list[str]], set[str]], others: Callable[[], set[str]]) -> str | None:
        """The SID of this message at Twilio, if it got there: Messages to its number sent since
        it was written, from its sender, with its text, not already another message's (`taken`
        says which SIDs are). A template's text is not ours to know: for one, any text but
        those of our other messages whose SIDs are not known yet (`others`)."""
        since = lookup.created_at - CLOCK_SKEW
        candidates = self.client.messages.list(
            to=twilio_address(lookup.to_number, lookup.channel), date_sent_after=since.date(), page_size=100, limit=500,
        )
        not_ours = others() if lookup.content_sid else set()
        matches = [
            message for message in candidates
            if message.from_ == twilio_address(lookup.from_number, lookup.channel)
            and (message.body not in not_ours if lookup.content_sid else message.body == lookup.body)
            and (message.date_created is None or message.date_created >= since)
        ]
        known = taken([message.sid for message in matches])
        matches = [message for message in matches if message.sid not in known]
        matches.sort(key=lambda message: message.date_created or since)
        return matches[0].sid if matches else None

    def _absolute(self, url: str) -> str:
        return url if "://" in url or not self.public_base_url else self.public_base_url + url


def answer_for(error: Exception) -> Answer:
    """Twilio's refusal or a transport failure, as a code of the delivery engine's ANSWERS."""
    if isinstance(error, (TwilioRestException, TwilioServiceException)):  # the classic error body, or RFC 9457's
        status, code = error.status, str(error.code or "")
        text = str(error.msg if isinstance(error, TwilioRestException) else error.detail or error.title or "")
        if status == 429:  # pushed back, whatever code says why (the client writes 429 when the body has none)
            return Answer(code=code if code == "20429" else "http_429", text=f"{code}: {text}"[:255])
        if status in (401, 404):  # our credentials or account SID are wrong, whatever code says: no message's fault
            return Answer(code=f"http_{status}", text=f"{code}: {text}"[:255])
        if status >= 500:
            return Answer(code="http_5xx", text=f"HTTP {status}: {text}"[:255])
        return Answer(code=code or f"http_{status}", text=text[:255])
    # The connection could not be opened (refused, timed out, no such host: NewConnectionError
    # is a ConnectTimeoutError), or TLS failed: nothing was sent.
    if isinstance(error, (ConnectTimeoutError, SSLError)):
        return Answer(code="connection_refused", text=str(error)[:255])
    if isinstance(error, ReadTimeoutError):
        return Answer(code="timeout", text=str(error)[:255])
    return Answer(code="no_response", text=f"{type(error).__name__}: {error}"[:255])
