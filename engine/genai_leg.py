"""The GenAI leg of a request: from the web handler to the model's answer and back.

After its database reads, a request asks for an answer. A response cache may have one (exact, or
semantically close); otherwise a retrieval step may first fetch passages to add to the prompt; then
the token limits decide: the answer is capped, the user's budget is charged for the prompt and the
most the answer may use (the cap, or the model's longest answer when there is no cap: nobody knows
the answer's length in advance), or the request is refused with a 429. The LLM (one deployment or a
gateway) answers; the answer is stored in the cache and the user's unused reservation given back.
A call that fails or is refused uses nothing, so its whole reservation goes back.
"""

from __future__ import annotations

from engine.clock import after
from engine.request import Request


class GenAILeg:
    """The cache, retrieval, token-limit and LLM steps of a `Simulation`'s request journey."""

    def _call_llm(self, request: Request) -> None:
        """Send the request to the LLM (directly, or after a cache miss), after retrieval if there is one."""
        if self._retrieval is not None:
            after(self.env, self._search_time(), self._retrieved, request)
        else:
            self._admit_llm(request)

    def _retrieved(self, event) -> None:
        """The vector search came back: its passages join the prompt."""
        request = event._value
        request.prompt_tokens += self._retrieval.context_tokens
        self.recorder.window.retrievals += 1
        self._admit_llm(request)

    def _admit_llm(self, request: Request) -> None:
        """Call the LLM within the token limits: cap the answer, reserve the user's tokens or refuse."""
        if request.finished:
            return  # its web server crashed during the cache lookup or the retrieval
        cap = self._max_output
        if cap is not None and request.output_tokens > cap:
            request.output_tokens = cap
            self.recorder.window.truncated += 1
        if self._budgets is not None:
            reserve = request.prompt_tokens + self._reserve_output
            if not self._budgets.admit(request.user, reserve, self.env.now):
                self._finish(request, "rate_limited")
                return
            request.reserved = reserve
        if self._timeout_s is not None:  # the server notices the client leave at the deadline, not a window later
            after(self.env, max(request.deadline - self.env.now, 0.0), self._llm_deadline, request)
        self.llm.call(request)

    def _cache_hit(self, request: Request) -> None:
        """The cache had the answer: it streams back at once and no tokens are spent."""
        request.t_first_token = self.env.now
        window = self.recorder.window
        window.tokens_saved += request.prompt_tokens + request.output_tokens
        window.usd_saved += self.llm.price_usd(request)
        self._next_step(request)

    def _llm_answered(self, request: Request) -> None:
        """The LLM answered: store the answer (cache-aside) and settle the user's token budget."""
        if self.cache is not None:
            self.cache.fill(request)
        if self._budgets is not None:
            self._budgets.settle(request.user, request.reserved, request.prompt_tokens + request.output_tokens,
                                 self.env.now)
        self._next_step(request)

    def _llm_failed(self, request: Request) -> None:
        """The LLM call failed: the user's reservation goes back, and the request fails."""
        self._give_back_reservation(request)
        self._fail(request)

    def _llm_refused(self, request: Request) -> None:
        """Every deployment refused the call with a 429: the user's reservation goes back, and the app answers 429."""
        self._give_back_reservation(request)
        self._refused(request)

    def _give_back_reservation(self, request: Request) -> None:
        """Put back all the tokens the call reserved from the user's budget (it used none)."""
        if self._budgets is not None and request.reserved:
            self._budgets.settle(request.user, request.reserved, 0, self.env.now)
            request.reserved = 0
