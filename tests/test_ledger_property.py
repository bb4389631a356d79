"""Property: whatever the sequence of purchases, voids, redemptions, refunds, code expiries and
points expiring, every balance equals the sum of its ledger and what its lots hold, and is never
negative."""
from __future__ import annotations

from contextlib import suppress
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from bot.errors import Refused
from bot.services import points
from bot.services.context import Context
from bot.services.purchases import PurchaseService
from bot.services.rewards import RewardService, due_redemptions
from bot.services.tenants import load_tenant
from models import Customer, CustomerPointsBalance, PointsTransaction, Reward, RewardRedemption, Tenant, Staff
from models.base import utcnow
from tests.conftest import PIN_PEPPER, _empty_tables, tenant_file

CUSTOMERS = ["+2348031230001", "+2348031230002"]
STAFF = "+2348030000002"
REWARDS = [{"name": "Small", "points": 60}, {"name": "Big", "points": 400, "stock": 2}]

operations = st.lists(
    st.one_of(
        st.tuples(st.just("purchase"), st.sampled_from(CUSTOMERS), st.integers(1, 5_000_000)),
        st.tuples(st.just("void"), st.just(None), st.just(0)),
        st.tuples(st.just("redeem"), st.sampled_from(CUSTOMERS), st.sampled_from(["Small", "Big"])),
        st.tuples(st.just("cancel"), st.just(None), st.just(0)),
        st.tuples(st.just("expire"), st.just(None), st.just(0)),
        st.tuples(st.just("age"), st.sampled_from(CUSTOMERS), st.integers(1, 400)),
    ),
    min_size=1,
    max_size=14,
)


def _context(session, phone: str | None = None) -> Context:
    tenant = session.scalars(select(Tenant)).one()
    staff = session.scalars(select(Staff).where(Staff.phone_number == STAFF)).one()
    customer = None
    if phone:
        customer = session.scalars(select(Customer).where(Customer.phone_number == phone).with_for_update()).one_or_none()
    return Context(session=session, tenant=tenant, phone=phone or STAFF, now=utcnow(), pin_pepper=PIN_PEPPER, customer=customer, staff=staff)


def _redeem(session, phone: str, name: str) -> None:
    ctx = _context(session, phone)
    if ctx.customer is None:
        return
    before = points.spendable(session, ctx.customer, ctx.now)  # as redeeming does first: expired points are gone
    reward_id = str(session.scalars(select(Reward.id).where(Reward.name == name)).one())
    try:
        RewardService(ctx).redeem(reward_id)
        spent = 60 if name == "Small" else 400
    except Refused:  # nothing changed
        spent = 0
    after = session.get(CustomerPointsBalance, (ctx.customer.tenant_id, ctx.customer.id), populate_existing=True)
    assert after.current_balance == before - spent


def _last_pending(session) -> str | None:
    found = session.scalar(
        select(RewardRedemption.id).where(RewardRedemption.status == "pending").order_by(RewardRedemption.created_at.desc()).limit(1)
    )
    return str(found) if found else None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations)
def test_balance_always_equals_the_ledger(db, operations):
    _empty_tables(db)
    with db.transaction() as session:
        # Staff without PINs: this test calls the services directly, and hashing is slow.
        staff = [{"name": "Bayo", "phone": STAFF}]
        config = tenant_file(staff=staff, rewards=REWARDS, wheel=None, tiers=[{"name": "Gold", "min_points": 300, "multiplier": 2}])
        load_tenant(session, config)
    last_purchase = None
    for kind, who, value in operations:
        with db.transaction() as session:
            if kind == "purchase":
                last_purchase = PurchaseService(_context(session)).log(who, value).purchase_id
            elif kind == "void" and last_purchase is not None:
                with suppress(Refused):  # too late, or its points spent: nothing changed
                    PurchaseService(_context(session)).void(last_purchase)
            elif kind == "redeem":
                _redeem(session, who, value)
            elif kind == "cancel" and (pending := _last_pending(session)):
                with suppress(Refused):  # expired meanwhile: nothing changed
                    RewardService(_context(session)).cancel(pending)
            elif kind == "age":  # days pass: some lots expire, then the customer spends
                for lot in session.scalars(select(PointsTransaction).where(PointsTransaction.expires_at.is_not(None))):
                    lot.expires_at -= timedelta(days=value)
                _redeem(session, who, "Small")
            elif kind == "expire":
                session.execute(update(RewardRedemption).values(expires_at=utcnow()))
                for tenant_id, redemption_id in due_redemptions(session, utcnow()):
                    RewardService(Context.at(session, session.get(Tenant, tenant_id), utcnow())).expire(redemption_id)
        with db.sessions() as session:
            assert points.ledger_mismatches(session) == []
            for reward in session.scalars(select(Reward).where(Reward.stock.is_not(None))):
                held = session.scalar(
                    select(func.count()).where(
                        RewardRedemption.reward_id == reward.id, RewardRedemption.status.in_(["pending", "fulfilled"])
                    )
                )
                assert reward.stock_used == held  # every unit of a limited stock is held by one redemption
