"""The owner's dashboard: signing in from WhatsApp with a one-time link, the session and its CSRF
token, every page, every change audited, and a session of one vendor seeing nothing of another."""
from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from datetime import datetime, timedelta, timezone
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.services.dashboard_login import SESSION_VALID
from bot.services.tenants import load_tenant
from dashboard.auth import FORM_NONCE, LOGIN_COOKIE, SESSION_COOKIE, csrf_for
from dashboard.charts import bar_chart
from models import (
    AuditLog, Customer, DailyMetrics, DashboardLink, DashboardSession, PointsTransaction, Reward,
    RewardRedemption, Tenant, Staff, Message,
)
from tests.conftest import (
    MAMA_NUMBER, PIN_PEPPER, PLATFORM_NUMBER, PUBLIC_BASE_URL, Phone, balance_of, count, run_jobs, tenant_file,
)
from tests.test_qr import decoded_links

ADA, ADA_PIN = "+2348030000001", "482916"  # MAMA's owner
BAYO, BAYO_PIN = "+2348030000002", "731205"  # MAMA's staff
CHIDI = "+2348031234567"
SALON_NUMBER = "+2349010000000"
SALON_OWNER, SALON_PIN, SALON_STAFF = "+2348050000001", "602914", "+2348050000002"
LINK = re.compile(r"(https?://\S+/dashboard/login/([A-Za-z0-9_-]+))")


# Signing in by chat

def dashboard_link(phone, owner: str = ADA, pin: str = ADA_PIN, to: str | None = None) -> str:
    """DASHBOARD from the owner's phone through the signed webhook (with the PIN if asked): the link the bot sends."""
    me = phone(owner, **({"to": to} if to else {}))
    reply = me.send("DASHBOARD").text
    if "PIN" in reply:
        reply = me.send(pin).text
    found = LINK.search(reply)
    assert found, reply
    return found.group(1)


class Browser:
    """A browser on the dashboard over HTTPS (its cookies are Secure)."""

    def __init__(self, app):
        self.client = app.test_client()

    def get(self, path: str, **options):
        return self.client.get(_path(path), base_url=PUBLIC_BASE_URL, **options)

    def post(self, path: str, data: dict | None = None, csrf: bool = True, **options):
        """Post as a page's form would: its CSRF token and a fresh one-time nonce, unless given."""
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf", csrf_for(self.cookie(SESSION_COOKIE) or ""))
            data.setdefault(FORM_NONCE, secrets.token_urlsafe(18))
        return self.client.post(_path(path), data=data, base_url=PUBLIC_BASE_URL, **options)

    def cookie(self, name: str) -> str | None:
        path = "/dashboard/login" if name == LOGIN_COOKIE else "/dashboard"
        found = self.client.get_cookie(name, domain=PUBLIC_BASE_URL.split("//")[1], path=path)
        return found.value if found else None

    def sign_in(self, link: str):
        """Open the link and press the button."""
        page = self.get(link)
        assert page.status_code == 200, page.get_data(as_text=True)
        return self.post(link, {"csrf": self.cookie(LOGIN_COOKIE)}, csrf=False)


def _path(link: str) -> str:
    return link.removeprefix(PUBLIC_BASE_URL)


def text_of(response) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))))


def nonce_of(page) -> str:
    """The one-time nonce of the page's first form that changes something once."""
    return re.search(rf'name="{FORM_NONCE}" value="([^"]+)"', page.get_data(as_text=True)).group(1)


@pytest.fixture
def owner(app, mama, phone):
    """A browser signed in as MAMA's owner."""
    browser = Browser(app)
    assert browser.sign_in(dashboard_link(phone)).status_code == 302
    return browser


@pytest.fixture
def salon(db):
    """A second vendor, with its own owner, staff, customer, reward and a pending code."""
    config = tenant_file(
        code="SALON", name="Glow Salon", whatsapp_number=SALON_NUMBER, welcome_bonus=10,
        staff=[{"name": "Sade", "phone": SALON_OWNER, "pin": SALON_PIN, "role": "owner"},
               {"name": "Tunde", "phone": SALON_STAFF, "pin": "839201", "role": "staff"}],
        rewards=[{"name": "Free braids", "points": 5}], wheel=None, missions=[],
    )
    with db.transaction() as session:
        return load_tenant(session, config, pin_pepper=PIN_PEPPER).tenant


def joined(phone, number: str = CHIDI, to: str | None = None, name: str = "Chidi"):
    me = phone(number, **({"to": to} if to else {}))
    me.send("JOIN SALON" if to == SALON_NUMBER else "JOIN MAMA", ProfileName=name)
    return me


def customer_id(db, number: str = CHIDI, code: str = "MAMA") -> uuid.UUID:
    with db.sessions() as session:
        return session.scalar(
            select(Customer.id).join(Tenant, Tenant.id == Customer.tenant_id)
            .where(Customer.phone_number == number, Tenant.vendor_code == code)
        )


def log_purchase(phone, text: str = "0803 123 4567 10000"):
    """Bayo logs a purchase (giving his PIN if asked) and confirms it."""
    bayo = phone(BAYO)
    if "PIN" in bayo.send(f"LOG {text}").text:
        bayo.send(BAYO_PIN)
    assert "Logged" in bayo.send("1").text


def redeemed_code(phone, number: str = CHIDI, to: str | None = None) -> str:
    """The customer redeems the vendor's first reward; the code they get."""
    me = phone(number, **({"to": to} if to else {}))
    assert "Redeem" in me.send("REDEEM 1").text
    return re.search(r"RD-[A-Z0-9]{6}", me.send("1").text).group(0)


