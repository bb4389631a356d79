"""Countries as a new vendor sets them up: names and timezones from the IANA tz database that
the `tzdata` package ships (`iso3166.tab`, `zone.tab`), a country's usual currency and language
from small tables, and the defaults a phone number suggests (phonenumbers)."""
from __future__ import annotations

import zoneinfo
from functools import lru_cache
from importlib import resources

import phonenumbers
from phonenumbers import timezone as phone_timezones

from bot.locales import DEFAULT_LANGUAGE

# The usual currency of each country (ISO 4217); a country missing here has its currency typed.
_CURRENCIES = dict(
    pair.split(":")
    for pair in """
    DZ:DZD AO:AOA BJ:XOF BW:BWP BF:XOF BI:BIF CV:CVE CM:XAF CF:XAF TD:XAF KM:KMF CG:XAF CD:CDF CI:XOF
    DJ:DJF EG:EGP GQ:XAF ER:ERN SZ:SZL ET:ETB GA:XAF GM:GMD GH:GHS GN:GNF GW:XOF KE:KES LS:LSL LR:LRD
    LY:LYD MG:MGA MW:MWK ML:XOF MR:MRU MU:MUR MA:MAD MZ:MZN NA:NAD NE:XOF NG:NGN RW:RWF ST:STN SN:XOF
    SC:SCR SL:SLE SO:SOS ZA:ZAR SS:SSP SD:SDG TZ:TZS TG:XOF TN:TND UG:UGX ZM:ZMW ZW:ZWG
    KH:KHR VN:VND TH:THB LA:LAK MM:MMK MY:MYR SG:SGD ID:IDR PH:PHP IN:INR PK:PKR BD:BDT LK:LKR NP:NPR
    CN:CNY HK:HKD JP:JPY KR:KRW TW:TWD AE:AED SA:SAR QA:QAR KW:KWD BH:BHD OM:OMR JO:JOD LB:LBP IL:ILS
    TR:TRY US:USD CA:CAD MX:MXN BR:BRL AR:ARS CL:CLP CO:COP PE:PEN JM:JMD TT:TTD HT:HTG DO:DOP EC:USD
    SV:USD PA:USD GT:GTQ GB:GBP CH:CHF NO:NOK SE:SEK DK:DKK PL:PLN CZ:CZK HU:HUF RO:RON UA:UAH RU:RUB
    AT:EUR BE:EUR CY:EUR EE:EUR FI:EUR FR:EUR DE:EUR GR:EUR IE:EUR IT:EUR LV:EUR LT:EUR LU:EUR MT:EUR
    NL:EUR PT:EUR SK:EUR SI:EUR ES:EUR HR:EUR AU:AUD NZ:NZD FJ:FJD PG:PGK
    """.split()
)

# A country's usual language where the bot speaks it besides English (bot/locales.py): French where
# it is the language of public life. Elsewhere the bot writes English (it has no Khmer, say).
_LANGUAGES = dict.fromkeys("""
    FR MC GP MQ GF RE YT PM BL MF NC PF WF HT
    BJ BF BI CM CF TD KM CG CD CI DJ GA GN MG ML NE SN TG
    """.split(), "fr")


def _tz_table(name: str) -> list[list[str]]:
    text = resources.files("tzdata").joinpath("zoneinfo", name).read_text(encoding="utf-8")
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]


@lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    return {row[0]: row[1] for row in _tz_table("iso3166.tab")}


@lru_cache(maxsize=1)
def _zones() -> dict[str, list[tuple[str, str]]]:
    zones: dict[str, list[tuple[str, str]]] = {}
    for row in _tz_table("zone.tab"):
        zones.setdefault(row[0], []).append((row[2], row[3] if len(row) > 3 else ""))
    return zones


def country_name(country: str) -> str:
    return _names().get(country, country)


def read_country(text: str) -> str | None:
    """'gh', 'GH' or 'Ghana' -> 'GH'; None when it names no country phone numbers exist for."""
    text = text.strip()
    code = text.upper() if len(text) == 2 else next(
        (code for code, name in _names().items() if name.casefold() == text.casefold()), None
    )
    return code if code in phonenumbers.SUPPORTED_REGIONS else None


def currency_of(country: str) -> str | None:
    return _CURRENCIES.get(country)


def language_of_country(country: str | None) -> str:
    """The language the bot writes in there: the country's usual one if it speaks it, else English."""
    return _LANGUAGES.get(country, DEFAULT_LANGUAGE)


def country_of_phone(phone: str) -> str | None:
    return phonenumbers.region_code_for_number(phonenumbers.parse(phone))


def timezones(country: str, phone: str | None = None) -> list[tuple[str, str]]:
    """The country's timezones (name, where it applies), the likeliest first: those the phone's
    area code points to, then the main zone of each region before its local exceptions."""
    zones = _zones().get(country, [])
    near = set(phone_timezones.time_zones_for_number(phonenumbers.parse(phone))) if phone else set()
    return sorted(zones, key=lambda zone: (zone[0] not in near, " - " in zone[1]))


# Names the timezone database holds that are no place: "localtime" is whatever zone the server is in.
NOT_PLACES = frozenset({"localtime", "posixrules", "Factory"})


def read_timezone(text: str, choices: list[tuple[str, str]]) -> str | None:
    """One of the country's zones by its name or city ('America/Chicago', 'chicago'), or any
    IANA zone of a place by its full name."""
    wanted = text.strip().replace(" ", "_").casefold()
    named = [name for name, _ in choices if wanted in (name.casefold(), name.rsplit("/", 1)[-1].casefold())]
    if named:
        return named[0]
    return next((name for name in zoneinfo.available_timezones() - NOT_PLACES if name.casefold() == wanted), None)
