"""Where the lessons are, and reading notebooks so that bad input gets a clear message."""
from __future__ import annotations

import contextlib
import functools
import json
import re
import unicodedata
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .text import valid_text

ROOT = Path(__file__).resolve().parent.parent


#: The layout nbgrader_config.py declares, for a copy of the course without that file (a learner given only
#: notebooks/, cnnbook/ and data/). tests/test_settings.py checks that the two agree.
COURSE_LAYOUT = {"source_directory": "solutions", "release_directory": "notebooks", "submitted_directory": "submitted",
                 "autograded_directory": "autograded", "feedback_directory": "feedback"}


def course_layout(root: Path = ROOT) -> dict[str, str]:
    """nbgrader's ``CourseDirectory`` settings as ``nbgrader_config.py`` writes them: the one place for the layout.

    The file is read with traitlets, as nbgrader reads it.
    """
    from .settings import course_config

    layout = dict(COURSE_LAYOUT)
    layout.update({k: v for k, v in course_config(root).get("CourseDirectory", {}).items() if k in layout})
    return layout


LAYOUT = course_layout()
SOLUTIONS = ROOT / LAYOUT["source_directory"]
NOTEBOOKS = ROOT / LAYOUT["release_directory"]

#: The largest submission the grader reads. A solved lesson with its figures is 1-3 MiB; the limit leaves room for
#: a learner's extra outputs and stops one file from filling the grader's memory.
MAX_NOTEBOOK_BYTES = 64 * 2 ** 20
# Cells of a submission, and outputs saved in it: a lesson has fewer than a hundred cells. Each costs the grader
# time to check against nbformat's schema (about 0.7 ms), in the worker and again where the batch writes it out;
# 44 MiB of empty cells (400,000) kept a worker busy for 5 minutes past its time limit and the batch for 7 more.
MAX_CELLS = 2_000
MAX_SAVED_OUTPUTS = 20_000
_SLUG = re.compile(r"^(\d\d)_[a-z0-9_]+$")


class UsageError(Exception):
    """A mistake in what the user asked for; the CLI prints it without a traceback."""


@dataclass(frozen=True)
class Lesson:
    slug: str  # "03_padding_stride": the nbgrader assignment id and notebook name
    # The folder of source notebooks: the course's solutions/, or a test course's (tests/course/solutions).
    solutions: Path = SOLUTIONS

    @property
    def number(self) -> str:
        return self.slug[:2]

    @property
    def source(self) -> Path:
        return self.solutions / self.slug / f"{self.slug}.ipynb"

    @property
    def student_version(self) -> Path:
        notebooks = NOTEBOOKS if self.solutions == SOLUTIONS else self.solutions.parent / NOTEBOOKS.name
        return notebooks / self.slug / f"{self.slug}.ipynb"


def all_lessons(solutions: Path = SOLUTIONS) -> list[Lesson]:
    """Every lesson in ``solutions`` (the course's solutions/ by default), in order.

    A learner may have only the student versions (``notebooks/``): then those name the lessons.
    """
    folder = solutions
    if not folder.is_dir():
        folder = NOTEBOOKS if solutions == SOLUTIONS else solutions.parent / NOTEBOOKS.name
    if not folder.is_dir():
        return []
    return [Lesson(p.name, solutions) for p in sorted(folder.iterdir())
            if p.is_dir() and _SLUG.match(p.name) and (p / f"{p.name}.ipynb").is_file()]


def find_lesson(name: str, lessons: list[Lesson] | None = None) -> Lesson:
    """Resolve "3", "03" or "03_padding_stride" to a lesson (of the course, or of ``lessons``), or explain what
    exists."""
    lessons = all_lessons() if lessons is None else lessons
    key = name.strip().lower()
    if key.isascii() and key.isdigit() and len(key) <= 3:
        key = f"{int(key):02d}"
    for lesson in lessons:
        if key in (lesson.slug, lesson.number):
            return lesson
    known = ", ".join(f"{lesson.number} ({lesson.slug})" for lesson in lessons) or "none"
    raise UsageError(f"no lesson called {name!r}. The lessons are: {known}.")


