"""Generate the student notebooks (notebooks/) from the sources (solutions/) with nbgrader.

A lesson with a translation catalog (``solutions/NN_slug/ko.po``) is also released in that language, to
``notebooks/ko/NN_slug/NN_slug.ipynb``: the English student notebook with its markdown and learner-visible
strings translated, every nbgrader cell unchanged (see ``autograde.i18n``). The manifest covers them too.

A release never overwrites work silently: ``notebooks/.release-manifest.json`` (committed with the
notebooks) holds the sha256 of every file the last release wrote. A file in ``notebooks/`` whose hash is
neither that nor the new release's was changed by someone (a learner who worked in ``notebooks/``), and
``release`` refuses to replace it unless ``force=True`` (``--force``).
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from .colab import add_setup_cell
from .i18n import LANGS, TranslationProblem, build_translations
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


MANIFEST = ".release-manifest.json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_manifest(out_dir: Path) -> dict[str, str]:
    """``{"<slug>/<file>": sha256}`` of what the last release wrote to ``out_dir`` (empty if none)."""
    try:
        data = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def changed_since_release(out_dir: Path, fresh: dict[str, Path]) -> list[Path]:
    """Files in ``out_dir`` that differ from both the last release and the new one (``fresh``: key -> file)."""
    manifest = read_manifest(out_dir)
    changed = []
    for key, new in fresh.items():
        target = out_dir / key
        if target.is_file():
            now = _sha256(target)
            if now != manifest.get(key) and now != _sha256(new):
                changed.append(target)
    return changed


def release(lessons: list[Lesson], out_dir: Path = NOTEBOOKS, db_url: str | None = None,
            force: bool = False) -> list[Path]:
    """Write ``out_dir/<slug>/<slug>.ipynb`` for each lesson; return the written notebooks.

    Every lesson is generated first into a temporary folder; then, unless ``force``, a file in ``out_dir``
    changed since the last release stops the whole release before anything is written (UsageError naming
    the files). ``db_url`` is the gradebook nbgrader records the assignment in; by default a throwaway one,
    so that releasing never touches an instructor's gradebook (``grade`` registers lessons itself).
    """
    written = []
    with tempfile.TemporaryDirectory(prefix="cnn-release-") as tmp:
        db = db_url or f"sqlite:///{Path(tmp) / 'release.db'}"
        if db_url is None:
            # nbgrader's newest schema revision, read in this process, as grade does: else each lesson's nbgrader
            # would start an `alembic heads` process for the new gradebook (2.7 s of CPU each)
            from .grade import stamp_new_gradebook

            stamp_new_gradebook(db)
        staging = Path(tmp) / "release"
        fresh: dict[str, Path] = {}
        for lesson in lessons:
            check_source(lesson)
        # One nbgrader process for all the lessons (about 2.5 s of CPU each to start): it generates every
        # assignment of its source folder ("*"), here a copy of just the lessons asked for.
        sources = Path(tmp) / "source"
        for lesson in lessons:
            shutil.copytree(lesson.solutions / lesson.slug, sources / lesson.slug)
        proc = nbgrader("generate_assignment", "*", "--force", f"--CourseDirectory.source_directory={sources}",
                        f"--CourseDirectory.release_directory={staging}", f"--CourseDirectory.db_url={db}")
        missing = [lesson.slug for lesson in lessons if not (staging / lesson.slug / f"{lesson.slug}.ipynb").is_file()]
        if proc.returncode != 0 or missing:
            names = ", ".join(missing or [lesson.slug for lesson in lessons])
            raise UsageError(f"nbgrader could not generate {names}:\n{_tail(proc.stderr)}")
        for lesson in lessons:
            made = staging / lesson.slug / f"{lesson.slug}.ipynb"
            # the Colab set-up cell first (autograde.colab; the translated editions get it from this notebook)
            nbformat.write(add_setup_cell(nbformat.read(made, as_version=4)), made)
            for item in sorted((staging / lesson.slug).rglob("*")):
                if item.is_file() and item.suffix == ".po":
                    item.unlink()       # a translation catalog (it quotes hidden tests' hints): not released
                elif item.is_file():
                    fresh[item.relative_to(staging).as_posix()] = item
        try:                            # the translated editions (notebooks/ko/...): see autograde.i18n
            fresh.update(build_translations(lessons, staging, staging))
        except TranslationProblem as err:
            raise UsageError(f"nothing was released: {err}") from None
        changed = [] if force else changed_since_release(out_dir, fresh)
        if changed:
            names = "\n".join(f"  {path}" for path in changed)
            raise UsageError(f"nothing was released: these files changed since the last release, and releasing "
                             f"would overwrite them:\n{names}\nIf that is your work, keep it: `python -m cnnbook.lab` "
                             "works on copies in my-work/ that no release touches (copy your notebook there). "
                             "To overwrite them anyway, run release again with --force.")
        manifest = read_manifest(out_dir)
        slugs = {lesson.slug for lesson in lessons}
        for key in [k for k in manifest if _slug_of(k) in slugs and k not in fresh]:
            old = out_dir / key          # released last time, not any more: removed (if nobody changed it)
            if old.is_file() and (force or _sha256(old) == manifest[key]):
                old.unlink()
            manifest.pop(key)
        for key, item in fresh.items():
            target = out_dir / key
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(item, target)
            manifest[key] = _sha256(target)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        written = [out_dir / lesson.slug / f"{lesson.slug}.ipynb" for lesson in lessons]
    return written


def _slug_of(key: str) -> str:
    """The lesson of a manifest key: "01_history/01_history.ipynb" or "ko/01_history/01_history.ipynb"."""
    parts = key.split("/")
    return parts[1] if parts[0] in LANGS and len(parts) > 2 else parts[0]


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
