"""The vendor API simulator, exercised over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from batcher.voiceapi.simulator import (
    LEDGER_PATH,
    SCRIPT_ITEMS,
    SEED_FILE_ID,
    AcceptedCall,
    CallShares,
    Sandbox,
    SandboxConfig,
    SandboxThread,
)
from tests.helpers import wait_for

KEY, SECRET, APP = "sandbox-key", "sandbox-secret", "sandbox-app"
NUMBERS = "91856321412,91856321300"


def signed(key: str = KEY, secret: str = SECRET, timestamp: float | None = None) -> dict[str, str]:
    """Headers for one attempt, signed the vendor's way."""
    ts = str(int(time.time() if timestamp is None else timestamp))
    return {
        "Api-Key": key,
        "Timestamp": ts,
        "Sign": hashlib.md5((key + secret + ts).encode()).hexdigest(),
        "Content-Type": "application/json;charset=UTF-8",
    }


def numbers(count: int, prefix: str = "44123") -> str:
    """`count` distinct valid numbers, comma-separated (none ends in "0000", so none refused)."""
    return ",".join(f"{prefix}{i:05d}1" for i in range(count))


def send_body(callee: str = NUMBERS, **fields: Any) -> dict[str, Any]:
    """A valid sendGroup body, with overrides."""
    return {"callee": callee, "fileId": SEED_FILE_ID, "appId": APP, **fields}


@dataclass(frozen=True)
class Reply:
    http: int
    headers: dict[str, str]
    body: Any  # parsed JSON, or text when not JSON


