"""The account's do-not-call register: numbers no campaign of any folder calls, until removed on
purpose. It lives in the call history (its `register` table), beside the reservations.

    note_opt_outs(journal, history)           # callees who pressed the campaign's opt-out key
    add(history, ["447911100000"], now)       # by hand (batcher dnc add / import)
    remove(history, ["447911100000"], now)    # callable again; the removal is recorded
    holding(history, callees, "vendor")       # callee -> Entry: what decide() and reserve hold

Each change is a row that is never deleted: `add` (why `opt_out`: the callee pressed the key;
`added`: by hand) or `remove`. A number is on the register when an add of it is newer than its
latest remove. An opt-out holds on the kind of endpoint its call was made on (a trial on the
embedded sandbox rang nobody: its opt-outs hold no real endpoint); a number added by hand holds
on every endpoint (`EVERYWHERE`). A call record is noted once (its voiceId is unique), so the
record of a number removed on purpose never puts it back.

The SQL is portable (`?` placeholders through `history.db`, `INSERT ... ON CONFLICT`); the
table is defined in batcher.history's SCHEMA. This module imports batcher.history only for
types: history imports it, to check the register inside `reserve`'s transaction.
"""

from __future__ import annotations

import getpass
import socket
import sqlite3
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from gettext import ngettext
from typing import TYPE_CHECKING

from batcher.clock import iso_utc
from batcher.errors import JournalError
from batcher.settings import endpoint_kind
from batcher.voiceapi import callrecord

if TYPE_CHECKING:
    from batcher.history import History
    from batcher.journal import Journal

ADD, REMOVE = "add", "remove"
OPT_OUT, ADDED = "opt_out", "added"  # why a number is on the register
EVERYWHERE = "*"  # the endpoint of a number added by hand: it holds on every endpoint

