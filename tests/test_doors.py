"""Every door refuses cleanly: crafted files, links, saved values and room entries get a message, never a
traceback, a hang or a memory blow-up (issue 13). The doors and the corpus of reproducers are tests/doors.py."""

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time

import fakeredis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from dashboard.classroom.store import Follower, Store, StoreRejected
from engine import ScenarioError, load_preset, scenario_to_data
from engine.curves import MAX_CURVE_BYTES
from engine.loading import MAX_SCENARIO_BYTES
from engine.paths import PRESETS_DIR
from engine.traces import MAX_TRACE_BYTES
from lab.cache_eval import MAX_FILE_BYTES
from lab.calibrate import MAX_CSV_BYTES
from tests.doors import (CORPUS, CURVE, DOORS, MAX_MB, MAX_SECONDS, PAIRS, PARAPHRASES, SPEC, TRACE, mutations,
                         share_link, try_door)
from tests.helpers import scenario

PRESET = (PRESETS_DIR / "horizontal_load_balancer.yaml").read_bytes()
PRESET_JSON = json.dumps(scenario_to_data(load_preset("horizontal_load_balancer")), indent=1).encode()  # as a link holds it
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("door", sorted(DOORS))
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_every_reproducer_is_refused_cleanly_at_every_door(door, name):
    outcome = try_door(door, CORPUS[name])
    assert not outcome.valid and outcome.refused
    assert outcome.seconds < MAX_SECONDS and outcome.peak_mb < MAX_MB
    assert "Traceback" not in outcome.refused


@pytest.mark.parametrize("name, says", [
    ("deep flow nesting", "brackets nested 500 deep are not allowed: at most 24"),
    ("deep block nesting", "indented 399 spaces is not allowed: at most 100"),
    ("a lone 0xff byte", "line 1, byte 0 (0xff) is not allowed: a scenario is UTF-8 text (save it as UTF-8)"),
    ("UTF-16 with a byte-order mark", "UTF-16 text is not allowed: a scenario is UTF-8 text (save it as UTF-8)"),
    ("Latin-1", "line 1, byte 9 (0xe9) is not allowed"),
    ("a 5,000-digit rate", "a number of 5,000 digits is not allowed: at most 40"),
    ("a tiny lognormal median", "web.handler_ms.p50_ms: 5e-324 is not allowed"),
    ("a 6 MB file", "6,000,016 bytes is not allowed: at most 200,000"),
    ("an autoscaler every 1e-300 s", "web.autoscale.evaluate_every_s: 1e-300 is not allowed"),
    ("50 deployments of 10,000 replicas", "500,000 replicas in all is not allowed: at most 10,000"),
    ("yes as a replica count", "web.replicas: 'yes' is not allowed: input should be a valid integer"),
    ("no as a seed", "seed: 'no' is not allowed: input should be a valid integer"),
    ("true as a rate", "traffic.rate_rps: True is not allowed: input should be a valid number"),
    ("a rate in quotes", "traffic.rate_rps: '5' is not allowed: input should be a valid number"),
    ("a sexagesimal timeout", "traffic.client_timeout_s: '1:30' is not allowed"),
    ("traffic written twice", "'traffic' is written twice (a key may appear once)"),
    ("a seed past 2^53", "seed: 9007199254740993 is not allowed"),
    ("an escape sequence in the name", "name: control character U+001B at position 1 is not allowed"),
    ("a raw escape in the name", "control character U+001B at line 1, column 7 is not allowed"),
    ("a right-to-left override in the name", "control character U+202E at line 1, column 7 is not allowed"),
    ("an alias bomb", "aliases (*name) are not allowed in a scenario"),
    ("a thousand failures of nothing, among 11,000 replicas",
     "failures.0.component: 'x' is not allowed: choose one of web-0 to web-999, d00xxxxxxxxxxxxxxxxxxxxxxxxxxxx-0 to "
     "d00xxxxxxxxxxxxxxxxxxxxxxxxxxxx-199, d01"),
    ("a Python object tag", "the tag '!!python/object/apply:os.system' is not allowed in a scenario"),
    ("a timestamp tag on nothing",
     "the tag '!!timestamp' is not allowed in a scenario: write the value alone, its kind comes from the field"),
    ("a sexagesimal float by its tag", "the tag '!!float' is not allowed"),
])
def test_a_refusal_names_the_field_or_the_place_the_value_and_what_is_allowed(name, says):
    assert says in try_door("text", CORPUS[name]).refused


