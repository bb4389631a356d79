"""SPIN: the lucky wheel."""
from __future__ import annotations

from flows.base import Flow, Inbound, Outcome, Refused, State, confirmed, finish, goto, refusal, say


def start_spin(state: State, inbound: Inbound, services) -> Outcome:
    if not services.wheel.settings:
        return finish(), [say("wheel_none")]
    spins = services.wheel.spins()
    if spins.total:
        return _spin(inbound, services, say("spins_you_have", free=spins.free, earned=spins.earned))
    if spins.cost:
        return goto(state, "buy", cost=spins.cost), [say("spin_buy", cost=spins.cost)]
    return finish(), [say("spin_none_left")]


def buy_confirmed(state: State, inbound: Inbound, services) -> Outcome:
    return _spin(inbound, services, None, buy=True, quoted=state.data.get("cost"))


def _spin(inbound: Inbound, services, why, buy: bool = False, quoted: int | None = None) -> Outcome:
    try:
        result = services.wheel.spin(inbound.sid, buy=buy, quoted=quoted)
    except Refused as refused:  # the spin could not be made: nothing changed
        return finish(), [refusal(refused)]
    won = say(f"spin_won_{result.kind}", prize=result.prize, points=result.points, code=result.code or "")
    replies = ([why] if why else []) + [say("spin_result", media_url=result.media_path, won=won, left=result.spins_left)]
    return finish(), replies


WHEEL_FLOW = Flow(
    "wheel",
    {"start": start_spin, "buy": confirmed(buy_confirmed)},
    triggers=frozenset({"SPIN", "WHEEL"}),
    interrupts=True,
    menu="menu.wheel",
)
