"""What a staff PIN looks like, and how it is kept out of what a message leaves behind (the stored
body and reply, the conversation state). Plain text rules: no database, no web."""
from __future__ import annotations

import re
from typing import Callable

# A whole message that may be a PIN: no customer answer is 4 to 8 bare digits.
PIN_LIKE = re.compile(r"\s*\d{4,8}\s*")
# A run of 4 to 8 digits anywhere in a message: "my pin is 582931", "LOG 731205".
PIN_RUN = re.compile(r"(?<!\d)\d{4,8}(?!\d)")
# What flows read instead of a run that is, or may be, a PIN: no digit, no word, so nothing
# takes it for an amount, a phone, a code or a command.
MASK = "•••"


def pin_problem(pin: str) -> str | None:
    """Why a PIN may not be used, or None. 4-8 digits, not all one digit, not a run like 1234 or 4321."""
    if not re.fullmatch(r"\d{4,8}", pin):
        return "must be 4 to 8 digits"
    steps = {int(b) - int(a) for a, b in zip(pin, pin[1:])}
    if steps == {0}:
        return "is too easy to guess (all one digit)"
    if steps in ({1}, {-1}):
        return "is too easy to guess (a run of digits)"
    return None


def ascii_digits(text: str) -> str:
    """`text` with the digits of any script as 0-9 (Arabic-Indic ٥, Khmer ៥, Devanagari ५...): a
    PIN is the same number whichever keyboard types it, chosen or checked."""
    return "".join(str(int(char)) if char.isdecimal() else char for char in text)


def candidates(text: str) -> list[str]:
    """The digit runs in `text` that could be a PIN (weak ones never are), each once, in 0-9."""
    return list(dict.fromkeys(ascii_digits(run) for run in PIN_RUN.findall(text) if pin_problem(run) is None))


def mask(text: str, hidden: Callable[[str], bool]) -> str:
    """`text` with every 4-8 digit run for which `hidden` (given the run in 0-9) is true replaced by MASK."""
    return PIN_RUN.sub(lambda run: MASK if hidden(ascii_digits(run.group())) else run.group(), text)


def answer(text: str) -> str:
    """The PIN in an answer to the PIN question, in 0-9: its one digit run ("pin 582931"), else
    the whole answer. Several runs are never tried one by one: that would be several guesses."""
    runs = PIN_RUN.findall(text)
    return ascii_digits(runs[0] if len(runs) == 1 else text.strip())
