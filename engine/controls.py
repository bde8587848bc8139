"""Live controls: what a learner or an instructor can change while the simulation runs.

Between two steps the architecture can be reshaped as an operator would reshape a running system:
scale the web tier out or in, give each replica more workers, put a load balancer in front or
switch its algorithm, change how fast users arrive, add or drain database and LLM replicas, take
any instance down and bring it back. Every change acts from the current simulated time; work in
flight finishes where it is. Values come from a user, so each one is checked here, with a message
that names the field, the value and what is allowed.

Every page, the curriculum and the classroom know the controls from one registry, `CONTROLS`: a
control's name, its label and unit in words, its range (read from the scenario schema, never
restated), how it acts on a simulation and how to read what it is set to now.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Literal

from pydantic import ValidationError

from engine.balancer import ALGORITHMS, LoadBalancer
from engine.cache import prompt_key_sampler
from engine.labels import names_in_words
from engine.llm import LLMDeployment


class LiveControls:
    """The levers of one running `Simulation` (its `controls`), and what they are set to now."""

    def __init__(self, sim):
        """Act on `sim`: its components, its traffic and its bill."""
        self.sim = sim

    def set_web_replicas(self, count: int) -> None:
        """Scale the web tier out or in; removed replicas drain."""
        self._check_range("web_replicas", count)
        if count > 1 and self.sim.balancer is None:
            raise ValueError("web.replicas: more than one replica needs a load balancer (set_load_balancer first)")
        if count > 1 and self.sim.database is not None and self.sim.database.spec.placement == "same_server":
            raise ValueError(f"web.replicas: {count} is not allowed: only 1 while database.placement is same_server")
        self.sim.billing.charge()
        self.sim.web.set_replicas(count)
        self.sim.billing.reprice()

    def set_web_workers(self, workers: int) -> None:
        """Change the workers per web replica (vertical scaling)."""
        self._check_range("web_workers", workers)
        self.sim.web.set_workers(workers)

    def set_load_balancer(self, algorithm: str) -> None:
        """Put a load balancer in front of the web tier, or switch its algorithm."""
        if self.sim.balancer is None:
            self.sim.balancer = LoadBalancer(algorithm, self.sim.scenario.seed)
        else:
            self.sim.balancer.set_algorithm(algorithm)

    def set_arrival_rate(self, rate_rps: float) -> None:
        """Change the base arrival rate in requests per second from now on."""
        self._check_range("rate_rps", rate_rps)
        self.sim.arrivals.set_rate(rate_rps)

    def set_db_read_replicas(self, count: int) -> None:
        """Add or drain database read replicas."""
        if self.sim.database is None:
            raise ValueError("database.read_replicas: this scenario has no database")
        if self.sim.database.spec.placement == "same_server" and count:
            raise ValueError("database.read_replicas: not allowed when database.placement is same_server")
        self._check_range("db_read_replicas", count)
        self.sim.billing.charge()
        self.sim.database.set_read_replicas(count)
        self.sim.billing.reprice()

    def set_llm_replicas(self, count: int) -> None:
        """Add or drain self-hosted LLM replicas."""
        if not isinstance(self.sim.llm, LLMDeployment) or self.sim.llm.hosted:
            raise ValueError("llm.replicas: only a self_hosted LLM has replicas (behind a router: per deployment)")
        self._check_range("llm_replicas", count)
        self.sim.billing.charge()
        self.sim.llm.set_replicas(count)
        self.sim.billing.reprice()

    def set_prompt_keys(self, **changes) -> None:
        """Change the prompt keys from now on: space, zipf_skew, paraphrase_share or questions_per_topic."""
        current = self.sim._live_prompt_keys
        if current is None:
            raise ValueError("traffic.prompt_keys: this scenario has none (every prompt is unique)")
        try:
            keys = type(current).model_validate({**current.model_dump(), **changes})
        except ValidationError as exc:
            error = exc.errors()[0]
            raise ValueError(f"traffic.prompt_keys.{error['loc'][0]}: {error['input']!r} is not allowed: "
                             f"{error['msg'][0].lower()}{error['msg'][1:]}") from None
        self.sim._live_prompt_keys = keys
        self.sim._next_key = prompt_key_sampler(keys, self.sim._key_rng)
        if self.sim.cache is not None:
            self.sim.cache.keys = keys

    def set_client_retries(self, retries: int) -> None:
        """Make clients send a failed or timed-out request again up to `retries` times from now on (0 = never)."""
        from engine.retries import RetryPolicy
        from engine.scenario import Retries

        self._check_range("client_retries", retries)
        if retries == 0:
            self.sim.retries = None
            return
        current = self.sim.retries.spec if self.sim.retries is not None else self.sim.scenario.traffic.retries
        spec = Retries.model_validate({**(current.model_dump() if current is not None else {}),
                                       "max_attempts": retries + 1})
        self.sim.retries = RetryPolicy(spec, self.sim.scenario.seed)

    def set_retry_budget(self, choice: str) -> None:
        """Give the retrying clients gRPC's retry budget ("on", full from now) or take it away ("off")."""
        from engine.retries import RetryPolicy
        from engine.scenario import RetryBudget

        if choice not in ("off", "on"):
            raise ValueError(f"traffic.retries.budget: {_shown(choice)} is not allowed: choose off or on")
        if self.sim.retries is None:
            raise ValueError("traffic.retries.budget: is not allowed while clients do not retry (set client_retries first)")
        budget = None
        if choice == "on":
            budget = (self.sim.scenario.traffic.retries.budget if self.sim.scenario.traffic.retries is not None
                      and self.sim.scenario.traffic.retries.budget is not None else RetryBudget())
        spec = type(self.sim.retries.spec).model_validate({**self.sim.retries.spec.model_dump(), "budget": budget})
        self.sim.retries = RetryPolicy(spec, self.sim.scenario.seed)

    def set_component_up(self, name: str, up: bool) -> None:
        """Take component `name` (see `component_names`) down or bring it back."""
        if not isinstance(up, bool):
            raise ValueError(f"up: {up!r} is not allowed: must be true or false")
        detect_s = self.sim.scenario.load_balancer.health_check_s if self.sim.balancer is not None and self.sim.scenario.load_balancer else 0.0
        if self.sim.web.set_up(name, up, detect_after_s=detect_s):
            return
        for tier in (self.sim.database, self.sim.llm):
            if tier is not None and tier.set_up(name, up):
                return
        raise ValueError(f"component: {str(name)[:40]!r} is not allowed: choose one of "
                         f"{names_in_words(self.component_names())}")

    def settings(self) -> dict:
        """Return what the live controls are set to now (the scenario plus every change since)."""
        database, llm = self.sim.database, self.sim.llm
        return {
            "rate_rps": self.sim.arrivals.rate_setting_rps(),
            "web_replicas": sum(1 for r in self.sim.web.replicas if not r.draining),
            "web_workers": self.sim.web.workers,
            "load_balancer": self.sim.balancer.algorithm if self.sim.balancer is not None else None,
            "db_read_replicas": None if database is None else sum(1 for r in database.replicas if not r.draining),
            "llm_replicas": None if llm is None else sum(1 for r in llm.replicas if not r.draining),
            "down": [name for name, up in self._component_states() if not up],
            "prompt_keys": None if self.sim._live_prompt_keys is None else self.sim._live_prompt_keys.model_dump(),
            "client_retries": 0 if self.sim.retries is None else self.sim.retries.spec.max_attempts - 1,
            "retry_budget": None if self.sim.retries is None else ("on" if self.sim.retries.spec.budget else "off"),
        }

    def _component_states(self) -> list[tuple[str, bool]]:
        """Return (name, up) for every component that is not draining."""
        parts = [*self.sim.web.replicas]
        if self.sim.database is not None:
            parts += self.sim.database.nodes()
        if self.sim.llm is not None:
            parts += self.sim.llm.replicas
        return [(part.name, part.up) for part in parts if not part.draining]

    def component_names(self) -> list[str]:
        """Return the names of the components that can be taken down."""
        return [name for name, _ in self._component_states()]

    @staticmethod
    def _check_range(name: str, value) -> None:
        """Refuse a value outside control `name`'s range, or of the wrong type, with a message naming the field."""
        control = CONTROLS[name]
        low, high = control.bounds
        whole = control.kind == "integer"
        kinds = (int,) if whole else (int, float)
        if (not isinstance(value, kinds) or isinstance(value, bool) or not math.isfinite(value)
                or not (low < value if control.low_open else low <= value) or not value <= high):
            kind = "a whole number" if whole else "a number"
            span = f"above {low:,} and at most {high:,}" if control.low_open else f"between {low:,} and {high:,}"
            raise ValueError(f"{control.field}: {_shown(value)} is not allowed: must be {kind} {span}")


