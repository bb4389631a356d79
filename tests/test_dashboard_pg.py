"""The dashboard under real concurrency (PostgreSQL only): a link opens one session (one a press
of a double tap on its button, in that browser only), adjustments racing on one customer all go
through the ledger, one form sent twice at once changes once, and a phone added to the staff from
two tabs at once is added once."""
from __future__ import annotations

import threading

from sqlalchemy import select, text

from dashboard.auth import FORM_NONCE
from models import AuditLog, Broadcast, DashboardSession, PointsTransaction, Staff
from tests.conftest import at_once, balance_of, count
from tests.test_dashboard import (  # noqa: F401  (owner is a fixture)
    CHIDI, LOGIN_COOKIE, SESSION_COOKIE, Browser, customer_id, dashboard_link, joined, nonce_of, owner,
)
from tests.test_dashboard_broadcasts import FORM


def test_browsers_racing_with_one_link_get_one_session(app, mama, phone, db):
    for _ in range(5):
        link = dashboard_link(phone)
        browsers = [Browser(app) for _ in range(6)]
        for browser in browsers:
            assert browser.get(link).status_code == 200
        presses = [
            lambda browser=browser: browser.post(link, {"csrf": browser.cookie(LOGIN_COOKIE)}, csrf=False).status_code
            for browser in browsers
        ]
        assert sorted(at_once(presses)) == [302] + [410] * 5
    assert count(db, DashboardSession) == 5


def test_a_double_tap_on_the_sign_in_button_signs_in_with_either_answer(app, mama, phone, db):
    """Both presses carry the browser's sign-in cookie; the second waits for the first to spend
    the link, and each answer signs in whichever the browser keeps."""
    link = dashboard_link(phone)
    browser = Browser(app)
    assert browser.get(link).status_code == 200
    nonce = browser.cookie(LOGIN_COOKIE)
    presses = [Browser(app) for _ in range(2)]
    for press in presses:
        press.client.set_cookie(LOGIN_COOKIE, nonce, domain="bot.example.test", path="/dashboard/login")
    answers = at_once([lambda press=press: press.post(link, {"csrf": nonce}, csrf=False) for press in presses])
    assert [(answer.status_code, answer.location.endswith("/dashboard/")) for answer in answers] == [(302, True)] * 2
    assert [press.get("/dashboard/").status_code for press in presses] == [200, 200]
    assert count(db, DashboardSession) == 2


def test_adjustments_racing_on_one_customer_go_one_after_the_other(app, owner, phone, db):
    """Each adjustment locks the customer row: the balances audited before and after chain up."""
    joined(phone)
    target = f"/dashboard/customers/{customer_id(db)}/adjust"
    adjust = [
        lambda tab=tab, n=n: tab.post(target, {"points": "10", "reason": f"Race {n}"}).status_code
        for n, tab in enumerate(tabs_of(app, owner, 8))
    ]
    assert at_once(adjust) == [302] * 8
    assert balance_of(db, CHIDI) == 50 + 80
    assert count(db, PointsTransaction, PointsTransaction.transaction_type == "adjusted") == 8
    with db.sessions() as session:
        audited = session.scalars(select(AuditLog.details).where(AuditLog.action == "points.adjusted")).all()
    assert sorted(entry["before"]["balance"] for entry in audited) == list(range(50, 130, 10))
    assert all(entry["after"]["balance"] == entry["before"]["balance"] + 10 for entry in audited)


def test_a_customer_page_expiring_points_waits_for_the_customers_lock(app, mama, phone, db, clock):
    """Opening a customer's page expires their lots past expiry, as BAL does, and so takes their
    row lock first: a BAL or a purchase holding it is waited for, and no lot is expired twice."""
    joined(phone)
    page = f"/dashboard/customers/{customer_id(db)}"
    clock.advance(days=181)  # the welcome points are past their expiry
    owner = Browser(app)
    owner.sign_in(dashboard_link(phone))
    with db.engine.connect() as other:
        other.execute(text("SELECT 1 FROM customers WHERE phone_number = :phone FOR NO KEY UPDATE"), {"phone": CHIDI})
        opening = threading.Thread(target=lambda: answers.append(owner.get(page)))
        answers: list = []
        opening.start()
        opening.join(timeout=1)
        assert opening.is_alive()  # waits for the lock the other transaction holds
        other.rollback()
    opening.join(timeout=10)
    assert answers[0].status_code == 200
    assert count(db, PointsTransaction, PointsTransaction.transaction_type == "expired") == 1
    assert balance_of(db, CHIDI) == 0


def tabs_of(app, owner, n: int) -> list[Browser]:
    """The owner's session open in `n` tabs."""
    tabs = [Browser(app) for _ in range(n)]
    for tab in tabs:
        tab.client.set_cookie(SESSION_COOKIE, owner.cookie(SESSION_COOKIE), domain="bot.example.test", path="/dashboard")
    return tabs


def test_a_form_sent_twice_at_once_saves_one_draft(app, owner, db):
    """The second copy waits on the form's nonce until the first commits, then goes on to its page."""
    form = {**FORM, "action": "save", FORM_NONCE: nonce_of(owner.get("/dashboard/broadcasts/new"))}
    save = [lambda tab=tab: tab.post("/dashboard/broadcasts/new", form).location for tab in tabs_of(app, owner, 2)]
    assert sorted(location.rpartition("done=")[2] for location in at_once(save)) == ["already_done", "broadcast_saved"]
    assert count(db, Broadcast) == 1


def test_two_tabs_adding_the_same_phone_add_it_once(app, owner, db):
    """The second add waits for the first, then finds them on the staff (409), not a clash on the unique key."""
    add = [
        lambda tab=tab: tab.post("/dashboard/staff/add", {"phone": "0809 111 2222", "name": "Tolu"}).status_code
        for tab in tabs_of(app, owner, 2)
    ]
    assert sorted(at_once(add)) == [302, 409]
    assert count(db, Staff, Staff.phone_number == "+2348091112222") == 1
    assert count(db, AuditLog, AuditLog.action == "staff.added") == 1
