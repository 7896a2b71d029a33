"""Generate the student notebooks (notebooks/) from the sources (solutions/) with nbgrader."""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from .lessons import NOTEBOOKS, ROOT, Lesson, UsageError, grade_cells, read_notebook, NotebookProblem


def nbgrader(*args: str, cwd: Path = ROOT, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run an nbgrader command with the course's nbgrader_config.py (it is read from the project root)."""
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def check_source(lesson: Lesson) -> None:
    """Refuse sources that would release something wrong: stored outputs, duplicate or missing ids."""
    try:
        nb = read_notebook(lesson.source)
    except NotebookProblem as err:
        raise UsageError(str(err)) from None
    with_outputs = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.get("outputs")]
    if with_outputs:
        raise UsageError(f"{lesson.source} has stored outputs in cells {with_outputs}: clear them "
                         "(Edit > Clear Outputs of All Cells) so the release is deterministic.")
    ids = [c.metadata.nbgrader.grade_id for c in nb.cells if "nbgrader" in c.metadata
           and "grade_id" in c.metadata.nbgrader]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise UsageError(f"{lesson.source}: grade_ids used twice: {', '.join(dupes)}")
    if not grade_cells(nb):
        raise UsageError(f"{lesson.source} has no nbgrader cells: nothing to grade.")


def release(lessons: list[Lesson], out_dir: Path = NOTEBOOKS, db_url: str | None = None) -> list[Path]:
    """Write ``out_dir/<slug>/<slug>.ipynb`` for each lesson; return the written notebooks.

    ``db_url`` is the gradebook nbgrader records the assignment in; by default a throwaway one, so that
    releasing never touches an instructor's gradebook (``grade`` registers lessons itself).
    """
    written = []
    with tempfile.TemporaryDirectory(prefix="cnn-release-") as tmp:
        db = db_url or f"sqlite:///{Path(tmp) / 'release.db'}"
        for lesson in lessons:
            check_source(lesson)
            proc = nbgrader("generate_assignment", lesson.slug, "--force",
                            f"--CourseDirectory.source_directory={lesson.solutions}",
                            f"--CourseDirectory.release_directory={out_dir.resolve()}",
                            f"--CourseDirectory.db_url={db}")
            target = out_dir / lesson.slug / f"{lesson.slug}.ipynb"
            if proc.returncode != 0 or not target.is_file():
                raise UsageError(f"nbgrader could not generate {lesson.slug}:\n{_tail(proc.stderr)}")
            written.append(target)
    return written


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
