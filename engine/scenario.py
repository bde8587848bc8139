"""A scenario: the traffic that arrives and the architecture that serves it.

A scenario is plain data (YAML or JSON) that says how many requests arrive and how, which
components stand between the user and the LLM, how big each one is and what it costs. Every field
has a unit in its name, a default and an allowed range, and unknown keys are refused; reading files
and reporting problems is `engine/loading.py`. Defaults come from `shared/guides/reference-numbers.md`;
where no measurement exists the description says "assumption".
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.balancer import ALGORITHMS
from engine.distributions import Distribution, Exponential, LogNormal
from engine.paths import ASSETS_DIR

_SIZES = yaml.safe_load((ASSETS_DIR / "instance_sizes.yaml").read_text())
INSTANCE_SIZES: dict[str, dict[str, Any]] = _SIZES["sizes"]
INSTANCE_PRICES_CHECKED: str = _SIZES["prices_checked"]
SizeName = Literal[tuple(INSTANCE_SIZES)]  # type: ignore[valid-type]

AssetCsv = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9_.-]+\.csv$",
        description="file name of a CSV in assets/ (no folders)",
    ),
]


class _Strict(BaseModel):
    """Base for every scenario part: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# --- traffic -----------------------------------------------------------------------------


class Users(_Strict):
    """Derive the request rate from an audience: peak rate = DAU x requests/day / 86400 x peak factor."""

    daily_active: int = Field(ge=1, le=10**10, description="daily active users")
    requests_per_user_per_day: float = Field(10.0, gt=0, le=100_000, description="requests per user per day")
    peak_to_average: float = Field(
        2.0, ge=1, le=100, description="peak-hour rate / daily mean rate (assumption; the Azure conv trace's peak minute is 1.5x its hour)"
    )

    def rate_rps(self) -> float:
        """Return the peak arrival rate in requests per second."""
        return self.daily_active * self.requests_per_user_per_day / 86_400 * self.peak_to_average


class Steady(_Strict):
    """A constant rate: Poisson arrivals."""

    kind: Literal["steady"] = "steady"


class Ramp(_Strict):
    """The rate grows linearly from 1x to `to_multiplier` x between start_s and start_s + over_s."""

    kind: Literal["ramp"] = "ramp"
    start_s: float = Field(0.0, ge=0, le=10**7, description="s")
    over_s: float = Field(60.0, gt=0, le=10**7, description="s")
    to_multiplier: float = Field(3.0, gt=0, le=1000, description="x base rate at the end of the ramp")


class Spike(_Strict):
    """A flash crowd: the rate is `multiplier` x base between at_s and at_s + duration_s."""

    kind: Literal["spike"] = "spike"
    at_s: float = Field(30.0, ge=0, le=10**7, description="s")
    duration_s: float = Field(10.0, gt=0, le=10**7, description="s")
    multiplier: float = Field(5.0, gt=0, le=1000, description="x base rate during the spike")


class Diurnal(_Strict):
    """A daily cycle: rate = base x (1 + amplitude x sin(2 pi t / period_s)), time may be compressed."""

    kind: Literal["diurnal"] = "diurnal"
    period_s: float = Field(86_400.0, ge=1, le=10**7, description="s; shorten to compress a day")
    amplitude: float = Field(0.6, ge=0, le=1, description="0 = flat, 1 = silent at night")


Pattern = Annotated[Union[Steady, Ramp, Spike, Diurnal], Field(discriminator="kind")]


class TraceReplay(_Strict):
    """Replay arrivals and token counts of a real trace in the Azure LLM inference CSV format."""

    file: AssetCsv = "AzureLLMInferenceTrace_conv.csv"
    speedup: float = Field(1.0, gt=0, le=10_000, description="x; 2 = the trace's traffic at twice its rate")
    loop: bool = Field(False, description="start again from the top when the trace ends")


class EmpiricalTokens(_Strict):
    """Prompt and output tokens drawn together from the rows of a trace (default: Azure conversation 2023)."""

    kind: Literal["empirical"] = "empirical"
    file: AssetCsv = "AzureLLMInferenceTrace_conv.csv"


