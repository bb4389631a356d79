"""The conversation engine: picks the flow and step for an inbound message and runs it.

Pure: it sees the state, the message and the services, never the database or HTTP."""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Callable, Sequence

from bot import pins
from bot.messages import Inbound, Msg, say
from flows.base import ANYONE, KNOWN, MEMBERS, MENU, STAFF, Flow, Outcome, Replies, State, finish, missed

IDLE_TIMEOUT = timedelta(minutes=30)
MAX_MISSES = 3
# An answer that is a number, with a currency sign or a k/m maybe: "0", "0.001", "-200", "₦15,000", "15k".
_NUMBER = re.compile(r"[^\w\s]*\s*[\d.,\s]*\d[\d.,\s]*[KkMm]?")


def may_use(flow: Flow, services) -> bool:
    return {
        ANYONE: True,
        KNOWN: services.member or services.is_staff,
        MEMBERS: services.member,
        STAFF: services.is_staff,
    }[flow.audience]


def may_carry_pin(flow: Flow | None, state: State, inbound: Inbound) -> bool:
    """Whether the message may carry a PIN: the answer to a PIN question of `flow` (the flow
    the state is in), or anything that looks like one (no customer answer is 4 to 8 bare
    digits, and a PIN sent to the wrong conversation must not be kept either)."""
    if flow is not None and flow.name == state.flow and state.step in flow.secret_steps:
        return True
    return pins.PIN_LIKE.fullmatch(inbound.text) is not None


def names_pin_choice(flows: Sequence[Flow], inbound: Inbound) -> bool:
    """Whether the message names a flow that chooses a PIN with digits that may be that PIN
    (`PIN 582931`): not the sender's PIN yet, so nothing else would hide it."""
    return pins.PIN_RUN.search(inbound.text) is not None and any(
        flow.chooses_pin and flow.triggered_by(inbound) for flow in flows
    )


def _fresh(flow: Flow, interrupted: str | None) -> State:
    """The state a flow starts in; it knows which flow, if any, it cut short."""
    return State(flow=flow.name, step="start", data={"interrupted": interrupted} if interrupted else {})


