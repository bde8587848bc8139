"""Service-time distributions and the fast samplers that draw from them.

A service time is how long one piece of work takes once it has a server: a database read, a web
handler's CPU time. Real service times are skewed (most reads are quick, a few are slow), which is
why the default is a log-normal fitted to a median and a 99th percentile, the two numbers people
actually measure. An exponential is there for queueing theory, a constant for thought experiments.

A sampler draws a block of values at once from its own numpy stream and hands them out one by
one, which is much faster than one numpy call per request and keeps every stream reproducible.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.labels import field_title
from engine.randomness import BLOCK, endless

_Z99 = 2.3263478740408408  # standard normal quantile at 0.99


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True, field_title_generator=field_title)


class Exponential(_Dist):
    """Memoryless service time with the given mean (the M in M/M/c)."""

    dist: Literal["exponential"] = Field("exponential", title="Distribution")
    mean_ms: float = Field(gt=0, le=10**8, description="ms")

    def mean_s(self) -> float:
        """Return the mean in seconds."""
        return self.mean_ms / 1000


class LogNormal(_Dist):
    """Skewed service time fixed by its median and 99th percentile."""

    dist: Literal["lognormal"] = Field("lognormal", title="Distribution")
    p50_ms: float = Field(ge=1e-6, le=10**8, description="ms")
    p99_ms: float = Field(ge=1e-6, le=10**8, description="ms, greater than p50_ms, at most 10,000 x p50_ms")

    @model_validator(mode="after")
    def _p99_above_p50(self) -> "LogNormal":
        if self.p99_ms <= self.p50_ms:
            raise ValueError(f"p99_ms ({self.p99_ms}) must be greater than p50_ms ({self.p50_ms})")
        if self.p99_ms > 10_000 * self.p50_ms:
            raise ValueError(f"p99_ms ({self.p99_ms:g}) is not allowed: at most 10,000 x p50_ms ({self.p50_ms:g}); "
                             "a wider spread is not a service time")
        return self

    def sigma(self) -> float:
        """Return the log-space standard deviation."""
        return math.log(self.p99_ms / self.p50_ms) / _Z99

    def mean_s(self) -> float:
        """Return the mean in seconds."""
        return self.p50_ms / 1000 * math.exp(self.sigma() ** 2 / 2)


class Constant(_Dist):
    """Every piece of work takes exactly this long."""

    dist: Literal["constant"] = Field("constant", title="Distribution")
    value_ms: float = Field(ge=0, le=10**8, description="ms")

    def mean_s(self) -> float:
        """Return the mean in seconds."""
        return self.value_ms / 1000


Distribution = Annotated[Union[Exponential, LogNormal, Constant], Field(discriminator="dist")]
DISTRIBUTIONS = {cls.model_fields["dist"].default: cls for cls in (Exponential, LogNormal, Constant)}


def sampler(dist: Exponential | LogNormal | Constant, rng: np.random.Generator, scale: float = 1.0):
    """Return a function giving the next value of `dist` in seconds, divided by `scale` (a speed factor)."""
    factor = 1 / (1000 * scale)
    if isinstance(dist, Exponential):
        mean = dist.mean_ms * factor
        return endless(lambda: rng.exponential(mean, BLOCK).tolist())
    if isinstance(dist, LogNormal):
        mu, sigma = math.log(dist.p50_ms * factor), dist.sigma()
        return endless(lambda: rng.lognormal(mu, sigma, BLOCK).tolist())
    value = dist.value_ms * factor
    return endless(lambda: [value] * BLOCK)