class FixedTokens(_Strict):
    """Every request has the same prompt and output length."""

    kind: Literal["fixed"] = "fixed"
    prompt_tokens: int = Field(1000, ge=0, le=2_000_000, description="tokens")
    output_tokens: int = Field(200, ge=1, le=200_000, description="tokens")


Tokens = Annotated[Union[EmpiricalTokens, FixedTokens], Field(discriminator="kind")]


class PromptKeys(_Strict):
    """Which question each request asks: one of `space` distinct prompts, popular ones more often (Zipf)."""

    space: int = Field(100_000, ge=1, le=1_000_000, description="distinct prompts")
    zipf_skew: float = Field(
        0.9, ge=0, le=5, description="popularity of the k-th prompt ~ 1/k^skew; 0 = all equally likely "
        "(assumption: web request popularity is Zipf-like with skew near 1)"
    )
    paraphrase_share: float = Field(
        0.0, ge=0, le=1, description="share of requests worded differently from the question's usual wording "
        "(an exact cache misses them; MeanCache found about 31 % of queries repeat an earlier one closely)"
    )
    questions_per_topic: int = Field(
        1, ge=1, le=10_000, description="consecutive prompt keys about one topic: related but different "
        "questions, the ones a semantic cache can confuse; 1 = no two questions are related"
    )


class HeavyUsers(_Strict):
    """A few users who send much of the traffic, with long prompts (scripts, power users)."""

    share_of_users: float = Field(0.01, gt=0, lt=1, description="of the user population")
    share_of_requests: float = Field(0.3, ge=0, le=1, description="of all requests")
    prompt_multiplier: float = Field(4.0, ge=1, le=1000, description="x the prompt tokens of an ordinary request")


class Traffic(_Strict):
    """Who sends requests, how fast, how big, and how long they wait for an answer."""

    rate_rps: float | None = Field(None, gt=0, le=10**7, description="req/s; or give users, or a trace")
    users: Users | None = None
    trace: TraceReplay | None = None
    pattern: Pattern = Field(default_factory=Steady)
    tokens: Tokens = Field(default_factory=EmpiricalTokens)
    user_population: int | None = Field(
        None, ge=1, le=10**10, description="distinct user ids; default: users.daily_active, else 10,000"
    )
    client_timeout_s: float | None = Field(
        60.0, gt=0, le=86_400, description="s; a client gives up after this (assumption); null = never"
    )
    prompt_keys: PromptKeys | None = Field(None, description="needed by a response cache; null = every prompt unique")
    heavy_users: HeavyUsers | None = Field(None, description="null = every user alike")

    @model_validator(mode="after")
    def _one_rate_source(self) -> "Traffic":
        given = [name for name in ("rate_rps", "users", "trace") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of rate_rps, users or trace (got {', '.join(given) or 'none'})"
            )
        if self.trace is not None and self.pattern.kind != "steady":
            raise ValueError("a trace brings its own arrival pattern: leave pattern as steady")
        return self

    def base_rate_rps(self) -> float | None:
        """Return the configured rate in req/s (None for trace replay)."""
        if self.users is not None:
            return self.users.rate_rps()
        return self.rate_rps

    def population(self) -> int:
        """Return how many distinct users send requests."""
        if self.user_population is not None:
            return self.user_population
        return self.users.daily_active if self.users is not None else 10_000


# --- architecture -------------------------------------------------------------------------


class LoadBalancer(_Strict):
    """Spreads requests over the web replicas that are up."""

    algorithm: Literal[ALGORITHMS] = "round_robin"  # type: ignore[valid-type]
    health_check_s: float = Field(
        10.0, ge=0, le=3600, description="s until a replica that stopped (or came back) is taken out (or put back): "
        "AWS ALB checking every 5 s with 2 failures to mark it unhealthy"
    )


class Autoscale(_Strict):
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