class NotebookProblem(Exception):
    """A submission that cannot be graded as a notebook; ``status`` is the short reason for grades.csv."""

    def __init__(self, status: str, message: str, reason: str = ""):
        super().__init__(message)
        self.status = status
        self.reason = reason        # what the learner's page says of the file (autograde.grade.FILE_PROBLEM)


_CELL_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")     # nbformat 4.5's cell id


def _repair_cells(cells: list, minor: object) -> bool:
    """Put right, in place, what other editors leave in a notebook that Jupyter opens with a warning but nbformat's
    schema refuses: a markdown or raw cell with ``outputs`` and ``execution_count`` (VS Code), a code cell without
    ``execution_count`` (Azure Data Studio) or ``outputs``, a cell id that is no id or none in nbformat 4.5 (a new one
    is given; nbformat warns of a missing one and means to refuse it). The learner's sources and outputs stay as
    they are. True when something was changed."""
    changed = False
    for cell in cells:
        if not isinstance(cell, dict):
            continue
        if cell.get("cell_type") in ("markdown", "raw"):
            for key in ("outputs", "execution_count"):
                if key in cell:
                    del cell[key]
                    changed = True
        elif cell.get("cell_type") == "code":
            for key, empty in (("outputs", []), ("execution_count", None)):
                if key not in cell:
                    cell[key] = empty
                    changed = True
        has_ids = isinstance(minor, int) and minor >= 5
        if "id" in cell and not (isinstance(cell["id"], str) and _CELL_ID.match(cell["id"])) or \
                has_ids and "id" not in cell:
            if has_ids:
                cell["id"] = uuid.uuid4().hex[:8]
            else:
                del cell["id"]
            changed = True
    return changed


