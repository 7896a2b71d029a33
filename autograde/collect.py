"""Submissions in, as instructors have them: nbgrader's layout, a flat folder or .zip, Canvas and Moodle exports.

Every input file ends in exactly one line of the intake report (``OUT/intake.csv``): graded as whose and which
lesson, superseded by a newer copy, or skipped and why. A bad file or a strange name costs that file only.

Recognised:
- nbgrader: ``DIR/<student>/<NN_slug>/<NN_slug>.ipynb`` (a ``timestamp.txt`` beside it is the submission time);
- flat or .zip: ``<student>_<NN_slug>.ipynb``, also with copies (``-Copy1``, `` (1)``, ``-1``), any letter case,
  and student ids that end in digits (``student_03_01_history.ipynb``); of several copies the newest is graded, and
  with the same time the one chosen by name, never the lesson's notebook as released over one with answers
  (:func:`_preferred`);
- Canvas "Download submissions": ``<name>[_LATE]_<user id>_<attachment id>_<original file name>``;
- Moodle "Download all submissions": a folder ``<Full Name>_<id>_assignsubmission_file_`` per student.
- A .zip an LMS student handed in (Canvas and Moodle keep an upload as it is) is opened for its notebooks, one level
  deep, notebooks only (flag ``zipped``).
A roster (CSV with columns ``lms_id`` and ``student_id``) maps Canvas ids (or LMS names) to the course's student
ids; Moodle's participant ids are per assignment, so for Moodle each assignment's grading worksheet says who each
participant is (:mod:`autograde.moodle`, ``moodle_people``).
Names are kept as given (Korean included), only made safe as folder names when they are not.

Submission times, and where each came from (``Submission.time_source``, intake.csv's last columns):
- nbgrader's ``timestamp.txt`` (UTC unless it names a zone): always used.
- A .zip's entry times: only with ``--zip-times ZONE``. What the LMS exports hold (read in their source code):
  * Canvas "Download submissions" (``lib/content_zipper.rb``, instructure/canvas-lms) names each file
    ``<name>[_LATE]_<user id>_<attachment id>_<file name>`` and adds it with rubyzip's ``get_output_stream`` and
    no time, so every entry's time is when the zip was made; canvas-lms issue #2219
    (https://github.com/instructure/canvas-lms/issues/2219) reports the same of Canvas's zips. Canvas's only
    lateness fact in the export is ``LATE`` in the name; its submission time (``submitted_at``) is in its API,
    not in the zip.
  * Moodle "Download all submissions": its current ``mod/assign/classes/downloader.php`` (2022) streams the zip through
    ``core_files\\archive_writer`` (``zip_writer::add_file_from_stored_file`` with no time option, documented as
    "defaults to current time"): entry times are the download time. Before that (``zip_packer`` ->
    ``zip_archive::add_file_from_pathname``, PHP ``ZipArchive::addFile``) they were the modification time of the
    content file in Moodle's content-addressed file store: when those bytes were first stored (shared by identical
    files), not when "Submit" was pressed. Moodle's submission time is the grading table's "Last modified
    (submission)" column (``timesubmitted`` in ``mod/assign/gradingtable.php``, also in its downloads), not in
    the zip.
  So neither export carries a trustworthy submission time, and by default none is taken from a zip (intake.csv
  says so). ``--zip-times ZONE`` is for zips whose entry times are hand-in times (zipped by hand from the
  files as handed in, or another system that keeps them). A zip entry's DOS time has no zone: it is the local
  time of the machine that wrote the zip, so the zone must be given (no default is guessed); an entry that also
  carries Info-ZIP's extended timestamp (extra field 0x5455, UTC seconds) is read from that instead.
  If all entry times of a zip lie within a few minutes, they look like the time the zip was made: a warning.
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import re
import shutil
import unicodedata
import zipfile
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from functools import cmp_to_key
from pathlib import Path

from .lessons import Lesson, UsageError
from .moodle import looks_like_worksheet
from .text import TIME_FORMAT, replacing

MAX_MEMBER_BYTES = 200 * 2 ** 20
# Folders nested deeper than this in a submissions folder or .zip are not searched (a .zip's member that deep is
# not extracted): each is one skipped line of the intake report. No export comes near it (nbgrader's layout is 2
# folders deep, an LMS zip's at most 3 with its wrapper); a deeper tree (2000 nested folders) would otherwise
# exhaust Python's stack in a recursive walk, or the file system's path length.
MAX_DEPTH = 16
# A student's own .zip inside an export (Canvas keeps an uploaded .zip as it is) is opened for its notebooks, one
# level only (a .zip in it is not opened), at most this many.
MAX_ZIPPED_NOTEBOOKS = 40
MAX_ZIPPED_MEMBERS = 2000                # members read of one student's .zip (a zip of 200,000 empty names)
# Canvas (lib/content_zipper.rb): "<sortable name, lower case, only word characters>[_LATE]_<user id>" then
# "_<attachment id>_<the file's name as uploaded>"; with anonymous grading "[LATE_]anon_<anonymous id>_<attachment id>_...".
CANVAS_IDS = re.compile(r"(?P<late>_late)?_(?P<uid>\d+)_(?P<sid>\d+)_(?P<rest>.+)$", re.IGNORECASE)
# Canvas's online text and website URL hand-ins: "<name>[_LATE]_<user id>_text.html", "..._link.html".
CANVAS_TEXT = re.compile(r"^(?P<name>.+?)(?P<late>_late)?_(?P<uid>\d+)_(?P<rest>text|link)$", re.IGNORECASE)
CANVAS_ANON = re.compile(r"^(?P<late>late_)?(?P<name>anon_(?P<uid>[a-z0-9]+))_(?P<sid>\d+)_(?P<rest>.+)$", re.IGNORECASE)
# Moodle (mod/assign/classes/downloader.php): a folder "<full name>_<participant id>_assignsubmission_<plugin>[_]" per
# student, or, with "Download submissions in folders" off, files "<full name>_<id>_assignsubmission_<plugin>_<file>".
MOODLE = re.compile(r"^(?P<name>.+?)_(?P<uid>\d+)_assignsubmission_[a-z]+_?$", re.IGNORECASE)
MOODLE_FILE = re.compile(r"^(?P<name>.+?)_(?P<uid>\d+)_assignsubmission_[a-z]+_(?P<rest>.+)$", re.IGNORECASE)
# What may follow a lesson's name in a file name: copies made by Jupyter, browsers, LMSs.
COPY_SUFFIX = re.compile(r"^(?:[ _-]*(?:copy\d*|\(\d+\)|\d+))*$", re.IGNORECASE)
# Colab's "File > Save a copy in Drive" names the copy "Copy of 01_history.ipynb" (again: "Copy of Copy of ...").
COPY_PREFIX = re.compile(r"^(?:copy[ _]+of[ _]*)+$", re.IGNORECASE)
# Control characters, path separators, what Windows refuses in a name, and lone surrogates (a name that is not
# UTF-8, as Python reads it from the disk: no UTF-8 file or terminal takes it).
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|\ud800-\udfff]")
# Characters that are not letters one can see: controls, format characters (a right-to-left override turns
# "\u202etsenoh" into "honest" on screen, a zero-width space makes a second "honest"), line and paragraph separators,
# private-use and unassigned code points. A name with one is shown and stored in its safe form (a hostile trial).
_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def _unsafe(text: str) -> bool:
    return bool(_UNSAFE.search(text)) or any(unicodedata.category(ch) in _INVISIBLE for ch in text)
ZIP_ZONE_FILE = "zip-times.txt"
MOODLE_ZONE_FILE = "moodle-times.txt"
ZIP_SPREAD = timedelta(minutes=10)   # entry times closer than this look like the time the zip was made
NO_TIME = {"canvas": "none: Canvas's export carries no submission time (its zip entry times are when the zip was "
                     "made); only its LATE marker is used",
           "moodle": "none: Moodle's export carries no submission time (its zip entry times are the download "
                     "time, or when the file was stored)"}


@dataclass
class Submission:
    student: str                  # the course's id for the student (safe as a folder name)
    lesson: Lesson
    path: Path | None            # None: no notebook for this lesson
    flags: list[str] = field(default_factory=list)
    note: str = ""
    submitted_at: datetime | None = None
    late: bool = False            # the LMS said so (Canvas's _late_)
    time_source: str = ""         # where submitted_at came from: timestamp.txt, a zip entry time (and its zone)
    origin: str = ""              # the input file, as the instructor named it
    lms: dict = field(default_factory=dict)   # {"system": "canvas"|"moodle", "id": LMS user id, "name": as the LMS wrote it}
    # No notebook of this lesson (path None): what the student handed in to its assignment instead, for their
    # feedback page: file names, or "<NN_slug> notebook" for another lesson's notebook
    handed_in: list[str] = field(default_factory=list)


@dataclass
class IntakeLine:
    input: str
    outcome: str                  # taken (to grade) | superseded | skipped | other-lesson (not asked for)
    #                               | opened (a student's .zip: its notebooks have lines of their own)
    student: str = ""
    lesson: str = ""
    note: str = ""
    submitted: str = ""           # the submission time (UTC) used for lateness, when one is known
    time_source: str = ""         # where it came from, or why there is none


@dataclass
class Intake:
    submissions: list[Submission]
    lines: list[IntakeLine]
    warnings: list[str] = field(default_factory=list)
    # What a notebook handed in to another lesson's assignment is graded as, by its intake line's input: said
    # (settled_warnings) only when it is still to be graded once --lesson and OUT's newer grades had their say
    strays: dict[str, str] = field(default_factory=dict)

    def settled_warnings(self) -> list[str]:
        """The warnings to print: the strays' for those still taken (one not graded after all has a warning of
        its own that says why: "graded as" before it would contradict it), then the others."""
        taken = {line.input for line in self.lines if line.outcome == "taken"}
        return [text for where, text in self.strays.items() if where in taken] + self.warnings

    def only(self, slugs: set[str], asked: str) -> "Intake":
        """The batch limited to the lessons ``slugs`` (``grade --lesson``): the notebooks of any other lesson are
        lines ``other-lesson`` of intake.csv, nobody is missing them, and one warning says how many were left."""
        left: dict[str, list[str]] = {}
        lines = []
        for line in self.lines:
            if line.lesson and line.lesson not in slugs and line.outcome in ("taken", "superseded"):
                if line.outcome == "taken":
                    left.setdefault(line.lesson, []).append(line.student)
                line = IntakeLine(line.input, "other-lesson", line.student, line.lesson,
                                  f"not graded by this run: it grades {asked} only", line.submitted,
                                  line.time_source)
            lines.append(line)
        warnings = list(self.warnings) + [
            f"{len(who)} notebook{'s' if len(who) != 1 else ''} of {slug} not graded by this run: it grades {asked} only "
            f"(from {', '.join(sorted(who)[:10])}{' ...' if len(who) > 10 else ''}; intake.csv lists them)"
            for slug, who in sorted(left.items())]
        handed = {student: sorted(slug for slug, who in left.items() if student in who)
                  for student in {s for who in left.values() for s in who}}
        subs = []
        for sub in self.submissions:
            if sub.lesson.slug not in slugs:
                continue
            if sub.path is None and handed.get(sub.student):
                # "no notebook submitted" is not what happened: they handed in another lesson's
                sub = replace(sub, note=f"no notebook of {sub.lesson.slug}; handed in {', '.join(handed[sub.student])} "
                                        "instead (not graded in this run: intake.csv)",
                              handed_in=[f"{slug} notebook" for slug in handed[sub.student]])
            subs.append(sub)
        return Intake(subs, lines, warnings, self.strays)

    def write(self, path: Path, source: str = "") -> None:
        """intake.csv: this batch's lines, and the lines earlier runs wrote for other inputs (an LMS exports one
        zip per assignment, each graded into the same OUT; grading one again replaces its own lines, and so does
        grading its files from another place: an input whose every notebook taken is among this batch's notebooks
        taken is the same export downloaded again, as "submissions (1).zip", or before more was handed in)."""
        from .report import csv_safe
        from .text import CSV_ENCODING, terminal_safe, valid_text

        def cell(text: str) -> str:       # a student's words: never a formula, and no control character
            return csv_safe(terminal_safe(text))

        header = ["source", "input", "outcome", "student", "lesson", "note", "submitted", "submitted_from"]
        graded = ("taken", "superseded", "other-lesson")
        inputs = {cell(line.input) for line in self.lines if line.outcome in graded}
        kept: list[list[str]] = []
        try:
            with path.open(newline="", encoding=CSV_ENCODING) as f:
                rows = [[row.get(name) or "" for name in header] for row in csv.DictReader(f)]
            files: dict[str, set[str]] = {}
            for row in rows:
                if row[2] in graded:
                    files.setdefault(row[0], set()).add(row[1])
            kept = [row for row in rows if row[0] != cell(source) and not (files.get(row[0]) and files[row[0]] <= inputs)]
        except (OSError, UnicodeDecodeError, csv.Error):
            kept = []
        # A file an earlier run took for a student's lesson that this batch takes again from another input (a
        # re-submission in a later export, "-1" in Canvas's, which holds only the newest): no longer what is graded.
        taken_now = {(cell(line.student), line.lesson): cell(line.input) for line in self.lines if line.outcome == "taken"}
        for row in kept:
            newer = taken_now.get((row[3], row[4]))
            if row[2] == "taken" and newer is not None:
                row[2] = "superseded"
                row[5] = "; ".join(filter(None, [f"a later run graded {newer} from {cell(source) or 'another input'}",
                                                 row[5]]))
        with replacing(path) as tmp, tmp.open("w", newline="", encoding=CSV_ENCODING) as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(kept)
            for line in self.lines:       # file and student names are the students' words: never a formula
                writer.writerow(valid_text([cell(source), cell(line.input), line.outcome, cell(line.student),
                                            line.lesson, cell(line.note), line.submitted, line.time_source]))


def canvas_name(stem: str, roster: dict[str, str], lessons: list[Lesson] | None = None) -> dict[str, str] | None:
    """A Canvas file name's parts (name, late, uid, sid, rest), or None.

    Canvas's ids are read at the first place they can be: the name before them is Canvas's (it turns "_12_" in a
    sortable name into "12" so that its ids can be read, content_zipper.rb sanitize_user_name), while the file's
    own name after them is the student's words and may hold ``_<digits>_<digits>_`` anywhere, another student's
    user id included. A later reading never decides whose the file is (that would let a file name take another
    student's grade); when one also leaves a lesson's name after it, ``others`` names its user ids and the file is
    flagged ``ambiguous-lms-name`` (a contrived name such as "K_12, _5" still becomes "k_12_5").
    ``roster`` is not used to choose (the same reason); it is kept for the callers' one signature."""
    anonymous = CANVAS_ANON.match(stem)
    if anonymous:
        return anonymous.groupdict()
    splits = []
    for at in (i for i, char in enumerate(stem) if char == "_" and i > 0):
        found = CANVAS_IDS.match(stem, at)
        if found:
            splits.append({"name": stem[:at], **found.groupdict()})
    if not splits:
        return None
    chosen = splits[0]
    others = sorted({split["uid"] for split in splits[1:] if _lesson_anywhere(split["rest"], lessons or [])}
                    - {chosen["uid"]}, key=int)
    return {**chosen, "others": " ".join(others)} if others else chosen


def safe_id(name: str) -> str:
    """The name as given (NFC), or, when it cannot be a folder name, a readable safe form with a short hash."""
    text = unicodedata.normalize("NFC", name).strip()
    if text and text not in (".", "..") and not text.startswith((".", "-")) and not _unsafe(text) \
            and len(text) <= 100:
        return text
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    visible = "".join("_" if unicodedata.category(ch) in _INVISIBLE else ch for ch in _UNSAFE.sub("_", text))
    readable = visible.strip(". -")[:60] or "student"
    return f"{readable}-{digest}"


def roster_rows(path: Path) -> list[dict[str, str]]:
    """A roster's rows: UTF-8 (with or without Excel's byte order mark), separated by commas, or by the semicolons
    or tabs of Excel in some locales; anything else is refused with what to do."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"the roster {path} is not UTF-8 text (Excel's plain 'CSV' is in the computer's own "
                         "encoding, e.g. CP949 on Korean Windows): save it as 'CSV UTF-8 (comma delimited)' and give "
                         "it again.") from None
    except OSError as err:
        raise UsageError(f"the roster {path} could not be read: {err}") from None
    header = text.splitlines()[0] if text.strip() else ""
    delimiter = max(",;\t", key=header.count) if header else ","
    try:
        return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as err:
        raise UsageError(f"the roster {path} could not be read: {err}") from None


def read_roster(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    rows = roster_rows(path)
    if rows and looks_like_worksheet(list(rows[0])):
        raise UsageError(f"{path} is Moodle's grading worksheet of one assignment: give it with --moodle-worksheet "
                         "(one per assignment; its participant ids are that assignment's only).")
    if rows and is_canvas_gradebook(list(rows[0])):
        # Canvas's gradebook export (Grades > Export): "ID" is the Canvas user id its submission zips carry,
        # "SIS User ID" (else "SIS Login ID") the institution's student id. Its "Points Possible" row and a test
        # student without SIS ids map nothing.
        roster = {}
        for row in rows:
            lms_id = (row.get("ID") or "").strip()
            sis = unicodedata.normalize("NFC", row.get("SIS User ID") or row.get("SIS Login ID") or "").strip()
            if lms_id.isdigit() and sis:
                roster[lms_id] = sis
        if not roster:
            raise UsageError(f"the Canvas gradebook export {path} has no student with an SIS User ID or SIS Login ID "
                             "(export it with the SIS columns, or write a roster with columns lms_id,student_id).")
        return roster
    if not rows or not {"lms_id", "student_id"} <= set(rows[0]):
        raise UsageError(f"the roster {path} needs the columns lms_id and student_id (one row per student), or is "
                         "Canvas's gradebook export (Student, ID, SIS User ID, SIS Login ID, Section, ...).")
    # NFC, as file names are read: a roster saved on a Mac may spell 김민준 in decomposed jamo, which look the same
    return {unicodedata.normalize("NFC", row["lms_id"]).strip(): unicodedata.normalize("NFC", row["student_id"]).strip()
            for row in rows if row.get("lms_id")}


def roster_names(path: Path | None) -> dict[str, dict[str, str]]:
    """student id -> what the roster says of the person (``first_name``, ``last_name``, ``email``; only what it
    has), for nbgrader's gradebook (formgrader lists students by name). Canvas's export gives "Last, First" (or a
    name with no comma, kept whole as the last name) and an e-mail address when its SIS Login ID is one; a roster
    of our own may add the columns first_name, last_name and email."""
    if path is None:
        return {}
    rows = roster_rows(path)
    people: dict[str, dict[str, str]] = {}
    canvas = bool(rows) and is_canvas_gradebook(list(rows[0]))
    for row in rows:
        if canvas:
            student = (row.get("SIS User ID") or row.get("SIS Login ID") or "").strip()
            if not (row.get("ID") or "").strip().isdigit() or not student:
                continue
            name = (row.get("Student") or "").strip()
            last, _, first = name.partition(", ")
            login = (row.get("SIS Login ID") or "").strip()
            person = {"last_name": last.strip(), "first_name": first.strip(), "email": login if "@" in login else ""}
        else:
            student = (row.get("student_id") or "").strip()
            person = {key: (row.get(key) or "").strip() for key in ("first_name", "last_name", "email")}
        person = {key: unicodedata.normalize("NFC", value) for key, value in person.items() if value}
        student = unicodedata.normalize("NFC", student)
        if student and person:
            people[student] = person
    return people


ROSTER_FILE = "roster.csv"


def load_roster(out: Path, given: Path | None) -> Path | None:
    """``--roster CSV`` (read, then kept in OUT, so the next zip graded into OUT maps its students the same way
    without it: one assignment's zip graded without the roster would otherwise file everyone under their LMS
    names), else the roster OUT kept, else None."""
    kept = out / ROSTER_FILE
    if given is not None:
        read_roster(given)                         # a bad roster is refused before anything is kept or graded
        out.mkdir(parents=True, exist_ok=True)
        if given.resolve() != kept.resolve():
            shutil.copyfile(given, kept)
        return kept
    return kept if kept.is_file() else None


def canvas_identities(out: Path) -> dict[str, tuple[str, str]]:
    """Canvas user id -> (the student it was graded as, its Canvas name), from the results in OUT (see
    :func:`find_submissions`). A user id graded as two different students (an OUT from before this was kept)
    keeps none."""
    found: dict[str, set[tuple[str, str]]] = {}
    for path in sorted((out / "results").glob("*/*.json")):
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
            lms = result.get("lms") or {}
            if lms.get("system") == "canvas" and lms.get("id") and result.get("student"):
                found.setdefault(str(lms["id"]), set()).add((str(result["student"]), str(lms.get("name", ""))))
        except (OSError, ValueError, AttributeError):
            continue
    return {lms_id: next(iter(who)) for lms_id, who in found.items() if len(who) == 1}


def is_canvas_gradebook(header: list[str]) -> bool:
    """Canvas's gradebook export: "Student" (or LastName, FirstName), "ID", ... "Section" (lib/gradebook_exporter.rb)."""
    names = [h.strip() for h in header]
    return len(names) > 3 and names[0] in ("Student", "LastName") and "ID" in names and "Section" in names


def _lesson_in(name: str, lessons: list[Lesson]) -> tuple[Lesson, str, str] | None:
    """(lesson, text before it, copy suffix after it) when ``name`` (no extension) names a lesson."""
    lowered = name.lower().replace("-", "_").replace(" ", "_")
    best = None
    for lesson in lessons:
        start = lowered.rfind(lesson.slug)
        if start < 0 or (start > 0 and lowered[start - 1] not in "_"):
            continue
        suffix = name[start + len(lesson.slug):]
        if COPY_SUFFIX.match(suffix) and (best is None or len(lesson.slug) > len(best[0].slug)):
            best = (lesson, name[:start].rstrip(" _-"), suffix)
    return best


def _lesson_anywhere(name: str, lessons: list[Lesson]) -> Lesson | None:
    """The lesson a file name mentions anywhere ('01_history (final version)'), when it mentions exactly one."""
    lowered = name.lower().replace("-", "_").replace(" ", "_")
    found = {lesson.slug: lesson for lesson in lessons
             if any(at == 0 or lowered[at - 1] == "_" for at in _find_all(lowered, lesson.slug))}
    found = {slug: lesson for slug, lesson in found.items() if not any(slug in other and slug != other for other in found)}
    return next(iter(found.values())) if len(found) == 1 else None


def _find_all(text: str, part: str) -> list[int]:
    return [m.start() for m in re.finditer(re.escape(part), text)]


def _copy_rank(suffix: str) -> int:
    """Higher for later copies: '' < ' (1)' < '-Copy2' ... (LMSs number re-submissions upwards)."""
    numbers = [int(n) for n in re.findall(r"\d+", suffix)]
    return (max(numbers) if numbers else 0) + (1 if suffix.strip() else 0)


def _timestamp(folder: Path) -> tuple[datetime | None, str]:
    """The submission time in the folder's timestamp.txt (UTC), or None and why not ('' when there is no file):
    :func:`autograde.late.read_time` (not nbgrader's ``parse_utc``, which reads ``+0900`` as 900 seconds and
    ``KST`` as UTC). A zone it cannot place is not guessed: no time, never a late penalty by a guess."""
    from .late import read_time

    stamp = folder / "timestamp.txt"
    if not stamp.is_file():
        return None, ""
    try:
        text = stamp.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as err:
        return None, f"none: timestamp.txt could not be read ({type(err).__name__})"
    when, why = read_time(text)
    return (when, "") if when is not None else (None, f"none: timestamp.txt {why}")


def parse_zone(name: str, option: str = "--zip-times"):
    """A time zone by its IANA name (``Asia/Seoul``) or ``UTC`` (``option``: the flag that gave it, for the error)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"{option} {name!r}: not a time zone; give an IANA name such as Asia/Seoul, "
                         "Europe/Berlin or UTC" + (" (the zone of the clock of the machine that wrote the zip)"
                                                   if option == "--zip-times" else "")) from None


def load_zone(out: Path, given: str | None, name: str = ZIP_ZONE_FILE, option: str = "--zip-times") -> str | None:
    """A time zone option kept in OUT (``name``): ``--zip-times ZONE`` by default, ``--moodle-times ZONE`` too.
    The zone given (then kept in OUT, so a re-run reads the same files the same way) or ``off``; else what OUT
    kept; else None (zip entry times, Moodle's worksheet times are not submission times)."""
    path = out / name
    if given is not None:
        if given.strip().lower() == "off":
            path.unlink(missing_ok=True)
            return None
        parse_zone(given, option)
        out.mkdir(parents=True, exist_ok=True)
        path.write_text(given.strip() + "\n", encoding="utf-8")
        return given.strip()
    if path.is_file():
        kept = path.read_text(encoding="utf-8").strip()
        parse_zone(kept, option)
        return kept or None
    return None


def _extended_utc(extra: bytes) -> datetime | None:
    """The modification time of Info-ZIP's extended timestamp field (0x5455: UTC seconds), if the entry has one."""
    at = 0
    while at + 4 <= len(extra):
        kind, size = int.from_bytes(extra[at:at + 2], "little"), int.from_bytes(extra[at + 2:at + 4], "little")
        body = extra[at + 4:at + 4 + size]
        if kind == 0x5455 and len(body) >= 5 and body[0] & 1:
            try:
                return datetime.fromtimestamp(int.from_bytes(body[1:5], "little", signed=True), timezone.utc)
            except (OverflowError, OSError, ValueError):
                return None
        at += 4 + size
    return None


def _zip_name(info: zipfile.ZipInfo) -> str:
    """A member's name as the person who zipped it wrote it (Windows zips of Korean names are cp949)."""
    if info.flag_bits & 0x800:
        return info.filename
    raw = info.filename.encode("cp437", errors="replace")
    for encoding in ("utf-8", "cp949"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return info.filename


MAX_ZIPPED_DIRECTORY = 4 * 2 ** 20         # bytes of a student's .zip's list of members (its central directory)


def _check_directory(archive: Path) -> None:
    """Refuse (UsageError) a student's .zip whose end record declares more members, or a larger list of them,
    than a hand-in holds: zipfile reads the whole list into memory as it opens a file (a 200 MiB zip of empty
    names is millions of entries, about a gigabyte in the grading process), so this is read first, from the end
    record's own fields. ZIP64 (the record's fields at their maximum) is never a student's few notebooks."""
    import struct

    try:
        with archive.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 22 - 65535))
            tail = f.read()
    except OSError as err:
        raise UsageError(f"{archive} could not be read ({err}).") from None
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return                                   # no end record: zipfile says what is wrong with it
    _, _, _, _, entries, directory, _, _ = struct.unpack("<4s4H2LH", tail[at:at + 22])
    if entries >= 0xFFFF or directory >= 0xFFFFFFFF or entries > 10 * MAX_ZIPPED_MEMBERS or \
            directory > MAX_ZIPPED_DIRECTORY:
        raise UsageError(f"{archive} lists {entries:,} members in {directory:,} bytes, more than a student's .zip "
                         f"is read for ({10 * MAX_ZIPPED_MEMBERS:,} members, {MAX_ZIPPED_DIRECTORY:,} bytes)")


def unzip(archive: Path, into: Path, lines: list[IntakeLine], lessons: list[Lesson],
          entry_times: dict[Path, tuple[datetime, datetime | None]] | None = None,
          notebooks_only: bool = False, damaged: dict[Path, IntakeLine] | None = None) -> Path:
    """Extract an LMS export member by member: a bad member (CRC, size, path) costs that member only.

    ``entry_times`` (filled when given): extracted file -> (its entry's DOS time, zone-less as written; the UTC
    time of its extended timestamp field, if any). ``notebooks_only`` (a student's own .zip inside an export): only
    notebooks are extracted, at most MAX_ZIPPED_NOTEBOOKS and MAX_MEMBER_BYTES in all. ``damaged`` (filled when
    given): a notebook that could not be extracted leaves an empty file in its place -> its intake line, so that it
    still counts as that student's copy (an older one is never graded in place of the newest; see
    :func:`find_submissions`)."""
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    if notebooks_only:
        _check_directory(archive)
    try:
        zf = zipfile.ZipFile(archive)
    except Exception as err:  # noqa: BLE001 - whatever the bytes are, it is no .zip we can read
        raise UsageError(f"{archive} is not a readable .zip file ({err}).") from None
    extracted: list[Path] = []
    size = 0                                     # bytes extracted
    others: list[str] = []                       # a student's .zip: its files that are no notebook
    with zf:
        for seen, info in enumerate(zf.infolist()):
            if notebooks_only and seen >= MAX_ZIPPED_MEMBERS:
                lines.append(IntakeLine("", "skipped", note=f"{len(zf.infolist()) - seen} more member(s) after the "
                                        f"first {MAX_ZIPPED_MEMBERS} of one student's .zip: not read"))
                break
            name = _zip_name(info)
            parts = Path(name).parts
            if info.is_dir() or not parts:
                continue
            if Path(name).is_absolute() or ".." in parts or any(_UNSAFE.search(p) for p in parts):
                lines.append(IntakeLine(name, "skipped", note="a path outside the archive or with unsafe characters"))
                continue
            if len(parts) - 1 > MAX_DEPTH:
                lines.append(IntakeLine(_shown(name), "skipped", note=f"inside folders nested more than {MAX_DEPTH} "
                                        "deep: not extracted"))
                continue
            if info.file_size > MAX_MEMBER_BYTES:
                lines.append(IntakeLine(name, "skipped", note=f"larger than {MAX_MEMBER_BYTES // 2 ** 20} MiB: not "
                                        "extracted"))
                _hold_place(into.joinpath(*parts), name, info, lines[-1], damaged, entry_times)
                continue
            if notebooks_only and any(part.startswith(".") for part in parts[:-1]):
                if name.lower().endswith(MAYBE_NOTEBOOK) and not parts[-1].startswith("."):
                    lines.append(IntakeLine(_shown(name), "skipped", note=HIDDEN_FOLDER))
                continue
            if notebooks_only and (not name.lower().endswith(MAYBE_NOTEBOOK) or parts[0] == "__MACOSX"
                                   or parts[-1].startswith(".")):
                if not parts[-1].startswith(".") and parts[0] != "__MACOSX":
                    others.append(name)
                continue
            if notebooks_only and (len(extracted) >= MAX_ZIPPED_NOTEBOOKS or size + info.file_size > MAX_MEMBER_BYTES):
                lines.append(IntakeLine(_shown(name), "skipped", note=f"beyond {MAX_ZIPPED_NOTEBOOKS} notebooks or "
                                        f"{MAX_MEMBER_BYTES // 2 ** 20} MiB in one student's .zip: not extracted"))
                continue
            target = into.joinpath(*parts)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)   # a member named like a file before it fails here
                with zf.open(info) as src, target.open("wb") as dst:
                    shutil.copyfileobj(src, dst)
            except Exception as err:  # noqa: BLE001 - CRC, encrypted, an unknown compression...: that member only
                with contextlib.suppress(OSError):     # a folder of that name, or no folder to hold it
                    target.unlink(missing_ok=True)
                lines.append(IntakeLine(name, "skipped", note=f"could not be extracted: {err}"))
                _hold_place(target, name, info, lines[-1], damaged, entry_times)
                continue
            extracted.append(target)
            size += target.stat().st_size
            _stamp(target, info, entry_times)
    if others:
        shown = ", ".join(_shown(name, 80) for name in others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        lines.append(IntakeLine("", "skipped", note=f"{len(others)} file(s) that are no notebook (.ipynb): not "
                                f"extracted ({shown})"))
    entries = [p for p in into.iterdir() if not p.name.startswith(("__MACOSX", "."))]
    # An LMS zip often wraps everything in one folder (but one student's folder is not such a wrapper).
    wrapper = len(entries) == 1 and entries[0].is_dir() and not _is_student_folder(entries[0], lessons)
    return entries[0] if wrapper else into


def _hold_place(target: Path, name: str, info: zipfile.ZipInfo, line: IntakeLine,
                damaged: dict[Path, IntakeLine] | None,
                entry_times: dict[Path, tuple[datetime, datetime | None]] | None) -> None:
    """A notebook member that was not extracted (damaged, or too large) leaves an empty file in its place, so that
    it still counts as its student's copy (``damaged``, see :func:`unzip`)."""
    if damaged is None or not name.lower().endswith(".ipynb"):
        return
    with contextlib.suppress(OSError):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch(exist_ok=False)                      # not over a folder of that name
        damaged[target] = line
        _stamp(target, info, entry_times)


def _stamp(target: Path, info: zipfile.ZipInfo,
           entry_times: dict[Path, tuple[datetime, datetime | None]] | None) -> None:
    """An extracted file gets its zip entry's time: the copy's own time decides which copy is newest."""
    try:
        written = datetime(*info.date_time)
    except ValueError:                                    # a DOS date of 0 (some tools write it): no time
        return
    moment = written.replace(tzinfo=timezone.utc).timestamp()
    os.utime(target, (moment, moment))
    if entry_times is not None:
        entry_times[target] = (written, _extended_utc(info.extra))


def _shown(name: str, most: int = 300) -> str:
    """A path for the intake report: whole, or its start and its end when it is very long."""
    return name if len(name) <= most else f"{name[:most // 2]}...{name[-most // 2:]}"


# Jupyter's .ipynb_checkpoints/ (an older save of the same notebook), a .git/: never a hand-in (an instructor's trial:
# a student's zipped folder brought its checkpoint in as a second copy, flagged duplicate).
HIDDEN_FOLDER = "in a hidden folder (such as Jupyter's .ipynb_checkpoints: an older save): not a hand-in"


def _files_below(folder: Path, skipped) -> list[Path]:
    """Every file under ``folder``, sorted, in a walk with its own stack (never Python's): links to folders are
    not followed, and a folder more than MAX_DEPTH below ``folder`` is not entered but passed to ``skipped``
    (path, why), as is one that cannot be read and a hidden one (HIDDEN_FOLDER)."""
    files: list[Path] = []
    stack = [(folder, 0)]
    while stack:
        here, depth = stack.pop()
        try:
            with os.scandir(here) as listing:
                entries = list(listing)
        except OSError as err:
            skipped(here, f"a folder that could not be read ({err.strerror or err})")
            continue
        for entry in entries:
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if not is_dir:
                files.append(path)
            elif entry.name.startswith("."):
                skipped(path, HIDDEN_FOLDER)
            elif depth + 1 > MAX_DEPTH:
                skipped(path, f"a folder nested more than {MAX_DEPTH} deep: not searched")
            else:
                stack.append((path, depth + 1))
    return sorted(files)


# What a student's own .zip may hold a notebook as (its content decides, see _not_a_notebook): Safari's and some
# LMSes' names for a downloaded notebook too.
MAYBE_NOTEBOOK = (".ipynb", ".ipynb.txt", ".json")


def _not_a_notebook(path: Path) -> str | None:
    """Whether a file not named ``.ipynb`` holds a notebook all the same (``.ipynb.txt``, ``.json``): None when it
    does, read as the grader reads a notebook (nbformat, :func:`autograde.lessons.read_notebook`), never by its name;
    else why not ("" for a file that is not even JSON). A .zip (opened for its notebooks), a hidden file and
    nbgrader's timestamp.txt are not looked into; a file that does not start with ``{`` is not read further."""
    from .lessons import MAX_NOTEBOOK_BYTES, NotebookProblem, read_notebook

    if path.name.startswith(".") or path.name == "timestamp.txt" or path.suffix.lower() == ".zip":
        return ""
    try:
        if not path.is_file() or path.stat().st_size > MAX_NOTEBOOK_BYTES:
            return ""
        with path.open("rb") as handle:
            start = handle.read(64).removeprefix(b"\xef\xbb\xbf").lstrip()
        if not start.startswith(b"{"):
            return ""
        read_notebook(path)
    except NotebookProblem as problem:
        return str(problem).replace(str(path), "it")
    except (OSError, ValueError):
        return ""
    return None


def _is_student_folder(folder: Path, lessons: list[Lesson]) -> bool:
    return bool(MOODLE.match(folder.name)) or any((folder / lesson.slug).is_dir() for lesson in lessons)


def find_submissions(source: Path, work: Path, lessons: list[Lesson], roster: dict[str, str] | None = None,
                     zip_zone: str | None = None, moodle_people: dict[str, dict[str, str]] | None = None,
                     canvas_known: dict[str, tuple[str, str]] | None = None, moodle_zone: str | None = None,
                     assignment: Lesson | None = None, moodle_zone_given: bool = True) -> Intake:
    """Every (student, lesson) pair in the batch, whatever shape it has, and what became of every file.

    ``canvas_known``: Canvas user id -> (the student it was graded as, its Canvas name) by earlier runs into the
    same OUT without a roster entry (:func:`canvas_identities`): a Canvas user keeps that student in every later
    export, and a user new to OUT whose name another user already has is told apart ("<name> (<id>)"), never
    filed under the other's id.

    ``zip_zone``: read a .zip's entry times as submission times, in this zone (see the module's notes).
    ``moodle_people``: Moodle participant id -> who (``name``, ``email``, ``idnumber``, ``lesson``: the lesson of
    the assignment whose worksheet lists the id; :func:`autograde.moodle.participants`).
    ``moodle_zone``: read the worksheets' "Last modified (submission)" as submission times, in this zone (Moodle
    writes them in the downloading user's zone without naming it). ``moodle_zone_given``: given on this run's
    command line, not only kept in OUT (then an export that is not Moodle's is no reason to warn).
    ``assignment``: the lesson of the LMS assignment the export is of (``grade --lesson`` with one lesson); without
    it, the lesson most of the export's notebooks name when that is clear (:func:`_export_lesson`)."""
    roster = roster or {}
    moodle_people = moodle_people or {}
    canvas_known = canvas_known or {}
    lines: list[IntakeLine] = []
    warnings: list[str] = []
    entry_times: dict[Path, tuple[datetime, datetime | None]] = {}
    zipped = source.is_file() and source.suffix.lower() == ".zip"
    given_name = source.name                           # an LMS names its download after the assignment
    given = source                                     # as the instructor named it (a .zip is unpacked in OUT/.work)
    # A notebook of the export that could not be extracted (an empty file in its place) -> its intake line: it is
    # still its student's copy, so an older one is not graded in its place (an instructor's trial: a re-submission
    # damaged in the download left the draft graded, 0 points, with no flag).
    damaged: dict[Path, IntakeLine] = {}
    if zipped:
        source = unzip(source, work / "unzipped", lines, lessons, entry_times, damaged=damaged)
    if not source.is_dir():
        raise UsageError(f"{source} is not a folder or a .zip. Expected {source}/<student>/<NN_slug>/<NN_slug>.ipynb, "
                         "<student>_<NN_slug>.ipynb files, or an LMS export (Canvas, Moodle).")
    candidates: list[tuple[str, Lesson, Path, dict]] = []       # (student, lesson, file, facts)
    empty: list[tuple[str, Lesson]] = []                          # nbgrader folders without a notebook
    unplaced: list[tuple[Path, str, dict]] = []                   # an LMS student's notebook naming no lesson
    others: dict[str, list[str]] = {}                 # an LMS student -> the files handed in that are no notebook
    who_in_lms: dict[str, dict] = {}                  # ... and who they are in the LMS (the grade files' row)

    def lms_student(lms_id: str, name: str, facts: dict) -> str:
        """The course's id for an LMS student: the roster's; for Moodle with the assignment's worksheet, its ID
        number, else its full name (with the e-mail when two participants have that name); else the name the
        LMS wrote (two students with one name, or Moodle's blind-marking "Participant", are told apart by their
        LMS ids below)."""
        person = moodle_people.get(lms_id) if facts["lms"]["system"] == "moodle" else None
        if person:
            facts["lms"].update({key: person[key] for key in ("name", "email") if person.get(key)})
            facts["worksheet_lesson"] = person["lesson"]
            if person.get("submitted"):
                facts["moodle_submitted"] = person["submitted"]
            name = person.get("name") or name
        # A Moodle participant id is its assignment's only (another in every assignment), so a roster names a Moodle
        # participant by name, never by that id: a roster of Canvas user ids would file participant 3001 as the
        # Canvas user 3001.
        by_id = roster.get(lms_id) if facts["lms"]["system"] != "moodle" else None
        if by_id or roster.get(name):
            return by_id or roster[name]
        if person and person.get("idnumber"):
            return person["idnumber"]
        if person and person.get("same_name") and (person.get("email") or lms_id):
            facts.setdefault("flags", []).append("same-name")
            return f"{name} ({person.get('email') or lms_id})"
        facts["named_by_lms"] = True
        if facts["lms"]["system"] == "canvas" and lms_id in canvas_known:
            facts["kept"] = True                      # as graded before into this OUT
            return canvas_known[lms_id][0]
        return name

    opened: dict[Path, str] = {}                      # a student's .zip, extracted here -> the .zip as shown

    def rel(path: Path) -> str:
        for folder, shown in opened.items():
            if path.is_relative_to(folder):
                return f"{shown}/{path.relative_to(folder).as_posix()}"
        return str(path.relative_to(source))

    def open_zip(path: Path, owner: str, facts: dict) -> int | None:
        """A .zip an LMS student handed in (Canvas keeps an uploaded .zip as it is): its notebooks are considered
        as that student's, flagged ``zipped``; one level only. The number of notebooks, or -1 if it could not be
        opened (its line says why)."""
        folder, inner_lines = work / "zipped" / str(len(opened)), list[IntakeLine]()
        inner_damaged: dict[Path, IntakeLine] = {}
        try:
            unzip(path, folder, inner_lines, lessons, notebooks_only=True, damaged=inner_damaged)
        except (UsageError, OSError) as err:
            lines.append(IntakeLine(rel(path), "skipped", safe_id(owner), note="a .zip handed in that could not be "
                                    f"opened: {str(err).replace(str(path), 'it')}"))
            return -1
        shown = opened[folder] = rel(path)
        notebooks = []
        for p in _files_below(folder, lambda *_: None):
            why_not = _not_a_notebook(p) if p.suffix.lower() != ".ipynb" else None
            if why_not is None:
                notebooks.append(p)
            else:                       # named as a browser saves a notebook, but it is none
                inner_lines.append(IntakeLine(p.relative_to(folder).as_posix(), "skipped",
                                              note="not a notebook (.ipynb)" + (f": {why_not}" if why_not else "")))
        lines.append(IntakeLine(shown, "opened", safe_id(owner),
                                note=f"a .zip handed in: {len(notebooks)} notebook(s) taken out of it (the lines of "
                                     f"{shown}/...)"))
        moved = {id(line): replace(line, input=f"{shown}/{line.input}" if line.input else shown,
                                   student=safe_id(owner)) for line in inner_lines}
        lines.extend(moved[id(line)] for line in inner_lines)
        # a notebook of the .zip that could not be extracted is that student's copy too, as one of the export's is
        damaged.update((target, moved[id(line)]) for target, line in inner_damaged.items())
        for notebook in notebooks:
            consider(notebook, owner, **{**facts, "lms": dict(facts["lms"]),
                                         "flags": [*facts.get("flags", []), "zipped"], "zipped_in": shown})
        return len(notebooks)

    def consider(path: Path, student_hint: str | None, lesson_hint: Lesson | None = None, **facts) -> None:
        name = unicodedata.normalize("NFC", path.name)
        if _through_a_link(path, source):
            lines.append(IntakeLine(rel(path), "skipped", safe_id(student_hint) if student_hint else "",
                                    lesson_hint.slug if lesson_hint else "", LINKED))
            return
        why_not = _not_a_notebook(path) if not name.lower().endswith(".ipynb") else ""
        if why_not is None:
            # Safari and some LMSes save a notebook as "<name>.ipynb.txt", others as "<name>.json": its content,
            # read by nbformat, says it is a notebook, whatever its name (a student lost their grade for a name)
            stem = Path(name).stem if Path(name).suffix else name
            name = stem if stem.lower().endswith(".ipynb") else f"{stem}.ipynb"
            facts = {**facts, "flags": [*facts.get("flags", []), "renamed-extension"]}
        if not name.lower().endswith(".ipynb"):
            if not name.startswith(".") and name != "timestamp.txt":
                # Whose it is, when the LMS says (a .zip or a .py handed in instead of the notebook): a .zip is
                # opened for its notebooks; a student with no notebook at all is named in a warning below, not
                # left out without a word.
                owner, stem = (student_hint if facts.get("lms") else None), Path(name).stem
                if owner is None and student_hint is None:
                    read = MOODLE_FILE.match(stem)
                    parts = read.groupdict() if read else canvas_name(stem, roster, lessons)
                    if not parts and name.lower().endswith(".html"):
                        # Canvas's online text or URL hand-in: no attachment id (content_zipper.rb)
                        text_hand_in = CANVAS_TEXT.match(stem)
                        parts = text_hand_in.groupdict() if text_hand_in else None
                    if parts:
                        facts = {"lms": {"system": "moodle" if read else "canvas", "id": parts["uid"],
                                         "name": parts["name"]}}
                        if not read and parts.get("sid"):
                            facts["lms"]["attachment"] = int(parts["sid"])    # larger: uploaded later
                            facts.update(late=bool(parts["late"]), rank=(int(parts["sid"]),))
                            if parts.get("others"):
                                facts["flags"] = ["ambiguous-lms-name"]
                        owner = lms_student(parts["uid"], parts["name"], facts)
                        name = parts["rest"] + Path(name).suffix
                taken = open_zip(path, owner, facts) if owner is not None and name.lower().endswith(".zip") \
                    and not facts.get("zipped_in") else None
                if taken is None:
                    lines.append(IntakeLine(rel(path), "skipped", safe_id(owner) if owner else "",
                                            note="not a notebook (.ipynb)" + (f": {why_not}" if why_not else "")))
                if owner is not None and (taken is None or taken <= 0):
                    others.setdefault(owner, []).append(f"{name} (no notebook inside)" if taken == 0 else name)
                    who_in_lms.setdefault(owner, {**(facts.get("lms") or {}),
                                                  "worksheet_lesson": facts.get("worksheet_lesson", ""),
                                                  "named_by_lms": bool(facts.get("named_by_lms"))})
            return
        stem = name[: -len(".ipynb")]
        if student_hint is None:
            moodle_file = MOODLE_FILE.match(stem)
            canvas = canvas_name(stem, roster, lessons)
            # A Canvas name when what follows its two ids names a lesson, or when nothing in the file name does
            # (a flat "student_03_01_history" is a student id ending in digits, not Canvas's ids).
            if canvas and not (_lesson_in(canvas["rest"], lessons) or _lesson_anywhere(canvas["rest"], lessons)) \
                    and _lesson_in(stem, lessons):
                canvas = None
            if moodle_file:
                facts["lms"] = {"system": "moodle", "id": moodle_file["uid"], "name": moodle_file["name"]}
                student_hint = lms_student(moodle_file["uid"], moodle_file["name"], facts)
                stem = moodle_file["rest"]
            elif canvas:
                facts["lms"] = {"system": "canvas", "id": canvas["uid"], "name": canvas["name"],
                                "attachment": int(canvas["sid"])}       # Canvas's attachment id: larger, uploaded later
                student_hint = lms_student(canvas["uid"], canvas["name"], facts)
                if canvas.get("others"):
                    facts.setdefault("flags", []).append("ambiguous-lms-name")
                    warnings.append(f"{rel(path)}: Canvas's user id could be {canvas['uid']} (taken: "
                                    f"{student_hint}) or {', '.join(canvas['others'].split())}, as its name or file "
                                    f"name holds digits between underscores; check whose it is"
                                    + ("" if roster else " (a roster, --roster, often decides)"))
                facts["late"] = bool(canvas["late"])
                facts["rank"] = (int(canvas["sid"]),)
                stem = canvas["rest"]
        found = _lesson_in(stem, lessons)
        # Colab's "Copy of" before the lesson's name where the LMS says whose it is: a copy's name, not a rename
        colab_copies = found[1].lower().count("copy") if found and facts.get("lms") and COPY_PREFIX.match(found[1]) else 0
        facts["plain"] = found is not None and not found[2].strip() and not colab_copies   # the lesson's own name
        if found is None and lesson_hint is not None:
            found = (lesson_hint, "", "")
            facts.setdefault("flags", []).append("renamed-notebook")
        if found is None and facts.get("lms"):
            # The LMS says whose it is: a lesson named anywhere in the file's name is enough ("01_history (final
            # version).ipynb"); a name without any lesson waits for the end (a one-lesson export decides).
            named = _lesson_anywhere(stem, lessons)
            if named is None and student_hint is not None:
                unplaced.append((path, student_hint, facts))
                return
            if named is not None:
                found = (named, "", "")
                facts.setdefault("flags", []).append("renamed-notebook")
                facts["placed"] = f"renamed: its file name mentions {named.slug}"
        if found is None:
            lines.append(IntakeLine(rel(path), "skipped", note="no lesson of this course in the file name "
                                    f"(expected one of: {', '.join(lesson.slug for lesson in lessons)})"))
            return
        lesson, before, suffix = found
        student = student_hint if student_hint is not None else before
        if not student:
            lines.append(IntakeLine(rel(path), "skipped", lesson=lesson.slug,
                                    note="no student in the file name (expected <student>_<NN_slug>.ipynb)"))
            return
        student = roster.get(student, student)
        facts["copy"] = _copy_rank(suffix) + colab_copies
        # Moodle stores a file uploaded again under a name already in the submission as '<name> (1)' beside it
        # (file_storage::get_unused_filename): that number orders one Moodle submission's uploads.
        renamed_by_moodle = re.fullmatch(r" \((\d+)\)", suffix)
        facts["moodle_copy"] = int(renamed_by_moodle.group(1)) if renamed_by_moodle and not colab_copies and \
            (facts.get("lms") or {}).get("system") == "moodle" else 0
        if lesson.slug not in stem or (facts.get("lms") and before and not colab_copies):
            # another letter case or spelling, or words before the lesson's name where the LMS says whose it is
            # ("Lab 1 - 01_history.ipynb"): a rename
            facts.setdefault("flags", []).append("renamed-notebook")
        elif suffix.strip() or colab_copies:        # a copy's name (a second download, Jupyter's or Colab's copy)
            facts["copy_name"] = True
        facts["given"] = student                 # the name as given (its id: safe_id)
        candidates.append((safe_id(student), lesson, path, facts))

    # OUT inside the folder graded (grade submitted --out submitted/grading): the grader's own files, like the
    # system's, get no line (an instructor's trial: every report and result of OUT was listed as a skipped input)
    own_out = work.parent.resolve()
    for path in sorted(source.iterdir()):
        if path.name.startswith((".", "__MACOSX")) or path.resolve() == own_out:
            continue
        if path.is_file():
            consider(path, None)
            continue
        moodle = MOODLE.match(unicodedata.normalize("NFC", path.name))
        if moodle:
            def too_deep(folder: Path, why: str) -> None:
                lines.append(IntakeLine(_shown(rel(folder)), "skipped", note=why))

            for inner in _files_below(path, too_deep):
                if inner.is_file():
                    facts: dict = {"lms": {"system": "moodle", "id": moodle["uid"], "name": moodle["name"]}}
                    consider(inner, lms_student(moodle["uid"], moodle["name"], facts), **facts)
            continue
        for inner in sorted(path.iterdir()):                     # nbgrader: <student>/<NN_slug>/...
            lesson = next((lesson for lesson in lessons if lesson.slug == inner.name), None)
            if inner.is_dir() and lesson is not None:
                notebooks = sorted(p for p in inner.iterdir() if p.is_file() and p.suffix.lower() == ".ipynb") \
                    or sorted(p for p in inner.iterdir() if p.suffix.lower() != ".ipynb" and _not_a_notebook(p) is None)
                exact = [p for p in notebooks if p.name == f"{lesson.slug}.ipynb"]
                when, unread = _timestamp(inner)
                for notebook in exact or notebooks:
                    consider(notebook, path.name, lesson, submitted_at=when,
                             **({"time_source": unread} if unread else {}))
                if not notebooks:
                    empty.append((safe_id(path.name), lesson))
                    lines.append(IntakeLine(rel(inner), "skipped", safe_id(path.name), lesson.slug,
                                            "the lesson's folder has no notebook"))
                for other in (p for p in inner.iterdir() if p not in (exact or notebooks)):
                    if other.name != "timestamp.txt" and not other.name.startswith("."):
                        lines.append(IntakeLine(rel(other), "skipped", unicodedata.normalize("NFC", path.name),
                                                lesson.slug, "not graded: the folder's notebook is "
                                                f"{lesson.slug}.ipynb"))
            elif inner.is_file():
                consider(inner, path.name)
            elif inner.resolve() == own_out:
                continue
            else:
                # Each file in it gets its own line (an instructor's trial: dave/03_padding/03_padding_stride.ipynb
                # was one line for the folder, and the console said nothing of dave's notebook); a notebook's line
                # puts it in the run's "not graded" warning below.
                def too_deep_here(folder: Path, why: str) -> None:
                    lines.append(IntakeLine(_shown(rel(folder)), "skipped", note=why))

                inside = [p for p in _files_below(inner, too_deep_here) if not p.name.startswith(".")]
                for other in inside:
                    lines.append(IntakeLine(_shown(rel(other)), "skipped", note=(
                        f"in the folder {_shown(rel(inner))}, which is no lesson of this course: not graded "
                        "(expected <student>/<NN_slug>/<NN_slug>.ipynb; rename the folder to its lesson's NN_slug)")))
                if not inside:
                    lines.append(IntakeLine(rel(inner), "skipped", note="a folder that is no lesson of this course"))

    # An LMS export is one assignment's ("download all submissions" in Canvas and Moodle): its lesson is the one
    # --lesson names, else the one that at least two thirds of its students' notebooks name (a Moodle worksheet
    # says for its own participants). A notebook naming no lesson is that lesson's. A notebook of another lesson
    # was handed in to the wrong assignment: it is graded as what it is, flagged "other-assignment", but it makes
    # no classmate "missing" that lesson (their work for it is in that lesson's own export) and never replaces a
    # notebook handed in to that lesson's own assignment (see _preferred and grade._older_than_graded).
    known = {lesson.slug: lesson for lesson in lessons}
    # A notebook whose file name names no lesson is the lesson whose exercise cells it holds (nbgrader's cell ids),
    # when one lesson has most of them: a lesson-01 notebook renamed "homework.ipynb" in lesson 03's export is 01's.
    still: list[tuple[Path, str, dict]] = []
    for path, student, facts in unplaced:
        by_cells = _lesson_by_cells(path, lessons)
        if by_cells is None:
            still.append((path, student, facts))
            continue
        facts.setdefault("flags", []).append("renamed-notebook")
        facts["copy"] = 0
        facts["placed"] = f"renamed: its exercise cells are {by_cells.slug}'s"
        facts["given"] = student                 # the name as given (its id: safe_id)
        candidates.append((safe_id(student), by_cells, path, facts))
    unplaced = still
    by_names = _export_lesson(candidates)
    if assignment is not None and by_names is not None and by_names != assignment and candidates \
            and all(facts.get("lms") for _, _, _, facts in candidates):
        # --lesson would make the export's own notebooks "another assignment's" and record the class missing the
        # lesson it names: a typo costs grades. Refused before anything is graded.
        named = {slug: len({s for s, lesson, _, _ in candidates if lesson.slug == slug})
                 for slug in (by_names.slug, assignment.slug)}
        raise UsageError(f"--lesson {assignment.slug}, but this LMS export is {by_names.slug}'s: "
                         f"{named[by_names.slug]} student(s) handed in {by_names.slug}, {named[assignment.slug]} "
                         f"{assignment.slug}. Give --lesson {by_names.number} (or no --lesson).")
    if assignment is not None:
        # A Moodle grading worksheet says which assignment its participants are of (their ids are per assignment):
        # a --lesson that no worksheet of this export's participants is for would record them all missing it.
        sheets = sorted({facts["worksheet_lesson"] for _, _, _, facts in candidates if facts.get("worksheet_lesson")}
                        | {who["worksheet_lesson"] for who in who_in_lms.values() if who.get("worksheet_lesson")})
        if sheets and assignment.slug not in sheets:
            raise UsageError(f"--lesson {assignment.slug}, but this Moodle export's participants are those of the "
                             f"grading worksheet of {', '.join(sheets)} (--moodle-worksheet; a participant id belongs "
                             f"to one assignment): the export is that assignment's. Give --lesson "
                             f"{' or --lesson '.join(slug[:2] for slug in sheets)} (or no --lesson).")
    lms_only = bool(candidates) and all(facts.get("lms") and not facts.get("worksheet_lesson")
                                        for _, _, _, facts in candidates)
    by_file = _lesson_of_export_name(given_name, lessons) if lms_only and assignment is None else None
    if by_file is not None and by_names is not None and by_file != by_names:
        named = {slug: len({s for s, lesson, _, _ in candidates if lesson.slug == slug})
                 for slug in (by_names.slug, by_file.slug)}
        raise UsageError(f"{given_name}: its name says the export is {by_file.slug}'s (an LMS names a download after "
                         f"its assignment), but {named[by_names.slug]} student(s) handed in {by_names.slug}, "
                         f"{named[by_file.slug]} {by_file.slug}. Give --lesson with the assignment's lesson "
                         f"(--lesson {by_names.number} or --lesson {by_file.number}).")
    merged = _several_exports(candidates) if lms_only and by_names is None and by_file is None else {}
    if merged and assignment is None:
        # Two assignments' downloads unzipped into one folder: which notebook came from which assignment is lost,
        # so a stray (another lesson's notebook uploaded later) would beat the real one by its upload order.
        raise UsageError(f"{given_name} looks like several LMS assignments' exports put together: "
                         + _several_said(merged) + ". An LMS export is one assignment's: grade each downloaded zip "
                         "on its own, into the same --out (or give --lesson to grade one lesson's notebooks from it; "
                         "where a student has two notebooks of that lesson, the later upload is graded, whichever "
                         "assignment it was handed in to).")
    if merged:
        warnings.append(f"{given_name} looks like several LMS assignments' exports put together ("
                        + _several_said(merged) + f"): with --lesson {assignment.slug if assignment else ''}, a "
                        "student's later upload of that lesson is graded, whichever assignment it was handed in to "
                        "(grade each downloaded zip on its own to be sure)")
    export = assignment or by_file or by_names
    for path, student, facts in unplaced:
        owner = known.get(facts.get("worksheet_lesson", "")) or export   # Moodle: the assignment's worksheet says
        if owner is not None:
            facts.setdefault("flags", []).append("renamed-notebook")
            facts["copy"] = 0
            facts["guessed"] = True                   # never before a notebook known to be the lesson's (_preferred)
            facts["placed"] = ("renamed: no lesson in its file name or cells; the " + (
                "Moodle worksheet's assignment" if facts.get("worksheet_lesson") else "export's lesson") +
                f", {owner.slug}")
            facts["given"] = student                 # the name as given (its id: safe_id)
            candidates.append((safe_id(student), owner, path, facts))
        else:
            several = {lesson.slug for _, lesson, _, facts in candidates if facts.get("lms")}
            lines.append(IntakeLine(rel(path), "skipped", safe_id(student), note="no lesson of this course in the "
                                    "file name, and the export holds " + (
                                        f"several lessons ({', '.join(sorted(several))}): give --lesson with the "
                                        "export's lesson" if several else "no other notebook: give --lesson with "
                                        "the export's lesson") +
                                    f" (expected one of: {', '.join(lesson.slug for lesson in lessons)})"))
    stray_said: dict[str, str] = {}        # see Intake.strays
    for student, lesson, path, facts in candidates:
        handed_to = known.get(facts.get("worksheet_lesson", "")) or (export if facts.get("lms") else None)
        if handed_to is None or handed_to == lesson:
            continue
        facts.setdefault("flags", []).append("other-assignment")
        facts["stray"] = (f"a {lesson.slug} notebook handed in to the assignment of {handed_to.slug} "
                          "(other-assignment)")
        if facts["lms"]["system"] == "moodle" and facts.get("worksheet_lesson"):
            continue                               # said below, with what it means for Moodle's grade file
        if facts["lms"]["system"] == "moodle":
            # Moodle's participant ids are per assignment: this one is handed_to's, not the notebook lesson's (in
            # that lesson's grade file it would be the wrong person's row, or none)
            facts["lms"] = {**facts["lms"], "id": "", "not_for": handed_to.slug, "their_id": facts["lms"]["id"]}
        marker = " (Canvas's LATE marker is that assignment's: not used)" if facts.pop("late", False) else ""
        stray_said[rel(path)] = (f"{rel(path)}: handed in to the assignment of {handed_to.slug} ("
                        + ("--lesson" if assignment else f"by its name, {given_name}" if by_file
                           else "what most of this export is") +
                        f"), but the notebook is {lesson.slug}: graded as {lesson.slug}, flagged other-assignment"
                        f"{marker}; it makes nobody else missing {lesson.slug}, and a {lesson.slug} notebook from "
                        "its own assignment's export replaces it")
    # Moodle's participant ids are per assignment (assign_user_mapping): one belongs to the assignment whose
    # worksheet lists it. A notebook naming another lesson is graded as that lesson, without the id (another
    # assignment's id in this lesson's Moodle file would be the wrong row or none).
    for student, lesson, path, facts in candidates:
        owner = facts.get("worksheet_lesson")
        if owner and owner != lesson.slug:
            facts["lms"] = {**facts["lms"], "id": "", "not_for": owner, "their_id": facts["lms"]["id"]}
            stray_said[rel(path)] = (f"{rel(path)}: submitted to the Moodle assignment of {owner} (by its worksheet), "
                                     f"but the notebook is {lesson.slug}: graded as {lesson.slug}, flagged "
                                     "other-assignment; enter that grade in Moodle by hand (lms/moodle-notes.txt).")
    # Two students with the same name in an LMS export (or Moodle's blind marking, where every folder is
    # "Participant"): each gets "<name> (<LMS id>)", never one superseding the other. Canvas's user ids are
    # the same in every assignment; Moodle's participant ids are not, so Moodle's are counted per lesson (one
    # person in two assignments' exports is one student).
    def scope(student: str, lesson: Lesson, facts: dict) -> tuple[str, str]:
        return (student, lesson.slug if facts["lms"]["system"] == "moodle" else "")

    ids_of: dict[tuple[str, str], set[str]] = {}
    for student, lesson, _, facts in candidates:
        if facts.get("named_by_lms") and not facts.get("kept"):
            ids_of.setdefault(scope(student, lesson, facts), set()).add(facts["lms"]["id"])
    for (student, kind), ids in ids_of.items():
        if not kind:                                  # Canvas: the users of that name graded before into OUT
            ids |= {lms_id for lms_id, (_, name) in canvas_known.items() if name == student}
    for i, (student, lesson, path, facts) in enumerate(candidates):
        if facts.get("named_by_lms") and not facts.get("kept") and len(ids_of[scope(student, lesson, facts)]) > 1:
            lms_name = f"{facts['lms']['name']} ({facts['lms']['id']})"
            candidates[i] = (safe_id(lms_name), lesson, path, facts)
            facts["given"] = lms_name
            count = len(ids_of[scope(student, lesson, facts)])
            if facts.get("worksheet_lesson"):
                # Moodle's blind marking, its worksheet given: it hides who they are too ('Participant' is every
                # name there), so neither a roster nor a worksheet can tell them apart; a flag on every row would
                # be noise in flagged.md
                warning = (f"{count} participants are named {student!r} in the Moodle export and its worksheet "
                           f"(blind marking hides who they are): each is graded as '{student} (<participant id>)', "
                           "and lms/moodle-<lesson>.csv gives each grade back under its participant id, so Moodle "
                           "files it for the right person")
                if warning not in warnings:
                    warnings.append(warning)
                continue
            facts.setdefault("flags", []).append("same-name")
            warning = (f"{count} students are named {student!r} in the LMS exports graded into OUT: those graded "
                       f"before keep their names, each new one is graded as '{student} (<LMS id>)'"
                       if ids_of[scope(student, lesson, facts)] & set(canvas_known) else
                       f"{count} students are named {student!r} in the LMS export: each is graded as "
                       f"'{student} (<LMS id>)'") + (". Give --roster to use your student ids"
                       + (" (Moodle: or each assignment's grading worksheet, --moodle-worksheet)."
                          if facts["lms"]["system"] == "moodle" else "."))
            if warning not in warnings:
                warnings.append(warning)

    # One student id for two names as given: a name that cannot be a folder name becomes a readable form and a hash
    # ('a|b' -> 'a_b-0eab8a0a'), and a folder or file can be named that very form. The student whose name needed the
    # hash is graded; the notebook named like it is skipped and said, never graded as them (a hostile trial: the
    # newer of the two was graded for both names, the other one 'superseded').
    def as_given(facts: dict) -> str:
        return unicodedata.normalize("NFC", str(facts.get("given", ""))).strip()

    hashed = {student: as_given(facts) for student, _, _, facts in candidates if as_given(facts) != student}
    kept = []
    for student, lesson, path, facts in candidates:
        if student in hashed and as_given(facts) == student:
            lines.append(IntakeLine(rel(path), "skipped", student, lesson.slug,
                                    note=f"not graded: its student name is the safe form of another student's name "
                                         f"({hashed[student]!r}), who is graded under it; rename it"))
            warnings.append(f"{rel(path)}: not graded: its student name {student!r} is the safe form of another "
                            f"student's name ({hashed[student]!r}); rename it and grade it again")
            continue
        kept.append((student, lesson, path, facts))
    candidates[:] = kept
    handed_in = {student for student, _, _, _ in candidates} | {student for _, student, _ in unplaced}
    no_notebook: list[Submission] = []         # a student of a one-lesson export who handed in other files only
    unrostered: set[tuple[str, str, str]] = set()   # ... of them, those the roster does not know: (LMS name, LMS id, LMS)
    for student, files in sorted(others.items()):
        if student not in handed_in and safe_id(student) not in handed_in:
            lms = dict(who_in_lms.get(student, {}))
            lesson = known.get(lms.pop("worksheet_lesson", "")) or export    # Moodle: the worksheet's assignment
            if lms.pop("named_by_lms", False) and lms.get("id"):
                unrostered.add((lms.get("name", student), lms["id"], lms.get("system", "")))
            warnings.append(f"{student} handed in no notebook, only {', '.join(sorted(files))}: nothing of theirs is "
                            "graded" + (f" (recorded missing {lesson.slug})" if lesson else "") + " (intake.csv)")
            if lesson is not None:
                no_notebook.append(Submission(safe_id(student), lesson, None, lms=lms, handed_in=sorted(files),
                                              note=f"no notebook: handed in {', '.join(sorted(files))}"))

    if roster:
        # A student the roster does not know (enrolled late, a roster from before) is filed under the LMS's name:
        # say so now, or their grades sit under another id than everyone else's without a word.
        # (also one who handed in no notebook: recorded missing under the LMS's name, as an instructor's trial found
        # without a word)
        # A roster of ids only (Canvas's gradebook export, lms_id rows of Canvas user ids) names no Moodle participant
        # (they are named by name, above): a Moodle section graded into the same OUT is no stranger to it (an
        # instructor's trial: a warning said to add the Moodle section to the Canvas roster).
        names_moodle = any(not key.isdigit() for key in roster)
        strangers = sorted({(facts["lms"]["name"], facts["lms"]["id"]) for _, _, _, facts in candidates
                            if facts.get("named_by_lms") and (names_moodle or facts["lms"]["system"] != "moodle")}
                           | {(name, lms_id) for name, lms_id, system in unrostered
                              if names_moodle or system != "moodle"})
        if strangers:
            warnings.append(f"{len(strangers)} student(s) of the LMS export are not in the roster, so each is graded "
                            "under the name the LMS wrote: "
                            + ", ".join(f"{name} (LMS id {lms_id})" for name, lms_id in strangers)
                            + ". Add them to the roster (OUT/roster.csv) and grade the exports again into a new OUT: "
                            "in this one their results under the LMS's name would stay beside those under the roster's "
                            "id, two students for one person.")

    if zipped and zip_zone:
        zone = parse_zone(zip_zone)
        for _, _, path, facts in candidates:
            if facts.get("submitted_at") is None and path in entry_times:     # timestamp.txt comes first
                written, utc = entry_times[path]
                if utc is not None:
                    facts["submitted_at"], facts["time_source"] = utc, "zip entry time (UTC, its extended timestamp)"
                else:
                    facts["submitted_at"] = written.replace(tzinfo=zone).astimezone(timezone.utc)
                    facts["time_source"] = f"zip entry time, read as {zip_zone}"
        stamped = [facts["submitted_at"] for _, _, _, facts in candidates if facts.get("time_source", "").startswith("zip")]
        if len(stamped) > 1 and max(stamped) - min(stamped) < ZIP_SPREAD:
            warnings.append(f"--zip-times: the {len(stamped)} notebooks' zip entry times all lie within "
                            f"{int(ZIP_SPREAD.total_seconds() // 60)} minutes ({min(stamped):%Y-%m-%d %H:%M} UTC): "
                            "they look like the time the zip was made (current Canvas and Moodle write that), not "
                            "submission times. Check before trusting the late penalties (give --zip-times off).")
    from_moodle = any((facts.get("lms") or {}).get("system") == "moodle" for _, _, _, facts in candidates)
    if moodle_zone and candidates and not any(facts.get("moodle_submitted") for _, _, _, facts in candidates) \
            and (from_moodle or moodle_zone_given):
        # --moodle-times reads the worksheet's submission times only: with none here it sets no time, and the
        # instructor who gave it would think it did (an instructor's trial: Canvas, or Moodle without a worksheet).
        # The zone kept in OUT from an earlier Moodle run says nothing of a Canvas export (another trial: every
        # Canvas zip graded into that OUT warned of an option its command line did not give).
        warnings.append(f"--moodle-times {moodle_zone} reads the submission times of Moodle's grading worksheet "
                        "(--moodle-worksheet), and no notebook of this input has one ("
                        + ("not a Moodle export" if not from_moodle else "no worksheet of its assignment given")
                        + "): it sets no submission time here")
    if moodle_zone:
        from .moodle import submission_time

        unknown = []
        for student, _, path, facts in candidates:
            text = facts.get("moodle_submitted")
            if facts.get("submitted_at") is not None or not text or (facts.get("lms") or {}).get("system") != "moodle":
                continue
            when = submission_time(text, moodle_zone)
            if when is None:
                facts["moodle_time_unread"] = True
                unknown.append(f"{student} ({text[:40]!r})")
            else:
                facts["submitted_at"] = when
                facts["time_source"] = f"Moodle worksheet's Last modified (submission), read as {moodle_zone}"
        if unknown:
            warnings.append(f"{len(unknown)} Moodle submission time(s) of the worksheets are in a form not known here "
                            f"(English and Korean Moodle dates and ISO are read), so those submissions count as on "
                            f"time (check them by hand): "
                            f"{', '.join(unknown[:5])}{' ...' if len(unknown) > 5 else ''}")
    unreadable = sorted(rel(path) for _, _, path, facts in candidates
                        if facts.get("submitted_at") is None and facts.get("time_source"))
    if unreadable:
        warnings.append(f"{len(unreadable)} timestamp.txt file(s) could not be read as a time, so those submissions "
                        f"count as on time: {', '.join(unreadable[:5])}{' ...' if len(unreadable) > 5 else ''} "
                        "(intake.csv says why).")
    for _, _, path, facts in candidates:
        if facts.get("submitted_at") is not None:
            facts.setdefault("time_source", "timestamp.txt")
        elif facts.get("time_source"):
            pass                                    # timestamp.txt was there but could not be read: why
        elif facts.get("moodle_time_unread"):
            facts["time_source"] = "none: the Moodle worksheet's submission time is in a form not known here"
        elif (facts.get("lms") or {}).get("system") in NO_TIME:
            facts["time_source"] = NO_TIME[facts["lms"]["system"]] + \
                (" (--moodle-times ZONE reads the worksheet's)" if facts.get("moodle_submitted") else "") + \
                ("; this file carries it: late" if facts.get("late") else "")
        elif zipped:
            facts["time_source"] = "none: zip entry times are not used (see --zip-times)"
        else:
            facts["time_source"] = "none"

    copies: dict[tuple[str, str], list[tuple[Path, dict]]] = {}
    for student, lesson, path, facts in candidates:
        copies.setdefault((student, lesson.slug), []).append((path, facts))
    chosen: dict[tuple[str, str], tuple[Path, dict]] = {}
    for key, found in copies.items():
        if len(found) > 1:
            for path, facts in found:
                facts["as_released"] = _as_released(path, next(lesson for lesson in lessons if lesson.slug == key[1]))
        ranked = sorted(found, key=cmp_to_key(_later_first))                     # the preferred copy first
        chosen[key] = ranked[0]
        if len(ranked) > 1:
            ranked[0][1]["superseded"] = [path for path, _ in ranked[1:]]
            ranked[0][1]["decided"] = _preferred(ranked[0], ranked[1])[1]

    lesson_of = {lesson.slug: lesson for lesson in lessons}
    subs = []
    held: set[tuple[str, str]] = set()            # the chosen copy could not be extracted: nothing graded
    for (student, slug), found in copies.items():
        for path, _ in found:
            if path in damaged:                       # its line says whose it was, chosen or not
                damaged[path].student, damaged[path].lesson = student, slug
    # Hand-ins of different students that are one file (hard links to one inode): the same notebook graded in each
    # one's place, though only one of them (or a group) wrote it. Both are graded and flagged same-file, and each one's
    # intake.csv line names the other; a file linked only from outside the hand-ins (a backup made with cp -al or
    # rsync --link-dest, where every file has a second link) is no one else's hand-in and says nothing.
    one_file: dict[tuple[int, int], list[tuple[str, Path]]] = {}
    inode_of: dict[Path, tuple[int, int]] = {}
    for (student, slug), (path, _) in chosen.items():
        if path in damaged:
            continue
        try:
            info = os.stat(path, follow_symlinks=False)
        except OSError:
            continue
        if info.st_nlink > 1:
            inode_of[path] = (info.st_dev, info.st_ino)
            one_file.setdefault(inode_of[path], []).append((student, path))
    for (student, slug), (path, facts) in sorted(chosen.items()):
        if path in damaged:
            # The copy the LMS (or the time, or the name) says is the one to grade cannot be read: grading an
            # older one instead would put a grade for work the student replaced in the gradebook and the LMS file.
            held.add((student, slug))
            older = facts.get("superseded", [])
            too_large = damaged[path].note.startswith("larger than")
            remedy = ("ask the student for the notebook with its outputs cleared (Edit > Clear Outputs of All "
                      "Cells)" if too_large else "download the export again and grade it")
            damaged[path].note += ("; " + (f"the newest of {len(older) + 1} copies: the older "
                                           f"{', '.join(rel(other) for other in older)} not graded in its place"
                                           if older else "its student's only copy")
                                   + f": no grade of this lesson for them from this run (a grade from an earlier "
                                     f"run stays); {remedy}")
            for other in older:
                if other not in damaged:
                    lines.append(IntakeLine(rel(other), "superseded", student, slug, "not graded: a newer copy, "
                                            f"{rel(path)}, " + ("is too large to extract" if too_large else
                                                                "could not be extracted (download the export "
                                                                "again)")))
            continue
        flags = set(facts.get("flags", [])) | ({"late"} if facts.get("late") else set())
        linked = [f"{rel(other)} ({whose})" for whose, other in one_file.get(inode_of.get(path, (-1, -1)), [])
                  if whose != student]
        if linked:
            flags.add("same-file")
        if facts["as_released"] if "as_released" in facts else _as_released(path, lesson_of[slug]):
            flags.add("as-released")                 # the course's copy handed in, not the one worked in?
        when = facts.get("submitted_at")
        sub = Submission(student, lesson_of[slug], path, flags=sorted(flags),
                         submitted_at=when, late=bool(facts.get("late")), origin=rel(path),
                         lms=dict(facts.get("lms") or {}),
                         time_source=facts["time_source"] if when is not None else "")
        older = facts.get("superseded", [])
        if older:
            sub.flags = sorted({*sub.flags, "duplicate"})
            how, short = CHOSEN_BY[facts["decided"]]
            sub.note = f"{how.format(n=len(older) + 1)}; also submitted: {', '.join(rel(p) for p in older)}"
            for other in older:
                if other not in damaged:                 # its line says it could not be extracted
                    lines.append(IntakeLine(rel(other), "superseded", student, slug,
                                            f"another copy was graded: {rel(path)} ({short})"))
        copy_name = f"named as a copy of {slug}.ipynb" if facts.get("copy_name") else ""
        # how a renamed or stray notebook was placed, where the instructor reads the file's line (an instructor's
        # trial found those notes only in grades.csv's flags)
        placed = facts.get("placed") or (f"renamed: graded as {slug}" if "renamed-notebook" in sub.flags else "")
        extension = ("not named .ipynb, but its content is a notebook (renamed-extension)"
                     if "renamed-extension" in sub.flags else "")
        same = (f"the same file (a hard link) as another student's hand-in: {', '.join(linked)} (same-file)"
                if linked else "")
        lines.append(IntakeLine(rel(path), "taken", student, slug, "; ".join(filter(None, [
                                    facts.get("stray", ""), placed, extension, sub.note, copy_name, same])),
                                submitted=(when.astimezone(timezone.utc).strftime(TIME_FORMAT)
                                           if when is not None else ""),
                                time_source=facts["time_source"]))
        subs.append(sub)
    for student, lesson in empty:
        if (student, lesson.slug) not in chosen:
            subs.append(Submission(student, lesson, None, note=f"the folder {student}/{lesson.slug} has no notebook"))
    subs.extend(no_notebook)
    if not subs:
        # named as given: a .zip's unpacked copy in OUT/.work is gone by the time the message is read
        expected_in = f"{given} to hold " if zipped else f"{given}/"
        other_files = [line.input for line in lines if line.input]
        raise UsageError(
            f"no submissions found in {given}" + (f" ({len(other_files)} other file(s): {', '.join(other_files[:5])}"
                                                   + (", ..." if len(other_files) > 5 else "") + ")" if other_files else
                                                   " (it is empty)" if zipped else "")
            + f". Expected {expected_in}<student>/<NN_slug>/<NN_slug>.ipynb, "
            f"<student>_<NN_slug>.ipynb files or an LMS export, with NN_slug one of: "
            f"{', '.join(lesson.slug for lesson in lessons)}.")
    # A student with some lessons but not others: the missing ones are reported too (not those only handed in to
    # another lesson's assignment: the class's work for them is in their own exports).
    present = sorted({sub.lesson.slug for sub in subs if "other-assignment" not in sub.flags})
    have = {(sub.student, sub.lesson.slug) for sub in subs} | held   # a damaged copy is no "missing"
    if export is None and candidates and all(facts.get("lms") and not facts.get("worksheet_lesson")
                                             for _, _, _, facts in candidates) \
            and any((sub.student, slug) not in have for sub in subs for slug in present):
        # An LMS export whose lesson is not clear (a small export, or two assignments' exports put together):
        # "missing" would be a guess, and a zero in the LMS file over a real grade. Nobody is recorded missing.
        warnings.append(f"this LMS export holds notebooks of {', '.join(present)} and no lesson of its own (an export "
                        "is one assignment's): nobody is recorded missing a lesson. Give --lesson with the export's "
                        "lesson to have that lesson's missing students recorded (and renamed notebooks placed).")
        present = []
    strays: dict[str, list[Submission]] = {}
    for sub in subs:
        if "other-assignment" in sub.flags:
            strays.setdefault(sub.student, []).append(sub)
    for student in sorted({sub.student for sub in subs}):
        for slug in present:
            if (student, slug) not in have:
                # what they handed in instead, true whatever becomes of it (graded as its lesson, or replaced by a
                # notebook of that lesson's own assignment)
                theirs = sorted(strays.get(student, []), key=lambda sub: sub.lesson.slug)
                note = (f"no notebook of {slug}; handed in " + ", ".join(
                    f"a {sub.lesson.slug} notebook ({sub.origin})" for sub in theirs) + " to this assignment instead"
                        if theirs else "no notebook submitted")
                subs.append(Submission(student, lesson_of[slug], None, note=note, lms=_lms_for(subs, student, slug),
                                       handed_in=[f"{sub.lesson.slug} notebook" for sub in theirs]))
    subs.sort(key=lambda sub: (sub.student, sub.lesson.slug))
    lines.sort(key=lambda line: line.input)
    # A notebook that is not graded is named where the instructor looks, not only in intake.csv.
    dropped = [line for line in lines if line.outcome == "skipped" and line.input.lower().endswith(".ipynb")]
    if dropped:
        warnings.append(f"{len(dropped)} notebook(s) not graded: " + "; ".join(
            f"{line.input}{' of ' + line.student if line.student else ''} ({line.note.split(' (expected')[0]})"
            for line in dropped[:5]) + (f"; and {len(dropped) - 5} more" if len(dropped) > 5 else "")
            + " (intake.csv lists them)")
    return Intake(subs, lines, warnings, stray_said)


def _lms_for(subs: list[Submission], student: str, slug: str) -> dict:
    """Who a student missing ``slug`` is in the LMS, from their other submissions of the same export: a Moodle
    participant id is the assignment's, so a notebook handed in to ``slug``'s assignment but naming another lesson
    gives back the id it was handed in under (a missing row without it made lms/canvas.csv for a Moodle class)."""
    for sub in subs:
        lms = sub.lms or {}
        if sub.student != student or not lms:
            continue
        if lms.get("system") != "moodle":
            return dict(lms)
        if lms.get("not_for") == slug and lms.get("their_id"):
            return {**{k: v for k, v in lms.items() if k not in ("not_for", "their_id")}, "id": lms["their_id"]}
    return {}


LINKED = ("not graded: a link to another file, not a file handed in (where a link points is not its student's work: "
          "a classmate's notebook, the course's solutions); put the notebook itself in its place")


def _through_a_link(path: Path, root: Path) -> bool:
    """Whether ``path`` is reached through a symbolic link below ``root`` (the folder graded, which may be one): the
    file itself, or its lesson's or its student's folder. A submissions folder copied with its links (rsync -a from
    the learners' folders, an archive unpacked by a tool that makes links) could hand in, in one learner's place, a
    classmate's notebook or the course's solutions."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return path.is_symlink()
    here = root
    for part in parts:
        here = here / part
        if here.is_symlink():
            return True
    return False


def _as_released(path: Path, lesson: Lesson) -> bool | None:
    """Is the notebook at ``path`` the lesson's notebook as released, with nothing written in it (True): every answer
    cell as a release wrote it (nbgrader's checksum holds) and nothing of its own (every other code cell empty or as
    in one of the lesson's released editions, every other cell one of the lesson's own, by its id; test cells are the
    course's, not the learner's)? False: it holds the lesson's answer cells and something written (a copy of an
    older release whose other code cells differ counts as written in), or no answer cell but code or text of its own
    (work in a notebook that lost nbgrader's metadata). None: it cannot be read, or holds no answer cell and nothing
    of its own (an empty Untitled.ipynb: the other rules decide)."""
    from .lessons import NotebookProblem, read_notebook

    try:
        nb = read_notebook(path)
    except (NotebookProblem, OSError, ValueError):
        return None
    try:
        return _released_as_is(nb, lesson)
    except Exception:  # noqa: BLE001 - a learner's file read by a rule of thumb: what it cannot read, the others decide
        return None     # (malformed nbgrader metadata stopped a whole batch at intake: a hostile class's trial)


_released: dict[tuple, tuple[frozenset[str], frozenset[str]]] = {}


def _released_cells(lesson: Lesson) -> tuple[frozenset[str], frozenset[str]]:
    """The code of the lesson's released editions' code cells, and the ids of their text cells (a release may word
    them anew), read once per version of those files (each read is ~0.1 s: once per submission, a class of 300 spent
    a minute and a half on them)."""
    from .i18n import LANGS, translated_path
    from .lessons import NotebookProblem, read_notebook

    editions = [lesson.student_version, *(translated_path(lesson.student_version.parent.parent, lang, lesson.slug)
                                          for lang in LANGS)]
    key = tuple((str(path), *((path.stat().st_mtime_ns, path.stat().st_size) if path.is_file() else ()))
                for path in editions)
    if key in _released:
        return _released[key]
    released: set[str] = set()
    texts: set[str] = set()
    whole = True                    # every edition there was read: what this read gave is kept for the next
    for edition in editions:
        try:
            cells = read_notebook(edition).cells
        except (NotebookProblem, OSError, ValueError):
            whole = whole and not edition.is_file()     # one that could not be read this once is read again
            continue
        released |= {cell.source.strip() for cell in cells if cell.cell_type == "code"}
        texts |= {str(cell.get("id")) for cell in cells if cell.cell_type != "code" and cell.get("id")}
    found = frozenset(released), frozenset(texts)
    if whole:
        _released[key] = found
    return found


def _released_as_is(nb, lesson: Lesson) -> bool | None:
    """:func:`_as_released` of a notebook read (raises on what nbformat's schema lets through and this does not read)."""
    from nbgrader.utils import compute_checksum

    from .i18n import is_nbgrader_cell

    answers = [cell for cell in nb.cells if (cell.get("metadata", {}).get("nbgrader") or {}).get("solution")]
    if any(cell.metadata.nbgrader.get("checksum") != compute_checksum(cell) for cell in answers):
        return False
    released, texts = _released_cells(lesson)
    # a cell of another kind that the lesson does not hold is the learner's text too: an answer pasted into a Markdown
    # cell, an answer cell of theirs turned raw (Esc R)
    untouched = all(not cell.source.strip() or (cell.source.strip() in released if cell.cell_type == "code"
                                                else str(cell.get("id")) in texts)
                    for cell in nb.cells if not is_nbgrader_cell(cell))         # a test cell is not theirs
    # no answer cell: work in a notebook that lost nbgrader's metadata (the grader runs it all the same) is written in
    return untouched if answers else (None if untouched else False)


def _lesson_by_cells(path: Path, lessons: list[Lesson]) -> Lesson | None:
    """The lesson whose exercise cells (nbgrader grade_ids) the notebook at ``path`` holds the most of, if one does
    (none when it cannot be read, holds none, or two lessons tie)."""
    from .lessons import NotebookProblem, grade_cells, lesson_ids, read_notebook

    try:
        ids = set(grade_cells(read_notebook(path)))
    except (NotebookProblem, OSError, ValueError):
        return None
    counts = sorted(((len(ids & lesson_ids(lesson)), lesson.slug) for lesson in lessons), reverse=True)
    if not counts or counts[0][0] == 0 or (len(counts) > 1 and counts[1][0] == counts[0][0]):
        return None
    return next(lesson for lesson in lessons if lesson.slug == counts[0][1])


def _lesson_of_export_name(name: str, lessons: list[Lesson]) -> Lesson | None:
    """The lesson an LMS download's name says it is (Moodle: ``<course>-<assignment name>-<cmid>.zip``; a Canvas
    ``submissions.zip`` renamed by the instructor), by the rule of every LMS name
    (:func:`autograde.lessons.title_names_lesson`): one lesson named exactly, else one by its number and a word;
    None when it names none or several."""
    from .lessons import title_names_lesson

    stem = re.sub(r"(\s*\(\d+\))+$", "", Path(name).stem if name.lower().endswith(".zip") else name)
    stem = re.sub(r"-\d+$", "", stem)                     # Moodle's course module id
    scores = {lesson.slug: title_names_lesson(lesson.slug, stem, lesson.solutions) for lesson in lessons}
    for best in (2, 1):
        found = [lesson for lesson in lessons if scores[lesson.slug] == best]
        if found:
            return found[0] if len(found) == 1 else None
    return None


def _several_exports(candidates: list[tuple[str, Lesson, Path, dict]]) -> dict[str, list[str]]:
    """Students of an LMS export without a lesson of its own who handed in notebooks of two or more lessons, when
    two or more did: one assignment's export holds one submission per student, so that many is several
    assignments' exports in one folder. student -> lessons."""
    lessons_of: dict[str, set[str]] = {}
    for student, lesson, _, _ in candidates:
        lessons_of.setdefault(student, set()).add(lesson.slug)
    several = {student: sorted(slugs) for student, slugs in sorted(lessons_of.items()) if len(slugs) > 1}
    return several if len(several) > 1 else {}


def _several_said(several: dict[str, list[str]]) -> str:
    shown = list(several.items())[:5]
    return (", ".join(f"{student} handed in {' and '.join(slugs)}" for student, slugs in shown)
            + (f" and {len(several) - 5} more" if len(several) > 5 else ""))


def _export_lesson(candidates: list[tuple[str, Lesson, Path, dict]]) -> Lesson | None:
    """The lesson of an LMS export's assignment, when one is clear: the one that at least two thirds of the export's
    students handed in, and no other lesson more than a third (an export of several assignments put together has
    no lesson of its own). Moodle participants of a worksheet's assignment are not counted: the worksheet says."""
    who: dict[str, set[str]] = {}
    lesson_of: dict[str, Lesson] = {}
    for student, lesson, _, facts in candidates:
        if facts.get("lms") and not facts.get("worksheet_lesson"):
            who.setdefault(lesson.slug, set()).add(student)
            lesson_of[lesson.slug] = lesson
    if not who:
        return None
    everyone = len(set().union(*who.values()))
    top = max(sorted(who), key=lambda slug: len(who[slug]))
    if 3 * len(who[top]) >= 2 * everyone and all(3 * len(who[slug]) <= everyone for slug in who if slug != top):
        return lesson_of[top]
    return None


# What decided which of a student's copies of a lesson is graded (intake.csv says it): (graded line, superseded line).
CHOSEN_BY = {
    "assignment": ("the one of {n} copies handed in to its own lesson's assignment",
                   "handed in to its own lesson's assignment"),
    "answered": ("the one of {n} copies with an answer written (the other is the lesson's notebook as released, "
                 "no answer in it: the wrong file uploaded?)", "the lesson's notebook as released, no answer in it"),
    "identified": ("the one of {n} notebooks that is this lesson's by its file name or exercise cells (another "
                   "shows no lesson)", "this one shows no lesson"),
    "lms": ("the last of {n} submitted to Canvas (by Canvas's attachment ids)", "submitted to Canvas later"),
    "time": ("the newest of {n} copies (by time)", "newer"),
    "own-name": ("{n} copies with the same time: chosen by name (the lesson's own name before a copy)",
                 "same time: chosen by name"),
    "copy-number": ("{n} copies with the same time: chosen by name (the highest copy number)",
                    "same time: chosen by name"),
    "moodle-copy": ("{n} files of one Moodle submission with the same time: chosen by name (the highest copy "
                    "number: Moodle names a file uploaded again under a name already there '<name> (1)')",
                    "same time: chosen by name (Moodle's copy number)"),
    "file-name": ("{n} copies with the same time: chosen by name (the first file name)", "same time: chosen by name"),
}


def _later_first(a: tuple[Path, dict], b: tuple[Path, dict]) -> int:
    return _preferred(b, a)[0]


def _preferred(a: tuple[Path, dict], b: tuple[Path, dict]) -> tuple[int, str]:
    """Is copy ``a`` graded before copy ``b`` (1) or not (-1), and what decided (a key of CHOSEN_BY)?

    A notebook handed in to its own lesson's assignment first (not one handed in to another's), then one with an
    answer written (not the lesson's notebook as released, :func:`_as_released`: a student who uploaded the course's
    copy beside, or after, their own work), then one known to be
    the lesson's by its file name or exercise cells (not one the export's lesson by guess only: a scratch notebook
    or an empty Untitled.ipynb uploaded beside it), then the LMS's own order (Canvas's attachment ids), then the
    newer time (the submission time, else the file's).
    With the same time (a zip's entries all carry the time it was made) the time says nothing: the lesson's own
    name before a copy of it (the name the lesson asks for, as nbgrader's layout grades ``<NN_slug>.ipynb``), then the
    highest copy number (-Copy2 after -Copy1, `` (2)`` after `` (1)``), then the first file name: never the order
    in which the files were found. Within one Moodle submission, of the lesson's own name and Moodle's copies of it
    (``<name> (1)``, the name Moodle gives a file uploaded again under a name already there), the highest number
    comes first."""
    fa, fb = a[1], b[1]
    stray_a, stray_b = ("other-assignment" in facts.get("flags", []) for facts in (fa, fb))
    if stray_a != stray_b:
        return (-1 if stray_a else 1), "assignment"
    if {fa.get("as_released"), fb.get("as_released")} == {True, False}:
        return (-1 if fa.get("as_released") else 1), "answered"
    if bool(fa.get("guessed")) != bool(fb.get("guessed")):
        return (-1 if fa.get("guessed") else 1), "identified"
    if fa.get("rank", ()) != fb.get("rank", ()):
        return (1 if fa.get("rank", ()) > fb.get("rank", ()) else -1), "lms"
    ta = fa.get("submitted_at") or datetime.fromtimestamp(a[0].stat().st_mtime, timezone.utc)
    tb = fb.get("submitted_at") or datetime.fromtimestamp(b[0].stat().st_mtime, timezone.utc)
    if ta != tb:
        return (1 if ta > tb else -1), "time"
    # In one Moodle submission a file the student uploaded again under a name already there is stored by Moodle as
    # '<name> (1).<ext>' beside the first (file_storage::get_unused_filename, the file picker's "Rename to"): there
    # the copy is the later upload, before the lesson's own name (another copy's name, as Colab's "Copy of", is not
    # Moodle's doing and keeps the rules below).
    moodle = all((facts.get("lms") or {}).get("system") == "moodle" for facts in (fa, fb))
    if moodle and (fa.get("plain") or fa.get("moodle_copy")) and (fb.get("plain") or fb.get("moodle_copy")) \
            and fa.get("moodle_copy", 0) != fb.get("moodle_copy", 0):
        return (1 if fa.get("moodle_copy", 0) > fb.get("moodle_copy", 0) else -1), "moodle-copy"
    if bool(fa.get("plain")) != bool(fb.get("plain")):
        return (1 if fa.get("plain") else -1), "own-name"
    if fa.get("copy", 0) != fb.get("copy", 0):
        return (1 if fa.get("copy", 0) > fb.get("copy", 0) else -1), "copy-number"
    return (1 if str(a[0]) < str(b[0]) else -1 if str(a[0]) > str(b[0]) else 0), "file-name"
