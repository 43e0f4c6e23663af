"""Pushed records: the call records the vendor POSTs as calls end, stored as fetched ones are.

    inbox = Inbox(Path("campaigns/.batcher-web/pushed-records.sqlite"))
    report = inbox.store(records, journals=[Path("campaigns/spring.journal")])
    report.stored, report.settled, report.kept_aside          # (12, 1, 0)

Each record is matched to its campaign by its calledInfo tag (`parse_tag`: batcher:<token>:
<request>) among `journals`, and to a number that request carried; then stored with
`Journal.save_records` (INSERT OR REPLACE by voiceId: a replayed record changes nothing) and
handed to `_after_records`, which applies what the records prove at once: the unknown numbers
they name are settled accepted (reconcile's record-evidence rule, `settle_by_records`), and a
redial reads them in its next round. Polling (`batcher records`, --follow) stays the fallback
for records that never came, and skips the complete ones already stored.

A journal is written *beside* whoever holds it (`Journal(beside=True)`: SQLite's WAL, one
BEGIN IMMEDIATE transaction a write, the busy timeout), never by taking the campaign: a run or
a page's send is never refused because a record came in, and a running --follow reads the
records in its next round.

Nothing is dropped. A record for no campaign of the folder (no batcher tag, a token no journal
has, a request or callee its journal does not know) is kept aside in the inbox's SQLite file;
so is a record whose journal cannot be written now (busy beyond the timeout, a schema the next
run upgrades, a full disk), marked pending: `retry` stores those once it can (serve calls it
every few seconds).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from batcher.errors import BatcherError
from batcher.journal import Journal, NumberState, parse_tag, utc_now
from batcher.settings import HistoryLocation

if TYPE_CHECKING:
    from batcher.history import History

_log = logging.getLogger(__name__)

SETTLED_WHY = "found in the vendor's call record pushed to batcher serve"
_ASIDE = """
CREATE TABLE IF NOT EXISTS aside (
    voice_id TEXT PRIMARY KEY,
    record TEXT NOT NULL,
    reason TEXT NOT NULL,
    pending INTEGER NOT NULL,
    received_at TEXT NOT NULL
)
"""


STORED, SETTLED, ASIDE, PENDING = "stored", "settled", "aside", "pending"


@dataclass(frozen=True)
class PushReport:
    """What one delivery did: records stored in journals, unknown numbers settled by them,
    records kept aside (of which `pending`: their journal could not be written yet); `fates`
    says it of each record by its voiceId (stored, settled, aside or pending)."""

    stored: int = 0
    settled: int = 0
    kept_aside: int = 0
    pending: int = 0
    fates: dict[str, str] = field(default_factory=dict, repr=False)

    def of(self, records: Iterable[dict]) -> PushReport:
        """The part of this report about some of its records (one POST of a delivery)."""
        fates = {v: self.fates[v] for v in (str(r["voiceId"]) for r in records) if v in self.fates}
        return _report(fates)


def _report(fates: dict[str, str]) -> PushReport:
    counts = Counter(fates.values())
    return PushReport(
        counts[STORED] + counts[SETTLED],
        counts[SETTLED],
        counts[ASIDE] + counts[PENDING],
        counts[PENDING],
        fates,
    )


class Inbox:
    """Where pushed records go: their campaigns' journals, or aside in `path` (SQLite)."""

    def __init__(self, path: Path, history: HistoryLocation | None = None) -> None:
        self.path = path
        self.history = history  # whose register the opt-outs of stored records go on
        self._tokens: dict[Path, str] = {}  # journal -> its campaign's token (never changes)
        # the history, open from one delivery to the next (deliveries come one at a time):
        # its register is read once, then only its changes, not 100,000 numbers a POST
        self._calls: History | None = None
        self._down = False  # the register could not be written: said once, until it can

    def close(self) -> None:
        """Close the call history the deliveries kept open."""
        if self._calls is not None:
            self._calls.close()
            self._calls = None

    def note_opt_outs(self, journal: Journal, stored: list[dict]) -> str:
        """Put the callees whose stored records press one of the campaign's opt-out keys on
        the register (register.note_opt_outs of the records just `stored`); "" when done, else
        why not. A history that cannot be written now loses nothing: the records are in the
        journal, the caller keeps them pending for the inbox's retry (a finished campaign has
        no next round), and every round's decide() and records fetch note them too."""
        if self.history is None or not journal.opt_out_keys:
            return ""
        from batcher.history import History
        from batcher.register import note_opt_outs

        try:
            if self._calls is None:
                self._calls = History(self.history)
            note_opt_outs(journal, self._calls, stored=stored)
        except BatcherError as exc:
            self.close()  # opened again for the next delivery
            if not self._down:  # once an outage, not at every retry of the pending ones
                _log.warning("%s: opt-outs not yet on the register: %s", journal.path.name, exc)
            self._down = True
            return getattr(exc, "message", None) or str(exc)
        if self._down:
            _log.warning("%s: the call history answers: opt-outs on the register again",
                         journal.path.name)  # fmt: skip
            self._down = False
        return ""

    # -- delivery ------------------------------------------------------------------------------

    def store(self, records: list[dict], journals: Iterable[Path]) -> PushReport:
        """Store each record in its campaign's journal, or aside; what was done. Delivered
        records leave the aside table (a retried one)."""
        by_token = self._campaigns(journals)
        groups: dict[str, list[dict]] = {}
        aside: list[tuple[dict, str, bool]] = []
        for record in records:
            tag = parse_tag(record.get("calledInfo"))
            if tag is None:
                aside.append((record, "no batcher tag in calledInfo", False))
            elif tag[0] not in by_token:
                aside.append((record, f"tag {tag[0]}: no campaign of this folder", False))
            else:
                groups.setdefault(tag[0], []).append(record)
        fates: dict[str, str] = {}
        for token, group in groups.items():
            fates.update(_deliver(group, by_token[token], aside, self.note_opt_outs))
        self._keep_aside(aside)
        fates.update((str(r["voiceId"]), PENDING if p else ASIDE) for r, _, p in aside)
        self._forget({v for v, fate in fates.items() if fate in (STORED, SETTLED)})
        return _report(fates)

    def retry(self, journals: Iterable[Path], *, pending_only: bool = True) -> PushReport:
        """Deliver the records kept aside again (those whose journal was busy, or all)."""
        if not self.path.is_file():
            return PushReport()
        query = "SELECT record FROM aside" + (" WHERE pending = 1" if pending_only else "")
        with contextlib.closing(self._connect()) as db:
            kept = [orjson.loads(r) for (r,) in db.execute(query)]
        return self.store(kept, journals) if kept else PushReport()

    def aside(self) -> dict[str, tuple[dict, str, bool]]:
        """voiceId -> (record, why it is kept aside, pending) of every record kept aside."""
        if not self.path.is_file():
            return {}
        with contextlib.closing(self._connect()) as db:
            rows = db.execute("SELECT voice_id, record, reason, pending FROM aside").fetchall()
        return {v: (orjson.loads(r), why, bool(p)) for v, r, why, p in rows}

    # -- the folder's campaigns ----------------------------------------------------------------

    def _campaigns(self, journals: Iterable[Path]) -> dict[str, list[Path]]:
        """token -> the journals of campaigns with that token (two, in the rare collision)."""
        found: dict[str, list[Path]] = {}
        for path in dict.fromkeys(p.resolve() for p in journals if p.is_file()):
            token = self._tokens.get(path)
            if token is None:
                try:
                    with Journal(path, readonly=True) as journal:
                        token = journal.campaign.token if journal.campaign else None
                except (BatcherError, sqlite3.Error, OSError):
                    token = None  # being created, or damaged: not a campaign to match now
                if token is None:
                    continue
                self._tokens[path] = token
            found.setdefault(token, []).append(path)
        return found

    # -- the aside table -----------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch(mode=0o600, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None)
        db.execute("PRAGMA busy_timeout=5000")
        db.execute(_ASIDE)
        return db

    def _keep_aside(self, aside: list[tuple[dict, str, bool]]) -> None:
        if not aside:
            return
        now = utc_now()
        rows = [
            (str(r["voiceId"]), orjson.dumps(r).decode(), why, int(p), now) for r, why, p in aside
        ]
        with contextlib.closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT OR REPLACE INTO aside VALUES (?, ?, ?, ?, ?)", rows)
            db.execute("COMMIT")

    def _forget(self, voice_ids: set[str]) -> None:
        if not voice_ids or not self.path.is_file():
            return
        with contextlib.closing(self._connect()) as db:
            db.execute(
                "DELETE FROM aside WHERE voice_id IN (SELECT value FROM json_each(?))",
                (orjson.dumps(sorted(voice_ids)).decode(),),
            )


