"""The architecture diagram: what the simulation is running right now, and where it hurts.

One node per component, in the order a request meets them: users, the load balancer, the web
replicas, the cache, the database nodes, the LLM replicas. Each is coloured by how busy it was in
the last metrics window (green, amber, red), a component that is down is grey and says so, and the
busiest one, the bottleneck, gets a heavy border. The diagram is Graphviz DOT text, drawn by the
browser (st.graphviz_chart), so the tests can read exactly what a learner sees.
"""

from __future__ import annotations

from engine import Simulation

BUSY, SATURATED = 0.6, 0.85  # utilisation where a node turns amber, then red
COLOURS = {"idle": "#d9f2d9", "busy": "#ffe4a8", "saturated": "#f7b2b2", "down": "#d0d0d0"}


def _colour(utilisation: float | None, down: bool) -> str:
    """Return a node's fill colour for its utilisation, or grey when it is down."""
    if down:
        return COLOURS["down"]
    if utilisation is None or utilisation < BUSY:
        return COLOURS["idle"]
    return COLOURS["busy"] if utilisation < SATURATED else COLOURS["saturated"]


def _node(name: str, label: str, utilisation: float | None, down: bool, bottleneck: bool) -> str:
    """Return one DOT node line."""
    # Rounded to tens of per cent: the text changes (and the browser redraws the diagram) only
    # when the load really moves, which keeps a playing view fluid.
    state = "down" if down else (f"{round(utilisation, 1):.0%} busy" if utilisation is not None else "")
    border = ', penwidth=3, color="#b00020"' if bottleneck else ""
    return (f'  "{name}" [label="{label}\\n{state}", style="filled,rounded", shape=box, '
            f'fillcolor="{_colour(utilisation, down)}"{border}];')


def architecture_dot(sim: Simulation) -> str:
    """Return the DOT source of `sim`'s current architecture, coloured by its last window."""
    last = sim.windows[-1] if sim.windows else {}
    figures = last.get("instances") or {}
    down = set(sim.settings()["down"])
    names = sim.component_names()
    busiest = max((name for name in names if name not in down and figures.get(name)),
                  key=lambda name: figures[name]["utilisation"], default=None)
    if busiest is not None and figures[busiest]["utilisation"] < BUSY:
        busiest = None  # nothing is straining: no bottleneck to point at
    lines = ["digraph architecture {", "  rankdir=LR;", '  node [fontname="Helvetica"];',
             '  users [label="users", shape=oval];']
    tiers = {"web": [n for n in names if n.startswith("web-")],
             "db": [n for n in names if n.startswith("db-")],
             "llm": [n for n in names if not n.startswith(("web-", "db-"))]}
    for name in names:
        utilisation = figures.get(name, {}).get("utilisation")
        lines.append(_node(name, name, utilisation, name in down, name == busiest))
    entry = "users"
    if sim.balancer is not None:
        lines.append(f'  lb [label="load balancer\\n{sim.balancer.algorithm}", shape=box];')
        lines.append("  users -> lb;")
        entry = "lb"
    lines += [f'  {entry} -> "{web}";' for web in tiers["web"]]
    behind = tiers["web"]
    if sim.cache is not None:
        lines.append('  cache [label="response cache", shape=cylinder];')
        lines += [f'  "{web}" -> cache;' for web in behind]
    for tier in ("db", "llm"):
        lines += [f'  "{web}" -> "{node}";' for web in behind for node in tiers[tier]]
    lines.append("}")
    return "\n".join(lines)
