"""What the campaign owner looks at, over real HTTP against the sandbox: the campaign list
(newest first, dates, state, counts, archive), a resumed campaign's progress as a whole, the
search "was this number called", and the duplicate rows with the row they repeat."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from batcher.cli import main
from batcher.errors import ExitCode
from batcher.journal import Journal
from tests.helpers import KEY, SECRET, numbers, write_xlsx
from tests.helpers.web import Api, call
from tests.test_web import SAMPLE, _contacts, _slow_config, serving


@pytest.fixture
def folder(tmp_path) -> Path:
    path = tmp_path / "campaigns"
    path.mkdir()
    return path


@pytest.fixture
def cli_creds(monkeypatch) -> None:
    monkeypatch.setenv("BATCHER_API_KEY", KEY)
    monkeypatch.setenv("BATCHER_API_SECRET", SECRET)


def _form(server, path: str, csrf: str | None = None):
    """A page form's POST, as the browser sends it (the cookie, the CSRF token)."""
    body = f"csrf={csrf}".encode() if csrf else b""
    return call(
        "POST",
        server.url + path,
        headers={"Cookie": f"batcher_token={server.config.token}"},
        data=body,
        content_type="application/x-www-form-urlencoded",
    )


def _run_cli(command: list[str], *extra: str, code: int = ExitCode.OK) -> None:
    with pytest.raises(SystemExit) as done:
        main([*command[1:], *extra, "--yes"])
    assert done.value.code == code


# -- the campaign list -------------------------------------------------------------------------


def test_the_list_is_newest_first_with_dates_state_and_counts_and_archives(folder, tmp_path):
    with serving(folder, config=_slow_config(folder), latency=0.05) as (server, sb):
        api = Api(server)
        # alpha is sent first; zulu is uploaded later: the newest first is zulu (the list was
        # alphabetical, alpha first, with no dates)
        api.create(_contacts(tmp_path / "alpha.xlsx", 3))
        assert api.send("alpha").status == 202
        assert api.wait("alpha")["state"] == "done"
        time.sleep(1.1)  # the journal's times have seconds
        api.create(_contacts(tmp_path / "zulu.xlsx", 4))
        listed = api.get("/api/campaigns").json()["campaigns"]
        assert [c["name"] for c in listed] == ["zulu", "alpha"]
        alpha, zulu = listed[1], listed[0]
        assert alpha["state"] == "state_sent" and zulu["state"] == "state_new"
        assert alpha["created"] and alpha["last_sent"] >= alpha["created"]
        assert zulu["created"] > alpha["last_sent"] and zulu["last_sent"] == ""
        assert zulu["last_activity"] > alpha["last_activity"]
        assert (alpha["rows"], alpha["called"], alpha["held"], alpha["opted_out"]) == (3, 3, 0, 0)
        assert alpha["answered"] is None  # no call records fetched yet
        assert not alpha["archived"] and alpha["sending_from"] is None
        page = api.get("/").text
        assert page.index('data-campaign="zulu"') < page.index('data-campaign="alpha"')
        assert "last sent" in page and alpha["last_sent"][:10] in page

        # archive: a POST with the CSRF token like every form; kept on disk, listed apart
        assert _form(server, "/campaigns/alpha/archive").status == 403  # no CSRF token
        archived = _form(server, "/campaigns/alpha/archive", server.config.csrf)
        assert archived.status == 303 and archived.headers["Location"] == "/"
        listed = api.get("/api/campaigns").json()["campaigns"]
        assert [(c["name"], c["archived"], c["state"]) for c in listed] == [
            ("zulu", False, "state_new"),
            ("alpha", True, "state_archived"),
        ]
        page = api.get("/").text
        assert 'id="archived-campaigns"' in page
        assert page.index('data-campaign="alpha"') > page.index('id="archived-campaigns"')
        assert (folder / "alpha.journal").is_file() and api.campaign("alpha")["live"]
        restored = call(
            "POST", f"{server.url}/api/campaigns/alpha/restore", headers=api.auth, data=b""
        )
        assert restored.status == 200 and restored.json() == {"id": "alpha", "archived": False}
        assert not any(c["archived"] for c in api.get("/api/campaigns").json()["campaigns"])

        # a campaign being sent is not archived
        api.create(_contacts(tmp_path / "busy.xlsx", 20))
        assert api.send("busy").status == 202
        refused = call(
            "POST", f"{server.url}/api/campaigns/busy/archive", headers=api.auth, data=b""
        )
        assert refused.status == 409 and "being sent" in refused.json()["error"]
        sending = next(
            c for c in api.get("/api/campaigns").json()["campaigns"] if c["name"] == "busy"
        )
        assert sending["state"] == "state_sending" and sending["sending_from"] == "page"
        assert api.get("/api/campaigns").json()["campaigns"][0]["name"] == "busy"  # newest
        api.stop("busy")
        api.wait("busy")
        assert "busy" not in {c["name"] for c in listed}
    assert sb.accepted_counts()  # the sends were real


