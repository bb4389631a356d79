"""Customers in their own language: the catalog in every language, LANG, the vendor's default,
pushes and HISTORY in the customer's language, and numbers, dates and money written its way."""
from __future__ import annotations

import string
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.catalog import CATALOG, render
from bot.locales import LOCALES, NBSP
from bot.messages import say
from bot.money import AmountError, format_money, parse_amount
from bot.services.points import PointsService
from bot.services.tenants import load_tenant
from models import Customer, PointsTransaction, Message
from models.base import utcnow
from tests.conftest import PIN_PEPPER, connection_lost, run_jobs, tenant_file
from tests.test_limits import Clock, limited

CUSTOMER, BAYO, BAYO_PIN = "+2348031234567", "+2348030000002", "731205"


# The catalog


def placeholders(template) -> set[str]:
    forms = template.values() if isinstance(template, dict) else [template]
    return {field for form in forms for _, field, _, _ in string.Formatter().parse(form) if field is not None}


def plural_references(template) -> set[str]:
    forms = template.values() if isinstance(template, dict) else [template]
    return {spec[1:] for form in forms for _, _, spec, _ in string.Formatter().parse(form) if spec and spec.startswith("@")}


@pytest.mark.parametrize("language", sorted(set(CATALOG) - {"en"}))
def test_every_key_exists_in_every_language_in_the_same_order_with_the_same_placeholders(language):
    english, other = CATALOG["en"], CATALOG[language]
    assert [key for key in english if key not in other] == [], "untranslated keys"
    assert [key for key in other if key not in english] == [], "keys English does not have"
    assert list(other) == list(english), "keys in another order than English"
    for key, template in english.items():
        assert type(other[key]) is type(template), key
        if isinstance(template, dict):
            assert set(other[key]) == set(template) == {"one", "other"}, key
        assert placeholders(other[key]) == placeholders(template), key


@pytest.mark.parametrize("language", sorted(CATALOG))
def test_plurals_are_catalog_keys_and_no_template_says_s_in_brackets(language):
    for key, template in CATALOG[language].items():
        for name in plural_references(template):
            assert isinstance(CATALOG[language].get(name), dict), f"{key} refers to {name}, not a plural key"
        forms = template.values() if isinstance(template, dict) else [template]
        assert not any("(s)" in form for form in forms), key


@pytest.mark.parametrize(
    "language, counts",
    [("en", {0: "0 points", 1: "1 point", 2: "2 points", 1500: "1,500 points"}),
     ("fr", {0: "0 point", 1: "1 point", 2: "2 points", 1500: f"1{NBSP}500 points"})],
)
def test_plural_forms_follow_the_language(language, counts):
    for count, text in counts.items():
        assert render(say("top_you", rank=3, points=count), language).endswith(f" {text}.")


def test_money_dates_and_numbers_are_written_the_language_s_way():
    assert format_money(1_500_000, "NGN") == "₦15,000"
    assert format_money(1_500_000, "NGN", "fr") == f"15{NBSP}000{NBSP}₦"
    assert format_money(150_000, "XOF", "fr") == f"150{NBSP}000{NBSP}FCFA"
    assert format_money(1_500_050, "EUR", "fr") == f"15{NBSP}000,50{NBSP}€"
    assert format_money(1_500_050, "EUR") == "€15,000.50"
    when = datetime(2026, 8, 5, 14, 30)
    code = say("code_line", code="RD-7KX4QF", reward="Zobo", until=when)
    assert render(code, "en") == "RD-7KX4QF - Zobo (until 05 Aug 14:30)"
    assert render(code, "fr") == "RD-7KX4QF - Zobo (jusqu'au 5 août à 14:30)"
    assert render(say("history_line", when=date(2026, 2, 1), points=1500, description="x"), "fr") == f"1 févr. +1{NBSP}500 x"


def test_a_french_vendor_s_staff_may_type_a_decimal_comma():
    assert parse_amount("15 000,50 €", "EUR", 10_000_000, "fr") == 1_500_050
    assert parse_amount("150 000 FCFA", "XOF", 10_000_000, "fr") == 150_000
    assert parse_amount("15,000", "EUR", 10_000_000, "fr") == 1_500_000  # thousands come in threes
    with pytest.raises(AmountError):
        parse_amount("1,5", "NGN", 10_000_000)  # in English a comma only groups thousands


