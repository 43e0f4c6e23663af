"""`batcher upload`: a voice file uploaded (or its earlier upload reused), its fileId printed."""

from __future__ import annotations

import argparse
from pathlib import Path

from batcher.cli.options import (
    ACCOUNT_CODES,
    account,
    account_options,
    epilog,
    history_option,
)
from batcher.cli.output import err, out
from batcher.errors import ExitCode, UsageError
from batcher.settings import default_history

DESCRIPTION = (
    "Upload a voice file through fileUpload and print its fileId on stdout. The same "
    "recording already uploaded under that name is reused; another recording under a name "
    "already taken is refused (batcher records each upload's SHA-256 in the call history). "
    "Name rules: 5-32 characters including .mp3/.m4a/.wav."
)
EPILOG = epilog(
    [
        "batcher upload promo.mp3",
        '(or put audio = "promo.mp3" in campaign.toml instead of file_id)',
    ],
    ACCOUNT_CODES,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The file, the name to upload under, the history and the account."""
    parser.add_argument("audio", type=Path, metavar="FILE")
    history_option(parser)
    parser.add_argument("--name", help="the fileName to upload under (default: the file's name)")
    account_options(parser, with_config=True)


def handle(args: argparse.Namespace) -> int:
    """Upload (or reuse), print the fileId and where it goes."""
    from batcher.followup.audio import resolve_audio
    from batcher.history import History

    if not args.audio.is_file():
        raise UsageError(f"{args.audio}: no such file", "check the path of the voice file")
    with History(args.history or default_history()) as uploads:
        if news := uploads.news():
            err(news)
        upload = resolve_audio(args.audio, account(args), uploads, args.name)
    how = "already uploaded under that name: reusing it" if upload.reused else "uploaded"
    err(f"{upload.file_name}: {how}")
    out(upload.file_id)
    err(f'next: put file_id = "{upload.file_id}" in campaign.toml (or pass --file-id)')
    return int(ExitCode.OK)
