"""BAL and HISTORY: what the customer has."""
from __future__ import annotations

from flows.base import Flow, Inbound, Outcome, State, finish, say


def show_balance(state: State, inbound: Inbound, services) -> Outcome:
    balance = services.points.balance()
    replies = [
        say(
            "balance", vendor=services.tenant.name, balance=balance.balance, earned=balance.earned,
            member_code=balance.member_code,
        )
    ]
    if balance.next_expiry_on:
        replies.append(say("balance_expiry", points=balance.next_expiry_points, when=balance.next_expiry_on))
    return finish(), replies


def show_history(state: State, inbound: Inbound, services) -> Outcome:
    lines = services.points.history()
    if not lines:
        return finish(), [say("history_empty")]
    return finish(), [
        say("history", lines=[say("history_line", when=l.when, points=l.points, description=l.description) for l in lines])
    ]


BALANCE_FLOW = Flow(
    "balance", {"start": show_balance}, triggers=frozenset({"BAL", "BALANCE", "POINTS"}), interrupts=True, menu="menu.balance"
)
HISTORY_FLOW = Flow("history", {"start": show_history}, triggers=frozenset({"HISTORY"}), interrupts=True, menu="menu.history")
