"""The features built apart, tried together as a team of campaign owners uses them: the page's
search over a shared call history and the do-not-call register, and the history unreachable."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.web import Api, call
from tests.test_web import serving


@pytest.fixture
def folder(tmp_path) -> Path:
    path = tmp_path / "campaigns"
    path.mkdir()
    return path


def test_the_search_says_the_history_is_unreachable_not_that_the_number_is_wrong(folder):
    # a team's database that is down: the search said "“9876543207” is not a phone number
    # batcher would call", with the hint to type the number with its country code
    config = folder.parent / "campaign.toml"
    config.write_text('history = "postgresql://team:pw-never-shown@127.0.0.1:1/team"\n')
    with serving(folder, config=config) as (server, _):
        api = Api(server)
        answer = api.get("/api/search?number=%2B919876543207")
        assert answer.status == 503
        assert "cannot be reached" in answer.json()["error"]
        page = api.get("/search?number=%2B919876543207")
        assert page.status == 503
        assert "not a phone number" not in page.text and "country code" not in page.text
        assert "The call history could not be searched" in page.text
        assert "start the database server" in page.text
        zh = call(
            "GET",
            f"{server.url}/search?number=%2B919876543207",
            headers={**api.auth, "Accept-Language": "zh-CN"},
        )
        assert zh.status == 503 and "不是 batcher 会拨打的电话号码" not in zh.text
        assert "无法查询呼叫历史" in zh.text and "请启动数据库服务器" in zh.text
        assert "pw-never-shown" not in page.text + zh.text + answer.text


def test_the_search_says_a_number_is_on_the_register_and_why(folder, tmp_path):
    # "may it be called?" was answered only by the calls: a number the callee asked off (or
    # added by hand) read as any other called number, with no word of the register
    from batcher import register
    from batcher.history import History
    from batcher.settings import default_history

    with History(default_history()) as history:
        register.add(history, ["919876543208"], 1_796_500_000.0, by="ops@desk")
    with serving(folder) as (server, _):
        api = Api(server)
        found = api.get("/api/search?number=%2B919876543208").json()
        assert found["called"] is False and found["on_register"] is True
        (entry,) = found["register"]
        assert entry["why"] == "added" and entry["by"] == "ops@desk"
        assert entry["at"] == "2026-12-05T19:46:40Z" and entry["endpoint"] == "*"
        page = api.get("/search?number=%2B919876543208").text
        assert "On the do-not-call register" in page and "ops@desk" in page
        assert "batcher dnc remove +919876543208" in page
        zh = call(
            "GET",
            f"{server.url}/search?number=%2B919876543208",
            headers={**api.auth, "Accept-Language": "zh-CN"},
        ).text
        assert "在免打扰名单上" in zh and "On the do-not-call register" not in zh
        free = api.get("/api/search?number=%2B919876543209").json()
        assert free["on_register"] is False and free["register"] == []
        assert "On the do-not-call register" not in api.get("/search?number=%2B919876543209").text
