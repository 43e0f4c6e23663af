"""The page on a phone and in Chinese, in a real Chromium (the fixtures of test_web_browser):

- at 390 px (an iPhone's width) no page scrolls sideways: the folder, the check, its settings,
  a test call, the progress of a send, the results, and the error pages; long file names,
  cells and commands wrap or scroll inside their own box;
- the Chinese page, upload -> refusal -> check -> test call -> send -> Output, shows no
  English sentence:
  refusals, conflicts, 404s, the JSON errors and the send's own output included (numbers, file
  names, phone numbers, paths and codes may stay as they are).
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

from tests import hostile
from tests.helpers import numbers, write_xlsx
from tests.test_web_browser import _shot, _wait_for, browser, served  # noqa: F401 (fixtures)

PHONE = {"width": 390, "height": 844}
LONG = "quarterly-reactivation-campaign-for-the-northern-region-customers-2026"


@contextlib.contextmanager
def _phone(browser, locale: str = "en-GB"):  # noqa: F811
    context = browser.new_context(locale=locale, accept_downloads=True, viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        yield page
    finally:
        context.close()


def _width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def _fits(page, what: str) -> None:
    width = _width(page)
    wide = page.evaluate(
        "Array.from(document.querySelectorAll('body *'))"
        ".filter(e => e.getBoundingClientRect().right > 391)"
        ".slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' +"
        " Math.round(e.getBoundingClientRect().right))"
    )
    assert width <= PHONE["width"], f"{what}: the page is {width} px wide at 390 px: {wide}"


def _long_contacts(path: Path) -> Path:
    """A long file name, a long header, long cells without spaces, long phone numbers."""
    good = [f"+{n}" for n in numbers(6)]
    rows = [["Name", "Mobile phone number of the contact (with country code)"]]
    rows += [[f"contact {i}", number] for i, number in enumerate(good, start=1)]
    rows.append(["bad", "+91-98563-21412-ext-12345678901234567890123456789012345678901234"])
    rows.append(["bad", "x" * 120])
    return write_xlsx(path, rows)


def test_no_page_is_wider_than_a_phone(browser, served, tmp_path):  # noqa: F811
    server, sb, _ = served
    contacts = _long_contacts(tmp_path / f"{LONG}.xlsx")
    with _phone(browser) as page:
        page.goto(f"{server.url}/?token={server.config.token}")
        _fits(page, "the empty folder")
        page.click("details summary")  # the upload form's settings
        _fits(page, "the upload form")
        page.set_input_files("#file", str(contacts))
        page.click("form.upload button[type=submit]")
        page.wait_for_url(f"**/campaigns/{LONG}")
        _fits(page, "the check")
        page.click("details.settings summary")
        _fits(page, "the settings")
        _shot(page, "11-phone-check")
        page.fill("input[name=number]", "+919877771234")
        page.click("section.test-call button")
        page.wait_for_selector("#test-result")
        _fits(page, "a test call")
        page.click("#send")
        page.wait_for_url("**/progress")
        _fits(page, "the progress of a send")
        _shot(page, "12-phone-progress")
        page.wait_for_selector("#download")
        _fits(page, "the results")
        page.click("#records")
        page.wait_for_selector("#download")
        _fits(page, "the records")
        page.goto(f"{server.url}/")
        _fits(page, "the folder with a campaign")
        _shot(page, "13-phone-campaigns")
        page.goto(f"{server.url}/campaigns/no-such-campaign")
        _fits(page, "a 404")
        page.goto(f"{server.url}/")
        page.set_input_files("#file", str(hostile.build("bomb_ratio.xlsx", tmp_path)))
        page.click("form.upload button[type=submit]")
        page.wait_for_selector(".error-summary")
        _fits(page, "a refused upload")
        _shot(page, "14-phone-refused")
    with _phone(browser) as page:
        page.goto(f"{server.url}/")
        _fits(page, "the 403 page")
    assert sb.accepted_counts().get("919877771234") == 1


# -- the Chinese page ------------------------------------------------------------------------

ENGLISH = re.compile(r"[A-Za-z]{2,}(?:[ ,'’()-]+[A-Za-z]{2,})+")


def english_sentences(text: str, allowed: tuple[str, ...] = ()) -> list[str]:
    """Runs of two or more English words: a sentence left untranslated. File names,
    paths, addresses and the allowed names are taken out first."""
    for name in sorted(allowed, key=len, reverse=True):
        text = text.replace(name, " ")
    text = re.sub(r"\S*[/\\.:@_]\S*", " ", text)  # paths, files, addresses, sheet.xml
    return ENGLISH.findall(text)


def _untranslated(page, allowed: tuple[str, ...] = ()) -> list[str]:
    shown = page.evaluate(
        "Array.from(document.querySelectorAll('header, main > :not(.cli)'))"
        ".map(e => e.innerText).join('\\n')"
    )
    return english_sentences(shown, allowed)


def test_the_detector_finds_english_and_lets_names_pass():
    assert english_sentences("结果：已接受 3") == []
    assert english_sentences("bomb.xlsx 看起来：it unpacks to 20 GiB") == ["it unpacks to"]
    assert english_sentences("工作簿：/tmp/a b/spring-results.xlsx") == []


def test_the_chinese_page_speaks_chinese_from_refusal_to_output(browser, served, tmp_path):  # noqa: F811
    server, sb, _ = served
    good = [f"+{n}" for n in numbers(4)]
    contacts = write_xlsx(
        tmp_path / "spring.xlsx",
        [["Name", "Phone"], *([f"c{i}", n] for i, n in enumerate(good)), ["x", "12345"]],
    )
    names = ("spring", "Name", "Phone", "Contacts", "batcher", "English")
    chinese = {"Accept-Language": "zh-CN,zh;q=0.9"}  # as the browser's own requests say
    with _phone(browser, locale="zh-CN") as page:
        page.goto(f"{server.url}/?token={server.config.token}")
        assert _untranslated(page, names) == []
        for name in ("bomb_ratio.xlsx", "truncated.xlsx", "no_phone.xlsx", "report.pdf"):
            page.goto(f"{server.url}/")
            page.set_input_files("#file", str(hostile.build(name, tmp_path)))
            page.click("form.upload button[type=submit]")
            page.wait_for_selector(".error-summary")
            assert _untranslated(page, names) == [], name
        _shot(page, "15-zh-refused")
        page.goto(f"{server.url}/campaigns/nope")
        assert "此文件夹中没有这个活动" in page.inner_text("main")
        assert _untranslated(page, names) == []
        page.goto(f"{server.url}/")
        page.set_input_files("#file", str(contacts))
        page.click("form.upload button[type=submit]")
        page.wait_for_url("**/campaigns/spring")
        assert page.locator("#send").inner_text().startswith("拨打 4 个电话")
        assert _untranslated(page, names) == []
        page.fill("input[name=number]", "+919877771234")
        page.click("section.test-call button")
        page.wait_for_selector("#test-result")
        assert "测试电话 +919877771234" in page.inner_text("#test-result")
        assert _untranslated(page, (*names, "voiceId")) == [], page.inner_text("#test-result")
        problems = page.request.get(f"{server.url}/campaigns/spring/problems.csv", headers=chinese)
        assert "位数太少（5 位），不是完整的电话号码" in problems.text()
        page.click("#send")
        page.wait_for_url("**/progress")
        _wait_for(lambda: "已发送" in page.inner_text("#output"))  # live, through the script
        page.wait_for_selector("#download")
        output = page.inner_text("#output")
        assert "结果：已接受 4" in output, output
        assert _untranslated(page, names) == [], output
        _shot(page, "16-zh-output")
        csrf = page.get_attribute("body", "data-csrf")
        again = page.request.post(
            f"{server.url}/campaigns/spring/send",
            form={"csrf": csrf},
            headers=chinese,
            max_redirects=0,
        )
        assert again.status == 409
        shown = re.sub(r"<[^>]+>", " ", again.text().split("<main>")[1].split("</main>")[0])
        assert "现在没有可发送的号码" in shown and english_sentences(shown, names) == []
        refused = page.request.post(
            f"{server.url}/api/campaigns/spring/send", headers={"X-CSRF-Token": csrf, **chinese}
        )
        assert refused.status == 409
        assert english_sentences(" ".join(refused.json().values()), names) == []
    assert sb.accepted_counts() == dict.fromkeys([*numbers(4), "919877771234"], 1)
