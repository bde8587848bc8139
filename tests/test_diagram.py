"""The architecture diagram shows the running configuration, what is down, and the bottleneck."""

import re

from dashboard.view.diagram import COLOURS, architecture_dot
from engine import Simulation, load_preset, parse_scenario
from engine.loading import scenario_to_data
from tests.helpers import deep_merge


def node(dot: str, name: str) -> str:
    """Return the DOT line of node `name`."""
    return next(line for line in dot.splitlines() if line.strip().startswith(f'"{name}" ['))


def test_every_component_is_a_node_wired_in_request_order():
    sim = Simulation(load_preset("horizontal_load_balancer"))
    sim.advance(10)
    dot = architecture_dot(sim)
    for name in ("web-0", "web-3", "db-primary", "db-replica-0", "llm-0"):
        assert node(dot, name)
    assert "users -> lb;" in dot and 'lb -> "web-2";' in dot and '"web-1" -> "db-primary";' in dot
    assert "round_robin" in dot


def test_a_component_that_is_down_is_grey_and_says_so():
    sim = Simulation(load_preset("horizontal_load_balancer"))
    sim.set_component_up("web-1", False)
    sim.advance(5)
    line = node(architecture_dot(sim), "web-1")
    assert "down" in line and COLOURS["down"] in line


def test_the_busiest_component_is_the_bottleneck():
    overloaded = parse_scenario(deep_merge(scenario_to_data(load_preset("single_server")),
                                           {"traffic": {"rate_rps": 5}}))
    sim = Simulation(overloaded)
    sim.advance(30)
    dot = architecture_dot(sim)
    web = node(dot, "web-0")
    assert "penwidth=3" in web and COLOURS["saturated"] in web
    assert re.search(r"web-0\\n100% busy", web)
    quiet = Simulation(load_preset("single_server"))
    quiet.set_arrival_rate(0.1)
    quiet.advance(30)
    assert "penwidth=3" not in architecture_dot(quiet)


def test_scaling_out_adds_nodes_and_the_cache_appears_when_there_is_one():
    sim = Simulation(load_preset("genai_stack"))
    sim.advance(5)
    before = architecture_dot(sim)
    sim.set_web_replicas(5)
    sim.advance(5)
    after = architecture_dot(sim)
    assert node(after, "web-4") and "web-4" not in before
    assert "cache [" in after and "gpt_4o_mini-0" in after