def _deliver(
    records: list[dict],
    journals: list[Path],
    aside: list[tuple[dict, str, bool]],
    noted: Callable[[Journal, list[dict]], str] = lambda journal, stored: "",
) -> dict[str, str]:
    """Store records of one token in the journal whose request called their callee (what
    cannot be is appended to `aside` as (record, why, pending)); their voiceIds' fates."""
    left = records
    fates: dict[str, str] = {}
    for path in journals:
        if not left:
            break
        try:
            with Journal(path, beside=True) as journal:
                mine, others = _known(journal, left)
                if mine:
                    stored = [record for _, record in mine]
                    with journal.together():  # the records and what they prove: at once
                        journal.save_records(stored)
                        settled = set(_after_records(journal, stored))
                    unnoted = noted(journal, stored)  # the opt-outs they show, on the register
                    for given, record in mine:
                        fates[given] = SETTLED if record["voiceId"] in settled else STORED
                    if unnoted:  # kept pending: the retry notes them (a finished campaign
                        # has no next round to do it, and its callees asked to be called no more)
                        why = f"{path.name}: stored, opt-outs not on the register yet ({unnoted})"
                        aside.extend((record, why, True) for _, record in mine)
                left = others
        except (BatcherError, sqlite3.Error, OSError) as exc:
            # all of them again later: storing and settling twice changes nothing
            why = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            aside.extend((r, f"{path.name}: not written yet ({why})", True) for r in left)
            return fates
    aside.extend((r, _unknown_call(r), False) for r in left)
    return fates