async def request_async(
    session: aiohttp.ClientSession,
    url: str,
    body: Any = None,
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
    allow_redirects: bool = False,
) -> Reply:
    """One request; the body is parsed as JSON when it is JSON."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    async with session.request(
        method,
        url,
        data=data,
        headers=signed() if headers is None else headers,
        allow_redirects=allow_redirects,
    ) as resp:
        text = await resp.text()
        with contextlib.suppress(ValueError):
            return Reply(resp.status, dict(resp.headers), json.loads(text))
        return Reply(resp.status, dict(resp.headers), text)


def call(url: str, body: Any = None, timeout: float = 5.0, **kwargs: Any) -> Reply:
    """Synchronous wrapper: one request on a fresh session."""

    async def go() -> Reply:
        client_timeout = aiohttp.ClientTimeout(total=timeout)
        async with aiohttp.ClientSession(timeout=client_timeout) as session:
            return await request_async(session, url, body, **kwargs)

    return asyncio.run(go())


def send(sandbox: Sandbox, body: Any = None, **kwargs: Any) -> Reply:
    """POST /voice/sendGroup."""
    return call(f"{sandbox.url}/voice/sendGroup", send_body() if body is None else body, **kwargs)


@pytest.fixture
def make_sandbox() -> Iterator[Any]:
    """Factory of started sandboxes, all stopped at the end of the test."""
    with contextlib.ExitStack() as stack:
        yield lambda **fields: stack.enter_context(SandboxThread(SandboxConfig(**fields)))


@pytest.fixture
def sandbox(make_sandbox: Any) -> Sandbox:
    return make_sandbox()


# -- authentication and clock ----------------------------------------------------------------


def test_signed_request_is_accepted(sandbox: Sandbox) -> None:
    reply = send(sandbox, send_body(calledInfo="batch-1"))
    assert reply.http == 200 and reply.body["status"] == "0" and reply.body["reason"] == "success"
    assert [d["callee"] for d in reply.body["data"]] == NUMBERS.split(",")
    ids = [d["voiceId"] for d in reply.body["data"]]
    assert all(len(v) == 19 and v.isdigit() for v in ids) and ids == sorted(set(ids))
    assert {d["terminationCode"] for d in reply.body["data"]} == {"0"}
    assert [c.voice_id for c in sandbox.accepted] == ids
    assert sandbox.accepted[0] == AcceptedCall(
        ids[0], "91856321412", "batch-1", sandbox.accepted[0].accepted_at, 1
    )
    assert sandbox.accepted_counts() == {"91856321412": 1, "91856321300": 1}
    log = sandbox.requests[0]
    assert (log.endpoint, log.status, log.http_status, log.callees, log.fault) == (
        "sendGroup",
        "0",
        200,
        2,
        None,
    )
    assert log.started <= log.finished


@pytest.mark.parametrize(
    "headers",
    [
        signed(secret="wrong-secret"),
        signed(key="other-key"),
        {k: v for k, v in signed().items() if k != "Sign"},
        {k: v for k, v in signed().items() if k != "Api-Key"},
        {**signed(), "Sign": signed()["Sign"].upper()},
        {"Content-Type": "application/json"},
    ],
    ids=["secret", "key", "no-sign", "no-key", "uppercase-sign", "no-headers"],
)
def test_bad_credentials_answer_minus_1(sandbox: Sandbox, headers: dict[str, str]) -> None:
    reply = send(sandbox, headers=headers)
    assert (reply.http, reply.body["status"]) == (200, "-1")
    assert sandbox.accepted == []


@pytest.mark.parametrize("offset", [-1000, 1000])
def test_stale_timestamp_answers_minus_16(sandbox: Sandbox, offset: int) -> None:
    reply = send(sandbox, headers=signed(timestamp=time.time() + offset))
    assert reply.body["status"] == "-16" and "server time" in reply.body["reason"]


def test_non_numeric_timestamp_answers_minus_16(sandbox: Sandbox) -> None:
    sign = hashlib.md5(f"{KEY}{SECRET}12:00".encode()).hexdigest()
    headers = {"Api-Key": KEY, "Timestamp": "12:00", "Sign": sign}
    assert send(sandbox, headers=headers).body["status"] == "-16"


def test_clock_offset_shows_in_date_header_and_drives_minus_16(make_sandbox: Any) -> None:
    sandbox = make_sandbox(clock_offset=-3600)
    reply = send(sandbox)  # signed with this machine's clock: an hour ahead of the server
    assert reply.body["status"] == "-16"
    skew = parsedate_to_datetime(reply.headers["Date"]).timestamp() - time.time()
    assert -3605 < skew < -3595
    assert send(sandbox, headers=signed(timestamp=time.time() + skew)).body["status"] == "0"


def test_date_header_without_offset(sandbox: Sandbox) -> None:
    reply = send(sandbox)
    assert abs(parsedate_to_datetime(reply.headers["Date"]).timestamp() - time.time()) < 3


def test_ip_restriction(make_sandbox: Any) -> None:
    assert send(make_sandbox(allowed_ips={"10.1.2.3"})).body["status"] == "-2"
    assert send(make_sandbox(allowed_ips={"127.0.0.1"})).body["status"] == "0"


def test_v3_and_custom_prefix(make_sandbox: Any) -> None:
    sandbox = make_sandbox(prefix="/api")
    for path in ("/api/voice/sendGroup", "/api/v3/voice/sendGroup"):
        assert call(sandbox.url + path, send_body()).body["status"] == "0"
    assert call(sandbox.url + "/voice/sendGroup", send_body()).http == 404
    default = make_sandbox()
    assert call(default.url + "/v3/voice/sendGroup", send_body()).body["status"] == "0"


# -- sendGroup validation --------------------------------------------------------------------

INVALID_BODIES = [
    ({"fileId": SEED_FILE_ID, "appId": APP}, "callee is required"),
    (send_body(""), "callee is required"),
    (send_body(91856321412), "callee must be a string"),
    (send_body("+91856321412"), "number 1"),
    (send_body("91856321412,"), "number 2"),
    (send_body("91856321412, 91856321300"), "number 2"),
    (send_body("123456"), "7-15 digits"),
    (send_body("1234567890123456"), "7-15 digits"),
    (send_body("9185632141a"), "7-15 digits"),
    (send_body("٩١٨٥٦٣٢١٤١٢"), "7-15 digits"),  # non-ASCII digits
    (send_body(displayNum="12345"), "displayNum"),
    (send_body(displayNum="+1008122211"), "displayNum"),
    (send_body(displayNum=1008122211), "displayNum must be a string"),
    (send_body(fileId="nope.mp3"), "fileId 'nope.mp3' is not an uploaded file"),
    ({"callee": NUMBERS, "appId": APP}, "fileId is required"),
    (send_body(appId="other-app"), "appId 'other-app'"),
    ({"callee": NUMBERS, "fileId": SEED_FILE_ID}, "appId is required"),
    (send_body(maxDuration=0), "maxDuration must be an integer 1-120"),
    (send_body(maxDuration=121), "maxDuration"),
    (send_body(maxDuration=True), "maxDuration"),
    (send_body(maxDuration=50.5), "maxDuration"),
    (send_body(maxDuration="5x"), "maxDuration"),
    (send_body(maxRingingTime=19), "maxRingingTime must be an integer 20-120"),
    (send_body(maxRingingTime=121), "maxRingingTime"),
    (send_body(loopCount=0), "loopCount must be an integer 1-9"),
    (send_body(loopCount=10), "loopCount"),
    (send_body(calledInfo="x" * 1001), "calledInfo must be 0-1000 characters"),
    (send_body(calledInfo=7), "calledInfo must be a string"),
    ([send_body()], "JSON object"),
    ("not json", "JSON object"),
]


@pytest.mark.parametrize(("body", "reason"), INVALID_BODIES)
def test_invalid_send_bodies_answer_minus_22(sandbox: Sandbox, body: Any, reason: str) -> None:
    raw = body.encode() if body == "not json" else None
    reply = send(sandbox, body, raw=raw)
    assert (reply.http, reply.body["status"]) == (200, "-22")
    assert reason in reply.body["reason"]
    assert sandbox.accepted == []


@pytest.mark.parametrize(
    "fields",
    [
        {"displayNum": ""},
        {"displayNum": None, "maxDuration": None},
        {"displayNum": "1008122211", "maxDuration": 1, "maxRingingTime": 20, "loopCount": 1},
        {"maxDuration": 120, "maxRingingTime": 120, "loopCount": 9, "calledInfo": "x" * 1000},
        {"maxDuration": "50", "maxRingingTime": "60", "loopCount": "2"},  # Java coerces strings
        {"maxDuration": "", "loopCount": ""},  # "may be empty"
        {"unknownField": 1},
    ],
)
def test_valid_optional_fields(sandbox: Sandbox, fields: dict[str, Any]) -> None:
    assert send(sandbox, send_body(**fields)).body["status"] == "0"


def test_loop_count_limit_is_configurable(make_sandbox: Any) -> None:
    sandbox = make_sandbox(max_loop_count=3)
    assert send(sandbox, send_body(loopCount=3)).body["status"] == "0"
    assert "1-3" in send(sandbox, send_body(loopCount=4)).body["reason"]


def test_max_callees(make_sandbox: Any) -> None:
    sandbox = make_sandbox(max_callees=200)
    reply = send(sandbox, send_body(numbers(201)))
    assert reply.body["status"] == "-22" and "at most 200" in reply.body["reason"]
    reply = send(sandbox, send_body(numbers(200)))
    assert reply.body["status"] == "0" and len(reply.body["data"]) == 200
    assert len(sandbox.accepted) == 200 and sandbox.requests[-1].callees == 200


def test_duplicate_numbers_are_accepted_once(sandbox: Sandbox) -> None:
    reply = send(sandbox, send_body("91856321412,91856321300,91856321412"))
    assert [d["callee"] for d in reply.body["data"]] == ["91856321412", "91856321300"]
    assert sandbox.accepted_counts() == {"91856321412": 1, "91856321300": 1}
    assert sandbox.requests[0].callees == 3


def test_disabled_country_code_answers_minus_26(make_sandbox: Any) -> None:
    sandbox = make_sandbox(disabled_country_codes={"882"})
    reply = send(sandbox, send_body("91856321412,88216000001"))
    assert reply.body["status"] == "-26" and "88216000001" in reply.body["reason"]
    assert sandbox.accepted == []


def test_balance(make_sandbox: Any) -> None:
    sandbox = make_sandbox(balance=3)
    reply = send(sandbox, send_body("4412345670,4412345671,4412345672,4412345673"))
    assert reply.body["status"] == "-10" and sandbox.accepted == []
    # a refused number uses no balance
    reply = send(sandbox, send_body("4412345670,4412345671,4412340000"))
    assert reply.body["status"] == "0" and sandbox.config.balance == 1
    assert send(sandbox, send_body("4412345672,4412345673")).body["status"] == "-10"
    assert send(sandbox, send_body("4412345672")).body["status"] == "0"
    assert sandbox.config.balance == 0 and len(sandbox.accepted) == 3
    sandbox.config.balance = None  # tests may refill mid-run
    assert send(sandbox, send_body("4412345673")).body["status"] == "0"


def test_refused_numbers(make_sandbox: Any) -> None:
    sandbox = make_sandbox()
    reply = send(sandbox, send_body("91856320000,91856321412"))
    refused, ok = reply.body["data"]
    assert refused == {
        "voiceId": "",
        "callee": "91856320000",
        "terminationCode": "1",
        "terminationReason": "number in blacklist",
    }
    assert ok["terminationCode"] == "0"
    assert list(sandbox.accepted_counts()) == ["91856321412"]
    custom = make_sandbox(refuse=lambda callee: callee.startswith("44"))
    codes = [
        d["terminationCode"] for d in send(custom, send_body("4412345678,91856320000")).body["data"]
    ]
    assert codes == ["1", "0"]


def test_voice_ids_unique_and_increasing_across_requests(sandbox: Sandbox) -> None:
    for i in range(5):
        send(sandbox, send_body(f"4412345{i:03d}1,4412345{i:03d}2"))
    ids = [int(c.voice_id) for c in sandbox.accepted]
    assert len(ids) == 10 and ids == sorted(set(ids))


# -- fault injection -------------------------------------------------------------------------

# item -> (http status, api status or None, numbers accepted)
SCRIPT_OUTCOMES = {
    "ok": (200, "0", 2),
    "ok-partial": (200, "0", 2),
    "-1": (200, "-1", 0),
    "-2": (200, "-2", 0),
    "-10": (200, "-10", 0),
    "-16": (200, "-16", 0),
    "-18": (200, "-18", 0),
    "-18-placed": (200, "-18", 2),
    "-22": (200, "-22", 0),
    "-26": (200, "-26", 0),
    "500": (500, None, 0),
    "500-placed": (500, None, 2),
    "429": (429, None, 0),
    "redirect": (307, None, 0),
}


def test_script_table_covers_every_item() -> None:
    assert set(SCRIPT_OUTCOMES) | {"drop", "slow"} == SCRIPT_ITEMS


@pytest.mark.parametrize("item", sorted(SCRIPT_OUTCOMES))
def test_script_item(sandbox: Sandbox, item: str) -> None:
    http, status, placed = SCRIPT_OUTCOMES[item]
    sandbox.config.script.append(item)
    reply = send(sandbox)
    assert reply.http == http
    if status is None:
        assert isinstance(reply.body, str)
    else:
        assert reply.body["status"] == status and reply.body["reason"]
    assert len(sandbox.accepted) == placed
    assert sandbox.requests[0].fault == (None if item == "ok" else item)
    if item == "429":
        assert reply.headers["Retry-After"] == "1"
    if item == "redirect":
        assert reply.headers["Location"] == "/voice/moved/sendGroup"
    # the script is consumed: the next request is normal
    assert sandbox.config.script == []
    assert send(sandbox).body["status"] == "0"


def test_drop_closes_without_response_after_placing(sandbox: Sandbox) -> None:
    sandbox.config.script.append("drop")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        send(sandbox)
    assert len(sandbox.accepted) == 2
    log = sandbox.requests[0]
    assert (log.fault, log.status, log.http_status) == ("drop", None, None)


def test_slow_places_then_outlasts_the_client_timeout() -> None:
    with SandboxThread(SandboxConfig(slow_seconds=5.0, script=["slow"])) as sandbox:
        with pytest.raises(TimeoutError):
            send(sandbox, timeout=0.3)
        assert len(sandbox.accepted) == 2 and sandbox.requests == []  # placed, still sleeping
    # stop() cancels the still-sleeping handler (waiting for it would log its success), and
    # logs it as never answered
    assert [(r.fault, r.http_status) for r in sandbox.requests] == [("slow", None)]


def test_a_client_that_gives_up_early_still_places_calls(make_sandbox: Any) -> None:
    sandbox = make_sandbox(latency=0.5)  # like a real server, it does not notice the client left
    with pytest.raises(TimeoutError):
        send(sandbox, timeout=0.2)
    deadline = time.monotonic() + 3
    while not sandbox.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox.requests[0].status == "0" and len(sandbox.accepted) == 2


def test_following_the_redirect_places_calls(sandbox: Sandbox) -> None:
    sandbox.config.script.append("redirect")
    reply = send(sandbox, allow_redirects=True)  # what a careless client does
    assert reply.body["status"] == "0" and len(sandbox.accepted) == 2
    assert [r.endpoint for r in sandbox.requests] == ["sendGroup", "sendGroup-redirected"]


def test_unknown_script_item_is_refused_up_front() -> None:
    with pytest.raises(ValueError, match="unknown script items"):
        Sandbox(SandboxConfig(script=["-99"]))


def run_random_faults(make_sandbox: Any, seed: int) -> list[tuple[str | None, int]]:
    """(fault, numbers accepted) per request, for 30 sequential requests."""
    sandbox = make_sandbox(
        seed=seed, fail_rate_18=0.2, fail_rate_500=0.2, drop_rate=0.1, rate_limit_rate=0.1
    )
    outcomes = []
    for i in range(30):
        before = len(sandbox.accepted)
        with contextlib.suppress(aiohttp.ServerDisconnectedError):
            send(sandbox, send_body(numbers(1, prefix=f"44{i:03d}")))
        outcomes.append((sandbox.requests[-1].fault, len(sandbox.accepted) - before))
    return outcomes


def test_random_faults_are_reproducible_and_consistent(make_sandbox: Any) -> None:
    first = run_random_faults(make_sandbox, seed=7)
    assert first == run_random_faults(make_sandbox, seed=7)
    placed = {None: 1, "drop": 1, "-18-placed": 1, "500-placed": 1, "-18": 0, "500": 0, "429": 0}
    assert all(placed[fault] == n for fault, n in first)
    assert len({fault for fault, _ in first}) >= 5  # the rates really fire


def test_max_in_flight_follows_client_concurrency(make_sandbox: Any) -> None:
    sandbox = make_sandbox(latency=0.2)

    async def burst(limit: int, count: int) -> None:
        gate = asyncio.Semaphore(limit)

        async def one(i: int, session: aiohttp.ClientSession) -> None:
            async with gate:
                body = send_body(numbers(1, prefix=f"44{limit:02d}{i:02d}"))
                await request_async(session, f"{sandbox.url}/voice/sendGroup", body)

        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(one(i, session) for i in range(count)))

    asyncio.run(burst(limit=4, count=12))
    assert sandbox.max_in_flight == 4 and sandbox.in_flight == 0  # three waves, not twelve
    asyncio.run(burst(limit=10, count=10))
    assert sandbox.max_in_flight == 10 and len(sandbox.accepted) == 22


# -- call records ----------------------------------------------------------------------------

RECORD_FIELDS = {
    "voiceId",
    "callee",
    "displayNum",
    "submitTime",
    "callTime",
    "ringingTime",
    "answerTime",
    "hangupTime",
    "callDuration",
    "chargedDuration",
    "terminationCode",
    "terminationReason",
    "cost",
    "billPeriod",
    "rate",
    "voiceFileId",
    "feedbackValue",
    "calledInfo",
}


def window(hours: float = 1.0, **overrides: Any) -> dict[str, Any]:
    """A recordGroupQuery body around now."""
    now = datetime.now(UTC)
    params = {
        "strTime": (now - timedelta(hours=hours)).isoformat(timespec="seconds"),
        "endTime": (now + timedelta(hours=hours)).isoformat(timespec="seconds"),
    }
    return {"current": 1, "size": 10, "params": params, **overrides}


def test_record_group_fields_and_determinism(sandbox: Sandbox) -> None:
    send(sandbox, send_body(numbers(40), displayNum="1008122211", calledInfo="tag", maxDuration=30))
    records = []
    for accepted in sandbox.accepted:
        reply = call(f"{sandbox.url}/voice/recordGroup/{accepted.voice_id}", method="GET")
        assert reply.body["status"] == "0" and set(reply.body["data"]) == RECORD_FIELDS
        records.append(reply.body["data"])
    again = call(f"{sandbox.url}/voice/recordGroup/{sandbox.accepted[0].voice_id}", method="GET")
    assert again.body["data"] == records[0]
    for record, accepted in zip(records, sandbox.accepted, strict=True):
        assert (record["callee"], record["calledInfo"]) == (accepted.callee, "tag")
        assert record["displayNum"] == "1008122211" and record["voiceFileId"] == SEED_FILE_ID
        times = [record[k] for k in ("submitTime", "callTime", "ringingTime", "hangupTime")]
        moments = [datetime.fromisoformat(t) for t in times]
        assert all(m.utcoffset() == timedelta(hours=8) for m in moments)
        assert moments == sorted(moments)
        assert abs(moments[0].timestamp() - accepted.accepted_at) < 2
        answered = record["terminationCode"] == "200"
        assert (record["answerTime"] is not None) == answered == (record["callDuration"] > 0)
        assert record["callDuration"] <= 30 and record["chargedDuration"] % 60 == 0
        assert float(record["cost"]) >= 0 and record["feedbackValue"].lstrip("-").isdigit()
    codes = [r["terminationCode"] for r in records]
    assert 10 < codes.count("200") < 35 and set(codes) <= {"200", "486", "480", "487", "404", "603"}


def test_unknown_voice_id(sandbox: Sandbox) -> None:
    reply = call(f"{sandbox.url}/voice/recordGroup/2203031134011000001", method="GET")
    assert reply.body["status"] == "-22"
    bad_auth = call(
        f"{sandbox.url}/voice/recordGroup/1", method="GET", headers=signed(secret="wrong")
    )
    assert bad_auth.body["status"] == "-1"


def test_record_lag(make_sandbox: Any) -> None:
    sandbox = make_sandbox(record_lag=0.5)
    voice_id = send(sandbox).body["data"][0]["voiceId"]
    url = f"{sandbox.url}/voice/recordGroup/{voice_id}"
    assert call(url, method="GET").body["status"] == "-22"
    query = call(f"{sandbox.url}/voice/recordGroupQuery", window())
    assert query.body["data"]["total"] == 0
    wait_for(lambda: call(url, method="GET").body["status"] == "0", timeout=5)
    assert call(f"{sandbox.url}/voice/recordGroupQuery", window()).body["data"]["total"] == 2


def test_record_group_query_pages(sandbox: Sandbox) -> None:
    send(sandbox, send_body(numbers(25), calledInfo="c1"))
    url = f"{sandbox.url}/voice/recordGroupQuery"
    seen = []
    for page in (1, 2, 3):
        data = call(url, window(current=page)).body["data"]
        assert (data["total"], data["pages"], data["current"], data["size"]) == (25, 3, page, 10)
        seen += [r["voiceId"] for r in data["records"]]
    assert seen == [c.voice_id for c in sandbox.accepted]
    assert call(url, window(current=4)).body["data"]["records"] == []
    defaults = call(url, {"params": window()["params"]}).body["data"]
    assert (defaults["current"], defaults["size"], len(defaults["records"])) == (1, 25, 25)
    later = window()
    later["params"]["strTime"] = later["params"]["endTime"]
    assert call(url, later).body["data"]["total"] == 0


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (window(hours=24 * 16), "31 days"),
        (window(size=101), "size"),
        (window(size=0), "size"),
        (window(current=0), "current"),
        (window(size=""), "size must not be empty"),
        ({"current": 1, "size": 10}, "params is required"),
        (window(params={"strTime": "2022-02-18T00:00:00+08:00"}), "params.endTime"),
        (window(params={"strTime": "yesterday", "endTime": "today"}), "ISO-8601"),
        (
            window(params={"strTime": "2022-02-18T00:00:00", "endTime": "2022-02-19T00:00:00"}),
            "UTC offset",
        ),
        (
            window(params={"strTime": "2022-02-19T00:00:00Z", "endTime": "2022-02-18T00:00:00Z"}),
            "before",
        ),
        (
            window(params={"strTime": "2022-02-18T00:00:00Z", "endTime": "2022-02-19T00:00:00Z"}),
            "two months",
        ),
    ],
)
def test_record_group_query_rejects(sandbox: Sandbox, body: dict[str, Any], reason: str) -> None:
    reply = call(f"{sandbox.url}/voice/recordGroupQuery", body)
    assert reply.body["status"] == "-22" and reason in reply.body["reason"]


# -- files -----------------------------------------------------------------------------------

AUDIO = base64.b64encode(b"ID3\x03\x00fake mp3 bytes").decode()


def test_file_upload_then_query_then_send(sandbox: Sandbox) -> None:
    upload = f"{sandbox.url}/voice/fileUpload"
    reply = call(upload, {"fileName": "promo.mp3", "file": AUDIO})
    assert reply.body["status"] == "0"
    file_id = reply.body["data"]
    assert file_id.endswith(".mp3") and file_id != SEED_FILE_ID
    assert call(upload, {"fileName": "promo.mp3", "file": AUDIO}).body["status"] == "-20"
    assert send(sandbox, send_body(fileId=file_id)).body["status"] == "0"
    query = call(f"{sandbox.url}/voice/fileQuery", {"current": 1, "size": 1}).body
    assert query["status"] == "0"
    assert query["data"]["records"] == [{"fileId": SEED_FILE_ID, "fileName": "welcome.mp3"}]
    assert (query["data"]["total"], query["data"]["pages"]) == (2, 2)
    page2 = call(f"{sandbox.url}/voice/fileQuery", {"current": 2, "size": 1}).body["data"]
    assert page2["records"] == [{"fileId": file_id, "fileName": "promo.mp3"}]
    assert call(f"{sandbox.url}/voice/fileQuery", {"size": 101}).body["status"] == "-22"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"fileName": "a.mp3", "file": AUDIO}, "0"),
        ({"fileName": "clip.WAV", "file": AUDIO}, "0"),
        ({"fileName": "x" * 28 + ".m4a", "file": AUDIO}, "0"),
        ({"fileName": "x" * 29 + ".m4a", "file": AUDIO}, "-21"),
        ({"fileName": ".mp3", "file": AUDIO}, "-21"),
        ({"fileName": "promo.ogg", "file": AUDIO}, "-21"),
        ({"fileName": "promo.mp3", "file": "not base64!"}, "-21"),
        ({"fileName": "promo.mp3"}, "-22"),
        ({"file": AUDIO}, "-22"),
        ({"fileName": "welcome.mp3", "file": AUDIO}, "-20"),
    ],
)
def test_file_upload_rules(sandbox: Sandbox, body: dict[str, Any], status: str) -> None:
    reply = call(f"{sandbox.url}/voice/fileUpload", body)
    assert reply.body["status"] == status and reply.body["reason"]


# -- lifecycle -------------------------------------------------------------------------------


def test_sandbox_on_the_callers_own_loop() -> None:
    async def go() -> None:
        sandbox = Sandbox()
        url = await sandbox.start()
        try:
            async with aiohttp.ClientSession() as session:
                reply = await request_async(session, f"{url}/voice/sendGroup", send_body())
            assert reply.body["status"] == "0" and url == sandbox.url
        finally:
            await sandbox.stop()

    asyncio.run(go())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _banner(proc: subprocess.Popen) -> str:
    """The lines a serving sandbox prints, up to the ledger's address."""
    assert proc.stdout is not None
    lines = []
    while not lines or "ledger" not in lines[-1]:
        line = proc.stdout.readline()
        assert line, "".join(lines)
        lines.append(line)
    return "".join(lines)


