"""`python -m bench.lab`: the real semantic cache's costs, as the issue that built it asks them measured.

1. Embedding: milliseconds per question for all-MiniLM-L6-v2 in numpy (lab/embedding.py), one
   question at a time (a cache lookup) and in batches (cache-eval, calibration), on real Quora
   questions from assets/quora_pairs_sample200.csv.
2. Lookup: milliseconds per lookup with 1k, 10k and 100k stored answers, on the embedded fakeredis
   and, with --redis-url, a real server. A lookup here is everything after the embedding: reading
   the stream's new records and the server's clock (one round trip), the exact search (one matrix
   product over every stored vector) and reading the winning entry. Filling 100k entries with real
   embeddings would take 12 minutes, so stored vectors are random unit vectors (the search costs
   the same whatever the vectors say); the questions looked up are real embeddings.

Wall-clock figures on a shared machine are noisy: each figure is the median of `--repeats`
lookups, and the ratios between sizes, measured in this one process, are the figures that matter.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time

import numpy as np

from engine.paths import ASSETS_DIR
from lab.embedding import DIMENSIONS, shared_embedder
from lab.semantic_cache import SemanticCache


class _RandomVectors:
    """Stands in for the embedder when filling the cache: random unit vectors, as fast as numpy draws them."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def embed(self, texts):
        vectors = self.rng.standard_normal((len(texts), DIMENSIONS)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def questions() -> list[str]:
    with (ASSETS_DIR / "quora_pairs_sample200.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [row["question1"] for row in rows] + [row["question2"] for row in rows]


def embedding(repeats: int) -> None:
    embedder = shared_embedder()
    texts = questions()
    embedder.embed(texts[:8])  # warm: first calls allocate
    singles = []
    for text in texts[:repeats]:
        started = time.perf_counter()
        embedder.embed([text])
        singles.append((time.perf_counter() - started) * 1000)
    started = time.perf_counter()
    embedder.embed(texts)
    batched = (time.perf_counter() - started) * 1000 / len(texts)
    print(f"embedding, one question at a time: median {statistics.median(singles):.2f} ms, "
          f"p90 {np.percentile(singles, 90):.2f} ms ({len(singles)} questions)")
    print(f"embedding, {len(texts)} questions in batches: {batched:.2f} ms a question")


def lookups(client, sizes: list[int], repeats: int, where: str) -> None:
    embedder = shared_embedder()
    asked = embedder.embed(questions()[:repeats])
    figures = {}
    for size in sizes:
        filler = SemanticCache(client, _RandomVectors(size), f"bench-{size}", ttl_s=3600)
        filler.clear()
        for start in range(0, size, 5_000):
            count = min(5_000, size - start)
            filler.put_many([(f"q{start + i}", f"a{start + i}") for i in range(count)])
        cache = SemanticCache(client, embedder, f"bench-{size}", ttl_s=3600)
        cache.size()  # the first sync reads the whole stream; a long-lived process has done it already
        spent = []
        for vector in asked:
            started = time.perf_counter()
            cache.lookup_vectors(vector[None, :])
            spent.append((time.perf_counter() - started) * 1000)
        figures[size] = statistics.median(spent)
        print(f"lookup after embedding, {size:>7,} stored answers ({where}): median {figures[size]:.2f} ms, "
              f"p90 {np.percentile(spent, 90):.2f} ms")
        filler.clear()
    smallest = min(figures)
    for size in sorted(figures)[1:]:
        print(f"  {size:,} / {smallest:,} stored: {figures[size] / figures[smallest]:.1f}x the time")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.lab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--redis-url", default=None, help="also measure on this server (redis://...)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    embedding(args.repeats)
    import fakeredis

    lookups(fakeredis.FakeRedis(server=fakeredis.FakeServer()), sizes, args.repeats, "embedded fakeredis")
    if args.redis_url:
        import redis

        lookups(redis.Redis.from_url(args.redis_url), sizes, args.repeats, "redis-server")


if __name__ == "__main__":
    main()
