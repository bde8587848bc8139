"""Fixes: one click that mends a scenario a rule between its fields refuses.

Some settings only make sense together: a response cache needs to know which prompts repeat, more
than one web replica needs a load balancer, a database on the web server cannot have replicas.
The scenario format refuses a scenario that breaks such a rule and says why (its model
validators); the fix for a learner is often in another part of the form. So for each of those
problems this module offers the change that mends it, said in words ("Turn on prompt keys"), as
changes to merge into the scenario's data with `engine.loading.patch_data`.

A fix is found from the problem's own message, which names the field path and the figures: the
rule is decided once, by the validator, and this module only reads what it said. Every rule has
a fix, and every fix makes its rule hold (tests/test_fixes.py builds a scenario breaking each rule).
A fix may uncover the next problem (more replicas than a new autoscaler allows); its own fix follows.
"""

from __future__ import annotations

import re
from typing import Any, Callable, NamedTuple

from engine.labels import path_title
from engine.loading import patch_data
from engine.scenario import Scenario
from engine.scenario_llm import MAX_LLM_REPLICAS


class Fix(NamedTuple):
    """What a button says, and the changes it merges into the scenario's data (engine.loading.patch_data)."""

    label: str
    changes: dict


_RULES: list[tuple[re.Pattern, Callable[[dict, re.Match], list[Fix]]]] = []
_PATH = r"(?P<at>(?:[a-z0-9_]+\.)*)"  # the part a problem is about, e.g. 'llm.deployments.0.'


def _rule(pattern: str):
    """Register the fixes for the problems whose message matches `pattern` (from its start)."""
    def register(mend):
        _RULES.append((re.compile(pattern), mend))
        return mend
    return register


def fixes(data: dict, problems: list[str]) -> list[Fix]:
    """Return the fixes for a scenario's problems (ScenarioError.problems), each change offered once."""
    found: list[Fix] = []
    for problem in problems:
        for pattern, mend in _RULES:
            match = pattern.match(problem)
            if match:
                found += [fix for fix in mend(data, match) if fix.changes not in [f.changes for f in found]]
    return found


def _get(data: Any, path: str) -> Any:
    """Return the value at a dotted path ('llm.deployments.0') of scenario data."""
    for part in filter(None, path.split(".")):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def _at(data: Any, path: str, changes: dict) -> dict:
    """Return `changes` to the part at `path` as changes to the whole scenario (a list whole, one item changed)."""
    parts = [part for part in path.split(".") if part]

    def build(node: Any, rest: list[str]) -> Any:
        if not rest:
            return changes
        if isinstance(node, list):
            items, index = list(node), int(rest[0])
            items[index] = patch_data(items[index], build(items[index], rest[1:]))
            return items
        return {rest[0]: build(node.get(rest[0]), rest[1:])}

    return build(data, parts)


def _where(at: str) -> str:
    """Return the part a problem is about in words ('llm.deployments.0.' -> 'LLM › Deployment 1')."""
    return path_title(Scenario, at.rstrip("."))


ADD_LOAD_BALANCER = {"load_balancer": {}}
OWN_SERVER = {"database": {"placement": "separate"}}
ADD_LLM = {"llm": {"kind": "hosted"}}
STEADY = {"traffic": {"pattern": {"kind": "steady"}}}


@_rule(r"web\.replicas: \d+ is not allowed: more than 1 replica needs a load_balancer")
def _replicas_need_a_balancer(data, match):
    return [Fix("Add a load balancer (more than one web replica needs one)", ADD_LOAD_BALANCER)]


@_rule(r"web\.autoscale: is not allowed without a load_balancer")
def _autoscaling_needs_a_balancer(data, match):
    return [Fix("Add a load balancer (autoscaled replicas come and go behind it)", ADD_LOAD_BALANCER)]


@_rule(_PATH + r"replicas: (?P<n>\d+) is not allowed: must be within autoscale's (?P<low>\d+) to (?P<high>\d+)")
def _replicas_within_autoscaling(data, match):
    low, high = int(match["low"]), int(match["high"])
    replicas = min(max(int(match["n"]), low), high)
    return [Fix(f"{_where(match['at'])}: set replicas to {replicas} (autoscaling keeps {low} to {high})",
                _at(data, match["at"], {"replicas": replicas}))]


