"""Shared fixtures: a sandbox on a real loopback port, contacts files, the CLI in-process, and
a HOME of the test's own. Helpers live in tests.helpers; import them from there."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from batcher.cli import main
from batcher.voiceapi.simulator import Sandbox, SandboxConfig, SandboxThread

# re-exported for the test modules that still import them from here: import from tests.helpers
from tests.helpers import KEY, SECRET, numbers, sandbox_args, write_xlsx  # noqa: F401
from tests.helpers.postgres import PostgresServer
from tests.helpers.postgres import unavailable as postgres_unavailable


@pytest.fixture(autouse=True)
def private_home(tmp_path_factory, monkeypatch) -> Path:
    """Every test gets its own HOME and XDG folders: none reads or writes the real ones (the
    credentials file, the cross-campaign history)."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("BATCHER_HISTORY", str(home / "history.sqlite"))
    return home


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throw-away PostgreSQL server for the whole session (initdb + pg_ctl, as `postgres`
    under root, on a free port, its socket in a temporary folder; stopped at the end). Without
    one the test skips saying how to get one; with BATCHER_REQUIRE_POSTGRES=1 (as .ci/run
    sets) that skip is a failure."""
    why = postgres_unavailable()
    if why is None:
        try:
            started = PostgresServer.start()
            server = started.__enter__()
        except (AssertionError, OSError, subprocess.SubprocessError) as exc:
            why = f"the PostgreSQL test server did not start: {exc}"
    if why is not None:
        if os.environ.get("BATCHER_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"BATCHER_REQUIRE_POSTGRES=1 but {why}")
        pytest.skip(why)
    try:
        yield server
    finally:
        started.__exit__(None, None, None)


@pytest.fixture
def postgres_url(postgres_server) -> Iterator[str]:
    """The URL of a fresh, empty database on the session's server (dropped after the test)."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """Start sandboxes with the given SandboxConfig fields; all stop at the end of the test."""
    with contextlib.ExitStack() as stack:

        def start(**config) -> Sandbox:
            return stack.enter_context(SandboxThread(SandboxConfig(**config)))

        yield start


@pytest.fixture
def sandbox(make_sandbox) -> Sandbox:
    """A fault-free sandbox."""
    return make_sandbox()


@pytest.fixture
def creds(monkeypatch) -> None:
    """The sandbox's throw-away credentials in the environment."""
    monkeypatch.setenv("BATCHER_API_KEY", KEY)
    monkeypatch.setenv("BATCHER_API_SECRET", SECRET)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate and key for 127.0.0.1 (openssl), for TLS tests."""
    import subprocess

    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def contacts(tmp_path) -> Callable[..., Path]:
    """Write a contacts.xlsx holding the given phone values (header 'phone', a name column)."""

    def make(values: list[object], name: str = "contacts.xlsx") -> Path:
        rows = [["name", "phone"]] + [[f"person {i}", v] for i, v in enumerate(values)]
        return write_xlsx(tmp_path / name, rows)

    return make


@dataclass
class Outcome:
    """What one in-process `batcher` invocation did."""

    code: int
    out: str
    err: str


@pytest.fixture
def cli_streams(capsys) -> Callable[..., Outcome]:
    """Run `batcher ARGS...` in-process; return its exit code, stdout and stderr apart."""

    def invoke(*args: object, stdin: str | None = None, clock=None) -> Outcome:
        code = 0
        with contextlib.ExitStack() as stack:
            if stdin is not None:
                stack.enter_context(_stdin(stdin))
            try:
                main([str(a) for a in args], clock=clock)
            except SystemExit as exc:
                code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return invoke


@pytest.fixture
def cli(cli_streams) -> Callable[..., tuple[int, str]]:
    """Run `batcher ARGS...` in-process; return (exit code, stderr+stdout)."""

    def invoke(*args: object, stdin: str | None = None, clock=None) -> tuple[int, str]:
        done = cli_streams(*args, stdin=stdin, clock=clock)
        return done.code, done.err + done.out

    return invoke


@contextlib.contextmanager
def _stdin(text: str):
    old = sys.stdin
    sys.stdin = io.StringIO(text)
    try:
        yield
    finally:
        sys.stdin = old
