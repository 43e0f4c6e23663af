"""The owner's views checked end to end as a campaign owner and a security reviewer would, over
real HTTP against the sandbox: counts that agree between the list, the progress page and the
records' report; every new route behind the token and CSRF; hostile search input; archive names
that are no campaign; the push secret never shown."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import pytest

from batcher.errors import ExitCode
from batcher.web.push import PUSHES
from tests.helpers import KEY, SECRET, numbers, write_xlsx
from tests.helpers.web import Api, call
from tests.test_web import _contacts, serving
from tests.test_web_paths import _upload
from tests.test_web_views import _form, _run_cli


@pytest.fixture
def folder(tmp_path) -> Path:
    path = tmp_path / "campaigns"
    path.mkdir()
    return path


# -- counts that add up ------------------------------------------------------------------------


def test_callees_who_pressed_the_opt_out_key_are_counted_opted_out(folder, tmp_path):
    config = folder.parent / "campaign.toml"
    config.write_text('opt_out_key = "9"\n')
    # the calls to the numbers ending in 03 and 07 are answered with the opt-out key pressed
    with serving(folder, config=config, keypresses={"03": "9", "07": "9"}) as (server, _):
        api = Api(server)
        assert api.create(_contacts(tmp_path / "spring.xlsx", 10)).status == 201
        assert api.send("spring").status == 202
        api.wait("spring")
        fetched = _form(server, "/campaigns/spring/records", server.config.csrf)
        assert fetched.status == 303
        live = api.wait("spring", until=lambda live: any("workbook:" in o for o in live["output"]))
        # the records' report said 2 pressed the key; the page said "Opted out 0" everywhere
        assert any("2 callees pressed the opt-out key" in line for line in live["output"])
        assert live["campaign"]["opted_out"] == 2
        listed = api.get("/api/campaigns").json()["campaigns"]
        assert (listed[0]["called"], listed[0]["opted_out"]) == (10, 2)
        assert 'id="whole-opted-out">2<' in api.get("/campaigns/spring/progress").text
        assert "Opted out 2" in api.get("/").text.replace("</span>", "").replace("<span>", "")


def test_the_list_the_progress_page_and_the_workbook_agree_after_a_resumed_send(
    folder, tmp_path, monkeypatch
):
    from openpyxl import load_workbook

    monkeypatch.setenv("BATCHER_API_KEY", KEY)
    monkeypatch.setenv("BATCHER_API_SECRET", SECRET)
    config = folder.parent / "campaign.toml"
    config.write_text('opt_out_key = "9"\n')
    # 12 rows: 10 numbers, one on the do-not-call list, a repeated row and a bad one
    good = [f"+{n}" for n in numbers(10)]
    rows = [["Name", "Phone"], *([f"c{i}", n] for i, n in enumerate(good))]
    rows += [["again", good[0]], ["bad", "12345"]]
    contacts = write_xlsx(tmp_path / "spring.xlsx", rows)
    with serving(folder, config=config, keypresses={"07": "9"}) as (server, sb):
        api = Api(server)
        created = _upload(
            api,
            [
                ("file", "spring.xlsx", contacts.read_bytes()),
                ("dnc", "dnc.csv", f"phone\n{good[4]}\n".encode()),
            ],
        )
        assert created.status == 201, created.body
        _run_cli(api.campaign("spring")["command"], "--limit", "4", code=ExitCode.INCOMPLETE)
        assert api.send("spring").status == 202  # the page sends the other 5
        api.wait("spring")
        assert _form(server, "/campaigns/spring/records", server.config.csrf).status == 303
        live = api.wait("spring", until=lambda live: any("workbook:" in o for o in live["output"]))
        whole = live["campaign"]
        listed = api.get("/api/campaigns").json()["campaigns"][0]
        sheet = load_workbook(folder / "spring" / "contacts-results.xlsx")["Results"]
        header = [c.value for c in sheet[1]]
        outcomes = Counter(
            row[header.index("outcome")] for row in sheet.iter_rows(2, values_only=True)
        )
        assert outcomes == {"accepted": 9, "suppressed": 1, "duplicate": 1, "invalid": 1}
        assert (listed["rows"], listed["called"], listed["held"]) == (12, 9, 1)
        assert (whole["done"], whole["total"]) == (9, 9)
        assert listed["opted_out"] == whole["opted_out"] == 1
        assert listed["answered"] == whole["answered"]
        answered = sum(
            1 for r in sheet.iter_rows(2, values_only=True) if r[header.index("answered")] == "yes"
        )
        assert whole["answered"] == answered
        progress = api.get("/campaigns/spring/progress").text
        assert 'id="whole-called">9<' in progress and 'id="whole-opted-out">1<' in progress
    assert sum(sb.accepted_counts().values()) == 9


def test_one_of_a_thing_is_said_in_the_singular_on_the_page(folder, tmp_path):
    contacts = write_xlsx(
        tmp_path / "one.xlsx", [["Name", "Phone"], ["a", f"+{numbers(1)[0]}"], ["b", "12345"]]
    )
    with serving(folder) as (server, _):
        api = Api(server)
        assert api.create(contacts).status == 201
        english = api.get("/campaigns/one").text
        assert "Send 1 call (" in english and "There is a problem with 1 row<" in english
        chinese = call(
            "GET", f"{server.url}/campaigns/one", headers={**api.auth, "Accept-Language": "zh"}
        ).text
        assert "拨打 1 个电话" in chinese and "1 calls" not in chinese


# -- the new routes behind the token and CSRF --------------------------------------------------

NEW_POSTS = (
    "/campaigns/spring/archive",
    "/campaigns/spring/restore",
    "/api/campaigns/spring/archive",
    "/api/campaigns/spring/restore",
    "/campaigns/spring/test-call",
)


def _archived(folder: Path) -> list[str]:
    marks = folder / ".batcher-web" / "archived"
    return sorted(p.name for p in marks.iterdir()) if marks.is_dir() else []


def test_every_new_route_needs_the_token_and_a_forged_post_is_refused(folder, tmp_path):
    with serving(folder) as (server, sb):
        api = Api(server)
        assert api.create(_contacts(tmp_path / "spring.xlsx", 3)).status == 201
        for path in ("/search?number=%2B919800000001", "/api/search?number=%2B919800000001"):
            assert call("GET", server.url + path).status == 403, path
        for path in NEW_POSTS:
            assert call("POST", server.url + path, data=b"").status == 403, path
            # a cross-site form: the cookie rides along, the CSRF token cannot
            forged = call(
                "POST",
                server.url + path,
                headers={"Cookie": f"batcher_token={server.config.token}"},
                data=b"number=%2B919800000001&again=1",
                content_type="application/x-www-form-urlencoded",
            )
            assert forged.status == 403, path
            assert b"CSRF" in forged.body, path
            # no GET changes anything: the routes that act answer GET with 405
            assert api.get(path).status == 405, path
        assert _archived(folder) == []
        assert sb.accepted_counts() == {}  # no test call was placed


@pytest.mark.parametrize(
    "name", ["..", "%2E%2E", "..%2F..%2Fetc", "%2Fetc%2Fpasswd", "spring%2F..", "nope", "a%00b"]
)
def test_archiving_what_is_no_campaign_is_a_404_and_touches_nothing(folder, tmp_path, name):
    outside = folder.parent / "outside"
    outside.mkdir()
    with serving(folder) as (server, _):
        api = Api(server)
        assert api.create(_contacts(tmp_path / "spring.xlsx", 3)).status == 201
        before = sorted(str(p) for p in folder.parent.rglob("*"))
        for action in ("archive", "restore"):
            for prefix in ("/api/campaigns/", "/campaigns/"):
                path = f"{prefix}{name}/{action}?csrf={server.config.csrf}"
                answer = call(
                    "POST",
                    server.url + path,
                    headers={"Cookie": f"batcher_token={server.config.token}"},
                    data=b"",
                )
                assert answer.status == 404, (path, answer.status, answer.body[:200])
                assert b"Traceback" not in answer.body
        assert sorted(str(p) for p in folder.parent.rglob("*")) == before
        assert _archived(folder) == []


HOSTILE = {
    "script": "<script>alert(1)</script>",
    "long": "9" * 10_240,
    "long text": "<b>" * 3_500,
    "nul": "+91 98000\x0000001",
    "rtl": "\u202e+91 98000 00001",
    "rtl text": "\u202egnp.exe<img src=x onerror=alert(1)>",
}


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_search_text_is_refused_cleanly_and_shown_escaped(folder, kind):
    text = HOSTILE[kind]
    with serving(folder) as (server, _):
        api = Api(server)
        query = f"number={quote(text)}"
        answer = api.get(f"/api/search?{query}")
        assert answer.status in (200, 400, 422), (answer.status, answer.body[:200])
        assert answer.headers["Content-Type"].startswith("application/json")
        body = answer.json()
        assert "Traceback" not in str(body)
        if answer.status != 200:  # refused with a reason, short whatever the text's length
            assert body["error"] and len(answer.body) < 4_000
        page = api.get(f"/search?{query}")
        assert page.status in (200, 400, 422)
        html = page.text
        assert "<script>alert" not in html and "<img src=x" not in html and "<b><b>" not in html
        assert "\x00" not in html and "Traceback" not in html
        assert len(page.body) < 40_000  # a 10 kB text is not echoed back whole, twice over


# -- the push route's secret -------------------------------------------------------------------


def test_the_push_secret_is_in_no_page_and_no_api_answer(folder, tmp_path):
    with serving(folder) as (server, _):
        api = Api(server)
        secret = server.app[PUSHES].secret
        assert len(secret) >= 16
        assert api.create(_contacts(tmp_path / "spring.xlsx", 3)).status == 201
        assert api.send("spring").status == 202
        api.wait("spring")
        paths = [
            "/",
            "/campaigns/spring",
            "/campaigns/spring/progress",
            "/campaigns/nope",
            "/search",
            "/search?number=%2B919800000001",
            "/api/campaigns",
            "/api/campaigns/spring",
            "/api/campaigns/spring/events",
            "/api/search?number=%2B919800000001",
            "/campaigns/spring/problems.csv",
        ]
        for path in paths:
            answer = api.get(path)
            assert answer.status in (200, 404), (path, answer.status)
            assert secret not in answer.text, path
            assert secret not in str(answer.headers), path
        assert secret not in call("GET", server.url + "/").text  # the 403 page


def test_the_refusal_of_a_hostile_search_speaks_the_pages_language(folder):
    zh = {"Accept-Language": "zh-CN"}
    with serving(folder) as (server, _):
        auth = Api(server).auth
        long = call("GET", f"{server.url}/search?number={'9' * 10_240}", headers={**auth, **zh})
        assert long.status == 422 and "比任何电话号码都长（10,240 个字符）" in long.text
        assert 'maxlength="64"' in long.text  # the field itself takes no more
        rtl = call("GET", f"{server.url}/search?number={quote(HOSTILE['rtl'])}", headers=auth)
        assert rtl.status == 422
        assert "holds an invisible character (U+202E): type the number again" in rtl.text
        assert "\u202e" not in rtl.text and "\ufffd+91 98000 00001" in rtl.text


# -- the list reads well ------------------------------------------------------------------------


def test_the_pages_name_a_folder_under_home_as_the_owner_knows_it(private_home, folder, tmp_path):
    mine = private_home / "my-campaigns"
    mine.mkdir()
    with serving(mine) as (server, _):
        api = Api(server)
        assert "Folder: ~/my-campaigns<" in api.get("/").text
        api.create(_contacts(tmp_path / "spring.xlsx", 1))
        assert api.send("spring").status == 202
        api.wait("spring")
        page = api.get("/search?number=%2B919800000001").text
        assert ">~/my-campaigns/spring.journal<" in page
        found = api.get("/api/search?number=%2B919800000001").json()  # scripts: the whole path
        assert found["calls"][0]["journal"] == str((mine / "spring.journal").resolve())
    with serving(folder) as (server, _):  # elsewhere: the whole path
        assert f"Folder: {folder.resolve()}<" in Api(server).get("/").text


@pytest.mark.parametrize("region", ["<script>x</script>", "ZZ", "\x00", "A" * 5_000])
def test_a_region_batcher_does_not_know_is_refused_not_ignored(folder, region):
    with serving(folder) as (server, _):
        api = Api(server)
        query = f"number=%2B919800000001&region={quote(region)}"
        answer = api.get(f"/api/search?{query}")  # was 200 "never called", the region ignored
        assert answer.status == 422 and "is not a region batcher knows" in answer.json()["error"]
        page = api.get(f"/search?{query}").text
        assert "is not a region batcher knows." in page and "unknown region" in page
        assert "<script>x" not in page and "\x00" not in page and "A" * 100 not in page
        zh = call(
            "GET", f"{server.url}/search?{query}", headers={**api.auth, "Accept-Language": "zh"}
        )
        assert "不是 batcher 认识的地区" in zh.text and "无法识别的地区" in zh.text
        known = api.get("/api/search?number=98000%2000001&region=India")  # names are regions
        assert known.status == 200 and known.json()["callee"] == "919800000001"


def test_a_test_calls_refusal_gives_the_time_as_people_read_it(folder):
    from tests.test_web_testcall import _campaign, _sent, _test_call

    with serving(folder) as (server, sb):
        phones = _campaign(folder, server)
        _sent(server)
        for lang in ("en", "zh-CN"):
            refused = _test_call(server, f"+{phones[0]}", lang=lang)
            assert refused.status == 409
            shown = re.search(r'id="test-repeat"[^>]*>\s*<p>([^<]*)<', refused.text)
            assert shown is not None, refused.text
            # was "at 2026-12-05T19:57:50Z"
            assert re.search(r"20\d\d-\d\d-\d\d \d\d:\d\d UTC", shown.group(1)), shown.group(1)
            assert not re.search(r"\dT\d", shown.group(1)), shown.group(1)
        assert sb.accepted_counts()[phones[0]] == 1
