"""An LLM gateway: several model deployments behind one door, with limits, retries and fallbacks.

Production apps rarely call one model endpoint. A gateway (LiteLLM is the common open-source one)
holds several deployments, hosted providers and self-hosted pools, and picks one per call: at
random by weight, the least busy, the one with most of its quota left, the fastest lately, or the
cheapest. Each provider enforces limits: requests per minute and tokens per minute, where a call
counts its prompt plus the most it may generate (max_tokens), checked as the provider checks them
(engine/limits.py). A call over a limit is refused at once with a 429 and a retry-after. The client
then backs off (0.5 s doubling to 8 s, with jitter, longer if the retry-after says so) and the call
is retried on whichever deployment the strategy picks next.

The gateway rests a deployment for a cooldown as LiteLLM does (router_utils/cooldown_handlers.py):
at once after a 429, or when more than half of at least 5 calls it got in the current minute
failed; one failed call alone rests nothing. With `allowed_fails` set, it rests a deployment when
its failures, each within a cooldown of the last, exceed that number. It never rests a lone
deployment: skipping the only one would turn every call into an error without trying. Fallbacks
are other model groups: they take no traffic until a call has spent its retries on the primary
deployments, then they are tried in order; when those fail too, the user gets the error.
"""

from __future__ import annotations

from collections import deque

from engine.clock import after
from engine.limits import FixedWindow, TokenBucket
from engine.llm import LLMDeployment
from engine.randomness import BLOCK, endless, stream
from engine.request import Outcomes
from engine.scenario import LLMRouter as RouterSpec


# LiteLLM's defaults (litellm/constants.py): rest a deployment when more than half of its calls in the
# current minute failed, once it has had at least 5.
_FAILURE_SHARE = 0.5
_MINIMUM_CALLS = 5


def _empty_figures() -> list:
    """Return a deployment's window counters: calls, 429s, answered, input and output tokens, USD, seconds."""
    return [0, 0, 0, 0, 0, 0.0, 0.0]