def _from_nbformat_3(path: Path, data: dict) -> dict:
    """An nbformat 3 notebook (IPython's and old Jupyter's saves: cells in ``worksheets``) as nbformat 4, converted
    by nbformat's own converter (which marks it: ``metadata.orig_nbformat`` is 3). Its cells are counted against
    MAX_CELLS before it is converted."""
    worksheets = data.get("worksheets")
    if not isinstance(worksheets, list) or not all(isinstance(w, dict) and isinstance(w.get("cells"), list)
                                                   for w in worksheets):
        raise NotebookProblem("invalid-notebook", f"{path} has nbformat 3 but no list of worksheets with cells.")
    count = sum(len(w["cells"]) for w in worksheets)
    if count > MAX_CELLS:
        raise NotebookProblem("invalid-notebook",
                              f"{path} has {count:,} cells; a notebook of this course has fewer than a hundred "
                              f"(the limit is {MAX_CELLS:,}).")
    try:
        with warnings.catch_warnings():            # the converter warns of what validation below refuses anyway
            warnings.simplefilter("ignore")
            converted = nbformat.reads(json.dumps(data), as_version=4)     # v3 keeps sources as lists of lines
        return json.loads(nbformat.writes(converted, version=4))
    except Exception as err:  # noqa: BLE001 - whatever the converter makes of a broken file: not a notebook
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise NotebookProblem("invalid-notebook", f"{path} is an nbformat 3 notebook that could not be converted "
                              f"to nbformat 4: {first_line}") from None


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read and validate a notebook, turning every way it can be broken into a NotebookProblem."""
    if not path.exists():
        raise NotebookProblem("missing", f"{path} does not exist.")
    if not path.is_file():
        raise NotebookProblem("missing", f"{path} is not a file.")
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        raise NotebookProblem("invalid-notebook",
                              f"{path} is {size / 2 ** 20:.0f} MiB; a notebook of this course is a few MiB at most "
                              f"(the limit is {MAX_NOTEBOOK_BYTES // 2 ** 20} MiB). Clear large outputs "
                              "(Edit > Clear Outputs of All Cells), save and submit again.", "too-large")
    with path.open("rb") as handle:       # the file may grow between stat and read: never read past the limit
        raw = handle.read(MAX_NOTEBOOK_BYTES + 1)
    if len(raw) > MAX_NOTEBOOK_BYTES:
        raise NotebookProblem("invalid-notebook", f"{path} grew past {MAX_NOTEBOOK_BYTES // 2 ** 20} MiB while read.",
                              "too-large")
    try:
        # A Windows editor may save it again with a byte order mark ("UTF-8 with BOM"): the learner's work all the same.
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as err:
        raise NotebookProblem("invalid-notebook",
                              f"{path} is not UTF-8 text (byte {err.start} cannot be decoded); "
                              "a notebook is a UTF-8 JSON file. Was it saved by another program?", "not-text") from None
    if not text.strip():
        raise NotebookProblem("invalid-notebook", f"{path} is empty ({size} bytes): the upload or the save did not "
                              "complete. Save the notebook in JupyterLab (File > Save), check that it opens, and "
                              "submit it again.", "empty")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise NotebookProblem("invalid-notebook",
                              f"{path} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}). "
                              "Re-download the notebook from JupyterLab (File > Download).", "cut-off") from None
    except RecursionError:                # JSON nested deeper than Python's parser goes: never a saved notebook
        raise NotebookProblem("invalid-notebook",
                              f"{path} is JSON nested too deeply to be a notebook saved by JupyterLab.", "not-text") from None
    if isinstance(data, dict) and data.get("nbformat") == 3:
        data = _from_nbformat_3(path, data)
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotebookProblem("invalid-notebook", f"{path} is JSON but not a notebook (no list of cells).", "not-text")
    cells = data["cells"]
    if len(cells) > MAX_CELLS:
        raise NotebookProblem("invalid-notebook",
                              f"{path} has {len(cells):,} cells; a notebook of this course has fewer than a hundred "
                              f"(the limit is {MAX_CELLS:,}). Delete the cells you added that you do not need, save "
                              "and submit again.")
    saved = sum(len(c["outputs"]) for c in cells if isinstance(c, dict) and isinstance(c.get("outputs"), list))
    if saved > MAX_SAVED_OUTPUTS:
        raise NotebookProblem("invalid-notebook",
                              f"{path} holds {saved:,} saved outputs (the limit is {MAX_SAVED_OUTPUTS:,}). Clear them "
                              "(Edit > Clear Outputs of All Cells), save and submit again.", "too-large")
    if data.get("nbformat") != 4:
        raise NotebookProblem("invalid-notebook",
                              f"{path} has nbformat {data.get('nbformat')!r}; this course uses nbformat 4.", "not-text")
    if _repair_cells(cells, data.get("nbformat_minor")):
        text = json.dumps(data)
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as err:  # nbformat raises several kinds of validation errors
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise NotebookProblem("invalid-notebook", f"{path} is not a valid notebook: {first_line}", "not-text") from None
    # A JSON escape such as "\\ud800" is valid JSON but no character: a kernel cannot be sent a cell holding one,
    # nor a UTF-8 file written with it. JupyterLab never saves one; a hand-edited file gets U+FFFD in its place.
    return valid_text(nb)


# nbgrader's cell metadata as nbgrader writes it: key -> the types its value may have. A learner's file may hold
# anything there (JupyterLab's metadata editor, a text editor); what does not fit is not grading metadata at all.
NBGRADER_KEYS: dict[str, tuple[type, ...]] = {
    "grade_id": (str,), "solution": (bool,), "grade": (bool,), "locked": (bool,), "task": (bool,),
    "points": (int, float), "schema_version": (int,), "checksum": (str,), "cell_type": (str,)}


def nbgrader_meta(cell) -> dict:
    """A cell's nbgrader metadata when it has the shape nbgrader gives it, else ``{}`` (a plain cell).

    The one reader of a notebook's grading metadata: every use of it (which cell is a test, an answer, which
    grade_id) goes through here, so a submission whose metadata is a string, a list, or a grade_id that is not
    text is read as plain cells, never as an error of the grader. :func:`malformed_nbgrader` finds such cells."""
    meta = cell.get("metadata", {}).get("nbgrader") if isinstance(cell.get("metadata"), dict) else None
    if not isinstance(meta, dict) or not _well_formed_nbgrader(meta):
        return {}
    return meta


def _well_formed_nbgrader(meta: dict) -> bool:
    for key, kinds in NBGRADER_KEYS.items():
        if key in meta and (type(meta[key]) not in kinds or (key == "grade_id" and not 0 < len(meta[key]) <= 200)):
            return False
    return True


def malformed_nbgrader(nb: nbformat.NotebookNode) -> int:
    """How many cells carry nbgrader metadata that :func:`nbgrader_meta` does not take (nbgrader never writes such)."""
    return sum(1 for cell in nb.cells if isinstance(cell.get("metadata"), dict)
               and cell["metadata"].get("nbgrader", {}) != {} and not nbgrader_meta(cell))


def grade_cells(nb: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    """The nbgrader cells of a notebook by grade_id."""
    cells = {}
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if "grade_id" in meta:
            cells[meta["grade_id"]] = cell
    return cells


def lesson_ids(lesson: Lesson) -> frozenset[str]:
    """The grade_ids of a lesson's cells (answers and tests), from its source or its student version (none when it
    cannot be read). Read once per version of the file."""
    path = lesson.source if lesson.source.is_file() else lesson.student_version
    try:
        return _cell_ids(path, path.stat().st_mtime_ns)
    except OSError:
        return frozenset()


@functools.cache
def _cell_ids(path: Path, _version: int) -> frozenset[str]:
    try:
        return frozenset(grade_cells(read_notebook(path)))
    except Exception:  # noqa: BLE001 - a lesson we cannot read just does not match
        return frozenset()


def is_test_cell(cell) -> bool:
    meta = nbgrader_meta(cell)
    return bool(meta.get("grade")) and not meta.get("solution") and cell.get("cell_type") == "code"


# ---------------------------------------------------------------------------------------------- titles
def _heading(nb) -> str:
    """The first Markdown heading of a notebook ('Lesson 03 — Padding and stride'), or ''."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in str(cell.get("source", "")).splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
            return ""
    return ""


