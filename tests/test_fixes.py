"""Fixes: every rule between a scenario's fields has a one-click fix, said in words, that makes the scenario valid."""

import ast
import inspect
import re
import textwrap

import pytest
from pydantic import BaseModel

from engine import ScenarioError, load_preset, parse_scenario
from engine.fixes import fixes
from engine.labels import _models_in, path_title, problem_in_words
from engine.loading import patch_data, scenario_to_data
from engine.scenario import Scenario

BASE = scenario_to_data(load_preset("horizontal_load_balancer"))  # 4 web replicas, a database, a hosted LLM
NO_LLM = {"llm": None}
ROUTER = {"kind": "router", "deployments": [{"kind": "hosted", "name": "a"}, {"kind": "hosted", "name": "b"}]}

# (the validator whose rule it breaks, the changes to BASE that break it)
BREAKING = {
    "lone balancer": ("Scenario._architecture_is_coherent", {"load_balancer": None}),
    "replicas outside autoscaling": ("Scenario._architecture_is_coherent",
                                     {"web": {"autoscale": {"min_replicas": 5, "max_replicas": 8}}}),
    "autoscaling without a balancer": ("Scenario._architecture_is_coherent", {
        "load_balancer": None, "web": {"replicas": 1, "autoscale": {"min_replicas": 1, "max_replicas": 3}}}),
    "queries without a database": ("Scenario._architecture_is_coherent", {"database": None}),
    "partitions on the web server": ("Scenario._architecture_is_coherent", {
        "load_balancer": None, "web": {"replicas": 1},
        "database": {"kind": "key_value", "placement": "same_server", "partitions": 2, "read_replicas": 0}}),
    "web replicas beside the database": ("Scenario._architecture_is_coherent",
                                         {"database": {"placement": "same_server", "read_replicas": 0}}),
    "read replicas on the web server": ("Scenario._architecture_is_coherent", {
        "load_balancer": None, "web": {"replicas": 1}, "database": {"placement": "same_server"}}),
    "cache without an LLM": ("Scenario._architecture_is_coherent",
                             {**NO_LLM, "cache": {}, "traffic": {"prompt_keys": {}}}),
    "cache without prompt keys": ("Scenario._architecture_is_coherent", {"cache": {}}),
    "failure of nothing": ("Scenario._architecture_is_coherent", {"failures": [{"at_s": 5.0, "component": ""}]}),
    "retrieval without an LLM": ("Scenario._architecture_is_coherent", {**NO_LLM, "retrieval": {}}),
    "token limits without an LLM": ("Scenario._architecture_is_coherent", {**NO_LLM, "token_limits": {}}),
    "heavy users in a trace": ("Scenario._architecture_is_coherent",
                               {"traffic": {"rate_rps": None, "trace": {}, "heavy_users": {}}}),
    "two rate sources": ("Traffic._one_rate_source", {"traffic": {"users": {"daily_active": 1000}}}),
    "no rate source": ("Traffic._one_rate_source", {"traffic": {"rate_rps": None}}),
    "a trace with a pattern": ("Traffic._one_rate_source",
                               {"traffic": {"rate_rps": None, "trace": {}, "pattern": {"kind": "ramp"}}}),
    "a closed loop with a pattern": ("Traffic._one_rate_source", {
        "traffic": {"rate_rps": None, "closed_loop": {"users": 5}, "pattern": {"kind": "spike"}}}),
    "conversations in a closed loop": ("Traffic._one_rate_source", {
        "traffic": {"rate_rps": None, "closed_loop": {"users": 5}, "conversation": {}}}),
    "heavy users alone": ("Traffic._one_rate_source", {"traffic": {"user_population": 1, "heavy_users": {}}}),
    "autoscaling bounds reversed": ("Autoscale._bounds_in_order", {
        "web": {"replicas": 5, "autoscale": {"min_replicas": 5, "max_replicas": 2}}}),
    "p99 below the median": ("LogNormal._p99_above_p50",
                             {"web": {"handler_ms": {"dist": "lognormal", "p50_ms": 5.0, "p99_ms": 2.0}}}),
    "p99 far above the median": ("LogNormal._p99_above_p50",
                                 {"database": {"read_ms": {"dist": "lognormal", "p50_ms": 0.001, "p99_ms": 100.0}}}),
    "self-hosted replicas outside autoscaling": ("SelfHostedLLM._replicas_within_bounds", {
        "llm": {"kind": "self_hosted", "replicas": 5, "autoscale": {"min_replicas": 1, "max_replicas": 3}}}),
    "an iteration smaller than the batch": ("SelfHostedLLM._replicas_within_bounds",
                                            {"llm": {"kind": "self_hosted", "max_batch": 100,
                                                     "max_num_batched_tokens": 50}}),
    "two deployments of one name": ("LLMRouter._names_resolve", {"llm": {
        **ROUTER, "deployments": [{"kind": "hosted", "name": "a"}, {"kind": "self_hosted", "name": "a"},
                                  {"kind": "hosted", "name": "a_2"}]}}),
    "a fallback to nothing": ("LLMRouter._names_resolve", {"llm": {**ROUTER, "fallbacks": ["b", "c"]}}),
    "every deployment a fallback": ("LLMRouter._names_resolve", {"llm": {**ROUTER, "fallbacks": ["b", "a"]}}),
    "too many LLM replicas": ("LLMRouter._names_resolve", {"llm": {**ROUTER, "deployments": [
        {"kind": "hosted", "name": "a"}, {"kind": "self_hosted", "name": "b", "replicas": 9500},
        {"kind": "self_hosted", "name": "c", "replicas": 10,
         "autoscale": {"min_replicas": 2, "max_replicas": 1000}}]}}),
    "a relational database in partitions": ("Database._partitions_need_a_partitioned_kind",
                                            {"database": {"partitions": 4}}),
    "a gateway deployment's autoscaling reversed": ("Autoscale._bounds_in_order", {"llm": {**ROUTER, "deployments": [
        {"kind": "hosted", "name": "a"},
        {"kind": "self_hosted", "name": "b", "replicas": 3, "autoscale": {"min_replicas": 3, "max_replicas": 2}}]}}),
}
CODE_NAME = re.compile(r"\b[a-z][a-z0-9]*(?:[._][a-z0-9]+)+\b")  # a snake_case name or a dotted path


