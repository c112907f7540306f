"""The console in a real headless Chromium (Debian's `chromium` and `chromium-driver`, driven
by Selenium) against the whole service under uvicorn, on SQLite and PostgreSQL: log
in, see a posted report counted, replay a failed webhook, retry a dead letter, search a number.
Each test saves a screenshot under artifacts/console/ (INFOBIP_EVENTS_ARTIFACTS moves it).

Without chromium these tests skip, saying how to install it; under CI
(INFOBIP_EVENTS_REQUIRE_POSTGRES=1, set by .ci/run, which installs chromium) they fail instead.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from pydantic import SecretStr
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait
from sqlalchemy import Engine, func, select

from events.api.app import create_app
from events.config import Settings
from storage.models import raw_webhooks
from tests.conftest import REQUIRE_PG
from tests.console_helpers import (
    TOKEN,
    dead_action,
    delivery_report,
    failed_webhook,
    raw_state,
)
from tests.helpers_proc import free_port

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("INFOBIP_EVENTS_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("INFOBIP_EVENTS_CHROMEDRIVER", "/usr/bin/chromedriver")
ARTIFACTS = Path(
    os.environ.get("INFOBIP_EVENTS_ARTIFACTS", Path(__file__).parent.parent / "artifacts")
)
# Quiet, offline, and root-friendly (CI runs as root, where the sandbox cannot start).
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1000",
)
WAIT_SECONDS = 20.0


def _missing() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).exists() or shutil.which(path)):
            return f"{path} is missing: apt-get install -y chromium chromium-driver"
    return None


@pytest.fixture(scope="session")
def chromium() -> Iterator[WebDriver]:
    """One browser for the session (starting Chromium is the slow part)."""
    missing = _missing()
    if missing is not None:
        if REQUIRE_PG:  # CI: .ci/run installs chromium, so a skip would hide a failure
            pytest.fail(missing)
        pytest.skip(missing)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in CHROMIUM_ARGS:
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.implicitly_wait(2)
    yield driver
    driver.quit()


@pytest.fixture
def browser(chromium: WebDriver) -> WebDriver:
    """The browser with no cookie left by an earlier test (cookies ignore the port)."""
    chromium.execute_cdp_cmd("Network.clearBrowserCookies", {})
    return chromium


@dataclass(frozen=True)
class Running:
    url: str


@pytest.fixture
def server(settings: Settings, engine: Engine) -> Iterator[Running]:
    """The whole service (receiver, processor, dispatcher) under a real uvicorn on a free port,
    in a thread (a child process would pay Python's start-up again for every test)."""
    configured = settings.model_copy(
        update={"api_token": SecretStr(TOKEN), "process_idle_seconds": 0.05}
    )
    app = create_app(configured, engine=engine, run_processor=True, auto_migrate=False)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    eventually(lambda: running.started, "uvicorn started")
    yield Running(f"http://127.0.0.1:{port}")
    running.should_exit = True
    thread.join(15)


@pytest.fixture
def screenshot(browser: WebDriver, request: pytest.FixtureRequest) -> Callable[[], Path]:
    def save() -> Path:
        folder = ARTIFACTS / "console"
        folder.mkdir(parents=True, exist_ok=True)
        name = request.node.name.replace("[", "-").replace("]", "")
        path = folder / f"{name}.png"
        assert browser.save_screenshot(str(path)), f"no screenshot at {path}"
        return path

    return save


def log_in(browser: WebDriver, server: Running) -> None:
    browser.get(f"{server.url}/console")
    assert "/console/login" in browser.current_url
    browser.find_element(By.ID, "token").send_keys(TOKEN)
    click_and_wait(browser, By.CSS_SELECTOR, "form[action='/console/login'] button")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Overview"


def click_and_wait(browser: WebDriver, by: str, value: str) -> None:
    """Click, then wait for the next page (a form's 303 and the GET after it)."""
    old = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(by, value).click()
    WebDriverWait(browser, WAIT_SECONDS).until(lambda _: _left(old))


def _left(old: WebElement) -> bool:
    """Whether the page that held `old` is gone. While the next page replaces it, chromedriver
    may answer "Node with given id does not belong to the document" instead of the stale
    element error: that says the same."""
    try:
        old.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        return "does not belong to the document" in str(exc)
    return False


def eventually(check: Callable[[], bool], what: str) -> None:
    """Until the service's processor has caught up (it runs on its own thread)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {WAIT_SECONDS:g}s")
        time.sleep(0.2)


def post_report(server: Running, message_id: str, to: str = "41793026727") -> None:
    answer = httpx.post(
        f"{server.url}/webhooks/sms",
        content=delivery_report(message_id, to=to),
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 200


def sms_figure(browser: WebDriver, name: str) -> str:
    cell = browser.find_elements(
        By.CSS_SELECTOR, f"tr[data-channel='sms'] td[data-figure='{name}']"
    )
    return cell[0].text.split()[0] if cell else ""


def test_log_in_and_see_a_posted_report_counted_in_the_overview(
    browser: WebDriver, server: Running, screenshot: Callable[[], Path]
) -> None:
    log_in(browser, server)
    post_report(server, "browser-1")

    def counted() -> bool:
        browser.refresh()
        return sms_figure(browser, "delivered") == "1"

    eventually(counted, "the report counted as delivered")
    assert sms_figure(browser, "sent") == "1"
    assert TOKEN not in browser.page_source
    assert screenshot().stat().st_size > 0


def test_replay_a_failed_webhook(
    browser: WebDriver, server: Running, engine: Engine, screenshot: Callable[[], Path]
) -> None:
    raw_id = failed_webhook(engine, delivery_report("browser-replayed"))
    log_in(browser, server)
    click_and_wait(browser, By.LINK_TEXT, "Webhooks")
    browser.find_element(By.ID, "state").send_keys("failed")
    click_and_wait(browser, By.CSS_SELECTOR, "form.filters button")
    click_and_wait(browser, By.CSS_SELECTOR, f"button[data-replay='{raw_id}']")
    notice = browser.find_element(By.ID, "replayed").text
    assert "now processed" in notice
    assert browser.find_element(By.ID, "raw-state").text == "processed"
    assert raw_state(engine, raw_id) == "processed"
    screenshot()


def test_retry_a_dead_letter(
    browser: WebDriver, server: Running, engine: Engine, screenshot: Callable[[], Path]
) -> None:
    action_id = dead_action(engine)
    log_in(browser, server)
    click_and_wait(browser, By.LINK_TEXT, "Dead letters")
    click_and_wait(browser, By.CSS_SELECTOR, f"button[data-retry='{action_id}']")
    assert browser.find_element(By.ID, "done").text == f"Action {action_id} is queued again."
    assert "/console/dead-letters" in browser.current_url
    assert not browser.find_elements(By.CSS_SELECTOR, f"button[data-retry='{action_id}']")
    screenshot()


def test_search_a_number(
    browser: WebDriver, server: Running, engine: Engine, screenshot: Callable[[], Path]
) -> None:
    post_report(server, "browser-searched", to="41793026727")
    post_report(server, "browser-other", to="41793026000")
    eventually(lambda: nothing_pending(engine), "the reports processed")
    log_in(browser, server)
    click_and_wait(browser, By.LINK_TEXT, "Messages")
    browser.find_element(By.ID, "q").send_keys("+41 79 302 67 27")
    click_and_wait(browser, By.CSS_SELECTOR, "form.filters button")
    found = browser.find_element(By.ID, "found").text
    assert "browser-searched" in found and "browser-other" not in found
    click_and_wait(browser, By.LINK_TEXT, "browser-searched")
    assert browser.find_element(By.ID, "message-state").text == "delivered"
    screenshot()


def nothing_pending(engine: Engine) -> bool:
    with engine.connect() as conn:
        waiting = conn.execute(
            select(func.count()).where(raw_webhooks.c.state == "pending")
        ).scalar()
    return waiting == 0
