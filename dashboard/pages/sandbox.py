"""The sandbox: any scenario, edited knob by knob or as text, run live, saved, shared and exported.

Teams prototyping an architecture need every knob, not a lesson's few. The sandbox draws a widget
for every field of the scenario, grouped by component (dashboard/view/form.py builds them from the
schema), and shows the same scenario as YAML to edit or upload. A valid edit replaces the running
scenario and starts it again; an invalid one changes nothing and shows the engine's messages
(field, value, what is allowed; in the form, in words), each with a button that mends it where it
can (a cache turned on offers to turn on the prompt keys it needs: engine/fixes.py). The everyday
controls (rate, replicas, balancing, workers) act on the running simulation without a restart, as
in the lessons.
An edit applied from the form or the YAML goes on as a new version on the same traffic: the time
axis continues and the version before it keeps running faded, so a team sees what the edit did.
The scenario can be downloaded, shared as a link (the scenario itself, compressed, in the URL: no
server-side state), and the run's metric windows exported as CSV.

Nothing a user sends is evaluated or unpickled: YAML is read safely and without aliases, links are base64 of
zlib-compressed JSON, size-limited, and everything goes through the scenario's validation.
"""

from __future__ import annotations

import csv
import io

import streamlit as st
import yaml

from curriculum.challenges import score, shown as shown_figure, start_scenario
from curriculum.playback import Playback
from dashboard.classroom.shared import client_id, shared_store
from dashboard.classroom.store import StoreRejected, StoreUnavailable
from dashboard.view.controls import draw_controls
from dashboard.view.form import edit_scenario
from dashboard.view.player import Player
from dashboard.view.links import app_link, qr_png
from dashboard.view.scenario_source import decode_link, encode_link, load_saved, parse_text
from dashboard.view.text import as_text, upload_name
from dashboard.view.trace_view import show_trace
from engine import ScenarioError, derive, load_preset, parse_scenario
from engine.attachments import attached
from engine.controls import CONTROLS, running_scenario
from engine.fixes import fixes
from engine.labels import format_metric, problem_in_words
from engine.loading import list_templates, load_template, patch_data, scenario_to_data, template_readme
from engine.scenario import Scenario
from engine.traces import MAX_TRACE_BYTES, describe, keep, read_trace_csv, uploads_named_by

DEFAULT_PRESET = "horizontal_load_balancer"
KEY, ERROR, TEXT = "sandbox", "sandbox_error", "sandbox_text"
FORM, SAVED, NEXT = "sandbox_form", "sandbox_saved", "sandbox_next"  # the form's generation; the last save; what to start
FORM_DATA, FIXED = "sandbox_form_data", "sandbox_fixed"  # what the form starts from after a fix, and which fix
NAME, DESCRIPTION = "sandbox_name", "sandbox_description"  # what the shared and saved scenario is called
WRITTEN = "sandbox_written"  # the YAML last written into the box: while the box still holds it, it follows the run
CHALLENGE, SCORE = "sandbox_challenge", "sandbox_challenge_score_card"
TRACE = "sandbox_trace_read"  # the uploaded trace read last: its file id and name, its shape or what is wrong
WARM_UP_S = 60.0  # the sandbox opens a minute into its run, past the start-up of an empty system


def windows_csv(windows) -> str:
    """Return the metric windows as CSV, one row per window (per-instance figures left out)."""
    rows = [{k: v for k, v in w.items() if not isinstance(v, dict)} for w in windows]
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _build() -> Playback:
    """Return a fresh playback of the scenario to start (the one a link named, an upload, or the running one)."""
    scenario = st.session_state[NEXT]
    return Playback(scenario, scenario.name)


def _shown_scenario(scenario) -> None:
    """Point the YAML box, the form, the name and the share link at `scenario`."""
    st.session_state[FORM] = st.session_state.get(FORM, 0) + 1  # the form's widgets start from this scenario
    st.session_state.pop(FORM_DATA, None)
    st.session_state[TEXT] = st.session_state[WRITTEN] = yaml.safe_dump(scenario_to_data(scenario), sort_keys=False)
    st.session_state[NAME], st.session_state[DESCRIPTION] = scenario.name, scenario.description
    st.query_params["s"] = encode_link(scenario)


