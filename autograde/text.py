"""Text a learner wrote, made fit for the files, terminals and databases the grader writes it to."""
from __future__ import annotations

import contextlib
import os
import re
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")

# Every CSV the grader writes for people and LMSs (grades.csv, grades-by-student.csv, intake.csv, extensions.csv,
# lms/canvas.csv, lms/moodle-*.csv) starts with a UTF-8 byte order mark: Excel (a Korean Windows Excel above all)
# reads a CSV without one in the system's code page, so 김민준 shows as mojibake. Canvas's gradebook import (its
# header test looks for "Student" inside the first cell) and Moodle's CSV reader (it strips the mark) take it.
# The grader reads every CSV with "utf-8-sig", which takes a file with or without the mark.
CSV_ENCODING = "utf-8-sig"

# How the grader writes a moment (graded_at, a submission time) in results, reports and LMS files: UTC, to the
# second. Moodle's worksheet takes it as "Last modified (grade)".
TIME_FORMAT = "%Y-%m-%d %H:%M:%S UTC"


def shortened(text: str, most: int) -> str:
    """``text`` cut to at most ``most`` characters, with '…' where it was cut."""
    return text if len(text) <= most else text[:most - 1].rstrip() + "…"


def utc_now() -> str:
    """This moment in :data:`TIME_FORMAT`."""
    return time.strftime(TIME_FORMAT, time.gmtime())


def valid_text(value: Any) -> Any:
    """``value`` with every string in it (through dicts, lists and tuples) made valid Unicode: a lone surrogate
    becomes U+FFFD. A learner can put one in any text the grader writes out (a JSON escape "\\ud800" in their
    notebook, the message of an exception their code raises, a file name that is not UTF-8), and no UTF-8 file,
    terminal or database takes it: written as it is, it stops the whole batch. Dicts and lists are changed in
    place (a notebook stays a NotebookNode)."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value
    if isinstance(value, dict):
        items = [(valid_text(k), valid_text(v)) for k, v in value.items()]
        value.clear()
        value.update(items)
        return value
    if isinstance(value, list):
        value[:] = [valid_text(item) for item in value]
        return value
    if isinstance(value, tuple):
        return tuple(valid_text(item) for item in value)
    return value


def terminal_safe(line: str) -> str:
    """A console line with the names in it (a student's file name, their notebook's messages) unable to act on the
    terminal: control and format characters (newlines, ANSI escapes, right-to-left overrides) are shown escaped, so a
    file name cannot print a line of its own or hide one."""
    return "".join(char.encode("unicode_escape").decode("ascii")
                   if unicodedata.category(char)[0] == "C" or unicodedata.category(char) in ("Zl", "Zp") else char
                   for char in line)


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A hidden temporary file beside ``path`` to write its new content to; it replaces ``path`` when the block ends
    normally. A reader sees the old file or the new one, never half of one; a stop in between (Ctrl-C, an error)
    leaves ``path`` as it was and no temporary file (an instructor's trial found one holding students' names)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
