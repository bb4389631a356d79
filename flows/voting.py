"""Voting: what a message to a show's number asks for, and the words of each answer.

Votes have no conversation: every message stands alone, so this is one reading step instead
of a flow table. `read` turns a message into a `Cast` (votes for a contestant), a `Buy` (a
package keyword) or an `Answer` (HELP, STOP, or a refusal that needs no database). What only
the database can refuse (the caps, the bought-vote balance) is answered by `refusal`.
Plain data in, plain data out: no Flask, SQLAlchemy or twilio."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable
from zoneinfo import ZoneInfo

from bot.money import Money
from bot.show_views import (
    HELP_WORDS, START_WORDS, STOP_WORDS, VOTE_WORDS, WHATSAPP, Cast, PackageView, ShowView,
)
from flows.base import Inbound, Msg, say

# "3", "V3", "VOTE3": a contestant number, with or without the vote word stuck to it.
_NUMBER = re.compile(r"(?:VOTE|V)?(\d{1,4})")
MAX_VOTES_PER_MESSAGE = 1000
# A number with a sign or a fraction (-1, 1.5, 1,2, 1/2, ½ once folded): the words drop the
# punctuation, which would read "VOTE -1" as a vote for 1 and "VOTE 1 2.5" as 2 bought votes.
_SIGNED_OR_PART = re.compile(r"[-+−]\s*\d|\d\s*[.,/⁄]\s*\d")


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
    wanted = None if _SIGNED_OR_PART.search(unicodedata.normalize("NFKC", inbound.text)) else _vote_words(words)
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
        choices = _choices(show, episode.contestants)
        return Answer("unknown_contestant", say("vote_unknown_contestant", choice=reference, choices=choices))
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


def _choices(show: ShowView, numbers: Iterable[int]) -> str:
    by_number = {c.number: c for c in show.contestants}
    return ", ".join(f"{n} {by_number[n].code}" for n in sorted(numbers))


def help_message(show: ShowView, number: str, now: datetime) -> Msg:
    line = show.shortcode(number, None) or show.vote_line()
    episode = show.open_episode(now) or show.next_episode(now)
    choices = _choices(show, episode.contestants if episode else [c.number for c in show.contestants])
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
    """The answer when the database refused the votes: unknown_contestant, over_cap, too_fast,
    no_free_votes, no_package_votes."""
    if reason == "unknown_contestant":  # taken out by a load this server's table has not read yet
        others = set(cast.episode.contestants) - {cast.contestant.number}
        return say("vote_unknown_contestant", choice=cast.contestant.number, choices=_choices(show, others))
    if reason == "over_cap":
        return say("vote_over_cap", cap=show.max_votes_per_episode)
    if reason == "too_fast":
        return say("vote_too_fast", cap=show.max_votes_per_minute)
    if reason == "no_free_votes":  # none left, or none at all: the show's WhatsApp takes no votes
        key = "vote_no_free_votes" if show.free_votes_per_episode else "vote_no_whatsapp_votes"
        line = show.vote_line()
        if line is None:  # no short code to send them to
            return say(f"{key}_no_sms", show=show.name)
        return say(key, show=show.name, number=cast.contestant.number, shortcode=line.number)
    package = show.packages[0] if show.packages else None
    offer = say("vote_package_offer", keyword=package.keyword, shortcode=package.shortcode, votes=package.total) if package else ""
    return say("vote_no_package_votes", balance=balance, offer=offer)
