"""Recording what viewers send to a show, and counting it.

A vote is one transaction that locks one row for writing, the phone's own `episode_voters`
row, whose conditional upsert enforces the caps and reads the contestant's row of the
episode's line-up FOR KEY SHARE (a load taking them out locks that row first); then the vote
and the message's log row are inserted. On PostgreSQL the three travel as one statement. The
log row's unique carrier message id makes a retried message fail as a whole, so that it is
answered from the first one's log and counted once. Services never commit: the caller owns
the transaction."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Callable

from sqlalchemy import Connection, Integer, bindparam, case, delete, distinct, exists, func, insert, select, true
from sqlalchemy.orm import Session

from bot.db import insert_for_dialect, run_prepared
from bot.show_views import Cast, PackageView, ShowView
from models import Contestant, Episode, EpisodeContestant, EpisodeVoter, Show, SmsVoteLog, Vote, VoteBalance, VoteOptOut
from models.base import new_id

FREE_SOURCE = "whatsapp"


@dataclass(frozen=True)
class Received:
    """An inbound message to a show, as its log row keeps it."""

    show_id: uuid.UUID
    phone: str
    channel: str
    carrier: str
    short_code: str
    text: str
    message_id: str


class VoteRefused(Exception):
    """The database said no: `reason` is unknown_contestant, over_cap, too_fast, no_free_votes
    or no_package_votes; `balance` the bought votes left, for the last."""

    def __init__(self, reason: str, balance: int = 0):
        super().__init__(reason)
        self.reason = reason
        self.balance = balance


def count_votes(
    connection: Connection, show: ShowView, cast: Cast, received: Received, charge: int, currency: str | None,
    reply: Callable[[int | None], str], now: datetime,
) -> str:
    """Count `cast` and log its message, charged `charge`, with the answer `reply` gives from
    the bought votes left (None unless the votes were bought); that answer back. Raises
    VoteRefused, or IntegrityError when the message was already logged."""
    params = _cast_params(show, cast, received, now) | _log_params(
        received, cast.episode.id, charge, currency, status="pending" if charge else "confirmed", reason=None, now=now)
    statements = _statements(connection.dialect.name)
    if in_one_statement(connection.dialect.name, cast):
        # The usual vote, in one round trip: the log row's reply does not depend on anything counted.
        text = reply(None)
        if run_prepared(connection, statements.counted, params | {"reply": text}) is None:
            raise _refusal(connection, show, cast, params)
        return text
    if connection.execute(statements.voter, params).first() is None:
        raise _refusal(connection, show, cast, params)
    left = _spend(connection, params) if cast.source == "package" else None
    connection.execute(statements.vote, params)
    text = reply(left)
    connection.execute(statements.log, params | {"reply": text})
    return text


def in_one_statement(dialect: str, cast: Cast) -> bool:
    """Whether count_votes writes with one statement, which is atomic without a transaction
    around it (saving the round trips of BEGIN and COMMIT): the usual vote, on PostgreSQL."""
    return dialect == "postgresql" and cast.source != "package"


def buy_package(
    connection: Connection, package: PackageView, received: Received, reply: Callable[[int], str], now: datetime
) -> str:
    """Credit a package's votes and bonus to the phone for the season; log the message charged
    the package's price, with the answer `reply` gives from the new balance; that answer back.
    IntegrityError when the message was already logged."""
    statements = _statements(connection.dialect.name)
    balance = connection.execute(statements.credit, {"show_id": received.show_id, "phone": received.phone, "votes": package.total, "now": now}).scalar_one()
    params = _log_params(received, None, package.price, package.currency, status="pending" if package.price else "confirmed",
                         reason=None, now=now)
    text = reply(balance)
    connection.execute(statements.log, params | {"vote_id": None, "reply": text})
    return text


def log_message(
    connection: Connection, received: Received, reason: str, reply: str, now: datetime,
    episode_id: uuid.UUID | None = None, opt: str | None = None,
) -> str:
    """Log a message that was not a vote (HELP, STOP, a refusal), charged nothing; STOP and
    START (`opt` "out" or "in") also set the phone's opt-out. IntegrityError when the message
    was already logged."""
    key = {"show_id": received.show_id, "phone": received.phone}
    if opt == "out":
        connection.execute(_statements(connection.dialect.name).opt_out, key | {"now": now})
    elif opt == "in":
        connection.execute(delete(VoteOptOut).where(VoteOptOut.show_id == received.show_id, VoteOptOut.phone == received.phone))
    params = _log_params(received, episode_id, 0, None, status="rejected", reason=reason, now=now)
    connection.execute(_statements(connection.dialect.name).log, params | {"vote_id": None, "reply": reply})
    return reply


_STORED_REPLY = select(SmsVoteLog.reply).where(
    SmsVoteLog.carrier == bindparam("carrier"), SmsVoteLog.carrier_message_id == bindparam("message_id"))


def stored_reply(connection: Connection, received: Received) -> str | None:
    return connection.scalar(_STORED_REPLY, {"carrier": received.carrier, "message_id": received.message_id})


def _cast_params(show: ShowView, cast: Cast, received: Received, now: datetime) -> dict:
    return {
        "vote_id": new_id(),
        "episode_id": cast.episode.id,
        "contestant_id": cast.contestant.id,
        "source": cast.source,
        "votes": cast.votes,
        "free": cast.votes if cast.source == FREE_SOURCE else 0,
        "minute": now.replace(second=0, microsecond=0),
        "cap": show.max_votes_per_episode,
        "per_minute": show.max_votes_per_minute,
        "free_cap": show.free_votes_per_episode,
    }


def _log_params(received: Received, episode_id, charge: int, currency: str | None, status: str, reason: str | None, now: datetime) -> dict:
    return {
        "log_id": new_id(),
        "show_id": received.show_id,
        "episode_id": episode_id,
        "phone": received.phone,
        "channel": received.channel,
        "carrier": received.carrier,
        "short_code": received.short_code,
        "text": received.text,
        "message_id": received.message_id,
        "charge": charge,
        "currency": currency,
        "status": status,
        "reason": reason,
        "now": now,
    }


def _spend(connection: Connection, params: dict) -> int:
    spend = {"b_show_id": params["show_id"], "b_phone": params["phone"], "b_votes": params["votes"], "b_now": params["now"]}
    left = connection.execute(_statements(connection.dialect.name).spend, spend).scalar()
    if left is None:
        balance = connection.scalar(
            select(VoteBalance.votes).where(VoteBalance.show_id == params["show_id"], VoteBalance.phone == params["phone"]))
        raise VoteRefused("no_package_votes", balance or 0)
    return left


def _refusal(connection: Connection, show: ShowView, cast: Cast, params: dict) -> VoteRefused:
    """Why the votes were refused: the contestant left the episode's line-up (a load this
    server's table of numbers has not read yet), else which cap they hit, from the phone's
    counters as they are now (one query for both: refusals come in bursts too)."""
    voter = (EpisodeVoter.episode_id == params["episode_id"]) & (EpisodeVoter.phone == params["phone"])
    found = connection.execute(select(
        exists().where(*_in_line_up()).label("in_line_up"),
        select(EpisodeVoter.votes).where(voter).scalar_subquery().label("votes"),
        select(EpisodeVoter.free_votes).where(voter).scalar_subquery().label("free"),
    ), params).one()
    if not found.in_line_up:
        return VoteRefused("unknown_contestant")
    votes, free = found.votes or 0, found.free or 0
    if free + params["free"] > show.free_votes_per_episode:
        return VoteRefused("no_free_votes")
    if votes + cast.votes > show.max_votes_per_episode:
        return VoteRefused("over_cap")
    return VoteRefused("too_fast")


# --- statements, built once per dialect ---------------------------------------------------


@dataclass(frozen=True)
class _Statements:
    voter: object  # the caps' conditional upsert: a row back when the votes fit
    vote: object
    log: object
    counted: object | None  # PostgreSQL: voter, vote and log in one statement
    spend: object
    credit: object
    opt_out: object


def _p(name: str, column):
    return bindparam(name, type_=column.type)


def _int(name: str):
    return bindparam(name, type_=Integer)


def _vote_values() -> dict:
    t = Vote.__table__.c
    return {
        t.id: _p("vote_id", t.id), t.show_id: _p("show_id", t.show_id), t.episode_id: _p("episode_id", t.episode_id),
        t.contestant_id: _p("contestant_id", t.contestant_id), t.phone: _p("phone", t.phone),
        t.source: _p("source", t.source), t.votes: _p("votes", t.votes), t.created_at: _p("now", t.created_at),
    }


def _log_values() -> dict:
    t = SmsVoteLog.__table__.c
    return {
        t.id: _p("log_id", t.id), t.show_id: _p("show_id", t.show_id), t.episode_id: _p("episode_id", t.episode_id),
        t.vote_id: _p("vote_id", t.vote_id), t.phone_number: _p("phone", t.phone_number), t.channel: _p("channel", t.channel),
        t.carrier: _p("carrier", t.carrier), t.short_code: _p("short_code", t.short_code),
        t.message_content: _p("text", t.message_content), t.carrier_message_id: _p("message_id", t.carrier_message_id),
        t.charge_amount: _p("charge", t.charge_amount), t.currency: _p("currency", t.currency),
        t.status: _p("status", t.status), t.reason: _p("reason", t.reason), t.reply: _p("reply", t.reply),
        t.created_at: _p("now", t.created_at),
    }


@cache
def _statements(dialect: str) -> _Statements:
    dialect_insert = insert_for_dialect(dialect)
    voter = _voter_upsert(dialect_insert)
    vote, log = insert(Vote.__table__).values(_vote_values()), insert(SmsVoteLog.__table__).values(_log_values())
    counted = None
    if dialect == "postgresql":
        voter_cte = voter.cte("voter")
        vote_cte = (
            insert(Vote.__table__)
            .from_select(list(_vote_values()), select(*_vote_values().values()).select_from(voter_cte))
            .returning(Vote.__table__.c.id)
            .cte("vote")
        )
        log_values = _log_values()
        log_values[SmsVoteLog.__table__.c.vote_id] = vote_cte.c.id
        counted = (
            insert(SmsVoteLog.__table__)
            .from_select(list(log_values), select(*log_values.values()).select_from(vote_cte))
            .returning(true().label("counted"))  # a row back is all it says (an id would be parsed for nothing)
            .add_cte(voter_cte, vote_cte)
        )
    b = VoteBalance.__table__
    spend = (  # parameters named apart from the columns, as UPDATE wants
        b.update()
        .where(b.c.show_id == _p("b_show_id", b.c.show_id), b.c.phone == _p("b_phone", b.c.phone), b.c.votes >= bindparam("b_votes"))
        .values(votes=b.c.votes - bindparam("b_votes"), updated_at=_p("b_now", b.c.updated_at))
        .returning(b.c.votes)
    )
    credit = dialect_insert(b).values(
        show_id=_p("show_id", b.c.show_id), phone=_p("phone", b.c.phone), votes=bindparam("votes"), updated_at=_p("now", b.c.updated_at))
    credit = credit.on_conflict_do_update(
        index_elements=[b.c.show_id, b.c.phone], set_={"votes": b.c.votes + credit.excluded.votes, "updated_at": credit.excluded.updated_at}
    ).returning(b.c.votes)
    o = VoteOptOut.__table__
    opt_out = dialect_insert(o).values(
        show_id=_p("show_id", o.c.show_id), phone=_p("phone", o.c.phone), created_at=_p("now", o.c.created_at)
    ).on_conflict_do_nothing()
    return _Statements(voter, vote, log, counted, spend, credit, opt_out)


def _in_line_up() -> tuple:
    """The contestant's row of the episode's line-up."""
    t = EpisodeContestant.__table__.c
    return (t.show_id == _p("show_id", t.show_id), t.episode_id == _p("episode_id", t.episode_id),
            t.contestant_id == _p("contestant_id", t.contestant_id))


def _voter_upsert(dialect_insert):
    """Add the votes to the phone's counters only if the contestant is in the episode's line-up
    and they stay within the caps: per episode, per UTC minute, and the free WhatsApp votes. A
    row comes back when they did. The line-up row is read FOR KEY SHARE: a load taking the
    contestant out locks it before it asks whether they have votes, so it sees this one, or
    this one waits for the load and finds the row gone (a server's table of numbers may still
    have them for a moment)."""
    t = EpisodeVoter.__table__
    votes, free, minute = _int("votes"), _int("free"), _p("minute", t.c.minute)
    cap, per_minute, free_cap = _int("cap"), _int("per_minute"), _int("free_cap")
    first = (
        select(_p("episode_id", t.c.episode_id), _p("phone", t.c.phone), _p("show_id", t.c.show_id), votes, free, minute, votes)
        .where(*_in_line_up(), (votes <= cap) & (votes <= per_minute) & (free <= free_cap))
        .with_for_update(read=True, key_share=True)
    )
    upsert = dialect_insert(t).from_select(
        [t.c.episode_id, t.c.phone, t.c.show_id, t.c.votes, t.c.free_votes, t.c.minute, t.c.minute_votes], first)
    new = upsert.excluded
    # Only a later minute starts the count again: a vote stamped with an earlier one (a server
    # whose clock is a little behind, a commit overtaken) counts against the minute stored.
    later_minute = new.minute > t.c.minute
    return upsert.on_conflict_do_update(
        index_elements=[t.c.episode_id, t.c.phone],
        set_={
            "votes": t.c.votes + new.votes,
            "free_votes": t.c.free_votes + new.free_votes,
            "minute_votes": case((later_minute, new.minute_votes), else_=t.c.minute_votes + new.minute_votes),
            "minute": case((later_minute, new.minute), else_=t.c.minute),
        },
        where=(t.c.votes + new.votes <= cap)
        & (later_minute | (t.c.minute_votes + new.minute_votes <= per_minute))
        & (t.c.free_votes + new.free_votes <= free_cap),
    ).returning(t.c.votes)


# --- results --------------------------------------------------------------------------------


def find_episode(session: Session, show_code: str, number: int | None, now: datetime) -> Episode | None:
    """Episode `number` of the show; without a number, the one voting now, else the last one
    whose voting started, else the first."""
    episodes = session.scalars(
        select(Episode).join(Show, Show.id == Episode.show_id).where(Show.code == show_code).order_by(Episode.voting_start)
    ).all()
    if number is not None:
        return next((episode for episode in episodes if episode.number == number), None)
    started = [episode for episode in episodes if episode.voting_start <= now]
    return started[-1] if started else (episodes[0] if episodes else None)


def tally(connection: Connection, show_code: str, episode: Episode) -> dict:
    """Per contestant of the episode: votes, unique voters and the split by source, from the
    votes themselves (the truth). The shape of `voting results --json` and live.json."""
    v = Vote.__table__.c

    def by_source(source: str):
        return func.coalesce(func.sum(case((v.source == source, v.votes), else_=0)), 0)

    rows = connection.execute(
        select(
            Contestant.number, Contestant.code, Contestant.name, func.coalesce(func.sum(v.votes), 0).label("votes"),
            func.count(distinct(v.phone)).label("unique_voters"),
            by_source("sms").label("sms"), by_source("whatsapp").label("whatsapp"), by_source("package").label("package"),
        )
        .select_from(EpisodeContestant)
        .join(Contestant, (Contestant.show_id == EpisodeContestant.show_id) & (Contestant.id == EpisodeContestant.contestant_id))
        .outerjoin(Vote, (v.episode_id == EpisodeContestant.episode_id) & (v.contestant_id == Contestant.id))
        .where(EpisodeContestant.show_id == episode.show_id, EpisodeContestant.episode_id == episode.id)
        .group_by(Contestant.number, Contestant.code, Contestant.name)
        .order_by(Contestant.number)
    ).all()
    contestants = [{key: int(value) if key not in ("code", "name") else value for key, value in row._mapping.items()} for row in rows]
    return {"show": show_code, "episode": episode.number, "total": sum(c["votes"] for c in contestants), "contestants": contestants}
