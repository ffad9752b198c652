"""The dashboard in a real browser: headless Chromium on a live server over a seeded database.

It signs in with the admin token, waits for the figures, checks every tile, the split and the tables
against ``/api/v1/*``, filters by a channel, and fails on any browser console error.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Iterator

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from app import Hub, build_hub, create_app
from config import load_settings
from conftest import served, settings_dict
from core.models import utcnow
from test_analytics_seed import Seed, seed_demo

TOKEN = "browser-admin-token"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def _served(hub: Hub) -> Iterator[str]:
    """Serve ``hub``'s app on a free port for the test's duration; yield its base URL."""
    try:
        with served(create_app(hub=hub)) as url:
            yield url
    finally:
        hub.close()


@pytest.fixture
def live_server(sqlite_url: str) -> Iterator[str]:
    hub: Hub = build_hub(load_settings(settings_dict(sqlite_url, HUB_ADMIN_TOKEN=TOKEN)))
    seed_demo(hub.db, utcnow())
    with hub.db.session() as session:  # 20 days ago, alone on its day: a hub first response of 8 ms
        seed = Seed(session)
        fast = seed.ask(seed.person("slack", "fast@example.com"), utcnow() - timedelta(days=20),
                        created_before=timedelta(milliseconds=8), posted=False)
        seed.outcome(fast, "answer_posted", fast.created_at)
    yield from _served(hub)


@pytest.fixture
def empty_server(sqlite_url: str) -> Iterator[str]:
    """A hub right after install: nothing connected, no request yet."""
    hub: Hub = build_hub(load_settings(settings_dict(sqlite_url, HUB_ADMIN_TOKEN=TOKEN)))
    yield from _served(hub)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1440,2200", f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def api(base: str, path: str) -> dict[str, Any]:
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def fixed(value: float, places: int) -> str:
    """JavaScript's ``Number.prototype.toFixed``: exact binary value, ties away from zero."""
    return str(Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def shown(value: Any, key: str, currency: str = "USD") -> str:
    """The dashboard's formatting of a tile value (mirrors ``fmt`` in dashboard.js)."""
    if value is None:
        return "—"
    if key.startswith("rates.") or key == "csat.helpful_rate":
        return fixed(value * 100, 1) + "%"
    if key.startswith("first_response."):
        if value < 1:
            return f"{fixed(value * 1000, 0)} ms"
        if value < 10:
            return f"{fixed(value, 1)} s"
        if value < 90:
            return f"{fixed(value, 0)} s"
        if value < 5400:
            return f"{fixed(value / 60, 1)} min"
        return f"{fixed(value / 3600, 1)} h" if value < 172800 else f"{fixed(value / 86400, 1)} d"
    if key.startswith("cost."):
        return f"{fixed(value, 2)} {currency}"
    return f"{value:,}"


def dig(doc: dict[str, Any], key: str) -> Any:
    for part in key.split("."):
        doc = doc[part]
    return doc


def wait_loaded(driver: webdriver.Chrome, previous: str | None = None) -> None:
    def ready(d: webdriver.Chrome) -> bool:
        status = d.find_element(By.ID, "status")
        return status.get_attribute("data-loaded") == "true" and status.text != previous
    WebDriverWait(driver, 30, ignored_exceptions=(StaleElementReferenceException,)).until(ready)  # the page may be navigating


def check_figures(driver: webdriver.Chrome, stats: dict[str, Any]) -> None:
    values = driver.find_elements(By.CSS_SELECTOR, ".tile .value[data-key]")
    assert len(values) == 10
    for element in values:
        key = element.get_attribute("data-key")
        expected = dig(stats, key)
        raw = element.get_attribute("data-value")
        assert (None if raw == "null" else float(raw)) == expected, key
        assert element.text == shown(expected, key, stats["cost"]["currency"]), key
    for bucket, n in stats["split"].items():
        assert driver.find_element(By.CSS_SELECTOR, f'[data-count="{bucket}"]').text == f"{n:,}"


def test_dashboard_shows_what_the_api_says(live_server: str, browser: webdriver.Chrome, tmp_path: Path) -> None:
    browser.get(live_server + "/admin")
    browser.find_element(By.ID, "token").send_keys(TOKEN)
    browser.find_element(By.ID, "sign-in").click()
    wait_loaded(browser)

    stats = api(live_server, "/api/v1/stats")
    assert stats["counts"]["requests"] > 40
    check_figures(browser, stats)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#rates-chart path[data-series]")) == 4
    bars = browser.find_elements(By.CSS_SELECTOR, "#volume-chart rect")
    assert len(bars) >= len([d for d in api(live_server, "/api/v1/stats/series")["days"] if d["requests"]])
    gaps = api(live_server, "/api/v1/content-gaps")["groups"]
    WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "gaps").get_attribute("data-loaded") == "true")
    first_gap = browser.find_element(By.CSS_SELECTOR, "#gaps tbody tr td b").text
    assert first_gap == gaps[0]["label"]
    listed = browser.find_element(By.ID, "gaps").text.lower()  # the seed's greeting and refunds are not gaps
    assert "hello" not in listed and "refund" not in listed and "grouped by shared words" in browser.find_element(By.ID, "gaps-note").text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#decisions tbody tr")) == 25
    for tile in browser.find_elements(By.CSS_SELECTOR, ".tile"):  # every rate names what it divides by
        label = tile.find_element(By.CSS_SELECTOR, ".label").text.lower()
        if "rate" in label or "resolution" in label or "re-contact" in label or "helpful" in label:
            assert " of " in tile.find_element(By.CSS_SELECTOR, ".sub").text and "÷" in tile.get_attribute("title")
    assert "less than 48 h old" in browser.find_element(By.ID, "provisional").text
    assert not browser.find_element(By.ID, "next").is_displayed()  # what to do next is for a period without requests
    browser.save_screenshot(str(tmp_path / "dashboard.png"))

    previous = browser.find_element(By.ID, "status").text
    Select(browser.find_element(By.ID, "channel")).select_by_value("zendesk")
    wait_loaded(browser, previous)
    assert "channel=zendesk" in browser.current_url
    zendesk = api(live_server, "/api/v1/stats?channel=zendesk")
    assert 0 < zendesk["counts"]["requests"] < stats["counts"]["requests"]
    check_figures(browser, zendesk)

    errors = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]
    assert errors == []


