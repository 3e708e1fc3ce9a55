"""The widget in a real headless Chromium against `shopbot serve`: a question typed into the
chat on the demo storefront gets an answer that streams in, and the conversation comes back
after a reload and after the server restarts."""

from __future__ import annotations

import os
import re
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.slack_fake import BOT_TOKEN as SLACK_TOKEN
from adapters.slack_fake import SECRET as SLACK_SECRET
from adapters.slack_fake import FakeSlack, event_body, signed, slack_in_thread
from tests.test_cli import clean_env, serving

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

if not (CHROMIUM and CHROMEDRIVER):
    if os.environ.get("CI"):
        pytest.fail("CI must run the browser tests: install Debian's chromium and chromium-driver", pytrace=False)
    pytest.skip(
        "Chromium not installed (scripts/test.sh installs Debian's chromium and chromium-driver)",
        allow_module_level=True,
    )

from selenium import webdriver  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

RECORD_STREAM = """
const root = document.getElementById('shopbot-widget').shadowRoot;
window.__seen = [];
new MutationObserver(() => {
  const bubbles = root.querySelectorAll('.msg.assistant');
  if (bubbles.length) window.__seen.push(bubbles[bubbles.length - 1].textContent);
}).observe(root.querySelector('.log'), {subtree: true, childList: true, characterData: true});
"""


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not try to download anything
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # type: ignore[assignment]
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def shadow(driver: webdriver.Chrome) -> Any:
    return driver.find_element(By.ID, "shopbot-widget").shadow_root


def wait(driver: webdriver.Chrome, condition: Any, timeout: float = 60) -> Any:
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: condition())


def ask(driver: webdriver.Chrome, question: str) -> str:
    root = shadow(driver)
    done_before = len(root.find_elements(By.CSS_SELECTOR, ".msg.assistant.done"))
    root.find_element(By.CSS_SELECTOR, "textarea").send_keys(question)
    root.find_element(By.CSS_SELECTOR, "form button").click()
    wait(driver, lambda: len(root.find_elements(By.CSS_SELECTOR, ".msg.assistant.done")) > done_before)
    return root.find_elements(By.CSS_SELECTOR, ".msg.assistant.done")[-1].text


def test_the_widget_streams_an_answer_and_keeps_the_conversation(
    browser: webdriver.Chrome, tmp_path: Path, redis_url: str
) -> None:
    port = free_port()
    # Greedy: the same reply every run, so how it streams is the same too.
    env = clean_env(SHOPBOT_REDIS_URL=redis_url, SHOPBOT_REDIS_PREFIX=f"browser{time.monotonic_ns()}",
                    SHOPBOT_DATA_DIR=str(tmp_path / "data"), SHOPBOT_LLM__TEMPERATURE="0")  # fmt: skip
    with serving(env, port) as url:
        browser.get(url)
        assert "Trailhead Supply" in browser.title
        root = shadow(browser)
        root.find_element(By.CSS_SELECTOR, ".launcher").click()
        wait(browser, lambda: root.find_element(By.CSS_SELECTOR, ".status").text == "online")
        browser.execute_script(RECORD_STREAM)

        # A pick is written by the model (a greeting or a decline is composed, and sent whole).
        question = "Can you recommend a tent for two people?"
        answer = ask(browser, question)
        seen = [text for text in browser.execute_script("return window.__seen") if text]
        assert len(set(seen)) >= 3, f"the answer appeared at once, not streamed: {seen}"
        grew = [b.startswith(a) for a, b in zip(seen, seen[1:], strict=False) if a and b]
        assert sum(grew) >= len(grew) - 1, "each step extends the text"
        assert len(answer.split()) >= 5
        user_bubbles = [e.text for e in root.find_elements(By.CSS_SELECTOR, ".msg.user")]
        assert user_bubbles == [question]

        # "Link Telegram" asks for a code to type in the Telegram bot (the reverse of /link there).
        done_before = len(root.find_elements(By.CSS_SELECTOR, ".msg.assistant.done"))
        root.find_element(By.CSS_SELECTOR, ".link").click()
        wait(browser, lambda: len(root.find_elements(By.CSS_SELECTOR, ".msg.assistant.done")) > done_before)
        offer = root.find_elements(By.CSS_SELECTOR, ".msg.assistant.done")[-1].text
        assert re.search(r"Your code is [A-Z0-9]{3}-[A-Z0-9]{3}\.", offer), offer

        browser.refresh()  # the session token in localStorage brings the history back
        root = shadow(browser)
        root.find_element(By.CSS_SELECTOR, ".launcher").click()
        wait(browser, lambda: len(root.find_elements(By.CSS_SELECTOR, ".msg")) >= 2)
        texts = [e.text for e in root.find_elements(By.CSS_SELECTOR, ".msg")]
        assert texts[:2] == [question, answer]

    # The server is gone: the widget says so and keeps retrying with backoff.
    wait(browser, lambda: "offline" in root.find_element(By.CSS_SELECTOR, ".status").text, timeout=10)
    with serving(env, port):
        wait(browser, lambda: root.find_element(By.CSS_SELECTOR, ".status").text == "online", timeout=60)
        second = ask(browser, "thank you")
        assert second
        texts = [e.text for e in root.find_elements(By.CSS_SELECTOR, ".msg")]
        assert texts[:2] == [question, answer], "history shown after reconnecting"


