"""What the README promises, kept equal to what the code and templates do."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from batcher.settings import CONFIG_KEYS, DEFAULT_HISTORY, REDIAL_KEYS, Price, load_config

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
TEMPLATE = ROOT / "templates" / "campaign.toml"


def _section(title: str) -> str:
    start = README.index(title)
    end = README.index("\n### ", start + len(title))
    return README[start:end]


def _uncommented(text: str) -> str:
    """The template with every commented setting switched on (its documented default)."""
    lines = []
    for line in text.splitlines():
        match = re.match(r"#\s?((?:[a-z_]+\s*=|\[[a-z_]+\]).*)", line)
        lines.append(match.group(1) if match else line)
    return "\n".join(lines)


def _template_keys() -> dict[str, object]:
    return tomllib.loads(_uncommented(TEMPLATE.read_text()))


def _readme_keys() -> set[str]:
    section = _section("### campaign.toml")
    listed = re.search(r"a key of the same name \((.*?)\)", section, re.S).group(1)
    prose = set(re.findall(r"`([a-z_]+)`", listed))
    blocks = re.findall(r"```toml\n(.*?)```", section, re.S)
    return prose.union(*(tomllib.loads(block) for block in blocks))


def test_the_template_documents_every_key_the_readme_lists():
    assert set(_template_keys()) == _readme_keys()


def test_the_template_and_readme_know_exactly_the_keys_settings_accepts():
    assert set(_template_keys()) == CONFIG_KEYS


def test_every_default_in_the_template_is_accepted(tmp_path):
    path = tmp_path / "campaign.toml"
    path.write_text(_uncommented(TEMPLATE.read_text()))
    config = load_config(path)
    assert set(config["redial"]) == REDIAL_KEYS
    assert set(config["price"]) == {"per_call", "per_minute", "minutes", "countries"}
    assert config["history"] == str(DEFAULT_HISTORY)
    assert (config["cooldown"], config["settle"], config["redial"]["after"]) == (
        "24h",
        "10m",
        "30m",
    )
    assert config["redial"]["on"] == ["busy", "no-answer"] and config["redial"]["attempts"] == 1
    # the template as shipped (nothing switched on) is valid too
    assert set(load_config(TEMPLATE)) == {"app_id", "file_id"}


def test_the_readme_price_example_is_a_valid_price():
    section = _section("### campaign.toml")
    block = re.findall(r"```toml\n(.*?)```", section, re.S)[0]
    assert Price.from_config(tomllib.loads(block)["price"]).per_number("IN") == 0.004


def test_ci_runs_ruff_and_mypy_then_exactly_the_readme_test_command():
    """The README's commands make their own virtual environment (a stock Debian or Ubuntu
    python3 refuses `pip install` outside one), and CI runs the second one as written."""
    run, test = README.split("```sh\n", 1)[1].splitlines()[:2]
    venv = "python3 -m venv .venv && .venv/bin/pip install "
    assert run.startswith(venv + ". && .venv/bin/python -m batcher run samples/contacts.xlsx")
    assert test == venv + "'.[test]' && .venv/bin/python -m pytest"
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in ci
    checks = [".venv/bin/ruff check .", ".venv/bin/ruff format --check .", ".venv/bin/mypy"]
    assert [ci.index(c) for c in checks] == sorted(ci.index(c) for c in checks)
    assert ci.index(checks[-1]) < ci.index(test)


def test_ruff_is_pinned_in_the_test_extra():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(
        re.fullmatch(r"ruff==\d+\.\d+\.\*", d) for d in project["optional-dependencies"]["test"]
    )