# -- the progress of a resumed campaign ---------------------------------------------------------


def test_a_resumed_campaign_shows_this_run_and_the_whole_campaign(folder, tmp_path, cli_creds):
    contacts = _contacts(tmp_path / "big.xlsx", 30)
    with serving(folder, latency=0.01) as (server, sb):
        api = Api(server)
        api.create(contacts)
        _run_cli(
            api.campaign("big")["command"], "--limit", "20", code=ExitCode.INCOMPLETE
        )  # the first run: 20 of 30
        assert sum(sb.accepted_counts().values()) == 20
        assert api.send("big").status == 202  # the page resumes it: the other 10
        live = api.wait("big")
        assert (live["state"], live["to_send"], live["done"]) == ("done", 10, 10)
        whole = live["campaign"]
        assert (whole["done"], whole["total"]) == (30, 30)
        assert sum(b["total"] for b in whole["timeline"]["buckets"]) == 30
        assert whole["timeline"]["outcomes"] == ["accepted"]
        assert whole["opted_out"] == 0 and whole["answered"] is None
        page = api.get("/campaigns/big/progress").text
        assert "this run: 10 of 10" in page and "whole campaign: 30 of 30" in page
        assert '<svg class="bars"' in page and "Outcomes over time" in page
        assert 'aria-label="accepted 30"' in page
        events = api.get("/api/campaigns/big/events").text  # the stream carries the chart
        assert '"chart": "' in events and '\\"bars\\"' in events

        # once the call records arrive: answered, from the records' own answer times
        fetched = _form(server, "/campaigns/big/records", server.config.csrf)
        assert fetched.status == 303
        api.wait("big")
        with Journal(folder / "big.journal", readonly=True) as journal:
            records = list(journal.call_records().values())
        answered = sum(1 for r in records if r.get("answerTime"))
        assert len(records) == 30 and answered
        assert api.campaign("big")["live"]["campaign"]["answered"] == answered
        listed = api.get("/api/campaigns").json()["campaigns"]
        assert (listed[0]["called"], listed[0]["answered"]) == (30, answered)
        assert f'id="whole-answered">{answered}<' in api.get("/campaigns/big/progress").text
    assert sb.accepted_counts() == dict.fromkeys(numbers(30), 1)


# -- was this number called --------------------------------------------------------------------


