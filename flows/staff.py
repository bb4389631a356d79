"""The PIN gate every staff action passes: ask for the PIN unless a session is open, and check
again when the action is confirmed."""
from __future__ import annotations

from typing import Callable

from flows.base import Inbound, Outcome, State, Step, finish, goto, say

Advance = Callable[[State, object], Outcome]


def pin_gate(state: State, services, advance: Advance) -> Outcome:
    """Carry on with `advance` if the staff member's session is open, else ask for the PIN."""
    locked = services.staff.locked_until()
    if locked:
        return finish(), [say("pin_locked", until=services.local(locked))]
    if services.staff.in_session():
        return advance(state, services)
    return goto(state, "pin"), [say("pin_prompt", name=services.staff.name)]


def pin_step(advance: Advance) -> Step:
    """The step that reads the PIN (a secret step: its answer is never stored)."""

    def check_pin(state: State, inbound: Inbound, services) -> Outcome:
        check = services.staff.check_pin(inbound.text)
        if check.ok:
            return advance(state, services)
        if check.locked_until:
            return finish(), [say("pin_locked", until=services.local(check.locked_until))]
        return state, [say("pin_wrong", left=check.attempts_left)]

    return check_pin


def rechecked(act: Step) -> Step:
    """A step that acts on a confirmation: the staff member may have been locked out, or their
    session may have ended, since the question was asked. Locked: refused. Session over: the PIN
    is asked again, the pending action kept, and the question asked again after it."""

    def confirm(state: State, inbound: Inbound, services) -> Outcome:
        locked = services.staff.locked_until()
        if locked:
            return finish(), [say("pin_locked", until=services.local(locked))]
        if not services.staff.in_session():
            return goto(state, "pin"), [say("pin_again", name=services.staff.name)]
        return act(state, inbound, services)

    return confirm
