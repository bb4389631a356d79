"""Votes under real concurrency (PostgreSQL only): the caps, retries and bought-vote balances
hold when one phone's messages arrive at once, and many phones never wait for each other."""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest
from sqlalchemy import create_engine, select, text

from bot.services.shows import load_show, parse_show_file
from bot.services.votes import Received, count_votes
from bot.show_views import Cast
from models import EpisodeVoter, Show, SmsVoteLog, Vote, VoteBalance
from tests.conftest import Phone, at_once, count, kill_the_apps_connections
from tests.voting_support import FAN_LINE, SMART, live, load, results, show, show_file  # noqa: F401 (fixtures)


def all_at_once(app, messages: list[tuple[str, str, str | None]], to: str = SMART):
    """Send (phone, text, sid) messages by SMS in parallel threads released together."""
    return at_once([partial(Phone(app, number, to=to, channel="sms").send, body, sid=sid) for number, body, sid in messages])


def test_sixty_votes_at_once_from_one_phone_count_exactly_the_cap(load, live, app, db):
    load(max_votes_per_phone_per_episode=50, max_votes_per_phone_per_minute=100)
    answers = all_at_once(app, [("+85512000010", "1", None)] * 60)
    assert all(answer.status == 200 for answer in answers)
    assert sum(answer.text == "Thanks! Your vote for Sokha Chan (1) is counted." for answer in answers) == 50
    assert sum(answer.text == "You've used all 50 votes for this episode. Thanks for voting!" for answer in answers) == 10
    assert results(app)["total"] == 50
    assert count(db, SmsVoteLog) == 60 and count(db, SmsVoteLog, SmsVoteLog.reason == "over_cap") == 10
    with db.sessions() as session:
        assert session.scalar(select(EpisodeVoter.votes)) == 50


def test_a_message_retried_at_once_is_counted_once_and_every_copy_gets_its_answer(show, live, app, db):
    answers = all_at_once(app, [("+85512000011", "2", "SMsamevote")] * 12)
    assert {answer.text for answer in answers} == {"Thanks! Your vote for Dara Kim (2) is counted."}
    assert results(app)["total"] == 1
    assert count(db, SmsVoteLog) == 1 and count(db, Vote) == 1


def test_bought_votes_spent_at_once_never_go_below_zero(load, live, app, db):
    load(max_votes_per_phone_per_episode=1000, max_votes_per_phone_per_minute=1000)
    Phone(app, "+85512000012", to=FAN_LINE, channel="sms").send("FAN")  # 60 votes
    answers = all_at_once(app, [("+85512000012", "VOTE 1 10", None)] * 10)
    assert sum("10 votes for Sokha Chan (1) counted" in answer.text for answer in answers) == 6
    assert sum(answer.text.startswith("You have 0 bought votes") for answer in answers) == 4
    assert results(app)["contestants"][0]["package"] == 60
    with db.sessions() as session:
        assert session.scalar(select(VoteBalance.votes)) == 0


def test_many_phones_at_once_are_all_counted(show, live, app, db):
    answers = all_at_once(app, [(f"+8551201{i:04d}", str(1 + i % 2), None) for i in range(40)])
    assert all(answer.text.endswith("is counted.") for answer in answers)
    assert [c["votes"] for c in results(app)["contestants"]] == [20, 20]
    assert count(db, EpisodeVoter) == 40


def test_a_load_taking_out_a_contestant_waits_for_a_vote_being_counted_for_them_and_sees_it(load, live, app, db):
    """The load locks the line-up rows it takes out before it asks whether they have votes, and
    a vote reads its row FOR KEY SHARE: the load waits for the vote, sees it, and is refused."""
    load()
    view = app.extensions["router"].show_for(SMART)
    cast = Cast(view.open_episode(live()), view.contestant("2"), 1, "sms")
    received = Received(view.id, "+85512000040", "sms", "smart", SMART, "2", "SMinflight")
    raw = show_file()
    with ThreadPoolExecutor(max_workers=1) as pool, db.engine.connect() as vote:
        with vote.begin():  # counted, not committed yet
            count_votes(vote, view, cast, received, 25, "USD", lambda left: "counted", live())
            taking_out = pool.submit(load, contestants=raw["contestants"][:1], episodes=[{**raw["episodes"][0], "contestants": [1]}])
            time.sleep(0.5)
            assert not taking_out.done()
        with pytest.raises(ValueError, match="contestant 2 has votes and must stay in the file"):
            taking_out.result(timeout=10)
    assert [c["votes"] for c in results(app)["contestants"]] == [0, 1]


