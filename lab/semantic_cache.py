"""A real semantic cache on Redis: the answer to a question asked before in other words.

An exact cache misses "How do I reset my password?" after "how can I change my password". A
semantic cache embeds each question (lab/embedding.py), stores the vector beside the answer, and on
a new question serves the stored answer whose question is most similar, if the cosine similarity
reaches a threshold. Too low a threshold serves the answer to a different question (a wrong
answer); too high a threshold misses rewordings. lab/calibrate.py measures that trade on labelled
pairs, and the simulation's semantic cache uses the measured curve.

How it is kept in Redis, per tenant (one application's users never see another's answers):

- `<prefix>:<tenant>:entry:<id>` is a hash {question, answer} with the entry's time to live: Redis
  itself expires it, so it is the truth about whether an answer may still be served.
- `<prefix>:<tenant>:log` is a stream of (id, vector, expiry): every stored vector, in order.
  Entries older than the longest time to live are trimmed from it as new ones arrive.
- `<prefix>:<tenant>:gen` counts clears, so every process notices one.

Search is exact: each process mirrors the tenant's vectors in a numpy matrix, reads only the
stream's new records before a lookup (one round trip that also reads the server's clock), and
scores every live vector with one matrix product. Debian's redis-server 7 has no vector index;
`lab.connection.vector_index` reports one where the server has it, and docs/lab.md says why the
search stays exact here. A hit is confirmed by reading its entry: an answer Redis has expired or
evicted is never served, even if this process's mirror still holds its vector.
"""

from __future__ import annotations

import re
import threading
import uuid
import weakref
from dataclasses import dataclass

import numpy as np

from lab.embedding import DIMENSIONS

DEFAULT_THRESHOLD = 0.74  # the best split of Quora rewordings from related questions (Youden's J): docs/lab.md
MAX_TTL_S = 30 * 86_400
MAX_ANSWER_CHARS = 100_000
TENANT = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class Lookup:
    """What the cache did with one question."""

    hit: bool
    similarity: float | None  # to the nearest live stored question; None when the tenant stores none
    question: str | None      # that stored question
    answer: str | None        # its answer, on a hit only
    entry_id: str | None


def _check_tenant(tenant: str) -> str:
    if not isinstance(tenant, str) or not TENANT.match(tenant):
        raise ValueError(f"tenant: {tenant!r} is not allowed: 1 to 64 letters, digits, '_', '.' or '-'")
    return tenant


def _check_threshold(threshold: float) -> float:
    if not isinstance(threshold, (int, float)) or not 0.0 <= float(threshold) <= 1.0:
        raise ValueError(f"threshold: {threshold!r} is not allowed: a cosine similarity from 0 to 1")
    return float(threshold)


def _check_ttl(ttl_s: float) -> float:
    if not isinstance(ttl_s, (int, float)) or not 0.001 <= float(ttl_s) <= MAX_TTL_S:
        raise ValueError(f"ttl_s: {ttl_s!r} is not allowed: from 0.001 to {MAX_TTL_S:,} seconds (30 days)")
    return float(ttl_s)