# --- the registry: every live control once, with its label, its range (from the schema) and how it acts ---


def _schema_bounds(model, field: str) -> dict:
    """Return the range a scenario field allows, read from its pydantic constraints: bounds and low_open."""
    bounds = {"low": None, "high": None, "low_open": False}
    for constraint in model.model_fields[field].metadata:
        if getattr(constraint, "ge", None) is not None:
            bounds["low"] = constraint.ge
        if getattr(constraint, "gt", None) is not None:
            bounds.update(low=constraint.gt, low_open=True)
        if getattr(constraint, "le", None) is not None:
            bounds["high"] = constraint.le
    return {"bounds": (bounds["low"], bounds["high"]), "low_open": bounds["low_open"]}


def _set_down(sim, names: list[str]) -> None:
    """Take the components in `names` down and bring every other one up."""
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ValueError(f"down: {str(names)[:80]!r} is not allowed: must be a list of component names")
    known = sim.controls.component_names()
    unknown = set(names) - set(known)
    if unknown:
        raise ValueError(f"down: {', '.join(repr(n[:40]) for n in sorted(unknown)[:5])} is not allowed: choose from "
                         f"{names_in_words(known)}")
    down = set(names)
    for name in known:
        sim.controls.set_component_up(name, name not in down)


def _self_hosted(sim) -> bool:
    """Return whether the simulation runs one self-hosted LLM deployment (whose replicas a control can set)."""
    return isinstance(sim.llm, LLMDeployment) and not sim.llm.hosted


