"""Phone numbers in E.164, whatever form people type them in."""
from __future__ import annotations

import re
from functools import cache, lru_cache

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata, PhoneNumber, region_code_for_country_code


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
    number = _as_written_in_e164(raw) or _parsed(raw, country)
    valid = phonenumbers.is_valid_number if strict else phonenumbers.is_possible_number
    if not valid(number):
        raise InvalidPhone(f"not a valid phone number: {raw!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _parsed(raw: str, country: str | None) -> PhoneNumber:
    try:
        return phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException as error:
        raise InvalidPhone(f"not a phone number: {raw!r}") from error


# Kept, what is no phone too: a message's text is read before its first query and again by its flow.
@lru_cache(maxsize=4096)
def typed_phone(text: str, country: str) -> str | None:
    """A phone as people type it ("0803 123-4567", "(0803) 1234567"), read in `country`, in
    E.164; None if it is no phone that exists."""
    try:
        return to_e164(compact(text), country, strict=True)
    except InvalidPhone:
        return None


def compact(text: str) -> str:
    """`text` without what people type between the characters of a phone or a code: spaces,
    dashes, brackets, dots."""
    return _TYPED_APART.sub("", text)


_TYPED_APART = re.compile(r"[\s\-().]")


def _as_written_in_e164(raw: str) -> PhoneNumber | None:
    """The number phonenumbers would read from `raw`, whatever the country, when `raw` is "+", a
    country code, and a national number of 2 to 17 digits that starts with neither a 0 nor the
    country's national prefix (which it would keep apart or strip); None when only the full
    parse can tell. Twilio writes every number so, and so do many people: reading it so costs a
    fifth of a full parse, which each new phone's first message pays, and a LOG twice."""
    digits = raw[1:]
    if raw[:1] != "+" or not (digits.isascii() and digits.isdigit()) or digits[0] == "0":
        return None
    for size in (1, 2, 3):
        code = int(digits[:size])
        if code in COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    national = digits[size:]
    prefix = _national_prefix(code)
    if not 2 <= len(national) <= 17 or national[0] == "0" or (prefix and prefix.match(national)):
        return None
    return PhoneNumber(country_code=code, national_number=int(national))


@cache
def _national_prefix(code: int) -> re.Pattern | None:
    """What phonenumbers strips as a national prefix after country code `code`, if anything."""
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region_code_for_country_code(code))
    pattern = metadata.national_prefix_for_parsing if metadata else None
    return re.compile(pattern) if pattern else None


def wa_me_digits(e164: str) -> str:
    """The digits wa.me links take: '+14155238886' -> '14155238886'."""
    return e164.lstrip("+")
