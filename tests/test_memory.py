"""A live run keeps its memory bounded however long it goes."""

import tracemalloc

from engine import Simulation, load_preset


def test_long_live_run_keeps_memory_bounded():
    # Tracing starts before anything is built, so objects freed later were traced when made and
    # the two readings compare like with like.
    tracemalloc.start()
    try:
        # A short history keeps the noise small: the floats inside kept records vary in number.
        sim = Simulation(load_preset("full_stack"), history_windows=20)
        sim.advance(1600)  # history full; queues, heaps and buffers have grown to their working size
        # summary() empties the latency buffer (up to 8,192 values waiting to enter the sketch),
        # so both readings see the same bounded state.
        sim.summary()
        baseline, _ = tracemalloc.get_traced_memory()
        for _ in range(20):
            sim.advance(100)
        sim.summary()
        grown = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    summary = sim.summary()
    assert summary["arrivals"] > 15_000
    assert len(sim.windows) == 20
    assert sim.windows[-1]["t_end_s"] == 3600
    # 2,000 more simulated seconds and ~10,000 more requests: keeping even one float per request
    # would add over 300 kB; bounded state adds next to nothing.
    assert grown < 100_000, f"memory grew by {grown} bytes"


def test_history_is_a_rolling_window():
    sim = Simulation(load_preset("single_server"), history_windows=10)
    sim.advance(25)
    assert [w["t_end_s"] for w in sim.windows] == [float(t) for t in range(16, 26)]
    assert sim.summary()["t_end_s"] == 25  # the run totals still cover everything
