"""What the journal records: requests' intents and outcomes, settlements, held numbers, runs.

A mixin of `Journal` (batcher.journal.core), which gives it `db`, `readonly`, `campaign` and
`_tx()`. Each write is one transaction of its own, or a part of the enclosing
`Journal.together()` group commit: `begin` commits a request's intent before its first byte
leaves, `finish` what came of it; the rest keep the campaign's decisions and its event log.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import orjson

from batcher.clock import iso_utc
from batcher.journal.rows import utc_now
from batcher.journal.schema import DONE, INTENT, STICKY
from batcher.outcomes import Outcome


class _JournalWrites:
    """Journal's writes (a mixin: Journal supplies db, readonly, campaign and _tx)."""

    # -- writing -------------------------------------------------------------------------------

    def next_batch(self) -> int:
        """The next unused batch number of this campaign."""
        return self.db.execute("SELECT coalesce(max(batch), 0) FROM requests").fetchone()[0] + 1

    def begin(
        self, batch: int, attempt: int, callees: list[str], params: str = "{}", intent: str = ""
    ) -> tuple[int, str]:
        """Commit a request's intent before it is sent; return its id and calledInfo tag."""
        now = time.time()
        with self._tx():
            cur = self.db.execute(
                "INSERT INTO requests (batch, attempt, tag, callees, state, sent_at, sent_epoch,"
                " params, intent) VALUES (?, ?, '', ?, ?, ?, ?, ?, ?)",
                (batch, attempt, ",".join(callees), INTENT, iso_utc(now), now, params, intent),
            )
            request_id = cur.lastrowid
            tag = self.campaign.tag(request_id)
            self.db.execute("UPDATE requests SET tag = ? WHERE id = ?", (tag, request_id))
        return request_id, tag

    def finish(
        self,
        request_id: int,
        outcome: Outcome | None,
        reason: str,
        *,
        http_status: int | None = None,
        api_status: str | None = None,
        latency: float | None = None,
        results: dict[str, list[str]] | None = None,
    ) -> None:
        """Commit what came of a request: one outcome for all its numbers, or (outcome None)
        per-number `results` from a status "0" answer; a number missing from them is unknown."""
        if outcome is None and results is None:
            results = {}
        with self._tx():
            self.db.execute(
                "UPDATE requests SET state = ?, outcome = ?, reason = ?, http_status = ?,"
                " api_status = ?, latency = ?, finished_at = ?, results = ? WHERE id = ?",
                (
                    DONE,
                    outcome,
                    reason,
                    http_status,
                    api_status,
                    latency,
                    utc_now(),
                    None if results is None else orjson.dumps(results).decode(),
                    request_id,
                ),
            )

    def settle(self, request_id: int, settled: Iterable[tuple[str, str, str, str]]) -> int:
        """Record reconciled outcomes (callee, outcome, voiceId, reason) for one request."""
        now = utc_now()
        rows = [(request_id, c, o, v, r, now) for c, o, v, r in settled]
        with self._tx():
            self.db.executemany(
                "INSERT OR REPLACE INTO settlements VALUES (?, ?, ?, ?, ?, ?)", rows
            )
        return len(rows)

    def hold(self, held: dict[str, tuple[Outcome, str]], *, replace: bool = True) -> None:
        """Record what this run holds back and why; `replace` forgets the previous run's
        decisions first, except the sticky ones (the do-not-call list)."""
        now = utc_now()
        with self._tx():
            if replace:
                marks = ",".join("?" * len(STICKY))
                self.db.execute(f"DELETE FROM held WHERE outcome NOT IN ({marks})", STICKY)
            self.db.executemany(
                "INSERT OR REPLACE INTO held VALUES (?, ?, ?, ?)",
                ((c, str(o), why, now) for c, (o, why) in held.items()),
            )

    def record_run(self, input_path: str, sha256: str, options: dict, facts: list) -> None:
        """Keep what this run read and planned, for workbooks rebuilt later."""
        with self._tx():
            self.db.execute(
                "INSERT INTO runs (at, input_path, input_sha256, options, facts)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    utc_now(),
                    input_path,
                    sha256,
                    orjson.dumps(options).decode(),
                    orjson.dumps(facts, default=str).decode(),
                ),
            )

    def record_stop(self, reason: str) -> None:
        """Why the latest run stopped before sending everything ('' when it did not)."""
        with self._tx():
            self.db.execute(
                "UPDATE runs SET stop = ? WHERE id = (SELECT max(id) FROM runs)", (reason,)
            )

    def save_records(self, records: list[dict]) -> int:
        """Store call records (keyed by their voiceId), replacing older copies."""
        now = utc_now()
        rows = [
            (str(r["voiceId"]), str(r.get("callee") or ""), orjson.dumps(r).decode(), now)
            for r in records
            if r.get("voiceId")
        ]
        with self._tx():
            self.db.executemany("INSERT OR REPLACE INTO call_records VALUES (?, ?, ?, ?)", rows)
        return len(rows)

    def begin_test_call(self, callee: str, params: str) -> int:
        """Commit a test call's intent before it is sent (unknown until its answer is in)."""
        with self._tx():
            cur = self.db.execute(
                "INSERT INTO test_calls (at, callee, params, outcome, reason)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    utc_now(),
                    callee,
                    params,
                    Outcome.UNKNOWN,
                    "batcher stopped while the test call was in flight: it may have rung",
                ),
            )
        return cur.lastrowid

    def finish_test_call(
        self,
        test_id: int,
        outcome: Outcome,
        reason: str,
        voice_id: str = "",
        record: dict | None = None,
    ) -> None:
        """Commit what came of a test call (again once its call record is read)."""
        with self._tx():
            self.db.execute(
                "UPDATE test_calls SET outcome = ?, reason = ?, voice_id = ?, record = ?"
                " WHERE id = ?",
                (
                    outcome,
                    reason,
                    voice_id,
                    None if record is None else orjson.dumps(record).decode(),
                    test_id,
                ),
            )

    def event(self, kind: str, detail: str) -> None:
        """Append a line to the campaign's event log (never holds secrets)."""
        if self.readonly:
            return
        with self._tx():
            self.db.execute(
                "INSERT INTO events (at, kind, detail) VALUES (?, ?, ?)", (utc_now(), kind, detail)
            )