def problems_of(data: dict) -> list[str]:
    """Return what the scenario format says is wrong with `data` (none if it is valid)."""
    try:
        parse_scenario(data, "test")
    except ScenarioError as exc:
        return exc.problems
    return []


@pytest.mark.parametrize("case", list(BREAKING))
def test_each_fix_makes_a_scenario_that_breaks_a_rule_valid(case):
    data = patch_data(BASE, BREAKING[case][1])
    problems = problems_of(data)
    assert problems, f"{case}: the scenario breaks no rule"
    found = fixes(data, problems)
    assert found, f"{case}: no fix for {problems}"
    for fix in found:
        assert problems_of(patch_data(data, fix.changes)) == [], f"{case}: {fix.label!r} leaves a problem"
        assert not CODE_NAME.search(fix.label), fix.label


def _validators() -> dict[str, object]:
    """Return every model validator of the scenario format (its parts' included) by qualified name."""
    found, seen, todo = {}, set(), [Scenario]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for decorator in model.__pydantic_decorators__.model_validators.values():
            found[decorator.func.__qualname__] = decorator.func
        todo += [inner for info in model.model_fields.values() for inner in _models_in(info.annotation)]
    return found


def _messages(function) -> list[re.Pattern]:
    """Return a pattern for each problem a validator can report: its message's fixed words in order."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    texts = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "append" \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "problems":
            texts.append(node.args[0])
        elif isinstance(node, (ast.Assign, ast.AugAssign)) and isinstance(node.value, ast.ListComp) and \
                "problems" in [t.id for t in getattr(node, "targets", [getattr(node, "target", None)])]:
            texts.append(node.value.elt)
        elif isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args \
                and isinstance(node.exc.args[0], (ast.Constant, ast.JoinedStr)):
            texts.append(node.exc.args[0])
    patterns = []
    for text in texts:
        pieces = [text.value] if isinstance(text, ast.Constant) else \
            [part.value for part in text.values if isinstance(part, ast.Constant)]
        patterns.append(re.compile(".*".join(re.escape(piece) for piece in pieces if piece.strip())))
    return patterns


def test_every_rule_between_fields_is_broken_by_a_case_above():
    validators = _validators()
    assert len(validators) >= 7  # the walk found the format's validators
    raised = {name: [p for rule, changes in BREAKING.values() if rule == name
                     for p in problems_of(patch_data(BASE, changes))] for name in validators}
    for name, function in validators.items():
        messages = _messages(function)
        assert messages, f"{name}: no problem found in its source"
        for message in messages:
            assert any(message.search(problem) for problem in raised[name]), \
                f"{name}: no case above breaks the rule that says {message.pattern!r}"


def test_the_cache_fix_turns_on_prompt_keys_in_words():
    data = patch_data(BASE, {"cache": {}})
    [fix] = fixes(data, problems_of(data))
    assert fix.label == "Turn on prompt keys (the cache needs to know which prompts repeat)"
    assert parse_scenario(patch_data(data, fix.changes)).traffic.prompt_keys.space == 100_000


def test_a_fix_inside_a_list_changes_only_its_item():
    data = patch_data(BASE, BREAKING["a gateway deployment's autoscaling reversed"][1])
    raise_max, lower_min = fixes(data, problems_of(data))
    assert raise_max.label == "LLM › Deployment 2 › Autoscaling: raise the maximum replicas to 3"
    fixed = parse_scenario(patch_data(data, raise_max.changes)).llm.deployments
    assert [d.name for d in fixed] == ["a", "b"] and fixed[1].autoscale.max_replicas == 3
    assert parse_scenario(patch_data(data, lower_min.changes)).llm.deployments[1].autoscale.min_replicas == 2


def test_problems_and_paths_read_in_words():
    assert path_title(Scenario, "traffic.prompt_keys") == "Traffic › Prompt keys"
    assert path_title(Scenario, "failures.0.at_s") == "Failure 1 › At (s)"
    assert problem_in_words(Scenario, "database.partitions: 2 is not allowed: only 1 while database.placement is "
                                      "same_server") == \
        "Database › Partitions: 2 is not allowed: only 1 while Database › Placement is on the web server"
    assert problem_in_words(Scenario, "llm.max_num_batched_tokens: 50 is not allowed: must be at least max_batch "
                                      "(100)") == \
        "LLM › Maximum number of batched tokens: 50 is not allowed: must be at least maximum batch (100)"
    assert problem_in_words(Scenario, "web.handler_ms: p99_ms (2.0) must be greater than p50_ms (5.0)") == \
        "Web tier › Handler CPU time: p99 (2.0) must be greater than median (5.0)"  # no unit inside the sentence
    assert problem_in_words(Scenario, "(file): not valid") == "(file): not valid"


def test_no_fix_is_offered_for_a_problem_of_one_field():
    data = patch_data(BASE, {"web": {"replicas": 0}})
    assert problems_of(data) and fixes(data, problems_of(data)) == []
