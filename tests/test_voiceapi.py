"""batcher.voiceapi: signing, the classification of every answer sendGroup can give, and the
translation of every aiohttp exception at the one boundary."""

import asyncio
import json
import ssl
from datetime import UTC, datetime
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp import client_exceptions as aerr

from batcher.errors import ApiError, BatcherError, StoppedByAPI
from batcher.settings import Account, Credentials
from batcher.voiceapi.http import (
    FAILURES,
    Api,
    Failure,
    clock_offset,
    refusal,
    sign,
    signed_headers,
    skewed,
    transport_failure,
)
from batcher.voiceapi.send_group import Verdict, classify, post

CREDS = Credentials("sandbox-key", "CANARY-secret")


def test_sign_known_answer():
    # vector from the vendor example's key and timestamp; md5 computed independently (md5sum)
    assert sign("bDqJFiq9", "secret", 1630468800) == "5e05d651d20b87515084ccf02b24c04f"


def test_sign_is_32_lowercase_hex():
    value = sign("k", "s", 1)
    assert len(value) == 32 and value == value.lower()
    assert int(value, 16) >= 0


def test_headers_are_fresh_and_offset(monkeypatch):
    monkeypatch.setattr("time.time", lambda: 1630468800.7)
    headers = signed_headers(Credentials("bDqJFiq9", "secret"), clock_offset=0)
    assert headers["Timestamp"] == "1630468800"
    assert headers["Sign"] == "5e05d651d20b87515084ccf02b24c04f"
    assert headers["Api-Key"] == "bDqJFiq9"
    skewed = signed_headers(Credentials("k", "s"), clock_offset=-100)
    assert skewed["Timestamp"] == "1630468700"


def _body(status, data=None, reason="r"):
    doc = {"status": status, "reason": reason}
    if data is not None:
        doc["data"] = data
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("http", "body", "verdict"),
    [
        (200, _body("0", []), Verdict.OK),
        (200, _body("-1"), Verdict.STOP),
        (200, _body("-2"), Verdict.STOP),
        (200, _body("-10"), Verdict.STOP),
        (200, _body("-16"), Verdict.SKEW),
        (200, _body("-18"), Verdict.UNKNOWN),
        (200, _body("-22"), Verdict.SPLIT),
        (200, _body("-26"), Verdict.FAILED),
        (200, _body("-99"), Verdict.UNKNOWN),  # undocumented status: calls may have been placed
        (200, b"<html>oops</html>", Verdict.UNKNOWN),
        (200, b'{"reason": "no status"}', Verdict.UNKNOWN),
        (500, b"boom", Verdict.UNKNOWN),
        (502, b"", Verdict.UNKNOWN),
        (429, b"", Verdict.THROTTLED),
        (301, b"", Verdict.STOP),
        (307, b"", Verdict.STOP),
        (404, b"", Verdict.STOP),
        (401, b"", Verdict.STOP),
    ],
)
def test_classify_every_status(http, body, verdict):
    assert classify(http, body, ["911"], {"Retry-After": "3"}).verdict is verdict


def test_status_is_a_string_but_numbers_are_tolerated():
    assert classify(200, b'{"status": 0, "data": []}', []).verdict is Verdict.OK


def test_per_number_results_and_missing_numbers():
    data = [
        {"voiceId": "1", "callee": "911", "terminationCode": "0", "terminationReason": "success"},
        {"voiceId": "", "callee": "912", "terminationCode": "1", "terminationReason": "black"},
        {"voiceId": "9", "callee": "999", "terminationCode": "0", "terminationReason": "success"},
    ]
    reply = classify(200, _body("0", data), ["911", "912", "913"])
    assert reply.results["911"] == ["accepted", "1", "0", "success"]
    assert reply.results["912"] == ["rejected", "", "1", "black"]
    assert "913" not in reply.results and "999" not in reply.results  # 999 was never sent
    assert reply.reason == "r; 1 number missing from data: unknown"
    two = classify(200, _body("0", data), ["911", "912", "913", "914"])
    assert two.reason == "r; 2 numbers missing from data: unknown"


