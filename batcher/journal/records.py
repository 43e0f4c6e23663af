"""The vendor's call records of the campaign's calls, keyed by voiceId, as fetched."""

from __future__ import annotations

import sqlite3

import orjson

from batcher.journal.rows import utc_now


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


def read(db: sqlite3.Connection) -> dict[str, dict]:
    """voiceId -> the vendor's record."""
    return {
        voice_id: orjson.loads(record)
        for voice_id, record in db.execute("SELECT voice_id, record FROM call_records")
    }


def pressed(db: sqlite3.Connection, key: str) -> list[tuple[str, str, dict]]:
    """(voiceId, callee, record) of the stored records whose feedbackValue is this key."""
    found = []
    for voice_id, callee, record in db.execute(
        "SELECT voice_id, callee, record FROM call_records"
        " WHERE CAST(json_extract(record, '$.feedbackValue') AS TEXT) = ?",
        (key,),
    ):
        found.append((voice_id, callee or "", orjson.loads(record)))
    return found
