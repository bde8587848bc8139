"""Every door a scenario comes in by, and the crafted inputs that once got past them (issue 13).

A door takes text or bytes from outside (a file for the CLI, the sandbox's box or upload, a share
link, a traffic trace, a similarity curve, a search spec) and either returns what it reads or refuses with a
ScenarioError (the CLI: exit 2) naming the problem. `try_door` runs one input through one door and reports what happened, how long it took
and the memory it held at its peak; tests/test_doors.py asserts on it, and `python -m tests.doors`
fuzzes every door and prints the counts.
"""

from __future__ import annotations

import base64
import json
import random
import sys
import time
import tracemalloc
import zlib
from dataclasses import dataclass

from dashboard.view.scenario_source import decode_link
from engine import ScenarioError
from engine.loading import MAX_SCENARIO_BYTES, load_scenario, parse_scenario, read_scenario_text, scenario_to_data
from engine.paths import PRESETS_DIR

MAX_SECONDS, MAX_MB = 5.0, 200.0  # what one input may cost at most, through any door


def share_link(payload: bytes) -> str:
    """Pack raw bytes the way the sandbox packs a scenario into a share link."""
    return base64.urlsafe_b64encode(zlib.compress(payload, 9)).decode().rstrip("=")


def through_text(raw):
    """The sandbox's box and upload, and the CLI's file once read: the text door."""
    return parse_scenario(read_scenario_text(raw, "input"), "input")


def through_link(link: str):
    """A share link, as the page decodes it (dashboard/pages/sandbox.py)."""
    try:
        return decode_link(link)
    except ValueError as exc:  # the link door says what is wrong as a ValueError
        raise ScenarioError([str(exc)], "share link") from None


def through_trace(raw):
    """An uploaded traffic trace (CSV), and a trace saved with a scenario: the trace door."""
    from engine.traces import read_trace_csv

    return read_trace_csv(raw, "trace")


def through_curve(raw):
    """A similarity curve (CSV) measured or uploaded on the Lab page, saved with a scenario or sent to a worker."""
    from engine.curves import read_curve_csv

    return read_curve_csv(raw, "curve")


def through_spec(raw):
    """A search spec (a file for the CLI; the Search page builds one): the spec door, and every candidate."""
    from engine.search import candidates, read_spec

    return candidates(read_spec(raw, "spec"))


def through_pairs(raw):
    """Labelled question pairs (CSV) uploaded on the Lab page: the pairs door (lab/calibrate.py)."""
    from lab.calibrate import PairsCsvError, read_pairs_csv

    try:
        return read_pairs_csv(raw, "pairs CSV")
    except PairsCsvError as exc:  # the lab's doors say what is wrong as a ValueError
        raise ScenarioError([str(exc)], "pairs CSV") from None


def through_paraphrases(raw):
    """A paraphrase file for `python -m lab cache-eval`: the cache-eval door (lab/cache_eval.py)."""
    from lab.cache_eval import PairsError, read_pairs

    try:
        return read_pairs(raw, "pairs file")
    except PairsError as exc:
        raise ScenarioError([str(exc)], "pairs file") from None


DOORS = {"text": through_text, "link": through_link, "trace": through_trace, "curve": through_curve,
         "spec": through_spec, "pairs": through_pairs, "paraphrases": through_paraphrases}
# What a door is handed, made before the clock starts.
PACK = {"text": lambda raw: raw, "link": share_link, "trace": lambda raw: raw, "curve": lambda raw: raw,
        "spec": lambda raw: raw, "pairs": lambda raw: raw, "paraphrases": lambda raw: raw}


@dataclass
class Outcome:
    """What one input did at one door."""

    valid: bool
    refused: str | None  # the first line of the refusal, if refused
    seconds: float
    peak_mb: float


def try_door(door: str, raw) -> Outcome:
    """Run `raw` through `door`; a ScenarioError is a clean refusal, anything else propagates (a bug)."""
    raw = PACK[door](raw)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        DOORS[door](raw)
        refused = None
    except ScenarioError as exc:
        refused = (exc.problems or [str(exc)])[0]
    finally:
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    return Outcome(refused is None, refused, seconds, peak)


