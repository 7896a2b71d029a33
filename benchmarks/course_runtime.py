"""Seconds each solution notebook takes to run top to bottom (kernel start included).

    python benchmarks/course_runtime.py [--grading]

--grading sets NBGRADER_EXECUTION as nbgrader does, so long cells take their short path.
Goals (issue #11): every lesson in at most 15 s and the whole course in at most 60 s on this 2-core CPU, on a
quiet machine (the load average is printed). Exits 1 if one is missed.
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

GOAL_SECONDS = 15.0
COURSE_GOAL_SECONDS = 60.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grading", action="store_true", help="run as nbgrader does (NBGRADER_EXECUTION set)")
    args = parser.parse_args()
    if args.grading:
        os.environ["NBGRADER_EXECUTION"] = "autograde"
    os.environ.setdefault("MPLBACKEND", "agg")
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
          f"{', grading mode' if args.grading else ''}; load average {os.getloadavg()[0]:.1f}")
    print(f"{'lesson':<24}{'seconds':>9}  goal <= {GOAL_SECONDS:g} s")
    over, total = 0, 0.0
    for lesson in all_lessons():
        nb = nbformat.read(lesson.source, as_version=4)
        client = NotebookClient(nb, timeout=300, kernel_name="python3",
                                resources={"metadata": {"path": str(lesson.source.parent)}})
        started = time.perf_counter()
        client.execute()
        seconds = time.perf_counter() - started
        ok = seconds <= GOAL_SECONDS
        total += seconds
        over += not ok
        print(f"{lesson.slug:<24}{seconds:>9.1f}  {'ok' if ok else 'OVER'}", flush=True)
    ok = total <= COURSE_GOAL_SECONDS
    print(f"{'whole course':<24}{total:>9.1f}  {'ok' if ok else 'OVER'} (goal <= {COURSE_GOAL_SECONDS:g} s)")
    return 1 if over or not ok else 0


if __name__ == "__main__":
    sys.exit(main())