def test_stop_statuses_carry_the_fix():
    reply = classify(200, _body("-10", reason="balance"), ["1"])
    assert "top up the balance, then run the same command again" in reply.fix


def test_retry_after_and_date_are_read():
    headers = {"Retry-After": "7", "Date": "Thu, 26 Nov 2026 16:00:00 GMT"}
    reply = classify(429, b"", [], headers)
    assert reply.retry_after == 7
    assert reply.server_time == datetime(2026, 11, 26, 16, tzinfo=UTC).timestamp()


# -- the exception mapping: every aiohttp exception becomes ours at the one boundary -------------

KEY = SimpleNamespace(host="api.example", port=443, ssl=True, is_ssl=True)  # a ConnectionKey
INFO = SimpleNamespace(real_url="https://api.example/voice/sendGroup", method="POST")
NOT_SENT, UNKNOWN, STOP = Failure.NOT_SENT, Failure.UNKNOWN, Failure.STOP

# What each exception a request can raise means. Written out here, independently of
# http.FAILURES, so that a change of meaning shows as a failing row.
EXPECTED: dict[type[BaseException], Failure] = {
    aerr.ClientError: UNKNOWN,
    aerr.ClientResponseError: UNKNOWN,
    aerr.ContentTypeError: UNKNOWN,
    aerr.WSServerHandshakeError: UNKNOWN,
    aerr.ClientHttpProxyError: NOT_SENT,
    aerr.TooManyRedirects: STOP,
    aerr.ClientConnectionError: UNKNOWN,
    aerr.ClientConnectionResetError: UNKNOWN,
    aerr.ClientOSError: UNKNOWN,
    aerr.ClientConnectorError: NOT_SENT,
    aerr.ClientConnectorDNSError: NOT_SENT,
    aerr.ClientProxyConnectionError: NOT_SENT,
    aerr.UnixClientConnectorError: NOT_SENT,
    aerr.ClientSSLError: STOP,
    aerr.ClientConnectorSSLError: STOP,
    aerr.ClientConnectorCertificateError: STOP,
    aerr.ServerConnectionError: UNKNOWN,
    aerr.ServerDisconnectedError: UNKNOWN,
    aerr.ServerTimeoutError: UNKNOWN,
    aerr.ConnectionTimeoutError: NOT_SENT,
    aerr.SocketTimeoutError: UNKNOWN,
    aerr.ServerFingerprintMismatch: STOP,
    aerr.ClientPayloadError: UNKNOWN,
    aerr.UploadAbortedError: UNKNOWN,
    aerr.InvalidURL: STOP,
    aerr.InvalidUrlClientError: STOP,
    aerr.InvalidUrlRedirectClientError: STOP,
    aerr.RedirectClientError: STOP,
    aerr.NonHttpUrlRedirectClientError: STOP,
    aerr.NonHttpUrlClientError: STOP,
    asyncio.TimeoutError: UNKNOWN,
    OSError: UNKNOWN,
}
VERDICTS = {NOT_SENT: Verdict.NOT_SENT, UNKNOWN: Verdict.UNKNOWN, STOP: Verdict.STOP}


def _subclasses(cls: type) -> list[type]:
    found = [cls]
    for sub in cls.__subclasses__():
        found += [c for c in _subclasses(sub) if c not in found]
    return found


def _make(cls: type[BaseException]) -> BaseException:
    """A real instance of an aiohttp exception, built the way aiohttp builds it."""
    if issubclass(cls, aerr.UnixClientConnectorError):
        return cls("/run/api.sock", KEY, OSError(2, "No such file"))
    if issubclass(cls, aerr.ClientConnectorCertificateError):
        return cls(KEY, ssl.SSLCertVerificationError(1, "self-signed certificate"))
    if issubclass(cls, aerr.ClientConnectorSSLError):
        return cls(KEY, ssl.SSLError(1, "handshake failure"))
    if issubclass(cls, aerr.ClientConnectorError):
        return cls(KEY, OSError(111, "Connect call failed"))
    if issubclass(cls, aerr.ClientResponseError):
        return cls(INFO, (), status=502, message="Bad Gateway")
    if issubclass(cls, aerr.InvalidURL | aerr.NonHttpUrlClientError):
        return cls("htp:/api.example")
    if issubclass(cls, aerr.ServerFingerprintMismatch):
        return cls(b"expected", b"got", "api.example", 443)
    return cls("boom")


