"""The GenAI leg of a request: from the web handler to the model's answer and back.

After its database reads, a request asks for an answer. A response cache may have one (exact, or
semantically close); otherwise a retrieval step may first fetch passages to add to the prompt; then
the token limits decide: the answer is capped, the user's budget is charged for the prompt and the
most the answer may use (the cap, or the model's longest answer when there is no cap: nobody knows
the answer's length in advance), or the request is refused with a 429. The LLM (one deployment or a
gateway) answers; the answer is stored in the cache and the user's unused reservation given back.
A call that fails or is refused uses nothing, so its whole reservation goes back. A client who
gives up while the model works has its call aborted at that moment (vLLM frees its batch slot).
"""

from __future__ import annotations

import math

from engine.cache import Cache
from engine.clock import after
from engine.deadlines import Deadlines
from engine.distributions import sampler
from engine.limits import UserBudgets
from engine.llm import LLMDeployment
from engine.randomness import stream
from engine.request import Lookup, Outcomes, Request
from engine.router import Router
from engine.scenario import LLMRouter as LLMRouterSpec, Scenario


class GenAILeg:
    """The cache, retrieval, token-limit and LLM steps of a request's journey."""

    def __init__(self, env, scenario: Scenario, recorder, journey: Outcomes):
        """Build the cache and the LLM of `scenario` (which must have an LLM).

        The request goes back to the journey when its answer is in (`journey.done`), or ends:
        `journey.failed`, `journey.refused` (a 429), and `journey.gone` when its client gave up
        waiting for the model (counted there; the call is aborted here).
        """
        self.env = env
        self.recorder = recorder
        self._journey = journey
        seed = scenario.seed
        self._timeout_s = scenario.traffic.client_timeout_s
        # The server notices a client leave at its deadline (not a window later): one timer watches them all.
        self._deadlines = Deadlines(env, self._client_gone, over=_settled) if self._timeout_s is not None else None
        window_of = self._window
        self.cache = (Cache(env, scenario.cache, scenario.traffic.prompt_keys, seed, window_of,
                            Lookup(hit=self._cache_hit, miss=self._call_llm)) if scenario.cache else None)
        self._retrieval = scenario.retrieval
        if scenario.retrieval is not None:
            self._search_time = sampler(scenario.retrieval.search_ms, stream(seed, "retrieval.search"))
        limits = scenario.token_limits
        self._max_output = limits.max_output_tokens if limits else None
        self.budgets = (UserBudgets(limits.per_user_tokens_per_minute, limits.per_user_tokens_per_day)  # or None
                         if limits and limits.per_user_tokens_per_minute else None)
        budgets = self.budgets is not None  # (UserBudgets has a length: an empty one is still there)
        answered = Outcomes(done=self._answered if scenario.cache or budgets else journey.done,
                            failed=self._failed if budgets else journey.failed,
                            refused=self._refused if budgets else journey.refused,
                            gone=self._failed if budgets else journey.failed)  # an aborted call's budget goes back
        gateway = scenario.llm if isinstance(scenario.llm, LLMRouterSpec) else None
        if gateway is None and (scenario.llm.limits or getattr(scenario.llm, "error_rate", 0)):
            gateway = LLMRouterSpec(deployments=[scenario.llm])  # limits and errors need a client that retries
        # A user's budget reserves the cap, or without one the longest answer any deployment may give.
        models = gateway.deployments if gateway else [scenario.llm]
        self._reserve_output = (self._max_output if self._max_output is not None
                                else max(d.model_max_output_tokens for d in models))
        self.llm = (Router(env, gateway, seed, window_of, answered, self._max_output) if gateway is not None
                    else LLMDeployment(env, scenario.llm, window_of, answered, seed=seed))

    def _window(self):
        """Return the metrics window being filled."""
        return self.recorder.window

    def models(self) -> list[LLMDeployment]:
        """Return the LLM deployments, behind a gateway or alone."""
        if isinstance(self.llm, Router):
            return [d.model for d in self.llm.deployments.values()]
        return [self.llm]

    # --- a request's way to its answer ---------------------------------------------------------

    def ask(self, request: Request) -> None:
        """The request wants its answer: from the cache if it has one, else from the model."""
        if self.cache is not None:
            self.cache.lookup(request)
        else:
            self._call_llm(request)

    def _call_llm(self, request: Request) -> None:
        """Send the request to the LLM (directly, or after a cache miss), after retrieval if there is one."""
        if self._retrieval is not None:
            after(self.env, self._search_time(), self._retrieved, request)
        else:
            self._admit(request)

    def _retrieved(self, request) -> None:
        """The vector search came back: its passages join the prompt."""
        request.prompt_tokens += self._retrieval.context_tokens
        self.recorder.window.retrievals += 1
        self._admit(request)

    def _admit(self, request: Request) -> None:
        """Call the LLM within the token limits: cap the answer, reserve the user's tokens or refuse."""
        if request.finished:
            return  # its web server crashed during the cache lookup or the retrieval
        cap = self._max_output
        if cap is not None and request.output_tokens > cap:
            request.output_tokens = cap
            self.recorder.window.truncated += 1
        if self.budgets is not None:
            reserve = request.prompt_tokens + self._reserve_output
            if not self.budgets.admit(request.user, reserve, self.env.now):
                self._journey.refused(request)
                return
            request.reserved = reserve
        if self._deadlines is not None:
            self._deadlines.watch(request.deadline, request)
        self.llm.call(request)

    def _client_gone(self, request: Request) -> None:
        """The client's deadline passed while the model worked: it has gone, and the call is aborted."""
        self._journey.gone(request)
        self.llm.abort(request)  # (unless the deployment keeps such calls: cancel_on_disconnect false)

    def _cache_hit(self, request: Request) -> None:
        """The cache had the answer: it streams back at once and no tokens are spent."""
        request.t_first_token = self.env.now
        window = self.recorder.window
        window.tokens_saved += request.prompt_tokens + request.output_tokens
        window.usd_saved += self.llm.price_usd(request)
        self._journey.done(request)

    # --- what the model's answer settles -----------------------------------------------------------

    def _answered(self, request: Request) -> None:
        """The LLM answered: store the answer (cache-aside) and settle the user's token budget."""
        if self.cache is not None:
            self.cache.fill(request)
        if self.budgets is not None:
            self.budgets.settle(request.user, request.reserved, request.prompt_tokens + request.output_tokens,
                                 self.env.now)
        self._journey.done(request)

    def _failed(self, request: Request) -> None:
        """The LLM call failed (or was aborted): the user's reservation goes back, and the request fails."""
        self._give_back_reservation(request)
        self._journey.failed(request)

    def _refused(self, request: Request) -> None:
        """Every deployment refused the call with a 429: the user's reservation goes back, and the app answers 429."""
        self._give_back_reservation(request)
        self._journey.refused(request)

    def _give_back_reservation(self, request: Request) -> None:
        """Put back all the tokens the call reserved from the user's budget (it used none)."""
        if self.budgets is not None and request.reserved:
            self.budgets.settle(request.user, request.reserved, 0, self.env.now)
            request.reserved = 0


def _settled(request: Request) -> bool:
    """Return True when the request needs no deadline any more: it ended, its client was already counted gone, or
    its answer is streaming (the client reads on to the last token)."""
    return request.finished or request.abandoned or request.deadline == math.inf
