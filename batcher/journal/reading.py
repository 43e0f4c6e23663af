"""What the journal knows: the requests, and the per-number state replayed from them.

A mixin of `Journal` (batcher.journal.core), which gives it `db`. Per-number state is derived,
never stored: `number_states` replays the requests in order (each one's numbers taking its
outcome, by `batcher.journal.rows._request_states`) with settlements overriding them, and
`calls` derives every attempt per callee the same way; the rest read the campaign's held
numbers, runs, call records, test calls and events back as plain data.
"""

from __future__ import annotations

import sqlite3

import orjson

from batcher import collector
from batcher.journal.rows import Call, NumberState, Request, TestCall, _request_states
from batcher.journal.schema import DONE, STICKY
from batcher.outcomes import Outcome


class _JournalReads:
    """Journal's reads (a mixin: Journal supplies db)."""

    # -- reading -------------------------------------------------------------------------------

    def requests_count(self) -> int:
        """How many requests the campaign has made."""
        return self.db.execute("SELECT count(*) FROM requests").fetchone()[0]

    def intents(self) -> set[str]:
        """The call-history reservations this journal's requests carry."""
        return {i for (i,) in self.db.execute("SELECT DISTINCT intent FROM requests")}

    def requests(self) -> list[Request]:
        """Every request of the campaign in order (the Batches sheet)."""
        return [
            Request._make(row)
            for row in self.db.execute(
                f"SELECT {', '.join(Request._fields)} FROM requests ORDER BY id"
            )
        ]

    def number_states(self) -> dict[str, NumberState]:
        """Replay the requests (and settlements) into one state per callee."""
        with collector.paused():  # a million numbers: 4.0 s -> 2.1 s
            return self._replay()

    def _replay(self) -> dict[str, NumberState]:
        states: dict[str, NumberState] = {}
        for request in self.requests():
            _request_states(request, states)
        self.settle_since(0, states)
        return states

    def last_request_id(self) -> int:
        """The id of the campaign's latest request (0: none yet)."""
        return self.db.execute("SELECT coalesce(max(id), 0) FROM requests").fetchone()[0]

    def replay_since(
        self, after: int, seen: set[int], states: dict[str, NumberState], *, answered=True
    ) -> list[Request]:
        """The replay of a send as it goes (a reader following another process's run): the
        requests after `after` not in `seen`, answered ones only unless `answered` is False,
        replayed into `states` in order; added to `seen`, and returned."""
        where = f"id > ? AND state = '{DONE}'" if answered else "id > ?"
        new = [i for (i,) in self.db.execute(f"SELECT id FROM requests WHERE {where}", (after,))]
        fields = ", ".join(Request._fields)
        replayed = []
        for rid in sorted(set(new) - seen):
            row = self.db.execute(f"SELECT {fields} FROM requests WHERE id = ?", (rid,)).fetchone()
            request = Request._make(row)
            _request_states(request, states)
            replayed.append(request)
            seen.add(rid)
        return replayed

    def settle_since(self, after: int, states: dict[str, NumberState]) -> None:
        """Apply the settlements of requests after `after` over `states` (the replay's own
        step, with `after` 0): a settlement holds while its request is the number's latest."""
        for rid, callee, outcome, voice_id, why in self.db.execute(
            "SELECT request, callee, outcome, voice_id, reason FROM settlements WHERE request > ?",
            (after,),
        ):
            state = states.get(callee)
            if state is not None and state.request == rid:
                states[callee] = state._replace(
                    outcome=Outcome(outcome), reason=why, voice_id=voice_id
                )

    def calls(self) -> dict[str, list[Call]]:
        """Every attempt per callee, in order: the requests that may have placed a call to it.

        Derived like number_states (never stored twice): a request's accepted or unknown
        numbers, settlements applied (a reconciled-absent unknown is no attempt)."""
        with collector.paused():
            return self._calls()

    def _calls(self) -> dict[str, list[Call]]:
        settled = {
            (r, c): (o, v)
            for r, c, o, v in self.db.execute(
                "SELECT request, callee, outcome, voice_id FROM settlements"
            )
        }
        accepted, unknown = Outcome.ACCEPTED, Outcome.UNKNOWN
        calls: dict[str, list[Call]] = {}
        for request in self.requests():
            rid = request.id
            if request.results is None:
                whole = Outcome(request.outcome) if request.outcome else unknown
                placed = dict.fromkeys(request.numbers, ("", whole))
            else:
                results = orjson.loads(request.results)
                placed = {}
                for callee in request.numbers:
                    entry = results.get(callee)
                    if entry is None:
                        placed[callee] = ("", unknown)
                    elif entry[0] == accepted:
                        placed[callee] = (entry[1], accepted)
            if settled:
                for callee in request.numbers:
                    override = settled.get((rid, callee))
                    if override:
                        placed[callee] = (override[1], Outcome(override[0]))
            for callee, (voice_id, outcome) in placed.items():
                if outcome is accepted or outcome is unknown:
                    mine = calls.setdefault(callee, [])
                    mine.append(
                        Call(
                            rid,
                            len(mine) + 1,
                            request.sent_at,
                            request.sent_epoch,
                            voice_id,
                            outcome,
                        )
                    )
        return calls

    def last_request(self) -> tuple[float, int] | None:
        """(sent epoch, numbers) of the campaign's latest request, for pacing across runs."""
        row = self.db.execute(
            "SELECT sent_epoch, callees FROM requests ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        return row[0], (row[1].count(",") + 1 if row[1] else 0)

    def held(self) -> dict[str, tuple[Outcome, str]]:
        """What the campaign holds back, and why (its latest run's decisions, sticky ones)."""
        return {
            c: (Outcome(o), why)
            for c, o, why in self.db.execute("SELECT callee, outcome, reason FROM held")
        }

    def sticky(self) -> set[str]:
        """Numbers this campaign never calls, whatever a run is told (do-not-call)."""
        marks = ",".join("?" * len(STICKY))
        return {
            c
            for (c,) in self.db.execute(
                f"SELECT callee FROM held WHERE outcome IN ({marks})", STICKY
            )
        }

    def last_run(self) -> dict[str, object] | None:
        """The latest run: input_path, input_sha256, options, facts, stop (None: none yet)."""
        row = self.db.execute(
            "SELECT input_path, input_sha256, options, facts, stop FROM runs"
            " ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        path, sha, options, facts, stop = row
        return {
            "input_path": path,
            "input_sha256": sha,
            "options": orjson.loads(options),
            "facts": [tuple(f) for f in orjson.loads(facts)],
            "stop": stop,
        }

    def call_records(self) -> dict[str, dict]:
        """The stored call records of this campaign: voiceId -> the vendor's record."""
        return {
            voice_id: orjson.loads(record)
            for voice_id, record in self.db.execute("SELECT voice_id, record FROM call_records")
        }

    def test_calls(self) -> list[TestCall]:
        """The operator's test calls, oldest first (none in a journal older than them)."""
        try:
            rows = self.db.execute(
                f"SELECT {', '.join(TestCall._fields)} FROM test_calls ORDER BY id"
            ).fetchall()
        except sqlite3.OperationalError:
            return []  # a journal opened read-only that no test call has touched yet
        return [
            TestCall._make((*row[:-1], orjson.loads(row[-1]) if row[-1] else None)) for row in rows
        ]

    def events(self) -> list[tuple[str, str, str]]:
        """The campaign's event log: (at, kind, detail)."""
        return self.db.execute("SELECT at, kind, detail FROM events ORDER BY id").fetchall()
