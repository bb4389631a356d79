"""Rate limits under real concurrency: messages from one phone arriving together are counted
one by one in Redis, so exactly one of them gets the notice (PostgreSQL and Redis)."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from bot.limits import PhoneLimits, RateLimited
from bot.redis_line import Line
from models import Message, Staff, Tenant
from models.base import utcnow
from tests.conftest import Phone, count, kill_the_apps_connections
from tests.test_concurrency_pg import all_at_once
from tests.test_limits import BAYO, TOO_FAST, Clock, limited
from tests.test_staff_pins import open_session
from tests.test_tenants_pg import wait_for_a_lock_wait


def test_messages_arriving_together_past_the_limit_get_one_notice_between_them(app, mama, db):
    app.extensions["dispatcher"].clock = Clock()  # no minute ends mid-test
    limited(db, messages_per_minute=6)
    number = "+2348031230009"
    Phone(app, number).send("JOIN MAMA")
    results = all_at_once(app, number, ["BAL"] * 12)
    answers = sorted(result.text for result in results if result.replies)
    assert all(result.status == 200 for result in results)
    assert sum("Balance: 50 points" in text for text in answers) == 5
    assert answers.count(TOO_FAST) == 1
    assert sum(not result.replies for result in results) == 6
    assert count(db, Message, Message.direction == "inbound") == 6


def test_counting_goes_on_when_redis_dropped_the_connection_it_counts_on(app, mama, db):
    """Each thread counts on a connection of its own (bot/limits.py): when the server has
    closed it (a restart, a timeout), the count is sent again on a new one, and counts once."""
    app.extensions["dispatcher"].clock = Clock()
    limited(db, messages_per_minute=4)
    me = Phone(app, "+2348031230010")
    me.send("JOIN MAMA")
    redis = app.extensions["runtime"].redis
    assert redis.client_kill_filter(_type="normal", skipme=True) >= 1  # the counting connection among them
    assert "Balance: 50 points" in me.send("BAL").text
    [key] = redis.keys("limit:*:messages_per_minute:*")
    assert redis.hlen(key) == 2
    redis.client_kill_filter(_type="normal", skipme=True)
    redis.script_flush()  # a restart: the connection gone and the script forgotten, both
    assert "Balance: 50 points" in me.send("BAL").text
    assert "Balance: 50 points" in me.send("BAL").text
    assert redis.hlen(key) == 4
    assert me.send("BAL").text == TOO_FAST


def test_a_message_the_database_restart_runs_twice_counts_once_and_the_next_read_their_own_counts(app, mama, db):
    """A message's count goes to Redis before its first query (bot/limits.py, MessageCount):
    when that query finds the database restarted, the message runs again and sends its count
    again. The first reply, never read, is dropped before the next command: each message reads
    its own, and the limit bites at the message it should."""
    app.extensions["dispatcher"].clock = Clock()
    limited(db, messages_per_minute=3)
    me = Phone(app, "+2348031230011")
    me.send("JOIN MAMA")
    kill_the_apps_connections(db)
    assert "Balance: 50 points" in me.send("BAL").text  # the second, run twice
    assert "Balance: 50 points" in me.send("BAL").text
    assert me.send("BAL").text == TOO_FAST


def test_the_message_past_the_limit_run_again_after_a_database_restart_still_gets_the_notice(app, mama, db):
    """Run again, the message finds its MessageSid counted already: the notice goes by the mark
    the vendor leaves when it gives it, not by the count (bot/limits.py)."""
    app.extensions["dispatcher"].clock = Clock()
    limited(db, messages_per_minute=2)
    me = Phone(app, "+2348031230012")
    me.send("JOIN MAMA")
    assert "Balance: 50 points" in me.send("BAL").text
    kill_the_apps_connections(db)
    assert me.send("BAL").text == TOO_FAST  # the third, run twice
    assert me.send("BAL").replies == []


def test_staff_look_ups_read_their_misses_on_the_threads_own_connection_even_one_redis_dropped(app, mama, db, monkeypatch):
    """A staff look-up reads its window's wrong look-ups on the thread's own connection, not the
    client's pool: when the server has closed it, the read goes again on a new one, and the
    limit still bites."""
    limited(db, wrong_lookups_per_hour=1)
    with db.sessions() as session:
        tenant = session.scalar(select(Tenant))
    redis = app.extensions["runtime"].redis
    monkeypatch.setattr(redis, "hlen", None)  # the client's way is not taken
    now = utcnow()

    def look_up_a_miss(sid: str):
        return PhoneLimits(redis, tenant, BAYO, sid, now, staff=True).look_up(lambda: None)

    assert look_up_a_miss("SMmiss1") is None  # a miss, counted
    redis.client_kill_filter(_type="normal", skipme=True)
    with pytest.raises(RateLimited) as second:  # read again on a new connection: one miss of one allowed
        look_up_a_miss("SMmiss2")
    assert second.value.notice.key == "limit_wrong_lookups"
    redis.client_kill_filter(_type="normal", skipme=True)
    with pytest.raises(RateLimited) as third:
        look_up_a_miss("SMmiss3")
    assert third.value.notice is None  # past the limit: silence


def test_a_log_naming_a_phone_reads_the_look_ups_missed_with_its_count_in_one_round_trip(app, mama, db, monkeypatch):
    """The look-ups a staff phone missed this hour are read with its message's count, in the one
    script run that counts it, at the vendor the process last read on the number: a LOG naming
    a phone asks Redis nothing more."""
    bayo = Phone(app, BAYO)
    open_session(bayo)
    bayo.send("CANCEL")
    sent = []
    send = Line.send
    monkeypatch.setattr(Line, "send", lambda line, command, *what: sent.append(command[0]) or send(line, command, *what))
    assert "1. Confirm" in bayo.send("LOG 0803 123 4567 15000").text
    assert sent == ["EVALSHA"], sent


def test_a_log_that_waited_for_its_staff_row_asks_again_for_the_look_ups_missed(app, mama, db):
    """What the count read of the look-ups the phone missed was read before the message waited
    for its staff row: a message of that phone may have missed more meanwhile, so it is asked
    again, and past the limit the LOG is silenced."""
    limited(db, wrong_lookups_per_hour=2)
    bayo = Phone(app, BAYO)
    open_session(bayo)
    bayo.send("CANCEL")
    redis = app.extensions["runtime"].redis
    answers = []
    with db.transaction() as session:  # a message of the staff phone, missing look-ups while it holds the staff row
        staff = session.scalars(select(Staff).where(Staff.phone_number == BAYO).with_for_update()).one()
        waiting = threading.Thread(target=lambda: answers.append(bayo.send("LOG 0803 123 4567 15000").replies))
        waiting.start()
        wait_for_a_lock_wait(db)  # its count, with the look-ups missed (none), read
        limits = [PhoneLimits(redis, session.get(Tenant, staff.tenant_id), BAYO, f"SMmissed{miss}", utcnow(), staff=True) for miss in range(3)]
        limits[0].look_up(lambda: None)
        limits[1].look_up(lambda: None)
        with pytest.raises(RateLimited):
            limits[2].look_up(lambda: None)  # the third miss, past the limit
        staff.last_inbound_at = utcnow()  # as that message saves its conversation there
    waiting.join(10)
    assert answers == [[]], answers