def _known(journal: Journal, records: list[dict]) -> tuple[list[tuple[str, dict]], list[dict]]:
    """([(voiceId as pushed, record to store)] of the calls this journal's requests placed,
    the other records). A record of a number the journal holds accepted under another voiceId
    is kept under the journal's, as a fetched one is (the workbook joins the records on it)."""
    rows: dict[int, dict[str, NumberState]] = {}
    mine: list[tuple[str, dict]] = []
    others: list[dict] = []
    for record in records:
        tag = parse_tag(record.get("calledInfo"))
        assert tag is not None  # grouped by it
        if tag[1] not in rows:
            rows[tag[1]] = journal.number_states(requests=[tag[1]])
        row = rows[tag[1]].get(str(record.get("callee") or ""))
        given = str(record["voiceId"])
        if row is None:
            others.append(record)
        elif row.voice_id and row.voice_id != given:
            mine.append((given, {**record, "voiceId": row.voice_id}))
        else:
            mine.append((given, record))
    return mine, others


def _unknown_call(record: dict) -> str:
    tag = parse_tag(record.get("calledInfo"))
    request = tag[1] if tag else "?"
    return f"request {request} of its campaign did not call {record.get('callee') or '(no callee)'}"


def _after_records(journal: Journal, records: list[dict]) -> list[str]:
    """What stored records change at once, before any poll (in the transaction that stored
    them): the unknown numbers they prove called are settled (reconcile's record-evidence
    rule, fetching nothing); the voiceIds of the records that settled one. Everything that
    acts on a stored record belongs here (the redial book reads the records in its next round
    by itself)."""
    from batcher.followup.reconcile import settle_by_records

    return settle_by_records(journal, records, SETTLED_WHY)
