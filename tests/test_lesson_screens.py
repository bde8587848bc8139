"""A picture of every lesson step at its "you should see" moment, drawn by the live view itself.

Each step is played as a learner plays it (curriculum/visible.py): opened warm, the experiment's
change made, played at the step's speed until the claimed effect shows and holds. That moment's
frame is drawn in chromium by the very component the app uses (static/live_view.js, with the
plotly package's own plotly.min.js), and photographed into tests/screenshots/steps/ for a person
to look at. A step without an experiment is photographed as it opens. No chart may be blank.
"""

import json

import pytest

from curriculum.format import LESSONS_DIR, lesson_folders, load_lesson
from curriculum.playback import Playback
from curriculum.visible import opened, time_to_effect
from dashboard.view import frame as frames
from dashboard.view.live_view import CSS
from dashboard.view.player import LEAD_S
from dashboard.view.series import point
from tests.browser import SHOTS, app_server, blank_charts, launch, skip_without_chromium

skip_without_chromium()

from playwright.sync_api import sync_playwright  # noqa: E402

STEPS = [(folder, index) for folder in lesson_folders() for index in range(len(load_lesson(LESSONS_DIR / folder).steps))]


@pytest.fixture(scope="module")
def browser_at_app():
    """Chromium and the app's URL, shared by the steps of this module."""
    with app_server() as url, sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser, url
        browser.close()


@pytest.fixture
def canvas(browser_at_app):
    """A fresh chromium page on the app's origin, ready to draw live view frames with the app's own component.

    One page per step: a CI run once saw chromium's screenshots of a long-lived page stall for good
    (30 s timeouts on every step after the 40th), and a page that stalls must not take the rest with it.
    """
    browser, url = browser_at_app
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(f"{url}/app/static/live_view.js")  # the app's origin, so the module and Plotly load from it
    page.set_content(f"<html><head><style>body {{ font-family: sans-serif; margin: 16px; }} {CSS}</style>"
                     "</head><body><h2 id='title'></h2><div id='root'></div></body></html>")
    page.evaluate("async (base) => { window.view = await import(base + 'app/static/live_view.js'); "
                  "window.base = base; }", f"{url}/")
    yield page
    page.close()


def frame_of(lesson, index: int, playback: Playback) -> dict:
    """Return the live view's frame of a step's playback, as the lesson player draws it."""
    step = lesson.steps[index]
    shown_from = step.opening_warmup_s() - LEAD_S
    points = {role: [point(w) for w in track.sim.windows if w["t_end_s"] > shown_from]
              for role, track in playback.tracks()}
    if playback.before is not None and playback.since is not None:
        # Until the change, the run that really ran is "before" (after a version switch, "now" was
        # replayed from time 0 as the new version): the player draws that history, and so does this.
        points["now"] = ([p for p in points["before"] if p["t_end_s"] <= playback.since]
                         + [p for p in points["now"] if p["t_end_s"] > playback.since])
    return frames.of_playback(playback, points["now"], points.get("before", []), span=step.span,
                              watched=step.watched())


@pytest.mark.parametrize("folder, index", STEPS)
def test_every_step_is_photographed_at_its_moment_with_no_blank_chart(canvas, folder, index):
    lesson = load_lesson(LESSONS_DIR / folder)
    step = lesson.steps[index]
    if step.experiment is not None:
        result = time_to_effect(lesson, index)
        playback, moment = result.playback, f"after {result.visible_after_s:.1f} s at {step.speed}"
    else:
        playback, moment = opened(lesson, index), "as it opens"
    frame = frame_of(lesson, index, playback)
    canvas.evaluate("""([data, title]) => { document.getElementById('title').textContent = title;
        const root = document.getElementById('root'); root.replaceChildren();
        window.view.render({ data, parentElement: root }, window.base); }""",
                    [json.loads(json.dumps(frame)), f"{lesson.title}, step {index + 1}: {moment}"])
    canvas.wait_for_function("n => document.querySelectorAll('.gsl-chart .main-svg').length >= n",
                             arg=len(frame["charts"]), timeout=20_000)
    canvas.set_viewport_size({"width": 1280, "height": int(canvas.evaluate("document.body.scrollHeight")) + 20})
    assert blank_charts(canvas) == 0
    folder_shots = SHOTS / "steps"
    folder_shots.mkdir(parents=True, exist_ok=True)
    canvas.screenshot(path=str(folder_shots / f"{folder}-step-{index + 1}.png"))
    if step.experiment is not None:
        watched = [cell for cell in frame["headline"] if cell["watched"]]
        assert watched and all("before" in cell for cell in watched)  # before → now, on the same traffic
