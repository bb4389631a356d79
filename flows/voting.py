"""Voting: what a message to a show's number asks for, and the words of each answer.

Votes have no conversation: every message stands alone, so this is one reading step instead
of a flow table. `read` turns a message into a `Cast` (votes for a contestant), a `Buy` (a
package keyword) or an `Answer` (HELP, STOP, or a refusal that needs no database). What only
the database can refuse (the caps, the bought-vote balance) is answered by `refusal`.
Plain data in, plain data out: no Flask, SQLAlchemy or twilio."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.money import Money
from flows.base import Inbound, Msg, say

HELP_WORDS = frozenset({"HELP", "INFO"})
STOP_WORDS = frozenset({"STOP", "UNSUBSCRIBE"})
START_WORDS = frozenset({"START", "SUBSCRIBE"})
VOTE_WORDS = frozenset({"VOTE", "V"})
# Words a contestant code or package keyword may not be: they mean something already.
RESERVED_WORDS = HELP_WORDS | STOP_WORDS | START_WORDS | VOTE_WORDS
# "3", "V3", "VOTE3": a contestant number, with or without the vote word stuck to it.
_NUMBER = re.compile(r"(?:VOTE|V)?(\d{1,4})")
MAX_VOTES_PER_MESSAGE = 1000
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


@dataclass(frozen=True)
class Buy:
    package: PackageView


@dataclass(frozen=True)
class Answer:
    """Not a vote: HELP, STOP or START (`reason` says which), or a refusal. `opt` is "out"
    or "in" for STOP and START."""

    reason: str
    message: Msg
    opt: str | None = None


def read(show: ShowView, inbound: Inbound, now: datetime) -> Cast | Buy | Answer:
    words = inbound.words
    if words and words[0] in HELP_WORDS:
        return Answer("help", help_message(show, inbound.to, now))
    if words and words[0] in STOP_WORDS:
        return Answer("stop", say("vote_stopped", show=show.name), opt="out")
    if words and words[0] in START_WORDS:
        return Answer("start", say("vote_started", show=show.name), opt="in")
    if len(words) == 1 and (package := show.package(inbound.to, words[0])):
        return Buy(package)
    wanted = _vote_words(words)
    if wanted is None:
        return Answer("not_understood", help_message(show, inbound.to, now))
    if inbound.channel != WHATSAPP and show.shortcode(inbound.to, None) is None:
        return Answer("not_a_vote_line", help_message(show, inbound.to, now))
    episode = show.open_episode(now)
    if episode is None:
        return Answer("closed", closed_message(show, now))
    reference, count = wanted
    contestant = show.contestant(reference)
    if contestant is None or contestant.number not in episode.contestants:
        return Answer("unknown_contestant", say("vote_unknown_contestant", choice=reference, choices=_choices(show, episode)))
    if count is not None:
        return Cast(episode, contestant, count, "package")
    return Cast(episode, contestant, 1, WHATSAPP if inbound.channel == WHATSAPP else "sms")


def _vote_words(words: tuple[str, ...]) -> tuple[str, int | None] | None:
    """`3`, `VOTE 3`, `V3`, `SOKHA`, `VOTE SOKHA`, each optionally followed by a number of
    bought votes to spend: the contestant reference and that number (None: an ordinary vote)."""
    if words and words[0] in VOTE_WORDS:
        words = words[1:]
    if not 1 <= len(words) <= 2:
        return None
    number = _NUMBER.fullmatch(words[0])
    reference = str(int(number.group(1))) if number else words[0]
    if not number and not reference.isalpha():
        return None
    if len(words) == 1:
        return reference, None
    if not words[1].isdecimal() or not 1 <= int(words[1]) <= MAX_VOTES_PER_MESSAGE:
        return None
    return reference, int(words[1])


def _choices(show: ShowView, episode: EpisodeView) -> str:
    by_number = {c.number: c for c in show.contestants}
    return ", ".join(f"{n} {by_number[n].code}" for n in sorted(episode.contestants))


def help_message(show: ShowView, number: str, now: datetime) -> Msg:
    line = show.shortcode(number, None) or show.vote_line()
    episode = show.open_episode(now) or show.next_episode(now)
    choices = _choices(show, episode) if episode else ", ".join(f"{c.number} {c.code}" for c in show.contestants)
    packages = [p for p in show.packages if p.shortcode == number] or list(show.packages)
    return say(
        "vote_help",
        show=show.name,
        line=say("vote_help_line", number=line.number, price=Money(line.price, line.currency)) if line else "",
        choices=choices,
        cap=show.max_votes_per_episode,
        packages=[say("vote_help_package", keyword=p.keyword, shortcode=p.shortcode, votes=p.total, price=Money(p.price, p.currency))
                  for p in packages[:1]],
    )


def closed_message(show: ShowView, now: datetime) -> Msg:
    coming = show.next_episode(now)
    if coming is None:
        return say("vote_closed", show=show.name)
    return say("vote_closed_until", show=show.name, when=coming.voting_start.astimezone(ZoneInfo(show.timezone)))


def counted(cast: Cast, left: int | None) -> Msg:
    """The answer to counted votes; `left` is the bought-vote balance after a package vote."""
    if cast.source == "package":
        return say("vote_counted_package", votes=cast.votes, name=cast.contestant.name, number=cast.contestant.number, left=left)
    return say("vote_counted", name=cast.contestant.name, number=cast.contestant.number)


def bought(show: ShowView, buy: Buy, balance: int) -> Msg:
    return say("vote_package_bought", votes=buy.package.total, balance=balance, show=show.name)


def refusal(show: ShowView, cast: Cast, reason: str, balance: int = 0) -> Msg:
    """The answer when the database refused the votes: over_cap, too_fast, no_free_votes,
    no_package_votes."""
    if reason == "over_cap":
        return say("vote_over_cap", cap=show.max_votes_per_episode)
    if reason == "too_fast":
        return say("vote_too_fast", cap=show.max_votes_per_minute)
    if reason == "no_free_votes":
        line = show.vote_line()
        return say("vote_no_free_votes", free=show.free_votes_per_episode, number=cast.contestant.number,
                   shortcode=line.number if line else "")
    package = show.packages[0] if show.packages else None
    offer = say("vote_package_offer", keyword=package.keyword, shortcode=package.shortcode, votes=package.total) if package else ""
    return say("vote_no_package_votes", balance=balance, offer=offer)
