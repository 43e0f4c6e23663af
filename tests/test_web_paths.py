"""No name from a request decides a path: uploads kept under names batcher chooses, checked
before they are moved, never over another file; do-not-call lists from inside the folder
only; hostile names answered, never a 500; a client that leaves logs no traceback."""

from __future__ import annotations

import logging
import socket
import time
import uuid
from pathlib import Path

import pytest

from batcher.journal import Journal
from tests.helpers import numbers, write_xlsx
from tests.helpers.web import Answer, Api, call
from tests.test_web import serving


@pytest.fixture
def folder(tmp_path) -> Path:
    path = tmp_path / "campaigns"
    path.mkdir()
    return path


def _contacts(path: Path, count: int) -> Path:
    return write_xlsx(
        path, [["Name", "Phone"], *([f"n{i}", f"+{n}"] for i, n in enumerate(numbers(count)))]
    )


def _upload(api: Api, parts: list[tuple[str, str | None, bytes]], disposition: str = "") -> Answer:
    """POST /api/campaigns with parts (field, file name or None for a text field, bytes); a
    file name is written into the header as it is (NUL, CR/LF and all) unless `disposition`
    gives the header's tail."""
    boundary = uuid.uuid4().hex
    body = b""
    for name, filename, content in parts:
        header = f'Content-Disposition: form-data; name="{name}"'.encode()
        if filename is not None:
            header += disposition.encode() or f'; filename="{filename}"'.encode(
                "utf-8", "surrogateescape"
            )
        body += f"--{boundary}\r\n".encode() + header + b"\r\n\r\n" + content + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return call(
        "POST",
        f"{api.server.url}/api/campaigns",
        headers=api.auth,
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def _names(api: Api) -> list[str]:
    return [c["name"] for c in api.get("/api/campaigns").json()["campaigns"]]


def _files(folder: Path) -> set[str]:
    """Every file of the folder but the page's own state."""
    return {
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file() and ".batcher-web" not in p.parts
    }


def _dnc(tmp_path: Path, number: str) -> bytes:
    return f"phone\n+{number}\n".encode()


# -- uploads never replace a file ------------------------------------------------------------


@pytest.mark.parametrize("field", ["audio", "dnc"])
def test_an_upload_named_like_a_journal_never_replaces_it(folder, tmp_path, field):
    victim = _contacts(tmp_path / "victim.xlsx", 3)
    other = _contacts(tmp_path / "other.xlsx", 2)
    with serving(folder) as (server, _):
        api = Api(server)
        assert api.create(victim).status == 201
        with Journal(folder / "victim.journal"):
            pass
        before = (folder / "victim.journal").read_bytes()
        answer = _upload(
            api, [("file", "other.xlsx", other.read_bytes()), (field, "victim.journal", b"junk")]
        )
        assert answer.status == 422, answer.text
        assert (folder / "victim.journal").read_bytes() == before
        assert api.get("/api/campaigns/victim").status == 200
        assert "victim" in _names(api) and "other" not in _names(api)


def test_a_do_not_call_list_named_like_a_campaigns_file_is_kept_apart(folder, tmp_path):
    inject = tmp_path / "inject.csv"
    inject.write_text("phone\n" + "".join(f"+{n}\n" for n in numbers(5)))
    other = _contacts(tmp_path / "other.xlsx", 2)
    with serving(folder) as (server, _):
        api = Api(server)
        assert api.create(inject).json()["plan"]["rows"] == 5
        answer = _upload(
            api,
            [
                ("file", "other.xlsx", other.read_bytes()),
                ("dnc", "inject.csv", _dnc(tmp_path, numbers(2)[0])),
            ],
        )
        assert answer.status == 201, answer.text
        assert answer.json()["plan"]["to_send"] == 1  # the list is read: one number suppressed
        assert api.campaign("inject")["plan"]["rows"] == 5  # its spreadsheet is untouched
        assert {"other/contacts.xlsx", "other/dnc-1.csv"} <= _files(folder)


def test_a_refused_upload_leaves_no_campaign_and_no_file(folder, tmp_path):
    contacts = _contacts(tmp_path / "z4.xlsx", 2)
    with serving(folder) as (server, _):
        api = Api(server)
        refused = _upload(
            api,
            [
                ("file", "z4.xlsx", contacts.read_bytes()),
                ("audio", "xss.journal", b"not a recording"),
                ("window", None, b"late"),
            ],
        )
        assert refused.status == 422
        bad_list = _upload(
            api,
            [("file", "z4.xlsx", contacts.read_bytes()), ("dnc", "z5.journal", b"\x00\x01")],
        )
        assert bad_list.status == 422
        assert _names(api) == []
    assert _files(folder) == set()
    assert not list((folder / ".batcher-web" / "uploads").iterdir())


def test_files_are_kept_in_the_campaigns_folder_and_the_cli_finds_them(folder, tmp_path):
    contacts = _contacts(tmp_path / "team.xlsx", 3)
    with serving(folder) as (server, _):
        api = Api(server)
        parts = [
            ("file", "team.xlsx", contacts.read_bytes()),
            ("audio", "promo.mp3", b"ID3" + b"\x00" * 64),
            ("dnc", "list.csv", _dnc(tmp_path, numbers(3)[0])),
        ]
        assert _upload(api, parts).status == 201
        again = _upload(api, parts)  # the same campaign again: its own file replaced
        assert again.status == 201 and again.json()["plan"]["to_send"] == 2
        command = api.campaign("team")["command"]
    assert _files(folder) == {
        "team.campaign.toml",
        "team/contacts.xlsx",
        "team/promo.mp3",
        "team/dnc-1.csv",
        "team/dnc-2.csv",
    }
    assert command[2] == str(folder.resolve() / "team" / "contacts.xlsx")
    assert command[command.index("--campaign") + 1] == "team"
    assert command[command.index("--journal") + 1] == str(folder.resolve() / "team.journal")
    toml = (folder / "team.campaign.toml").read_text()
    assert str(folder.resolve() / "team" / "promo.mp3") in toml


def test_a_campaign_uploaded_before_keeps_its_files_at_the_top(folder, tmp_path):
    import json

    legacy = _contacts(folder / "old.xlsx", 3)
    state = folder / ".batcher-web"
    state.mkdir()
    (state / "old.json").write_text(
        json.dumps({"name": "old", "input": str(legacy), "config": None, "options": {}})
    )
    with serving(folder) as (server, _):
        api = Api(server)
        assert api.campaign("old")["plan"]["rows"] == 3
        assert api.campaign("old")["command"][2] == str(legacy)


# -- do-not-call lists from inside the folder only ------------------------------------------


def test_a_do_not_call_path_outside_the_folder_is_answered_as_a_missing_one(folder, tmp_path):
    outside = tmp_path / "data"
    outside.mkdir()
    (outside / "dnc.csv").write_text("phone\n+8613800138000\n")
    (folder / "link.csv").symlink_to(outside / "dnc.csv")
    (folder / "inside.csv").write_text("phone\n+8613800138000\n")
    contacts = _contacts(tmp_path / "c.xlsx", 2).read_bytes()
    with serving(folder) as (server, _):
        api = Api(server)
        answers = {}
        for listed in ("../data/dnc.csv", "/etc/passwd", "link.csv", "missing.csv"):
            answer = _upload(
                api, [("file", "c.xlsx", contacts), ("suppress", None, listed.encode())]
            )
            answers[listed] = (answer.status, answer.text.replace(listed, "LIST"))
        assert len(set(answers.values())) == 1, answers
        assert answers["missing.csv"][0] == 422
        assert _names(api) == []
        inside = _upload(api, [("file", "c.xlsx", contacts), ("suppress", None, b"inside.csv")])
        assert inside.status == 201, inside.text


# -- hostile names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "disposition",
    [
        '; filename="a\x00b.xlsx"',
        '; filename="a\rb.xlsx"',
        "; filename*=UTF-8''a%00b.xlsx",
        "; filename*=UTF-8''a%0D%0Ab.xlsx",
        '; filename="../../escape.xlsx"',
        '; filename="/etc/passwd.xlsx"',
        '; filename=".batcher-web.xlsx"',
        '; filename="' + "x" * 300 + '.xlsx"',
        '; filename="..xlsx"',
        '; filename="."',
    ],
)
def test_a_hostile_file_name_is_answered_never_a_500(folder, tmp_path, disposition):
    contacts = _contacts(tmp_path / "c.xlsx", 2).read_bytes()
    with serving(folder) as (server, _):
        api = Api(server)
        answer = _upload(api, [("file", "", contacts)], disposition)
        assert answer.status in (201, 400, 422), answer.text
        assert "Traceback" not in answer.text
        if answer.status == 201:
            name = answer.json()["id"]
            assert name and "/" not in name and not name.startswith(".")
            assert "\x00" not in name and "\r" not in name and "\n" not in name
            assert len(name) <= 120
            assert api.get(f"/api/campaigns/{name}").status == 200
    assert not (tmp_path / "escape.xlsx").exists()
    assert all(len(Path(f).parts) <= 2 for f in _files(folder))


# -- a client that goes away -----------------------------------------------------------------


def test_a_closed_progress_tab_logs_no_traceback(folder, tmp_path, caplog):
    contacts = _contacts(tmp_path / "tab.xlsx", 2)
    with serving(folder) as (server, _):
        assert Api(server).create(contacts).status == 201
        with caplog.at_level(logging.DEBUG, logger="aiohttp"):
            for _ in range(3):
                with socket.create_connection(("127.0.0.1", server.port)) as sock:
                    sock.sendall(
                        f"GET /api/campaigns/tab/events HTTP/1.1\r\nHost: x\r\n"
                        f"Authorization: Bearer {server.config.token}\r\n\r\n".encode()
                    )
                    assert b"event: counts" in sock.recv(65536) + sock.recv(65536)
            time.sleep(1.5)  # the stream writes again, to nobody
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not errors, [r.getMessage() for r in errors]
