"""Measure a semantic cache's threshold curve on labelled question pairs, with the real embedder.

A team has its own questions: pairs judged "the same question" (duplicates) or "related but
different". For each threshold t the curve gives

  hit rate(t)       = share of duplicate pairs whose cosine similarity is at least t
  false-hit rate(t) = share of non-duplicate pairs whose cosine similarity is at least t

which is exactly what the simulation's semantic cache needs (engine/cache.py, engine/curves.py).
The project's default curve, assets/semantic_cache_curve.csv, is this measured on 20,000 Quora
pairs (scripts/semantic_cache_curve.py).

Uploaded pairs come through `read_pairs_csv`: a CSV with the columns question1, question2 and
is_duplicate (Quora Question Pairs' own names), every problem named by row and column.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np

from engine.plain_text import TextRefused, plain_text

THRESHOLDS = np.round(np.arange(0.0, 1.0001, 0.01), 2)  # the whole range, so any scenario threshold is covered
MAX_CSV_BYTES = 2_000_000
MAX_PAIRS = 5_000  # about 70 s of embedding at 7 ms a question: what a page can wait for
MIN_EACH = 5  # duplicates and non-duplicates each: fewer cannot draw a curve
MAX_QUESTION_CHARS = 2_000
COLUMNS = ("question1", "question2", "is_duplicate")
MAX_PROBLEMS = 10


class PairsCsvError(ValueError):
    """Labelled pairs that cannot be used, with every problem named."""


@dataclass(frozen=True)
class Measured:
    """A threshold curve measured on labelled pairs, with what it was measured on."""

    thresholds: np.ndarray
    hit_rate: np.ndarray
    false_hit_rate: np.ndarray
    duplicates: int
    others: int
    auc: float
    similarities: np.ndarray  # per pair, in the file's order
    labels: np.ndarray        # True = duplicate


def read_pairs_csv(data: bytes, source: str = "pairs CSV") -> list[tuple[str, str, bool]]:
    """Return (question1, question2, is_duplicate) rows, or raise PairsCsvError naming each problem."""
    try:  # questions are natural language: the marks of right-to-left writing are let through
        text = plain_text(data, "a pairs file", MAX_CSV_BYTES, natural_language=True)
    except TextRefused as error:
        raise PairsCsvError(f"{source}: {error}") from None
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        raise PairsCsvError(f"{source}: not a CSV file ({error})") from None
    if not rows:
        raise PairsCsvError(f"{source}: the file is empty: a header {', '.join(COLUMNS)} and one pair per row")
    header = [cell.strip() for cell in rows[0]]
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        raise PairsCsvError(f"{source}: header {', '.join(header)[:120]!r} is not allowed: it needs the columns "
                            f"{', '.join(COLUMNS)} (missing {', '.join(missing)})")
    where = [header.index(name) for name in COLUMNS]
    body = [row for row in rows[1:] if any(cell.strip() for cell in row)]
    if len(body) > MAX_PAIRS:
        raise PairsCsvError(f"{source}: {len(body):,} pairs is too many: at most {MAX_PAIRS:,} (embedding takes "
                            "about 7 ms a question)")
    problems, pairs = [], []
    for number, row in enumerate(body, start=1):
        cells = [row[i].strip() if i < len(row) else "" for i in where]
        for column, value in zip(COLUMNS[:2], cells[:2]):
            if not value or len(value) > MAX_QUESTION_CHARS:
                problems.append(f"row {number}, column {column}: {value[:30]!r} is not allowed: a question of 1 to "
                                f"{MAX_QUESTION_CHARS:,} characters")
        if cells[2] not in ("0", "1"):
            problems.append(f"row {number}, column is_duplicate: {cells[2][:30]!r} is not allowed: 1 (the same "
                            "question) or 0 (a different one)")
        pairs.append((cells[0], cells[1], cells[2] == "1"))
    if problems:
        more = f" (and {len(problems) - MAX_PROBLEMS:,} more)" if len(problems) > MAX_PROBLEMS else ""
        raise PairsCsvError(f"{source}: " + "; ".join(problems[:MAX_PROBLEMS]) + more)
    duplicates = sum(1 for pair in pairs if pair[2])
    if duplicates < MIN_EACH or len(pairs) - duplicates < MIN_EACH:
        raise PairsCsvError(f"{source}: {duplicates} duplicate and {len(pairs) - duplicates} other pairs is not "
                            f"enough: at least {MIN_EACH} of each to measure both rates")
    return pairs


def roc_auc(positives: np.ndarray, negatives: np.ndarray) -> float:
    """Return the probability that a random duplicate pair scores above a random other pair (ties count half)."""
    scores = np.concatenate([positives, negatives])
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    # average ranks over ties
    _, first, counts = np.unique(scores[order], return_index=True, return_counts=True)
    for start, count in zip(first, counts):
        if count > 1:
            ranks[order[start:start + count]] = start + (count + 1) / 2
    return float((ranks[: len(positives)].sum() - len(positives) * (len(positives) + 1) / 2)
                 / (len(positives) * len(negatives)))


def measure(pairs: list[tuple[str, str, bool]], embedder=None, thresholds: np.ndarray = THRESHOLDS) -> Measured:
    """Embed both sides of every pair and return the threshold curve."""
    from lab.embedding import shared_embedder

    embedder = embedder or shared_embedder()
    vectors = embedder.embed([a for a, _, _ in pairs] + [b for _, b, _ in pairs])
    a, b = vectors[: len(pairs)], vectors[len(pairs):]
    similarity = np.clip(np.sum(a * b, axis=1), -1.0, 1.0)
    labels = np.array([label for _, _, label in pairs], dtype=bool)
    duplicates, others = similarity[labels], similarity[~labels]
    return Measured(
        thresholds=np.asarray(thresholds, dtype=float),
        hit_rate=np.array([np.mean(duplicates >= t) for t in thresholds]),
        false_hit_rate=np.array([np.mean(others >= t) for t in thresholds]),
        duplicates=int(labels.sum()), others=int((~labels).sum()),
        auc=roc_auc(duplicates, others), similarities=similarity, labels=labels,
    )


def threshold_for(measured: Measured, max_false_hit_rate: float) -> float:
    """Return the lowest threshold whose false-hit rate is at most `max_false_hit_rate`."""
    allowed = measured.thresholds[measured.false_hit_rate <= max_false_hit_rate]
    return float(allowed.min()) if allowed.size else 1.0
