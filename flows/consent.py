"""STOP and START: marketing consent. The bot keeps answering either way."""
from __future__ import annotations

from flows.base import Flow, Inbound, Outcome, State, finish, say


def opt_out(state: State, inbound: Inbound, services) -> Outcome:
    services.customers.opt_out()
    return finish(), [say("opted_out", vendor=services.tenant.name)]


def opt_in(state: State, inbound: Inbound, services) -> Outcome:
    services.customers.opt_in()
    return finish(), [say("opted_in", vendor=services.tenant.name)]


STOP_FLOW = Flow("stop", {"start": opt_out}, triggers=frozenset({"STOP", "UNSUBSCRIBE"}), interrupts=True)
START_FLOW = Flow("start", {"start": opt_in}, triggers=frozenset({"START", "SUBSCRIBE"}), interrupts=True)
CONSENT_WORDS = STOP_FLOW.triggers | START_FLOW.triggers
