"""A scenario: the traffic that arrives and the architecture that serves it.

A scenario is plain data (YAML or JSON) that says how many requests arrive and how, which
components stand between the user and the LLM, how big each one is and what it costs. Every field
has a unit in its name, a default and an allowed range, and unknown keys are refused; reading files
and reporting problems is `engine/loading.py`. Defaults come from the measurements copied, with
their sources, into docs/model.md; where no measurement exists the description says "assumption".
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from engine.balancer import ALGORITHMS
from engine.distributions import Distribution, Exponential
from engine.labels import names_in_words
from engine.plain_text import plain_field
from engine.scenario_base import (DATABASE_KINDS, INSTANCE_FAMILIES, INSTANCE_PRICES_CHECKED, INSTANCE_SIZES, AssetCsv,
                                  Autoscale, FamilyName, QueryCosts, SizeName, Strict)
from engine.scenario_llm import (LLM, STRATEGIES, Deployment, HostedLLM, LLMRouter, ProviderLimits, ResponseCache,
                                 Retrieval, SelfHostedLLM, SemanticLookup, TokenLimits)
from engine.scenario_traffic import (ClosedLoop, Conversation, Diurnal, EmpiricalTokens, FixedTokens, HeavyUsers, Pattern, PromptKeys, Ramp,
                                     RetryBudget, Retries, Spike, Steady, Tokens, TraceReplay, Traffic, Users)

__all__ = [  # the whole format, importable from one place
    "DATABASE_KINDS", "INSTANCE_FAMILIES", "INSTANCE_PRICES_CHECKED", "INSTANCE_SIZES", "LLM", "STRATEGIES", "AssetCsv",
    "Autoscale", "ClosedLoop", "Conversation",
    "Database", "Deployment", "Diurnal", "EmpiricalTokens", "Failure", "FixedTokens", "HeavyUsers", "HostedLLM",
    "LLMRouter", "LoadBalancer", "Pattern", "PromptKeys", "ProviderLimits", "QueryCosts", "Ramp", "ResponseCache",
    "Retrieval", "Retries", "RetryBudget", "Scenario", "SelfHostedLLM", "SemanticLookup", "SizeName", "Spike", "Steady", "Strict", "TokenLimits", "Tokens",
    "TraceReplay", "Traffic", "Users", "Web",
]


class LoadBalancer(Strict):
    """Spreads requests over the web replicas that are up."""

    algorithm: Literal[ALGORITHMS] = "round_robin"  # type: ignore[valid-type]
    health_check_s: float = Field(
        10.0, ge=0, le=3600, description="s until a replica that stopped (or came back) is taken out (or put back): "
        "AWS ALB checking every 5 s with 2 failures to mark it unhealthy"
    )


class Web(Strict):
    """The web tier: replicas with worker threads and a bounded accept queue each."""

    replicas: int = Field(1, ge=1, le=1000, description="instances")
    size: SizeName = Field("medium", description="instance size from assets/instance_sizes.yaml")
    family: FamilyName = Field(
        "m7i", description="instance family from assets/instance_sizes.yaml: per-core speed and price (AWS m5, m6i, "
        "m7i, c7i)"
    )
    workers: int | None = Field(None, title="Workers per replica",
                                ge=1, le=100_000, description="per replica; default from size")
    cores: int | None = Field(
        None, ge=1, le=100_000, description="CPU cores per replica; the handler's CPU time holds one; default: the "
        "size's vCPUs"
    )
    accept_queue: int | None = Field(
        100, ge=0, le=1_000_000, description="requests waiting per replica before 503; null = unbounded"
    )
    async_io: bool = Field(False, description="true: a worker is freed while its request waits on I/O")
    handler_ms: Distribution = Field(
        default_factory=lambda: Exponential(mean_ms=10.0), title="Handler CPU time",
        description="CPU time per request in the web handler (assumption: typical Python handler)",
    )
    db_reads_per_request: int = Field(2, ge=0, le=1000, description="queries before the LLM call")
    db_writes_per_request: int = Field(1, ge=0, le=1000, description="queries after the LLM call")
    cpu_speed: float | None = Field(
        None, gt=0, le=100, description="x, per core, the handler's CPU time is divided by it; default from family"
    )
    price_per_hour_usd: float | None = Field(None, ge=0, le=10_000, description="USD/h; default from size")
    autoscale: Autoscale | None = Field(None, title="Autoscaling", description="null = a fixed number of replicas")

    def workers_per_replica(self) -> int:
        """Return the worker count, from the size unless set."""
        return self.workers if self.workers is not None else INSTANCE_SIZES[self.size]["workers"]

    def cores_per_replica(self) -> int:
        """Return the CPU cores of one replica, from the size unless set."""
        return self.cores if self.cores is not None else INSTANCE_SIZES[self.size]["vcpus"]

    def speed(self) -> float:
        """Return the per-core speed factor, from the family unless set."""
        return self.cpu_speed if self.cpu_speed is not None else INSTANCE_FAMILIES[self.family]["cpu_speed"]

    def instance_type(self) -> str:
        """Return the cloud instance type the family and size name, e.g. m7i.xlarge."""
        return f"{self.family}.{INSTANCE_SIZES[self.size]['suffix']}"

    def hourly_price_usd(self) -> float:
        """Return the price of one replica per hour."""
        if self.price_per_hour_usd is not None:
            return self.price_per_hour_usd
        return INSTANCE_SIZES[self.size]["price_per_hour_usd"] * INSTANCE_FAMILIES[self.family]["price_factor"]


class Database(Strict):
    """A database: one primary (or partitions), optional read replicas fed by asynchronous replication."""

    kind: Literal[tuple(DATABASE_KINDS)] = Field(  # type: ignore[valid-type]
        "relational", description="sets what a query costs by default: read and write times, their CPU, the commit "
        "flush (DATABASE_KINDS in engine/scenario_base.py names the sources)"
    )
    partitions: int = Field(
        1, ge=1, le=1024, description="write partitions (shards), each with its own cores and connections; "
        "writes spread evenly (no hot keys); relational: 1, a single primary"
    )
    placement: Literal["same_server", "separate"] = Field(
        "separate", description="same_server: on the web machine, no network hop, no extra instance"
    )
    size: SizeName = "medium"
    cores: int = Field(4, ge=1, le=1024, description="per node: queries using CPU at once; a query waiting on "
                       "storage or on the commit's log flush holds no core")
    max_connections: int = Field(
        100, ge=1, le=1_000_000, description="queries in a node at once (on a core, waiting for one, or waiting on "
        "storage or the log flush); one more is refused and its request fails (PostgreSQL default 100)"
    )
    read_ms: Distribution | None = Field(
        None, title="Read time",
        description="time a read spends in the server: its CPU (read_cpu_ms) then storage waits; excludes "
        "the network and the wait for a core; null = the kind's"
    )
    read_cpu_ms: float | None = Field(
        None, ge=0, le=10**6, description="CPU a read holds a core for (all of read_ms if shorter); null = the "
        "kind's (relational 0.15 ms: pgbench select-only, 15,000-25,000 TPS on 4 vCPU)"
    )
    write_ms: Distribution | None = Field(
        None, title="Write time",
        description="time a write spends in the server before its commit's log flush: its CPU "
        "(write_cpu_ms) then storage and lock waits; null = the kind's"
    )
    write_cpu_ms: float | None = Field(
        None, ge=0, le=10**6, description="CPU a write holds a core for (all of write_ms if shorter); null = the "
        "kind's (relational 0.8 ms: pgbench TPC-B-like, 2,500-4,000 TPS on 4 vCPU)"
    )
    commit_flush_ms: Distribution | None = Field(
        None, title="Commit flush time",
        description="one write-ahead-log flush (fsync); commits arriving during a flush share the next one "
        "(group commit); null = the kind's (relational: lognormal p50 1 ms, p99 4 ms, SATA SSD fsync 0.5-2 ms)"
    )
    pool_size: int = Field(
        5, ge=1, le=100_000, description="connections each web replica keeps to each database node "
        "(SQLAlchemy QueuePool default 5)"
    )
    pool_max_overflow: int = Field(
        10, ge=0, le=100_000, description="extra connections a web replica's pool opens under load "
        "(SQLAlchemy default 10: at most 15 queries at once per replica and node)"
    )
    pool_timeout_s: float = Field(
        30.0, ge=0, le=3600, description="s a query waits for a pooled connection before its request fails "
        "(SQLAlchemy default 30 s)"
    )
    network_rtt_ms: float = Field(
        0.5, ge=0, le=10_000, description="per query when separate (datacenter round trip, docs/sources.md, Infrastructure)"
    )
    read_replicas: int = Field(0, ge=0, le=100, description="replicas")
    read_from_replicas: bool = Field(True, description="read/write split: reads go to replicas when there are any")
    replication_lag_ms: Distribution = Field(
        default_factory=lambda: Exponential(mean_ms=10.0), title="Replication lag",
        description="async replica lag: a few ms to tens of ms (docs/sources.md, Infrastructure)",
    )
    price_per_hour_usd: float | None = Field(None, ge=0, le=10_000, description="USD/h per node; default from size")
    failover_s: float = Field(
        30.0, title="Failover time (s)",
        ge=0, le=86_400, description="s from a primary failure to a read replica taking over as primary "
        "(assumption: managed databases take tens of seconds to a few minutes)"
    )

    @model_validator(mode="after")
    def _partitions_need_a_partitioned_kind(self) -> "Database":
        if self.partitions > 1 and self.kind == "relational":
            raise ValueError(f"partitions: {self.partitions} is not allowed: a relational database has one "
                             "primary (choose key_value, document or vector to partition writes)")
        return self

    def costs(self) -> QueryCosts:
        """Return what a query costs: the kind's figures, with the ones set here instead."""
        kind = DATABASE_KINDS[self.kind]
        return QueryCosts(
            self.read_ms if self.read_ms is not None else kind.read,
            self.read_cpu_ms if self.read_cpu_ms is not None else kind.read_cpu_ms,
            self.write_ms if self.write_ms is not None else kind.write,
            self.write_cpu_ms if self.write_cpu_ms is not None else kind.write_cpu_ms,
            self.commit_flush_ms if self.commit_flush_ms is not None else kind.flush,
        )

    def hourly_price_usd(self) -> float:
        """Return the price of one node per hour (none extra when it shares the web server)."""
        if self.placement == "same_server":
            return 0.0
        if self.price_per_hour_usd is not None:
            return self.price_per_hour_usd
        return INSTANCE_SIZES[self.size]["price_per_hour_usd"]


