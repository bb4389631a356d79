"""The REST API, /api/v1: keys, the resources, idempotency, problems, pagination, rate limits."""
from __future__ import annotations

import base64
import json
import uuid

import pytest
from sqlalchemy import select

from bot.services.apikeys import hash_key
from bot.services.tenants import load_tenant
from models import (
    ApiIdempotencyKey, ApiKey, AuditLog, Customer, PointsTransaction, Purchase, Reward, Tenant,
    Message,
)
from tests.api_client import Api, api, create_key, salon, salon_api  # noqa: F401 (fixtures)
from tests.conftest import PIN_PEPPER, balance_of, count, tenant_file

BAYO, BAYO_PIN = "+2348030000002", "731205"
CUSTOMER = "+2348031234567"
CUSTOMER_SHAPE = {"id", "phone", "member_code", "name", "balance", "lifetime_points", "tier", "opted_in", "joined_at"}


def outbound_to(db, number: str) -> list[str]:
    with db.sessions() as session:
        return list(session.scalars(
            select(Message.body)
            .where(Message.direction == "outbound", Message.to_number == number)
            .order_by(Message.created_at)
        ))


def audits(db, action: str) -> list[AuditLog]:
    with db.sessions() as session:
        return list(session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.created_at)))


def key_id(db, secret: str) -> uuid.UUID:
    with db.sessions() as session:
        return session.scalar(select(ApiKey.id).where(ApiKey.key_hash == hash_key(secret)))


def buy(api, customer: str = "0803 123 4567", amount: int = 1_500_000, **kwargs):
    response = api.post("/purchases", {"customer": customer, "amount": amount}, **kwargs)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# --- keys -----------------------------------------------------------------------------------