# Through the webhook


def language_of(db, number=CUSTOMER) -> str | None:
    with db.sessions() as session:
        return session.scalar(select(Customer.language).where(Customer.phone_number == number))


@pytest.fixture
def member(phone, mama):
    me = phone(CUSTOMER)
    me.send("JOIN MAMA")
    return me


def test_lang_lists_the_languages_then_the_number_picks_one_for_good(member, db):
    assert language_of(db) is None  # the vendor's language until the customer chooses
    listing = member.send("LANG").text
    assert listing == "*Choose your language*\n1. English - current\n2. Français\n\nReply with a number, or MENU to go back."
    picked = member.send("2")
    assert picked.replies[0].body == "C'est noté : je vous écris en français."
    assert picked.replies[1].body.startswith("Menu *Mama Put Kitchen*\n1. Mes points\n2. Cadeaux")
    assert language_of(db) == "fr"
    assert member.send("BAL").text.startswith("*Mama Put Kitchen*\nSolde : 50 points\nGagnés au total : 50 points")
    assert "1. English\n2. Français - actuelle" in member.send("LANGUE").text
    assert member.send("1").replies[0].body == "Done: I'll write to you in English."
    assert language_of(db) == "en"


def test_lang_has_a_way_back_and_a_wrong_answer_changes_nothing(member, db):
    member.send("LANG")
    assert member.send("7").text == "Please reply with a number from 1 to 2, or MENU."
    assert member.send("French").text == "Please reply with a number from 1 to 2, or MENU."
    assert "*Mama Put Kitchen* menu" in member.send("MENU").text
    assert "*Mama Put Kitchen rewards*" in member.send("2").text  # back at the menu: 2 is no language
    assert language_of(db) is None


def test_lang_with_a_number_or_a_code_picks_at_once(member, db):
    assert member.send("LANG FR").replies[0].body == "C'est noté : je vous écris en français."
    assert language_of(db) == "fr"
    assert member.send("lang 1").replies[0].body == "Done: I'll write to you in English."
    assert language_of(db) == "en"


def test_a_code_no_shop_has_is_answered_in_the_language_of_the_number_s_vendor(phone, db):
    with db.transaction() as session:
        load_tenant(session, tenant_file(language="fr"), pin_pepper=PIN_PEPPER)
    assert phone(CUSTOMER).send("JOIN MAMAA").text == (
        "Désolé, je ne trouve aucune boutique avec le code MAMAA. Vérifiez-le et réessayez."
    )


def test_a_vendor_s_language_is_the_default_for_its_customers(phone, db):
    with db.transaction() as session:
        load_tenant(session, tenant_file(language="fr", greeting=None), pin_pepper=PIN_PEPPER)
    joined = phone(CUSTOMER).send("JOIN MAMA")
    assert [reply.body for reply in joined.replies[:2]] == [
        "Bienvenue dans le programme fidélité de Mama Put Kitchen !",
        "Vous recevez 50 points de bienvenue. Votre solde : 50 points.",
    ]
    assert "Répondez avec un numéro." in joined.replies[2].body
    assert language_of(db) is None
    staff = phone(BAYO).send("HELP").text  # staff are written to in the vendor's language
    assert staff.startswith("Commandes du personnel chez *Mama Put Kitchen* :")


def test_messages_the_shop_sends_go_in_the_customer_s_language(member, phone, db, app):
    member.send("LANG 2")
    bayo = phone(BAYO)
    bayo.send("LOG 0803 123 4567 15000")
    bayo.send(BAYO_PIN)
    assert bayo.send("1").text == "Logged ₦15,000 for Chidi, +2348031234567: 170 points. Their balance: 220 points."
    run_jobs(app)
    with db.sessions() as session:
        pushed = session.scalars(
            select(Message.body).where(Message.direction == "outbound", Message.to_number == CUSTOMER)
        ).all()
    assert pushed == [
        f"Merci de votre visite chez *Mama Put Kitchen* ! Votre achat de 15{NBSP}000{NBSP}₦ vous rapporte 170 points. "
        "Solde : 220 points.\nPlus que 280 points pour Jollof rice plate."
    ]


