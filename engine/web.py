"""The web tier: replicas of the application server, each with worker threads and an accept queue.

A web server handles each request on a worker. In the classic thread-per-request model the worker
stays with its request the whole time: while the handler runs, and while it waits for the database
and for the LLM. An LLM answer takes seconds, so a handful of slow calls can occupy every worker,
new requests pile up in the accept queue, and once that is full they are refused (HTTP 503). An
async server (an event loop) gives the worker back while the request waits on I/O, so waiting
costs almost nothing.

A worker is a thread, not a processor. While the handler computes, its worker needs one of the
replica's CPU cores; with more workers than cores (gunicorn's rule is 2 x cores + 1), a CPU-bound
handler waits for a core, and the replica can finish at most cores / CPU-seconds-per-request.
Adding replicas (horizontal scaling) adds workers and cores behind the load balancer; a bigger
instance (vertical scaling) gives each replica more of both, and a newer instance family runs each
core faster (assets/instance_sizes.yaml). A replica that is removed drains: it takes no
new requests and leaves once its last request is done. A replica that is down gets no new
requests from the load balancer, and the ones already inside are lost with it: a crashed process
drops its connections, and every client whose request it held gets an error.
"""

from __future__ import annotations

from engine.clock import after
from engine.fleet import Fleet
from engine.scenario import Web
from engine.station import Station


class WebReplica:
    """One application server: its workers and accept queue are a station, and so are its CPU cores."""

    __slots__ = ("index", "name", "workers", "cpu", "inside", "up", "draining", "warming")

    def __init__(self, env, index: int, spec: Web, workers: int, on_start, on_abandoned, on_core):
        """Create replica number `index`; `on_start(request)` runs when a worker picks a request up.

        `on_abandoned(request)` runs when a worker finds a queued request's client gone, and
        `on_core(request)` when the request's handler gets a CPU core.
        """
        self.index = index
        self.name = f"web-{index}"
        self.workers = Station(env, self.name, workers, spec.accept_queue, on_start,
                               on_abandoned)
        self.cpu = Station(env, f"{self.name}-cpu", spec.cores_per_replica(), None, on_core)
        # every request the server accepted and has not answered, in arrival order (a crash fails them in that
        # order, so a replay meets the same sequence): a dict, since a set of objects has no fixed order
        self.inside: dict = {}
        self.up = True
        self.draining = False
        self.warming = False

    def idle(self) -> bool:
        """Return True when no request is in service or waiting here."""
        return self.workers.in_system() == 0


class WebTier:
    """All web replicas, and the list of those the load balancer may use."""

    def __init__(self, env, spec: Web, *, on_worker, on_core, on_abandoned, on_crash):
        """Start `spec.replicas` replicas.

        `on_worker(request)` runs when a worker picks a request up, `on_core(request)` when its handler
        gets a core, `on_abandoned(request)` when a worker finds a queued request's client gone, and
        `on_crash(replica)` when a replica goes down.
        """
        self.env = env
        self._on_crash = on_crash
        self.workers = spec.workers_per_replica()  # per replica, for those running and those added later
        self.fleet = Fleet(lambda index: WebReplica(env, index, spec, self.workers, on_worker, on_abandoned, on_core),
                           spec.replicas)

    @property
    def replicas(self) -> list[WebReplica]:
        """Return every replica still billed, draining ones included."""
        return self.fleet.members

    @property
    def routable(self) -> list[WebReplica]:
        """Return the replicas the load balancer may use."""
        return self.fleet.routable

    def set_replicas(self, count: int) -> None:
        """Grow to `count` serving replicas, or drain the newest ones down to `count`."""
        self.fleet.resize(count)

    def set_workers(self, workers: int) -> None:
        """Give every replica, and every one added later, `workers` workers from now on (vertical scaling)."""
        self.workers = workers
        for replica in self.replicas:
            replica.workers.resize(workers)

    def set_up(self, name: str, up: bool, detect_after_s: float = 0.0) -> bool:
        """Mark replica `name` up or down; routing notices `detect_after_s` later (the health check)."""
        if not self.fleet.set_up(name, up, refresh=not detect_after_s):
            return False
        if not up:
            self._on_crash(next(r for r in self.replicas if r.name == name and not r.draining))
        if detect_after_s:
            after(self.env, detect_after_s, self._health_checked)
        return True

    def _health_checked(self, _) -> None:
        """The load balancer's health check has seen the change."""
        self.fleet.refresh()

    def close_window(self) -> tuple[list[tuple], list[tuple]]:
        """Close every replica's window; return the figures of its workers and of its CPU cores for those past their
        warm-up, and forget drained replicas.

        Workers and cores are two limits: a thread server waiting on the LLM runs out of workers with idle
        cores, a CPU-bound handler runs out of cores with workers to spare. Each is shown as its own tier.
        """
        workers, cores = [], []
        for replica in self.replicas:
            figures, cpu = replica.workers.close_window(), replica.cpu.close_window()
            if not replica.warming:
                workers.append(figures)
                cores.append(cpu)
        self.fleet.drop_drained()
        return workers, cores
