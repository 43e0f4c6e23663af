"""The vendor's pushed call records (issue 23, live outcomes): `POST /vendor/records/{secret}` on
`batcher serve`, over real HTTP, every call counted from the sandbox's ledger.

A pushed record is stored as a fetched one is (a replay changes nothing), settles the unknown
numbers it proves called and stops their redials before any poll runs; a record for no campaign
is kept aside, never dropped; a bad body is a 4xx, never a 500; the sandbox pushes its records
to a URL, so the whole flow runs without an account.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from batcher.errors import JournalError
from batcher.followup.pushed import Inbox
from batcher.journal import Journal
from batcher.outcomes import Outcome
from batcher.voiceapi.simulator import CallShares, Sandbox, SandboxConfig, SandboxThread
from batcher.web.app import Config
from batcher.web.push import INBOX_FILE, PUSH_LIMIT, SECRET_FILE, push_secret
from tests.helpers import (
    KEY,
    SECRET,
    batcher_process,
    numbers,
    sandbox_args,
    wait_for,
    write_xlsx,
)
from tests.helpers.web import Answer, Api, ServerThread, call
from tests.test_web import _contacts
from tests.test_web_sends import _serve_in_a_process

pytestmark = pytest.mark.usefixtures("creds")
ROOT = str(Path(__file__).resolve().parents[1])


@pytest.fixture
def folder(tmp_path) -> Path:
    path = tmp_path / "campaigns"
    path.mkdir()
    return path


@contextlib.contextmanager
def serving(folder: Path, **sandbox) -> Iterator[tuple[ServerThread, Sandbox, str]]:
    """A sandbox, the page's server for `folder`, and the server's push address."""
    simulator = SandboxConfig(**sandbox)
    with SandboxThread(simulator) as sb:
        config = Config(
            folder=folder, sandbox=sb, sandbox_credentials=(simulator.api_key, simulator.api_secret)
        )
        with ServerThread(config) as server:
            secret = (folder / ".batcher-web" / SECRET_FILE).read_text().strip()
            yield server, sb, f"{server.url}/vendor/records/{secret}"


def push(address: str, body: object, content_type: str = "application/json") -> Answer:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return call("POST", address, data=data, content_type=content_type)


def _records_of(journal: Path) -> dict[str, dict]:
    with Journal(journal, readonly=True) as opened:
        return opened.call_records()


def _records_so_far(journal: Path) -> dict[str, dict]:
    """The journal's records, none while a run is still creating it."""
    try:
        return _records_of(journal)
    except (JournalError, sqlite3.Error):
        return {}


def _states(journal: Path) -> dict:
    with Journal(journal, readonly=True) as opened:
        return opened.number_states()


def _record_reads(sb: Sandbox) -> int:
    """Call-record reads the sandbox answered: the polls."""
    by_endpoint = sb.ledger()["requests_by_endpoint"]
    return by_endpoint.get("recordGroup", 0) + by_endpoint.get("recordGroupQuery", 0)


def _sent_by_the_page(server: ServerThread, contacts: Path) -> Path:
    api = Api(server)
    assert api.create(contacts).status == 201
    assert api.send(contacts.stem).status == 202
    assert api.wait(contacts.stem)["state"] == "done"
    return server.config.folder / f"{contacts.stem}.journal"


# -- the secret, the address -----------------------------------------------------------------


def test_the_secret_is_made_once_kept_0600_and_printed_only_in_the_push_address(folder, tmp_path):
    state = folder / ".batcher-web"
    first = push_secret(state)
    assert push_secret(state) == first and len(first) >= 40
    assert stat.S_IMODE((state / SECRET_FILE).stat().st_mode) == 0o600
    with SandboxThread(SandboxConfig()) as sb:
        config = tmp_path / "campaign.toml"
        config.write_text("")
        process, server = _serve_in_a_process(folder, config, sb)
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line == f"vendor pushes: {server.url}/vendor/records/{first}\n"
            assert call("POST", f"{server.url}/api/campaigns").status == 403  # the page: token
            empty = push(f"{server.url}/vendor/records/{first}", [])
            assert empty.status == 200 and empty.json()["stored"] == 0  # no token needed
        finally:
            process.terminate()
            process.wait(30)


