"""The campaign owner's page over real HTTP: the token, CSRF, the check, sends through the
sandbox, and one campaign shared with the command line (nobody called twice)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from urllib.parse import quote

import pytest

from batcher.cli import main
from batcher.voiceapi.simulator import SandboxConfig, SandboxThread
from batcher.web.app import Config
from batcher.web.i18n import Catalogue, choose_language
from batcher.web.toml import to_toml
from tests import hostile
from tests.helpers import KEY, SECRET, numbers, write_xlsx
from tests.helpers.web import Api, ServerThread, call, multipart

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "contacts.xlsx"


@pytest.fixture
def folder(tmp_path) -> Path:
    path = tmp_path / "campaigns"
    path.mkdir()
    return path


@contextlib.contextmanager
def serving(folder: Path, *, config: Path | None = None, **sandbox):
    """A sandbox, and the page's server sending to it."""
    simulator = SandboxConfig(**sandbox)
    with SandboxThread(simulator) as sb:
        settings = Config(
            folder=folder,
            campaign_config=config,
            sandbox=sb,
            sandbox_credentials=(simulator.api_key, simulator.api_secret),
        )
        with ServerThread(settings) as server:
            yield server, sb


def _contacts(path: Path, count: int, header: str = "Phone") -> Path:
    return write_xlsx(
        path, [["Name", header], *([f"n{i}", f"+{n}"] for i, n in enumerate(numbers(count)))]
    )


def _slow_config(folder: Path) -> Path:
    config = folder.parent / "campaign.toml"
    config.write_text("chunk_size = 2\nconcurrency = 1\n")
    return config


# -- the token and CSRF ----------------------------------------------------------------------


def test_no_token_is_403_for_pages_and_the_api(folder):
    with serving(folder) as (server, _):
        for path in ("/", "/api/campaigns", "/static/style.css"):
            assert call("GET", server.url + path).status == 403, path
        wrong = call("GET", server.url + "/", headers={"Authorization": "Bearer nope"})
        assert wrong.status == 403 and "token" in wrong.text


def test_the_token_in_the_address_becomes_a_cookie_and_leaves_the_address(folder):
    with serving(folder) as (server, _):
        answer = call("GET", f"{server.url}/?token={server.config.token}")
        assert answer.status == 303 and answer.headers["Location"] == "/"
        cookie = answer.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        page = call("GET", server.url + "/", headers={"Cookie": cookie.split(";")[0]})
        assert page.status == 200 and server.config.token not in page.text


def test_a_cookie_post_without_the_csrf_token_is_refused(folder):
    with serving(folder) as (server, _):
        cookie = {"Cookie": f"batcher_token={server.config.token}"}
        body, kind = multipart({}, {"file": SAMPLE})
        refused = call(
            "POST", server.url + "/campaigns", headers=cookie, data=body, content_type=kind
        )
        assert refused.status == 403 and "CSRF" in refused.text
        assert not list(folder.glob("*.xlsx"))
        accepted = call(
            "POST",
            f"{server.url}/campaigns?csrf={server.config.csrf}",
            headers=cookie,
            data=body,
            content_type=kind,
        )
        assert accepted.status == 303 and accepted.headers["Location"] == "/campaigns/contacts"
        form = call(
            "POST",
            server.url + "/campaigns/contacts/stop",
            headers=cookie,
            data=b"csrf=wrong",
            content_type="application/x-www-form-urlencoded",
        )
        assert form.status == 403


# -- upload and check ------------------------------------------------------------------------


