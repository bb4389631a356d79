"""Row locks and idempotency under real concurrency (PostgreSQL only)."""
from __future__ import annotations

import threading
from functools import partial

from sqlalchemy import func, select, update

from bot.services import points
from bot.services.customers import enroll
from bot.services.spins import move_spins, spin_mismatches
from bot.services.rewards import HOLDING_STOCK
from bot.services.tenants import load_tenant
from models import (
    Customer, CustomerPointsBalance, MissionCompletion, PointsTransaction, Purchase, Reward, RewardRedemption, SpinHistory, Tenant,
    Message, Staff, WheelItem,
)
from models.base import utcnow
from tests.api_client import Api, create_key
from tests.conftest import PIN_PEPPER, Phone, at_once, count, kill_the_apps_connections, tenant_file
from tests.test_tenants_pg import wait_for_a_lock_wait


def all_at_once(app, number: str, bodies: list[str], sids: list[str] | None = None):
    """Send the messages from one phone in parallel threads released together."""
    return at_once([partial(Phone(app, number).send, body, sid=sid)
                    for body, sid in zip(bodies, sids or [None] * len(bodies))])


def test_twenty_simultaneous_joins_from_one_phone_enrol_once(app, mama, db):
    results = all_at_once(app, "+2348031230001", ["JOIN MAMA"] * 20)
    assert all(result.status == 200 for result in results)
    welcomes = [result for result in results if "welcome points" in result.text]
    assert len(welcomes) == 1
    assert all("already a member" in r.text for r in results if r is not welcomes[0])
    assert count(db, Customer) == 1
    assert count(db, PointsTransaction) == 1
    assert count(db, Message) == 20
    with db.sessions() as session:
        assert session.scalar(select(CustomerPointsBalance.current_balance)) == 50


def test_twenty_simultaneous_messages_are_handled_one_after_the_other(app, mama, db):
    with db.transaction() as session:  # 21 messages: more than a customer may send in a minute by default
        load_tenant(session, tenant_file(rate_limits={"messages_per_minute": 30}), pin_pepper=PIN_PEPPER)
    number = "+2348031230002"
    Phone(app, number).send("JOIN MAMA")
    results = all_at_once(app, number, ["gibberish"] * 20)
    assert all(result.status == 200 for result in results)
    # Every third miss brings the menu and restarts the count: only with one message at a time
    # do exactly 6 of 20 get the menu and the count end at 2.
    assert sum("start again from the menu" in result.text for result in results) == 6
    with db.sessions() as session:
        state = session.scalars(select(Customer.conversation_state)).one()
    assert state["misses"] == 2
    assert count(db, Message, Message.direction == "inbound") == 21


def test_a_replayed_message_sid_racing_itself_creates_nothing_twice(app, mama, db):
    results = all_at_once(app, "+2348031230003", ["JOIN MAMA"] * 10, sids=["SMsame"] * 10)
    assert {result.text for result in results} == {results[0].text}
    assert "welcome points" in results[0].text
    assert count(db, Message) == 1
    assert count(db, Customer) == 1
    assert count(db, PointsTransaction) == 1


def test_two_staff_logging_for_one_customer_at_once_both_count(app, mama, db):
    customer = "+2348031230004"
    Phone(app, customer).send("JOIN MAMA")
    staff = [(Phone(app, "+2348030000002"), "731205"), (Phone(app, "+2348030000001"), "482916")]
    for phone, pin in staff:
        phone.send(f"LOG {customer} 15000")
        assert "1. Confirm" in phone.send(pin).text
    results = at_once([partial(phone.send, "1") for phone, _ in staff])
    assert all(result.text.startswith("Logged ₦15,000") for result in results)
    with db.sessions() as session:
        member = session.scalars(select(Customer).where(Customer.phone_number == customer)).one()
        balance = session.scalar(select(CustomerPointsBalance.current_balance).where(CustomerPointsBalance.customer_id == member.id))
        bonuses = session.scalars(select(Purchase.points_breakdown)).all()
    assert (member.total_purchases, member.total_spent) == (2, 3_000_000)
    assert sum(any(c["rule"] == "first_purchase_bonus" for c in b) for b in bonuses) == 1  # only one was the first
    assert balance == 50 + 170 + 150 + 150  # and the weekly spend mission, paid once
    assert count(db, MissionCompletion) == 1
    with db.sessions() as session:
        assert points.ledger_mismatches(session) == []