def test_the_search_finds_a_number_another_folder_called_and_says_never_called(
    folder, tmp_path, cli_creds
):
    other = tmp_path / "elsewhere"
    other.mkdir()
    theirs = _contacts(other / "theirs.xlsx", 2)
    with serving(folder) as (server, sb):
        api = Api(server)
        api.create(_contacts(tmp_path / "ours.xlsx", 1, header="Phone"))
        assert api.send("ours").status == 202
        assert api.wait("ours")["state"] == "done"
        time.sleep(1.1)  # the times have seconds: "ours" comes first
        # a campaign of another folder, sent from the command line: only the history knows it
        _run_cli(
            [
                "batcher",
                "run",
                str(theirs),
                "--base-url",
                sb.url,
                "--app-id",
                "sandbox-app",
                "--file-id",
                "sandbox-file-0001.mp3",
                "--allow-repeat",
            ]
        )

        first = numbers(1)[0]  # 919800000001: called by both campaigns
        found = api.get("/api/search?number=98000%2000001&region=IN").json()
        assert found["callee"] == first and found["called"]
        by = {(c["campaign"], c["source"]): c for c in found["calls"]}
        assert set(by) == {("theirs", "history"), ("ours", "journal")}
        assert by["theirs", "history"]["journal"] == str(other / "theirs.journal")
        assert by["theirs", "history"]["outcome"] == "reserved"
        assert by["ours", "journal"]["outcome"] == "accepted"
        assert [c["campaign"] for c in found["calls"]] == ["ours", "theirs"]  # oldest first

        page = api.get("/search?number=%2B91+98000+00002").text  # called by theirs only
        assert "theirs" in page and str(other / "theirs.journal") in page
        assert "called (from the call history)" in page and "ours.journal" not in page

        never = api.get("/api/search?number=%2B919800009999").json()
        assert never == {
            "query": "+919800009999",
            "callee": "919800009999",
            "called": False,
            "calls": [],
            "on_register": False,
            "register": [],
        }
        assert "was never called" in api.get("/search?number=%2B919800009999").text

        refused = api.get("/api/search?number=hello")
        assert (
            refused.status == 422 and "not a number batcher would call" in refused.json()["error"]
        )
        zh = call(
            "GET",
            f"{server.url}/search?number=%3Cscript%3Ealert(1)%3C/script%3E",
            headers={**api.auth, "Accept-Language": "zh-CN"},
        )
        assert zh.status == 422 and "不是 batcher 会拨打的电话号码" in zh.text
        assert "<script>alert" not in zh.text and "&lt;script&gt;alert(1)" in zh.text
        assert "contains letters" not in zh.text  # the normaliser's reason, in Chinese


def test_the_search_marks_test_calls(folder, tmp_path, cli_creds):
    with serving(folder) as (server, sb):
        api = Api(server)
        api.create(_contacts(tmp_path / "tried.xlsx", 1))
        mine = "+919800000077"
        with pytest.raises(SystemExit):
            main(
                [
                    "test-call",
                    mine,
                    "--campaign",
                    "tried",
                    "--journal",
                    str(folder / "tried.journal"),
                    "--config",
                    str(folder / "tried.campaign.toml"),
                    "--base-url",
                    sb.url,
                    "--wait",
                    "1s",
                ]
            )
        found = api.get(f"/api/search?number={mine.replace('+', '%2B')}").json()
        assert [(c["campaign"], c["source"]) for c in found["calls"]] == [("tried", "test")]
        assert "test call" in api.get(f"/search?number={mine.replace('+', '%2B')}").text


# -- duplicates ---------------------------------------------------------------------------------


def test_duplicate_rows_are_listed_with_the_row_they_repeat(folder, tmp_path):
    good = [f"+{n}" for n in numbers(3)]
    contacts = write_xlsx(
        tmp_path / "dups.xlsx",
        [
            ["Name", "Phone"],
            ["a", good[0]],
            ["b", good[1]],
            ["c", good[0]],
            ["d", good[2]],
            ["e", good[1].replace("+91", "+91 ")],
            ["f", good[0]],
        ],
    )
    with serving(folder) as (server, _):
        api = Api(server)
        plan = api.create(contacts).json()["plan"]
        assert plan["duplicates"] == 3
        assert [(d["row"], d["first"], d["callee"]) for d in plan["first_duplicates"]] == [
            (4, 2, good[0][1:]),
            (6, 3, good[1][1:]),
            (7, 2, good[0][1:]),
        ]
        page = api.get("/campaigns/dups").text
        assert "3 rows repeat an earlier row" in page
        for row, first in ((4, 2), (6, 3), (7, 2)):
            assert f"row {row} repeats row {first}" in page
        assert f"{good[1].replace('+91', '+91 ')}" in page  # the cell as written, beside it
        zh = call(
            "GET", f"{server.url}/campaigns/dups", headers={**api.auth, "Accept-Language": "zh"}
        )
        assert "第 6 行与第 3 行重复" in zh.text


def test_the_sample_lists_its_duplicates(folder):
    with serving(folder) as (server, _):
        plan = Api(server).create(SAMPLE, region="IN").json()["plan"]
        assert len(plan["first_duplicates"]) == plan["duplicates"] > 0
        assert all(d["first"] < d["row"] for d in plan["first_duplicates"])


