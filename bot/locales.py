"""The languages the bot speaks, and how each one writes numbers, months, money and plurals.

The wording is in bot/catalog.py; this is the rest of what changes with the language. A new
language is one entry here and one block in the catalog."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

DEFAULT_LANGUAGE = "en"
NBSP = "\u00a0"  # keeps "1 500" and "1 500 FCFA" on one line


@dataclass(frozen=True)
class Locale:
    name: str  # in the language itself, as LANG lists it
    group: str  # thousands separator
    decimal: str  # decimal mark
    months: tuple[str, ...]  # short month names, for %b
    symbol_first: bool  # money as '₦1,500' rather than '1 500 ₦'
    is_one: Callable[[int], bool]  # which counts take a plural key's `one` form

    def digits(self, text: str) -> str:
        """'1,500.50' as this language writes it."""
        if self.group == "," and self.decimal == ".":  # as Python writes it (a count in every reply)
            return text
        return text.translate({ord(","): self.group, ord("."): self.decimal})


LOCALES = {
    "en": Locale(
        name="English", group=",", decimal=".", symbol_first=True, is_one=lambda n: n == 1,
        months=("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    ),
    "fr": Locale(
        name="Français", group=NBSP, decimal=",", symbol_first=False, is_one=lambda n: abs(n) < 2,  # 0 and 1
        months=("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."),
    ),
}


def locale(language: str | None) -> Locale:
    return LOCALES.get(language or DEFAULT_LANGUAGE, LOCALES[DEFAULT_LANGUAGE])


def language_of(tenant, chosen: str | None = None) -> str:
    """The language to write in: the customer's own choice (LANG), else their vendor's."""
    return chosen or tenant.settings.get("language") or DEFAULT_LANGUAGE
