"""Settings: flags over campaign.toml over defaults, every check in the constructors."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from batcher.errors import InputError, UsageError
from batcher.settings import (
    CONFIG_KEYS,
    DEFAULT_BASE_URL,
    DEFAULT_CREDENTIALS_FILE,
    Campaign,
    Credentials,
    Price,
    Settings,
    Window,
    check_input_file,
    load_config,
    load_credentials,
    parse_duration,
    resolve_endpoint,
)


@pytest.fixture
def contacts_file(tmp_path) -> Path:
    path = tmp_path / "contacts.csv"
    path.write_text("phone\n+919856321412\n")
    return path


def settings(options: dict, config: str | None = None, tmp: Path | None = None, **kwargs):
    path = None
    if config is not None:
        path = tmp / "campaign.toml"
        path.write_text(config)
    return Settings.from_options(options, path, **kwargs)


def test_defaults_and_the_paths_beside_the_input(contacts_file):
    got = Settings.from_options({"input": contacts_file, "dry_run": True})
    # the pipeline names them once it knows the campaign: FILE-results.xlsx (FILE-plan.xlsx
    # for a dry run) and CAMPAIGN.journal beside it
    assert got.output is None and got.journal is None
    assert got.campaign_name is None and got.cooldown == 24 * 3600 and not got.allow_repeat
    assert got.history.path == Path(os.environ["BATCHER_HISTORY"])
    assert (got.account.base_url, got.chunk_size, got.concurrency, got.account.timeouts.send) == (
        DEFAULT_BASE_URL,
        1000,
        8,
        60.0,
    )
    assert got.account.credentials is None and got.price is None and got.region is None


def test_flags_win_over_campaign_toml_which_wins_over_defaults(contacts_file, tmp_path):
    got = settings(
        {"input": contacts_file, "dry_run": True, "concurrency": 4, "app_id": None},
        'app_id = "from-toml"\nconcurrency = 2\nchunk_size = 200\n',
        tmp_path,
    )
    assert (got.campaign.app_id, got.concurrency, got.chunk_size) == ("from-toml", 4, 200)


def test_paths_in_campaign_toml_are_relative_to_it(contacts_file, tmp_path):
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "dnc.csv").write_text("phone\n")
    got = settings(
        {"input": contacts_file, "dry_run": True},
        'suppress = "lists/dnc.csv"\naudio = "promo.mp3"\n',
        tmp_path,
    )
    assert got.suppress == (tmp_path / "lists" / "dnc.csv",)
    assert got.audio == tmp_path / "promo.mp3"


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"chunk_size": 5000}, "from 1 to 1000"),
        ({"concurrency": 0}, "from 1 to 64"),
        ({"limit": -1}, "0 or more"),
        ({"rate": 0.0}, "more than 0"),
        ({"read_timeout": 0.0}, "more than 0 seconds"),
        ({"base_url": "http://api.example.com"}, "https://"),
        ({"output": "out.csv"}, "must end in .xlsx"),
        ({"window": "9-5pm"}, "HH:MM-HH:MM"),
        ({"suppress": ["nope.csv"]}, "no such do-not-call list"),
        # a value of the wrong type is a UsageError, not an internal TypeError
        ({"limit": "ten"}, "not a whole number"),
        ({"rate": "fast"}, "not a number"),
        ({"suppress": [3]}, "not a list of files"),
    ],
)
def test_bad_options_are_usage_errors(contacts_file, options, fragment):
    with pytest.raises(UsageError, match=fragment):
        Settings.from_options({"input": contacts_file, "dry_run": True, **options})


def test_counts_in_campaign_toml_are_whole_numbers(contacts_file, tmp_path):
    got = settings({"input": contacts_file, "dry_run": True}, 'max_duration = "30"\n', tmp_path)
    assert got.campaign.max_duration == 30
    with pytest.raises(UsageError, match="loop_count = 'twice' is not a whole number"):
        settings({"input": contacts_file, "dry_run": True}, 'loop_count = "twice"\n', tmp_path)


def test_a_region_is_resolved_by_the_function_given(contacts_file):
    regions = {"india": "IN"}.get
    got = Settings.from_options(
        {"input": contacts_file, "dry_run": True, "region": "india"}, resolve_region=regions
    )
    assert got.region == "IN"
    with pytest.raises(UsageError, match="ISO 3166"):
        Settings.from_options(
            {"input": contacts_file, "dry_run": True, "region": "XX"}, resolve_region=regions
        )


def test_an_unknown_option_is_a_programming_error(contacts_file):
    with pytest.raises(TypeError, match="chunksize"):
        Settings.from_options({"input": contacts_file, "chunksize": 3})


def test_direct_construction_is_checked_too(tmp_path):
    with pytest.raises(UsageError, match="from 1 to 64"):
        Settings(
            input=tmp_path / "c.xlsx",
            output=tmp_path / "o.xlsx",
            journal=tmp_path / "o.journal",
            campaign=Campaign(),
            concurrency=100,
        )


def test_audio_and_file_id_together_are_refused(contacts_file, tmp_path):
    with pytest.raises(UsageError, match="both audio and file_id"):
        settings(
            {"input": contacts_file, "dry_run": True, "file_id": "f"},
            'audio = "promo.mp3"\n',
            tmp_path,
        )


def test_a_missing_file_and_a_folder_are_both_input_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        check_input_file(tmp_path / "nope.xlsx")
    with pytest.raises(InputError, match="is a folder"):
        check_input_file(tmp_path)


def test_credentials_come_from_the_environment_given(contacts_file):
    environ = {"BATCHER_API_KEY": "key-4711", "BATCHER_API_SECRET": "secret-0815"}
    got = Settings.from_options({"input": contacts_file}, environ=environ)
    assert got.account.credentials == Credentials("key-4711", "secret-0815")
    assert "4711" not in repr(got) and "0815" not in repr(got)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"BATCHER_API_KEY": "key-4711"}, "BATCHER_API_SECRET is not set (BATCHER_API_KEY is)"),
        ({"BATCHER_API_SECRET": "key-4711"}, "BATCHER_API_KEY is not set (BATCHER_API_SECRET is)"),
    ],
)
def test_half_a_pair_says_which_is_missing(environ, message):
    with pytest.raises(UsageError) as caught:
        load_credentials(None, environ)
    assert caught.value.message == message
    assert "4711" not in str(caught.value)  # never echoes the value that is set


def test_the_way_out_is_only_offered_where_it_exists():
    with pytest.raises(UsageError) as caught:
        load_credentials(None, {})
    assert str(DEFAULT_CREDENTIALS_FILE) in caught.value.hint
    assert "--sandbox" not in caught.value.hint
    with pytest.raises(UsageError) as caught:
        load_credentials(None, {}, other_ways="; or try --sandbox or --dry-run")
    assert caught.value.hint.endswith("or try --sandbox or --dry-run")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("24h", 86400),
        ("1d", 86400),
        ("1h30m", 5400),
        ("1.5h", 5400),
        (" 10M ", 600),
    ],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "m", "30 m", "-5m", "5w", "1h 30m", "abc"])
def test_bad_durations_name_the_fix(text):
    with pytest.raises(UsageError, match="not a duration") as caught:
        parse_duration(text, "--cooldown")
    assert "--cooldown 30m" in caught.value.hint


def test_price_is_checked_and_prices_per_country():
    price = Price.from_config({"per_call": 0.01, "countries": {"in": 0.004}})
    assert price.per_number("IN") == 0.004 and price.per_number("GB") == 0.01
    assert price.per_number(None) == 0.01
    per_minute = Price(per_minute=0.02, minutes=1.5)
    assert per_minute.per_number("US") == pytest.approx(0.03)
    assert Price.from_config(None) is None
    assert not Price().priced and Price(countries={"IN": 1}).priced


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ({"per_call": 0.01, "per_minute": 0.02}, "both per_call and per_minute"),
        ({"per_cal": 0.01}, "takes per_call or per_minute"),
        ({"per_call": -1}, "0 or more"),
        ({"per_call": "cheap"}, "0 or more"),
        ({"countries": {"India": 0.1}}, "alpha-2"),
        ({"countries": {"IN": "x"}}, "0 or more"),
        ({"countries": 3}, "must be a table"),
    ],
)
def test_bad_price_tables(table, fragment):
    with pytest.raises(UsageError, match=fragment):
        Price.from_config(table)


def test_price_per_number_by_region(contacts_file, tmp_path):
    got = settings(
        {"input": contacts_file, "dry_run": True},
        "[price]\nper_minute = 0.02\nminutes = 2\ncountries = { IN = 0.01 }\n",
        tmp_path,
    )
    price = got.price
    assert price.priced
    assert price.per_number("IN") == 0.02 and price.per_number("GB") == 0.04


def test_the_next_issues_keys_are_accepted_and_their_durations_checked(tmp_path):
    path = tmp_path / "campaign.toml"
    path.write_text(
        'campaign = "spring"\nhistory = "h.sqlite"\ncooldown = "24h"\n'
        'phone_columns = ["a", "b"]\nsettle = "10m"\npace = ""\n'
        '[redial]\nattempts = 2\nafter = "30m"\non = ["busy"]\n'
    )
    assert load_config(path)["cooldown"] == "24h"
    path.write_text('cooldown = "a day"\n')
    with pytest.raises(UsageError, match="not a duration"):
        load_config(path)
    path.write_text("[redial]\ntimes = 2\n")
    with pytest.raises(UsageError, match=r"\[redial\] takes"):
        load_config(path)


def test_unknown_keys_and_secrets_in_campaign_toml(tmp_path):
    path = tmp_path / "campaign.toml"
    path.write_text("app_idd = 1\n")
    with pytest.raises(UsageError, match="app_idd"):
        load_config(path)
    path.write_text('api_secret = "s"\n')
    with pytest.raises(UsageError, match="credentials do not belong"):
        load_config(path)
    assert "cooldown" in CONFIG_KEYS and "redial" in CONFIG_KEYS


def test_endpoint_for_the_account_commands(tmp_path):
    path = tmp_path / "campaign.toml"
    path.write_text('base_url = "https://other.example/v3/"\n')
    assert resolve_endpoint(None) == DEFAULT_BASE_URL
    assert resolve_endpoint(None, path) == "https://other.example/v3"
    assert resolve_endpoint("https://flag.example", path) == "https://flag.example"
    assert resolve_endpoint(None, None, "https://journal.example") == "https://journal.example"
    with pytest.raises(UsageError, match="sandbox"):
        resolve_endpoint(None, None, "sandbox")


def test_window_wraps_midnight():
    from datetime import time

    night = Window.parse("22:00-06:00")
    assert night.contains(time(23)) and night.contains(time(5)) and not night.contains(time(7))


def test_settings_imports_nothing_of_batcher_but_errors():
    package = Path(__file__).parent.parent / "batcher" / "settings"
    imported = set()
    for source in sorted(package.rglob("*.py")):  # the package's own submodules aside
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    ours = {m for m in imported if m.startswith("batcher")}
    assert {m for m in ours if not m.startswith("batcher.settings.")} == {"batcher.errors"}
