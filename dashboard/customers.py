"""Customers: search, one customer's file, and adjusting their points with a reason."""
from __future__ import annotations

import uuid

from flask import abort, redirect, render_template, request

from bot.messages import has_control_characters
from bot.services.points import NotEnoughPoints
from dashboard import blueprint
from dashboard.auth import as_owner, claim_form, refuse
from dashboard.forms import whole_number

MAX_ADJUSTMENT = 1_000_000
MAX_REASON = 200


@blueprint.get("/customers")
def customers():
    query = request.args.get("q", "")[:100]
    with as_owner() as services:
        found = services.backoffice.find_customers(query)
        return render_template("dashboard/customers.html", query=query, found=found)


@blueprint.get("/customers/<uuid:customer_id>")
def customer(customer_id: uuid.UUID):
    with as_owner() as services:
        return _customer_page(services, customer_id)


@blueprint.post("/customers/<uuid:customer_id>/adjust")
def adjust(customer_id: uuid.UUID):
    errors: dict[str, str] = {}
    points = whole_number(errors, "points")
    if points is not None and not (0 < abs(points) <= MAX_ADJUSTMENT):
        errors["points"] = f"Type a number of points from 1 to {MAX_ADJUSTMENT:,}, with a minus to take points away."
    reason = " ".join(request.form.get("reason", "").split())
    if not reason or len(reason) > MAX_REASON or has_control_characters(reason):
        errors["reason"] = f"Say why, in at most {MAX_REASON} characters: the customer will read it."
    with as_owner() as services:
        if services.backoffice.customer(customer_id, lock=True) is None:
            abort(404)
        form = claim_form(services)
        if not errors:
            try:
                services.points.adjust(points, reason)
            except NotEnoughPoints:
                errors["points"] = "They don't have that many points to take away."
        if errors:
            _customer_page(services, customer_id, errors=errors, status=400)
        done = form.went_to("dashboard.customer", "adjusted", customer_id=customer_id)
    return redirect(done)


def _customer_page(services, customer_id: uuid.UUID, errors: dict | None = None, status: int = 200):
    """The customer's file; with `errors`, it answers a refused form (and nothing is kept)."""
    row = services.backoffice.customer(customer_id)
    if row is None:
        abort(404)
    page = {
        "row": row, "balance": services.points.balance(), "history": services.points.history(limit=30),
        "purchases": services.backoffice.purchases(), "codes": services.rewards.pending_codes(),
        "errors": errors or {}, "form": request.form,
    }
    if errors:
        refuse("dashboard/customer.html", status, **page)
    return render_template("dashboard/customer.html", **page)