def _released(lesson: Lesson) -> Path:
    """The folder of the released (student) notebooks: notebooks/, with a translation's in notebooks/<lang>/."""
    return lesson.student_version.parent.parent


@functools.cache
def _titles(solutions: Path, slug: str, _versions: tuple) -> dict[str, str]:
    """language -> the lesson's title in it ("en" first; a translation whose title is missing is left out)."""
    from .i18n import LANGS, catalog_path, current_translations, read_catalog, translated_path

    lesson = Lesson(slug, solutions)
    english = None
    for path in (lesson.source, lesson.student_version):
        with contextlib.suppress(NotebookProblem):
            english = read_notebook(path)
            break
    first = next((c for c in english.cells if c.get("cell_type") == "markdown"), None) if english else None
    if first is None or not _heading({"cells": [first]}):
        return {}
    found = {"en": _heading({"cells": [first]})}
    for lang in LANGS:                        # the translation of that cell: its catalog, else the built notebook
        try:
            text = current_translations(read_catalog(catalog_path(lesson, lang), lang)).get(
                (first.get("id") or "", first.source), "")
        except Exception:  # noqa: BLE001 - a catalog we cannot read gives no title
            text = ""
        title = _heading({"cells": [{"cell_type": "markdown", "source": text}]})
        if not title:
            with contextlib.suppress(NotebookProblem):
                title = _heading(read_notebook(translated_path(_released(lesson), lang, slug)))
        if title:
            found[lang] = title
    return found


