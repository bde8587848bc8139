"""The scenario format: lossless round trips, presets, and one readable message per problem."""

import json

import pytest

from engine import ScenarioError, list_presets, load_preset, load_scenario, parse_scenario, save_scenario
from engine.loading import scenario_to_data
from engine.scenario import Scenario
from tests.helpers import deep_merge

PRESETS = [name for name, _ in list_presets()]


def problems(data) -> list[str]:
    """Return the problem lines for invalid scenario data."""
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    return info.value.problems


def test_the_presets_the_issue_asks_for_exist():
    assert {"single_server", "separate_database", "horizontal_load_balancer", "mmc_queue"} <= set(PRESETS)


@pytest.mark.parametrize("name", PRESETS)
@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_presets_save_and_load_back_unchanged(tmp_path, name, suffix):
    original = load_preset(name)
    path = tmp_path / f"copy{suffix}"
    save_scenario(original, path)
    again = load_scenario(path)
    assert again == original
    assert scenario_to_data(again) == scenario_to_data(original)


def test_json_output_is_plain_json(tmp_path):
    path = tmp_path / "s.json"
    save_scenario(load_preset("full_stack"), path)
    data = json.loads(path.read_text())
    assert data["llm"]["kind"] == "self_hosted" and data["web"]["replicas"] == 4


def test_rate_from_daily_active_users():
    scn = parse_scenario({"traffic": {"users": {"daily_active": 864_000, "requests_per_user_per_day": 5,
                                                "peak_to_average": 2}},
                          "web": {"db_reads_per_request": 0, "db_writes_per_request": 0}})
    assert scn.traffic.base_rate_rps() == pytest.approx(100.0)
    assert scn.traffic.population() == 864_000


BASE = {"traffic": {"rate_rps": 5}, "web": {"db_reads_per_request": 0, "db_writes_per_request": 0}}


@pytest.mark.parametrize("change, expected", [
    ({"traffic": {"rate_rps": -3}}, "traffic.rate_rps: -3 is not allowed: input should be greater than 0"),
    ({"traffic": {"rate_rps": "lots"}}, "traffic.rate_rps: 'lots' is not allowed: input should be a valid number"),
    ({"web": {"replicas": 0}}, "web.replicas: 0 is not allowed: input should be greater than or equal to 1"),
    ({"web": {"replicas": 2000}}, "web.replicas: 2000 is not allowed: input should be less than or equal to 1000"),
    ({"web": {"size": "huge"}}, "web.size: 'huge' is not allowed: input should be 'small', 'medium', 'large'"),
    ({"web": {"async_io": "maybe"}}, "web.async_io: 'maybe' is not allowed: input should be a valid boolean"),
    ({"web": {"colour": "red"}}, "web.colour: unknown field; allowed here: accept_queue, async_io"),
    ({"extra": 1}, "extra: unknown field; allowed here: cache, database, description, duration_s"),
    ({"load_balancer": {"algorithm": "fastest"}},
     "load_balancer.algorithm: 'fastest' is not allowed: input should be 'round_robin', 'random', "
     "'least_connections' or 'power_of_two'"),
    ({"web": {"handler_ms": {"dist": "lognormal", "p50_ms": 5, "p99_ms": 2}}},
     "web.handler_ms: p99_ms (2.0) must be greater than p50_ms (5.0)"),
    ({"web": {"handler_ms": {"dist": "gamma", "mean_ms": 5}}}, "web.handler_ms: {'dist': 'gamma', 'mean_ms': 5} is not allowed: input tag 'gamma'"),
    ({"web": {"handler_ms": {"dist": "exponential", "mean_ms": 5, "sd_ms": 1}}},
     "web.handler_ms.sd_ms: unknown field; allowed here: dist, mean_ms"),
    ({"traffic": {"trace": {"file": "../../etc/passwd"}}},
     "traffic.trace.file: '../../etc/passwd' is not allowed: a CSV file's name: letters, digits, '_', '.' or '-', "
     "ending in .csv, no folders"),
    ({"traffic": {"users": {"daily_active": 10}}},
     "traffic: give exactly one of rate_rps, users, trace or closed_loop (got rate_rps, users)"),
    ({"traffic": {"rate_rps": None}}, "traffic: give exactly one of rate_rps, users, trace or closed_loop (got none)"),
    ({"web": {"replicas": 3}}, "web.replicas: 3 is not allowed: more than 1 replica needs a load_balancer"),
    ({"web": {"db_reads_per_request": 2}},
     "web.db_reads_per_request: 2 is not allowed: only 0 without a database (add one or set it to 0)"),
    ({"web": {"replicas": 2}, "load_balancer": {}, "database": {"placement": "same_server"}},
     "web.replicas: 2 is not allowed: only 1 while database.placement is same_server"),
    ({"llm": {"kind": "self_hosted", "max_batch": 0}},
     "llm.max_batch: 0 is not allowed: input should be greater than or equal to 1"),
])
def test_each_kind_of_bad_field_names_path_value_and_what_is_allowed(change, expected):
    lines = problems(deep_merge(BASE, change))
    assert len(lines) == 1, lines
    assert lines[0].startswith(expected), lines[0]


def test_missing_required_field():
    assert problems({"web": {"replicas": 1}}) == ["traffic: required field is missing"]


def test_several_architecture_problems_are_separate_lines():
    lines = problems({"traffic": {"rate_rps": 1}, "web": {"replicas": 2, "db_reads_per_request": 0}})
    assert lines == [
        "web.replicas: 2 is not allowed: more than 1 replica needs a load_balancer",
        "web.db_writes_per_request: 1 is not allowed: only 0 without a database (add one or set it to 0)",
    ]