def exported(sim):
    """Return what runs now, with the name and description typed in: what the link, the box, a download and a
    save carry (engine/controls.py, running_scenario). A name the format refuses is said, and left out."""
    try:
        return running_scenario(sim, name=st.session_state.get(NAME) or None,
                                description=st.session_state.get(DESCRIPTION, sim.scenario.description))
    except ScenarioError as exc:
        st.session_state[ERROR] = f"Name or description: {exc}"
        return running_scenario(sim)


def _follow_the_run(scenario) -> None:
    """Keep the share link, and the YAML box unless it holds edits not yet applied, at the scenario that runs."""
    text = yaml.safe_dump(scenario_to_data(scenario), sort_keys=False)
    if st.session_state.get(TEXT) == st.session_state.get(WRITTEN) and text != st.session_state.get(WRITTEN):
        st.session_state[TEXT] = st.session_state[WRITTEN] = text
    link = encode_link(scenario)
    if st.query_params.get("s") != link:
        st.query_params["s"] = link


def _start(scenario) -> None:
    """Replace the running simulation with a fresh, paused one of `scenario` (warmed up when drawn)."""
    st.session_state[NEXT] = scenario
    if KEY in st.session_state:
        st.session_state[KEY].request("reset")
    else:
        st.session_state[KEY] = Player(KEY, _build, warm_up_s=WARM_UP_S)
    _shown_scenario(scenario)


def _switch(scenario) -> None:
    """Go on as the edited scenario on the same traffic; the version before goes on faded."""
    st.session_state[NEXT] = scenario
    st.session_state[KEY].request("switch", scenario, scenario.name)
    _shown_scenario(scenario)


def _apply_text() -> None:
    """Run the edited text if it is a valid scenario; otherwise keep the running one and say why."""
    try:
        _switch(parse_text(st.session_state[TEXT], "edited scenario"))
    except ScenarioError as exc:
        st.session_state[ERROR] = str(exc)


def _first_scenario():
    """Return the scenario a saved id or a share link names, else the default preset (saying why if the link was bad)."""
    saved = st.query_params.get("saved")
    if saved:
        try:
            scenario, summary = load_saved(saved)
            st.session_state[SAVED] = (saved, summary)
            return scenario
        except ValueError as exc:
            st.session_state[ERROR] = f"{exc}\nShowing the default scenario instead."
            return load_preset(DEFAULT_PRESET)
    link = st.query_params.get("s")
    if link:
        try:
            return decode_link(link)
        except ValueError as exc:
            st.session_state[ERROR] = f"{exc}\nShowing the default scenario instead."
    return load_preset(DEFAULT_PRESET)


def _save() -> None:
    """Save the running scenario (with its results so far, if asked) in the shared store, under a short id."""
    sim = st.session_state[KEY].playback.now.sim
    summary = None
    if st.session_state.get("sandbox_save_results") and sim.windows:
        summary = {k: v for k, v in sim.summary().items() if not isinstance(v, dict)}
    running = exported(sim)
    try:
        saved = shared_store().save_scenario(scenario_to_data(running), summary, client=client_id(),
                                             attachments=attached(running))
    except (StoreRejected, StoreUnavailable, ScenarioError) as exc:
        st.session_state[ERROR] = f"Not saved: {exc}"
        return
    st.session_state[SAVED] = (saved, summary)
    st.query_params["saved"] = saved


def _restart_form(data: dict | None, fixed: str | None = None) -> None:
    """Draw the form afresh from `data` (the edits with the fix called `fixed`), or from the running scenario."""
    st.session_state[FORM] += 1
    if data is None:
        st.session_state.pop(FORM_DATA, None)
    else:
        st.session_state[FORM_DATA], st.session_state[FIXED] = data, fixed


