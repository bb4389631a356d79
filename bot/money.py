"""Money in integer minor units: reading what staff type, and showing amounts to people."""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from bot.errors import Refused
from bot.locales import DEFAULT_LANGUAGE, NBSP, locale

# ISO 4217 currencies without minor units, and those with three decimals; all others have two.
_ZERO_DECIMAL = frozenset({"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"})
_THREE_DECIMAL = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})
_SYMBOLS = {
    "NGN": "₦", "GHS": "GH₵", "KHR": "៛", "USD": "$", "EUR": "€", "GBP": "£", "KES": "KSh", "ZAR": "R", "INR": "₹",
    "XOF": "FCFA", "XAF": "FCFA", "CDF": "FC", "GNF": "FG",
}
# Written after the amount even in English ('1,500 FCFA'); French writes every symbol after.
_SYMBOL_AFTER = frozenset({"XOF", "XAF", "CDF", "GNF"})
_MULTIPLIERS = {"": 1, "K": 1_000, "M": 1_000_000}
# Digits with optional thousands commas and decimals, then an optional k/m: 15,000 / 15000.50 / 15k / 1.5m
_AMOUNT = re.compile(r"^(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?([KM]?)$")
# A currency without decimals grouped with dots, as francophone West Africa writes 15.000 FCFA.
_DOTTED_THOUSANDS = re.compile(r"^\d{1,3}(?:\.\d{3})+[KM]?$")
# The minus signs and dashes a phone may type for "-": a negative amount, never a positive one.
_MINUS = str.maketrans({char: "-" for char in "\u2212\u2012\u2013\u2014\ufe63\uff0d"})


@dataclass(frozen=True)
class Money:
    """An amount to show someone: the catalog writes it in the reader's language."""

    minor: int
    currency: str


class AmountError(Refused, ValueError):
    """An amount that cannot be read; `reason` says why (amount_negative, amount_not_a_number...)."""


def exponent(currency: str) -> int:
    return 0 if currency in _ZERO_DECIMAL else 3 if currency in _THREE_DECIMAL else 2


def to_minor(major: int | float | Decimal, currency: str) -> int:
    return int(Decimal(str(major)) * 10 ** exponent(currency))


def too_precise(major: int | float | Decimal, currency: str) -> bool:
    """Whether `major` has more decimals than the currency's smallest unit holds (15.005 naira)."""
    minor = Decimal(str(major)) * 10 ** exponent(currency)
    return minor != minor.to_integral_value()


def parse_amount(text: str, currency: str, maximum_major: int, language: str = DEFAULT_LANGUAGE) -> int:
    """'₦15,000', '15k', 'NGN 15000.50', in French '15 000,50 €' -> minor units. Raises AmountError(reason key)."""
    # Drop spaces, a leading currency sign or code (₦, N, NGN, GH₵, KSh...) and the currency's
    # own code or symbol after the number (15000 FCFA, 15 000 €).
    after = "|".join(re.escape(sign.upper()) for sign in (currency, _SYMBOLS.get(currency, currency)))
    cleaned = re.sub(rf"^[^\d.-]+|(?<=\d)(?:{after})$", "", re.sub(r"\s+", "", text.upper().translate(_MINUS)))
    if locale(language).decimal == ",":  # before one or two final digits, a decimal comma (thousands come in threes)
        cleaned = re.sub(r",(\d{1,2}[KM]?)$", r".\1", cleaned)
    if exponent(currency) == 0 and _DOTTED_THOUSANDS.match(cleaned):
        cleaned = cleaned.replace(".", "")
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
    if minor < 1:  # nothing, or less than the currency's smallest unit: 0, 0.001
        raise AmountError("amount_zero")
    if too_precise(major, currency):
        raise AmountError("amount_too_precise")
    return check_amount(int(minor), currency, maximum_major)


def check_amount(minor: int, currency: str, maximum_major: int) -> int:
    """An amount in minor units, within the bounds of one purchase. Raises AmountError(reason key)."""
    if minor <= 0:
        raise AmountError("amount_zero")
    if minor > to_minor(maximum_major, currency):
        raise AmountError("amount_too_large")
    return minor


def format_money(minor: int, currency: str, language: str = DEFAULT_LANGUAGE) -> str:
    """12345000 NGN -> '₦123,450' in English, '123 450 ₦' in French; 1550 USD -> '$15.50';
    150000 XOF -> '150,000 FCFA'. Decimals are shown only when there are some."""
    places = exponent(currency)
    major = Decimal(minor) / 10**places
    written = locale(language)
    number = written.digits(f"{major:,.{places}f}" if major != major.to_integral_value() else f"{int(major):,}")
    symbol = _SYMBOLS.get(currency, currency)
    if not written.symbol_first or currency in _SYMBOL_AFTER:
        return f"{number}{NBSP}{symbol}"
    return f"{symbol}{NBSP if symbol[-1].isalpha() else ''}{number}"


def looks_like_amount(word: str) -> bool:
    """Whether staff typing `word` would mean an amount: 15000, 15K, 2M."""
    return _AMOUNT.fullmatch(word.upper()) is not None


# ISO 4217 currencies in circulation (funds, precious metals and test codes left out).
CURRENCIES = frozenset("""
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD
    CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD
    GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT
    LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR
    NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP
    STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD
    XCG XOF XPF YER ZAR ZMW ZWG
""".split())
