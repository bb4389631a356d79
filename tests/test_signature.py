"""The signature check's own parse of the form and its own signature give what the standard
library and twilio's validator give, for any form."""
from __future__ import annotations

from urllib.parse import parse_qsl

from hypothesis import given
from hypothesis import strategies as st
from twilio.request_validator import HMAC_SHA1, HMAC_SHA256, RequestValidator

from webhooks.signature import _DIGESTS, _Fields, _signature, form_pairs

# Bodies rich in what urlencoding gives meaning to (separators, escapes, broken escapes).
BODIES = st.text(alphabet=st.sampled_from("&=+%2BfF0aZ ~é👍\x00"), max_size=40) | st.text(max_size=40)
FIELDS = st.dictionaries(st.text(max_size=8), st.text(max_size=12), max_size=6)


@given(BODIES)
def test_a_body_is_read_as_parse_qsl_reads_it(body):
    assert form_pairs(body) == parse_qsl(body, keep_blank_values=True)


@given(st.sampled_from([HMAC_SHA1, HMAC_SHA256]), st.text(max_size=30), FIELDS)
def test_a_form_is_signed_as_twilios_validator_signs_it(algorithm, url, fields):
    expected = RequestValidator("a-secret").compute_signature(url, _Fields(fields), algorithm)
    assert _signature("a-secret", _DIGESTS[algorithm], url, fields) == expected
