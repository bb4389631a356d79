"""The dashboard in a real browser (Debian's chromium, driven by selenium through chromium-driver),
on a phone-sized screen: signing in with the link the bot sends on WhatsApp, finding a customer,
adjusting their points, verifying a code, composing a broadcast with its live preview (the
vendored script) and saving it. `SCREENSHOTS=docs/screenshots` keeps the screenshots
of the main pages there (the README shows them); otherwise they go to a temporary folder."""
from __future__ import annotations

import base64
import os
import threading
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select
from werkzeug.serving import make_server

from bot.services.broadcast_file import DefinitionSchema, parse
from models import Broadcast, RewardRedemption, Tenant
from models.base import utcnow
from tests.conftest import PUBLIC_BASE_URL, balance_of
from tests.test_broadcasts import add_member, broadcasts_at
from tests.test_dashboard import CHIDI, dashboard_link, joined, log_purchase, redeemed_code

PHONE_SCREEN = (412, 915)
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture
def server(app):
    """The app on a free local port the system picks, served by werkzeug in a thread, on the
    test database (werkzeug ends the process on a port that is taken, so none is chosen here)."""
    served = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{served.server_port}"
    served.shutdown()
    thread.join()


@pytest.fixture
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    width, height = PHONE_SCREEN
    options.add_experimental_option("mobileEmulation", {"deviceMetrics": {"width": width, "height": height, "pixelRatio": 2}})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))  # the system's driver: nothing downloaded
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


@pytest.fixture
def screenshots(tmp_path) -> Path:
    folder = Path(os.environ.get("SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shoot(driver, folder: Path, name: str) -> None:
    """The whole page at the phone's width, scrolled or not (Chromium's own full-page capture)."""
    width, height = driver.execute_script(
        "return [document.documentElement.clientWidth, document.documentElement.scrollHeight]")
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True, "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
    })  # at the phone's pixel ratio
    (folder / f"{name}.png").write_bytes(base64.b64decode(shot["data"]))


def wait_for(driver, selector: str, text: str | None = None):
    located = (By.CSS_SELECTOR, selector)
    condition = seen.text_to_be_present_in_element(located, text) if text else seen.presence_of_element_located(located)
    # While a click loads the next page, chromium may answer about a node of the page going away
    # ("does not belong to the document"): that is one more poll, not a failure.
    WebDriverWait(driver, 30, ignored_exceptions=(WebDriverException,)).until(condition)
    return driver.find_element(*located)


def click_menu(driver, label: str) -> None:
    driver.find_element(By.LINK_TEXT, label).click()
    wait_for(driver, "nav a[aria-current='page']", label)


def expected_preview(db, tenant: Tenant, definition: dict) -> tuple[int, int]:
    """(matched, recipients) of a definition, as the broadcast service counts them."""
    with db.sessions() as session:
        tenant = session.get(Tenant, tenant.id)
        found = broadcasts_at(session, tenant).preview(parse(session, definition, tenant, utcnow(), DefinitionSchema))
    return found.matched, found.recipients