def test_a_template_s_variables_are_written_in_the_customer_s_language(phone, db):
    """Outside the 24-hour window the template goes, and its variables are what the customer reads."""
    variables = ["amount", "points", "balance"]
    with db.transaction() as session:
        load_tenant(session, tenant_file(templates={"purchase_notice": {"content_sid": "HX" + "1" * 32, "variables": variables}}))
    phone(CUSTOMER).send("JOIN MAMA")
    phone(CUSTOMER).send("LANG 2")
    bayo = phone(BAYO)
    bayo.send("LOG 0803 123 4567 150000")
    bayo.send(BAYO_PIN)
    bayo.send("1")
    with db.sessions() as session:
        stored = session.scalars(select(Message.content_variables).where(Message.triggered_by == "purchase_notice")).one()
    assert stored == {"1": f"150{NBSP}000{NBSP}₦", "2": f"1{NBSP}520", "3": f"1{NBSP}720"}  # the spend mission's 150 too


def test_history_shows_each_line_in_the_customer_s_language_old_rows_as_stored(member, db):
    with db.transaction() as session:  # a row from before descriptions were kept as catalog keys
        customer = session.scalars(select(Customer)).one()
        session.add(PointsTransaction(
            tenant_id=customer.tenant_id, customer_id=customer.id, transaction_type="adjusted", source="manual",
            points=0, description="Goodwill gesture", details={}, created_at=utcnow(),
        ))
    member.send("LANG 2")
    today = utcnow().astimezone(ZoneInfo("Africa/Lagos"))
    month = LOCALES["fr"].months[today.month - 1]
    history = member.send("HISTORY").text
    assert history.startswith("*Vos derniers points*\n")
    assert f"{today.day} {month} +0 Goodwill gesture" in history
    assert f"{today.day} {month} +50 Bonus de bienvenue" in history
    with db.sessions() as session:  # the column keeps the English text for whoever reads the table
        assert session.scalar(select(PointsTransaction.description).where(PointsTransaction.source == "welcome")) == "Welcome bonus"


def test_the_rate_limit_notice_is_in_the_customer_s_language(phone, mama, db, app):
    app.extensions["dispatcher"].clock = Clock()
    limited(db, messages_per_minute=3)
    member = phone(CUSTOMER)
    member.send("JOIN MAMA")
    member.send("LANG 2")
    member.send("BAL")
    assert member.send("BAL").text == "Vous envoyez beaucoup de messages d'un coup. Je vous réponds à nouveau dans une minute."
    assert member.send("BAL").replies == []


def test_a_message_whose_handling_fails_is_answered_in_the_customer_s_language(phone, db, monkeypatch):
    with db.transaction() as session:
        load_tenant(session, tenant_file(language="fr"), pin_pepper=PIN_PEPPER)
    member = phone(CUSTOMER)
    member.send("JOIN MAMA")

    def the_database_goes_away(self):
        raise connection_lost("SELECT current_balance")

    monkeypatch.setattr(PointsService, "balance", the_database_goes_away)
    assert member.send("BAL", expect_error=True).text == render(say("error"), "fr")
    member.send("LANG 1")  # their own choice, over the vendor's
    assert member.send("BAL", expect_error=True).text == render(say("error"), "en")


def test_a_staff_member_who_chose_a_language_as_a_member_reads_the_vendor_s_as_staff(phone, mama, db, app):
    """Bayo works at English MAMA and chose French as its member: his pushes as a member are in
    French, but the bot answers his phone in English, as the amounts he types are read."""
    app.extensions["dispatcher"].clock = Clock()
    limited(db, messages_per_minute=7, staff_messages_per_minute=7)
    bayo = phone(BAYO)
    bayo.send("JOIN MAMA")
    assert bayo.send("LANG 2").replies[0].body == (
        "Done: as a member, you'll get Mama Put Kitchen's messages in Français. As staff, I answer you in the shop's language."
    )
    assert language_of(db, BAYO) == "fr"
    assert "Staff commands at *Mama Put Kitchen*:" in bayo.send("HELP").text
    assert bayo.send("LOG 0803 123 4567 15,000").text == "Hi Bayo, please send your staff PIN."
    bayo.send(BAYO_PIN)
    assert bayo.send("1").text.startswith("Logged ₦15,000 for +2348031234567: 170 points.")
    assert bayo.send("BAL").text.startswith("*Mama Put Kitchen*\nBalance: 50 points")
    assert bayo.send("BAL").text == "You're sending messages very fast. I'll answer again in a minute."
