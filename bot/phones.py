"""Phone numbers in E.164, whatever form people type them in."""
from __future__ import annotations

from functools import lru_cache

import phonenumbers


class InvalidPhone(ValueError):
    pass


@lru_cache(maxsize=65536)  # the same phones write again and again; parsing them is not free
def to_e164(raw: str, country: str | None = None) -> str:
    """'08030000002' with country NG -> '+2348030000002'. Raises InvalidPhone."""
    try:
        number = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException as error:
        raise InvalidPhone(f"not a phone number: {raw!r}") from error
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhone(f"not a possible phone number: {raw!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def wa_me_digits(e164: str) -> str:
    """The digits wa.me links take: '+14155238886' -> '14155238886'."""
    return e164.lstrip("+")
