"""The learner's own copies of the lessons, where nothing the course does overwrites them.

``notebooks/`` holds the lessons as the course releases them (tracked by git, rewritten by
``python -m autograde release`` and by ``git pull``). A learner works in ``my-work/`` instead (ignored by
git): ``python -m cnnbook.lab`` copies every lesson there that is not there yet, and never touches a copy
that exists. After a course update it says which lessons changed in the course, so the learner can take a
fresh exercise cell (``python -m autograde reset N name``) or compare with ``notebooks/``.

Set ``CNNBOOK_WORK`` to keep the copies elsewhere (another disk, a synced folder). The Korean edition
(``notebooks/ko/``) is copied to ``my-work/ko/`` in the same way (``python -m cnnbook.lab --lang ko``).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from autograde.lessons import NOTEBOOKS

from .i18n import _

ROOT = Path(__file__).resolve().parent.parent
COURSE_NOTEBOOKS = NOTEBOOKS          # the released lessons (nbgrader_config.py names the folder)
RECORD = ".course-versions.json"     # in the work folder: each lesson's course hash when last seen


def work_dir() -> Path:
    """Where the learner's copies live: ``$CNNBOOK_WORK`` or ``my-work/`` in the project."""
    return Path(os.environ.get("CNNBOOK_WORK") or ROOT / "my-work")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lesson_folders(course: Path) -> list[Path]:
    if not course.is_dir():
        return []
    return [p for p in sorted(course.iterdir())
            if p.is_dir() and p.name[:2].isdigit() and (p / f"{p.name}.ipynb").is_file()]


@dataclass
class SyncReport:
    work: Path
    course: Path = COURSE_NOTEBOOKS                     # the edition's released lessons
    lang: str = "en"                                    # the edition (the reset command it names says so)
    new: list[str] = field(default_factory=list)        # lessons copied now
    updated: list[str] = field(default_factory=list)    # lessons the course changed since the learner's copy
    kept: list[str] = field(default_factory=list)       # copies left as they were

    def lines(self) -> list[str]:
        out = []
        if self.new:
            out.append(_("Copied to your work folder {work}: {lessons}").format(work=self.work,
                                                                                lessons=", ".join(self.new)))
        for slug in self.updated:
            out.append(_("The course updated lesson {slug}. Your copy {copy} is unchanged; the new version is in "
                         "{course}. To take one fresh exercise cell from it: "
                         "python -m autograde reset {number} <exercise name>{option}").format(
                slug=slug, copy=self.work / slug, course=self.course / slug, number=slug[:2],
                option=f" --lang {self.lang}" if self.lang != "en" else ""))
        return out


def sync_work(course: Path = COURSE_NOTEBOOKS, work: Path | None = None, lang: str = "en") -> SyncReport:
    """Copy every lesson of ``course`` (the edition ``lang``) that ``work`` does not have; never change a copy that
    exists."""
    work = work or work_dir()
    work.mkdir(parents=True, exist_ok=True)
    record_path = work / RECORD
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = {}
    report = SyncReport(work, course, lang)
    for folder in lesson_folders(course):
        slug = folder.name
        released = sha256(folder / f"{slug}.ipynb")
        mine = work / slug
        if not mine.exists():
            shutil.copytree(folder, mine, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
            report.new.append(slug)
        else:
            # A file the course added to a lesson folder (an image, a data file) is copied; nothing is replaced.
            for item in folder.rglob("*"):
                target = mine / item.relative_to(folder)
                if item.is_file() and not target.exists() and ".ipynb_checkpoints" not in item.parts:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(item, target)
            if record.get(slug) not in (None, released):
                report.updated.append(slug)
            else:
                report.kept.append(slug)
        record[slug] = released
    record_path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return report


def edition(lang: str = "en", course: Path = COURSE_NOTEBOOKS, work: Path | None = None) -> tuple[Path, Path]:
    """The course's notebooks and the learner's work folder of an edition: ``notebooks/``, ``my-work/`` for
    English; ``notebooks/ko/``, ``my-work/ko/`` for Korean."""
    work = work or work_dir()
    return (course, work) if lang == "en" else (course / lang, work / lang)


def learner_notebook(slug: str, work: Path | None = None, course: Path = COURSE_NOTEBOOKS, lang: str = "en") -> Path:
    """The notebook the learner works in: their copy in the work folder, else the course's own."""
    course, work = edition(lang, course, work)
    mine = work / slug / f"{slug}.ipynb"
    return mine if mine.is_file() else course / slug / f"{slug}.ipynb"
