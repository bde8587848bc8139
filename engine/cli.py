"""The command line: run a scenario headless, check a file, list the presets.

    python -m engine run SCENARIO [--duration S] [--seed N] [--json] [--max-requests N] [--max-wall-s S]
    python -m engine validate FILE
    python -m engine search SPEC [--workers N] [--json] [--out FILE]
    python -m engine presets
    python -m engine metrics

SCENARIO is a YAML or JSON file, or the name of a preset. Exit status: 0 on success, 2 when the
input is invalid (one line per problem, no traceback), 3 when a run stops at its work budget or a
search at its time budget (max_wall_s; it prints what the finished runs showed), 1 when a search
finds no candidate that meets its objective, 4 when the winner cannot be written to --out (the
result is printed first).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import stat
import sys
from pathlib import Path

from engine.labels import format_metric, label, setting_in_words
from engine.metrics import METRICS
from engine.loading import ScenarioError, derive, list_presets, load_preset, load_scenario
from engine.scenario import MAX_SEED, Scenario
from engine.simulation import Budget, BudgetExceeded, Simulation

EXIT_NO_WINNER = 1
EXIT_INVALID = 2
EXIT_BUDGET = 3
EXIT_NOT_WRITTEN = 4

SEARCH_EXIT = """exit status: 0 a winner was found; 1 no candidate met the objective; 2 the spec or an argument is
invalid (nothing is run); 3 the search stopped at its time budget (max_wall_s) and printed what the runs that
finished showed (with --out, the winner so far, if any, is written); 4 the winner could not be written to --out
(the result is printed first)"""

_TABLE = (
    ("requests", ("arrivals", "completions", "dropped", "timed_out", "failed", "throughput_rps")),
    ("latency", ("latency_mean_s", "latency_p50_s", "latency_p95_s", "latency_p99_s",
                 "ttft_mean_s", "ttft_p50_s", "ttft_p95_s", "ttft_p99_s")),
    ("tokens and cost", ("input_tokens", "output_tokens", "usd_tokens", "usd_infra", "usd_total",
                         "usd_per_1k_requests")),
    ("components", tuple(f"{tier}_{name}" for tier in ("web", "db_primary", "db_replica", "llm")
                         for name in ("utilisation", "queue_length", "wait_mean_s")) + ("llm_batch_mean",)),
    ("database", ("db_reads_primary", "db_reads_replica", "db_writes", "stale_reads")),
)


def _scenario(source: str) -> Scenario:
    """Load `source` as a file if it exists, else as a preset name."""
    if Path(source).exists() or source.endswith((".yaml", ".yml", ".json")):
        return load_scenario(source)
    return load_preset(source)


def _number(text: str, kind, low, high, name: str):
    """Parse a command-line number in [low, high] with a message naming the option."""
    shown = repr(text) if len(text) <= 40 else repr(text[:37] + "...")  # repr: control characters escaped
    try:
        value = kind(text) if len(text) <= 40 else None
    except ValueError:
        value = None
    if value is None:
        expected = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"{name}: {shown} is not allowed: expected {expected}") from None
    if not (low <= value <= high) or (isinstance(value, float) and not math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{name}: {shown} is not allowed: must be between {low:,} and {high:,}")
    return value


def _out_file(text: str) -> str:
    """Check --out before the search runs: a file to write, in a folder that exists, not a folder or a pipe."""
    shown = repr(text) if len(text) <= 120 else repr(text[:117] + "...")
    path = Path(text)
    if not text or text.endswith(("/", os.sep)):
        raise argparse.ArgumentTypeError(f"--out: {shown} is not allowed: the path of a file to write (YAML, or JSON "
                                         "when it ends in .json), not a folder")
    try:
        info = path.stat()
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"--out: {shown} is not allowed: it cannot be checked "
                                         f"({exc.strerror})") from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file (a pipe or a device)"
        raise argparse.ArgumentTypeError(f"--out: {shown} is not allowed: it is {kind}; give the path of a file to "
                                         "write (YAML, or JSON when it ends in .json)")
    folder = path.parent
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"--out: {shown} is not allowed: its folder {str(folder)!r} does not exist; "
                                         "give a file in a folder that exists")
    if not os.access(path if info is not None else folder, os.W_OK):
        raise argparse.ArgumentTypeError(f"--out: {shown} is not allowed: "
                                         f"{'it' if info is not None else 'its folder'} cannot be written to here")
    return text


def _parser() -> argparse.ArgumentParser:
    """Build the argument parser."""
    parser = argparse.ArgumentParser(prog="python -m engine", description="GenAI Scaling Lab simulation engine")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a scenario headless and print its whole-run metrics")
    run.add_argument("scenario", help="a YAML/JSON scenario file or a preset name")
    run.add_argument("--duration", type=lambda t: _number(t, float, 0.001, 604_800, "--duration"),
                     help="simulated seconds (default: the scenario's duration_s)")
    run.add_argument("--seed", type=lambda t: _number(t, int, 0, MAX_SEED, "--seed"), help="override the seed")
    run.add_argument("--json", action="store_true", help="print one JSON object with the whole-run metrics")
    run.add_argument("--max-requests", type=lambda t: _number(t, int, 1, 10**12, "--max-requests"),
                     default=Budget.max_requests, help="work budget: simulated requests (default %(default)s)")
    run.add_argument("--max-wall-s", type=lambda t: _number(t, float, 0.001, 86_400, "--max-wall-s"),
                     default=Budget.max_wall_s, help="work budget: wall-clock seconds (default %(default)s)")
    search = commands.add_parser("search", help="find the cheapest architecture of a space that meets an SLO "
                                                "(docs/search.md)", epilog=SEARCH_EXIT)
    search.add_argument("spec", help="a YAML/JSON search spec")
    search.add_argument("--workers", type=lambda t: _number(t, int, 0, 256, "--workers"),
                        help="local worker processes (default: the machine's cores; 0 = this process); ignored when "
                             "DASK_SCHEDULER_ADDRESS names a Dask cluster")
    search.add_argument("--json", action="store_true", help="print one JSON object: the winner, every candidate, and "
                                                            "why it stopped early (stopped: null when it did not)")
    search.add_argument("--out", type=_out_file, help="write the winning scenario to this YAML file (checked before "
                                                       "the search starts: its folder must exist)")
    validate = commands.add_parser("validate", help="check a scenario file and report every problem")
    validate.add_argument("file")
    commands.add_parser("presets", help="list the preset scenarios")
    commands.add_parser("metrics", help="list the metric names and what they mean")
    return parser


def _print_table(scenario: Scenario, summary: dict) -> None:
    """Print the whole-run metrics grouped by topic, each with its label and unit as every page shows it."""
    print(f"{scenario.name}: {summary['t_end_s']:g} simulated seconds, seed {scenario.seed}")
    for title, keys in _TABLE:
        print(f"\n{title}")
        for key in keys:
            print(f"  {label(key):<36} {format_metric(key, summary[key]):>14}   {key}")


def _run(args) -> int:
    """Run a scenario and print its summary."""
    scenario = _scenario(args.scenario)
    if args.seed is not None:
        scenario = derive(scenario, {"seed": args.seed}, f"{args.scenario} with --seed {args.seed}")
    simulation = Simulation(scenario, Budget(max_requests=args.max_requests, max_wall_s=args.max_wall_s),
                            history_windows=1)
    try:
        summary = simulation.run(args.duration)
    except BudgetExceeded as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BUDGET
    if args.json:
        print(json.dumps(summary))
    else:
        _print_table(scenario, summary)
    return 0


def _search(args) -> int:
    """Search a spec's space and print the winner, the Pareto front, and what was left out.

    A search that stops at its time budget prints what its finished runs showed and exits 3; the winner
    is written to --out after the result is printed, and a write that fails says so and exits 4.
    """
    from engine.executors import close, executor_from_env
    from engine.loading import save_scenario
    from engine.search import Cancelled, cost, load_spec, search, worst

    spec = load_spec(args.spec)
    executor, where = executor_from_env(args.workers)
    print(f"{spec.name}: searching on {where}", file=sys.stderr)

    def progress(event: dict) -> None:
        if event["done"] == event["total"] or event["done"] % 10 == 0:
            stage = "" if event.get("stage", "halving") == "halving" else f" ({event['stage']})"
            print(f"  round {event['round']} of {event['rounds']}{stage}: {event['done']} of {event['total']} runs",
                  file=sys.stderr)

    try:
        result = search(spec, executor, progress)
    except Cancelled as exc:  # its time budget: what the finished runs showed comes with it
        result = exc.args[0]
    finally:
        close(executor)

    def figures(candidate) -> dict:
        runs = candidate.figures()
        usd = cost(runs)
        return {"choice": candidate.choice, "round": candidate.reached + 1, "seeds": len(runs),
                "usd_per_month": usd if math.isfinite(usd) else None,  # no finished run: no bill (JSON has no inf)
                "latency_p95_s": worst(runs, "latency_p95_s"), "error_rate": worst(runs, "error_rate"),
                "ttft_p95_s": worst(runs, "ttft_p95_s")}

    winner = result.winner
    status = EXIT_BUDGET if result.stopped else 0 if winner else EXIT_NO_WINNER
    if result.stopped:
        print(f"error: {spec.name}: the search {result.stopped}: {_finished(result.runs)}", file=sys.stderr)
    if args.json:
        print(json.dumps({"winner": figures(winner) if winner else None, "runs": result.runs,
                          "stopped": result.stopped, "refused": result.refused,
                          "front": [figures(c) for c in result.front()],
                          "candidates": [figures(c) for c in result.candidates]}))
    else:
        _print_search(result, figures)
    if args.out:
        if winner is None:
            print(f"--out: nothing written to {args.out!r}: no candidate met the objective"
                  + (" before the search stopped" if result.stopped else ""), file=sys.stderr)
        else:
            try:
                save_scenario(winner.scenario, args.out)
            except OSError as exc:
                print(f"error: --out: the winner could not be written to {args.out!r}: {exc.strerror or exc}",
                      file=sys.stderr)
                status = EXIT_NOT_WRITTEN
    return status


def _finished(runs: int) -> str:
    """Say how many runs a stopped search finished, and what follows."""
    if not runs:
        return "no run finished, so no candidate was measured"
    return f"{runs:,} run{'s' if runs > 1 else ''} finished; what {'they' if runs > 1 else 'it'} showed follows"


def _print_search(result, figures) -> None:
    """Print a search's result as text: how it ended, the winner, the Pareto front."""
    winner = result.winner
    if result.stopped:
        print(f"The search {result.stopped}: {_finished(result.runs)}.")
    print(f"{len(result.candidates)} candidates ({len(result.refused)} left out as invalid), {result.runs} runs")
    if winner is None and result.stopped:
        print("No candidate finished every seed of the last round meeting the objective before the search stopped.")
    elif winner is None:
        print("No candidate met the objective on every seed of the last round.")
    else:
        shown = figures(winner)
        so_far = " so far (not every candidate was judged)" if result.stopped else ""
        print(f"Cheapest{so_far} that meets the objective on {shown['seeds']} seeds: "
              + "; ".join(f"{setting_in_words(Scenario, path, value)} ({path})" for path, value in winner.choice.items()))
        print(f"  {format_metric('usd_per_month', shown['usd_per_month'])}, worst seed: p95 "
              f"{format_metric('latency_p95_s', shown['latency_p95_s'])}, errors "
              f"{format_metric('error_rate', shown['error_rate'])}")
    print("\nPareto front (cost against worst p95; each cheaper point is slower):")
    front = result.front()
    for candidate in front:
        shown = figures(candidate)
        print(f"  {format_metric('usd_per_month', shown['usd_per_month']):>12}  p95 "
              f"{format_metric('latency_p95_s', shown['latency_p95_s']):>8}  errors "
              f"{format_metric('error_rate', shown['error_rate']):>7}  "
              + ", ".join(f"{path}={value}" for path, value in candidate.choice.items()))
    if not front:
        print("  none: no candidate finished every seed of the last round within the error (and first-token) targets")


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "search":
            return _search(args)
        if args.command == "validate":
            scenario = load_scenario(args.file)
            print(f"{args.file}: valid ({scenario.name})")
        elif args.command == "presets":
            for name, title in list_presets():
                print(f"{name:<28} {title}")
        else:
            for name, text in METRICS.items():
                print(f"{name:<26} {text}")
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    return 0
