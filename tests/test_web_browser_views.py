"""What the campaign owner looks at, in a real Chromium over the sandbox: the campaign list
(newest first, archive), a resumed campaign's progress with its chart, the search "was this
number called", the duplicate rows; each page measured at 390 px (no horizontal overflow).

With BATCHER_SCREENSHOTS=DIR the README's screenshots are saved there, taken 1000 px wide:
    BATCHER_SCREENSHOTS=docs/screenshots python -m pytest tests/test_web_browser_views.py
(the fixtures and the Chromium rules are tests/test_web_browser.py's).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from batcher.voiceapi.simulator import SandboxConfig, SandboxThread
from batcher.web.app import Config
from tests.helpers import KEY, SECRET, numbers, write_xlsx
from tests.helpers.web import Api, ServerThread
from tests.test_web_browser import _contacts, _page, _wait_for, browser

__all__ = ["browser"]  # the fixture, used by name

PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1000, "height": 760}


@pytest.fixture
def served(private_home):
    """The page of a folder its owner would have, ~/my-campaigns, over the sandbox; the callee
    ending in 05 presses the campaign's opt-out key."""
    folder = private_home / "my-campaigns"
    folder.mkdir()
    config = private_home / "campaign.toml"
    config.write_text('chunk_size = 3\nconcurrency = 1\nopt_out_key = "9"\n')
    simulator = SandboxConfig(latency=0.4, keypresses={"05": "9"})
    with SandboxThread(simulator) as sb:
        settings = Config(
            folder=folder,
            campaign_config=config,
            sandbox=sb,
            sandbox_credentials=(simulator.api_key, simulator.api_secret),
        )
        with ServerThread(settings) as server:
            yield server, sb, folder


