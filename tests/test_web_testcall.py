"""The page's test call over real HTTP and in Chromium, counted in the sandbox's ledger: a
number called before is refused until the owner confirms it, a do-not-call (or no) number
never, and one test call at a time, whoever places it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from batcher.web.context import FOLDER
from tests.helpers import numbers, write_xlsx
from tests.helpers.web import Answer, Api, call
from tests.test_web import serving
from tests.test_web_browser import _page, _shot, browser, served  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[1]
ME = numbers(1, start=900)[0]  # the owner's own phone


@pytest.fixture
def folder(tmp_path) -> Path:
    path = tmp_path / "campaigns"
    path.mkdir()
    return path


def _campaign(folder: Path, server, count: int = 3, name: str = "spring") -> list[str]:
    phones = numbers(count)
    contacts = write_xlsx(folder.parent / f"{name}.xlsx", [["Phone"], *[[f"+{p}"] for p in phones]])
    assert Api(server).create(contacts).status == 201
    return phones


def _sent(server, name: str = "spring") -> None:
    api = Api(server)
    assert api.send(name).status == 202
    assert api.wait(name)["state"] == "done"


def _test_call(
    server, number: str, *, again: bool = False, lang: str = "en", name: str = "spring"
) -> Answer:
    form = f"csrf={server.config.csrf}&number={quote(number)}" + ("&again=1" if again else "")
    return call(
        "POST",
        server.url + f"/campaigns/{name}/test-call",
        headers={"Cookie": f"batcher_token={server.config.token}", "Accept-Language": lang},
        data=form.encode(),
        content_type="application/x-www-form-urlencoded",
    )


def test_a_number_the_campaign_called_is_refused_until_confirmed(folder):
    with serving(folder) as (server, sb):
        phones = _campaign(folder, server)
        _sent(server)
        refused = _test_call(server, f"+{phones[0]}")
        assert refused.status == 409, refused.text
        assert f"+{phones[0]} was called by this campaign at 20" in refused.text
        assert 'id="test-again"' in refused.text and 'name="again" value="1"' in refused.text
        assert 'name="csrf"' in refused.text
        chinese = _test_call(server, f"+{phones[0]}", lang="zh-CN")
        assert (
            chinese.status == 409
            and "本活动已于" in chinese.text
            and "仍然再拨一次" in chinese.text
        )
        assert sb.accepted_counts()[phones[0]] == 1
        forged = call(  # the confirmation is a form like any other: CSRF applies
            "POST",
            server.url + "/campaigns/spring/test-call",
            headers={"Cookie": f"batcher_token={server.config.token}"},
            data=f"number=%2B{phones[0]}&again=1".encode(),
            content_type="application/x-www-form-urlencoded",
        )
        assert forged.status == 403
        confirmed = _test_call(server, f"+{phones[0]}", again=True)
        assert confirmed.status == 200 and f"+{phones[0]}: accepted" in confirmed.text
        assert sb.accepted_counts()[phones[0]] == 2
        # a test call of the owner's phone, then the same again: within the cooldown
        assert _test_call(server, f"+{ME}").status == 200
        again = _test_call(server, f"+{ME}")
        assert again.status == 409 and f"+{ME} had a test call at 20" in again.text
        assert "within the cooldown (24h)" in again.text
        assert sb.accepted_counts()[ME] == 1


def test_no_confirmation_calls_a_number_no_test_call_may_ring(folder):
    with serving(folder) as (server, sb):
        _campaign(folder, server)
        for again in (False, True):
            refused = _test_call(server, "12345", again=again)
            assert refused.status == 422 and "cannot be called" in refused.text
            assert 'id="test-again"' not in refused.text
        assert not sb.accepted_counts()


def test_a_number_another_campaign_called_is_refused_until_confirmed(folder):
    with serving(folder) as (server, sb):
        _campaign(folder, server)
        write_xlsx(folder.parent / "autumn.xlsx", [["Phone"], [f"+{ME}"]])
        assert Api(server).create(folder.parent / "autumn.xlsx").status == 201
        _sent(server, "autumn")
        refused = _test_call(server, f"+{ME}")
        assert refused.status == 409 and "was called by the campaign “autumn”" in refused.text
        assert _test_call(server, f"+{ME}", again=True).status == 200
        assert sb.accepted_counts()[ME] == 2


def test_a_number_another_campaign_test_called_is_refused_until_confirmed(folder):
    """The call history's test calls: autumn's test call of the owner's phone holds it for
    spring's within the cooldown (409 naming autumn, in the page's language), until confirmed."""
    with serving(folder) as (server, sb):
        _campaign(folder, server)
        _campaign(folder, server, name="autumn")
        assert _test_call(server, f"+{ME}", name="autumn").status == 200
        assert sb.accepted_counts() == {ME: 1}
        refused = _test_call(server, f"+{ME}")
        assert refused.status == 409, refused.text
        assert f"+{ME} had a test call of the campaign “autumn” at 20" in refused.text
        assert "within the cooldown (24h)" in refused.text and 'id="test-again"' in refused.text
        chinese = _test_call(server, f"+{ME}", lang="zh-CN")
        assert chinese.status == 409 and "接到过活动“autumn”的测试电话" in chinese.text
        assert sb.accepted_counts() == {ME: 1}
        confirmed = _test_call(server, f"+{ME}", again=True)
        assert confirmed.status == 200 and f"+{ME}: accepted" in confirmed.text
        assert sb.accepted_counts() == {ME: 2}


def test_one_test_call_at_a_time_on_the_page(folder):
    """A second press while the first test call waits for its record: 409 naming it; one call
    in the ledger (both confirmed: only the one-at-a-time rule stands between them)."""
    with serving(folder, record_lag=4) as (server, sb):
        _campaign(folder, server)
        answers: list[Answer] = []
        first = threading.Thread(target=lambda: answers.append(_test_call(server, f"+{ME}")))
        first.start()
        deadline = time.monotonic() + 30
        while not sb.accepted_counts():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        second = _test_call(server, f"+{ME}", again=True)
        assert second.status == 409, second.text
        assert f"A test call is already running (+{ME}, campaign spring, since 20" in second.text
        first.join(60)
        assert answers[0].status == 200 and f"+{ME}: accepted" in answers[0].text
        assert sb.accepted_counts() == {ME: 1}


def test_a_test_call_from_the_command_line_makes_the_page_wait(folder):
    with serving(folder, record_lag=30) as (server, sb):
        _campaign(folder, server)
        record = server.app[FOLDER].record("spring")
        journal = server.app[FOLDER].journal_of(record)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "BATCHER_API_KEY": sb.config.api_key}
        env["BATCHER_API_SECRET"] = sb.config.api_secret
        argv = [sys.executable, "-m", "batcher", "test-call", ME, "--journal", str(journal)]
        argv += ["--campaign", "spring", "--config", str(record.config), "--base-url", sb.url]
        argv += ["--wait", "8s"]
        cli = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            while not sb.accepted_counts():
                assert time.monotonic() < deadline and cli.poll() is None, cli.communicate()
                time.sleep(0.05)
            page = _test_call(server, f"+{ME}", again=True)
            assert page.status == 409, page.text
            assert f"A test call is already running (+{ME}, campaign spring" in page.text
        finally:
            cli.wait(60)
        assert sb.accepted_counts() == {ME: 1}


def test_the_page_confirms_a_repeat_in_chromium(browser, served, tmp_path):  # noqa: F811
    server, sb, root = served
    phones = _campaign(root, server)
    _sent(server)
    with _page(browser) as page:
        page.goto(f"{server.url}/campaigns/spring?token={server.config.token}")
        page.fill("input[name=number]", f"+{phones[0]}")
        page.click("text=Place a test call")
        page.wait_for_selector("#test-repeat")
        assert "was called by this campaign" in page.inner_text("#test-repeat")
        _shot(page, "11-test-call-confirm")
        assert sb.accepted_counts()[phones[0]] == 1
        page.click("#test-again")
        page.wait_for_selector("#test-result")
        assert f"+{phones[0]}: accepted" in page.inner_text("#test-result")
        _shot(page, "12-test-call-placed")
    assert sb.accepted_counts()[phones[0]] == 2
