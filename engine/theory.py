"""Queueing theory the engine must agree with.

A queue with Poisson arrivals at rate lambda and c servers that each finish work at rate mu is the
M/M/c queue. Its offered load is a = lambda / mu (in Erlangs) and its utilisation rho = a / c. The
Erlang C formula gives the probability that an arriving customer has to wait; it is computed here
from the Erlang B recursion, which is numerically stable for any number of servers. From it follow
the mean wait in queue Wq, the tail P(wait > t), and with Little's law (L = lambda x W) the mean
queue length. M/M/1 is the special case c = 1: Wq = rho / (mu - lambda). With general service
times and one server (M/G/1), the Pollaczek-Khinchine formula gives Wq from the first two moments.

A least-recently-used cache of C items under independent requests with popularities p_i has a
characteristic time T: an item stays cached if it is asked again within T. Che's approximation
solves sum_i (1 - exp(-p_i T)) = C for T; the hit rate is then sum_i p_i (1 - exp(-p_i T)).
It is accurate to within a few per cent for caches of more than a few dozen items.
"""

from __future__ import annotations

import math

import numpy as np


def _check_stable(arrival_rate: float, service_rate: float, servers: int) -> None:
    """Refuse a queue that grows without bound (utilisation at or above 1)."""
    if arrival_rate <= 0 or service_rate <= 0 or servers < 1:
        raise ValueError("arrival_rate, service_rate must be > 0 and servers >= 1")
    if arrival_rate >= servers * service_rate:
        raise ValueError(f"unstable queue: utilisation {arrival_rate / (servers * service_rate):.3f} >= 1")


def erlang_b(servers: int, offered_load: float) -> float:
    """Return the Erlang B blocking probability for `servers` and `offered_load` Erlangs (recursion)."""
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = offered_load * blocking / (k + offered_load * blocking)
    return blocking


def erlang_c(servers: int, offered_load: float) -> float:
    """Return the Erlang C probability of waiting, C = c B / (c - a (1 - B))."""
    blocking = erlang_b(servers, offered_load)
    return servers * blocking / (servers - offered_load * (1 - blocking))


def mmc_wait(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Return the M/M/c mean wait in queue Wq = C / (c mu - lambda), in the time unit of the rates."""
    _check_stable(arrival_rate, service_rate, servers)
    return erlang_c(servers, arrival_rate / service_rate) / (servers * service_rate - arrival_rate)


def mmc_wait_tail(arrival_rate: float, service_rate: float, servers: int, t: float) -> float:
    """Return P(Wq > t) = C exp(-(c mu - lambda) t)."""
    _check_stable(arrival_rate, service_rate, servers)
    c = erlang_c(servers, arrival_rate / service_rate)
    return c * math.exp(-(servers * service_rate - arrival_rate) * t)


def mm1_wait(arrival_rate: float, service_rate: float) -> float:
    """Return the M/M/1 mean wait in queue Wq = rho / (mu - lambda)."""
    _check_stable(arrival_rate, service_rate, 1)
    return (arrival_rate / service_rate) / (service_rate - arrival_rate)


def mg1_wait(arrival_rate: float, mean_service: float, second_moment_service: float) -> float:
    """Return the M/G/1 mean wait (Pollaczek-Khinchine) Wq = lambda E[S^2] / (2 (1 - rho))."""
    _check_stable(arrival_rate, 1 / mean_service, 1)
    return arrival_rate * second_moment_service / (2 * (1 - arrival_rate * mean_service))


def littles_law(arrival_rate: float, time_in_system: float) -> float:
    """Return the mean number in the system (or queue) L = lambda x W."""
    return arrival_rate * time_in_system


def lru_hit_rate(popularity, capacity: int) -> float:
    """Return the LRU hit rate for items of the given request probabilities (Che's approximation)."""
    p = np.asarray(popularity, dtype=float)
    if capacity >= len(p):
        return 1.0

    def cached(t: float) -> float:
        return float(np.sum(-np.expm1(-p * t)))

    low, high = 0.0, 1.0
    while cached(high) < capacity:
        high *= 2
    for _ in range(200):
        middle = (low + high) / 2
        low, high = (middle, high) if cached(middle) < capacity else (low, middle)
    return float(np.sum(p * -np.expm1(-p * high)))
