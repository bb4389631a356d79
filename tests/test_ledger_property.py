"""Property: whatever the sequence of purchases, voids and redemptions, every balance equals
the sum of its ledger and what its lots hold, and is never negative."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.services import points
from bot.services.context import Context
from bot.services.purchases import PurchaseService
from bot.services.tenants import load_tenant
from models import Customer, CustomerPointsBalance, Tenant, VendorUser
from models.base import utcnow
from tests.conftest import _empty_tables, tenant_file

CUSTOMERS = ["+2348031230001", "+2348031230002"]

operations = st.lists(
    st.one_of(
        st.tuples(st.just("purchase"), st.sampled_from(CUSTOMERS), st.integers(1, 5_000_000)),
        st.tuples(st.just("void"), st.just(None), st.just(0)),
        st.tuples(st.just("redeem"), st.sampled_from(CUSTOMERS), st.integers(1, 400)),
    ),
    min_size=1,
    max_size=12,
)


def _service(session) -> PurchaseService:
    tenant = session.scalars(select(Tenant)).one()
    staff = session.scalars(select(VendorUser).where(VendorUser.phone_number == "+2348030000002")).one()
    return PurchaseService(Context(session=session, tenant=tenant, phone=staff.phone_number, now=utcnow(), staff=staff))


def _redeem(session, phone: str, wanted: int) -> None:
    customer = session.scalars(select(Customer).where(Customer.phone_number == phone).with_for_update()).one_or_none()
    if customer is None:
        return
    before = session.get(CustomerPointsBalance, (customer.tenant_id, customer.id)).current_balance
    try:
        points.debit(session, customer, wanted, transaction_type="redeemed", source="test", description="Reward", now=utcnow())
    except points.NotEnoughPoints:
        assert wanted > before  # refused only when the balance falls short, and nothing changed
        assert session.get(CustomerPointsBalance, (customer.tenant_id, customer.id)).current_balance == before


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations)
def test_balance_always_equals_the_ledger(db, operations):
    _empty_tables(db)
    with db.transaction() as session:
        # Staff without PINs: this test calls the service directly, and hashing is slow.
        staff = [{"name": "Bayo", "phone": "+2348030000002"}]
        load_tenant(session, tenant_file(staff=staff, tiers=[{"name": "Gold", "min_points": 300, "multiplier": 2}]))
    last_purchase = None
    for kind, phone, value in operations:
        with db.transaction() as session:
            service = _service(session)
            if kind == "purchase":
                last_purchase = service.log(phone, value).purchase_id
            elif kind == "void" and last_purchase is not None:
                service.void(last_purchase)
            elif kind == "redeem":
                _redeem(session, phone, value)
        with db.sessions() as session:
            assert points.ledger_mismatches(session) == []
