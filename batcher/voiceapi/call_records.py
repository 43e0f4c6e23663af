"""The vendor's call records: one by voiceId, or every record of a time span, window by window.

    async with connect(base_url, credentials, READS, concurrency=8) as api:
        one = await record(api, "2203031134011000001")      # None while it is not there yet
        every = await query_records(api, first_sent - SLACK, account.now().timestamp() + SLACK)

`recordGroupQuery` takes windows of at most 31 days within the last two months. Records carry
the vendor's clock, and so do the times batcher stores (`Account.now`): a window is given in the
vendor's epochs and asked as it is. (A journal written before batcher stored the vendor's time
holds this machine's: SLACK on either side of its sends covers any skew the API lets through.)
"""

from __future__ import annotations

import time
from urllib.parse import quote

from batcher.clock import iso_utc
from batcher.errors import ApiError
from batcher.voiceapi.http import Api

WINDOW_MAX = 31 * 24 * 3600 - 60  # the API's longest query window, less a minute of margin
RECORDS_KEPT = 60 * 24 * 3600  # the vendor keeps records "about two months"
SLACK = 600.0  # seconds around the sends: more than any clock skew the API lets through


async def record(api: Api, voice_id: str) -> dict[str, object] | None:
    """The call record of one voiceId, or None when the API has none (yet)."""
    try:
        data = await api.call("GET", f"/voice/recordGroup/{quote(voice_id, safe='')}")
    except ApiError:
        return None  # -22: no record (yet) for this voiceId; -18: ask next time
    return {**data, "voiceId": voice_id} if isinstance(data, dict) else None


async def query_records(api: Api, start: float, end: float) -> list[dict[str, object]]:
    """Every call record submitted between two of the vendor's epochs, window by window, once
    each."""
    vendor_now = time.time() + api.clock.offset
    start = max(start, vendor_now - RECORDS_KEPT)  # older ones are gone; asking is -22
    seen: dict[str, dict[str, object]] = {}
    unnamed: list[dict[str, object]] = []
    window_start = start
    while window_start < end:
        window_end = min(window_start + WINDOW_MAX, end)
        params: dict[str, object] = {
            "strTime": iso_utc(window_start),
            "endTime": iso_utc(window_end),
        }
        batch = await api.pages("/voice/recordGroupQuery", params)
        for found in batch:
            voice_id = str(found.get("voiceId") or "")
            # windows share their boundary second, and pages may shift while read: keep one each
            if voice_id:
                seen[voice_id] = found
            else:
                unnamed.append(found)
        window_start = window_end
    return [*seen.values(), *unnamed]
