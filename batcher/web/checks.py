"""The check of a campaign of `batcher serve`, as plain data: what its page and its plan show.

Check holds everything the check computes once (the settings, the sheet, the plan, the choice,
the forecast, the journal and results paths, the problem rows) and its JSON for the API;
Problem is one row the campaign cannot call, by its row number, with its cell as written
(cell_as_written: a whole float without its '.0'); Duplicate a row repeating an earlier one's
number, with that row. Folder.check (campaigns.py) builds it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

from batcher.load import Sheet
from batcher.plan.choose import Choice
from batcher.plan.forecast import Forecast
from batcher.plan.rows import Plan
from batcher.plan.status import DUPLICATE, ELIGIBLE, INVALID
from batcher.settings import Settings
from batcher.web.record import Record

PROBLEMS_SHOWN = 50


@dataclass(frozen=True)
class Problem:
    """One row the campaign cannot call: its row number, the cell as written, why."""

    row: int
    cell: str
    reason: str


@dataclass(frozen=True)
class Duplicate:
    """A row whose number an earlier row has (that row is the one called): the plan's own
    mark (Plan.duplicate_of), not worked out again."""

    row: int
    first: int  # the row it repeats
    callee: str
    cell: str
    reason: str  # the plan's words: "same number as row 4" (of sheet 'x' over several sheets)


@dataclass(frozen=True)
class Check:
    """Everything the check page shows, computed once."""

    record: Record
    settings: Settings
    sheet: Sheet
    plan: Plan
    choice: Choice
    figures: Forecast
    journal: Path
    output: Path
    problems: list[Problem]

    @property
    def columns(self) -> list[str]:
        """The sheet's column names, for the phone and region column choices."""
        return [str(c) for c in self.sheet.frame.columns]

    @property
    def needs_confirmation(self) -> bool:
        """A phone column found by its content must be confirmed before anything is sent."""
        return self.sheet.phone_found_by == "content"

    @functools.cached_property
    def duplicates(self) -> list[Duplicate]:
        """Every duplicate row with the row it repeats, in the file's order."""
        plan, column = self.plan, self.sheet.frame[self.sheet.phone_column].tolist()
        return [
            Duplicate(row, first, callee or "", cell_as_written(cell), reason)
            for row, first, callee, cell, reason, status in zip(
                self.sheet.rows,
                plan.duplicate_of,
                plan.callee,
                column,
                plan.reason,
                plan.status,
                strict=True,
            )
            if status == DUPLICATE and first is not None
        ]

    def first_cells(self, shown: int = 5) -> list[str]:
        """The first non-empty cells of the phone column, for the owner to recognise."""
        cells = self.sheet.frame[self.sheet.phone_column].head(shown * 4).tolist()
        return [cell_as_written(c) for c in cells if c not in (None, "")][:shown]

    def as_json(self) -> dict[str, object]:
        """The plan of the JSON API."""
        f = self.figures
        return {
            "campaign": self.record.name,
            "file": self.record.input.name,
            "sheet": self.sheet.sheet_name,
            "phone_column": self.sheet.phone_column,
            "phone_found_by": self.sheet.phone_found_by,
            "needs_confirmation": self.needs_confirmation,
            "region_column": self.sheet.region_column,
            "region": self.settings.region,
            "rows": f.rows,
            "valid": f.counts[ELIGIBLE],
            "duplicates": f.counts["duplicate"],
            "invalid": f.counts[INVALID],
            "held": dict(f.held),
            "done": dict(f.done),
            "countries": dict(f.countries.most_common()),
            "to_send": f.to_send,
            "redials": len(self.choice.redials),
            "requests": f.requests,
            "seconds": round(f.seconds, 1),
            "cost": f.cost,
            "problems": len(self.problems),
            "first_problems": [p.__dict__ for p in self.problems[:PROBLEMS_SHOWN]],
            "first_duplicates": [d.__dict__ for d in self.duplicates[:PROBLEMS_SHOWN]],
        }


def cell_as_written(value: object) -> str:
    """A raw cell as text: a whole float without its '.0', an empty cell as ''."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else repr(value)
    return str(value)
