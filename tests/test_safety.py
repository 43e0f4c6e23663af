"""Crash safety and security: SIGKILL at any moment, Ctrl-C, secrets, TLS."""

from __future__ import annotations

import os
import random
import signal
import time
import zipfile

import pytest

from batcher.voiceapi.http import sign
from tests.helpers import (
    batcher_process,
    kill_after_requests,
    numbers,
    read_sheet,
    sandbox_args,
    wait_for,
)


@pytest.mark.parametrize(
    ("people", "kills_each"),
    [pytest.param(400, 2, id="quick"), pytest.param(3000, 8, id="soak", marks=pytest.mark.slow)],
)
def test_sigkill_at_random_moments_loses_nothing_and_calls_nobody_twice(
    make_sandbox, contacts, tmp_path, people, kills_each
):
    sandbox = make_sandbox(latency=0.05)
    wanted = numbers(people)
    path = contacts(["+" + n for n in wanted] + ["+" + n for n in wanted[::7]])
    args = ["run", path, *sandbox_args(sandbox), "--chunk-size", "4", "--concurrency", "4"]
    rng = random.Random(2026)
    kills = 0
    # the two windows that matter, by failpoint, then plain SIGKILLs after a random number of
    # answered requests; the run has far more requests (people / 4) than the kills can use
    # up (at most 24 each), so every kill lands mid-campaign
    plans = [("after-intent", rng.randint(1, 6)) for _ in range(kills_each)]
    plans += [("before-outcome", rng.randint(1, 6)) for _ in range(kills_each)]
    plans += [("answered", rng.randint(1, 12)) for _ in range(kills_each)]
    for where, when in plans:
        if where == "answered":
            since = len(sandbox.requests)
            proc = batcher_process(args)
            kill_after_requests(proc, sandbox, since, when)
        else:
            proc = batcher_process(args, {"BATCHER_CRASH_AT": f"{where}:{when}"})
        proc.communicate(timeout=60)
        if proc.returncode == -signal.SIGKILL:
            kills += 1
        assert max(sandbox.accepted_counts().values(), default=0) <= 1
    assert kills == len(plans)
    # finish as an operator would: settle the unknowns the call records can settle, send what
    # was never placed; an unknown of the last killed requests stays unknown (no record dated
    # after it proves the vendor's records complete: absence is no evidence) until the calls
    # of that send show the period complete; then reconcile settles it, and a run sends it
    journal = tmp_path / "contacts.journal"
    for step, codes in (("reconcile", (0, 5)), ("run", (0, 5)), ("reconcile", (0,)), ("run", (0,))):
        done = batcher_process(
            ["reconcile", journal, "--settle", "0"] if step == "reconcile" else args
        )
        out, _ = done.communicate(timeout=60)
        assert done.returncode in codes, out
        assert max(sandbox.accepted_counts().values(), default=0) <= 1
    assert sandbox.accepted_counts() == {n: 1 for n in wanted}  # zero twice, zero lost
    print(
        f"kills: {kills} of {len(plans)} runs; numbers accepted twice: 0; "
        f"numbers never called: 0 of {len(wanted)}"
    )
    rows = read_sheet(tmp_path / "contacts-results.xlsx", "Results")
    assert len(rows) == len(wanted) + len(wanted[::7])
    assert {r["outcome"] for r in rows} == {"accepted", "duplicate"}


@pytest.mark.parametrize("to", ["run", "terminal"])
def test_ctrl_c_finishes_in_flight_requests_and_says_how_to_resume(
    make_sandbox, contacts, tmp_path, to
):
    # "terminal": the whole process group gets it, as from a terminal, the workbook's writer
    # child included (batcher.workbook.live): the run decides, and the workbook is still written
    sandbox = make_sandbox(latency=0.5)
    path = contacts(["+" + n for n in numbers(40)])
    proc = batcher_process(
        ["run", path, *sandbox_args(sandbox), "--chunk-size", "2", "--concurrency", "2"],
        start_new_session=True,
    )
    wait_for(lambda: len(sandbox.requests) >= 2)
    if to == "terminal":
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 6, out
    assert "run the same command again" in out
    rows = read_sheet(tmp_path / "contacts-results.xlsx", "Results")
    outcomes = {r["outcome"] for r in rows}
    assert outcomes == {"accepted", "not_sent"}  # in-flight requests finished: none unknown
    assert sum(r["outcome"] == "accepted" for r in rows) == len(sandbox.accepted)


