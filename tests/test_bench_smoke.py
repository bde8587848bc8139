"""Smoke test of the speed benchmark: its contenders simulate what they claim, and simulate it right.

Timings are never asserted (on a shared machine they flake); what is asserted is behaviour. Each
M/M/c contender must simulate exactly the requests asked for, the engine and textbook SimPy must
give the same mean wait when they meet the same random numbers, and every contender's mean wait
must agree with Erlang C. That last check pools R = 12 fixed seeds of 5,000 requests (60,000 in
all). The benchmark's own runs show a 200,000-request mean wait straying about 5 % (one standard
deviation) from run to run; the spread shrinks as 1/sqrt(requests), so 60,000 requests stray
about 9 %, and runs that start empty read slightly low. The allowed 25 % is thus close to three
standard deviations: loose enough never to fail a correct simulator on these fixed seeds, tight
enough to catch one worker too many or a service time 5 % off (each moves the wait by 50 % or more).
"""

import math

import pytest

from bench.__main__ import main
from bench.full_stack import full_stack_scenario, run_full_stack
from bench.mmc import Queue, horizon_s, mmc_scenario, run_ciw, run_engine, run_simpy
from engine.theory import mmc_wait

REQUESTS = 5_000
SEEDS = range(1, 13)
TOLERANCE = 0.25


@pytest.fixture(scope="module")
def queue():
    """The preset's queue: 8 arrivals/s, mean service 1 s, 10 workers."""
    return Queue.of(mmc_scenario())


@pytest.fixture(scope="module")
def erlang_c(queue):
    """The exact mean wait in queue, 0.2046 s."""
    return mmc_wait(queue.rate, 1 / queue.mean_service_s, queue.servers)


@pytest.fixture(scope="module")
def runs(queue):
    """Every contender's runs, one per seed."""
    wide, preset = mmc_scenario(window_s=60), mmc_scenario()
    return {
        "engine": [run_engine(wide, REQUESTS, seed) for seed in SEEDS],
        "engine, 1 s windows": [run_engine(preset, REQUESTS, seed) for seed in SEEDS[:2]],
        "simpy": [run_simpy(queue, REQUESTS, seed) for seed in SEEDS],
        "ciw": [run_ciw(queue, REQUESTS, seed) for seed in SEEDS],
    }


def test_preset_is_the_queue_the_benchmark_describes(queue, erlang_c):
    assert (queue.rate, queue.mean_service_s, queue.servers) == (8, 1.0, 10)
    assert erlang_c == pytest.approx(0.2046, abs=1e-4)


def test_horizon_falls_between_the_nth_and_next_arrival():
    assert 0.9 * REQUESTS / 8 < horizon_s(REQUESTS, 1, 8.0) < 1.1 * REQUESTS / 8
    assert horizon_s(REQUESTS, 1, 8.0) < horizon_s(REQUESTS + 1, 1, 8.0)


@pytest.mark.parametrize("contender", ["engine", "engine, 1 s windows", "simpy", "ciw"])
def test_each_contender_simulates_exactly_the_requests_asked_for(runs, contender):
    assert [run.requests for run in runs[contender]] == [REQUESTS] * len(runs[contender])
    assert all(run.wall_s > 0 for run in runs[contender])


def test_engine_and_textbook_simpy_agree_on_the_same_random_numbers(runs):
    for engine, simpy_run in zip(runs["engine"], runs["simpy"]):
        assert engine.seed == simpy_run.seed
        assert engine.wait_mean_s == pytest.approx(simpy_run.wait_mean_s, rel=1e-9)


def test_metrics_windows_do_not_change_the_engine_result(runs):
    for narrow, wide in zip(runs["engine, 1 s windows"], runs["engine"]):
        assert narrow.wait_mean_s == pytest.approx(wide.wait_mean_s, rel=1e-9)


def test_seeds_give_different_runs(runs):
    waits = [run.wait_mean_s for run in runs["engine"]]
    assert len(set(waits)) == len(waits)


@pytest.mark.parametrize("contender", ["engine", "simpy", "ciw"])
def test_mean_wait_agrees_with_erlang_c(runs, erlang_c, contender):
    pooled = sum(run.wait_mean_s for run in runs[contender]) / len(runs[contender])
    assert abs(pooled / erlang_c - 1) < TOLERANCE


def test_textbook_and_ciw_runs_carry_batch_means(runs):
    for contender in ("simpy", "ciw"):
        for run in runs[contender]:
            assert len(run.batch_means) == 20
            assert all(math.isfinite(m) and m >= 0 for m in run.batch_means)


def test_full_stack_runs_the_time_for_the_requests_asked_for_without_errors():
    requests = 2_000
    run = run_full_stack(full_stack_scenario(), requests, "smoke")
    # Poisson arrivals: the count strays by about sqrt(2000) = 45; four times that is the bound.
    assert abs(run.requests - requests) < 4 * math.sqrt(requests)
    assert run.summary["errors"] == 0
    assert run.summary["completions"] > 0.95 * run.requests
    assert run.simulated_s == pytest.approx(requests / 5)


def test_command_line_prints_every_figure(capsys):
    assert main(["--requests", "2000", "--full-stack-requests", "500", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    for text in ("plain SimPy", "Ciw", "Erlang C", "/ plain SimPy:", "/ Ciw:", "target >= 3x",
                 "target within 2%", "target >= 40,000", "60 s windows", "load average at end"):
        assert text in out


def test_the_search_benchmark_prints_its_speed_ups_and_one_winner(capsys):
    from bench.search import main as search_main

    assert search_main(["--repeats", "1", "--short", "5", "--long", "10"]) == 0
    printed = capsys.readouterr().out
    assert "40 candidates at 20 req/s: 82 simulation runs per search" in printed
    assert "speed-up of 2 processes over 1:" in printed and "every contender found the same winner: True" in printed


def test_the_lab_benchmark_prints_embedding_and_lookup_figures_and_cleans_up(capsys):
    import fakeredis

    from bench import lab

    lab.main(["--repeats", "5", "--sizes", "100,300"])
    out = capsys.readouterr().out
    assert "embedding, one question at a time: median" in out and "questions in batches" in out
    assert "lookup after embedding,     100 stored answers" in out and "300 / 100 stored" in out
    server = fakeredis.FakeServer()
    lab.lookups(fakeredis.FakeRedis(server=server), [50], 3, "check")
    assert fakeredis.FakeRedis(server=server).keys("gsl:lab:cache:bench-50:entry:*") == []  # cleared after


def test_the_memory_benchmark_plays_eleven_thousand_instances_with_and_without_the_bound(capsys):
    from bench import memory

    assert memory.main(["--ticks", "1"]) == 0
    out = capsys.readouterr().out
    assert "  bounded:   54 windows kept" in out and "unbounded: " in out and "bounded / unbounded, peak: " in out
