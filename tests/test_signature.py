"""The signature check's own parse of the form gives what the standard library gives, for any
body."""
from __future__ import annotations

from urllib.parse import parse_qsl

from hypothesis import given
from hypothesis import strategies as st

from webhooks.signature import form_pairs

# Bodies rich in what urlencoding gives meaning to (separators, escapes, broken escapes).
BODIES = st.text(alphabet=st.sampled_from("&=+%2BfF0aZ ~é👍\x00"), max_size=40) | st.text(max_size=40)


@given(BODIES)
def test_a_body_is_read_as_parse_qsl_reads_it(body):
    assert form_pairs(body) == parse_qsl(body, keep_blank_values=True)

