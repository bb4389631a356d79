"""STAFF: the owner lists, adds and removes staff by chat, in a PIN session. Someone added gets
a message inviting them to choose their own PIN (PIN, in flows/staff.py)."""
from __future__ import annotations

import re

from flows.base import STAFF, Flow, Inbound, Outcome, Refused, State, after_command, confirmed, finish, goto, missed, refusal, say
from flows.staff import pin_gate, pin_step, rechecked

_PHONE_PART = re.compile(r"[+\d().\-]+")


def start_staff(state: State, inbound: Inbound, services) -> Outcome:
    """`STAFF` lists the staff; `STAFF ADD 0803 123 4567 Bayo` and `STAFF REMOVE 0803 123 4567`
    act at once, and whatever they leave out is asked for."""
    if not services.staff.is_owner:
        return finish(), [say("staff_owner_only")]
    action, _, rest = after_command(inbound.text, "STAFF").strip().partition(" ")
    data = {}
    if action.upper() == "ADD":
        data = {"action": "add", **_read_member(rest, services)}
    elif action.upper() == "REMOVE":
        phone = services.team.read_phone(rest) if rest.strip() else None
        data = {"action": "remove", **({"phone": phone} if phone else {})}
    return pin_gate(goto(state, "start", **data), services, _advance)


def _read_member(text: str, services) -> dict:
    """The phone and the name, in either order: `0803 123 4567 Bayo`."""
    parts = text.split()
    phone = services.team.read_phone(" ".join(p for p in parts if _PHONE_PART.fullmatch(p)))
    name = " ".join(p for p in parts if not _PHONE_PART.fullmatch(p))
    return {
        **({"phone": phone} if phone else {}),
        **({"name": name} if name and services.team.valid_name(name) else {}),
    }


def _advance(state: State, services) -> Outcome:
    action = state.data.get("action")
    if action == "add":
        return _advance_add(state, services)
    if action == "remove":
        return _advance_remove(state, services)
    lines = [
        say(
            "staff_line", name=m.name, phone=m.phone, role=say(f"staff_role.{m.role}"),
            pending="" if m.has_pin else say("staff_pin_pending"),
        )
        for m in services.team.members()
    ]
    return finish(), [say("staff_list", vendor=services.tenant.name, lines=lines), say("staff_usage")]


def _advance_add(state: State, services) -> Outcome:
    if "phone" not in state.data:
        return goto(state, "phone"), [say("staff_ask_phone")]
    if any(member.phone == state.data["phone"] for member in services.team.members()):
        return finish(), [say("staff_already", phone=state.data["phone"])]
    if "name" not in state.data:
        return goto(state, "name"), [say("staff_ask_name")]
    return goto(state, "confirm"), [
        say("staff_add_confirm", name=state.data["name"], phone=state.data["phone"], vendor=services.tenant.name)
    ]


def _advance_remove(state: State, services) -> Outcome:
    others = services.team.removable()
    if "phone" not in state.data:
        if not others:
            return finish(), [say("staff_none_to_remove")]
        lines = [say("staff_choice", number=n, name=m.name, phone=m.phone) for n, m in enumerate(others, start=1)]
        return goto(state, "choose", phones=[m.phone for m in others]), [say("staff_remove_choose", lines=lines)]
    problem = services.team.removal_problem(state.data["phone"])
    if problem:
        return finish(), [say(problem, phone=state.data["phone"])]
    member = next(m for m in others if m.phone == state.data["phone"])
    return goto(state, "confirm", name=member.name), [say("staff_remove_confirm", name=member.name, phone=member.phone)]


def ask_phone(state: State, inbound: Inbound, services) -> Outcome:
    phone = services.team.read_phone(inbound.text)
    if phone is None:
        return missed(state), [say("staff_bad_phone")]
    return _advance(goto(state, "phone", phone=phone), services)


def ask_name(state: State, inbound: Inbound, services) -> Outcome:
    name = inbound.text.strip()
    if not services.team.valid_name(name):
        return missed(state), [say("staff_ask_name")]
    return _advance(goto(state, "name", name=name), services)


def choose_member(state: State, inbound: Inbound, services) -> Outcome:
    phones = state.data["phones"]
    if inbound.number is None or not 1 <= inbound.number <= len(phones):
        return missed(state), [say("staff_choose_hint", count=len(phones))]
    return _advance(goto(state, "choose", phone=phones[inbound.number - 1]), services)


def staff_confirmed(state: State, inbound: Inbound, services) -> Outcome:
    data = state.data
    try:
        if data["action"] == "add":
            services.team.add(data["phone"], data["name"])
        else:
            services.team.remove(data["phone"])
    except Refused as refused:
        return finish(), [refusal(refused, name=data["name"])]
    done = "staff_added" if data["action"] == "add" else "staff_removed"
    return finish(), [say(done, name=data["name"], phone=data["phone"])]


STAFF_FLOW = Flow(
    "staff",
    {
        "start": start_staff,
        "pin": pin_step(_advance),
        "phone": rechecked(ask_phone),
        "name": rechecked(ask_name),
        "choose": rechecked(choose_member),
        "confirm": confirmed(rechecked(staff_confirmed)),
    },
    triggers=frozenset({"STAFF"}),
    interrupts=True,
    audience=STAFF,
    secret_steps=frozenset({"pin"}),
)
