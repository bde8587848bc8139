"""The architecture diagram: what runs now, what limits each part, and where the requests flow."""

import pytest

from curriculum.playback import Playback
from dashboard.view.diagram import MAX_NODES, diagram, topology
from engine import load_preset
from engine.loading import derive


def drawn(preset_or_scenario, seconds: float = 30.0, changes: dict | None = None) -> dict:
    """Return the diagram of a scenario after `seconds`, over the last 10 s."""
    scenario = load_preset(preset_or_scenario) if isinstance(preset_or_scenario, str) else preset_or_scenario
    playback = Playback(scenario, "", changes)
    playback.warm_up(seconds)
    windows = list(playback.now.sim.windows)[-10:]
    return diagram(topology(playback.now.sim), windows, windows[-1]["rolled"][10.0])


def nodes(picture: dict) -> dict[str, dict]:
    """Return the diagram's nodes by id."""
    return {node["id"]: node for column in picture["columns"] for node in column}


def test_columns_follow_a_request_and_edges_carry_its_rate():
    picture = drawn("horizontal_load_balancer")
    columns = [[node["id"] for node in column] for column in picture["columns"]]
    assert columns == [["users"], ["lb"], ["web-0", "web-1", "web-2", "web-3"], ["db-primary", "db-replica-0", "llm"]]
    edges = {(e["from"], e["to"]): e for e in picture["edges"]}
    arrivals = edges[("users", "lb")]["rps"]
    assert 4 < arrivals < 7  # the preset's 5.5 req/s
    assert sum(edges[("lb", f"web-{i}")]["rps"] for i in range(4)) == pytest.approx(arrivals, rel=0.25)
    assert edges[("users", "lb")]["label"].endswith("req/s")


def test_a_hosted_llm_shows_calls_in_flight_and_its_share_of_the_time_not_zero_busy():
    llm = nodes(drawn("single_server"))["llm"]
    calls = float(llm["lines"][0].split()[0])
    assert llm["title"] == "LLM (hosted API)" and calls > 1  # about 1.6 req/s x 4.5 s per call
    assert llm["lines"][1].endswith("of a request's time") and int(llm["lines"][1].split()[0]) >= 80
    assert "busy" not in " ".join(llm["lines"])


def test_the_busiest_server_is_the_bottleneck_and_says_what_limits_it():
    picture = nodes(drawn("mmc_queue"))
    web = picture["web-0"]
    assert web["bottleneck"] and web["state"] in ("busy", "saturated")
    assert web["lines"][0].endswith("busy") and "waiting" in web["lines"][1]
    calm = nodes(drawn("horizontal_load_balancer", changes={"web_replicas": 8}))
    assert not any(node["bottleneck"] for node in calm.values())  # nothing strains: no bottleneck


def test_a_component_that_is_down_is_grey_and_says_so():
    picture = nodes(drawn("horizontal_load_balancer", changes={"down": ["web-1"]}))
    assert picture["web-1"]["state"] == "down" and picture["web-1"]["lines"] == ["down"]


def test_a_big_tier_is_one_node_and_errors_show_where_they_happen():
    scenario = derive(load_preset("horizontal_load_balancer"), {"web": {"replicas": 12, "accept_queue": 0},
                                                                 "traffic": {"rate_rps": 40}}, "big")
    picture = nodes(drawn(scenario))
    assert "web" in picture and picture["web"]["title"] == "web × 12" and 12 > MAX_NODES
    assert any(line.startswith("503s:") for line in picture["web"]["lines"])  # a full queue refuses


def test_a_gateway_shows_each_deployment_and_its_429s():
    picture = nodes(drawn("genai_stack"))
    deployments = [node for node in picture.values() if node["title"].endswith("(hosted API)")]
    assert len(deployments) == 2 and "cache" in picture and "answered" in picture["cache"]["lines"][0]


@pytest.mark.parametrize("variant", ["1m_users", "1m_users_self_hosted"])
def test_every_line_fits_its_box(variant):
    """A node is 160 px wide, about 28 characters: longer lines were cut ("busy on avera")."""
    from curriculum.format import LESSONS_DIR, load_lesson

    scenario = load_lesson(LESSONS_DIR / "15-millions-of-users").build_scenario(variant)
    picture = nodes(drawn(scenario, seconds=10.0))
    lines = [line for node in picture.values() for line in [node["title"], *node["lines"]]]
    assert any("429" in line for line in lines) or variant.endswith("self_hosted")
    assert [line for line in lines if len(line) > 28] == []
