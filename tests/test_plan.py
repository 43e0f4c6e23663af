"""Plan: normalise once per distinct cell, dedupe in input order, on every core when large."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import batcher.plan.rows
from batcher.load import Sheet
from batcher.plan.rows import plan_rows
from batcher.plan.status import DUPLICATE, ELIGIBLE, INVALID
from batcher.settings import Campaign, Settings
from tests.helpers import wait_for, write_xlsx


def _sheet(values, regions=None) -> Sheet:
    frame = pd.DataFrame({"phone": values, "region": regions or [None] * len(values)}, dtype=object)
    return Sheet(
        Path("x.xlsx"),
        frame,
        list(range(2, len(values) + 2)),
        "phone",
        "region" if regions else None,
        "S",
        1,
        None,
        None,
    )


def test_first_row_is_called_and_later_rows_point_to_it():
    plan = plan_rows(_sheet(["+919856321412", "junk", "0091 98563 21412", 919856321412.0]), "IN")
    assert plan.status == [ELIGIBLE, INVALID, DUPLICATE, DUPLICATE]
    assert plan.duplicate_of == [None, None, 2, 2]
    assert plan.distinct == ["919856321412"]


def test_true_and_one_are_different_cells():
    plan = plan_rows(_sheet([True, 1, 1.0, "1"]), "IN")
    assert plan.reason[0] != plan.reason[1]  # a boolean is not the number 1
    assert plan.status == [INVALID] * 4


def test_bad_region_cell_is_the_reason():
    plan = plan_rows(_sheet(["98563 21412", "98563 21413"], ["Atlantis", "IN"]), None)
    assert plan.status == [INVALID, ELIGIBLE]
    assert "Atlantis" in plan.reason[0]


def test_process_pool_gives_the_same_plan(monkeypatch):
    values = [f"+91 98{i:08d}" for i in range(300)] + ["x", 919800000007, "+919800000003"]
    sheet = _sheet(values)
    serial = plan_rows(sheet, "IN")
    monkeypatch.setattr(batcher.plan.rows, "PARALLEL_FROM", 10)
    monkeypatch.setattr(batcher.plan.rows, "POOL_CHUNK", 50)
    parallel = plan_rows(sheet, "IN")
    assert parallel == serial


def test_digits_with_their_own_calling_code_lost_the_plus():
    # a German mobile stored as a number reads as a (valid) long national number too
    plan = plan_rows(_sheet([4915123456789], ["DE"]), None)
    assert plan.callee == ["4915123456789"]


def test_a_foreign_number_in_a_row_of_another_region_is_called_with_a_note():
    # Excel dropped the '+' of an Indian number in a row whose region cell says CZ: calling it
    # keeps the contact, and the row's reason says how it was read (a default region: silent).
    cells = ["919856321412", "12015550123", "9856321413 ::: 9856321414", 919856321412]
    plan = plan_rows(_sheet(cells, ["CZ", None, "IN", "CZ"]), "GB")
    assert plan.status == [ELIGIBLE, ELIGIBLE, ELIGIBLE, DUPLICATE]
    assert plan.callee == ["919856321412", "12015550123", "919856321413", "919856321412"]
    assert plan.reason == [
        "read as +91 98563 21412 (IN); the row's region says CZ",
        "",
        "first of 2 numbers in the cell",
        "same number as row 2",
    ]


def test_the_terminal_plan_lists_every_invalid_reason_up_to_ten_kinds():
    from collections import Counter

    from batcher.plan.forecast import INVALID_KINDS_SHOWN, Forecast, plan_facts, plan_text

    sheet = _sheet(["+919856321412"])
    plan = plan_rows(sheet, "IN")

    def text(kinds: int) -> tuple[str, list]:
        reasons = Counter({f"kind {i}": 20 - i for i in range(kinds)})
        figures = Forecast(
            rows=1,
            counts=plan.counts,
            invalid_reasons=reasons,
            held=Counter(),
            done=Counter(),
            countries=Counter(),
            to_send=1,
            requests=1,
            seconds=0.5,
            per_request=0.5,
            assumed="a guess",
            cost=None,
        )
        settings = Settings(input=sheet.path, output=None, journal=None, campaign=Campaign())
        shown = plan_text(sheet, plan, figures, settings, "x", "c")
        return shown, plan_facts(figures)

    shown, _ = text(INVALID_KINDS_SHOWN)
    assert all(f"invalid: kind {i}: {20 - i}" in shown for i in range(INVALID_KINDS_SHOWN))
    assert "more kinds" not in shown
    shown, facts = text(INVALID_KINDS_SHOWN + 3)
    assert "invalid: kind 9: 11" in shown and "invalid: kind 10" not in shown
    assert "… and 3 more kinds, see the Summary sheet" in shown
    assert ("invalid: kind 12", 8) in facts  # every kind is on the Summary
    assert "0.50 s a request: a guess" in shown  # and what the estimate assumed


def test_real_invalid_cells_are_counted_by_kind():
    from collections import Counter

    from batcher.plan.choose import Choice
    from batcher.plan.forecast import forecast

    plan = plan_rows(_sheet(["junk", "junk!", "12", "13", "+919856321412"]), "IN")
    settings = Settings(
        input=Path("c.xlsx"), output=None, journal=None, campaign=Campaign(), concurrency=1
    )
    figures = forecast(plan, Choice(["919856321412"], {}, {}), {}, settings)
    assert sum(figures.invalid_reasons.values()) == 4
    assert len(figures.invalid_reasons) == 2 and Counter(figures.invalid_reasons.values()) == {2: 2}


class _CountedList(list):
    """A list that counts the items read out of it: the work a function does over it."""

    def __init__(self, items) -> None:
        super().__init__(items)
        self.read = 0

    def __iter__(self):
        for item in super().__iter__():
            self.read += 1
            yield item


def test_a_resumed_forecast_reads_the_numbers_to_send_once_not_once_per_number_done():
    # a resumed 50k plan took 17x a fresh one: the numbers to send were copied for each
    # number already done (benchmarks/resume_cost.py measures the time)
    from batcher.journal import NumberState
    from batcher.outcomes import Outcome
    from batcher.plan.choose import Choice
    from batcher.plan.forecast import forecast

    numbers = [f"+91985632{i:04d}" for i in range(400)]
    plan = plan_rows(_sheet(numbers), "IN")
    assert len(plan.distinct) == 400
    done, todo = plan.distinct[:200], _CountedList(plan.distinct[200:])
    accepted = NumberState(Outcome.ACCEPTED, "", "v1", "", "", 1, 1, "2026-11-26T16:20:00Z")
    states = dict.fromkeys(done, accepted)
    settings = Settings(
        input=Path("c.xlsx"), output=None, journal=None, campaign=Campaign(), concurrency=1
    )
    figures = forecast(plan, Choice(todo, {}, {}), states, settings)
    assert figures.done == {"accepted": 200} and figures.to_send == 200
    assert todo.read <= 2 * len(todo), f"{todo.read} reads of {len(todo)} numbers to send"


def test_the_plan_counts_the_canary_as_the_run_sends_it(sandbox, tmp_path, cli_streams, creds):
    """1,000 numbers at 1,000 a request are two requests: the canary of 200 goes alone."""
    phones = [f"+9198{i:08d}" for i in range(1, 1001)]
    path = write_xlsx(tmp_path / "c.xlsx", [["phone"], *([p] for p in phones)])
    args = (
        "--base-url",
        sandbox.url,
        "--app-id",
        "sandbox-app",
        "--file-id",
        "sandbox-file-0001.mp3",
    )
    planned = cli_streams("plan", path, *args)
    assert "to send now: 1000 numbers in 2 requests" in planned.out, planned.out
    ran = cli_streams("run", path, *args, "--yes")
    assert ran.code == 0, ran.err
    assert sum(r.endpoint == "sendGroup" for r in sandbox.requests) == 2


def test_the_plan_says_how_many_countries_it_did_not_name(tmp_path, cli_streams):
    countries = ["+91 98563 21412", "+44 7911 123456", "+1 202 555 0143", "+86 139 0013 9000",
                 "+49 1512 3456789", "+34 612 345 678", "+55 11 91234 5678", "+33 6 12 34 56 78",
                 "+39 312 345 6789", "+81 90 1234 5678"]  # fmt: skip
    path = write_xlsx(tmp_path / "c.xlsx", [["phone"], *([p] for p in countries)])
    planned = cli_streams("plan", path)
    assert "… and 2 more (every country is on the Summary sheet)" in planned.out, planned.out
    assert "about 0.5 s" in planned.out  # one request at the 0.5 s guess, not "about 0 s"


def _marked(marker: str) -> list[int]:
    """Processes whose command line names `marker` (a pool's forkserver names its sys.path)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_a_killed_plan_leaves_no_pool_processes_behind(tmp_path):
    """The plan's pool (a forkserver and its workers) goes with a SIGKILLed run."""
    marker = tmp_path / "marker-path"
    marker.mkdir()
    rows = [["phone"], *([f"+9198{i:08d}"] for i in range(40_000))]
    path = write_xlsx(tmp_path / "big.xlsx", rows)
    assert path.stat().st_size >= batcher.plan.rows.WARM_FROM_BYTES
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(marker), str(Path.cwd())])}
    run = subprocess.Popen(
        [sys.executable, "-m", "batcher", "plan", str(path), "-o", str(tmp_path / "p.xlsx")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: len(_marked(str(marker))) >= 2, timeout=30)  # the pool is up
    finally:
        run.kill()
        run.wait()
    wait_for(lambda: not _marked(str(marker)), timeout=10)
