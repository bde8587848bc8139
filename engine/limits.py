"""Token limits: how a provider, or the app itself, keeps one caller from using everything.

A limit such as "40,000 tokens per minute" is checked in one of two ways. A token bucket holds at
most a minute's worth and refills continuously at the limit's rate (Anthropic documents this); a
fixed window counts what arrived since the window began and forgets it when the next one begins
(Azure OpenAI counts tokens per minute this way, and requests per second: at most RPM/60 in any one
second). A call may go ahead only if it fits, so providers count the prompt plus the most the call
may write (max_tokens), since nobody knows the answer's length in advance. A bucket corrects
afterwards: tokens reserved but not generated are put back; a fixed count keeps what arrived. A
call that does not fit is refused with HTTP 429 before it costs anything, and its retry-after is
when it would fit: when the bucket has refilled enough, or when the next window starts. Budgets
per user protect everyone else from one heavy user; a cap on output tokens truncates long answers,
and so their cost.
"""

from __future__ import annotations

import math


class TokenBucket:
    """At most `capacity` tokens, refilled at `rate_per_s`; takes all of a request or none of it."""

    __slots__ = ("capacity", "rate_per_s", "_level", "_t")

    def __init__(self, capacity: float, rate_per_s: float, now: float = 0.0):
        """Create a full bucket at simulated time `now`."""
        self.capacity = capacity
        self.rate_per_s = rate_per_s
        self._level = capacity
        self._t = now

    def level(self, now: float) -> float:
        """Return the tokens available at `now` (time never runs backwards here)."""
        if now > self._t:
            self._level = min(self.capacity, self._level + (now - self._t) * self.rate_per_s)
            self._t = now
        return self._level

    def try_take(self, amount: float, now: float) -> bool:
        """Take `amount` tokens if the bucket holds them; otherwise take nothing and return False."""
        if self.level(now) < amount:
            return False
        self._level -= amount
        return True

    def give_back(self, amount: float, now: float) -> None:
        """Return unused reserved tokens, never beyond the capacity."""
        self._level = min(self.capacity, self.level(now) + amount)

    def seconds_until(self, amount: float, now: float) -> float:
        """Return how long until `amount` tokens are available (the 429's retry-after); inf if never."""
        missing = amount - self.level(now)
        if missing <= 0:
            return 0.0
        if amount > self.capacity or self.rate_per_s <= 0:
            return float("inf")
        return missing / self.rate_per_s


class FixedWindow:
    """At most `limit` units per window of `window_s` (windows start at multiples of it); nothing is given back."""

    __slots__ = ("capacity", "window_s", "_used", "_window")

    def __init__(self, limit: float, window_s: float):
        """Create an unused counter."""
        self.capacity = limit
        self.window_s = window_s
        self._used = 0.0
        self._window = 0

    def level(self, now: float) -> float:
        """Return what is left in the window holding `now`."""
        window = math.floor(now / self.window_s)
        if window != self._window:
            self._window = window
            self._used = 0.0
        return self.capacity - self._used

    def try_take(self, amount: float, now: float) -> bool:
        """Count `amount` if it fits in this window; otherwise count nothing and return False."""
        if self.level(now) < amount:
            return False
        self._used += amount
        return True

    def give_back(self, amount: float, now: float) -> None:
        """A fixed count keeps what arrived: nothing is given back."""

    def seconds_until(self, amount: float, now: float) -> float:
        """Return how long until `amount` fits: 0 now, else until the next window starts; inf if it never fits."""
        if self.level(now) >= amount:
            return 0.0
        if amount > self.capacity:
            return float("inf")
        return (self._window + 1) * self.window_s - now


class UserBudgets:
    """Per-user token buckets (per minute, and optionally per day), made when a user first calls."""

    def __init__(self, tokens_per_minute: int, tokens_per_day: int | None):
        """Give every user a bucket of `tokens_per_minute` and, if set, one of `tokens_per_day`."""
        self._per_minute = tokens_per_minute
        self._per_day = tokens_per_day
        self._buckets: dict[int, tuple[TokenBucket, ...]] = {}
        self._prune_at = 100_000

    def admit(self, user: int, amount: int, now: float) -> bool:
        """Reserve `amount` tokens from every bucket of `user`, or from none and return False."""
        buckets = self._buckets.get(user)
        if buckets is None:
            if len(self._buckets) >= self._prune_at:
                self._forget_full(now)
            buckets = (TokenBucket(self._per_minute, self._per_minute / 60, now),)
            if self._per_day is not None:
                buckets += (TokenBucket(self._per_day, self._per_day / 86_400, now),)
            self._buckets[user] = buckets
        for bucket in buckets:  # (a loop, not any(): one or two buckets, on every LLM call)
            if bucket.level(now) < amount:
                return False
        for bucket in buckets:
            bucket.try_take(amount, now)
        return True

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled: a full bucket is the same as a new one, so memory stays bounded."""
        self._buckets = {user: buckets for user, buckets in self._buckets.items()
                         if any(bucket.level(now) < bucket.capacity for bucket in buckets)}
        self._prune_at = max(100_000, 2 * len(self._buckets))

    def settle(self, user: int, reserved: int, used: int, now: float) -> None:
        """Put back what a call reserved but did not use (all of it when the call failed or was refused)."""
        for bucket in self._buckets.get(user, ()):
            bucket.give_back(reserved - used, now)

    def __len__(self) -> int:
        """Return how many users have buckets."""
        return len(self._buckets)
