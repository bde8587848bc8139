"""Where a scenario comes from: a preset, a template, a lesson's step, the sandbox, a file, or a link.

A team compares what it has, not only what the app ships: the architecture it built in the
sandbox, a file a colleague sent, a link pasted into a chat, the state a lesson step opens in.
Every one of those comes in through the engine's one validated door (engine/loading.py): a file
or a link is read as text, checked and parsed; a lesson step and the sandbox's run become a
scenario through `running_scenario`, which derives it from their scenario and live settings.

`pick_scenario` is the widget (Compare draws one for A and one for B); the readers above it are
plain functions the sandbox shares: one reader of share links, one of saved links.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from urllib.parse import parse_qs, urlsplit

import streamlit as st

from dashboard.classroom.store import shown
from dashboard.view.text import as_text, upload_name
from engine import ScenarioError, list_presets, load_preset, parse_scenario
from engine.attachments import hold
from engine.controls import running_scenario
from engine.loading import MAX_SCENARIO_BYTES, list_templates, load_template, read_scenario_text, scenario_to_data

MAX_LINK_BYTES = 16_384  # a share link carries the scenario itself: keep URLs and decompression small
MAX_PASTED_LINK = MAX_LINK_BYTES + 2_000  # a whole address around the scenario
SOURCES = {"preset": "A preset", "template": "A template (a common GenAI application)", "lesson": "A lesson step",
           "sandbox": "The sandbox's scenario",
           "file": "A file (YAML or JSON)", "link": "A share or saved link"}


# --- readers ---------------------------------------------------------------------------------------------------

def encode_link(scenario) -> str:
    """Return the URL-safe text that carries `scenario` in a share link."""
    packed = zlib.compress(json.dumps(scenario_to_data(scenario), separators=(",", ":")).encode(), 9)
    return base64.urlsafe_b64encode(packed).decode().rstrip("=")


def decode_link(text: str):
    """Return the scenario a share link carries, or raise ValueError saying what is wrong with it."""
    if len(text) > MAX_LINK_BYTES:
        raise ValueError(f"share link: {len(text):,} characters is not allowed: at most {MAX_LINK_BYTES:,}")
    try:
        packed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        decompressor = zlib.decompressobj()
        raw = decompressor.decompress(packed, MAX_SCENARIO_BYTES + 1)
        if decompressor.unconsumed_tail:
            raise ValueError("too large once unpacked")
    except (binascii.Error, zlib.error, ValueError) as exc:
        raise ValueError(f"share link: cannot be read ({exc}); it may be cut short or altered") from None
    try:
        return parse_scenario(read_scenario_text(raw, "share link", json_only=True), "share link")
    except ScenarioError as exc:
        raise ValueError(str(exc)) from None


def parse_text(text: str | bytes, source: str):
    """Return the scenario in YAML or JSON `text` (typed, or an upload's bytes), or raise ScenarioError listing
    every problem."""
    return parse_scenario(read_scenario_text(text, source), source)


def load_saved(saved_id: str):
    """Return (scenario, results summary or None) saved under `saved_id` in the shared store.

    Raise ValueError saying why not (unknown or expired id, store down, not a valid scenario). The traces and
    similarity curves saved with it are read again through their doors and kept in this process, so it runs here."""
    from dashboard.classroom.shared import shared_store
    from dashboard.classroom.store import StoreRejected, StoreUnavailable

    try:
        found = shared_store().load_scenario(saved_id)
        hold(found["attachments"], f"saved scenario {saved_id}")  # its traces and curves, each through its door
        return parse_scenario(found["scenario"], f"saved scenario {saved_id}"), found.get("summary")
    except (StoreRejected, StoreUnavailable, ScenarioError) as exc:
        raise ValueError(str(exc)) from None


def scenario_from_link(text: str):
    """Return the scenario a pasted app link names: a share link (`?s=...`) or a saved one (`?saved=...`).

    The whole address or only its query will do. Raise ValueError naming what is wrong."""
    text = (text or "").strip()
    if len(text) > MAX_PASTED_LINK:
        raise ValueError(f"link: {len(text):,} characters is not allowed: at most {MAX_PASTED_LINK:,}")
    try:
        query = parse_qs(urlsplit(text).query if "?" in text else text.lstrip("?"), max_num_fields=8)
    except ValueError:
        raise ValueError("link: more than 8 parameters is not allowed: paste the link as the app wrote it") from None
    if query.get("saved"):
        return load_saved(query["saved"][0])[0]
    if query.get("s"):
        return decode_link(query["s"][0])
    raise ValueError(f"link: '{shown(text[:60])}' is not allowed: paste a share link (…/sandbox?s=…) "
                     "or a saved link (…/sandbox?saved=…)")


def lesson_steps() -> dict[str, str]:
    """Return {"lesson folder/step index/side": what a person reads} for every step of every lesson.

    A step with an experiment gives two: as it opens ("before") and after its experiment's change."""
    from curriculum.format import LESSONS_DIR, lesson_folders, load_lesson

    found = {}
    for number, folder in enumerate(lesson_folders(), start=1):
        try:
            lesson = load_lesson(LESSONS_DIR / folder)
        except ValueError:
            continue
        for index, step in enumerate(lesson.steps):
            where = f"Lesson {number} ({lesson.title}), step {index + 1}"
            if step.experiment is None:
                found[f"{folder}/{index}/open"] = where
            else:
                found[f"{folder}/{index}/open"] = f"{where}, before: as it opens"
                found[f"{folder}/{index}/after"] = f"{where}, after: {step.experiment.do}"
    return found


def lesson_step_scenario(choice: str):
    """Return the scenario of a lesson step as `lesson_steps` names it (its live settings made part of it)."""
    from curriculum.format import LESSONS_DIR, lesson_folders, load_lesson

    folder, index, side = choice.split("/")
    if folder not in lesson_folders():
        raise ValueError(f"lesson: '{shown(folder)}' is not one this app has")
    lesson = load_lesson(LESSONS_DIR / folder)
    index = int(index)
    step = lesson.steps[index]
    settings = lesson.opening_at(index)
    if side == "after" and step.experiment is not None:
        settings.update(step.experiment.claim.after)
    sim = lesson.playback(settings).now.sim
    title = f"{lesson.title}, step {index + 1}" + (" (after)" if side == "after" else "")
    return running_scenario(sim, name=title[:120])


def sandbox_scenario():
    """Return what runs in the sandbox now (its live changes part of it), or None if it was not opened."""
    from dashboard.pages.sandbox import KEY, exported

    player = st.session_state.get(KEY)
    if player is None or player.playback is None:
        return None
    return exported(player.playback.now.sim)


# --- the widget ---------------------------------------------------------------------------------------------------

@st.cache_data(show_spinner=False)
def _cached_lesson_steps() -> dict[str, str]:
    return lesson_steps()


def pick_scenario(side: str, default_preset: str):
    """Draw the choice of where scenario `side` comes from, and return it (None, with the reason shown, if none)."""
    key = f"pick_{side}"
    source = st.selectbox(f"{side} comes from", list(SOURCES), format_func=SOURCES.get, key=f"{key}_source")
    try:
        if source == "preset":
            presets = dict(list_presets())
            names = list(presets)
            name = st.selectbox(f"{side}: preset", names, index=names.index(default_preset), key=f"{key}_preset",
                                format_func=presets.get)
            return load_preset(name)
        if source == "template":
            templates = dict(list_templates())
            name = st.selectbox(f"{side}: template", list(templates), format_func=templates.get, key=f"{key}_template")
            return load_template(name)
        if source == "lesson":
            steps = _cached_lesson_steps()
            choice = st.selectbox(f"{side}: lesson step", list(steps), format_func=steps.get, key=f"{key}_lesson")
            st.caption("The step's architecture and traffic with its controls set as the step has them "
                       "(a component taken down is not part of it).")
            return lesson_step_scenario(choice)
        if source == "sandbox":
            scenario = sandbox_scenario()
            if scenario is None:
                st.info("Open the Sandbox first: what runs there, with every live change, is used here.")
            else:
                st.caption(f"What runs in the Sandbox now: {as_text(scenario.name)}")
            return scenario
        if source == "file":
            upload = st.file_uploader(f"{side}: scenario file", type=["yaml", "yml", "json"], key=f"{key}_file",
                                      max_upload_size=1)
            return None if upload is None else parse_text(upload.getvalue(), upload_name(upload))
        text = st.text_input(f"{side}: link", key=f"{key}_link", max_chars=MAX_PASTED_LINK,
                             placeholder="https://…/sandbox?saved=… or …/sandbox?s=…")
        return scenario_from_link(text) if text.strip() else None
    except (ScenarioError, ValueError) as exc:
        st.error(as_text(str(exc)))
        return None
