"""JOIN <CODE>: enrol with the vendor whose QR code the customer scanned."""
from __future__ import annotations

from flows.base import ANYONE, MENU, Flow, Inbound, Msg, Outcome, State, finish, say


def join(state: State, inbound: Inbound, services) -> Outcome:
    enrollment = services.customers.join(inbound.profile_name, inbound.text)
    if not enrollment.created:
        replies = [say("already_member", vendor=services.tenant.name, balance=enrollment.balance)]
    else:
        replies = [say("welcome", greeting=services.tenant.greeting)]
        if enrollment.bonus:
            replies.append(say("welcome_bonus", points=enrollment.bonus, balance=enrollment.balance))
    return finish(), [*replies, what_next(inbound, services)]


def what_next(inbound: Inbound, services) -> Msg:
    """The vendor's menu, unless the number written to belongs to another vendor: the next
    message there would go to that one, so the customer is told where to write."""
    number = services.memberships.number_elsewhere(inbound.to)
    if number:
        return say("program_switched_elsewhere", vendor=services.tenant.name, number=number)
    return MENU


JOIN_FLOW = Flow(
    "join",
    {"start": join},
    starts_on=lambda inbound: inbound.vendor_code is not None,
    interrupts=True,
    audience=ANYONE,
)
