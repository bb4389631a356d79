"""Points expire: exactly what is left of each lot, never spent after its date."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from bot.services import points
from bot.services.context import Context
from bot.services.points import PointsService, keep_balance_read
from bot.services.tenants import load_tenant
from models import Customer, CustomerPointsBalance, PointsLotAllocation, PointsTransaction, RewardRedemption, Tenant
from models.base import utcnow
from tests.conftest import PIN_PEPPER, balance_of, count, tenant_file

CUSTOMER = "+2348031234567"


def past_the_welcome_bonus_expiry(clock):
    clock.advance(days=181)  # the example vendor's points last 180 days


def test_balance_shows_only_unexpired_points_and_the_ledger_records_the_expiry(phone, mama, db, clock):
    me = phone(CUSTOMER)
    me.send("JOIN MAMA")
    past_the_welcome_bonus_expiry(clock)
    assert "Balance: 0 points" in me.send("BAL").text
    with db.sessions() as session:
        expired = session.scalars(select(PointsTransaction).where(PointsTransaction.transaction_type == "expired")).one()
        welcome = session.scalars(select(PointsTransaction).where(PointsTransaction.transaction_type == "earned")).one()
        allocations = session.scalars(select(PointsLotAllocation)).all()
        assert session.scalar(select(CustomerPointsBalance.total_expired)) == 50
    # The emptied lot is the record of what expired: expiry writes no allocations.
    assert (expired.points, welcome.remaining, allocations) == (-50, 0, [])


def test_the_balance_the_first_query_read_is_shown_until_the_message_moves_it(phone, mama, db):
    """On PostgreSQL the dispatcher's first query reads the member's balance (bot/services/
    points.py, keep_balance_read), and BAL shows it without a query; a message that moves the
    balance first shows it as it is then."""
    phone(CUSTOMER).send("JOIN MAMA")
    with db.transaction() as session:
        customer = session.scalars(select(Customer).with_for_update()).one()
        tenant = session.get(Tenant, customer.tenant_id)
        ctx = Context(session=session, tenant=tenant, phone=CUSTOMER, now=utcnow(), pin_pepper=PIN_PEPPER, customer=customer)
        keep_balance_read(session, customer, [50, 70, [["2031-01-02T03:04:05.000006+01:00", 50]]])
        shown = PointsService(ctx).balance()
        assert (shown.balance, shown.earned, shown.next_expiry_points, shown.next_expiry_on) == (50, 70, 50, date(2031, 1, 2))
        keep_balance_read(session, customer, [50, 70, []])
        points.credit(session, tenant, customer, 10, source="test", description="Test", now=ctx.now)
        assert PointsService(ctx).balance().balance == 60


def test_expired_points_cannot_be_spent(phone, mama, db, clock):
    me = phone(CUSTOMER)
    me.send("JOIN MAMA")
    with db.transaction() as session:  # a second lot that outlives the welcome bonus
        session.execute(update(CustomerPointsBalance).values(current_balance=110, total_earned=110))
        welcome = session.scalars(select(PointsTransaction)).one()
        session.add(PointsTransaction(
            tenant_id=welcome.tenant_id, customer_id=welcome.customer_id, transaction_type="earned", source="test",
            points=60, remaining=60, expires_at=utcnow() + timedelta(days=210), created_at=utcnow(),
        ))
    past_the_welcome_bonus_expiry(clock)
    me.send("REWARDS")
    assert "You need 40 more points for Free Zobo drink" in me.send("1").text
    assert count(db, RewardRedemption) == 0
    assert balance_of(db, CUSTOMER) == 60


def test_a_purchase_shows_the_balance_without_points_past_their_expiry(phone, mama, db, clock):
    """Before the hourly expiry has come round, staff and the customer are told what BAL says."""
    me = phone(CUSTOMER)
    me.send("JOIN MAMA")
    past_the_welcome_bonus_expiry(clock)
    bayo = phone("+2348030000002")
    bayo.send("LOG 0803 123 4567 15000")
    bayo.send("731205")
    assert bayo.send("1").text.endswith("Their balance: 170 points.")
    assert "Balance: 170 points" in me.send("BAL").text
    assert balance_of(db, CUSTOMER) == 170


def test_the_expiry_command_expires_every_customers_stale_points(phone, mama, db, app, clock):
    for number in (CUSTOMER, "+2348039990000"):
        phone(number).send("JOIN MAMA")
    past_the_welcome_bonus_expiry(clock)
    result = app.test_cli_runner().invoke(args=["ledger", "expire"])
    assert result.exit_code == 0 and "Expired 100 point(s)." in result.output
    assert balance_of(db, CUSTOMER) == 0
    assert "Expired 0 point(s)." in app.test_cli_runner().invoke(args=["ledger", "expire"]).output
    assert "0 mismatch(es)" in app.test_cli_runner().invoke(args=["ledger", "check"]).output


@pytest.mark.parametrize("zone, earned, expires", [
    ("Africa/Lagos", "2026-12-10T23:30", "08 Jun 2027"),  # UTC+1 all year
    ("America/Bogota", "2026-12-10T23:30", "08 Jun 2027"),  # UTC-5 all year
    ("Europe/London", "2026-12-10T23:30", "08 Jun 2027"),  # earned at UTC+0, expires at UTC+1
    ("America/New_York", "2026-12-10T23:30", "08 Jun 2027"),  # earned at UTC-5, expires at UTC-4
    ("Europe/London", "2027-07-01T00:30", "28 Dec 2027"),  # earned at UTC+1, expires at UTC+0
])
def test_points_expire_the_vendors_days_later_on_its_own_calendar(phone, db, clock, zone, earned, expires):
    with db.transaction() as session:
        load_tenant(session, tenant_file(timezone=zone))  # its points last 180 days
    clock.advance(seconds=(datetime.fromisoformat(earned).replace(tzinfo=ZoneInfo(zone)) - clock()).total_seconds())
    me = phone(CUSTOMER)
    me.send("JOIN MAMA")  # the welcome bonus, earned at that local time
    assert f"50 points expire on {expires}." in me.send("BAL").text
