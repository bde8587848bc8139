"""The command line: run, validate, presets; exit status 2 on bad input, never a traceback."""

import json
import subprocess
import sys

import pytest

from engine import METRICS
from engine.cli import main

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


def cli(*args, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `python -m engine ARGS` in a fresh process."""
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


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
    (["validate", "/nonexistent.yaml"], "(file): cannot be read: No such file or directory"),
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


# Six candidates of an hour each on three seeds, one run at a time: far longer than the 0.2 s the search may take.
SEARCH_OUT_OF_TIME = """
name: out of time
base: mmc_queue
space: {web.workers: [10, 12, 14, 16, 20, 24]}
rounds: [{seconds: 3600, seeds: 3}]
max_wall_s: 0.2
"""


def _strict_json(text: str):
    """Parse JSON as the standard has it: no Infinity or NaN (Python's json writes and reads them by default)."""
    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_a_search_that_reaches_its_time_budget_prints_what_the_finished_runs_showed_and_exits_3(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SEARCH_OUT_OF_TIME)
    result = cli("search", str(spec), "--workers", "0")
    assert result.returncode == 3, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and len(result.stderr) < 1_000  # not the whole result, once
    lines = result.stdout.splitlines()
    assert lines[0].startswith("The search stopped at its time budget of 0.2 s: ")
    assert lines[0].endswith(("runs finished; what they showed follows.", "1 run finished; what it showed follows.",
                              "no run finished, so no candidate was measured.")), lines[0]
    assert lines[1].startswith("6 candidates (0 left out as invalid), ")
    assert lines[2] == ("No candidate finished every seed of the last round meeting the objective before the "
                        "search stopped.")
    assert "the search stopped at its time budget of 0.2 s" in result.stderr
    result = cli("search", str(spec), "--workers", "0", "--json")
    assert result.returncode == 3
    printed = _strict_json(result.stdout)
    assert printed["stopped"] == "stopped at its time budget of 0.2 s" and printed["winner"] is None
    assert len(printed["candidates"]) == 6 and printed["runs"] < 6 * 3


def _measured(spec_text: str, winner_index: int, stopped: str | None):
    """A search's result as if it had run: every candidate measured on three seeds, one of them the winner."""
    from engine.search import Result, candidates, read_spec

    spec = read_spec(spec_text)
    pool, refused = candidates(spec)
    for candidate in pool:
        runs = 3 if candidate.index == winner_index or stopped is None else 1
        candidate.runs = {0: [{"stopped": None, "usd_per_month": 1000.0 * (candidate.index + 1),
                               "latency_p95_s": 20.0 - candidate.index, "error_rate": 0.0, "ttft_p95_s": None}] * runs}
        candidate.reached = 0
    return Result(spec, pool, refused, pool[winner_index], 3 * len(pool), cancelled=stopped is not None,
                  stopped=stopped)


def test_a_search_stopped_with_a_winner_so_far_says_so_and_writes_it(tmp_path, capsys, monkeypatch):
    import engine.search

    spec = tmp_path / "spec.yaml"
    spec.write_text(SEARCH)

    def stopped(spec, executor, progress=None, cancel=None):
        raise engine.search.Cancelled(_measured(SEARCH, 2, "stopped at its time budget of 60 s"))

    monkeypatch.setattr(engine.search, "search", stopped)
    out = tmp_path / "winner.yaml"
    assert main(["search", str(spec), "--workers", "0", "--out", str(out)]) == 3
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "The search stopped at its time budget of 60 s: 12 runs finished; what they showed follows."
    assert printed[2] == ("Cheapest so far (not every candidate was judged) that meets the objective on 3 seeds: "
                          "Web tier › Replicas: 4 (web.replicas)")
    assert "replicas: 4" in out.read_text()  # the winner so far


@pytest.mark.parametrize("out, says", [
    ("/nonexistent/dir/win.yaml", "--out: '/nonexistent/dir/win.yaml' is not allowed: its folder '/nonexistent/dir' "
                                  "does not exist"),
    ("{tmp}", "--out: '{tmp}' is not allowed: it is a folder"),
    ("{tmp}/", "--out: '{tmp}/' is not allowed: the path of a file to write"),
    ("{tmp}/pipe", "--out: '{tmp}/pipe' is not allowed: it is not a regular file (a pipe or a device)"),
])
def test_search_checks_its_out_file_before_it_searches(tmp_path, out, says):
    import os

    os.mkfifo(tmp_path / "pipe")
    spec = tmp_path / "spec.yaml"
    spec.write_text(SEARCH)
    result = cli("search", str(spec), "--workers", "0", "--out", out.format(tmp=tmp_path), timeout=30)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert says.format(tmp=tmp_path) in result.stderr
    assert "searching on" not in result.stderr and result.stdout == ""  # refused before the search started


def test_a_winner_that_cannot_be_written_is_said_after_the_result_with_status_4(tmp_path, capsys, monkeypatch):
    import errno
    import os

    import engine.loading
    import engine.search

    def full_disk(scenario, path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(engine.search, "search", lambda spec, executor, progress=None, cancel=None:
                        _measured(SEARCH, 2, None))
    monkeypatch.setattr(engine.loading, "save_scenario", full_disk)
    spec = tmp_path / "spec.yaml"
    spec.write_text(SEARCH)
    out = tmp_path / "winner.yaml"
    assert main(["search", str(spec), "--workers", "0", "--out", str(out)]) == 4
    printed = capsys.readouterr()
    assert "Cheapest that meets the objective on 3 seeds: Web tier › Replicas: 4 (web.replicas)" in printed.out
    assert printed.err.splitlines()[-1] == (f"error: --out: the winner could not be written to {str(out)!r}: "
                                            "No space left on device")


@pytest.mark.parametrize("path", ["{fifo}", "/dev/zero", "."])
def test_search_reads_only_a_regular_file_as_its_spec(tmp_path, path):
    import os

    os.mkfifo(tmp_path / "spec.yaml")  # opening a pipe with no writer would wait for ever
    result = cli("search", path.format(fifo=tmp_path / "spec.yaml"), "--workers", "0", timeout=30)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "(file): is not allowed: not a regular file (a pipe, a device or a folder)" in result.stderr, result.stderr
