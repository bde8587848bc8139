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
from engine.paths import PRESETS_DIR, TEMPLATES_DIR
from engine.plain_text import TextRefused, plain_text, read_file
from engine.scenario import (DATABASE_KINDS, Diurnal, EmpiricalTokens, FixedTokens, HostedLLM, LLMRouter, Ramp, Scenario,
                             SelfHostedLLM, Spike, Steady)


MAX_PROBLEMS = 20  # listed in one message; the rest are counted


class ScenarioError(ValueError):
    """A scenario that cannot be used, with one readable line per problem."""

    def __init__(self, problems: list[str], source: str = "scenario"):
        count = len(problems)
        if count > MAX_PROBLEMS:  # a thousand bad items are read as the first few and a count
            problems = [*problems[:MAX_PROBLEMS], f"and {count - MAX_PROBLEMS:,} more problems"]
        self.problems = problems
        self.source = source
        super().__init__(f"{source}: {count:,} problem(s)\n" + "\n".join(f"  - {p}" for p in problems))


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


# What a name of each pattern the format uses looks like, in words (pydantic would print the pattern).
PATTERNS_IN_WORDS = {
    r"^curve-[0-9a-f]{24}$": "the name the Lab page gives a measured curve ('curve-' and 24 hex digits), or null "
                             "for the Quora curve",
    r"^[A-Za-z0-9_.-]+\.csv$": "a CSV file's name: letters, digits, '_', '.' or '-', ending in .csv, no folders",
    r"^[a-z][a-z0-9_]{0,30}$": "a lower-case letter, then up to 30 lower-case letters, digits or '_'",
}


def _describe(error: dict, model: type[BaseModel] = Scenario) -> list[str]:
    """Turn one pydantic error into lines of 'path: value is not allowed: what is allowed'."""
    loc = error["loc"]
    path = _field_path(loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_fields(model, loc)
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
    if kind == "string_pattern_mismatch":
        message = PATTERNS_IN_WORDS.get(error.get("ctx", {}).get("pattern"), message)
    return [f"{path}: {_SHORT.repr(error['input'])} is not allowed: {message}"]


_SHORT = reprlib.Repr()  # a message names a value, never dumps it
_SHORT.maxstring = _SHORT.maxother = 80
_SHORT.maxlist = _SHORT.maxdict = 6
_SHORT.maxlevel = 2


MAX_SCENARIO_BYTES = 200_000  # the largest preset is a few kB; this bounds parsing time and memory
MAX_DEPTH = 24  # mappings and lists inside each other; a scenario needs 5
MAX_INDENT = 100  # spaces before a line's text: deeper block nesting than any scenario needs
_MAX_DIGITS = 40  # in one number written in a scenario; Python refuses past 4,300, with a traceback


def _yaml_1_2(loader: type[yaml.SafeLoader]) -> None:
    """Make `loader` read plain scalars as YAML 1.2's core schema does, not as YAML 1.1.

    YAML 1.1 (PyYAML's default) reads `yes`, `no`, `on` and `off` as booleans, `1:30` as 90
    (base 60) and `010` as 8 (octal): a scenario saying `client_timeout_s: 1:30` would get 90 s.
    In YAML 1.2, and here, only true/false are booleans, and numbers are decimal (or 0o, 0x).
    """
    loader.yaml_implicit_resolvers = {}
    for tag, pattern, first in (
            ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
            ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
            ("tag:yaml.org,2002:float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                                        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+0123456789."),
            ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""])):
        loader.add_implicit_resolver(tag, re.compile(pattern), list(first))


