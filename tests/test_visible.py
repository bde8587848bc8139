"""Every step's promised effect shows on the live view within 30 s of wall time at the step's own speed.

The lesson player is played as a learner plays it (curriculum/visible.py): the step opens warm,
the experiment's change is made, and the run plays in the player's ticks. The claim's
expectations are read off the live view's span, before and now on identical traffic, and must
hold, and keep holding, within 30 seconds of ticks. Counted in ticks, not timed: the figure is the
same on any machine; how long this machine takes to simulate them is `make bench-browser`'s.
"""

import pytest

from curriculum.format import LESSONS_DIR, lesson_folders, load_lesson
from curriculum.visible import LIMIT_S, time_to_effect

EXPERIMENTS = [(folder, index) for folder in lesson_folders()
               for index, step in enumerate(load_lesson(LESSONS_DIR / folder).steps) if step.experiment]


@pytest.mark.parametrize("folder, index", EXPERIMENTS)
def test_the_effect_shows_within_30_seconds_with_the_sign_the_step_claims(folder, index):
    result = time_to_effect(load_lesson(LESSONS_DIR / folder), index)
    assert result.visible_after_s is not None and result.visible_after_s <= LIMIT_S, result.figures
