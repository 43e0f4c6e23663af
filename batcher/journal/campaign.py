"""Who the journal's campaign is: its name and id, its one message and appId, its endpoint.

All of it is kept in `meta` (key, value), with the schema's version: the campaign is named
when the journal is first claimed, its message and appId recorded by its first send.
"""

from __future__ import annotations

import sqlite3

from batcher.journal.rows import CampaignInfo


def meta(db: sqlite3.Connection) -> dict[str, str]:
    """Every key of `meta` and its value."""
    return dict(db.execute("SELECT key, value FROM meta"))


def set_meta(db: sqlite3.Connection, **values: str) -> None:
    """Set these keys of `meta`."""
    db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", values.items())


def info(db: sqlite3.Connection) -> CampaignInfo | None:
    """The campaign, or None for a journal no campaign has claimed yet."""
    found = meta(db)
    if "campaign_id" not in found:
        return None
    return CampaignInfo(
        found.get("campaign", ""),
        found["campaign_id"],
        found.get("created_at", ""),
        found.get("app_id", ""),
        found.get("message", ""),
    )
