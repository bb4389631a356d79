"""Live tallies for the studio: `GET /voting/CODE/live.json` (the shape of `voting results
--json`) and a page for the studio screen that refreshes itself every second.

The tallies are counted from the votes themselves, so they can never drift from the results;
each server process reuses a count for LIVE_SECONDS, so however many screens watch, the
database counts at most twice a second per process, and a vote shows within a second."""
from __future__ import annotations

import time

from flask import Blueprint, abort, current_app, jsonify, render_template, request, url_for

from bot.services.votes import find_episode, tally

LIVE_SECONDS = 0.5

blueprint = Blueprint("studio", __name__, url_prefix="/voting")
_recent: dict[tuple[str, int | None], tuple[float, dict]] = {}


@blueprint.get("/<token:code>/live.json")  # any other code is a 404 before a query
def live_json(code: str):
    episode = request.args.get("episode", type=int)
    key = (code.upper(), episode)
    counted_at, tallies = _recent.get(key, (0.0, None))
    if tallies is None or time.monotonic() - counted_at > LIVE_SECONDS:
        tallies = _count(*key)
        _recent[key] = (time.monotonic(), tallies)
    response = jsonify(tallies)
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/<token:code>/live")
def live_page(code: str):
    live_url = url_for("studio.live_json", code=code.upper(), episode=request.args.get("episode", type=int))
    return render_template("studio.html", code=code.upper(), live_url=live_url)


def _count(code: str, number: int | None) -> dict:
    with current_app.extensions["runtime"].db.sessions() as session:
        episode = find_episode(session, code, number, current_app.extensions["runtime"].clock())
        if episode is None:
            abort(404)
        return tally(session.connection(), code, episode)
