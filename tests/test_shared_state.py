"""Redis lost mid-session: a banner says so, the local session keeps working, and it all resumes without a restart."""

import pytest
import redis
from streamlit.testing.v1 import AppTest

from dashboard.classroom import shared
from dashboard.classroom.shared import shared_store
from dashboard.pages.live import WARM_UP_S
from dashboard.view.player import TICK_S
from tests.redis_server import RedisServer


def banners(at: AppTest) -> list[str]:
    """Return the warnings about shared state on the page."""
    return [w.value for w in at.warning if "Shared state" in w.value]


def test_losing_redis_shows_a_banner_keeps_the_session_working_and_recovers(tmp_path, monkeypatch):
    server = RedisServer(tmp_path).start()
    monkeypatch.setenv("REDIS_URL", server.url)
    monkeypatch.setattr(shared, "RECHECK_S", 0.0)
    at = AppTest.from_file("../app.py", default_timeout=30).run()
    at.switch_page("dashboard/pages/live.py").run()
    assert not at.exception and not banners(at)
    saved = shared_store().save_scenario({"name": "kept"})
    server.kill()
    at.button(key="live_start").click().run()
    at.run()
    assert banners(at) and "not answering" in banners(at)[0] and f"127.0.0.1:{server.port}" in banners(at)[0]
    assert at.session_state["live"].playback.t == pytest.approx(WARM_UP_S + 2 * 2.5 * TICK_S)  # it went on
    assert not at.exception
    RedisServer(tmp_path, server.port).start()
    try:
        at.run()
        assert not banners(at)
        assert shared_store().load_scenario(saved)["scenario"] == {"name": "kept"}
    finally:
        redis.Redis(port=server.port).shutdown(nosave=True)


def test_the_embedded_store_needs_no_server(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert shared_store().where == "embedded" and shared_store().ping()


def test_a_shared_redis_without_a_shared_secret_is_pointed_out(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.delenv("GSL_SECRET", raising=False)
    assert not shared_store().secret_is_shared
    at = AppTest.from_file("../app.py", default_timeout=30).run()
    assert any("GSL_SECRET is not" in i.value for i in at.info)
    assert banners(at)  # and nothing answers on port 1
