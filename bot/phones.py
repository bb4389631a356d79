"""Phone numbers in E.164, whatever form people type them in."""
from __future__ import annotations

from functools import lru_cache

import phonenumbers


# Twilio writes a WhatsApp number with this prefix (whatsapp:+2348030000002), an SMS one bare.
_WHATSAPP_PREFIX = "whatsapp:"


class InvalidPhone(ValueError):
    pass


def twilio_address(number: str, channel: str) -> str:
    """The number as Twilio writes it on the channel (whatsapp | sms)."""
    return _WHATSAPP_PREFIX + number if channel == "whatsapp" else number


def from_twilio(address: str) -> tuple[str, str]:
    """A number as Twilio wrote it: the number, and its channel (whatsapp | sms)."""
    if address.startswith(_WHATSAPP_PREFIX):
        return address.removeprefix(_WHATSAPP_PREFIX), "whatsapp"
    return address, "sms"


@lru_cache(maxsize=65536)  # the same phones write again and again; parsing them is not free
def to_e164(raw: str, country: str | None = None, strict: bool = False) -> str:
    """'08030000002' with country NG -> '+2348030000002'. Raises InvalidPhone.

    `strict` (for numbers people type) wants a number that exists in the numbering plan, so
    that a PIN or an amount typed in the wrong place is not taken for a phone; numbers from
    Twilio only need to be possible."""
    try:
        number = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException as error:
        raise InvalidPhone(f"not a phone number: {raw!r}") from error
    valid = phonenumbers.is_valid_number if strict else phonenumbers.is_possible_number
    if not valid(number):
        raise InvalidPhone(f"not a valid phone number: {raw!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def wa_me_digits(e164: str) -> str:
    """The digits wa.me links take: '+14155238886' -> '14155238886'."""
    return e164.lstrip("+")
