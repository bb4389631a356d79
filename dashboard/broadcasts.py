"""Broadcasts: the list with their figures, composing one with a live preview of who it reaches,
and a broadcast's page with its stats and its moves (launch, pause, resume, cancel), through the
broadcast services the command line and the API call."""
from __future__ import annotations

import uuid

from flask import abort, redirect, render_template, request, url_for

from bot.services.broadcast_file import MAX_TEXT, VARIABLES, BroadcastFileError
from bot.services.broadcasts import REASONS, BroadcastError
from bot.services.pages import BadCursor
from dashboard import blueprint
from dashboard.auth import as_owner, claim_form, refuse
from dashboard.forms import whole_number

PAGE = 20
# The segment's whole-number fields, as the form and the broadcast file name them.
SEGMENT_NUMBERS = ("min_points", "max_points", "inactive_days", "active_within_days", "joined_within_days", "spent_within_days")


@blueprint.get("/broadcasts")
def broadcasts():
    with as_owner() as services:
        try:
            page = services.broadcasts.listed(request.args.get("cursor"), PAGE)
        except BadCursor:
            abort(404)
        rows = [(broadcast, services.broadcasts.stats(broadcast.id)) for broadcast in page.data]
        return render_template("dashboard/broadcasts.html", rows=rows, next_cursor=page.next_cursor)


@blueprint.get("/broadcasts/new")
def compose():
    with as_owner() as services:
        return _compose_page(services)


@blueprint.post("/broadcasts/new")
def create_broadcast():
    """Save the draft, or (the Preview button, without JavaScript) show who it would reach."""
    errors: dict[str, str] = {}
    raw = _definition(errors)
    with as_owner() as services:
        try:
            if not errors and request.form.get("action") == "preview":
                return _compose_page(services, preview=services.broadcasts.preview(services.broadcasts.definition(raw)))
            form = claim_form(services)
            if not errors:
                created = services.broadcasts.create(services.broadcasts.definition(raw))
        except BroadcastFileError as error:
            errors = _field_errors(error)
        if errors:
            refuse("dashboard/compose.html", 400, **_compose_context(services, errors=errors))
        done = form.went_to("dashboard.broadcast", "broadcast_saved", broadcast_id=created.id)
    return redirect(done)


@blueprint.post("/broadcasts/preview")
def preview_broadcast():
    """The live preview (static/compose.js posts the form as the owner types): the counts and
    samples as a piece of the page, or what to fix first."""
    errors: dict[str, str] = {}
    raw = _definition(errors)
    with as_owner() as services:
        preview = None
        if not errors:
            try:
                preview = services.broadcasts.preview(services.broadcasts.definition(raw))
            except BroadcastFileError as error:
                errors = _field_errors(error)
        return render_template("dashboard/_preview.html", preview=preview, errors=errors, reasons=REASONS)


@blueprint.get("/broadcasts/<uuid:broadcast_id>")
def broadcast(broadcast_id: uuid.UUID):
    with as_owner() as services:
        return _broadcast_page(services, broadcast_id)


@blueprint.post("/broadcasts/<uuid:broadcast_id>/<any(launch, pause, resume, cancel):move>")
def move_broadcast(broadcast_id: uuid.UUID, move: str):
    with as_owner() as services:
        if services.broadcasts.find(broadcast_id) is None:
            abort(404)
        try:
            status = services.broadcasts.move(broadcast_id, move).broadcast.status
        except BroadcastError as error:
            _broadcast_page(services, broadcast_id, error=str(error), status=409)
    return redirect(url_for("dashboard.broadcast", broadcast_id=broadcast_id, done=f"broadcast_{status}"))


def _broadcast_page(services, broadcast_id: uuid.UUID, error: str | None = None, status: int = 200):
    """A broadcast, its stats and its buttons; with `error`, it answers a refused move."""
    found = services.broadcasts.find(broadcast_id)  # another vendor's is as unknown as a wrong id
    if found is None:
        abort(404)
    page = {
        "broadcast": found, "stats": services.broadcasts.stats(broadcast_id), "moves": services.broadcasts.moves(found),
        "reach": services.broadcasts.reach(found) if found.status in ("draft", "scheduled") else None,
        "reasons": REASONS, "now": services.now, "error": error,
    }
    if error:
        refuse("dashboard/broadcast.html", status, **page)
    return render_template("dashboard/broadcast.html", **page)


def _compose_context(services, **page) -> dict:
    tiers = [tier["name"] for tier in services.settings.view().get("tiers", [])]
    return {
        "tiers": tiers, "variables": VARIABLES, "max_text": MAX_TEXT, "form": request.form, "errors": {}, "preview": None,
        "reasons": REASONS, **page,
    }


def _compose_page(services, **page):
    return render_template("dashboard/compose.html", **_compose_context(services, **page))


def _definition(errors: dict) -> dict:
    """The compose form as a broadcast definition (the file's shape); its numbers read here, the
    rest checked by the broadcast service."""
    form = request.form
    segment = {name: whole_number(errors, name, required=False) for name in SEGMENT_NUMBERS}
    segment["tiers"] = form.getlist("tiers") or None
    segment["min_spent"] = form.get("min_spent", "").strip().replace(",", "") or None  # major units, as in the file
    quiet = [form.get("quiet_start", "").strip(), form.get("quiet_end", "").strip()]
    return {
        "name": form.get("name", "").strip(), "text": form.get("text", "").strip(),
        "segment": {name: value for name, value in segment.items() if value is not None},
        "send_at": form.get("send_at", "").strip() or None, "quiet_hours": quiet if any(quiet) else None,
    }


def _field_errors(error: BroadcastFileError) -> dict[str, str]:
    """The service's errors by the form's fields: a segment's fields are the form's own."""
    errors: dict[str, str] = {}
    for line in error.lines:  # "segment.min_points: ...", "quiet_hours.1: ..."
        path, _, message = line.partition(": ")
        parts = path.split(".")
        name = parts[1] if parts[0] == "segment" and len(parts) > 1 else parts[0]
        errors.setdefault(name, message)
    return errors
