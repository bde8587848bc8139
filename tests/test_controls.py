"""The control registry: each live control once, its range read from the scenario schema, used everywhere."""

import pytest

from curriculum.format import Step
from engine import Simulation, load_preset
from engine.controls import CONTROLS, apply_control, read_controls
from engine.scenario import Database, PromptKeys, SelfHostedLLM, Traffic, Web


def _schema(model, field):
    """Return the (low, high) of a schema field, straight from pydantic."""
    low = high = None
    for constraint in model.model_fields[field].metadata:
        low = getattr(constraint, "ge", None) if getattr(constraint, "ge", None) is not None else \
            getattr(constraint, "gt", low)
        high = getattr(constraint, "le", high)
    return low, high


@pytest.mark.parametrize("name, model, field", [
    ("rate_rps", Traffic, "rate_rps"), ("web_replicas", Web, "replicas"), ("web_workers", Web, "workers"),
    ("db_read_replicas", Database, "read_replicas"), ("zipf_skew", PromptKeys, "zipf_skew"),
    ("llm_replicas", SelfHostedLLM, "replicas"),
])
def test_ranges_come_from_the_schema(name, model, field):
    assert CONTROLS[name].bounds == _schema(model, field)


def test_the_lesson_format_offers_exactly_the_registry_and_variants():
    offered = set(Step.model_fields["controls"].annotation.__args__[0].__args__)
    assert offered == set(CONTROLS) | {"variant"}


def test_reading_every_control_and_which_ones_apply():
    sim = Simulation(load_preset("single_server"))
    values = read_controls(sim)
    assert values["web_replicas"] == 1 and values["load_balancer"] is None and values["db_read_replicas"] is None
    assert [name for name, c in CONTROLS.items() if c.applies(sim)] == ["rate_rps", "web_replicas", "load_balancer",
                                                                        "web_workers", "client_retries",
                                                                        "down"]


def test_a_bad_value_or_name_is_refused_naming_the_field_and_the_range():
    sim = Simulation(load_preset("horizontal_load_balancer"))
    with pytest.raises(ValueError, match=r"web.replicas: 0 is not allowed: must be a whole number between 1 and 1,000"):
        apply_control(sim, "web_replicas", 0)
    with pytest.raises(ValueError, match=r"traffic.rate_rps: 0 is not allowed: must be a number above 0"):
        apply_control(sim, "rate_rps", 0)
    with pytest.raises(ValueError, match=r"control: 'warp' is not allowed: choose one of rate_rps"):
        apply_control(sim, "warp", 1)
    with pytest.raises(ValueError, match="down: .* is not allowed"):
        apply_control(sim, "down", "web-0")