def _fits_a_phone(page) -> None:
    """The page at 390 px: nothing wider than the screen."""
    page.set_viewport_size(PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{page.url} is {width} px wide at 390"


def _readme_shot(page, name: str, until: str | None = None) -> None:
    """A screenshot for the README, 1000 px wide, when BATCHER_SCREENSHOTS names a folder:
    the top of the page, down to the element `until` when given."""
    folder = os.environ.get("BATCHER_SCREENSHOTS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    page.set_viewport_size(WIDE)
    height = WIDE["height"]
    if until is not None:
        box = page.locator(until).bounding_box()
        assert box is not None
        height = min(int(box["y"] + box["height"]) + 16, 1600)
    clip = {"x": 0, "y": 0, "width": WIDE["width"], "height": height}
    page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True, clip=clip)


def test_the_owners_views(browser, served, tmp_path):
    server, sb, folder = served
    contacts = _contacts(tmp_path / "spring.xlsx")  # 12 numbers; row 17 repeats row 2
    api = Api(server)
    with _page(browser) as page:
        page.goto(f"{server.url}/?token={server.config.token}")
        page.set_input_files("#file", str(contacts))
        page.click("button[type=submit]")
        page.wait_for_url("**/campaigns/spring")

        # the duplicate, with the row it repeats and its number
        duplicates = page.locator("#duplicates")
        assert "1 row repeats an earlier row" in duplicates.inner_text()
        assert page.locator("table.duplicates tbody tr").count() == 1
        row = page.locator("table.duplicates tbody tr").first.inner_text()
        assert "row 17 repeats row 2" in row and "+91 98000 00001" in row
        _readme_shot(page, "check-duplicates", until="#duplicates")
        page.set_viewport_size(PHONE)
        box = duplicates.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 390

        # a first run from the command line sends 6 of the 12; the page sends the rest
        command = api.campaign("spring")["command"]
        # (in a process: Playwright's loop runs in this thread, and the CLI runs its own)
        env = {**os.environ, "BATCHER_API_KEY": KEY, "BATCHER_API_SECRET": SECRET}
        run = [sys.executable, "-m", "batcher", *command[1:], "--limit", "6", "--yes"]
        subprocess.run(run, env=env, check=False, capture_output=True, timeout=120)
        assert sum(sb.accepted_counts().values()) == 6
        page.set_viewport_size(WIDE)
        page.reload()
        page.click("#send")
        page.wait_for_url("**/campaigns/spring/progress")
        page.wait_for_selector("#download")  # reloaded when the send ends
        assert page.locator("#progress-of").inner_text() == "this run: 6 of 6"
        assert page.locator("#campaign-of").inner_text() == "whole campaign: 12 of 12"
        assert page.locator("#whole-called").inner_text() == "12"
        assert page.locator("#whole-opted-out").inner_text() == "0"
        chart = page.locator("#chart")
        assert "Numbers by the time their request was sent" in chart.inner_text()
        assert page.locator("#chart svg.bars").count() >= 1
        assert page.locator("#chart td.num").all_inner_texts()[-1].isdigit()
        _readme_shot(page, "progress", until="#chart")
        _fits_a_phone(page)
        page.set_viewport_size(WIDE)
        page.click("#records")  # the call records: answered, and who pressed the opt-out key
        page.wait_for_selector("#download")
        assert page.locator("#whole-answered").inner_text().isdigit()
        assert page.locator("#whole-opted-out").inner_text() == "1"
        page.goto(f"{server.url}/campaigns/spring/progress?lang=zh")  # the Chinese page
        assert page.locator("#campaign-of").inner_text() == "整个活动：12 / 12"
        _readme_shot(page, "progress-zh", until="#chart")
        _fits_a_phone(page)
        page.goto(f"{server.url}/campaigns/spring/progress?lang=en")

        # a campaign uploaded later comes first in the list; archived, it is listed apart
        winter = write_xlsx(tmp_path / "winter.xlsx", [["Phone"], [f"+{numbers(1, 40)[0]}"]])
        page.goto(f"{server.url}/")
        page.set_input_files("#file", str(winter))
        page.click("#upload")
        page.wait_for_url("**/campaigns/winter")
        page.goto(f"{server.url}/")
        names = page.locator("#campaigns tbody tr a.name").all_inner_texts()
        assert names == ["winter", "spring"]
        spring = page.locator('#campaigns tr[data-campaign="spring"]').inner_text()
        assert "last sent 20" in spring and "Called 12" in spring and "Opted out 1" in spring
        assert "Folder: ~/my-campaigns" in page.inner_text("main")
        _readme_shot(page, "campaigns")
        _fits_a_phone(page)
        page.locator('#campaigns tr[data-campaign="winter"] button').click()
        page.wait_for_url(f"{server.url}/")
        assert page.locator("#campaigns tbody tr a.name").all_inner_texts() == ["spring"]
        page.click("#archived-campaigns summary")
        assert "winter" in page.locator("#archived").inner_text()
        assert (folder / "winter" / "contacts.xlsx").is_file()  # kept on disk

        # was this number called: by spring (and when), and never
        page.click("#search-link")
        page.fill("#number", "+91 98 0000 0001")
        page.click("form.search button")
        page.wait_for_selector("#calls")
        calls = page.locator("#calls tbody").inner_text()
        assert "spring" in calls and "accepted" in calls and "spring.journal" in calls
        _readme_shot(page, "search")
        _fits_a_phone(page)
        page.fill("#number", "+91 98000 09999")
        page.click("form.search button")
        assert "was never called" in page.locator("#never-called").inner_text()
        page.fill("#number", "<script>alert(1)</script>")
        page.click("form.search button")
        refusal = page.locator("#refusal").inner_text()
        assert "“<script>alert(1)</script>” is not a phone number" in refusal
        _fits_a_phone(page)


def test_the_search_in_chinese(browser, served):
    server, _, _ = served
    with _page(browser, locale="zh-CN") as page:
        page.goto(f"{server.url}/search?token={server.config.token}")
        assert page.locator("h1").inner_text() == "这个号码打过吗？"
        page.fill("#number", "hello")
        page.click("form.search button")
        page.wait_for_selector("#refusal")
        refusal = page.locator("#refusal").inner_text()
        assert "不是 batcher 会拨打的电话号码" in refusal and "letters" not in refusal
        _wait_for(lambda: page.locator("#number").input_value() == "hello")
        _fits_a_phone(page)
