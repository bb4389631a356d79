"""LANG: the customer chooses the language the bot writes to them in (replies and messages alike;
a staff phone's replies stay in the vendor's language, so there it chooses its pushes' only)."""
from __future__ import annotations

from flows.base import MENU, Flow, Inbound, Outcome, State, finish, goto, missed, say


def list_languages(state: State, inbound: Inbound, services) -> Outcome:
    """`LANG` lists the languages; `LANG 2` or `LANG FR` picks one at once."""
    languages = services.customers.languages()
    codes = [language.code for language in languages]
    state = goto(state, "choose", codes=codes)
    chosen = _named(inbound.words[1:], codes)
    if chosen is not None:
        return _choose(state, chosen, services)
    lines = [
        say("language_line", number=number, name=language.name, current=say("language_current") if language.current else "")
        for number, language in enumerate(languages, start=1)
    ]
    return state, [say("languages", lines=lines)]


def _named(words: tuple[str, ...], codes: list[str]) -> int | None:
    """The choice the word after LANG names: its number (LANG 2) or its code (LANG FR)."""
    if not words:
        return None
    if words[0].isdecimal():
        return int(words[0])
    upper = [code.upper() for code in codes]
    return upper.index(words[0]) + 1 if words[0] in upper else None


def choose_language(state: State, inbound: Inbound, services) -> Outcome:
    number = inbound.number
    if number is None:
        return missed(state), [say("language_choose", count=len(state.data["codes"]))]
    return _choose(state, number, services)


def _choose(state: State, number: int, services) -> Outcome:
    codes = state.data["codes"]
    if not 1 <= number <= len(codes):
        return missed(state), [say("language_choose", count=len(codes))]
    code = codes[number - 1]
    services.customers.set_language(code)
    if services.is_staff:  # a staff phone's replies stay in the vendor's language: only its pushes change
        name = next(language.name for language in services.customers.languages() if language.code == code)
        return finish(), [say("language_set_staff", vendor=services.tenant.name, language=name), MENU]
    return finish(), [say("language_set"), MENU]


LANGUAGE_FLOW = Flow(
    "language",
    {"start": list_languages, "choose": choose_language},
    triggers=frozenset({"LANG", "LANGUAGE", "LANGUE"}),
    interrupts=True,
    menu="menu.language",
)
