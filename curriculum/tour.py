"""The first-visit tour: a few steps of text, one of them a lesson's step played live (data: lessons/tour.yaml)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from curriculum.format import LESSONS_DIR
from engine.loading import read_yaml

TOUR = LESSONS_DIR / "tour.yaml"
WORDS_PER_MINUTE = 200  # a common estimate of reading speed for plain prose
LIVE_STEP_S = 60  # what the live step asks for: start, one change, half a minute of watching


class LiveStep(BaseModel):
    """The lesson step the tour's live step plays."""

    model_config = ConfigDict(extra="forbid")
    lesson: str = Field(pattern=r"^[0-9a-z-]+$")
    step: int = Field(ge=0)


class TourStep(BaseModel):
    """One step of the tour: a title, its text, and whether the live simulation shows with it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    title: str = Field(min_length=1, max_length=60)
    text: str = Field(min_length=1, max_length=1500)
    live: bool = False


class Tour(BaseModel):
    """The tour: its steps, exactly one of them live."""

    model_config = ConfigDict(extra="forbid")
    live: LiveStep
    steps: list[TourStep] = Field(min_length=2, max_length=6)

    def minutes(self) -> float:
        """Return how long the tour takes: its words at a reading pace, plus the live step's minute."""
        words = sum(len(re.findall(r"\w+", step.title + " " + step.text)) for step in self.steps)
        return words / WORDS_PER_MINUTE + LIVE_STEP_S / 60


def load_tour() -> Tour:
    """Read and validate lessons/tour.yaml."""
    return Tour.model_validate(read_yaml(TOUR.read_text(encoding="utf-8")))
