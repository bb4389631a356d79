"""The voting desk: the short path for messages written to a show's numbers.

A vote has no conversation, so there is no customer row to lock and no state to keep: the
message is read (flows/voting.py), then one transaction counts it and logs it, and the answer
goes back. Votes from different phones never wait for each other. A retried message (same
carrier message id or MessageSid) is answered from its log row and changes nothing."""
from __future__ import annotations

import logging
from functools import lru_cache
from typing import Callable

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from bot.catalog import render
from bot.db import Database
from bot.dispatcher import Reply
from bot.services.votes import (
    Received, VoteRefused, buy_package, count_votes, in_one_statement, log_message, stored_reply,
)
from bot.messages import Inbound, Msg, say
from bot.show_views import ShowView
from flows.voting import Answer, Buy, bought, counted, read, refusal
from models.base import utcnow

log = logging.getLogger(__name__)


@lru_cache(maxsize=4096)
def _render_once(key: str, params: tuple, language: str) -> str:
    return render(say(key, **dict(params)), language)


def _rendered(message: Msg, language: str) -> str:
    """The answer to a counted vote, rendered once per contestant (and bought votes left) and language."""
    return _render_once(message.key, tuple(message.params.items()), language)


class VotingDesk:
    def __init__(self, db: Database, clock=utcnow):
        self.db = db
        self.clock = clock

    def handle(self, inbound: Inbound, show: ShowView, carrier: str) -> list[Reply]:
        received = Received(show.id, inbound.phone, inbound.channel, carrier, inbound.to, inbound.text, inbound.sid)
        try:
            return [Reply(self._answer(show, inbound, received))]
        except Exception:
            log.exception("vote %s failed", inbound.sid)
            return [Reply(render(say("error"), show.language))]

    def _answer(self, show: ShowView, inbound: Inbound, received: Received) -> str:
        now = self.clock()
        wanted = read(show, inbound, now)
        if isinstance(wanted, Answer):
            text = render(wanted.message, show.language)
            return self._once(received, lambda c: log_message(c, received, wanted.reason, text, now, opt=wanted.opt))
        if isinstance(wanted, Buy):
            reply = lambda balance: render(bought(show, wanted, balance), show.language)  # noqa: E731
            return self._once(received, lambda c: buy_package(c, wanted.package, received, reply, now))
        line = show.shortcode(received.short_code, received.carrier) if wanted.source == "sms" else None
        charge, currency = (line.price, line.currency) if line else (0, None)
        reply = lambda left: _rendered(counted(wanted, left), show.language)  # noqa: E731
        single = in_one_statement(self.db.engine.dialect.name, wanted)
        try:
            return self._once(received, lambda c: count_votes(c, show, wanted, received, charge, currency, reply, now), single)
        except VoteRefused as refused:  # rolled back: only the refusal is logged
            reason, text = refused.reason, render(refusal(show, wanted, refused.reason, refused.balance), show.language)
        return self._once(received, lambda c: log_message(c, received, reason, text, now, episode_id=wanted.episode.id))

    def _once(self, received: Received, record: Callable[[Connection], str], single_statement: bool = False) -> str:
        """Run `record` in one transaction (or, when it writes with a single statement, in that
        statement's own); a message already logged is answered as it was then."""
        try:
            return self.db.once_more_if_disconnected(lambda: self._run(record, single_statement))
        except IntegrityError:
            with self.db.engine.connect() as connection:
                stored = stored_reply(connection, received)
            if stored is None:
                raise
            return stored

    def _run(self, record: Callable[[Connection], str], single_statement: bool) -> str:
        with self.db.autocommit() if single_statement else self.db.engine.begin() as connection:
            return record(connection)
