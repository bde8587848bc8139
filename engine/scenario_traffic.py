"""The traffic part of a scenario: who sends requests, how fast, how big, and which prompts repeat."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from engine.scenario_base import AssetCsv, Strict

class Users(Strict):
    """Derive the request rate from an audience: peak rate = DAU x requests/day / 86400 x peak factor."""

    daily_active: int = Field(title="Daily active users", ge=1, le=10**10, description="daily active users")
    requests_per_user_per_day: float = Field(10.0, gt=0, le=100_000, description="requests per user per day")
    peak_to_average: float = Field(
        2.0, ge=1, le=100, description="peak-hour rate / daily mean rate (assumption; the Azure conv trace's peak minute is 1.5x its hour)"
    )

    def rate_rps(self) -> float:
        """Return the peak arrival rate in requests per second."""
        return self.daily_active * self.requests_per_user_per_day / 86_400 * self.peak_to_average


class ClosedLoop(Strict):
    """A fixed number of users, each sending its next request once the last one has an outcome (how LLM benchmarks load a server)."""

    users: int = Field(ge=1, le=100_000, description="requests kept in flight: a benchmark's concurrency "
                       "(NVIDIA genai-perf --concurrency)")
    think_time_s: float = Field(0.0, ge=0, le=86_400, description="s a user waits after an outcome before the next "
                                "request; 0 = at once, as genai-perf does")


class Steady(Strict):
    """A constant rate: Poisson arrivals."""

    kind: Literal["steady"] = "steady"


class Ramp(Strict):
    """The rate grows linearly from 1x to `to_multiplier` x between start_s and start_s + over_s."""

    kind: Literal["ramp"] = "ramp"
    start_s: float = Field(0.0, ge=0, le=10**7, description="s")
    over_s: float = Field(60.0, title="Lasts (s)", gt=0, le=10**7, description="s")
    to_multiplier: float = Field(3.0, title="Rate at its end (x)",
                                 gt=0, le=1000, description="x base rate at the end of the ramp")


class Spike(Strict):
    """A flash crowd: the rate is `multiplier` x base between at_s and at_s + duration_s."""

    kind: Literal["spike"] = "spike"
    at_s: float = Field(30.0, ge=0, le=10**7, description="s")
    duration_s: float = Field(10.0, gt=0, le=10**7, description="s")
    multiplier: float = Field(5.0, title="Rate during it (x)",
                              gt=0, le=1000, description="x base rate during the spike")


class Diurnal(Strict):
    """A daily cycle: rate = base x (1 + amplitude x sin(2 pi t / period_s)), time may be compressed."""

    kind: Literal["diurnal"] = "diurnal"
    period_s: float = Field(86_400.0, ge=1, le=10**7, description="s; shorten to compress a day")
    amplitude: float = Field(0.6, ge=0, le=1, description="0 = flat, 1 = silent at night")


Pattern = Annotated[Union[Steady, Ramp, Spike, Diurnal], Field(discriminator="kind")]


class TraceReplay(Strict):
    """Replay arrivals and token counts of a real trace in the Azure LLM inference CSV format."""

    file: AssetCsv = "AzureLLMInferenceTrace_conv.csv"
    speedup: float = Field(1.0, gt=0, le=10_000, description="x; 2 = the trace's traffic at twice its rate")
    loop: bool = Field(False, description="start again from the top when the trace ends")


class EmpiricalTokens(Strict):
    """Prompt and output tokens drawn together from the rows of a trace (default: Azure conversation 2023)."""

    kind: Literal["empirical"] = "empirical"
    file: AssetCsv = "AzureLLMInferenceTrace_conv.csv"


class FixedTokens(Strict):
    """Every request has the same prompt and output length."""

    kind: Literal["fixed"] = "fixed"
    prompt_tokens: int = Field(1000, ge=0, le=2_000_000, description="tokens")
    output_tokens: int = Field(200, ge=1, le=200_000, description="tokens")


Tokens = Annotated[Union[EmpiricalTokens, FixedTokens], Field(discriminator="kind")]


class PromptKeys(Strict):
    """Which question each request asks: one of `space` distinct prompts, popular ones more often (Zipf)."""

    space: int = Field(100_000, title="Distinct prompts", ge=1, le=1_000_000, description="distinct prompts")
    zipf_skew: float = Field(
        0.9, title="Popularity skew (Zipf)",
        ge=0, le=5, description="popularity of the k-th prompt ~ 1/k^skew; 0 = all equally likely "
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


class HeavyUsers(Strict):
    """A few users who send much of the traffic, with long prompts (scripts, power users)."""

    share_of_users: float = Field(0.01, gt=0, lt=1, description="of the user population")
    share_of_requests: float = Field(0.3, ge=0, le=1, description="of all requests")
    prompt_multiplier: float = Field(4.0, ge=1, le=1000, description="x the prompt tokens of an ordinary request")


class RetryBudget(Strict):
    """gRPC's retry throttling: a bucket of tokens that failures drain and successes refill.

    It starts full. Each failed attempt takes 1 token, each success gives back `token_ratio`;
    a retry is sent only while more than half of `max_tokens` is left. In steady failure that
    allows about `token_ratio` retries per success, and none once most attempts fail (docs/sources.md,
    Retries under overload).
    """

    max_tokens: float = Field(10.0, gt=0, le=1000, description="tokens when full (gRPC's example: 10)")
    token_ratio: float = Field(0.1, gt=0, le=1, description="tokens a success gives back: about the share of "
                               "retries allowed (the SRE book's per-client budget: 10 %)")


class Retries(Strict):
    """The client sends a failed or timed-out request again, after a randomised exponential back-off."""

    max_attempts: int = Field(3, ge=2, le=10, description="attempts in all, the first included (OpenAI's SDK: 3; "
                              "the SRE book: at most 3)")
    backoff_s: float = Field(0.5, gt=0, le=3600, description="s, the first retry waits a uniform draw below this "
                             "(full jitter); each retry doubles it (OpenAI's SDK: 0.5 s)")
    max_backoff_s: float = Field(8.0, gt=0, le=86_400, description="s, the doubling stops here (OpenAI's SDK: 8 s)")
    budget: RetryBudget | None = Field(None, description="null = every failure is retried while attempts remain")


class Conversation(Strict):
    """Chat users: each conversation sends `turns` questions, one after another, each with the conversation so far.

    An LLM keeps no memory between calls, so a chat app sends the whole history with every new
    question: turn k's prompt is its own question plus every earlier question and answer. Prompts
    grow with each turn, and a conversation's prompt tokens grow with the square of its turns.
    Conversations start at rate_rps / turns per second, so their questions arrive at about rate_rps.
    """

    turns: int = Field(8, ge=1, le=1000, description="questions per conversation")
    think_time_s: float = Field(
        20.0, ge=0, le=86_400, description="s a user reads the answer and types the next question (assumption)"
    )
    keep_history_tokens: int | None = Field(
        None, title="History kept (tokens)",
        ge=0, le=10_000_000, description="the app sends at most this many tokens of history, dropping the "
        "oldest first (a sliding window, as LangChain's trim_messages does); null = all of it"
    )


class Traffic(Strict):
    """Who sends requests, how fast, how big, and how long they wait for an answer."""

    rate_rps: float | None = Field(None, title="Arrival rate (req/s)",
                                   gt=0, le=10**7, description="req/s; or give users, a trace or closed_loop")
    users: Users | None = None
    trace: TraceReplay | None = None
    closed_loop: ClosedLoop | None = Field(None, description="a fixed number of users instead of a rate; null = open "
                                           "arrivals at a rate")
    pattern: Pattern = Field(default_factory=Steady)
    tokens: Tokens = Field(default_factory=EmpiricalTokens, title="Prompt and answer lengths")
    user_population: int | None = Field(
        None, title="Distinct users",
        ge=1, le=10**10, description="distinct user ids; default: users.daily_active, else 10,000"
    )
    client_timeout_s: float | None = Field(
        60.0, gt=0, le=86_400, description="s; a client gives up after this (assumption); null = never"
    )
    prompt_keys: PromptKeys | None = Field(None, description="needed by a response cache; null = every prompt unique")
    heavy_users: HeavyUsers | None = Field(None, description="null = every user alike")
    conversation: Conversation | None = Field(None, description="null = every request stands alone")
    streaming: bool = Field(
        False, description="answers are streamed token by token: the client's timeout runs until the first token "
        "(an idle timeout, as a proxy's is), then it reads on to the last; false = it waits for the whole answer"
    )
    retries: Retries | None = Field(None, description="the client tries a failed or timed-out request again; "
                                    "null = it never does")

    @model_validator(mode="after")
    def _one_rate_source(self) -> "Traffic":
        given = [name for name in ("rate_rps", "users", "trace", "closed_loop") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of rate_rps, users, trace or closed_loop (got {', '.join(given) or 'none'})"
            )
        if self.trace is not None and self.pattern.kind != "steady":
            raise ValueError("a trace brings its own arrival pattern: leave pattern as steady")
        if self.closed_loop is not None and self.pattern.kind != "steady":
            raise ValueError("closed_loop traffic has no rate to shape: leave pattern as steady")
        if self.conversation is not None and (self.trace is not None or self.closed_loop is not None):
            raise ValueError("conversation: is not allowed with a trace or closed_loop (conversations start at "
                             "rate_rps / turns per second: give rate_rps or users)")
        if self.heavy_users is not None and self.population() < 2:
            raise ValueError(f"heavy_users: is not allowed with {self.population()} user: it needs at least 2 "
                             "(some heavy, some not); raise user_population or users.daily_active")
        return self

    def base_rate_rps(self) -> float | None:
        """Return the configured rate in req/s (None for trace replay and closed-loop traffic)."""
        if self.users is not None:
            return self.users.rate_rps()
        return self.rate_rps

    def population(self) -> int:
        """Return how many distinct users send requests."""
        if self.user_population is not None:
            return self.user_population
        return self.users.daily_active if self.users is not None else 10_000