def test_every_problem_is_reported_at_once():
    lines = problems({"traffic": {"rate_rps": 0, "bogus": 1}, "web": {"replicas": 0, "workers": -1}})
    assert len(lines) == 4
    assert [line.split(":")[0] for line in lines] == ["traffic.rate_rps", "traffic.bogus", "web.replicas", "web.workers"]


def test_not_a_mapping():
    assert problems([1, 2]) == ["(top level): expected a mapping of fields, got list"]


def test_broken_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("traffic: {rate_rps: 5\n")
    with pytest.raises(ScenarioError, match="not valid YAML or JSON"):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match=r"\(file\): cannot be read: No such file"):
        load_scenario(tmp_path / "absent.yaml")


def test_unknown_preset_lists_the_choices():
    with pytest.raises(ScenarioError, match="'nope' is not allowed: choose one of full_stack"):
        load_preset("nope")


def test_trace_file_must_exist_in_assets():
    from engine import Simulation
    scn = parse_scenario({**BASE, "traffic": {"trace": {"file": "missing.csv"}}})
    with pytest.raises(ScenarioError, match="traffic.trace.file: 'missing.csv' is not allowed: no such file in assets/"):
        Simulation(scn)


def test_documented_example_is_valid_and_matches_its_file():
    import re
    from engine.paths import ROOT
    text = (ROOT / "docs" / "scenarios.md").read_text()
    example = re.search(r"## A complete example\n\n```yaml\n(.*?)```", text, re.S).group(1)
    assert (ROOT / "docs" / "example.yaml").read_text() == example
    scn = load_scenario(ROOT / "docs" / "example.yaml")
    assert scn.traffic.base_rate_rps() == pytest.approx(50_000 * 8 / 86_400 * 2.5)


def test_every_field_is_documented():
    from engine.paths import ROOT
    from engine import scenario as module
    text = (ROOT / "docs" / "scenarios.md").read_text()
    models = [getattr(module, name) for name in ("Scenario", "Traffic", "Users", "TraceReplay", "Web", "Database",
                                                 "HostedLLM", "SelfHostedLLM", "LoadBalancer", "FixedTokens",
                                                 "Ramp", "Spike", "Diurnal", "PromptKeys", "ResponseCache", "SemanticLookup", "HeavyUsers", "TokenLimits", "Autoscale", "Failure", "ProviderLimits",
                                                 "LLMRouter", "Retrieval", "Conversation", "Retries", "RetryBudget")]
    missing = [f"{m.__name__}.{f}" for m in models for f in m.model_fields if f"`{f}`" not in text and f not in text]
    assert missing == []


def test_a_patch_merges_mappings_but_replaces_a_part_whose_kind_changes():
    from engine.loading import patch_data

    base = {"web": {"replicas": 2, "handler_ms": {"dist": "exponential", "mean_ms": 10}}, "failures": [1, 2]}
    assert patch_data(base, {"web": {"replicas": 3}})["web"] == {"replicas": 3, "handler_ms": base["web"]["handler_ms"]}
    assert patch_data(base, {"web": {"handler_ms": {"dist": "constant", "value_ms": 5}}})["web"]["handler_ms"] == \
        {"dist": "constant", "value_ms": 5}
    assert patch_data(base, {"web": {"handler_ms": {"mean_ms": 20}}})["web"]["handler_ms"]["dist"] == "exponential"
    assert patch_data(base, {"failures": [3]})["failures"] == [3]
    assert base["web"]["replicas"] == 2  # the base is not changed


def test_scenarios_are_derived_only_through_the_validated_door():
    # `model_copy(update=...)` skips validation (it once built a cache without prompt keys and
    # crashed Compare); engine.derive goes through the same checks as any input.
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sources = [p for folder in ("engine", "curriculum", "dashboard", "bench", "deploy", "tests")
               for p in (root / folder).rglob("*.py")]
    offenders = [str(p.relative_to(root)) for p in sources
                 if "model_copy(" in p.read_text() and p.name != "test_scenario.py"]
    assert offenders == []


def test_changing_a_databases_kind_keeps_its_machine():
    # A database's kind is a setting, not another shape: switching it keeps size and cores (a lesson
    # variant once put a "small 2-core" database's key-value version on the default 4-core machine).
    from engine import derive, parse_scenario

    base = parse_scenario({"traffic": {"rate_rps": 1},
                           "database": {"kind": "relational", "size": "small", "cores": 2}})
    changed = derive(base, {"database": {"kind": "key_value"}})
    assert (changed.database.kind, changed.database.size, changed.database.cores) == ("key_value", "small", 2)
    hosted = parse_scenario({"traffic": {"rate_rps": 1}, "llm": {"kind": "hosted", "itl_ms": 5},
                             "web": {"db_reads_per_request": 0, "db_writes_per_request": 0}})
    own = derive(hosted, {"llm": {"kind": "self_hosted"}})  # another shape: nothing of the hosted one is kept
    assert own.llm.kind == "self_hosted" and own.llm.itl_ms != 5


def test_every_name_pattern_of_the_format_is_said_in_words():
    """A refused name says what a name looks like, never a regular expression."""
    from engine.loading import PATTERNS_IN_WORDS

    def patterns(node) -> set[str]:
        if isinstance(node, dict):
            own = {node["pattern"]} if isinstance(node.get("pattern"), str) else set()
            return own.union(*(patterns(value) for value in node.values()))
        return set().union(*(patterns(item) for item in node)) if isinstance(node, list) else set()

    found = patterns(Scenario.model_json_schema())
    assert found and found <= set(PATTERNS_IN_WORDS), found - set(PATTERNS_IN_WORDS)
