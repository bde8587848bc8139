"""The curriculum: lessons as data (lessons/), the claims they make checked against the engine, and
the playback that lets a learner see a change happen, before and after on identical traffic.

Plain Python, no Streamlit: the lesson player (dashboard/), the tests and `python -m curriculum`
share it.
"""

from curriculum.format import LESSONS_DIR, Claim, Expect, Experiment, Lesson, Step, lesson_folders, load_lesson

__all__ = ["LESSONS_DIR", "Claim", "Expect", "Experiment", "Lesson", "Step", "lesson_folders", "load_lesson"]
