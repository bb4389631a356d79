"""Customers: search, one customer with their balance, their ledger, and points adjustments."""
from __future__ import annotations

import uuid

from api.machinery import endpoint
from api.problems import invalid, not_found
from api.schemas import (
    AdjustmentIn, AdjustmentSchema, CustomerDetailSchema, CustomerQuery, CustomerSchema, LedgerEntrySchema, PageQuery,
    page_of,
)
from bot.services.points import NotEnoughPoints


@endpoint("GET", "/customers", scope="customers", summary="List customers, newest first, or find one by phone or member code",
          query=CustomerQuery, response=page_of(CustomerSchema, "CustomerPage"), problems=(422,))
def list_customers(services, query):
    who = None
    if query["q"] is not None:
        who = services.purchases.read_customer(query["q"])  # as staff name a customer in LOG
        if who is None:
            raise invalid({"q": ["not a phone number, nor one of this vendor's member codes"]})
    return services.customers.members(who, query["cursor"], query["limit"])


@endpoint("GET", "/customers/<uuid:customer_id>", scope="customers", summary="One customer, with their balance",
          response=CustomerDetailSchema, problems=(404,))
def get_customer(services, customer_id: uuid.UUID):
    _choose(services, customer_id, lock=True)
    balance = services.points.balance()  # expires what is due first, as BAL does
    member = services.customers.member(customer_id)
    expiry = {"points": balance.next_expiry_points, "on": balance.next_expiry_on} if balance.next_expiry_on else None
    return {**vars(member), "next_expiry": expiry}


@endpoint("GET", "/customers/<uuid:customer_id>/ledger", scope="customers", summary="A customer's points ledger, newest first",
          query=PageQuery, response=page_of(LedgerEntrySchema, "LedgerPage"), problems=(404, 422))
def get_ledger(services, customer_id: uuid.UUID, query):
    _choose(services, customer_id, lock=False)
    return services.points.ledger(query["cursor"], query["limit"])


@endpoint("POST", "/customers/<uuid:customer_id>/adjustments", scope="points",
          summary="Add or take away points by hand, with a reason (the customer is told)",
          body=AdjustmentIn, response=AdjustmentSchema, status=201, problems=(404, 422))
def adjust_points(services, customer_id: uuid.UUID, body):
    _choose(services, customer_id, lock=True)
    try:
        adjusted = services.points.adjust(body["points"], body["reason"])
    except NotEnoughPoints:
        raise invalid({"points": ["more than the customer's points that can be spent"]}) from None
    return {**vars(adjusted), "customer_id": customer_id}


def _choose(services, customer_id: uuid.UUID, lock: bool) -> None:
    if services.customers.choose(customer_id, lock) is None:
        raise not_found("customer")
