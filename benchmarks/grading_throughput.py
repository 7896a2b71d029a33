"""Notebooks per minute: plain `nbgrader autograde` against `python -m autograde grade`, on one batch.

    python benchmarks/grading_throughput.py [--per-lesson N] [--lessons 01,03,05] [--workers W]

The batch mixes, per lesson: correct, blank, partly wrong (one known bug), hard-coded visible answers and
two attacks (patched numpy checks, an always-equal answer). Both graders start from the same files and
end with grades in a fresh nbgrader gradebook; both use a 10 s cell limit. Ours runs with the sandbox on,
all workers and warm kernels (``--cold`` also runs it with ``--no-warm-kernels``). Prints notebooks per
minute for each, the ratio (goal: ours >= 3x, issue #16), the per-notebook overhead (the wait for a ready
kernel, warm or cold), and checks that the two agree on every honest submission (correct, blank, partly
wrong, hard-coded). Exits 1 if they disagree.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from nbgrader.api import Gradebook  # noqa: E402

from autograde.lessons import find_lesson  # noqa: E402
from conftest import lesson_fixture, solved, submission, write  # noqa: E402

GOAL = 3.0
CELL_SECONDS = 10
PATCHED_NUMPY = """
import numpy as _np, numpy.testing as _npt
_np.allclose = lambda *a, **k: True
_np.isclose = lambda a, b, *args, **k: _np.ones(_np.broadcast(_np.asarray(a), _np.asarray(b)).shape, dtype=bool)
_npt.assert_allclose = lambda *a, **k: None
import cnnbook.checks as _checks
for _name in ("check_array", "check_value", "check_true", "check_shape"):
    setattr(_checks, _name, lambda *a, **k: None)
"""
ALWAYS_EQUAL = """
class _Equal:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
def {name}(*args, **kwargs):
    return _Equal()
"""


def build_batch(folder: Path, lessons, per_lesson: int) -> dict[tuple[str, str], str]:
    """Write the submissions; return (student, lesson) -> kind."""
    kinds = {}
    pattern = ["correct", "blank", "partial", "hardcoded", "patched", "always_equal"]
    for lesson in lessons:
        fx = lesson_fixture(lesson.slug)
        bug_cell = fx.BUG["cell"]
        for i in range(per_lesson):
            kind = pattern[i % len(pattern)] if i >= 2 else "correct"
            student = f"s{i:02d}"
            if kind == "correct":
                nb = solved(lesson)
            elif kind == "blank":
                nb = submission(lesson)
            elif kind == "partial":
                nb = solved(lesson, {bug_cell: fx.BUG["source"]})
            elif kind == "hardcoded":
                nb = solved(lesson, fx.HARDCODED["cells"])
            elif kind == "patched":
                nb = solved(lesson, {bug_cell: fx.BUG["source"] + PATCHED_NUMPY})
            else:
                nb = solved(lesson, {bug_cell: ALWAYS_EQUAL.format(name=bug_cell)})
            write(nb, folder / student / lesson.slug / f"{lesson.slug}.ipynb")
            kinds[(student, lesson.slug)] = kind
    return kinds


def scores(db_url: str, lessons) -> dict[tuple[str, str], float]:
    found = {}
    with Gradebook(db_url) as gb:
        for lesson in lessons:
            for sub in gb.assignment_submissions(lesson.slug):
                found[(sub.student_id, lesson.slug)] = float(sub.score)
    return found


def machine_cpu() -> float:
    """CPU seconds the whole machine has spent busy so far (/proc/stat: every process, on every core).

    Not this process's children: a sandboxed kernel runs in its own PID namespace and is never waited for by a
    process of ours, so RUSAGE_CHILDREN misses it. Counting the machine includes whatever else runs meanwhile:
    the load average printed beside it says how far to trust it."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    busy = sum(fields[:8]) - fields[3] - fields[4]           # all but idle and iowait (guest time is in user)
    return busy / os.sysconf("SC_CLK_TCK")