def test_second_ctrl_c_abandons_in_flight_as_unknown(make_sandbox, contacts, tmp_path):
    sandbox = make_sandbox(latency=3)
    path = contacts(["+" + n for n in numbers(10)])
    proc = batcher_process(["run", path, *sandbox_args(sandbox), "--chunk-size", "5"])
    wait_for(lambda: sandbox.in_flight >= 1)  # the canary: alone until it is answered
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 6, out
    rows = read_sheet(tmp_path / "contacts-results.xlsx", "Results")
    assert [r["outcome"] for r in rows] == ["unknown"] * 5 + ["not_sent"] * 5


def test_secrets_never_reach_terminal_journal_or_workbook(make_sandbox, contacts, tmp_path):
    key, secret = "CANARYKEY7f3a", "CANARYSECRET9b2c"
    sandbox = make_sandbox(api_key=key, api_secret=secret, script=["500", "-10"])
    path = contacts(["+" + n for n in numbers(30)])
    started = int(time.time())
    outputs = []
    for extra in ([], ["--dry-run"], []):
        env = {"BATCHER_API_KEY": key, "BATCHER_API_SECRET": secret}
        proc = batcher_process(
            [
                "run",
                path,
                *sandbox_args(sandbox),
                "--chunk-size",
                "10",
                "--concurrency",
                "1",
                *extra,
            ],
            env,
        )
        outputs.append(proc.communicate(timeout=60)[0])
    proc = batcher_process(
        ["reconcile", tmp_path / "contacts.journal", "--settle", "0"],
        {"BATCHER_API_KEY": key, "BATCHER_API_SECRET": secret},
    )
    outputs.append(proc.communicate(timeout=60)[0])
    signs = {sign(key, secret, t) for t in range(started - 5, int(time.time()) + 5)}
    blobs = [o.encode() for o in outputs]
    for file in tmp_path.iterdir():
        data = file.read_bytes()
        if zipfile.is_zipfile(file):
            with zipfile.ZipFile(file) as archive:
                data = b"".join(archive.read(n) for n in archive.namelist())
        blobs.append(data)
    assert len(sandbox.requests) >= 3
    for blob in blobs:
        for needle in (key, secret, *signs):
            assert needle.encode() not in blob


def test_repr_of_settings_hides_credentials():
    from batcher.settings import Credentials

    text = repr(Credentials("CANARYKEY", "CANARYSECRET"))
    assert "CANARY" not in text and "redacted" in text


def test_tls_is_verified_and_a_private_ca_can_be_trusted(
    tls_files, contacts, cli, tmp_path, monkeypatch
):
    import ssl

    from batcher.voiceapi.simulator import SandboxConfig, SandboxThread

    monkeypatch.setenv("BATCHER_API_KEY", "sandbox-key")
    monkeypatch.setenv("BATCHER_API_SECRET", "sandbox-secret")
    cert, key = tls_files
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    with SandboxThread(SandboxConfig(), ssl_context=context) as sandbox:
        assert sandbox.url.startswith("https://")
        path = contacts(["+" + n for n in numbers(2)])
        code, out = cli("run", path, *sandbox_args(sandbox))
        assert code == 4, out
        assert "TLS" in out and "--ca-bundle" in out
        assert sandbox.accepted == []
        code, out = cli("run", path, *sandbox_args(sandbox), "--ca-bundle", cert)
        assert code == 0, out
        assert len(sandbox.accepted) == 2