@dataclass(frozen=True)
class Control:
    """One setting a learner can change while a simulation runs.

    `bounds` come from the scenario schema's own constraints (`field` names it), so a control never
    offers a value the format refuses, and `read(sim)` returns what the simulation runs with now
    (None when the control does not apply to it: no database, no prompt keys...).
    """

    name: str
    label: str
    unit: str
    kind: Literal["number", "integer", "choice", "components"]
    field: str  # where the value lives in a scenario: what messages and the docs call it
    apply: Callable
    read: Callable
    help: str = ""
    bounds: tuple = (None, None)
    low_open: bool = False  # the low bound itself is not allowed (a rate above 0)
    choices: tuple = ()
    step: float = 1

    def applies(self, sim) -> bool:
        """Return whether this control can act on `sim` at all."""
        return self.name in ("load_balancer", "down") or self.read(sim) is not None


def _controls() -> dict[str, Control]:
    """Build the registry; bounds are read from the schema once, here."""
    from engine.scenario import Database, PromptKeys, Retries, SelfHostedLLM, Traffic, Web

    controls = [
        Control("rate_rps", "Arrival rate", "req/s", "number", "traffic.rate_rps",
                lambda sim, v: sim.controls.set_arrival_rate(v), lambda sim: sim.arrivals.rate_setting_rps(),
                help="Requests per second arriving; a ramp, spike or daily cycle multiplies it.",
                **_schema_bounds(Traffic, "rate_rps"), step=0.5),
        Control("web_replicas", "Web replicas", "replicas", "integer", "web.replicas",
                lambda sim, v: sim.controls.set_web_replicas(v), lambda sim: sim.controls.settings()["web_replicas"],
                help="More than one needs a load balancer. Removed replicas finish their work, then leave.",
                **_schema_bounds(Web, "replicas")),
        Control("load_balancer", "Load balancing", "", "choice", "load_balancer.algorithm",
                lambda sim, v: sim.controls.set_load_balancer(v), lambda sim: sim.controls.settings()["load_balancer"],
                help="How the balancer picks a web replica; choosing one puts a balancer in front.",
                choices=tuple(ALGORITHMS)),
        Control("web_workers", "Workers per replica", "workers", "integer", "web.workers",
                lambda sim, v: sim.controls.set_web_workers(v), lambda sim: sim.controls.settings()["web_workers"],
                help="Requests one web replica works on at once (threads, or async tasks).",
                **_schema_bounds(Web, "workers")),
        Control("db_read_replicas", "Database read replicas", "replicas", "integer", "database.read_replicas",
                lambda sim, v: sim.controls.set_db_read_replicas(v),
                lambda sim: (sim.controls.settings()["db_read_replicas"]
                             if sim.database is not None and sim.database.spec.placement == "separate" else None),
                help="Copies of the database that serve reads; writes still go to the primary.",
                **_schema_bounds(Database, "read_replicas")),
        Control("zipf_skew", "Popularity skew", "", "number", "traffic.prompt_keys.zipf_skew",
                lambda sim, v: sim.controls.set_prompt_keys(zipf_skew=v),
                lambda sim: (sim.controls.settings()["prompt_keys"] or {}).get("zipf_skew"),
                help="How concentrated the questions are: 0, all equally likely; 1 and more, a few very popular.",
                **_schema_bounds(PromptKeys, "zipf_skew"), step=0.1),
        Control("llm_replicas", "LLM replicas", "replicas", "integer", "llm.replicas",
                lambda sim, v: sim.controls.set_llm_replicas(v),
                lambda sim: sim.controls.settings()["llm_replicas"] if _self_hosted(sim) else None,
                help="Self-hosted model servers (GPU instances).",
                **_schema_bounds(SelfHostedLLM, "replicas")),
        Control("client_retries", "Client retries", "per request", "integer", "traffic.retries",
                lambda sim, v: sim.controls.set_client_retries(v), lambda sim: sim.controls.settings()["client_retries"],
                help="Times a client sends a failed or timed-out request again (0 = never), after a jittered "
                     "back-off; its attempts in all are one more.",
                # attempts in all less the first; 0 = no retries (the schema's own minimum is 2 attempts)
                bounds=(0, _schema_bounds(Retries, "max_attempts")["bounds"][1] - 1)),
        Control("retry_budget", "Retry budget", "", "choice", "traffic.retries.budget",
                lambda sim, v: sim.controls.set_retry_budget(v), lambda sim: sim.controls.settings()["retry_budget"],
                help="gRPC's retry throttling: retries stop while failures outnumber successes (about 10 % "
                     "retries allowed).", choices=("off", "on")),
        Control("down", "Components down", "", "components", "failures",
                _set_down, lambda sim: sim.controls.settings()["down"],
                help="Take a component down; remove it here to bring it back."),
    ]
    return {control.name: control for control in controls}