def test_bad_pushes_are_4xx_with_a_short_json_error_and_store_nothing(folder, tmp_path):
    with serving(folder) as (server, sb, address):
        journal = _sent_by_the_page(server, _contacts(tmp_path / "bad.xlsx", 3))
        before = _records_of(journal)
        voice_id = next(iter(sb.placed))
        record = sb.call_record(voice_id)
        cases = [
            (address[:-1] + ("A" if address[-1] != "A" else "B"), [record], None, 404),
            (server.url + "/vendor/records/", [record], None, 403),  # no route: the page's guard
            (address, [record], "text/plain", 415),
            (address, [record], "application/x-www-form-urlencoded", 415),
            (address, b"{not json", None, 400),
            (address, b"", None, 400),
            (address, [{"callee": "1"}], None, 422),  # no voiceId
            (address, {"data": [record, {"voiceId": ""}]}, None, 422),
            (address, [record, "text"], None, 422),
            (address, 42, None, 422),
            (address, b"[" + b" " * PUSH_LIMIT + b"]", None, 413),  # measured before parsing
        ]
        for target, body, kind, status in cases:
            answer = push(target, body, kind or "application/json")
            assert answer.status == status, (body if isinstance(body, list) else kind, answer)
            if status not in (403, 404):
                assert set(answer.json()) == {"error"} and len(answer.text) < 200
        assert _records_of(journal) == before


