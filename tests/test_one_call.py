"""One person, one call: what operators really do never calls anyone twice.

Each test drives the CLI over the sandbox on loopback and asserts from the vendor's own ledger
(`sandbox.accepted_counts()`): every number at most once, do-not-call numbers never.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.helpers import batcher_process, numbers, read_sheet, sandbox_args, summary, write_xlsx

pytestmark = pytest.mark.usefixtures("creds")


def _sheet(path, phones, extra=()):
    rows = [["name", "phone"]] + [[f"p{i}", p] for i, p in enumerate(phones)]
    rows += [list(r) for r in extra]
    return write_xlsx(path, rows)


def _once(sandbox, expected=None):
    counts = sandbox.accepted_counts()
    assert all(n == 1 for n in counts.values()), {c: n for c, n in counts.items() if n > 1}
    if expected is not None:
        assert set(counts) == set(expected)
    return counts


def test_an_edited_copy_under_another_name_calls_only_the_new_row(sandbox, cli, tmp_path):
    phones = ["+" + n for n in numbers(25)]
    first = _sheet(tmp_path / "c.xlsx", phones[:24])
    assert cli("run", first, *sandbox_args(sandbox))[0] == 0
    copy = _sheet(tmp_path / "c_final.xlsx", phones)  # cp c.xlsx c_final.xlsx + one row
    code, out = cli("run", copy, *sandbox_args(sandbox))
    assert code == 0, out
    assert "recently_called 24" in out
    _once(sandbox, numbers(25))
    rows = read_sheet(tmp_path / "c_final-results.xlsx", "Results")
    assert [r["outcome"] for r in rows] == ["recently_called"] * 24 + ["accepted"]
    assert "'c'" in rows[0]["reason"] and "c.journal" in rows[0]["reason"]


def test_the_same_file_with_a_row_appended_sends_only_that_row(sandbox, cli, tmp_path):
    phones = ["+" + n for n in numbers(6)]
    path = _sheet(tmp_path / "c.xlsx", phones[:5])
    assert cli("run", path, *sandbox_args(sandbox))[0] == 0
    _sheet(path, phones)
    code, out = cli("run", path, *sandbox_args(sandbox))
    assert code == 0, out
    assert "to send now: 1 number " in out and "already done in this campaign: accepted 5" in out
    _once(sandbox, numbers(6))


def test_following_the_advice_to_pass_region_does_not_call_again(sandbox, cli, tmp_path):
    national = [n[2:] for n in numbers(4)]  # 10 digits, no country code
    path = _sheet(tmp_path / "c.xlsx", ["+" + numbers(1)[0], *national[1:]])
    code, out = cli("run", path, *sandbox_args(sandbox))
    assert code == 0 and len(sandbox.accepted) == 1, out
    code, out = cli("run", path, *sandbox_args(sandbox), "--region", "IN")
    assert code == 0, out
    assert "to send now: 3 numbers" in out
    _once(sandbox, numbers(4))


def test_the_same_contacts_in_other_formats_are_one_campaign(sandbox, cli, tmp_path):
    from tests.test_load import write_ods

    phones = ["+" + n for n in numbers(5)]
    _sheet(tmp_path / "c.xlsx", phones)
    write_ods(
        tmp_path / "c.ods", [["name", "phone"]] + [[f"p{i}", p] for i, p in enumerate(phones)]
    )
    (tmp_path / "c.csv").write_text("phone\n" + "\n".join(phones) + "\n", encoding="utf-8")
    for name in ("c.xlsx", "c.ods", "c.csv"):
        code, out = cli("run", tmp_path / name, *sandbox_args(sandbox))
        assert code == 0, out
    _once(sandbox, numbers(5))
    assert sorted(p.name for p in tmp_path.glob("*.journal")) == ["c.journal"]


def test_the_retry_sheet_fed_back_then_the_original_again(sandbox, cli, tmp_path):
    phones = ["+" + n for n in numbers(20)]
    path = _sheet(tmp_path / "c.xlsx", phones)
    assert cli("run", path, *sandbox_args(sandbox), "--limit", "1")[0] == 5
    results = tmp_path / "c-results.xlsx"
    assert len(read_sheet(results, "Retry")) == 19
    code, out = cli("run", results, "--sheet", "Retry", *sandbox_args(sandbox))
    assert code == 0, out
    assert "campaign 'c'" in out  # batcher knows its own workbook's campaign
    code, out = cli("run", path, *sandbox_args(sandbox))  # "run the same command again"
    assert code == 0, out
    assert "to send now: 0 numbers" in out
    _once(sandbox, numbers(20))


def test_rebuilds_keep_suppressed_and_the_retry_sheet_never_lists_them(sandbox, cli, tmp_path):
    phones = ["+" + n for n in numbers(6)]
    path = _sheet(tmp_path / "c.xlsx", phones, extra=[["dup", phones[1]]])
    dnc = tmp_path / "dnc.csv"
    dnc.write_text(f"phone\n{phones[1]}\n{phones[2]}\n")
    assert cli("run", path, *sandbox_args(sandbox), "--suppress", dnc, "--limit", "2")[0] == 5
    results = tmp_path / "c-results.xlsx"
    before = [r["outcome"] for r in read_sheet(results, "Results")]
    assert before == [
        "accepted",
        "suppressed",
        "suppressed",
        "accepted",
        "not_sent",
        "not_sent",
        "duplicate",
    ]
    dup = read_sheet(results, "Results")[-1]["reason"]
    assert "(suppressed)" in dup  # the first row's outcome, not "(not_sent)"
    for command in (
        ["results", tmp_path / "c.journal"],
        ["reconcile", tmp_path / "c.journal", "--base-url", sandbox.url],
        ["records", results, "--base-url", sandbox.url],
    ):
        code, out = cli(*command)
        assert code == 0, out
        assert [r["outcome"] for r in read_sheet(results, "Results")] == before
    retry = read_sheet(results, "Retry")
    assert [r["phone"] for r in retry] == phones[4:6]
    # the Retry sheet fed back without the do-not-call list: nobody on it is called
    code, out = cli("run", results, "--sheet", "Retry", *sandbox_args(sandbox))
    assert code == 0, out
    code, out = cli("run", path, *sandbox_args(sandbox))  # nor from the original
    counts = _once(sandbox)
    assert not {numbers(6)[1], numbers(6)[2]} & set(counts)
    assert len(counts) == 4


def test_plan_after_a_run_tells_the_truth_and_keeps_the_results(sandbox, cli, tmp_path):
    path = _sheet(tmp_path / "c.xlsx", ["+" + n for n in numbers(23)])
    assert cli("run", path, *sandbox_args(sandbox))[0] == 0
    before = (tmp_path / "c-results.xlsx").read_bytes()
    code, out = cli("plan", path, "--base-url", sandbox.url)  # the endpoint it ran on
    assert code == 0, out
    assert "to send now: 0 numbers" in out and "already done in this campaign: accepted 23" in out
    assert (tmp_path / "c-results.xlsx").read_bytes() == before
    plan = read_sheet(tmp_path / "c-plan.xlsx", "Results")
    assert {r["outcome"] for r in plan} == {"accepted"}


def test_a_success_answer_missing_numbers_makes_them_unknown(make_sandbox, cli, tmp_path):
    sandbox = make_sandbox(script=["ok-partial"])
    path = _sheet(tmp_path / "c.xlsx", ["+" + n for n in numbers(4)])
    code, out = cli("run", path, *sandbox_args(sandbox))
    assert code == 5, out
    rows = read_sheet(tmp_path / "c-results.xlsx", "Results")
    assert [r["outcome"] for r in rows] == ["accepted"] * 3 + ["unknown"]
    assert "did not mention this number" in rows[3]["reason"]
    code, out = cli("reconcile", tmp_path / "c.journal", "--base-url", sandbox.url)
    assert code == 0, out
    assert {r["outcome"] for r in read_sheet(tmp_path / "c-results.xlsx", "Results")} == {
        "accepted"
    }
    assert cli("run", path, *sandbox_args(sandbox))[0] == 0
    _once(sandbox, numbers(4))


def test_retry_phone_cells_are_text(sandbox, cli, tmp_path):
    path = write_xlsx(tmp_path / "c.xlsx", [["phone"], [919856321441], [919856321442]])
    assert cli("run", path, *sandbox_args(sandbox), "--limit", "1")[0] == 5
    retry = read_sheet(tmp_path / "c-results.xlsx", "Retry")
    assert [r["phone"] for r in retry] == ["919856321442"]


def test_a_column_found_by_content_is_never_called_without_being_named(sandbox, cli, tmp_path):
    rows = [["part", "qty", "ref"]] + [[f"bolt {i}", 4, f"9198{i:08d}"] for i in range(1, 9)]
    path = write_xlsx(tmp_path / "parts.xlsx", rows)
    code, out = cli("plan", path)
    assert code == 0, out
    assert "found by its content" in out and "--phone-column" in out
    code, out = cli("run", path, *sandbox_args(sandbox))  # --yes does not stand in for it
    assert code == 2, out
    assert "--phone-column 'ref'" in out
    assert sandbox.requests == []
    code, out = cli("run", path, *sandbox_args(sandbox), "--phone-column", "ref")
    assert code == 0, out
    _once(sandbox, [f"9198{i:08d}" for i in range(1, 9)])


def test_two_folders_hold_each_other_until_allow_repeat(sandbox, cli, tmp_path):
    phones = ["+" + n for n in numbers(5)]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = _sheet(tmp_path / "a" / "spring.xlsx", phones[:3])
    second = _sheet(tmp_path / "b" / "spring.xlsx", phones)
    assert cli("run", first, *sandbox_args(sandbox))[0] == 0
    code, out = cli("run", second, *sandbox_args(sandbox))
    assert code == 0, out
    assert "recently_called 3" in out
    _once(sandbox, numbers(5))
    code, out = cli("run", second, *sandbox_args(sandbox), "--allow-repeat")
    assert code == 0, out
    assert sandbox.accepted_counts() == dict.fromkeys(numbers(3), 2) | dict.fromkeys(
        numbers(5)[3:], 1
    )
    facts = summary(tmp_path / "b" / "spring-results.xlsx")
    released = [v for k, v in facts.items() if "allow-repeat" in k]
    assert released and "3 numbers" in str(released[0]) and "a/spring.journal" in str(released[0])


def test_the_cooldown_expires(sandbox, cli, tmp_path):
    phones = ["+" + n for n in numbers(3)]
    start = datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert (
        cli(
            "run", _sheet(tmp_path / "a.xlsx", phones), *sandbox_args(sandbox), clock=lambda: start
        )[0]
        == 0
    )
    other = _sheet(tmp_path / "b.xlsx", phones)
    later = start + timedelta(hours=23)
    code, out = cli("run", other, *sandbox_args(sandbox), clock=lambda: later)
    assert "recently_called 3" in out and len(sandbox.accepted) == 3
    code, out = cli(
        "run",
        other,
        *sandbox_args(sandbox),
        "--cooldown",
        "2d",
        clock=lambda: later + timedelta(hours=2),
    )
    assert "recently_called 3" in out and len(sandbox.accepted) == 3
    code, out = cli("run", other, *sandbox_args(sandbox), clock=lambda: later + timedelta(hours=2))
    assert code == 0, out
    assert len(sandbox.accepted) == 6  # 25 h after: another campaign may call them


def test_a_demo_never_holds_a_real_campaign_and_the_reverse(sandbox, cli, tmp_path):
    import os
    import time

    from batcher.history import Caller, History

    path = _sheet(tmp_path / "a.xlsx", ["+" + n for n in numbers(3)])
    assert cli("run", path, "--sandbox")[0] == 0
    # the same numbers in another campaign towards a real endpoint: not held by the demo
    real = ["--base-url", "https://api.example.com"]
    code, out = cli("plan", _sheet(tmp_path / "b.xlsx", ["+" + n for n in numbers(3)]), *real)
    assert code == 0 and "recently_called" not in out and "to send now: 3 numbers" in out, out
    # and numbers a real campaign called do not hold a demo
    with History(Path(os.environ["BATCHER_HISTORY"])) as history:
        someone = Caller("x", "real", "/x/real.journal", "vendor")
        history.reserve(numbers(5)[3:], someone, 86400, time.time())
    code, out = cli("plan", _sheet(tmp_path / "c.xlsx", ["+" + n for n in numbers(5)]), *real)
    assert "recently_called 2" in out, out
    # another host or prefix of the vendor calls the same people: held there too
    code, out = cli("plan", tmp_path / "c.xlsx", "--base-url", "https://api2.example.com/v3")
    assert "recently_called 2" in out, out
    # the demo (a trial on the embedded sandbox) holds no one, not a simulator on loopback
    # either; the real campaign's two are held only on the vendor
    code, out = cli("run", tmp_path / "c.xlsx", *sandbox_args(sandbox))
    assert code == 0 and "recently_called" not in out and "accepted 5" in out, out
    _once(sandbox, numbers(5))


def test_a_broken_history_stops_before_anything_is_sent(sandbox, cli, tmp_path, monkeypatch):
    history = tmp_path / "history.sqlite"
    history.write_bytes(b"not a database" * 200)
    monkeypatch.setenv("BATCHER_HISTORY", str(history))
    path = _sheet(tmp_path / "c.xlsx", ["+" + n for n in numbers(3)])
    code, out = cli("run", path, *sandbox_args(sandbox))
    assert code == 9, out
    assert "call history cannot be used" in out and "--history" in out
    assert sandbox.requests == []
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        monkeypatch.setenv("BATCHER_HISTORY", str(locked / "sub" / "history.sqlite"))
        code, out = cli("run", path, *sandbox_args(sandbox))
        if code != 0:  # root writes anywhere: the refusal can only be seen as a user
            assert code == 9 and sandbox.requests == [], out
    finally:
        locked.chmod(0o700)


def test_a_campaign_copied_elsewhere_with_its_journal_is_held(sandbox, cli, tmp_path):
    phones = ["+" + n for n in numbers(4)]
    (tmp_path / "a").mkdir()
    path = _sheet(tmp_path / "a" / "c.xlsx", phones[:2])
    assert cli("run", path, *sandbox_args(sandbox))[0] == 0
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # the folder, journal and all
    _sheet(tmp_path / "a" / "c.xlsx", phones)
    _sheet(tmp_path / "b" / "c.xlsx", phones)
    assert cli("run", tmp_path / "a" / "c.xlsx", *sandbox_args(sandbox))[0] == 0
    out = cli("run", tmp_path / "b" / "c.xlsx", *sandbox_args(sandbox))[1]
    assert "recently_called 2" in out, out
    _once(sandbox, numbers(4))


def _batcher(args, history, env_extra=None):
    return batcher_process(args, {"BATCHER_HISTORY": str(history), **(env_extra or {})})


def test_two_processes_on_different_journals_race_and_each_number_is_sent_once(
    make_sandbox, tmp_path
):
    sandbox = make_sandbox(latency=0.02)
    wanted = numbers(600)
    history = tmp_path / "history.sqlite"
    runs = []
    for name, order in (("a", wanted), ("b", wanted[::-1])):
        folder = tmp_path / name
        folder.mkdir()
        path = _sheet(folder / "c.xlsx", ["+" + n for n in order])
        runs.append(
            _batcher(
                ["run", path, *sandbox_args(sandbox), "--chunk-size", "10", "--concurrency", "2"],
                history,
            )
        )
    outs = [p.communicate(timeout=120)[0] for p in runs]
    assert all(p.returncode == 0 for p in runs), outs
    assert sandbox.accepted_counts() == dict.fromkeys(wanted, 1)
    held = [read_sheet(tmp_path / n / "c-results.xlsx", "Results") for n in ("a", "b")]
    outcomes = [{r["callee"]: r["outcome"] for r in rows} for rows in held]
    for number in wanted:  # one campaign called it, the other held it
        assert sorted((outcomes[0][number], outcomes[1][number])) == ["accepted", "recently_called"]


def test_a_kill_between_reserving_and_sending_keeps_the_number_held(make_sandbox, tmp_path):
    sandbox = make_sandbox()
    history = tmp_path / "history.sqlite"
    path = _sheet(tmp_path / "c.xlsx", ["+" + n for n in numbers(3)])
    args = ["run", path, *sandbox_args(sandbox)]
    killed = _batcher(args, history, {"BATCHER_CRASH_AT": "after-reserve:1"})
    killed.communicate(timeout=60)
    # killed after the clock's probe (a fileQuery), before any sendGroup
    assert killed.returncode == -9
    assert [r.endpoint for r in sandbox.requests] == ["fileQuery"]
    again = _batcher(args, history)
    out = again.communicate(timeout=60)[0]
    assert again.returncode == 5, out  # held as unknown: never sent again on a guess

    def sends():
        return [r for r in sandbox.requests if r.endpoint == "sendGroup"]

    assert "reserved when batcher last stopped" in out and sends() == []
    other = _batcher(
        ["run", _sheet(tmp_path / "d.xlsx", ["+" + n for n in numbers(3)]), *sandbox_args(sandbox)],
        history,
    )
    assert "recently_called 3" in other.communicate(timeout=60)[0]
    assert sends() == []
    # records dated after their adoption (another campaign's, on the same account) show the
    # period complete: absence of a record is evidence only then
    third = _batcher(
        [
            "run",
            _sheet(tmp_path / "e.xlsx", ["+" + n for n in numbers(2, start=900)]),
            *sandbox_args(sandbox),
        ],
        history,
    )
    assert third.communicate(timeout=60) and third.returncode == 0
    # reconcile finds no call records for them: once settled, the campaign sends them
    settle = _batcher(
        ["reconcile", tmp_path / "c.journal", "--settle", "0", "--base-url", sandbox.url], history
    )
    assert settle.communicate(timeout=60) and settle.returncode == 0
    last = _batcher(args, history)
    out = last.communicate(timeout=60)[0]
    assert last.returncode == 0, out
    assert sandbox.accepted_counts() == dict.fromkeys(numbers(3) + numbers(2, start=900), 1)


def test_a_re_recorded_message_under_the_same_name_is_never_played_in_its_place(
    sandbox, cli, tmp_path
):
    audio = tmp_path / "promo.mp3"
    audio.write_bytes(b"ID3" + bytes(200))
    config = tmp_path / "campaign.toml"
    config.write_text(f'app_id = "sandbox-app"\naudio = "promo.mp3"\nbase_url = "{sandbox.url}"\n')
    path = _sheet(tmp_path / "c.xlsx", ["+" + n for n in numbers(2)])
    assert cli("run", path, "--config", config, "--yes")[0] == 0
    audio.write_bytes(b"ID3" + bytes(199) + b"!")  # re-recorded, same name
    _sheet(path, ["+" + n for n in numbers(3)])
    code, out = cli("run", path, "--config", config, "--yes")
    assert code == 2 and "the message changed" in out and "--campaign" in out, out
    other = _sheet(tmp_path / "d.xlsx", ["+" + n for n in numbers(4)[3:]])
    code, out = cli("run", other, "--config", config, "--yes")
    assert code == 2, out
    assert "a different recording is already uploaded as promo.mp3" in out
    assert "another name" in out
    _once(sandbox, numbers(2))  # nobody heard the old message in place of the new one
    assert [r.endpoint for r in sandbox.requests].count("fileUpload") == 1


def test_other_parameters_may_change_and_are_recorded_and_shown(sandbox, cli, tmp_path):
    path = _sheet(tmp_path / "c.xlsx", ["+" + n for n in numbers(2)])
    assert cli("run", path, *sandbox_args(sandbox), "--display-num", "4420000001")[0] == 0
    _sheet(path, ["+" + n for n in numbers(3)])
    code, out = cli(
        "run", path, *sandbox_args(sandbox), "--display-num", "4420000002", "--concurrency", "2"
    )
    assert code == 0, out
    assert "displayNum '4420000001' -> '4420000002'" in out and "concurrency 8 -> 2" in out
    import json

    from batcher.journal import Journal

    with Journal(tmp_path / "c.journal", readonly=True) as journal:  # recorded per request
        sent = [json.loads(r.params).get("displayNum") for r in journal.requests()]
    assert sent == ["4420000001", "4420000002"]
    facts = summary(tmp_path / "c-results.xlsx")
    assert any("changed since the last run" in str(v) for v in facts.values())
    _once(sandbox, numbers(3))
    # no journal, -wal, -shm or lock file is left beside it but the journal itself
    assert sorted(p.name for p in tmp_path.iterdir() if "journal" in p.name) == ["c.journal"]
