"""Purchases: logged exactly as staff LOG them (the customer is notified), and voided."""
from __future__ import annotations

import uuid

from api.machinery import endpoint
from api.problems import conflict, invalid, not_found
from api.schemas import PurchaseIn, PurchaseSchema, VoidedPurchaseSchema
from bot.catalog import render
from bot.errors import Refused
from bot.messages import say
from bot.money import AmountError


@endpoint("POST", "/purchases", scope="purchases",
          summary="Log a purchase for a phone or member code: points by the vendor's rules, the customer told",
          body=PurchaseIn, response=PurchaseSchema, status=201, problems=(422,))
def log_purchase(services, body):
    purchases = services.purchases
    who = purchases.read_customer(body["customer"])
    errors = {} if who else {"customer": ["not a phone number, nor one of this vendor's member codes"]}
    try:
        amount = purchases.check_amount(body["amount"])
    except AmountError as error:
        errors["amount"] = [render(say(error.reason, maximum=purchases.maximum))]
    if errors:
        raise invalid(errors)
    try:
        logged = purchases.log(who, amount)
    except Refused as refused:  # it would earn more points than a purchase may
        raise invalid({"amount": [render(say(refused.reason, **refused.params))]}) from None
    return {
        "id": logged.purchase_id, "customer_id": logged.customer_id, "amount": logged.amount.minor,
        "points": logged.points, "balance_after": logged.balance, "created_at": logged.created_at,
    }


@endpoint("POST", "/purchases/<uuid:purchase_id>/void", scope="purchases",
          summary="Void a purchase (within 15 minutes, unless its points were spent): its points are taken back",
          response=VoidedPurchaseSchema, problems=(404, 409))
def void_purchase(services, purchase_id: uuid.UUID):
    purchase = services.purchases.get(purchase_id)
    if purchase is None:
        raise not_found("purchase")
    try:
        services.purchases.void(purchase_id)
    except Refused as refused:
        raise conflict(refused) from None
    member = services.customers.member(purchase.customer_id)
    return {
        "id": purchase.id, "customer_id": purchase.customer_id, "amount": purchase.amount, "points": purchase.points_awarded,
        "balance_after": member.balance, "created_at": purchase.created_at, "status": purchase.status,
        "voided_at": purchase.voided_at,
    }
