"""CPU per phone cell: phonenumbers alone, and batcher's whole normalisation, on one core.

    python benchmarks/normalise_cost.py benchmarks/data/contacts-100000-seed1.xlsx --cells 20000

Takes the first distinct (cell, region) pairs of a generated workbook and times, in turn,
phonenumbers.parse + is_valid_number alone (the least any tool using phonenumbers must do) and
batcher.normalise.normalise_many (the same plus batcher's checks and reasons), twice each.
Prints one JSON line of microseconds per cell. Multiply by the distinct cells of a sheet and
divide by the cores to see what normalising costs at least.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from pathlib import Path

import phonenumbers

from batcher.load import load_sheet
from batcher.normalise import _normalise_cached, normalise_many
from batcher.settings import LoadOptions


def pairs_of(path: Path, cells: int) -> list[tuple[object, str, bool]]:
    """The first `cells` distinct (value, region, explicit) pairs, as the plan makes them."""
    sheet = load_sheet(path, LoadOptions())
    phones = sheet.frame[sheet.phone_column].tolist()
    regions = sheet.frame[sheet.region_column].tolist()
    pairs = dict.fromkeys(
        (value, region or "IN", bool(region))
        for value, region in zip(phones, regions, strict=True)
        if value is not None and value == value  # NaN != NaN
    )
    return list(pairs)[:cells]


def phonenumbers_only(pairs: list[tuple[object, str, bool]]) -> None:
    for value, region, _ in pairs:
        text = value if isinstance(value, str) else str(int(value))
        with contextlib.suppress(phonenumbers.NumberParseException):
            phonenumbers.is_valid_number(phonenumbers.parse(text, region))


def batcher_normalise(pairs: list[tuple[object, str, bool]]) -> None:
    _normalise_cached.cache_clear()  # every cell is new, as in a fresh run
    normalise_many(pairs)


def main() -> None:
    """Command line: WORKBOOK [--cells N]."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workbook", type=Path)
    parser.add_argument("--cells", type=int, default=20_000)
    args = parser.parse_args()
    pairs = pairs_of(args.workbook, args.cells)
    figures: dict[str, float] = {"cells": len(pairs)}
    for _ in range(2):  # the second round is the one reported: caches and imports warm
        for name, work in (
            ("phonenumbers_us", phonenumbers_only),
            ("batcher_us", batcher_normalise),
        ):
            started = time.process_time()
            work(pairs)
            figures[name] = round((time.process_time() - started) / len(pairs) * 1e6, 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
