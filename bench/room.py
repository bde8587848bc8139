"""A room under load: one presenter, fifty learners following, on a real Redis server.

The presenter steps a lesson's simulation and publishes every tick, as the lesson page does; each
learner polls every tick, as the classroom page's fragment does, with start times spread over the
tick (dashboard/view/player.py's TICK_S). Every few ticks the presenter changes step; from the
second step on, a change runs a "before" line beside the run, so every point carries both. Printed: Redis commands per second (the server's
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

from curriculum.format import LESSONS_DIR, load_lesson
from curriculum.playback import Playback
from dashboard.classroom.room import combine
from dashboard.classroom.store import Follower, Store
from dashboard.view.diagram import diagram, topology
from dashboard.view.player import TICK_S  # the pages' tick
from dashboard.view.series import point
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
    playback = Playback(lesson.build_scenario(), "", lesson.settings_at(0))
    playback.warm_up(30)
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
            if step == 2:
                playback.change("web_replicas", 2)  # from here on each point has a before line too
        playback.advance(2.5 * TICK_S)  # the default speed
        now = [point(w) for w in playback.now.sim.windows if w["t_end_s"] > sent]
        earlier = [point(w) for w in playback.before.sim.windows if w["t_end_s"] > sent] if playback.before else None
        points = combine(now, earlier, sent)
        sent = points[-1]["t_end_s"] if points else sent
        windows = list(playback.now.sim.windows)[-10:]
        state = {"lesson": lesson.slug, "step": step, "run": "bench", "now": playback.t, "theory_s": None,
                 "diagram": diagram(topology(playback.now.sim), windows, windows[-1]["rolled"][10.0]),
                 "marks": playback.marks, "since": playback.since, "playback": playback.as_data()}
        presenter_store.publish(code, token, state, points)
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
