"""The GenAI part of a scenario: LLM deployments and their gateway, caches, token limits, retrieval."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from engine.distributions import Distribution, LogNormal
from engine.scenario_base import DATABASE_KINDS, INSTANCE_SIZES, Autoscale, SizeName, Strict

ENFORCEMENTS = ("azure_windows", "per_minute", "token_bucket")


class ProviderLimits(Strict):
    """A provider's limits on one deployment: the first one reached returns 429 (docs/sources.md, Provider limits)."""

    requests_per_minute: int | None = Field(None, ge=1, le=10**9, description="RPM; null = none")
    tokens_per_minute: int | None = Field(
        None, ge=1, le=10**12, description="TPM; admission counts prompt + max_tokens (token_limits.max_output_tokens, "
        "else the deployment's model_max_output_tokens), as providers do"
    )
    enforcement: Literal[ENFORCEMENTS] = Field(  # type: ignore[valid-type]
        "azure_windows", description="how the limits are checked. azure_windows (Azure OpenAI's documented quota "
        "enforcement): RPM over 1 s windows, at most RPM/60 requests in any second, and TPM as a count of prompt + "
        "max_tokens at arrival, reset each minute, never given back; per_minute: both as counts reset each minute "
        "(a whole minute's quota may arrive at once); token_bucket (Anthropic's documented continuously refilled "
        "bucket): each limit refills at its rate per second up to a minute's worth, and reserved tokens not used "
        "are given back when the answer ends"
    )


MAX_LLM_REPLICAS = 10_000  # self-hosted replicas over every deployment of a gateway, autoscaled ones at their maximum

DeploymentName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,30}$", description="lower case, digits, _")]


class _DeploymentBase(Strict):
    """What every deployment has, hosted or self-hosted: a name, a routing weight, limits, a prefix cache."""

    name: DeploymentName = Field("llm", title="Deployment name")
    weight: float = Field(1.0, title="Routing weight", gt=0, le=1000,
                          description="share of calls under simple-shuffle routing")
    limits: ProviderLimits | None = Field(None, title="Provider limits")
    model_max_output_tokens: int = Field(
        16_384, ge=1, le=10**6, description="the most tokens the model writes in one answer: a call without max_tokens "
        "(token_limits.max_output_tokens unset) reserves this much at admission, since no client knows an answer's "
        "length in advance (Azure OpenAI infers the largest possible value when max_tokens is not given, Microsoft "
        "Q&A 2023-10); 16,384 is gpt-4o's (LiteLLM's model map)"
    )
    context_window_tokens: int = Field(
        128_000, ge=1, le=10**8, description="prompt + answer the model can hold; a longer call is refused (OpenAI's "
        "400 context_length_exceeded); gpt-4o and Llama-3.3-70B: 128,000"
    )
    prompt_cache_share: float = Field(
        0.0, ge=0, le=1, description="share of each prompt already in the serving side's prefix cache: it skips "
        "prefill (and, hosted, is billed at the cached price); the Mooncake trace repeats 36.6 % of its "
        "512-token prefix blocks"
    )
    cancel_on_disconnect: bool = Field(
        True, description="a call whose client has gone is aborted: its batch slot and KV cache are freed and the "
        "tokens generated so far are billed (vLLM aborts a request when its HTTP client disconnects, "
        "AsyncLLM.generate); false = the server goes on generating answers nobody reads (an app that does not "
        "pass the disconnect on)"
    )


class HostedLLM(_DeploymentBase):
    """A hosted API: pay per token, the provider scales, latency = overhead + prefill + decode."""

    kind: Literal["hosted"] = "hosted"
    model: str = Field("gpt-4o", max_length=80, description="label shown to users")
    max_concurrency: int = Field(10_000, ge=1, le=10**7, description="requests in flight before they queue")
    overhead_ms: float = Field(300.0, ge=0, le=600_000, description="network + API; a few hundred ms is typical (docs/sources.md, LLM serving)")
    prefill_tokens_per_s: float = Field(12_500.0, gt=0, le=10**8, description="tok/s (NIM Llama-3.3-70B, derived)")
    itl_ms: float = Field(18.6, title="Time per output token (ms)",
                          gt=0, le=10_000, description="ms per output token (NIM Llama-3.3-70B, concurrency 1)")
    price_input_per_m_usd: float = Field(2.50, title="Input price (USD per million tokens)",
                                         ge=0, le=10_000, description="USD per 1M input tokens (gpt-4o, checked 2026-11)")
    price_output_per_m_usd: float = Field(10.00, title="Output price (USD per million tokens)",
                                          ge=0, le=10_000, description="USD per 1M output tokens (gpt-4o, checked 2026-11)")
    price_cached_input_per_m_usd: float = Field(
        1.25, title="Cached input price (USD per million tokens)",
        ge=0, le=10_000, description="USD per 1M input tokens read from the prompt cache (gpt-4o, checked 2026-11)"
    )
    error_rate: float = Field(
        0.0, ge=0, le=1, description="share of calls the provider answers with an error (5xx) after its overhead; "
        "1 = a full outage"
    )


