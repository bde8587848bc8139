"""What a scenario carries beyond its own text: the uploads it names.

A scenario names an uploaded trace (`upload-<hash>.csv`) or a measured similarity curve
(`curve-<hash>`) by a hash of its content, and the process that received it keeps it for a while
(engine/kept.py). Wherever the scenario goes next, its uploads go with it as CSV text: in a save,
to another app process; in a search's task or a capacity sweep's point, to a worker that never saw
them. There each is read again through its own door, checked against its name, and kept.
"""

from __future__ import annotations

from engine import curves, traces
from engine.loading import ScenarioError


def attached(scenario) -> dict[str, str]:
    """Return {name: CSV text} of every upload `scenario` names: its traces and its measured curve.

    Raise ScenarioError when one is no longer held in this process."""
    carried = {name: trace.to_csv() for name, trace in traces.uploads_named_by(scenario).items()}
    carried |= {name: curve.to_csv() for name, curve in curves.curves_named_by(scenario).items()}
    return carried


def hold(carried: dict[str, str], source: str = "attachment", ours: bool = False) -> None:
    """Keep in this process every upload of `carried` ({name: CSV text}).

    Each is read through its door and must have the name its content gives it; raise ScenarioError
    naming the first that is refused. `ours` says this app made `carried` itself (a search's task, a
    sweep's point), so an upload already held is not read again; a save comes back from the store
    and is always read again."""
    for name, text in carried.items():
        if curves.NAMED.match(name):
            what, read, kept, keep = "curve", curves.read_curve_csv, curves.kept, curves.keep
        elif traces.UPLOADED.match(name):
            what, read, kept, keep = "trace", traces.read_trace_csv, traces.kept, traces.keep
        else:
            raise ScenarioError([f"{source}: {name[:60]!r} is not allowed: an upload's name (upload-<24 hex>.csv "
                                 "or curve-<24 hex>)"])
        if ours and kept(name) is not None:
            continue
        upload = read(text, f"{source}: {what} {name}")
        if upload.name != name:
            raise ScenarioError([f"{source}: {what} {name} is not allowed: its content does not match its name"])
        keep(upload)
