"""The sandbox's form: a widget for every field, drawn from the schema, whose edits change only a valid scenario."""

from collections import Counter

import pytest
from pydantic import BaseModel
from streamlit.testing.v1 import AppTest

from tests.live_view import errors

from dashboard.view.form import _unwrap, seed
from dashboard.pages.sandbox import encode_link
from engine import list_presets, load_preset
from engine.scenario import Failure, LLMRouter, Scenario, Users

PAGE = "from dashboard.pages.sandbox import render_sandbox\nrender_sandbox()\n"


def running(at: AppTest):
    """Return the simulation the sandbox runs now."""
    return at.session_state["sandbox"].playback.now.sim


def page(scenario=None) -> AppTest:
    """Open the sandbox on `scenario` (by share link), or on its default."""
    at = AppTest.from_string(PAGE, default_timeout=30)
    if scenario is not None:
        at.query_params["s"] = encode_link(scenario)
    at.run()
    assert not [w for w in at.number_input if w.key.startswith("sbx")]  # the form waits until asked for
    return at.toggle(key="sandbox_show_form").set_value(True).run()


def widget(at: AppTest, kind: str, suffix: str):
    """Return the one widget of `kind` whose key ends with `suffix`."""
    found = [w for w in getattr(at, kind) if w.key and w.key.endswith(suffix)]
    assert len(found) == 1, f"{suffix}: {[w.key for w in found]}"
    return found[0]


def apply(at: AppTest) -> AppTest:
    """Press the form's apply button."""
    return at.button(key="sandbox_form_apply").click().run()


def fields(model: BaseModel, skip=()):
    """Yield the name of every field of `model` and its parts that are set, as the form must draw them."""
    for name, info in type(model).model_fields.items():
        if name in skip:
            continue
        annotation, optional, _ = _unwrap(info.annotation)
        if optional or not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            yield name  # a part that is always there has only its fields' widgets
        value = getattr(model, name)
        parts = value if isinstance(value, list) else [value]
        for part in parts:
            if isinstance(part, BaseModel):
                tag = {"kind", "dist"} & set(type(part).model_fields)
                yield from fields(part, skip=tag)


@pytest.mark.parametrize("preset", [name for name, _ in list_presets()])
def test_every_preset_draws_unchanged_and_every_field_it_sets_has_a_widget(preset):
    scenario = load_preset(preset)
    at = page(scenario)
    assert not at.exception and not at.error
    assert at.button(key="sandbox_form_apply").disabled  # the form read back is the same scenario
    keys = [w.key or "" for kind in ("number_input", "selectbox", "toggle", "text_input", "text_area")
            for w in getattr(at, kind)]
    # As many widgets for each field name as the scenario has fields of that name: a part's missing
    # widget cannot hide behind a same-named field of another part.
    for name, wanted in Counter(fields(scenario)).items():
        drawn = sum(k.endswith((f".{name}", f".{name}:on", f".{name}:kind", f".{name}:n")) for k in keys)
        assert drawn >= wanted, f"{name}: {drawn} widgets for {wanted} fields"


def test_a_changed_knob_applies_as_a_new_version_on_the_same_traffic():
    at = page()
    first = running(at)
    widget(at, "number_input", ".web.replicas").set_value(6).run()
    widget(at, "selectbox", ".database.kind").set_value("key_value").run()
    assert not at.button(key="sandbox_form_apply").disabled
    assert running(at) is first  # nothing runs until applied
    apply(at)
    sim = running(at)
    playback = at.session_state["sandbox"].playback
    assert sim is not first and sim.now == first.now  # the time axis goes on
    assert playback.before.sim is first  # the version before goes on, faded
    assert (sim.scenario.web.replicas, sim.scenario.database.kind) == (6, "key_value")
    assert "replicas: 6" in at.text_area(key="sandbox_text").value
    assert at.button(key="sandbox_form_apply").disabled  # the form now shows what runs


def test_an_incoherent_edit_names_the_field_and_changes_nothing():
    at = page()
    first = running(at)
    widget(at, "toggle", ".load_balancer:on").set_value(False).run()
    assert "web.replicas: 4 is not allowed: more than 1 replica needs a load_balancer" in errors(at)[0]
    assert at.button(key="sandbox_form_apply").disabled
    assert running(at) is first


def test_discarding_edits_shows_the_running_scenario_again():
    at = page()
    widget(at, "number_input", ".web.replicas").set_value(7).run()
    at.button(key="sandbox_form_discard").click().run()
    assert widget(at, "number_input", ".web.replicas").value == 4
    assert at.button(key="sandbox_form_apply").disabled


def test_choosing_another_kind_draws_that_kinds_fields():
    at = page()  # a hosted LLM
    assert not [w for w in at.number_input if w.key.endswith(".max_batch")]
    widget(at, "selectbox", ".llm:kind").set_value("self_hosted").run()
    widget(at, "number_input", ".max_batch").set_value(32).run()
    apply(at)
    llm = running(at).scenario.llm
    assert (llm.kind, llm.max_batch) == ("self_hosted", 32)


def test_switching_on_a_part_starts_it_from_defaults_and_explains_what_it_needs():
    at = page()  # no cache, no prompt keys
    widget(at, "toggle", ".cache:on").set_value(True).run()
    assert "cache: needs traffic.prompt_keys" in errors(at)[0]
    widget(at, "toggle", ".traffic.prompt_keys:on").set_value(True).run()
    assert not at.error
    assert widget(at, "number_input", ".cache.capacity_entries").value == 10_000
    apply(at)
    assert running(at).scenario.cache.capacity_entries == 10_000


def test_a_new_list_item_is_named_in_the_message_until_it_is_filled_in():
    at = page()
    widget(at, "number_input", ".failures:n").set_value(1).run()
    assert "failures.0.component: '' is not allowed: choose one of web-0" in errors(at)[0]
    widget(at, "text_input", ".failures.0.component").set_value("web-1").run()
    widget(at, "number_input", ".failures.0.at_s").set_value(20.0).run()
    apply(at)
    failure = running(at).scenario.failures[0]
    assert (failure.component, failure.at_s, failure.action) == ("web-1", 20.0, "fail")


def test_live_controls_change_the_running_simulation_without_a_restart():
    at = page()
    at.button(key="sandbox_start").click().run()
    sim = running(at)
    at.number_input(key="sandbox_web_replicas").set_value(6).run()
    assert running(at) is sim
    assert sim.controls.settings()["web_replicas"] == 6
    assert at.session_state["sandbox"].playback.marks[-1][1] == "Web replicas = 6"


def test_seed_fills_required_fields_with_the_lowest_allowed_value():
    assert seed(Users)["daily_active"] == 1
    assert seed(Failure) == {"at_s": 1.0, "component": "", "action": "fail"}
    router = seed(LLMRouter)
    assert len(router["deployments"]) == 1 and router["deployments"][0]["kind"] == "hosted"


def test_unwrap_sees_through_optional_and_annotated_unions():
    annotation, optional, discriminator = _unwrap(Scenario.model_fields["llm"].annotation)
    assert optional and discriminator == "kind"
