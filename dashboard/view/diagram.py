"""The architecture diagram: what the simulation runs right now, and what limits each part of it.

Columns follow a request: users, the load balancer, the web replicas, and what the web tier calls
(the cache, the database, the LLM), each fed by the web tier. Each node says what limits it over the chosen span: how busy it is, how many requests wait in
front of it, the errors it causes (503s at the web tier, 429s at a provider, stale reads at a
replica). A hosted LLM has no servers of ours to be busy, so it shows the calls in flight and its
share of the time a request takes. Nodes are coloured by load (green, amber, red), a component
that is down is grey, the busiest one (the bottleneck) gets a heavy border, and each arrow is as
wide as the requests that flow along it. A tier with many replicas is drawn as one node.

The diagram is plain data (columns of nodes, and edges); the live view component draws it with
the browser's own text nodes, so no name from a scenario is ever read as markup.
"""

from __future__ import annotations

from engine import Simulation
from engine.labels import ALGORITHM_LABELS, format_value

BUSY, SATURATED = 0.6, 0.85  # utilisation where a node turns amber, then red
MAX_NODES = 6  # replicas of one tier drawn one by one; more are drawn as one node


def topology(sim: Simulation) -> dict:
    """Return what the diagram needs to know of the architecture (not its load): tiers, names, kinds."""
    scenario = sim.scenario
    models = sim.llm_deployments()
    deployments = [{"prefix": model.prefix, "title": "LLM" if len(models) == 1 else model.prefix,
                    "hosted": model.hosted} for model in models]
    return {
        "balancer": sim.balancer.algorithm if sim.balancer is not None else None,
        "web": [r.name for r in sim.web.replicas if not r.draining],
        "db": [] if sim.database is None else [n.name for n in sim.database.nodes() if not n.draining],
        "cache": None if scenario.cache is None else ("semantic" if scenario.cache.semantic else "exact"),
        "deployments": deployments,
        "llm": [r.name for m in models for r in m.replicas if not r.draining],
        "down": sim.controls.settings()["down"],
    }


def _mean_instances(windows: list[dict]) -> dict[str, dict]:
    """Return each instance's figures averaged over `windows` (raw window records)."""
    sums: dict[str, dict] = {}
    counts: dict[str, int] = {}
    for window in windows:
        for name, figures in (window.get("instances") or {}).items():
            total = sums.setdefault(name, dict.fromkeys(figures, 0.0))
            for key, value in figures.items():
                total[key] = total.get(key, 0.0) + (value or 0.0)
            counts[name] = counts.get(name, 0) + 1
    return {name: {k: v / counts[name] for k, v in total.items()} for name, total in sums.items()}


def _deployment_figures(windows: list[dict]) -> dict[str, dict]:
    """Return each gateway deployment's calls and 429s per second over `windows`."""
    seconds = sum(w["t_end_s"] - w["t_start_s"] for w in windows) or 1.0
    totals: dict[str, dict] = {}
    for window in windows:
        for name, figures in (window.get("deployments") or {}).items():
            total = totals.setdefault(name, {"calls": 0, "llm_429s": 0})
            total["calls"] += figures.get("calls", 0)
            total["llm_429s"] += figures.get("llm_429s", 0)
    return {name: {key: value / seconds for key, value in total.items()} for name, total in totals.items()}


def _state(utilisation: float | None, down: bool) -> str:
    """Return a node's load state: idle, busy, saturated or down."""
    if down:
        return "down"
    if utilisation is None or utilisation < BUSY:
        return "idle"
    return "busy" if utilisation < SATURATED else "saturated"


def _rate(value: float) -> str:
    """Write a per-second rate."""
    return format_value(value, "req/s")


def _percent(share: float | None) -> str:
    """Write a share as whole per cent (a diagram is read at a glance)."""
    return "–" if share is None else f"{share * 100:.0f} %"


def _count(value: float) -> str:
    """Write a time-averaged count of requests: one decimal below 10."""
    return f"{value:.1f}" if value < 10 else format_value(round(value), "requests")


