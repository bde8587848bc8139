"""GenAI Scaling Lab engine: a discrete-event model of an LLM-backed web application (pure Python)."""

from engine.metrics import METRICS
from engine.loading import (ScenarioError, derive, list_presets, load_preset, load_scenario, parse_scenario, save_scenario,
                            scenario_to_data)
from engine.scenario import Scenario
from engine.simulation import Budget, BudgetExceeded, Simulation

__all__ = [
    "METRICS", "Budget", "BudgetExceeded", "Scenario", "ScenarioError", "Simulation", "derive", "list_presets",
    "load_preset", "load_scenario", "parse_scenario", "save_scenario", "scenario_to_data",
]