def test_a_thousand_problems_are_the_first_twenty_and_a_count_and_a_thousand_replicas_one_range():
    with pytest.raises(ScenarioError) as info:
        DOORS["text"](CORPUS["a thousand failures of nothing, among 11,000 replicas"])
    refused = str(info.value)
    assert refused.startswith("input: 1,000 problem(s)\n") and refused.endswith("  - and 980 more problems")
    assert refused.count("\n  - ") == 21
    assert "choose one of web-0 to web-999, " in refused and " and 39 more\n" in refused  # 51 runs of names, 12 shown
    assert len(refused) < 25_000  # it was 373 MB


# For each door: a good input (with a line 2), whether it reads natural language, and its size limit in bytes.
GOOD = {"text": (PRESET, False, MAX_SCENARIO_BYTES), "link": (PRESET_JSON, False, MAX_SCENARIO_BYTES),
        "spec": (SPEC, False, MAX_SCENARIO_BYTES), "trace": (TRACE, False, MAX_TRACE_BYTES),
        "curve": (CURVE, False, MAX_CURVE_BYTES), "pairs": (PAIRS, True, MAX_CSV_BYTES),
        "paraphrases": (PARAPHRASES, True, MAX_FILE_BYTES)}


@pytest.mark.parametrize("door", sorted(DOORS))
def test_every_door_checks_size_encoding_and_characters_alike_before_it_reads_a_word(door):
    good, natural, limit = GOOD[door]
    what = "a pairs file" if natural else f"a {door}" if door in ("trace", "curve") else "a scenario"
    second = good.index(b"\n") + 1  # where line 2 starts
    assert try_door(door, good).valid
    assert try_door(door, good[:second] + b"\x1b[31m" + good[second:]).refused.endswith(
        "control character U+001B at line 2, column 1 is not allowed: only tabs and line breaks")
    assert try_door(door, good[:second + 2] + b"\xff" + good[second + 2:]).refused.endswith(
        f"line 2, byte {second + 2:,} (0xff) is not allowed: {what} is UTF-8 text (save it as UTF-8)")
    assert try_door(door, good.decode().encode("utf-16")).refused.endswith(
        f"UTF-16 text is not allowed: {what} is UTF-8 text (save it as UTF-8)")
    big = good + b" " * (limit + 1 - len(good))
    refused = try_door(door, big).refused
    assert refused.endswith(f"{limit + 1:,} bytes is not allowed: at most {limit:,}")
    # A right-to-left mark is part of a question in Arabic or Hebrew (one of the Quora pairs has one); in a
    # scenario, a spec, a trace or a curve it is a way to make text read other than it is.
    at = second + 2 if door != "paraphrases" else good.index(b'"origin": "', second) + 11  # inside a question
    outcome = try_door(door, good[:at] + "\u200f".encode() + good[at:])
    if natural:
        assert outcome.valid
    else:
        assert outcome.refused.endswith("control character U+200F at line 2, column 3 is not allowed: "
                                        "only tabs and line breaks")


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1))
def test_a_thousand_damaged_scenarios_are_each_valid_or_refused_cleanly_at_the_text_door(seed):
    raw = next(mutations(seed, 1))
    outcome = try_door("text", raw)
    assert outcome.seconds < MAX_SECONDS and outcome.peak_mb < MAX_MB


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1))
def test_a_thousand_damaged_share_links_are_each_valid_or_refused_cleanly(seed):
    raw = next(mutations(seed, 1, as_json=True))
    outcome = try_door("link", raw)
    assert outcome.seconds < MAX_SECONDS and outcome.peak_mb < MAX_MB


JSON = st.recursive(st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=20),
                    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children,
                                                                                      max_size=4), max_leaves=40)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["traffic", "web", "llm", "cache", "seed", "name", "database", "x"]), JSON,
                       max_size=5))
