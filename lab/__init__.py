"""The real thing beside the simulation: a semantic cache and a token limiter that run on Redis.

The engine simulates a semantic cache and provider limits; this package runs them for real, so a
learner can type questions and a team can measure its own pairs and fire real requests at a real
bucket. Real I/O lives here (Redis, the embedding model's files); the engine stays pure and never
imports this package.

- embedding.py: all-MiniLM-L6-v2 sentence embeddings, in numpy on the CPU, from an installed package.
- semantic_cache.py: answers by meaning, per tenant, with a time to live, on Redis.
- calibrate.py: a threshold's hit and false-hit rates measured on labelled pairs (the engine's curve).
- cache_eval.py and __main__.py: `python -m lab cache-eval FILE.json` on paraphrase pairs.
- limiter.py: RPM and TPM token buckets per user and per deployment, one atomic Lua script.
- connection.py: REDIS_URL's server, or an embedded fakeredis.
"""
