"""The vocabulary of conversation flows.

A flow is a table of small step functions ``(state, inbound, services) -> (new state, replies)``.
Steps never touch Flask, SQLAlchemy or twilio: they read the inbound message, ask the services,
and answer with catalog messages (`Msg`) that the dispatcher renders in the customer's language.
`Inbound`, `Msg` and `say` live in bot/messages.py, `Refused` in bot/errors.py, below flows and services alike.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Callable, Mapping

from bot.errors import Refused
from bot.messages import Inbound, Msg, say  # noqa: F401  (re-exported: the flows import their vocabulary from here)

# Stands for the vendor's main menu in a reply; the engine fills it in.
MENU = Msg("menu")


def refusal(refused: Refused, **params: Any) -> Msg:
    """The answer to a service's refusal: its reason is the catalog key."""
    return say(refused.reason, **{**params, **refused.params})


@dataclass(frozen=True)
class State:
    """Where a conversation is: the flow and step awaiting an answer, their scratch data,
    how many answers in a row were not understood, and when it last moved."""

    flow: str | None = None
    step: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    misses: int = 0
    updated_at: datetime | None = None

    @property
    def idle(self) -> bool:
        return self.flow is None

    def to_json(self) -> dict:
        return {
            "flow": self.flow,
            "step": self.step,
            "data": dict(self.data),
            "misses": self.misses,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }

    @classmethod
    def from_json(cls, raw: Mapping | None) -> "State":
        if not raw:
            return cls()
        stamp = raw.get("updated_at")
        return cls(
            flow=raw.get("flow"),
            step=raw.get("step"),
            data=raw.get("data") or {},
            misses=raw.get("misses", 0),
            updated_at=datetime.fromisoformat(stamp) if stamp else None,
        )


Replies = list[Msg]
Outcome = tuple[State, Replies]
Step = Callable[[State, Inbound, Any], Outcome]


def goto(state: State, step: str, **data: Any) -> State:
    """Move to `step` of the current flow, keeping and adding scratch data."""
    return replace(state, step=step, data={**state.data, **data}, misses=0)


def finish() -> State:
    """The flow is over: back to the menu level."""
    return State()


def missed(state: State) -> State:
    """The answer was not understood; the step stays put and the miss is counted."""
    return replace(state, misses=state.misses + 1)


def confirmed(on_yes: Step, on_no: str = "cancelled") -> Step:
    """The step answering "1. Confirm / 2. Cancel": 2 cancels (answered with the catalog key
    `on_no`), 1 runs `on_yes`, anything else is a miss with a hint."""

    def confirm(state: State, inbound: Inbound, services) -> Outcome:
        if inbound.number == 2:
            return finish(), [say(on_no)]
        if inbound.number != 1:
            return missed(state), [say("confirm_hint")]
        return on_yes(state, inbound, services)

    return confirm


def after_command(text: str, *commands: str) -> str:
    """The text without the command word it starts with (`LOG 0803 123 4567 15000` -> what to log)."""
    return re.sub(rf"^\W*({'|'.join(commands)})\b", "", text, flags=re.IGNORECASE)


# Who may use a flow: members of the vendor's programme, its staff, either, or anyone at all.
MEMBERS, STAFF, KNOWN, ANYONE = "members", "staff", "known", "anyone"


@dataclass(frozen=True)
class Flow:
    """A conversation flow.

    `triggers` are the words that start it (HELP, BAL...). A flow that `interrupts` starts
    even in the middle of another flow (the global commands); others only from the menu level.
    `starts_on` is a further test on the inbound message. `menu` is the catalog key of its
    entry in the numbered main menu, if it has one. `audience` says who may use it; staff
    flows are invisible to everyone else. The answers to `secret_steps` (a PIN) are never
    stored or logged, nor, for a flow whose steps choose a PIN (`chooses_pin`), the message
    that names it when it holds 4-8 digits (`PIN 582931`). At `number_steps` a number is the
    answer ("0" too, not the MENU shortcut). A flow whose command may name a customer's phone
    (`LOG 0803 123 4567 15000`) says which with `names_phone(inbound, read_phone)`, before any
    look-up, so that the dispatcher's first query reads that member for the flow's look-up.
    Every flow has a ``start`` step."""

    name: str
    steps: Mapping[str, Step]
    triggers: frozenset[str] = frozenset()
    interrupts: bool = False
    starts_on: Callable[[Inbound], bool] | None = None
    menu: str | None = None
    audience: str = MEMBERS
    secret_steps: frozenset[str] = frozenset()
    chooses_pin: bool = False
    number_steps: frozenset[str] = frozenset()
    names_phone: Callable[[Inbound, Callable[[str], str | None]], str | None] | None = None

    def __post_init__(self):
        if "start" not in self.steps:
            raise ValueError(f"flow {self.name} has no start step")

    def triggered_by(self, inbound: Inbound) -> bool:
        if self.starts_on is not None and self.starts_on(inbound):
            return True
        return bool(self.triggers) and mentions_command(inbound.words, self.triggers)


# A command is recognised as the first word ("help me"), or anywhere in a short message
# ("ok stop", "please help!") unless it is negated ("don't stop"); a longer sentence only
# counts when it starts with it.
_SHORT_MESSAGE_WORDS = 3
_NEGATIONS = frozenset({"DON", "DONT", "NOT", "NO", "NEVER"})


def mentions_command(words: tuple[str, ...], commands: frozenset[str]) -> bool:
    if not words:
        return False
    if words[0] in commands:
        return True
    return (
        len(words) <= _SHORT_MESSAGE_WORDS
        and any(word in commands for word in words)
        and not _NEGATIONS.intersection(words)
    )