def test_the_history_reads_every_reservation_of_one_number(tmp_path):
    from batcher.history import Caller, History

    me = Caller("id-1", "spring", "/a/spring.journal", "vendor")
    other = Caller("id-2", "autumn", "/b/autumn.journal", "loopback")
    with History(tmp_path / "history.sqlite") as history:
        intent, _, _ = history.reserve(["4420", "442079460018", "91"], me, 0, 100.0)
        refused, _, _ = history.reserve(["442079460018"], other, 0, 200.0)
        history.unplace(refused)
        history.reserve(["44207946001"], other, 0, 300.0)  # a prefix is another number
        found = history.reservations_of("442079460018")
    assert [(r.name, r.journal, r.endpoint, r.at, r.placed) for r in found] == [
        ("spring", "/a/spring.journal", "vendor", 100.0, True),
        ("autumn", "/b/autumn.journal", "loopback", 200.0, False),
    ]
    assert found[0].intent == intent
    assert History(tmp_path / "none.sqlite", create=False).reservations_of("1") == []


def test_the_timeline_buckets_outcomes_by_minute_then_coarser():
    from batcher.journal import NumberState
    from batcher.outcomes import Outcome
    from batcher.web.overview import timeline

    def state(outcome, request, at):
        return NumberState(outcome, "", "", "", "", request, request, at)

    minutes = [
        state(Outcome.ACCEPTED, 1, "2026-12-05T10:00:05Z"),
        state(Outcome.REJECTED, 1, "2026-12-05T10:00:05Z"),
        state(Outcome.ACCEPTED, 2, "2026-12-05T10:03:59Z"),
        state(Outcome.UNKNOWN, 3, "2026-12-05T10:04:00Z"),
    ]
    found = timeline(minutes, flying={3})
    assert found["step"] == 60 and found["outcomes"] == ["accepted", "rejected", "in_flight"]
    assert [(b["label"], b["counts"], b["total"]) for b in found["buckets"]] == [
        ("10:00", {"accepted": 1, "rejected": 1}, 2),
        ("10:03", {"accepted": 1}, 1),
        ("10:04", {"in_flight": 1}, 1),
    ]
    # a campaign resumed the next day, its 40 minutes of sending: ten-minute bars, dated
    days = [state(Outcome.ACCEPTED, i, f"2026-12-05T10:{i:02d}:00Z") for i in range(40)]
    days.append(state(Outcome.ACCEPTED, 99, "2026-12-06T09:00:00Z"))
    found = timeline(days, flying=set())
    assert found["step"] == 600 and len(found["buckets"]) == 5
    assert found["buckets"][0]["label"] == "12-05 10:00" and found["buckets"][-1]["total"] == 1
    assert timeline([], set()) == {"step": 0, "buckets": [], "outcomes": []}


def test_a_campaign_the_command_line_sends_is_listed_as_sent_from_there(folder):
    from tests.test_web_sends import _cli_send

    contacts = _contacts(folder / "cli.xlsx", 30)
    with serving(folder, latency=0.25) as (server, sb):
        api = Api(server)
        cli = _cli_send(contacts, sb, _slow_config(folder))
        try:
            deadline = time.monotonic() + 60
            while api.get("/api/campaigns/cli").status != 200:  # its journal is a campaign
                assert time.monotonic() < deadline and cli.poll() is None
                time.sleep(0.1)
            api.wait("cli", timeout=60, until=lambda live: live.get("requests", 0) >= 1)
            listed = api.get("/api/campaigns").json()["campaigns"]
            page = api.get("/").text
            refused = call(
                "POST", f"{server.url}/api/campaigns/cli/archive", headers=api.auth, data=b""
            )
            progress = api.get("/campaigns/cli/progress").text
        finally:
            api.stop("cli")
            cli.wait(60)
        assert [(c["state"], c["sending_from"]) for c in listed] == [
            ("state_sending", "command_line")
        ]
        assert "sending from the command line" in page
        assert refused.status == 409
        # its run recorded what it sends: this run's total is known, not only the page's own
        assert "this run: " in progress and " of 30" in progress
