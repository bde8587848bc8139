"""Capacity: how an architecture fares from one user to ten million, and which component gives way first.

Sizing starts with a question: at how many daily users does this design stop being good enough,
and which component gives way? A sweep runs the scenario at daily active user counts spaced by
powers of ten (with the scenario's own requests per user and peak factor) and keeps, for each,
p95 latency, the error rate, the cost per month and the busiest component. The first component to
pass 90 % utilisation is where to spend next. Each point is an independent run, so a sweep's points
go to an executor at once (engine/executors.py), as a search's runs do.
"""

from __future__ import annotations

from engine.attachments import hold
from engine.loading import ScenarioError, parse_scenario, scenario_to_data
from engine.metrics import TIERS
from engine.scenario import Users
from engine.simulation import Budget, BudgetExceeded, Simulation

USERS = [1, 3, 10, 30, 100, 300, 1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000, 10_000_000]
SATURATED = 0.9
POINT_BUDGET = Budget(max_requests=1_000_000, max_wall_s=10.0)


def at_users(scenario, daily_active: int):
    """Return `scenario` with its traffic set by `daily_active` users (keeping its other traffic settings), validated."""
    data = scenario_to_data(scenario)
    users = data["traffic"].get("users") or Users(daily_active=1).model_dump(mode="json")
    data["traffic"].update(rate_rps=None, trace=None, users={**users, "daily_active": daily_active},
                           user_population=daily_active)
    return parse_scenario(data, f"{scenario.name} at {daily_active:,} daily users")


def measure(scenario, daily_active: int, seconds: float, attachments: dict[str, str] | None = None) -> dict:
    """Run the scenario at `daily_active` users for `seconds`; return the figures the sweep plots.

    `attachments` ({name: CSV}) are the uploads the scenario names (a trace it draws tokens from, a
    measured similarity curve): a worker process that never saw them reads them through their doors
    (engine/attachments.py)."""
    try:
        hold(attachments or {}, "capacity point", ours=True)
        summary = Simulation(at_users(scenario, daily_active), POINT_BUDGET, history_windows=1).run(seconds)
    except BudgetExceeded:
        return {"users": daily_active, "stopped": True}
    except ScenarioError as exc:  # this scenario cannot take this many users (e.g. heavy users among 1)
        return {"users": daily_active, "stopped": False, "invalid": str(exc).splitlines()[-1].strip(" -")}
    busiest = max(((tier, summary[f"{tier}_utilisation"]) for tier in TIERS
                   if summary[f"{tier}_utilisation"] is not None), key=lambda pair: pair[1])
    return {"users": daily_active, "stopped": False, "p95_s": summary["latency_p95_s"],
            "error_rate": summary["error_rate"], "usd_per_month": summary["usd_per_month"],
            "busiest": busiest[0], "busiest_utilisation": busiest[1]}


def first_saturated(points: list[dict]) -> dict | None:
    """Return the first point where a component passes 90 % utilisation (or the budget stopped the run)."""
    return next((p for p in points if p["stopped"] or p.get("busiest_utilisation", 0) >= SATURATED), None)