def test_serve_until_ctrl_c() -> None:
    port = _free_port()
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    code = f"from batcher.voiceapi.simulator import serve; serve({port})"
    with subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env
    ) as proc:
        banner = _banner(proc)
        assert f"http://127.0.0.1:{port}" in banner
        # the simulator's own throw-away credentials, so a manual client can be pointed at it
        assert all(word in banner for word in (KEY, SECRET, APP, SEED_FILE_ID, "/sandbox/ledger"))
        reply = call(f"http://127.0.0.1:{port}/voice/sendGroup", send_body())
        assert reply.body["status"] == "0"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0


# -- the ledger endpoint ---------------------------------------------------------------------


def test_ledger_endpoint_counts_accepted_calls_and_requests(sandbox: Sandbox) -> None:
    send(sandbox)
    send(sandbox, send_body("91856321412"))
    send(sandbox, headers=signed(secret="wrong"))
    reply = call(f"{sandbox.url}{LEDGER_PATH}", method="GET", headers={})
    assert reply.http == 200
    assert reply.body["accepted"] == {"91856321412": 2, "91856321300": 1}
    assert reply.body["accepted_total"] == 3
    assert reply.body["requests"] == 3 and reply.body["requests_by_endpoint"] == {"sendGroup": 3}
    assert reply.body["max_in_flight"] == {"sendGroup": 1}
    assert len(sandbox.requests) == 3  # reading the ledger is not itself a request of the API