def sign_in(browser: webdriver.Chrome, base: str, path: str = "/admin") -> None:
    browser.get(base + "/admin")
    browser.find_element(By.ID, "token").send_keys(TOKEN)
    browser.find_element(By.ID, "sign-in").click()
    wait_loaded(browser)
    if path != "/admin":
        browser.get(base + path)
        wait_loaded(browser)


def test_a_phone_width_has_no_sideways_scroll(live_server: str, browser: webdriver.Chrome) -> None:
    browser.set_window_size(390, 844)
    sign_in(browser, live_server)
    inner = browser.execute_script("return window.innerWidth")
    assert inner <= 390
    widest = browser.execute_script("return Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")
    assert widest <= inner, f"the page is {widest}px wide in a {inner}px window"
    # the page itself must not scroll sideways (a wide table may scroll inside its own box)
    assert browser.execute_script("window.scrollTo(200, window.scrollY); return window.scrollX") == 0
    decision = browser.find_element(By.CSS_SELECTOR, "#decisions a[data-decision]").get_attribute("href")
    browser.get(decision)  # one decision's page, then the Slack simulation's, at the same width
    assert browser.find_elements(By.ID, "verdict") and fits(browser)
    browser.get(live_server + "/admin/simulate")
    browser.find_element(By.ID, "text").send_keys("I want a refund for my subscription, it renewed without asking")
    browser.find_element(By.ID, "replies").send_keys("hello?\ncan I talk to a person please")
    browser.find_element(By.ID, "run").click()
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.ID, "sim-verdict"))
    replies = [browser.find_element(By.ID, f"reply-{n}") for n in (1, 2)]
    assert [r.find_element(By.CSS_SELECTOR, ".reply-text").text for r in replies] == ["hello?", "can I talk to a person please"]
    assert all(r.find_element(By.CSS_SELECTOR, ".recorded").text.startswith("Recorded: ") for r in replies)
    assert len(browser.find_elements(By.CSS_SELECTOR, ".slack-message")) == 2 + 2 and fits(browser)


