"""The instance bill: every machine that exists is paid for by the second, at its hourly price.

Web replicas, database nodes, the cache node and self-hosted GPU replicas are billed whether they
are busy or not, from the moment they are started (a warming replica costs money before it serves)
until a drained one has left. The bill is charged to the metrics window being filled, so spend per
second moves as soon as the architecture changes; tokens are billed separately, per call, by the LLM.
"""

from __future__ import annotations


class Billing:
    """Charges the instances of the web tier, the database, the cache and the LLM to the current window."""

    def __init__(self, env, scenario, recorder, web, database, llm):
        """Bill the components of `scenario` from the current simulated time on."""
        self.env = env
        self._recorder = recorder
        self._web, self._database, self._llm = web, database, llm
        self._partitions = scenario.database.partitions if scenario.database else 0
        self._prices = (  # USD per instance-hour: web replica, database node, cache
            scenario.web.hourly_price_usd(),
            scenario.database.hourly_price_usd() if scenario.database else 0.0,
            scenario.cache.hourly_price_usd() if scenario.cache else 0.0,
        )
        self._usd_per_s = 0.0
        self._t_billed = env.now
        self.reprice()

    def charge(self) -> None:
        """Charge instance time since the last charge to the current window."""
        now = self.env.now
        self._recorder.window.usd_infra += (now - self._t_billed) * self._usd_per_s
        self._t_billed = now

    def reprice(self) -> None:
        """Recompute the price per second from the instances that exist now (call `charge` first)."""
        web_price, db_price, cache_price = self._prices
        per_hour = len(self._web.replicas) * web_price + cache_price
        if self._database is not None:
            per_hour += (self._partitions + len(self._database.replicas)) * db_price
        if self._llm is not None:
            per_hour += self._llm.hourly_usd()
        self._usd_per_s = per_hour / 3600

    def resized(self) -> None:
        """A fleet changed size: bill the old size up to now, the new one from now."""
        self.charge()
        self.reprice()
