"""Similarity curves: how often a semantic cache serves a rewording, and how often a wrong answer.

A semantic cache serves a stored answer when the new question's embedding is similar enough to a
stored question's: cosine similarity at least a threshold. What that threshold does depends on the
questions and on the embedding model. Measured on labelled question pairs, it is a curve: at each
threshold, the share of reworded pairs (the same question in other words) that pass, the hit rate,
and the share of related but different pairs that pass, the false-hit rate. Both fall as the
threshold rises; each is the survival function of its kind of pair's similarity, which is how
engine/cache.py uses them.

The app ships one curve, measured on 20,000 Quora question pairs with all-MiniLM-L6-v2
(assets/semantic_cache_curve.csv, written by scripts/semantic_cache_curve.py): DEFAULT. A team's
own questions and embedder make another; the Lab page measures one from uploaded pairs, and a
scenario's `cache.semantic.curve` names it. Quora's rewordings are not a support desk's.

`read_curve_csv` is the one door for a curve, uploaded, saved or shipped to a worker: a size cap,
strict UTF-8, `#` comment lines (the curve's note: what it was measured on), the header
`threshold,hit_rate,false_hit_rate`, then one row a threshold, every cell matched before it is
converted, thresholds rising over at least 0.5 to 1.0 (a scenario's range), rates from 0 to 1 that
never rise with the threshold. Every problem is named by its row, line and column. Values are kept
to 6 decimals, as a curve's CSV writes them, so a curve read again is the same curve.

A curve is kept in this process under a name made from its content (`curve-<hash>`), as uploaded
traces are (engine/traces.py); a saved scenario carries its curve with it, a share link does not.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from engine.kept import Kept
from engine.loading import ScenarioError
from engine.paths import ASSETS_DIR
from engine.plain_text import TextRefused, plain_text, quoted

CURVE_FILE = ASSETS_DIR / "semantic_cache_curve.csv"
MAX_CURVE_BYTES = 200_000  # a file larger than this is refused before it is read
MIN_ROWS, MAX_ROWS = 2, 1_001  # thresholds in a curve: 1,001 is every 0.001 from 0 to 1
MAX_NOTE_CHARS = 4_000  # the comment lines, together: what the curve was measured on, not a document
MAX_PROBLEMS = 10  # problems listed before the rest are summed up
KEPT_CURVES = 16  # curves one process keeps (at most ~25 kB each)
LOWEST, HIGHEST = 0.5, 1.0  # the thresholds a scenario may set (engine/scenario_llm.py, SemanticLookup)
TOLERANCE = 1e-9  # a rate may rise this much with the threshold (rounding), no more
DECIMALS = 6
COLUMNS = ("threshold", "hit_rate", "false_hit_rate")
NAMED = re.compile(r"^curve-[0-9a-f]{24}$")
_NUMBER = re.compile(r"^[0-9]{1,3}(\.[0-9]{1,17})?$")  # no sign, exponent, nan or inf: a plain decimal


def _text(value: float) -> str:
    """Return a value as a curve's CSV writes it: at most 6 decimals, trailing zeros dropped (0.9985, 1.0)."""
    text = f"{value + 0.0:.{DECIMALS}f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


@dataclass(frozen=True, eq=False)
class Curve:
    """A similarity curve read and checked: thresholds rising, and the two rates at each."""

    thresholds: np.ndarray
    hit_rate: np.ndarray
    false_hit_rate: np.ndarray
    note: str = ""

    def to_csv(self) -> str:
        """Return the curve in the asset's format (its note as `#` lines first): what is saved and hashed."""
        return self._csv

    @cached_property
    def _csv(self) -> str:
        lines = [f"# {line}" if line else "#" for line in self.note.split("\n")] if self.note else []
        lines.append(",".join(COLUMNS))
        lines += [f"{_text(t)},{_text(h)},{_text(f)}" for t, h, f in
                  zip(self.thresholds.tolist(), self.hit_rate.tolist(), self.false_hit_rate.tolist())]
        return "\n".join(lines) + "\n"

    @cached_property
    def name(self) -> str:
        """Return the name a scenario uses for this curve: made from its content."""
        return f"curve-{hashlib.sha256(self._csv.encode()).hexdigest()[:24]}"

    def rates(self, threshold: float) -> tuple[float, float]:
        """Return (hit rate, false-hit rate) at `threshold`, interpolated between the measured ones."""
        return (float(np.interp(threshold, self.thresholds, self.hit_rate)),
                float(np.interp(threshold, self.thresholds, self.false_hit_rate)))


