"""One round decided in one place: `batcher plan` and the page's check ask the same decide().

A campaign with every kind of hold at once — a redial policy whose records were fetched, a
calling window closed for some of its numbers, numbers another campaign called within the
cooldown, and a do-not-call list — must read the same whichever client asks.
"""

from __future__ import annotations

import ast
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from batcher.outcomes import Outcome
from batcher.voiceapi.simulator import CallShares
from batcher.web.campaigns import Folder
from tests.helpers import numbers, write_xlsx

pytestmark = pytest.mark.usefixtures("creds")
BATCHER = Path(__file__).resolve().parents[1] / "batcher"
BUSY = CallShares(answered=0, busy=1, no_answer=0, declined=0, unreachable=0)
GB = ["447911123456", "447911123457", "447911123458"]  # London: outside the window below


def _window_open_in_india_only() -> str:
    """An hour around the time of day in India now, which London (5.5 h behind) is outside."""
    india = datetime.now(UTC) + timedelta(hours=5, minutes=30)
    start, end = india - timedelta(minutes=30), india + timedelta(minutes=30)
    return f"{start:%H:%M}-{end:%H:%M}"


def _plan_figures(text: str) -> dict[str, object]:
    """to send now, the held counts and the redials, as `batcher plan` prints them."""
    sent = re.search(r"to send now: (\d+) numbers", text)
    held = re.search(r"held back: (.*)", text)
    redials = re.search(r"redials now: (\d+)", text)
    assert sent and redials, text
    counts = dict(
        (kind, int(n))
        for kind, n in (part.rsplit(" ", 1) for part in (held.group(1).split(", ") if held else []))
    )
    return {"to_send": int(sent.group(1)), "held": counts, "redials": int(redials.group(1))}


def test_the_plan_and_the_page_agree_on_every_kind_of_hold(make_sandbox, tmp_path, cli_streams):
    sandbox = make_sandbox(call_shares=BUSY, record_lag=0)
    india = numbers(8)
    folder = tmp_path / "campaigns"
    folder.mkdir()
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "dnc.csv").write_text(f"phone\n+{india[0]}\n")
    base = (
        f'base_url = "{sandbox.url}"\napp_id = "sandbox-app"\nfile_id = "sandbox-file-0001.mp3"\n'
    )
    other = write_xlsx(tmp_path / "other.xlsx", [["phone"], ["+" + india[1]], ["+" + india[2]]])
    done = cli_streams("run", other, "--yes", "--base-url", sandbox.url, "--app-id", "sandbox-app",
                       "--file-id", "sandbox-file-0001.mp3")  # fmt: skip
    assert done.code == 0, done.err
    config = folder / "campaign.toml"
    config.write_text(
        base
        + f'suppress = ["{tmp_path / "lists" / "dnc.csv"}"]\n'
        + f'window = "{_window_open_in_india_only()}"\n'
        + '[redial]\nattempts = 2\nafter = "1s"\non = ["busy"]\n'
    )
    contacts = write_xlsx(
        folder / "spring.xlsx", [["phone"], *(["+" + n] for n in india), *(["+" + n] for n in GB)]
    )
    ran = cli_streams("run", contacts, "--config", config, "--yes")
    assert ran.code in (0, 5), ran.err
    assert len(sandbox.accepted) == 2 + 5  # other's two, then spring's five in-window numbers
    fetched = cli_streams("records", folder / "spring-results.xlsx", "--base-url", sandbox.url)
    assert fetched.code == 0, fetched.err
    time.sleep(1.2)  # the redial's `after`

    planned = cli_streams("plan", contacts, "--config", config)
    assert planned.code == 0, planned.err
    plan = _plan_figures(planned.out + planned.err)
    page = Folder(folder, config, base_url=sandbox.url)
    check = page.check(page.record("spring"))
    figures = check.figures
    seen = {
        "to_send": figures.to_send,
        "held": {str(k): v for k, v in figures.held.items() if v},
        "redials": len(check.choice.redials),
    }
    assert seen == plan
    assert plan == {
        "to_send": 5,
        "held": {
            str(Outcome.SUPPRESSED): 1,
            str(Outcome.RECENTLY_CALLED): 2,
            str(Outcome.DEFERRED): 3,
        },
        "redials": 5,
    }
    assert check.as_json()["redials"] == 5


def test_decide_is_the_only_place_a_round_is_chosen():
    """No client assembles a round of its own: `choose` and `forecast` are called by
    decide() alone."""
    callers = {}
    for path in BATCHER.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            name = getattr(getattr(node, "func", None), "id", None)
            if isinstance(node, ast.Call) and name in ("choose", "forecast"):
                callers.setdefault(name, set()).add(path.name)
    assert callers == {"choose": {"decide.py"}, "forecast": {"decide.py"}}
