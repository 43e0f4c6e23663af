"""One send per campaign, and a send that outlives the page: over real HTTP, each call
asserted from the sandbox's ledger (issue 22)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from batcher.errors import ExitCode
from batcher.web.app import Config
from tests.helpers import KEY, SECRET, numbers
from tests.helpers.web import Api, ServerThread
from tests.test_web import _contacts, _slow_config, serving

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def folder(tmp_path) -> Path:
    path = tmp_path / "campaigns"
    path.mkdir()
    return path


def _settled(sb, seconds: float = 3.0) -> int:
    """The ledger's calls once it has not grown for `seconds`."""
    seen, since = sum(sb.accepted_counts().values()), time.monotonic()
    while time.monotonic() - since < seconds:
        time.sleep(0.2)
        now = sum(sb.accepted_counts().values())
        if now != seen:
            seen, since = now, time.monotonic()
    return seen


def test_eight_simultaneous_presses_start_one_send(folder, tmp_path):
    contacts = _contacts(tmp_path / "rush.xlsx", 12)
    with serving(folder, config=_slow_config(folder), latency=0.05) as (server, sb):
        api = Api(server)
        api.create(contacts)
        gate, answers = threading.Barrier(8), []

        def press() -> None:
            gate.wait()
            answers.append(api.send("rush"))

        pressing = [threading.Thread(target=press) for _ in range(8)]
        for thread in pressing:
            thread.start()
        for thread in pressing:
            thread.join(30)
        assert sorted(a.status for a in answers) == [202] + [409] * 7
        for refused in (a for a in answers if a.status == 409):
            assert "started on this page is already running" in refused.json()["error"]
        assert api.wait("rush")["state"] == "done"  # not "stopped with an error"
        assert sb.accepted_counts() == dict.fromkeys(numbers(12), 1)


def _cli_send(contacts: Path, sb, config: Path) -> subprocess.Popen:
    env = {**os.environ, "BATCHER_API_KEY": KEY, "BATCHER_API_SECRET": SECRET}
    env["PYTHONPATH"] = str(ROOT)
    argv = [sys.executable, "-m", "batcher", "run", str(contacts), "--config", str(config)]
    argv += ["--base-url", sb.url, "--app-id", "sandbox-app"]
    argv += ["--file-id", "sandbox-file-0001.mp3", "--yes"]
    return subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=contacts.parent
    )


def test_a_send_of_the_command_line_is_refused_shown_live_and_stopped_from_the_page(folder):
    contacts = _contacts(folder / "cli.xlsx", 30)
    with serving(folder, latency=0.25) as (server, sb):
        api = Api(server)
        cli = _cli_send(contacts, sb, _slow_config(folder))
        try:
            deadline = time.monotonic() + 60
            while api.get("/api/campaigns/cli").status != 200:  # its journal is a campaign
                assert time.monotonic() < deadline and cli.poll() is None, cli.stderr
                time.sleep(0.1)
            live = api.wait("cli", until=lambda live: live.get("requests", 0) >= 2)
            assert live["state"] == "running" and live["started_by"] == "command_line"
            assert live["pid"] == cli.pid and live["totals"].get("accepted", 0) >= 2
            listed = api.get("/api/campaigns").json()["campaigns"]
            assert [(c["name"], c["state"]) for c in listed] == [("cli", "state_sending")]
            page = api.get("/campaigns/cli/progress")
            assert page.status == 200 and 'id="stop"' in page.text  # the page can stop it
            refused = api.send("cli")
            assert refused.status == 409
            assert "being sent from the command line" in refused.json()["error"]
            assert api.stop("cli").json()["stopping"]  # SIGINT: the first Ctrl-C
            assert cli.wait(60) == ExitCode.INTERRUPTED
        finally:
            if cli.poll() is None:
                cli.kill()
                cli.wait()
        sent = _settled(sb)
        assert 0 < sent < 30
        assert api.campaign("cli")["live"]["state"] in ("idle", "done")
        assert api.send("cli").status == 202  # the page resumes what the CLI left
        assert api.wait("cli")["state"] == "done"
        assert sb.accepted_counts() == dict.fromkeys(numbers(30), 1)


SERVE = """
import sys
from pathlib import Path
from types import SimpleNamespace
from batcher.web.app import Config, serve
folder, config, url, key, secret = sys.argv[1:]
serve(
    Config(folder=Path(folder), campaign_config=Path(config),
           sandbox=SimpleNamespace(url=url), sandbox_credentials=(key, secret)),
    "127.0.0.1", 0, lambda line: print(line, flush=True),
)
"""


def _serve_in_a_process(folder: Path, config: Path, sb) -> tuple[subprocess.Popen, object]:
    """`batcher serve` in a process of its own, sending to the test's sandbox (the `serve`
    command's --sandbox starts one of its own, whose ledger a test cannot read)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-c", SERVE, str(folder), str(config), sb.url, KEY, SECRET]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True, cwd=folder)
    assert process.stdout is not None
    for line in process.stdout:
        found = re.search(r"open: (http://[^/]+)/\?token=(\S+)", line)
        if found:
            url, token = found.groups()
            return process, SimpleNamespace(url=url, config=SimpleNamespace(token=token))
    raise AssertionError("serve did not start")


def test_a_send_dies_with_serve_and_a_restarted_page_resumes_it_calling_nobody_twice(
    folder, tmp_path
):
    contacts = _contacts(tmp_path / "orphan.xlsx", 40)
    config = _slow_config(folder)
    with serving(folder, latency=0.25) as (_, sb):
        serve, server = _serve_in_a_process(folder, config, sb)
        try:
            api = Api(server)
            assert api.create(contacts).status == 201
            assert api.send("orphan").status == 202
            api.wait("orphan", until=lambda live: live.get("requests", 0) >= 2)
            serve.send_signal(signal.SIGKILL)
            serve.wait(10)
        finally:
            if serve.poll() is None:
                serve.kill()
                serve.wait()
        sent = _settled(sb)  # the child stopped as on Ctrl-C: its requests in flight only
        assert 0 < sent < 40
        assert not (folder / "orphan.journal.pid").exists()  # it let go of the journal
        again = Config(
            folder=folder,
            campaign_config=config,
            sandbox=sb,
            sandbox_credentials=(KEY, SECRET),
        )
        with ServerThread(again) as restarted:
            api = Api(restarted)
            listed = api.get("/api/campaigns").json()["campaigns"]
            assert [(c["name"], c["state"]) for c in listed] == [("orphan", "state_stopped")]
            assert api.send("orphan").status == 202
            assert api.wait("orphan")["state"] == "done"
        assert sb.accepted_counts() == dict.fromkeys(numbers(40), 1)
