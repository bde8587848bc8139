"""Traces: when each request of real traffic arrived, and how many tokens it carried.

A model fed made-up traffic answers a made-up question. Real LLM traffic is bursty, and its prompt
and answer lengths are skewed; a team that has logs of its own should run those through the
architecture, not a Poisson guess. A trace is that log cut down to three columns: the arrival time,
the prompt's tokens and the answer's tokens, row by row. Two spellings are read:

- the Azure LLM inference trace format (`TIMESTAMP, ContextTokens, GeneratedTokens`), in which
  the project's own traces come (assets/);
- a plain one (`t_s, prompt_tokens, output_tokens`), seconds from any origin.

`read_trace_csv` is the one door for both: a size cap first, strict UTF-8, the columns, each
value's type and range, and time that never runs backwards, every problem named by its row and
column. `describe` says what a trace is before anything runs on it: its rate over time, how bursty
its arrivals are (the coefficient of variation of the gaps between them: 1 for Poisson arrivals,
above 1 for bursts) and its token distributions.

An uploaded trace is kept in this process under a name made from its content (`upload-<hash>.csv`),
which a scenario's `traffic.trace.file` or `traffic.tokens.file` names like any file in assets/.
A saved scenario carries its traces with it (dashboard/classroom/store.py); a share link does not.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property, lru_cache

import numpy as np

from engine.kept import Kept
from engine.loading import ScenarioError
from engine.paths import ASSETS_DIR
from engine.plain_text import TextRefused, plain_text, quoted

MAX_TRACE_BYTES = 5_000_000  # an upload larger than this is refused before it is read
MAX_TRACE_ROWS = 100_000  # 28 hours of the Azure conversation trace's rate
MAX_PROBLEMS = 10  # problems listed before the rest are summed up
MAX_PROMPT_TOKENS, MAX_OUTPUT_TOKENS = 2_000_000, 200_000  # the scenario format's bounds for fixed tokens
MAX_TIME_S = 1e9  # about 32 years: a number of seconds, not a date written as a number
KEPT_TRACES = 16  # uploaded traces one process keeps (at most ~2.4 MB each in arrays)
UPLOADED = re.compile(r"^upload-[0-9a-f]{24}\.csv$")

AZURE = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
PLAIN = ("t_s", "prompt_tokens", "output_tokens")
_WHOLE = re.compile(r"^[0-9]{1,9}$")
_SECONDS = re.compile(r"^[0-9]{1,10}(\.[0-9]{1,9})?$")
_TIMESTAMP = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?$")


@dataclass(frozen=True, eq=False)
class Trace:
    """A trace read and checked: seconds from its first request, prompt tokens, output tokens (at least 1)."""

    times: np.ndarray
    prompts: np.ndarray
    outputs: np.ndarray

    def to_csv(self) -> str:
        """Return the trace in the plain format, times to the microsecond: what is saved and hashed."""
        return self._csv

    @cached_property
    def _csv(self) -> str:
        out = io.StringIO()
        out.write(",".join(PLAIN) + "\n")
        for t, p, o in zip(self.times.tolist(), self.prompts.tolist(), self.outputs.tolist()):
            out.write(f"{t:.6f},{p},{o}\n")
        return out.getvalue()

    @cached_property
    def name(self) -> str:
        """Return the name a scenario uses for this trace once uploaded: made from its content."""
        return f"upload-{hashlib.sha256(self._csv.encode()).hexdigest()[:24]}.csv"


def _problem(source: str, text: str) -> ScenarioError:
    return ScenarioError([f"{source}: {text}"], "trace")


def read_trace_csv(data: bytes | str, source: str = "trace") -> Trace:
    """Return the trace in CSV `data` (Azure or plain columns), or raise ScenarioError naming each problem's
    row and column, the value and what is allowed."""
    try:
        text = plain_text(data if isinstance(data, str) else bytes(data), "a trace", MAX_TRACE_BYTES)
    except TextRefused as exc:
        raise _problem(source, str(exc)) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [cell.strip() for cell in next(reader, [])]
    except csv.Error as exc:
        raise _problem(source, f"line 1 is not allowed: {exc}") from None
    names = next((names for names in (AZURE, PLAIN) if all(name in header for name in names)), None)
    if names is None:
        raise _problem(source, f"columns {', '.join(map(quoted, header[:6])) or '(none)'} are not allowed: the first "
                               f"line names the columns, either {', '.join(AZURE)} (Azure's format) or "
                               f"{', '.join(PLAIN)}")
    columns = [header.index(name) for name in names]
    azure = names is AZURE
    times: list[float] = []
    prompts: list[int] = []
    outputs: list[int] = []
    problems: list[str] = []
    more = 0

    def refuse(row: int, column: str, value: str, allowed: str) -> None:
        nonlocal more
        if len(problems) < MAX_PROBLEMS:
            # The reader's line count: blank lines and line breaks inside quotes count, as an editor shows them.
            problems.append(f"row {row} (line {reader.line_num}), column {column}: {quoted(value)} is not allowed: "
                            f"{allowed}")
        else:
            more += 1

    row = 0
    last = None  # the last good time: each row's time is checked against it
    try:
        for cells in reader:
            if not cells or all(not cell.strip() for cell in cells):
                continue  # a blank line, as at the end of many files
            row += 1
            if row > MAX_TRACE_ROWS:
                raise _problem(source, f"more than {MAX_TRACE_ROWS:,} rows is not allowed: cut the trace shorter")
            if len(cells) <= max(columns):
                refuse(row, names[len(cells)] if len(cells) < 3 else names[-1], ",".join(cells),
                       f"a row has a value for each of {', '.join(names)}")
                continue
            when, prompt, output = (cells[i].strip() for i in columns)
            moment = None
            if azure:
                if _TIMESTAMP.match(when):
                    try:
                        # No zone is given: read as UTC, so no daylight-saving jump enters the gaps.
                        moment = datetime.fromisoformat(when[:26]).replace(tzinfo=timezone.utc).timestamp()
                    except ValueError:
                        moment = None
                if moment is None:
                    refuse(row, names[0], when, "a date and time such as 2023-11-16 18:15:46.6805900")
            elif _SECONDS.match(when) and float(when) <= MAX_TIME_S:
                moment = float(when)
            else:
                refuse(row, names[0], when, f"seconds, a number from 0 to {MAX_TIME_S:,.0f} such as 12.5")
            if moment is not None and last is not None and moment < last:
                refuse(row, names[0], when, "earlier than the row before: time never runs backwards (sort the rows "
                                            "by time)")
            elif moment is not None:
                last = moment
            for value, name, top, into in ((prompt, names[1], MAX_PROMPT_TOKENS, prompts),
                                           (output, names[2], MAX_OUTPUT_TOKENS, outputs)):
                if not (_WHOLE.match(value) and int(value) <= top):
                    refuse(row, name, value, f"a whole number of tokens from 0 to {top:,}")
            if len(problems) + more == 0:
                times.append(moment)
                prompts.append(int(prompt))
                outputs.append(int(output))
    except csv.Error as exc:
        raise _problem(source, f"row {row + 1} is not allowed: {exc}") from None
    if problems:
        tail = [f"... and {more:,} more" if more else ""]
        raise ScenarioError([f"{source}: {problem}" for problem in problems] + [t for t in tail if t], "trace")
    span = round(times[-1] - times[0], 6) if times else 0.0  # a saved trace keeps time to the microsecond
    if len(times) < 2 or span == 0:
        raise _problem(source, f"{len(times)} row(s) over {span:g} s is not allowed: a trace needs at least two rows "
                               "spread over time, a microsecond or more (its mean rate is rows / duration)")
    if span > MAX_TIME_S:
        raise _problem(source, f"a trace spanning {span:,.0f} s is not allowed: at most {MAX_TIME_S:,.0f} s from its "
                               "first row to its last")
    start = times[0]
    return Trace(np.asarray(times) - start, np.asarray(prompts, dtype=np.int64),
                 np.maximum(np.asarray(outputs, dtype=np.int64), 1))  # an answer has at least one token


# --- what a trace is like -------------------------------------------------------------------------------------

_NICE_BINS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21_600, 86_400)


def describe(trace: Trace, bins: int = 120) -> dict:
    """Return what a trace is like, as plain numbers: its size, rate over time, burstiness and token spread.

    `rate` is the requests per second in consecutive bins of `bin_s` (a round width giving at most
    `bins` bins); `cv` is the coefficient of variation of the gaps between arrivals (1 for Poisson
    arrivals, above 1 for bursts); `peak_to_mean` compares the busiest bin with the mean rate.
    """
    times = trace.times
    duration = float(times[-1])
    width = next((w for w in _NICE_BINS_S if duration / w <= bins), math.ceil(duration / bins))
    counts = np.bincount((times // width).astype(np.int64))
    widths = np.full(len(counts), float(width))
    widths[-1] = duration - (len(counts) - 1) * width  # the last bin ends with the trace
    if len(counts) > 1 and widths[-1] < width / 2:  # too short to say a rate: its requests join the bin before
        counts[-2] += counts[-1]
        widths[-2] += widths[-1]
        counts, widths = counts[:-1], widths[:-1]
    rate = counts / np.maximum(widths, 1e-9)
    gaps = np.diff(times)
    mean_gap = float(gaps.mean())
    summary = {"rows": int(len(times)), "duration_s": duration, "mean_rps": len(times) / duration,
               "cv": float(gaps.std() / mean_gap) if mean_gap > 0 else None,
               "bin_s": float(width), "rate": rate.tolist(),
               "peak_to_mean": float(rate.max() / (len(times) / duration))}
    for name, values in (("prompt", trace.prompts), ("output", trace.outputs)):
        summary[name] = {"mean": float(values.mean()), "p50": float(np.percentile(values, 50)),
                         "p95": float(np.percentile(values, 95)), "max": int(values.max())}
        top = max(int(values.max()), 1)
        edges = np.unique(np.round(np.geomspace(1, top + 1, 31)))  # log-spaced: token counts span decades
        histogram, edges = np.histogram(np.maximum(values, 1), bins=edges)
        summary[name]["histogram"] = {"edges": edges.tolist(), "counts": histogram.tolist()}
    return summary


# --- where a scenario's trace file is found -------------------------------------------------------------------

_kept: Kept[Trace] = Kept(KEPT_TRACES)


def keep(trace: Trace) -> str:
    """Keep an uploaded trace in this process (the last KEPT_TRACES); return the name a scenario gives it."""
    return _kept.keep(trace.name, trace)


def kept(name: str) -> Trace | None:
    """Return the uploaded trace kept under `name`, or None."""
    return _kept.get(name)


@lru_cache(maxsize=8)
def _asset(file_name: str, field: str) -> Trace:
    path = ASSETS_DIR / file_name
    if not path.is_file():
        available = ", ".join(sorted(p.name for p in ASSETS_DIR.glob("*.csv")))
        raise ScenarioError([f"{field}: {file_name!r} is not allowed: no such file in assets/ (have: {available}), "
                             "and not a trace uploaded here"])
    return read_trace_csv(path.read_bytes(), f"{field}: {file_name!r}")


def find_trace(file_name: str, field: str = "traffic.trace.file") -> Trace:
    """Return the trace a scenario names: one uploaded in this process, or a CSV in assets/."""
    if UPLOADED.match(file_name):
        trace = kept(file_name)
        if trace is None:
            raise ScenarioError([f"{field}: {file_name!r} is not allowed: an uploaded trace this app does not hold "
                                 "now (uploads are kept in memory for a while, and for 30 days with a saved "
                                 "scenario; a share link does not carry one): upload the CSV again"])
        return trace
    return _asset(file_name, field)


def uploads_named_by(scenario) -> dict[str, Trace]:
    """Return {name: trace} of the uploaded traces `scenario` replays or draws tokens from (what a save carries).

    Raise ScenarioError when one is no longer held here."""
    traffic = scenario.traffic
    found = {}
    for field, spec in (("traffic.trace.file", traffic.trace), ("traffic.tokens.file", traffic.tokens)):
        name = getattr(spec, "file", None)
        if name is not None and UPLOADED.match(name):
            found[name] = find_trace(name, field)
    return found
