"""``python -m autograde reset N exercise``: put one cell of a learner's notebook back as released.

Only that cell changes (its source, its nbgrader metadata, its outputs cleared); every other cell, answer
and note of the learner stays as it is. The text the cell had is saved first, in ``reset-backups/`` next
to the notebook, so a reset is never the loss of an answer either.
"""
from __future__ import annotations

import datetime as _dt
import json
import tempfile
from pathlib import Path

import nbformat

from .i18n import LANGS, catalog_path, read_catalog, translate_notebook, translated_path
from .lessons import NOTEBOOKS, Lesson, UsageError, grade_cells, read_notebook
from .release import MANIFEST, _sha256, read_manifest, release


def notebook_language(path: Path) -> str:
    """The edition a notebook belongs to: its ``metadata.cnnbook.language`` (release sets it in a translated
    notebook), else English."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
        lang = (meta.get("cnnbook") or {}).get("language") or "en"
    except (OSError, ValueError, AttributeError):
        return "en"
    return lang if lang in LANGS else "en"


def released_version(lesson: Lesson, learner_path: Path, tmp: Path) -> Path:
    """A pristine copy of the lesson's student notebook in the learner's edition, other than the learner's file.

    The edition is the notebook's own (:func:`notebook_language`): a Korean notebook gets its cell back from
    ``notebooks/ko/NN_slug/``, an English one from ``notebooks/NN_slug/``. The course's ``notebooks/`` copy when
    it is not the file being reset (or is still exactly as released); else the student version generated afresh
    from ``solutions/`` (translated for a translated edition).
    """
    lang = notebook_language(learner_path)
    out_root = lesson.student_version.parent.parent
    course_copy = lesson.student_version if lang == "en" else translated_path(out_root, lang, lesson.slug)
    key = course_copy.relative_to(out_root).as_posix()
    if course_copy.is_file():
        same_file = course_copy.resolve() == learner_path.resolve()
        manifest = read_manifest(out_root)
        if not same_file or manifest.get(key) == _sha256(course_copy):
            return course_copy
    if lesson.source.is_file():
        english = release([lesson], out_dir=tmp)[0]
        if lang == "en":
            return english
        translated = nbformat.read(english, as_version=4)
        translated = translate_notebook(translated, read_catalog(catalog_path(lesson, lang), lang), lang)
        target = translated_path(tmp, lang, lesson.slug)
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(translated, target)
        return target
    raise UsageError(f"there is no released copy of {lesson.slug} to take the cell from: {course_copy} is the "
                     f"notebook being reset and has changed since the release ({MANIFEST}), and there is no "
                     "solutions/ folder to generate it from. Get notebooks/ afresh from the course "
                     "(e.g. git checkout -- notebooks/) after copying your work to my-work/.")


def reset_cell(lesson: Lesson, learner_path: Path, grade_id: str) -> tuple[Path | None, str]:
    """Restore cell ``grade_id`` of ``learner_path``; return (backup file or None, what happened)."""
    nb = read_notebook(learner_path)
    mine = grade_cells(nb)
    with tempfile.TemporaryDirectory(prefix="cnn-reset-") as tmp:
        original = grade_cells(nbformat.read(released_version(lesson, learner_path, Path(tmp)), as_version=4))
    if grade_id not in original:
        answers = [gid for gid, cell in original.items() if cell.metadata.nbgrader.get("solution")]
        raise UsageError(f"lesson {lesson.slug} has no exercise {grade_id!r}. Its exercises: {', '.join(answers)}.")
    if grade_id not in mine:
        raise UsageError(f"{learner_path} has no cell {grade_id!r} (was it deleted, or is this another lesson's "
                         f"notebook?). The released cell is in {lesson.student_version}: copy it from there.")
    cell, fresh = mine[grade_id], original[grade_id]
    if cell.source == fresh.source:
        return None, f"{grade_id} in {learner_path} is already as released: nothing changed."
    backups = learner_path.parent / "reset-backups"
    backups.mkdir(exist_ok=True)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    backup = backups / f"{learner_path.stem}.{grade_id}.{stamp}.py"
    backup.write_text(cell.source + ("\n" if not cell.source.endswith("\n") else ""), encoding="utf-8")
    cell.source = fresh.source
    cell.metadata["nbgrader"] = json.loads(json.dumps(fresh.metadata["nbgrader"]))
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None
    nbformat.write(nb, learner_path)
    return backup, (f"{grade_id} in {learner_path} is back as released; your previous text is in {backup}. "
                    "If the notebook is open in JupyterLab, reload it (File > Reload Notebook from Disk).")


__all__ = ["NOTEBOOKS", "released_version", "reset_cell"]
