"""The lab's embedder is all-MiniLM-L6-v2, the same model sentence-transformers runs, and nothing else.

tests/data/minilm_golden.json holds cosine similarities between eleven texts as sentence-transformers
6.2.0 on torch 2.13.0 computed them (written once by hand in a separate environment; torch is not
a dependency of the app). The numpy forward pass must reproduce them: the curve the simulation uses
(assets/semantic_cache_curve.csv) was measured with that torch model.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.curves import DEFAULT
from engine.paths import ASSETS_DIR
from lab.calibrate import PairsCsvError, measure, read_pairs_csv, roc_auc
from lab.embedding import MAX_CHARS, shared_embedder
from lab.semantic_cache import DEFAULT_THRESHOLD

GOLDEN = json.loads((Path(__file__).parent / "data" / "minilm_golden.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def embedder():
    return shared_embedder()


def test_the_numpy_model_gives_the_similarities_sentence_transformers_gives(embedder):
    vectors = embedder.embed(GOLDEN["texts"])
    assert np.allclose(vectors @ vectors.T, np.array(GOLDEN["similarity"]), atol=1e-5)
    assert np.allclose(vectors[0][:16], GOLDEN["first_vector_head"], atol=1e-5)
    # Among them: a rewording scores high, an unrelated question low, and a text longer than 256 tokens
    # (cut there, as sentence-transformers cuts it) still gives the same vector.
    assert GOLDEN["similarity"][0][1] > 0.8 and GOLDEN["similarity"][0][5] < 0.2


def test_vectors_are_unit_length_and_do_not_depend_on_their_batch(embedder):
    texts = GOLDEN["texts"]
    together = embedder.embed(texts)
    alone = np.stack([embedder.embed_one(text) for text in texts])
    reversed_ = embedder.embed(texts[::-1])[::-1]
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert np.allclose(together, alone, atol=1e-5) and np.allclose(together, reversed_, atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)


def test_bad_text_is_refused_by_what_it_is(embedder):
    with pytest.raises(TypeError, match="must be text, not int"):
        embedder.embed([3])
    with pytest.raises(ValueError, match=f"at most {MAX_CHARS:,}"):
        embedder.embed(["x" * (MAX_CHARS + 1)])


def test_the_model_loads_and_runs_without_any_network():
    # A fresh interpreter in which opening any socket fails: loading the model and embedding must not try.
    code = """
import socket, sys
def refuse(*args, **kwargs):
    raise RuntimeError("network used")
socket.socket.connect = refuse
socket.create_connection = refuse
from lab.embedding import Embedder
vector = Embedder().embed(["offline?"])
print(vector.shape, "huggingface_hub" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(1, 384) False"


# --- measuring a curve on labelled pairs ----------------------------------------------------------------------

def test_the_200_sample_pairs_measure_close_to_the_20000_pair_curve(embedder):
    pairs = read_pairs_csv((ASSETS_DIR / "quora_pairs_sample200.csv").read_bytes())
    measured = measure(pairs, embedder)
    assert (measured.duplicates, measured.others) == (75, 125)
    assert abs(measured.auc - 0.868) < 0.06  # 200 pairs: the AUC's sampling error is about 0.03
    assert np.all(np.diff(measured.hit_rate) <= 0) and np.all(np.diff(measured.false_hit_rate) <= 0)
    for threshold in (0.7, 0.8, 0.9):
        at = int(round(threshold * 100))
        hit, false_hit = DEFAULT.rates(threshold)
        assert measured.hit_rate[at] > measured.false_hit_rate[at]
        assert abs(measured.hit_rate[at] - hit) < 0.15 and abs(measured.false_hit_rate[at] - false_hit) < 0.15


def test_the_default_threshold_is_the_best_split_of_quora_rewordings_from_related_questions():
    # Youden's J: the threshold where (hit rate - false-hit rate) is largest on the 20,000 Quora pairs.
    best = DEFAULT.thresholds[np.argmax(DEFAULT.hit_rate - DEFAULT.false_hit_rate)]
    assert DEFAULT_THRESHOLD == pytest.approx(best)


def test_roc_auc_counts_ties_as_half():
    assert roc_auc(np.array([0.9, 0.8]), np.array([0.1, 0.2])) == 1.0
    assert roc_auc(np.array([0.1]), np.array([0.9])) == 0.0
    assert roc_auc(np.array([0.5, 0.5]), np.array([0.5])) == 0.5


def _csv(rows) -> bytes:
    from io import StringIO

    buffer = StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


GOOD_ROWS = [["question1", "question2", "is_duplicate"]] + [[f"q{i}", f"p{i}", i % 2] for i in range(12)]


@pytest.mark.parametrize("rows, named", [
    ([["q1", "q2", "dup"], ["a", "b", "1"]], "it needs the columns question1, question2, is_duplicate"),
    (GOOD_ROWS[:3] + [["a", "", "1"]] + GOOD_ROWS[3:], "row 3, column question2: '' is not allowed"),
    (GOOD_ROWS[:3] + [["a", "b", "yes"]] + GOOD_ROWS[3:], "row 3, column is_duplicate: 'yes' is not allowed"),
    (GOOD_ROWS[:4], "is not enough: at least 5 of each"),
])
def test_bad_pairs_are_named_by_row_and_column(rows, named):
    with pytest.raises(PairsCsvError, match=named):
        read_pairs_csv(_csv(rows), "pairs.csv")


def test_pairs_that_are_not_utf8_or_too_large_are_refused_before_reading():
    with pytest.raises(PairsCsvError, match=r"line 1, byte 0 \(0xff\) is not allowed: a pairs file is UTF-8 text"):
        read_pairs_csv(b"\xff" + _csv(GOOD_ROWS))
    with pytest.raises(PairsCsvError, match="UTF-16 text is not allowed"):
        read_pairs_csv(b"\xff\xfe" + _csv(GOOD_ROWS))
    with pytest.raises(PairsCsvError, match="2,000,001 bytes is not allowed: at most 2,000,000"):
        read_pairs_csv(b"x" * 2_000_001)


def test_good_pairs_read_with_their_labels():
    pairs = read_pairs_csv(b"\xef\xbb\xbf" + _csv(GOOD_ROWS))  # a byte-order mark is tolerated
    assert len(pairs) == 12 and pairs[1] == ("q1", "p1", True) and pairs[0][2] is False
