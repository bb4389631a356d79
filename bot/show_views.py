"""A show as the vote path sees it: plain views that bot/services/shows.py loads and the router
keeps in memory, the `Cast` that flows/voting.py reads from a message and bot/services/votes.py
counts, and the words the vote line reserves. Plain data: it imports nothing of the project, so
services and flows share it without importing each other."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

HELP_WORDS = frozenset({"HELP", "INFO"})
STOP_WORDS = frozenset({"STOP", "UNSUBSCRIBE"})
START_WORDS = frozenset({"START", "SUBSCRIBE"})
VOTE_WORDS = frozenset({"VOTE", "V"})
# Words a contestant code or package keyword may not be: they mean something already.
RESERVED_WORDS = HELP_WORDS | STOP_WORDS | START_WORDS | VOTE_WORDS
WHATSAPP = "whatsapp"


@dataclass(frozen=True)
class ContestantView:
    id: uuid.UUID
    number: int
    code: str
    name: str


@dataclass(frozen=True)
class EpisodeView:
    id: uuid.UUID
    number: int
    title: str
    voting_start: datetime  # UTC, inclusive
    voting_end: datetime  # UTC, exclusive
    contestants: tuple[int, ...]  # contestant numbers

    def is_open(self, now: datetime) -> bool:
        return self.voting_start <= now < self.voting_end


@dataclass(frozen=True)
class ShortCodeView:
    carrier: str
    number: str
    price: int  # minor units, per vote
    currency: str


@dataclass(frozen=True)
class PackageView:
    keyword: str
    carrier: str
    shortcode: str
    votes: int
    bonus_votes: int
    price: int  # minor units
    currency: str

    @property
    def total(self) -> int:
        return self.votes + self.bonus_votes


@dataclass(frozen=True)
class ShowView:
    """A loaded show as the vote path needs it (kept in memory by the router)."""

    id: uuid.UUID
    code: str
    name: str
    country: str
    timezone: str
    language: str  # what its answers are written in
    whatsapp_number: str | None
    max_votes_per_episode: int
    max_votes_per_minute: int
    free_votes_per_episode: int
    contestants: tuple[ContestantView, ...]
    episodes: tuple[EpisodeView, ...]
    shortcodes: tuple[ShortCodeView, ...]
    packages: tuple[PackageView, ...]

    @property
    def numbers(self) -> frozenset[str]:
        """Every number a viewer can write to."""
        numbers = {code.number for code in self.shortcodes} | {package.shortcode for package in self.packages}
        return frozenset(numbers | ({self.whatsapp_number} if self.whatsapp_number else set()))

    def open_episode(self, now: datetime) -> EpisodeView | None:
        return next((episode for episode in self.episodes if episode.is_open(now)), None)

    def next_episode(self, now: datetime) -> EpisodeView | None:
        coming = [episode for episode in self.episodes if episode.voting_start > now]
        return min(coming, key=lambda episode: episode.voting_start, default=None)

    def contestant(self, reference: str) -> ContestantView | None:
        """By number ("3") or code ("SOKHA")."""
        key = "number" if reference.isdecimal() else "code"
        value = int(reference) if reference.isdecimal() else reference
        return next((c for c in self.contestants if getattr(c, key) == value), None)

    def shortcode(self, number: str, carrier: str | None) -> ShortCodeView | None:
        """The vote short code written to; the carrier's own when the number is on several."""
        matches = [code for code in self.shortcodes if code.number == number]
        return next((code for code in matches if code.carrier == carrier), matches[0] if matches else None)

    def package(self, number: str, keyword: str) -> PackageView | None:
        return next((p for p in self.packages if p.shortcode == number and p.keyword == keyword), None)

    def carrier_of(self, number: str, channel: str) -> str:
        """The carrier of a message that did not say (Twilio): the one the number belongs to."""
        if channel == WHATSAPP:
            return WHATSAPP
        line = self.shortcode(number, None)
        return line.carrier if line else next((p.carrier for p in self.packages if p.shortcode == number), "unknown")

    def vote_line(self) -> ShortCodeView | None:
        return self.shortcodes[0] if self.shortcodes else None


@dataclass(frozen=True)
class Cast:
    """Votes for a contestant: one by SMS or free on WhatsApp, or `votes` bought ones."""

    episode: EpisodeView
    contestant: ContestantView
    votes: int
    source: str  # sms | whatsapp | package
