"""One short digest of a hand-in's answers, for flagged.md's note of hand-ins of a lesson whose answers are the same.

Each answer cell (nbgrader's solution cells, by grade_id) is read with what does not change its meaning taken out:
comments, blank lines, spacing and indentation widths in code (Python's tokenize), spacing in text answers. A cell
still as a release wrote it (nbgrader's checksum holds, or it reads as one of the lesson's released editions' starting
code or text), or left empty, is not answered and takes no part. The digest of the answered cells, by grade_id, is
kept in the result (``answer_digest``), with how many answer cells it answered (``answers_given``) of the lesson's
(``answer_cells``); the reports group results by the digest, so no notebook is read again and no two hand-ins' texts
are compared. The English and Korean editions of a lesson share their grade_ids: the same answers written in either
have the same digest.

Hand-ins with one digest answered the same cells alike and left every other one as released. That means something
only when they share enough answers: two students who wrote the same one-line answer to one short exercise and left
the rest untouched are no copies. flagged.md lists a group when its shared answers are at least half of the lesson's
answer cells and at least :data:`MIN_SHARED` (every answer cell, in a lesson with fewer): see :func:`same_answers`.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import tokenize
from typing import NamedTuple

import nbformat

from .lessons import Lesson, grade_cells, lesson_ids, nbgrader_meta, read_notebook

# Tokens that carry no meaning of the learner's beyond the layout: dropped (NEWLINE, INDENT, DEDENT keep their kind).
_LAYOUT = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}
_KIND_ONLY = {tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}
# A longer cell is read line by line, never split into tokens: this runs in the grading worker, outside the learner's
# memory limit, and tokenize's objects took 470 MiB and 4 s for one answer cell of 1.6 MB (a notebook may hold 64 MiB).
# No lesson's answer comes near it.
TOKENISED_CHARS = 50_000


def normalised(cell) -> str:
    """A cell's text with comments and spacing taken out: code by its tokens, other cells by their words. Code that
    Python cannot split into tokens (an open bracket, an IPython line) is read line by line: comment lines and
    spacing dropped."""
    text = str(cell.get("source") or "")
    if cell.get("cell_type") != "code":
        return " ".join(text.split())
    if len(text) <= TOKENISED_CHARS:
        try:
            return " ".join(tokenize.tok_name[t.type] if t.type in _KIND_ONLY else t.string
                            for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.type not in _LAYOUT)
        except (tokenize.TokenError, SyntaxError):
            pass
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("#"))


_stubs: dict[tuple, dict[str, frozenset[str]]] = {}


def released_stubs(lesson: Lesson) -> dict[str, frozenset[str]]:
    """Each answer cell's starting text (normalised) in every released edition of the lesson, by grade_id; read once
    per version of those files. An edition that cannot be read adds nothing (the checksum still knows its cells)."""
    from .i18n import LANGS, translated_path

    editions = [lesson.student_version, *(translated_path(lesson.student_version.parent.parent, lang, lesson.slug)
                                          for lang in LANGS)]
    key = tuple((str(path), *((path.stat().st_mtime_ns, path.stat().st_size) if path.is_file() else ()))
                for path in editions)
    if key not in _stubs:
        stubs: dict[str, set[str]] = {}
        for edition in editions:
            try:
                cells = grade_cells(read_notebook(edition))
            except Exception:  # noqa: BLE001 - a missing or unreadable edition only adds no starting text
                continue
            for gid, cell in cells.items():
                if nbgrader_meta(cell).get("solution"):
                    stubs.setdefault(gid, set()).add(normalised(cell))
        _stubs[key] = {gid: frozenset(texts) for gid, texts in stubs.items()}
    return _stubs[key]


def _as_released(cell) -> bool:
    """nbgrader's checksum of the cell holds: the cell is as a release (of any edition, any version) wrote it."""
    from nbgrader.utils import compute_checksum

    return bool(cell.metadata.nbgrader.get("checksum")) and cell.metadata.nbgrader["checksum"] == compute_checksum(cell)