def _form(scenario) -> None:
    """Draw every knob of the scenario; offer to apply the edits when they make a valid, different scenario.

    Edits that break a rule between fields say so in words, with a button for each fix: the form
    is drawn again from the fixed edits, still to be applied.
    """
    st.caption("Every setting of the scenario, grouped by component; the rarer ones are under More settings. "
               "Hover a setting's name for its unit, range and source. Applying plays the edited version on the "
               "same traffic from where the run is; the version before goes on faded.")
    start = st.session_state.get(FORM_DATA) or scenario_to_data(scenario)
    data = edit_scenario(Scenario, start, f"sbx{st.session_state[FORM]}")
    if st.session_state.get(FIXED):
        st.success(as_text(f"Done: {st.session_state.pop(FIXED)}. Apply to run it."), icon=":material/build:")
    try:
        edited = parse_scenario(data, "sandbox form")
    except ScenarioError as exc:
        edited = None
        st.error(as_text("Not yet a scenario that can run:") + "\n\n" +
                 "\n\n".join(as_text(problem_in_words(Scenario, problem)) for problem in exc.problems))
        for index, fix in enumerate(fixes(data, exc.problems)):
            st.button(fix.label, key=f"sandbox_fix_{index}", icon=":material/build:",
                      on_click=_restart_form, args=(patch_data(data, fix.changes), fix.label))
    changed = edited is not None and edited != scenario
    apply, discard = st.columns(2)
    apply.button("Apply", key="sandbox_form_apply", type="primary", disabled=not changed,
                 on_click=_switch, args=(edited,), width="stretch")
    discard.button("Discard edits", key="sandbox_form_discard", disabled=edited == scenario,
                   on_click=_restart_form, args=(None,), width="stretch")


def _read_trace(upload) -> None:
    """Read an uploaded trace through the trace door once per file; keep it in this process, or say what is wrong."""
    try:
        trace = read_trace_csv(upload.getvalue(), upload_name(upload))
        st.session_state[TRACE] = {"file": upload.file_id, "name": keep(trace), "shape": describe(trace)}
    except ScenarioError as exc:
        st.session_state[TRACE] = {"file": upload.file_id, "error": str(exc)}


def _replay_trace(running) -> None:
    """Start the running architecture afresh on the uploaded trace (a new traffic: no before and after)."""
    read = st.session_state[TRACE]
    changes = {"traffic": {"trace": {"file": read["name"], "speedup": st.session_state["sandbox_trace_speedup"],
                                     "loop": st.session_state["sandbox_trace_loop"]},
                           "rate_rps": None, "users": None, "closed_loop": None, "conversation": None,
                           "heavy_users": None, "pattern": {"kind": "steady"}},
               "name": f"{running.name[:100]}, on your traffic"}
    try:
        _start(derive(running, changes, "your trace"))
    except ScenarioError as exc:
        st.session_state[ERROR] = f"This architecture cannot replay the trace: {exc}"


