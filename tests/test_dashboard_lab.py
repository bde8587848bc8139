"""The Lab page: real lookups with their similarity and decision, a curve measured on pairs that a
scenario then runs on, and a burst at the real limiter admitting exactly what the bucket holds."""

import re

import pytest

from streamlit.testing.v1 import AppTest

from dashboard.view.scenario_source import decode_link
from engine.curves import find_curve

PAGE = "from dashboard.pages.lab_page import render_lab\nrender_lab()\n"


def opened() -> AppTest:
    at = AppTest.from_string(PAGE, default_timeout=120).run()
    assert not at.exception and not at.error
    return at


def tally(at: AppTest) -> dict[str, int]:
    line = next(m.value for m in at.markdown if "right miss" in m.value)
    return {name: int(n) for n, name in re.findall(r"\*\*(\d+)\*\* ([a-z ]+?)(?: ·|$)", line)}


def test_the_tried_questions_are_answered_missed_and_at_a_low_threshold_answered_wrongly():
    at = opened()
    assert tally(at) == {"right answer": 2, "wrong answer": 0, "missed rewording": 0, "right miss": 3}
    at.slider(key="lab_threshold").set_value(0.70).run()
    # "Do you ship to Mexico?" (0.71 to "...Canada?") and "How do I reset my username?" (0.70 to "...password?")
    # now pass: the cache serves the answer to a different question.
    assert tally(at)["wrong answer"] == 2 and tally(at)["right answer"] == 2


def test_a_question_typed_by_a_learner_gets_its_similarity_and_a_hit_or_a_miss():
    at = opened()
    at.text_area(key="lab_questions").input("Can I return a damaged item for my money back?\nWho won the 1998 World Cup?").run()
    assert not at.exception
    assert tally(at) == {"right answer": 1, "wrong answer": 0, "missed rewording": 0, "right miss": 1}
    assert at.get("plotly_chart")  # similarity of the first question to every stored one, with the threshold


def test_a_curve_measured_on_pairs_opens_a_scenario_whose_semantic_cache_uses_it():
    at = opened()
    at.button(key="lab_measure").click().run()
    assert not at.exception and not at.error
    said = next(m.value for m in at.markdown if "ROC AUC" in m.value)
    assert "**75** duplicate and **125** other pairs" in said
    measured_at = next(m.value for m in at.markdown if "rewordings answered" in m.value)
    assert measured_at.startswith("At the threshold **0.74**")
    link = next(b.proto.url for b in at.get("link_button") if "s=" in b.proto.url)
    scenario = decode_link(link.split("s=", 1)[1])
    curve = find_curve(scenario.cache.semantic.curve)  # kept by the page in this process
    measured = at.session_state["lab_measured"][1]
    assert curve.rates(0.8) == pytest.approx((measured.hit_rate[80], measured.false_hit_rate[80]), abs=1e-6)
    assert curve.rates(0.8) != find_curve(None).rates(0.8)  # not the Quora default


def test_a_burst_at_the_limiter_admits_what_the_bucket_holds_and_refuses_the_rest():
    at = opened()
    at.number_input(key="lab_fired").set_value(100).run()
    at.button(key="lab_fire").click().run()
    assert not at.exception and not at.error
    said = next(m.value for m in at.markdown if "admitted" in m.value)
    admitted, refused = (int(n.replace(",", "")) for n in re.findall(r"\*\*([\d,]+) admitted, ([\d,]+) refused", said)[0])
    held = int(re.search(r"room for \*\*([\d,]+)\*\*", said).group(1).replace(",", ""))
    refilled = float(re.search(r"plus ([\d.]+) refilled", said).group(1))
    # 30,000 tokens / (500 prompt + 300 max output) = 37 calls, and whatever refilled during the burst.
    assert held == 37 and admitted + refused == 100
    assert held <= admitted <= held + int(refilled)
    assert any("retry after" in m.value for m in at.markdown)
    assert at.json and "retry-after-ms" in at.json[0].value
    burst = next(c for c in at.get("plotly_chart") if "bucket after each call" in c.proto.spec)
    assert '"admitted"' in burst.proto.spec and '"refused (429)"' in burst.proto.spec


def test_a_redis_that_does_not_answer_is_said_in_words_and_the_rest_of_the_page_works(monkeypatch):
    from dashboard.pages import lab_page

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens on port 1
    lab_page._redis.clear()
    try:
        at = AppTest.from_string(PAGE, default_timeout=120).run()
        assert not at.exception
        assert any("is not answering (ConnectionError)" in w.value for w in at.warning)
        at.button(key="lab_measure").click().run()  # measuring pairs needs no Redis
        assert not at.exception and any("ROC AUC" in m.value for m in at.markdown)
    finally:
        lab_page._redis.clear()


def test_an_upload_named_with_a_right_to_left_override_is_measured_and_quoted_without_it(monkeypatch):
    # A browser sends the file's name as the user's system spells it; it is quoted in messages, the curve's
    # note and the scenario's description, which refuse control characters (this name was a ScenarioError).
    import streamlit

    from engine.paths import ASSETS_DIR

    class Upload:
        name = "pairs\u202eFDP.csv"

        def getvalue(self):
            return (ASSETS_DIR / "quora_pairs_sample200.csv").read_bytes()

    uploader = streamlit.file_uploader
    monkeypatch.setattr(streamlit, "file_uploader",
                        lambda *args, **kwargs: Upload() if kwargs.get("key") == "lab_pairs" else uploader(*args, **kwargs))
    at = opened()
    at.button(key="lab_measure").click().run()
    assert not at.exception and not at.error
    assert any("from pairs?FDP\\.csv" in m.value for m in at.markdown if "ROC AUC" in m.value)
    link = next(b.proto.url for b in at.get("link_button") if "s=" in b.proto.url)
    assert "come from pairs?FDP.csv, measured on the Lab page" in decode_link(link.split("s=", 1)[1]).description