def test_every_aiohttp_exception_is_in_the_mapping():
    """Fails when an aiohttp upgrade adds an exception: decide what it means, then list it."""
    ours = [c for c in _subclasses(aiohttp.ClientError) if c.__module__.startswith("aiohttp")]
    assert len(ours) > 20
    missing = [c.__name__ for c in ours if c not in FAILURES]
    assert not missing, f"add these to batcher.voiceapi.http.FAILURES: {missing}"
    unexpected = [c.__name__ for c in ours if c not in EXPECTED]
    assert not unexpected, f"add these to EXPECTED in this test: {unexpected}"


@pytest.mark.parametrize("cls", list(EXPECTED), ids=lambda c: c.__name__)
def test_each_exception_maps_to_one_failure(cls):
    failure = transport_failure(_make(cls))
    assert failure.kind is EXPECTED[cls]
    assert failure.reason and failure.fix
    assert "--base-url" in failure.fix


class _Raising:
    """A session whose every request raises `exc`, as aiohttp's would."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def post(self, *args, **kwargs):
        raise self.exc

    request = post


@pytest.mark.parametrize("cls", list(EXPECTED), ids=lambda c: c.__name__)
def test_a_send_meets_it_as_a_verdict(cls):
    account = Account("https://api.example", CREDS)
    reply = asyncio.run(post(_Raising(_make(cls)), account, {}, ["911"]))
    assert reply.verdict is VERDICTS[EXPECTED[cls]]
    assert reply.http_status is None and reply.results == {}
    if reply.verdict is Verdict.UNKNOWN:
        assert "calls may have been placed" in reply.reason
    if reply.verdict is Verdict.STOP:
        assert "--base-url" in reply.fix


@pytest.mark.parametrize("cls", list(EXPECTED), ids=lambda c: c.__name__)
def test_a_read_meets_it_as_stopped_by_api_from_the_cause(cls):
    exc = _make(cls)
    api = Api(_Raising(exc), Account("https://api.example", CREDS))
    with pytest.raises(StoppedByAPI) as caught:
        asyncio.run(api.call("GET", "/voice/recordGroup/1"))
    assert caught.value.__cause__ is exc
    assert "https://api.example/voice/recordGroup/1" in caught.value.message
    assert "--base-url" in caught.value.hint
    assert CREDS.api_secret not in str(caught.value)


def test_a_certificate_error_names_the_ca_bundle_fix():
    failure = transport_failure(_make(aerr.ClientConnectorCertificateError))
    assert "TLS certificate not trusted" in failure.reason and "--ca-bundle" in failure.fix


@pytest.mark.parametrize(
    ("status", "error"),
    [
        ("-1", StoppedByAPI),
        ("-2", StoppedByAPI),
        ("-10", StoppedByAPI),
        ("-16", StoppedByAPI),
        ("-20", ApiError),
        ("-22", ApiError),
        ("-18", ApiError),
        ("-99", ApiError),
    ],
)
def test_vendor_refusals_map_to_our_errors(status, error):
    mapped = refusal("/voice/fileUpload", ApiError(status, "r"))
    assert type(mapped) is error and isinstance(mapped, BatcherError)
    assert mapped.exit_code == 4


def test_clock_offset_is_the_date_headers_midpoint():
    assert clock_offset(1000.0, received=1000.0) == 0.5
    assert not skewed(clock_offset(1000.0, received=1001.0))
    assert skewed(clock_offset(100.0, received=1000.0))
