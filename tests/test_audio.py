"""Audio upload over the sandbox on loopback: name rules, upload, reuse by name, file errors."""

from __future__ import annotations

import hashlib

import pytest

from batcher.errors import StoppedByAPI, UsageError
from batcher.followup.audio import (
    MAX_AUDIO_BYTES,
    check_audio_name,
    resolve_audio,
)
from batcher.history import History
from batcher.settings import Account, Credentials
from batcher.voiceapi.simulator import SEED_FILE_ID, SEED_FILE_NAME

GOOD = Credentials("sandbox-key", "sandbox-secret")
SOUND = b"ID3\x03\x00\x00\x00\x00\x00\x0f" + bytes(range(256)) * 4  # an mp3-ish blob


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("a.mp3", None),  # 5 characters: the shortest allowed
        ("promo.MP3", None),
        ("voice.m4a", None),
        ("voice.wav", None),
        ("x" * 28 + ".wav", None),  # 32 characters: the longest allowed
        ("a.mp", "does not end in"),
        (".mp3", "4 characters"),
        ("promo.ogg", "does not end in"),
        ("promo", "does not end in"),
        ("x" * 29 + ".wav", "33 characters"),
        ("ab.m", "does not end in"),
    ],
)
def test_name_rules(name, problem):
    if problem is None:
        check_audio_name(name)
        return
    with pytest.raises(UsageError) as caught:
        check_audio_name(name)
    assert problem in str(caught.value) and caught.value.hint


@pytest.fixture
def uploads(tmp_path):
    """Where batcher records which recording each uploaded name stands for."""
    with History(tmp_path / "history.sqlite") as history:
        yield history


def test_upload_then_the_same_recording_is_reused(make_sandbox, tmp_path, uploads):
    sandbox = make_sandbox()
    audio = tmp_path / "promo.mp3"
    audio.write_bytes(SOUND)
    first = resolve_audio(audio, Account(sandbox.url, GOOD), uploads)
    assert not first.reused and first.file_name == "promo.mp3"
    assert first.file_id.endswith(".mp3") and first.file_id != SEED_FILE_ID
    second = resolve_audio(audio, Account(sandbox.url, GOOD), uploads)
    assert second.reused and second.file_id == first.file_id
    statuses = [(r.endpoint, r.status) for r in sandbox.requests]
    assert statuses == [("fileQuery", "0"), ("fileUpload", "0"), ("fileQuery", "0")]
    assert resolve_audio(audio, Account(sandbox.url, GOOD), uploads).file_id == first.file_id


def test_a_re_recorded_file_under_the_same_name_is_refused(make_sandbox, tmp_path, uploads):
    sandbox = make_sandbox()
    audio = tmp_path / "promo.mp3"
    audio.write_bytes(SOUND)
    resolve_audio(audio, Account(sandbox.url, GOOD), uploads)
    audio.write_bytes(SOUND + b"re-recorded")
    with pytest.raises(
        UsageError,
        match=r"a different recording is already uploaded as "
        r"promo\.mp3",
    ) as refused:
        resolve_audio(audio, Account(sandbox.url, GOOD), uploads)
    assert "another name" in refused.value.hint
    assert [r.endpoint for r in sandbox.requests].count("fileUpload") == 1
    # under another name it uploads, and that name now stands for the new recording
    assert not resolve_audio(audio, Account(sandbox.url, GOOD), uploads, name="promo-v2.mp3").reused


def test_the_answer_of_an_upload_lost_then_retried_is_reused(make_sandbox, tmp_path, uploads):
    sandbox = make_sandbox()
    audio = tmp_path / "promo.mp3"
    audio.write_bytes(SOUND)
    first = resolve_audio(audio, Account(sandbox.url, GOOD), uploads)
    again = resolve_audio(audio, Account(sandbox.url, GOOD), uploads)
    assert again.reused and again.file_id == first.file_id


def test_upload_under_another_name(make_sandbox, tmp_path, uploads):
    sandbox = make_sandbox()
    audio = tmp_path / "a very long recording name of the spring sale.mp3"
    audio.write_bytes(SOUND)
    with pytest.raises(UsageError, match="characters long"):
        resolve_audio(audio, Account(sandbox.url, GOOD), uploads)
    upload = resolve_audio(audio, Account(sandbox.url, GOOD), uploads, name="spring.mp3")
    assert upload.file_name == "spring.mp3" and not upload.reused


