"""Each thread's own line to Redis (bot/redis_line.py): every reply goes to its own command, one
nobody waited for is read before the next command, and its error is said."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

import fakeredis

from bot.limits import MessageCount
from bot.messages import Inbound
from bot.redis_line import InOrder, ask, post, run_in_order


def in_order(redis, commands: list[tuple]) -> bytes:
    return InOrder(commands, redis.get_encoder()).filled({})


def test_commands_run_in_order_as_one_posted_or_waited_for():
    redis = fakeredis.FakeRedis()
    post(redis, in_order(redis, [("RPUSH", "list", "a"), ("RPUSH", "list", "b")]), "posting")
    run_in_order(redis, in_order(redis, [("RPUSH", "list", "c"), ("HSET", "hash", "field", 1)]))
    assert redis.lrange("list", 0, -1) == [b"a", b"b", b"c"] and redis.hget("hash", "field") == b"1"
    assert ask(redis, "PING") == b"PONG"  # the posted script's reply was read first, not taken for this one


def test_a_posted_command_that_failed_is_said_with_what_it_was_for_at_the_next_command(caplog):
    redis = fakeredis.FakeRedis()
    redis.set("text", "not a list")
    with caplog.at_level(logging.WARNING, logger="bot.redis_line"):
        post(redis, in_order(redis, [("RPUSH", "text", "a"), ("RPUSH", "list", "b")]), "queueing the job J")
        assert ask(redis, "LLEN", "list") == 0  # the failed command stopped the rest; this reply is this command's
    assert "queueing the job J failed in Redis" in caplog.text


def test_a_message_count_whose_reply_another_command_read_first_is_counted_again():
    redis = fakeredis.FakeRedis()
    inbound = Inbound(phone="+2348031234567", text="BAL", sid="SM1", to="+14155238886", channel="whatsapp")
    counted = MessageCount(redis, inbound, datetime(2026, 11, 28, 12, 0, 30, tzinfo=timezone.utc))
    assert ask(redis, "PING") == b"PONG"  # reads, and drops, the count's reply first
    assert counted.total() == 1  # asked again: the MessageSid counted once
