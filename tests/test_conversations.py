"""Conversations, streaming and the context window: what a chat app sends, and how long its users wait."""

import pytest

from engine import ScenarioError, Simulation
from tests.helpers import scenario

QUESTION, ANSWER = 100, 600


def chat(turns: int = 8, *, streaming: bool = True, timeout=10.0, window: int = 128_000, keep=None, rate: float = 2.0,
         think_s: float = 20.0):
    """A chat app on a hosted model: `turns` questions a conversation, the whole history sent every time."""
    conversation = {"turns": turns, "think_time_s": think_s}
    if keep is not None:
        conversation["keep_history_tokens"] = keep
    return scenario(traffic={"rate_rps": rate, "client_timeout_s": timeout, "streaming": streaming,
                             "tokens": {"kind": "fixed", "prompt_tokens": QUESTION, "output_tokens": ANSWER},
                             "conversation": conversation},
                    web={"async_io": True, "db_reads_per_request": 0, "db_writes_per_request": 0},
                    llm={"kind": "hosted", "context_window_tokens": window})


def measured(scn, warmup_s: float, seconds: float) -> dict:
    """Return the summary of `seconds` after a warm-up."""
    sim = Simulation(scn)
    sim.run(warmup_s)
    sim.restart_summary()
    return sim.run(seconds)


def test_every_question_carries_the_conversation_so_far():
    """Question k's prompt is its own 100 tokens plus k - 1 earlier questions and answers (700 each)."""
    whole = Simulation(chat(4, timeout=None, rate=0.5)).run(3600)
    answered = whole["completions"]
    assert whole["error_rate"] == 0 and answered > 1000
    # Over whole conversations the four prompts carry 0, 1, 2 and 3 earlier turns: 6 turns of history in 4 questions.
    assert whole["history_tokens"] / answered == pytest.approx(6 / 4 * (QUESTION + ANSWER), rel=0.03)
    assert whole["input_tokens"] / answered == pytest.approx(QUESTION + 6 / 4 * (QUESTION + ANSWER), rel=0.03)


def test_prompt_tokens_per_conversation_grow_with_the_square_of_its_length():
    short, long = (measured(chat(turns, timeout=None, rate=1.0), 1200, 2400) for turns in (5, 20))
    per_question = {n: s["input_tokens"] / s["completions"] for n, s in ((5, short), (20, long))}
    # Per question: 100 + 700 (n - 1) / 2, so per conversation n x that: 4 times the questions, about 14 times the tokens.
    for n in (5, 20):
        assert per_question[n] == pytest.approx(QUESTION + 700 * (n - 1) / 2, rel=0.05)
    assert (20 * per_question[20]) / (5 * per_question[5]) > 12


def test_questions_arrive_at_the_rate_once_conversations_are_under_way():
    summary = measured(chat(8, timeout=None, rate=4.0), 600, 3600)
    # Conversations come in clumps of 8 questions: over 1,800 conversations the count is within about 2.4 % (1 sd).
    assert summary["arrivals"] / 3600 == pytest.approx(4.0, rel=0.07)


def test_a_buffered_answer_longer_than_the_users_patience_is_lost_and_a_streamed_one_is_not():
    """600 tokens take about 11.5 s to write; users give up on a blank screen after 10 s."""
    buffered = measured(chat(streaming=False), 300, 300)
    streamed = measured(chat(streaming=True), 300, 300)
    assert buffered["error_rate"] > 0.95 and buffered["timed_out"] > 0
    assert streamed["error_rate"] == 0
    assert streamed["ttft_p95_s"] < 1.0 < 10.0 < streamed["latency_p50_s"]


def test_streaming_only_moves_the_timeout_to_the_first_token():
    """A model that takes 30 s to start still loses users who wait only 10 s, streaming or not."""
    slow_start = chat(streaming=True)
    slow = scenario(**{**slow_start.model_dump(exclude_none=True), "llm": {"kind": "hosted", "overhead_ms": 30_000}})
    assert measured(slow, 120, 300)["error_rate"] > 0.95


def test_a_conversation_longer_than_the_context_window_is_refused_from_the_question_that_no_longer_fits():
    """With 8,192 tokens, question 11 fits (100 + 7,000 + 600 = 7,700) and question 12 does not (8,400)."""
    summary = Simulation(chat(16, timeout=None, window=8192, rate=0.5)).run(3600)
    failed_share = summary["failed"] / (summary["failed"] + summary["completions"])
    assert summary["too_long"] == summary["failed"] > 0
    assert failed_share == pytest.approx(5 / 16, abs=0.03)  # questions 12 to 16 of every conversation


def test_trimming_the_history_keeps_every_question_within_the_window():
    trimmed = Simulation(chat(16, timeout=None, window=8192, keep=6000, rate=0.5)).run(3600)
    assert trimmed["failed"] == trimmed["too_long"] == 0
    assert trimmed["history_tokens"] / trimmed["arrivals"] < 6000


def test_the_same_conversations_whatever_the_architecture():
    """Common random numbers: conversations start at the same moments on a slower model; only their later
    questions come later, as the answers do."""
    fast = chat(8, timeout=None, rate=8.0)
    slow = scenario(**{**fast.model_dump(exclude_none=True), "llm": {"kind": "hosted", "itl_ms": 40}})
    # In the first 25 s no conversation has had its answer read yet: every arrival is a first question.
    assert Simulation(fast).run(25)["arrivals"] == Simulation(slow).run(25)["arrivals"] > 5
    assert measured(slow, 300, 300)["latency_p50_s"] > 1.5 * measured(fast, 300, 300)["latency_p50_s"]


def test_conversations_need_an_open_rate():
    with pytest.raises(ScenarioError, match="conversation"):
        scenario(traffic={"rate_rps": None, "closed_loop": {"users": 5}, "conversation": {"turns": 3}})
