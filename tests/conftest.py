"""Shared fixtures: a sandbox on a real loopback port, contacts files, and the CLI in-process."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import xlsxwriter

from batcher.cli import main
from batcher.vendor.simulator import Sandbox, SandboxConfig, SandboxThread

KEY, SECRET = "sandbox-key", "sandbox-secret"


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
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


def write_xlsx(path: Path, rows: list[list[object]], sheet: str = "Contacts") -> Path:
    """Write rows (first row = header) with XlsxWriter so cells keep their Excel types."""
    workbook = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False})
    worksheet = workbook.add_worksheet(sheet)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, str):
                worksheet.write_string(r, c, value)
            else:
                worksheet.write(r, c, value)
    workbook.close()
    return path


def numbers(count: int, start: int = 1) -> list[str]:
    """Distinct valid Indian mobile numbers as callees (91 + 10 digits; none ends in 0000)."""
    return [f"9198{start + i:08d}" for i in range(count)]


@pytest.fixture
def contacts(tmp_path) -> Callable[..., Path]:
    """Write a contacts.xlsx holding the given phone values (header 'phone', a name column)."""

    def make(values: list[object], name: str = "contacts.xlsx") -> Path:
        rows = [["name", "phone"]] + [[f"person {i}", v] for i, v in enumerate(values)]
        return write_xlsx(tmp_path / name, rows)

    return make


@pytest.fixture
def cli(capsys) -> Callable[..., tuple[int, str]]:
    """Run `batcher ARGS...` in-process; return (exit code, stderr+stdout)."""

    def invoke(*args: object, stdin: str | None = None, clock=None) -> tuple[int, str]:
        with contextlib.ExitStack() as stack:
            if stdin is not None:
                stack.enter_context(_stdin(stdin))
            try:
                main([str(a) for a in args], clock=clock)
            except SystemExit as exc:
                code = int(exc.code or 0)
        captured = capsys.readouterr()
        return code, captured.err + captured.out

    return invoke


@contextlib.contextmanager
def _stdin(text: str):
    import sys

    old = sys.stdin
    sys.stdin = io.StringIO(text)
    try:
        yield
    finally:
        sys.stdin = old


def sandbox_args(sb: Sandbox) -> list[str]:
    """Flags that point a run at a test sandbox."""
    return ["--base-url", sb.url, "--app-id", "sandbox-app", "--file-id",
            "sandbox-file-0001.mp3", "--yes"]


@pytest.fixture(autouse=True)
def _private_home(tmp_path_factory, monkeypatch) -> None:
    """Tests never touch the real user's home: HOME, XDG folders and the call history."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("BATCHER_HISTORY", str(home / "history.sqlite"))