class Web(_Strict):
    """The web tier: replicas with worker threads and a bounded accept queue each."""

    replicas: int = Field(1, ge=1, le=1000, description="instances")
    size: SizeName = Field("medium", description="instance size from assets/instance_sizes.yaml")
    workers: int | None = Field(None, ge=1, le=100_000, description="per replica; default from size")
    accept_queue: int | None = Field(
        100, ge=0, le=1_000_000, description="requests waiting per replica before 503; null = unbounded"
    )
    async_io: bool = Field(False, description="true: a worker is freed while its request waits on I/O")
    handler_ms: Distribution = Field(
        default_factory=lambda: Exponential(mean_ms=10.0),
        description="CPU time per request in the web handler (assumption: typical Python handler)",
    )
    db_reads_per_request: int = Field(2, ge=0, le=1000, description="queries before the LLM call")
    db_writes_per_request: int = Field(1, ge=0, le=1000, description="queries after the LLM call")
    cpu_speed: float | None = Field(None, gt=0, le=100, description="x; default from size")
    price_per_hour_usd: float | None = Field(None, ge=0, le=10_000, description="USD/h; default from size")
    autoscale: Autoscale | None = Field(None, description="null = a fixed number of replicas")

    def workers_per_replica(self) -> int:
        """Return the worker count, from the size unless set."""
        return self.workers if self.workers is not None else INSTANCE_SIZES[self.size]["workers"]

    def speed(self) -> float:
        """Return the CPU speed factor, from the size unless set."""
        return self.cpu_speed if self.cpu_speed is not None else INSTANCE_SIZES[self.size]["cpu_speed"]

    def hourly_price_usd(self) -> float:
        """Return the price of one replica per hour."""
        if self.price_per_hour_usd is not None:
            return self.price_per_hour_usd
        return INSTANCE_SIZES[self.size]["price_per_hour_usd"]


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


class Database(_Strict):
    """A database: one primary (or partitions), optional read replicas fed by asynchronous replication."""

    kind: Literal[tuple(DATABASE_KINDS)] = Field(  # type: ignore[valid-type]
        "relational", description="sets the default read and write times (see DATABASE_KINDS for sources)"
    )
    partitions: int = Field(
        1, ge=1, le=1024, description="write partitions (shards), each with its own cores and connections; "
        "writes spread evenly (no hot keys); relational: 1, a single primary"
    )
    placement: Literal["same_server", "separate"] = Field(
        "separate", description="same_server: on the web machine, no network hop, no extra instance"
    )
    size: SizeName = "medium"
    cores: int = Field(4, ge=1, le=1024, description="queries served at once per node")
    max_connections: int = Field(
        100, ge=1, le=1_000_000, description="queries in a node at once before it refuses (PostgreSQL default 100)"
    )
    read_ms: Distribution | None = Field(None, description="null = the kind's read time")
    write_ms: Distribution | None = Field(None, description="null = the kind's write time")
    network_rtt_ms: float = Field(
        0.5, ge=0, le=10_000, description="per query when separate (datacenter round trip, reference-numbers)"
    )
    read_replicas: int = Field(0, ge=0, le=100, description="replicas")
    read_from_replicas: bool = Field(True, description="read/write split: reads go to replicas when there are any")
    replication_lag_ms: Distribution = Field(
        default_factory=lambda: Exponential(mean_ms=10.0),
        description="async replica lag: a few ms to tens of ms (reference-numbers)",
    )
    price_per_hour_usd: float | None = Field(None, ge=0, le=10_000, description="USD/h per node; default from size")
    failover_s: float = Field(
        30.0, ge=0, le=86_400, description="s from a primary failure to a read replica taking over as primary "
        "(assumption: managed databases take tens of seconds to a few minutes)"
    )

    @model_validator(mode="after")
    def _partitions_need_a_partitioned_kind(self) -> "Database":
        if self.partitions > 1 and self.kind == "relational":
            raise ValueError(f"partitions: {self.partitions} is not allowed: a relational database has one "
                             "primary (choose key_value, document or vector to partition writes)")
        return self

    def read_time(self) -> Distribution:
        """Return the read time: as given, or the kind's."""
        return self.read_ms if self.read_ms is not None else DATABASE_KINDS[self.kind][0]

    def write_time(self) -> Distribution:
        """Return the write time: as given, or the kind's."""
        return self.write_ms if self.write_ms is not None else DATABASE_KINDS[self.kind][1]

    def hourly_price_usd(self) -> float:
        """Return the price of one node per hour (none extra when it shares the web server)."""
        if self.placement == "same_server":
            return 0.0
        if self.price_per_hour_usd is not None:
            return self.price_per_hour_usd
        return INSTANCE_SIZES[self.size]["price_per_hour_usd"]


