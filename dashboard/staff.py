"""Staff: take someone on, deactivate them, or reset their PIN (they get a WhatsApp message to
choose a new one), through the service STAFF uses by chat."""
from __future__ import annotations

from flask import redirect, render_template, request

from bot.errors import Refused
from dashboard import blueprint
from dashboard.auth import as_owner, claim_form, refuse
from dashboard.forms import bot_says

# What each action's refusals answer with.
_STATUS = {"staff_already": 409, "staff_not_found": 404, "staff_remove_self": 409}


@blueprint.get("/staff")
def staff():
    with as_owner() as services:
        return render_template("dashboard/staff.html", members=services.team.members(), errors={}, form=None)


@blueprint.post("/staff/add")
def add_staff():
    with as_owner() as services:
        team = services.team
        form = claim_form(services)  # a refusal rolls it back: the form fixed may be sent again
        phone, name = team.read_phone(request.form.get("phone", "")), " ".join(request.form.get("name", "").split())
        errors = {}
        if phone is None:
            errors["phone"] = bot_says("staff_bad_phone")
        if not team.valid_name(name):
            errors["name"] = "Please type their name."
        status = 400
        if not errors:
            try:
                team.add(phone, name)
            except Refused as refused:
                errors["phone"], status = bot_says(refused.reason, **refused.params), _STATUS[refused.reason]
        if errors:
            refuse("dashboard/staff.html", status, members=team.members(), errors=errors, form=request.form)
        done = form.went_to("dashboard.staff", "staff_added")
    return redirect(done)


@blueprint.post('/staff/<any(remove, "reset-pin"):action>')
def change_staff(action: str):
    phone = request.form.get("phone", "")
    with as_owner() as services:
        team = services.team
        form = claim_form(services)
        try:
            (team.remove if action == "remove" else team.reset_pin)(phone)
        except Refused as refused:
            refuse(
                "dashboard/staff.html", _STATUS[refused.reason], members=team.members(), errors={}, form=None,
                error=bot_says(refused.reason, **refused.params),
            )
        done = form.went_to("dashboard.staff", "staff_removed" if action == "remove" else "staff_pin_reset")
    return redirect(done)
