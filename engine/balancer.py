"""A load balancer: one address in front of many web replicas.

Every request must go to one replica, and the choice matters once replicas are busy. Round robin
takes turns and ignores load. Random needs no shared state. Least connections sends each request
to the replica with the fewest requests in it, which needs the balancer to see every replica's
load. Power of two choices asks two random replicas and takes the less loaded one: nearly as good
as least connections, with almost none of its bookkeeping. All of them skip replicas that are down
(a failed health check) or draining (being removed).
"""

from __future__ import annotations

from engine.randomness import BLOCK, endless, stream

ALGORITHMS = ("round_robin", "random", "least_connections", "power_of_two")


class LoadBalancer:
    """Picks a replica for each request with one of ALGORITHMS."""

    def __init__(self, algorithm: str, seed: int):
        """Create a balancer; its random choices use the `balancer` stream of `seed`."""
        self.algorithm = ""
        self.set_algorithm(algorithm)
        rng = stream(seed, "balancer")
        self._coin = endless(lambda: rng.random(BLOCK).tolist())
        self._turn = 0

    def set_algorithm(self, algorithm: str) -> None:
        """Switch the algorithm from the next request on."""
        if algorithm not in ALGORITHMS:
            raise ValueError(f"load_balancer.algorithm: {algorithm!r} is not allowed: choose one of {', '.join(ALGORITHMS)}")
        self.algorithm = algorithm
        self._pick = getattr(self, f"_{algorithm}")

    def pick(self, replicas: list):
        """Return the replica for the next request among `replicas` (all routable), or None if empty."""
        if not replicas:
            return None
        return self._pick(replicas)

    def _round_robin(self, replicas):
        self._turn = (self._turn + 1) % len(replicas)
        return replicas[self._turn]

    def _random(self, replicas):
        return replicas[int(self._coin() * len(replicas))]

    def _least_connections(self, replicas):
        return min(replicas, key=_connections)

    def _power_of_two(self, replicas):
        n = len(replicas)
        if n == 1:
            return replicas[0]
        first = int(self._coin() * n)
        second = (first + 1 + int(self._coin() * (n - 1))) % n
        a, b = replicas[first], replicas[second]
        return a if _connections(a) <= _connections(b) else b


def _connections(replica) -> int:
    """Return the requests inside a replica: in service plus queued."""
    return replica.workers.in_system()
