"""The page's languages: gettext catalogues (batcher/web/catalogues/*.po) read with Babel.

Every key the templates and batcher/web use is in both catalogues with the right shape (a
count chooses a plural form; nothing else does), English has two plural forms and Chinese one,
as Babel's locale data says; no English sentence reads "1 rows"; the library's own counts
are English plurals too; the library messages patterns translate what they match.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from batcher.outcomes import Outcome
from batcher.web.i18n import LANGUAGES, Catalogue

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "batcher" / "web"
SOURCES = sorted((WEB / "templates").glob("*.html")) + sorted(WEB.glob("*.py"))
# t("key", ...) in a template, catalogue.text("key", ...) in code: the key and its arguments
TEXT = r"(?:\bt|catalogue(?:_of\(request\))?\.text)\("
CALL = re.compile(TEXT + r"""\s*['"](\w+)['"]\s*(,[^)]*)?\)""")
# keys made at run time, each family with every value it takes; a new dynamic call fails the
# test below until it is listed here
DYNAMIC = {
    "t('found_by_' + sheet.phone_found_by": [
        f"found_by_{w}" for w in ("option", "header", "content")
    ],
    "t('held_' + k": [
        f"held_{o}" for o in ("suppressed", "recently_called", "deferred", "not_sent")
    ],
    "t('job_' + state": [
        f"job_{s}" for s in ("running", "stopping", "done", "stopped", "failed", "idle")
    ],
    "t(c.state": [f"state_{s}" for s in ("new", "sending", "busy", "stopped", "sent")],
    "t(why": ["no_token", "no_csrf"],
    'catalogue.text(f"outcome_{o}"': [f"outcome_{o}" for o in (*map(str, Outcome), "in_flight")],
    "catalogue.text(why": ["no_token", "no_csrf"],
    "catalogue_of(request).text(key": [
        "not_found",
        "not_allowed",
        "too_large",
        "no_campaign",
        "no_results",
    ],
}
DYNAMIC_CALL = re.compile(TEXT + r"""(?!['"\s])[^),]*""")


def _po(language: str):
    with (WEB / "catalogues" / f"{language}.po").open("rb") as po:
        return read_po(po, locale=language)


def _used() -> dict[str, set[bool]]:
    """Each key the page uses, with whether each call gives it count=."""
    used: dict[str, set[bool]] = defaultdict(set)
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        if path.name == "i18n.py":
            continue  # its docstring's examples
        for key, args in CALL.findall(text):
            used[key].add("count=" in (args or ""))
        for call in DYNAMIC_CALL.findall(text):
            assert call in DYNAMIC, f"{path.name}: {call}: list the keys it makes in DYNAMIC"
            for key in DYNAMIC[call]:
                used[key].add(False)
    return used


def test_the_scan_sees_the_calls():
    used = _used()
    assert used["send_button"] == {True} and used["app_name"] == {False}
    assert len(used) > 100


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_key_used_is_in_the_catalogue_with_its_shape(language):
    po = _po(language)
    singular = {m.id for m in po if m.id and not m.pluralizable}
    plural = {m.id[0] for m in po if m.pluralizable}
    for key, counted in _used().items():
        assert len(counted) == 1, f"{key}: called both with and without count="
        if True in counted:
            assert key in plural, f"{language}.po: {key} needs msgid_plural (it is given count=)"
        else:
            assert key in singular, f"{language}.po: no singular {key}"


def test_both_catalogues_hold_the_same_keys_and_placeholders():
    en, zh = _po("en"), _po("zh")
    assert en.num_plurals == 2 and zh.num_plurals == 1  # Babel's CLDR data, in the header
    english = {m.id if not m.pluralizable else m.id[0]: m for m in en if m.id}
    chinese = {m.id if not m.pluralizable else m.id[0]: m for m in zh if m.id}
    assert set(english) == set(chinese)
    for key, message in english.items():
        other = chinese[key]
        assert message.pluralizable == other.pluralizable, key
        forms = message.string if message.pluralizable else (message.string,)
        translated = other.string if other.pluralizable else (other.string,)
        assert len(forms) == en.num_plurals if message.pluralizable else 1
        assert len(translated) == zh.num_plurals if other.pluralizable else 1
        placeholders = {frozenset(re.findall(r"{(\w+)}", f)) for f in (*forms, *translated)}
        assert len(placeholders) == 1, f"{key}: the forms differ in their placeholders"


def test_a_number_that_counts_something_takes_count():
    """Every sentence with {count} has plural forms and every plural form has {count}; and
    no English sentence, with every number in it 1, reads "1 rows" or "1 calls"."""
    english = Catalogue.load("en")
    ones: defaultdict[str, object] = defaultdict(lambda: 1, dict.fromkeys(WORDS, "X"))
    for message in _po("en"):
        if not message.id:
            continue
        forms = message.string if message.pluralizable else (message.string,)
        assert all("{count}" in form for form in forms) == message.pluralizable, message.id
        key = message.id[0] if message.pluralizable else message.id
        text = english.translations.ngettext(key, key, 1) if message.pluralizable else forms[0]
        plural = re.search(r"\b1 ([a-z]{2,}s)\b", text.format_map(ones))
        assert plural is None or plural[1] in VERBS, f"{key}: {text.format_map(ones)}"


VERBS = {
    "was",
    "is",
    "has",
    "does",
    "repeats",
}  # "1 was found", "row 1 repeats row 2": no noun counted
WORDS = {"file", "column", "cells", "about", "name", "folder"}  # the placeholders not numbers


