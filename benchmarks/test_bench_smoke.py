"""Checks of the benchmark kit: the generator's data, the parsers, and (slow) one small run.

    python -m pytest benchmarks -q            # the quick ones
    python -m pytest benchmarks -q -m slow    # the bench run

Not part of the default test run (pyproject's testpaths is tests/).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import bench
import generate
import naive
import optout_cost
import phonenumbers
import proctree
import pytest
from python_calamine import CalamineWorkbook

HERE = Path(__file__).resolve().parent


def _cells(path: Path) -> list[list[object]]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()


@pytest.fixture(scope="module")
def small_workbook(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("gen") / "contacts.xlsx"
    return generate.write_contacts(path, 5000, seed=3)


def test_generated_sheet_is_realistic(small_workbook):
    rows = _cells(small_workbook)
    assert rows[0] == list(generate.HEADER)
    data = rows[1:]
    assert len(data) == 5000
    callees = []
    for _, phone, country, *_ in data:
        text = str(int(phone)) if isinstance(phone, float) else phone
        callees.append(naive.normalise(text, country or generate.DEFAULT_REGION))
    valid = [c for c in callees if c is not None]
    junk_share = 1 - len(valid) / len(data)
    repeat_share = 1 - len(set(valid)) / len(data) - junk_share
    assert 0.02 <= junk_share <= 0.04, junk_share
    assert 0.08 <= repeat_share <= 0.12, repeat_share
    regions = Counter(
        phonenumbers.region_code_for_number(phonenumbers.parse("+" + c)) for c in valid
    )
    assert 0.45 <= regions["IN"] / len(valid) <= 0.55
    assert len(regions) >= 8
    kinds = Counter(type(phone).__name__ for _, phone, *_ in data)
    assert kinds["float"] > 500 and kinds["str"] > 3000  # Excel numbers and text


def test_same_seed_same_cells(small_workbook, tmp_path):
    again = generate.write_contacts(tmp_path / "again.xlsx", 5000, seed=3)
    assert _cells(again) == _cells(small_workbook)
    other = generate.write_contacts(tmp_path / "other.xlsx", 50, seed=4)
    assert _cells(other)[1:] != _cells(small_workbook)[1:51]


def test_shared_strings_hold_the_same_cells(small_workbook, tmp_path):
    shared = generate.write_contacts(tmp_path / "sst.xlsx", 5000, seed=3, shared_strings=True)
    assert _cells(shared) == _cells(small_workbook)


def test_every_drawn_number_is_a_valid_mobile():
    maker = generate.NumberMaker(seed=5)
    for _ in range(3000):
        region, nsn = maker.fresh()
        number = phonenumbers.PhoneNumber(
            country_code=region.country_code, national_number=int(nsn)
        )
        assert phonenumbers.number_type(number) in generate.MOBILE_TYPES, (region.code, nsn)


def test_layout_reuse_matches_phonenumbers():
    maker = generate.NumberMaker(seed=6)
    rng = random.Random(6)
    styles = (phonenumbers.PhoneNumberFormat.INTERNATIONAL, phonenumbers.PhoneNumberFormat.NATIONAL)
    for _ in range(2000):
        region, nsn = maker.fresh()
        style = rng.choice(styles)
        number = phonenumbers.PhoneNumber(
            country_code=region.country_code, national_number=int(nsn)
        )
        assert maker._format(region, nsn, style) == phonenumbers.format_number(number, style)


def test_parse_timings_reads_the_last_line():
    text = (
        "plan...\ntimings: load 1s\nresults: ok\n"
        "timings: load 1.2s, plan 3.4s, send 5.6s, write 7.8s\n"
    )
    assert bench.parse_timings(text) == {"load": 1.2, "plan": 3.4, "send": 5.6, "write": 7.8}
    assert bench.parse_timings("no such line") == {}


def test_parse_time_report():
    report = (
        '\tCommand being timed: "python x.py"\n\tUser time (seconds): 1.50\n'
        "\tSystem time (seconds): 0.25\n\tMaximum resident set size (kbytes): 204800\n"
    )
    assert bench.parse_time_report(report) == {"user_s": 1.5, "sys_s": 0.25, "rss_kb": 204800}


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_bench_runs_end_to_end(tmp_path):
    if not bench.TIME:
        pytest.skip("GNU time is not installed")
    done = subprocess.run(
        [
            sys.executable,
            str(HERE / "bench.py"),
            "--rows",
            "2000",
            "--skip-naive",
            "--latency",
            "0.01",
            "--data-dir",
            str(tmp_path),
            "--json",
            str(tmp_path / "r.json"),
        ],
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "FAIL" not in done.stdout
    assert "check  ok   sandbox saw every distinct valid number" in done.stdout
    assert (tmp_path / "r.json").exists()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_resume_cost_plans_fresh_then_resumed(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            str(HERE / "resume_cost.py"),
            "--rows",
            "2000",
            "--repeat",
            "1",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(done.stdout.splitlines()[-1])
    assert figures["rows"] == 2000 and figures["sent"] == figures["distinct"] // 2
    assert figures["fresh_s"] > 0 and figures["resumed_s"] > 0


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_history_cost_reports_sqlite_and_postgresql_side_by_side():
    backend = (
        "both"
        if shutil.which("pg_ctl") or list(Path("/usr/lib/postgresql").glob("*"))
        else "sqlite"
    )
    done = subprocess.run(
        [sys.executable, str(HERE / "history_cost.py"), "--numbers", "20000", "--backend", backend],
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [f["backend"] for f in lines] == (
        ["sqlite", "postgres"] if backend == "both" else ["sqlite"]
    )
    assert all(f["numbers"] > 19000 and f["reserve_s"] >= 0 for f in lines)


def test_history_cost_measures_a_register_in_each_reservation():
    done = subprocess.run(
        [
            *(sys.executable, str(HERE / "history_cost.py"), "--numbers", "5000"),
            *("--backend", "sqlite", "--register", "0", "--register", "2000"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [f["register"] for f in lines] == [0, 2000]
    assert all(f["reserve_s"] >= 0 for f in lines)


def test_optout_cost_notes_each_key_press_once(tmp_path):
    figures = optout_cost.measure(tmp_path, 3000, 200, 0.05)
    assert 100 <= figures["first"]["noted"] <= 200  # about 5% of 3000
    assert figures["again"]["noted"] == 0 and figures["opened"]["noted"] == 0
    assert figures["new"]["noted"] <= 1000 and figures["again"]["s"] >= 0


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_push_cost_pushes_to_a_serve_process():
    done = subprocess.run(
        [sys.executable, str(HERE / "push_cost.py"), "--numbers", "3000", "--single", "50"],
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(f["records"], f["per_post"], f["posts"]) for f in lines] == [
        (3000, 1000, 3),
        (50, 1, 50),
    ]
    assert all(f["records_per_s"] > 0 for f in lines)


def test_tree_sampler_counts_a_grandchild(tmp_path):
    # The parent stays small; the memory lives in a grandchild, as in a worker pool.
    grandchild = "import time; x = bytearray(80_000_000); time.sleep(1.5)"
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {grandchild!r}])"
    process = subprocess.Popen([sys.executable, "-c", parent])
    with proctree.TreeSampler(process.pid, interval=0.1) as tree:
        process.wait(timeout=30)
    assert tree.peak_mb >= 75
    assert tree.most_processes >= 2
