"""The web tier's CPU: a worker is a thread, a core is what computes; sizes add cores, families speed them up."""

import pytest

from engine import Simulation
from engine.scenario import INSTANCE_FAMILIES
from tests.helpers import run, scenario


def cpu_bound(rate_rps: float, seconds_per_request: float = 0.1, **web):
    """A web tier whose handler only computes: no database, no LLM, clients that never leave."""
    return scenario(traffic={"rate_rps": rate_rps, "client_timeout_s": None},
                    web={"accept_queue": None, "handler_ms": {"dist": "constant", "value_ms": seconds_per_request * 1000},
                         **web})


def test_a_cpu_bound_handler_finishes_at_most_cores_over_cpu_seconds_however_many_workers():
    # 100 workers but 4 cores, 50 ms of CPU each: 4 / 0.05 = 80 requests per second at most.
    summary = run(cpu_bound(120, 0.05, workers=100, cores=4), 120)
    assert summary["throughput_rps"] == pytest.approx(80, rel=0.02)
    assert summary["web_utilisation"] == pytest.approx(1.0, abs=0.01)  # every worker holds a request, most wait


def test_scaling_up_a_cpu_bound_app_adds_the_capacity_its_cores_bring():
    # 30 req/s of 100 ms CPU: a small (2 vCPU) server finishes 20 a second and its queue grows; a large
    # (8 vCPU) one keeps up with four times the headroom.
    small = run(cpu_bound(30, size="small"), 120)
    large = run(cpu_bound(30, size="large"), 120)
    assert small["throughput_rps"] == pytest.approx(20, rel=0.03)
    assert large["throughput_rps"] == pytest.approx(30, rel=0.05)
    assert large["latency_p95_s"] < 0.3 < 10 < small["latency_p95_s"]


def test_a_newer_family_runs_the_same_handler_faster_per_core():
    # At light load a request's time is its CPU time divided by the family's per-core speed.
    old = run(cpu_bound(2, family="m5"), 300)
    new = run(cpu_bound(2, family="m7i"), 300)
    speed = INSTANCE_FAMILIES["m5"]["cpu_speed"]
    assert new["latency_p50_s"] == pytest.approx(0.1, rel=0.01)
    assert old["latency_p50_s"] == pytest.approx(0.1 / speed, rel=0.01)
    assert old["latency_p50_s"] > 1.3 * new["latency_p50_s"]


def test_family_and_size_set_the_price_and_the_instance_type():
    web = cpu_bound(1, family="c7i", size="medium").web
    assert web.instance_type() == "c7i.xlarge"
    assert web.hourly_price_usd() == pytest.approx(0.2016 * 0.885, rel=1e-3)  # 0.1785 USD/h list price
    assert web.cores_per_replica() == 4


def test_a_live_change_of_workers_past_the_cores_makes_handlers_take_turns():
    sim = Simulation(cpu_bound(100, 0.05, workers=4, cores=4))  # 4 / 0.05 = 80 a second at most
    sim.advance(60)
    sim.controls.set_web_workers(40)  # ten times the threads, still 4 cores: still 80 a second
    sim.advance(120)
    windows = list(sim.windows)[-60:]
    assert sum(w["completions"] for w in windows) / 60 == pytest.approx(80, rel=0.03)


def test_the_cores_are_a_tier_of_their_own_so_a_cpu_bound_server_shows_where_it_is_full():
    # 30 req/s of 100 ms CPU on 8 cores: 3 of 8 cores busy (0.375), while 17 workers each hold a
    # request only while it computes (async: none waits on I/O here), about 3 of 17.
    large = run(cpu_bound(30, size="large", async_io=True), 300)
    assert large["web_cpu_utilisation"] == pytest.approx(30 * 0.1 / 8, rel=0.05)
    assert large["web_utilisation"] < large["web_cpu_utilisation"]
    # A thread server waiting on a slow dependency is the opposite: every worker busy, the cores idle.
    waiting = run(scenario(traffic={"rate_rps": 4, "client_timeout_s": None,  # answers of 500 tokens: about 10 s each
                                    "tokens": {"kind": "fixed", "prompt_tokens": 1000, "output_tokens": 500}},
                           web={"replicas": 1, "size": "small", "accept_queue": None,
                                "handler_ms": {"dist": "constant", "value_ms": 1}},
                           llm={"kind": "hosted"}), 300)
    assert waiting["web_utilisation"] > 0.9 and waiting["web_cpu_utilisation"] < 0.05