class ProviderLimits(_Strict):
    """A provider's limits on one deployment: the first one reached returns 429 (reference-numbers)."""

    requests_per_minute: int | None = Field(None, ge=1, le=10**9, description="RPM; null = none")
    tokens_per_minute: int | None = Field(
        None, ge=1, le=10**12, description="TPM; admission counts prompt + maximum output tokens, as providers do"
    )


DeploymentName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,30}$", description="lower case, digits, _")]


class HostedLLM(_Strict):
    """A hosted API: pay per token, the provider scales, latency = overhead + prefill + decode."""

    kind: Literal["hosted"] = "hosted"
    name: DeploymentName = "llm"
    weight: float = Field(1.0, gt=0, le=1000, description="share of calls under simple-shuffle routing")
    limits: ProviderLimits | None = None
    model: str = Field("gpt-4o", max_length=80, description="label shown to users")
    max_concurrency: int = Field(10_000, ge=1, le=10**7, description="requests in flight before they queue")
    overhead_ms: float = Field(300.0, ge=0, le=600_000, description="network + API; a few hundred ms is typical (reference-numbers)")
    prefill_tokens_per_s: float = Field(12_500.0, gt=0, le=10**8, description="tok/s (NIM Llama-3.3-70B, derived)")
    itl_ms: float = Field(18.6, gt=0, le=10_000, description="ms per output token (NIM Llama-3.3-70B, concurrency 1)")
    price_input_per_m_usd: float = Field(2.50, ge=0, le=10_000, description="USD per 1M input tokens (gpt-4o, checked 2026-11)")
    price_output_per_m_usd: float = Field(10.00, ge=0, le=10_000, description="USD per 1M output tokens (gpt-4o, checked 2026-11)")
    price_cached_input_per_m_usd: float = Field(
        1.25, ge=0, le=10_000, description="USD per 1M input tokens read from the prompt cache (gpt-4o, checked 2026-11)"
    )
    error_rate: float = Field(
        0.0, ge=0, le=1, description="share of calls the provider answers with an error (5xx) after its overhead; "
        "1 = a full outage"
    )
    prompt_cache_share: float = Field(
        0.0, ge=0, le=1, description="share of each prompt already in the serving side's prefix cache: it skips "
        "prefill (and, hosted, is billed at the cached price); the Mooncake trace repeats 36.6 % of its "
        "512-token prefix blocks"
    )


