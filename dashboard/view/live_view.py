"""The live view component: draws a frame (dashboard/view/frame.py) in place, tick after tick.

`draw` hands the frame to a custom component (static/live_view.js) that keeps one chart per panel
alive for the life of the page and updates it with Plotly.react: a playing simulation never
flashes an empty chart, which a chart element re-created on every tick does (streamlit issues
8782 and 8575). The component loads the plotly package's own plotly.min.js from the app's static
folder (no CDN).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import plotly
import streamlit as st

from engine.paths import ROOT

STATIC = ROOT / "static"
PLOTLY_JS = STATIC / "vendor" / "plotly.min.js"

CSS = """
.gsl-live { font-family: "Source Sans Pro", "Source Sans 3", sans-serif; color: #262730; }
.gsl-notice { display: none; background: #fff4e5; border-left: 4px solid #f0a030; padding: 6px 10px;
  margin-bottom: 8px; border-radius: 4px; }
.gsl-headline { display: grid; grid-template-columns: repeat(auto-fill, minmax(175px, 1fr)); gap: 8px 10px;
  margin-bottom: 8px; }
.gsl-cell { min-width: 0; padding: 6px 10px; border: 1px solid #e6e6ea; border-radius: 8px; background: #fafafc; }
.gsl-cell.gsl-watched { border: 2px solid #4a6fdc; background: #f3f6ff; }
.gsl-label { font-size: 0.85rem; color: #555; overflow-wrap: anywhere; }
.gsl-value { font-size: 1.7rem; font-weight: 600; line-height: 1.2; white-space: nowrap; }
.gsl-compare { font-size: 0.85rem; color: #555; display: flex; flex-wrap: wrap; gap: 2px 8px; }
.gsl-delta { font-weight: 600; }
.gsl-better { color: #1b7f3b; } .gsl-worse { color: #b00020; } .gsl-neutral { color: #555; }
.gsl-charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 10px; }
.gsl-chart { min-width: 0; border: 1px solid #eee; border-radius: 6px; overflow: hidden; background: white; }
.gsl-chart.gsl-wide { grid-column: 1 / -1; }
.gsl-legend { display: flex; flex-wrap: wrap; gap: 2px 14px; padding: 0 10px 6px 62px; font-size: 0.8rem; color: #444; }
.gsl-legend-item { display: inline-flex; align-items: center; gap: 5px; white-space: nowrap; }
.gsl-legend-item.gsl-faded { opacity: 0.6; }
.gsl-swatch { display: inline-block; width: 22px; height: 0; border-top: 2.5px solid #444; }
.gsl-swatch.gsl-area { height: 8px; border-top-width: 0; opacity: 0.7; }
.gsl-presenter .gsl-legend { font-size: 1.1rem; padding-left: 90px; }
.gsl-bottom { display: grid; grid-template-columns: minmax(0, 1fr); gap: 12px; margin-top: 10px; }
.gsl-counts { max-width: 720px; }
.gsl-panel-title { font-weight: 600; margin: 4px 0; }
.gsl-table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
.gsl-table th, .gsl-table td { padding: 3px 8px; border-bottom: 1px solid #eee; text-align: left; }
.gsl-table td.gsl-num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.gsl-presenter .gsl-label, .gsl-presenter .gsl-compare { font-size: 1.15rem; }
.gsl-presenter .gsl-value { font-size: 2.3rem; }
.gsl-presenter .gsl-headline { grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); }
.gsl-presenter .gsl-table { font-size: 1.2rem; }
.gsl-presenter .gsl-panel-title, .gsl-presenter .gsl-notice { font-size: 1.25rem; }
.gsl-presenter .gsl-charts { grid-template-columns: 1fr; }
"""

# The component's own JavaScript only loads the view's module, served with Plotly from the app's
# static folder, and hands it each new frame.
LOADER = """
let viewModule = null;
export default function (component) {
  const base = document.baseURI;
  if (!viewModule) viewModule = import(new URL("app/static/live_view.js", base).href);
  viewModule.then((module) => module.render(component, base));
}
"""


def _vendor_plotly() -> None:
    """Put the installed plotly package's own plotly.min.js where the app serves static files (no CDN)."""
    source = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not PLOTLY_JS.exists() or PLOTLY_JS.stat().st_size != source.stat().st_size:
        PLOTLY_JS.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, PLOTLY_JS)


_vendor_plotly()
_component = st.components.v2.component("gsl_live_view", css=CSS, js=LOADER, isolate_styles=False)


def draw(frame_: dict, key: str, on_stalled=None) -> None:
    """Draw `frame_` in the live view component with `key` (one per page), updating it in place.

    When a playing view (`frame_["playing"]`) gets no new frame for a few seconds, the browser
    reports it stalled and `on_stalled()` runs (the player then runs the whole page again).
    """
    _component(data=frame_, key=key, height="content", on_stalled_change=on_stalled or (lambda: None))
