"""TV talent show voting: shows (one season each) from a file, their short codes, contestants,
episodes with voting windows and packages; then what viewers send: votes, per-phone counters,
bought-vote balances, opt-outs, and one sms_vote_logs row per inbound message.

The tables a vote writes (episode_voters, votes, sms_vote_logs) carry no foreign keys: each key
check would share-lock the one episode row that every vote of a burst points at. They are only
written by the vote path, with ids taken from the loaded show, in a statement that reads the
contestant's row of the episode's line-up FOR KEY SHARE (one row per contestant, not per
episode); a reload locks the line-up rows it takes out and refuses to drop an episode or a
contestant that has votes."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, ForeignKeyConstraint, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, new_id, utcnow


class Show(Base):
    """A show's season, known by its code (XFKH). Money in minor units of each price's currency."""

    __tablename__ = "shows"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    country: Mapped[str] = mapped_column(String(2))
    timezone: Mapped[str] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(8))  # None: its country's (bot/countries.py)
    whatsapp_number: Mapped[str | None] = mapped_column(String(20), unique=True)
    max_votes_per_phone_per_episode: Mapped[int]
    max_votes_per_phone_per_minute: Mapped[int]
    whatsapp_free_votes_per_episode: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class VoteShortCode(Base):
    """A carrier's premium short code for voting, and what one vote sent to it costs."""

    __tablename__ = "vote_shortcodes"

    carrier: Mapped[str] = mapped_column(String(30), primary_key=True)
    number: Mapped[str] = mapped_column(String(20), primary_key=True)
    show_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shows.id", ondelete="CASCADE"))
    price: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))


class Contestant(Base):
    __tablename__ = "contestants"
    __table_args__ = (UniqueConstraint("show_id", "number"), UniqueConstraint("show_id", "code"))

    show_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shows.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    number: Mapped[int]
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(255))


class Episode(Base):
    """A live show; votes count from voting_start (inclusive) to voting_end (exclusive), UTC."""

    __tablename__ = "episodes"
    __table_args__ = (UniqueConstraint("show_id", "number"), CheckConstraint("voting_start < voting_end", name="window"))

    show_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shows.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    number: Mapped[int]
    title: Mapped[str] = mapped_column(String(255))
    voting_start: Mapped[datetime]
    voting_end: Mapped[datetime]


class EpisodeContestant(Base):
    """Who can be voted for in an episode."""

    __tablename__ = "episode_contestants"
    __table_args__ = (
        ForeignKeyConstraint(["show_id", "episode_id"], ["episodes.show_id", "episodes.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["show_id", "contestant_id"], ["contestants.show_id", "contestants.id"], ondelete="CASCADE"),
    )

    show_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    episode_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    contestant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)


class VotePackage(Base):
    """Bought votes: KEYWORD sent to the package's short code credits votes + bonus_votes."""

    __tablename__ = "vote_packages"
    __table_args__ = (UniqueConstraint("carrier", "shortcode", "keyword"),)

    show_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shows.id", ondelete="CASCADE"), primary_key=True)
    keyword: Mapped[str] = mapped_column(String(20), primary_key=True)
    carrier: Mapped[str] = mapped_column(String(30))
    shortcode: Mapped[str] = mapped_column(String(20))
    votes: Mapped[int]
    bonus_votes: Mapped[int] = mapped_column(default=0)
    price: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))


class VoteBalance(Base):
    """Bought votes a phone has left to spend in the season (VOTE 3 10)."""

    __tablename__ = "vote_balances"
    __table_args__ = (CheckConstraint("votes >= 0", name="not_negative"),)

    show_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shows.id", ondelete="CASCADE"), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    votes: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class VoteOptOut(Base):
    """A phone that sent STOP to a show gets no SMS from it (START undoes it)."""

    __tablename__ = "vote_opt_outs"

    show_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shows.id", ondelete="CASCADE"), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EpisodeVoter(Base):
    """One phone's votes in one episode, against the caps. Its row is the only one a vote
    locks for writing (the line-up row it reads, it shares), so votes from different phones
    never wait for each other. `minute` is the UTC minute `minute_votes` counts; `free_votes`
    are the WhatsApp ones."""

    __tablename__ = "episode_voters"

    episode_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    show_id: Mapped[uuid.UUID]
    votes: Mapped[int] = mapped_column(default=0)
    free_votes: Mapped[int] = mapped_column(default=0)
    minute: Mapped[datetime]
    minute_votes: Mapped[int] = mapped_column(default=0)


class Vote(Base):
    """Votes counted for a contestant, from one message: `votes` is 1, or the bought votes a
    VOTE 3 10 spent. `source`: sms | whatsapp | package. Never changed once written."""

    __tablename__ = "votes"
    __table_args__ = (Index("ix_votes_episode_contestant", "episode_id", "contestant_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    show_id: Mapped[uuid.UUID]
    episode_id: Mapped[uuid.UUID]
    contestant_id: Mapped[uuid.UUID]
    phone: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(10))
    votes: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SmsVoteLog(Base):
    """Every inbound message to a show, counted or not, with the reply it got. A retry of the
    same carrier message id (or MessageSid) is answered from here and changes nothing.

    status: pending (charge_amount awaits the carrier's settlement), confirmed or failed (after
    `voting reconcile`; accepted messages that cost nothing are confirmed at once), rejected
    (not a vote: `reason` says why)."""

    __tablename__ = "sms_vote_logs"
    __table_args__ = (UniqueConstraint("carrier", "carrier_message_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    show_id: Mapped[uuid.UUID]
    episode_id: Mapped[uuid.UUID | None]
    vote_id: Mapped[uuid.UUID | None]
    phone_number: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(10))  # sms | whatsapp
    carrier: Mapped[str] = mapped_column(String(30))  # smart | cellcard | metfone | whatsapp
    short_code: Mapped[str] = mapped_column(String(20))
    message_content: Mapped[str] = mapped_column(Text, default="")
    carrier_message_id: Mapped[str] = mapped_column(String(64))
    charge_amount: Mapped[int] = mapped_column(default=0)
    currency: Mapped[str | None] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(String(30))
    reply: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
