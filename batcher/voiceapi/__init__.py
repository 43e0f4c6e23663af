"""The voice API: everything that speaks HTTP to the vendor's voice API lives here.

The layering rule: only `batcher.voiceapi` (and its `simulator`) imports aiohttp. The commands
(send, check, audio, records, reconcile) ask this package for a session and an `Api`, and get
back plain data or batcher's own errors; aiohttp's exceptions and the vendor's error answers
become batcher's at one place, `batcher.voiceapi.http.transport_failure` and `Api.call`.
This package MUST NOT import anything of batcher but errors, outcomes, settings and clock;
`tests/test_layering.py` holds the rule.

    http.py         signing, the one session factory and its named timeouts, the clock
                    offset, ca-bundle -> TLS context, paging, the error mapping, `Api`
    send_group.py   one sendGroup attempt and its `Verdict`
    call_records.py recordGroup / recordGroupQuery by voiceId and by time window
    callrecord.py   how one call record reads: answered, cost, complete (pure, no I/O)
    simulator/      the vendor API simulated on loopback (tests and `batcher sandbox`)
"""
