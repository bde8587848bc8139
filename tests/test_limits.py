"""Token limits: the bucket never gives more than it holds; budgets protect light users from heavy ones."""

import pytest
from hypothesis import given, settings, strategies as st

from engine import ScenarioError, Simulation, parse_scenario
from engine.limits import TokenBucket, UserBudgets
from tests.helpers import deep_merge

steps = st.lists(st.tuples(st.floats(0, 30, allow_nan=False), st.integers(0, 5_000), st.booleans()),
                 min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(capacity=st.integers(1, 10_000), rate=st.floats(0.1, 1_000), steps=steps)
def test_no_window_ever_gets_more_than_the_bucket_allows(capacity, rate, steps):
    bucket = TokenBucket(capacity, rate)
    now, taken = 0.0, []
    for gap, amount, _ in steps:
        now += gap
        if bucket.try_take(amount, now):
            taken.append((now, amount))
    for i, (start, _) in enumerate(taken):
        for end, _ in taken[i:]:
            in_window = sum(amount for t, amount in taken if start <= t <= end)
            assert in_window <= capacity + rate * (end - start) + 1e-6


@settings(max_examples=200, deadline=None)
@given(capacity=st.integers(1, 10_000), rate=st.floats(0.1, 1_000), steps=steps)
def test_a_bucket_never_goes_negative_nor_above_capacity(capacity, rate, steps):
    bucket = TokenBucket(capacity, rate)
    now = 0.0
    for gap, amount, refund in steps:
        now += gap
        if refund:
            bucket.give_back(amount, now)
        else:
            bucket.try_take(amount, now)
        assert 0 <= bucket.level(now) <= capacity


@settings(max_examples=100, deadline=None)
@given(calls=st.lists(st.tuples(st.integers(0, 3), st.floats(0, 20, allow_nan=False), st.integers(1, 3_000)),
                      min_size=1, max_size=80))
def test_no_user_is_admitted_more_than_a_minute_and_a_day_allow(calls):
    budgets = UserBudgets(tokens_per_minute=6_000, tokens_per_day=20_000)
    now, admitted = 0.0, {}
    for user, gap, amount in calls:
        now += gap
        if budgets.admit(user, amount, now):
            admitted.setdefault(user, []).append((now, amount))
    for user, grants in admitted.items():
        assert sum(amount for _, amount in grants) <= 20_000 + 20_000 / 86_400 * now + 1e-6
        for start, _ in grants:
            window = sum(amount for t, amount in grants if start <= t <= start + 60)
            assert window <= 6_000 + 6_000 / 60 * 60 + 1e-6


def test_settling_returns_what_was_not_used():
    budgets = UserBudgets(tokens_per_minute=1_000, tokens_per_day=None)
    assert budgets.admit(7, 800, 0.0)
    assert not budgets.admit(7, 800, 0.0)
    budgets.settle(7, reserved=800, used=300, now=0.0)
    assert budgets.admit(7, 700, 0.0)
    assert TokenBucket(100, 10).seconds_until(150, 0.0) == float("inf")
    bucket = TokenBucket(100, 10)
    bucket.try_take(100, 0.0)
    assert bucket.seconds_until(50, 0.0) == pytest.approx(5.0)


def shared_model(**changes):
    """1,000 users, 10 heavy ones sending 30 % of requests with 8x prompts, one self-hosted LLM replica."""
    base = {
        "traffic": {"rate_rps": 4, "client_timeout_s": None, "user_population": 1000,
                    "heavy_users": {"share_of_users": 0.01, "share_of_requests": 0.3, "prompt_multiplier": 8}},
        "web": {"workers": 10_000, "accept_queue": None, "db_reads_per_request": 0, "db_writes_per_request": 0},
    }
    base["llm"] = changes.pop("llm", {"kind": "self_hosted", "replicas": 1})
    return parse_scenario(deep_merge(base, changes))


# A budget reserves the prompt plus max_tokens: without a cap it would reserve the model's longest answer
# (16,384 tokens), more than the whole budget.
BUDGET = {"per_user_tokens_per_minute": 5_000, "max_output_tokens": 1000}


def test_per_user_budgets_keep_heavy_users_from_raising_everyones_latency():
    # Without limits the heavy users' long prompts need more prefill than the replica has.
    free = Simulation(shared_model()).run(300)
    limited = Simulation(shared_model(token_limits=BUDGET)).run(300)
    assert free["rate_limited"] == 0 and free["latency_p95_s"] > 30
    assert limited["rate_limited"] > 0.2 * limited["arrivals"]
    assert limited["latency_p95_s"] < 0.4 * free["latency_p95_s"]
    assert limited["input_tokens"] < 0.5 * free["input_tokens"]


def test_it_is_the_heavy_users_who_run_out_of_budget():
    # Room for four ordinary questions a minute with their 1,000-token reservation, not for one heavy one.
    sim = Simulation(shared_model(token_limits={**BUDGET, "per_user_tokens_per_minute": 10_000}))
    refused_users = []
    finish = sim._finish

    def spy(request, outcome):
        if outcome == "rate_limited":
            refused_users.append(request.user)
        finish(request, outcome)

    sim._finish = spy
    sim.run(300)
    # Heavy users are ids 0-9. Now and then a light user asks two long questions within a minute.
    heavy = sum(1 for user in refused_users if user < 10)
    assert heavy > 0.95 * len(refused_users) > 100


def test_an_output_cap_truncates_answers_and_their_cost():
    base = dict(traffic={"rate_rps": 2, "heavy_users": None}, llm={"kind": "hosted"})
    free = Simulation(shared_model(**base)).run(120)
    capped = Simulation(shared_model(**base, token_limits={"max_output_tokens": 100})).run(120)
    assert capped["truncated"] > 0.3 * capped["arrivals"]
    assert capped["output_tokens"] <= 100 * capped["completions"] + 100 * capped["in_flight"]
    assert capped["usd_tokens"] < free["usd_tokens"]
    assert capped["latency_p95_s"] < free["latency_p95_s"]


@pytest.mark.parametrize("change, message", [
    ({"token_limits": {"per_user_tokens_per_minute": 0}},
     "token_limits.per_user_tokens_per_minute: 0 is not allowed: input should be greater than or equal to 1"),
    ({"token_limits": {"max_output_tokens": -5}}, "token_limits.max_output_tokens: -5 is not allowed"),
    ({"token_limits": {}, "llm": None}, "token_limits: is not allowed without an llm"),
    ({"traffic": {"heavy_users": {"share_of_users": 1.5}}}, "traffic.heavy_users.share_of_users: 1.5 is not allowed"),
    ({"traffic": {"rate_rps": None, "trace": {}}}, "traffic.heavy_users: is not allowed with a trace"),
])
def test_bad_limits_are_refused(change, message):
    data = deep_merge(shared_model().model_dump(mode="json"), change)
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    assert any(line.startswith(message) for line in info.value.problems), info.value.problems


def test_a_failed_call_gives_the_users_reservation_back():
    # One user asks every 2 s; each call reserves 1,000 + 1,000 tokens of a 20,000-a-minute budget
    # and fails (a provider outage). A failed call used nothing: kept reservations would drain the
    # budget (1,000 tokens a second reserved, 333 refilled) and turn the outage into 429s.
    scenario = parse_scenario({
        "traffic": {"rate_rps": 0.5, "client_timeout_s": None, "user_population": 1,
                    "tokens": {"kind": "fixed", "prompt_tokens": 1000, "output_tokens": 100}},
        "web": {"workers": 1000, "accept_queue": None, "db_reads_per_request": 0, "db_writes_per_request": 0},
        "llm": {"kind": "hosted", "error_rate": 1.0, "overhead_ms": 50},
        "token_limits": {"per_user_tokens_per_minute": 20_000, "max_output_tokens": 1000},
    })
    summary = Simulation(scenario).run(600)
    assert summary["rate_limited"] == 0
    assert summary["failed"] == summary["arrivals"] - summary["in_flight"] > 250