def test_a_show_another_load_creates_at_the_same_time_is_a_named_error_not_a_crash(app, db, tmp_path):
    path = tmp_path / "show.json"
    path.write_text(json.dumps(show_file()))
    with ThreadPoolExecutor(max_workers=1) as pool:
        with db.transaction() as session:  # the other load: the show written, not committed yet
            load_show(session, parse_show_file(show_file()))
            loading = pool.submit(app.test_cli_runner().invoke, args=["voting", "load", str(path)])
            time.sleep(0.5)
        outcome = loading.result(timeout=10)
    assert outcome.exit_code == 1 and isinstance(outcome.exception, SystemExit), outcome.exception
    assert "another load wrote the same at the same time (duplicate key value violates unique constraint" in outcome.output
    assert count(db, Show) == 1


def test_a_database_restart_does_not_lose_the_next_vote(show, live, make_app, db):
    # A server just started (not the run's shared app): one connection in its pool, killed below.
    app = make_app(clock=live)
    first = Phone(app, "+85512000013", to=SMART, channel="sms")
    first.send("1")  # leaves a connection in the pool
    kill_other_connections(db)
    assert first.send("2").text == "Thanks! Your vote for Dara Kim (2) is counted."
    assert results(app)["total"] == 2


def test_a_vote_takes_no_pooled_connection_so_a_busy_pool_never_holds_it_up(show, live, make_app):
    app = make_app(clock=live)
    Phone(app, "+85512000030", to=SMART, channel="sms").send("1")  # the router reads its table of numbers
    app.extensions["router"].clock = lambda: 0.0  # and keeps it: the next votes are the vote path alone
    engine = app.extensions["runtime"].db.engine
    taken = [engine.connect() for _ in range(engine.pool.size() + engine.pool._max_overflow)]  # the pool is empty
    try:
        started = time.monotonic()
        answers = [Phone(app, f"+8551200003{n}", to=SMART, channel="sms").send("1").text for n in range(1, 4)]
        assert answers == ["Thanks! Your vote for Sokha Chan (1) is counted."] * 3
        assert time.monotonic() - started < 5  # a pooled connection would have waited 30 s for one
    finally:
        for connection in taken:
            connection.close()
    assert results(app)["total"] == 4


def test_after_a_database_restart_no_dead_pooled_connection_loses_a_vote(show, live, make_app, db):
    app = make_app(clock=live)
    engine = app.extensions["runtime"].db.engine
    held = [engine.connect() for _ in range(3)]  # three connections in the pool, as a busy server has
    for connection in held:
        connection.exec_driver_sql("SELECT 1")
        connection.close()
    kill_other_connections(db)
    phones = [Phone(app, f"+8551200002{n}", to=SMART, channel="sms") for n in range(3)]
    assert [phone.send("1").text for phone in phones] == ["Thanks! Your vote for Sokha Chan (1) is counted."] * 3
    assert results(app)["total"] == 3


def kill_other_connections(db) -> None:
    """Kill every other connection to the test database, as a restart would. The run's shared
    app (`db` is its database) lost its pooled connections and this thread's own too: they are
    thrown away, so the next tests start on live ones."""
    kill_the_apps_connections(db)
    db.dispose()


def test_while_one_thread_reads_the_routing_table_again_the_others_route_by_the_one_they_have(show, mama, live, app, db):
    """The table of show numbers is read again every few seconds (bot/routing.py): one thread
    reads it, and a message meanwhile is routed by the table in hand, not held up behind it."""
    router = app.extensions["router"]
    now = [1000.0]
    router.clock = lambda: now[0]
    router.forget()
    Phone(app, "+85512000040", to=SMART, channel="sms").send("1")  # the table, read at 1000
    now[0] += 60  # stale
    member = Phone(app, "+2348031234567")
    member.send("JOIN MAMA")  # reads the table again
    now[0] += 60  # stale again
    admin = create_engine(db.url)
    with admin.connect() as blocker, ThreadPoolExecutor(2) as pool:
        blocker.execute(text("LOCK TABLE contestants IN ACCESS EXCLUSIVE MODE"))  # the reading thread waits here
        try:
            vote = pool.submit(Phone(app, "+85512000041", to=SMART, channel="sms").send, "2")
            wait_for_a_lock_wait(blocker)
            balance = pool.submit(member.send, "BAL")
            assert "Balance: 50 points" in balance.result(timeout=10).text  # routed while the reading waits
            assert not vote.done()
        finally:
            blocker.rollback()  # the lock goes: the reading and its vote go on
        assert vote.result(timeout=10).text == "Thanks! Your vote for Dara Kim (2) is counted."
    admin.dispose()
    assert results(app)["total"] == 2


def wait_for_a_lock_wait(connection) -> None:
    query = text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")
    deadline = time.monotonic() + 10
    while connection.execute(query).scalar() == 0:
        assert time.monotonic() < deadline, "nothing waited for the lock"
        time.sleep(0.02)