def _problem(source: str, text: str) -> ScenarioError:
    return ScenarioError([f"{source}: {text}"], "curve")


def read_curve_csv(data: bytes | str, source: str = "curve") -> Curve:
    """Return the curve in CSV `data`, or raise ScenarioError naming each problem's row, line and column, the
    value and what is allowed."""
    try:
        text = plain_text(data if isinstance(data, str) else bytes(data), "a curve", MAX_CURVE_BYTES)
    except TextRefused as exc:
        raise _problem(source, str(exc)) from None
    notes: list[str] = []
    header = None
    rows: list[tuple[int, list[str]]] = []  # (line, cells) after the header
    for number, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), start=1):
        if line.lstrip().startswith("#"):
            comment = line.lstrip()[1:]
            notes.append((comment[1:] if comment.startswith(" ") else comment).rstrip())
        elif not line.strip():
            continue  # a blank line, as at the end of many files
        elif header is None:
            header = (number, line)
        else:
            rows.append((number, line.split(",")))
    note = "\n".join(notes).strip("\n")
    if len(note) > MAX_NOTE_CHARS:
        raise _problem(source, f"comment lines of {len(note):,} characters are not allowed: at most "
                               f"{MAX_NOTE_CHARS:,} (a note of what the curve was measured on)")
    if header is None or [cell.strip() for cell in header[1].split(",")] != list(COLUMNS):
        shown = quoted(header[1]) if header else "(none)"
        raise _problem(source, f"line {header[0] if header else 1}: header {shown} is not allowed: the first line "
                               f"that is not a # comment is exactly {','.join(COLUMNS)}")
    if not MIN_ROWS <= len(rows) <= MAX_ROWS:
        raise _problem(source, f"{len(rows):,} row(s) is not allowed: a curve has {MIN_ROWS} to {MAX_ROWS:,} "
                               "thresholds, one a row")
    problems: list[str] = []
    more = 0

    def refuse(row: int, line: int, column: str, value: str, allowed: str) -> None:
        nonlocal more
        if len(problems) < MAX_PROBLEMS:
            problems.append(f"row {row} (line {line}), column {column}: {quoted(value)} is not allowed: {allowed}")
        else:
            more += 1

    values: list[list[float]] = [[], [], []]
    last: list[float | None] = [None, None, None]  # the last good value of each column: each row checked against it
    for row, (line, cells) in enumerate(rows, start=1):
        if len(cells) != len(COLUMNS):
            refuse(row, line, COLUMNS[min(len(cells), len(COLUMNS) - 1)], ",".join(cells),
                   f"a row is {len(COLUMNS)} numbers, one for each of {', '.join(COLUMNS)}")
            continue
        for index, (column, cell) in enumerate(zip(COLUMNS, cells)):
            cell = cell.strip()
            if not _NUMBER.match(cell) or not 0.0 <= float(cell) <= 1.0:
                refuse(row, line, column, cell, "a number from 0 to 1 written as digits, such as 0.85")
                continue
            value = float(_text(float(cell)))  # kept to 6 decimals, as the curve's CSV writes it
            before = last[index]
            if index == 0 and before is not None and value <= before:
                refuse(row, line, column, cell, f"at or below the row before ({_text(before)}): thresholds rise "
                                                "from row to row (sort the rows by threshold; at most 6 decimals)")
            elif index > 0 and before is not None and value > before + TOLERANCE:
                refuse(row, line, column, cell, f"above the row before ({_text(before)}): a rate never rises with "
                                                "the threshold (a higher bar passes fewer pairs)")
            else:
                last[index] = value
            values[index].append(value)
    if problems:
        tail = [f"... and {more:,} more"] if more else []
        raise ScenarioError([f"{source}: {problem}" for problem in problems] + tail, "curve")
    thresholds = values[0]
    if thresholds[0] > LOWEST or thresholds[-1] < HIGHEST:
        raise _problem(source, f"column threshold: {_text(thresholds[0])} to {_text(thresholds[-1])} is not allowed: "
                               f"the thresholds reach from {LOWEST} or lower up to {HIGHEST} (a scenario's threshold "
                               f"is {LOWEST} to {HIGHEST})")
    return Curve(*(np.asarray(column, dtype=np.float64) for column in values), note=note)


