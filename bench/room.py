"""A room under load: one presenter, fifty learners following, on a real Redis server.

The presenter steps a lesson's simulation and publishes every tick, as the lesson page does; each
learner polls every tick, as the classroom page's fragment does, with start times spread over the
tick (dashboard/view/charts.py's TICK_S). Every few ticks the presenter changes step. Printed: Redis commands per second (the server's
own count), and for each step change the lag until the last learner saw it. Rendering in the
browser comes on top (tests/test_cluster.py measures one learner end to end). Figures, not a test.

    python -m bench.room [--learners 50] [--seconds 30]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import threading
import time

import redis

from dashboard.view.charts import TICK_S, view_of  # the pages' tick
from curriculum.claims import build
from curriculum.format import LESSONS_DIR, load_lesson
from dashboard.classroom.store import Follower, Store
from deploy.cluster import RedisServer


def run(learners: int, seconds: float, step_every: int = 4) -> dict:
    """Run the room for `seconds` and return the figures."""
    with tempfile.TemporaryDirectory() as folder:
        server = RedisServer(folder).start()
        try:
            return _measure(server, learners, seconds, step_every)
        finally:
            server.kill()


def _measure(server: RedisServer, learners: int, seconds: float, step_every: int) -> dict:
    """Measure one room on `server`."""
    def client() -> redis.Redis:
        return redis.Redis.from_url(server.url, decode_responses=True)

    presenter_store = Store(client(), b"bench", server.url)
    code, token = presenter_store.open_room("471147")
    lesson = load_lesson(LESSONS_DIR / "04-horizontal-scaling")
    sim = build(lesson, lesson.settings_at(0))
    published: dict[int, float] = {}  # step -> when the presenter published it
    seen: list[dict[int, float]] = [dict() for _ in range(learners)]
    stop = threading.Event()

    def follow(index: int) -> None:
        follower = Follower(Store(client(), b"bench", server.url), code)
        time.sleep(random.random() * TICK_S)  # sessions tick out of phase
        while not stop.is_set():
            started = time.monotonic()
            follower.poll()
            if follower.state is not None:
                seen[index].setdefault(follower.state["step"], time.monotonic())
            time.sleep(max(TICK_S - (time.monotonic() - started), 0))

    threads = [threading.Thread(target=follow, args=(i,), daemon=True) for i in range(learners)]
    for thread in threads:
        thread.start()
    before = int(client().info("stats")["total_commands_processed"])
    began = time.monotonic()
    step, ticks, sent = 0, 0, float("-inf")
    while time.monotonic() - began < seconds:
        started = time.monotonic()
        if ticks % step_every == 0:
            step += 1
        sim.advance(1.0)
        view = view_of(sim)
        windows = [w for w in view.windows if w["t_end_s"] > sent]
        sent = windows[-1]["t_end_s"] if windows else sent
        state = {"lesson": lesson.slug, "step": step, "run": 1, "now": view.now, "theory_s": view.theory_s,
                 "dot": view.dot, "marks": []}
        presenter_store.publish(code, token, state, windows)
        published.setdefault(step, time.monotonic())
        ticks += 1
        time.sleep(max(TICK_S - (time.monotonic() - started), 0))
    elapsed = time.monotonic() - began
    stop.set()
    for thread in threads:
        thread.join(timeout=5)
    commands = int(client().info("stats")["total_commands_processed"]) - before
    lags = []
    for step_number, at in published.items():
        if step_number == 1 or step_number == step:
            continue  # the first was there before learners polled; the last may not have reached everyone
        times = [learner.get(step_number) for learner in seen]
        if all(t is not None for t in times):
            lags.append(max(times) - at)
    return {"learners": learners, "seconds": elapsed, "ticks": ticks, "redis_ops_per_s": commands / elapsed,
            "step_changes": len(lags), "lag_last_learner_median_s": statistics.median(lags) if lags else None,
            "lag_last_learner_max_s": max(lags) if lags else None}


def main(argv: list[str] | None = None) -> int:
    """Print the figures of one room under load."""
    parser = argparse.ArgumentParser(prog="python -m bench.room", description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    figures = run(args.learners, args.seconds)
    print(f"{figures['learners']} learners following one presenter for {figures['seconds']:.0f} s "
          f"({figures['ticks']} presenter ticks, {figures['step_changes']} step changes measured)")
    print(f"Redis commands per second: {figures['redis_ops_per_s']:,.0f}")
    print(f"lag from a step change to the last learner seeing it: median {figures['lag_last_learner_median_s']:.3f} s, "
          f"max {figures['lag_last_learner_max_s']:.3f} s (store path; the browser's redraw comes on top)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
