"""The features built apart, tried together as a team of campaign owners uses them: the page's
search over a shared call history and the do-not-call register, and the history unreachable."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from batcher.cli import main
from batcher.voiceapi.simulator import SandboxConfig, SandboxThread
from batcher.web.app import Config
from batcher.web.push import SECRET_FILE
from tests.helpers import KEY, SECRET, numbers, write_xlsx
from tests.helpers.postgres import SECRET_PASSWORD, SECRET_ROLE
from tests.helpers.web import Api, ServerThread, call
from tests.test_web import serving


@pytest.fixture
def folder(tmp_path) -> Path:
    path = tmp_path / "campaigns"
    path.mkdir()
    return path


def test_the_search_says_the_history_is_unreachable_not_that_the_number_is_wrong(folder):
    # a team's database that is down: the search said "“9876543207” is not a phone number
    # batcher would call", with the hint to type the number with its country code
    config = folder.parent / "campaign.toml"
    config.write_text('history = "postgresql://team:pw-never-shown@127.0.0.1:1/team"\n')
    with serving(folder, config=config) as (server, _):
        api = Api(server)
        answer = api.get("/api/search?number=%2B919876543207")
        assert answer.status == 503
        assert "cannot be reached" in answer.json()["error"]
        page = api.get("/search?number=%2B919876543207")
        assert page.status == 503
        assert "not a phone number" not in page.text and "country code" not in page.text
        assert "The call history could not be searched" in page.text
        assert "start the database server" in page.text
        zh = call(
            "GET",
            f"{server.url}/search?number=%2B919876543207",
            headers={**api.auth, "Accept-Language": "zh-CN"},
        )
        assert zh.status == 503 and "不是 batcher 会拨打的电话号码" not in zh.text
        assert "无法查询呼叫历史" in zh.text and "请启动数据库服务器" in zh.text
        assert "pw-never-shown" not in page.text + zh.text + answer.text


def test_the_search_says_a_number_is_on_the_register_and_why(folder, tmp_path):
    # "may it be called?" was answered only by the calls: a number the callee asked off (or
    # added by hand) read as any other called number, with no word of the register
    from batcher import register
    from batcher.history import History
    from batcher.settings import default_history

    with History(default_history()) as history:
        register.add(history, ["919876543208"], 1_796_500_000.0, by="ops@desk")
    with serving(folder) as (server, _):
        api = Api(server)
        found = api.get("/api/search?number=%2B919876543208").json()
        assert found["called"] is False and found["on_register"] is True
        (entry,) = found["register"]
        assert entry["why"] == "added" and entry["by"] == "ops@desk"
        assert entry["at"] == "2026-12-05T19:46:40Z" and entry["endpoint"] == "*"
        page = api.get("/search?number=%2B919876543208").text
        assert "On the do-not-call register" in page and "ops@desk" in page
        assert "batcher dnc remove +919876543208" in page
        zh = call(
            "GET",
            f"{server.url}/search?number=%2B919876543208",
            headers={**api.auth, "Accept-Language": "zh-CN"},
        ).text
        assert "在免打扰名单上" in zh and "On the do-not-call register" not in zh
        free = api.get("/api/search?number=%2B919876543209").json()
        assert free["on_register"] is False and free["register"] == []
        assert "On the do-not-call register" not in api.get("/search?number=%2B919876543209").text


def _wait(check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_a_team_on_postgresql_with_pushes_and_the_register_end_to_end(
    postgres_server, tmp_path, monkeypatch
):
    """Two owners, two machines, one PostgreSQL history (its password in the URL): the page's
    send, the vendor's pushes counting answers and opt-outs with no fetch, a second campaign
    holding them, the search saying so, and the command line of another HOME and folder
    never calling an opted-out callee, even with --cooldown 0s --allow-repeat."""
    database = postgres_server.create_database().rsplit("/", 1)[1]
    url = postgres_server.url(database, SECRET_ROLE, SECRET_PASSWORD)
    monkeypatch.setenv("BATCHER_API_KEY", KEY)
    monkeypatch.setenv("BATCHER_API_SECRET", SECRET)
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    ours.mkdir(), theirs.mkdir()
    callees = numbers(12)  # 919800000001 ... 919800000012: 000007 presses 9
    pressed = [c for c in callees if c.endswith("7")]
    sheet = write_xlsx(tmp_path / "spring.xlsx", [["Phone"], *([f"+{c}"] for c in callees)])
    with SandboxThread(SandboxConfig(keypresses={"7": "9"})) as sb:
        config = ours / "campaign.toml"
        config.write_text(
            f'app_id = "sandbox-app"\nfile_id = "sandbox-file-0001.mp3"\nregion = "IN"\n'
            f'base_url = "{sb.url}"\nhistory = "{url}"\nopt_out_key = "9"\nchunk_size = 5\n'
        )
        with ServerThread(Config(folder=ours, campaign_config=config)) as server:
            secret = (ours / ".batcher-web" / SECRET_FILE).read_text().strip()
            sb.config.push_to = f"{server.url}/vendor/records/{secret}"
            api = Api(server)
            assert api.create(sheet).status == 201
            assert api.send("spring").status == 202
            assert api.wait("spring", timeout=30)["state"] == "done"

            # the pushes count answers and opt-outs: nobody pressed "Fetch the call records"
            def pushed():
                whole = api.campaign("spring")["live"]["campaign"]
                return whole if whole["records"] == 12 and whole["opted_out"] else None

            whole = _wait(pushed)
            assert whole and whole["opted_out"] == len(pressed) and whole["answered"] >= 1
            assert sum(b["total"] for b in whole["timeline"]["buckets"]) == 12  # the chart
            assert sb.ledger()["requests_by_endpoint"].get("recordGroup", 0) == 0

            # a second campaign of the same numbers: held, the pressed ones as opted_out
            again = write_xlsx(tmp_path / "summer.xlsx", [["Phone"], *([f"+{c}"] for c in callees)])
            plan = api.create(again).json()["plan"]
            assert plan["to_send"] == 0
            assert plan["held"] == {"recently_called": 12 - len(pressed), "opted_out": len(pressed)}

            found = api.get(f"/api/search?number=%2B{pressed[0]}").json()
            assert found["on_register"] and found["register"][0]["campaign"] == "spring"
            assert [c["campaign"] for c in found["calls"]] == ["spring"]
            zh = call(
                "GET",
                f"{server.url}/search?number=%2B{pressed[0]}",
                headers={**api.auth, "Accept-Language": "zh-CN"},
            ).text
            assert "在免打扰名单上" in zh and "spring" in zh
            assert SECRET_PASSWORD not in zh + api.get("/").text

        # another machine: its own HOME and folder, the same database through BATCHER_HISTORY
        monkeypatch.setenv("HOME", str(tmp_path / "home2"))
        monkeypatch.setenv("BATCHER_HISTORY", url)
        copy = write_xlsx(theirs / "autumn.xlsx", [["Phone"], *([f"+{c}"] for c in callees)])
        run = ["run", str(copy), "--base-url", sb.url, "--app-id", "sandbox-app",
               "--file-id", "sandbox-file-0001.mp3", "--opt-out-key", "9", "--yes"]  # fmt: skip
        with pytest.raises(SystemExit) as done:
            main(run)
        assert done.value.code == 0
        assert sb.accepted_counts() == dict.fromkeys(callees, 1)  # all held in the cooldown
        with pytest.raises(SystemExit) as done:
            main([*run, "--cooldown", "0s", "--allow-repeat"])
        assert done.value.code == 0
        assert sb.accepted_counts() == {c: 1 if c in pressed else 2 for c in callees}


def test_an_unreachable_register_is_logged_once_per_outage_not_every_retry(tmp_path, caplog):
    # the database stopped for a minute: serve's log said the same two lines 58 times, once
    # for every retry of the pending key presses
    from batcher.followup.pushed import Inbox
    from batcher.journal import Journal
    from batcher.settings import HistoryLocation

    down = HistoryLocation.of("postgresql://team:pw-never-shown@127.0.0.1:1/team")
    inbox = Inbox(tmp_path / "inbox.sqlite", down)
    record = {"voiceId": "v1", "callee": "919800000007", "feedbackValue": "9"}
    with Journal(tmp_path / "c.journal") as journal, caplog.at_level("INFO"):
        journal.claim("spring")
        journal.keep_opt_out_key("9")
        journal.save_records([record])
        for _ in range(3):
            assert "cannot be reached" in inbox.note_opt_outs(journal, [record])
        inbox.history = HistoryLocation.of(tmp_path / "h.sqlite")  # the database is back
        assert inbox.note_opt_outs(journal, [record]) == ""
        assert inbox.note_opt_outs(journal, [record]) == ""
    inbox.close()
    lines = [r.getMessage() for r in caplog.records]
    assert sum("not yet on the register" in line for line in lines) == 1, lines
    assert sum("on the register again" in line for line in lines) == 1, lines
    assert not any("pw-never-shown" in line for line in lines)


def test_the_database_stopped_while_the_page_sends_then_resumed_calls_each_once(
    postgres_server, tmp_path, monkeypatch, caplog
):
    """The page's send fails closed (exit 9, its error in both languages, no traceback in
    serve's log); with the database back, Send again sends the rest, each number once."""
    from tests.helpers.postgres import PostgresServer

    monkeypatch.setenv("BATCHER_API_KEY", KEY)
    monkeypatch.setenv("BATCHER_API_SECRET", SECRET)
    monkeypatch.setenv("PGCONNECT_TIMEOUT", "3")
    callees = numbers(40)
    folder = tmp_path / "ours"
    folder.mkdir()
    sheet = write_xlsx(tmp_path / "winter.xlsx", [["Phone"], *([f"+{c}"] for c in callees)])
    with (
        PostgresServer.start() as own,
        SandboxThread(SandboxConfig(latency=0.1)) as sb,
    ):
        database = own.create_database().rsplit("/", 1)[1]
        url = own.url(database, SECRET_ROLE, SECRET_PASSWORD)
        config = folder / "campaign.toml"
        config.write_text(
            f'app_id = "sandbox-app"\nfile_id = "sandbox-file-0001.mp3"\nregion = "IN"\n'
            f'base_url = "{sb.url}"\nhistory = "{url}"\n'
            'opt_out_key = "9"\nchunk_size = 2\nconcurrency = 1\n'
        )
        with ServerThread(Config(folder=folder, campaign_config=config)) as server:
            api = Api(server)
            assert api.create(sheet).status == 201
            assert api.send("winter").status == 202
            assert _wait(lambda: len(sb.accepted) >= 6)
            own.stop()
            live = api.wait("winter", timeout=60)
            assert live["state"] == "failed" and live["exit_code"] == 9, live
            assert "cannot be reached" in live["error"] and "start the database" in live["error"]
            zh = call(
                "GET",
                f"{server.url}/api/campaigns/winter",
                headers={**api.auth, "Accept-Language": "zh-CN"},
            ).json()["live"]
            assert "无法连接通话历史的数据库" in zh["error"] and "请启动数据库服务器" in zh["error"]
            page = api.get("/campaigns/winter/progress").text
            assert "cannot be reached" in page and SECRET_PASSWORD not in page
            assert len(sb.accepted) < len(callees)
            own.run()
            assert api.send("winter").status == 202
            assert api.wait("winter", timeout=60)["state"] == "done"
        assert sb.accepted_counts() == dict.fromkeys(callees, 1)
    assert not [r for r in caplog.records if r.exc_info], "a traceback in serve's log"
