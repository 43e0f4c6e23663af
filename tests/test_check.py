"""check_account over the sandbox on loopback: credentials, IP whitelist, clock, endpoint faults."""

from __future__ import annotations

import re
import socket
import ssl

import pytest

from batcher.errors import StoppedByAPI
from batcher.followup.check import check_account
from batcher.settings import Account, Credentials
from batcher.voiceapi.simulator import SandboxConfig, SandboxThread

GOOD = Credentials("sandbox-key", "sandbox-secret")


def test_a_good_account_is_ok(make_sandbox):
    sandbox = make_sandbox()
    report = check_account(Account(sandbox.url, GOOD))
    assert report.ok
    assert (report.credentials, report.ip) == ("ok", "ok")
    assert report.clock in ("ok (+0 s)", "ok (+1 s)")
    assert abs(report.clock_offset) < 1.6
    assert report.endpoint == sandbox.url
    assert [r.endpoint for r in sandbox.requests] == ["fileQuery"]


def test_a_wrong_secret_is_a_credentials_problem_and_never_shown(make_sandbox):
    sandbox = make_sandbox()
    report = check_account(Account(sandbox.url, Credentials("sandbox-key", "CANARY-secret-4711")))
    assert not report.ok
    assert report.credentials.startswith("refused") and "BATCHER_API_SECRET" in report.credentials
    assert report.ip.startswith("unknown")
    assert report.clock.startswith("ok")  # measured from the Date header all the same
    text = repr(report) + str(report)
    assert "CANARY" not in text and "sandbox-key" not in text
    assert not re.search(r"[0-9a-f]{32}", text)  # no Sign either


def test_an_ip_off_the_whitelist_is_named(make_sandbox):
    sandbox = make_sandbox(allowed_ips={"10.9.9.9"})
    report = check_account(Account(sandbox.url, GOOD))
    assert not report.ok
    assert report.credentials == "ok"
    assert report.ip.startswith("not whitelisted") and "127.0.0.1" in report.ip
    assert "vendor console" in report.ip


@pytest.mark.parametrize("skew", [-900, 900])
def test_a_skewed_clock_is_measured_and_the_rest_still_checked(make_sandbox, skew):
    sandbox = make_sandbox(clock_offset=skew)
    report = check_account(Account(sandbox.url, GOOD))
    assert not report.ok
    assert abs(report.clock_offset - skew) < 1.6
    shown = re.match(r"skewed by ([+-]\d+) s", report.clock)
    assert shown and abs(int(shown.group(1)) - skew) <= 1, report.clock
    assert "NTP" in report.clock and "corrects it during runs" in report.clock
    # re-signed at the server's clock, the account itself checks out
    assert (report.credentials, report.ip) == ("ok", "ok")
    assert [r.status for r in sandbox.requests] == ["-16", "0"]


def test_a_small_skew_within_tolerance_is_ok(make_sandbox):
    sandbox = make_sandbox(clock_offset=1.2)
    report = check_account(Account(sandbox.url, GOOD))
    assert report.ok and report.clock.startswith("ok (+")


def test_nobody_listening_stops_with_a_fix():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(StoppedByAPI) as caught:
        check_account(Account(f"http://127.0.0.1:{port}", GOOD))
    assert "--base-url" in caught.value.hint and "network" in caught.value.hint


def test_a_wrong_path_stops_with_a_fix(make_sandbox):
    sandbox = make_sandbox()
    with pytest.raises(StoppedByAPI) as caught:
        check_account(Account(sandbox.url + "/nowhere", GOOD))
    assert "HTTP 404" in str(caught.value) and "--base-url" in caught.value.hint


def test_tls_is_verified_and_a_private_ca_can_be_trusted(tls_files):
    cert, key = tls_files
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    with SandboxThread(SandboxConfig(), ssl_context=context) as sandbox:
        with pytest.raises(StoppedByAPI) as caught:
            check_account(Account(sandbox.url, GOOD))
        assert "TLS" in str(caught.value) and "--ca-bundle" in caught.value.hint
        assert check_account(Account(sandbox.url, GOOD, ca_bundle=cert)).ok


def test_the_round_trip_is_kept_in_the_history_for_the_plans(make_sandbox, tmp_path):
    from batcher.history import History

    sandbox = make_sandbox()
    report = check_account(Account(sandbox.url, GOOD), history=tmp_path / "history.sqlite")
    assert report.latency is not None and report.latency > 0 and report.latency_kept
    with History(tmp_path / "history.sqlite", create=False) as history:
        seconds, _ = history.latency("loopback")  # simulators on this machine, as runs file them
    assert seconds == report.latency
    assert check_account(Account(sandbox.url, GOOD)).latency_kept is False  # no history given


def test_a_plan_estimates_from_the_check_until_the_campaign_measures_its_own(
    make_sandbox, contacts, cli_streams, creds
):
    from tests.helpers import numbers, sandbox_args

    sandbox = make_sandbox()
    path = contacts(["+" + n for n in numbers(3)])
    plan = cli_streams("plan", path, "--base-url", sandbox.url)
    assert "a guess: nothing measured yet (batcher check measures it)" in plan.out
    done = cli_streams("check", "--base-url", sandbox.url)
    assert done.code == 0 and "round trip:" in done.out and "plans estimate" in done.out
    plan = cli_streams("plan", path, "--base-url", sandbox.url)
    assert "s a request: the round trip batcher check measured on 20" in plan.out, plan.out
    other = cli_streams("plan", path)  # another endpoint: nothing measured there
    assert "a guess" in other.out
    assert cli_streams("run", path, *sandbox_args(sandbox)).code == 0
    more = contacts(["+" + n for n in numbers(5)], name="contacts.xlsx")
    plan = cli_streams("plan", more, "--base-url", sandbox.url)
    assert "the campaign's earlier requests" in plan.out, plan.out