def run_nbgrader(batch: Path, lessons, work: Path) -> tuple[float, dict]:
    """Plain nbgrader in a course folder of its own: generate_assignment (gradebook) then autograde."""
    course = work / "nbgrader-course"
    course.mkdir()
    shutil.copytree(batch, course / "submitted")
    config = (ROOT / "nbgrader_config.py").read_text()
    (course / "nbgrader_config.py").write_text(
        config + f"\nc.CourseDirectory.root = {str(course)!r}\nc.CourseDirectory.source_directory = "
        f"{str(ROOT / 'solutions')!r}\nc.CourseDirectory.db_url = 'sqlite:///{course}/gradebook.db'\n"
        f"c.Execute.timeout = {CELL_SECONDS}\n")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    started = time.perf_counter()
    for lesson in lessons:
        for step in (["generate_assignment", lesson.slug, "--force"], ["autograde", lesson.slug, "--force"]):
            proc = subprocess.run([sys.executable, "-m", "nbgrader", *step], cwd=course, env=env,
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                print(proc.stdout[-2000:], proc.stderr[-2000:], file=sys.stderr)
    seconds = time.perf_counter() - started
    return seconds, scores(f"sqlite:///{course}/gradebook.db", lessons)


def per_notebook(out: Path) -> list[dict]:
    """Each submission's wall time in its worker (kernel, the notebook, the tests) and its wait for a kernel."""
    import json

    found = []
    for path in (out / "results").glob("*/*.json"):
        result = json.loads(path.read_text(encoding="utf-8"))
        if result.get("seconds") is not None:
            found.append({"seconds": float(result["seconds"]), **(result.get("kernel") or {})})
    return found


def describe(label: str, each: list[dict]) -> str:
    if not each:
        return f"{label}: no timings"
    seconds = sorted(e["seconds"] for e in each)
    waits = [e.get("start_seconds", 0.0) for e in each]
    warm = sum(1 for e in each if e.get("warm"))
    forked = sum(1 for e in each if e.get("forked"))
    cells = [e.get("phases", {}).get("cells", 0.0) for e in each]
    tests = [e.get("phases", {}).get("tests", 0.0) for e in each]
    return (f"{label}: {sum(seconds) / len(seconds):.1f} s per notebook in a worker (median {seconds[len(seconds) // 2]:.1f}),"
            f" of which waiting for a ready kernel {sum(waits) / len(waits):.2f} s, the notebook's cells "
            f"{sum(cells) / len(cells):.2f} s and the tests {sum(tests) / len(tests):.2f} s on average; {warm} of "
            f"{len(each)} kernels were warm, {forked} forked (autograde.forked)")


def run_ours(batch: Path, lessons, work: Path, workers: int | None, warm: bool = True) -> tuple[float, dict]:
    out = work / ("ours" if warm else "ours-cold")
    args = [sys.executable, "-m", "autograde", "grade", str(batch), "--out", str(out), "--timeout", str(CELL_SECONDS)]
    if not warm:
        args.append("--no-warm-kernels")
    if workers:
        args += ["--workers", str(workers)]
    started = time.perf_counter()
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        print(proc.stdout[-2000:], proc.stderr[-2000:], file=sys.stderr)
    return seconds, scores(f"sqlite:///{out}/gradebook.db", lessons)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lessons", default="01,03,05")
    parser.add_argument("--per-lesson", type=int, default=14)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--cold", action="store_true", help="also grade with --no-warm-kernels (the overhead it saves)")
    args = parser.parse_args()
    lessons = [find_lesson(name) for name in args.lessons.split(",")]
    work = Path(tempfile.mkdtemp(prefix="cnnbook-throughput-"))
    try:
        batch = work / "batch"
        kinds = build_batch(batch, lessons, args.per_lesson)
        n = len(kinds)
        print(f"# {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; "
              f"{n} submissions over {', '.join(lesson.slug for lesson in lessons)}")
        cpu = machine_cpu()
        nb_seconds, nb_scores = run_nbgrader(batch, lessons, work)
        cpu, nb_cpu = machine_cpu(), machine_cpu() - cpu
        our_seconds, our_scores = run_ours(batch, lessons, work, args.workers)
        our_cpu = machine_cpu() - cpu
        nb_rate, our_rate = n / nb_seconds * 60, n / our_seconds * 60
        print(f"{'nbgrader autograde':<28}{nb_seconds:8.1f} s {nb_rate:8.1f} notebooks/min")
        print(f"{'python -m autograde grade':<28}{our_seconds:8.1f} s {our_rate:8.1f} notebooks/min")
        print(f"per notebook: nbgrader {nb_seconds / n:.1f} s (one at a time, everything included)")
        # On C cores the best ratio is about C x (nbgrader's CPU per notebook / ours) when the cores stay busy.
        print(f"CPU per notebook (the whole machine's busy time, kernels included; load "
              f"{os.getloadavg()[0]:.1f} now): nbgrader {nb_cpu / n:.2f} s, ours {our_cpu / n:.2f} s; with "
              f"{os.cpu_count()} busy cores the ratio is at most about {os.cpu_count() * nb_cpu / our_cpu:.2f}x")
        print(describe("ours (warm kernels)", per_notebook(work / "ours")))
        if args.cold:
            cold_seconds, cold_scores = run_ours(batch, lessons, work, args.workers, warm=False)
            print(f"{'... --no-warm-kernels':<28}{cold_seconds:8.1f} s {n / cold_seconds * 60:8.1f} notebooks/min")
            print(describe("ours (cold kernels)", per_notebook(work / "ours-cold")))
            if cold_scores != our_scores:
                print("  DIFFERENT verdicts warm vs cold:",
                      {k: (our_scores.get(k), cold_scores.get(k)) for k in kinds if our_scores.get(k) != cold_scores.get(k)})
        ratio = our_rate / nb_rate
        print(f"ratio {ratio:.2f}x (goal >= {GOAL}x): {'met' if ratio >= GOAL else 'NOT met'}")
        honest = [key for key, kind in kinds.items() if kind in ("correct", "blank", "partial", "hardcoded")]
        disagree = [(key, kinds[key], nb_scores.get(key), our_scores.get(key)) for key in honest
                    if nb_scores.get(key) != our_scores.get(key)]
        print(f"honest submissions: {len(honest) - len(disagree)} of {len(honest)} graded identically")
        for key, kind, theirs, ours in disagree:
            print(f"  DIFFERENT {key} ({kind}): nbgrader {theirs}, ours {ours}")
        attacks = [key for key, kind in kinds.items() if kind in ("patched", "always_equal")]
        fooled = [key for key in attacks if nb_scores.get(key, 0) > our_scores.get(key, 0)]
        print(f"attacks: nbgrader gave more points than we did on {len(fooled)} of {len(attacks)}")
        return 1 if disagree else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
