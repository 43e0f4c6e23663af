"""Do-not-call lists, read at least as carefully as the contacts: `do_not_call`.

    lists = do_not_call([Path("dnc.csv")], region="GB", unreadable="stop")
    lists.numbers        # every callee the lists hold: never called
    lists.lists[0].text  # "dnc.csv 1,204 numbers (2 rows skipped: unreadable)"

Where the evidence is missing, hold; never call. A list is read with the contacts' loader and
rules, and more: every phone column the loader finds, every number of a cell (a contact is
called on its first callable one; a listed person is held on all of theirs), the campaign's
region, else the row's region cell. What cannot be read stops the run before anything is sent,
naming the list, the row and the cell: a national number with no region to read it in, and a
cell that is no number ("call me maybe", "n/a"); `unreadable="skip"` (--suppress-unreadable
skip) accepts a list without its unreadable cells, and the plan counts their rows. A number
batcher never calls anyway (premium rate, emergency, short code) holds nobody back and stops
nothing. Blank rows and blank cells are fine.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from gettext import ngettext
from pathlib import Path

import numpy as np

from batcher.errors import InputError, UsageError
from batcher.load import Sheet, load_sheet
from batcher.plan.cells import NO_REGION, refuse
from batcher.plan.normalise import every_number, never_called
from batcher.plan.rows import distinct_cells, row_region
from batcher.settings import LoadOptions

UNREADABLE = ("stop", "skip")  # --suppress-unreadable / suppress_unreadable's choices

_FINE, _UNREADABLE, _NO_REGION = 0, 1, 2


@dataclass(frozen=True)
class ListRead:
    """One do-not-call list as read: how many distinct numbers, how many rows skipped."""

    path: Path
    numbers: int
    skipped: int = 0  # rows with an unreadable cell, left out by --suppress-unreadable skip

    @property
    def text(self) -> str:
        """ "dnc.csv 1,204 numbers (2 rows skipped: unreadable)"."""
        skipped = ngettext(
            " ({n} row skipped: unreadable)", " ({n} rows skipped: unreadable)", self.skipped
        ).format(n=f"{self.skipped:,}")
        numbers = ngettext("{n} number", "{n} numbers", self.numbers).format(n=f"{self.numbers:,}")
        return f"{self.path.name} {numbers}{skipped if self.skipped else ''}"


@dataclass(frozen=True)
class Suppression:
    """Every number of the do-not-call lists, and what was read from each list."""

    numbers: frozenset[str] = frozenset()
    lists: tuple[ListRead, ...] = ()


def do_not_call(paths: Iterable[Path], region: str | None, unreadable: str = "stop") -> Suppression:
    """Every number of the do-not-call lists, or an InputError naming the list, the row and
    the cell that cannot be read (see the module's docstring)."""
    if unreadable not in UNREADABLE:
        raise UsageError(
            f"--suppress-unreadable {unreadable!r} is not one of {', '.join(UNREADABLE)}",
            'e.g. --suppress-unreadable skip, or suppress_unreadable = "skip" in campaign.toml',
        )
    numbers: set[str] = set()
    lists = []
    for path in paths:
        found, skipped = _read_list(
            load_sheet(path, LoadOptions(every_phone_column=True)), region, unreadable
        )
        numbers |= found
        lists.append(ListRead(Path(path), len(found), skipped))
    return Suppression(frozenset(numbers), tuple(lists))


def _read_list(sheet: Sheet, region: str | None, unreadable: str) -> tuple[set[str], int]:
    """(the list's numbers, rows skipped) of one list; plan_rows' machinery reads every
    distinct cell once, and only cells that are not one plain number are read again here."""
    keys, (callees, notes, _) = distinct_cells(sheet, region)
    numbers = {c for c, note in zip(callees, notes, strict=True) if c is not None and not note}
    careful = [
        k for k, (c, note) in enumerate(zip(callees, notes, strict=True)) if c is None or note
    ]
    status = np.zeros(len(callees), dtype=np.int8)
    if careful:
        columns = [np.asarray(k, dtype=np.int64) for k in keys]
        where = _first_place(columns, len(callees))
        regions = (
            sheet.frame[sheet.region_column].tolist() if sheet.region_column is not None else None
        )
        cache: dict = {}
        for key in careful:
            column, position = where[key]
            value = sheet.frame[sheet.phone_columns[column]].iat[position]
            cell_region = regions[position] if regions is not None else None
            own, bad_region, explicit = row_region(cell_region, region, cache)
            read = [refuse(bad_region)] if bad_region else every_number(value, own, explicit)
            for number in read:
                if number.callee is not None:
                    numbers.add(number.callee)
                elif number.reason == NO_REGION.reason:
                    status[key] = _NO_REGION
                elif not never_called(number) and status[key] != _NO_REGION:
                    status[key] = _UNREADABLE
        bad = np.stack([status[c] for c in columns], axis=1)
        _refuse(sheet, bad, _NO_REGION, region)
        if unreadable == "stop":
            _refuse(sheet, bad, _UNREADABLE, region)
        return numbers, int((bad == _UNREADABLE).any(axis=1).sum())
    return numbers, 0


def _first_place(columns: list[np.ndarray], size: int) -> dict[int, tuple[int, int]]:
    """Each distinct cell's first (phone column, row position), from the columns' keys."""
    place: dict[int, tuple[int, int]] = {}
    for column, keys in reversed(list(enumerate(columns))):  # earlier columns win
        found, first = np.unique(keys, return_index=True)
        place.update(zip(found.tolist(), ((column, int(p)) for p in first), strict=True))
    return place


def _refuse(sheet: Sheet, bad: np.ndarray, kind: int, region: str | None) -> None:
    """The InputError for the first row holding a cell of this kind, if any row does."""
    rows = (bad == kind).any(axis=1)
    count = int(rows.sum())
    if not count:
        return
    position = int(np.argmax(rows))
    column = int(np.argmax(bad[position] == kind))
    name = sheet.phone_columns[column]
    value = sheet.frame[name].iat[position]
    where = f"do-not-call list {sheet.path}: row {sheet.rows[position]}, column {name!r}"
    more = (
        ngettext(" ({n} more row like it)", " ({n} more rows like it)", count - 1).format(
            n=f"{count - 1:,}"
        )
        if count > 1
        else ""
    )
    if kind == _NO_REGION:
        raise InputError(
            f"{where}: {value!r} is a national number and nothing says which country's{more}: "
            "nobody is called until the list can be read",
            "write the list's numbers with their country code (+44 7911 100000), or add a "
            "region column to the list, or give the campaign's region (--region GB, or "
            'region = "GB" in campaign.toml)',
        )
    reason = _reason_at(sheet, position, column, region)
    raise InputError(
        f"{where}: {value!r} cannot be read as a phone number ({reason}){more}: "
        "nobody is called until the list can be read",
        "correct or delete the row in the list; or, to use the list without its unreadable "
        'cells, pass --suppress-unreadable skip (suppress_unreadable = "skip" in campaign.toml)',
    )


def _reason_at(sheet: Sheet, position: int, column: int, region: str | None) -> str:
    """Why the cell at (row position, phone column) cannot be read, without its fix."""
    regions = sheet.frame[sheet.region_column] if sheet.region_column is not None else None
    cell_region = regions.iat[position] if regions is not None else None
    own, bad_region, explicit = row_region(cell_region, region, {})
    if bad_region:
        return bad_region.split(":")[0]
    value = sheet.frame[sheet.phone_columns[column]].iat[position]
    for number in every_number(value, own, explicit):
        if number.callee is None and not never_called(number):
            return number.reason.split(":")[0]
    return "not a phone number"
