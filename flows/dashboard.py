"""DASHBOARD: the owner gets a one-time link to their dashboard in the browser, after the PIN gate."""
from __future__ import annotations

from dataclasses import replace

from flows.base import STAFF, Flow, Inbound, Outcome, Refused, State, finish, goto, refusal, say
from flows.staff import pin_gate, pin_step


def start_dashboard(state: State, inbound: Inbound, services) -> Outcome:
    if not services.staff.is_owner:
        return finish(), [say("dashboard_owner_only")]
    # The link names its vendor, and the owner's other vendors on this number how to get theirs.
    state = goto(state, state.step, written_to=inbound.to)
    return pin_gate(state, services, _send_link)


def _send_link(state: State, services) -> Outcome:
    try:
        url = services.dashboard.link()
    except Refused as refused:  # no longer the owner since the PIN was asked
        return finish(), [refusal(refused)]
    link = say("dashboard_link", vendor=services.tenant.name, link=url, minutes=services.dashboard.valid_minutes)
    replies = [replace(link, secret=True)]  # the message log must not keep a usable link
    # No number in a conversation whose PIN was asked before the number was kept.
    others = services.dashboard.other_shops(state.data.get("written_to"))
    if others:
        lines = [say("dashboard_other_shop", code=shop.code, vendor=shop.name) for shop in others]
        replies.append(say("dashboard_other_shops", lines=lines))
    return finish(), replies


DASHBOARD_FLOW = Flow(
    "dashboard",
    {"start": start_dashboard, "pin": pin_step(_send_link)},
    triggers=frozenset({"DASHBOARD"}),
    interrupts=True,
    audience=STAFF,
    secret_steps=frozenset({"pin"}),
)