def test_upload_answers_the_plan_with_every_problem_row_by_its_row_number(folder):
    with serving(folder) as (server, _):
        api = Api(server)
        answer = api.create(SAMPLE, region="IN")
        assert answer.status == 201
        plan = answer.json()["plan"]
        assert (plan["rows"], plan["valid"], plan["invalid"], plan["to_send"]) == (36, 25, 8, 25)
        assert plan["phone_column"] == "Mobile" and plan["region_column"] == "Country"
        rows = {p["row"]: p for p in plan["first_problems"]}
        assert sorted(rows) == [11, 12, 18, 22, 26, 27, 29, 37]
        assert rows[29]["cell"] == "112" and rows[29]["reason"].startswith("emergency number")
        assert plan["countries"]["IN"] == 15
        csv = api.get("/campaigns/contacts/problems.csv")
        assert csv.status == 200 and "attachment" in csv.headers["Content-Disposition"]
        lines = csv.text.lstrip("\ufeff").splitlines()
        assert lines[0] == "row,cell,reason" and len(lines) == 9
        assert lines[1].startswith("11,not available,contains letters")
        # the campaign is the CLI's: its file in its folder and a campaign.toml to resume with
        assert (folder / "contacts" / "contacts.xlsx").is_file()
        assert "sandbox-app" in (folder / "contacts.campaign.toml").read_text()


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("bomb_ratio.xlsx", "zip bomb"),
        ("password.xlsx", "password-protected"),
        ("report.pdf", "unsupported file type"),
        ("html_saved_as.xls", "web page"),
    ],
)
def test_a_hostile_file_is_refused_with_the_cli_message_and_never_kept(
    folder, tmp_path, name, fragment
):
    bad = hostile.build(name, tmp_path)
    with serving(folder) as (server, _):
        answer = Api(server).create(bad)
        assert answer.status == 422
        error = answer.json()
        assert fragment in error["error"] and error["hint"]
        assert ".batcher-web" not in error["error"]  # the staging path is not shown
    assert not (folder / name).exists()
    assert not list((folder / ".batcher-web" / "uploads").iterdir())


