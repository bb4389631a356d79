"""Phone numbers: the quick reading of a number written in E.164 gives what the full parse
gives, for any number."""
from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.phones import InvalidPhone, _as_written_in_e164, to_e164

# Country codes with a national prefix (44, 375, 7, 1), one with rewriting rules (261, 54),
# Italy's leading zeros (39), non-geographic ones (800, 882), and more; then any digits, and
# digits of other scripts.
CODES = st.sampled_from(["1", "7", "39", "44", "45", "54", "234", "261", "375", "855", "800", "882", "979", "2", "0", ""]) | st.text(
    "0123456789", max_size=3)
NATIONAL = st.text("0123456789", max_size=18) | st.text("0123456789٣０ +-", max_size=18)


# A number from Twilio (no country, possible), and one people type (a country, in the plan).
READINGS = st.sampled_from([(None, False), ("NG", True), ("GB", True), ("KH", False)])


def parsed(raw: str, country: str | None = None, strict: bool = False) -> str | None:
    """The full parse, as to_e164 would do it; None for no number."""
    try:
        number = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException:
        return None
    valid = phonenumbers.is_valid_number if strict else phonenumbers.is_possible_number
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if valid(number) else None


def read(raw: str, country: str | None = None, strict: bool = False) -> str | None:
    try:
        return to_e164.__wrapped__(raw, country, strict)  # past the cache
    except InvalidPhone:
        return None


@given(CODES, NATIONAL, READINGS)
@example("375", "8495369160", (None, False))  # a national prefix (8), stripped: +375495369160
@example("261", "8865839", (None, False))  # one that is rewritten: +261208865839
@example("45", "089411000", (None, False))  # a leading zero that makes it no number (read without it, it is one)
@example("39", "0612345678", (None, False))  # a leading zero Italy keeps
@example("234", "80480002675000", ("NG", True))  # a LOG's phone and amount, read whole: possible, in no plan
def test_a_number_written_in_e164_is_read_as_the_full_parse_reads_it(code, national, reading):
    raw = f"+{code}{national}"
    assert read(raw, *reading) == parsed(raw, *reading)


def test_the_numbers_twilio_sends_and_people_type_so_are_read_without_the_full_parse():
    """A LOG's customer too, and the whole LOG after its command (no phone: an amount comes after)."""
    for raw in ("+85510000001", "+2348030000002", "+14155238886", "+23480480002675000"):
        assert _as_written_in_e164(raw) is not None


def test_a_number_people_type_must_still_exist_even_written_in_e164():
    assert to_e164("+15555550100") == "+15555550100"  # possible: Twilio's may be so
    with pytest.raises(InvalidPhone):
        to_e164("+15555550100", strict=True)  # but no such number is in the plan
