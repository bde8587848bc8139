"""A real token limiter: requests and tokens per minute, per user and per deployment, on Redis.

An LLM provider limits each customer's calls to a model twice over: requests per minute (RPM) and
tokens per minute (TPM). The first limit a request would break is refused with HTTP 429 and a hint
of when to come back. docs/sources.md, "Provider limits", lists the providers' limits and cites
their documents; what this module copies from them:

- OpenAI's rate-limit guide limits requests and tokens per minute, counts prompt tokens plus
  `max_tokens` when a request is admitted, and reports what is left in
  `x-ratelimit-remaining-requests` and `x-ratelimit-remaining-tokens`.
- Azure OpenAI estimates a request's TPM charge at admission from its prompt tokens plus
  `max_tokens`, and its 429 answers carry `retry-after-ms` and `retry-after` (whole seconds).
- Anthropic's guide describes the limit as a continuously refilled token bucket, with output
  estimated from `max_tokens` at admission and corrected afterwards: the model this module runs.
  (Azure instead checks RPM over 1 s or 10 s windows and resets its TPM count each minute; a bucket
  refilled continuously is the smoother of the two, and the one Anthropic documents.)

This module does the same for an application that shares one provider deployment among its users:
four token buckets, user RPM, user TPM, deployment RPM and deployment TPM. A bucket of size `limit`
holds at most `limit` units and refills continuously at `limit / 60` units per second. A request
costs 1 unit from each RPM bucket and `prompt + max_output` units from each TPM bucket: the output
is not known before the model answers, so the most it could be is reserved, and `settle` gives back
what was reserved but not used once the answer is in. A request is admitted only if every limited
bucket holds its cost; otherwise nothing is taken from any bucket, and `retry_after_s` is the
longest wait among the buckets that lack units, the figure a provider sends as `retry-after`. A
cost larger than a bucket's size could never be admitted, and is refused with no retry time.

The check and the charge run as one Lua script inside Redis, so they are atomic: Redis runs one
script at a time, and no other process can read a bucket between this request's check and its
charge. The script reads the time itself (Redis's TIME), so every process that shares the Redis
server shares one clock. Buckets are Redis hashes {tokens, ts} that expire once they would have
refilled completely: a missing bucket is a full one. docs/lab_limiter.md has the figures of a run
of 8 processes against one bucket.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from numbers import Integral

__all__ = ["Decision", "Limits", "TokenLimiter", "MAX_LIMIT", "MAX_TOKENS"]

MAX_TOKENS = 2_000_000  # the most prompt, output or used tokens one request may name
MAX_LIMIT = 1_000_000_000  # the largest limit a bucket may have
NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
EXPIRY_MARGIN_MS = 1_000  # a bucket lives this much longer than it takes to refill completely
BUCKETS = ("user RPM", "user TPM", "deployment RPM", "deployment TPM")

# KEYS: the limited buckets. ARGV[1]: "reserve" or "refund"; then, per key, its size and the units
# to take (reserve) or give back (refund). Returns {admitted, index of the refusing bucket (0: none),
# index of a bucket the cost can never fit (0: none), wait in whole microseconds, server seconds,
# server microseconds, then each bucket's level after the decision}. Floats travel as strings: Redis
# truncates Lua numbers to integers.
SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local refund = ARGV[1] == 'refund'
local levels, sizes, amounts = {}, {}, {}
local refused, never, wait = 0, 0, 0
for i = 1, #KEYS do
  local size = tonumber(ARGV[2 * i])
  local amount = tonumber(ARGV[2 * i + 1])
  local rate = size / 60000000
  local stored = redis.call('HMGET', KEYS[i], 'tokens', 'ts')
  local level, ts = tonumber(stored[1]), tonumber(stored[2])
  if level == nil or ts == nil then
    level = size
  elseif now > ts then
    level = math.min(size, level + (now - ts) * rate)
  else
    level = math.min(size, level)
  end
  levels[i], sizes[i], amounts[i] = level, size, amount
  if not refund then
    if amount > size then
      if never == 0 then never = i end
    elseif level < amount - size * 1e-12 then
      local needed = math.ceil((amount - level) / rate)
      if needed > wait then wait, refused = needed, i end
    end
  end
end
local admitted = (not refund) and never == 0 and refused == 0
local result = {admitted and 1 or 0, refused, never, string.format('%d', wait), clock[1], clock[2]}
for i = 1, #KEYS do
  if refund or admitted then
    if refund then
      levels[i] = math.min(sizes[i], levels[i] + amounts[i])
    else
      levels[i] = math.max(0, levels[i] - amounts[i])
    end
    redis.call('HSET', KEYS[i], 'tokens', string.format('%.17g', levels[i]), 'ts', string.format('%d', now))
    local full_ms = math.ceil((sizes[i] - levels[i]) * 60000 / sizes[i])
    redis.call('PEXPIRE', KEYS[i], full_ms + tonumber(ARGV[2 * #KEYS + 2]))
  end
  result[#result + 1] = string.format('%.17g', levels[i])
end
return result
"""