def test_an_owner_gets_a_one_time_link_after_the_pin_and_only_its_hash_is_kept(app, mama, phone, db):
    link = dashboard_link(phone)
    token = LINK.search(link).group(2)
    assert link.startswith(f"{PUBLIC_BASE_URL}/dashboard/login/")
    with db.sessions() as session:
        stored = session.scalars(select(DashboardLink)).one()
        logged = session.scalars(select(Message).where(Message.direction == "inbound").order_by(Message.created_at)).all()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert stored.expires_at - stored.created_at == timedelta(minutes=10)
    # The message log keeps a notice in place of the link: a copy of the database opens nothing.
    assert token not in str([message.reply for message in logged])
    assert "Send DASHBOARD for a new one" in str(logged[-1].reply)


def test_without_a_public_base_url_the_link_starts_with_the_address_twilio_called(make_app, mama):
    """A relative link cannot be opened from WhatsApp."""
    ada = Phone(make_app(public_base_url=None), ADA, base_url="https://shop.example.test")
    assert "PIN" in ada.send("DASHBOARD").text
    link = LINK.search(ada.send(ADA_PIN).text)
    assert link and link.group(1).startswith("https://shop.example.test/dashboard/login/")


def test_a_retried_dashboard_message_gets_the_notice_not_the_link(app, mama, phone):
    ada = phone(ADA)
    ada.send("DASHBOARD")
    first = ada.send(ADA_PIN, sid="SMretrieddashboard01")
    again = ada.send(ADA_PIN, sid="SMretrieddashboard01")
    assert LINK.search(first.text)
    assert not LINK.search(again.text) and "Send DASHBOARD for a new one" in again.text


def test_staff_who_are_not_owners_and_customers_get_no_link(app, mama, phone, db):
    assert "Only the owner can open the dashboard" in phone(BAYO).send("DASHBOARD").text
    assert "/dashboard/login/" not in joined(phone).send("DASHBOARD").text
    assert count(db, DashboardLink) == 0


def test_the_link_needs_the_pin_session(app, mama, phone, db):
    ada = phone(ADA)
    ada.send("DASHBOARD")
    assert "not right" in ada.send("000000").text
    assert count(db, DashboardLink) == 0