def test_a_nested_multipart_part_is_skipped_not_an_internal_error(folder):
    # RFC 2388's multipart/mixed inside a field: no name or file of its own (it was a 500)
    outer, inner = "outer-boundary", "inner-boundary"
    body = (
        (
            f'--{outer}\r\nContent-Disposition: form-data; name="file"\r\n'
            f"Content-Type: multipart/mixed; boundary={inner}\r\n\r\n"
            f'--{inner}\r\nContent-Disposition: file; filename="{SAMPLE.name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + SAMPLE.read_bytes()
        + f"\r\n--{inner}--\r\n\r\n--{outer}--\r\n".encode()
    )
    with serving(folder) as (server, _):
        api = Api(server)
        answer = call(
            "POST",
            f"{server.url}/api/campaigns",
            headers=api.auth,
            data=body,
            content_type=f"multipart/form-data; boundary={outer}",
        )
        assert answer.status == 422 and "no spreadsheet chosen" in answer.json()["error"]
    assert not list(folder.glob("*.xlsx"))


def test_a_phone_column_found_by_content_must_be_confirmed_before_sending(folder, tmp_path):
    contacts = _contacts(tmp_path / "guess.xlsx", 3, header="Number")
    with serving(folder) as (server, sb):
        api = Api(server)
        plan = api.create(contacts).json()["plan"]
        assert plan["phone_found_by"] == "content" and plan["needs_confirmation"]
        refused = api.send("guess")
        assert refused.status == 409 and "found by its content" in refused.json()["error"]
        assert api.send("guess", phone_column="Name").status == 409  # not the column shown
        assert sb.accepted_counts() == {}
        assert api.send("guess", phone_column="Number").status == 202
        assert api.wait("guess")["state"] == "done"
        assert sb.accepted_counts() == dict.fromkeys(numbers(3), 1)


# -- sending ---------------------------------------------------------------------------------


def test_send_counts_live_then_writes_the_workbook_each_number_once(folder, tmp_path):
    contacts = _contacts(tmp_path / "team.xlsx", 12)
    with serving(folder, config=_slow_config(folder), latency=0.05) as (server, sb):
        api = Api(server)
        api.create(contacts)
        started = api.send("team")
        assert started.status == 202 and started.json()["to_send"] == 12
        assert api.send("team").status == 409  # one send per campaign at a time
        events = api.get("/api/campaigns/team/events")  # streams until the send has finished
        assert "event: counts" in events.text and "event: end" in events.text
        live = api.wait("team")
        assert (live["state"], live["accepted"], live["requests"]) == ("done", 12, 6)
        workbook = api.get("/api/campaigns/team/results.xlsx")
        assert workbook.status == 200 and workbook.body[:2] == b"PK"
        assert sb.accepted_counts() == dict.fromkeys(numbers(12), 1)
        again = api.send("team")  # everyone has an outcome: nothing to send
        assert again.status == 409 and "nothing to send" in again.json()["error"]
    assert sb.accepted_counts() == dict.fromkeys(numbers(12), 1)


def test_stopped_on_the_page_then_resumed_from_the_cli_calls_nobody_twice(
    folder, tmp_path, monkeypatch, capsys
):
    contacts = _contacts(tmp_path / "big.xlsx", 30)
    with serving(folder, config=_slow_config(folder), latency=0.25) as (server, sb):
        api = Api(server)
        api.create(contacts)
        assert api.send("big").status == 202
        api.wait("big", until=lambda live: live.get("requests", 0) >= 2)
        assert api.stop("big").json()["stopping"]
        live = api.wait("big")
        assert live["state"] == "stopped"
        sent = sum(sb.accepted_counts().values())
        assert 0 < sent < 30
        command = api.campaign("big")["command"]
        assert command[:3] == ["batcher", "run", str((folder / "big" / "contacts.xlsx").resolve())]
        monkeypatch.setenv("BATCHER_API_KEY", KEY)
        monkeypatch.setenv("BATCHER_API_SECRET", SECRET)
        with pytest.raises(SystemExit) as done:
            main([*command[1:], "--yes"])
        assert done.value.code == 0
        assert "resuming the campaign 'big'" in capsys.readouterr().err
        assert sb.accepted_counts() == dict.fromkeys(numbers(30), 1)
        listed = api.get("/api/campaigns").json()["campaigns"]
        assert [(c["name"], c["counts"]["accepted"]) for c in listed] == [("big", 30)]


def test_started_from_the_cli_then_sent_from_the_page_calls_nobody_twice(
    folder, tmp_path, monkeypatch, capsys
):
    contacts = _contacts(folder / "cli.xlsx", 10)
    with serving(folder) as (server, sb):
        monkeypatch.setenv("BATCHER_API_KEY", KEY)
        monkeypatch.setenv("BATCHER_API_SECRET", SECRET)
        with pytest.raises(SystemExit):
            main(
                [
                    "run",
                    str(contacts),
                    "--base-url",
                    sb.url,
                    "--app-id",
                    "sandbox-app",
                    "--file-id",
                    "sandbox-file-0001.mp3",
                    "--yes",
                    "--limit",
                    "4",
                ]
            )
        assert sum(sb.accepted_counts().values()) == 4
        api = Api(server)
        listed = api.get("/api/campaigns").json()["campaigns"]
        assert [(c["name"], c["counts"].get("accepted")) for c in listed] == [("cli", 4)]
        plan = api.campaign("cli")["plan"]
        assert plan["to_send"] == 6 and plan["done"] == {"accepted": 4}
        assert api.send("cli").status == 202
        assert api.wait("cli")["state"] == "done"
        assert sb.accepted_counts() == dict.fromkeys(numbers(10), 1)


def test_a_send_the_cli_holds_is_refused_readably(folder, tmp_path):
    from batcher.journal import Journal

    contacts = _contacts(tmp_path / "held.xlsx", 2)
    with serving(folder) as (server, sb):
        api = Api(server)
        api.create(contacts)
        with Journal(folder / "held.journal"):  # another process's send holds the lock
            refused = api.send("held")
        assert refused.status == 409  # refused before 202, not a child that fails on the lock
        assert "being sent from the command line" in refused.json()["error"]
        assert sb.accepted_counts() == {}


# -- the Chinese page, the catalogues --------------------------------------------------------


def test_the_page_speaks_chinese_by_accept_language_and_by_the_switch(folder):
    with serving(folder) as (server, _):
        api = Api(server)
        api.create(SAMPLE, region="IN")
        zh = call(
            "GET",
            server.url + "/campaigns/contacts",
            headers={**api.auth, "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"},
        )
        assert zh.status == 200 and 'lang="zh-CN"' in zh.text
        assert "有 8 行存在问题" in zh.text and "紧急号码 112（IN）" in zh.text
        en = call("GET", server.url + "/campaigns/contacts", headers=api.auth)
        assert "There is a problem with 8 rows" in en.text
        switched = call("GET", f"{server.url}/?lang=zh", headers=api.auth)
        assert switched.status == 303 and "batcher_lang=zh" in switched.headers["Set-Cookie"]


@pytest.mark.parametrize(
    ("header", "chosen", "language"),
    [
        ("zh-CN,zh;q=0.9", None, "zh"),
        ("en-GB;q=0.5,zh;q=0.9", None, "zh"),
        ("fr-FR", None, "en"),
        (None, None, "en"),
        ("zh-TW", "en", "en"),
        ("en", "zh", "zh"),
    ],
)
def test_choose_language(header, chosen, language):
    assert choose_language(header, chosen) == language


def test_library_messages_are_translated_by_pattern_and_unknown_ones_kept():
    zh = Catalogue.load("zh")
    assert zh.message("same number as row 9") == "与第 9 行号码相同"
    assert zh.message("/x/c.xlsx looks like a zip bomb: it unpacks to 20 GiB").startswith(
        "/x/c.xlsx 看起来是一个“压缩炸弹”"
    )
    assert zh.message("something batcher has not translated") == (
        "something batcher has not translated"
    )


def test_the_campaign_toml_the_page_writes_is_read_back_as_written():
    import tomllib

    values = {
        "app_id": 'a"b',
        "window": "09:00-20:00",
        "suppress": ["/x/dnc 1.csv"],
        "price": {"per_call": 0.01, "countries": {"IN": 0.004}},
        "chunk_size": 2,
        "called_info": "客户\u007f回访",
    }
    assert tomllib.loads(to_toml(values)) == values


def test_campaign_ids_in_addresses_are_quoted(folder, tmp_path):
    contacts = _contacts(tmp_path / "客户 名单.xlsx", 2)
    with serving(folder) as (server, _):
        api = Api(server)
        created = api.create(contacts)
        assert created.status == 201 and created.json()["id"] == "客户 名单"
        assert api.get(f"/campaigns/{quote('客户 名单')}").status == 200
        assert api.get(f"/campaigns/{quote('../secret')}").status == 404


@pytest.mark.parametrize("required", [False, True])
def test_without_chromium_the_browser_tests_skip_saying_how_unless_required(required):
    import os
    import subprocess
    import sys

    env = {**os.environ, "BATCHER_CHROMIUM": "/nonexistent/chromium"}
    env.pop("BATCHER_REQUIRE_BROWSER", None)
    if required:
        env["BATCHER_REQUIRE_BROWSER"] = "1"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            "tests/test_web_browser.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "apt-get install -y chromium" in done.stdout
    if required:
        assert done.returncode != 0 and "BATCHER_REQUIRE_BROWSER=1" in done.stdout
    else:
        assert done.returncode == 0 and "4 skipped" in done.stdout


def test_the_page_forms_change_the_columns_and_the_settings_and_place_a_test_call(folder):
    with serving(folder) as (server, sb):
        Api(server).create(SAMPLE)
        cookie = {"Cookie": f"batcher_token={server.config.token}"}
        form = f"csrf={server.config.csrf}&phone_column=Mobile&region=IN".encode()
        changed = call(
            "POST",
            server.url + "/campaigns/contacts/columns",
            headers=cookie,
            data=form,
            content_type="application/x-www-form-urlencoded",
        )
        assert changed.status == 303
        plan = Api(server).campaign("contacts")["plan"]
        assert (plan["region"], plan["to_send"], plan["phone_found_by"]) == ("IN", 25, "option")
        body, kind = multipart({"display_num": "8613800138000", "window": "00:00-23:59"}, {})
        saved = call(
            "POST",
            f"{server.url}/campaigns/contacts/settings?csrf={server.config.csrf}",
            headers=cookie,
            data=body,
            content_type=kind,
        )
        assert saved.status == 303
        toml = (folder / "contacts.campaign.toml").read_text()
        assert 'display_num = "8613800138000"' in toml and 'window = "00:00-23:59"' in toml
        body, kind = multipart({"window": "late"}, {})
        refused = call(
            "POST",
            f"{server.url}/campaigns/contacts/settings?csrf={server.config.csrf}",
            headers=cookie,
            data=body,
            content_type=kind,
        )
        assert refused.status == 422 and "is not HH:MM-HH:MM" in refused.text
        assert 'window = "00:00-23:59"' in (folder / "contacts.campaign.toml").read_text()
        tried = call(
            "POST",
            server.url + "/campaigns/contacts/test-call",
            headers=cookie,
            data=f"csrf={server.config.csrf}&number=%2B919800000001".encode(),
            content_type="application/x-www-form-urlencoded",
        )
        assert tried.status == 200 and "test call" in tried.text, tried.text
        assert sb.accepted_counts() == {"919800000001": 1}  # one call, to the owner's number
        plan = Api(server).campaign("contacts")["plan"]
        assert plan["to_send"] == 25  # not one of the campaign's numbers
