"""PROGRAMS: the vendors this phone has joined, and switching between them."""
from __future__ import annotations

from flows.base import Flow, Inbound, Outcome, State, finish, goto, missed, say


def list_programs(state: State, inbound: Inbound, services) -> Outcome:
    memberships = services.memberships.listed()
    lines = [
        say(
            "program_line", number=number, vendor=m.vendor, balance=m.balance,
            current=say("program_current") if m.current else "",
        )
        for number, m in enumerate(memberships, start=1)
    ]
    codes = [m.code for m in memberships]
    return goto(state, "choose", codes=codes), [say("programs", lines=lines)]


def choose_program(state: State, inbound: Inbound, services) -> Outcome:
    codes = state.data["codes"]
    number = inbound.number
    if number is None or not 1 <= number <= len(codes):
        return missed(state), [say("program_choose", count=len(codes))]
    vendor, number_elsewhere = services.memberships.switch_to(codes[number - 1], inbound.to)
    if number_elsewhere:
        return finish(), [say("program_switched_elsewhere", vendor=vendor, number=number_elsewhere)]
    return finish(), [say("program_switched", vendor=vendor)]


PROGRAMS_FLOW = Flow(
    "programs",
    {"start": list_programs, "choose": choose_program},
    triggers=frozenset({"PROGRAMS", "PROGRAMMES", "PROGRAM", "SHOPS"}),
    interrupts=True,
    menu="menu.programs",
)
