"""Helpers the test modules share: import them from here, never from conftest.

    from tests.helpers import numbers, read_sheet, sandbox_args, write_xlsx

conftest.py holds only fixtures (and uses these helpers itself). `pytest` and
`python -m pytest` both find this package: pyproject's pytest config puts the repository root
on sys.path.
"""

from tests.helpers.contacts import numbers, write_xlsx
from tests.helpers.sandbox import (
    KEY,
    SECRET,
    batcher_process,
    kill_after_requests,
    sandbox_args,
    wait_for,
)
from tests.helpers.workbooks import header, read_sheet, summary

__all__ = [
    "KEY",
    "SECRET",
    "batcher_process",
    "header",
    "kill_after_requests",
    "numbers",
    "read_sheet",
    "sandbox_args",
    "summary",
    "wait_for",
    "write_xlsx",
]