def test_the_owner_signs_in_from_whatsapp_finds_a_customer_adjusts_points_verifies_a_code_and_composes_a_broadcast(
    app, mama, phone, db, server, browser, screenshots,
):
    joined(phone)
    log_purchase(phone)  # 100 points for ₦10,000 and 20 for the first purchase
    code = redeemed_code(phone)  # the Zobo drink, for 100
    assert balance_of(db, CHIDI) == 70

    # The owner sends DASHBOARD on WhatsApp and opens the link the bot answers with.
    link = dashboard_link(phone).replace(PUBLIC_BASE_URL, server)
    browser.get(link)
    wait_for(browser, "#sign-in").click()
    wait_for(browser, "main h1", "Today")
    assert "Mama Put Kitchen" in browser.find_element(By.CSS_SELECTOR, ".brand").text
    assert browser.find_element(By.ID, "members").text == "1"
    shoot(browser, screenshots, "overview")

    # Find the customer by the local form of their phone, and open their page.
    click_menu(browser, "Customers")
    browser.find_element(By.ID, "q").send_keys("0803 123")
    browser.find_element(By.CSS_SELECTOR, "form.search button").click()
    WebDriverWait(browser, 30).until(seen.url_contains("q=0803"))  # the list before the search has them too
    wait_for(browser, "#customers a").click()
    assert wait_for(browser, "#balance").text == "70"

    # Adjust their points with a reason.
    browser.find_element(By.ID, "points").send_keys("25")
    browser.find_element(By.ID, "reason").send_keys("Birthday treat")
    browser.find_element(By.CSS_SELECTOR, "#adjust button").click()
    wait_for(browser, ".notice", "Points adjusted")
    assert browser.find_element(By.ID, "balance").text == "95"
    assert "Adjusted: Birthday treat" in browser.find_element(By.ID, "history").text
    assert balance_of(db, CHIDI) == 95
    shoot(browser, screenshots, "customer")

    # Verify the customer's code and hand the reward over.
    click_menu(browser, "Codes")
    browser.find_element(By.ID, "code").send_keys(code.lower())
    browser.find_element(By.CSS_SELECTOR, "form.search button").click()
    assert "Valid" in wait_for(browser, "#found").text
    shoot(browser, screenshots, "codes")
    browser.find_element(By.ID, "fulfil").click()
    wait_for(browser, ".notice", "handed over")
    with db.sessions() as session:
        assert session.scalar(select(RewardRedemption.status).where(RewardRedemption.redemption_code == code)) == "fulfilled"

    # Compose a broadcast: the live preview counts who it reaches as the owner types.
    for number, earned in (("+2348030000011", 600), ("+2348030000012", 0), ("+2348030000013", 300)):
        add_member(db, mama, number, name="Member Obi", points_earned=earned)  # 50 points each to start with
    click_menu(browser, "Broadcasts")
    wait_for(browser, "#new-broadcast").click()
    wait_for(browser, "main h1", "New broadcast")
    definition = {"name": "Friday double points", "text": "Hi {first_name}! Double points this Friday.",
                  "segment": {"min_points": 80}}
    matched, recipients = expected_preview(db, mama, definition)
    assert (matched, recipients) == (3, 3)  # Chidi (95) and two of the three members: not the one with 50
    browser.find_element(By.ID, "name").send_keys(definition["name"])
    browser.find_element(By.ID, "text").send_keys(definition["text"])
    browser.find_element(By.ID, "min_points").send_keys("80")
    WebDriverWait(browser, 30).until(lambda driver: driver.execute_script(
        "const shown = id => (document.getElementById(id) || {}).textContent;"
        "return [shown('preview-matched'), shown('preview-recipients')]") == [str(matched), str(recipients)])
    assert "Hi Chidi! Double points this Friday." in browser.find_element(By.ID, "live-preview").text
    shoot(browser, screenshots, "compose")
    browser.find_element(By.ID, "save").click()
    wait_for(browser, ".notice", "Draft saved")
    assert browser.find_element(By.ID, "reach").text == str(recipients)
    browser.find_element(By.ID, "launch").click()
    wait_for(browser, ".notice", "Launched")
    assert browser.find_element(By.ID, "targeted").text == str(recipients)
    shoot(browser, screenshots, "broadcast")
    with db.sessions() as session:
        saved = session.scalars(select(Broadcast)).one()
    assert (saved.name, saved.total_recipients, saved.segment) == ("Friday double points", recipients, {"min_points": 80})

    # The other main pages, for the README.
    for label, name, selector, expected in (
        ("Rewards", "rewards", "#rewards", "Jollof rice plate"), ("Staff", "staff", "#members", "Bayo"),
        ("Audit log", "audit", "#audit", "reward.fulfilled"), ("QR poster", "poster", ".poster-downloads", "A5 PDF"),
    ):
        click_menu(browser, label)
        assert expected in wait_for(browser, selector).text
        if name == "poster":  # the preview is drawn on the server: wait until it is shown
            WebDriverWait(browser, 30).until(lambda driver: driver.execute_script(
                "const img = document.querySelector('.poster-preview'); return img.complete && img.naturalWidth > 0"))
        shoot(browser, screenshots, name)

    # Signing out ends the session.
    browser.find_element(By.CSS_SELECTOR, ".top button").click()
    wait_for(browser, "main h1", "signed out")
    browser.get(f"{server}/dashboard/")
    wait_for(browser, "main h1", "Please sign in")
