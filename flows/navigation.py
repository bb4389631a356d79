"""MENU, CANCEL and HELP: ways back that work from anywhere."""
from __future__ import annotations

from flows.base import KNOWN, MENU, Flow, Inbound, Outcome, State, finish, say


def show_menu(state: State, inbound: Inbound, services) -> Outcome:
    return finish(), [MENU]


def cancel(state: State, inbound: Inbound, services) -> Outcome:
    return finish(), [say("cancelled") if state.data.get("interrupted") else say("nothing_to_cancel"), MENU]


def show_help(state: State, inbound: Inbound, services) -> Outcome:
    replies = [say("help", vendor=services.tenant.name)] if services.member else []
    if services.is_staff:
        replies.append(say("help_staff", vendor=services.tenant.name))
        if services.staff.is_owner:
            replies.append(say("help_owner"))
    return finish(), replies


MENU_FLOW = Flow(
    "menu", {"start": show_menu}, triggers=frozenset({"MENU", "HI", "HELLO", "HEY", "0"}), interrupts=True, audience=KNOWN
)
CANCEL_FLOW = Flow(
    "cancel", {"start": cancel}, triggers=frozenset({"CANCEL", "QUIT", "EXIT"}), interrupts=True, audience=KNOWN
)
HELP_FLOW = Flow(
    "help", {"start": show_help}, triggers=frozenset({"HELP", "INFO"}), interrupts=True, menu="menu.help", audience=KNOWN
)