def test_two_staff_logging_for_one_new_phone_at_once_enrol_it_once_and_both_count(app, mama, db):
    """Both previews find no member, so both confirmations write the customer without looking
    first: the second waits for the first, fails on the phone it took, and runs once more,
    finding the member the first one enrolled."""
    customer = "+2348031230014"
    staff = [(Phone(app, "+2348030000002"), "731205"), (Phone(app, "+2348030000001"), "482916")]
    for phone, pin in staff:
        phone.send(f"LOG {customer} 15000")
        assert "They are new" in phone.send(pin).text
    results = at_once([partial(phone.send, "1") for phone, _ in staff])
    assert all(result.text.startswith("Logged ₦15,000") for result in results), [result.text for result in results]
    with db.sessions() as session:
        member = session.scalars(select(Customer).where(Customer.phone_number == customer)).one()
        welcomes = session.scalar(select(func.count()).select_from(PointsTransaction).where(PointsTransaction.source == "welcome"))
        bonuses = session.scalars(select(Purchase.points_breakdown)).all()
    assert (member.total_purchases, member.total_spent) == (2, 3_000_000)
    assert welcomes == 1
    assert sum(any(c["rule"] == "first_purchase_bonus" for c in b) for b in bonuses) == 1
    assert count(db, Message, Message.triggered_by == "welcome_by_staff") == 1
    with db.sessions() as session:
        assert points.ledger_mismatches(session) == []


def test_a_database_restart_does_not_lose_the_next_message(app, mama, db):
    number = "+2348031230005"
    Phone(app, number).send("JOIN MAMA")  # leaves a connection in the pool
    kill_the_apps_connections(db)
    assert "Balance: 50 points" in Phone(app, number).send("BAL").text


def _member_with_points(app, db, number: str, extra: int) -> Phone:
    phone = Phone(app, number)
    phone.send("JOIN MAMA")
    with db.transaction() as session:
        customer = session.scalars(select(Customer).where(Customer.phone_number == number).with_for_update()).one()
        tenant = session.get(Tenant, customer.tenant_id)
        points.credit(session, tenant, customer, extra, source="test", description="Test", now=utcnow())
    return phone


def test_ten_simultaneous_confirmations_redeem_once(app, mama, db):
    number = "+2348031230006"
    phone = _member_with_points(app, db, number, 450)  # 500: one Jollof rice plate
    assert "Balance: 500 -> 0 points" in phone.send("REDEEM 2").text
    results = all_at_once(app, number, ["1"] * 10)
    assert sum("Your code for Jollof rice plate" in r.text for r in results) == 1
    assert count(db, RewardRedemption) == 1
    with db.sessions() as session:
        assert session.scalar(select(CustomerPointsBalance.current_balance)) == 0
        assert points.ledger_mismatches(session) == []


def _confirming_at_once(racers: list[Phone], alongside=None) -> tuple[list[str], object]:
    """Each racer answers 1 (confirming its REDEEM) at the same moment, and `alongside()` runs
    then too, if given: the racers' answers, and what `alongside` returned."""
    *answers, extra = at_once([partial(racer.send, "1") for racer in racers] + [alongside or (lambda: None)])
    return [answer.text for answer in answers], extra


def test_two_customers_racing_for_the_last_unit_one_gets_it(app, mama, db):
    with db.transaction() as session:
        session.execute(update(Reward).where(Reward.name == "Jollof rice plate").values(stock=1))
    racers = [_member_with_points(app, db, f"+234803123001{n}", 450) for n in range(2)]
    for racer in racers:
        assert "1. Confirm" in racer.send("REDEEM 2").text
    texts, _ = _confirming_at_once(racers)
    assert sorted("Your code" in t for t in texts) == [False, True]
    assert any("just run out. Nothing was spent." in t for t in texts)
    with db.sessions() as session:
        assert session.scalars(select(Reward.stock_used).where(Reward.name == "Jollof rice plate")).one() == 1
        assert sorted(session.scalars(select(CustomerPointsBalance.current_balance))) == [0, 500]


def test_a_limit_set_while_customers_redeem_counts_every_unit_they_hold(app, mama, db):
    """The stock of an unlimited reward is limited (by the API) while four customers confirm it:
    each redemption is either counted in the units used when the limit is set, or takes a unit
    of the new limit; none slips between (which would sell past the stock, then give back units
    never taken)."""
    secret = create_key(app)
    racers = [_member_with_points(app, db, f"+23480312301{n:02d}", 2450) for n in range(4 * 5)]
    with db.sessions() as session:
        jollof = session.scalars(select(Reward.id).where(Reward.name == "Jollof rice plate")).one()
    for round_number in range(5):
        with db.transaction() as session:
            session.execute(update(Reward).where(Reward.id == jollof).values(stock=None, stock_used=0))
        group = racers[round_number * 4:(round_number + 1) * 4]
        for racer in group:
            assert "1. Confirm" in racer.send("REDEEM 2").text
        texts, limited = _confirming_at_once(group, lambda: Api(app, secret).patch(f"/rewards/{jollof}", {"stock": 1000}).status_code)
        assert limited == 200 and all("Your code for Jollof rice plate" in text for text in texts)
        with db.sessions() as session:
            used = session.scalar(select(Reward.stock_used).where(Reward.id == jollof))
            held = session.scalar(select(func.count()).select_from(RewardRedemption).where(
                RewardRedemption.reward_id == jollof, RewardRedemption.status.in_(HOLDING_STOCK)))
        assert used == held, f"round {round_number}: {used} units used for {held} codes held"


def _wheel(*items, **settings):
    return {"daily_free_spins": 1, "spins_per_purchase": 0, "spin_min_amount": 0, "spin_cost_points": 0,
            **settings, "items": list(items)}