class SelfHostedLLM(_DeploymentBase):
    """Self-hosted replicas with continuous batching: ITL grows with the batch, a full batch makes requests wait."""

    kind: Literal["self_hosted"] = "self_hosted"
    model: str = Field("Llama-3.3-70B fp8 on 2xH100", max_length=80, description="label shown to users")
    replicas: int = Field(1, ge=1, le=10_000, description="serving instances")
    max_batch: int = Field(
        1024, ge=1, le=100_000, description="sequences running at once, vLLM's max_num_seqs (its default for the "
        "API server on an 80 GB H100: EngineArgs.get_batch_defaults)"
    )
    kv_cache_tokens: int = Field(
        451_648, ge=1, le=10**9, description="KV-cache room per replica in tokens; a call reserves prompt + answer "
        "at admission (Llama-3.3-70B, fp8 KV, 2xH100 at gpu_memory_utilization 0.9: 74 GB / 160 KiB per token, "
        "docs/model.md)"
    )
    max_num_batched_tokens: int = Field(
        8192, ge=1, le=10**7, description="tokens one iteration processes: a decode token per running sequence, "
        "the rest prefill chunks (vLLM's max_num_batched_tokens, its default for the API server on an H100)"
    )
    overhead_ms: float = Field(1.0, ge=0, le=600_000, description="router + network inside the datacenter (assumption)")
    prefill_tokens_per_s: float = Field(
        13_500.0, gt=0, le=10**8, description="prompt tokens per second of iteration time spent on prefill "
        "(fitted to NIM Llama-3.3-70B: TTFT 407 ms for 5,000 tokens and ITL growth with concurrency, docs/model.md)"
    )
    itl_ms: float = Field(
        18.47, title="Iteration time (ms)",
        gt=0, le=10_000, description="ms per iteration before any KV cache is read: the weights streamed once "
        "plus overhead (NIM Llama-3.3-70B: 18.6 ms per token alone at 5,500 tokens of context, minus their KV read)"
    )
    decode_ns_per_kv_token: float = Field(
        24.5, title="Decode time per KV token (ns)",
        ge=0, le=10**6, description="ns each iteration spends per KV-cache token of the decoding batch: "
        "163,840 bytes per token (fp8 KV) / 6.7 TB/s (2 x H100 HBM3)"
    )
    price_per_hour_usd: float = Field(
        8.0, ge=0, le=100_000, description="USD/h per replica (assumption: 2 GPUs at 4 USD/GPU-hour)"
    )
    autoscale: Autoscale | None = Field(
        None, title="Autoscaling",
        description="as web.autoscale; utilisation = sequences running / sequences that fit (batch slots or KV cache, "
        "whichever is shorter), queue_length = calls waiting to be admitted; "
        "set warmup_s to the model's load time"
    )

    @model_validator(mode="after")
    def _replicas_within_bounds(self) -> "SelfHostedLLM":
        scaling = self.autoscale
        if scaling is not None and not scaling.min_replicas <= self.replicas <= scaling.max_replicas:
            raise ValueError(f"replicas: {self.replicas} is not allowed: must be within autoscale's "
                             f"{scaling.min_replicas} to {scaling.max_replicas}")
        if self.max_num_batched_tokens < self.max_batch:
            raise ValueError(f"max_num_batched_tokens: {self.max_num_batched_tokens} is not allowed: must be at least "
                             f"max_batch ({self.max_batch}), as vLLM requires (every running sequence decodes a token)")
        return self


Deployment = Annotated[Union[HostedLLM, SelfHostedLLM], Field(discriminator="kind")]
STRATEGIES = ("simple-shuffle", "least-busy", "usage-based", "latency-based", "cost-based")


class LLMRouter(Strict):
    """Several deployments behind a gateway (named as LiteLLM names things), with retries and fallbacks."""

    kind: Literal["router"] = "router"
    strategy: Literal[STRATEGIES] = Field(  # type: ignore[valid-type]
        "simple-shuffle", description="simple-shuffle: weighted random (LiteLLM's default); least-busy: fewest calls "
        "in flight; usage-based: most TPM/RPM left; latency-based: fastest per token over the last 10 calls; "
        "cost-based: cheapest per token"
    )
    deployments: list[Deployment] = Field(min_length=1, max_length=50)
    fallbacks: list[DeploymentName] = Field(
        default_factory=list, max_length=50, description="tried in order once the retries are spent, one call each; "
        "a deployment named here takes no other traffic (LiteLLM's fallbacks are other model groups)")
    retries: int = Field(2, ge=0, le=10, description="after a 429 or a failure (official SDKs: 2)")
    backoff_base_s: float = Field(0.5, gt=0, le=600, description="s, doubled per retry, with jitter (official SDKs)")
    backoff_cap_s: float = Field(8.0, gt=0, le=3600, description="s (official SDKs)")
    max_retry_after_s: float = Field(60.0, title="Longest retry-after honoured (s)",
                                     ge=0, le=3600, description="s: a 429's retry-after is honoured up to this")
    cooldown_s: float = Field(
        5.0, ge=0, le=3600, description="s a deployment is skipped once cooled: after a 429, or when more than half of "
        "at least 5 calls in the current minute failed (LiteLLM's defaults); never a lone deployment")
    allowed_fails: int | None = Field(
        None, ge=0, le=10_000, description="set: cool a deployment when its failures within cooldown_s of each other "
        "exceed this, 429s included (LiteLLM's allowed_fails); null = LiteLLM's default rule above"
    )

    @model_validator(mode="after")
    def _names_resolve(self) -> "LLMRouter":
        names = [d.name for d in self.deployments]
        problems = [f"deployments: {name!r} is not allowed twice: names must be unique"
                    for name in sorted({n for n in names if names.count(n) > 1})]
        problems += [f"fallbacks: {name!r} is not allowed: choose one of {', '.join(names)}"
                     for name in self.fallbacks if name not in names]
        if names and all(name in self.fallbacks for name in names):
            problems.append("fallbacks: is not allowed to name every deployment: at least one must take the "
                            "normal traffic")
        replicas = sum(max(getattr(d, "replicas", 1), getattr(getattr(d, "autoscale", None), "max_replicas", 1))
                       for d in self.deployments)
        if replicas > MAX_LLM_REPLICAS:
            problems.append(f"deployments: {replicas:,} replicas in all is not allowed: at most {MAX_LLM_REPLICAS:,} "
                            "(each is simulated; building more would take longer than any run)")
        if problems:
            raise ValueError("\n".join(problems))
        return self


