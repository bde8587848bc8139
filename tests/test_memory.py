"""A live run keeps its memory bounded however long it goes."""

import json
import subprocess
import sys
from pathlib import Path

from engine import Simulation, load_preset

ROOT = Path(__file__).resolve().parent.parent

# Run in a fresh interpreter: threads and caches left by other tests (Streamlit's, say) would
# allocate during the measurement and make it flaky.
MEASURE = """
import json, tracemalloc
from engine import Simulation, load_preset
tracemalloc.start()  # before anything is built, so objects freed later were traced when made
sim = Simulation(load_preset("full_stack"), history_windows=20)  # short history: less noise
sim.advance(1600)  # history full; queues, heaps and buffers at their working size
sim.summary()  # empties the latency buffer waiting to enter the sketch, as at the second reading
baseline, _ = tracemalloc.get_traced_memory()
for _ in range(20):
    sim.advance(100)
summary = sim.summary()
grown = tracemalloc.get_traced_memory()[0] - baseline
print(json.dumps({"grown": grown, "arrivals": summary["arrivals"], "windows": len(sim.windows),
                  "last": sim.windows[-1]["t_end_s"]}))
"""


def test_long_live_run_keeps_memory_bounded():
    result = subprocess.run([sys.executable, "-c", MEASURE], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout)
    assert measured["arrivals"] > 15_000
    assert measured["windows"] == 20 and measured["last"] == 3600
    # 2,000 more simulated seconds and ~10,000 more requests: keeping even one float per request
    # would add over 300 kB; bounded state adds next to nothing.
    assert measured["grown"] < 100_000, f"memory grew by {measured['grown']} bytes"


def test_history_is_a_rolling_window():
    sim = Simulation(load_preset("single_server"), history_windows=10)
    sim.advance(25)
    assert [w["t_end_s"] for w in sim.windows] == [float(t) for t in range(16, 26)]
    assert sim.summary()["t_end_s"] == 25  # the run totals still cover everything


def test_a_run_makes_no_reference_cycles_so_reference_counting_frees_everything():
    # The clock lets the cyclic collector run less often (engine/clock.py); that is safe only while
    # the engine frees everything by reference counting. Cycles made per request would pile up.
    import gc

    from engine import Budget, derive

    ten_million = derive(load_preset("genai_stack"),
                         {"traffic": {"rate_rps": None, "users": {"daily_active": 10_000_000}}})
    scenarios = [load_preset("full_stack"), load_preset("genai_stack"), ten_million]
    for scenario in scenarios:
        Simulation(scenario, Budget(max_requests=10**8, max_wall_s=300)).run(10)  # lazy imports make one-off cycles
    cyclic = []
    for scenario, seconds in zip(scenarios, (2_000, 2_000, 10)):
        sim = Simulation(scenario, Budget(max_requests=10**8, max_wall_s=300))
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector finds is kept in gc.garbage instead of freed
        try:
            summary = sim.run(seconds)
            gc.collect()
            cyclic.append((scenario.name, summary["arrivals"], len(gc.garbage)))
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
        del sim  # (the simulation itself is one cycle of components and callbacks: freed here, unsaved)
        gc.collect()
    assert all(arrivals > 10_000 for _, arrivals, _ in cyclic)
    assert [(name, garbage) for name, _, garbage in cyclic] == [(name, 0) for name, _, _ in cyclic]
