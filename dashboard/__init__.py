"""The owner's dashboard at /dashboard/: server-rendered pages over the same services the flows
call, signed in from WhatsApp (DASHBOARD). Like webhooks/, it translates HTTP and holds no
business rule."""
from __future__ import annotations

from flask import Blueprint, Flask, current_app

blueprint = Blueprint(
    "dashboard", __name__, url_prefix="/dashboard", template_folder="templates", static_folder="static",
)

# The menu, in this order: an entry shows once its view is on this blueprint.
NAV = (
    ("overview", "Today"), ("customers", "Customers"), ("rewards", "Rewards"), ("codes", "Codes"),
    ("broadcasts", "Broadcasts"), ("staff", "Staff"), ("poster", "QR poster"), ("audit", "Audit log"),
)


def menu() -> list[tuple[str, str]]:
    return [(f"dashboard.{name}", label) for name, label in NAV if f"dashboard.{name}" in current_app.view_functions]


def register(app: Flask) -> None:
    from dashboard import auth, broadcasts, customers, pages, rewards, staff  # noqa: F401  (their routes join the blueprint)

    app.register_blueprint(blueprint)
