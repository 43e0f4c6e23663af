"""Copy one call history into another: a machine's SQLite file into the team's PostgreSQL
database (`batcher history copy --to postgresql://…`), or any history into any other.

    copied = copy_history(HistoryLocation.of("~/.local/share/batcher/history.sqlite"),
                          HistoryLocation.of("postgresql://ops@db/batcher"))
    # {"callers": 3, "reservations": 1200, "uploads": 1, "latency": 2}

Every table of batcher.history.SCHEMA is copied, in its order (a table before the ones that
refer to it), so a table added there later is copied too. A row the target already has (the
same key: the table's UNIQUE or PRIMARY KEY columns, or all of its columns when it has none but
its row id) is left alone, so a second copy adds nothing. Row ids are the target's own: a
column that `REFERENCES` another table's id is mapped to the target's id of the same row. One
transaction (the history's write lock, `BEGIN IMMEDIATE`): a failed copy leaves the target as
it was, and no send interleaves with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from batcher.errors import UsageError
from batcher.history import SCHEMA, History
from batcher.historydb import Database
from batcher.settings import HistoryLocation


@dataclass(frozen=True)
class Table:
    """One table of SCHEMA as the copy needs it."""

    name: str
    row_id: bool  # `id INTEGER PRIMARY KEY`: the target numbers its rows itself
    key: tuple[str, ...]  # the columns that say two rows are one (empty: all but the id)
    references: dict[str, str]  # column -> the table whose id it holds


def schema_tables(schema: str = SCHEMA) -> list[Table]:
    """The tables of a SCHEMA script, in their order."""
    tables = []
    for name, body in re.findall(
        r"CREATE TABLE IF NOT EXISTS (\w+)\s*\((.*?)\n\);", schema, re.DOTALL | re.IGNORECASE
    ):
        lines = [line.strip().rstrip(",") for line in body.strip().splitlines()]
        row_id = any(re.match(r"id\s+INTEGER\s+PRIMARY\s+KEY\b", ln, re.I) for ln in lines)
        key: tuple[str, ...] = ()
        references: dict[str, str] = {}
        for line in lines:
            listed = re.match(r"(?:UNIQUE|PRIMARY\s+KEY)\s*\(([^)]*)\)", line, re.I)
            column = re.match(r"(\w+)\s+\w+", line)
            if listed and not key:
                key = tuple(c.strip() for c in listed.group(1).split(","))
            elif column and not re.match(r"(UNIQUE|PRIMARY|FOREIGN|CHECK)\b", line, re.I):
                if re.search(r"\b(UNIQUE|PRIMARY\s+KEY)\b", line, re.I) and column[1] != "id":
                    key = key or (column[1],)
                target = re.search(r"\bREFERENCES\s+(\w+)", line, re.I)
                if target:
                    references[column[1]] = target.group(1)
        tables.append(Table(name, row_id, key, references))
    return tables


def copy_history(source: HistoryLocation, target: HistoryLocation) -> dict[str, int]:
    """Copy every row of `source` that `target` lacks; the rows copied, per table."""
    if str(source) == str(target) and source.connect_url == target.connect_url:
        raise UsageError(
            f"history copy: --from and --to are both {source}",
            "give --to the database the team shares, e.g. --to postgresql://ops@db/batcher",
        )
    with History(source, create=False) as old:
        if old.db is None:
            raise UsageError(
                f"history copy: no call history at {source}",
                "give --from the file to copy (batcher's default is "
                "~/.local/share/batcher/history.sqlite)",
            )
        with History(target) as new:
            assert new.db is not None
            return _copy(old.db, new.db)


def _copy(old: Database, new: Database) -> dict[str, int]:
    copied: dict[str, int] = {}
    ids: dict[str, dict[int, int]] = {}  # table -> source id -> target id
    left_out: dict[str, int] = {}  # KEPT_ON_REGISTER, when the copy left removals out
    new.execute("BEGIN IMMEDIATE")
    try:
        for table in schema_tables():
            copied[table.name], ids[table.name] = _copy_table(old, new, table, ids, left_out)
        new.execute("COMMIT")
    except BaseException:
        new.execute("ROLLBACK")
        raise
    return copied | left_out


def _copy_table(
    old: Database,
    new: Database,
    table: Table,
    ids: dict[str, dict[int, int]],
    left_out: dict[str, int],
) -> tuple[int, dict[int, int]]:
    """Copy one table's new rows; (rows copied, source id -> target id)."""
    # both histories are of this batcher's format (History upgraded them): the table exists
    cursor = old.execute(f"SELECT * FROM {table.name}" + (" ORDER BY id" if table.row_id else ""))
    names = [d[0] for d in cursor.description]
    rows = [list(r) for r in cursor.fetchall()]
    for column, referred in table.references.items():
        at, theirs = names.index(column), ids.get(referred, {})
        for row in rows:
            row[at] = theirs.get(row[at], row[at])
    columns = [n for n in names if not (table.row_id and n == "id")]
    key = list(table.key) or columns
    every = [names.index(c) for c in columns]
    place = [names.index(c) for c in key]
    theirs_every = list(range(len(columns)))
    theirs_place = [columns.index(c) for c in key]
    have = {
        _identity(r, theirs_every, theirs_place)
        for r in new.execute(f"SELECT {', '.join(columns)} FROM {table.name}")
    }
    fresh, seen = [], set(have)
    for row in rows:
        k = _identity(row, every, place)
        if k not in seen:
            seen.add(k)
            fresh.append([row[i] for i in every])
    if table.name == "register":
        kept = _without_held_removals(new, columns, fresh)
        if len(kept) < len(fresh):
            left_out[KEPT_ON_REGISTER] = len(fresh) - len(kept)
        fresh = kept
    if fresh:
        new.executemany(
            f"INSERT INTO {table.name} ({', '.join(columns)})"
            f" VALUES ({', '.join('?' for _ in columns)})",
            fresh,
        )
    mapping: dict[int, int] = {}
    if table.row_id:
        numbered = {
            _identity(r[1:], theirs_every, theirs_place): r[0]
            for r in new.execute(f"SELECT id, {', '.join(columns)} FROM {table.name}")
        }
        at = names.index("id")
        mapping = {  # a row left out (a held number's removal) maps to nothing
            row[at]: numbered[k] for row in rows if (k := _identity(row, every, place)) in numbered
        }
    return len(fresh), mapping


KEPT_ON_REGISTER = "removals not copied"  # copy_history's count of them, when there are some


def _without_held_removals(new: Database, columns: list[str], fresh: list[list]) -> list[list]:
    """The register's changes to copy, less the removals of numbers the target's register
    holds: copied rows come after the target's own, so such a removal would undo an opt-out
    the team noted (perhaps later) -- fail closed, they stay held (`dnc remove` them there)."""
    number, action = columns.index("number"), columns.index("action")
    held: set[str] = set()
    for n, a in new.execute("SELECT number, action FROM register ORDER BY id"):
        (held.discard if a == "remove" else held.add)(n)
    return [row for row in fresh if not (row[action] == "remove" and row[number] in held)]


def _identity(row: list | tuple, every: list[int], key: list[int]) -> tuple:
    """What makes two rows one: the key's values, or all the columns when the key has a NULL
    (SQL's UNIQUE holds NULLs distinct: the register's changes made by hand have no voiceId,
    and a removal and the same number's later re-add by hand are two changes, both kept)."""
    values = tuple(row[i] for i in key)
    if None not in values:
        return values
    return (None, *(row[i] for i in every))
