"""Shared helpers: build scenarios from small dicts so each test states only what it varies."""

import copy

from engine import Budget, Simulation, parse_scenario
from engine.loading import patch_data

QUIET = {"client_timeout_s": None}


def deep_merge(base: dict, changes: dict) -> dict:
    """Return a copy of `base` with `changes` merged in, recursing into nested mappings."""
    return patch_data(copy.deepcopy(base), changes)


def scenario(base: dict | None = None, **changes):
    """Validate a scenario made of `base` (default: a bare web tier at 10 req/s) plus `changes`."""
    data = base or {
        "traffic": {"rate_rps": 10, "tokens": {"kind": "fixed", "prompt_tokens": 100, "output_tokens": 10}},
        "web": {"db_reads_per_request": 0, "db_writes_per_request": 0},
    }
    return parse_scenario(deep_merge(data, changes))


def run(scn, seconds: float | None = None) -> dict:
    """Run a scenario headless and return its summary."""
    return Simulation(scn, Budget(max_requests=10**8, max_wall_s=120)).run(seconds)