class _ScenarioLoader(yaml.SafeLoader):
    """YAML's safe loader with YAML 1.2 scalars, refusing aliases, tags, duplicate keys and over-long numbers.

    Aliases: a few hundred bytes of nested aliases expand to gigabytes. Tags: a value's kind comes
    from its field, and an explicit tag reaches constructors that crash on what they are handed
    (`!!timestamp foo`, `!!bool maybe`) or read YAML 1.1 (`!!float '1:30'` is 90). A key written
    twice would otherwise silently keep the last value.
    """

    def compose_node(self, parent, index):
        """Compose a node, unless it is an alias or carries a tag."""
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in a scenario",
                                              event.start_mark)
        event = self.peek_event()
        if getattr(event, "tag", None) is not None:  # `!!timestamp x`, `!!int ''`, `!!python/object ...`
            tag = event.tag.replace("tag:yaml.org,2002:", "!!")
            raise yaml.composer.ComposerError(None, None, f"the tag {_SHORT.repr(tag)} is not allowed in a "
                                              "scenario: write the value alone, its kind comes from the field",
                                              event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        """Build a mapping, refusing a key written twice."""
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) or key is None:
                if key in seen:
                    raise yaml.constructor.ConstructorError(None, None, f"{_SHORT.repr(key)} is written twice "
                                                            "(a key may appear once)", key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node):
        """Read a decimal, 0o or 0x integer of at most 40 digits."""
        text = self.construct_scalar(node).replace("_", "")
        if len(text) > _MAX_DIGITS:
            raise yaml.constructor.ConstructorError(None, None, f"a number of {len(text):,} digits is not allowed: "
                                                    f"at most {_MAX_DIGITS}", node.start_mark)
        sign, digits = (-1, text[1:]) if text[0] == "-" else (1, text.lstrip("+"))
        base = 8 if digits.startswith("0o") else 16 if digits.startswith("0x") else 10
        return sign * int(digits[2:] if base != 10 else digits, base)

    def construct_yaml_float(self, node):
        """Read a float of at most 40 characters."""
        text = self.construct_scalar(node)
        if len(text) > _MAX_DIGITS:
            raise yaml.constructor.ConstructorError(None, None, f"a number of {len(text):,} characters is not "
                                                    f"allowed: at most {_MAX_DIGITS}", node.start_mark)
        return super().construct_yaml_float(node)


_yaml_1_2(_ScenarioLoader)
_ScenarioLoader.add_constructor("tag:yaml.org,2002:int", _ScenarioLoader.construct_yaml_int)
_ScenarioLoader.add_constructor("tag:yaml.org,2002:float", _ScenarioLoader.construct_yaml_float)


def read_yaml(text: str) -> Any:
    """Return the data in YAML (or JSON) `text`, safely: no Python objects, no aliases, YAML 1.2 scalars; raise
    yaml.YAMLError."""
    return yaml.load(text, Loader=_ScenarioLoader)  # noqa: S506 - a SafeLoader subclass


def _flow_depth(text: str) -> int:
    """Return how deep [ and { nest in `text`, outside quoted strings and comments (a scan, before any parser)."""
    depth = deepest = 0
    quote = None
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if quote is not None:
            if c == "\\" and quote == '"':
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c == "#" and (i == 0 or text[i - 1] in " \t\n"):
            newline = text.find("\n", i)
            i = n if newline < 0 else newline
            continue
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth = max(depth - 1, 0)
        i += 1
    return deepest


