"""The library's public surface is what batcher/__init__.py exports, and only that (as httpx
locks its own): a change to it is a decision, not an accident."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import batcher

EXPECTED = {
    "ApiError",
    "BatcherError",
    "Campaign",
    "Credentials",
    "ExitCode",
    "InputError",
    "JournalBusy",
    "JournalError",
    "LoadOptions",
    "Outcome",
    "OutputError",
    "Price",
    "Settings",
    "StoppedByAPI",
    "Summary",
    "UsageError",
    "Window",
    "__version__",
    "rebuild",
    "run",
}


def test_exported_members():
    assert set(batcher.__all__) == EXPECTED
    members = {n for n in dir(batcher) if not n.startswith("_")}
    # every public name of the package is exported, or is one of its modules
    modules = {n for n in members if type(getattr(batcher, n)).__name__ == "module"}
    assert members - modules == EXPECTED - {"__version__"}
    for name in EXPECTED:
        assert getattr(batcher, name) is not None


def test_the_library_runs_a_campaign_without_the_cli(tmp_path):
    from tests.helpers import numbers, write_xlsx

    path = write_xlsx(tmp_path / "c.xlsx", [["phone"]] + [["+" + n] for n in numbers(3)])
    settings = batcher.Settings.from_options({"input": path, "sandbox": True})
    summary = batcher.run(settings, confirm=lambda plan: True, say=lambda line: None)
    assert summary.counts[batcher.Outcome.ACCEPTED] == 3
    assert summary.exit_code is batcher.ExitCode.OK


@pytest.mark.parametrize("package", ["plan", "workbook", "followup", "voiceapi"])
def test_concept_packages_re_export_nothing(package):
    # importers name the module that defines a name (batcher.plan.rows.Plan), never the package
    module = importlib.import_module(f"batcher.{package}")
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    assert [type(node).__name__ for node in tree.body] == ["Expr"], "only the docstring"
