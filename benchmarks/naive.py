"""The baseline: the script a user writes from the vendor's sample, run on the same file.

    BATCHER_API_KEY=sandbox-key BATCHER_API_SECRET=sandbox-secret \\
        python benchmarks/naive.py contacts.xlsx --base-url http://127.0.0.1:8080

pandas + openpyxl read, a row-by-row loop normalising each cell with phonenumbers (parse and
is_valid_number, no cache), dedupe with a set, one sendGroup of up to 1000 numbers after
another with urllib (a fresh signature each), then pandas + openpyxl write. Honest, not a
strawman: itertuples rather than iterrows, and a digits-only cell that fails is retried with a
"+" (Excel drops it). It has none of batcher's safety: no journal, no retry policy, no resume.
It prints `timings: read Xs, normalise Xs, send Xs, write Xs` and its counts on stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import phonenumbers

BATCH = 1000  # numbers per request, as the vendor's seed document allows


def normalise(raw: object, region: str) -> str | None:
    """The callee digits of one cell, or None when phonenumbers finds no valid number."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    candidates = [raw, "+" + raw] if raw.isdigit() else [raw]
    for text in candidates:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return f"{number.country_code}{number.national_number}"
    return None


def signed_headers(key: str, secret: str) -> dict[str, str]:
    """The vendor's headers: Api-Key, Timestamp and Sign = md5(key + secret + timestamp)."""
    timestamp = str(int(time.time()))
    sign = hashlib.md5((key + secret + timestamp).encode()).hexdigest()
    return {
        "Content-Type": "application/json;charset=UTF-8",
        "Api-Key": key,
        "Timestamp": timestamp,
        "Sign": sign,
    }


def send_group(base_url: str, key: str, secret: str, body: dict) -> dict:
    """POST one voice/sendGroup and return the decoded answer."""
    request = urllib.request.Request(
        f"{base_url}/voice/sendGroup",
        method="POST",
        data=json.dumps(body).encode(),
        headers=signed_headers(key, secret),
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def main(argv: list[str] | None = None) -> None:
    """Command line: FILE --base-url URL [--region IN] [-o OUT]."""
    parser = argparse.ArgumentParser(description="The naive baseline script.")
    parser.add_argument("file", type=Path)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--region", default="IN", help="region of national numbers")
    parser.add_argument("--phone-column", default="Mobile")
    parser.add_argument("--region-column", default="Country")
    parser.add_argument("--app-id", default="sandbox-app")
    parser.add_argument("--file-id", default="sandbox-file-0001.mp3")
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args(argv)
    key, secret = os.environ["BATCHER_API_KEY"], os.environ["BATCHER_API_SECRET"]
    output = args.output or args.file.with_name(f"{args.file.stem}-naive.xlsx")

    started = time.perf_counter()
    df = pd.read_excel(args.file, engine="openpyxl", dtype=str)
    read_done = time.perf_counter()

    phone_at = df.columns.get_loc(args.phone_column)
    region_at = df.columns.get_loc(args.region_column)
    callees, seen, to_send = [], set(), []
    for row in df.itertuples(index=False, name=None):
        region = row[region_at] if isinstance(row[region_at], str) else args.region
        callee = normalise(row[phone_at], region)
        callees.append(callee)
        if callee is not None and callee not in seen:
            seen.add(callee)
            to_send.append(callee)
    loop_done = time.perf_counter()

    results: dict[str, tuple[str, str, str]] = {}
    for start in range(0, len(to_send), BATCH):
        batch = to_send[start : start + BATCH]
        answer = send_group(
            args.base_url,
            key,
            secret,
            {"callee": ",".join(batch), "fileId": args.file_id, "appId": args.app_id},
        )
        if answer["status"] == "0":
            for item in answer["data"]:
                results[item["callee"]] = (
                    item["terminationCode"],
                    item["terminationReason"],
                    item["voiceId"],
                )
        else:
            for callee in batch:
                results[callee] = (answer["status"], answer["reason"], "")
    send_done = time.perf_counter()

    df["callee"] = callees
    df["status"] = [results[c][0] if c in results else "invalid" for c in callees]
    df["reason"] = [results[c][1] if c in results else "" for c in callees]
    df["voiceId"] = [results[c][2] if c in results else "" for c in callees]
    df.to_excel(output, index=False, engine="openpyxl")
    done = time.perf_counter()

    accepted = sum(1 for code, _, _ in results.values() if code == "0")
    print(
        f"naive: {len(df)} rows, {len(to_send)} distinct valid numbers, "
        f"{-(-len(to_send) // BATCH)} requests, {accepted} accepted -> {output}",
        file=sys.stderr,
    )
    print(
        f"timings: read {read_done - started:.2f}s, normalise {loop_done - read_done:.2f}s, "
        f"send {send_done - loop_done:.2f}s, write {done - send_done:.2f}s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