def _data_depth(data: Any) -> int:
    """Return how deep mappings and lists nest in parsed data (without recursion)."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        if children:
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                return depth
            stack.extend((child, depth + 1) for child in children)
    return deepest


def read_scenario_text(raw: bytes | str, source: str = "scenario", *, json_only: bool = False) -> Any:
    """Return the data of a scenario's text, checked before any parser sees it: the one door for text.

    Every way a scenario arrives as text (a file, the sandbox's box, an upload, a share link) comes
    through here. In order: its size, its encoding (UTF-8, strictly), control characters, how deep
    it nests, then the parse itself (YAML 1.2, or JSON with `json_only`). Each refusal is a
    ScenarioError naming the problem and where it is, never a traceback.
    """
    try:
        text = plain_text(raw, "a scenario", MAX_SCENARIO_BYTES)
    except TextRefused as exc:
        raise ScenarioError([f"(file): {exc}"], source) from None
    deepest = _flow_depth(text)
    if deepest > MAX_DEPTH:
        raise ScenarioError([f"(file): brackets nested {deepest} deep are not allowed: at most {MAX_DEPTH}"], source)
    indent = max((len(line) - len(line.lstrip(" ")) for line in text.splitlines() if line.strip()), default=0)
    if indent > MAX_INDENT:
        raise ScenarioError([f"(file): a line indented {indent} spaces is not allowed: at most {MAX_INDENT}"], source)
    try:
        data = _json_data(text) if json_only else read_yaml(text)
    except (yaml.YAMLError, ValueError) as exc:
        kind = "JSON" if json_only else "YAML or JSON"
        raise ScenarioError([f"not valid {kind}: {_SHORT.repr(str(exc)) if len(str(exc)) > 300 else exc}"],
                            source) from None
    except RecursionError:  # (the checks above keep a parser far from Python's recursion limit)
        raise ScenarioError([f"(file): nested too deep to read: at most {MAX_DEPTH} levels"], source) from None
    return data


def _json_data(text: str) -> Any:
    """Parse JSON, refusing duplicate keys, NaN and infinities; raise ValueError."""
    def pairs(items):
        keys = [k for k, _ in items]
        if len(set(keys)) != len(keys):
            twice = next(k for k in keys if keys.count(k) > 1)
            raise ValueError(f"{_SHORT.repr(twice)} is written twice (a key may appear once)")
        return dict(items)

    def constant(name):
        raise ValueError(f"{name} is not allowed: a number must be finite")

    return json.loads(text, object_pairs_hook=pairs, parse_constant=constant)


def validate_data(model: type[BaseModel], data: Any, source: str):
    """Validate plain data into `model` (a scenario, a search spec) or raise ScenarioError listing every problem."""
    if not isinstance(data, dict):
        raise ScenarioError([f"(top level): expected a mapping of fields, got {type(data).__name__}"], source)
    if _data_depth(data) > MAX_DEPTH:
        raise ScenarioError([f"(top level): mappings and lists nested more than {MAX_DEPTH} deep are not allowed: "
                             f"at most {MAX_DEPTH}"], source)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError([line for e in exc.errors() for line in _describe(e, model)], source) from None


def parse_scenario(data: Any, source: str = "scenario") -> Scenario:
    """Validate plain data into a Scenario or raise ScenarioError listing every problem."""
    return validate_data(Scenario, data, source)


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario from a YAML or JSON file (JSON is YAML) and validate it.

    Only a regular file is read, and no more of it than a scenario may hold (engine.plain_text.read_file).
    """
    try:
        raw = read_file(path, MAX_SCENARIO_BYTES)
    except TextRefused as exc:
        raise ScenarioError([f"(file): {exc}"], str(path)) from None
    return parse_scenario(read_scenario_text(raw, str(path)), str(path))


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


def derive(scenario: Scenario | dict, changes: dict, source: str = "derived scenario") -> Scenario:
    """Return `scenario` with `changes` merged in (as `patch_data`), through the same validation as any input.

    The one way to make a scenario from another: a change that breaks a rule between fields (a
    cache without prompt keys) is refused with the usual messages instead of building a scenario
    the engine cannot run. `scenario` may be given as its data (`scenario_to_data`), when many are
    derived from one (a search's candidates).
    """
    data = scenario if isinstance(scenario, dict) else scenario_to_data(scenario)
    return parse_scenario(patch_data(data, changes), source)


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


def list_templates() -> list[tuple[str, str]]:
    """Return (template folder, scenario title) for every template: a common GenAI application to start from."""
    return [(folder.name, load_scenario(folder / "scenario.yaml").name)
            for folder in sorted(TEMPLATES_DIR.iterdir()) if (folder / "scenario.yaml").is_file()]


def load_template(name: str) -> Scenario:
    """Load a template's scenario by its folder name."""
    names = [folder for folder, _ in list_templates()]
    if name not in names:
        raise ScenarioError([f"template: {str(name)[:40]!r} is not allowed: choose one of {', '.join(names)}"],
                            "template")
    return load_scenario(TEMPLATES_DIR / name / "scenario.yaml")


def template_readme(name: str) -> str:
    """Return a template's README (markdown, the project's own text)."""
    load_template(name)  # refuses a name that is not a template
    return (TEMPLATES_DIR / name / "README.md").read_text(encoding="utf-8")


_TAGGED: dict[str, type[BaseModel]] = {
    **{
        cls.model_fields["kind"].default: cls
        for cls in (Steady, Ramp, Spike, Diurnal, EmpiricalTokens, FixedTokens, HostedLLM, SelfHostedLLM,
                    LLMRouter)
    },
    **DISTRIBUTIONS,
}
