"""A faithful in-process simulator of the vendor voice API (aiohttp.web), served on loopback.

The project's tests, `batcher run --sandbox` and `batcher sandbox` talk to it over real HTTP.
Its credentials are throw-away and documented: Api-Key "sandbox-key", secret "sandbox-secret",
appId "sandbox-app", pre-uploaded fileId "sandbox-file-0001.mp3" (fileName "welcome.mp3").

    with SandboxThread(SandboxConfig(max_callees=200, latency=0.05)) as sandbox:
        sandbox.config.script.append("-18-placed")      # the next sendGroup: placed, then -18
        ...                                               # POST f"{sandbox.url}/voice/sendGroup"
        assert sandbox.accepted_counts()["91856321412"] == 1

Endpoints (under `prefix` and under `prefix + "/v3"`): POST /voice/sendGroup, /voice/fileUpload,
/voice/fileQuery, /voice/recordGroupQuery; GET /voice/recordGroup/{voiceId}. Every answer is
HTTP 200 with JSON {"status": "<string>", "reason": ...} unless a fault says otherwise, and the
`Date` header shows the server clock (time.time() + clock_offset), skew included. Like a real
server, a handler carries on when its client goes away: a client that times out during
`latency` still has its calls placed.

Paged answers: {"status": "0", "reason": "success", "data": {"records": [...], "total": N,
"size": s, "current": c, "pages": P, "searchCount": true}}; current defaults to 1, size to 25.

Besides the vendor's endpoints, GET /sandbox/ledger (unsigned, never under the prefix) answers
the ledger as JSON: {"accepted": {callee: times accepted}, "accepted_total": n, "requests": n,
"requests_by_endpoint": {...}, "max_in_flight": {endpoint: most at once},
"pushes": {"delivered": n, "failed": n}}.

One module per concern: app (config, state, routing, lifecycle), auth (Sign, IP, Timestamp),
send_group (validation, acceptance), faults (script and random faults), files (upload, query),
records (call outcomes and records), protocol (answers and shared field rules), push (each
call's record POSTed to `push_to` as the call ends, as the vendor's status report push does).
"""

from batcher.voiceapi.simulator.app import (
    LEDGER_PATH,
    RequestLog,
    Sandbox,
    SandboxConfig,
    SandboxThread,
    banner,
    serve,
)
from batcher.voiceapi.simulator.faults import REDIRECT_TARGET, SCRIPT_ITEMS
from batcher.voiceapi.simulator.files import SEED_FILE_ID, SEED_FILE_NAME
from batcher.voiceapi.simulator.protocol import REASONS
from batcher.voiceapi.simulator.records import CallShares
from batcher.voiceapi.simulator.send_group import AcceptedCall, refuse_blacklisted

__all__ = [
    "LEDGER_PATH",
    "REASONS",
    "REDIRECT_TARGET",
    "SCRIPT_ITEMS",
    "SEED_FILE_ID",
    "SEED_FILE_NAME",
    "AcceptedCall",
    "CallShares",
    "RequestLog",
    "Sandbox",
    "SandboxConfig",
    "SandboxThread",
    "banner",
    "refuse_blacklisted",
    "serve",
]
