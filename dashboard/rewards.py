"""Rewards (stock and details) and reward codes (verify, hand over, cancel), through the same
services as the tenant file and staff VERIFY."""
from __future__ import annotations

import uuid

from flask import abort, redirect, render_template, request, url_for

from bot.errors import Refused
from bot.services.tenant_file import TenantFileError
from dashboard import blueprint
from dashboard.auth import as_owner, refuse
from dashboard.forms import bot_says, whole_number


@blueprint.get("/rewards")
def rewards():
    with as_owner() as services:
        return render_template("dashboard/rewards.html", rewards=services.backoffice.rewards())


@blueprint.get("/rewards/<uuid:reward_id>")
def reward(reward_id: uuid.UUID):
    with as_owner() as services:
        found = services.backoffice.reward(reward_id)
        if found is None:
            abort(404)
        return render_template("dashboard/reward.html", reward=found, errors={}, form=None)


@blueprint.post("/rewards/<uuid:reward_id>")
def save_reward(reward_id: uuid.UUID):
    errors: dict[str, str] = {}
    changes = {
        "points": whole_number(errors, "points"),
        "stock": whole_number(errors, "stock", required=False),
        "max_per_customer": whole_number(errors, "max_per_customer", required=False),
        "description": request.form.get("description", "").strip() or None,
        "active": request.form.get("active") == "on",
    }
    with as_owner() as services:
        found = services.backoffice.reward(reward_id)
        if found is None:
            abort(404)
        if not errors:
            try:
                services.settings.update_reward(reward_id, changes)
            except TenantFileError as error:
                errors = {line.partition(":")[0]: line.partition(": ")[2] for line in error.lines}
        if errors:
            refuse("dashboard/reward.html", 400, reward=found, errors=errors, form=request.form)
    return redirect(url_for("dashboard.rewards", done="reward_saved"))


@blueprint.get("/codes")
def codes():
    typed = request.args.get("code", "").strip()[:40]
    with as_owner() as services:
        found = services.rewards.find_code(typed) if typed else None
        page = render_template(
            "dashboard/codes.html", typed=typed, found=found, waiting=services.rewards.waiting_codes(), now=services.now,
        )
        return page, 404 if typed and found is None else 200


@blueprint.post("/codes/<token:code>/<any(fulfil, cancel):action>")
def act_on_code(code: str, action: str):
    with as_owner() as services:
        found = services.rewards.find_code(code)  # another vendor's code is as unknown as a wrong one
        if found is None:
            abort(404)
        try:
            (services.rewards.fulfil if action == "fulfil" else services.rewards.cancel)(found.id)
        except Refused as refused:
            refuse(
                "dashboard/codes.html", 409, typed=found.code, found=found, waiting=services.rewards.waiting_codes(),
                now=services.now, error=bot_says(refused.reason, **refused.params),
            )
    done = "redemption_fulfilled" if action == "fulfil" else "redemption_cancelled"
    return redirect(url_for("dashboard.codes", code=found.code, done=done))
