"""SETUP: a new vendor sets up its programme by chatting with the platform's number.

One question at a time, numbered choices where there are choices, BACK to the previous question
and CANCEL to stop (nothing is created until the summary is confirmed). Each question is a step
that reads its answer; `trail` lists the questions answered, for BACK. The answers become a
tenant file in the setup service."""
from __future__ import annotations

from flows.base import ANYONE, Flow, Inbound, Msg, Outcome, Refused, State, Step, confirmed, finish, goto, missed, refusal, say

ORDER = (
    "name", "type", "code", "country", "currency", "timezone", "bonus", "earn", "reward", "reward_points",
    "pin", "pin_again", "confirm",
)
_BACK = ("BACK",)
_CANCEL = frozenset({"CANCEL", "QUIT", "EXIT", "STOP"})


def start(state: State, inbound: Inbound, services) -> Outcome:
    """The first question; or, in a setup under way (its link opened again), the question it
    stopped at."""
    if state.step in ORDER:
        return state, [say("setup_resumed"), _question(state, services)]
    fresh = State(flow="setup", step="start", data={"owner": inbound.profile_name or "", "trail": []})
    return goto(fresh, "name"), [say("setup_welcome"), say("setup_ask_name")]


def _ask(state: State, step: str, services) -> Outcome:
    """Go to `step` and ask its question. A timezone question with one possible answer is
    answered for the owner."""
    if step == "timezone":
        zones = services.setup.timezones(state.data["country"])
        if len(zones) == 1:
            return _ask(goto(state, step, timezone=zones[0][0]), "bonus", services)
    state = goto(state, step)
    return state, [_question(state, services)]


def _next(state: State, services, **answers) -> Outcome:
    """Keep the answers and ask the following question. BACK from the PIN confirmation, or
    from the summary, goes to choosing the PIN again. After a correction the summary asked
    for (a code taken meanwhile), the other answers stand: once the code is chosen again,
    straight back to the summary (answers before it, after a BACK, lead on to the code)."""
    summary_trail = state.data.get("summary_trail")
    if summary_trail and state.step == "code":
        return _ask(goto(state, state.step, trail=summary_trail, summary_trail=None, **answers), "confirm", services)
    trail = state.data["trail"] + ([] if state.step == "pin_again" else [state.step])
    state = goto(state, state.step, trail=trail, **answers)
    return _ask(state, ORDER[ORDER.index(state.step) + 1], services)


def _back(state: State, services) -> Outcome:
    trail = state.data["trail"]
    if not trail:
        return state, [say("setup_first_question"), _question(state, services)]
    return _ask(goto(state, state.step, trail=trail[:-1]), trail[-1], services)


def _back_to(state: State, step: str, services) -> Outcome:
    trail = state.data["trail"]
    return _ask(goto(state, state.step, trail=trail[:trail.index(step)]), step, services)


def _answer(read: Step) -> Step:
    """A question's step: BACK and CANCEL, else its own reading of the answer."""

    def step(state: State, inbound: Inbound, services) -> Outcome:
        if inbound.words == _BACK:
            return _back(state, services)
        if len(inbound.words) == 1 and inbound.words[0] in _CANCEL:
            return finish(), [say("setup_cancelled")]
        return read(state, inbound, services)

    return step


def _choice(inbound: Inbound, count: int) -> int | None:
    number = inbound.number
    return number if number is not None and 1 <= number <= count else None


# The questions

def _question(state: State, services) -> Msg:
    return _QUESTIONS[state.step](state.data, services)


def _ask_code(data: dict, services) -> Msg:
    return say("setup_ask_code", code=data["suggested"])


def _ask_country(data: dict, services) -> Msg:
    default = services.setup.default_country()
    if default is None:
        return say("setup_ask_country_typed", vendor=data["name"])
    return say("setup_ask_country", vendor=data["name"], country=services.setup.country_name(default))


def _ask_currency(data: dict, services) -> Msg:
    default = services.setup.currency_of(data["country"])
    return say("setup_ask_currency", currency=default) if default else say("setup_ask_currency_typed")


def _ask_timezone(data: dict, services) -> Msg:
    lines = [
        say("setup_zone_line", number=n, zone=zone, where=f" ({where})" if where else "")
        for n, (zone, where) in enumerate(services.setup.timezones(data["country"])[:_MAX_ZONES], start=1)
    ]
    return say("setup_ask_timezone", lines=lines)


def _ask_earn(data: dict, services) -> Msg:
    return say("setup_ask_earn", currency=data["currency"], example=services.setup.money(10_000, data["currency"]))


def _summary(data: dict, services) -> Msg:
    return say(
        "setup_summary", vendor=data["name"], type=say(f"setup_type.{data['type']}"), code=data["code"],
        country=services.setup.country_name(data["country"]), currency=data["currency"], timezone=data["timezone"],
        bonus=data["bonus"], earning=say(
            "setup_earning_one" if data["earn_points"] == 1 else "setup_earning_many",
            points=data["earn_points"], amount=services.setup.money(data["earn_amount"], data["currency"]),
        ),
        reward=data["reward"], reward_points=data["reward_points"],
    )


