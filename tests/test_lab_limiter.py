"""The token limiter: RPM and TPM buckets per user and per deployment, on fakeredis and a real Redis server.

A full bucket admits what it holds and then asks the caller to wait exactly as long as it takes to
refill; a refusal takes nothing from any bucket; unused output is refunded; and 8 processes hammering
one bucket on a real redis-server never get more than the bucket's size plus its refill in any window.
"""

import ast
import math
import multiprocessing
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path

import fakeredis
import pytest
import redis

from lab.limiter import Decision, Limits, TokenLimiter
from tests.redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    """One real redis-server for this file's tests (each test uses its own key prefix)."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(params=["fakeredis", "fakeredis-text", "redis-server"])
def limiter(request):
    """A limiter on fakeredis (bytes and decoded replies) and on a real redis-server, with a fresh prefix."""
    if request.param == "redis-server":
        client = redis.Redis.from_url(request.getfixturevalue("redis_server").url, socket_timeout=5)
    else:
        client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=request.param.endswith("text"))
    yield TokenLimiter(client, prefix=f"test:{uuid.uuid4().hex}")
    client.close()


def test_a_full_bucket_admits_what_it_holds_then_asks_to_wait_for_the_refill(limiter):
    limits = Limits(user_tpm=6_000)  # refills 100 tokens a second
    decisions = [limiter.reserve("alice", "gpt-4o", 105, 500, limits) for _ in range(10)]
    first, refused = decisions[0], decisions[-1]
    assert [d.admitted for d in decisions] == [True] * 9 + [False]  # floor(6000 / 605) = 9
    assert [d.reserved_tokens for d in decisions] == [605] * 9 + [0]
    assert refused.refused_by == "user TPM"
    # 555 tokens were left after 9 requests, plus what refilled since the first: 50 short at 100/s
    elapsed = refused.at_s - first.at_s
    assert refused.remaining["user TPM"] == pytest.approx(555 + 100 * elapsed, abs=1e-3)
    assert refused.retry_after_s == pytest.approx(0.5 - elapsed, abs=1e-5)
    assert refused.retry_after_s == pytest.approx((605 - refused.remaining["user TPM"]) / 100, abs=1e-5)
    time.sleep(refused.retry_after_s)
    again = limiter.reserve("alice", "gpt-4o", 105, 500, limits)
    assert again.admitted
    overslept = again.at_s - refused.at_s - refused.retry_after_s
    assert again.remaining["user TPM"] == pytest.approx(100 * overslept, abs=1e-3)


def test_an_rpm_bucket_counts_requests_whatever_their_tokens(limiter):
    limits = Limits(deployment_rpm=3)  # refills one request every 20 s
    decisions = [limiter.reserve("alice", "gpt-4o", 1_000_000, 1_000_000, limits) for _ in range(4)]
    assert [d.admitted for d in decisions] == [True, True, True, False]
    refused = decisions[-1]
    elapsed = refused.at_s - decisions[0].at_s
    assert refused.refused_by == "deployment RPM" and refused.retry_after_s == pytest.approx(20 - elapsed, abs=1e-5)
    assert refused.headers() == {"retry-after": "20", "retry-after-ms": str(math.ceil(refused.retry_after_s * 1000)),
                                 "x-ratelimit-remaining-requests": "0"}
    assert set(refused.remaining) == {"deployment RPM"}


def test_unused_output_is_refunded_to_both_tpm_buckets_never_above_their_size(limiter):
    limits = Limits(user_tpm=6_000, deployment_tpm=60_000)  # 100 and 1,000 tokens a second
    first = limiter.reserve("alice", "gpt-4o", 100, 500, limits)
    assert first.admitted and first.remaining == {"user TPM": 5_400, "deployment TPM": 59_400}
    assert limiter.settle(first, "alice", "gpt-4o", 50, limits) == 450
    second = limiter.reserve("alice", "gpt-4o", 100, 500, limits)
    elapsed = second.at_s - first.at_s
    assert second.remaining["user TPM"] == pytest.approx(5_400 + 450 - 600 + 100 * elapsed, abs=1e-3)
    assert second.remaining["deployment TPM"] == pytest.approx(59_400 + 450 - 600 + 1_000 * elapsed, abs=1e-3)
    # a refund into a full bucket leaves it full
    limiter.reset("alice", "gpt-4o")
    assert limiter.settle(second, "alice", "gpt-4o", 0, limits) == 500
    third = limiter.reserve("alice", "gpt-4o", 0, 1, limits)
    assert third.remaining == {"user TPM": 5_999, "deployment TPM": 59_999}
    # a refused request reserved nothing and gets nothing back
    refused = limiter.reserve("alice", "gpt-4o", 0, 7_000, Limits(user_tpm=60_000, deployment_tpm=6_000))
    assert not refused.admitted and limiter.settle(refused, "alice", "gpt-4o", 0, limits) == 0
    assert limiter.reserve("alice", "gpt-4o", 0, 0, limits).remaining["user TPM"] < 6_000


def test_a_refusal_takes_nothing_from_any_bucket(limiter):
    limits = Limits(user_rpm=10, user_tpm=6_000, deployment_tpm=1_000)
    assert limiter.reserve("bob", "gpt-4o", 0, 1_000, limits).admitted  # bob empties the deployment
    refused = limiter.reserve("alice", "gpt-4o", 100, 400, limits)
    assert not refused.admitted and refused.refused_by == "deployment TPM" and refused.reserved_tokens == 0
    assert refused.remaining["user RPM"] == 10 and refused.remaining["user TPM"] == 6_000
    # alice's buckets are still full: a request on another deployment finds them so
    later = limiter.reserve("alice", "gpt-4o-mini", 100, 400, limits)
    assert later.admitted and later.remaining == {"user RPM": 9, "user TPM": 5_500, "deployment TPM": 500}


@pytest.mark.parametrize("limits, refused_by, wait_s", [
    (Limits(user_tpm=1_200, deployment_rpm=1), "deployment RPM", 60),  # user TPM lacks 800 at 20/s: 40 s
    (Limits(user_rpm=1, deployment_tpm=1_200), "user RPM", 60),  # deployment TPM: 40 s
    (Limits(user_tpm=1_200, deployment_tpm=1_500), "user TPM", 40),  # deployment TPM lacks 500 at 25/s: 20 s
])
def test_the_longest_wait_among_the_refusing_buckets_is_the_retry_time(limiter, limits, refused_by, wait_s):
    first = limiter.reserve("alice", "gpt-4o", 0, 1_000, limits)
    refused = limiter.reserve("alice", "gpt-4o", 0, 1_000, limits)
    assert first.admitted and not refused.admitted and refused.refused_by == refused_by
    assert refused.retry_after_s == pytest.approx(wait_s - (refused.at_s - first.at_s), abs=1e-5)


def test_a_cost_above_a_bucket_size_is_refused_for_good(limiter):
    limits = Limits(user_rpm=1, user_tpm=1_000, deployment_tpm=100_000)
    first = limiter.reserve("alice", "gpt-4o", 0, 900, limits)  # user RPM now empty too
    refused = limiter.reserve("alice", "gpt-4o", 600, 500, limits)
    assert first.admitted and not refused.admitted and refused.reserved_tokens == 0
    assert refused.refused_by == "user TPM" and refused.retry_after_s is None
    assert "retry-after" not in refused.headers() and "retry-after-ms" not in refused.headers()
    # nothing was taken from the deployment: it holds what the first request left, plus its refill
    later = limiter.reserve("carol", "gpt-4o", 0, 100, Limits(deployment_tpm=100_000))
    refill = 100_000 / 60 * (later.at_s - first.at_s)
    assert later.remaining["deployment TPM"] == pytest.approx(min(100_000, 99_100 + refill) - 100, abs=1e-3)


def test_idle_buckets_expire_once_they_would_be_full_and_reset_fills_them(limiter):
    limits = Limits(user_rpm=60, user_tpm=6_000, deployment_rpm=600)  # 1 request/s, 100 tokens/s, 10 requests/s
    assert limiter.reserve("alice", "gpt-4o", 100, 500, limits).admitted
    client = limiter.redis
    ttls = {key.decode() if isinstance(key, bytes) else key: client.pttl(key)
            for key in client.scan_iter(f"{limiter.prefix}:*")}
    assert len(ttls) == 3, ttls
    assert sorted(ttls.values())[0] > 0 and sorted(ttls.values())[-1] > 6_000
    assert all(ttl <= full_ms + 1_000 for ttl, full_ms in zip(sorted(ttls.values()), (100, 1_000, 6_000)))
    for _ in range(9):
        limiter.reserve("alice", "gpt-4o", 100, 500, limits)
    assert not limiter.reserve("alice", "gpt-4o", 100, 500, limits).admitted
    limiter.reset("alice", "gpt-4o")
    assert list(client.scan_iter(f"{limiter.prefix}:*")) == []
    assert limiter.reserve("alice", "gpt-4o", 100, 500, limits).remaining == {
        "user RPM": 59, "user TPM": 5_400, "deployment RPM": 599}


def test_no_limit_admits_everything_and_still_reads_the_server_clock(limiter):
    before = time.time()
    decision = limiter.reserve("alice", "gpt-4o", 2_000_000, 2_000_000, Limits())
    assert decision.admitted and decision.reserved_tokens == 4_000_000 and decision.remaining == {}
    assert before - 1 < decision.at_s < time.time() + 1 and decision.headers() == {}
    assert limiter.settle(decision, "alice", "gpt-4o", 0, Limits()) == 0


@pytest.mark.parametrize("call, message", [
    (lambda lim: lim.reserve("a b", "gpt-4o", 1, 1, Limits()), r"^user: 'a b' is not allowed: 1 to 64 letters"),
    (lambda lim: lim.reserve("", "gpt-4o", 1, 1, Limits()), r"^user: '' is not allowed"),
    (lambda lim: lim.reserve("alice", "gpt/4o", 1, 1, Limits()), r"^deployment: 'gpt/4o' is not allowed"),
    (lambda lim: lim.reserve("alice", "x" * 65, 1, 1, Limits()), r"^deployment: 'xxx.*\.\.\. is not allowed"),
    (lambda lim: lim.reserve("alice", "gpt-4o", -1, 1, Limits()),
     r"^prompt_tokens: -1 is not allowed: a whole number from 0 to 2,000,000$"),
    (lambda lim: lim.reserve("alice", "gpt-4o", 1.5, 1, Limits()), r"^prompt_tokens: 1.5 is not allowed"),
    (lambda lim: lim.reserve("alice", "gpt-4o", True, 1, Limits()), r"^prompt_tokens: True is not allowed"),
    (lambda lim: lim.reserve("alice", "gpt-4o", 1, 2_000_001, Limits()),
     r"^max_output_tokens: 2000001 is not allowed: a whole number from 0 to 2,000,000$"),
    (lambda lim: lim.reserve("alice", "gpt-4o", 1, 1, {"user_rpm": 5}), r"^limits: \{'user_rpm': 5\} is not allowed"),
    (lambda lim: Limits(user_rpm=0),
     r"^Limits.user_rpm: 0 is not allowed: a whole number from 1 to 1,000,000,000, or None for no limit$"),
    (lambda lim: Limits(deployment_tpm=10**9 + 1), r"^Limits.deployment_tpm: 1000000001 is not allowed"),
    (lambda lim: Limits(user_tpm="100"), r"^Limits.user_tpm: '100' is not allowed"),
    (lambda lim: lim.settle(lim.reserve("alice", "gpt-4o", 100, 500, Limits(user_tpm=1_000)), "alice", "gpt-4o", 501,
                            Limits(user_tpm=1_000)),
     r"^used_output_tokens: 501 is not allowed: a whole number from 0 to 500$"),
    (lambda lim: lim.reset("alice", "gpt 4o"), r"^deployment: 'gpt 4o' is not allowed"),
])
def test_bad_input_is_refused_with_the_field_and_the_value(call, message):
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    limiter = TokenLimiter(client)
    with pytest.raises(ValueError, match=message):
        call(limiter)
    remaining = {key: client.hget(key, "tokens") for key in client.scan_iter("*")}
    assert all(float(left) == 400 for left in remaining.values())  # only the settle case wrote, and nothing more


def test_headers_round_the_retry_time_up_and_show_the_smaller_remaining():
    refused = Decision(False, 0, 1.2001, "user TPM", {"user RPM": 5.0, "user TPM": 12.7, "deployment TPM": 3.2,
                                                      "deployment RPM": 9.9}, 0.0)
    assert refused.headers() == {"retry-after": "2", "retry-after-ms": "1201",
                                 "x-ratelimit-remaining-requests": "5", "x-ratelimit-remaining-tokens": "3"}
    assert Decision(False, 0, 3.0, "user RPM", {"user RPM": 0.4}, 0.0).headers() == {
        "retry-after": "3", "retry-after-ms": "3000", "x-ratelimit-remaining-requests": "0"}
    assert Decision(True, 10, None, None, {"deployment TPM": 990.5}, 0.0).headers() == {
        "x-ratelimit-remaining-tokens": "990"}
    assert Decision(False, 0, None, "user TPM", {"user TPM": 10.0}, 0.0).headers() == {
        "x-ratelimit-remaining-tokens": "10"}


def test_lab_stays_out_of_the_engine_and_away_from_the_dashboard_libraries():
    every_module = "lab.limiter, lab.semantic_cache, lab.calibrate, lab.cache_eval, lab.connection"
    imported = subprocess.run([sys.executable, "-c", f"import sys, {every_module}; print(sorted(sys.modules))"],
                              cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "'streamlit" not in imported and "'plotly" not in imported
    for path in (ROOT / "engine").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(name == "lab" or name.startswith("lab.") for name in names), path


# --- 8 processes against one bucket --------------------------------------------------------------

PROCESSES, REQUESTS = 8, 1_000
DEPLOYMENT_TPM = 300_000  # 5,000 tokens a second; requests cost 70 to 130 tokens (100 on average)


def largest_window_excess(admitted: list[tuple[float, int]], size: float, rate: float) -> float:
    """Return max over i <= j of (cost_i + ... + cost_j) - size - rate * (t_j - t_i), admitted sorted by time.

    O(n): with S the running sum of costs, the excess of [i, j] is (S_j - rate t_j) + (rate t_i - S_(i-1)) - size,
    so keep the largest rate t_i - S_(i-1) seen so far.
    """
    best = best_start = -math.inf
    total = 0.0
    t0 = admitted[0][0] if admitted else 0.0
    for t, cost in admitted:
        best_start = max(best_start, rate * (t - t0) - total)
        total += cost
        best = max(best, total - rate * (t - t0) + best_start - size)
    return best


def test_the_window_check_finds_the_worst_window():
    rng = random.Random(7)
    for _ in range(50):
        points = sorted((rng.uniform(0, 10), rng.randint(1, 50)) for _ in range(rng.randint(1, 40)))
        brute = max(sum(c for _, c in points[i:j + 1]) - 100 - 20 * (points[j][0] - points[i][0])
                    for i in range(len(points)) for j in range(i, len(points)))
        assert largest_window_excess(points, 100, 20) == pytest.approx(brute)


def _hammer(url: str, prefix: str, seed: int, start, results) -> None:
    """One process: wait for the start, send REQUESTS requests to the shared deployment, report what happened."""
    limiter = TokenLimiter(redis.Redis.from_url(url, socket_timeout=10), prefix=prefix)
    rng = random.Random(seed)
    limits = Limits(deployment_tpm=DEPLOYMENT_TPM)
    start.wait(60)
    seen = []
    for _ in range(REQUESTS):
        prompt = rng.randint(20, 80)
        decision = limiter.reserve(f"user{seed}", "shared", prompt, 50, limits)
        seen.append((decision.at_s, decision.admitted, prompt + 50))
    results.put(seen)


def test_eight_processes_never_get_more_than_the_bucket_and_its_refill(redis_server):
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    prefix = f"test:{uuid.uuid4().hex}"
    workers = [context.Process(target=_hammer, args=(redis_server.url, prefix, seed, start, results))
               for seed in range(PROCESSES)]
    for worker in workers:
        worker.start()
    try:
        time.sleep(0.5)
        start.set()
        seen = [row for _ in workers for row in results.get(timeout=120)]
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():  # pragma: no cover - only when a worker hangs
                worker.kill()
    assert all(worker.exitcode == 0 for worker in workers)
    assert len(seen) == PROCESSES * REQUESTS
    size, rate = DEPLOYMENT_TPM, DEPLOYMENT_TPM / 60
    admitted = sorted((t, cost) for t, ok, cost in seen if ok)
    refused = [t for t, ok, _ in seen if not ok]
    duration = max(t for t, _, _ in seen) - min(t for t, _, _ in seen)
    excess = largest_window_excess(admitted, size, rate)
    total = sum(cost for _, cost in admitted)
    print(f"\n{len(seen)} requests in {duration:.2f} s (server clock): {len(admitted)} admitted "
          f"({total:,} tokens), {len(refused)} refused; expected about {size + rate * duration:,.0f} tokens; "
          f"largest window excess {excess:.2f} tokens")
    assert excess <= 130  # one request's cost of slack, for the clock's microseconds
    assert len(refused) > PROCESSES * REQUESTS // 4
    assert total == pytest.approx(size + rate * duration, rel=0.05)