class Failure(Strict):
    """A scheduled failure or recovery of one component."""

    at_s: float = Field(ge=0, le=10**8, description="simulated time, s")
    component: str = Field(max_length=40, description="web-N, db-primary, db-replica-N or llm-N")
    action: Literal["fail", "recover"] = "fail"


MAX_SEED = 2**53 - 1  # what a browser holds exactly (a JavaScript number)


class Scenario(Strict):
    """Traffic plus architecture, with a seed and a run length."""

    name: Annotated[str, AfterValidator(plain_field)] = Field("Untitled", min_length=1, max_length=120)
    description: Annotated[str, AfterValidator(plain_field)] = Field("", max_length=4000)
    seed: int = Field(1, ge=0, le=MAX_SEED, description="same seed, same run (up to 2^53 - 1: what a browser holds exactly)")
    duration_s: float = Field(120.0, gt=0, le=604_800, description="simulated seconds for a headless run")
    window_s: float = Field(1.0, title="Metrics window (s)",
                            ge=0.01, le=3600, description="simulated seconds per metrics window")
    traffic: Traffic
    load_balancer: LoadBalancer | None = None
    web: Web = Field(default_factory=Web, title="Web tier")
    database: Database | None = None
    llm: LLM | None = None
    cache: ResponseCache | None = Field(None, title="Response cache")
    token_limits: TokenLimits | None = None
    retrieval: Retrieval | None = Field(None, description="null = no retrieval step")
    failures: list[Failure] = Field(default_factory=list, max_length=1000, description="scheduled failures and recoveries")

    def component_names(self) -> list[str]:
        """Return the names of the components the scenario starts with (what failures may name)."""
        names = [f"web-{i}" for i in range(self.web.replicas)]
        if self.database is not None:
            names += ["db-primary", *(f"db-replica-{i}" for i in range(self.database.read_replicas))]
        if isinstance(self.llm, LLMRouter):
            names += [f"{d.name}-{i}" for d in self.llm.deployments for i in range(getattr(d, "replicas", 1))]
        elif self.llm is not None:
            names += [f"llm-{i}" for i in range(getattr(self.llm, "replicas", 1))]
        return names

    def most_instances(self) -> int:
        """Return how many instances the scenario can run at once, autoscaled ones at their maximum (each keeps its
        own figures in every window a run remembers)."""
        def most(part) -> int:
            return max(getattr(part, "replicas", 1), getattr(getattr(part, "autoscale", None), "max_replicas", 1))

        database = 0 if self.database is None else 1 + self.database.read_replicas  # as component_names counts
        deployments = self.llm.deployments if isinstance(self.llm, LLMRouter) else [self.llm] if self.llm else []
        return most(self.web) + database + sum(most(d) for d in deployments)

    @model_validator(mode="after")
    def _architecture_is_coherent(self) -> "Scenario":
        web, database = self.web, self.database
        problems = []
        if web.replicas > 1 and self.load_balancer is None:
            problems.append(f"web.replicas: {web.replicas} is not allowed: more than 1 replica needs a load_balancer")
        scaling = web.autoscale
        if scaling is not None:
            if not scaling.min_replicas <= web.replicas <= scaling.max_replicas:
                problems.append(f"web.replicas: {web.replicas} is not allowed: must be within autoscale's "
                                f"{scaling.min_replicas} to {scaling.max_replicas}")
            if scaling.max_replicas > 1 and self.load_balancer is None:
                problems.append("web.autoscale: is not allowed without a load_balancer (replicas come and go behind it)")
        if database is None:
            for field in ("db_reads_per_request", "db_writes_per_request"):
                if getattr(web, field):
                    problems.append(f"web.{field}: {getattr(web, field)} is not allowed: "
                                    "only 0 without a database (add one or set it to 0)")
        elif database.placement == "same_server" and database.partitions > 1:
            problems.append(f"database.partitions: {database.partitions} is not allowed: only 1 while "
                            "database.placement is same_server")
        elif database.placement == "same_server":
            if web.replicas > 1:
                problems.append(f"web.replicas: {web.replicas} is not allowed: "
                                "only 1 while database.placement is same_server")
            if database.read_replicas:
                problems.append(f"database.read_replicas: {database.read_replicas} is not allowed: "
                                "only 0 while database.placement is same_server")
        if self.cache is not None:
            if self.llm is None:
                problems.append("cache: is not allowed without an llm (it caches the LLM's answers)")
            if self.traffic.prompt_keys is None:
                problems.append("cache: needs traffic.prompt_keys (which prompts repeat is what makes hits)")
        if self.failures:  # 11,000 replicas' names are made only when a failure names one
            known = self.component_names()
            named, in_words = set(known), None
            for index, failure in enumerate(self.failures):
                if failure.component not in named:
                    in_words = in_words or names_in_words(known)
                    problems.append(f"failures.{index}.component: {failure.component!r} is not allowed: "
                                    f"choose one of {in_words}")
        if self.retrieval is not None and self.llm is None:
            problems.append("retrieval: is not allowed without an llm (it adds context to the LLM's prompt)")
        if self.token_limits is not None and self.llm is None:
            problems.append("token_limits: is not allowed without an llm (they limit LLM tokens)")
        if self.traffic.heavy_users is not None and self.traffic.trace is not None:
            problems.append("traffic.heavy_users: is not allowed with a trace (the trace decides who sends what)")
        if problems:
            raise ValueError("\n".join(problems))
        return self