LLM = Annotated[Union[HostedLLM, SelfHostedLLM, LLMRouter], Field(discriminator="kind")]


class SemanticLookup(Strict):
    """After an exact miss, embed the prompt and search stored answers for one similar enough."""

    threshold: float = Field(
        0.9, ge=0.5, le=1.0, description="cosine similarity needed for a hit (RedisVL's default 0.9; GPTCache's "
        "0.8 on its own scale is about 0.6); effect from the similarity curve"
    )
    curve: str | None = Field(
        None, pattern=r"^curve-[0-9a-f]{24}$", title="Similarity curve",
        description="a curve measured on the Lab page from your own question pairs; null = the Quora curve "
        "(assets/semantic_cache_curve.csv)",
    )
    embed_ms: Distribution = Field(
        default_factory=lambda: LogNormal(p50_ms=9.5, p99_ms=17.0), title="Embedding time",
        description="embedding the prompt with all-MiniLM-L6-v2 on 2 CPU cores, one question at a time: measured "
        "p50 9.3-9.8 ms, p99 16.6 ms on Quora questions (docs/lab.md)",
    )
    search_ms: Distribution = Field(
        default_factory=lambda: LogNormal(p50_ms=1.0, p99_ms=5.0), title="Search time",
        description="exact vector search over the stored answers: measured p50 1.1-1.3 ms at 10,000 answers, "
        "10-14 ms at 100,000 (docs/lab.md)",
    )


class ResponseCache(Strict):
    """An exact-match cache of LLM answers (Redis-like): looked up before the LLM, filled after it."""

    capacity_entries: int = Field(10_000, title="Capacity (answers)",
                                  ge=1, le=100_000_000, description="answers kept; the least recently used go first")
    ttl_s: float | None = Field(3600.0, gt=0, le=10**8, description="s an answer stays valid; null = until evicted")
    lookup_ms: Distribution = Field(
        default_factory=lambda: LogNormal(p50_ms=0.25, p99_ms=1.0), title="Lookup time",
        description="Redis GET in one availability zone: about 0.2-0.3 ms p50, 1 ms p99 (docs/sources.md, Infrastructure)",
    )
    size: SizeName = Field("small", description="instance size for the price")
    price_per_hour_usd: float | None = Field(None, ge=0, le=10_000, description="USD/h; default from size")
    semantic: SemanticLookup | None = Field(None, title="Semantic lookup", description="null = exact matches only")

    def hourly_price_usd(self) -> float:
        """Return the price of the cache node per hour."""
        if self.price_per_hour_usd is not None:
            return self.price_per_hour_usd
        return INSTANCE_SIZES[self.size]["price_per_hour_usd"]


class TokenLimits(Strict):
    """Token budgets per user (a 429 when spent) and a cap on each answer's length."""

    per_user_tokens_per_minute: int | None = Field(
        None, ge=1, le=10**9, description="tokens a user may use per minute (prompt + max output reserved); null = no limit"
    )
    per_user_tokens_per_day: int | None = Field(None, ge=1, le=10**12, description="null = no daily limit")
    max_output_tokens: int | None = Field(
        None, ge=1, le=200_000, description="longer answers are cut here (and reserved at this size); null = no cap"
    )


class Retrieval(Strict):
    """Retrieval-augmented generation: a vector search before the LLM call adds context to the prompt."""

    search_ms: Distribution = Field(
        default_factory=lambda: DATABASE_KINDS["vector"][0], title="Search time",
        description="top-k similarity search in a vector store (the vector kind's read time, an assumption)",
    )
    context_tokens: int = Field(
        1500, ge=0, le=1_000_000, description="tokens of retrieved passages added to every prompt "
        "(assumption: 3 chunks of 500 tokens)"
    )