@_rule(_PATH + r"autoscale: min_replicas \((?P<low>\d+)\) must not exceed max_replicas \((?P<high>\d+)\)")
def _autoscaling_bounds_in_order(data, match):
    at, low, high = match["at"], int(match["low"]), int(match["high"])
    replicas = _get(data, at).get("replicas", 1)
    where = _where(f"{at}autoscale")
    return [Fix(f"{where}: raise the maximum replicas to {low}",
                _at(data, at, {"autoscale": {"max_replicas": low}, "replicas": low})),
            Fix(f"{where}: lower the minimum replicas to {high}" + (" (and the replicas)" if replicas > high else ""),
                _at(data, at, {"autoscale": {"min_replicas": high}, "replicas": min(replicas, high)}))]


@_rule(r"web\.db_(reads|writes)_per_request: \d+ is not allowed: only 0 without a database")
def _queries_need_a_database(data, match):
    return [Fix("Add a database (the web tier reads and writes one)", {"database": {}}),
            Fix("Make no database queries (reads and writes per request to 0)",
                {"web": {"db_reads_per_request": 0, "db_writes_per_request": 0}})]


@_rule(r"(database\.partitions|web\.replicas|database\.read_replicas): \d+ is not allowed: only [01] while "
       r"database\.placement is same_server")
def _one_server_holds_one_of_each(data, match):
    return [Fix("Put the database on its own server (one machine holds one web replica and one database node)",
                OWN_SERVER)]


@_rule(r"database\.partitions: \d+ is not allowed: a relational database has one primary")
def _partitions_need_a_partitioned_kind(data, match):
    return [Fix("Make the database key-value (it spreads writes over partitions)", {"database": {"kind": "key_value"}}),
            Fix("Use one database partition", {"database": {"partitions": 1}})]


@_rule(r"(cache|retrieval|token_limits): is not allowed without an llm")
def _needs_an_llm(data, match):
    why = {"cache": "the cache keeps its answers", "retrieval": "retrieval adds context to its prompt",
           "token_limits": "token limits count its tokens"}[match[1]]
    return [Fix(f"Add a hosted LLM ({why})", ADD_LLM)]


@_rule(r"cache: needs traffic\.prompt_keys")
def _cache_needs_prompt_keys(data, match):
    return [Fix("Turn on prompt keys (the cache needs to know which prompts repeat)",
                {"traffic": {"prompt_keys": {}}})]


@_rule(r"failures\.(?P<index>\d+)\.component: .* is not allowed: choose one of (?P<first>[^, ]+)")
def _failure_names_a_component(data, match):
    index = int(match["index"])
    return [Fix(f"Failure {index + 1}: choose {match['first']}",
                _at(data, f"failures.{index}", {"component": match["first"]}))]


@_rule(r"traffic\.heavy_users: is not allowed with a trace")
def _heavy_users_or_a_trace(data, match):
    return [Fix("Turn off heavy users (the trace decides who sends what)", {"traffic": {"heavy_users": None}})]


@_rule(r"traffic\.heavy_users: is not allowed with \d+ user")
def _heavy_users_need_others(data, match):
    return [Fix("Count 10,000 distinct users (heavy users need ordinary ones)",
                {"traffic": {"user_population": 10_000}}),
            Fix("Turn off heavy users", {"traffic": {"heavy_users": None}})]


RATE_SOURCES = {"rate_rps": "the request rate", "users": "the users", "trace": "the trace",
                "closed_loop": "the closed loop"}


@_rule(r"traffic: give exactly one of rate_rps, users, trace or closed_loop \(got (?P<given>.*)\)")
def _one_rate_source(data, match):
    given = [name for name in match["given"].split(", ") if name in RATE_SOURCES]
    if not given:
        return [Fix("Send 10 requests a second", {"traffic": {"rate_rps": 10.0}})]
    return [Fix(f"Keep only {RATE_SOURCES[name]}", {"traffic": {other: None for other in given if other != name}})
            for name in given]


@_rule(r"traffic: a trace brings its own arrival pattern")
def _a_trace_has_its_own_pattern(data, match):
    return [Fix("Make the pattern steady (the trace brings its own)", STEADY)]


@_rule(r"traffic: closed_loop traffic has no rate to shape")
def _closed_loop_has_no_pattern(data, match):
    return [Fix("Make the pattern steady (a closed loop has no rate to shape)", STEADY)]


