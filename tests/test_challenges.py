"""Every lesson ends with a challenge the engine scores: solvable (its reference answer passes) and not
passed by the architecture it starts from; an answer cannot pass by serving less traffic."""

import pytest

from curriculum.challenges import challenge_traffic, score, scored_scenario, solution_scenario, start_scenario
from curriculum.format import LESSONS_DIR, PER_USER, Target, lesson_folders, load_lesson
from engine import derive

FOLDERS = lesson_folders()
WITH_CHALLENGES = [f for f in FOLDERS if load_lesson(LESSONS_DIR / f).challenge is not None]


@pytest.mark.parametrize("folder", WITH_CHALLENGES)
def test_the_challenge_is_solvable_and_its_start_does_not_pass(folder):
    lesson = load_lesson(LESSONS_DIR / folder)
    solved = score(lesson, solution_scenario(lesson))
    assert solved.passed, [(row.describe(), row.values) for row in solved.rows]
    start = score(lesson, start_scenario(lesson))
    assert not start.passed, [(row.describe(), row.values) for row in start.rows]


def test_every_lesson_ends_with_a_challenge():
    assert WITH_CHALLENGES == FOLDERS


def test_an_answer_is_scored_on_the_challenges_whole_traffic_not_its_own():
    lesson = load_lesson(LESSONS_DIR / "15-millions-of-users")
    easier = derive(solution_scenario(lesson), {"traffic": {"users": {"daily_active": 1000}, "client_timeout_s": 600,
                                                            "tokens": {"kind": "fixed", "prompt_tokens": 1, "output_tokens": 1}}},
                    "fewer users, shorter answers, more patient clients")
    scored = scored_scenario(challenge_traffic(lesson), easier, seed=2)
    assert scored.traffic == solution_scenario(lesson).traffic and scored.seed == 2
    assert scored.traffic.users.daily_active == 1_000_000 and scored.traffic.tokens.kind != "fixed"


def test_live_settings_count_but_not_the_traffic_and_a_target_reads_per_user_cost():
    lesson = load_lesson(LESSONS_DIR / "15-millions-of-users")
    card = score(lesson, solution_scenario(lesson), {"rate_rps": 1.0}, seeds=1)  # a live rate does not lower the traffic
    per_user = next(row for row in card.rows if row.target.metric == PER_USER)
    assert card.passed and 0.1 < per_user.worst < 0.25  # gpt-4o-mini at a million users: about 0.18 USD each a month
    every_web_replica_down = {"down": ["web-0", "web-1", "web-2", "web-3"]}
    assert not score(lesson, solution_scenario(lesson), every_web_replica_down, seeds=1).passed  # live changes are scored
    assert Target(metric="error_rate", at_most=0.01).met(0.0) and not Target(metric="error_rate", at_most=0.01).met(None)
    with pytest.raises(ValueError, match="exactly one of at_most and at_least"):
        Target(metric="error_rate", at_most=0.1, at_least=0.0)
    with pytest.raises(ValueError, match="metric: 'speed' is not allowed"):
        Target(metric="speed", at_most=1)
