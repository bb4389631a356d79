"""The dev phone page in a real browser (Debian's chromium through chromium-driver): what `make
run` tells a newcomer to open first must answer what they type, not only its JSON endpoints."""
from __future__ import annotations

from selenium.webdriver.common.by import By

from tests.test_dashboard_browser import browser, server, wait_for  # noqa: F401 (fixtures)


def test_a_message_typed_on_the_dev_phone_page_is_answered(app, mama, server, browser):  # noqa: F811
    browser.get(server + "/dev/phone")
    sender = browser.find_element(By.ID, "from")
    sender.clear()
    sender.send_keys("+2348031234567")
    browser.find_element(By.ID, "body").send_keys("JOIN MAMA\n")
    wait_for(browser, ".msg.bot", "Welcome to Mama Put Kitchen rewards!")
