"""VERIFY: staff check a customer's redemption code, then hand the reward over or cancel it."""
from __future__ import annotations

from dataclasses import replace

from flows.base import STAFF, Flow, Inbound, Outcome, Refused, State, after_command, finish, goto, missed, refusal, say
from flows.staff import pin_gate, pin_step, rechecked


def start_verify(state: State, inbound: Inbound, services) -> Outcome:
    """`VERIFY RD-7KX4QF` (any case, dash or not), or `VERIFY` and then the code."""
    code = _code_in(after_command(inbound.text, "VERIFY"))
    return pin_gate(goto(state, "start", code=code), services, _advance)


def ask_code(state: State, inbound: Inbound, services) -> Outcome:
    code = _code_in(inbound.text)
    if not code:
        return missed(state), [say("verify_ask_code")]
    return _check(state, code, services)


def _code_in(text: str) -> str:
    """What may be a code: nothing if there is no letter or digit (a masked PIN, a "?")."""
    text = text.strip()
    return text if any(c.isalnum() for c in text) else ""


# A code is 9 characters: a longer answer is repeated this far, not whole.
_SHOWN_CHARS = 20


def _shown(code: str) -> str:
    """The code as the answer repeats it: in capitals, and cut short if long."""
    code = code.upper()
    return code if len(code) <= _SHOWN_CHARS else code[:_SHOWN_CHARS] + "…"


def _advance(state: State, services) -> Outcome:
    """The code given with VERIFY checked, else asked for."""
    if not state.data.get("code"):
        return goto(state, "code"), [say("verify_ask_code")]
    return _check(state, state.data["code"], services)


def _check(state: State, code: str, services) -> Outcome:
    found = services.rewards.find_code(code)
    if found is None:  # asked again, as a miss: the next answer is read as a code (CANCEL and MENU leave)
        asked = replace(state, step="code", data={**state.data, "code": None})
        return missed(asked), [say("code_unknown", code=_shown(code))]
    if found.status == "fulfilled":
        by = found.by or say("code_given_by_staff")  # no name: handed over through the API
        return finish(), [say("code_already_fulfilled", code=found.code, when=services.local(found.when), by=by)]
    prize = not found.points  # won on the wheel: it cost no points, so none come back
    if found.status == "cancelled":
        return finish(), [say("code_cancelled", code=found.code)]
    if found.status == "expired" or found.expires_at <= services.now:
        return finish(), [say("code_expired_prize" if prize else "code_expired", code=found.code)]
    return goto(state, "confirm", redemption=found.id, prize=prize), [
        say(
            "verify_confirm_prize" if prize else "verify_confirm", code=found.code, reward=found.reward,
            customer=found.customer, until=services.local(found.expires_at),
        )
    ]


def confirm_verify(state: State, inbound: Inbound, services) -> Outcome:
    if inbound.number not in (1, 2):
        return missed(state), [say("verify_hint")]
    return _hand_over_or_cancel(state, inbound, services)


@rechecked
def _hand_over_or_cancel(state: State, inbound: Inbound, services) -> Outcome:
    hand_over = inbound.number == 1
    try:
        (services.rewards.fulfil if hand_over else services.rewards.cancel)(state.data["redemption"])
    except Refused as refused:
        return finish(), [refusal(refused)]
    if hand_over:
        return finish(), [say("redemption_fulfilled")]
    prize = state.data.get("prize")  # None in a conversation begun before it was kept
    return finish(), [say("prize_cancelled" if prize else "redemption_cancelled")]


VERIFY_FLOW = Flow(
    "verify",
    {"start": start_verify, "pin": pin_step(_advance), "code": rechecked(ask_code), "confirm": confirm_verify},
    triggers=frozenset({"VERIFY"}),
    interrupts=True,
    menu="menu.verify",
    audience=STAFF,
    secret_steps=frozenset({"pin"}),
)
