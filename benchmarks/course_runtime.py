"""Seconds each solution notebook takes to run top to bottom (kernel start included).

    python benchmarks/course_runtime.py [--grading]

--grading sets NBGRADER_EXECUTION as nbgrader does, so long cells take their short path.
Goal: every lesson under 45 s on a 2-core CPU. Exits 1 if one is over.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import nbformat
from nbclient import NotebookClient

from autograde.lessons import all_lessons

GOAL_SECONDS = 45.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grading", action="store_true", help="run as nbgrader does (NBGRADER_EXECUTION set)")
    args = parser.parse_args()
    if args.grading:
        os.environ["NBGRADER_EXECUTION"] = "autograde"
    os.environ.setdefault("MPLBACKEND", "agg")
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
          f"{', grading mode' if args.grading else ''}")
    print(f"{'lesson':<24}{'seconds':>9}  goal < {GOAL_SECONDS:g} s")
    over = 0
    for lesson in all_lessons():
        nb = nbformat.read(lesson.source, as_version=4)
        client = NotebookClient(nb, timeout=300, kernel_name="python3",
                                resources={"metadata": {"path": str(lesson.source.parent)}})
        started = time.perf_counter()
        client.execute()
        seconds = time.perf_counter() - started
        ok = seconds < GOAL_SECONDS
        over += not ok
        print(f"{lesson.slug:<24}{seconds:>9.1f}  {'ok' if ok else 'OVER'}", flush=True)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
