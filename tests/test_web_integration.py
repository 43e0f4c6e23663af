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