@_rule(r"traffic\.conversation: is not allowed with a trace or closed_loop")
def _conversations_need_a_rate(data, match):
    return [Fix("Turn off conversations (they start at a rate)", {"traffic": {"conversation": None}})]


@_rule(r"(?P<at>[a-z0-9_.]+): p99_ms \([^)]*\) must be greater than p50_ms")
def _p99_above_the_median(data, match):
    p50 = _get(data, match["at"])["p50_ms"]
    p99 = min(p50 * 4, 10**8)
    changes = {"p99_ms": p99} if p99 > p50 else {"p50_ms": p99 / 4, "p99_ms": p99}
    return [Fix(f"{_where(match['at'])}: set the p99 to {changes['p99_ms']:g} ms, 4 x the median",
                _at(data, match["at"], changes))]


@_rule(r"(?P<at>[a-z0-9_.]+): p99_ms \([^)]*\) is not allowed: at most 10,000 x p50_ms")
def _p99_within_reach_of_the_median(data, match):
    p99 = _get(data, match["at"])["p50_ms"] * 10_000
    return [Fix(f"{_where(match['at'])}: lower the p99 to {p99:g} ms, 10,000 x the median",
                _at(data, match["at"], {"p99_ms": p99}))]


@_rule(_PATH + r"max_num_batched_tokens: \d+ is not allowed: must be at least max_batch \((?P<batch>\d+)\)")
def _an_iteration_holds_the_batch(data, match):
    batch = int(match["batch"])
    return [Fix(f"{_where(match['at'])}: raise the batched tokens to {batch:,} (one per running sequence)",
                _at(data, match["at"], {"max_num_batched_tokens": batch}))]


@_rule(_PATH + r"deployments: '(?P<name>[^']*)' is not allowed twice")
def _deployment_names_unique(data, match):
    deployments = _get(data, match["at"] + "deployments")
    names = [d.get("name") for d in deployments]
    renamed, taken = [], set(names)
    for index, deployment in enumerate(deployments):
        name = deployment.get("name")
        if name == match["name"] and names.index(name) != index:
            number = 2
            while (new := f"{name[:27]}_{number}") in taken:
                number += 1
            taken.add(new)
            deployment = {**deployment, "name": new}
        renamed.append(deployment)
    return [Fix(f"{_where(match['at'])}: give each deployment called {match['name']!r} its own name",
                _at(data, match["at"], {"deployments": renamed}))]


@_rule(_PATH + r"fallbacks: '(?P<name>[^']*)' is not allowed: choose one of")
def _fallbacks_name_deployments(data, match):
    kept = [name for name in _get(data, match["at"] + "fallbacks") if name != match["name"]]
    return [Fix(f"Remove {match['name']!r} from the fallbacks", _at(data, match["at"], {"fallbacks": kept}))]


@_rule(_PATH + r"fallbacks: is not allowed to name every deployment")
def _one_deployment_takes_normal_traffic(data, match):
    first = _get(data, match["at"] + "deployments")[0]["name"]
    kept = [name for name in _get(data, match["at"] + "fallbacks") if name != first]
    return [Fix(f"Let {first!r} take the normal traffic (not a fallback)", _at(data, match["at"], {"fallbacks": kept}))]


@_rule(_PATH + r"deployments: [\d,]+ replicas in all is not allowed: at most")
def _replicas_in_all_within_reach(data, match):
    deployments = _get(data, match["at"] + "deployments")
    self_hosted = [d for d in deployments if d.get("kind") == "self_hosted"]
    each = (MAX_LLM_REPLICAS - (len(deployments) - len(self_hosted))) // max(len(self_hosted), 1)
    capped = []
    for deployment in deployments:
        if deployment.get("kind") == "self_hosted":
            scaling = deployment.get("autoscale")
            deployment = {**deployment, "replicas": min(deployment.get("replicas", 1), each)}
            if scaling:
                deployment["autoscale"] = {**scaling, "min_replicas": min(scaling.get("min_replicas", 1), each),
                                           "max_replicas": min(scaling.get("max_replicas", 10), each)}
        capped.append(deployment)
    return [Fix(f"Cap each self-hosted deployment at {each:,} replicas ({MAX_LLM_REPLICAS:,} in all)",
                _at(data, match["at"], {"deployments": capped}))]