def test_a_key_is_printed_once_alone_on_its_last_line_and_only_its_hash_is_kept(app, mama, db):
    result = app.test_cli_runner().invoke(args=["apikeys", "create", "--tenant", "mama", "--name", "till 1"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert secret.startswith("lk_") and len(secret) > 40 and " " not in secret
    with db.sessions() as session:
        key = session.scalars(select(ApiKey)).one()
    assert key.key_hash == hash_key(secret) and secret not in (key.key_hash, key.prefix, key.name)
    assert secret.startswith(key.prefix) and len(key.prefix) == 11
    assert key.scopes == [] and key.last_used_at is None and key.id.version == 7  # as every row's id
    assert [a.details["after"]["prefix"] for a in audits(db, "api_key.created")] == [key.prefix]


def test_keys_are_listed_with_prefix_name_and_last_use_and_can_be_revoked(app, mama, salon, db):
    runner = app.test_cli_runner()
    secret = create_key(app, "MAMA", "purchases", "customers:read", name="till 1")
    create_key(app, "SALON", name="front desk")
    listed = runner.invoke(args=["apikeys", "list", "--tenant", "MAMA"]).output
    assert secret[:11] + "..." in listed and "'till 1'" in listed and "last used never" in listed
    assert "customers:read,purchases" in listed and "front desk" not in listed
    assert "front desk" in runner.invoke(args=["apikeys", "list"]).output

    assert Api(app, secret).get("/customers").status_code == 200
    assert "last used 20" in runner.invoke(args=["apikeys", "list", "--tenant", "MAMA"]).output

    revoked = runner.invoke(args=["apikeys", "revoke", "--tenant", "MAMA", secret[:11] + "..."])
    assert revoked.exit_code == 0 and f"Revoked {secret[:11]}..." in revoked.output
    assert "revoked 20" in runner.invoke(args=["apikeys", "list", "--tenant", "MAMA"]).output
    answer = Api(app, secret).get("/customers")
    assert answer.status_code == 401 and answer.get_json()["detail"] == "Unknown or revoked API key."
    again = runner.invoke(args=["apikeys", "revoke", "--tenant", "MAMA", secret[:11]])
    assert again.exit_code == 1 and "no live key" in again.output


def test_creating_a_key_refuses_unknown_scopes_and_vendors(app, mama, db):
    runner = app.test_cli_runner()
    bad_scope = runner.invoke(args=["apikeys", "create", "--tenant", "MAMA", "--name", "x", "--scope", "everything"])
    assert bad_scope.exit_code == 1 and "Unknown scope everything" in bad_scope.output and "purchases:read" in bad_scope.output
    no_vendor = runner.invoke(args=["apikeys", "create", "--tenant", "NOPE", "--name", "x"])
    assert no_vendor.exit_code == 1 and "No vendor with code NOPE" in no_vendor.output
    assert count(db, ApiKey) == 0


@pytest.mark.parametrize("header", [None, "Bearer", "Basic abc", "Bearer lk_not-a-key", "Bearer not-even-the-prefix"])
def test_requests_without_a_good_key_get_401_problems(app, mama, header):
    headers = {"Authorization": header} if header else {}
    response = app.test_client().get("/api/v1/customers", headers=headers)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.get_json()["type"] == "/api/v1/docs#unauthorized"


def test_a_key_of_a_switched_off_vendor_opens_nothing(api, db, mama):
    with db.transaction() as session:
        session.get(Tenant, mama.id).is_active = False
    assert api.get("/customers").status_code == 401


def test_scopes_limit_a_key_to_resources_or_to_reading_them(app, mama):
    till = Api(app, create_key(app, "MAMA", "purchases"))
    reader = Api(app, create_key(app, "MAMA", "customers:read"))
    assert till.post("/purchases", {"customer": CUSTOMER, "amount": 100}).status_code == 201
    refused = till.get("/customers")
    assert refused.status_code == 403 and refused.get_json()["detail"] == "This key may not read customers; its scopes: purchases."
    assert reader.get("/customers").status_code == 200
    customer_id = reader.get("/customers").get_json()["data"][0]["id"]
    assert reader.post(f"/customers/{customer_id}/adjustments", {"points": 5, "reason": "x"}).status_code == 403
    assert reader.post("/purchases", {"customer": CUSTOMER, "amount": 100}).status_code == 403


# --- purchases ------------------------------------------------------------------------------


def test_a_purchase_is_logged_and_notified_exactly_as_staff_log_does(api, app, db, phone):
    staff = phone(BAYO)
    staff.send("LOG 0803 000 1111 15000")
    staff.send(BAYO_PIN)
    assert "₦15,000" in staff.send("1").text

    answer = api.post("/purchases", {"customer": "0803 123 4567", "amount": 1_500_000})
    assert answer.status_code == 201
    body = answer.get_json()
    assert set(body) == {"id", "customer_id", "amount", "points", "balance_after", "created_at"}
    assert (body["amount"], body["points"], body["balance_after"]) == (1_500_000, 150 + 20, 50 + 170)
    assert balance_of(db, CUSTOMER) == 220
    # The same messages, in the same order, as the customer the staff member logged for.
    assert outbound_to(db, CUSTOMER) == outbound_to(db, "+2348030001111")
    assert len(outbound_to(db, CUSTOMER)) == 2 and "₦15,000 earned you 170 points" in outbound_to(db, CUSTOMER)[1]

    with db.sessions() as session:
        purchase = session.get(Purchase, (app_tenant(db), uuid.UUID(body["id"])))
    assert (purchase.logged_via, purchase.logged_by_user_id, purchase.customer_id) == ("api", None, uuid.UUID(body["customer_id"]))
    logged = [a for a in audits(db, "purchase.logged") if a.entity_id == purchase.id]
    assert [(a.actor_type, a.actor_id) for a in logged] == [("api_key", key_id(db, api.key))]
    assert (logged[0].details["before"], logged[0].details["after"]) == ({"balance": 50}, {"balance": 220})


def app_tenant(db, code: str = "MAMA") -> uuid.UUID:
    with db.sessions() as session:
        return session.scalar(select(Tenant.id).where(Tenant.vendor_code == code))


def test_a_purchase_names_the_customer_by_member_code_or_any_phone_format(api, db):
    first = buy(api, "+234 803 123 4567", 100_000)
    with db.sessions() as session:
        code = session.scalar(select(Customer.member_code))
    assert buy(api, code.lower(), 100_000)["customer_id"] == first["customer_id"]
    assert buy(api, "0803-123-4567", 100_000)["customer_id"] == first["customer_id"]
    assert count(db, Customer) == 1 and count(db, Purchase) == 3


@pytest.mark.parametrize("body, errors", [
    ({"customer": CUSTOMER, "amount": "15000"}, {"amount": ["Not a valid integer."]}),
    ({"customer": CUSTOMER, "amount": 1.5}, {"amount": ["Not a valid integer."]}),
    ({"customer": CUSTOMER, "amount": 0}, {"amount": ["The amount must be more than zero."]}),
    ({"customer": CUSTOMER, "amount": 1_000_000_001}, {"amount": ["That's more than the ₦10,000,000 limit for one purchase."]}),
    ({"customer": "hello", "amount": 100}, {"customer": ["not a phone number, nor one of this vendor's member codes"]}),
    ({"customer": "ZZZZZZ", "amount": -5}, {
        "customer": ["not a phone number, nor one of this vendor's member codes"], "amount": ["The amount must be more than zero."],
    }),
    ({"amount": 100}, {"customer": ["Missing data for required field."]}),
    ({"customer": CUSTOMER, "amount": 100, "note": "x"}, {"note": ["Unknown field."]}),
])
def test_bad_purchase_input_names_the_field_and_writes_nothing(api, db, body, errors):
    answer = api.post("/purchases", body, idempotency_key="same-key")
    assert answer.status_code == 422 and answer.mimetype == "application/problem+json"
    problem = answer.get_json()
    assert problem["type"] == "/api/v1/docs#validation" and problem["title"] == "Invalid input" and problem["status"] == 422
    assert problem["errors"] == errors
    assert count(db, Purchase) == count(db, Customer) == count(db, ApiIdempotencyKey) == 0
    assert buy(api, idempotency_key="same-key")  # the key was not used up by the refused request


def test_bodies_that_are_not_a_json_object_are_refused(api, db):
    client, headers = api.client, api.headers("k1")
    not_json = client.post("/api/v1/purchases", data="{oops", headers={**headers, "Content-Type": "application/json"})
    assert not_json.status_code == 400 and not_json.get_json()["type"] == "/api/v1/docs#not-json"
    a_list = client.post("/api/v1/purchases", json=[1, 2], headers=headers)
    assert a_list.status_code == 400 and a_list.get_json()["detail"] == "The body must be a JSON object."
    a_form = client.post("/api/v1/purchases", data={"customer": CUSTOMER, "amount": "1"}, headers=headers)
    assert a_form.status_code == 415
    assert count(db, Purchase) == 0


def test_a_body_nested_too_deeply_is_not_json_and_is_parsed_only_for_a_known_key(api, db):
    client, deep = api.client, {"data": "[" * 30_000, "content_type": "application/json"}
    stranger = client.post("/api/v1/purchases", headers={"Authorization": "Bearer nope"}, **deep)
    assert stranger.status_code == 401
    known = client.post("/api/v1/purchases", headers=api.headers("k1"), **deep)
    assert known.status_code == 400 and known.get_json()["type"] == "/api/v1/docs#not-json"
    assert count(db, Purchase) == 0


def test_a_purchase_voided_through_the_api_takes_its_points_back(api, db, clock):
    bought = buy(api)
    answer = api.post(f"/purchases/{bought['id']}/void")
    assert answer.status_code == 200
    voided = answer.get_json()
    assert (voided["status"], voided["points"], voided["balance_after"], voided["id"]) == ("voided", 170, 50, bought["id"])
    assert balance_of(db, CUSTOMER) == 50
    assert "170 points were taken back" in outbound_to(db, CUSTOMER)[-1]
    [audit] = audits(db, "purchase.voided")
    assert (audit.actor_type, audit.details["before"], audit.details["after"]) == (
        "api_key", {"status": "completed"}, {"status": "voided", "balance": 50})

    again = api.post(f"/purchases/{bought['id']}/void")
    assert again.status_code == 409 and "can no longer be voided" in again.get_json()["detail"]
    late = buy(api, amount=100_000)
    clock.advance(minutes=16)
    assert api.post(f"/purchases/{late['id']}/void").status_code == 409
    assert api.post(f"/purchases/{uuid.uuid4()}/void").status_code == 404
    assert balance_of(db, CUSTOMER) == late["balance_after"]


# --- idempotency ----------------------------------------------------------------------------


def test_a_retried_purchase_answers_the_first_response_and_logs_nothing_twice(api, db):
    first = api.post("/purchases", {"customer": CUSTOMER, "amount": 1_500_000}, idempotency_key="till-1-sale-42")
    retry = api.post("/purchases", {"amount": 1_500_000, "customer": CUSTOMER}, idempotency_key="till-1-sale-42")
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.get_json() == first.get_json()
    assert retry.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert count(db, Purchase) == 1 and len(outbound_to(db, CUSTOMER)) == 2

    other = api.post("/purchases", {"customer": CUSTOMER, "amount": 999}, idempotency_key="till-1-sale-42")
    assert other.status_code == 422 and other.get_json()["type"] == "/api/v1/docs#idempotency-key-reused"
    elsewhere = api.post(f"/purchases/{first.get_json()['id']}/void", idempotency_key="till-1-sale-42")
    assert elsewhere.status_code == 422
    assert count(db, Purchase) == 1 and balance_of(db, CUSTOMER) == 220


def test_idempotency_keys_belong_to_their_api_key(app, api, db):
    other_till = Api(app, create_key(app, name="till 2"))
    buy(api, idempotency_key="sale-1")
    buy(other_till, idempotency_key="sale-1")
    assert count(db, Purchase) == 2


def test_every_changing_post_needs_an_idempotency_key(api, db):
    missing = api.post("/purchases", {"customer": CUSTOMER, "amount": 100}, idempotency_key=None)
    assert missing.status_code == 400
    assert missing.get_json()["errors"] == {"Idempotency-Key": ["required"]}
    too_long = api.post("/purchases", {"customer": CUSTOMER, "amount": 100}, idempotency_key="x" * 256)
    assert too_long.status_code == 400
    assert count(db, Purchase) == 0


def test_a_refused_change_leaves_its_idempotency_key_free(api, db, phone):
    phone(CUSTOMER).send("JOIN MAMA")
    customer_id = api.get("/customers").get_json()["data"][0]["id"]
    refused = api.post(f"/customers/{customer_id}/adjustments", {"points": -51, "reason": "x"}, idempotency_key="adj-1")
    assert refused.status_code == 422 and refused.get_json()["errors"] == {"points": ["more than the customer's points that can be spent"]}
    assert count(db, ApiIdempotencyKey) == 0 and balance_of(db, CUSTOMER) == 50
    taken = api.post(f"/customers/{customer_id}/adjustments", {"points": -50, "reason": "x"}, idempotency_key="adj-1")
    assert taken.status_code == 201 and balance_of(db, CUSTOMER) == 0


# --- customers and points -------------------------------------------------------------------


def test_customers_are_listed_newest_first_a_page_at_a_time(api, clock):
    for i in range(5):
        buy(api, f"+23480312300{i:02d}", 100_000)
        clock.advance(seconds=1)
    seen, cursor = [], None
    while True:
        page = api.get("/customers", limit=2, **({"cursor": cursor} if cursor else {})).get_json()
        assert len(page["data"]) <= 2
        seen += [customer["phone"] for customer in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"+23480312300{i:02d}" for i in reversed(range(5))]
    for customer in api.get("/customers").get_json()["data"]:
        assert CUSTOMER_SHAPE <= set(customer)


def test_customers_are_found_by_phone_in_any_format_or_member_code(api, db):
    bought = buy(api)
    buy(api, "+2348031239999", 100_000)
    with db.sessions() as session:
        code = session.scalar(select(Customer.member_code).where(Customer.phone_number == CUSTOMER))
    for q in ("0803 123 4567", "+234 (803) 123-4567", code, code.lower()):
        assert [c["id"] for c in api.get("/customers", q=q).get_json()["data"]] == [bought["customer_id"]], q
    assert api.get("/customers", q="0803 999 0000").get_json() == {"data": [], "next_cursor": None}
    bad = api.get("/customers", q="pizza")
    assert bad.status_code == 422 and list(bad.get_json()["errors"]) == ["q"]


def cursor_of(*values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize("params, field", [
    ({"cursor": "garbage"}, "cursor"), ({"cursor": "WyJ4Il0"}, "cursor"), ({"limit": 0}, "limit"), ({"limit": 201}, "limit"),
    ({"limit": "many"}, "limit"), ({"sort": "name"}, "sort"),
    # Cursors made by hand: values that are not the strings a cursor holds, times past the calendar's ends.
    ({"cursor": cursor_of("2024-01-01T00:00:00+00:00", 5)}, "cursor"),
    ({"cursor": cursor_of("2024-01-01T00:00:00+00:00", [1])}, "cursor"),
    ({"cursor": cursor_of("0001-01-01T00:00:00+14:00", str(uuid.uuid4()))}, "cursor"),
    ({"cursor": cursor_of("9999-12-31T23:59:59-14:00", str(uuid.uuid4()))}, "cursor"),
    ({"cursor": base64.urlsafe_b64encode(b"[" * 5000).decode()}, "cursor"),  # deeper than Python's stack
])
def test_bad_list_parameters_name_the_parameter(api, params, field):
    answer = api.get("/customers", **params)
    assert answer.status_code == 422 and list(answer.get_json()["errors"]) == [field]


def test_a_repeated_query_parameter_is_refused(api):
    answer = api.client.get("/api/v1/customers?limit=1&limit=2", headers=api.headers())
    assert answer.status_code == 422 and answer.get_json()["errors"] == {"limit": ["given more than once"]}


def test_one_customer_with_balance_and_ledger(api, db):
    bought = buy(api)
    customer = api.get(f"/customers/{bought['customer_id']}").get_json()
    assert CUSTOMER_SHAPE <= set(customer)
    assert (customer["phone"], customer["balance"], customer["lifetime_points"], customer["opted_in"]) == (CUSTOMER, 220, 220, False)
    assert customer["next_expiry"]["points"] == 220
    ledger = api.get(f"/customers/{bought['customer_id']}/ledger", limit=1).get_json()
    assert len(ledger["data"]) == 1 and ledger["next_cursor"]
    rest = api.get(f"/customers/{bought['customer_id']}/ledger", cursor=ledger["next_cursor"]).get_json()
    assert rest["next_cursor"] is None
    # Both were written at the same moment (one purchase enrols and earns): either may come first.
    assert sorted((e["type"], e["source"], e["points"]) for e in ledger["data"] + rest["data"]) == [
        ("earned", "purchase", 170), ("earned", "welcome", 50)]
    assert api.get(f"/customers/{uuid.uuid4()}").status_code == 404
    assert api.get("/customers/not-a-uuid").status_code == 404


def test_customers_are_listed_with_the_points_they_can_spend(api, clock):
    bought = buy(api)
    clock.advance(days=181)  # the welcome bonus and the purchase's points are past their expiry, not expired yet
    listed = api.get("/customers").get_json()["data"][0]["balance"]
    found = api.get("/customers", q=CUSTOMER).get_json()["data"][0]["balance"]
    assert (listed, found, api.get(f"/customers/{bought['customer_id']}").get_json()["balance"]) == (0, 0, 0)


def test_points_are_adjusted_through_the_ledger_with_a_reason_audited_and_told(api, db):
    bought = buy(api)
    path = f"/customers/{bought['customer_id']}/adjustments"
    added = api.post(path, {"points": 30, "reason": "sorry for the wait"})
    assert added.status_code == 201
    assert {k: added.get_json()[k] for k in ("points", "balance_before", "balance_after", "reason")} == {
        "points": 30, "balance_before": 220, "balance_after": 250, "reason": "sorry for the wait"}
    taken = api.post(path, {"points": -100, "reason": "double entry"}).get_json()
    assert (taken["balance_before"], taken["balance_after"]) == (250, 150)
    assert balance_of(db, CUSTOMER) == 150
    with db.sessions() as session:
        entries = session.scalars(select(PointsTransaction).where(PointsTransaction.transaction_type == "adjusted")
                                  .order_by(PointsTransaction.created_at)).all()
    assert [(e.points, e.description) for e in entries] == [(30, "Adjusted: sorry for the wait"), (-100, "Adjusted: double entry")]
    assert "adjusted your points by +30 (sorry for the wait). Balance: 250 points." in outbound_to(db, CUSTOMER)[-2]
    trail = audits(db, "points.adjusted")
    assert [(a.actor_type, a.details["reason"], a.details["before"], a.details["after"]) for a in trail] == [
        ("api_key", "sorry for the wait", {"balance": 220}, {"balance": 250}),
        ("api_key", "double entry", {"balance": 250}, {"balance": 150}),
    ]
    check = api.client.application.test_cli_runner().invoke(args=["ledger", "check"])
    assert check.exit_code == 0 and "0 mismatch" in check.output


@pytest.mark.parametrize("body, field", [
    ({"points": 0, "reason": "x"}, "points"), ({"points": 10}, "reason"), ({"points": 10, "reason": ""}, "reason"),
    ({"points": "10", "reason": "x"}, "points"), ({"points": 10, "reason": "x" * 201}, "reason"),
    ({"points": 10, "reason": "nul\u0000here"}, "reason"), ({"points": 10, "reason": "bell\u0007"}, "reason"),
])
def test_bad_adjustments_name_the_field_and_write_nothing(api, db, body, field):
    bought = buy(api)
    answer = api.post(f"/customers/{bought['customer_id']}/adjustments", body)
    assert answer.status_code == 422 and list(answer.get_json()["errors"]) == [field]
    assert balance_of(db, CUSTOMER) == 220 and audits(db, "points.adjusted") == []


# --- rewards and redemptions ----------------------------------------------------------------


def test_rewards_are_listed_created_and_restocked(api, db, phone):
    listed = api.get("/rewards").get_json()
    assert [(r["name"], r["points"], r["stock"]) for r in listed["data"]] == [("Free Zobo drink", 100, None), ("Jollof rice plate", 500, 20)]
    created = api.post("/rewards", {"name": "Chapman", "points": 150, "stock": 10, "description": "Cold"})
    assert created.status_code == 201
    chapman = created.get_json()
    assert (chapman["name"], chapman["points"], chapman["stock_left"], chapman["active"], chapman["position"]) == ("Chapman", 150, 10, True, 2)
    phone(CUSTOMER).send("JOIN MAMA")
    assert "Chapman" in phone(CUSTOMER).send("REWARDS").text  # the bot offers it at once

    restocked = api.patch(f"/rewards/{chapman['id']}", {"stock": 3})
    assert restocked.status_code == 200 and restocked.get_json()["stock_left"] == 3
    unlimited = api.patch(f"/rewards/{chapman['id']}", {"stock": None})
    assert unlimited.get_json()["stock"] is None
    assert [a.details["after"]["name"] for a in audits(db, "reward.created")] == ["Chapman"]
    assert [(a.details["before"], a.details["after"]) for a in audits(db, "reward.stock_changed")] == [
        ({"stock": 10}, {"stock": 3}), ({"stock": 3}, {"stock": None})]


@pytest.mark.parametrize("body, field", [
    ({"name": "Free Zobo drink", "points": 10}, "name"), ({"name": "X", "points": 0}, "points"), ({"points": 10}, "name"),
    ({"name": "X", "points": 10, "valid_until": "soon"}, "valid_until"), ({"name": "X", "points": 10, "colour": "red"}, "colour"),
    ({"name": " ", "points": 5}, "name"), ({"name": " Free Zobo drink ", "points": 10}, "name"),  # names are read stripped
])
def test_bad_rewards_are_refused_by_the_tenant_file_rules(api, db, body, field):
    answer = api.post("/rewards", body)
    assert answer.status_code == 422 and list(answer.get_json()["errors"]) == [field]
    assert count(db, Reward) == 2


def test_stock_never_goes_below_what_was_redeemed(api, db, phone):
    customer = phone(CUSTOMER)
    customer.send("JOIN MAMA")
    jollof = api.get("/rewards").get_json()["data"][1]
    api.post(f"/customers/{api.get('/customers').get_json()['data'][0]['id']}/adjustments", {"points": 1000, "reason": "x"})
    customer.send("REDEEM 2")
    assert "RD-" in customer.send("1").text
    refused = api.patch(f"/rewards/{jollof['id']}", {"stock": 0})
    assert refused.status_code == 422 and refused.get_json()["errors"] == {"stock": ["0 is below the 1 already redeemed"]}
    assert api.patch(f"/rewards/{jollof['id']}", {"stock": -1}).status_code == 422
    assert api.patch(f"/rewards/{uuid.uuid4()}", {"stock": 5}).status_code == 404
    with db.sessions() as session:
        assert session.scalar(select(Reward.stock).where(Reward.name == "Jollof rice plate")) == 20


def redeem_code(api, phone) -> str:
    """A customer redeems the Zobo drink over WhatsApp; their code."""
    customer = phone(CUSTOMER)
    customer.send("JOIN MAMA")
    customer_id = api.get("/customers").get_json()["data"][0]["id"]
    api.post(f"/customers/{customer_id}/adjustments", {"points": 100, "reason": "test"})
    customer.send("REDEEM 1")
    text = customer.send("1").text
    return text[text.index("RD-"):text.index("RD-") + 9]


def test_a_code_is_verified_fulfilled_once_and_the_customer_told(api, db, phone):
    code = redeem_code(api, phone)
    verified = api.get(f"/redemptions/{code.lower().replace('-', '')}").get_json()
    assert (verified["code"], verified["reward"], verified["status"], verified["usable"], verified["points"]) == (
        code, "Free Zobo drink", "pending", True, 100)
    fulfilled = api.post(f"/redemptions/{code}/fulfil")
    assert fulfilled.status_code == 200
    assert (fulfilled.get_json()["status"], fulfilled.get_json()["usable"]) == ("fulfilled", False)
    assert "Free Zobo drink" in outbound_to(db, CUSTOMER)[-1]
    again = api.post(f"/redemptions/{code}/fulfil")
    assert again.status_code == 409 and again.get_json()["detail"].startswith("That code was used")
    assert api.post(f"/redemptions/{code}/cancel").status_code == 409
    [audit] = audits(db, "reward.fulfilled")
    assert (audit.actor_type, audit.details["after"]) == ("api_key", {"status": "fulfilled"})


def test_staff_of_a_french_vendor_read_who_handed_over_a_code_the_api_fulfilled_in_french(api, db, phone):
    code = redeem_code(api, phone)
    assert api.post(f"/redemptions/{code}/fulfil").status_code == 200
    with db.transaction() as session:
        load_tenant(session, tenant_file(language="fr"), pin_pepper=PIN_PEPPER)
    bayo = phone(BAYO)
    bayo.send(f"VERIFY {code}")
    assert bayo.send(BAYO_PIN).text.endswith(", remis par le personnel.")


def test_a_cancelled_code_refunds_the_points_and_the_stock(api, db, phone):
    code = redeem_code(api, phone)
    assert balance_of(db, CUSTOMER) == 50
    cancelled = api.post(f"/redemptions/{code}/cancel")
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert balance_of(db, CUSTOMER) == 150
    [audit] = audits(db, "reward.cancelled")
    assert (audit.actor_type, audit.details["before"], audit.details["after"]) == ("api_key", {"status": "pending"}, {"status": "cancelled"})
    assert api.get("/redemptions/RD-ZZZZZZ").status_code == 404


# --- settings and metrics -------------------------------------------------------------------


def test_settings_are_read_and_safe_fields_changed_through_the_tenant_file_rules(api, db):
    settings = api.get("/settings").get_json()
    assert (settings["code"], settings["currency"], settings["welcome_bonus"]) == ("MAMA", "NGN", 50)
    assert "currency" not in settings["editable"] and "welcome_bonus" in settings["editable"]
    changed = api.patch("/settings", {"welcome_bonus": 75, "greeting": "Hello from Mama!"})
    assert changed.status_code == 200 and changed.get_json()["welcome_bonus"] == 75
    [audit] = audits(db, "tenant.settings_updated")
    assert (audit.actor_type, audit.details["before"], audit.details["after"]) == (
        "api_key", {"greeting": "Welcome to Mama Put Kitchen rewards!", "welcome_bonus": 50},
        {"greeting": "Hello from Mama!", "welcome_bonus": 75})
    assert buy(api)["balance_after"] == 75 + 170  # the new welcome bonus is in force


@pytest.mark.parametrize("body, errors", [
    ({"currency": "USD"}, {"currency": ["cannot be changed here"]}),
    ({"welcome_bonus": -1}, {"welcome_bonus": ["Must be greater than or equal to 0 and less than or equal to 1000000."]}),
    ({"points_rules": [{"type": "per_purchase"}]}, {"points_rules": {"0": {"points": ["required for per_purchase"]}}}),
    ({"name": ""}, {"name": ["Length must be between 1 and 255."]}),
])
def test_bad_settings_name_the_field_and_change_nothing(api, db, body, errors):
    answer = api.patch("/settings", body)
    assert answer.status_code == 422 and answer.get_json()["errors"] == errors
    assert api.get("/settings").get_json()["welcome_bonus"] == 50
    assert audits(db, "tenant.settings_updated") == []


def test_metrics_take_a_range_of_days(api):
    answer = api.get("/metrics", start="2026-11-01", end="2026-11-30")
    assert answer.status_code == 200 and answer.get_json() == {"data": []}  # no day computed yet
    assert api.get("/metrics", start="2026-11-30", end="2026-11-01").get_json()["errors"] == {"end": ["must not be before start"]}
    assert list(api.get("/metrics", start="2025-01-01", end="2026-11-01").get_json()["errors"]) == ["end"]
    assert api.get("/metrics", start="2028-01-01", end="2028-12-31").status_code == 200  # a leap year, 366 days
    assert api.get("/metrics", start="2028-01-01", end="2029-01-01").get_json()["errors"] == {
        "end": ["at most 366 days, start and end included"]}
    assert set(api.get("/metrics").get_json()["errors"]) == {"start", "end"}


# --- the machinery --------------------------------------------------------------------------


def test_unknown_urls_and_methods_under_the_api_are_problems(api):
    missing = api.get("/nothing-here")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    wrong = api.client.delete("/api/v1/purchases", headers=api.headers())
    assert wrong.status_code == 405 and wrong.get_json()["type"] == "/api/v1/docs#method-not-allowed"
    assert "POST" in wrong.headers["Allow"]
    assert api.client.get("/no-such-page").mimetype != "application/problem+json"  # other paths as before


def test_a_key_over_its_rate_gets_429_with_retry_after(make_app, mama, clock):
    app = make_app(api_rate_limit=3, clock=clock)
    api, other = Api(app, create_key(app)), Api(app, create_key(app, name="till 2"))
    assert [api.get("/customers").status_code for _ in range(3)] == [200, 200, 200]
    limited = api.get("/customers")
    assert limited.status_code == 429 and limited.get_json()["type"] == "/api/v1/docs#rate-limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert other.get("/customers").status_code == 200  # counted per key
    clock.advance(seconds=int(limited.headers["Retry-After"]))
    assert api.get("/customers").status_code == 200


def test_every_change_through_the_api_is_audited_as_the_key(api, db, phone):
    code = redeem_code(api, phone)
    bought = buy(api, "+2348031230000")
    api.post(f"/purchases/{bought['id']}/void")
    api.post(f"/redemptions/{code}/fulfil")
    reward = api.post("/rewards", {"name": "Chapman", "points": 150}).get_json()
    api.patch(f"/rewards/{reward['id']}", {"stock": 4})
    api.patch("/settings", {"welcome_bonus": 60})
    broadcast = api.post("/broadcasts", {"name": "Friday", "text": "Hi {first_name}"}).get_json()
    api.post(f"/broadcasts/{broadcast['id']}/launch")
    me = key_id(db, api.key)
    with db.sessions() as session:
        by_key = session.execute(select(AuditLog.action, AuditLog.details).where(AuditLog.actor_id == me)).all()
    assert sorted(action for action, _ in by_key) == sorted([
        "points.adjusted", "purchase.logged", "purchase.voided", "reward.fulfilled", "reward.created",
        "reward.stock_changed", "tenant.settings_updated", "broadcast.created", "broadcast.sending",
    ])
    assert all("before" in details and "after" in details for _, details in by_key)


# --- tenant isolation: every endpoint -------------------------------------------------------


@pytest.fixture
def mama_things(api, db, phone) -> dict:
    """What MAMA has that SALON's key must not reach: a customer, a purchase, a reward, a code, a broadcast."""
    code = redeem_code(api, phone)
    bought = buy(api, CUSTOMER, 100_000)
    with db.sessions() as session:
        member_code = session.scalar(select(Customer.member_code).where(Customer.phone_number == CUSTOMER))
    broadcast = api.post("/broadcasts", {"name": "Friday", "text": "Hi {first_name}"}).get_json()
    return {"customer": bought["customer_id"], "purchase": bought["id"], "reward": api.get("/rewards").get_json()["data"][0]["id"],
            "code": code, "member_code": member_code, "balance": balance_of(db, CUSTOMER), "broadcast": broadcast["id"]}


def _isolated_lists(salon_api, mama):
    assert salon_api.get("/customers").get_json()["data"] == []
    assert salon_api.get("/customers", q=CUSTOMER).get_json()["data"] == []
    assert salon_api.get("/customers", q=mama["member_code"]).status_code == 422  # no such member code here


def _isolated_purchase(salon_api, mama):
    assert salon_api.post("/purchases", {"customer": mama["member_code"], "amount": 100}).status_code == 422
    own = salon_api.post("/purchases", {"customer": CUSTOMER, "amount": 100}).get_json()
    assert own["customer_id"] != mama["customer"]  # the same phone, as the salon's own customer


def _isolated_rewards(salon_api, mama):
    assert [r["name"] for r in salon_api.get("/rewards").get_json()["data"]] == ["Free trim"]


def _isolated_new_reward(salon_api, mama):
    assert salon_api.post("/rewards", {"name": "Free Zobo drink", "points": 5}).status_code == 201  # MAMA's name is free here


def _isolated_settings(salon_api, mama):
    assert salon_api.get("/settings").get_json()["code"] == "SALON"


def _isolated_settings_change(salon_api, mama):
    assert salon_api.patch("/settings", {"welcome_bonus": 1}).get_json()["code"] == "SALON"


def _isolated_metrics(salon_api, mama):
    assert salon_api.get("/metrics", start="2026-01-01", end="2026-12-31").get_json() == {"data": []}


def _isolated_broadcasts(salon_api, mama):
    assert salon_api.get("/broadcasts").get_json() == {"data": [], "next_cursor": None}


def _isolated_preview(salon_api, mama):
    preview = salon_api.post("/broadcasts/preview", {"name": "x", "text": "Hi", "segment": {"phones": [CUSTOMER]}}).get_json()
    assert (preview["matched"], preview["samples"]) == (0, [])  # MAMA's customer is no member of the salon


def _isolated_new_broadcast(salon_api, mama):
    assert salon_api.post("/broadcasts", {"name": "Friday", "text": "Hi"}).status_code == 201


def _not_found(request):
    def check(salon_api, mama):
        answer = request(salon_api, mama)
        assert answer.status_code == 404 and answer.get_json()["detail"].startswith("No such ")

    return check


ISOLATION = {
    "list_customers": _isolated_lists,
    "get_customer": _not_found(lambda api, m: api.get(f"/customers/{m['customer']}")),
    "get_ledger": _not_found(lambda api, m: api.get(f"/customers/{m['customer']}/ledger")),
    "adjust_points": _not_found(lambda api, m: api.post(f"/customers/{m['customer']}/adjustments", {"points": 5, "reason": "x"})),
    "log_purchase": _isolated_purchase,
    "void_purchase": _not_found(lambda api, m: api.post(f"/purchases/{m['purchase']}/void")),
    "list_rewards": _isolated_rewards,
    "create_reward": _isolated_new_reward,
    "update_reward": _not_found(lambda api, m: api.patch(f"/rewards/{m['reward']}", {"stock": 0})),
    "verify_code": _not_found(lambda api, m: api.get(f"/redemptions/{m['code']}")),
    "fulfil_code": _not_found(lambda api, m: api.post(f"/redemptions/{m['code']}/fulfil")),
    "cancel_code": _not_found(lambda api, m: api.post(f"/redemptions/{m['code']}/cancel")),
    "get_settings": _isolated_settings,
    "update_settings": _isolated_settings_change,
    "get_metrics": _isolated_metrics,
    "preview_broadcast": _isolated_preview,
    "create_broadcast": _isolated_new_broadcast,
    "list_broadcasts": _isolated_broadcasts,
    "get_broadcast": _not_found(lambda api, m: api.get(f"/broadcasts/{m['broadcast']}")),
    "launch_broadcast": _not_found(lambda api, m: api.post(f"/broadcasts/{m['broadcast']}/launch")),
    "pause_broadcast": _not_found(lambda api, m: api.post(f"/broadcasts/{m['broadcast']}/pause")),
    "resume_broadcast": _not_found(lambda api, m: api.post(f"/broadcasts/{m['broadcast']}/resume")),
    "cancel_broadcast": _not_found(lambda api, m: api.post(f"/broadcasts/{m['broadcast']}/cancel")),
    "broadcast_stats": _not_found(lambda api, m: api.get(f"/broadcasts/{m['broadcast']}/stats")),
}


def test_tenant_isolation_is_tested_for_every_endpoint():
    from api.machinery import OPERATIONS

    assert {operation.view.__name__ for operation in OPERATIONS} == set(ISOLATION)


@pytest.mark.parametrize("endpoint", sorted(ISOLATION))
def test_another_vendors_key_gets_nothing_of_mama(endpoint, mama_things, salon_api, api, db):
    before = api.get(f"/customers/{mama_things['customer']}").get_json()
    ISOLATION[endpoint](salon_api, mama_things)
    assert api.get(f"/customers/{mama_things['customer']}").get_json() == before
    assert api.get(f"/redemptions/{mama_things['code']}").get_json()["status"] == "pending"
    with db.sessions() as session:
        assert session.get(Purchase, (app_tenant(db), uuid.UUID(mama_things["purchase"]))).status == "completed"
        assert session.scalar(select(Reward.stock).where(Reward.id == uuid.UUID(mama_things["reward"]))) is None
    mama = api.get("/settings").get_json()
    assert (mama["welcome_bonus"], [r["name"] for r in api.get("/rewards").get_json()["data"]]) == (
        50, ["Free Zobo drink", "Jollof rice plate"])
    assert [(b["id"], b["status"]) for b in api.get("/broadcasts").get_json()["data"]] == [(mama_things["broadcast"], "draft")]


# --- the OpenAPI document and the docs page -------------------------------------------------


def test_the_openapi_document_is_valid_and_describes_every_endpoint(app):
    from openapi_spec_validator import validate

    from api.machinery import OPERATIONS
    from api.openapi import openapi_path

    answer = app.test_client().get("/api/v1/openapi.json")  # public: no key needed to read it
    assert answer.status_code == 200
    document = answer.get_json()
    validate(document)
    described = {(method.upper(), path) for path, methods in document["paths"].items() for method in methods}
    assert described == {(operation.method, openapi_path(operation.rule)) for operation in OPERATIONS}
    schemas = document["components"]["schemas"]
    post = document["paths"]["/purchases"]["post"]
    assert {"$ref": "#/components/parameters/IdempotencyKey"} in post["parameters"]
    assert set(schemas["PurchaseIn"]["required"]) == {"customer", "amount"}
    assert set(schemas["Purchase"]["properties"]) == {"id", "customer_id", "amount", "points", "balance_after", "created_at"}
    assert post["responses"]["201"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Purchase"}
    assert post["responses"]["422"]["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert CUSTOMER_SHAPE <= set(schemas["Customer"]["properties"])
    assert set(schemas["CustomerPage"]["properties"]) == {"data", "next_cursor"}


def test_the_docs_page_lists_every_operation_with_nothing_from_elsewhere(app):
    from markupsafe import escape

    from api.machinery import OPERATIONS
    from api.openapi import openapi_path

    page = app.test_client().get("/api/v1/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    for operation in OPERATIONS:
        assert f"<code>{openapi_path(operation.rule)}</code>" in html and escape(operation.summary) in html
    assert 'id="idempotency-key-reused"' in html  # the problem types link here
    assert "<script src" not in html and "<link" not in html and "@import" not in html


def test_a_reward_cursor_with_a_number_no_column_holds_is_refused(api):
    answer = api.get("/rewards", cursor=cursor_of(str(10**30), str(uuid.uuid4())))
    assert answer.status_code == 422 and list(answer.get_json()["errors"]) == ["cursor"]


def test_a_body_holding_half_a_surrogate_pair_is_not_json_text_and_changes_nothing(api, db):
    """Python's parser takes an escaped lone surrogate; it is no character, and PostgreSQL refuses it."""
    for path, body in (
        ("/rewards", '{"name": "Zobo \\ud800", "points": 10}'),
        ("/settings", '{"greeting": "hi \\udfff"}'),
        ("/rewards", '{"name": "Zobo", "points": 10, "\\ud800": 1}'),
    ):
        method = api.client.patch if path == "/settings" else api.client.post
        answer = method(f"/api/v1{path}", data=body, headers=api.headers(str(uuid.uuid4()), **{"Content-Type": "application/json"}))
        assert answer.status_code == 400 and answer.get_json()["type"].endswith("not-json"), (path, answer.get_json())
    assert [r["name"] for r in api.get("/rewards").get_json()["data"]] == ["Free Zobo drink", "Jollof rice plate"]
    paired = api.post("/rewards", {"name": "Zobo \U0001F964", "points": 10})  # an emoji: a pair, escaped by the client
    assert paired.status_code == 201 and paired.get_json()["name"] == "Zobo \U0001F964"


def test_a_reward_that_ends_before_it_starts_is_refused(api, db):
    answer = api.post("/rewards", {"name": "Backwards", "points": 1, "valid_from": "2030-01-10", "valid_until": "2030-01-01"})
    assert answer.status_code == 422
    assert answer.get_json()["errors"] == {"valid_until": ["2030-01-01 is not after valid_from 2030-01-10"]}
    assert count(db, Reward, Reward.name == "Backwards") == 0
    assert api.patch("/settings", {"greeting": "Welcome!"}).status_code == 200  # nothing left behind that blocks settings


def test_a_purchase_that_would_earn_more_points_than_one_may_is_a_422_and_writes_nothing(api, db):
    with db.transaction() as session:
        load_tenant(session, tenant_file(points_rules=[{"type": "per_amount_spent", "points": 1_000_000, "per_amount": 1}]))
    answer = api.post("/purchases", {"customer": CUSTOMER, "amount": 300_000})
    assert answer.status_code == 422
    assert answer.get_json()["errors"] == {"amount": [
        "That purchase would earn 3,000,000,000 points, more than one purchase may (1,000,000 points). "
        "Check the amount, or ask the owner to check the points rules."
    ]}
    assert count(db, Purchase) == 0 and count(db, Customer) == 0
