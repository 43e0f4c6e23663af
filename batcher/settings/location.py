"""Where the call history lives: a SQLite file (the embedded default, one machine), or a
PostgreSQL database that a team's machines share, named by a `postgresql://` URL.

    >>> where = HistoryLocation.of("postgresql://ops:s3cret@db.example:5432/batcher")
    >>> where.postgres, str(where)
    (True, 'postgresql://ops@db.example:5432/batcher')
    >>> HistoryLocation.of("history.sqlite", beside=Path("/srv/spring/campaign.toml"))
    HistoryLocation('/srv/spring/history.sqlite')

The URL is libpq's: the user, host, port, database and parameters (`?sslmode=require`); a
password may be in it, but `PGPASSWORD` or `~/.pgpass` keep it off the command line. Whatever
the URL holds, only `connect_url` (for the driver) carries the password: `str`, `repr` and
every message show the URL without it, so it never reaches a log, a journal or a workbook.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from batcher.errors import UsageError

SCHEMES = ("postgresql", "postgres")  # libpq's two spellings
SECRET_PARAMETERS = frozenset({"password", "sslpassword"})


@dataclass(frozen=True)
class HistoryLocation:
    """A call history: a file (`path`) or a PostgreSQL database (`connect_url`)."""

    path: Path | None = None
    connect_url: str = field(default="", repr=False)  # with its password: for the driver only

    @classmethod
    def of(
        cls, value: HistoryLocation | str | os.PathLike[str], beside: Path | None = None
    ) -> HistoryLocation:
        """A --history, $BATCHER_HISTORY or campaign.toml value; a relative path is taken
        relative to the campaign.toml (`beside`) that names it."""
        if isinstance(value, HistoryLocation):
            return value
        text = os.fspath(value)
        scheme, sep, _ = text.partition("://")
        if sep and scheme.lower() in SCHEMES:
            _check_url(text)
            return cls(connect_url=text)
        if sep and scheme.isalpha():
            raise UsageError(
                f"history {redact(text)!r}: batcher keeps the call history in a file or in "
                f"PostgreSQL, not in a {scheme}:// database",
                "give a file path, or a URL such as postgresql://user@host/batcher",
            )
        path = Path(text).expanduser()
        if beside is not None and not path.is_absolute():
            path = beside.parent / path
        return cls(path=path)

    @property
    def postgres(self) -> bool:
        """The history is a PostgreSQL database."""
        return bool(self.connect_url)

    @property
    def file(self) -> Path:
        """The SQLite file (a PostgreSQL history has none)."""
        assert self.path is not None, "a PostgreSQL history is no file"
        return self.path

    @property
    def password(self) -> str | None:
        """The password the URL itself holds (its user part, or a `password=` parameter)."""
        if not self.connect_url:
            return None
        parts = urlsplit(self.connect_url)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        return query.get("password") or (unquote(parts.password) if parts.password else None)

    def __str__(self) -> str:
        return redact(self.connect_url) if self.connect_url else str(self.path)

    def __repr__(self) -> str:
        return f"HistoryLocation({str(self)!r})"


def redact(url: str) -> str:
    """The URL without its password (in the user part or a `password=` parameter)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.partition("://")[0] + "://…"  # unparseable: show nothing of the rest
    userinfo, at, hostport = parts.netloc.rpartition("@")
    netloc = f"{userinfo.partition(':')[0]}@{hostport}" if at else parts.netloc
    query = urlencode(
        [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k not in SECRET_PARAMETERS
        ]
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _check_url(url: str) -> None:
    """A URL libpq can read: one database, its host either in the URL or libpq's defaults."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- a port that is no number raises here
    except ValueError as exc:
        raise UsageError(
            f"history {redact(url)!r} is not a PostgreSQL URL ({exc})",
            "e.g. postgresql://batcher@db.example:5432/batcher (the password in PGPASSWORD or "
            "~/.pgpass)",
        ) from None
