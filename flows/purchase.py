"""LOG and VOID: staff record a customer's purchase, or take back their last one."""
from __future__ import annotations

import re
import uuid
from dataclasses import replace
from typing import Callable

from bot.codes import MEMBER_CODE
from bot.money import AmountError
from flows.base import STAFF, Flow, Inbound, Outcome, Refused, State, after_command, confirmed, finish, goto, missed, refusal, say
from flows.staff import pin_gate, pin_step, rechecked


def start_log(state: State, inbound: Inbound, services) -> Outcome:
    """`LOG`, or all at once: `LOG 0803 123 4567 15000`."""
    found = _read_one_shot(after_command(inbound.text, "LOG", "VOID").strip(), services)
    return pin_gate(goto(state, "start", **found), services, _advance_log)


def _read_one_shot(rest: str, services) -> dict:
    """The customer and the amount in `LOG <customer> <amount>`. All the words may be a phone
    (`LOG 0803 123 4567`: the last group of a phone is no amount); else the last words are the
    amount, after a customer (`LOG 0803 123 4567 15000`, `LOG K7Q4XM 15 000,50`: see _split),
    or the one word is the amount alone (`LOG 15000`) or
    the customer alone (`LOG K7Q4XM`). An amount meant but refused (`LOG 0803 123 4567 0`) is
    kept as why, to say when asking for it."""
    if not rest:
        return {}
    whole = services.purchases.read_phone(rest)
    if whole:
        return {"customer": whole}
    words = rest.split()
    if len(words) == 1:
        return _customer_or_amount(words[0], services)
    who, amount = _split(words, services.purchases.read_phone)
    customer = services.purchases.read_customer(who)
    return {"customer": customer, **_amount(amount, services)} if customer else {}


def named_phone(inbound: Inbound, read_phone: Callable[[str], str | None]) -> str | None:
    """The phone `LOG <phone> <amount>` names, as start_log reads it with `read_phone`, before
    anything is looked up (the dispatcher's first query reads its member); None if it names none.
    Were the two to read it apart, the look-up would only ask the database, as without this."""
    rest = after_command(inbound.text, "LOG", "VOID").strip()
    words = rest.split()
    return read_phone(rest) or (read_phone(_split(words, read_phone)[0]) if len(words) > 1 else None)


_AMOUNT_WORDS = 3  # an amount typed in groups: 1 500 000
_GROUP = re.compile(r"\d{3}(?:[.,]\d+)?")  # a group after the first: 000, or 000,50


def _split(words: list[str], read_phone: Callable[[str], str | None]) -> tuple[str, str]:
    """Where the customer ends and the amount begins: before the last words that make an amount
    in groups of three digits (`15 000`), the most that leave a phone or what looks like a
    member code before them (read, not looked up: no wrong look-up counted); else before the
    last word. So `012 345 678 1 500` is ₦1,500 for 012 345 678, not 500 for 012 345 678 1."""
    for size in range(min(len(words) - 1, _AMOUNT_WORDS), 0, -1):
        who, amount = words[:-size], words[-size:]
        grouped = all(_GROUP.fullmatch(word) for word in amount[1:])
        if grouped and (read_phone(" ".join(who)) or MEMBER_CODE.fullmatch(" ".join(who).upper())):
            return " ".join(who), " ".join(amount)
    return " ".join(words[:-1]), words[-1]


def _customer_or_amount(word: str, services) -> dict:
    if MEMBER_CODE.fullmatch(word.upper()):
        # A member's code is read before an amount: a code of digits only (`234567`) is both.
        customer = services.purchases.read_customer(word)
        if customer:
            return {"customer": customer}
    found = _amount(word, services)
    return found if "amount" in found or any(c.isdigit() for c in word) else {}


def _amount(text: str, services) -> dict:
    try:
        return {"amount": services.purchases.read_amount(text)}
    except AmountError as error:
        return {"amount_refused": error.reason}


def _advance_log(state: State, services) -> Outcome:
    """Ask for whatever is still missing, then for confirmation."""
    if "customer" not in state.data:
        return goto(state, "customer"), [say("log_ask_customer")]
    if "amount" not in state.data:
        refused = state.data.get("amount_refused")
        why = [say(refused, maximum=services.purchases.maximum)] if refused else []
        return goto(state, "amount", amount_refused=None), why + [say("log_ask_amount")]
    try:
        preview = services.purchases.preview(state.data["customer"], state.data["amount"])
    except Refused as refused:  # an amount that would earn more than a purchase may
        amount_asked = replace(state, step="amount", data={k: v for k, v in state.data.items() if k != "amount"})
        return amount_asked, [refusal(refused), say("log_ask_amount")]
    key = "log_confirm_new" if preview.new_customer else "log_confirm"
    asked = goto(state, "confirm", new=preview.new_customer)
    return asked, [say(key, customer=preview.customer, amount=preview.amount, points=preview.points)]


def ask_customer(state: State, inbound: Inbound, services) -> Outcome:
    customer = services.purchases.read_customer(inbound.text)
    if customer is None:
        return missed(state), [say("log_bad_customer")]
    return _advance_log(goto(state, "customer", customer=customer), services)


def ask_amount(state: State, inbound: Inbound, services) -> Outcome:
    try:
        amount = services.purchases.read_amount(inbound.text)
    except AmountError as error:
        return missed(state), [say(error.reason, maximum=services.purchases.maximum), say("log_ask_amount")]
    return _advance_log(goto(state, "amount", amount=amount), services)


def log_confirmed(state: State, inbound: Inbound, services) -> Outcome:
    try:
        logged = services.purchases.log(state.data["customer"], state.data["amount"], new=state.data.get("new", False))
    except Refused as refused:  # the points rules changed since the preview
        return finish(), [refusal(refused)]
    return finish(), [say("log_done", customer=logged.customer, amount=logged.amount, points=logged.points, balance=logged.balance)]


def start_void(state: State, inbound: Inbound, services) -> Outcome:
    return pin_gate(state, services, _advance_void)


def _advance_void(state: State, services) -> Outcome:
    voidable = services.purchases.last_voidable()
    if voidable is None:
        return finish(), [say("void_nothing")]
    return goto(state, "confirm", purchase=str(voidable.purchase_id)), [
        say("void_confirm", customer=voidable.customer, amount=voidable.amount, points=voidable.points)
    ]


def void_confirmed(state: State, inbound: Inbound, services) -> Outcome:
    try:
        services.purchases.void(uuid.UUID(state.data["purchase"]))
    except Refused as refused:
        return finish(), [refusal(refused)]
    return finish(), [say("voided")]


LOG_FLOW = Flow(
    "log",
    {
        "start": start_log,
        "pin": pin_step(_advance_log),
        "customer": rechecked(ask_customer),
        "amount": rechecked(ask_amount),
        "confirm": confirmed(rechecked(log_confirmed)),
    },
    triggers=frozenset({"LOG"}),
    names_phone=named_phone,
    interrupts=True,
    menu="menu.log",
    audience=STAFF,
    secret_steps=frozenset({"pin"}),
    number_steps=frozenset({"amount"}),
)
VOID_FLOW = Flow(
    "void",
    {
        "start": start_void,
        "pin": pin_step(_advance_void),
        # 2 keeps the purchase: "Cancelled" ("Annulé") would read as if it had been voided.
        "confirm": confirmed(rechecked(void_confirmed), on_no="void_kept"),
    },
    triggers=frozenset({"VOID"}),
    interrupts=True,
    menu="menu.void",
    audience=STAFF,
    secret_steps=frozenset({"pin"}),
)