class _Mirror:
    """One process's copy of a tenant's vectors: ids, a growing matrix and each row's expiry (ms)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset(None)

    def reset(self, generation) -> None:
        self.generation = generation
        self.last = b"0-0"
        self.ids: list[str] = []
        self.vectors = np.zeros((0, DIMENSIONS), dtype=np.float32)
        self.expires_ms = np.zeros(0, dtype=np.float64)

    def add(self, records) -> None:
        if not records:
            return
        ids, vectors, expiries = [], [], []
        for record_id, fields in records:
            ids.append(fields[b"id"].decode())
            vectors.append(np.frombuffer(fields[b"vec"], dtype=np.float32))
            expiries.append(float(fields[b"exp"]))
            self.last = record_id
        self.ids.extend(ids)
        self.vectors = np.concatenate([self.vectors, np.stack(vectors)])
        self.expires_ms = np.concatenate([self.expires_ms, np.array(expiries)])

    def drop_expired(self, now_ms: float) -> None:
        """Forget expired rows once they are half the matrix (a lookup masks them until then)."""
        live = self.expires_ms > now_ms
        if live.size and live.sum() < live.size / 2:
            self.ids = [i for i, keep in zip(self.ids, live) if keep]
            self.vectors = self.vectors[live]
            self.expires_ms = self.expires_ms[live]


# One mirror per (server, tenant) in this process; a client that is garbage collected takes its mirrors along.
_mirrors: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_mirrors_lock = threading.Lock()


class SemanticCache:
    """Answers by meaning for one tenant: `put(question, answer)`, then `lookup(question)`."""

    def __init__(self, redis, embedder, tenant: str = "default", *, threshold: float = DEFAULT_THRESHOLD,
                 ttl_s: float = 3600.0, prefix: str = "gsl:lab:cache") -> None:
        """Use `redis` (a bytes client: lab.connection.connect) and `embedder` (lab.embedding.Embedder)."""
        self.redis = redis
        self.embedder = embedder
        self.tenant = _check_tenant(tenant)
        self.threshold = _check_threshold(threshold)
        self.ttl_s = _check_ttl(ttl_s)
        self.key = f"{prefix}:{self.tenant}"
        with _mirrors_lock:
            self._mirror = _mirrors.setdefault(redis, {}).setdefault(self.key, _Mirror())

    # --- storing --------------------------------------------------------------------------------------

    def put(self, question: str, answer: str, ttl_s: float | None = None) -> str:
        """Store an answer to `question` for `ttl_s` seconds (the cache's own by default); return its id."""
        return self.put_many([(question, answer)], ttl_s)[0]

    def put_many(self, pairs: list[tuple[str, str]], ttl_s: float | None = None) -> list[str]:
        """Store many (question, answer) pairs, embedding them in batches; return their ids."""
        ttl_ms = int(_check_ttl(self.ttl_s if ttl_s is None else ttl_s) * 1000)
        for _, answer in pairs:
            if not isinstance(answer, str) or len(answer) > MAX_ANSWER_CHARS:
                raise ValueError(f"answer: must be text of at most {MAX_ANSWER_CHARS:,} characters")
        vectors = self.embedder.embed([question for question, _ in pairs])
        now_ms = self._server_ms()
        ids = []
        for start in range(0, len(pairs), 1000):
            pipe = self.redis.pipeline(transaction=False)
            for (question, answer), vector in zip(pairs[start:start + 1000], vectors[start:start + 1000]):
                entry = uuid.uuid4().hex[:16]
                ids.append(entry)
                pipe.hset(f"{self.key}:entry:{entry}", mapping={"question": question, "answer": answer})
                pipe.pexpire(f"{self.key}:entry:{entry}", ttl_ms)
                pipe.xadd(f"{self.key}:log", {"id": entry, "vec": vector.astype(np.float32).tobytes(),
                                              "exp": now_ms + ttl_ms})
            # Records older than the longest time to live can only name expired entries.
            pipe.xtrim(f"{self.key}:log", minid=f"{int(now_ms) - MAX_TTL_S * 1000}-0", approximate=False)
            pipe.execute()
        return ids

    def clear(self) -> None:
        """Forget every answer of this tenant, in every process."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(f"{self.key}:log")
        pipe.incr(f"{self.key}:gen")
        pipe.execute()
        cursor = 0
        while True:
            cursor, keys = self.redis.scan(cursor, match=f"{self.key}:entry:*", count=1000)
            if keys:
                self.redis.delete(*keys)
            if cursor == 0:
                break

    # --- finding --------------------------------------------------------------------------------------

    def lookup(self, question: str, threshold: float | None = None) -> Lookup:
        """Embed `question` and serve the most similar stored answer if it is similar enough."""
        return self.lookup_many([question], threshold)[0]

    def lookup_many(self, questions: list[str], threshold: float | None = None) -> list[Lookup]:
        """Look up many questions at once (one embedding batch, one sync); none of them is stored."""
        return self.lookup_vectors(self.embedder.embed(list(questions)), threshold)

    def lookup_vectors(self, vectors: np.ndarray, threshold: float | None = None) -> list[Lookup]:
        """Look up questions already embedded (rows of unit vectors): everything a lookup does after embedding."""
        threshold = self.threshold if threshold is None else _check_threshold(threshold)
        return [self._decide(row, threshold) for row in self._best(vectors)]

    def nearest(self, question: str, k: int = 5) -> list[tuple[str, float]]:
        """Return up to `k` live stored questions nearest to `question`, with their similarity."""
        vector = self.embedder.embed([question])[0]
        with self._mirror.lock:
            ids, scores = self._scores(vector[None, :])
        order = np.argsort(-scores[0])[:k]
        found = []
        for index in order:
            if not np.isfinite(scores[0, index]):
                break
            stored = self.redis.hget(f"{self.key}:entry:{ids[index]}", "question")
            if stored is not None:
                found.append((stored.decode(), float(scores[0, index])))
        return found

    def size(self) -> int:
        """Return how many answers this tenant stores now (live entries)."""
        with self._mirror.lock:
            now_ms = self._sync()
            return int((self._mirror.expires_ms > now_ms).sum())

    # --- inside ---------------------------------------------------------------------------------------

    def _server_ms(self) -> float:
        seconds, micros = self.redis.time()
        return seconds * 1000.0 + micros / 1000.0

    def _sync(self) -> float:
        """Bring the mirror up to date with the stream (one round trip); return the server's clock in ms."""
        mirror = self._mirror
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(f"{self.key}:gen")
        pipe.time()
        pipe.xrange(f"{self.key}:log", min=b"(" + mirror.last if mirror.last != b"0-0" else "-", max="+")
        generation, (seconds, micros), records = pipe.execute()
        if generation != mirror.generation:
            mirror.reset(generation)
            records = self.redis.xrange(f"{self.key}:log", min="-", max="+")
        mirror.add(records)
        now_ms = seconds * 1000.0 + micros / 1000.0
        mirror.drop_expired(now_ms)
        return now_ms

    def _scores(self, vectors: np.ndarray) -> tuple[list[str], np.ndarray]:
        """Return the mirror's ids and the similarity of each vector to each live row (-inf for expired)."""
        now_ms = self._sync()
        mirror = self._mirror
        scores = vectors @ mirror.vectors.T
        scores[:, mirror.expires_ms <= now_ms] = -np.inf
        return list(mirror.ids), scores

    def _best(self, vectors: np.ndarray) -> list[list[tuple[str, float]]]:
        """Return, per vector, the live candidates best first (the best three: the next one serves if the
        best has just expired or been evicted in Redis)."""
        with self._mirror.lock:
            ids, scores = self._scores(vectors)
        if not ids:
            return [[] for _ in range(len(vectors))]
        top = min(3, len(ids))
        picks = np.argpartition(-scores, top - 1, axis=1)[:, :top]
        out = []
        for row, pick in zip(scores, picks):
            ordered = pick[np.argsort(-row[pick])]
            out.append([(ids[i], float(row[i])) for i in ordered if np.isfinite(row[i])])
        return out

    def _decide(self, candidates: list[tuple[str, float]], threshold: float) -> Lookup:
        for entry, similarity in candidates:
            stored = self.redis.hmget(f"{self.key}:entry:{entry}", "question", "answer")
            if stored[0] is None:
                continue  # expired or evicted in Redis: never served
            question = stored[0].decode()
            if similarity >= threshold:
                return Lookup(True, similarity, question, stored[1].decode(), entry)
            return Lookup(False, similarity, question, None, entry)
        return Lookup(False, None, None, None, None)