# The reproducers of issue 13, each once a traceback, a hang or a memory blow-up.
CORPUS: dict[str, bytes] = {
    "deep flow nesting": ("name: " + "[" * 500 + "]" * 500).encode(),
    "deep mapping nesting": ("a: {" * 300 + "}" * 300).encode(),
    "deep block nesting": "".join(" " * i + f"k{i}:\n" for i in range(400)).encode(),
    "a lone 0xff byte": b"\xff",
    "UTF-16 with a byte-order mark": "traffic: {rate_rps: 1}".encode("utf-16"),
    "Latin-1": "name: caf\xe9\ntraffic: {rate_rps: 1}".encode("latin-1"),
    "a 5,000-digit rate": ("traffic: {rate_rps: " + "9" * 5000 + "}").encode(),
    "a tiny lognormal median": b"traffic: {rate_rps: 5}\nweb: {db_reads_per_request: 0, db_writes_per_request: 0,"
                               b" handler_ms: {dist: lognormal, p50_ms: 5e-324, p99_ms: 10}}",
    "a 6 MB file": b"description: '" + b"x" * 6_000_000 + b"'\n",
    "an autoscaler every 1e-300 s": b"traffic: {rate_rps: 5}\nload_balancer: {}\nweb: {replicas: 1, db_reads_per_request: 0,"
                                    b" db_writes_per_request: 0, autoscale: {evaluate_every_s: 1e-300}}",
    "50 deployments of 10,000 replicas": json.dumps({"traffic": {"rate_rps": 1}, "llm": {"kind": "router", "deployments": [
        {"kind": "self_hosted", "name": f"d{i}", "replicas": 10_000} for i in range(50)]}}).encode(),
    "a thousand failures of nothing, among 11,000 replicas": json.dumps({
        "traffic": {"rate_rps": 1}, "load_balancer": {},
        "web": {"replicas": 1000, "db_reads_per_request": 0, "db_writes_per_request": 0},
        "llm": {"kind": "router", "deployments": [{"kind": "self_hosted", "name": f"d{i:02d}{'x' * 28}", "replicas": 200}
                                                 for i in range(50)]},
        "failures": [{"at_s": 0, "component": "x"}] * 1000}).encode(),  # once a 373 MB message, 17 s and 2.3 GB
    "markup in a key": json.dumps({"traffic": {"rate_rps": 1}, "[sign in](https://attacker.example/login) "
                                   "![x](https://attacker.example/p.png)": 1}).encode(),
    "yes as a replica count": b"traffic: {rate_rps: 1}\nweb: {replicas: yes}",
    "no as a seed": b"seed: no\ntraffic: {rate_rps: 1}",
    "true as a rate": b"traffic: {rate_rps: true}",
    "a rate in quotes": b"traffic: {rate_rps: '5'}",
    "a sexagesimal timeout": b"traffic: {rate_rps: 1, client_timeout_s: 1:30}",
    "traffic written twice": b"traffic: {rate_rps: 1}\ntraffic: {rate_rps: 2}",
    "a seed past 2^53": b"seed: 9007199254740993\ntraffic: {rate_rps: 1}",
    "an escape sequence in the name": b"name: \"\\e[31mred\"\ntraffic: {rate_rps: 1}",
    "a raw escape in the name": b"name: \x1b[31mred\ntraffic: {rate_rps: 1}",
    "a right-to-left override in the name": "name: \u202eevil\ntraffic: {rate_rps: 1}".encode(),
    "a NUL": b"name: a\x00b\ntraffic: {rate_rps: 1}",
    "an alias bomb": b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                     b"c: [*b, *b, *b, *b, *b, *b, *b, *b, *b]",
    "a Python object tag": b"!!python/object/apply:os.system ['echo hi']",
    "a top-level list": b"[1, 2, 3]",
    "a timestamp tag on nothing": b"name: !!timestamp foo\ntraffic: {rate_rps: 1}",  # once an AttributeError
    "an integer tag on nothing": b"traffic: {rate_rps: !!int ''}",  # once an IndexError
    "a boolean tag on maybe": b"traffic: {rate_rps: !!bool maybe}",  # once a KeyError
    "a sexagesimal float by its tag": b"traffic: {rate_rps: 1, client_timeout_s: !!float '1:30'}",  # once read as 90
    "NaN in JSON": b'{"traffic": {"rate_rps": NaN}}',
}


def mutations(seed: int, count: int, as_json: bool = False):
    """Yield `count` inputs made by damaging the presets' text (YAML, or JSON as a link carries it) at random:
    bytes flipped, cut, repeated, nested."""
    rng = random.Random(seed)
    presets = [p.read_bytes() for p in sorted(PRESETS_DIR.glob("*.yaml"))]
    if as_json:
        presets = [json.dumps(scenario_to_data(load_scenario(p)), separators=(",", ":")).encode()
                   for p in sorted(PRESETS_DIR.glob("*.yaml"))]
    for _ in range(count):
        text = bytearray(rng.choice(presets))
        for _ in range(rng.randint(1, 4)):
            kind = rng.randrange(6)
            at = rng.randrange(len(text) + 1)
            if kind == 0 and text:  # flip a byte to anything
                text[min(at, len(text) - 1)] = rng.randrange(256)
            elif kind == 1:  # cut a piece out
                del text[at:at + rng.randint(1, 40)]
            elif kind == 2:  # insert characters YAML cares about
                text[at:at] = rng.choice([b"[", b"{", b"]", b"}", b":", b"&a", b"*a", b"!!", b"'", b'"', b"\t", b"- ",
                                          b"\n  ", b"yes", b"1:30", b"0x1F", b"1e999", b".nan", b"null"]) * rng.randint(1, 30)
            elif kind == 3:  # repeat a piece
                piece = bytes(text[at:at + rng.randint(1, 60)])
                text[at:at] = piece * rng.randint(1, 50)
            elif kind == 4:  # random unicode, control characters included
                text[at:at] = "".join(chr(rng.choice([rng.randrange(32), rng.randrange(32, 0x3000),
                                                      0x202E, 0x2066, 0xFEFF])) for _ in range(rng.randint(1, 8))).encode(
                    "utf-8", errors="surrogatepass")
            else:  # wrap the whole text in brackets
                depth = rng.randint(1, 60)
                text = bytearray(b"{a: " * depth + bytes(text) + b"}" * depth)
        yield bytes(text[:MAX_SCENARIO_BYTES * 2])