class SelfHostedLLM(_Strict):
    """Self-hosted replicas with continuous batching: ITL grows with the batch, a full batch makes requests wait."""

    kind: Literal["self_hosted"] = "self_hosted"
    name: DeploymentName = "llm"
    weight: float = Field(1.0, gt=0, le=1000, description="share of calls under simple-shuffle routing")
    limits: ProviderLimits | None = None
    model: str = Field("Llama-3.3-70B fp8 on 2xH100", max_length=80, description="label shown to users")
    replicas: int = Field(1, ge=1, le=10_000, description="serving instances")
    max_batch: int = Field(64, ge=1, le=100_000, description="sequences decoded together (KV cache limit)")
    overhead_ms: float = Field(1.0, ge=0, le=600_000, description="router + network inside the datacenter (assumption)")
    prefill_tokens_per_s: float = Field(12_500.0, gt=0, le=10**8, description="tok/s per replica (NIM Llama-3.3-70B, derived)")
    itl_ms: float = Field(18.6, gt=0, le=10_000, description="ms per output token alone (NIM Llama-3.3-70B)")
    itl_growth_per_sequence: float = Field(
        0.045, ge=0, le=10, description="ITL(b) = itl_ms x (1 + growth x (b - 1)) (NIM Llama-3.3-70B, derived)"
    )
    price_per_hour_usd: float = Field(
        8.0, ge=0, le=100_000, description="USD/h per replica (assumption: 2 GPUs at 4 USD/GPU-hour)"
    )
    prompt_cache_share: float = Field(
        0.0, ge=0, le=1, description="share of each prompt already in the serving side's prefix cache: it skips "
        "prefill (and, hosted, is billed at the cached price); the Mooncake trace repeats 36.6 % of its "
        "512-token prefix blocks"
    )
    autoscale: Autoscale | None = Field(
        None, description="as web.autoscale; utilisation = batch slots in use, queue_length = calls waiting for one; "
        "set warmup_s to the model's load time"
    )

    @model_validator(mode="after")
    def _replicas_within_bounds(self) -> "SelfHostedLLM":
        scaling = self.autoscale
        if scaling is not None and not scaling.min_replicas <= self.replicas <= scaling.max_replicas:
            raise ValueError(f"replicas: {self.replicas} is not allowed: must be within autoscale's "
                             f"{scaling.min_replicas} to {scaling.max_replicas}")
        return self


Deployment = Annotated[Union[HostedLLM, SelfHostedLLM], Field(discriminator="kind")]
STRATEGIES = ("simple-shuffle", "least-busy", "usage-based", "latency-based", "cost-based")


class LLMRouter(_Strict):
    """Several deployments behind a gateway (named as LiteLLM names things), with retries and fallbacks."""

    kind: Literal["router"] = "router"
    strategy: Literal[STRATEGIES] = Field(  # type: ignore[valid-type]
        "simple-shuffle", description="simple-shuffle: weighted random (LiteLLM's default); least-busy: fewest calls "
        "in flight; usage-based: most TPM/RPM left; latency-based: fastest per token over the last 10 calls; "
        "cost-based: cheapest per token"
    )
    deployments: list[Deployment] = Field(min_length=1, max_length=50)
    fallbacks: list[DeploymentName] = Field(default_factory=list, max_length=50,
                                            description="tried in order once the retries are spent")
    retries: int = Field(2, ge=0, le=10, description="after a 429 or a failure (official SDKs: 2)")
    backoff_base_s: float = Field(0.5, gt=0, le=600, description="s, doubled per retry, with jitter (official SDKs)")
    backoff_cap_s: float = Field(8.0, gt=0, le=3600, description="s (official SDKs)")
    max_retry_after_s: float = Field(60.0, ge=0, le=3600, description="s: a 429's retry-after is honoured up to this")
    cooldown_s: float = Field(5.0, ge=0, le=3600, description="s a deployment is skipped after a 429 or failure (LiteLLM)")

    @model_validator(mode="after")
    def _names_resolve(self) -> "LLMRouter":
        names = [d.name for d in self.deployments]
        problems = [f"deployments: {name!r} is not allowed twice: names must be unique"
                    for name in sorted({n for n in names if names.count(n) > 1})]
        problems += [f"fallbacks: {name!r} is not allowed: choose one of {', '.join(names)}"
                     for name in self.fallbacks if name not in names]
        if problems:
            raise ValueError("\n".join(problems))
        return self


LLM = Annotated[Union[HostedLLM, SelfHostedLLM, LLMRouter], Field(discriminator="kind")]


class SemanticLookup(_Strict):
    """After an exact miss, embed the prompt and search stored answers for one similar enough."""

    threshold: float = Field(
        0.9, ge=0.5, le=1.0, description="cosine similarity needed for a hit (RedisVL's default 0.9; GPTCache's "
        "0.8 on its own scale is about 0.6); effect from assets/semantic_cache_curve.csv"
    )
    embed_ms: Distribution = Field(
        default_factory=lambda: LogNormal(p50_ms=5.0, p99_ms=20.0),
        description="embedding the prompt with a small model (assumption: MiniLM-class on a CPU)",
    )
    search_ms: Distribution = Field(
        default_factory=lambda: LogNormal(p50_ms=1.0, p99_ms=5.0),
        description="vector search over the stored answers (assumption: in-memory index)",
    )


