"""Phone numbers: the quick reading of a number written in E.164 gives what the full parse
gives, for any number."""
from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.phones import InvalidPhone, _written_in_e164, to_e164

# Country codes with a national prefix (44, 375, 7, 1), one with rewriting rules (261, 54),
# Italy's leading zeros (39), non-geographic ones (800, 882), and more; then any digits, and
# digits of other scripts.
CODES = st.sampled_from(["1", "7", "39", "44", "45", "54", "234", "261", "375", "855", "800", "882", "979", "2", "0", ""]) | st.text(
    "0123456789", max_size=3)
NATIONAL = st.text("0123456789", max_size=18) | st.text("0123456789٣０ +-", max_size=18)


def parsed(raw: str) -> str | None:
    """The full parse, as to_e164 does it for a number from Twilio; None for no number."""
    try:
        number = phonenumbers.parse(raw)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if phonenumbers.is_possible_number(number) else None


def read(raw: str) -> str | None:
    try:
        return to_e164.__wrapped__(raw)  # past the cache
    except InvalidPhone:
        return None


@given(CODES, NATIONAL)
@example("375", "8495369160")  # a national prefix (8), stripped: +375495369160
@example("261", "8865839")  # one that is rewritten: +261208865839
@example("45", "089411000")  # a leading zero that makes it no number (read without it, it is one)
@example("39", "0612345678")  # a leading zero Italy keeps
def test_a_number_written_in_e164_is_read_as_the_full_parse_reads_it(code, national):
    raw = f"+{code}{national}"
    assert read(raw) == parsed(raw)


def test_the_numbers_twilio_sends_are_read_without_the_full_parse():
    assert _written_in_e164("+85510000001") and _written_in_e164("+2348030000002") and _written_in_e164("+14155238886")


def test_a_number_people_type_must_still_exist_even_written_in_e164():
    assert to_e164("+15555550100") == "+15555550100"  # possible: Twilio's may be so
    with pytest.raises(InvalidPhone):
        to_e164("+15555550100", strict=True)  # but no such number is in the plan