def curve_from_rates(thresholds, hit_rate, false_hit_rate, note: str = "", source: str = "curve") -> Curve:
    """Return the curve of these measured rates (kept to 6 decimals), or raise ScenarioError as the door does.

    It goes through `read_curve_csv`, so a curve made here is the one its saved CSV reads back as."""
    try:
        columns = [np.asarray(values, dtype=np.float64).ravel() for values in (thresholds, hit_rate, false_hit_rate)]
    except (TypeError, ValueError):
        raise _problem(source, "values that are not numbers are not allowed: thresholds and rates are numbers "
                               "from 0 to 1") from None
    if len({len(c) for c in columns}) != 1:
        raise _problem(source, f"{', '.join(str(len(c)) for c in columns)} values is not allowed: as many hit rates "
                               "and false-hit rates as thresholds")
    if not isinstance(note, str):
        raise _problem(source, f"note {quoted(repr(note))} is not allowed: text")
    if len(columns[0]) > MAX_ROWS:  # said before a long text is written
        raise _problem(source, f"{len(columns[0]):,} row(s) is not allowed: a curve has {MIN_ROWS} to {MAX_ROWS:,} "
                               "thresholds, one a row")
    lines = [f"# {line}" for line in note.splitlines()]
    lines.append(",".join(COLUMNS))
    lines += [",".join(_text(v) if np.isfinite(v) else str(v) for v in row) for row in zip(*columns)]
    return read_curve_csv("\n".join(lines) + "\n", source)


DEFAULT = read_curve_csv(CURVE_FILE.read_bytes(), "assets/semantic_cache_curve.csv")  # the Quora curve


# --- where a scenario's curve is found ------------------------------------------------------------------------

_kept: Kept[Curve] = Kept(KEPT_CURVES)


def keep(curve: Curve) -> str:
    """Keep a curve in this process (the last KEPT_CURVES); return the name a scenario gives it."""
    return _kept.keep(curve.name, curve)


def kept(name: str) -> Curve | None:
    """Return the curve kept under `name`, or None."""
    return _kept.get(name)


def find_curve(name: str | None, field: str = "cache.semantic.curve") -> Curve:
    """Return the curve a scenario names: None is the Quora curve (DEFAULT), a `curve-...` name one kept here."""
    if name is None:
        return DEFAULT
    curve = kept(name) if NAMED.match(name) else None
    if curve is None:
        raise ScenarioError([f"{field}: {quoted(name)} is not allowed: a similarity curve this app does not hold "
                             "now (curves are kept in memory for a while, and for 30 days with a saved scenario; a "
                             "share link does not carry one): measure or upload it again on the Lab page"])
    return curve


def curves_named_by(scenario) -> dict[str, Curve]:
    """Return {name: curve} of the measured curves `scenario`'s semantic cache uses (what a save carries).

    Raise ScenarioError when one is no longer held here."""
    cache = getattr(scenario, "cache", None)
    semantic = getattr(cache, "semantic", None)
    name = getattr(semantic, "curve", None)
    return {} if name is None else {name: find_curve(name, "cache.semantic.curve")}