def test_parallel_spins_from_one_customer_never_exceed_their_spins(app, mama, db):
    with db.transaction() as session:
        load_tenant(session, tenant_file(wheel=_wheel({"label": "Nothing", "type": "nothing", "weight": 1})), pin_pepper=PIN_PEPPER)
    number = "+2348031230020"
    Phone(app, number).send("JOIN MAMA")
    with db.transaction() as session:  # two spins earned
        customer = session.scalars(select(Customer).where(Customer.phone_number == number).with_for_update()).one()
        move_spins(session, customer, 2, "earned", utcnow())
    results = all_at_once(app, number, ["SPIN"] * 10)
    assert sum("The wheel stopped on" in r.text for r in results) == 3  # 1 free + 2 earned
    assert sum("No spins left" in r.text for r in results) == 7
    assert count(db, SpinHistory) == 3
    with db.sessions() as session:
        assert session.scalars(select(Customer.spin_credits).where(Customer.phone_number == number)).one() == 0
        assert spin_mismatches(session) == []


def test_stock_and_daily_caps_hold_under_parallel_spins_from_many_customers(app, mama, db):
    items = [{"label": "Jackpot", "type": "points", "value": 500, "weight": 100, "stock": 3},
             {"label": "Daily", "type": "points", "value": 50, "weight": 100, "daily_cap": 2},
             {"label": "Nothing", "type": "nothing", "weight": 1}]
    with db.transaction() as session:
        load_tenant(session, tenant_file(wheel=_wheel(*items)), pin_pepper=PIN_PEPPER)
    numbers = [f"+23480312301{n:02}" for n in range(16)]
    for number in numbers:
        Phone(app, number).send("JOIN MAMA")
    assert all(result.status == 200 for result in at_once([partial(Phone(app, number).send, "SPIN") for number in numbers]))
    with db.sessions() as session:
        won = dict(session.execute(select(SpinHistory.label, func.count()).group_by(SpinHistory.label)).all())
        counters = {item.label: item.won for item in session.scalars(select(WheelItem))}
        assert points.ledger_mismatches(session) == []
    assert won.get("Jackpot", 0) == counters["Jackpot"] <= 3
    assert won.get("Daily", 0) == counters["Daily"] <= 2
    assert sum(won.values()) == 16


def test_a_staff_double_tap_on_the_confirmation_logs_one_purchase(app, mama, db):
    """The staff row, where the conversation is kept, is locked before anything is read of it:
    the second "1" waits for the first to finish the conversation."""
    bayo = Phone(app, "+2348030000002")
    bayo.send("LOG +2348031230007 15000")
    assert "1. Confirm" in bayo.send("731205").text
    results = at_once([partial(bayo.send, "1"), partial(bayo.send, "1")])
    assert sum(result.text.startswith("Logged ₦15,000") for result in results) == 1, [result.text for result in results]
    assert count(db, Purchase) == 1


def test_a_balance_that_waited_for_the_customer_shows_what_the_message_before_it_left(app, mama, db):
    """The first query reads the balance with its member (bot/services/points.py, balance_read)
    from a snapshot taken before it waited for the member's lock: when the transaction it waited
    for changed the member's row (every message of the phone does) and the balance, the balance
    is read again, as it is once the lock is had."""
    number = "+2348031230013"
    phone = Phone(app, number)
    phone.send("JOIN MAMA")
    answers = []
    with db.transaction() as session:  # a message of the phone, holding its row while it earns
        customer = session.scalars(select(Customer).where(Customer.phone_number == number).with_for_update()).one()
        waiting = threading.Thread(target=lambda: answers.append(phone.send("BAL").text))
        waiting.start()
        wait_for_a_lock_wait(db)
        points.credit(session, session.get(Tenant, customer.tenant_id), customer, 25, source="test", description="Test", now=utcnow())
        customer.last_inbound_at = utcnow()
    waiting.join(10)
    assert "Balance: 75 points" in answers[0]


def test_a_log_that_waited_for_its_staff_row_previews_the_member_the_message_before_it_enrolled(app, mama, db):
    """The first query reads the member a LOG names (bot/services/customers.py,
    named_member_read) with the snapshot it took before it waited for the staff row: when it
    waited, for a message of the same phone that enrolled that member meanwhile, what it read is
    not taken, and the member is looked up again."""
    bayo = Phone(app, "+2348030000002")
    bayo.send("LOG")
    bayo.send("731205")  # the PIN session open
    bayo.send("CANCEL")
    number = "+2348031230014"
    answers = []
    with db.transaction() as session:  # a message of the staff phone, enrolling the phone while it holds the staff row
        staff = session.scalars(select(Staff).where(Staff.phone_number == "+2348030000002").with_for_update()).one()
        waiting = threading.Thread(target=lambda: answers.append(bayo.send(f"LOG {number} 15000").text))
        waiting.start()
        wait_for_a_lock_wait(db)
        enroll(session, session.get(Tenant, staff.tenant_id), number, utcnow(), consent=True)
        staff.last_inbound_at = utcnow()  # as that message saves its conversation there
    waiting.join(10)
    assert "They earn" in answers[0] and "new" not in answers[0], answers
