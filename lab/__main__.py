"""The lab from a shell: `python -m lab cache-eval FILE.json [--threshold T]`.

cache-eval stores every origin of a paraphrase file in a fresh semantic cache and looks up every
reworded question, then prints one JSON object {"right": R, "wrong": W, "miss": M} (lab/cache_eval.py).
Exit status: 0 when it ran, 2 for a bad file or argument (the message names what is wrong).
"""

from __future__ import annotations

import argparse
import json
import sys

from engine.plain_text import TextRefused, read_file
from lab.cache_eval import MAX_FILE_BYTES, PairsError, evaluate, read_pairs
from lab.semantic_cache import DEFAULT_THRESHOLD


def _threshold(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed: a cosine similarity from 0 to 1")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab", description="The real semantic cache, from a shell.")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("cache-eval", help="right, wrong and missed answers on paraphrase pairs",
                                description="Store every origin, look up every similar question, print "
                                            '{"right": R, "wrong": W, "miss": M}.')
    check.add_argument("file", help='a JSON list of {"origin": ..., "similar": ...}')
    check.add_argument("--threshold", type=_threshold, default=DEFAULT_THRESHOLD,
                       help=f"cosine similarity needed for a hit (default {DEFAULT_THRESHOLD}, chosen on Quora "
                            "question pairs: docs/lab.md)")
    args = parser.parse_args(argv)
    try:
        pairs = read_pairs(read_file(args.file, MAX_FILE_BYTES), args.file)  # a regular file, no more than it may hold
    except TextRefused as error:
        print(f"python -m lab cache-eval: {args.file}: {error}", file=sys.stderr)
        return 2
    except PairsError as error:
        print(f"python -m lab cache-eval: {error}", file=sys.stderr)
        return 2
    print(json.dumps(evaluate(pairs, args.threshold)))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C: a word, not a traceback (130: killed by SIGINT, as shells count it)
        print("interrupted", file=sys.stderr)
        sys.exit(130)
