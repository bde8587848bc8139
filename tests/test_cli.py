"""The command line: run, validate, presets; exit status 2 on bad input, never a traceback."""

import json
import subprocess
import sys

import pytest

from engine import METRICS
from engine.cli import main

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


def cli(*args) -> subprocess.CompletedProcess:
    """Run `python -m engine ARGS` in a fresh process."""
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_run_json_prints_every_documented_metric():
    result = cli("run", "mmc_queue", "--duration", "200", "--seed", "7", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert set(summary) == set(METRICS)
    assert summary["t_end_s"] == 200
    assert summary["arrivals"] == pytest.approx(1600, rel=0.1)
    assert summary["web_utilisation"] == pytest.approx(0.8, abs=0.08)


def test_run_seed_changes_and_repeats(capsys):
    outputs = []
    for seed in ("1", "1", "2"):
        assert main(["run", "single_server", "--duration", "60", "--seed", seed, "--json"]) == 0
        outputs.append(json.loads(capsys.readouterr().out))
    assert outputs[0] == outputs[1] != outputs[2]


def test_run_table(capsys):
    assert main(["run", "presets/separate_database.yaml", "--duration", "30"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Separate database: 30 simulated seconds, seed 1")
    assert "latency_p95_s" in out and "usd_total" in out  # the name, for files and code
    p95 = next(line for line in out.splitlines() if line.strip().startswith("p95 latency "))
    assert p95.split()[-2] in ("s", "ms") and p95.rstrip().endswith("latency_p95_s")  # label, value and unit


def test_invalid_scenario_exits_2_with_one_line_per_problem(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("traffic: {rate_rps: -3}\nweb: {replicas: 0, colour: red}\n")
    for command in (["validate", str(bad)], ["run", str(bad)]):
        result = cli(*command)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        assert result.stderr.splitlines()[1:] == [
            "  - traffic.rate_rps: -3 is not allowed: input should be greater than 0",
            "  - web.replicas: 0 is not allowed: input should be greater than or equal to 1",
            "  - web.colour: unknown field; allowed here: accept_queue, async_io, autoscale, cores, cpu_speed, db_reads_per_request, "
            "db_writes_per_request, family, handler_ms, price_per_hour_usd, replicas, size, workers",
        ]


@pytest.mark.parametrize("args, message", [
    (["run", "nope"], "'nope' is not allowed: choose one of"),
    (["run", "mmc_queue", "--duration", "-5"], "--duration: '-5' is not allowed: must be between 0.001 and 604,800"),
    (["run", "mmc_queue", "--seed", "x"], "--seed: 'x' is not allowed: expected an integer"),
    (["validate", "/nonexistent.yaml"], "cannot read file"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_bad_arguments_exit_2(args, message):
    result = cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_budget_exceeded_exits_3_with_a_message():
    result = cli("run", "mmc_queue", "--max-requests", "100")
    assert result.returncode == 3
    assert "budget of 100 simulated requests (max_requests)" in result.stderr
    assert "Traceback" not in result.stderr


def test_validate_and_presets():
    assert cli("validate", "presets/full_stack.yaml").stdout.strip() == "presets/full_stack.yaml: valid (Full stack)"
    names = [line.split()[0] for line in cli("presets").stdout.splitlines()]
    assert {"single_server", "separate_database", "horizontal_load_balancer", "mmc_queue"} <= set(names)


SEARCH = """
name: replicas at 8 req/s
base: horizontal_load_balancer
changes: {traffic: {rate_rps: 8}, llm: {price_input_per_m_usd: 0, price_output_per_m_usd: 0}}
slo: {latency_p95_s: 25, error_rate: 0.02}
space: {web.replicas: [2, 3, 4, 5]}
rounds: [{seconds: 90, seeds: 3}]
warmup_s: 30
"""


def test_search_prints_the_cheapest_design_that_meets_the_slo_and_writes_it(tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SEARCH)
    out = tmp_path / "winner.yaml"
    assert main(["search", str(spec), "--workers", "0", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    # Each medium replica (9 workers) answers about 2 req/s: at 8 req/s two drop requests, three keep a queue
    # (p95 about 34 s), four keep up (about 14 s).
    assert "Cheapest that meets the objective on 3 seeds: Web tier › Replicas: 4 (web.replicas)" in printed
    assert "replicas: 4" in out.read_text()
    assert main(["search", str(spec), "--workers", "0", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["winner"]["choice"] == {"web.replicas": 4} and len(result["candidates"]) == 4
    assert result["candidates"][0]["error_rate"] > 0.02 and result["candidates"][1]["latency_p95_s"] > 25


def test_search_with_a_bad_spec_exits_2_naming_the_field(tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SEARCH.replace("seeds: 3", "seeds: 1"))
    assert main(["search", str(spec)]) == 2
    assert "rounds: the last round's 1 seed(s) is not allowed: at least 3" in capsys.readouterr().err
