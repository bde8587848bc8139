"""Client retries: a failed request sent again, and the budget that keeps retries from feeding an overload.

A client whose request failed (a 503 from a full queue, a 429, a server error) or took longer than
its timeout usually tries again. Most failures are brief, and one more try a moment later gets an
answer. But when a server fails because it is overloaded, every retry is one more request for the
server that could not cope: with three attempts per request an overloaded tier meets up to three
times the traffic, more of it fails, and more is retried. The overload can outlast whatever
started it (a metastable failure). So clients wait before a retry, a random time below a cap that
doubles with each attempt (exponential back-off with full jitter), stop after a few attempts, and
keep a budget: gRPC's retry throttling sends a retry only while recent successes outnumber
failures by enough (engine/scenario_traffic.py, RetryBudget; docs/sources.md, Retries under overload).
"""

from __future__ import annotations

from engine.randomness import BLOCK, endless, stream
from engine.scenario_traffic import Retries


class RetryPolicy:
    """Decides whether a failed attempt is tried again, and when."""

    __slots__ = ("spec", "_uniform", "tokens", "_threshold", "_ratio")

    def __init__(self, spec: Retries, seed: int):
        """Follow `spec`; the back-off draws come from their own stream (the traffic stays the same)."""
        self.spec = spec
        rng = stream(seed, "retries.backoff")
        self._uniform = endless(lambda: rng.random(BLOCK).tolist())
        budget = spec.budget
        self.tokens = budget.max_tokens if budget is not None else 0.0
        self._threshold = budget.max_tokens / 2 if budget is not None else None
        self._ratio = budget.token_ratio if budget is not None else 0.0

    def succeeded(self) -> None:
        """An attempt got its answer: the budget gets `token_ratio` back."""
        if self._threshold is not None:
            self.tokens = min(self.tokens + self._ratio, self.spec.budget.max_tokens)

    def retry_after(self, attempt: int) -> float | None:
        """Attempt number `attempt` (1 = the first) failed: return the wait before the next one, or None for none.

        The failure takes a token from the budget; a retry is allowed while attempts remain and more
        than half the budget's tokens are left (gRPC's rule).
        """
        if self._threshold is not None:
            self.tokens = max(self.tokens - 1.0, 0.0)
            if self.tokens <= self._threshold:
                return None
        if attempt >= self.spec.max_attempts:
            return None
        cap = min(self.spec.backoff_s * 2 ** (attempt - 1), self.spec.max_backoff_s)
        return self._uniform() * cap
