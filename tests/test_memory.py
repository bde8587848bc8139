"""A live run keeps its memory bounded however long it goes."""

import tracemalloc

from engine import Simulation, load_preset


def test_long_live_run_keeps_memory_bounded():
    # Tracing starts before anything is built, so objects freed later were traced when made and
    # the two readings compare like with like.
    tracemalloc.start()
    try:
        sim = Simulation(load_preset("full_stack"), history_windows=200)
        sim.advance(600)  # history full, client deadlines and queues at steady state
        baseline, _ = tracemalloc.get_traced_memory()
        for _ in range(30):
            sim.advance(100)
        grown = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    summary = sim.summary()
    assert summary["arrivals"] > 15_000
    assert len(sim.windows) == 200
    assert sim.windows[-1]["t_end_s"] == 3600
    # 3,000 more simulated seconds and ~15,000 more requests: keeping even one float per request
    # would add over 400 kB; bounded state adds next to nothing.
    assert grown < 100_000, f"memory grew by {grown} bytes"


def test_history_is_a_rolling_window():
    sim = Simulation(load_preset("single_server"), history_windows=10)
    sim.advance(25)
    assert [w["t_end_s"] for w in sim.windows] == [float(t) for t in range(16, 26)]
    assert sim.summary()["t_end_s"] == 25  # the run totals still cover everything
