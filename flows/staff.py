"""The PIN gate every staff action passes (ask for the PIN unless a session is open, and again
at each answer after it), and PIN: staff choose their own PIN, typed twice (changing one needs
the current one first, even in a session)."""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

from flows.base import STAFF, Flow, Inbound, Outcome, State, Step, finish, goto, missed, say

Advance = Callable[[State, object], Outcome]


def pin_gate(state: State, services, advance: Advance, *, even_in_session: bool = False) -> Outcome:
    """Carry on with `advance` if the staff member's session is open (and the PIN is not asked
    `even_in_session`), else ask for the PIN."""
    locked = services.staff.locked_until()
    if locked:
        return finish(), [say("pin_locked", until=services.local(locked))]
    if services.staff.in_session() and not even_in_session:
        return advance(state, services)
    if not services.staff.has_pin:  # invited, and not chosen yet: asking for it could only fail
        return finish(), [say("pin_not_set")]
    return goto(state, "pin"), [say("pin_prompt", name=services.staff.name)]


def pin_step(advance: Advance) -> Step:
    """The step that reads the PIN (a secret step: its answer is never stored)."""

    def check_pin(state: State, inbound: Inbound, services) -> Outcome:
        check = services.staff.check_pin(inbound.text)
        if check.ok:  # understood: the answers missed before it do not count against the next question
            return advance(replace(state, misses=0), services)
        if check.locked_until:
            return finish(), [say("pin_locked", until=services.local(check.locked_until))]
        if not check.tried:  # "ok", "BACK": no PIN at all, so no guess
            return missed(state), [say("pin_hint")]
        return state, [say("pin_wrong", left=check.attempts_left)]

    return check_pin


def rechecked(act: Step) -> Step:
    """A step after the gate (an answer, a confirmation) passes it again: the staff member may
    have been locked out, or their session may have ended, since the question was asked. Locked:
    refused. Session over: the answer is not read (so no reply tells whether a number in it was
    the PIN), the PIN is asked for, what was answered before is kept, and the question asked again."""

    def gated(state: State, inbound: Inbound, services) -> Outcome:
        return pin_gate(state, services, lambda state, services: act(state, inbound, services))

    return gated


def start_choose_pin(state: State, inbound: Inbound, services) -> Outcome:
    """A PIN is changed with the current one, even in a session: whoever picks up a phone left
    open must not be able to lock its owner out."""
    if services.staff.has_pin:
        return pin_gate(state, services, _ask_new_pin, even_in_session=True)
    return _ask_new_pin(state, services)


def _ask_new_pin(state: State, services) -> Outcome:
    return goto(state, "new_pin"), [say("pin_choose", name=services.staff.name)]


def read_new_pin(state: State, inbound: Inbound, services) -> Outcome:
    draft = services.pins.draft(inbound.text)
    if draft is None:
        return missed(state), [say("pin_rules")]
    return goto(state, "new_pin_again", draft=draft), [say("pin_again")]


def read_new_pin_again(state: State, inbound: Inbound, services) -> Outcome:
    if not services.pins.confirms(state.data["draft"], inbound.text):
        return goto(state, "new_pin", draft=None), [say("pin_mismatch")]
    services.staff.set_own_pin(state.data["draft"], inbound.text)
    return finish(), [say("pin_chosen")]


# Not interrupting: "PIN 482916" sent where the PIN is asked for is an answer, not this command.
PIN_FLOW = Flow(
    "pin",
    {"start": start_choose_pin, "pin": pin_step(_ask_new_pin), "new_pin": read_new_pin, "new_pin_again": read_new_pin_again},
    triggers=frozenset({"PIN"}),
    audience=STAFF,
    secret_steps=frozenset({"pin", "new_pin", "new_pin_again"}),
    chooses_pin=True,
)