def test_t_chooses_the_plural_form_by_count():
    en, zh = Catalogue.load("en"), Catalogue.load("zh")
    assert en.text("send_button", count=1, about="0.01") == "Send 1 call (about 0.01)"
    assert en.text("send_button", count=2, about="0.02") == "Send 2 calls (about 0.02)"
    assert zh.text("send_button", count=1, about="0.01") == "拨打 1 个电话（约 0.01）"
    assert en.text("problems_title", count=1) == "There is a problem with 1 row"
    assert zh.text("problems_title", count=5) == "有 5 行存在问题"
    with pytest.raises(TypeError, match="count="):
        en.text("send_button", about="x")


def test_the_english_catalogue_fills_a_key_chinese_lacks():
    zh = Catalogue.load("zh")
    assert zh.translations.gettext("no-such-key") == "no-such-key"
    assert "sandbox_tag" in zh.singular


def test_the_librarys_counts_are_english_plurals():
    from batcher.plan.forecast import sheets_text
    from batcher.plan.normalise import _digits

    assert sheets_text((("North", 1), ("South", 2))) == "'North' 1 row, 'South' 2 rows"
    assert (_digits(1), _digits(5)) == ("1 digit", "5 digits")


def test_library_messages_with_counts_translate_in_either_number():
    zh = Catalogue.load("zh")
    line = "  to send now: 1 number in 1 request of at most 1000 to http://127.0.0.1:1"
    assert zh.message(line) == (
        "  现在发送：1 个号码，分 1 个请求（每个最多 1000 个），发往 http://127.0.0.1:1"
    )
    assert zh.message("too short (1 digit): check the cell for missing digits") == (
        "太短（1 位）：请检查是否缺少数字"
    )
    two = "sent 2/2 numbers (accepted 2; 1 request), 8/s, ETA 0 s\nresults: accepted 2"
    assert (
        zh.message(two)
        == "已发送 2/2 个号码（已接受 2；1 个请求），8 个/秒，剩余约 0 秒\n结果：已接受 2"
    )


def test_the_script_shows_only_texts_the_page_gives_it():
    """app.js holds no sentence of its own: the states, outcome names and templates it
    shows come from data attributes the template fills from the catalogue."""
    script = (WEB / "static" / "app.js").read_text(encoding="utf-8")
    literals = re.findall(r'"((?:[^"\\\n]|\\.)*)"', script)  # the script quotes with "
    words = [t for t in literals if re.search(r"[A-Za-z]{2,}\s+[A-Za-z]{2,}", t)]
    assert words == ["use strict"]
    assert re.search(r"dataset\.(texts|template|names)", script)


def test_missing_pages_and_json_errors_answer_in_the_requests_language(tmp_path):
    from batcher.voiceapi.simulator import SandboxConfig, SandboxThread
    from batcher.web.app import Config
    from tests.helpers.web import ServerThread, call

    folder = tmp_path / "campaigns"
    folder.mkdir()
    with SandboxThread(SandboxConfig()) as sb, ServerThread(Config(folder, sandbox=sb)) as server:
        auth = {"Authorization": f"Bearer {server.config.token}"}
        zh = {**auth, "Accept-Language": "zh-CN"}
        missing = call("GET", server.url + "/api/campaigns/nope", headers=zh)
        assert missing.status == 404 and missing.json() == {"error": "此文件夹中没有这个活动。"}
        page = call("GET", server.url + "/campaigns/nope/results.xlsx", headers=zh)
        assert page.status == 404 and "此文件夹中没有这个活动" in page.text
        assert 'lang="zh-CN"' in page.text
        wrong = call("GET", server.url + "/campaigns/nope/send", headers=zh)
        assert wrong.status == 405 and "此地址不接受这种请求" in wrong.text
        nowhere = call("GET", server.url + "/nowhere", headers=auth)
        assert nowhere.status == 404 and "There is no such page here." in nowhere.text
        refused = call("POST", server.url + "/api/campaigns", headers=zh, data=b"x=1")
        assert refused.status == 422
        assert refused.json() == {
            "error": "上传的不是 multipart 表单",
            "hint": "请以 multipart/form-data 发送文件，字段名为 file",
        }


def test_a_refused_setting_is_explained_in_chinese(tmp_path):
    import html

    from batcher.voiceapi.simulator import SandboxConfig, SandboxThread
    from batcher.web.app import Config
    from tests.helpers import numbers, write_xlsx
    from tests.helpers.web import Api, ServerThread, call, multipart

    folder = tmp_path / "campaigns"
    folder.mkdir()
    contacts = write_xlsx(tmp_path / "c.xlsx", [["phone"], *(["+" + n] for n in numbers(2))])
    with SandboxThread(SandboxConfig()) as sb, ServerThread(Config(folder, sandbox=sb)) as server:
        api = Api(server)
        assert api.create(contacts).status == 201
        body, kind = multipart({"window": "late"}, {})
        refused = call(
            "POST",
            f"{server.url}/campaigns/c/settings",
            headers={**api.auth, "Accept-Language": "zh-CN"},
            data=body,
            content_type=kind,
        )
        shown = html.unescape(refused.text)
        assert refused.status == 422 and "拨打时段 'late' 不是 HH:MM-HH:MM 格式" in shown
        assert "例如 09:00-20:00（被叫方当地时间）" in shown
