"""The campaign owner's page in a real Chromium, through Playwright, over the sandbox:
upload -> check -> send -> live counts -> download; a hostile file; no token; the Chinese page.

Chromium is the system's (/usr/bin/chromium, or $BATCHER_CHROMIUM); `playwright install` is
never needed. Without it these tests skip, saying how to enable them; with
BATCHER_REQUIRE_BROWSER=1 (as .ci/run sets) a skip is a failure. Screenshots of every screen
go to tests/output/web/ (git-ignored).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from batcher.voiceapi.simulator import SandboxConfig, SandboxThread
from batcher.web.app import Config
from tests import hostile
from tests.helpers import numbers, write_xlsx
from tests.helpers.web import ServerThread

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "tests" / "output" / "web"
CHROMIUM = Path(os.environ.get("BATCHER_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOW = (
    "install Chromium (apt-get install -y chromium; never `playwright install`) and "
    "pip install '.[test]', or point BATCHER_CHROMIUM at a Chromium binary"
)


def _browser_or_skip():
    why = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        why = f"the page's browser tests need playwright: {HOW}"
    if why is None and not CHROMIUM.is_file():
        why = f"the page's browser tests need Chromium at {CHROMIUM}: {HOW}"
    if why is not None:
        if os.environ.get("BATCHER_REQUIRE_BROWSER") == "1":
            pytest.fail(f"BATCHER_REQUIRE_BROWSER=1 but {why}")
        pytest.skip(why)
    return sync_playwright


@pytest.fixture(scope="module")
def browser():
    sync_playwright = _browser_or_skip()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@contextlib.contextmanager
def _page(browser, locale: str = "en-GB"):
    context = browser.new_context(
        locale=locale, accept_downloads=True, viewport={"width": 1100, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def served(tmp_path):
    folder = tmp_path / "campaigns"
    folder.mkdir()
    config = tmp_path / "campaign.toml"
    config.write_text("chunk_size = 3\nconcurrency = 1\n")  # a few requests: counts move
    simulator = SandboxConfig(latency=0.4)
    with SandboxThread(simulator) as sb:
        settings = Config(
            folder=folder,
            campaign_config=config,
            sandbox=sb,
            sandbox_credentials=(simulator.api_key, simulator.api_secret),
        )
        with ServerThread(settings) as server:
            yield server, sb, folder


def _wait_for(condition, timeout: float = 60) -> None:
    """Poll from Python: the page's CSP (script-src 'self') forbids wait_for_function's eval,
    and the test keeps that CSP on."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the page never showed it"
        time.sleep(0.05)


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _contacts(path: Path) -> Path:
    """Twelve good numbers, a duplicate and three problem rows (rows 4, 9 and 15)."""
    good = [f"+{n}" for n in numbers(12)]
    rows = [["Name", "Phone"]]
    for i, number in enumerate(good, start=1):
        rows.append([f"contact {i}", number])
    rows.insert(3, ["bad 1", "12345"])
    rows.insert(8, ["bad 2", "not available"])
    rows.insert(14, ["bad 3", "+91 112"])
    rows.append(["again", good[0]])
    return write_xlsx(path, rows)


def test_upload_check_send_live_counts_download(browser, served, tmp_path):
    from openpyxl import load_workbook

    server, sb, _ = served
    contacts = _contacts(tmp_path / "spring.xlsx")
    with _page(browser) as page:
        page.goto(f"{server.url}/?token={server.config.token}")
        assert page.url == f"{server.url}/"  # the token left the address for a cookie
        _shot(page, "01-campaigns-empty")
        page.set_input_files("#file", str(contacts))
        page.click("button[type=submit]")
        page.wait_for_url("**/campaigns/spring")
        problems = page.locator("table.problems tbody tr")
        assert problems.count() == 3
        assert [problems.nth(i).locator("td").first.inner_text() for i in range(3)] == [
            "4",
            "9",
            "15",
        ]
        assert "12345" in problems.nth(0).inner_text()
        send = page.locator("#send")
        assert send.inner_text().startswith("Send 12 calls (about")
        _shot(page, "02-check")
        send.click()
        page.wait_for_url("**/campaigns/spring/progress")
        _wait_for(lambda: 0 < int(page.locator("#accepted").inner_text()) < 12)
        _shot(page, "03-sending-live-counts")
        page.wait_for_selector("#download")  # the page reloads itself when the send ends
        assert page.locator("#state").inner_text() == "finished"
        assert page.locator("#accepted").inner_text() == "12"
        _shot(page, "04-sent")
        with page.expect_download() as download:
            page.click("#download")
        saved = tmp_path / "downloaded.xlsx"
        download.value.save_as(saved)
        assert download.value.suggested_filename == "spring-results.xlsx"
        sheet = load_workbook(saved)["Results"]
        assert sheet.max_row == 17  # the header and the 16 rows of the file
        page.click("#records")
        page.wait_for_selector("#download")
        assert "records:" in page.locator("#output").inner_text()
        _shot(page, "05-records")
        page.goto(f"{server.url}/")
        assert "sent" in page.locator("#campaigns").inner_text()
        _shot(page, "06-campaigns")
    assert sb.accepted_counts() == dict.fromkeys(numbers(12), 1)


def test_a_hostile_file_gets_a_readable_page(browser, served, tmp_path):
    server, _, folder = served
    bomb = hostile.build("bomb_ratio.xlsx", tmp_path)
    with _page(browser) as page:
        page.goto(f"{server.url}/?token={server.config.token}")
        page.set_input_files("#file", str(bomb))
        page.click("button[type=submit]")
        page.wait_for_selector(".error-summary")
        text = page.locator(".error-summary").inner_text()
        assert "bomb_ratio.xlsx looks like a zip bomb" in text and "How to fix it" in text
        _shot(page, "07-hostile-file")
    assert not (folder / "bomb_ratio.xlsx").exists()


def test_no_token_is_403_and_a_post_without_csrf_is_refused(browser, served):
    server, _, _ = served
    with _page(browser) as page:
        answer = page.goto(f"{server.url}/")
        assert answer.status == 403
        assert "needs the token" in page.inner_text("main")
        _shot(page, "08-no-token")
        page.goto(f"{server.url}/?token={server.config.token}")  # now with the cookie
        refused = page.request.post(f"{server.url}/campaigns/x/stop", form={"a": "b"})
        assert refused.status == 403 and "CSRF" in refused.text()


def test_the_chinese_page(browser, served, tmp_path):
    server, _, _ = served
    contacts = _contacts(tmp_path / "spring.xlsx")
    with _page(browser, locale="zh-CN") as page:
        page.goto(f"{server.url}/?token={server.config.token}")
        assert page.locator("h1").inner_text() == "外呼活动"
        _shot(page, "09-zh-campaigns")
        page.set_input_files("#file", str(contacts))
        page.click("button[type=submit]")
        page.wait_for_url("**/campaigns/spring")
        problems = page.inner_text("#problems")
        assert "有 3 行存在问题" in problems and "含有字母" in problems
        assert "too short" not in problems  # every reason of the sample is in the catalogue
        assert page.locator("#send").inner_text().startswith("拨打 12 个电话")
        _shot(page, "10-zh-check")
        page.click("text=English")
        assert page.locator("#send").inner_text().startswith("Send 12 calls")
