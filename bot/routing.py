"""The routing step in front of the conversation engine: the number a message was written to
decides where it goes, whichever door it came in by (Twilio, Kannel).

The table maps each show's short codes and WhatsApp number to the show; every other number
belongs to the loyalty vendors, whose dispatcher finds the vendor itself. The table lives in
memory and is read again from the database every few seconds, so a show loaded or reloaded
by another process is routed within REFRESH_SECONDS, and the vote path asks no question of
the database to know where it is. While one thread reads it again, the others go on with the
table they have."""
from __future__ import annotations

import threading
import time

from bot.db import Database
from bot.dispatcher import Dispatcher, Reply
from bot.messages import Inbound
from bot.services.shows import show_views
from bot.show_views import ShowView
from bot.voting import VotingDesk

REFRESH_SECONDS = 2.0


class Router:
    def __init__(self, db: Database, loyalty: Dispatcher, voting: VotingDesk, clock=time.monotonic):
        self.db = db
        self.loyalty = loyalty
        self.voting = voting
        self.clock = clock
        self._table: dict[str, ShowView] = {}
        self._read_at: float | None = None
        self._lock = threading.Lock()

    def handle(self, inbound: Inbound, carrier: str | None = None) -> list[Reply]:
        """`carrier` is the carrier the message came through, when the door knows it (Kannel's smsc)."""
        show = self.show_for(inbound.to)
        if show is None:
            return self.loyalty.handle(inbound)
        return self.voting.handle(inbound, show, carrier or show.carrier_of(inbound.to, inbound.channel))

    def show_for(self, number: str) -> ShowView | None:
        return self._current().get(number)

    def forget(self) -> None:
        """Read the table again at the next message (after a show was loaded in this process)."""
        self._read_at = None

    def _current(self) -> dict[str, ShowView]:
        read_at = self._read_at
        if read_at is None:  # no table yet, or forgotten: every thread waits for the one reading it
            with self._lock:
                self._refresh(read_at)
        elif self.clock() - read_at > REFRESH_SECONDS and self._lock.acquire(blocking=False):
            # One thread reads the table again; the others route by the one in hand meanwhile
            # (waiting held every message on the worker up behind the reading).
            try:
                self._refresh(read_at)
            finally:
                self._lock.release()
        return self._table

    def _refresh(self, read_at: float | None) -> None:
        if self._read_at is read_at:  # no other thread read it meanwhile
            self._table = self.db.once_more_if_disconnected(self._read)
            self._read_at = self.clock()

    def _read(self) -> dict[str, ShowView]:
        with self.db.sessions() as session:
            return {number: show for show in show_views(session) for number in show.numbers}
