"""The exception tree and the exit codes: one list, rendered for --help and the README."""

from __future__ import annotations

import pytest

from batcher import errors
from batcher.errors import (
    BatcherError,
    ExitCode,
    InputError,
    JournalError,
    OutputError,
    UsageError,
    exit_codes_markdown,
    exit_codes_text,
)


def test_every_code_has_a_description_and_they_are_numbered_without_gaps():
    assert [int(c) for c in ExitCode] == list(range(len(ExitCode)))
    assert all(c.description and not c.description.endswith(".") for c in ExitCode)


def test_every_error_class_is_drawn_in_the_tree_and_maps_to_a_documented_code():
    classes = [
        v
        for v in vars(errors).values()
        if isinstance(v, type) and issubclass(v, BatcherError) and v is not BatcherError
    ]
    for cls in classes:
        assert cls.__name__ in errors.__doc__, cls
        assert isinstance(cls.exit_code, ExitCode) and cls.exit_code.description, cls


def test_a_workbook_not_written_after_sending_does_not_claim_nothing_was_sent():
    assert OutputError.exit_code not in (ExitCode.USAGE, ExitCode.INPUT)
    assert "journal" in OutputError.exit_code.description
    assert "batcher results JOURNAL" in OutputError.exit_code.description
    assert "nothing was sent" not in OutputError.exit_code.description


def test_a_damaged_journal_does_not_blame_the_contacts_file():
    assert JournalError.exit_code != InputError.exit_code
    assert "journal" in JournalError.exit_code.description


def test_the_help_text_lists_the_codes_asked_for():
    text = exit_codes_text([ExitCode.OK, ExitCode.USAGE])
    assert text.splitlines() == [
        "exit codes:",
        f"  0  {ExitCode.OK.description}",
        f"  2  {ExitCode.USAGE.description}",
    ]
    assert all(len(line) <= 88 for line in exit_codes_text().splitlines())


def test_the_readme_table_is_the_rendered_one():
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert exit_codes_markdown() in readme


@pytest.mark.parametrize("cls", [UsageError, OutputError, JournalError])
def test_the_message_ends_with_the_fix(cls):
    assert str(cls("it broke", "do this")) == "it broke\n  fix: do this"
    assert str(cls("it broke")) == "it broke"
