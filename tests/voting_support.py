"""What the voting tests share: the example show (examples/show.json), the app's clock set
inside its first episode's voting window, and small readers of what was stored."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from bot.services.shows import load_show, parse_show_file
from models import SmsVoteLog
from models.base import utcnow
from tests.conftest import ROOT

SHOW_FILE = ROOT / "examples" / "show.json"
# 20:00 in Phnom Penh on 5 December 2026: episode 1's lines (19:00-21:00) are open.
LIVE = datetime(2026, 12, 5, 13, 0, tzinfo=timezone.utc)
SMART, CELLCARD, FAN_LINE = "1515", "1516", "1599"
VIEWER = "+85512345678"


def show_file(**changes) -> dict:
    raw = json.loads(SHOW_FILE.read_text())
    raw.update(changes)
    return raw


@pytest.fixture
def load(app, db):
    """Load a show file (the example, with `changes`), as `voting load` does."""

    def load(**changes):
        with db.transaction() as session:
            result = load_show(session, parse_show_file(show_file(**changes)))
        app.extensions["router"].forget()
        return result

    return load


@pytest.fixture
def show(load):
    return load().show


@pytest.fixture
def live(clock):
    """The app's clock (conftest's), moved inside episode 1's voting window."""
    clock.offset = LIVE - utcnow()
    return clock


def results(app, episode: int = 1) -> dict:
    outcome = app.test_cli_runner().invoke(args=["voting", "results", "XFKH", "--episode", str(episode), "--json"])
    assert outcome.exit_code == 0, outcome.output
    return json.loads(outcome.output)


def votes_for(app, number: int) -> int:
    return next(c["votes"] for c in results(app)["contestants"] if c["number"] == number)


def log_of(db, message_id: str) -> SmsVoteLog:
    with db.sessions() as session:
        return session.scalars(select(SmsVoteLog).where(SmsVoteLog.carrier_message_id == message_id)).one()