def test_any_json_a_link_can_carry_is_valid_or_refused_cleanly(data):
    outcome = try_door("link", json.dumps(data).encode())
    assert outcome.seconds < MAX_SECONDS and outcome.peak_mb < MAX_MB


def _cli(*args, timeout=20):
    """Run the engine's CLI in a fresh process; return (exit status, stderr)."""
    done = subprocess.run([sys.executable, "-m", "engine", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)
    return done.returncode, done.stderr


@pytest.mark.parametrize("path, says", [
    ("/dev/zero", "not a regular file"),
    (".", "not a regular file"),
    ("no-such-file.yaml", "(file): cannot be read: No such file or directory"),
])
def test_the_cli_refuses_what_is_not_a_scenario_file_at_once(path, says):
    started = time.perf_counter()
    status, err = _cli("validate", path)
    assert status == 2 and says in err and "Traceback" not in err
    assert time.perf_counter() - started < MAX_SECONDS + 5  # (a fresh interpreter starts first)


def test_the_cli_does_not_wait_on_a_pipe(tmp_path):
    fifo = tmp_path / "scenario.yaml"
    os.mkfifo(fifo)
    status, err = _cli("validate", str(fifo))  # opening a pipe with no writer would block forever
    assert status == 2 and "not a regular file" in err


@pytest.mark.parametrize("command", ["validate", "search"])
def test_the_cli_names_a_files_true_size_when_it_is_too_large(tmp_path, command):
    path = tmp_path / "large.yaml"
    path.write_bytes(b"#" * 300_000)  # read no further than 200,001 bytes: it once said "300,000" of any larger file
    status, err = _cli(command, str(path))
    assert status == 2 and "(file): 300,000 bytes is not allowed: at most 200,000" in err


@pytest.mark.parametrize("name", ["a 5,000-digit rate", "deep flow nesting", "a Python object tag", "a lone 0xff byte"])
def test_the_cli_exits_2_with_a_message_for_a_crafted_file(tmp_path, name):
    path = tmp_path / "crafted.yaml"
    path.write_bytes(CORPUS[name])
    status, err = _cli("validate", str(path))
    assert status == 2 and err.startswith("error: ") and "Traceback" not in err


def test_the_cli_seed_is_checked_against_the_formats_own_limit():
    status, err = _cli("run", "mmc_queue", "--seed", str(2**53 + 1), "--duration", "1")
    assert status == 2 and "--seed: '9007199254740993' is not allowed: must be between 0 and 9,007,199,254,740,991" in err
    status, err = _cli("run", "mmc_queue", "--seed", "9" * 5000, "--duration", "1")
    assert status == 2 and "expected an integer" in err and len(err) < 1000


def test_markup_in_a_share_link_is_shown_as_text_not_rendered():
    at = AppTest.from_file(os.path.join(ROOT, "app.py"), default_timeout=30)
    at.query_params["s"] = share_link(CORPUS["markup in a key"])
    at.run()
    at.switch_page("dashboard/pages/sandbox.py").run()
    shown = [e.value for e in at.error]
    assert any("sign in" in text for text in shown), shown
    for text in shown:  # every Markdown character escaped: Streamlit draws a link or an image from none of it
        assert "[sign in](" not in text and "![x](" not in text and "\\[sign in\\]" in text


def test_a_deeply_nested_entry_in_a_room_stream_is_skipped_and_the_learner_goes_on():
    secret = b"test secret"
    store = Store(fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True), secret, "embedded")
    code, token, _ = store.open_room("471147")
    store.publish(code, token, {"run": "r1", "now": 1.0}, [{"t_end_s": 1.0, "now": {"1": [1]}}])
    follower = Follower(store, code)
    follower.poll()
    scope = store.read_room(code, "0")[0]
    payload = '{"body":' + "[" * 5000 + "]" * 5000 + f',"kind":"window","scope":{json.dumps(scope)},"seq":1,"v":1}}'
    signed = json.dumps({"payload": payload, "mac": hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()})
    store.redis.xadd(store._room_key(code, "windows"), {"m": signed})
    store.publish(code, token, {"run": "r1", "now": 2.0}, [{"t_end_s": 2.0, "now": {"1": [2]}}])
    follower.poll()
    assert any("malformed" in reason for reason in follower.refused)
    assert [w["t_end_s"] for w in follower.windows] == [1.0, 2.0]  # the entries around it are read
    with pytest.raises(StoreRejected, match="malformed"):
        store.open_value(signed, "window", scope)