CONTROLS: dict[str, Control] = _controls()


def live_changes(sim) -> dict:
    """Return the changes to `sim.scenario` that make it the architecture and traffic running now.

    What a learner changed live (replicas, workers, balancer, rate, read replicas, popularity, LLM
    replicas, client retries and their budget) becomes part of the scenario, so what a team shares
    or saves is what it saw run. Two things stay out: components taken down (a live fault, not part
    of the architecture) and replica counts an autoscaler set (the autoscaler decides them again).
    """
    scenario, now = sim.scenario, sim.controls.settings()
    traffic = scenario.traffic
    changes: dict = {}

    def put(path: str, value) -> None:
        node = changes
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value

    rate = now["rate_rps"]
    if rate is not None:
        if traffic.users is not None:
            if not math.isclose(rate, traffic.users.rate_rps(), rel_tol=1e-9):
                users = traffic.users
                put("traffic.users.daily_active", max(1, round(rate * 86_400 / (users.requests_per_user_per_day
                                                                                * users.peak_to_average))))
        elif traffic.trace is not None:
            speedup = rate / sim.arrivals.base_rate_rps
            if not math.isclose(speedup, traffic.trace.speedup, rel_tol=1e-9):
                put("traffic.trace.speedup", speedup)
        elif traffic.rate_rps is not None and not math.isclose(rate, traffic.rate_rps, rel_tol=1e-12):
            put("traffic.rate_rps", rate)
    if scenario.web.autoscale is None and now["web_replicas"] != scenario.web.replicas:
        put("web.replicas", now["web_replicas"])
    if now["web_workers"] != scenario.web.workers_per_replica():
        put("web.workers", now["web_workers"])
    if now["load_balancer"] is not None and (scenario.load_balancer is None
                                             or now["load_balancer"] != scenario.load_balancer.algorithm):
        put("load_balancer.algorithm", now["load_balancer"])
    database = scenario.database
    if database is not None and now["db_read_replicas"] is not None and now["db_read_replicas"] != database.read_replicas:
        put("database.read_replicas", now["db_read_replicas"])
    keys = now["prompt_keys"]
    if keys is not None and traffic.prompt_keys is not None and keys != traffic.prompt_keys.model_dump():
        put("traffic.prompt_keys", keys)
    llm = scenario.llm
    if (now["llm_replicas"] is not None and _self_hosted(sim) and getattr(llm, "autoscale", None) is None
            and now["llm_replicas"] != llm.replicas):
        put("llm.replicas", now["llm_replicas"])
    running = sim.retries.spec.model_dump() if sim.retries is not None else None
    if running != (traffic.retries.model_dump() if traffic.retries is not None else None):
        put("traffic.retries", running)
    return changes


def running_scenario(sim, name: str | None = None, description: str | None = None):
    """Return the scenario running now (the live changes made part of it), renamed if asked, through the
    validated door: what a share link, a download or a save carries."""
    from engine.loading import derive

    changes = live_changes(sim)
    if name is not None:
        changes["name"] = name
    if description is not None:
        changes["description"] = description
    return derive(sim.scenario, changes, "the running scenario") if changes else sim.scenario


def apply_control(sim, name: str, value) -> None:
    """Apply control `name` to `sim`, or raise ValueError naming the control, the value and what is allowed."""
    control = CONTROLS.get(name) if isinstance(name, str) else None
    if control is None:
        raise ValueError(f"control: {str(name)[:40]!r} is not allowed: choose one of {', '.join(CONTROLS)}")
    control.apply(sim, value)


def read_controls(sim) -> dict:
    """Return every control's value as `sim` runs it now (None where a control does not apply)."""
    return {name: control.read(sim) for name, control in CONTROLS.items()}


def _shown(value) -> str:
    """Return a value as a message shows it: its repr, cut to 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