# A country with more timezones lists this many (the likeliest first); the others are typed.
_MAX_ZONES = 12
_QUESTIONS = {
    "name": lambda data, services: say("setup_ask_name"),
    "type": lambda data, services: say(
        "setup_ask_type", vendor=data["name"],
        lines=[say("setup_type_line", number=n, label=say(f"setup_type.{kind}"))
               for n, kind in enumerate(services.setup.business_types, start=1)],
    ),
    "code": _ask_code,
    "country": _ask_country,
    "currency": _ask_currency,
    "timezone": _ask_timezone,
    "bonus": lambda data, services: say("setup_ask_bonus"),
    "earn": _ask_earn,
    "reward": lambda data, services: say("setup_ask_reward"),
    "reward_points": lambda data, services: say("setup_ask_reward_points", reward=data["reward"]),
    "pin": lambda data, services: say("setup_ask_pin"),
    "pin_again": lambda data, services: say("pin_again"),
    "confirm": _summary,
}


# Reading the answers

def read_name(state: State, inbound: Inbound, services) -> Outcome:
    name = services.setup.read_name(inbound.text)
    if name is None:
        return missed(state), [say("setup_ask_name")]
    return _next(state, services, name=name)


def read_type(state: State, inbound: Inbound, services) -> Outcome:
    types = services.setup.business_types
    number = _choice(inbound, len(types))
    if number is None:
        return missed(state), [say("setup_choose_hint", count=len(types))]
    # The code question suggests one from the name, worked out once for the answer "1".
    return _next(state, services, type=types[number - 1], suggested=services.setup.suggest_code(state.data["name"]))


def read_code(state: State, inbound: Inbound, services) -> Outcome:
    if inbound.number == 1:
        code = state.data["suggested"]
    else:
        code = "".join(inbound.words)
    problem = services.setup.code_problem(code)
    if problem:
        return missed(state), [say(problem, code=code, suggested=state.data["suggested"])]
    return _next(state, services, code=code)


def read_country(state: State, inbound: Inbound, services) -> Outcome:
    default = services.setup.default_country()
    country = default if inbound.number == 1 and default else services.setup.read_country(inbound.text)
    if country is None:
        return missed(state), [say("setup_country_hint")]
    return _next(state, services, country=country)


def read_currency(state: State, inbound: Inbound, services) -> Outcome:
    default = services.setup.currency_of(state.data["country"])
    currency = default if inbound.number == 1 and default else services.setup.read_currency(inbound.text)
    if currency is None:
        return missed(state), [say("setup_currency_hint")]
    return _next(state, services, currency=currency)


def read_timezone(state: State, inbound: Inbound, services) -> Outcome:
    zones = services.setup.timezones(state.data["country"])[:_MAX_ZONES]
    number = _choice(inbound, len(zones))
    zone = zones[number - 1][0] if number else services.setup.read_timezone(inbound.text, state.data["country"])
    if zone is None:
        return missed(state), [say("setup_timezone_hint", count=len(zones))]
    return _next(state, services, timezone=zone)


def read_bonus(state: State, inbound: Inbound, services) -> Outcome:
    bonus = services.setup.read_bonus(inbound.text)
    if bonus is None:
        return missed(state), [say("setup_number_hint")]
    return _next(state, services, bonus=bonus)


def read_earn(state: State, inbound: Inbound, services) -> Outcome:
    earning = services.setup.read_earning(inbound.text, state.data["currency"])
    if earning is None:
        return missed(state), [_ask_earn(state.data, services)]
    points, amount = earning
    return _next(state, services, earn_points=points, earn_amount=amount)


def read_reward(state: State, inbound: Inbound, services) -> Outcome:
    reward = services.setup.read_reward_name(inbound.text)
    if reward is None:
        return missed(state), [say("setup_ask_reward")]
    return _next(state, services, reward=reward)


def read_reward_points(state: State, inbound: Inbound, services) -> Outcome:
    points = services.setup.read_reward_points(inbound.text)
    if points is None:
        return missed(state), [say("setup_number_hint")]
    return _next(state, services, reward_points=points)


def read_pin(state: State, inbound: Inbound, services) -> Outcome:
    draft = services.pins.draft(inbound.text)
    if draft is None:
        return missed(state), [say("pin_rules")]
    return _next(state, services, pin_draft=draft)


def read_pin_again(state: State, inbound: Inbound, services) -> Outcome:
    if not services.pins.confirms(state.data["pin_draft"], inbound.text):
        state, replies = _back(state, services)
        return state, [say("pin_mismatch"), *replies]
    return _next(state, services)


def create(state: State, inbound: Inbound, services) -> Outcome:
    try:
        created = services.setup.create(state.data)
    except Refused as refused:  # the code was taken while the owner was answering
        suggested = services.setup.suggest_code(state.data["name"])
        state = goto(state, state.step, suggested=suggested, summary_trail=state.data["trail"])
        state, replies = _back_to(state, "code", services)
        return state, [refusal(refused, code=state.data["code"]), *replies]
    return finish(), [
        say("setup_done", media_url=created.poster, vendor=created.name, code=created.code),
        say("setup_next", link=created.link, code=created.code),
    ]


SETUP_FLOW = Flow(
    "setup",
    {
        "start": start,
        "name": _answer(read_name),
        "type": _answer(read_type),
        "code": _answer(read_code),
        "country": _answer(read_country),
        "currency": _answer(read_currency),
        "timezone": _answer(read_timezone),
        "bonus": _answer(read_bonus),
        "earn": _answer(read_earn),
        "reward": _answer(read_reward),
        "reward_points": _answer(read_reward_points),
        "pin": _answer(read_pin),
        "pin_again": _answer(read_pin_again),
        "confirm": _answer(confirmed(create)),
    },
    triggers=frozenset({"SETUP"}),
    audience=ANYONE,
    secret_steps=frozenset({"pin", "pin_again"}),
)
