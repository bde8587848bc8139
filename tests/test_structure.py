"""How the dashboard is put together, where a rule is easy to break by accident."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_chart_drawn_once_goes_through_show_figure_so_presenter_mode_sizes_it():
    """The live view sizes its own charts for a room; any other chart drawn with st.plotly_chart directly
    would keep 12 px ticks in presenter mode."""
    direct = []
    for path in [ROOT / "app.py", *(ROOT / "dashboard").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr == "plotly_chart":
                direct.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert [place.split(":")[0] for place in direct] == ["dashboard/view/figure.py"], direct
