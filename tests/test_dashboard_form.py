"""The sandbox's form: a widget for every field, drawn from the schema, whose edits change only a valid scenario."""

import re
from collections import Counter
from typing import get_args

import pytest
from pydantic import BaseModel
from streamlit.testing.v1 import AppTest

from tests.live_view import errors

from dashboard.view.form import ADVANCED, _unwrap, seed
from dashboard.pages.sandbox import encode_link
from engine import list_presets, load_preset
from engine.labels import _models_in, choice_label
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
    assert "Web tier › Replicas: 4 is not allowed: more than 1 replica needs a load balancer" in errors(at)[0]
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
    assert "Response cache: needs Traffic › Prompt keys" in errors(at)[0]
    widget(at, "toggle", ".traffic.prompt_keys:on").set_value(True).run()
    assert not at.error
    assert widget(at, "number_input", ".cache.capacity_entries").value == 10_000
    apply(at)
    assert running(at).scenario.cache.capacity_entries == 10_000


def test_a_new_list_item_is_named_in_the_message_until_it_is_filled_in():
    at = page()
    widget(at, "number_input", ".failures:n").set_value(1).run()
    assert "Failure 1 › Component: '' is not allowed: choose one of web-0" in errors(at)[0]
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


CODE_NAME = re.compile(r"\b[a-z][a-z0-9]*(?:[._][a-z0-9]+)+\b")  # a snake_case name or a dotted path


def shown_words(at: AppTest) -> list[str]:
    """Return every label, tab, fold, button and choice the form shows, as a user reads them."""
    words = [t.label for t in at.tabs] + [e.label for e in at.expander]
    words += [b.label for b in at.button if b.key.startswith(("sandbox_fix", "sandbox_form"))]
    words += [m.value.strip("*") for m in at.markdown if m.value.startswith("**")]  # a part's heading
    for kind in ("number_input", "selectbox", "toggle", "text_input", "text_area"):
        for w in getattr(at, kind):
            if w.key and w.key.startswith("sbx"):
                words += [w.label.strip("*"), getattr(w, "placeholder", None) or ""]
                words += list(getattr(w, "options", []))
    return words


def models_of(model: type[BaseModel]) -> set[type[BaseModel]]:
    """Return `model` and every model inside it."""
    found, todo = set(), [model]
    while todo:
        if (model := todo.pop()) not in found:
            found.add(model)
            todo += [inner for info in model.model_fields.values() for inner in _models_in(info.annotation)]
    return found


def every_part_on(at: AppTest) -> AppTest:
    """Switch on every optional part, and the parts inside those, until none is left off."""
    for _ in range(8):
        off = [t for t in at.toggle if t.key.startswith("sbx") and t.key.endswith(":on") and not t.value]
        if not off:
            return at
        for toggle in off:
            toggle.set_value(True)
        at.run()
    raise AssertionError("parts kept appearing")


def test_the_form_shows_no_code_names_with_every_part_and_kind_drawn():
    at = every_part_on(page(load_preset("genai_stack")))
    seen = set(shown_words(at))
    tags = {choice_label(tag): tag for model in models_of(Scenario) for tag in ("kind", "dist")
            if tag in model.model_fields for tag in get_args(model.model_fields[tag].annotation)}
    for turn in range(1, 4):  # every kind of every part: the n-th choice of each at once
        for choice in [s for s in at.selectbox if s.key.startswith("sbx") and s.key.endswith(":kind")]:
            choice.set_value(tags[choice.options[turn % len(choice.options)]])
        every_part_on(at.run())
        seen |= set(shown_words(at))
    assert {"Cached input price (USD per million tokens)", "Client timeout (s)", "Web tier", "More settings",
            "Prompt keys", "Self-hosted", "gateway over several deployments", "Deployment 1"} <= seen \
        | {w[:1].upper() + w[1:] for w in seen}
    assert not [w for w in seen if CODE_NAME.search(w)]


def test_the_code_name_check_sees_a_code_name():
    assert CODE_NAME.search("price_cached_input_per_m_usd") and CODE_NAME.search("needs traffic.prompt_keys")
    assert not CODE_NAME.search("Cached input price (USD per million tokens)")


def test_rare_settings_are_folded_away_and_every_listed_one_is_a_field():
    for model, names in ADVANCED.items():
        assert set(names) <= set(model.model_fields), model.__name__
    at = page()
    folded = [w.key for fold in at.expander if fold.label == "More settings" for w in fold.number_input]
    assert any(key.endswith(".web.cpu_speed") for key in folded)
    assert not any(key.endswith(".web.replicas") for key in folded)
    assert widget(at, "number_input", ".web.replicas").label == "Replicas"


def test_turning_the_cache_on_offers_its_fix_and_the_fixed_edits_apply():
    at = page()  # a hosted LLM, no cache, no prompt keys
    widget(at, "toggle", ".cache:on").set_value(True).run()
    assert at.button(key="sandbox_form_apply").disabled
    fix = at.button(key="sandbox_fix_0")
    assert fix.label == "Turn on prompt keys (the cache needs to know which prompts repeat)"
    fix.click().run()
    assert not at.error
    assert widget(at, "toggle", ".traffic.prompt_keys:on").value  # the form is drawn again from the fixed edits
    assert widget(at, "toggle", ".cache:on").value  # with the edit that needed the fix
    assert not at.button(key="sandbox_form_apply").disabled
    apply(at)
    scenario = running(at).scenario
    assert scenario.cache is not None and scenario.traffic.prompt_keys.space == 100_000
    assert at.button(key="sandbox_form_apply").disabled  # the form shows what runs


def test_discarding_a_fixed_edit_shows_the_running_scenario_again():
    at = page()
    widget(at, "toggle", ".cache:on").set_value(True).run()
    at.button(key="sandbox_fix_0").click().run()
    at.button(key="sandbox_form_discard").click().run()
    assert not widget(at, "toggle", ".cache:on").value
    assert not widget(at, "toggle", ".traffic.prompt_keys:on").value


def test_a_similarity_curve_is_named_in_its_box_and_an_emptied_box_is_the_quora_curve():
    from engine.curves import curve_from_rates, keep

    name = keep(curve_from_rates([0, 1], [0.5, 0.5], [0.1, 0.1], "ours"))
    at = page(load_preset("genai_stack"))  # a semantic cache on the Quora curve
    box = widget(at, "text_input", ".semantic.curve")
    assert box.value is None and box.label == "Similarity curve" and box.placeholder == "the Quora curve"
    assert any(box.key in {w.key for w in fold.text_input} for fold in at.expander if fold.label == "More settings")
    box.set_value(name).run()
    apply(at)
    assert running(at).scenario.cache.semantic.curve == name
    widget(at, "text_input", ".semantic.curve").set_value("").run()
    assert not at.error
    apply(at)
    assert running(at).scenario.cache.semantic.curve is None
