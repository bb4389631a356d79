"""Per-phone rate limits, through the signed webhook: one notice past a limit, then silence
until the window passes, and nothing written but the count (fake Redis and SQLite, or the real
Redis and PostgreSQL)."""
from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import fakeredis
import pytest
from sqlalchemy import select

from bot.limits import WRONG_LOOKUPS, MessageCount, PhoneLimits, RateLimited, _count
from bot.messages import Inbound
from bot.services import points
from bot.services.tenants import load_tenant
from models import Customer, RewardRedemption, Tenant, Staff, Message
from models.base import utcnow
from tests.conftest import PIN_PEPPER, balance_of, count, tenant_file

CUSTOMER, BAYO, BAYO_PIN = "+2348031234567", "+2348030000002", "731205"
SALON_NUMBER = "+2349010000000"
TOO_FAST = "You're sending messages very fast. I'll answer again in a minute."
TOO_MANY_REWARDS = "That's the most rewards you can redeem for now. Please try again in an hour."
TOO_MANY_MISSES = "Too many numbers or codes not found: lookups are paused for an hour."


class Clock:
    """The dispatcher's clock, standing at the turn of the hour: a window starts, and none ends
    until the test moves the clock."""

    def __init__(self):
        self.now = datetime.fromtimestamp(int(utcnow().timestamp()) // 3600 * 3600, timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(app):
    clock = Clock()
    app.extensions["dispatcher"].clock = clock
    return clock


def limited(db, **limits) -> Tenant:
    """MAMA with these rate limits."""
    with db.transaction() as session:
        return load_tenant(session, tenant_file(rate_limits=limits), pin_pepper=PIN_PEPPER).tenant


def inbound_rows(db) -> int:
    return count(db, Message, Message.direction == "inbound")


def conversation(db, number=CUSTOMER) -> tuple:
    with db.sessions() as session:
        return session.execute(
            select(Customer.conversation_state, Customer.last_inbound_at).where(Customer.phone_number == number)
        ).one()


def give_points(db, amount, number=CUSTOMER):
    with db.transaction() as session:
        customer = session.scalars(select(Customer).where(Customer.phone_number == number).with_for_update()).one()
        points.credit(session, session.get(Tenant, customer.tenant_id), customer, amount, source="test", description="Test", now=utcnow())


def test_past_twenty_messages_a_minute_one_notice_then_silence_until_the_minute_passes(phone, mama, db, clock):
    me = phone(CUSTOMER)
    me.send("JOIN MAMA")
    for _ in range(19):  # the default: 20 a minute, the JOIN included
        assert "Balance: 50 points" in me.send("BAL").text
    before = conversation(db)
    notice = me.send("BAL")
    assert (notice.status, notice.text) == (200, TOO_FAST)
    for _ in range(3):
        silence = me.send("MENU")
        assert (silence.status, silence.replies) == (200, [])  # an empty TwiML answer
    assert inbound_rows(db) == 20  # the refused messages were not stored...
    assert conversation(db) == before  # ...and changed nothing
    clock.advance(seconds=59)
    assert me.send("BAL").replies == []
    clock.advance(seconds=1)  # the next minute
    assert "Balance: 50 points" in me.send("BAL").text
    assert inbound_rows(db) == 21


def test_a_replayed_message_never_counts(phone, mama, db, clock):
    limited(db, messages_per_minute=3)
    me = phone(CUSTOMER)
    me.send("JOIN MAMA")
    first = me.send("BAL", sid="SMagain")
    for _ in range(5):  # Twilio retrying: the stored answer, and no count
        assert me.send("BAL", sid="SMagain").text == first.text
    assert "Balance: 50 points" in me.send("BAL").text  # the third message
    assert me.send("BAL").text == TOO_FAST
    assert me.send("BAL", sid="SMagain").text == first.text  # still the stored answer
    assert inbound_rows(db) == 3


def test_counting_goes_on_after_redis_forgot_its_scripts_and_keeps_the_window_alive(app, phone, mama, db, clock):
    limited(db, messages_per_minute=3)
    me = phone(CUSTOMER)
    me.send("JOIN MAMA")
    redis = app.extensions["runtime"].redis
    redis.script_flush()  # as after a restart: the count's script is sent again
    assert "Balance: 50 points" in me.send("BAL").text
    [key] = redis.keys("limit:*:messages_per_minute:*")
    assert (redis.hlen(key), 0 < redis.ttl(key) <= 60) == (2, True)
    redis.expire(key, 5)
    assert "Balance: 50 points" in me.send("BAL").text  # the third message: counted, and the window kept for its minute
    assert redis.hlen(key) == 3 and redis.ttl(key) > 5
    assert me.send("BAL").text == TOO_FAST


def test_staff_may_send_more_than_customers(phone, mama, db, clock):
    limited(db, messages_per_minute=2, staff_messages_per_minute=4)
    customer, bayo = phone(CUSTOMER), phone(BAYO)
    customer.send("JOIN MAMA")
    customer.send("BAL")
    assert customer.send("BAL").text == TOO_FAST
    for _ in range(4):
        assert "Staff commands" in bayo.send("HELP").text
    assert bayo.send("HELP").text == TOO_FAST
    assert bayo.send("HELP").replies == []


def test_limits_are_per_vendor(phone, mama, db, clock):
    limited(db, messages_per_minute=2)
    with db.transaction() as session:
        load_tenant(session, tenant_file(code="SALON", name="Glow Salon", whatsapp_number=SALON_NUMBER, staff=[]))
    at_mama, at_salon = phone(CUSTOMER), phone(CUSTOMER, to=SALON_NUMBER)
    at_mama.send("JOIN MAMA")
    at_mama.send("BAL")
    assert at_mama.send("BAL").text == TOO_FAST
    assert "welcome points" in at_salon.send("JOIN SALON").text


def test_messages_count_at_the_number_written_to_vendors_sharing_it_together(phone, mama, db, clock):
    """The messages are counted before the first query finds the vendor (bot/limits.py,
    MessageCount): per number, so a phone writing to two vendors on one number counts there
    once, and each vendor holds it to its own limit."""
    with db.transaction() as session:
        load_tenant(session, tenant_file(code="NOODLE", name="Noodle House", staff=[], rate_limits={"messages_per_minute": 4}))
    me = phone(CUSTOMER)  # MAMA's number, which NOODLE shares
    me.send("JOIN MAMA")
    assert "Balance: 50 points" in me.send("BAL").text
    assert "welcome points" in me.send("JOIN NOODLE").text  # the third at the number: NOODLE allows four
    assert "*Noodle House*" in me.send("BAL").text
    assert me.send("BAL").text == TOO_FAST  # the fifth
    assert "Mama Put Kitchen" in me.send("JOIN MAMA").text  # the sixth, for MAMA, which allows twenty
    assert inbound_rows(db) == 5


def test_a_vendor_gives_its_notice_once_though_the_message_past_its_limit_was_for_another(phone, mama, db, clock):
    """Each vendor gives its notice once a window, at the first of its messages past its limit,
    whichever message at the number went past it (bot/limits.py)."""
    with db.transaction() as session:
        load_tenant(session, tenant_file(code="NOODLE", name="Noodle House", staff=[], rate_limits={"messages_per_minute": 4}))
    me = phone(CUSTOMER)
    me.send("JOIN NOODLE")
    for _ in range(3):
        me.send("BAL")  # four at the number, NOODLE's four
    assert "Mama Put Kitchen" in me.send("JOIN MAMA").text  # the fifth, for MAMA
    assert me.send("JOIN NOODLE").text == TOO_FAST  # NOODLE's first past its limit
    assert me.send("JOIN NOODLE").replies == []  # then silence
    assert "Mama Put Kitchen" in me.send("BAL").text  # MAMA's seventh of twenty


def test_past_the_redemptions_an_hour_the_reward_is_refused_and_nothing_spent(phone, mama, db, clock):
    limited(db, redemptions_per_hour=2)
    me = phone(CUSTOMER)
    me.send("JOIN MAMA")
    give_points(db, 450)  # 500: five Zobo drinks
    for _ in range(2):
        me.send("REDEEM 1")
        assert "Your code for Free Zobo drink" in me.send("1").text
    assert "Redeem Free Zobo drink for 100 points?" in me.send("REDEEM 1").text
    before = conversation(db)
    assert me.send("1").text == TOO_MANY_REWARDS
    assert me.send("1").replies == []
    assert (count(db, RewardRedemption), balance_of(db, CUSTOMER)) == (2, 300)
    assert conversation(db) == before  # still asked to confirm: nothing was written
    assert "Balance: 300 points" in me.send("BAL").text  # other messages go on
    clock.advance(hours=1)
    me.send("REDEEM 1")
    assert "Your code for Free Zobo drink" in me.send("1").text
    assert (count(db, RewardRedemption), balance_of(db, CUSTOMER)) == (3, 200)


def test_past_the_wrong_lookups_an_hour_staff_lookups_go_silent_found_or_not(phone, mama, db, clock):
    limited(db, wrong_lookups_per_hour=2)
    phone(CUSTOMER).send("JOIN MAMA")
    bayo = phone(BAYO)
    bayo.send("LOG")
    assert bayo.send(BAYO_PIN).text == "Customer's phone number or member code?"
    assert "couldn't read that" in bayo.send("ABCDEF").text  # a member code nobody has
    assert "couldn't read that" in bayo.send("ABCDEG").text
    assert bayo.send("QQQQQQ").text == TOO_MANY_MISSES
    with db.sessions() as session:
        code = session.scalar(select(Customer.member_code).where(Customer.phone_number == CUSTOMER))
    assert bayo.send(code).replies == []  # a right guess is silenced too: guessing learns nothing
    assert bayo.send("VERIFY RD-AAAAAA").replies == []
    assert bayo.send("LOG 0803 123 4568 15000").replies == []  # its misses read with its count (bot/limits.py)
    with db.sessions() as session:
        state = session.scalar(select(Staff.conversation_state).where(Staff.phone_number == BAYO))
    assert (state["flow"], state["step"]) == ("log", "customer")  # the silenced answers changed nothing
    assert "Staff commands" in bayo.send("HELP").text  # other messages go on
    clock.advance(hours=1)
    bayo.send("LOG")
    assert bayo.send(BAYO_PIN).text == "Customer's phone number or member code?"
    assert bayo.send(code).text == "Amount spent? (like 15000, 15,000 or 15k)"


def test_only_what_looks_like_a_phone_a_member_code_or_a_reward_code_is_a_look_up(phone, mama, db):
    """Typos where a customer or a reward code is asked ("back", "ok", "99", "-1") are not
    understood and look nothing up: they silenced LOG even for a real phone."""
    limited(db, wrong_lookups_per_hour=2)
    phone(CUSTOMER).send("JOIN MAMA")
    bayo = phone(BAYO)
    bayo.send("LOG")
    bayo.send(BAYO_PIN)
    for junk in ("back", "ok"):
        assert "couldn't read that" in bayo.send(junk).text
    for junk in ("wait", "99", "-1"):
        bayo.send("VERIFY")
        assert "No reward code" in bayo.send(junk).text
    bayo.send("LOG")
    assert bayo.send("0803 123 4567").text == "Amount spent? (like 15000, 15,000 or 15k)"


def test_rate_limits_in_the_tenant_file_have_defaults_and_staff_never_below_customers():
    assert tenant_file()["rate_limits"] == {
        "messages_per_minute": 20, "staff_messages_per_minute": 60, "redemptions_per_hour": 3, "wrong_lookups_per_hour": 10,
    }
    with pytest.raises(Exception, match="staff_messages_per_minute: must not be below messages_per_minute"):
        tenant_file(rate_limits={"messages_per_minute": 30, "staff_messages_per_minute": 20})
    with pytest.raises(Exception, match="rate_limits.messages_per_minute"):
        tenant_file(rate_limits={"messages_per_minute": 0})


def test_threads_counting_at_once_on_a_new_app_count_together(make_app):
    """Each thread counts on its own connection (bot/limits.py); on the in-process fake, their
    first connections, made at once, must reach one server: the runtime gives it (looked up by
    each new connection, threads at once could each make one and count apart)."""
    redis = make_app().extensions["runtime"].redis
    if isinstance(redis, fakeredis.FakeRedis):
        assert redis.connection_pool.connection_kwargs["server"] is not None
    start = threading.Barrier(8)

    def count(thread: int) -> None:
        start.wait()
        for i in range(20):
            _count(redis, "limit:test", f"SM{thread}-{i}", 60)

    threads = [threading.Thread(target=count, args=(thread,)) for thread in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert redis.hlen("limit:test") == 160


def test_the_look_ups_missed_read_with_the_count_are_taken_only_at_that_vendor_and_while_they_hold():
    """Read with the message's count at the vendor last read on the number (bot/limits.py): at
    that vendor its look-up takes them, asking Redis nothing more, unless they no longer hold
    (the message waited for its staff row); at another vendor it asks."""
    redis = fakeredis.FakeRedis()
    now = datetime(2026, 11, 28, 12, 0, 30, tzinfo=timezone.utc)
    mama, other = SimpleNamespace(id=uuid.uuid4(), settings={}), SimpleNamespace(id=uuid.uuid4(), settings={})
    inbound = Inbound(sid="SM1", phone=BAYO, to="+14155238886", channel="whatsapp", text="LOG 0803 123 4567 15000")
    missed_at_mama = f"limit:{mama.id}:{BAYO}:{WRONG_LOOKUPS}:{int(now.timestamp()) // 3600}"

    def looked_up(tenant, missed: int, missed_as_read: bool = True) -> str | None:
        """A look-up at `tenant` after the count read `missed` at MAMA, which Redis then forgot."""
        redis.delete(missed_at_mama)
        if missed:
            redis.hset(missed_at_mama, mapping={str(i): 1 for i in range(missed)})
        limits = PhoneLimits(redis, tenant, BAYO, inbound.sid, now, staff=True)
        limits.admit(MessageCount(redis, inbound, now, mama.id), missed_as_read)
        redis.delete(missed_at_mama)
        return limits.look_up(lambda: "+2348031234567")

    with pytest.raises(RateLimited):
        looked_up(mama, missed=11)  # past the 10 an hour, as read with the count
    assert looked_up(mama, missed=11, missed_as_read=False) == "+2348031234567"  # asked: none now
    assert looked_up(other, missed=11) == "+2348031234567"  # asked at its own vendor: none
