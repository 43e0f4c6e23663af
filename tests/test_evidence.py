"""A number is called only on positive evidence that calling it now is allowed, over the sandbox.

Every test is asserted from the vendor's own ledger (`sandbox.accepted`): no callee accepted
twice, no call outside the callee's calling hours at the *vendor's* clock.

- Absence of a record is not evidence: an unknown number becomes absent (sendable) only when
  the records show its request's period complete, however short --settle is.
- One clock: the cooldown, the calling window, the journal's and the history's times and the
  records query windows all go by the vendor's clock, measured before the first decision.

A machine clock N s fast is the sandbox's `clock_offset = -N`, or (for a process of its own)
Debian's `faketime`; .ci/run installs it and sets BATCHER_REQUIRE_FAKETIME=1, under which a
missing faketime fails instead of skipping.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.helpers import batcher_process, numbers, read_sheet, sandbox_args, write_xlsx

pytestmark = pytest.mark.usefixtures("creds")


def _sheet(path: Path, phones: list[str]) -> Path:
    return write_xlsx(path, [["name", "phone"]] + [[f"p{i}", p] for i, p in enumerate(phones)])


def _called_once(sandbox) -> Counter[str]:
    counts = sandbox.accepted_counts()
    twice = {c: n for c, n in counts.items() if n > 1}
    assert not twice, f"called more than once: {twice}"
    return counts


def _faketime() -> str:
    found = shutil.which("faketime")
    if found is None:
        why = "needs Debian's faketime (apt-get install faketime)"
        if os.environ.get("BATCHER_REQUIRE_FAKETIME") == "1":
            pytest.fail(f"BATCHER_REQUIRE_FAKETIME=1 but this test {why}")
        pytest.skip(why)
    return found


def _run_with_clock(shift: str, args: list[object]) -> tuple[int, str]:
    """`batcher ARGS` in a process whose whole clock is shifted (`faketime -f +25h`)."""
    process = batcher_process(args, {"FAKETIME": shift, "LD_PRELOAD": _libfaketime()})
    out = process.communicate(timeout=120)[0]
    return process.returncode, out


def _libfaketime() -> str:
    """The library the faketime command preloads (its FAKETIME variable shifts the clock)."""
    _faketime()
    found = sorted(Path("/usr/lib").rglob("libfaketime.so.1"))
    if not found:
        pytest.fail("faketime is installed but libfaketime.so.1 was not found")
    return str(found[0])


# -- absence of a record is not evidence ---------------------------------------------------------


def test_follow_waits_for_lagging_records_instead_of_resending(make_sandbox, cli, tmp_path):
    # records lag 4 s, --settle is 1 s, and answers are lost: two requests placed their calls
    # (the answer dropped), one placed nothing (-18 at once)
    sandbox = make_sandbox(record_lag=4.0, script=["drop", "-18", "drop", "ok", "ok"])
    wanted = numbers(50)
    path = _sheet(tmp_path / "c.xlsx", ["+" + n for n in wanted])
    code, out = cli(
        "run",
        path,
        *sandbox_args(sandbox),
        "--chunk-size",
        "10",
        "--concurrency",
        "1",
        "--settle",
        "1s",
        "--follow",
    )
    counts = _called_once(sandbox)
    assert set(counts) == set(wanted), out  # the -18 request's numbers were sent again, once
    assert "waiting for the vendor's call records" in out
    assert code == 0, out
    outcomes = {r["outcome"] for r in read_sheet(tmp_path / "c-results.xlsx", "Results")}
    assert outcomes == {"accepted"}


def test_reconcile_without_evidence_keeps_unknown(make_sandbox, cli, tmp_path):
    # every answer lost and no record visible yet: --settle 0 is no evidence
    sandbox = make_sandbox(record_lag=60.0, drop_rate=1.0)
    path = _sheet(tmp_path / "c.xlsx", ["+" + n for n in numbers(6)])
    code, _ = cli("run", path, *sandbox_args(sandbox), "--chunk-size", "3")
    assert code == 5
    code, out = cli("reconcile", tmp_path / "c.journal", "--settle", "0", "--base-url", sandbox.url)
    assert code == 5, out
    assert "0 found" in out and "0 absent" in out and "6 still unknown" in out
    assert "waiting for the vendor's call records" in out
    sandbox.config.drop_rate = 0
    code, out = cli("run", path, *sandbox_args(sandbox))
    assert "nothing to send" in out
    _called_once(sandbox)


# -- one clock -----------------------------------------------------------------------------------


def test_reconcile_finds_calls_made_and_queried_on_differently_wrong_clocks(
    make_sandbox, cli, tmp_path
):
    # the run on a clock 650 s fast, its answers lost; reconcile on a clock 299 s fast (inside
    # the API's timestamp window: no -16 tells it)
    sandbox = make_sandbox(clock_offset=-650, drop_rate=1.0)
    wanted = numbers(40)
    path = _sheet(tmp_path / "c.xlsx", ["+" + n for n in wanted])
    code, out = cli("run", path, *sandbox_args(sandbox), "--chunk-size", "10")
    assert code == 5, out
    assert "differs from the API's by -65" in out  # said, and every time recorded on its clock
    sandbox.config.clock_offset, sandbox.config.drop_rate = -299, 0.0
    code, out = cli("reconcile", tmp_path / "c.journal", "--settle", "0", "--base-url", sandbox.url)
    assert code == 0, out
    assert "40 found" in out and "0 absent" in out, out
    code, out = cli("run", path, *sandbox_args(sandbox))
    assert "nothing to send" in out, out
    assert set(_called_once(sandbox)) == set(wanted)


def test_a_second_campaign_on_a_clock_25_hours_fast_keeps_the_cooldown(sandbox, cli, tmp_path):
    wanted = numbers(20)
    first = _sheet(tmp_path / "first.xlsx", ["+" + n for n in wanted])
    assert cli("run", first, *sandbox_args(sandbox))[0] == 0
    second = _sheet(tmp_path / "second.xlsx", ["+" + n for n in wanted])
    code, out = _run_with_clock("+25h", ["run", second, *sandbox_args(sandbox)])
    assert "differs from the API's by -9000" in out, out  # -90000 s, or -89999
    assert "recently_called 20" in out, out
    assert code == 0, out  # held by the cooldown, as meant
    assert set(_called_once(sandbox)) == set(wanted)


def test_the_calling_window_goes_by_the_vendors_clock(sandbox, cli, tmp_path):
    # Indian numbers (IST); this machine's clock 2.5 h fast: its window says open, the vendor's
    # says closed
    ist = ZoneInfo("Asia/Kolkata")
    vendor_local = datetime.now(UTC).astimezone(ist)
    start = vendor_local + timedelta(hours=1, minutes=30)
    end = vendor_local + timedelta(hours=3, minutes=30)
    window = f"{start:%H:%M}-{end:%H:%M}"
    path = _sheet(tmp_path / "c.xlsx", ["+" + n for n in numbers(20)])
    _, out = _run_with_clock("+150m", ["run", path, *sandbox_args(sandbox), "--window", window])
    assert "differs from the API's by -900" in out, out  # -9000 s, or -8999
    for call in sandbox.accepted:  # the ledger: each call in the callee's hours, vendor's clock
        moment = datetime.fromtimestamp(call.accepted_at + sandbox.config.clock_offset, ist)
        assert start.time() <= moment.time() < end.time() or start.time() > end.time(), moment
    assert sandbox.accepted == [], out
    assert "deferred" in out, out
