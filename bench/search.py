"""`python -m bench.search`: how much faster a 40-candidate search runs on 2 workers than on 1, and on a
2-worker Dask LocalCluster than on a 2-process pool.

The search (engine/search.py) is the part of the app that outgrows one core: dozens of candidates x
seeds x minutes of simulated traffic. Its runs are independent, so the ideal speed-up of N workers
is N; what is lost goes to starting the workers, moving tasks and results, and the last runs of a
round waiting for the slowest. Wall-clock figures on a shared machine are noisy, so each contender
runs `--repeats` times, interleaved, and the best time of each is kept; the figures that matter are
the ratios between contenders measured in this one process. Workers are started (and warmed up
with one task each) before the clock starts: a long-lived app keeps its pool.
"""

from __future__ import annotations

import argparse
import os
import time

from engine.executors import close, dask_executor, process_pool
from engine.search import read_spec, search

# 10 replica counts x 2 sizes x 2 read-replica counts = 40 candidates of a web tier at 20 req/s, the
# token bill switched off so the instances decide. Quick runs first, then 3 seeds for the best third.
SPEC = """
name: 40 candidates at 20 req/s
base: horizontal_load_balancer
changes: {traffic: {rate_rps: 20}, llm: {price_input_per_m_usd: 0, price_output_per_m_usd: 0}}
slo: {latency_p95_s: 20, error_rate: 0.01}
space:
  web.replicas: [2, 3, 4, 5, 6, 8, 10, 12, 14, 16]
  web.size: [small, medium]
  database.read_replicas: [0, 1]
rounds: [{seconds: %(short)d, seeds: 1}, {seconds: %(long)d, seeds: 3}]
warmup_s: 30
"""


def _warm(executor, workers: int) -> None:
    """Start every worker and load the engine in it before anything is timed."""
    from engine.search import evaluate

    tiny = read_spec(SPEC % {"short": 5, "long": 5})
    from engine.search import candidates
    from engine.loading import scenario_to_data

    data = scenario_to_data(candidates(tiny)[0][0].scenario)
    futures = [executor.submit(evaluate, {"scenario": data, "seed": 1, "warmup_s": 0, "seconds": 1})
               for _ in range(workers * 2)]
    for future in futures:
        future.result()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--short", type=int, default=60, help="simulated seconds of the first round")
    parser.add_argument("--long", type=int, default=240, help="simulated seconds of the last round")
    args = parser.parse_args(argv)
    spec = read_spec(SPEC % {"short": args.short, "long": args.long})
    from distributed import LocalCluster

    contenders = {"1 process": process_pool(1), "2 processes": process_pool(2)}
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    contenders["Dask LocalCluster, 2 workers"] = dask_executor(cluster)
    for name, executor in contenders.items():
        _warm(executor, 2)
    best: dict[str, float] = {}
    winners = set()
    runs = 0
    try:
        for repeat in range(args.repeats):
            order = list(contenders)
            order = order[repeat % len(order):] + order[:repeat % len(order)]
            for name in order:
                start = time.perf_counter()
                result = search(spec, contenders[name])
                elapsed = time.perf_counter() - start
                best[name] = min(best.get(name, elapsed), elapsed)
                winners.add(tuple(sorted(result.winner.choice.items())) if result.winner else None)
                runs = result.runs
    finally:
        for executor in contenders.values():
            close(executor)
        cluster.close()
    print(f"{spec.name}: {runs} simulation runs per search, best of {args.repeats}, on {os.cpu_count()} cores")
    for name, seconds in best.items():
        print(f"  {name:<30} {seconds:6.2f} s")
    one, two, dask = best["1 process"], best["2 processes"], best["Dask LocalCluster, 2 workers"]
    print(f"speed-up of 2 processes over 1:               {one / two:.2f}x (ideal 2)")
    print(f"Dask LocalCluster (2 workers) vs 2 processes: {two / dask:.2f}x (above 1: Dask faster)")
    print(f"every contender found the same winner: {len(winners) == 1} ({dict(next(iter(winners))) if winners else None})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
