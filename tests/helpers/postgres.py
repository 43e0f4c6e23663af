"""A throw-away PostgreSQL server for the tests of a shared call history.

    with PostgresServer.start() as server:
        url = server.create_database()  # postgresql://postgres@127.0.0.1:PORT/test_1

It runs Debian's (or any PATH's) initdb and pg_ctl, as the `postgres` user when the tests run
as root (PostgreSQL refuses root), on a free loopback port, with its socket and data in a
temporary folder; `stop` removes it all. Connections from 127.0.0.1 are trusted, but for the
role SECRET_ROLE, which must give its password (SECRET_PASSWORD): the tests that check a
password never leaks use it. `unavailable()` says why no server can start here (None: one can).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

SECRET_ROLE, SECRET_PASSWORD = "secretive", "pw-Zq7-never-shown"
HOW = (
    "install PostgreSQL (apt-get install -y postgresql) and psycopg (pip install '.[test]'), "
    "or point BATCHER_PG_BIN at a folder holding initdb and pg_ctl"
)


def _bin_dir() -> Path | None:
    """The folder of initdb and pg_ctl: $BATCHER_PG_BIN, PATH, or Debian's newest."""
    if os.environ.get("BATCHER_PG_BIN"):
        return Path(os.environ["BATCHER_PG_BIN"])
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parts)
    return versions[-1].parent if versions else None


def unavailable() -> str | None:
    """Why the tests cannot start a server here, or None."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return f"the PostgreSQL tests need psycopg: {HOW}"
    folder = _bin_dir()
    if folder is None or not (folder / "initdb").is_file() or not (folder / "pg_ctl").is_file():
        return f"the PostgreSQL tests need initdb and pg_ctl: {HOW}"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "the PostgreSQL tests run the server as `postgres` through runuser, not found"
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            return f"no `postgres` user to run the server as: {HOW}"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    """One initdb'd cluster, started with pg_ctl; `stop` and `restart` for the tests that
    take the database away mid-campaign."""

    def __init__(self, folder: Path, port: int, fsync: bool = False) -> None:
        self.folder, self.port, self.fsync = folder, port, fsync
        self.data, self.socket_dir = folder / "data", folder
        self._names = itertools.count(1)
        self.bin = _bin_dir()

    @classmethod
    @contextlib.contextmanager
    def start(cls, fsync: bool = False) -> Iterator[PostgresServer]:
        """initdb, start, yield; stop and remove everything at the end (`fsync`: as a real
        server runs, for a benchmark; the tests need no durability across a power cut)."""
        folder = Path(tempfile.mkdtemp(prefix="batcher-pg-"))
        server = cls(folder, _free_port(), fsync)
        try:
            server._initdb()
            server.run()
            server._roles()
            yield server
        finally:
            server.stop(fast=True)
            shutil.rmtree(folder, ignore_errors=True)

    def _as_postgres(self, *args: str) -> subprocess.CompletedProcess:
        assert self.bin is not None
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    def _initdb(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        done = self._as_postgres(
            "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8"
        )
        assert done.returncode == 0, done.stderr
        hba = (
            f"local all all trust\nhost all {SECRET_ROLE} 127.0.0.1/32 scram-sha-256\n"
            "host all all 127.0.0.1/32 trust\n"
        )
        (self.data / "pg_hba.conf").write_text(hba)
        if os.geteuid() == 0:
            shutil.chown(self.data / "pg_hba.conf", "postgres")

    def run(self) -> None:
        """Start the server (again) on its port; wait until it accepts connections."""
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
            f"-c fsync={'on' if self.fsync else 'off'} -c max_connections=60"
        )
        done = self._as_postgres(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"), "-w",
            "start",
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr + self.log()

    def stop(self, fast: bool = False) -> None:
        """`pg_ctl stop -m immediate`: the server is gone at once, as a crash would take it."""
        if (self.data / "postmaster.pid").exists():
            self._as_postgres("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def log(self) -> str:
        """The server's log so far."""
        with contextlib.suppress(OSError):
            return (self.folder / "log").read_text(errors="replace")
        return ""

    def url(self, database: str = "postgres", user: str = "postgres", password: str = "") -> str:
        """A libpq URL of one database of this server."""
        auth = f"{user}:{password}" if password else user
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str, database: str = "postgres") -> None:
        """Run a statement as the superuser (autocommit: CREATE DATABASE may run)."""
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as db:
            db.execute(sql)  # type: ignore[arg-type]

    def _roles(self) -> None:
        self.admin(f"CREATE ROLE {SECRET_ROLE} LOGIN PASSWORD '{SECRET_PASSWORD}'")

    def create_database(self) -> str:
        """A new empty database (owned by SECRET_ROLE, so both roles may use it); its URL."""
        name = f"test_{self._names.__next__()}_{int(time.time() * 1000) % 100000}"
        self.admin(f"CREATE DATABASE {name} OWNER {SECRET_ROLE}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database create_database made (its connections closed by force)."""
        name = url.rsplit("/", 1)[1]
        with contextlib.suppress(Exception):
            self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