def test_a_name_batcher_did_not_upload_is_not_trusted(make_sandbox, tmp_path, uploads):
    sandbox = make_sandbox()
    audio = tmp_path / SEED_FILE_NAME
    audio.write_bytes(SOUND)
    with pytest.raises(UsageError, match=r"which batcher\s+did not upload") as refused:
        resolve_audio(audio, Account(sandbox.url, GOOD), uploads)
    assert f'file_id = "{SEED_FILE_ID}"' in refused.value.hint
    assert [r.endpoint for r in sandbox.requests] == ["fileQuery"]


def test_resolve_uploads_a_new_name_once(make_sandbox, tmp_path, uploads):
    sandbox = make_sandbox()
    audio = tmp_path / "sale.wav"
    audio.write_bytes(b"RIFF" + SOUND)
    first = resolve_audio(audio, Account(sandbox.url, GOOD), uploads)
    again = resolve_audio(audio, Account(sandbox.url, GOOD), uploads)
    assert not first.reused and again.reused and again.file_id == first.file_id
    assert [r.endpoint for r in sandbox.requests].count("fileUpload") == 1


def test_resolve_pages_through_many_files(make_sandbox, tmp_path, uploads):
    sandbox = make_sandbox()
    for i in range(230):
        sandbox.add_file(f"id-{i:03d}.mp3", f"file{i:03d}.mp3")
    audio = tmp_path / "file229.mp3"
    audio.write_bytes(SOUND)
    uploads.record_upload(
        sandbox.url, "file229.mp3", hashlib.sha256(SOUND).hexdigest(), "id-229.mp3", 0.0
    )
    assert resolve_audio(audio, Account(sandbox.url, GOOD), uploads).file_id == "id-229.mp3"
    pages = [r for r in sandbox.requests if r.endpoint == "fileQuery"]
    assert len(pages) == 3  # 231 files, 100 to a page


def test_a_skewed_clock_is_corrected(make_sandbox, tmp_path, uploads):
    sandbox = make_sandbox(clock_offset=-900)
    audio = tmp_path / "promo.mp3"
    audio.write_bytes(SOUND)
    upload = resolve_audio(audio, Account(sandbox.url, GOOD), uploads)
    assert not upload.reused
    # fileQuery -16 (its Date header gives the server's clock), then everything passes
    assert [r.status for r in sandbox.requests] == ["-16", "0", "0"]


def test_missing_empty_and_oversized_files(make_sandbox, tmp_path, uploads):
    sandbox = make_sandbox()
    with pytest.raises(UsageError, match="no such audio file"):
        resolve_audio(tmp_path / "gone.mp3", Account(sandbox.url, GOOD), uploads)
    with pytest.raises(UsageError, match="no such audio file"):
        resolve_audio(tmp_path / "gone.mp3", Account(sandbox.url, GOOD), uploads)
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    with pytest.raises(UsageError, match="empty"):
        resolve_audio(empty, Account(sandbox.url, GOOD), uploads)
    big = tmp_path / "big.mp3"
    with big.open("wb") as handle:
        handle.truncate(MAX_AUDIO_BYTES + 1)  # sparse: nothing is really written
    with pytest.raises(UsageError, match="too large") as caught:
        resolve_audio(big, Account(sandbox.url, GOOD), uploads)
    assert "20 MB" in caught.value.hint
    folder = tmp_path / "folder.mp3"
    folder.mkdir()
    with pytest.raises(UsageError, match="not a file"):
        resolve_audio(folder, Account(sandbox.url, GOOD), uploads)
    assert sandbox.requests == []  # nothing reached the API


def test_a_wrong_secret_stops_with_the_fix(make_sandbox, tmp_path, uploads):
    sandbox = make_sandbox()
    audio = tmp_path / "promo.mp3"
    audio.write_bytes(SOUND)
    with pytest.raises(StoppedByAPI) as caught:
        resolve_audio(
            audio, Account(sandbox.url, Credentials("sandbox-key", "CANARY-4711")), uploads
        )
    assert "BATCHER_API_SECRET" in caught.value.hint
    assert "CANARY" not in str(caught.value)