def _busy_lines(figures: dict) -> list[str]:
    """Return what limits a server: how busy it is and how many wait in front of it."""
    lines = [f"{_percent(figures.get('utilisation', 0.0))} busy"]
    if figures.get("queue_length", 0.0) >= 0.05:
        lines.append(f"{_count(figures['queue_length'])} waiting")
    return lines


def _group(names: list[str], figures: dict[str, dict], down: set[str], title: str, node_id: str) -> list[dict]:
    """Return one node per instance, or one node for the whole tier when it has more than MAX_NODES."""
    if len(names) <= MAX_NODES:
        return [{"id": name, "title": name, "lines": ["down"] if name in down else _busy_lines(figures.get(name, {})),
                 "state": _state(figures.get(name, {}).get("utilisation"), name in down),
                 "utilisation": None if name in down else figures.get(name, {}).get("utilisation"),
                 "rps": figures.get(name, {}).get("started_rps", 0.0)} for name in names]
    up = [figures.get(name, {}) for name in names if name not in down]
    mean = sum(f.get("utilisation", 0.0) for f in up) / len(up) if up else None
    peak = max((f.get("utilisation", 0.0) for f in up), default=None)
    waiting = sum(f.get("queue_length", 0.0) for f in up)
    lines = [f"{_percent(mean)} busy on average", f"busiest {_percent(peak)}"]
    if waiting >= 0.05:
        lines.append(f"{_count(waiting)} waiting")
    if down & set(names):
        lines.append(f"{len(down & set(names))} down")
    return [{"id": node_id, "title": f"{title} × {len(names)}", "lines": lines, "state": _state(peak, not up),
             "utilisation": peak, "rps": sum(f.get("started_rps", 0.0) for f in up)}]


def diagram(topo: dict, windows: list[dict], rolled: dict | None) -> dict:
    """Return the diagram's columns of nodes and its edges, from the topology and the span's window records.

    `rolled` is the record over the span (counts and rates); `windows` are its raw windows, whose
    per-instance figures are averaged.
    """
    figures = _mean_instances(windows)
    rolled = rolled or {}
    seconds = (rolled.get("t_end_s", 0.0) - rolled.get("t_start_s", 0.0)) or 1.0
    per_s = {key: (rolled.get(key) or 0) / seconds for key in
             ("arrivals", "timed_out", "failed", "dropped", "rate_limited", "stale_reads", "false_hits", "cache_hits",
              "semantic_hits", "cache_misses")}
    down = set(topo.get("down") or [])
    users_lines = [f"{_rate(per_s['arrivals'])} arriving"]
    for key, text in (("timed_out", "gave up"), ("failed", "failed")):
        if per_s[key] > 0:
            users_lines.append(f"{text}: {_rate(per_s[key])}")
    columns = [[{"id": "users", "title": "users", "lines": users_lines, "state": "users", "rps": per_s["arrivals"]}]]
    edges = []
    entry = "users"
    if topo.get("balancer"):
        columns.append([{"id": "lb", "title": "load balancer",
                         "lines": [ALGORITHM_LABELS.get(topo["balancer"], topo["balancer"])], "state": "idle",
                         "rps": per_s["arrivals"]}])
        edges.append({"from": "users", "to": "lb", "rps": per_s["arrivals"]})
        entry = "lb"
    web = _group(topo.get("web") or [], figures, down, "web", "web")
    if per_s["dropped"] > 0:
        web[0]["lines"].append(f"503s: {_rate(per_s['dropped'])}")
    columns.append(web)
    edges += [{"from": entry, "to": node["id"], "rps": node["rps"]} for node in web]
    behind = [node["id"] for node in web]
    services = []  # what the web tier calls, in the order a request does: one column, each fed by the web tier
    if topo.get("cache"):
        lookups = sum(per_s[k] for k in ("cache_hits", "semantic_hits", "false_hits", "cache_misses"))
        served = per_s["cache_hits"] + per_s["semantic_hits"]
        lines = [f"{_percent(served / lookups if lookups else None)} answered",
                 f"{_rate(lookups)} lookups"]
        if per_s["false_hits"] > 0:
            lines.append(f"wrong answers: {_rate(per_s['false_hits'])}")
        services.append({"id": "cache", "title": f"{topo['cache']} cache", "lines": lines,
                         "state": "busy" if per_s["false_hits"] > 0 else "idle", "rps": lookups})
    db_names = topo.get("db") or []
    if db_names:
        primary = [name for name in db_names if name == "db-primary" or name.startswith("db-partition")]
        replicas = [name for name in db_names if name not in primary]
        nodes = _group(primary, figures, down, "database primary", "db-primaries")
        replica_nodes = _group(replicas, figures, down, "read replica", "db-replicas") if replicas else []
        if replica_nodes and per_s["stale_reads"] > 0:
            replica_nodes[0]["lines"].append(f"stale reads: {_rate(per_s['stale_reads'])}")
        services += nodes + replica_nodes
    services += _llm_nodes(topo, figures, down, _deployment_figures(windows), rolled, per_s)
    if services:
        columns.append(services)
        edges += [{"from": name, "to": node["id"], "rps": node["rps"] / len(behind)}
                  for name in behind for node in services]
    _mark_bottleneck(columns)
    for edge in edges:
        edge["label"] = _rate(edge["rps"]) if edge["rps"] >= 0.005 else ""
    return {"columns": columns, "edges": edges}


