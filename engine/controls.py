"""Live controls: what a learner or an instructor can change while the simulation runs.

Between two steps the architecture can be reshaped as an operator would reshape a running system:
scale the web tier out or in, give each replica more workers, put a load balancer in front or
switch its algorithm, change how fast users arrive, add or drain database and LLM replicas, take
any instance down and bring it back. Every change acts from the current simulated time; work in
flight finishes where it is. Values come from a user, so each one is checked here, with a message
that names the field, the value and what is allowed.
"""

from __future__ import annotations

from pydantic import ValidationError

from engine.balancer import LoadBalancer
from engine.cache import prompt_key_sampler
from engine.llm import LLMDeployment


class LiveControls:
    """The set_* methods of a `Simulation`, and what they are set to now."""

    def set_web_replicas(self, count: int) -> None:
        """Scale the web tier out or in; removed replicas drain."""
        self._check_range("web.replicas", count, 1, 1000)
        if count > 1 and self.balancer is None:
            raise ValueError("web.replicas: more than one replica needs a load balancer (set_load_balancer first)")
        if count > 1 and self.database is not None and self.database.spec.placement == "same_server":
            raise ValueError(f"web.replicas: {count} is not allowed: only 1 while database.placement is same_server")
        self._bill()
        self.web.set_replicas(count)
        self._update_infra_rate()

    def set_web_workers(self, workers: int) -> None:
        """Change the workers per web replica (vertical scaling)."""
        self._check_range("web.workers", workers, 1, 100_000)
        self.web.set_workers(workers)

    def set_load_balancer(self, algorithm: str) -> None:
        """Put a load balancer in front of the web tier, or switch its algorithm."""
        if self.balancer is None:
            self.balancer = LoadBalancer(algorithm, self.scenario.seed)
        else:
            self.balancer.set_algorithm(algorithm)

    def set_arrival_rate(self, rate_rps: float) -> None:
        """Change the base arrival rate in requests per second from now on."""
        self._check_range("traffic.rate_rps", rate_rps, 1e-9, 1e7)
        self.arrivals.set_rate(rate_rps)

    def set_db_read_replicas(self, count: int) -> None:
        """Add or drain database read replicas."""
        if self.database is None:
            raise ValueError("database.read_replicas: this scenario has no database")
        if self.database.spec.placement == "same_server" and count:
            raise ValueError("database.read_replicas: not allowed when database.placement is same_server")
        self._check_range("database.read_replicas", count, 0, 100)
        self._bill()
        self.database.set_read_replicas(count)
        self._update_infra_rate()

    def set_llm_replicas(self, count: int) -> None:
        """Add or drain self-hosted LLM replicas."""
        if not isinstance(self.llm, LLMDeployment) or self.llm.hosted:
            raise ValueError("llm.replicas: only a self_hosted LLM has replicas (behind a router: per deployment)")
        self._check_range("llm.replicas", count, 1, 10_000)
        self._bill()
        self.llm.set_replicas(count)
        self._update_infra_rate()

    def set_prompt_keys(self, **changes) -> None:
        """Change the prompt keys from now on: space, zipf_skew, paraphrase_share or questions_per_topic."""
        current = self._live_prompt_keys
        if current is None:
            raise ValueError("traffic.prompt_keys: this scenario has none (every prompt is unique)")
        try:
            keys = type(current).model_validate({**current.model_dump(), **changes})
        except ValidationError as exc:
            error = exc.errors()[0]
            raise ValueError(f"traffic.prompt_keys.{error['loc'][0]}: {error['input']!r} is not allowed: "
                             f"{error['msg'][0].lower()}{error['msg'][1:]}") from None
        self._live_prompt_keys = keys
        self._next_key = prompt_key_sampler(keys, self._key_rng)
        if self.cache is not None:
            self.cache.keys = keys

    def set_component_up(self, name: str, up: bool) -> None:
        """Take component `name` (see `component_names`) down or bring it back."""
        if not isinstance(up, bool):
            raise ValueError(f"up: {up!r} is not allowed: must be true or false")
        detect_s = self.scenario.load_balancer.health_check_s if self.balancer is not None and self.scenario.load_balancer else 0.0
        if self.web.set_up(name, up, detect_after_s=detect_s):
            return
        for tier in (self.database, self.llm):
            if tier is not None and tier.set_up(name, up):
                return
        raise ValueError(f"component: {name!r} is not allowed: choose one of {', '.join(self.component_names())}")

    def settings(self) -> dict:
        """Return what the live controls are set to now (the scenario plus every change since)."""
        database, llm = self.database, self.llm
        return {
            "rate_rps": self.arrivals.rate_setting_rps(),
            "web_replicas": sum(1 for r in self.web.replicas if not r.draining),
            "web_workers": self.web.workers,
            "load_balancer": self.balancer.algorithm if self.balancer is not None else None,
            "db_read_replicas": None if database is None else sum(1 for r in database.replicas if not r.draining),
            "llm_replicas": None if llm is None else sum(1 for r in llm.replicas if not r.draining),
            "down": [name for name, up in self._component_states() if not up],
            "prompt_keys": None if self._live_prompt_keys is None else self._live_prompt_keys.model_dump(),
        }

    def _component_states(self) -> list[tuple[str, bool]]:
        """Return (name, up) for every component that is not draining."""
        parts = [*self.web.replicas]
        if self.database is not None:
            parts += self.database.nodes()
        if self.llm is not None:
            parts += self.llm.replicas
        return [(part.name, part.up) for part in parts if not part.draining]

    def component_names(self) -> list[str]:
        """Return the names of the components that can be taken down."""
        return [name for name, _ in self._component_states()]

    @staticmethod
    def _check_range(field: str, value, low, high) -> None:
        """Refuse a live change outside its allowed range, or of the wrong type, with a message naming the field."""
        whole = isinstance(low, int)
        kinds = (int,) if whole else (int, float)
        if not isinstance(value, kinds) or isinstance(value, bool) or not low <= value <= high:
            kind = "a whole number" if whole else "a number"
            raise ValueError(f"{field}: {value!r} is not allowed: must be {kind} between {low:,} and {high:,}")
