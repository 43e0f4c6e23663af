"""The Chinese page through a campaign whose callee presses the opt-out key, in a real Chromium
(the fixtures of test_web_browser): the send's Output panel, the records' Output panel (the
opt-out line) and the progress page (the opted-out count) show no English sentence."""

from __future__ import annotations

import contextlib

import pytest

from batcher.voiceapi.simulator import SandboxConfig, SandboxThread
from batcher.web.app import Config
from tests.helpers import numbers, write_xlsx
from tests.helpers.web import ServerThread
from tests.test_web_browser import _shot, _wait_for, browser  # noqa: F401 (fixtures)
from tests.test_web_phone import english_sentences

NAMES = ("autumn", "Name", "Phone", "Contacts", "batcher dnc list", "batcher", "English", "voiceId")


@pytest.fixture
def opting_out(tmp_path):
    """serve with a campaign.toml naming the opt-out key 9; the sandbox's callee ending in 7
    answers and presses 9."""
    folder = tmp_path / "campaigns"
    folder.mkdir()
    config = tmp_path / "campaign.toml"
    config.write_text('chunk_size = 3\nconcurrency = 1\nopt_out_key = "9"\n')
    simulator = SandboxConfig(latency=0.2, keypresses={"7": "9"})
    with SandboxThread(simulator) as sb:
        settings = Config(
            folder=folder,
            campaign_config=config,
            sandbox=sb,
            sandbox_credentials=(simulator.api_key, simulator.api_secret),
        )
        with ServerThread(settings) as server:
            yield server, sb


@contextlib.contextmanager
def _chinese(browser):  # noqa: F811
    context = browser.new_context(locale="zh-CN", viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        yield page
    finally:
        context.close()


def _english(page) -> list[str]:
    shown = page.evaluate(
        "Array.from(document.querySelectorAll('header, main > :not(.cli)'))"
        ".map(e => e.innerText).join('\\n')"
    )
    return english_sentences(shown, NAMES)


def test_the_chinese_page_shows_an_opt_out_campaign_without_english(browser, opting_out, tmp_path):  # noqa: F811
    server, sb = opting_out
    called = numbers(8)  # 919800000007 presses 9
    later = numbers(1, 20)[0]
    contacts = write_xlsx(
        tmp_path / "autumn.xlsx",
        [["Name", "Phone"], *([f"c{i}", f"+{n}"] for i, n in enumerate(called))],
    )
    with _chinese(browser) as page:
        page.goto(f"{server.url}/?token={server.config.token}")
        page.set_input_files("#file", str(contacts))
        page.click("form.upload button[type=submit]")
        page.wait_for_url("**/campaigns/autumn")
        assert _english(page) == []
        page.click("#send")
        page.wait_for_url("**/progress")
        page.wait_for_selector("#download")
        output = page.inner_text("#output")
        assert "结果：已接受 8" in output, output
        assert english_sentences(output, NAMES) == [], output
        assert _english(page) == []

        page.click("#records")  # the call records: one callee pressed the opt-out key
        _wait_for(lambda: "退订" in page.inner_text("#output"))
        page.wait_for_selector("#download")
        page.reload()
        output = page.inner_text("#output")
        assert "退订：1 位被叫人按了退订键" in output, output
        assert english_sentences(output, NAMES) == [], output
        assert _english(page) == [], page.inner_text("main")
        _shot(page, "17-zh-opted-out")

        # the campaign page after it: the opted-out callee held, in Chinese
        page.goto(f"{server.url}/campaigns/autumn")
        assert _english(page) == [], page.inner_text("main")

        # another campaign with that callee: held as opted out, its reason and the send's
        # plan lines in Chinese
        winter = write_xlsx(
            tmp_path / "winter.xlsx",
            [["Name", "Phone"], ["again", f"+{called[6]}"], ["new", f"+{later}"]],
        )
        page.goto(f"{server.url}/")
        page.set_input_files("#file", str(winter))
        page.click("form.upload button[type=submit]")
        page.wait_for_url("**/campaigns/winter")
        assert "已退订" in page.inner_text("main")
        assert _english(page) == [], page.inner_text("main")
        page.click("#send")
        page.wait_for_url("**/progress")
        page.wait_for_selector("#download")
        output = page.inner_text("#output")
        assert "暂不拨打：已退订 1" in output and "结果：已退订 1, 已接受 1" in output, output
        assert english_sentences(output, NAMES) == [], output
        assert page.locator("#whole-opted-out").inner_text() == "1"
        assert _english(page) == [], page.inner_text("main")
        _shot(page, "18-zh-held-opted-out")
    assert sb.accepted_counts() == dict.fromkeys([*called, later], 1)
