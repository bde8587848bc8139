"""`python -m curriculum [LESSON ...]`: run every experiment's claim and print what each measured."""

from __future__ import annotations

import argparse
import sys

from curriculum.claims import check_claim
from curriculum.format import LESSONS_DIR, lesson_folders, load_lesson


def main(argv: list[str] | None = None) -> int:
    """Check the claims of the lessons named (default: all) and print what each measured; exit 1 if one fails."""
    parser = argparse.ArgumentParser(prog="python -m curriculum",
                                     description="Run every experiment's claim of the lessons and print the figures.")
    parser.add_argument("lessons", nargs="*", help="lesson folder names (default: every lesson)")
    args = parser.parse_args(argv)
    failed = 0
    for folder in args.lessons or lesson_folders():
        try:
            lesson = load_lesson(LESSONS_DIR / folder)
        except ValueError as exc:
            print(exc)
            failed += 1
            continue
        for index, step in enumerate(lesson.steps):
            if step.experiment is None:
                continue
            for row in check_claim(lesson, index):
                failed += not row["holds"]
                shown = [f"{v:.4g}" if isinstance(v, float) else str(v) for v in (row["before"], row["after"])]
                print(f"{folder} step {index + 1} seed {row['seed']}: {row['claim']}: "
                      f"before {shown[0]}, after {shown[1]}: {'holds' if row['holds'] else 'FAILS'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