class Engine:
    def __init__(self, flows: Sequence[Flow], main_menu: Sequence[Flow]):
        self.flows = list(flows)
        self.by_name = {flow.name: flow for flow in flows}
        # The flows a sender may start, by whether they are staff: staff flows exist only for staff.
        self._startable = {True: tuple(flows), False: tuple(flow for flow in flows if flow.audience != STAFF)}
        self.main_menu = list(main_menu)
        self._named_by = tuple(flow for flow in flows if flow.names_phone is not None)

    def handle(self, state: State, inbound: Inbound, services, now: datetime) -> Outcome:
        notices: Replies = []
        if not state.idle and state.updated_at and now - state.updated_at > IDLE_TIMEOUT:
            state, notices = State(), [say("session_expired")]
        routed = self._routed(state, inbound)  # after the reset: a PIN question timed out masks nothing
        if inbound.truncated:
            notices.append(say("truncated", limit=len(inbound.text)))
        state, replies = self._route(state, inbound, routed, services)
        if state.misses >= MAX_MISSES:
            state, replies = State(), [say("too_many_misses"), MENU]
        return replace(state, updated_at=now), [self._fill_menu(reply, services) for reply in notices + replies]

    def is_secret(self, state: State, inbound: Inbound, services) -> bool:
        """Whether the message must be stored redacted: it may carry a PIN (`may_carry_pin`), it
        may carry a PIN being chosen (`names_pin_choice`), or it is a staff message with the
        sender's PIN anywhere in it."""
        return (
            may_carry_pin(self._flow_of(state), state, inbound)
            or names_pin_choice(self.flows, inbound)
            or (services.is_staff and services.staff.hide_pin(inbound.text) != inbound.text)
        )

    def named_phone(self, inbound: Inbound, read_phone: Callable[[str], str | None]) -> str | None:
        """The customer's phone the command names (Flow.names_phone), read with `read_phone`; None
        if it names none. Read before the sender, or whether they may use the flow, is known:
        only a look-up the flow then makes uses what it finds."""
        flow = next((flow for flow in self._named_by if flow.triggered_by(inbound)), None)
        return None if flow is None else flow.names_phone(inbound, read_phone)

    def _flow_of(self, state: State) -> Flow | None:
        return self.by_name.get(state.flow) if state.flow else None

    def _asks_pin(self, state: State) -> bool:
        flow = self._flow_of(state)
        return flow is not None and state.step in flow.secret_steps

    def _routed(self, state: State, inbound: Inbound) -> Inbound:
        """The message as routing reads it: as sent, or, while a PIN is asked for, with every run
        of 4-8 digits masked (only the PIN step reads the answer as sent). Never masked by
        whether a run is the sender's PIN: the reply to `1 731205` or `LANG 731205` would then
        tell whether 731205 is the PIN, a guess with no lockout."""
        if not self._asks_pin(state):
            return inbound
        text = pins.mask(inbound.text, lambda run: True)
        return inbound if text == inbound.text else replace(inbound, text=text)

    def _read_by(self, flow: Flow | None, routed: Inbound, services) -> Inbound:
        """The message as a step of `flow` reads it. Staff flows read it with the sender's PIN
        masked wherever it is, so none of them keeps it in its state, takes it for an amount, a
        phone or a code, or repeats it; each asks for the PIN before it answers anything else,
        so a staff member without a session gets the same reply whether a number was the PIN or
        not. The other flows take no 4-8 digit number, and read the message as routing did."""
        if flow is None or flow.audience != STAFF or not services.is_staff:
            return routed
        text = services.staff.hide_pin(routed.text)
        return routed if text == routed.text else replace(routed, text=text)

    def _route(self, state: State, inbound: Inbound, routed: Inbound, services) -> Outcome:
        if not routed.text.strip():
            return state, [say("media_ignored" if inbound.media else "empty_message")]
        flow = None if self._takes_number(state, routed) else self._triggered(state, routed, services)
        if flow is not None and may_use(flow, services):
            return flow.steps["start"](_fresh(flow, interrupted=state.flow), self._read_by(flow, routed, services), services)
        if flow is not None or not (services.member or services.is_staff):
            return state, [say("not_member", vendor=services.tenant.name, code=services.tenant.code)]
        if state.idle:
            return missed(state), [say("not_understood")]
        if self._asks_pin(state):
            return self._continue(state, inbound, services)
        return self._continue(state, self._read_by(self._flow_of(state), routed, services), services)

    def _takes_number(self, state: State, inbound: Inbound) -> bool:
        """A step asking for a number reads one as its answer: there "0" is an amount, not MENU."""
        flow = self._flow_of(state)
        return flow is not None and state.step in flow.number_steps and _NUMBER.fullmatch(inbound.text.strip()) is not None

    def _triggered(self, state: State, inbound: Inbound, services) -> Flow | None:
        """A global command always; otherwise, at the menu level, a keyword or a menu number.
        Staff flows exist only for staff."""
        flows = self._startable[services.is_staff]
        for flow in flows:
            if flow.interrupts and flow.triggered_by(inbound):
                return flow
        if not state.idle:
            return None
        menu = self._menu_for(services)
        number = inbound.number
        if number is not None and 1 <= number <= len(menu):
            return menu[number - 1]
        return next((flow for flow in flows if flow.triggered_by(inbound)), None)

    def _menu_for(self, services) -> list[Flow]:
        return [flow for flow in self.main_menu if may_use(flow, services)]

    def _continue(self, state: State, inbound: Inbound, services) -> Outcome:
        flow = self.by_name.get(state.flow)
        step = flow.steps.get(state.step) if flow else None
        if step is None:  # the flow changed under a saved conversation: start over
            return finish(), [MENU]
        return step(state, inbound, services)

    def _fill_menu(self, reply: Msg, services) -> Msg:
        if reply != MENU:
            return reply
        menu = self._menu_for(services)
        items = [say("menu_item", number=n, label=say(flow.menu)) for n, flow in enumerate(menu, start=1)]
        return say("menu", vendor=services.tenant.name, items=items)
