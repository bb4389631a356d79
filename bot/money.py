"""Money in integer minor units: reading what staff type, and showing amounts to people."""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# ISO 4217 currencies without minor units; all others used here have two decimals.
_ZERO_DECIMAL = frozenset({"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"})
_SYMBOLS = {"NGN": "₦", "GHS": "GH₵", "KHR": "៛", "USD": "$", "EUR": "€", "GBP": "£", "KES": "KSh ", "ZAR": "R", "INR": "₹"}
_MULTIPLIERS = {"": 1, "K": 1_000, "M": 1_000_000}
# Digits with optional thousands commas and decimals, then an optional k/m: 15,000 / 15000.50 / 15k / 1.5m
_AMOUNT = re.compile(r"^(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?([KM]?)$")


class AmountError(ValueError):
    """Why an amount was refused, as a catalog key."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def exponent(currency: str) -> int:
    return 0 if currency in _ZERO_DECIMAL else 2


def to_minor(major: int | float | Decimal, currency: str) -> int:
    return int(Decimal(str(major)) * 10 ** exponent(currency))


def parse_amount(text: str, currency: str, maximum_major: int) -> int:
    """'₦15,000', '15k', 'NGN 15000.50' -> minor units. Raises AmountError(reason key)."""
    # Drop spaces and a leading currency sign or code: ₦, N, NGN, GH₵, KSh...
    cleaned = re.sub(r"^[^\d.-]+", "", re.sub(r"\s+", "", text.upper()))
    if cleaned.startswith("-"):
        raise AmountError("amount_negative")
    match = _AMOUNT.match(cleaned)
    if not match:
        raise AmountError("amount_not_a_number")
    whole, fraction, suffix = match.groups()
    try:
        major = Decimal(whole.replace(",", "") + (f".{fraction}" if fraction else "")) * _MULTIPLIERS[suffix]
    except InvalidOperation:
        raise AmountError("amount_not_a_number") from None
    minor = major * 10 ** exponent(currency)
    if minor != minor.to_integral_value():
        raise AmountError("amount_too_precise")
    return check_amount(int(minor), currency, maximum_major)


def check_amount(minor: int, currency: str, maximum_major: int) -> int:
    """An amount in minor units, within the bounds of one purchase. Raises AmountError(reason key)."""
    if minor <= 0:
        raise AmountError("amount_zero")
    if minor > to_minor(maximum_major, currency):
        raise AmountError("amount_too_large")
    return minor


def format_money(minor: int, currency: str) -> str:
    """12345000 NGN -> '₦123,450'; 1550 USD -> '$15.50'."""
    places = exponent(currency)
    major = Decimal(minor) / 10**places
    number = f"{major:,.{places}f}" if major != major.to_integral_value() else f"{int(major):,}"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{number}" if symbol else f"{currency} {number}"
