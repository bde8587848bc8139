"""The real semantic cache (lab/semantic_cache.py) on fakeredis and on a real redis-server, and its CLI.

The embedder is the real all-MiniLM-L6-v2 (lab/embedding.py): the decisions below are what the
model says about these sentences, chosen so that a rewording and an unrelated question are far
apart on either side of the default threshold.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import fakeredis
import pytest
import redis

from lab.embedding import shared_embedder
from lab.semantic_cache import DEFAULT_THRESHOLD, SemanticCache
from tests.redis_server import RedisServer

STORED = [("How do I reset my password?", "Use 'Forgot password' on the sign-in page."),
          ("What is the capital of France?", "Paris."),
          ("How long should I boil an egg?", "About nine minutes for a hard-boiled egg.")]


@pytest.fixture(scope="module")
def embedder():
    return shared_embedder()


@pytest.fixture(params=["fakeredis", "redis-server"])
def server(request, tmp_path):
    """A function making clients of one server: an in-process fakeredis, or a real redis-server."""
    if request.param == "fakeredis":
        fake = fakeredis.FakeServer()
        yield lambda: fakeredis.FakeRedis(server=fake)
        return
    real = RedisServer(tmp_path).start()
    try:
        yield lambda: redis.Redis.from_url(real.url, socket_timeout=5)
    finally:
        real.kill()


def test_a_rewording_gets_the_stored_answer_and_an_unrelated_question_misses(server, embedder):
    cache = SemanticCache(server(), embedder, "shop")
    cache.put_many(STORED)
    reworded = cache.lookup("how can I change my password")
    assert reworded.hit and reworded.answer == STORED[0][1] and reworded.question == STORED[0][0]
    assert reworded.similarity >= DEFAULT_THRESHOLD
    unrelated = cache.lookup("Which football team won the 1998 World Cup?")
    assert not unrelated.hit and unrelated.answer is None
    assert unrelated.similarity < 0.5  # the similarity is still reported, to the nearest stored question
    assert cache.lookup("What is the capital of France?").similarity == pytest.approx(1.0, abs=1e-5)
    nearest = cache.nearest("password trouble", k=3)
    assert [q for q, _ in nearest][0] == STORED[0][0] and nearest[0][1] > nearest[1][1] > nearest[2][1]


def test_the_threshold_decides_between_a_hit_and_a_miss_at_the_same_similarity(server, embedder):
    cache = SemanticCache(server(), embedder, "shop")
    cache.put(*STORED[0])
    similarity = cache.lookup("how can I change my password").similarity
    assert cache.lookup("how can I change my password", threshold=similarity).hit
    assert not cache.lookup("how can I change my password", threshold=min(1.0, similarity + 0.001)).hit


def test_an_answer_expires_with_its_time_to_live_and_is_never_served_after(server, embedder):
    # 2 s: long enough that a loaded CI machine still looks it up before it expires (0.6 s was not).
    cache = SemanticCache(server(), embedder, "shop", ttl_s=2.0)
    cache.put(*STORED[1])
    assert cache.lookup("What's France's capital city?").hit
    time.sleep(2.3)
    after = cache.lookup("What's France's capital city?")
    assert not after.hit and after.answer is None and cache.size() == 0


def test_an_answer_redis_no_longer_holds_is_not_served_even_if_this_process_remembers_its_vector(server, embedder):
    client = server()
    cache = SemanticCache(client, embedder, "shop")
    entry = cache.put(*STORED[1])
    assert cache.lookup("What is the capital of France?").hit
    client.delete(f"gsl:lab:cache:shop:entry:{entry}")  # evicted under memory pressure, say
    assert not cache.lookup("What is the capital of France?").hit


def test_tenants_never_see_each_others_answers(server, embedder):
    client = server()
    alpha, beta = SemanticCache(client, embedder, "alpha"), SemanticCache(client, embedder, "beta")
    alpha.put(*STORED[0])
    assert alpha.lookup(STORED[0][0]).hit
    assert beta.lookup(STORED[0][0]).similarity is None  # beta stores nothing at all
    beta.put(STORED[0][0], "beta's own answer")
    alpha.clear()
    assert not alpha.lookup(STORED[0][0]).hit
    assert beta.lookup(STORED[0][0]).answer == "beta's own answer"


def test_two_clients_of_one_server_share_a_tenant_and_see_a_clear(server, embedder):
    writer = SemanticCache(server(), embedder, "shared")
    reader = SemanticCache(server(), embedder, "shared")  # another connection: another process's view
    assert reader.lookup(STORED[2][0]).similarity is None
    writer.put(*STORED[2])
    assert reader.lookup("how many minutes to boil an egg").answer == STORED[2][1]
    writer.clear()
    assert reader.lookup(STORED[2][0]).similarity is None and reader.size() == 0


@pytest.mark.parametrize("field, kwargs, named", [
    ("tenant", {"tenant": "a b"}, "tenant: 'a b'"),
    ("tenant", {"tenant": "x" * 65}, "tenant:"),
    ("threshold", {"threshold": 1.5}, "threshold: 1.5"),
    ("ttl_s", {"ttl_s": 0}, "ttl_s: 0"),
    ("ttl_s", {"ttl_s": 10**9}, "ttl_s: 1000000000"),
])
def test_bad_settings_are_refused_by_name(embedder, field, kwargs, named):
    with pytest.raises(ValueError) as refused:
        SemanticCache(fakeredis.FakeRedis(), embedder, **kwargs)
    assert named in str(refused.value) and "allowed" in str(refused.value)


# --- python -m lab cache-eval --------------------------------------------------------------------------------

PARAPHRASES = [
    {"origin": "How do I reset my password?", "similar": "How can I reset my password?"},
    {"origin": "What is the capital of France?", "similar": "What's the capital city of France?"},
    {"origin": "How long should I boil an egg?", "similar": "How many minutes should an egg be boiled?"},
    {"origin": "What are the symptoms of the flu?", "similar": "What symptoms does influenza cause?"},
    {"origin": "How do I learn to play the guitar?", "similar": "What is the best way to learn guitar?"},
]
NON_MATCHES = [
    {"origin": "What time does the public library open on Sundays?", "similar": "How many moons does Jupiter have?"},
    {"origin": "How do I change a flat tyre on a bicycle?", "similar": "Who wrote the novel Pride and Prejudice?"},
    {"origin": "What is a good recipe for banana bread?", "similar": "How does a transistor amplify a signal?"},
]


def _cache_eval(tmp_path, pairs, *args):
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps(pairs), encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "lab", "cache-eval", str(path), *args],
                          capture_output=True, text=True, timeout=120)


def test_cache_eval_counts_right_answers_and_misses_on_known_pairs(tmp_path):
    done = _cache_eval(tmp_path, PARAPHRASES + NON_MATCHES)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"right": 5, "wrong": 0, "miss": 3}


def test_cache_eval_at_threshold_zero_serves_every_non_match_a_wrong_answer(tmp_path):
    done = _cache_eval(tmp_path, PARAPHRASES + NON_MATCHES, "--threshold", "0")
    assert json.loads(done.stdout) == {"right": 5, "wrong": 3, "miss": 0}


def test_cache_eval_at_threshold_one_misses_every_rewording(tmp_path):
    done = _cache_eval(tmp_path, PARAPHRASES, "--threshold", "1")
    assert json.loads(done.stdout) == {"right": 0, "wrong": 0, "miss": 5}


def test_cache_eval_returns_its_own_origin_among_near_neighbours(tmp_path):
    # Two stored questions on one topic: each rewording must find its own, not its neighbour.
    pairs = [{"origin": "How do I reset my password?", "similar": "How can I reset my password?"},
             {"origin": "How do I reset my username?", "similar": "How can I reset my username?"}]
    assert json.loads(_cache_eval(tmp_path, pairs).stdout) == {"right": 2, "wrong": 0, "miss": 0}


@pytest.mark.parametrize("content, named", [
    ("not json", "not JSON"),
    ('{"origin": "a"}', "a non-empty list"),
    ('[{"origin": "a", "similar": 3}]', "item 0, field similar: 3 is not allowed"),
    ('[{"origin": "", "similar": "b"}]', "item 0, field origin"),
    ('[{"origin": "a", "similar": "b", "n": 1' + "0" * 5000 + "}]",  # once a ValueError from Python's int limit
     "not allowed (a number of 5,001 digits: at most 40)"),
    ('[{"origin": "a\\ud800", "similar": "b"}]',  # once a TypeError from the tokenizer
     "item 0, field origin: character U+D800 at position 2 is not allowed"),
    ("[" * 100_000, "not allowed (nested too deeply)"),
])
def test_cache_eval_refuses_a_bad_file_by_name_with_exit_2(tmp_path, content, named):
    path = tmp_path / "pairs.json"
    path.write_text(content, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "lab", "cache-eval", str(path)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and named in done.stderr and "Traceback" not in done.stderr
    bad_threshold = subprocess.run([sys.executable, "-m", "lab", "cache-eval", str(path), "--threshold", "nan"],
                                   capture_output=True, text=True, timeout=60)
    assert bad_threshold.returncode == 2 and "'nan' is not allowed" in bad_threshold.stderr


def test_cache_eval_reads_only_a_regular_file_and_says_what_it_was_given(tmp_path):
    import os

    os.mkfifo(tmp_path / "pipe")  # a pipe would block the read for ever
    for given, says in ((tmp_path / "pipe", "is not allowed: not a regular file (a pipe, a device or a folder)"),
                        (tmp_path, "is not allowed: not a regular file"),  # it said "no such file"
                        (tmp_path / "nope.json", "cannot be read: No such file or directory")):
        done = subprocess.run([sys.executable, "-m", "lab", "cache-eval", str(given)], capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 2 and f"{given}: {says}" in done.stderr and "Traceback" not in done.stderr