def answered_cells(nb: nbformat.NotebookNode, stubs: dict[str, frozenset[str]],
                   ids: frozenset[str] | None = None) -> dict[str, str]:
    """A notebook's answered cells: grade_id -> normalised text, leaving out every answer cell that is empty or as
    released. With ``ids`` (the lesson's grade_ids), a cell under any other grade_id is no answer: a learner may add
    cells of made-up grade_ids, as many as 64 MiB holds, and each would go through tokenize in the grading worker,
    outside their limits."""
    answered = {}
    for gid, cell in grade_cells(nb).items():
        if (ids is not None and gid not in ids) or not nbgrader_meta(cell).get("solution"):
            continue
        text = normalised(cell)
        if not text or text in stubs.get(gid, ()):
            continue
        try:
            if _as_released(cell):
                continue
        except Exception:  # noqa: BLE001 - a learner's metadata may hold anything: the text decides
            pass
        answered[gid] = text
    return answered


def _digest(answered: dict[str, str]) -> str | None:
    """The digest of a notebook's answered cells (grade_id and normalised text, :func:`answered_cells`), or None when
    it answered none (every answer cell empty or as released: such hand-ins are never said to be the same)."""
    if not answered:
        return None
    return hashlib.sha256(json.dumps(sorted(answered.items()), ensure_ascii=False).encode()).hexdigest()[:32]


def notebook_answers(nb: nbformat.NotebookNode, lesson: Lesson) -> dict:
    """What a result keeps of a hand-in's answers: ``answer_digest``, ``answers_given`` (answer cells answered) and
    ``answer_cells`` (the lesson's answer cells); empty when it answered none or anything cannot be read."""
    try:
        stubs = released_stubs(lesson)
        answered = answered_cells(nb, stubs, lesson_ids(lesson))
        digest = _digest(answered)
    except Exception:  # noqa: BLE001 - a note for the instructor: never a reason a hand-in is not graded
        return {}
    if digest is None:
        return {}
    return {"answer_digest": digest, "answers_given": len(answered), "answer_cells": max(len(stubs), len(answered))}


# Fewest answers a group must share to be listed (every answer cell, in a lesson with fewer): one or two short answers
# are often written alike by two people.
MIN_SHARED = 3


def enough_shared(given: int, cells: int) -> bool:
    """Whether ``given`` answers shared alike (of a lesson's ``cells`` answer cells, the rest as released) are enough
    to list: at least half of the lesson's answer cells, and at least MIN_SHARED (all of them when it has fewer)."""
    return given >= min(cells, max(MIN_SHARED, math.ceil(cells / 2)))


class SameAnswers(NamedTuple):
    """Students whose hand-ins of a lesson answered ``given`` of its ``cells`` answer cells alike, the rest as
    released."""
    lesson: str
    students: list[str]
    given: int
    cells: int


def same_answers(results: list[dict]) -> list[SameAnswers]:
    """Groups of two or more students whose graded hand-ins of one lesson have the same answer digest and share enough
    answers to mean something (:func:`enough_shared`), by lesson then first student. Results without a digest, or
    without the count of their answers (graded before either was kept), or with no answer, take no part."""
    groups: dict[tuple[str, str], set[str]] = {}
    counts: dict[tuple[str, str], tuple[int, int]] = {}
    for result in results:
        digest, given, cells = result.get("answer_digest"), result.get("answers_given"), result.get("answer_cells")
        if result.get("status") != "graded" or not isinstance(digest, str) or not digest:
            continue
        if type(given) is not int or type(cells) is not int or not 0 < given <= cells:
            continue
        key = (str(result.get("lesson", "")), digest)
        groups.setdefault(key, set()).add(str(result.get("student", "")))
        counts[key] = (given, max(cells, counts.get(key, (0, 0))[1]))
    return sorted(SameAnswers(lesson, sorted(students), *counts[(lesson, digest)])
                  for (lesson, digest), students in groups.items()
                  if len(students) > 1 and enough_shared(*counts[(lesson, digest)]))
