"""JOIN <CODE>: enrol with the vendor whose QR code the customer scanned."""
from __future__ import annotations

from flows.base import ANYONE, MENU, Flow, Inbound, Outcome, State, finish, say


def join(state: State, inbound: Inbound, services) -> Outcome:
    enrollment = services.customers.join(inbound.profile_name, inbound.text)
    if not enrollment.created:
        return finish(), [say("already_member", vendor=services.tenant.name, balance=enrollment.balance), MENU]
    replies = [say("welcome", greeting=services.tenant.greeting)]
    if enrollment.bonus:
        replies.append(say("welcome_bonus", points=enrollment.bonus, balance=enrollment.balance))
    return finish(), [*replies, MENU]


JOIN_FLOW = Flow(
    "join",
    {"start": join},
    starts_on=lambda inbound: inbound.vendor_code is not None,
    interrupts=True,
    audience=ANYONE,
)