class ResponseCache(_Strict):
    """An exact-match cache of LLM answers (Redis-like): looked up before the LLM, filled after it."""

    capacity_entries: int = Field(10_000, ge=1, le=100_000_000, description="answers kept; the least recently used go first")
    ttl_s: float | None = Field(3600.0, gt=0, le=10**8, description="s an answer stays valid; null = until evicted")
    lookup_ms: Distribution = Field(
        default_factory=lambda: LogNormal(p50_ms=0.25, p99_ms=1.0),
        description="Redis GET in one availability zone: about 0.2-0.3 ms p50, 1 ms p99 (reference-numbers)",
    )
    size: SizeName = Field("small", description="instance size for the price")
    price_per_hour_usd: float | None = Field(None, ge=0, le=10_000, description="USD/h; default from size")
    semantic: SemanticLookup | None = Field(None, description="null = exact matches only")

    def hourly_price_usd(self) -> float:
        """Return the price of the cache node per hour."""
        if self.price_per_hour_usd is not None:
            return self.price_per_hour_usd
        return INSTANCE_SIZES[self.size]["price_per_hour_usd"]


class TokenLimits(_Strict):
    """Token budgets per user (a 429 when spent) and a cap on each answer's length."""

    per_user_tokens_per_minute: int | None = Field(
        None, ge=1, le=10**9, description="tokens a user may use per minute (prompt + max output reserved); null = no limit"
    )
    per_user_tokens_per_day: int | None = Field(None, ge=1, le=10**12, description="null = no daily limit")
    max_output_tokens: int | None = Field(
        None, ge=1, le=200_000, description="longer answers are cut here (and reserved at this size); null = no cap"
    )


class Retrieval(_Strict):
    """Retrieval-augmented generation: a vector search before the LLM call adds context to the prompt."""

    search_ms: Distribution = Field(
        default_factory=lambda: DATABASE_KINDS["vector"][0],
        description="top-k similarity search in a vector store (the vector kind's read time, an assumption)",
    )
    context_tokens: int = Field(
        1500, ge=0, le=1_000_000, description="tokens of retrieved passages added to every prompt "
        "(assumption: 3 chunks of 500 tokens)"
    )


class Failure(_Strict):
    """A scheduled failure or recovery of one component."""

    at_s: float = Field(ge=0, le=10**8, description="simulated time, s")
    component: str = Field(max_length=40, description="web-N, db-primary, db-replica-N or llm-N")
    action: Literal["fail", "recover"] = "fail"


class Scenario(_Strict):
    """Traffic plus architecture, with a seed and a run length."""

    name: str = Field("Untitled", min_length=1, max_length=120)
    description: str = Field("", max_length=4000)
    seed: int = Field(1, ge=0, le=2**63 - 1, description="same seed, same run")
    duration_s: float = Field(120.0, gt=0, le=604_800, description="simulated seconds for a headless run")
    window_s: float = Field(1.0, ge=0.01, le=3600, description="simulated seconds per metrics window")
    traffic: Traffic
    load_balancer: LoadBalancer | None = None
    web: Web = Field(default_factory=Web)
    database: Database | None = None
    llm: LLM | None = None
    cache: ResponseCache | None = None
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
        known = self.component_names()
        for index, failure in enumerate(self.failures):
            if failure.component not in known:
                problems.append(f"failures.{index}.component: {failure.component!r} is not allowed: "
                                f"choose one of {', '.join(known)}")
        if self.retrieval is not None and self.llm is None:
            problems.append("retrieval: is not allowed without an llm (it adds context to the LLM's prompt)")
        if self.token_limits is not None and self.llm is None:
            problems.append("token_limits: is not allowed without an llm (they limit LLM tokens)")
        if self.traffic.heavy_users is not None and self.traffic.trace is not None:
            problems.append("traffic.heavy_users: is not allowed with a trace (the trace decides who sends what)")
        if problems:
            raise ValueError("\n".join(problems))
        return self