def _own_traffic(running) -> None:
    """Offer to replay a team's own traffic: upload a CSV trace, see what it is like, run it here."""
    with st.expander("Bring your own traffic: replay a CSV trace through this architecture"):
        st.caption("The first line names the columns: `TIMESTAMP, ContextTokens, GeneratedTokens` (the Azure LLM "
                   "inference trace's format) or `t_s, prompt_tokens, output_tokens` (seconds, then tokens). One "
                   "request a row, in time order; at most 5 MB and 100,000 rows. The trace stays in this app's "
                   "memory for a while, and for 30 days with a saved scenario; a share link does not carry it.")
        try:
            replayed = uploads_named_by(running)
        except ScenarioError:
            replayed = {}
        for name, trace in replayed.items():  # a teammate who opened a saved link gets the trace too
            # The text is written once per trace (Trace.to_csv is cached). Streamlit's deferred download (a
            # callable) was cancelled in chromium, so the page carries the CSV while it replays an upload.
            st.download_button(f"Download the trace this scenario replays ({name})", trace.to_csv(), file_name=name,
                               key=f"sandbox_trace_download_{name}")
        upload = st.file_uploader("Trace (CSV)", type=["csv"], key="sandbox_trace",
                                  max_upload_size=MAX_TRACE_BYTES // 1_000_000)
        if upload is None:
            return
        if st.session_state.get(TRACE, {}).get("file") != upload.file_id:
            _read_trace(upload)
        read = st.session_state[TRACE]
        if "error" in read:
            st.error(as_text(read["error"]))
            return
        show_trace(read["shape"])
        speedup, loop, go = st.columns([1, 1, 1], vertical_alignment="bottom")
        speedup.number_input("Speed-up (x)", min_value=0.01, max_value=10_000.0, value=1.0, key="sandbox_trace_speedup",
                             help="2 = the trace's traffic at twice its rate: how the same users would load it "
                                  "when twice as many come.")
        loop.checkbox("Start again at its end", value=True, key="sandbox_trace_loop")
        go.button("Replay it here", key="sandbox_trace_replay", type="primary", on_click=_replay_trace,
                  args=(running,), width="stretch")


def _templates() -> None:
    """Offer the templates: common GenAI applications, each with its traffic and a README, to fork here."""
    with st.expander("Templates: start from a common GenAI application"):
        templates = dict(list_templates())
        name = st.selectbox("Template", list(templates), format_func=templates.get, key="sandbox_template")
        readme = template_readme(name)  # the project's own text, from templates/
        st.markdown(readme.split("\n", 1)[1] if readme.startswith("# ") else readme)  # its title is the choice
        st.button("Fork it here", key="sandbox_template_fork", type="primary",
                  on_click=lambda: _start(load_template(name)))


def _challenge_lessons() -> dict[str, str]:
    """Return {lesson folder: its title} for every lesson that ends with a challenge."""
    from dashboard.pages.lessons import lesson_named, lesson_titles

    found = {}
    for slug, title in lesson_titles().items():
        try:
            if lesson_named(slug).challenge is not None:
                found[slug] = title
        except ValueError:
            continue
    return found


def _scorecard(card) -> None:
    """Show a challenge's scorecard: each target, the worst seed's figure, met or not."""
    rows = "\n".join(f"| {':material/check_circle:' if row.met else ':material/cancel:'} {row.describe()} "
                     f"| {shown_figure(row.target.metric, row.worst)} |" for row in card.rows)
    st.markdown("| target | worst seed |\n|---|---|\n" + rows)
    met = sum(row.met for row in card.rows)
    if card.passed:
        st.success(f"Challenge met: all {met} targets on every seed.", icon=":material/emoji_events:")
    else:
        st.warning(f"Not yet: {met} of {len(card.rows)} targets met on every seed.")


def _challenge_panel(sandbox: Player) -> None:
    """Offer the lessons' challenges: start from a lesson's architecture, build an answer here, score it."""
    from dashboard.pages.lessons import lesson_named

    lessons = _challenge_lessons()
    if not lessons:
        return
    wanted = st.query_params.get("challenge")
    if wanted in lessons and st.session_state.get("sandbox_challenge_link") != wanted:
        st.session_state["sandbox_challenge_link"] = wanted  # a link from a lesson opens its challenge, once
        st.session_state[CHALLENGE] = wanted
    with st.expander("Challenges: build an architecture that meets a goal", expanded=wanted in lessons):
        slug = st.selectbox("Challenge", list(lessons), format_func=lessons.get, key=CHALLENGE)
        lesson = lesson_named(slug)
        challenge = lesson.challenge
        st.markdown(f"**Goal:** {challenge.goal}")
        st.caption(f"Scored on the challenge's own traffic, {challenge.seeds} seeds, {challenge.measure_s:g} s measured "
                   f"after {challenge.warmup_s:g} s of warm-up; every target must hold on every seed. "
                   f"Hint: {challenge.hint}")
        begin, judge = st.columns(2)
        begin.button("Start from the lesson's architecture", key="sandbox_challenge_start", width="stretch",
                     on_click=lambda: _start(start_scenario(lesson)))
        if judge.button("Score the architecture running here", key="sandbox_challenge_score", type="primary",
                        width="stretch"):
            playback = sandbox.playback
            with st.spinner("Scoring on fixed seeds…"):
                try:
                    st.session_state[SCORE] = (slug, score(lesson, playback.now.scenario, playback.settings()))
                except (ScenarioError, ValueError) as exc:
                    st.session_state[SCORE] = (slug, None)
                    st.error(as_text(f"This architecture cannot take the challenge's traffic: {exc}"))
        scored = st.session_state.get(SCORE)
        if scored is not None and scored[0] == slug and scored[1] is not None:
            _scorecard(scored[1])


def render_sandbox() -> None:
    """Render the sandbox."""
    st.title("Sandbox")
    if KEY not in st.session_state:
        _start(_first_scenario())
    upload = st.file_uploader("Open a scenario (YAML or JSON)", type=["yaml", "yml", "json"], key="sandbox_upload",
                              max_upload_size=1)
    if upload is not None and st.session_state.get("sandbox_loaded") != upload.file_id:
        st.session_state["sandbox_loaded"] = upload.file_id
        try:
            _start(parse_text(upload.getvalue(), upload_name(upload)))
        except ScenarioError as exc:
            st.session_state[ERROR] = str(exc)
    notes = st.container()  # always drawn: messages come and go inside it, the live view stays put
    if ERROR in st.session_state:
        notes.error(as_text(st.session_state.pop(ERROR)))
    sandbox: Player = st.session_state[KEY]
    sandbox.settle(notes)
    sandbox.show_errors(notes)
    if sandbox.playback is None:
        return
    sim = sandbox.playback.now.sim
    _templates()
    _challenge_panel(sandbox)
    # Drawn only when asked for: a hundred widgets make every update of the page heavier for the browser.
    if st.toggle("Edit every setting", key="sandbox_show_form"):
        with st.container(border=True):
            _form(sim.scenario)
    running = exported(sim)
    _follow_the_run(running)
    _own_traffic(running)
    with st.expander("Scenario as YAML (edit and apply)", expanded=False):
        st.caption("It follows the run (every live change) until you edit it; Apply plays your edits.")
        st.text_area("YAML", key=TEXT, height=400)
        st.button("Apply", key="sandbox_apply", on_click=_apply_text)
    # Full width: a trace replay's name ("…, on your traffic") was cut in a third of the page.
    st.text_input("Name (shared and saved with it)", key=NAME, max_chars=120)
    st.text_area("Description", key=DESCRIPTION, max_chars=4000, height=68)  # wraps: nothing cut
    save, export = st.columns(2)
    save.download_button("Download scenario", yaml.safe_dump(scenario_to_data(running), sort_keys=False),
                         file_name="scenario.yaml", key="sandbox_download", width="stretch")
    export.download_button("Download results (CSV)", windows_csv(sim.windows), file_name="windows.csv",
                           key="sandbox_csv", width="stretch")
    with st.expander("Share link: the scenario itself, in the address (copy it with the icon at its corner)"):
        st.code(app_link("sandbox", s=st.query_params.get("s", "")), language=None, wrap_lines=True)
    with st.expander("Save for the team (a short link, kept 30 days)"):
        st.checkbox("Include the results so far", key="sandbox_save_results")
        st.button("Save", key="sandbox_save", on_click=_save)
        if SAVED in st.session_state:
            saved, summary = st.session_state[SAVED]
            link = app_link("sandbox", saved=saved)
            text, qr = st.columns([3, 1])
            text.code(link, language=None, wrap_lines=True)
            qr.image(qr_png(link), caption="Scan to open", width=140, output_format="PNG")
            if summary:
                st.caption(f"Saved results: p95 {format_metric('latency_p95_s', summary.get('latency_p95_s'))}, "
                           f"error rate {format_metric('error_rate', summary.get('error_rate'))}, "
                           f"{summary.get('t_end_s', 0):,.0f} s simulated.")
    sandbox.draw_buttons()
    sandbox.draw_view(presenter=bool(st.session_state.get("presenter")),
                      controls=lambda: draw_controls(sandbox, list(CONTROLS)),
                      page_follows_changes=True)  # the share link, the YAML box and the downloads follow


if __name__ == "__main__":  # Streamlit runs this file as the page
    render_sandbox()