_COLUMNS = "id, number, action, why, endpoint, campaign, journal, voice_id, at, by_whom"
_INSERT = (
    "INSERT INTO register (number, action, why, endpoint, campaign, journal, voice_id, at,"
    " by_whom) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True)
class Entry:
    """One change of the register: a number added (and why, from where) or removed."""

    number: str  # the callee's digits, as the journal and the history keep them
    action: str  # ADD or REMOVE
    why: str  # OPT_OUT, ADDED, or "removed"
    endpoint: str  # the endpoint kind it holds on; EVERYWHERE for a number added by hand
    campaign: str = ""  # the campaign whose call record showed the key pressed
    journal: str = ""
    voice_id: str = ""  # that call record
    at: float = 0.0
    by: str = ""  # user@host that noted it

    @property
    def e164(self) -> str:
        """The number as it is written to people: +447911100000."""
        return "+" + self.number

    def reason(self) -> str:
        """The held row's reason: where and when the number came on the register."""
        when = iso_utc(self.at)
        undo = f"never called (batcher dnc remove {self.e164} to call it again)"
        if self.why == OPT_OUT:
            return (
                f"opted out: pressed the opt-out key in the campaign {self.campaign!r} "
                f"({self.journal}, call {self.voice_id}) at {when}: {undo}"
            )
        return f"on the do-not-call register, added by {self.by} at {when}: {undo}"


@dataclass
class _View:
    """What this process has read of the register: every change up to `mark`, folded into
    the numbers on it, each with its adds by endpoint kind."""

    mark: int = 0
    # number -> endpoint kind -> the row of its add (an Entry is made only of a row asked for:
    # a register of 100,000 is read at the cost of its rows)
    on: dict[str, dict[str, tuple]] = field(default_factory=dict)
    noted: set[str] = field(default_factory=set)  # the voiceIds of every key press noted


_VIEWS: weakref.WeakKeyDictionary[History, _View] = weakref.WeakKeyDictionary()


def holding(history: History, callees: Iterable[str], kind: str) -> dict[str, Entry]:
    """Which of these numbers the register holds for a caller on this endpoint kind, and why
    (the changes since the last look are read: cheap inside every reservation)."""
    view = _read(history)
    if not view.on:
        return {}
    held = {}
    for callee in callees:
        adds = view.on.get(callee)
        if adds:
            row = adds.get(EVERYWHERE) or adds.get(kind)
            if row is not None:
                held[callee] = _entry(row)
    return held


def standing(history: History, callee: str) -> list[Entry]:
    """The adds that hold this number on the register now, one per endpoint kind, oldest
    first ([]: not on it), for the owner's question "may it be called?"."""
    adds = _read(history).on.get(callee) or {}
    return sorted(map(_entry, adds.values()), key=lambda e: e.at)


def listed(history: History) -> list[Entry]:
    """The numbers on the register now, one entry each (the earliest add that holds it)."""
    view = _read(history)
    return sorted(
        (min(map(_entry, adds.values()), key=lambda e: e.at) for adds in view.on.values() if adds),
        key=lambda e: (e.at, e.number),
    )


def changes(history: History) -> list[Entry]:
    """Every change of the register, oldest first: the adds and the removals."""
    if history.db is None:
        return []
    return [
        _entry(row) for row in history.db.execute(f"SELECT {_COLUMNS} FROM register ORDER BY id")
    ]


def note_opt_outs(
    journal: Journal, history: History, key: str | None = None, *, stored: list[dict] | None = None
) -> int:
    """Put on the register every callee whose stored call record of the journal's campaign
    shows an opt-out key pressed (feedbackValue equal to `key` or to any key the journal kept:
    a key changed between runs still holds the calls made under it; a given key is kept in a
    writable journal for later records, reconcile and follow).

    The one place key presses become opt-outs: call it after storing records
    (`Journal.save_records`) and before deciding a round. Idempotent: each record is noted
    once, so calling it again adds nothing, and a number removed on purpose stays removed.
    The opt-out holds on the kind of endpoint the campaign calls (a sandbox trial's holds
    no real endpoint). Returns how many records were noted now.

    `stored`: the records just stored (a push's delivery), the only ones that can be new
    there: those are looked at, not the journal (decide() looks at the journal's every
    round, before anyone is called)."""
    if journal.campaign is None:
        return 0
    if key:
        journal.keep_opt_out_key(key)
    # every key the campaign offered: a record of a call made under an earlier key holds too
    keys = list(dict.fromkeys((key or "") + journal.opt_out_keys))
    if not keys or history.db is None:
        return 0
    # the records noted before (by any campaign, removed since or not) are skipped unread:
    # a round reads only what is new, not the journal's every record
    noted = _read(history).noted
    if stored is None:
        pressed = [found for k in keys for found in journal.pressed(k, noted)]
    else:
        pressed = [
            (str(r["voiceId"]), str(r.get("callee") or ""), r)
            for r in stored
            if callrecord.key_pressed(r, keys) and str(r["voiceId"]) not in noted
        ]
    if not pressed:
        return 0
    by_voice = {}
    if any(not digits(callee) for _, callee, _ in pressed):
        by_voice = {c.voice_id: callee for callee, calls in journal.calls().items() for c in calls}
    kind = endpoint_kind(journal.endpoint)
    now = datetime.now().timestamp()
    rows = []
    for voice_id, callee, record in pressed:
        number = digits(callee) or by_voice.get(voice_id, "")
        if number:
            at = _epoch(record.get("hangupTime")) or _epoch(record.get("answerTime")) or now
            rows.append(
                (
                    number,
                    ADD,
                    OPT_OUT,
                    kind,
                    journal.campaign.name,
                    str(journal.path.resolve()),
                    voice_id,
                    at,
                    who(),
                )
            )
    return _write(history, rows, noted=True)


def add(history: History, numbers: Iterable[str], now: float, by: str = "") -> list[str]:
    """Put these numbers on the register by hand (every endpoint); the ones not on it before."""
    wanted = list(dict.fromkeys(numbers))
    on = holding(history, wanted, EVERYWHERE)
    new = [n for n in wanted if n not in on]
    _write(history, [(n, ADD, ADDED, EVERYWHERE, "", "", None, now, by or who()) for n in new])
    return new


def remove(history: History, numbers: Iterable[str], now: float, by: str = "") -> list[str]:
    """Take these numbers off the register (recorded: the change is kept); the ones that were
    on it, which every campaign may call again."""
    view = _read(history)
    gone = [n for n in dict.fromkeys(numbers) if view.on.get(n)]
    _write(
        history, [(n, REMOVE, "removed", EVERYWHERE, "", "", None, now, by or who()) for n in gone]
    )
    return gone


def noted_line(count: int) -> str:
    """What a command says of the opt-outs it just put on the register."""
    return (
        ngettext("opt-out: {n} callee pressed", "opt-out: {n} callees pressed", count).format(
            n=count
        )
        + " the opt-out key: on the do-not-call register, never called by any campaign "
        "(batcher dnc list)"
    )


def who() -> str:
    """user@host, for the register's changes."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def digits(text: object) -> str:
    """The digits of a callee as a call record carries it ("+44 7911..." -> "447911...")."""
    return "".join(c for c in str(text or "") if c.isascii() and c.isdigit())


def _write(history: History, rows: list[tuple], *, noted: bool = False) -> int:
    """Insert these changes in one transaction; how many were new (a record noted before is
    skipped: ON CONFLICT on its voiceId)."""
    if not rows:
        return 0
    if history.db is None:
        raise JournalError(
            f"{history.location}: no call history there yet, so no register",
            "point --history (or BATCHER_HISTORY) at the history your campaigns use",
        )
    sql = _INSERT + (" ON CONFLICT (voice_id) DO NOTHING" if noted else "")
    count = 0
    try:
        with history.together():
            history.begin_write()  # one write transaction, holding the history's write lock
            if noted:  # some may be there already: counted one by one
                for row in rows:
                    count += max(0, history.db.execute(sql, row).rowcount)
            else:  # by hand: all of them (psycopg pipelines them: a 100k import in one trip)
                history.db.executemany(sql, rows)
                count = len(rows)
    except sqlite3.Error as exc:
        raise JournalError(
            f"{history.location}: the do-not-call register cannot be written ({exc})",
            "fix the call history's permissions or free disk space, then run the command again",
        ) from None
    return count


def _read(history: History) -> _View:
    """The register as this process knows it, brought up to date."""
    view = _VIEWS.get(history)
    if view is None:
        view = _VIEWS[history] = _View()
    if history.db is None:
        return view
    try:
        # the newest change first (an index's last entry): inside every reservation there is
        # seldom one, and PostgreSQL's generic plan of "id > $1" alone scans the whole table
        top = history.db.execute("SELECT coalesce(max(id), 0) FROM register").fetchone()[0]
        rows = (
            history.db.execute(
                f"SELECT {_COLUMNS} FROM register WHERE id > ? AND id <= ? ORDER BY id",
                (view.mark, top),
            ).fetchall()
            if top > view.mark
            else []
        )
    except sqlite3.Error as exc:
        raise JournalError(
            f"{history.location}: the do-not-call register cannot be read ({exc})",
            "nothing is sent without it: move a damaged file away, or point --history at "
            "the history your campaigns use",
        ) from None
    for row in rows:
        _, number, action, _, endpoint, _, _, voice_id, _, _ = row
        if voice_id:
            view.noted.add(voice_id)
        if action == REMOVE:
            view.on.pop(number, None)
        else:
            view.on.setdefault(number, {}).setdefault(endpoint, tuple(row))
        view.mark = row[0]
    return view


def _entry(row: tuple) -> Entry:
    _, number, action, why, endpoint, campaign, journal, voice_id, at, by = row
    return Entry(number, action, why, endpoint, campaign, journal, voice_id or "", at, by)


def _epoch(text: object) -> float | None:
    """An ISO time of a call record as an epoch; None when absent or unreadable."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
