"""Staff: take someone on, deactivate them, or reset their PIN (they get a WhatsApp message to
choose a new one), through the service STAFF uses by chat."""
from __future__ import annotations

from flask import redirect, render_template, request, url_for

from dashboard import blueprint
from dashboard.auth import as_owner, refuse
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
        phone, name = team.read_phone(request.form.get("phone", "")), " ".join(request.form.get("name", "").split())
        errors = {}
        if phone is None:
            errors["phone"] = bot_says("staff_bad_phone")
        if not team.valid_name(name):
            errors["name"] = "Please type their name."
        outcome = team.add(phone, name) if not errors else None
        if outcome == "staff_already":
            errors["phone"] = bot_says(outcome, phone=phone)
        if errors:
            refuse("dashboard/staff.html", _STATUS.get(outcome, 400), members=team.members(), errors=errors, form=request.form)
    return redirect(url_for("dashboard.staff", done=outcome))


@blueprint.post('/staff/<any(remove, "reset-pin"):action>')
def change_staff(action: str):
    phone = request.form.get("phone", "")
    with as_owner() as services:
        team = services.team
        outcome = team.remove(phone) if action == "remove" else team.reset_pin(phone)
        if outcome in _STATUS:
            refuse(
                "dashboard/staff.html", _STATUS[outcome], members=team.members(), errors={}, form=None,
                error=bot_says(outcome, phone=phone),
            )
    return redirect(url_for("dashboard.staff", done=outcome))