class _Deployment:
    """One deployment as the gateway sees it: the model, its limits, its cooldown, its recent speed."""

    def __init__(self, env, spec, seed, window_of, outcomes: Outcomes, max_output: int | None):
        """Wrap `spec`'s deployment; its replicas are named after it. Calls reserve `max_output` (None: the model's most)."""
        self.name = spec.name
        self.spec = spec
        self.model = LLMDeployment(env, spec, window_of, outcomes, prefix=spec.name, seed=seed)
        self.reserve_output = max_output if max_output is not None else spec.model_max_output_tokens
        limits = spec.limits
        rpm = limits.requests_per_minute if limits else None
        tpm = limits.tokens_per_minute if limits else None
        enforcement = limits.enforcement if limits else "token_bucket"
        if enforcement == "token_bucket":  # refilled continuously, a minute's worth at most; unused tokens go back
            self.requests = TokenBucket(rpm, rpm / 60, env.now) if rpm else None
            self.tokens = TokenBucket(tpm, tpm / 60, env.now) if tpm else None
        else:  # counts reset each window: requests per second (Azure) or per minute, tokens per minute
            self.requests = FixedWindow(max(1, rpm // 60), 1.0) if rpm and enforcement == "azure_windows" else (
                FixedWindow(rpm, 60.0) if rpm else None)
            self.tokens = FixedWindow(tpm, 60.0) if tpm else None
        self.cooldown_until = 0.0
        self.cooled_by_429 = False  # why it is cooling down: a limit, or an error
        self.minute = -1  # the calls it got in the current minute, as LiteLLM counts them
        self.successes = self.failures = 0
        self.recent_fails = 0  # failures within a cooldown of each other (LiteLLM's allowed_fails counter)
        self.recent_fails_until = 0.0
        self.window = _empty_figures()
        self.seconds_per_token: deque[float] = deque(maxlen=10)  # LiteLLM's latency-based routing window
        price_in = getattr(spec, "price_input_per_m_usd", 0.0)
        price_out = getattr(spec, "price_output_per_m_usd", 0.0)
        self.price_per_token = (price_in + price_out) / 2e6

    def admit(self, tokens: int, now: float) -> float:
        """Reserve one request and `tokens` tokens; return 0 if admitted, else the retry-after in s."""
        wait = max(self.requests.seconds_until(1, now) if self.requests else 0.0,
                   self.tokens.seconds_until(tokens, now) if self.tokens else 0.0)
        if wait:
            return wait
        if self.requests:
            self.requests.try_take(1, now)
        if self.tokens:
            self.tokens.try_take(tokens, now)
        return 0.0

    def count(self, failed: bool, now: float) -> None:
        """Count one call's outcome in the current minute."""
        minute = int(now // 60)
        if minute != self.minute:
            self.minute = minute
            self.successes = self.failures = 0
        if failed:
            self.failures += 1
        else:
            self.successes += 1

    def headroom(self, now: float) -> float:
        """Return the smaller share of RPM and TPM still available (1 without limits)."""
        shares = [bucket.level(now) / bucket.capacity for bucket in (self.requests, self.tokens) if bucket]
        return min(shares, default=1.0)


class _Call:
    """What the gateway remembers about one request's LLM call while it retries and falls back."""

    __slots__ = ("attempts", "fallback", "deployment", "reserved", "t_start", "last_429")

    def __init__(self):
        """Start with no attempt made."""
        self.attempts = self.fallback = self.reserved = 0
        self.deployment = None
        self.t_start = 0.0
        self.last_429 = False


class Router:
    """Routes each LLM call to a deployment, handling 429s and failures as an SDK and a gateway do."""

    def __init__(self, env, spec: RouterSpec, seed: int, window_of, outcomes: Outcomes, max_output: int | None):
        """Build every deployment; calls end in `outcomes.done`, `.failed`, `.gone` or, after a last 429, `.refused`.

        `max_output` is the output cap (max_tokens) reserved at admission (None: each deployment's model_max_output_tokens).
        """
        self.env = env
        self.spec = spec
        self._window_of = window_of
        self._on_done = outcomes.done
        self._on_fail = outcomes.failed
        self._on_refused = outcomes.refused
        # A call aborted because its client left goes straight back to the app: nothing to retry.
        to_gateway = Outcomes(done=self._answered, failed=self._unavailable, gone=outcomes.gone)
        self.deployments = {d.name: _Deployment(env, d, seed, window_of, to_gateway, max_output)
                            for d in spec.deployments}
        # The primary model group takes the traffic; each fallback is a group of its own, tried only
        # once a call has spent its retries on the primary group.
        self._primary = [d for name, d in self.deployments.items() if name not in spec.fallbacks]
        rng = stream(seed, "llm.router")
        self._random = endless(lambda: rng.random(BLOCK).tolist())
        self._pick = getattr(self, "_" + spec.strategy.replace("-", "_"))
        # LiteLLM does not rest the only deployment of a group (since its PR 5673): skipping it would
        # only turn every call in the cooldown into an error without trying. Fallbacks are groups of one.
        self._cools = len(self._primary) > 1

    # --- what the simulation sees of an LLM ------------------------------------------------

    @property
    def replicas(self) -> list:
        """Return the replicas of every deployment."""
        return [replica for d in self.deployments.values() for replica in d.model.replicas]

    def hourly_usd(self) -> float:
        """Return what the self-hosted deployments cost per hour."""
        return sum(d.model.hourly_usd() for d in self.deployments.values())

    def price_usd(self, request) -> float:
        """Return what the deployment that answered bills for the request's tokens (never called: the cheapest)."""
        call = getattr(request, "llm_call", None)
        return call.deployment.model.price_usd(request) if call and call.deployment else min(
            d.model.price_usd(request) for d in self.deployments.values())

    def set_up(self, name: str, up: bool) -> bool:
        """Mark replica `name` of any deployment up or down."""
        return any(d.model.set_up(name, up) for d in self.deployments.values())

    def abort(self, request) -> bool:
        """Abort the request's current call, on the deployment serving it (see LLMDeployment.abort)."""
        call = getattr(request, "llm_call", None)
        return call is not None and call.deployment is not None and call.deployment.model.abort(request)

    def deployment_figures(self) -> dict[str, dict]:
        """Return each deployment's calls, 429s, tokens, spend and mean answer time since the last call, and reset them."""
        figures = {}
        for name, d in self.deployments.items():
            calls, refused, answered, prompt, output, usd, seconds = d.window
            figures[name] = {"calls": calls, "llm_429s": refused, "answered": answered, "input_tokens": prompt,
                             "output_tokens": output, "usd_tokens": usd,
                             "latency_mean_s": seconds / answered if answered else None}
            d.window = _empty_figures()
        return figures

    def close_window(self) -> tuple[list[tuple], float, float]:
        """Close every deployment's window and combine them."""
        stats, area, alive = [], 0.0, 0.0
        for d in self.deployments.values():
            more, more_area, more_alive = d.model.close_window()
            stats += more
            area += more_area
            alive += more_alive
        return stats, area, alive

    # --- a call's journey ----------------------------------------------------------------

    def call(self, request) -> None:
        """Start a call: its first attempt goes where the strategy says."""
        request.llm_call = _Call()
        self._attempt(request)

    def _attempt(self, request) -> None:
        """Try one deployment: the strategy's pick while retries last, then the fallbacks in order."""
        now = self.env.now
        spec = self.spec
        call = request.llm_call
        if call.attempts <= spec.retries:
            ready = [d for d in self._primary if d.cooldown_until <= now and d.model.fleet.routable]
            deployment = self._pick(ready, now) if ready else None
        elif call.fallback < len(spec.fallbacks):
            deployment = self.deployments[spec.fallbacks[call.fallback]]
            call.fallback += 1
            self._window_of().llm_fallbacks += 1
        else:
            self._finish_failed(request)
            return
        call.attempts += 1
        if deployment is None:
            # Nothing to try: a deployment that is up but cooling down after a 429 makes this a 429 too.
            call.last_429 = any(d.model.fleet.routable and d.cooled_by_429 for d in self._primary)
            self._retry(request, 0.0)
            return
        reserve = request.prompt_tokens + deployment.reserve_output
        retry_after = deployment.admit(reserve, now)
        if retry_after:
            deployment.window[1] += 1
            self._window_of().llm_429s += 1
            call.last_429 = True
            self._failed(deployment, now, refused=True)
            self._retry(request, min(retry_after, spec.max_retry_after_s))
            return
        call.deployment = deployment
        call.reserved = reserve
        call.t_start = now
        deployment.window[0] += 1
        deployment.model.call(request)

    def _retry(self, request, retry_after_s: float) -> None:
        """Wait as the SDKs do (exponential backoff with jitter, or the retry-after if longer), then retry."""
        spec = self.spec
        backoff = min(spec.backoff_base_s * 2 ** (request.llm_call.attempts - 1), spec.backoff_cap_s)
        backoff *= 1 - 0.25 * self._random()
        self._window_of().llm_retries += 1
        after(self.env, max(backoff, retry_after_s), self._resume, request)

    def _resume(self, request) -> None:
        """The back-off is over."""
        self._attempt(request)

    def _failed(self, deployment: _Deployment, now: float, refused: bool) -> None:
        """Count a failed call (a 429 if `refused`) and rest the deployment if LiteLLM's rules say so."""
        deployment.count(True, now)
        if not self._cools or deployment not in self._primary:
            return
        allowed = self.spec.allowed_fails
        if allowed is not None:  # LiteLLM's allowed_fails: a counter that lives a cooldown after each failure
            fails = deployment.recent_fails if now < deployment.recent_fails_until else 0
            if fails + 1 <= allowed:
                deployment.recent_fails = fails + 1
                deployment.recent_fails_until = now + self.spec.cooldown_s
                return
        elif not refused:  # an error: more than half of at least 5 calls this minute failed
            calls = deployment.successes + deployment.failures
            if calls < _MINIMUM_CALLS or deployment.failures <= _FAILURE_SHARE * calls:
                return
        deployment.cooldown_until = now + self.spec.cooldown_s
        deployment.cooled_by_429 = refused

    def _unavailable(self, request) -> None:
        """The chosen deployment had no replica up, or answered with an error: count it, maybe rest it, try again."""
        call = request.llm_call
        now = self.env.now
        deployment = call.deployment
        if isinstance(deployment.tokens, TokenBucket):  # nothing was written: the reserved answer goes back
            deployment.tokens.give_back(call.reserved - request.prompt_tokens, now)
        self._failed(deployment, now, refused=False)
        call.last_429 = False
        self._retry(request, 0.0)

    def _answered(self, request) -> None:
        """The deployment answered: give back unused reserved tokens, note its speed, pass the answer on."""
        call = request.llm_call
        deployment = call.deployment
        now = self.env.now
        deployment.count(False, now)
        if deployment.tokens:  # a fixed count gives nothing back
            deployment.tokens.give_back(call.reserved - request.prompt_tokens - request.output_tokens, now)
        deployment.seconds_per_token.append((now - call.t_start) / max(request.output_tokens, 1))
        figures = deployment.window
        figures[2] += 1
        figures[3] += request.prompt_tokens
        figures[4] += request.output_tokens
        figures[5] += deployment.model.price_usd(request)
        figures[6] += now - call.t_start
        self._on_done(request)

    def _finish_failed(self, request) -> None:
        """Every attempt failed: the user gets a 429 if the last one was refused, else an error."""
        if request.llm_call.last_429:
            self._on_refused(request)
        else:
            self._on_fail(request)

    # --- strategies (LiteLLM's names) ---------------------------------------------------------

    def _simple_shuffle(self, ready, now):
        """Pick at random in proportion to the deployments' weights."""
        total = sum(d.spec.weight for d in ready)
        point = self._random() * total
        for d in ready:
            point -= d.spec.weight
            if point < 0:
                return d
        return ready[-1]

    def _least_busy(self, ready, now):
        """Pick the deployment with the fewest calls in flight (ties at random)."""
        return self._best(ready, lambda d: sum(r.in_system() for r in d.model.replicas))

    def _usage_based(self, ready, now):
        """Pick the deployment with the largest share of its RPM and TPM left (ties at random)."""
        return self._best(ready, lambda d: -d.headroom(now))

    def _best(self, ready, cost):
        """Return the deployment of lowest `cost`, choosing at random among equals."""
        costs = [cost(d) for d in ready]
        lowest = min(costs)
        tied = [d for d, c in zip(ready, costs) if c <= lowest + 1e-9]
        return tied[int(self._random() * len(tied))]

    def _latency_based(self, ready, now):
        """Pick the deployment fastest per output token over its last 10 calls (untried ones first)."""
        return min(ready, key=lambda d: sum(d.seconds_per_token) / len(d.seconds_per_token)
                   if d.seconds_per_token else 0.0)

    def _cost_based(self, ready, now):
        """Pick the cheapest deployment per token."""
        return min(ready, key=lambda d: d.price_per_token)
