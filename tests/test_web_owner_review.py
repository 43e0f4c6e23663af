"""The owner's views checked end to end as a campaign owner and a security reviewer would, over
real HTTP against the sandbox: counts that agree between the list, the progress page and the
records' report; every new route behind the token and CSRF; hostile search input; archive names
that are no campaign; the push secret never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.web import Api
from tests.test_web import _contacts, serving
from tests.test_web_views import _form


@pytest.fixture
def folder(tmp_path) -> Path:
    path = tmp_path / "campaigns"
    path.mkdir()
    return path


# -- counts that add up ------------------------------------------------------------------------


def test_callees_who_pressed_the_opt_out_key_are_counted_opted_out(folder, tmp_path):
    config = folder.parent / "campaign.toml"
    config.write_text('opt_out_key = "9"\n')
    # the calls to the numbers ending in 03 and 07 are answered with the opt-out key pressed
    with serving(folder, config=config, keypresses={"03": "9", "07": "9"}) as (server, _):
        api = Api(server)
        assert api.create(_contacts(tmp_path / "spring.xlsx", 10)).status == 201
        assert api.send("spring").status == 202
        api.wait("spring")
        fetched = _form(server, "/campaigns/spring/records", server.config.csrf)
        assert fetched.status == 303
        live = api.wait("spring", until=lambda live: any("workbook:" in o for o in live["output"]))
        # the records' report said 2 pressed the key; the page said "Opted out 0" everywhere
        assert any("2 callees pressed the opt-out key" in line for line in live["output"])
        assert live["campaign"]["opted_out"] == 2
        listed = api.get("/api/campaigns").json()["campaigns"]
        assert (listed[0]["called"], listed[0]["opted_out"]) == (10, 2)
        assert 'id="whole-opted-out">2<' in api.get("/campaigns/spring/progress").text
        assert "Opted out 2" in api.get("/").text.replace("</span>", "").replace("<span>", "")
