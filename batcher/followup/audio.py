"""Audio: upload a voice file through `fileUpload`, or reuse the upload of the same recording.

    upload = resolve_audio(Path("promo.mp3"), Account(DEFAULT_BASE_URL, credentials), uploads)
    upload.file_id, upload.reused   # ('1202603016f1c...mp3', True) when promo.mp3 was uploaded

File names are unique per account (a second upload of a name is refused with -20), and the
vendor says nothing of an upload's content. So batcher records each upload's SHA-256 with its
name (in the call history file, per endpoint): the same name with the same content is reused;
the same name with other content, or a name batcher did not upload itself, is refused with
the fix, so an old message is never played in place of a re-recorded one.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from batcher.errors import ApiError, StoppedByAPI, UsageError
from batcher.settings import Account
from batcher.voiceapi.http import Api, connect

AUDIO_SUFFIXES = (".mp3", ".m4a", ".wav")
NAME_MIN, NAME_MAX = 5, 32  # characters, suffix included (API.md)
MAX_AUDIO_BYTES = 20 * 1024 * 1024  # base64 makes it a third larger on the wire


class Uploads(Protocol):
    """Where batcher remembers which recording each uploaded name stands for (History)."""

    def upload(self, endpoint: str, name: str) -> tuple[str, str] | None: ...

    def record_upload(
        self, endpoint: str, name: str, sha256: str, file_id: str, now: float
    ) -> None: ...


@dataclass(frozen=True)
class Upload:
    """An uploaded voice file: its fileId, its name, and whether an earlier upload was reused."""

    file_id: str
    file_name: str
    reused: bool


def check_audio_name(name: str) -> None:
    """Check a fileName against API.md: 5-32 characters with a .mp3, .m4a or .wav suffix."""
    if not name.lower().endswith(AUDIO_SUFFIXES):
        raise UsageError(
            f"audio file name {name!r} does not end in .mp3, .m4a or .wav",
            "convert the recording to mp3, m4a or wav (e.g. ffmpeg -i IN promo.mp3)",
        )
    if not NAME_MIN <= len(name) <= NAME_MAX:
        raise UsageError(
            f"audio file name {name!r} is {len(name)} characters long",
            f"the API takes {NAME_MIN}-{NAME_MAX} characters including the suffix: rename the "
            "file (or pass --name), e.g. promo.mp3",
        )


def resolve_audio(
    path: Path, account: Account, uploads: Uploads, name: str | None = None
) -> Upload:
    """What `audio = "promo.mp3"` does: reuse the upload of this recording, else upload it."""
    name = name or path.name
    check_audio_name(name)
    content = _read_audio(path)  # even when reused: a wrong path in campaign.toml must show
    digest = hashlib.sha256(content).hexdigest()
    endpoint = account.base_url
    upload = asyncio.run(
        _with_api(account, _resolve, name, content, uploads.upload(endpoint, name), digest)
    )
    uploads.record_upload(endpoint, name, digest, upload.file_id, time.time())
    return upload


async def _with_api(account: Account, work, *args):
    async with connect(account, "upload") as api:
        return await work(api, *args)


async def _resolve(
    api: Api, name: str, content: bytes, known: tuple[str, str] | None, digest: str
) -> Upload:
    file_id = await _find(api, name)
    if file_id is None:
        return await _upload(api, name, content, known, digest)
    return _reuse(name, file_id, known, digest)


def _reuse(name: str, file_id: str, known: tuple[str, str] | None, digest: str) -> Upload:
    """The account holds `name`: reuse it only when it is this very recording."""
    if known is not None and known[0] == digest:
        return Upload(file_id, name, reused=True)
    if known is not None:
        raise UsageError(
            f"a different recording is already uploaded as {name}",
            "give the new one another name (e.g. promo-v2.mp3, or batcher upload --name): "
            "campaigns would otherwise play the old message",
        )
    raise UsageError(
        f"the account already holds a file named {name} (fileId {file_id}), which batcher did "
        "not upload, so it cannot tell whether it is this recording",
        f'if it is, set file_id = "{file_id}" in campaign.toml instead of audio; if not, give '
        "this recording another name",
    )


async def _find(api: Api, name: str) -> str | None:
    """The fileId of the account's uploaded file of that name, or None."""
    for item in await api.pages("/voice/fileQuery"):
        if item.get("fileName") == name and item.get("fileId"):
            return str(item["fileId"])
    return None


async def _upload(
    api: Api, name: str, content: bytes, known: tuple[str, str] | None, digest: str
) -> Upload:
    body: dict[str, object] = {"fileName": name, "file": base64.b64encode(content).decode("ascii")}
    try:
        data = await api.call("POST", "/voice/fileUpload", body)
    except ApiError as exc:
        if exc.status == "-20":
            # taken: by an earlier upload, perhaps ours whose answer was lost
            file_id = await _find(api, name)
            if file_id:
                return _reuse(name, file_id, known, digest)
            raise UsageError(
                f"the API says a file named {name!r} exists, but fileQuery does not list it",
                "upload it under another name (--name)",
            ) from None
        if exc.status == "-21":
            raise UsageError(
                f"the API refused the audio {name!r} ({exc.reason})",
                "check it plays and really is mp3, m4a or wav; convert it with "
                "ffmpeg if need be, then upload again",
            ) from None
        raise StoppedByAPI(
            f"fileUpload refused: {exc}", "check --base-url, then try again in a few minutes"
        ) from None
    if not isinstance(data, str) or not data:
        raise StoppedByAPI(
            "fileUpload answered success without a fileId",
            f"look the file up in the vendor console, or run batcher upload "
            f"again: the name {name!r} will then be reused",
        )
    return Upload(data, name, reused=False)


def _read_audio(path: Path) -> bytes:
    """The file's bytes, or a UsageError naming the file and the fix."""
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise UsageError(f"{path}: not a file", "give the path of an mp3, m4a or wav file")
        if size > MAX_AUDIO_BYTES:
            raise UsageError(
                f"{path}: {size / 1024 / 1024:.1f} MB is too large to upload",
                f"keep it under {MAX_AUDIO_BYTES // 1024 // 1024} MB: shorten it or lower its "
                "bit rate (e.g. ffmpeg -i IN -b:a 64k promo.mp3)",
            )
        content = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(
            f"{path}: no such audio file", "check the path (or audio = in campaign.toml)"
        ) from None
    except OSError as exc:
        raise UsageError(
            f"{path}: cannot be read ({exc.strerror})", "check the file's permissions"
        ) from None
    if not content:
        raise UsageError(f"{path}: the file is empty", "give the path of a real recording")
    return content