def _llm_nodes(topo: dict, figures: dict, down: set, deployments: dict, rolled: dict, per_s: dict) -> list[dict]:
    """Return the LLM's nodes: replicas of a self-hosted model, or a hosted API's calls in flight and share of time."""
    nodes = []
    names = topo.get("llm") or []
    latency = rolled.get("latency_mean_s")
    for deployment in topo.get("deployments") or []:
        prefix = deployment["prefix"]
        own = [name for name in names if name.rsplit("-", 1)[0] == prefix]
        gateway = deployments.get(prefix)
        if deployment["hosted"]:
            up = [figures.get(name, {}) for name in own if name not in down]
            in_flight = sum(f.get("in_service", 0.0) for f in up)
            started = sum(f.get("started_rps", 0.0) for f in up)
            call_s = in_flight / started if started else None
            lines = [f"{_count(in_flight)} calls in flight"]
            if call_s is not None and latency:
                lines.append(f"{_percent(min(call_s / latency, 1.0))} of a request's time")
            state = "down" if own and not up else "idle"
            if gateway and gateway["llm_429s"] > 0:
                lines.append(f"429s: {_rate(gateway['llm_429s'])}")
                state = "saturated"
            title = f"{deployment['title']} (hosted API)"
            nodes.append({"id": prefix, "title": title, "lines": lines, "state": state, "utilisation": None,
                          "rps": started})
        else:
            group = _group(own, figures, down, deployment["title"], prefix)
            for node in group:
                # running calls over what fits: batch slots or KV-cache room, whichever is short
                node["lines"] = [line.replace(" busy on average", " of batch room (mean)", 1).replace(" busy", " of batch room", 1)
                                 for line in node["lines"]]
                if gateway and gateway["llm_429s"] > 0:
                    node["lines"].append(f"429s: {_rate(gateway['llm_429s'])}")
            nodes += group
    if nodes and per_s["rate_limited"] > 0:
        nodes[0]["lines"].append(f"refused (429): {_rate(per_s['rate_limited'])}")
    return nodes


def _mark_bottleneck(columns: list[list[dict]]) -> None:
    """Give the busiest server the heavy border, if anything strains at all."""
    servers = [node for column in columns for node in column if node.get("utilisation") is not None]
    busiest = max(servers, key=lambda node: node["utilisation"], default=None)
    for column in columns:
        for node in column:
            node["bottleneck"] = node is busiest and busiest["utilisation"] >= BUSY
