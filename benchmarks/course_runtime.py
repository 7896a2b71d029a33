"""Seconds each solution notebook takes to run top to bottom, from a fresh kernel's start to its last cell's end.

    python benchmarks/course_runtime.py [--grading] [--lessons 1 2 ...]

The clock starts before the kernel is started and stops when the last cell has finished: what a learner who
opens the lesson and runs every cell waits for. Figures are drawn as in JupyterLab (the inline backend, retina
PNGs as `import cnnbook` asks; MPLBACKEND is removed from the kernel's environment, since with "agg" no figure
would be drawn at all), and the seconds spent drawing them are printed in their own column (part of the
total). Shutting the kernel down afterwards (mostly Python tearing torch down, 0.4-2.4 s that nobody waits
for: JupyterLab keeps the kernel after Run All) is timed too and printed in its own column, outside the goal.

--grading sets NBGRADER_EXECUTION as nbgrader does, so long cells take their short path.
Goals, on this 2-core CPU on a quiet machine (the load average is printed): every lesson in at most 15 s (issues
#11 and #12), and lessons 01-08 together in at most 60 s (issue #11's "whole course": that issue is the second
edition of lessons 01-08, written when they were the course; lessons 09 and 10 came with issue #12, whose goal is
15 s each). The sum over every lesson is printed as well. Exits 1 if a goal is missed.
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
COURSE_GOAL_LESSONS = range(1, 9)       # issue #11's course: lessons 01-08


# Run in the kernel before the lesson's first cell (a few milliseconds): every inline figure is turned into its PNG
# by IPython's image/png formatter (PNG and retina alike, whichever writer it calls: IPython's print_figure or
# cnnbook.plotting's one-draw writer); this adds up the seconds the formatter spends on figures.
_COUNT_FIGURES = """
import sys as _cr_sys, time as _cr_time
from IPython.core.formatters import PNGFormatter as _cr_png
_cr_figures = [0, 0.0]
def _cr_timed(call):
    def timed(self, obj, *args, **kwargs):
        figure = _cr_sys.modules.get("matplotlib.figure")
        if figure is None or not isinstance(obj, figure.Figure):
            return call(self, obj, *args, **kwargs)
        start = _cr_time.perf_counter()
        try:
            return call(self, obj, *args, **kwargs)
        finally:
            _cr_figures[0] += 1
            _cr_figures[1] += _cr_time.perf_counter() - start
    return timed
_cr_png.__call__ = _cr_timed(_cr_png.__call__)
"""


def run(source) -> tuple[float, float, int, float]:
    """(seconds from kernel start to the last cell's end, seconds the kernel's shutdown took, the number of
    figures drawn, seconds spent drawing them)."""
    nb = nbformat.read(source, as_version=4)
    probe = nbformat.v4.new_code_cell(_COUNT_FIGURES)
    report = nbformat.v4.new_code_cell("print(_cr_figures[0], _cr_figures[1])")
    nb.cells = [probe, *nb.cells, report]
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(source.parent)}})
    started = time.perf_counter()
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells[:-1]):
            client.execute_cell(cell, index)
        finished = time.perf_counter()
        client.execute_cell(report, len(nb.cells) - 1)
    count, seconds = report.outputs[0]["text"].split()
    return finished - started, time.perf_counter() - finished, int(count), float(seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grading", action="store_true", help="run as nbgrader does (NBGRADER_EXECUTION set)")
    parser.add_argument("--lessons", type=int, nargs="*", help="only these lesson numbers (the course goal is then "
                        "not judged)")
    args = parser.parse_args()
    if args.grading:
        os.environ["NBGRADER_EXECUTION"] = "autograde"
    os.environ.pop("MPLBACKEND", None)          # the kernel's default: the inline backend, as in JupyterLab
    lessons = [lesson for lesson in all_lessons() if not args.lessons or int(lesson.number) in args.lessons]
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
          f"{', grading mode' if args.grading else ''}; load average {os.getloadavg()[0]:.1f}")
    print(f"{'lesson':<24}{'seconds':>9}  {'goal <= ' + format(GOAL_SECONDS, 'g') + ' s':<14}{'figures (s)':>16}"
          f"{'shutdown':>10}")
    over, total, shutdowns, figures, drawing, goal_total = 0, 0.0, 0.0, 0, 0.0, 0.0
    for lesson in lessons:
        seconds, shutdown, count, drawn = run(lesson.source)
        ok = seconds <= GOAL_SECONDS
        total += seconds
        goal_total += seconds if int(lesson.number) in COURSE_GOAL_LESSONS else 0.0
        shutdowns += shutdown
        figures += count
        drawing += drawn
        over += not ok
        print(f"{lesson.slug:<24}{seconds:>9.1f}  {'ok' if ok else 'OVER':<14}{f'{count} ({drawn:.1f})':>16}"
              f"{shutdown:>10.1f}", flush=True)
    if args.lessons:
        print(f"{'these lessons':<24}{total:>9.1f}  {'':<14}{f'{figures} ({drawing:.1f})':>16}{shutdowns:>10.1f}")
        return 1 if over else 0
    ok = goal_total <= COURSE_GOAL_SECONDS
    first, last = COURSE_GOAL_LESSONS[0], COURSE_GOAL_LESSONS[-1]
    print(f"{f'lessons {first:02d}-{last:02d}':<24}{goal_total:>9.1f}  {'ok' if ok else 'OVER':<14}{'':>16}{'':>10}"
          f"  (goal <= {COURSE_GOAL_SECONDS:g} s, issue #11)")
    print(f"{f'all {len(lessons)} lessons':<24}{total:>9.1f}  {'':<14}{f'{figures} ({drawing:.1f})':>16}"
          f"{shutdowns:>10.1f}  (shutdowns not counted)")
    return 1 if over or not ok else 0


if __name__ == "__main__":
    sys.exit(main())