TRACE = (PRESETS_DIR.parent / "assets" / "AzureLLMInferenceTrace_code.csv").read_bytes()[:3000].rsplit(b"\n", 1)[0]
CURVE = (PRESETS_DIR.parent / "assets" / "semantic_cache_curve.csv").read_bytes()
PAIRS = (PRESETS_DIR.parent / "assets" / "quora_pairs_sample200.csv").read_bytes()[:4000].rsplit(b"\n", 1)[0]
PARAPHRASES = (b'[{"origin": "How do I reset my password?", "similar": "How can I change my password?"},\n'
               b' {"origin": "What are your opening hours?", "similar": "When are you open?", "id": 2}]')
SPEC = (b"name: fuzz\nbase: horizontal_load_balancer\nslo: {latency_p95_s: 20, error_rate: 0.01}\n"
        b"space: {web.replicas: [1, 2, 4], web.size: [small, medium], cache: [null, {ttl_s: 60}]}\n"
        b"rounds: [{seconds: 30, seeds: 1}, {seconds: 60, seeds: 3}]\n")


def damaged(seed: int, count: int, base: bytes):
    """Yield `count` copies of `base` with a few bytes replaced, cut or inserted (as a mangled upload would be)."""
    rng = random.Random(seed)
    for _ in range(count):
        text = bytearray(base)
        for _ in range(rng.randint(1, 5)):
            at = rng.randrange(len(text) + 1)
            kind = rng.randrange(3)
            if kind == 0 and text:
                text[min(at, len(text) - 1)] = rng.randrange(256)
            elif kind == 1:
                del text[at:at + rng.randint(1, 30)]
            else:
                text[at:at] = rng.choice([b",", b"\n", b"-", b".", b"e9", b"nan", b"\x00", b"{", b"[", b"&a", b"*a",
                                          b"99999999999", b"\"", b"\xff"]) * rng.randint(1, 20)
        yield bytes(text)


def inputs_for(door: str, count: int) -> list:
    """Return what a door is fuzzed with: the issue's reproducers, then `count` damaged valid inputs."""
    if door == "trace":
        return [b"", b"\xff\xfe", b"t_s,prompt_tokens,output_tokens\n" + b"0,1,1\n" * 200_000, b"a" * 6_000_000,
                *damaged(1, count, TRACE)]
    if door == "curve":
        return [b"", b"\xff\xfe", b"threshold,hit_rate,false_hit_rate\n" + b"0.5,1,0\n" * 30_000, b"a" * 300_000,
                b"threshold,hit_rate,false_hit_rate\n" + b"0.5,1,0\n" * 1_500,
                *damaged(1, count, CURVE)]
    if door == "spec":
        return list(CORPUS.values()) + list(damaged(1, count, SPEC))
    if door == "pairs":
        return [b"", b"question1,question2,is_duplicate\n" + b"a,b,1\n" * 6_000, b"a" * 3_000_000,
                b'question1,question2,is_duplicate\n"' + b"x" * 1_000_000, *damaged(1, count, PAIRS)]
    if door == "paraphrases":
        return [b"", b"[" * 100_000, b'[{"origin": "a", "similar": "b"}' + b', {"origin": "a", "similar": "b"}' * 120_000
                + b"]", *damaged(1, count, PARAPHRASES)]
    return list(CORPUS.values()) + list(mutations(1, count, as_json=door == "link"))


def main() -> None:
    """Fuzz every door; print how many inputs were tried, valid and refused, the slowest and the peak memory."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    for door in DOORS:
        inputs = inputs_for(door, count)
        outcomes = [try_door(door, raw) for raw in inputs]
        valid = sum(o.valid for o in outcomes)
        print(f"{door}: {len(inputs):,} inputs: {valid:,} valid, {len(inputs) - valid:,} refused cleanly, 0 tracebacks; "
              f"slowest {max(o.seconds for o in outcomes):.3f} s, peak {max(o.peak_mb for o in outcomes):.1f} MB")


if __name__ == "__main__":
    main()