def _show(value: object) -> str:
    """Return a short repr of a value for a refusal message (a long one is cut)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_name(field_name: str, value: object) -> str:
    """Return a user or deployment name, or raise ValueError naming the field, the value and the rule."""
    if not isinstance(value, str) or NAME.fullmatch(value) is None:
        raise ValueError(f"{field_name}: {_show(value)} is not allowed: 1 to 64 letters, digits, "
                         f"'_', '.', ':' or '-'")
    return value


def _check_whole(field_name: str, value: object, low: int, high: int, none_allowed: bool = False) -> int | None:
    """Return a whole number in low..high (or None if allowed), or raise ValueError naming the field."""
    if value is None and none_allowed:
        return None
    if isinstance(value, bool) or not isinstance(value, Integral) or not low <= value <= high:
        rule = f"a whole number from {low:,} to {high:,}" + (", or None for no limit" if none_allowed else "")
        raise ValueError(f"{field_name}: {_show(value)} is not allowed: {rule}")
    return int(value)


@dataclass(frozen=True)
class Limits:
    """The four limits a request is checked against, in units per minute; None: no limit on that bucket."""

    user_rpm: int | None = None
    user_tpm: int | None = None
    deployment_rpm: int | None = None
    deployment_tpm: int | None = None

    def __post_init__(self) -> None:
        """Refuse a limit that is not None or a whole number from 1 to 10^9."""
        for name in ("user_rpm", "user_tpm", "deployment_rpm", "deployment_tpm"):
            _check_whole(f"Limits.{name}", getattr(self, name), 1, MAX_LIMIT, none_allowed=True)


@dataclass(frozen=True)
class Decision:
    """What the limiter decided for one request, read at the Redis server's clock `at_s`.

    `prompt_tokens` (after the documented fields, so positional construction is unchanged) is what
    `settle` needs to work out the refund: reserved - (prompt + used output).
    """

    admitted: bool
    reserved_tokens: int
    retry_after_s: float | None
    refused_by: str | None
    remaining: dict[str, float]
    at_s: float
    prompt_tokens: int = 0

    def headers(self) -> dict[str, str]:
        """Return the provider-style response headers that apply to this decision.

        `retry-after` (whole seconds, rounded up) and `retry-after-ms` when refused with a time to
        come back; `x-ratelimit-remaining-requests` and `x-ratelimit-remaining-tokens`, the smaller of
        the user's and the deployment's bucket (whole units, rounded down), when such a bucket is limited.
        """
        result = {}
        if not self.admitted and self.retry_after_s is not None:
            result["retry-after"] = str(math.ceil(self.retry_after_s))
            result["retry-after-ms"] = str(math.ceil(self.retry_after_s * 1000))
        for header, kind in (("x-ratelimit-remaining-requests", "RPM"), ("x-ratelimit-remaining-tokens", "TPM")):
            left = [self.remaining[f"{scope} {kind}"] for scope in ("user", "deployment")
                    if f"{scope} {kind}" in self.remaining]
            if left:
                result[header] = str(max(0, math.floor(min(left))))
        return result


class TokenLimiter:
    """RPM and TPM token buckets per user and per deployment, kept in Redis and changed by one Lua script."""

    def __init__(self, redis, *, prefix: str = "gsl:lab:limit") -> None:
        """Use `redis` (a redis.Redis or fakeredis.FakeRedis client, decoding responses or not)."""
        if not isinstance(prefix, str) or not re.fullmatch(r"[A-Za-z0-9_.:-]{1,100}", prefix):
            raise ValueError(f"prefix: {_show(prefix)} is not allowed: 1 to 100 letters, digits, "
                             f"'_', '.', ':' or '-'")
        self.redis = redis
        self.prefix = prefix
        self._script = redis.register_script(SCRIPT)

    def _key(self, bucket: str, user: str, deployment: str) -> str:
        """Return the Redis key of one bucket, e.g. `<prefix>:user:tpm:alice`."""
        scope, kind = bucket.split()
        return f"{self.prefix}:{scope}:{kind.lower()}:{user if scope == 'user' else deployment}"

    def _run(self, mode: str, user: str, deployment: str, amounts: dict[str, tuple[int, int]]) -> list:
        """Run the script on the buckets in `amounts` ({name: (size, units)}); return its answer as text."""
        names = list(amounts)
        keys = [self._key(name, user, deployment) for name in names]
        args = [mode]
        for name in names:
            args += [amounts[name][0], amounts[name][1]]
        args.append(EXPIRY_MARGIN_MS)
        answer = self._script(keys=keys, args=args)
        return [item.decode() if isinstance(item, bytes) else item for item in answer]

    def reserve(self, user: str, deployment: str, prompt_tokens: int, max_output_tokens: int,
                limits: Limits) -> Decision:
        """Admit a request and charge every limited bucket, or refuse it and charge none.

        An RPM bucket is charged 1, a TPM bucket prompt_tokens + max_output_tokens.
        """
        _check_name("user", user)
        _check_name("deployment", deployment)
        prompt = _check_whole("prompt_tokens", prompt_tokens, 0, MAX_TOKENS)
        max_output = _check_whole("max_output_tokens", max_output_tokens, 0, MAX_TOKENS)
        if not isinstance(limits, Limits):
            raise ValueError(f"limits: {_show(limits)} is not allowed: a Limits")
        cost = prompt + max_output
        sizes = dict(zip(BUCKETS, (limits.user_rpm, limits.user_tpm, limits.deployment_rpm, limits.deployment_tpm)))
        amounts = {name: (size, 1 if name.endswith("RPM") else cost)
                   for name, size in sizes.items() if size is not None}
        names = list(amounts)
        answer = self._run("reserve", user, deployment, amounts)
        admitted, refused, never, wait_us, seconds, micros = answer[:6]
        remaining = {name: float(level) for name, level in zip(names, answer[6:])}
        at_s = int(seconds) + int(micros) / 1e6
        if int(admitted):
            return Decision(True, cost, None, None, remaining, at_s, prompt)
        if int(never):
            return Decision(False, 0, None, names[int(never) - 1], remaining, at_s, prompt)
        return Decision(False, 0, int(wait_us) / 1e6, names[int(refused) - 1], remaining, at_s, prompt)

    def settle(self, decision: Decision, user: str, deployment: str, used_output_tokens: int,
               limits: Limits) -> float:
        """Give back to both TPM buckets what `decision` reserved but the answer did not use.

        The refund is reserved - (prompt + used output); a bucket never rises above its size. Returns
        the tokens refunded (0 for a refused decision or when no TPM bucket is limited).
        """
        _check_name("user", user)
        _check_name("deployment", deployment)
        if not isinstance(decision, Decision):
            raise ValueError(f"decision: {_show(decision)} is not allowed: a Decision from reserve")
        if not isinstance(limits, Limits):
            raise ValueError(f"limits: {_show(limits)} is not allowed: a Limits")
        if not decision.admitted:
            _check_whole("used_output_tokens", used_output_tokens, 0, MAX_TOKENS)
            return 0.0
        max_output = decision.reserved_tokens - decision.prompt_tokens
        used = _check_whole("used_output_tokens", used_output_tokens, 0, min(MAX_TOKENS, max(0, max_output)))
        refund = decision.reserved_tokens - (decision.prompt_tokens + used)
        sizes = {"user TPM": limits.user_tpm, "deployment TPM": limits.deployment_tpm}
        amounts = {name: (size, refund) for name, size in sizes.items() if size is not None}
        if refund <= 0 or not amounts:
            return 0.0
        self._run("refund", user, deployment, amounts)
        return float(refund)

    def reset(self, user: str, deployment: str) -> None:
        """Forget the user's and the deployment's buckets: they are full again."""
        _check_name("user", user)
        _check_name("deployment", deployment)
        self.redis.delete(*(self._key(name, user, deployment) for name in BUCKETS))
