"""The API under real concurrency (PostgreSQL only): a till that retries while its first request
is still running never logs a purchase twice; changes to the vendor made at once all hold."""
from __future__ import annotations

import uuid
from functools import partial

import pytest
from sqlalchemy import select, text

from bot.services.backoffice import BackOfficeService
from bot.services.context import Context
from bot.services.customers import CustomerService
from bot.services.tenants import load_tenant
from models import ApiIdempotencyKey, AuditLog, Customer, Purchase, Message, Reward
from models.base import utcnow
from tests.api_client import Api, api  # noqa: F401 (fixture)
from tests.conftest import at_once, balance_of, count, tenant_file

CUSTOMER = "+2348031234567"


def all_at_once(app, key: str, requests: list[tuple[dict, str]]) -> list:
    """POST the purchases, each (body, Idempotency-Key), from threads released together."""
    return at_once([partial(Api(app, key).post, "/purchases", body, idempotency_key=idempotency_key)
                    for body, idempotency_key in requests])


def test_two_identical_purchases_at_once_log_one(app, api, db):
    body = {"customer": CUSTOMER, "amount": 1_500_000}
    first, second = all_at_once(app, api.key, [(body, "sale-1"), (body, "sale-1")])
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.get_json() == second.get_json()
    assert sorted(r.headers.get("Idempotent-Replayed", "no") for r in (first, second)) == ["no", "true"]
    assert count(db, Purchase) == 1 and count(db, Customer) == 1 and count(db, ApiIdempotencyKey) == 1
    assert balance_of(db, CUSTOMER) == 220
    assert count(db, Message, Message.direction == "outbound") == 2  # welcome and receipt, once


def test_ten_retries_racing_with_other_sales_count_each_sale_once(app, api, db):
    retried = {"customer": CUSTOMER, "amount": 100_000}
    others = [({"customer": f"+23480312300{i:02d}", "amount": 100_000}, f"other-{i}") for i in range(5)]
    answers = all_at_once(app, api.key, [(retried, "sale-1")] * 10 + others)
    assert all(answer.status_code == 201 for answer in answers)
    assert len({answer.get_json()["id"] for answer in answers[:10]}) == 1
    assert count(db, Purchase) == 6
    with db.sessions() as session:
        assert session.scalar(select(Customer.total_purchases).where(Customer.phone_number == CUSTOMER)) == 1


def test_one_idempotency_key_racing_with_two_bodies_logs_only_one(app, api, db):
    a, b = {"customer": CUSTOMER, "amount": 100_000}, {"customer": CUSTOMER, "amount": 200_000}
    answers = all_at_once(app, api.key, [(a, "sale-1"), (b, "sale-1")])
    assert sorted(answer.status_code for answer in answers) == [201, 422]
    refused = next(answer for answer in answers if answer.status_code == 422)
    assert refused.get_json()["type"] == "/api/v1/docs#idempotency-key-reused"
    assert count(db, Purchase) == 1


def test_two_settings_changes_at_once_both_hold(app, api, db):
    """Each PATCH merges its field into the settings as the other left them: neither is lost."""
    for i in range(10):
        answers = at_once([
            lambda: Api(app, api.key).patch("/settings", {"welcome_bonus": 100 + i}),
            lambda: Api(app, api.key).patch("/settings", {"redemption_valid_hours": 30 + i}),
        ])
        assert [answer.status_code for answer in answers] == [200, 200]
        settings = api.get("/settings").get_json()
        assert (settings["welcome_bonus"], settings["redemption_valid_hours"]) == (100 + i, 30 + i), i
    assert count(db, AuditLog, AuditLog.action == "tenant.settings_updated") == 20


def test_a_settings_change_racing_a_load_of_the_tenant_file_keeps_what_the_file_says(app, api, db):
    """The change lands before the load (which makes the file the truth) or after it, on what
    the file said: never on the settings as they were before the load."""
    def load(hours: int):
        with db.transaction() as session:
            load_tenant(session, tenant_file(redemption_valid_hours=hours))

    for i in range(10):
        answer, _ = at_once([lambda: Api(app, api.key).patch("/settings", {"welcome_bonus": 100 + i}), lambda: load(30 + i)])
        assert answer.status_code == 200
        assert api.get("/settings").get_json()["redemption_valid_hours"] == 30 + i, i


def test_two_rewards_of_one_name_created_at_once_make_one_and_a_422(app, api, db):
    for i in range(5):
        answers = at_once([lambda: Api(app, api.key).post("/rewards", {"name": f"Chapman {i}", "points": 150})] * 2)
        assert sorted(answer.status_code for answer in answers) == [201, 422], i
    answers = at_once([lambda n=n: Api(app, api.key).post("/rewards", {"name": f"Puff-puff {n}", "points": 50}) for n in range(5)])
    assert all(answer.status_code == 201 for answer in answers)
    with db.sessions() as session:
        positions = session.scalars(select(Reward.position).where(Reward.name.like("Puff-puff%"))).all()
    assert sorted(positions) == [7, 8, 9, 10, 11]  # after the file's 2 and the 5 Chapmans, each its own


@pytest.mark.parametrize("choose", [
    lambda ctx, customer_id: CustomerService(ctx).choose(customer_id, lock=True),
    lambda ctx, customer_id: BackOfficeService(ctx).customer(customer_id, lock=True),
], ids=["api", "dashboard"])
def test_a_customer_the_back_office_locks_still_lets_rows_refer_to_them(api, db, mama, choose):
    """Locked FOR NO KEY UPDATE, as everywhere else: the foreign-key check of a row written about
    the customer meanwhile (FOR KEY SHARE) does not wait for it."""
    customer_id = uuid.UUID(api.post("/purchases", {"customer": CUSTOMER, "amount": 100_000}).get_json()["customer_id"])
    with db.transaction() as session:
        assert choose(Context.at(session, mama, utcnow()), customer_id) is not None
        with db.engine.connect() as other:
            other.execute(text("SET lock_timeout = '2s'"))
            shared = other.scalar(select(Customer.id).where(Customer.id == customer_id).with_for_update(read=True, key_share=True))
        assert shared == customer_id
