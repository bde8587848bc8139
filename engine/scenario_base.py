"""The scenario format's shared vocabulary: strict models, instance sizes, and what queries cost.

Every part of a scenario refuses unknown keys and validates assignments. Instance sizes and their
prices come from assets/instance_sizes.yaml; database kinds set default query times. The parts
themselves live in engine/scenario_traffic.py, engine/scenario_llm.py and engine/scenario.py.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.distributions import Distribution, LogNormal
from engine.paths import ASSETS_DIR

_SIZES = yaml.safe_load((ASSETS_DIR / "instance_sizes.yaml").read_text())
INSTANCE_SIZES: dict[str, dict[str, Any]] = _SIZES["sizes"]
INSTANCE_PRICES_CHECKED: str = _SIZES["prices_checked"]
SizeName = Literal[tuple(INSTANCE_SIZES)]  # type: ignore[valid-type]
INSTANCE_FAMILIES: dict[str, dict[str, Any]] = _SIZES["families"]
FamilyName = Literal[tuple(INSTANCE_FAMILIES)]  # type: ignore[valid-type]

AssetCsv = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9_.-]+\.csv$",
        description="file name of a CSV in assets/ (no folders)",
    ),
]


class Strict(BaseModel):
    """Base for every scenario part: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Autoscale(Strict):
    """Target tracking, as Kubernetes' HPA does it: replicas = ceil(ready x metric / target), within bounds."""

    min_replicas: int = Field(1, ge=1, le=1000, description="replicas")
    max_replicas: int = Field(10, ge=1, le=1000, description="replicas")
    metric: Literal["utilisation", "queue_length"] = Field(
        "utilisation", description="per ready replica: busy workers / workers, or requests waiting"
    )
    target: float = Field(0.7, gt=0, le=100_000, description="the metric's value to hold")
    evaluate_every_s: float = Field(15.0, gt=0, le=86_400, description="s (HPA's default sync period)")
    scale_down_cooldown_s: float = Field(
        300.0, ge=0, le=86_400, description="s: the tier shrinks only to the largest size recommended in this "
        "window (HPA's default scale-down stabilisation window)"
    )
    warmup_s: float = Field(60.0, ge=0, le=86_400, description="s from launch to taking traffic (assumption); billed")

    @model_validator(mode="after")
    def _bounds_in_order(self) -> "Autoscale":
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas ({self.min_replicas}) must not exceed max_replicas ({self.max_replicas})")
        return self


# What each kind of database costs per query, as (read, write) distributions. Relational and
# key-value figures are reference-numbers' (an indexed read 1-2 ms p50, about 10 ms p99; a commit
# 3-10 ms; a Redis GET 0.2-0.3 ms p50, about 1 ms p99 inside one zone). Document and vector figures
# are assumptions, to be replaced by measurements: a document store's indexed read and write close
# to a relational one's; a vector store's top-k similarity search over an HNSW index a few ms at
# the median, its insert slower as the index is updated.
DATABASE_KINDS: dict[str, tuple[Distribution, Distribution]] = {
    "relational": (LogNormal(p50_ms=1.5, p99_ms=10.0), LogNormal(p50_ms=5.0, p99_ms=20.0)),
    "key_value": (LogNormal(p50_ms=0.25, p99_ms=1.0), LogNormal(p50_ms=0.3, p99_ms=1.2)),
    "document": (LogNormal(p50_ms=1.0, p99_ms=8.0), LogNormal(p50_ms=2.0, p99_ms=10.0)),
    "vector": (LogNormal(p50_ms=5.0, p99_ms=30.0), LogNormal(p50_ms=10.0, p99_ms=50.0)),
}
