"""A request: one user's question travelling through the architecture and back.

It arrives with a user id, a prompt and an expected answer length, waits for a web worker, runs
its handler, reads from the database, calls the LLM, writes the answer back, and returns. Along the
way it notes the times a learner cares about: when it arrived, when it queued, when its first
token came back. Its client waits until `deadline` and no longer (each attempt has its own, when the
client retries; `t_arrival` stays the first attempt's, so latency is what the user waited); after that whatever happens to
the request counts as timed out, and the servers may still be working on it, as real servers are
after a client disconnects (an LLM call is aborted, unless its deployment keeps such calls).
"""


class Request:
    """The state of one simulated request (plain slots: millions are made per run)."""

    __slots__ = (
        "user", "t_arrival", "deadline", "prompt_tokens", "output_tokens", "t_queued", "t_first_token",
        "abandoned", "finished", "replica", "holds_worker", "reads_left", "writes_left", "llm_called", "llm_seq",
        "db_node", "db_is_write", "db_pool", "pool_deadline", "llm_replica", "prompt_key", "reworded",
        "reserved", "llm_call", "attempt", "conversation", "streams", "history",
    )

    def __init__(self, user: int, t_arrival: float, deadline: float, prompt_tokens: int, output_tokens: int,
                 reads: int, writes: int):
        """Create a request that arrived at `t_arrival`, whose client leaves after `deadline`, doing `reads` and `writes` queries."""
        self.user = user
        self.t_arrival = t_arrival
        self.deadline = deadline
        self.prompt_tokens = prompt_tokens
        self.output_tokens = output_tokens
        self.reads_left = reads
        self.writes_left = writes
        # Set when first needed, never read before: t_queued, db_node, db_is_write, db_pool (the
        # connection pool a query borrowed from), pool_deadline, llm_replica,
        # prompt_key (drawn at arrival when the traffic has prompt keys), reworded (at the cache lookup),
        # reserved (tokens held against the user's budget during the LLM call), llm_call (what an LLM
        # gateway keeps while it retries and falls back, engine/router.py), llm_seq (the call's place in an
        # LLM replica, engine/llm_replica.py).
        self.replica = None  # the web replica that took it in
        self.t_first_token = None
        self.abandoned = False
        self.finished = False
        self.holds_worker = False
        self.llm_called = False
        self.conversation = None  # the chat it belongs to, if any (engine/traffic.py)
        self.history = 0  # of its prompt tokens, those that are the chat's earlier turns, sent again
        self.streams = False  # the answer is streamed: the client waits for the rest once the first token is out
        self.attempt = 1  # a client's retry is a new Request with the first one's t_arrival and the next number


class Outcomes:
    """Where a component hands a request back once its part is done: on to the next step, or out.

    The database, an LLM deployment and the gateway each take one, named, instead of a row of
    positional callbacks whose order a caller could mix up.
    """

    __slots__ = ("done", "failed", "refused", "gone")

    def __init__(self, done, failed, refused=None, gone=None):
        """`done(request)`: its part went well; `failed`: an error the client sees; `refused`: a 429
        (default: `failed`); `gone`: its call was dropped because the client left (default: `failed`)."""
        self.done = done
        self.failed = failed
        self.refused = refused if refused is not None else failed
        self.gone = gone if gone is not None else failed


class Lookup:
    """Where a cache hands a request back: with the answer (`hit`), or without it (`miss`)."""

    __slots__ = ("hit", "miss")

    def __init__(self, hit, miss):
        """`hit(request)`: the cache answered; `miss(request)`: the request goes on to the LLM."""
        self.hit = hit
        self.miss = miss