def test_a_saved_scenario_nested_too_deep_is_refused_when_it_is_read():
    deep = scenario_to_data(load_preset("genai_stack"))
    node = deep["traffic"]
    for _ in range(30):
        node["x"] = {}
        node = node["x"]
    with pytest.raises(ScenarioError, match="nested more than 24 deep are not allowed: at most 24"):
        scenario(deep)


def test_control_characters_and_bidirectional_overrides_are_refused_in_text_fields_from_json():
    with pytest.raises(ScenarioError, match="description: control character U\\+2066"):
        scenario(description="normal \u2066hidden\u2069")


def test_a_queue_that_grows_without_bound_stops_the_run_with_exit_3_not_the_machines_memory(tmp_path):
    """About 300 bytes a waiting request: the CLI's 20-million-request budget once allowed about 5.5 GB."""
    path = tmp_path / "flood.yaml"
    path.write_text("traffic: {rate_rps: 200000, client_timeout_s: null}\n"
                    "web: {workers: 1, cores: 1, accept_queue: null, db_reads_per_request: 0, db_writes_per_request: 0}\n")
    status, err = _cli("run", str(path), "--duration", "60", timeout=60)
    assert status == 3 and "more than its budget of 500,000 (max_in_system)" in err


def test_a_run_stops_at_its_wall_budget_even_when_its_events_never_move_time_on():
    """The wall clock was checked only at arrivals and window closes; events at one instant now count too."""
    from engine import Budget, BudgetExceeded, Simulation
    from engine.clock import after

    sim = Simulation(scenario(traffic={"rate_rps": 1}), Budget(max_wall_s=0.2))

    calls = [0]

    def again(_):
        calls[0] += 1
        assert calls[0] < 20_000_000, "no watchdog stopped the run"  # (fails in seconds rather than hanging)
        after(sim.env, 0.0, again)  # a timer that keeps rescheduling itself at the same instant

    after(sim.env, 0.5, again)
    started = time.perf_counter()
    with pytest.raises(BudgetExceeded, match="wall-clock budget of 0.2 s"):
        sim.advance(10)
    assert time.perf_counter() - started < 2


def _signed(secret: bytes, kind: str, scope: str, body, seq: int = 1) -> str:
    """Sign `body` as the app does, so the fuzz reaches past the signature check to what reads the body."""
    payload = json.dumps({"v": 1, "kind": kind, "scope": scope, "seq": seq, "body": body})
    return json.dumps({"payload": payload, "mac": hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()})


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(JSON, JSON)
def test_any_signed_room_state_or_entry_is_drawn_or_skipped_never_a_crash(state, entry):
    """Someone holding the secret, or a future bug, writes any JSON into a room: the learner's page goes on."""
    from dashboard.pages.classroom import room_frame

    secret = b"fuzz secret"
    store = Store(fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True), secret, "embedded")
    code, token, _ = store.open_room("471147")
    store.publish(code, token, {"run": "r1", "now": 1.0}, [])
    scope = store.read_room(code, "0")[0]
    follower = Follower(store, code)
    store.redis.set(store._room_key(code, "state"), _signed(secret, "state", scope, state, 5))
    store.redis.xadd(store._room_key(code, "windows"), {"m": _signed(secret, "window", scope, entry, 5)})
    follower.poll()
    room_frame(follower, False)  # drawn, or None with the reason listed: never an exception


@settings(max_examples=500, deadline=None)
@given(JSON)
def test_any_signed_saved_scenario_is_opened_or_refused_cleanly(body):
    secret = b"fuzz secret"
    store = Store(fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True), secret, "embedded")
    store.redis.set("gsl:scenario:aaaaaaaa", _signed(secret, "scenario", "aaaaaaaa", body, 0))
    try:
        found = store.load_scenario("aaaaaaaa")
        scenario(found["scenario"])
    except (StoreRejected, ScenarioError):
        pass