def test_an_oversized_chunked_body_is_refused_as_it_is_read(folder):
    import http.client

    with serving(folder) as (server, _, address):
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        chunks = (b"[" + b" " * 65536 for _ in range(PUSH_LIMIT // 65536 + 2))
        path = address.removeprefix(server.url)
        headers = {"Content-Type": "application/json"}
        with contextlib.suppress(ConnectionError):
            connection.request("POST", path, body=chunks, headers=headers, encode_chunked=True)
        assert connection.getresponse().status == 413


# -- stored as fetched; kept aside; replays ---------------------------------------------------


def test_pushed_records_are_stored_a_replay_changes_nothing_and_strangers_are_kept_aside(
    folder, tmp_path
):
    with serving(folder, record_lag=3600) as (server, sb, address):  # no poll could read them
        journal = _sent_by_the_page(server, _contacts(tmp_path / "spring.xlsx", 4))
        placed = sorted(sb.placed)
        sb.config.record_lag = 0
        records = [sb.call_record(v) for v in placed]
        one = push(address, records[0])  # one record
        rest = push(address, {"data": records[1:]})  # {"data": [...]}
        assert one.json()["stored"] == 1 and rest.json()["stored"] == 3
        stored = _records_of(journal)
        assert stored == {r["voiceId"]: r for r in records}
        states = _states(journal)
        replay = push(address, records)  # an array, all of them again
        assert replay.status == 200 and replay.json()["stored"] == 4
        assert _records_of(journal) == stored and _states(journal) == states
        answered = sum(bool(r["answerTime"]) for r in records)
        assert Api(server).campaign("spring")["live"]["answered"] == answered
        strangers = [
            {**records[0], "voiceId": "9001", "calledInfo": "someone else's campaign"},
            {**records[0], "voiceId": "9002", "calledInfo": "batcher:0badc0de:1"},
            {**records[0], "voiceId": "9003", "callee": "999"},  # its request never called it
        ]
        kept = push(address, strangers)
        assert kept.status == 200 and kept.json() == {
            "stored": 0,
            "settled": 0,
            "kept_aside": 3,
            "pending": 0,
        }
        assert _records_of(journal) == stored
        aside = Inbox(folder / ".batcher-web" / INBOX_FILE).aside()
        assert {v: r for v, (r, _, _) in aside.items()} == {r["voiceId"]: r for r in strangers}
        assert "no batcher tag" in aside["9001"][1] and "did not call 999" in aside["9003"][1]
        # a record of an accepted number under another voiceId: kept under the journal's, as
        # a fetched record is (the workbook joins on it)
        other = {**records[0], "voiceId": "7770001", "cost": "9.9"}
        assert push(address, other).json()["stored"] == 1
        again = _records_of(journal)
        assert "7770001" not in again and again[records[0]["voiceId"]]["cost"] == "9.9"
        assert _record_reads(sb) == 0


def test_a_record_is_stored_beside_a_run_that_holds_the_campaign(folder, tmp_path):
    with serving(folder, record_lag=3600) as (server, sb, address):
        journal = _sent_by_the_page(server, _contacts(tmp_path / "held.xlsx", 2))
        sb.config.record_lag = 0
        records = [sb.call_record(v) for v in sb.placed]
        with Journal(journal) as holder:  # the campaign claimed, as a run holds it
            assert push(address, records).json()["stored"] == 2
            assert set(holder.call_records()) == set(sb.placed)


def test_a_journal_busy_past_the_timeout_keeps_the_record_pending_until_it_is_stored(
    folder, tmp_path
):
    with serving(folder, record_lag=3600) as (server, sb, address):
        journal = _sent_by_the_page(server, _contacts(tmp_path / "busy.xlsx", 1))
        sb.config.record_lag = 0
        record = sb.call_record(next(iter(sb.placed)))
        blocker = sqlite3.connect(journal, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # a writer that never lets go (> the busy timeout)
        try:
            answer = push(address, record)
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert answer.status == 200 and answer.json()["pending"] == 1
        wait_for(lambda: record["voiceId"] in _records_of(journal), timeout=20)  # retried
        wait_for(lambda: not Inbox(folder / ".batcher-web" / INBOX_FILE).aside(), timeout=10)


# -- effects before any poll -------------------------------------------------------------------


def test_a_pushed_record_settles_an_unknown_before_any_poll(folder, cli):
    contacts = _contacts(folder / "lost.xlsx", 5)
    # the request's answer is lost after its calls were placed: all five are unknown, and no
    # record is visible to a poll
    with serving(folder, script=["drop"], record_lag=3600) as (_, sb, address):
        code, out = cli("run", contacts, *sandbox_args(sb))
        assert code == 5, out
        journal = folder / "lost.journal"
        assert {s.outcome for s in _states(journal).values()} == {Outcome.UNKNOWN}
        sb.config.push_to, sb.config.record_lag = address, 0
        sb.push_now(sorted(sb.placed))  # the vendor's push, as the calls end
        wait_for(lambda: len(_records_of(journal)) == 5)
        states = _states(journal)
        assert {s.outcome for s in states.values()} == {Outcome.ACCEPTED}
        assert {s.voice_id for s in states.values()} == set(sb.placed)
        assert all("pushed" in s.reason for s in states.values())
        assert _record_reads(sb) == 0 and sb.ledger()["pushes"] == {"delivered": 5}
        code, out = cli("run", contacts, *sandbox_args(sb))
        assert code == 0 and "nothing to send" in out, out
        assert sb.accepted_counts() == dict.fromkeys(numbers(5), 1)


def test_a_pushed_answered_record_stops_the_redial_of_a_busy_number(folder):
    contacts = _contacts(folder / "redial.xlsx", 3)
    busy = CallShares(answered=0, busy=1, no_answer=0, declined=0, unreachable=0)
    with serving(folder, call_shares=busy) as (_, sb, address):
        args = ["run", contacts, *sandbox_args(sb), "--attempts", "2", "--redial-after", "6s"]
        follow = batcher_process([*args, "--settle", "2s", "--follow"], {"PYTHONPATH": ROOT})
        try:
            journal = folder / "redial.journal"
            # follow's poll stores the busy records: each number is due for a redial in 6 s
            wait_for(lambda: len(_records_so_far(journal)) == 3, timeout=30)
            assert {r["terminationCode"] for r in _records_of(journal).values()} == {"486"}
            # then the vendor pushes each call's record as answered: stored over the busy one
            answered = [
                {
                    **sb.call_record(v),
                    "terminationCode": "200",
                    "answerTime": "2026-12-05T10:00:05+08:00",
                }
                for v in sorted(sb.placed)
            ]
            assert push(address, answered).json()["stored"] == 3
            out, _ = follow.communicate(timeout=90)
        finally:
            if follow.poll() is None:
                follow.kill()
                follow.wait()
        assert follow.returncode == 0, out
        assert sb.accepted_counts() == dict.fromkeys(numbers(3), 1), out  # no redial


# -- the sandbox pushes ------------------------------------------------------------------------


def test_the_sandbox_pushes_to_a_running_serve_and_the_page_counts_the_answers(folder, tmp_path):
    config = tmp_path / "campaign.toml"
    config.write_text("")
    with SandboxThread(SandboxConfig(record_lag=0.2)) as sb:
        process, server = _serve_in_a_process(folder, config, sb)
        try:
            assert process.stdout is not None
            sb.config.push_to = process.stdout.readline().removeprefix("vendor pushes: ").strip()
            contacts = _contacts(folder / "live.xlsx", 12)
            environ = {**os.environ, "BATCHER_API_KEY": KEY, "BATCHER_API_SECRET": SECRET}
            run = subprocess.run(
                [sys.executable, "-m", "batcher", "run", contacts, *sandbox_args(sb)],
                env={**environ, "PYTHONPATH": ROOT},
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert run.returncode == 0, run.stderr
            wait_for(lambda: sb.ledger()["pushes"].get("delivered", 0) == 12, timeout=20)
            journal = folder / "live.journal"
            assert set(_records_of(journal)) == set(sb.placed)
            answered = sum(bool(sb.call_record(v)["answerTime"]) for v in sb.placed)
            assert 0 < answered < 12
            assert Api(server).campaign("live")["live"]["answered"] == answered  # type: ignore[arg-type]
            assert _record_reads(sb) == 0  # no poll: the pushes brought them
        finally:
            process.terminate()
            process.wait(30)


def test_serve_sandbox_pushes_its_records_to_its_own_address(folder, tmp_path):
    argv = [
        sys.executable,
        "-m",
        "batcher",
        "serve",
        "--folder",
        folder,
        "--sandbox",
        "--port",
        "0",
    ]
    process = subprocess.Popen(
        list(map(str, argv)),
        env={**os.environ, "PYTHONPATH": ROOT},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        opened = next(line for line in lines if line.startswith("open: "))
        url, token = opened.removeprefix("open: ").strip().split("/?token=")
        assert any(line.startswith(f"vendor pushes: {url}/vendor/records/") for line in lines)
        server = ServerThread.__new__(ServerThread)
        server.config = Config(folder=folder, token=token)
        server.port = int(url.rsplit(":", 1)[1])
        api = Api(server)
        _sent_by_the_page(server, _contacts(tmp_path / "own.xlsx", 6))
        journal = folder / "own.journal"
        wait_for(lambda: len(_records_of(journal)) == 6, timeout=20)  # no poll asked for them
        wait_for(lambda: api.campaign("own")["live"]["answered"] > 0, timeout=10)
    finally:
        process.terminate()
        process.wait(30)


class _Receiver:
    """A push address on loopback that answers 503 to the first `failures` POSTs (or never
    answers, `hang`), then 200; it keeps what it was sent."""

    def __init__(self, failures: int = 0, hang: bool = False) -> None:
        import http.server

        receiver = self
        self.failures, self.hang, self.tries, self.bodies = failures, hang, 0, []
        self.release = threading.Event()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.tries += 1
                if receiver.hang:
                    receiver.release.wait(30)
                failing = receiver.tries <= receiver.failures
                if not failing:
                    receiver.bodies.append(json.loads(body))
                self.send_response(503 if failing else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/vendor/records/x"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def test_the_sandbox_retries_a_failed_push_and_never_makes_the_api_wait_for_one(cli, tmp_path):
    flaky, stuck = _Receiver(failures=2), _Receiver(hang=True)
    try:
        with SandboxThread(SandboxConfig(push_to=flaky.url)) as sb:
            code, _ = cli("run", _contacts(tmp_path / "a.xlsx", 1), *sandbox_args(sb))
            assert code == 0
            wait_for(lambda: sb.ledger()["pushes"] == {"delivered": 1}, timeout=20)
            assert flaky.tries == 3 and flaky.bodies == [sb.call_record(next(iter(sb.placed)))]
            sb.config.push_to = stuck.url  # a push address that never answers
            started = time.monotonic()
            later = write_xlsx(
                tmp_path / "b.xlsx", [["phone"], *(["+" + n] for n in numbers(3, 5))]
            )
            code, _ = cli("run", later, *sandbox_args(sb))
            assert code == 0 and time.monotonic() - started < 10
            wait_for(lambda: stuck.tries >= 1, timeout=10)
    finally:
        flaky.close()
        stuck.close()


def test_simultaneous_pushes_are_stored_together_and_each_answered_for_its_own(folder, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    with serving(folder, record_lag=3600) as (server, sb, address):
        journal = _sent_by_the_page(server, _contacts(tmp_path / "rush.xlsx", 24))
        sb.config.record_lag = 0
        records = [sb.call_record(v) for v in sorted(sb.placed)]
        stranger = {**records[0], "voiceId": "8001", "calledInfo": ""}
        bodies = [[r] for r in records] + [[stranger]]
        with ThreadPoolExecutor(len(bodies)) as pool:
            answers = list(pool.map(lambda body: push(address, body).json(), bodies))
        assert answers[:-1] == [{"stored": 1, "settled": 0, "kept_aside": 0, "pending": 0}] * 24
        assert answers[-1] == {"stored": 0, "settled": 0, "kept_aside": 1, "pending": 0}
        assert _records_of(journal) == {r["voiceId"]: r for r in records}


def test_sandbox_push_to_must_be_an_http_address(cli):
    code, out = cli("sandbox", "--port", "0", "--push-to", "ftp://127.0.0.1/x")
    assert code == 2 and "--push-to 'ftp://127.0.0.1/x' is not an http(s):// address" in out
    assert "vendor pushes: http://" in out  # the fix names where the address comes from


def test_a_pushed_key_press_puts_the_callee_on_the_register_before_any_poll(folder, cli):
    from batcher.history import History
    from batcher.register import listed
    from batcher.settings import default_history

    contacts = _contacts(folder / "stop.xlsx", 20)
    # no record is visible to a poll: only the vendor's push can bring the key presses
    with serving(folder, keypresses={"7": "9"}, record_lag=3600) as (_, sb, address):
        code, out = cli("run", contacts, *sandbox_args(sb), "--opt-out-key", "9")
        assert code == 0, out
        sb.config.push_to, sb.config.record_lag = address, 0
        sb.push_now(sorted(sb.placed))
        pressed = {
            sb.call_record(v)["callee"]
            for v in sb.placed
            if sb.call_record(v).get("feedbackValue") == "9"
        }
        assert pressed and _record_reads(sb) == 0

        def on_register() -> set[str]:
            with History(default_history()) as history:
                return {entry.number for entry in listed(history)}

        wait_for(lambda: on_register() >= pressed, timeout=20)
        assert _record_reads(sb) == 0  # the push did it, no poll


def test_a_key_press_pushed_while_the_history_cannot_be_written_reaches_the_register_later(
    folder, cli
):
    # the campaign has ended (no next round would note it): the inbox's retry must
    from batcher.history import History
    from batcher.register import listed
    from batcher.settings import default_history

    contacts = _contacts(folder / "stop.xlsx", 20)
    with serving(folder, keypresses={"7": "9"}, record_lag=3600) as (_, sb, address):
        code, out = cli("run", contacts, *sandbox_args(sb), "--opt-out-key", "9")
        assert code == 0, out
        history = default_history().path
        assert history is not None
        kept = history.with_name("kept.sqlite")
        history.replace(kept)
        history.write_bytes(b"not a database, for now")  # the history cannot be used
        try:
            sb.config.push_to, sb.config.record_lag = address, 0
            sb.push_now(sorted(sb.placed))
            journal = folder / "stop.journal"
            wait_for(lambda: len(_records_so_far(journal)) == len(sb.placed), timeout=20)
        finally:
            kept.replace(history)
        pressed = {
            sb.call_record(v)["callee"]
            for v in sb.placed
            if sb.call_record(v).get("feedbackValue") == "9"
        }
        assert pressed

        def on_register() -> set[str]:
            with History(default_history()) as opened:
                return {entry.number for entry in listed(opened)}

        wait_for(lambda: on_register() >= pressed, timeout=20)