def test_a_staff_reply_from_slack_appears_in_the_widget_and_the_assistant_stays_silent(
    browser: webdriver.Chrome, tmp_path: Path, redis_url: str
) -> None:
    fake = FakeSlack()
    with slack_in_thread(fake) as api_url:
        env = clean_env(
            SHOPBOT_REDIS_URL=redis_url,
            SHOPBOT_REDIS_PREFIX=f"browser{time.monotonic_ns()}",
            SHOPBOT_DATA_DIR=str(tmp_path / "data"),
            SHOPBOT_SLACK__BOT_TOKEN=SLACK_TOKEN,
            SHOPBOT_SLACK__SIGNING_SECRET=SLACK_SECRET,
            SHOPBOT_SLACK__SUPPORT_CHANNEL="C0SUPPORT",
            SHOPBOT_SLACK__API_URL=api_url,
        )
        with serving(env) as url:
            browser.get(url)
            root = shadow(browser)
            root.find_element(By.CSS_SELECTOR, ".launcher").click()
            wait(browser, lambda: root.find_element(By.CSS_SELECTOR, ".status").text == "online")
            assert "person" in ask(browser, "/human")
            wait(browser, lambda: fake.posts("C0SUPPORT"))
            thread = fake.posts("C0SUPPORT")[0]["_ts"]

            reply = {"type": "message", "channel": "C0SUPPORT", "channel_type": "channel", "user": "U0STAFF"}
            body = event_body(
                {**reply, "text": "Hi, Sam here. Let me look.", "ts": "1700000950.000001", "thread_ts": thread}
            )
            assert httpx.post(f"{url}/slack/events", content=body, headers=signed(body)).status_code == 200
            wait(browser, lambda: root.find_elements(By.CSS_SELECTOR, ".msg.staff"))
            assert [e.text for e in root.find_elements(By.CSS_SELECTOR, ".msg.staff")] == ["Hi, Sam here. Let me look."]
            assert "joined" in root.find_elements(By.CSS_SELECTOR, ".msg.assistant")[-1].text

            # The shopper answers the person: no reply from the assistant, no typing left behind.
            assistant_before = len(root.find_elements(By.CSS_SELECTOR, ".msg.assistant"))
            root.find_element(By.CSS_SELECTOR, "textarea").send_keys("It's order 1021")
            root.find_element(By.CSS_SELECTOR, "form button").click()
            wait(browser, lambda: any("order 1021" in t for t in fake.texts("C0SUPPORT", thread)))
            wait(browser, lambda: not root.find_elements(By.CSS_SELECTOR, ".msg.typing"), timeout=10)
            assert len(root.find_elements(By.CSS_SELECTOR, ".msg.assistant")) == assistant_before
