"""The simulation: a scenario brought to life, advanced step by step and reshaped as it runs.

Requests arrive, pass the load balancer, wait for a web worker, run the handler, read from the
database, call the LLM, write the answer back and return to a client who may have given up long
before. Every delay a request meets comes from a station it queues at or a service it receives:
latency is never written down, it emerges from the queues.

The simulation moves only when asked, by `advance(seconds)`, which runs SimPy's clock that far
and returns the metrics windows that closed on the way. Between two steps the architecture can be
changed (replicas added or removed, the balancing algorithm switched, the arrival rate changed, a
component taken down and brought back); changes act from the current simulated time and work
already in flight finishes where it is. Each step is bounded by a work budget, so no scenario can
hang the caller.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass

from engine.autoscaler import Autoscaler
from engine.balancer import LoadBalancer
from engine.billing import Billing
from engine.cache import prompt_key_sampler
from engine.clock import Clock, after, first
from engine.controls import LiveControls
from engine.database import Database
from engine.distributions import sampler
from engine.genai_leg import GenAILeg
from engine.llm import LLMDeployment
from engine.metrics import COUNTER_NAMES as _COUNTER_NAMES, TIERS, Recorder
from engine.randomness import stream
from engine.request import Outcomes, Request
from engine.retries import RetryPolicy
from engine.rolling import Rolling
from engine.router import Router
from engine.scenario import Scenario
from engine.traffic import Arrivals
from engine.web import WebTier

_WALL_CHECK_EVERY = 1024


@dataclass(frozen=True)
class Budget:
    """Work one `advance` call may do before it stops: simulated arrivals and wall-clock seconds; and how many
    requests may be inside the architecture at once (each holds memory: about 300 bytes)."""

    max_requests: int = 20_000_000
    max_wall_s: float = 300.0
    max_in_system: int = 500_000
    # An instance's figures in one remembered window (about 100 bytes, 500 once a chart reads them): a run of many
    # instances remembers fewer windows. 11,000 instances kept 3,600 windows, gigabytes, before this bound.
    max_instance_windows: int = 600_000


class BudgetExceeded(RuntimeError):
    """A step hit its work budget; the message says which limit and how to raise it.

    `limit` is "max_requests" or "max_wall_s". The simulation stays consistent either way: the
    next `advance` goes on from where this one stopped, with nothing lost.
    """

    def __init__(self, message: str, limit: str):
        """Say which limit was reached."""
        super().__init__(message)
        self.limit = limit


class Simulation:
    """A live, reconfigurable run of one scenario, made of its components.

    The web tier, the database and the GenAI leg (cache, token limits, LLM) each get what they
    need passed in and hand requests back through a named `Outcomes`; `controls` reshapes the run,
    `billing` charges its instances. The simulation itself walks each request through its steps.
    """

    def __init__(self, scenario: Scenario, budget: Budget = Budget(), history_windows: int = 3600,
                 rolling_s: tuple[float, ...] = ()):
        """Build every component of `scenario` at simulated time 0, ready to `advance`.

        With `rolling_s` (spans in simulated seconds), every window record also carries `rolled`:
        the record over the last span (engine/rolling.py), what a live view shows.
        """
        self.scenario = scenario
        self.budget = budget
        self.env = env = Clock(watchdog=self._watchdog)
        rolling = Rolling(tuple(rolling_s), scenario.window_s, _COUNTER_NAMES, TIERS) if rolling_s else None
        self.history_windows = min(history_windows, max(10, budget.max_instance_windows // scenario.most_instances()))
        self.recorder = Recorder(0.0, self.history_windows, rolling)
        seed = scenario.seed
        web = scenario.web
        self.web = WebTier(env, web, on_worker=self._worker_start, on_core=self._core_start, on_abandoned=self._gone,
                           on_crash=self._web_crashed)
        self._async_io = web.async_io
        # A bare web tier (no database, no LLM: the theory check) answers straight after the handler.
        bare = not (web.db_reads_per_request or web.db_writes_per_request or scenario.llm)
        self._handler_done = self._answered if bare and not web.async_io else self._handled
        self._handler_time = sampler(web.handler_ms, stream(seed, "web.handler"), scale=web.speed())
        self._reads, self._writes = web.db_reads_per_request, web.db_writes_per_request
        self.balancer = LoadBalancer(scenario.load_balancer.algorithm, seed) if scenario.load_balancer else None
        self.database = (Database(env, scenario.database, seed, self._current_window,
                                  Outcomes(done=self._next_step, failed=self._fail), self._resized)
                         if scenario.database else None)
        self.genai = (GenAILeg(env, scenario, self.recorder, Outcomes(done=self._next_step, failed=self._fail,
                                                                      refused=self._refused, gone=self._client_left))
                      if scenario.llm else None)
        self.cache = self.genai.cache if self.genai else None
        self.llm = self.genai.llm if self.genai else None
        self._key_rng = stream(seed, "prompt_keys")
        keys = scenario.traffic.prompt_keys
        self._next_key = prompt_key_sampler(keys, self._key_rng) if keys is not None else None
        self._live_prompt_keys = keys
        # One autoscaler per scaled fleet: the web tier, and each self-hosted LLM deployment.
        scaled = [(web.autoscale, self.web.fleet)] + [(getattr(m.spec, "autoscale", None), m.fleet)
                                                      for m in self.llm_deployments()]
        self.autoscalers = [Autoscaler(env, spec, fleet, self.recorder.history, self._resized)
                            for spec, fleet in scaled if spec is not None]
        budgets = self.genai is not None and self.genai.budgets is not None
        self.arrivals = Arrivals(env, scenario.traffic, seed, self._arrive, needs_tokens=self.llm is not None,
                                 needs_users=self.database is not None or budgets)
        self._timeout_s = scenario.traffic.client_timeout_s
        self._patience_s = self._timeout_s if self._timeout_s is not None else math.inf
        self._clients: deque[Request] = deque()  # requests in arrival order, until their deadline passes
        retries = scenario.traffic.retries
        self.retries = RetryPolicy(retries, seed) if retries is not None else None
        self._user_done = self.arrivals.user_done if self.arrivals.closed_loop else None  # a user sends the next one
        self._streaming = scenario.traffic.streaming
        self._windows_closed = 0
        self._gauges_versions: list = []  # the fleets' versions when the gauges were last counted
        self._gauge_fleets: tuple | None = None  # the web fleet and every self-hosted LLM fleet, found at the first count
        self._gauge_models: list = []  # the self-hosted LLM deployments among them
        self._gauges_counted: dict = {}
        self._arrived = 0
        self._inside = 0  # attempts admitted and not finished: what holds memory in the servers' queues
        self._start_step_budget()
        self.billing = Billing(env, scenario, self.recorder, self.web, self.database, self.llm)
        self.controls = LiveControls(self)
        self._schedule_window()
        for failure in scenario.failures:
            after(env, failure.at_s, self._scheduled_failure, failure)
        self.arrivals.start()

    # --- stepping -------------------------------------------------------------------------

    @property
    def now(self) -> float:
        """Return the current simulated time in seconds."""
        return self.env.now

    def advance(self, seconds: float) -> list[dict]:
        """Run `seconds` of simulated time; return the metrics windows that closed meanwhile."""
        closed = self._run_for(seconds)
        history = self.recorder.history
        return [history[i] for i in range(max(len(history) - closed, 0), len(history))]

    def _run_for(self, seconds: float) -> int:
        """Run `seconds` of simulated time; return how many windows closed meanwhile."""
        if not seconds > 0:
            raise ValueError(f"seconds: {seconds!r} is not allowed: must be greater than 0")
        closed_before = self._windows_closed
        self._start_step_budget()
        target = self.env.now + seconds
        window_s = self.scenario.window_s
        boundary = round(target / window_s) * window_s
        if abs(target - boundary) <= 1e-9 * max(1.0, target):
            target = boundary  # ten steps of 0.1 s end on the 1 s window, not a rounding error short of it
        self.env.advance(target - self.env.now)  # a window due at the target closes first
        return self._windows_closed - closed_before

    def run(self, seconds: float | None = None) -> dict:
        """Advance for `seconds` (default: the scenario's duration_s), close the last window, return the summary."""
        self._run_for(seconds if seconds is not None else self.scenario.duration_s)  # no window read: none built
        if self.env.now > self.recorder.window.t_start_s:
            self._close_window()
        return self.summary()

    def restart_summary(self) -> None:
        """Make the run summary cover only what happens from now on (warm-up deletion); call on a window boundary."""
        if self.env.now != self.recorder.window.t_start_s:
            raise ValueError(f"restart_summary: at {self.env.now:g} s is not allowed: only on a window boundary "
                             f"(a multiple of window_s = {self.scenario.window_s:g} s)")
        self.recorder.restart_summary(self.env.now)

    def start_since(self) -> None:
        """Start the rolling "since" figures afresh from the window being filled now (needs `rolling_s`)."""
        if self.recorder.rolling is None:
            raise ValueError("start_since: this simulation keeps no rolling figures (give rolling_s)")
        self.recorder.rolling.anchor()

    def summary(self) -> dict:
        """Return whole-run metrics over every closed window."""
        return self.recorder.run_summary(self.recorder.window.t_start_s, gauges=self._gauges())

    @property
    def windows(self) -> deque[dict]:
        """Return the bounded history of closed metrics windows, oldest first."""
        return self.recorder.history

    # --- a request's journey --------------------------------------------------------------------

    def _current_window(self):
        """Return the metrics window being filled."""
        return self.recorder.window

    def _arrive(self, prompt_tokens: int, output_tokens: int, user: int, conversation=None, history: int = 0) -> None:
        """A request arrives (in a conversation: with `history` tokens of it in the prompt): route it to a web replica."""
        now = self.env.now
        request = Request(user, now, now + self._patience_s, prompt_tokens, output_tokens, self._reads, self._writes)
        self._arrived += 1
        request.streams = self._streaming
        if conversation is not None:
            request.conversation, request.history = conversation, history
        if self._next_key is not None:
            request.prompt_key = self._next_key()
        self._admit(request)

    def _retry(self, failed: Request) -> None:
        """The client sends a failed request again: the same question, the same user, its own deadline."""
        now = self.env.now
        request = Request(failed.user, failed.t_arrival, now + self._patience_s, failed.prompt_tokens,
                          failed.output_tokens, self._reads, self._writes)
        request.attempt = failed.attempt + 1
        request.conversation, request.streams, request.history = failed.conversation, failed.streams, failed.history
        if self._next_key is not None:
            request.prompt_key = failed.prompt_key
        self.recorder.window.retries += 1
        self._admit(request)

    def _admit(self, request: Request) -> None:
        """Route an attempt to a web replica, then count it against the step's budget."""
        self._inside += 1
        if self._timeout_s is not None:
            self._clients.append(request)
        routable = self.web.routable
        if self.balancer is not None:
            replica = self.balancer.pick(routable)
        else:
            replica = routable[0] if routable else None
        if replica is None or not replica.up:  # none left, or down and not yet noticed by the health check
            self._finish(request, "failed")
        else:
            request.replica = replica
            if replica.workers.arrive(request):
                replica.inside[request] = None
            else:
                self._finish(request, "dropped")
        # Counted once it is inside, so a step stopped here resumes with nothing lost.
        self._checkpoint_in -= 1
        if not self._checkpoint_in:
            self._checkpoint()

    def _start_step_budget(self) -> None:
        """Reset the step's request count and wall-clock deadline."""
        self._step_arrivals = 0
        self._step_wall_deadline = time.perf_counter() + self.budget.max_wall_s
        self._next_checkpoint()

    def _next_checkpoint(self) -> None:
        """Arm the countdown to the next budget check: every 1,024 arrivals, or at the request budget."""
        self._chunk = self._checkpoint_in = min(_WALL_CHECK_EVERY, self.budget.max_requests + 1 - self._step_arrivals)

    def _checkpoint(self) -> None:
        """Stop the step if it has used its request or wall-clock budget (checked every few arrivals)."""
        self._step_arrivals += self._chunk
        if self._step_arrivals > self.budget.max_requests:
            raise BudgetExceeded(
                f"stopped at t={self.env.now:.1f} s: this step reached its budget of "
                f"{self.budget.max_requests:,} simulated requests (max_requests); shorten the step or raise the budget",
                "max_requests")
        self._check_wall()
        self._next_checkpoint()

    def _watchdog(self) -> None:
        """Every few thousand events: stop the step if it has used its wall clock or holds too many requests."""
        self._check_wall()
        if self._inside > self.budget.max_in_system:
            raise BudgetExceeded(
                f"stopped at t={self.env.now:.1f} s: {self._inside:,} requests are inside the architecture at once, "
                f"more than its budget of {self.budget.max_in_system:,} (max_in_system): a queue is growing "
                "without bound; shorten the step or add capacity", "max_in_system")

    def _check_wall(self) -> None:
        """Stop the step if it has used its wall-clock budget."""
        if time.perf_counter() > self._step_wall_deadline:
            raise BudgetExceeded(
                f"stopped at t={self.env.now:.1f} s: this step used its wall-clock budget of "
                f"{self.budget.max_wall_s:g} s (max_wall_s); shorten the step or raise the budget", "max_wall_s")

    def _worker_start(self, request: Request) -> None:
        """A worker picked the request up: its handler computes, on a core as soon as one is free."""
        request.holds_worker = True
        replica = request.replica
        if replica.cpu.servers < replica.workers.servers:  # more threads than cores: they take turns
            replica.cpu.arrive(request)
        else:  # a core for every worker: none ever waits, so skip the books of a queue that cannot form
            after(self.env, self._handler_time(), self._handler_done, request)

    def _core_start(self, request: Request) -> None:
        """The handler has a core: compute."""
        after(self.env, self._handler_time(), self._computed_on_core, request)

    def _computed_on_core(self, request) -> None:
        """The handler's CPU work is done: free the core."""
        if not request.finished:  # else its server crashed meanwhile, and the core went with it
            request.replica.cpu.release()
            self._handler_done(request)

    def _answered(self, request) -> None:
        """The handler's work is done and nothing stands behind the web tier: answer."""
        self._finish(request, "ok")  # (a request whose server crashed meanwhile is finished already)

    def _handled(self, request) -> None:
        """The handler's CPU work is done; an async server frees the worker for the I/O that follows."""
        if self._async_io and not request.finished:
            request.holds_worker = False
            request.replica.workers.release()
        self._next_step(request)

    def _next_step(self, request: Request) -> None:
        """Take the request's next step: reads, then the LLM call, then writes, then the answer."""
        if request.finished:
            return  # its web server crashed while this step ran: nobody is left to take the next one
        if request.reads_left:
            request.reads_left -= 1
            self.database.read(request)
        elif not request.llm_called and self.genai is not None:
            request.llm_called = True
            self.genai.ask(request)
        elif request.writes_left:
            request.writes_left -= 1
            self.database.write(request)
        else:
            self._finish(request, "ok")

    def _client_left(self, request: Request) -> None:
        """The client gave up waiting: it tries again, or it counts as timed out and a closed-loop user sends the next one.

        Servers may still be working on the attempt it left: that work is wasted.
        """
        request.abandoned = True
        if self._retried(request, at=request.deadline):
            return
        self.recorder.window.timed_out += 1
        self._user_has_outcome(request, False)

    def _user_has_outcome(self, request: Request, answered: bool) -> None:
        """The user knows how the request ended: a closed-loop user or a conversation sends its next one."""
        if self._user_done is not None:
            self._user_done(not answered)
        if request.conversation is not None:
            self.arrivals.turn_done(request.conversation, answered)

    def _retried(self, request: Request, at: float) -> bool:
        """An attempt failed at time `at`: return True if the client will try again (scheduled here)."""
        if self.retries is None:
            return False
        wait = self.retries.retry_after(request.attempt)
        if wait is None:
            return False
        after(self.env, max(at + wait - self.env.now, 0.0), self._retry, request)
        return True

    def _web_crashed(self, replica) -> None:
        """A web server crashed: every request it held fails now, and its workers and cores start empty."""
        lost = list(replica.inside)
        replica.inside.clear()
        replica.workers.empty()
        replica.cpu.empty()
        for request in lost:
            request.holds_worker = False
            self._finish(request, "failed")
            if request.llm_called and self.llm is not None:
                self.llm.abort(request)  # its connection to the model dropped with it: the call is aborted

    def _gone(self, request: Request) -> None:
        """A worker found the request's client gone: drop the connection (it counts as timed out)."""
        self._finish(request, "timed_out")

    def _fail(self, request: Request) -> None:
        """A component could not serve the request."""
        self._finish(request, "failed")

    def _refused(self, request: Request) -> None:
        """Every LLM deployment refused the call with a 429: so does the app."""
        self._finish(request, "rate_limited")

    def _finish(self, request: Request, outcome: str) -> None:
        """The request leaves: free its worker and count what the client saw."""
        if request.finished:
            return  # it failed when its web server crashed; what was still under way ends here
        request.finished = True
        self._inside -= 1
        replica = request.replica
        if replica is not None:
            replica.inside.pop(request, None)
            if request.holds_worker:
                request.holds_worker = False
                replica.workers.release()
        if request.abandoned:
            return  # counted as timed out when its client left
        window = self.recorder.window
        now = self.env.now
        if now > request.deadline:  # the client left before this outcome; the window sweep has not seen it yet
            self._client_left(request)
            return
        if outcome != "ok":
            if self._retried(request, at=now):
                return  # the client tries again: the user has no outcome yet
            self._user_has_outcome(request, False)
            setattr(window, outcome, getattr(window, outcome) + 1)
            return
        if self._user_done is not None or request.conversation is not None:  # (most requests: neither)
            self._user_has_outcome(request, True)
        if self.retries is not None:
            self.retries.succeeded()
        latency = now - request.t_arrival
        window.completions += 1
        window.latencies.append(latency)
        if request.t_first_token is not None:
            window.ttfts.append(request.t_first_token - request.t_arrival)

    # --- windows, deadlines and the bill ---------------------------------------------------------

    def _schedule_window(self) -> None:
        """Schedule the next window close, urgent so that it runs before a step ending at the same time stops."""
        # Windows end on multiples of window_s (no rounding piles up), also after run() closed a part-window.
        window_s = self.scenario.window_s
        due = (math.floor(self.recorder.window.t_start_s / window_s + 1e-9) + 1) * window_s
        first(self.env, due - self.env.now, self._window_due)

    def _window_due(self, _) -> None:
        """Close the window and open the next one."""
        self._close_window()
        self._schedule_window()
        self._check_wall()

    def _close_window(self) -> None:
        """Give up on overdue clients, bill the window, and hand every tier's figures to the recorder."""
        now = self.env.now
        window = self.recorder.window
        if self._timeout_s is not None:
            clients = self._clients
            # In deadline order; a streamed answer under way has no deadline any more (math.inf) and leaves the line.
            while clients and (clients[0].deadline < now or clients[0].deadline == math.inf):
                request = clients.popleft()
                if not request.finished and not request.abandoned and request.deadline < now:
                    self._client_left(request)
        self.billing.charge()
        workers, cores = self.web.close_window()
        tiers = {"web": workers, "web_cpu": cores, "db_primary": None, "db_replica": None, "llm": None}
        if self.database is not None:
            tiers["db_primary"], tiers["db_replica"] = self.database.close_window()
        if self.llm is not None:
            tiers["llm"], window.llm_batch_area, window.llm_replica_area = self.llm.close_window()
        self.billing.reprice()
        self.recorder.close(now, tiers, arrivals_so_far=self._arrived, gauges=self._window_extras())
        self._windows_closed += 1

    def llm_deployments(self) -> list[LLMDeployment]:
        """Return the LLM deployments, behind a gateway or alone (each names its replicas `prefix`-N)."""
        return self.genai.models() if self.genai is not None else []

    def _gauges(self) -> dict:
        """Return the levels a window reports as they stand at its end (counted again only after a fleet changed)."""
        if self._gauge_fleets is None:  # the deployments are fixed for the run: found once
            self._gauge_models = [m for m in self.llm_deployments() if not m.hosted]  # a hosted API has no replicas of ours
            self._gauge_fleets = (self.web.fleet, *(m.fleet for m in self._gauge_models))
        versions = [fleet.version for fleet in self._gauge_fleets]
        if versions == self._gauges_versions:
            return self._gauges_counted
        models = self._gauge_models
        self._gauges_versions = versions
        self._gauges_counted = {"web_replicas": len(self.web.fleet.serving()), "web_replicas_ready": len(self.web.routable),
                "llm_replicas": sum(len(m.fleet.serving()) for m in models) if models else None,
                "llm_replicas_ready": sum(len(m.fleet.routable) for m in models) if models else None,
                "deployments": None}  # (behind a gateway, each window has its own: see _window_extras)
        return self._gauges_counted

    def _window_extras(self) -> dict:
        """Return what a window reports beyond its counters: levels, and per-deployment figures behind a gateway."""
        if not isinstance(self.llm, Router):
            return self._gauges()  # shared by windows while nothing changes: the recorder only reads it
        return {**self._gauges(), "deployments": self.llm.deployment_figures()}

    def _scheduled_failure(self, failure) -> None:
        """A failure or recovery from the scenario's list happens now."""
        self.controls.set_component_up(failure.component, failure.action == "recover")

    def _resized(self) -> None:
        """A fleet changed size (autoscaling, failover): bill the old size up to now, the new one from now."""
        self.billing.resized()
