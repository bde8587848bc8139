"""`python -m curriculum [--visible | --seeds N | --challenges] [LESSON ...]`: check every experiment's claim, or how soon it shows.

Without `--visible`, each claim runs before and after its change for its seeds and the figures are
printed (curriculum/claims.py). With `--visible`, each experiment is played as a learner plays it
and the time its effect takes to show on the live view is printed (curriculum/visible.py).
"""

from __future__ import annotations

import argparse
import sys

from curriculum.challenges import score, shown, solution_scenario, start_scenario
from curriculum.claims import check_claim, spread
from curriculum.format import LESSONS_DIR, lesson_folders, load_lesson
from curriculum.visible import REPORT_HEADER, report_line, time_to_effect


def main(argv: list[str] | None = None) -> int:
    """Check the claims of the lessons named (default: all) and print what each measured; exit 1 if one fails."""
    parser = argparse.ArgumentParser(prog="python -m curriculum",
                                     description="Run every experiment's claim of the lessons and print the figures.")
    parser.add_argument("lessons", nargs="*", help="lesson folder names (default: every lesson)")
    parser.add_argument("--seeds", type=int, metavar="N",
                        help="run every claim on seeds 1..N and print each expectation's spread (default: the claim's own)")
    parser.add_argument("--challenges", action="store_true",
                        help="score each lesson's challenge on its starting architecture and on its reference solution")
    parser.add_argument("--visible", action="store_true",
                        help="print how soon each step's effect shows on the live view instead (target: 30 s)")
    args = parser.parse_args(argv)
    failed = 0
    if args.seeds is not None and not 1 <= args.seeds <= 20:
        parser.error(f"--seeds: {args.seeds} is not allowed: give 1 to 20")
    if args.visible:
        print(REPORT_HEADER)
    for folder in args.lessons or lesson_folders():
        try:
            lesson = load_lesson(LESSONS_DIR / folder)
        except ValueError as exc:
            print(exc)
            failed += 1
            continue
        if args.challenges:
            failed += not _check_challenge(folder, lesson)
            continue
        for index, step in enumerate(lesson.steps):
            if step.experiment is None:
                continue
            if args.visible:
                result = time_to_effect(lesson, index)
                failed += result.visible_after_s is None
                print(report_line(folder, index, result))
                continue
            if args.seeds:
                for row in spread(check_claim(lesson, index, args.seeds)):
                    failed += row["held"] < row["seeds"]
                    change = ("" if row["change_min"] is None else
                              f", change {row['change_min']:+.0%} to {row['change_max']:+.0%}")
                    afters = [_figure(v) for v in row["afters"]]
                    print(f"{folder} step {index + 1}: {row['claim']}: held on {row['held']} of {row['seeds']} seeds"
                          f"{change}; after {' / '.join(afters)}"
                          f"{'; SIGN FLIPS' if row['sign_flips'] else ''}")
                continue
            for row in check_claim(lesson, index):
                failed += not row["holds"]
                shown = [_figure(row["before"]), _figure(row["after"])]
                print(f"{folder} step {index + 1} seed {row['seed']}: {row['claim']}: "
                      f"before {shown[0]}, after {shown[1]}: {'holds' if row['holds'] else 'FAILS'}")
    return 1 if failed else 0


def _figure(value) -> str:
    """Write a measured figure briefly (4 significant digits)."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _check_challenge(folder: str, lesson) -> bool:
    """Print the challenge's scorecards for its start and its solution; return whether only the solution passes."""
    if lesson.challenge is None:
        print(f"{folder}: no challenge")
        return False
    cards = {"start": score(lesson, start_scenario(lesson)),
             "solution": score(lesson, solution_scenario(lesson))}
    for name, card in cards.items():
        rows = "; ".join(f"{row.describe()}: worst {shown(row.target.metric, row.worst)} "
                         f"{'met' if row.met else 'MISSED'}" for row in card.rows)
        print(f"{folder} challenge, {name}: {'passes' if card.passed else 'fails'}: {rows}")
    return cards["solution"].passed and not cards["start"].passed


if __name__ == "__main__":
    sys.exit(main())
