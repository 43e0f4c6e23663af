"""Every page the campaign owner sees, in a real Chromium, in English and Chinese, at 390 px
(a phone) and 1280 px: the list with an archived campaign, the check with its duplicates,
problems and settings, a test call's refusal, the progress of a resumed send with its chart,
the search (found, never called, refused) and the error pages. None scrolls sideways, and no
date is cut across two lines (the fixtures are tests/test_web_browser.py's)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers import KEY, SECRET, numbers, write_xlsx
from tests.helpers.web import Api
from tests.test_web_browser import _contacts, _page, browser, served

__all__ = ["browser", "served"]  # the fixtures, used by name

WIDTHS = (390, 1280)


def _looks_right(page, what: str) -> None:
    """At each width: nothing wider than the screen, every date on one line."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 844})
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= width, f"{what}: {wide} px wide at {width}"
        cut = page.evaluate(
            "Array.from(document.querySelectorAll('time'))"
            ".filter(e => e.getClientRects().length > 1).map(e => e.textContent)"
        )
        assert cut == [], f"{what} at {width} px: dates cut across two lines: {cut}"


def _lines_of_word(page, cells: str, word: str) -> int:
    """On how many lines a word of a cell is shown (a cell as written is cut between its
    words first, inside a word only when it is longer than the column)."""
    return page.evaluate(
        """([cells, word]) => {
            for (const cell of document.querySelectorAll(cells)) {
                const text = cell.firstChild;
                const at = text && text.textContent ? text.textContent.indexOf(word) : -1;
                if (at < 0) continue;
                const range = document.createRange();
                range.setStart(text, at);
                range.setEnd(text, at + word.length);
                return new Set(Array.from(range.getClientRects()).map(r => r.top)).size;
            }
            return 0;
        }""",
        [cells, word],
    )


@pytest.mark.parametrize("locale", ["en-GB", "zh-CN"])
def test_every_owner_page_fits_and_reads_well(browser, served, tmp_path, locale):
    server, sb, _ = served
    api = Api(server)
    with _page(browser, locale=locale) as page:
        page.goto(f"{server.url}/?token={server.config.token}")
        _looks_right(page, "the empty list")
        page.set_input_files("#file", str(_contacts(tmp_path / "spring-offer.xlsx")))
        page.click("form.upload button[type=submit]")
        page.wait_for_url("**/campaigns/spring-offer")
        page.click("details.settings summary")
        _looks_right(page, "the check, its duplicates, problems and settings")
        page.set_viewport_size({"width": 390, "height": 844})
        assert _lines_of_word(page, "table.problems td.cell", "available") == 1
        # a first run from the command line sends 6 (in a process: Playwright's loop is here)
        command = api.campaign("spring-offer")["command"]
        env = {**os.environ, "BATCHER_API_KEY": KEY, "BATCHER_API_SECRET": SECRET}
        run = [sys.executable, "-m", "batcher", *command[1:], "--limit", "6", "--yes"]
        subprocess.run(run, env=env, check=False, capture_output=True, timeout=120)
        page.reload()
        page.fill("input[name=number]", f"+{numbers(1)[0]}")  # called by the first run
        page.click("section.test-call button")
        page.wait_for_selector("#test-repeat")
        _looks_right(page, "a test call's refusal")
        page.goto(f"{server.url}/campaigns/spring-offer")
        page.click("#send")
        page.wait_for_url("**/progress")
        _looks_right(page, "the progress of a send")
        page.wait_for_selector("#download")
        _looks_right(page, "the progress of a finished send, with its chart")
        winter = write_xlsx(tmp_path / "winter.xlsx", [["Phone"], [f"+{numbers(1, 40)[0]}"]])
        page.goto(f"{server.url}/")
        page.set_input_files("#file", str(winter))
        page.click("form.upload button[type=submit]")
        page.wait_for_url("**/campaigns/winter")
        page.goto(f"{server.url}/")
        page.locator('#campaigns tr[data-campaign="winter"] button').click()
        page.wait_for_url(f"{server.url}/")
        page.click("#archived-campaigns summary")
        _looks_right(page, "the list with an archived campaign")
        for number, what in (
            (f"+{numbers(1)[0]}", "a number called"),
            ("+91 98000 09999", "a number never called"),
            ("<script>alert(1)</script>" + "x" * 40, "a refused text"),
        ):
            page.goto(f"{server.url}/search")
            page.fill("#number", number)
            page.click("form.search button")
            page.wait_for_selector("#answer, #refusal")
            _looks_right(page, f"the search: {what}")
        page.goto(f"{server.url}/campaigns/no-such-campaign")
        _looks_right(page, "a 404")
    with _page(browser, locale=locale) as page:
        page.goto(f"{server.url}/")
        _looks_right(page, "the 403 page")
    assert sum(sb.accepted_counts().values()) == 12  # the test call was refused
