"""The data files the engine reads are what their READMEs say they are."""

import csv

import pytest

from engine.paths import ASSETS_DIR
from engine.traffic import load_trace


def curve_rows():
    """Return the semantic-cache calibration rows as floats."""
    with (ASSETS_DIR / "semantic_cache_curve.csv").open() as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return [{key: float(value) for key, value in row.items()} for row in rows]


def test_semantic_cache_curve_is_a_real_trade_off():
    rows = curve_rows()
    thresholds = [r["threshold"] for r in rows]
    assert thresholds[0] == 0.5 and thresholds[-1] == 1.0 and len(rows) == 51
    for column in ("hit_rate", "false_hit_rate"):
        values = [r[column] for r in rows]
        assert all(0 <= v <= 1 for v in values)
        assert all(a >= b for a, b in zip(values, values[1:])), f"{column} must fall as the threshold rises"
    # Rewordings are more similar than merely related questions at every threshold below 1.
    assert all(r["hit_rate"] > r["false_hit_rate"] for r in rows[:-1])
    # The production default of RedisVL (cosine similarity 0.9) keeps false hits under 10 %.
    at_090 = next(r for r in rows if r["threshold"] == 0.9)
    assert at_090["false_hit_rate"] < 0.1 < at_090["hit_rate"]


@pytest.mark.parametrize("name, rows, prompt_mean, output_mean", [
    ("AzureLLMInferenceTrace_conv.csv", 19_366, 1155, 211),
    ("AzureLLMInferenceTrace_code.csv", 8_819, 2048, 28),
])
def test_azure_traces_match_their_published_statistics(name, rows, prompt_mean, output_mean):
    times, prompts, outputs = load_trace(name)
    assert len(times) == rows
    assert prompts.mean() == pytest.approx(prompt_mean, rel=0.01)
    assert outputs.mean() == pytest.approx(output_mean, rel=0.02)