# -- call outcomes ---------------------------------------------------------------------------


def _records(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [sandbox.call_record(c.voice_id) for c in sandbox.accepted]


@pytest.mark.parametrize(
    ("outcome", "codes"),
    [
        ("answered", {"200"}),
        ("busy", {"486"}),
        ("no_answer", {"480", "487"}),
        ("declined", {"603"}),
        ("unreachable", {"404"}),
    ],
)
def test_each_call_outcome_has_its_sip_code_duration_and_cost(
    make_sandbox: Any, outcome: str, codes: set[str]
) -> None:
    shares = {f.name: float(f.name == outcome) for f in fields(CallShares)}
    sandbox = make_sandbox(call_shares=CallShares(**shares))
    send(sandbox, send_body(numbers(30), maxRingingTime=40, maxDuration=50))
    for record in _records(sandbox):
        assert record["terminationCode"] in codes
        moments = {
            k: datetime.fromisoformat(record[k])
            for k in ("submitTime", "callTime", "ringingTime", "hangupTime")
        }
        assert list(moments.values()) == sorted(moments.values())
        answered = outcome == "answered"
        assert (record["answerTime"] is not None) == answered
        assert (record["callDuration"] > 0) == answered and record["callDuration"] <= 50
        assert (Decimal(record["cost"]) > 0) == answered
        if record["terminationCode"] == "487":  # rang until maxRingingTime ran out
            rang = moments["hangupTime"] - moments["ringingTime"]
            assert abs(rang.total_seconds() - 40) <= 1
        if record["terminationCode"] == "404":  # never rang
            assert moments["ringingTime"] == moments["callTime"]


def test_call_outcomes_are_seeded_and_reproducible(make_sandbox: Any) -> None:
    def codes(seed: int) -> list[str]:
        sandbox = make_sandbox(seed=seed)
        send(sandbox, send_body(numbers(200)))
        return [r["terminationCode"] for r in _records(sandbox)]

    first = codes(3)
    assert first == codes(3) and first != codes(4)
    assert 90 < first.count("200") < 150  # the default 60 % answered
    assert set(first) == {"200", "486", "480", "487", "404", "603"}


def test_a_number_called_again_draws_again(make_sandbox: Any) -> None:
    sandbox = make_sandbox()
    for _ in range(12):
        send(sandbox, send_body("91856321412"))
    assert [c.nth for c in sandbox.accepted] == list(range(1, 13))
    assert len({r["terminationCode"] for r in _records(sandbox)}) > 1


def test_shares_are_relative_and_checked() -> None:
    rng = random.Random(0)
    draws = [
        CallShares(answered=3, busy=1, no_answer=0, declined=0, unreachable=0).draw(rng)
        for _ in range(4000)
    ]
    assert 0.7 < draws.count("answered") / 4000 < 0.8 and set(draws) == {"answered", "busy"}
    for bad in (
        {"busy": -1},
        {"answered": 0, "busy": 0, "no_answer": 0, "declined": 0, "unreachable": 0},
        {"busy": float("nan")},
    ):
        with pytest.raises(ValueError, match="call shares"):
            CallShares(**bad)


# -- batcher sandbox, the command --------------------------------------------------------------


def test_the_sandbox_command_prints_credentials_and_takes_its_options() -> None:
    port = _free_port()
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    args = [
        "--port",
        str(port),
        "--script=-18-placed",
        "--busy",
        "1",
        "--answered",
        "0",
        "--no-answer",
        "0",
        "--declined",
        "0",
        "--unreachable",
        "0",
        "--latency",
        "0.01",
    ]
    with subprocess.Popen(
        [sys.executable, "-m", "batcher", "sandbox", *args],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    ) as proc:
        banner = _banner(proc)
        assert all(word in banner for word in (KEY, SECRET, APP, SEED_FILE_ID))
        url = f"http://127.0.0.1:{port}"
        first = call(f"{url}/voice/sendGroup", send_body())
        assert first.body["status"] == "-18"  # --script: placed, then -18
        voice_id = call(f"{url}/voice/sendGroup", send_body()).body["data"][0]["voiceId"]
        record = call(f"{url}/voice/recordGroup/{voice_id}", method="GET").body["data"]
        assert record["terminationCode"] == "486"  # --busy 1, every other share 0
        ledger = call(f"{url}/sandbox/ledger", method="GET", headers={}).body
        assert ledger["accepted"] == {n: 2 for n in NUMBERS.split(",")}
        assert ledger["requests_by_endpoint"] == {"sendGroup": 2, "recordGroup": 1}
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0


def test_a_port_in_use_is_a_usage_error_with_the_fix(cli: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        code, out = cli("sandbox", "--port", taken.getsockname()[1])
    assert code == 2 and "already in use" in out and "--port" in out
    assert "internal error" not in out


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--port", "70000"], "out of range"),
        (["--port", "-1"], "out of range"),
        (["--drop-rate", "1.5"], "not a rate"),
        (["--script", "explode"], "not a fault"),
        (["--busy", "-1"], "shares"),
    ],
)
def test_bad_sandbox_options_are_usage_errors(cli: Any, args: list[str], problem: str) -> None:
    code, out = cli("sandbox", *args)
    assert code == 2 and problem in out and "fix:" in out
