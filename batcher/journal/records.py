"""The vendor's call records of the campaign's calls, keyed by voiceId, as fetched.

The key each callee pressed is indexed (`INDEX`, made with the journal's tables): finding the
records of an opt-out key reads those records only, not a million others, so every round and
every fetch can look (batcher.register.note_opt_outs).
"""

from __future__ import annotations

import sqlite3

import orjson

from batcher.journal.rows import utc_now

# the key pressed, as text (a vendor may send 9 or "9"); the index and the query use it verbatim
_KEY = "CAST(json_extract(record, '$.feedbackValue') AS TEXT)"
INDEX = f"CREATE INDEX IF NOT EXISTS call_records_key ON call_records ({_KEY});"


def save(db: sqlite3.Connection, records: list[dict]) -> int:
    """Store call records (those with a voiceId), replacing older copies; how many."""
    now = utc_now()
    rows = [
        (str(r["voiceId"]), str(r.get("callee") or ""), orjson.dumps(r).decode(), now)
        for r in records
        if r.get("voiceId")
    ]
    db.executemany("INSERT OR REPLACE INTO call_records VALUES (?, ?, ?, ?)", rows)
    return len(rows)


def mark(db: sqlite3.Connection) -> tuple[int, int]:
    """(how many records, the newest row's id): changes whenever a record is stored (a
    replaced record is stored as a new row), so a reader can tell the records did not."""
    count, newest = db.execute(
        "SELECT count(*), coalesce(max(rowid), 0) FROM call_records"
    ).fetchone()
    return count, newest


def read(db: sqlite3.Connection) -> dict[str, dict]:
    """voiceId -> the vendor's record."""
    return {
        voice_id: orjson.loads(record)
        for voice_id, record in db.execute("SELECT voice_id, record FROM call_records")
    }


def pressed(
    db: sqlite3.Connection, key: str, skip: set[str] | frozenset[str] = frozenset()
) -> list[tuple[str, str, dict]]:
    """(voiceId, callee, record) of the stored records whose feedbackValue is this key, but
    those whose voiceId is in `skip` (the records noted already: their JSON is never read)."""
    found = []
    for voice_id, callee, record in db.execute(
        f"SELECT voice_id, callee, record FROM call_records WHERE {_KEY} = ?", (key,)
    ):
        if voice_id not in skip:
            found.append((voice_id, callee or "", orjson.loads(record)))
    return found
