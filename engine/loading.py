"""Reading and writing scenarios: the one validated door into the engine.

Data comes from a YAML or JSON file, a preset, or a browser; it becomes a `Scenario` only through
`parse_scenario`, which reports every problem at once, one line each, naming the field path, the
bad value and what is allowed, in words a learner can act on (never a traceback). Saving writes
plain data that loads back to an equal scenario. Presets are scenario files in `presets/`.
"""

from __future__ import annotations

import json
import reprlib
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from engine.distributions import DISTRIBUTIONS
from engine.paths import PRESETS_DIR
from engine.scenario import (DATABASE_KINDS, Diurnal, EmpiricalTokens, FixedTokens, HostedLLM, LLMRouter, Ramp, Scenario,
                             SelfHostedLLM, Spike, Steady)


class ScenarioError(ValueError):
    """A scenario that cannot be used, with one readable line per problem."""

    def __init__(self, problems: list[str], source: str = "scenario"):
        self.problems = problems
        self.source = source
        super().__init__(f"{source}: {len(problems)} problem(s)\n" + "\n".join(f"  - {p}" for p in problems))


_NAMES_FIELD = re.compile(r"^[a-z_]+(\.[a-z0-9_]+)*: ")


def _field_path(loc: tuple) -> str:
    """Join a pydantic error location into a dotted field path without union tags."""
    parts = [str(p) for p in loc if not (isinstance(p, str) and p in _TAGGED)]
    return ".".join(parts) or "(top level)"


def _allowed_fields(model: type[BaseModel], loc: tuple) -> list[str]:
    """Return the field names a model accepts at a location, for 'unknown field' messages."""
    for part in loc[:-1]:
        if isinstance(part, str) and part in _TAGGED:
            model = _TAGGED[part]
            continue
        field = model.model_fields.get(part) if model is not None and isinstance(part, str) else None
        if field is None:
            return []
        inner = field.annotation
        candidates = [a for a in getattr(inner, "__args__", (inner,)) if isinstance(a, type) and issubclass(a, BaseModel)]
        model = candidates[0] if len(candidates) == 1 else None  # a union: the next part names the member
    return sorted(model.model_fields) if model is not None else []


def _describe(error: dict) -> list[str]:
    """Turn one pydantic error into lines of 'path: value is not allowed: what is allowed'."""
    loc = error["loc"]
    path = _field_path(loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_fields(Scenario, loc)
        hint = f"; allowed here: {', '.join(allowed)}" if allowed else ""
        return [f"{path}: unknown field{hint}"]
    if kind == "missing":
        return [f"{path}: required field is missing"]
    if kind == "value_error":
        lines = error["msg"].removeprefix("Value error, ").splitlines()
        # A line that starts with a field name ("fallbacks: ...") names a field inside this one.
        return lines if not loc else [f"{path}.{line}" if _NAMES_FIELD.match(line) else f"{path}: {line}"
                                      for line in lines]
    message = error["msg"][0].lower() + error["msg"][1:]
    return [f"{path}: {_SHORT.repr(error['input'])} is not allowed: {message}"]


_SHORT = reprlib.Repr()  # a message names a value, never dumps it
_SHORT.maxstring = _SHORT.maxother = 80
_SHORT.maxlist = _SHORT.maxdict = 6
_SHORT.maxlevel = 2


class _NoAliasLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing anchors and aliases: a few hundred bytes of nested aliases expand to gigabytes."""

    def compose_node(self, parent, index):
        """Compose a node, unless it is an alias."""
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in a scenario",
                                              event.start_mark)
        return super().compose_node(parent, index)


def read_yaml(text: str) -> Any:
    """Return the data in YAML (or JSON) `text`, safely: no Python objects, no aliases; raise yaml.YAMLError."""
    return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass


def parse_scenario(data: Any, source: str = "scenario") -> Scenario:
    """Validate plain data into a Scenario or raise ScenarioError listing every problem."""
    if not isinstance(data, dict):
        raise ScenarioError([f"(top level): expected a mapping of fields, got {type(data).__name__}"], source)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError([line for e in exc.errors() for line in _describe(e)], source) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario from a YAML or JSON file (JSON is YAML) and validate it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError([f"cannot read file: {exc.strerror}"], str(path)) from None
    try:
        data = read_yaml(text)
    except yaml.YAMLError as exc:
        raise ScenarioError([f"not valid YAML or JSON: {exc}"], str(path)) from None
    return parse_scenario(data, str(path))


_TAGS = ("kind", "dist")  # the fields that say which kind of part a mapping is


def _same_shape(old_kind, new_kind) -> bool:
    """Return whether two kinds share their fields: a database's kind is a setting, not another shape."""
    return old_kind in DATABASE_KINDS and new_kind in DATABASE_KINDS


def patch_data(base: dict, changes: dict) -> dict:
    """Return scenario data `base` with `changes` merged in, recursing into nested mappings.

    Lists are replaced, and so is a mapping whose kind changes to another shape (a constant time
    replacing an exponential one keeps none of the old one's fields); a database that changes its
    kind keeps its size, cores and the rest.
    """
    merged = dict(base)
    for key, value in changes.items():
        old = merged.get(key)
        if isinstance(value, dict) and isinstance(old, dict) and not any(
                tag in value and value[tag] != old.get(tag) and not _same_shape(old.get(tag), value[tag])
                for tag in _TAGS):
            merged[key] = patch_data(merged[key], value)
        else:
            merged[key] = value
    return merged


def derive(scenario: Scenario, changes: dict, source: str = "derived scenario") -> Scenario:
    """Return `scenario` with `changes` merged in (as `patch_data`), through the same validation as any input.

    The one way to make a scenario from another: a change that breaks a rule between fields (a
    cache without prompt keys) is refused with the usual messages instead of building a scenario
    the engine cannot run.
    """
    return parse_scenario(patch_data(scenario_to_data(scenario), changes), source)


def scenario_to_data(scenario: Scenario) -> dict:
    """Return the scenario as plain JSON-compatible data that loads back to an equal scenario."""
    return scenario.model_dump(mode="json")


def save_scenario(scenario: Scenario, path: str | Path) -> None:
    """Write a scenario as JSON (.json) or YAML (anything else)."""
    path = Path(path)
    data = scenario_to_data(scenario)
    if path.suffix == ".json":
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def list_presets() -> list[tuple[str, str]]:
    """Return (preset name, scenario title) for every preset file, sorted by name."""
    return [(p.stem, load_scenario(p).name) for p in sorted(PRESETS_DIR.glob("*.yaml"))]


def load_preset(name: str) -> Scenario:
    """Load a preset by its file name without extension."""
    path = PRESETS_DIR / f"{name}.yaml"
    names = [p.stem for p in sorted(PRESETS_DIR.glob("*.yaml"))]
    if name not in names:
        raise ScenarioError([f"preset: {name!r} is not allowed: choose one of {', '.join(names)}"], "preset")
    return load_scenario(path)


_TAGGED: dict[str, type[BaseModel]] = {
    **{
        cls.model_fields["kind"].default: cls
        for cls in (Steady, Ramp, Spike, Diurnal, EmpiricalTokens, FixedTokens, HostedLLM, SelfHostedLLM,
                    LLMRouter)
    },
    **DISTRIBUTIONS,
}
