"""The page at ``/`` of ``memgpt server``, driven in headless Chromium against a real server and the scripted LLM.

The browser is Debian's ``chromium`` with its ``chromium-driver``, through Selenium, which is given both paths
so that it never looks for (or downloads) a browser of its own. Without them the browser tests skip and say
what to install. ``MEMGPT_SCREENSHOTS=docs/screenshots`` keeps the screenshots the README shows
(``make screenshots``); otherwise they go to the test's temp folder.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from live_server import LiveServer, live_server, llm_home, runtime_llm  # noqa: F401 - fixtures
from memgpt.testing.fake_llm import FakeReply, demo_responder

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1"]
WAIT_S = 20  # the longest any one wait may take; waits end as soon as their condition holds

NOTES = """# Kestrel Ridge Observatory: field notes

The Kestrel Ridge Observatory was founded in 1932 by the astronomer Tove Lindqvist, who ground its first mirror herself.

Its great refractor has a 61 cm lens. The dome was rebuilt after the fire of 1958, and the library keeps
Lindqvist's notebooks on variable stars.

## Visiting

Open nights are on the first Friday of each month, weather permitting.
"""


def test_page_and_its_files_need_no_key(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url) as anon:
        page = anon.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        for path in ("/static/app.js", "/static/style.css"):
            assert anon.get(path).status_code == 200, path
        assert "http" not in page.text.replace("http-equiv", "")  # nothing loaded from elsewhere
        assert anon.get("/api/agents").status_code == 401  # the data still needs a key
        assert anon.get("/static/../pyproject.toml").status_code == 404



def test_context_and_by_date_routes(live_server: LiveServer) -> None:
    """The page's two routes: the context bar's numbers are /tokens's, and recall by date finds today's words."""
    import re
    from datetime import date, timedelta

    with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {live_server.user('cy')}"},
                      timeout=60) as c:
        agent = c.post("/api/agents", json={"name": "counted"}).json()["id"]
        c.post(f"/api/agents/{agent}/messages", json={"message": "the tide tables for Varnholm"})
        tokens = c.get(f"/api/agents/{agent}/context").json()
        info = c.post(f"/api/agents/{agent}/commands", json={"command": "/tokens"}).json()["info"]
        assert [int(n) for n in re.findall(r"\d+", info)][:3] == [tokens["system"], tokens["tools"], tokens["messages"]]
        assert tokens["context_window"] == 16000 and 0 < tokens["limit"] < 16000 and tokens["messages"] > 0
        today = date.today()  # the server stores UTC; so does this machine's test run
        day = {"start": str(today - timedelta(days=1)), "end": str(today + timedelta(days=1))}
        found = c.get(f"/api/agents/{agent}/messages/by-date", params=day).json()
        assert "the tide tables for Varnholm" in [m["content"] for m in found]
        backwards = c.get(f"/api/agents/{agent}/messages/by-date", params={"start": day["end"], "end": day["start"]})
        assert backwards.status_code == 400 and "before the start date" in backwards.json()["error"]
        assert c.get("/api/agents/nobody/context").status_code == 404


# ---------------------------------------------------------------------------------------- the browser
@pytest.fixture
def browser(tmp_path: Path) -> Iterator:
    missing = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not found: the browser tests need Debian's chromium and "
                    "chromium-driver (apt-get install -y chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is missing: pip install -e '.[dev]'")
    from selenium.webdriver.chrome.service import Service as ChromeService

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1280,860"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=ChromeService(executable_path=shutil.which("chromedriver")))
    try:
        yield driver
    finally:
        driver.quit()


class Page:
    """The page's parts by id, with explicit waits (never sleeps)."""

    def __init__(self, driver, url: str, shots: Path) -> None:  # noqa: ANN001
        from selenium.webdriver.support.ui import WebDriverWait

        self.d = driver
        self.url = url
        self.shots = shots
        self.wait_ = WebDriverWait(driver, WAIT_S)

    def __call__(self, element_id: str):  # noqa: ANN204
        return self.d.find_element("id", element_id)

    def all(self, css: str) -> list:
        return self.d.find_elements("css selector", css)

    def wait(self, condition, what: str):  # noqa: ANN001, ANN201
        from selenium.common.exceptions import TimeoutException

        try:
            return self.wait_.until(lambda _d: condition())
        except TimeoutException:
            shown = {i: self(i).text for i in ("notice", "status")}
            raise AssertionError(f"waited {WAIT_S} s for {what}; the page shows {shown}") from None

    def text_shows(self, element_id: str, text: str) -> None:
        self.wait(lambda: text in self(element_id).text, f"{text!r} in #{element_id}")

    def type(self, element_id: str, text: str) -> None:
        field = self(element_id)
        field.clear()
        field.send_keys(text)

    def click(self, element_id: str) -> None:
        self(element_id).click()

    def button(self, label: str):  # noqa: ANN201
        return self.d.find_element("css selector", f'button[aria-label="{label}"]')

    def in_item(self, css: str, text: str, button_css: str = "button"):  # noqa: ANN201
        """The button inside the first ``css`` item whose text holds ``text``."""
        item = next(e for e in self.all(css) if text in e.text)
        return item.find_element("css selector", button_css)

    def unfold(self, details_id: str, is_open: bool = True) -> None:
        """Open (or close) a ``<details>`` as a user would, by clicking its summary."""
        if (self(details_id).get_attribute("open") is not None) != is_open:
            self.d.find_element("css selector", f"#{details_id} > summary").click()
        self.wait(lambda: (self(details_id).get_attribute("open") is not None) == is_open, f"#{details_id} to toggle")

    def shot(self, name: str) -> None:
        self.d.execute_script("window.scrollTo(0, 0); document.getElementById('messages').scrollTop = 0")
        self.d.save_screenshot(str(self.shots / name))


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("MEMGPT_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_a_user_works_with_an_agent_in_the_browser(live_server: LiveServer, fake_llm, browser, shots: Path,  # noqa: ANN001
                                                   tmp_path: Path) -> None:
    ann, ben = live_server.user("ann"), live_server.user("ben")
    notes = tmp_path / "kestrel.md"
    notes.write_text(NOTES, encoding="utf-8")
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 this is not really a pdf")
    p = Page(browser, live_server.url, shots)
    browser.get(live_server.url + "/")

    # a wrong key is refused with the server's message; the right one is kept in localStorage, not the URL
    p.type("key", "sk-memgpt-wrong")
    p("login-form").submit()
    p.text_shows("notice", "missing or wrong API key")
    assert p("login").is_displayed()
    p.type("key", ann)
    p("login-form").submit()
    p.text_shows("status", "Signed in: 0 agents, 0 sources")
    assert browser.execute_script("return localStorage.getItem('memgpt.apiKey')") == ann
    assert ann not in browser.current_url

    # create an agent; a second one with the same name shows the server's error
    p.unfold("new-agent")
    p.type("new-name", "guide")
    p("create-form").submit()
    p.text_shows("status", "Agent guide")  # opened, with its messages and memory
    p.unfold("new-agent")
    p.type("new-name", "guide")
    p("create-form").submit()
    p.text_shows("notice", "an agent named 'guide' exists")
    p.unfold("new-agent", False)

    # upload the notes (and a broken file) into a new source: progress from the job API, per-file errors
    p.click("tab-sources")
    p.type("upload-source", "field-notes")
    p("upload-files").send_keys(f"{notes}\n{broken}")
    p("upload-form").submit()
    p.text_shows("job-message", "documents from field-notes")
    assert p("job-message").text.startswith("Loaded ")
    p.text_shows("job-errors", "broken.pdf")
    assert p("job-progress").get_attribute("value") == p("job-progress").get_attribute("max")
    p.button("Attach field-notes").click()
    p.wait(lambda: p.all('button[aria-label="Detach field-notes"]'), "the source to be attached")
    assert "attached" in p("source-list").text
    p.shot("sources.png")

    # ask a question: the search call is shown while the agent is still working (the reply is held back)
    gate = threading.Event()
    fake_llm.queue(FakeReply.demo(), FakeReply.respond(lambda request: gate.wait(WAIT_S) and demo_responder(request)))
    p.type("message", "Who founded the Kestrel Ridge observatory?")
    from selenium.webdriver.common.keys import Keys

    p("message").send_keys(Keys.ENTER)
    p.wait(lambda: "called archival_memory_search" in p("messages").text, "the streamed function call")
    assert not p.all("#messages .reply"), "the reply came before the LLM was let go"
    gate.set()
    p.wait(lambda: any("Tove Lindqvist" in r.text for r in p.all("#messages .reply")), "the answer")
    p.wait(lambda: not p.all("#messages .pending"), "the turn to end")
    p.d.find_element("css selector", "#messages details.steps summary").click()
    steps = p.d.find_element("css selector", "#messages details.steps").text
    assert "call archival_memory_search" in steps and "result archival_memory_search" in steps
    assert "Tove Lindqvist" in steps and "call send_message" in steps

    # edit a core memory block: the agent's next request carries it; the agent's own edit shows up
    p.click("tab-core")
    p.wait(lambda: p.all("#block-human"), "the human block")
    p.type("block-human", "The user is Ilse Brandt, who restores old telescopes.")
    p.d.find_element("css selector", 'form[data-label="human"] button').click()
    p.text_shows("status", "Saved human")
    assert "53 / 2000 characters" in p("core-blocks").text
    sent = len(fake_llm.chat_requests)
    fake_llm.queue(FakeReply.tool_call("core_memory_append", {"name": "human", "content": "She prefers brass.",
                                                              "request_heartbeat": True},
                                       content="She told me a preference; I will remember it."))
    p.type("message", "I like brass instruments best.")
    p.click("send")
    p.wait(lambda: len(p.all("#messages .turn")) == 2 and not p.all("#messages .pending"), "the second turn")
    system = fake_llm.chat_requests[sent].body["messages"][0]["content"]
    assert "The user is Ilse Brandt, who restores old telescopes." in system
    p.wait(lambda: "She prefers brass." in p("block-human").get_attribute("value"), "the agent's own edit")
    parts = browser.execute_script(
        "return [...document.querySelectorAll('#context-bar .part')].map(e => e.getBoundingClientRect().width)")
    assert len(parts) == 3 and all(w > 0 for w in parts)
    assert "of 16000 tokens" in p("context-legend").text
    assert p.d.find_element("css selector", "#messages details.steps").get_attribute("open") is not None
    p.shot("chat-and-memory.png")

    # retry, then rewrite the last reply
    replies = len(p.all("#messages .reply"))
    p.click("retry")
    p.wait(lambda: p.all("#messages .reply.stale") and len(p.all("#messages .reply")) > replies, "the retried reply")
    p.type("rewrite", "Brass it is: noted.")
    p("rewrite-form").submit()
    p.wait(lambda: p.all("#messages .reply:not(.stale)")[-1].text == "Brass it is: noted.", "the rewritten reply")

    # archival memory: the agent's hybrid search shows where passages came from; insert and delete
    p.click("tab-archival")
    p.type("archival-q", "who founded the observatory")
    p("archival-search").submit()
    p.text_shows("passages", "source field-notes · kestrel.md")
    p.shot("archival.png")
    p.type("archival-text", "The spare key of the dome is under the blue flowerpot.")
    p("archival-insert").submit()
    p.text_shows("passages", "the agent's own")
    p.in_item("#passages .passage", "blue flowerpot").click()
    p.wait(lambda: "blue flowerpot" not in p("passages").text, "the passage to go")

    # recall memory by words and by date
    p.click("tab-recall")
    p.type("recall-q", "brass")
    p("recall-text").submit()
    p.text_shows("recall-results", "I like brass instruments best.")
    p("recall-date").submit()
    p.text_shows("recall-results", "Who founded the Kestrel Ridge observatory?")

    # a failing step shows the server's error, in the alert and in the turn
    fake_llm.queue(FakeReply.error(400, "the test model refuses this one", code="test_refusal"))
    p.type("message", "This one fails.")
    p.click("send")
    p.text_shows("notice", "the test model refuses this one")
    p.wait(lambda: "the test model refuses this one" in p.all("#messages .turn")[-1].text, "the error in the turn")

    # every field has a label and every button a name (what a screen reader reads out)
    unlabelled = browser.execute_script("""return [...document.querySelectorAll('input, select, textarea')]
        .filter(e => !e.labels.length && !e.getAttribute('aria-label')).map(e => e.id)
        .concat([...document.querySelectorAll('button')].filter(b => !b.textContent.trim()
                 && !b.getAttribute('aria-label')).map(b => b.outerHTML))""")
    assert unlabelled == []

    # keyboard: the tabs follow the arrow keys
    p("tab-recall").send_keys(Keys.ARROW_RIGHT)
    p.wait(lambda: p("tab-sources").get_attribute("aria-selected") == "true", "the next tab")
    assert browser.switch_to.active_element.get_attribute("id") == "tab-sources"

    # rename, export and import under another name, delete the copy
    p.type("rename", "lighthouse-guide")
    p("rename-form").submit()
    p.text_shows("agent-title", "lighthouse-guide")
    p.click("export")
    p.text_shows("status", "Exported lighthouse-guide")
    exported = tmp_path / "export.json"
    with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {ann}"}) as c:
        exported.write_text(json.dumps(c.get("/api/agents/lighthouse-guide/export").json()))
    p.unfold("import")
    p("import-file").send_keys(str(exported))
    p("import-form").submit()
    p.text_shows("notice", "an agent named 'lighthouse-guide' exists")
    p("import-file").send_keys(str(exported))
    p.type("import-name", "guide-copy")
    p("import-form").submit()
    p.text_shows("status", "Imported guide-copy")
    p.click("delete")
    browser.switch_to.alert.accept()
    p.wait(lambda: "guide-copy" not in p("agent-list").text, "the copy to be deleted")
    assert p("agent-list").text.split() == ["lighthouse-guide"]

    # a phone's width: one column, nothing wider than the screen
    p.d.find_element("css selector", "#agent-list button").click()
    p.text_shows("agent-title", "lighthouse-guide")
    p.click("tab-core")
    browser.set_window_size(390, 844)
    p.wait(lambda: browser.execute_script("return document.documentElement.clientWidth") <= 390, "the phone width")
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    p.shot("phone.png")
    browser.set_window_size(1280, 860)

    # nothing was fetched from anywhere but the server
    urls = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert urls and all(u.startswith(live_server.url + "/") for u in urls), urls

    # another user's key sees none of it
    p.click("logout")
    p.wait(lambda: p("login").is_displayed(), "the sign-in form")
    assert browser.execute_script("return localStorage.getItem('memgpt.apiKey')") is None
    p.type("key", ben)
    p("login-form").submit()
    p.wait(lambda: p("app").is_displayed(), "ben's app")
    p.text_shows("status", "Signed in: 0 agents, 0 sources")
    assert p("no-agents").is_displayed()
    assert p.all("#agent-list button") == [] and p.all("#source-names option") == []
