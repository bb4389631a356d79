"""DASHBOARD: the owner gets a one-time link to their dashboard in the browser, after the PIN gate."""
from __future__ import annotations

from dataclasses import replace

from flows.base import STAFF, Flow, Inbound, Outcome, State, finish, say
from flows.staff import pin_gate, pin_step


def start_dashboard(state: State, inbound: Inbound, services) -> Outcome:
    if not services.staff.is_owner:
        return finish(), [say("dashboard_owner_only")]
    return pin_gate(state, services, _send_link)


def _send_link(state: State, services) -> Outcome:
    link = say("dashboard_link", link=services.dashboard.link(), minutes=services.dashboard.valid_minutes)
    return finish(), [replace(link, secret=True)]  # the message log must not keep a usable link


DASHBOARD_FLOW = Flow(
    "dashboard",
    {"start": start_dashboard, "pin": pin_step(_send_link)},
    triggers=frozenset({"DASHBOARD"}),
    interrupts=True,
    audience=STAFF,
    secret_steps=frozenset({"pin"}),
)
