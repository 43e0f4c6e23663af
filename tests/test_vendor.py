"""batcher.vendor: signing, the classification of every answer sendGroup can give, and the
translation of every aiohttp exception at the one boundary."""

import json
from datetime import UTC, datetime

import pytest

from batcher.settings import Credentials
from batcher.vendor.http import sign, signed_headers
from batcher.vendor.send_group import Verdict, classify


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
    assert "missing" in reply.reason


def test_stop_statuses_carry_the_fix():
    reply = classify(200, _body("-10", reason="balance"), ["1"])
    assert "top up the balance, then run the same command again" in reply.fix


def test_retry_after_and_date_are_read():
    headers = {"Retry-After": "7", "Date": "Thu, 26 Nov 2026 16:00:00 GMT"}
    reply = classify(429, b"", [], headers)
    assert reply.retry_after == 7
    assert reply.server_time == datetime(2026, 11, 26, 16, tzinfo=UTC).timestamp()