def _version(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _titles_by_language(slug: str, solutions: Path) -> dict[str, str]:
    """language -> the lesson's title, read once per version of the files it comes from."""
    from .i18n import LANGS, catalog_path, translated_path

    lesson = Lesson(slug, solutions)
    files = [lesson.source, lesson.student_version, *(catalog_path(lesson, lang) for lang in LANGS),
             *(translated_path(_released(lesson), lang, slug) for lang in LANGS)]
    return _titles(solutions, slug, tuple(_version(p) for p in files))


def lesson_titles(slug: str, solutions: Path = SOLUTIONS) -> tuple[str, ...]:
    """The lesson's titles as its notebooks show them, the English one first, then each translation's
    ('Lesson 03 — Padding and stride', '레슨 03 — 패딩과 스트라이드'): the first heading of the lesson notebook and
    its translation (the lesson's ``<lang>.po``, else the translated notebook). None for a lesson that is not in
    ``solutions``. Read once per version of the files."""
    return tuple(dict.fromkeys(_titles_by_language(slug, solutions).values()))


def lesson_title(slug: str, lang: str = "en", solutions: Path = SOLUTIONS) -> str:
    """The lesson's title in ``lang`` ('레슨 03 — 패딩과 스트라이드'), else its English title, else its slug (a lesson
    that is not in ``solutions``)."""
    titles = _titles_by_language(slug, solutions)
    return titles.get(lang) or titles.get("en") or slug


def words(text: str) -> list[str]:
    """A name's words, lower case, without punctuation (Hangul in its composed form: macOS names files in
    decomposed Hangul)."""
    return re.sub(r"[\W_]+", " ", unicodedata.normalize("NFC", text).lower()).split()


def _title_words(title: str, number: int) -> list[str]:
    """The words of a title after the lesson's number ('Lesson 03 — Padding and stride' -> padding, and,
    stride); the whole title when it carries no number."""
    found = words(title)
    for at, word in enumerate(found):
        if word.isdigit() and int(word) == number:
            return found[at + 1:]
    return found


@functools.cache
def _distinctive(solutions: Path, slugs: tuple[str, ...], versions: tuple) -> dict[str, tuple[tuple[str, ...], ...]]:
    """slug -> its titles' words (after the number), and as the last item the words that name it: a word of its
    slug longer than three letters, or a word of a title (two letters or more, no digit, not an English word of
    three letters or fewer) that no other lesson's title or slug holds, with or without an ending ('and', '그리고',
    '합성곱' are in several)."""
    titles = {slug: [_title_words(t, int(slug[:2])) for t in lesson_titles(slug, solutions)] for slug in slugs}
    slug_words = {slug: [w for w in slug[3:].split("_") if len(w) > 3] for slug in slugs}
    result: dict[str, tuple[tuple[str, ...], ...]] = {}
    for slug in slugs:
        others = {w for other in slugs if other != slug for t in titles[other] for w in t} \
            | {w for other in slugs if other != slug for w in other[3:].split("_")}
        naming = set(slug_words[slug]) | {w for t in titles[slug] for w in t if len(w) >= 2
                                          and not any(_same_word(w, other) for other in others)
                                          and not any(ch.isdigit() for ch in w)
                                          and not (w.isascii() and len(w) <= 3)}
        result[slug] = (*(tuple(t) for t in titles[slug] if t), tuple(sorted(naming)))
    return result


def _same_word(a: str, b: str) -> bool:
    """Two words are one: equal, or (not English) one is the other with an ending (Korean particles:
    '패딩' and '패딩과')."""
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    return not long_.isascii() and len(short) >= 2 and long_.startswith(short)


def title_names_lesson(lesson: str, title: str, solutions: Path = SOLUTIONS) -> int:
    """How an LMS name (an assignment's title, a Moodle worksheet's or export's file name) names a lesson: 2 when
    it names it ('01_history', 'Lesson 01: History', the lesson's own title in English or in a translation:
    '레슨 03 — 패딩과 스트라이드'), 1 when it carries the lesson's number and a word that names it, from its slug
    or its titles ('Lab 9 - losses', '3주차 패딩 스트라이드'), else 0. The one rule for every LMS name."""
    number = int(lesson[:2])
    said = words(title)
    numbers = [int(w) for w in re.findall(r"\d+", " ".join(said))]
    text = f" {' '.join(said)} "
    if f" {' '.join(words(lesson))} " in text:
        return 2
    if number not in numbers:
        return 0
    slugs = tuple(sorted({*(x.slug for x in all_lessons(solutions)), lesson}))
    known = _distinctive(solutions, slugs, tuple(lesson_titles(s, solutions) for s in slugs))[lesson]
    if any(f" {' '.join(t)} " in text for t in (tuple(words(lesson[3:])), *known[:-1]) if t):
        return 2
    return 1 if any(_same_word(w, name) for w in said for name in known[-1]) else 0