def fits(browser: webdriver.Chrome) -> bool:
    """Whether the page is no wider than the window."""
    return bool(browser.execute_script(
        "return Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) <= window.innerWidth"))


def test_one_day_says_not_enough_data_and_lists_only_that_day(live_server: str, browser: webdriver.Chrome) -> None:
    day = (utcnow() - timedelta(days=6)).date().isoformat()
    sign_in(browser, live_server, f"/admin?from={day}&to={day}")
    for chart in ("rates-chart", "volume-chart"):
        box = browser.find_element(By.ID, chart)
        assert "Not enough data yet" in box.text and box.find_elements(By.CSS_SELECTOR, "svg circle, svg rect") == []
    expected = api(live_server, f"/api/v1/decisions?from={day}&to={day}&limit=25")["decisions"]
    rows = browser.find_elements(By.CSS_SELECTOR, "#decisions tbody tr a[data-decision]")
    assert [int(a.get_attribute("data-decision")) for a in rows] == [d["id"] for d in expected] != []
    first = expected[0]
    rows[0].click()
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.ID, "verdict"))
    assert browser.current_url.endswith(f"/admin/decisions/{first['id']}")
    assert first["subject"] in browser.find_element(By.ID, "request").text
    assert browser.find_element(By.ID, "confidence").text.startswith(f"{first['confidence']:.2f}")
    assert browser.find_element(By.ID, "reasons").text == ", ".join(first["reasons"])
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def test_a_sub_second_first_response_shows_in_ms(live_server: str, browser: webdriver.Chrome) -> None:
    day = (utcnow() - timedelta(days=20)).date().isoformat()
    sign_in(browser, live_server, f"/admin?from={day}&to={day}")
    tile = browser.find_element(By.CSS_SELECTOR, '.value[data-key="first_response.hub.median_seconds"]')
    assert float(tile.get_attribute("data-value")) == 0.008 and tile.text == "8 ms"
    cost = browser.find_element(By.CSS_SELECTOR, '.value[data-key="cost.per_automated_resolution"]')
    assert cost.text == "0.10 USD"  # one answer (0.10 by default), assumed resolved after 48 h of silence
    legend = browser.find_element(By.ID, "rates-legend").text
    assert "÷ requests" in legend and "÷ answered" in legend or "Not enough data" in browser.find_element(By.ID, "rates-chart").text


def test_the_dashboard_refuses_without_a_session(live_server: str, browser: webdriver.Chrome) -> None:
    browser.get(live_server + "/admin")
    assert browser.find_element(By.ID, "token").get_attribute("type") == "password"
    assert browser.find_elements(By.ID, "tiles") == []
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def test_right_after_install_the_dashboard_says_what_to_do_next(empty_server: str, browser: webdriver.Chrome) -> None:
    sign_in(browser, empty_server)
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, '#next [data-step="connect"]'))
    steps = browser.find_element(By.ID, "next")
    assert steps.is_displayed() and "No requests from " in steps.text and "what to do next" in steps.text
    assert "Nothing is connected yet: connect Slack, Zendesk or Jira (docs/connectors/)" in steps.text
    assert "HUB_DRY_RUN=true" in steps.text and "POST /api/v1/ask" in steps.text
    assert steps.find_element(By.LINK_TEXT, "Try a Slack message").get_attribute("href") == empty_server + "/admin/simulate"
    for value in browser.find_elements(By.CSS_SELECTOR, ".tile .value[data-key]"):  # no figure is made up
        assert value.text in ("0", "—"), value.get_attribute("data-key")
    WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "gaps").get_attribute("data-loaded") == "true")
    assert browser.find_element(By.ID, "gaps-note").text.startswith("No escalation in this selection lacked an article.")
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
