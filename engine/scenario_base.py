"""The scenario format's shared vocabulary: strict models, instance sizes, and what queries cost.

Every part of a scenario refuses unknown keys and validates assignments. Instance sizes and their
prices come from assets/instance_sizes.yaml; database kinds set what a query costs (CPU, storage waits, the commit's log flush). The parts
themselves live in engine/scenario_traffic.py, engine/scenario_llm.py and engine/scenario.py.
"""

from __future__ import annotations


from typing import Annotated, Any, Literal, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.distributions import Distribution, LogNormal
from engine.labels import field_title
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
    """Base for every scenario part: unknown keys are errors, assignments are validated, every field has a title in
    words (from its name, engine/labels.py, unless it sets its own)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True, field_title_generator=field_title)


class Autoscale(Strict):
    """Target tracking, as Kubernetes' HPA does it: replicas = ceil(ready x metric / target), within bounds."""

    min_replicas: int = Field(1, ge=1, le=1000, description="replicas")
    max_replicas: int = Field(10, ge=1, le=1000, description="replicas")
    metric: Literal["utilisation", "queue_length"] = Field(
        "utilisation", description="per ready replica: busy workers / workers, or requests waiting"
    )
    target: float = Field(0.7, gt=0, le=100_000, description="the metric's value to hold")
    evaluate_every_s: float = Field(15.0, ge=1, le=86_400, description="s (HPA's default sync period); at least 1 s, "
                                    "so a run's events stay bounded")
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


class QueryCosts(NamedTuple):
    """What one query costs a database of one kind (docs/model.md, "Database", gives the sources).

    `read` and `write`: the time a query spends inside the server, excluding the network, the wait
    for a core and the commit's log flush. Of it, the first `read_cpu_ms` / `write_cpu_ms` hold a
    core; the rest waits on storage (pages not in memory, index pages, row locks) and holds only the
    query's connection. `flush`: one flush of the write-ahead log to disk, shared by the commits
    that wait for it (group commit); None = a commit does not wait for the disk.
    """

    read: Distribution
    read_cpu_ms: float
    write: Distribution
    write_cpu_ms: float
    flush: Distribution | None


# Relational (PostgreSQL): a client sees an indexed read take 1-2 ms at the median, about 10 ms at
# p99, and a commit 3-10 ms (docs/sources.md, Infrastructure: estimates). Its CPU share is sized on pgbench on a
# 4 vCPU SSD server with 16 clients (15,000-25,000 select-only, 2,500-4,000 TPC-B-like transactions
# a second): 0.15 ms of CPU a read, about 6,700 reads a second per core; 0.8 ms a write (a
# TPC-B-like transaction of 5 statements), about 1,300 a second per core. Its WAL flush is an fsync
# on a SATA-class SSD (0.5-2 ms; p99 4 ms an assumption). Key-value (Redis): server work is
# sub-microsecond and the network dominates (docs/sources.md, Infrastructure); 10-15 us a command for the
# system calls is an assumption, and Redis does not wait for the disk on a write (append-only file
# fsynced once a second). Document and vector figures are assumptions, to be replaced by
# measurements: a document store close to a relational one; a vector store's top-k search over an
# HNSW index a few ms of CPU, its insert slower as the index is updated (pgvector: PostgreSQL's WAL).
DATABASE_KINDS: dict[str, QueryCosts] = {
    "relational": QueryCosts(LogNormal(p50_ms=1.0, p99_ms=9.0), 0.15, LogNormal(p50_ms=1.5, p99_ms=8.0), 0.8,
                             LogNormal(p50_ms=1.0, p99_ms=4.0)),
    "key_value": QueryCosts(LogNormal(p50_ms=0.05, p99_ms=0.5), 0.01, LogNormal(p50_ms=0.06, p99_ms=0.6), 0.015,
                            None),
    "document": QueryCosts(LogNormal(p50_ms=0.7, p99_ms=7.0), 0.2, LogNormal(p50_ms=1.0, p99_ms=6.0), 0.4,
                           LogNormal(p50_ms=1.0, p99_ms=4.0)),
    "vector": QueryCosts(LogNormal(p50_ms=5.0, p99_ms=30.0), 3.0, LogNormal(p50_ms=10.0, p99_ms=50.0), 5.0,
                         LogNormal(p50_ms=1.0, p99_ms=4.0)),
}
