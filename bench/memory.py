"""`python -m bench.memory`: what one live session holds when a link asks for 11,000 instances.

A share link of 740 characters can describe 1,000 web replicas and 10,000 self-hosted LLM replicas,
with 10 ms windows. Every window a run remembers keeps each instance's figures, so before
`Budget.max_instance_windows` such a session grew to gigabytes (a review measured 1.7 GB and rising).
This plays that scenario as the live view does (a warm-up, then ticks of 0.12 s of wall time) in a
fresh process, once as the app runs it and once with the bound lifted, and prints each process's
peak and final resident memory and the ratio between them. Each contender has its own process,
because memory a process held once is not given back to the system.
"""

from __future__ import annotations

import argparse
import functools
import json
import subprocess
import sys

HEAVY = {
    "traffic": {"rate_rps": 1}, "load_balancer": {}, "window_s": 0.01,
    "web": {"replicas": 1000, "db_reads_per_request": 0, "db_writes_per_request": 0},
    "llm": {"kind": "router", "deployments": [{"kind": "self_hosted", "name": f"d{i:02d}", "replicas": 200}
                                             for i in range(50)]},
}


def _megabytes(field: str) -> int:
    """Return a VmRSS or VmHWM figure of this process, in MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) // 1024 for line in status if line.startswith(field))


def child(bounded: bool, ticks: int) -> None:
    """Play the heavy scenario and print {"windows", "simulated_s", "peak_mb", "final_mb"} as JSON."""
    import curriculum.playback as playback
    from engine import Budget, parse_scenario

    if not bounded:  # the same run with the bound lifted: what a session held before it
        playback.Budget = functools.partial(Budget, max_instance_windows=10**12)
    run = playback.Playback(parse_scenario(HEAVY), "11,000 instances")
    run.warm_up(60)
    for _ in range(ticks):
        run.advance(36, max_wall_s=0.12)
    print(json.dumps({"windows": len(run.now.sim.windows), "simulated_s": round(run.t, 2),
                      "peak_mb": _megabytes("VmHWM"), "final_mb": _megabytes("VmRSS")}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=60, help="ticks after the warm-up (default 60)")
    parser.add_argument("--child", choices=["bounded", "unbounded"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child == "bounded", args.ticks)
        return 0
    figures = {}
    for name in ("bounded", "unbounded"):
        done = subprocess.run([sys.executable, "-m", "bench.memory", "--child", name, "--ticks", str(args.ticks)],
                              capture_output=True, text=True, check=True)
        figures[name] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{name:>9}: {figures[name]['windows']:>4} windows kept, {figures[name]['simulated_s']:.2f} s simulated, "
              f"peak {figures[name]['peak_mb']:,} MB, at the end {figures[name]['final_mb']:,} MB")
    print(f"bounded / unbounded, peak: {figures['bounded']['peak_mb'] / figures['unbounded']['peak_mb']:.2f}x; "
          f"at the end: {figures['bounded']['final_mb'] / figures['unbounded']['final_mb']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
