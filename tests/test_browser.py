"""In a real browser, as a learner meets the app: every page by its address, a lesson that plays and
shows a change against the run before it, no blank chart while playing, and a projector-sized
presenter mode that cuts nothing.

Uses Debian's chromium (Playwright cannot download browsers here); .ci/run installs it. Screenshots
go to tests/screenshots/ (made by the tests, not committed) for a person to look at.
"""

import re

import pytest

from curriculum.format import LESSONS_DIR, load_lesson
from tests.browser import SHOTS, app_server, blank_charts, launch, settled, skip_without_chromium, truncated

PAGES = ["", "lessons", "glossary", "sources", "live", "sandbox", "compare", "capacity", "search", "lab", "classroom"]

skip_without_chromium()

from playwright.sync_api import expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def server():
    """The app on a free port."""
    with app_server() as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium, headless."""
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


def opened(browser, url: str, size: tuple[int, int] = (1280, 720)):
    """Return a new page of `size` at `url`, once Streamlit has drawn it."""
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    page.goto(url)
    settled(page)
    return page


def view_time(page) -> float:
    """Return the simulated time of the frame the live view drew last."""
    return float(page.locator(".gsl-live").first.get_attribute("data-time"))


def moves_past(page, moment: float, within_s: float = 30) -> bool:
    """Whether the live view draws a frame later than `moment` within `within_s` seconds.

    A playing run does so in a second on a quiet machine; a loaded CI machine (or a browser that is
    reconnecting with its back-off) can take several. A stopped run never does, so the wait is long
    and the test still fails on a run that does not play.
    """
    for _ in range(int(within_s * 4)):
        if view_time(page) > moment:
            return True
        page.wait_for_timeout(250)
    return view_time(page) > moment


@pytest.mark.parametrize("path", PAGES)
def test_every_page_opens_by_its_own_address(server, browser, path):
    SHOTS.mkdir(exist_ok=True)
    page = opened(browser, f"{server}/{path}", (1400, 1200))
    page.wait_for_timeout(500)
    assert page.locator("[data-testid='stException']").count() == 0, path
    assert page.get_by_text("Page not found").count() == 0, path
    page.screenshot(path=str(SHOTS / f"page-{path or 'root'}.png"), full_page=True)
    page.close()


def test_a_lesson_plays_and_a_change_is_drawn_against_the_run_before_it(server, browser):
    page = opened(browser, f"{server}/lessons", (1400, 1600))
    page.get_by_role("button", name="Next step").click()
    page.wait_for_timeout(500)
    settled(page)
    warm = view_time(page)
    assert warm == 60  # the step opens warm
    lesson = load_lesson(LESSONS_DIR / "01-one-server")
    predict = lesson.steps[1].experiment.predict
    expect(page.get_by_text("You should see:")).to_have_count(0)  # predict first
    page.get_by_text(predict.choices[predict.answer], exact=True).click()
    expect(page.get_by_text("You should see:")).to_be_visible(timeout=20_000)
    page.get_by_role("button", name="Start").click()
    assert moves_past(page, warm)
    first = view_time(page)
    assert moves_past(page, first)  # the fragment ticks in the browser: the view keeps moving
    rate = page.get_by_label("Arrival rate (req/s)", exact=True)
    rate.fill("2.5")
    rate.press("Enter")
    expect(page.locator(".annotation-text", has_text="Arrival rate = 2.5").first).to_be_visible(timeout=20_000)
    expect(page.locator(".gsl-legend-item", has_text="p95 before").first).to_be_visible(timeout=20_000)
    expect(page.locator(".gsl-cell.gsl-watched .gsl-before").first).to_be_visible(timeout=20_000)
    revealed = page.locator("[data-testid='stAlertContainer']", has_text="What happened")
    expect(revealed).to_be_visible(timeout=20_000)  # the measured effect, beside the prediction and why
    expect(revealed).to_contain_text(f"You predicted “{predict.choices[predict.answer]}”: right.")
    expect(revealed).to_contain_text(predict.why)
    page.wait_for_timeout(3_000)
    page.screenshot(path=str(SHOTS / "lesson-playing.png"), full_page=True)
    page.close()


def test_a_box_being_typed_into_is_never_overwritten_by_a_tick(server, browser):
    page = opened(browser, f"{server}/live", (1280, 720))
    page.get_by_role("button", name="Start").click()
    page.wait_for_timeout(1_000)
    box = page.get_by_label("Arrival rate (req/s)", exact=True)
    box.click()
    box.press("Control+a")
    for key in "12.5":
        box.press(key)
        page.wait_for_timeout(450)  # more than two ticks between keys
    assert box.input_value() == "12.5"
    box.press("Enter")
    expect(page.locator(".annotation-text", has_text="Arrival rate = 12.5").first).to_be_visible(timeout=20_000)
    page.close()


def test_no_chart_is_ever_blank_while_a_scenario_plays(server, browser):
    from bench.browser import MILLION_USERS
    from dashboard.pages.sandbox import encode_link
    from engine import parse_scenario

    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(f"{server}/sandbox?s={encode_link(parse_scenario(MILLION_USERS))}")
    page.wait_for_selector(".js-plotly-plot", timeout=60_000)
    settled(page)
    page.get_by_role("button", name="Start").click()
    page.wait_for_timeout(1_500)
    page.evaluate("document.querySelector('.gsl-charts').scrollIntoView()")
    blank = [blank_charts(page) for _ in range(20) if page.wait_for_timeout(150) is None]
    assert blank == [0] * 20
    page.close()


@pytest.mark.parametrize("path", ["lessons", "live", "sandbox", "classroom"])
def test_presenter_mode_at_1280x720_cuts_nothing_and_its_charts_read_from_the_back(server, browser, path):
    page = opened(browser, f"{server}/{path}", (1280, 720))
    page.get_by_text("Presenter mode").click()
    settled(page)
    page.wait_for_timeout(800)
    if path != "classroom":
        page.get_by_role("button", name="Start").click()
        page.wait_for_selector(".js-plotly-plot .ytick text", timeout=20_000)
        page.wait_for_timeout(1_500)
        sizes = page.evaluate("""() => Array.from(document.querySelectorAll(
            '.js-plotly-plot .xtick text, .js-plotly-plot .ytick text, .js-plotly-plot .gtitle'))
            .map(e => parseFloat(getComputedStyle(e).fontSize))""")
        assert sizes and min(sizes) >= 20
    # What a control is set to is read from the back of the room too (it was 13 px).
    values = page.evaluate("""() => Array.from(document.querySelectorAll(
        '[data-testid=stMain] input, [data-testid=stMain] [data-baseweb=select] > div'))
        .filter(e => e.offsetParent !== null).map(e => parseFloat(getComputedStyle(e).fontSize))""")
    assert values and min(values) >= 18
    cut = []
    for y in range(0, 6000, 600):  # scroll through the whole page: every part must fit its box
        page.evaluate(f"document.querySelector('[data-testid=stMain]').scrollTo(0, {y})")
        page.wait_for_timeout(150)
        cut += truncated(page)
    assert cut == []
    page.get_by_test_id("stSidebar").hover()  # its collapse button shows on hover, as for a mouse
    page.get_by_role("button", name="Collapse sidebar").click()  # the sidebar gives way
    expect(page.get_by_test_id("stSidebar")).to_have_attribute("data-collapsed", "true")
    # The picture shows the page from its top once the sidebar has slid out (not half-way, mid-animation).
    page.wait_for_function("() => document.querySelector('[data-testid=stSidebar]').getBoundingClientRect().right <= 1",
                           timeout=20_000)
    page.evaluate("document.querySelector('[data-testid=stMain]').scrollTo(0, 0)")
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / f"presenter-{path}.png"))
    page.close()


def test_a_chart_drawn_once_is_read_from_the_back_in_presenter_mode_too(server, browser):
    """Capacity's, Compare's, Search's and the Lab's charts are drawn once, not by the live view: they pass
    show_figure, which sizes them for the room (their ticks were 12 px in presenter mode)."""
    page = opened(browser, f"{server}/capacity", (1280, 720))
    page.get_by_text("Presenter mode").click()
    settled(page)
    seconds = page.get_by_label("Simulated seconds per point")
    seconds.fill("10")
    seconds.press("Enter")
    settled(page)
    page.get_by_role("button", name="Sweep").click()
    expect(page.get_by_text("First to saturate")).to_be_visible(timeout=60_000)
    page.wait_for_selector(".js-plotly-plot .ytick text", timeout=20_000)  # Plotly draws once it has loaded
    sizes = page.evaluate("""() => Array.from(document.querySelectorAll(
        '.js-plotly-plot .xtick text, .js-plotly-plot .ytick text, .js-plotly-plot .g-ytitle text'))
        .map(e => parseFloat(getComputedStyle(e).fontSize))""")
    assert sizes and min(sizes) >= 20
    cut = []
    for y in range(0, 3000, 500):
        page.evaluate(f"document.querySelector('[data-testid=stMain]').scrollTo(0, {y})")
        page.wait_for_timeout(150)
        cut += truncated(page)
    assert cut == []
    page.screenshot(path=str(SHOTS / "presenter-capacity.png"))
    page.close()


def test_the_sandbox_form_applies_a_changed_knob_as_a_new_version(server, browser):
    page = opened(browser, f"{server}/sandbox", (1400, 1200))
    page.get_by_text("Edit every setting", exact=True).click()
    page.get_by_role("tab", name="Web tier").click()
    replicas = page.get_by_role("tabpanel").get_by_label("Replicas", exact=True)
    replicas.fill("6")
    replicas.press("Enter")
    settled(page)
    page.get_by_role("button", name="Apply", exact=True).first.click()
    expect(page.get_by_label("YAML", exact=True)).to_have_value(re.compile(r"\n  replicas: 6\n"))
    expect(page.locator(".gsl-legend-item", has_text="p95 before").first).to_be_visible(timeout=20_000)
    assert page.locator("[data-testid='stException']").count() == 0
    page.close()


def test_a_presenter_survives_a_dropped_connection_and_takes_the_room_back_after_a_reload(server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{server}/classroom")
    settled(page)
    page.get_by_label("Choose a PIN (6 to 12 digits)").fill("471147")
    page.get_by_role("button", name="Open a room").click()
    expect(page.get_by_text(re.compile(r"You present room"))).to_be_visible()
    expect(page.get_by_text("Scan to join")).to_be_visible()  # the QR code of the join link, with its caption
    assert page.locator("[data-testid=stImage] img").count() == 1
    page.get_by_role("link", name="Lessons").click()
    settled(page)
    page.get_by_role("button", name="Next step").click()
    page.wait_for_timeout(600)
    settled(page)
    page.get_by_role("button", name="Start").click()
    page.wait_for_timeout(1_500)
    code = re.search(r"present=([2-9A-Z]{6})", page.url)[1]
    learner = browser.new_page(viewport={"width": 1280, "height": 900})
    learner.goto(f"{server}/classroom?room={code}")
    expect(learner.get_by_text(re.compile(r"Step 2 of 3"))).to_be_visible(timeout=20_000)

    context.set_offline(True)  # the presenter's connection drops for a few seconds
    page.wait_for_timeout(3_000)
    context.set_offline(False)
    expect(page.get_by_text(re.compile("Presenting to room"))).to_be_visible(timeout=20_000)
    moment = view_time(page)
    # still playing, still presenting: the view moves on once the browser has reconnected (its back-off
    # grows while offline) and drawn the page again; a stopped run never moves and fails here
    assert moves_past(page, moment, within_s=45)

    page.reload()  # a new session: the control token is gone, the room is not
    settled(page)
    page.get_by_role("link", name="Take the room back").click()
    settled(page)
    page.get_by_label("PIN", exact=True).fill("471147")
    page.get_by_label("PIN", exact=True).press("Enter")  # the PIN box commits, then the button
    page.get_by_role("button", name="Take control and resume").click()
    expect(page.get_by_text(re.compile(r"You present room"))).to_be_visible(timeout=20_000)
    page.get_by_role("link", name="Lessons").click()
    settled(page)
    expect(page.get_by_text(re.compile("Step 2 of 3"))).to_be_visible()
    expect(page.get_by_text(re.compile("Presenting to room"))).to_be_visible(timeout=20_000)
    learner.wait_for_timeout(1_500)
    expect(learner.get_by_text(re.compile(r"Step 2 of 3"))).to_be_visible()  # learners were never reset
    assert view_time(learner) >= moment
    learner.close()
    context.close()


def test_a_live_change_is_in_the_share_link_the_download_and_a_save_and_compare_runs_it_against_an_upload(
        server, browser, tmp_path):
    """Issue 14: exports said replicas 4 after a live change to 6; Compare offered only presets."""
    import yaml

    from dashboard.view.scenario_source import decode_link
    from engine import derive, load_preset
    from engine.loading import scenario_to_data

    page = opened(browser, f"{server}/sandbox", (1280, 720))
    replicas = page.get_by_label("Web replicas", exact=True)
    replicas.fill("6")
    replicas.press("Enter")
    settled(page)
    page.get_by_text("Share link: the scenario itself").click()
    # The change is carried out in the live view's fragment, which then draws the whole page again: the
    # script may look idle between the two, so wait for the link itself (a stale one fails after 10 s).
    shared = page.locator("[data-testid='stCode']").first
    for _ in range(40):
        link = shared.inner_text()
        if decode_link(link.split("s=", 1)[1]).web.replicas == 6:
            break
        page.wait_for_timeout(250)
    assert link.startswith(server) and decode_link(link.split("s=", 1)[1]).web.replicas == 6
    settled(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download scenario").click()
    assert yaml.safe_load(open(download.value.path()).read())["web"]["replicas"] == 6
    page.get_by_text("Save for the team").click()
    page.get_by_role("button", name="Save", exact=True).click()
    saved = page.locator("[data-testid='stCode']", has_text="saved=").first
    expect(saved).to_be_visible(timeout=20_000)
    other = opened(browser, saved.inner_text().strip())  # a teammate opens the saved link
    other.get_by_text("Scenario as YAML").click()
    expect(other.get_by_label("YAML", exact=True)).to_have_value(re.compile(r"\n  replicas: 6\n"))
    other.close()

    two = derive(load_preset("horizontal_load_balancer"), {"web": {"replicas": 2}, "name": "Two replicas"}, "two")
    upload = tmp_path / "two.yaml"
    upload.write_text(yaml.safe_dump(scenario_to_data(two), sort_keys=False))
    page.get_by_role("link", name="Compare").click()  # the same session: the sandbox's run is there
    settled(page)
    page.locator("[data-testid='stSelectbox']", has_text="A comes from").click()
    page.get_by_role("option", name="The sandbox's scenario").click()
    settled(page)
    page.locator("[data-testid='stSelectbox']", has_text="B comes from").click()
    page.get_by_role("option", name="A file (YAML or JSON)").click()
    settled(page)
    page.locator("input[type=file]").set_input_files(str(upload))
    expect(page.get_by_text("two.yaml")).to_be_visible()
    settled(page)
    seconds = page.get_by_label("Simulated seconds")
    seconds.fill("120")
    seconds.press("Enter")
    settled(page)
    page.get_by_role("button", name="Compare", exact=True).click()
    verdict = page.get_by_text(re.compile("^Verdict:"))
    expect(verdict).to_be_visible(timeout=60_000)
    # Six replicas (A, the sandbox) against two (B, the file) at 5.5 req/s: two are too few, and cheaper.
    assert re.search(r"B is better on USD per month; worse on .*p95 latency", verdict.inner_text())
    expect(page.get_by_role("heading", name=re.compile("B: Two replicas"))).to_be_visible()
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(SHOTS / "compare-sandbox-against-upload.png"), full_page=True)
    page.close()


def test_a_team_replays_its_own_trace_and_a_bad_row_is_named(server, browser, tmp_path):
    """Issue 14, part 5: a CSV trace is checked row by row, described, replayed here and saved with the scenario."""
    bad = tmp_path / "bad.csv"
    bad.write_text("t_s,prompt_tokens,output_tokens\n0,120,40\n1.5,ten,40\n")
    good = tmp_path / "ours.csv"
    good.write_text("t_s,prompt_tokens,output_tokens\n"
                    + "".join(f"{second + 0.1 * i:.1f},{800 + 37 * i},{60 + i}\n" for second in range(0, 600, 10)
                              for i in range(8)))  # bursts of 8 requests every 10 s: 0.8 req/s
    page = opened(browser, f"{server}/sandbox", (1280, 720))
    page.get_by_text("Bring your own traffic").click()
    trace_input = page.locator("[data-testid='stFileUploader']", has_text="Trace (CSV)").locator("input[type=file]")
    trace_input.set_input_files(str(bad))
    error = page.locator("[data-testid='stAlertContainer']", has_text="bad.csv")
    expect(error).to_contain_text("row 2 (line 3), column prompt_tokens: 'ten' is not allowed: a whole number of tokens",
                                  timeout=20_000)
    trace_input.set_input_files(str(good))
    expect(page.get_by_text(re.compile(r"480 requests over 9 min 51 s"))).to_be_visible(timeout=20_000)
    expect(page.get_by_text(re.compile(r"bursty"))).to_be_visible()
    page.get_by_role("button", name="Replay it here").click()
    settled(page)
    # The replay's longer name ("..., on your traffic") fits its box, as every label and value must.
    expect(page.get_by_label("Name (shared and saved with it)")).to_have_value(re.compile(r"on your traffic$"))
    cut = []
    for y in range(0, 4000, 500):
        page.evaluate(f"document.querySelector('[data-testid=stMain]').scrollTo(0, {y})")
        cut += truncated(page)
    assert cut == []
    page.get_by_text("Scenario as YAML").click()
    box = page.get_by_label("YAML", exact=True)
    expect(box).to_have_value(re.compile(r"trace:\n    file: upload-[0-9a-f]{24}\.csv\n    speedup: 1\.0\n    loop: true"))
    settled(page)
    page.get_by_role("button", name="Start").click()
    assert moves_past(page, 60)  # the replay starts warm at 60 s and plays on
    page.get_by_text("Save for the team").click()
    page.get_by_role("button", name="Save", exact=True).click()
    saved = page.locator("[data-testid='stCode']", has_text="saved=").first
    expect(saved).to_be_visible(timeout=20_000)
    other = opened(browser, saved.inner_text().strip())
    assert other.locator("[data-testid='stAlertContainer']").count() == 0
    other.get_by_text("Bring your own traffic").click()
    with other.expect_download() as download:  # the teammate gets the trace itself, not only its name
        other.get_by_role("button", name=re.compile("Download the trace this scenario replays")).click()
    assert open(download.value.path()).read().count("\n") == 481
    other.get_by_text("Scenario as YAML").click()
    expect(other.get_by_label("YAML", exact=True)).to_have_value(re.compile(r"file: upload-[0-9a-f]{24}\.csv"))
    expect(other.get_by_label("YAML", exact=True)).to_have_value(re.compile(r"name: .*, on your traffic"))
    other.close()
    page.get_by_text("Bring your own traffic").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "sandbox-own-traffic.png"))
    assert page.locator("[data-testid='stException']").count() == 0
    page.close()


def test_markup_and_bare_addresses_from_a_link_are_drawn_as_text_with_no_link_or_image(server, browser):
    # A crafted share link's key "[sign in](https://attacker.example/login) ![x](https://attacker.example/p.png)" is
    # quoted in the error. Escaping kept Markdown's link and image out, but the browser still made the bare
    # address into a link.
    from tests.doors import CORPUS, share_link

    page = opened(browser, f"{server}/sandbox?s={share_link(CORPUS['markup in a key'])}", (1280, 720))
    alert = page.locator("[data-testid='stAlertContainer']", has_text="sign in").first
    expect(alert).to_be_visible(timeout=20_000)
    assert "https://attacker.example/login" in alert.inner_text().replace("\u2060", "")
    assert page.locator("[data-testid=stMain] a[href*='attacker'], [data-testid=stMain] img[src*='attacker']").count() == 0
    page.close()