def test_opening_the_link_starts_a_secure_session(app, mama, phone, db):
    browser = Browser(app)
    link = dashboard_link(phone)
    assert browser.get(link).status_code == 200
    assert browser.get(link).status_code == 200  # looking (a link preview) does not use it
    signed_in = browser.post(link, {"csrf": browser.cookie(LOGIN_COOKIE)}, csrf=False)
    assert signed_in.status_code == 302 and signed_in.location.endswith("/dashboard/")
    cookie = next(value for value in signed_in.headers.getlist("Set-Cookie") if value.startswith(SESSION_COOKIE))
    assert all(flag in cookie for flag in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/dashboard"))
    overview = browser.get("/dashboard/")
    assert overview.status_code == 200 and "Mama Put Kitchen" in text_of(overview)
    with db.sessions() as session:
        stored = session.scalars(select(DashboardSession)).one()
        actions = session.scalars(select(AuditLog.action).order_by(AuditLog.created_at)).all()
    assert stored.token_hash == hashlib.sha256(browser.cookie(SESSION_COOKIE).encode()).hexdigest()
    assert {"dashboard.link_sent", "dashboard.signed_in"} <= set(actions)


def test_a_used_link_says_so_and_opens_nothing(app, mama, phone, db):
    link = dashboard_link(phone)
    assert Browser(app).sign_in(link).status_code == 302
    other = Browser(app)
    page = other.get(link)
    assert page.status_code == 410 and "already been used" in text_of(page)
    assert other.get("/dashboard/").status_code == 401
    assert count(db, DashboardSession) == 1


def pressed_from(app, link: str, nonce: str):
    """A press of the sign-in button carrying the sign-in cookie `nonce`, from a browser holding no session cookie."""
    press = Browser(app)
    press.client.set_cookie(LOGIN_COOKIE, nonce, domain="bot.example.test", path="/dashboard/login")
    return press.post(link, {"csrf": nonce}, csrf=False)


def test_a_double_tap_on_the_button_signs_the_browser_in_with_the_second_press(app, mama, phone, clock, db):
    """The second press cancels the first one's navigation: the browser drops the first answer,
    with its session cookie, and still holds the sign-in cookie. The second press starts a
    session of its own, within a minute and for that browser only."""
    link = dashboard_link(phone)
    browser, other = Browser(app), Browser(app)
    assert browser.get(link).status_code == other.get(link).status_code == 200
    nonce = browser.cookie(LOGIN_COOKIE)
    assert pressed_from(app, link, nonce).status_code == 302  # the first press: its answer never arrives
    again = browser.post(link, {"csrf": nonce}, csrf=False)
    assert again.status_code == 302 and again.location.endswith("/dashboard/")
    assert browser.get(again.location).status_code == 200
    with db.sessions() as session:
        signed_in = session.scalars(select(AuditLog.action).where(AuditLog.action == "dashboard.signed_in")).all()
    assert count(db, DashboardSession) == len(signed_in) == 2
    assert other.post(link, {"csrf": other.cookie(LOGIN_COOKIE)}, csrf=False).status_code == 410  # never another browser
    clock.advance(minutes=2)
    assert pressed_from(app, link, nonce).status_code == 410


def test_pressing_the_button_again_once_signed_in_goes_on_to_the_dashboard(app, mama, phone, db):
    """The browser took the first press's answer (its session cookie; the sign-in cookie is
    gone), and the button, still on the screen, is pressed again."""
    link = dashboard_link(phone)
    browser = Browser(app)
    assert browser.get(link).status_code == 200
    nonce = browser.cookie(LOGIN_COOKIE)
    assert browser.post(link, {"csrf": nonce}, csrf=False).status_code == 302
    assert browser.cookie(LOGIN_COOKIE) is None
    again = browser.post(link, {"csrf": nonce}, csrf=False)
    assert again.status_code == 302 and again.location.endswith("/dashboard/")
    assert count(db, DashboardSession) == 1
    browser.post("/dashboard/logout")
    assert browser.post(link, {"csrf": nonce}, csrf=False).status_code == 400  # signed out: the form is stale


def test_an_expired_link_says_so(app, mama, phone, clock, db):
    link = dashboard_link(phone)
    browser = Browser(app)
    assert browser.get(link).status_code == 200
    clock.advance(minutes=11)
    page = browser.get(link)
    assert page.status_code == 410 and "expired" in text_of(page)
    pressed = browser.post(link, {"csrf": browser.cookie(LOGIN_COOKIE)}, csrf=False)
    assert pressed.status_code == 410 and "expired" in text_of(pressed)
    assert count(db, DashboardSession) == 0


def test_an_unknown_link_is_not_found(app, mama):
    assert Browser(app).get("/dashboard/login/not-a-real-token").status_code == 404


def test_the_sign_in_button_needs_the_browser_that_opened_the_link(app, mama, phone, db):
    link = dashboard_link(phone)
    response = Browser(app).post(link, {"csrf": "forged"}, csrf=False)
    assert response.status_code == 400
    assert count(db, DashboardSession) == 0
    assert Browser(app).sign_in(link).status_code == 302  # the link is still good


def test_an_owner_no_longer_owner_is_refused_and_their_session_ends(app, mama, phone, db):
    browser = Browser(app)
    browser.sign_in(dashboard_link(phone))
    pending = dashboard_link(phone)
    with db.transaction() as session:
        session.scalars(select(Staff).where(Staff.phone_number == ADA)).one().role = "staff"
    assert browser.get("/dashboard/").status_code == 401
    page = Browser(app).get(pending)
    assert page.status_code == 403 and "Only the owner" in text_of(page)


def test_an_owner_no_longer_owner_at_the_pin_prompt_gets_no_link(app, mama, phone, db):
    ada = phone(ADA)
    assert "PIN" in ada.send("DASHBOARD").text
    with db.transaction() as session:
        session.scalars(select(Staff).where(Staff.phone_number == ADA)).one().role = "staff"
    assert "Only the owner can open the dashboard" in ada.send(ADA_PIN).text
    assert count(db, DashboardLink) == 0


def test_sessions_expire_and_sign_out_ends_them(app, owner, clock, db):
    assert owner.get("/dashboard/customers").status_code == 200
    left = owner.post("/dashboard/logout")
    assert left.status_code == 200 and "signed out" in text_of(left)
    assert owner.get("/dashboard/customers").status_code == 401
    with db.sessions() as session:
        assert session.scalars(select(DashboardSession.ended_at)).one() is not None
        assert "dashboard.signed_out" in session.scalars(select(AuditLog.action)).all()


def test_a_session_lasts_eight_hours(app, mama, phone, clock):
    browser = Browser(app)
    browser.sign_in(dashboard_link(phone))
    clock.advance(seconds=SESSION_VALID.total_seconds() - 60)
    assert browser.get("/dashboard/").status_code == 200
    clock.advance(minutes=2)
    page = browser.get("/dashboard/")
    assert page.status_code == 401 and "DASHBOARD" in text_of(page)


@pytest.mark.parametrize("path", [
    "/dashboard/", "/dashboard/customers", "/dashboard/rewards", "/dashboard/codes", "/dashboard/staff",
    "/dashboard/poster", "/dashboard/poster/a5.pdf", "/dashboard/audit", "/dashboard/broadcasts", "/dashboard/broadcasts/new",
    f"/dashboard/broadcasts/{uuid.uuid4()}",
])
def test_every_page_needs_a_session(app, mama, path):
    browser = Browser(app)
    assert browser.get(path).status_code == 401
    browser.client.set_cookie(SESSION_COOKIE, "made-up", domain="bot.example.test", path="/dashboard")
    assert browser.get(path).status_code == 401


def test_every_form_needs_the_sessions_csrf_token(app, owner, phone, db):
    joined(phone)
    target = f"/dashboard/customers/{customer_id(db)}/adjust"
    for token in (None, "0" * 64):
        data = {"points": "25", "reason": "Birthday"} | ({"csrf": token} if token else {})
        response = owner.post(target, data, csrf=False)
        assert response.status_code == 400 and "expired" in text_of(response)
    assert balance_of(db, CHIDI) == 50


def test_pages_are_not_cached_framed_or_referred(app, owner):
    headers = owner.get("/dashboard/").headers
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'self'" in headers["Content-Security-Policy"]


# Figures

def test_the_overview_shows_today_and_thirty_days_of_charts(app, owner, phone, db):
    joined(phone)
    log_purchase(phone, "0803 123 4567 15000")
    page = text_of(owner.get("/dashboard/"))
    assert "1 members (+1 today)" in page
    assert "₦15,000" in page  # today's revenue
    assert "220 points issued" in page  # the welcome bonus, 150 for the purchase and 20 for the first one
    html = owner.get("/dashboard/").get_data(as_text=True)
    assert html.count('<svg class="chart"') == 8
    assert html.count('<rect class="bar today"') == 8


def test_charts_take_the_days_the_nightly_job_computed_and_the_rest_as_they_stand(app, mama, phone, db, clock):
    joined(phone)
    log_purchase(phone, "0803 123 4567 15000")
    then = datetime.now(timezone.utc).astimezone(ZoneInfo("Africa/Lagos")).date()
    with db.transaction() as session:  # what the nightly job would have stored for the day before
        session.add(DailyMetrics(tenant_id=mama.id, metric_date=then - timedelta(days=1), purchases=7, revenue=900000))
    clock.advance(days=2)
    browser = Browser(app)
    browser.sign_in(dashboard_link(phone))
    html = browser.get("/dashboard/").get_data(as_text=True)
    assert f"<title>{day_label(then - timedelta(days=1))}: ₦9,000</title>" in html  # stored
    assert f"<title>{day_label(then)}: ₦15,000</title>" in html  # not computed: counted now
    assert f"<title>{day_label(then + timedelta(days=2))}: ₦0</title>" in html  # today


def day_label(day) -> str:
    return f"{day.day} {day:%b}"


def test_a_chart_has_a_bar_per_day_with_today_standing_out():
    days = [{"date": datetime(2026, 3, 1).date() + timedelta(days=n), "purchases": n} for n in range(30)]
    svg = str(bar_chart(days, "purchases", "Purchases"))
    assert svg.count("<rect") == 30 and svg.count('class="bar today"') == 1
    assert "<title>30 Mar: 29</title>" in svg and "max 29" in svg


def test_a_day_below_zero_is_drawn_down_from_the_zero_line():
    """Points redeemed go below zero on a day whose refunds outweigh them: the bars share one scale."""
    first = datetime(2026, 3, 1).date()
    days = [{"date": first + timedelta(days=n), "points_redeemed": value} for n, value in enumerate((300, -100, 0))]
    svg = str(bar_chart(days, "points_redeemed", "Points redeemed"))
    zero = float(re.search(r'class="axis" x1="0" y1="([\d.]+)"', svg).group(1))
    (up, up_height), (down, down_height), (none, none_height) = [
        (float(y), float(height)) for y, height in re.findall(r'y="([^"]+)" width="[^"]+" height="([^"]+)"', svg)
    ]
    assert up + up_height == zero and up_height == 3 * down_height
    assert down == zero and down_height > 0
    assert (none, none_height) == (zero, 0)
    assert "<title>2 Mar: -100</title>" in svg and "min -100" in svg


def test_a_day_whose_refunds_outweigh_its_redemptions_shows_below_zero(app, mama, phone, db, clock):
    """A code redeemed two minutes before midnight and cancelled after it gives its points back today."""
    joined(phone)
    log_purchase(phone)
    lagos = datetime.now(timezone.utc).astimezone(ZoneInfo("Africa/Lagos"))
    before_midnight = lagos.replace(hour=23, minute=58, second=0, microsecond=0)
    clock.advance(seconds=(before_midnight - lagos).total_seconds() % 86400)
    code = redeemed_code(phone)
    clock.advance(minutes=5)
    browser = Browser(app)
    browser.sign_in(dashboard_link(phone))
    assert browser.post(f"/dashboard/codes/{code}/cancel").status_code == 302
    overview = browser.get("/dashboard/")
    assert 'height="-' not in overview.get_data(as_text=True)
    assert "-100 points redeemed, less refunds" in text_of(overview)


# Customers

def test_customers_are_found_by_local_phone_member_code_or_name(app, owner, phone, db):
    joined(phone)
    joined(phone, "+2348099998888", name="Emeka")
    with db.sessions() as session:
        code = session.scalar(select(Customer.member_code).where(Customer.phone_number == CHIDI))
    for query in ("0803 123", "+2348031234567", code.lower(), "chid"):
        page = text_of(owner.get("/dashboard/customers", query_string={"q": query}))
        assert CHIDI in page and "+2348099998888" not in page, query
    assert "No customer matches" in text_of(owner.get("/dashboard/customers", query_string={"q": "nobody%"}))


def test_the_customer_list_shows_the_points_that_can_be_spent(app, mama, phone, db, clock):
    joined(phone)
    log_purchase(phone, "0803 123 4567 15000")
    clock.advance(days=181)  # the welcome bonus and the purchase's points are past their expiry, not expired yet
    owner = Browser(app)
    owner.sign_in(dashboard_link(phone))
    page = text_of(owner.get("/dashboard/customers"))
    assert "Chidi" in page and " 0 pts" in page and "220 pts" not in page


def test_a_customers_page_shows_their_points_history_and_purchases(app, owner, phone, db):
    joined(phone)
    log_purchase(phone, "0803 123 4567 15000")
    page = text_of(owner.get(f"/dashboard/customers/{customer_id(db)}"))
    assert "220 points" in page
    assert "Welcome bonus" in page and "Purchase ₦15,000" in page
    assert "Bayo" in page


def test_adjusting_points_goes_through_the_ledger_is_audited_and_tells_the_customer(app, owner, phone, db):
    joined(phone)
    response = owner.post(f"/dashboard/customers/{customer_id(db)}/adjust", {"points": "25", "reason": "Birthday treat"})
    assert response.status_code == 302 and "done=adjusted" in response.location
    assert balance_of(db, CHIDI) == 75
    assert "Points adjusted" in text_of(owner.get(response.location))
    run_jobs(app)
    with db.sessions() as session:
        entry = session.scalars(select(PointsTransaction).where(PointsTransaction.transaction_type == "adjusted")).one()
        audit = session.scalars(select(AuditLog).where(AuditLog.action == "points.adjusted")).one()
        ada = session.scalars(select(Staff).where(Staff.phone_number == ADA)).one()
        told = session.scalars(select(Message.body).where(Message.triggered_by == "points_adjusted_notice")).one()
    assert (entry.points, entry.description, entry.created_by_user_id) == (25, "Adjusted: Birthday treat", ada.id)
    assert (audit.actor_type, audit.actor_id) == ("vendor_user", ada.id)
    assert audit.details["before"] == {"balance": 50} and audit.details["after"] == {"balance": 75}
    assert "adjusted your points by +25 (Birthday treat)" in told
    owner.post(f"/dashboard/customers/{customer_id(db)}/adjust", {"points": "-30", "reason": "Mistake"})
    assert balance_of(db, CHIDI) == 45


def test_an_adjustment_sent_twice_is_made_once(app, owner, phone, db):
    """A double tap, or the browser sending the form again: the same one-time nonce."""
    joined(phone)
    page = f"/dashboard/customers/{customer_id(db)}"
    form = {"points": "500", "reason": "Birthday treat", FORM_NONCE: nonce_of(owner.get(page))}
    first, again = owner.post(f"{page}/adjust", form), owner.post(f"{page}/adjust", form)
    assert first.status_code == again.status_code == 302
    assert again.location == f"{page}?done=already_done"
    assert "already done" in text_of(owner.get(again.location))
    assert balance_of(db, CHIDI) == 50 + 500
    run_jobs(app)
    assert count(db, AuditLog, AuditLog.action == "points.adjusted") == 1
    assert count(db, Message, Message.triggered_by == "points_adjusted_notice") == 1


def test_a_refused_adjustment_leaves_its_form_to_be_sent_again(app, owner, phone, db):
    joined(phone)
    page = f"/dashboard/customers/{customer_id(db)}"
    nonce = nonce_of(owner.get(page))
    assert owner.post(f"{page}/adjust", {"points": "-51", "reason": "Too much", FORM_NONCE: nonce}).status_code == 400
    assert owner.post(f"{page}/adjust", {"points": "-50", "reason": "Too much", FORM_NONCE: nonce}).status_code == 302
    assert balance_of(db, CHIDI) == 0


def test_a_changing_form_without_its_one_time_nonce_has_expired(app, owner, phone, db):
    joined(phone)
    for nonce in ("", "short", "x" * 65):
        response = owner.post(f"/dashboard/customers/{customer_id(db)}/adjust", {"points": "25", "reason": "x", FORM_NONCE: nonce})
        assert response.status_code == 400 and "expired" in text_of(response)
    assert balance_of(db, CHIDI) == 50


@pytest.mark.parametrize("form, field_error", [
    ({"points": "-51", "reason": "Too much"}, "don't have that many points"),
    ({"points": "abc", "reason": "Typo"}, "whole number"),
    ({"points": "0", "reason": "Nothing"}, "from 1 to 1,000,000"),
    ({"points": "10", "reason": "  "}, "Say why"),
])
def test_a_bad_adjustment_says_why_and_changes_nothing(app, owner, phone, db, form, field_error):
    joined(phone)
    response = owner.post(f"/dashboard/customers/{customer_id(db)}/adjust", form)
    assert response.status_code == 400 and field_error in text_of(response)
    assert balance_of(db, CHIDI) == 50
    assert count(db, AuditLog, AuditLog.action == "points.adjusted") == 0
    assert count(db, Message, Message.triggered_by == "points_adjusted_notice") == 0


# Rewards and codes

def reward_id(db, name: str) -> uuid.UUID:
    with db.sessions() as session:
        return session.scalar(select(Reward.id).where(Reward.name == name))


def test_rewards_are_listed_and_edited_with_an_audited_before_and_after(app, owner, db):
    listed = text_of(owner.get("/dashboard/rewards"))
    assert "Jollof rice plate" in listed and "20 of 20 left" in listed
    target = f"/dashboard/rewards/{reward_id(db, 'Jollof rice plate')}"
    assert "Jollof rice plate" in text_of(owner.get(target))
    saved = owner.post(target, {"points": "450", "stock": "30", "max_per_customer": "", "description": "With plantain", "active": "on"})
    assert saved.status_code == 302
    with db.sessions() as session:
        reward = session.get(Reward, (owner_tenant(db), reward_id(db, "Jollof rice plate")))
        audit = session.scalars(select(AuditLog).where(AuditLog.action == "reward.updated")).one()
    assert (reward.points_required, reward.stock, reward.max_per_customer, reward.description) == (450, 30, None, "With plantain")
    assert audit.details["before"] == {"points": 500, "stock": 20, "max_per_customer": 2, "description": None}
    assert audit.details["after"] == {"points": 450, "stock": 30, "max_per_customer": None, "description": "With plantain"}


def owner_tenant(db) -> uuid.UUID:
    with db.sessions() as session:
        return session.scalar(select(Tenant.id).where(Tenant.vendor_code == "MAMA"))


@pytest.mark.parametrize("form, message", [
    ({"points": "0", "stock": ""}, "greater than or equal to 1"),
    ({"points": "x", "stock": ""}, "whole number"),
    ({"points": "100", "stock": "-1"}, "greater than or equal to 0"),
])
def test_a_bad_reward_edit_names_the_field_and_changes_nothing(app, owner, db, form, message):
    response = owner.post(f"/dashboard/rewards/{reward_id(db, 'Free Zobo drink')}", form)
    assert response.status_code == 400 and message in text_of(response)
    with db.sessions() as session:
        assert session.scalar(select(Reward.points_required).where(Reward.name == "Free Zobo drink")) == 100
    assert count(db, AuditLog, AuditLog.action == "reward.updated") == 0


def test_stock_never_goes_below_what_was_redeemed(app, owner, phone, db):
    joined(phone)
    log_purchase(phone)
    redeemed_code(phone)
    with db.transaction() as session:  # the Zobo drink becomes limited: one unit is held by the code
        session.scalars(select(Reward).where(Reward.name == "Free Zobo drink")).one().stock = 5
        session.scalars(select(Reward).where(Reward.name == "Free Zobo drink")).one().stock_used = 1
    response = owner.post(f"/dashboard/rewards/{reward_id(db, 'Free Zobo drink')}", {"points": "100", "stock": "0", "active": "on"})
    assert response.status_code == 400 and "0 is below the 1 already redeemed" in text_of(response)


def test_a_code_is_verified_and_handed_over_like_staff_verify(app, owner, phone, db):
    joined(phone)
    log_purchase(phone)
    code = redeemed_code(phone)
    assert code in text_of(owner.get("/dashboard/codes"))  # waiting
    page = owner.get("/dashboard/codes", query_string={"code": code.lower().replace("-", "")})
    assert page.status_code == 200 and "Valid" in text_of(page) and "Free Zobo drink" in text_of(page)
    done = owner.post(f"/dashboard/codes/{code}/fulfil")
    assert done.status_code == 302 and "done=redemption_fulfilled" in done.location
    with db.sessions() as session:
        redemption = session.scalars(select(RewardRedemption)).one()
        ada = session.scalar(select(Staff.id).where(Staff.phone_number == ADA))
    assert (redemption.status, redemption.verified_by_user_id) == ("fulfilled", ada)
    with db.sessions() as session:
        audit = session.scalars(select(AuditLog).where(AuditLog.action == "reward.fulfilled")).one()
    assert (audit.actor_id, audit.details["before"], audit.details["after"]) == (ada, {"status": "pending"}, {"status": "fulfilled"})
    assert count(db, Message, Message.triggered_by == "redemption_fulfilled_notice") == 1
    again = owner.post(f"/dashboard/codes/{code}/cancel")
    assert again.status_code == 409 and "Nothing was changed" in text_of(again)
    assert "Already handed over by Ada" in text_of(owner.get("/dashboard/codes", query_string={"code": code}))


def test_cancelling_a_code_refunds_the_points(app, owner, phone, db):
    joined(phone)
    log_purchase(phone)
    code = redeemed_code(phone)
    before = balance_of(db, CHIDI)
    assert owner.post(f"/dashboard/codes/{code}/cancel").status_code == 302
    assert balance_of(db, CHIDI) == before + 100
    with db.sessions() as session:
        audit = session.scalars(select(AuditLog).where(AuditLog.action == "reward.cancelled")).one()
    assert audit.actor_type == "vendor_user" and audit.details["after"] == {"status": "cancelled"}


def test_an_unknown_code_is_not_found(app, owner):
    page = owner.get("/dashboard/codes", query_string={"code": "RD-AAAAAA"})
    assert page.status_code == 404 and "No code RD-AAAAAA at your shop" in text_of(page)
    assert owner.post("/dashboard/codes/RD-AAAAAA/fulfil").status_code == 404


# Staff

def staff_row(db, number: str) -> Staff | None:
    with db.sessions() as session:
        return session.scalars(select(Staff).where(Staff.phone_number == number)).one_or_none()


def test_the_owner_adds_staff_who_get_a_message_to_choose_their_pin(app, owner, phone, db):
    response = owner.post("/dashboard/staff/add", {"phone": "0809 111 2222", "name": "Tolu"})
    assert response.status_code == 302
    tolu = staff_row(db, "+2348091112222")
    assert (tolu.full_name, tolu.role, tolu.is_active, tolu.pin_hash) == ("Tolu", "staff", True, None)
    assert count(db, Message, Message.to_number == tolu.phone_number, Message.triggered_by == "staff_invitation") == 1
    assert "Tolu" in text_of(owner.get("/dashboard/staff"))
    again = owner.post("/dashboard/staff/add", {"phone": "+2348091112222", "name": "Tolu"})
    assert again.status_code == 409 and "already on your staff" in text_of(again)
    bad = owner.post("/dashboard/staff/add", {"phone": "12", "name": ""})
    assert bad.status_code == 400 and "couldn't read that as a phone number" in text_of(bad)
    with db.sessions() as session:
        audit = session.scalars(select(AuditLog).where(AuditLog.action == "staff.added")).one()
    assert audit.details["after"] == {"name": "Tolu", "role": "staff", "active": True}


def test_adding_staff_sent_twice_adds_them_once_and_goes_on_as_the_first_did(app, owner, db):
    """A double tap on "Add to staff": the same one-time nonce, and no "already on your staff" error."""
    form = {"phone": "0809 111 2222", "name": "Tolu", FORM_NONCE: nonce_of(owner.get("/dashboard/staff"))}
    first, again = owner.post("/dashboard/staff/add", form), owner.post("/dashboard/staff/add", form)
    assert first.status_code == again.status_code == 302
    assert again.location == "/dashboard/staff?done=already_done"
    assert count(db, Staff, Staff.phone_number == "+2348091112222") == 1
    assert count(db, Message, Message.triggered_by == "staff_invitation") == 1


def test_a_refused_add_leaves_its_form_to_be_sent_again(app, owner, db):
    form = {"phone": "12", "name": "Tolu", FORM_NONCE: nonce_of(owner.get("/dashboard/staff"))}
    assert owner.post("/dashboard/staff/add", form).status_code == 400
    assert owner.post("/dashboard/staff/add", {**form, "phone": "0809 111 2222"}).status_code == 302
    assert staff_row(db, "+2348091112222").full_name == "Tolu"


def test_resetting_a_pin_clears_it_and_asks_them_to_choose_a_new_one(app, owner, phone, db):
    assert owner.post("/dashboard/staff/reset-pin", {"phone": BAYO}).status_code == 302
    assert (staff_row(db, BAYO).pin_hash, staff_row(db, BAYO).pin_fingerprint) == (None, None)
    assert count(db, Message, Message.triggered_by == "staff_pin_reset_notice") == 1
    bayo = phone(BAYO)
    assert "haven't chosen your staff PIN" in bayo.send("LOG").text
    bayo.send("PIN")  # no current PIN to give first
    bayo.send("864213")
    assert "Your PIN is set" in bayo.send("864213").text


def test_a_pin_reset_sent_twice_sends_one_message(app, owner, db):
    form = {"phone": BAYO, FORM_NONCE: nonce_of(owner.get("/dashboard/staff"))}
    first, again = owner.post("/dashboard/staff/reset-pin", form), owner.post("/dashboard/staff/reset-pin", form)
    assert (first.status_code, again.status_code) == (302, 302) and "already_done" in again.location
    assert count(db, Message, Message.triggered_by == "staff_pin_reset_notice") == 1
    assert count(db, AuditLog, AuditLog.action == "staff.pin_reset") == 1


def test_the_owner_deactivates_staff_but_never_themselves(app, owner, phone, db):
    assert owner.post("/dashboard/staff/remove", {"phone": BAYO}).status_code == 302
    assert staff_row(db, BAYO).is_active is False
    myself = owner.post("/dashboard/staff/remove", {"phone": ADA})
    assert myself.status_code == 409 and "can't remove yourself" in text_of(myself)
    assert owner.post("/dashboard/staff/reset-pin", {"phone": ADA}).status_code == 409
    assert staff_row(db, ADA).is_active and staff_row(db, ADA).pin_hash


# Poster and audit log

def test_the_poster_downloads_as_a5_and_a4_pdf_and_png(app, owner):
    pdf = owner.get("/dashboard/poster/a5.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert 'filename="mama-poster-a5.pdf"' in pdf.headers["Content-Disposition"]
    png = owner.get("/dashboard/poster/a4.png")
    assert decoded_links(png.data) == ["https://wa.me/14155238886?text=JOIN%20MAMA"]
    assert "A5 PDF" in text_of(owner.get("/dashboard/poster"))
    assert owner.get("/dashboard/poster/a3.pdf").status_code == 404


def test_the_audit_log_shows_who_did_what_newest_first(app, owner, phone, db):
    joined(phone)
    owner.post(f"/dashboard/customers/{customer_id(db)}/adjust", {"points": "5", "reason": "Welcome back"})
    page = text_of(owner.get("/dashboard/audit"))
    assert page.index("points.adjusted") < page.index("customer.joined") < page.index("dashboard.signed_in")
    assert "Ada points.adjusted" in page and '"reason": "Welcome back"' in page
    assert owner.get("/dashboard/audit", query_string={"page": "0"}).status_code == 404
    for page in ("9223372036854775807", "99999999999999999999", "9" * 5000):  # past any offset the database takes
        assert owner.get("/dashboard/audit", query_string={"page": page}).status_code == 404


def test_a_csrf_token_that_is_not_ascii_is_refused_like_any_wrong_one(app, owner, phone, db):
    joined(phone)
    response = owner.post(f"/dashboard/customers/{customer_id(db)}/adjust", {"points": "25", "reason": "x", "csrf": "é"}, csrf=False)
    assert response.status_code == 400 and "expired" in text_of(response)
    assert balance_of(db, CHIDI) == 50


def test_a_search_with_control_characters_searches_without_them(app, owner, phone, db):
    joined(phone)
    assert "+2348031234567" in text_of(owner.get("/dashboard/customers", query_string={"q": "Chi\x00di"}))


@pytest.mark.parametrize("typed, stored", [("1,000", 1000), ("1 000", 1000), ("+25", 25), ("-30", -30), ("25", 25)])
def test_points_are_read_with_thousands_separators_only_where_they_go(app, owner, phone, db, typed, stored):
    joined(phone)
    owner.post(f"/dashboard/customers/{customer_id(db)}/adjust", {"points": typed, "reason": "Fix"})
    assert balance_of(db, CHIDI) == 50 + stored


@pytest.mark.parametrize("typed", ["1,0", "1_000", "12,34,567", "1.5"])
def test_a_number_with_separators_in_the_wrong_places_is_no_number(app, owner, phone, db, typed):
    joined(phone)
    response = owner.post(f"/dashboard/customers/{customer_id(db)}/adjust", {"points": typed, "reason": "Fix"})
    assert response.status_code == 400 and "whole number" in text_of(response)
    assert balance_of(db, CHIDI) == 50


# One vendor's session sees nothing of another's

def test_a_session_of_one_vendor_gets_nothing_of_another(app, owner, phone, salon, db):
    joined(phone)
    salon_customer = "+2348077776666"
    joined(phone, salon_customer, to=SALON_NUMBER)
    tunde = phone(SALON_STAFF, to=SALON_NUMBER)
    tunde.send(f"LOG {salon_customer} 50000")
    tunde.send("839201")
    tunde.send("1")
    theirs = customer_id(db, salon_customer, "SALON")
    their_reward = reward_id(db, "Free braids")
    their_code = redeemed_code(phone, salon_customer, to=SALON_NUMBER)
    before = balance_of(db, salon_customer)

    assert owner.get(f"/dashboard/customers/{theirs}").status_code == 404
    assert owner.post(f"/dashboard/customers/{theirs}/adjust", {"points": "5", "reason": "x"}).status_code == 404
    assert "No customer matches" in text_of(owner.get("/dashboard/customers", query_string={"q": salon_customer}))
    assert owner.get(f"/dashboard/rewards/{their_reward}").status_code == 404
    assert owner.post(f"/dashboard/rewards/{their_reward}", {"points": "1", "active": "on"}).status_code == 404
    assert "Free braids" not in text_of(owner.get("/dashboard/rewards"))
    assert owner.get("/dashboard/codes", query_string={"code": their_code}).status_code == 404
    assert their_code not in text_of(owner.get("/dashboard/codes"))
    assert owner.post(f"/dashboard/codes/{their_code}/fulfil").status_code == 404
    assert owner.post(f"/dashboard/codes/{their_code}/cancel").status_code == 404
    assert owner.post("/dashboard/staff/remove", {"phone": SALON_STAFF}).status_code == 404
    assert owner.post("/dashboard/staff/reset-pin", {"phone": SALON_STAFF}).status_code == 404
    assert "Tunde" not in text_of(owner.get("/dashboard/staff"))
    overview = text_of(owner.get("/dashboard/")).replace("\u00a0", " ")
    assert "1 members" in overview and "0 purchases" in overview  # MAMA's own, not the salon's
    assert salon_customer not in text_of(owner.get("/dashboard/audit"))
    assert decoded_links(owner.get("/dashboard/poster/a5.png").data) == ["https://wa.me/14155238886?text=JOIN%20MAMA"]

    with db.sessions() as session:
        assert session.scalar(select(RewardRedemption.status).where(RewardRedemption.redemption_code == their_code)) == "pending"
        assert session.scalar(select(Reward.points_required).where(Reward.id == their_reward)) == 5
        tunde_row = session.scalars(select(Staff).where(Staff.phone_number == SALON_STAFF)).one()
        assert tunde_row.is_active and tunde_row.pin_hash
        salon_id = session.scalar(select(Tenant.id).where(Tenant.vendor_code == "SALON"))
        assert not session.scalars(select(AuditLog.action).where(AuditLog.tenant_id == salon_id, AuditLog.actor_type == "vendor_user",
                                                                 AuditLog.action.in_(("points.adjusted", "reward.updated", "reward.fulfilled")))).all()
    assert balance_of(db, salon_customer) == before


def test_an_owner_of_two_vendors_signs_in_to_the_one_they_asked(app, mama, salon, phone, db):
    with db.transaction() as session:
        session.add(Staff(tenant_id=salon.id, phone_number=ADA, full_name="Ada", role="owner",
                               pin_hash=session.scalars(select(Staff.pin_hash).where(Staff.phone_number == ADA)).first()))
    browser = Browser(app)
    browser.sign_in(dashboard_link(phone, to=SALON_NUMBER))
    assert "Glow Salon" in text_of(browser.get("/dashboard/"))


@pytest.mark.parametrize("number", [MAMA_NUMBER, PLATFORM_NUMBER])
def test_an_owner_of_two_vendors_on_one_number_names_the_one_and_is_told_the_other(app, phone, db, number):
    """On a number both vendors share (or the platform's, where vendors set up by chat live)."""
    with db.transaction() as session:
        load_tenant(session, tenant_file(whatsapp_number=number), pin_pepper=PIN_PEPPER)
        load_tenant(session, tenant_file(code="NOODLE", name="Noodle House", whatsapp_number=number, staff=[
            {"name": "Ada", "phone": ADA, "pin": ADA_PIN, "role": "owner"},
        ]), pin_pepper=PIN_PEPPER)
    ada = phone(ADA, to=number)
    assert ada.send("DASHBOARD").text == (  # nothing says which
        "You work for several shops: send the command again with the shop's code after it, like LOG MAMA.\n"
        "MAMA: Mama Put Kitchen\nNOODLE: Noodle House"
    )
    assert "PIN" in ada.send("DASHBOARD NOODLE").text
    link, other = ada.send(ADA_PIN).replies  # the PIN followed to NOODLE
    assert link.body.startswith("Your dashboard for *Noodle House*: ")
    assert other.body == "For another of your shops on this number, send:\nDASHBOARD MAMA for *Mama Put Kitchen*"
    browser = Browser(app)
    browser.sign_in(LINK.search(link.body).group(1))
    assert "Noodle House" in text_of(browser.get("/dashboard/"))
    link, other = ada.send("DASHBOARD").replies  # the last one used, in its PIN session
    assert link.body.startswith("Your dashboard for *Noodle House*: ") and "DASHBOARD MAMA" in other.body
