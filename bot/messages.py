"""The vocabulary every layer shares: a message as the bot sees it (`Inbound`) and a reply as a
catalog key with its parameters (`Msg`, made by `say`).

Flows read inbound messages and answer with replies; services, the catalog, the sender and the
channels use the same two types, so they live here, below all of them. This module imports
nothing of the project (tests/test_layering.py checks it).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# A choice as people type it: "2", "2.", "2)", "(2)", bold "*2*", the keycap emoji 2️⃣, in any
# script's digits. With a sign it is no choice: "-1" does not confirm.
_CHOICE = re.compile(r"[(*_~]*(\d+)\u20e3?[.)*_~]*")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufe0f"))  # zero-width marks, the emoji selector


def words_of(text: str) -> tuple[str, ...]:
    """Upper-case words, punctuation and emoji dropped, full-width and accented forms folded."""
    folded = unicodedata.normalize("NFKC", text).upper()
    return tuple(_WORD.findall(folded))


def has_control_characters(text: str, allowed: str = "") -> bool:
    """Whether `text` holds a control character (NUL, a bell, an escape...) other than those
    `allowed`: no name, code or reason has one, and a NUL cannot even be stored."""
    return any(unicodedata.category(char) == "Cc" and char not in allowed for char in text)


def without_control_characters(text: str) -> str:
    return "".join(char for char in text if unicodedata.category(char) != "Cc")


# Twilio takes a body of at most 1,600 characters (error 21617 past it), on WhatsApp and SMS alike.
MAX_MESSAGE_CHARS = 1600


def message_length(text: str) -> int:
    """The length Twilio counts against MAX_MESSAGE_CHARS: UTF-16 units, so an emoji counts twice."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class Inbound:
    """One message as the bot sees it, whatever the channel."""

    sid: str
    phone: str  # E.164
    to: str  # E.164, the number the customer wrote to
    channel: str  # whatsapp | sms
    text: str
    media: tuple[str, ...] = ()
    profile_name: str | None = None
    truncated: bool = False
    # Set by the dispatcher when the text names a vendor code (JOIN MAMA, or just MAMA).
    vendor_code: str | None = None
    # Where the world reached us (PUBLIC_BASE_URL, else the webhook request's own host URL):
    # the links the bot writes start with it.
    site: str = ""

    @cached_property
    def words(self) -> tuple[str, ...]:
        return words_of(self.text)

    @cached_property  # flows ask it more than once a message
    def number(self) -> int | None:
        """The answer as a choice number, when it is just one."""
        choice = _CHOICE.fullmatch(unicodedata.normalize("NFKC", self.text).translate(_INVISIBLE).strip())
        return int(choice.group(1)) if choice else None


@dataclass(frozen=True)
class Msg:
    """A reply: a catalog key and its parameters, with an optional picture."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)
    media_url: str | None = None
    # A reply that must not be stored (it holds a one-time link): the message log keeps a notice.
    secret: bool = False


def say(key: str, media_url: str | None = None, **params: Any) -> Msg:
    return Msg(key, params, media_url)
