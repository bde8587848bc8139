"""Check the semantic cache on paraphrase pairs: how many rewordings get their own answer back.

The pairs file is a JSON list of {"origin": question, "similar": the same question reworded}, the
format of GPTCache's benchmark (examples/benchmark/mock_data.json). Every origin is stored in a
fresh cache with its index as the answer; then every reworded question is looked up:

- right: a hit that returned its own origin (or an origin with exactly its text);
- wrong: a hit that returned another origin, the answer to a different question;
- miss:  nothing stored was similar enough.
"""

from __future__ import annotations

import json

from engine.plain_text import CONTROLS_ONLY, TextRefused, plain_text

MAX_FILE_BYTES = 50_000_000
MAX_PAIRS = 100_000


class PairsError(ValueError):
    """A pairs file that cannot be read, with every problem named."""


def _short_int(text: str) -> int:
    """Read a JSON integer of at most 40 digits (Python refuses past 4,300 with a traceback)."""
    if len(text) > 40:
        raise ValueError(f"a number of {len(text):,} digits: at most 40")
    return int(text)


def read_pairs(data: bytes, source: str = "pairs file") -> list[tuple[str, str]]:
    """Return the (origin, similar) pairs of a JSON pairs file, or raise PairsError naming what is wrong."""
    from lab.embedding import MAX_CHARS

    try:  # questions are natural language: the marks of right-to-left writing are let through
        pairs = json.loads(plain_text(data, "a pairs file", MAX_FILE_BYTES, natural_language=True),
                           parse_int=_short_int)
    except TextRefused as error:
        raise PairsError(f"{source}: {error}") from None
    except json.JSONDecodeError as error:
        raise PairsError(f"{source}: not JSON ({error.msg} at line {error.lineno}): a list of "
                         '{"origin": ..., "similar": ...}') from None
    except (ValueError, RecursionError) as error:  # a number too long, or lists inside lists past Python's stack
        reason = str(error) if isinstance(error, ValueError) else "nested too deeply"
        raise PairsError(f"{source}: not allowed ({reason}): a list of "
                         '{"origin": ..., "similar": ...}') from None
    if not isinstance(pairs, list) or not pairs:
        raise PairsError(f"{source}: the top level is not allowed: a non-empty list of "
                         '{"origin": ..., "similar": ...} objects')
    if len(pairs) > MAX_PAIRS:
        raise PairsError(f"{source}: {len(pairs):,} pairs is too many: at most {MAX_PAIRS:,}")
    problems = []
    for index, pair in enumerate(pairs):
        for field in ("origin", "similar"):
            value = pair.get(field) if isinstance(pair, dict) else None
            if not isinstance(value, str) or not value.strip() or len(value) > MAX_CHARS:
                shown = json.dumps(value)[:40] if isinstance(pair, dict) else json.dumps(pair)[:40]
                problems.append(f"item {index}, field {field}: {shown} is not allowed: "
                                f"text of 1 to {MAX_CHARS:,} characters")
            elif bad := CONTROLS_ONLY.search(value):  # written as an escape (\u0000, \ud800): the text had none
                problems.append(f"item {index}, field {field}: character U+{ord(bad.group()):04X} at position "
                                f"{bad.start() + 1} is not allowed: text without control characters or lone "
                                "surrogates")
    if problems:
        more = f" (and {len(problems) - 10:,} more)" if len(problems) > 10 else ""
        raise PairsError(f"{source}: " + "; ".join(problems[:10]) + more)
    return [(pair["origin"], pair["similar"]) for pair in pairs]


def evaluate(pairs: list[tuple[str, str]], threshold: float, redis=None, embedder=None) -> dict[str, int]:
    """Store every origin in a fresh cache, look up every reworded question; return right, wrong and miss."""
    import fakeredis

    from lab.embedding import shared_embedder
    from lab.semantic_cache import SemanticCache

    cache = SemanticCache(redis if redis is not None else fakeredis.FakeRedis(server=fakeredis.FakeServer()),
                          embedder or shared_embedder(), "cache-eval", threshold=threshold, ttl_s=86_400)
    cache.clear()
    origins = [origin for origin, _ in pairs]
    cache.put_many([(origin, str(index)) for index, origin in enumerate(origins)])
    counts = {"right": 0, "wrong": 0, "miss": 0}
    for index, found in enumerate(cache.lookup_many([similar for _, similar in pairs])):
        if not found.hit:
            counts["miss"] += 1
        elif int(found.answer) == index or origins[int(found.answer)] == origins[index]:
            counts["right"] += 1
        else:
            counts["wrong"] += 1
    cache.clear()
    return counts
