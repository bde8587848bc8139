"""Every lesson's claims, run headless through the engine: a lesson cannot promise what the simulation does not do.

Each experiment's claim runs the step's configuration before and after the learner's change on
identical traffic, past a warm-up, for each of its seeds; every expectation must hold for each.
"""

import pytest

from curriculum.claims import check_claim, numbers_in
from curriculum.format import LESSONS_DIR, lesson_folders, load_lesson

FOLDERS = lesson_folders()


def _experiments() -> list[tuple[str, int]]:
    """Return (lesson, step index) for every experiment of every lesson that loads (others fail below)."""
    found = []
    for folder in FOLDERS:
        try:
            steps = load_lesson(LESSONS_DIR / folder).steps
        except ValueError:
            continue
        found += [(folder, index) for index, step in enumerate(steps) if step.experiment]
    return found


EXPERIMENTS = _experiments()


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_lesson_loads(folder):
    lesson = load_lesson(LESSONS_DIR / folder)  # raises with every problem, one line each
    assert lesson.read(lesson.instructor).strip()


@pytest.mark.parametrize("folder, index", EXPERIMENTS, ids=[f"{f}-step{i + 1}" for f, i in EXPERIMENTS])
def test_every_claim_holds(folder, index):
    rows = check_claim(load_lesson(LESSONS_DIR / folder), index)
    failed = [row for row in rows if not row["holds"]]
    assert not failed, "\n".join(f"seed {r['seed']}: {r['claim']}: before {r['before']!r}, after {r['after']!r}"
                                 for r in failed)


@pytest.mark.parametrize("folder, index", EXPERIMENTS, ids=[f"{f}-step{i + 1}" for f, i in EXPERIMENTS])
def test_every_percentage_the_prose_promises_is_one_the_claim_checks(folder, index):
    experiment = load_lesson(LESSONS_DIR / folder).steps[index].experiment
    checked = {round(expect.test[1] * 100, 6) for expect in experiment.claim.expect}
    for number, percent in numbers_in(experiment.see):
        if percent:
            assert round(number, 6) in checked, f"'see' promises {number:g} %, which no expectation checks"


def test_the_curriculum_has_the_twelve_stages_in_order():
    titles = [load_lesson(LESSONS_DIR / folder).title.lower() for folder in FOLDERS]
    stages = ["one server", "database", "vertical", "horizontal", "replication", "caching", "semantic",
              "llm backends", "token limits", "async", "autoscaling", "millions"]
    assert len(titles) >= 12
    position = 0
    for stage in stages:
        found = [i for i in range(position, len(titles)) if stage in titles[i]]
        assert found, f"no lesson about {stage!r} after lesson {position}: {titles}"
        position = found[0] + 1


def test_a_broken_claim_is_a_readable_error(tmp_path):
    folder = tmp_path / "99-broken"
    folder.mkdir()
    for name in ("1.md", "instructor.md"):
        (folder / name).write_text("text")
    (folder / "lesson.yaml").write_text(
        "title: Broken\nsummary: s\ngoals: [a, b]\nscenario: single_server\nsources: [x]\n"
        "quiz: {question: q, choices: [a, b], answer: 2, why: w}\n"
        "steps:\n  - text: 1.md\n    experiment: {do: d, watch: w, see: s, claim: {after: {variant: big}, "
        "expect: [{metric: latency_p95, falls_by_at_least: 0.5}]}}\n")
    with pytest.raises(ValueError) as error:
        load_lesson(folder)
    message = str(error.value)
    assert "99-broken/lesson.yaml: steps.0.experiment.claim.expect.0: Value error, metric: 'latency_p95' is not allowed" in message
    assert "quiz: Value error, answer: 2 is not allowed: choose 0 to 1" in message


def test_a_claim_that_something_barely_moves_has_a_number():
    from curriculum.format import Expect

    barely = Expect(metric="latency_p50_s", moves_by_at_most=0.05)
    assert barely.describe() == "median latency moves by at most 5%"
    assert barely.holds(2.0, 2.09) and barely.holds(2.0, 1.91)
    assert not barely.holds(2.0, 2.2) and not barely.holds(2.0, 1.8)  # either way
    assert not barely.holds(None, 2.0) and not barely.holds(0.0, 0.0)  # no baseline, no claim


def test_the_spread_across_seeds_names_a_direction_that_flips():
    from curriculum.claims import spread

    rows = [{"seed": s, "claim": "p50 rises", "before": 1.0, "after": a, "holds": a > 1.2} for s, a in ((1, 1.5), (2, 0.9))]
    rows += [{"seed": s, "claim": "errors", "before": 0.1, "after": a, "holds": True} for s, a in ((1, 0.05), (2, 0.02))]
    summary = {row["claim"]: row for row in spread(rows)}
    assert summary["p50 rises"]["sign_flips"] and summary["p50 rises"]["held"] == 1
    assert summary["p50 rises"]["change_min"] == pytest.approx(-0.1) and summary["p50 rises"]["change_max"] == pytest.approx(0.5)
    assert not summary["errors"]["sign_flips"] and summary["errors"]["held"] == 2
