"""Late work: due dates, submission times, extensions and a late penalty, as nbgrader keeps them.

- **Due date** of a lesson: ``--due LESSON=WHEN`` (stored in the gradebook as the assignment's ``duedate``, so
  later runs keep it), else the gradebook's ``duedate`` (set by ``nbgrader db assignment add NN_slug
  --duedate=...`` or formgrader), else the course gradebook's (``nbgrader_config.py``'s ``db_url``) when OUT has
  its own. Times are parsed as nbgrader does (``2025-03-07 23:59 Asia/Seoul``, ISO 8601 with an offset; no zone
  means UTC) and stored as naive UTC, as nbgrader stores them.
- **Submission time**: nbgrader's ``timestamp.txt`` beside the notebook, or (only with ``--zip-times ZONE``) a
  .zip entry's time; each result records where its time came from (``late.source``). Canvas and Moodle exports
  carry no submission time (see :mod:`autograde.collect`). An LMS that only marks a file late (Canvas's
  ``_LATE_``) gives no time: such a submission counts as late by one penalty period.
- **Extension** (per student and lesson): ``OUT/extensions.csv`` (``student,lesson,extension``; ``48h``, ``2d``,
  ``90m`` or ``waive``), which ``--extension STUDENT LESSON DURATION`` writes; recorded in the gradebook as
  nbgrader's ``SubmittedAssignment.extension``. It lives in OUT, so every later run keeps it.
- **Policy**, per lesson: ``--late-penalty none | zero | N/hour | N/day`` (N points per started hour or day late,
  as nbgrader's documented ``SubMarks`` example) for the lessons the run grades or gives a due date of,
  ``--late-penalty LESSON=POLICY``
  for one lesson; kept per lesson in ``OUT/late-policy.json``, so a policy given with one lesson's export never
  changes another lesson's grades; a lesson without one: nbgrader's own configuration decides (``LateSubmissionPlugin.penalty_method`` or an ``AssignLatePenalties.plugin_class`` of
  yours, called as nbgrader calls it). As in nbgrader, a penalty is never below 0 nor above the score.

What lateness did is worded once, by :func:`describe_late` (:class:`LateFacts`): the student's feedback page,
the class report, grades-by-student.csv and flagged.md all show those facts in those words.

The penalty goes into the gradebook (``SubmittedNotebook.late_submission_penalty``: ``nbgrader export`` then
subtracts it) and into each result (``late``: times, hours late, penalty); the raw score stays the result's
``score``, so a changed policy or a new extension is applied again to raw scores, never compounded.
"""
from __future__ import annotations

import contextlib
import csv
import importlib
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path

from cnnbook.i18n import N_, translation

from .lessons import UsageError
from .text import CSV_ENCODING, replacing

POLICY_FILE = "late-policy.json"
EXTENSIONS_FILE = "extensions.csv"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|minutes?|h|hours?|d|days?)\s*$", re.IGNORECASE)
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(hour|h|day|d)\s*$", re.IGNORECASE)
WAIVE = "waive"


def parse_when(text: str) -> datetime:
    """A due date or submission time as nbgrader reads one; returned as naive UTC (nbgrader's storage)."""
    from nbgrader.utils import parse_utc

    text = text.strip().strip("'\"")         # a shell's quotes kept by another quoting: '01=\'... Asia/Seoul\''
    when, why = read_time(text)
    if when is not None:                     # nbgrader's parse_utc reads "23:59 +0900" 15 minutes off: not here
        return when.astimezone(timezone.utc).replace(tzinfo=None)
    if why.startswith("names the zone") or re.search(r"[A-Za-z]+/[A-Za-z_]+", text):
        # parse_utc would take it as UTC without a word (a zone name in a form read_time does not take)
        raise UsageError(f"{text!r} {why or 'names a zone in a form not read here'} (e.g. 2025-03-07T23:59+09:00 or "
                         "'2025-03-07 23:59 Asia/Seoul')")
    try:
        value = parse_utc(text.strip())
    except (ValueError, OverflowError, TypeError) as err:
        raise UsageError(f"{text!r} is not a date and time (e.g. 2025-03-07T23:59+09:00 or "
                         f"'2025-03-07 23:59 Asia/Seoul'): {err}") from None
    return value


_STAMP = re.compile(r"(?P<when>\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(?P<zone>\S*)")
_OFFSET = re.compile(r"(?P<sign>[+-])(?P<hours>\d{2}):?(?P<minutes>\d{2})")


def read_time(text: str) -> tuple[datetime | None, str]:
    """A date and time with its zone, as aware UTC; or None and why not.

    nbgrader's collect writes ``2025-03-07 14:59:00.123456 UTC`` (``Exchange.timestamp_format``, in
    ``Exchange.timezone``). nbgrader's own reader (``parse_utc``) takes ``+0900`` as 900 seconds and an abbreviation
    it does not know (``KST``, what ``Exchange.timezone = "Asia/Seoul"`` writes) as UTC: 9 hours off, an on-time
    notebook late. Here: no zone or UTC/GMT/Z is UTC; an offset (``+0900``, ``+09:00``); a zone name
    (``Asia/Seoul``); an abbreviation only when the course's ``Exchange.timezone`` writes it at that time."""
    match = _STAMP.fullmatch(text.strip())
    if match is None:
        return None, f"is no date and time ({text.strip()[:40]!r})"
    try:
        when = datetime.fromisoformat(match["when"].replace(" ", "T"))
    except ValueError:
        return None, f"is no date and time ({text.strip()[:40]!r})"
    zone_text = match["zone"]
    offset = _OFFSET.fullmatch(zone_text)
    if zone_text.upper() in ("", "UTC", "GMT", "Z"):
        zone: tzinfo = timezone.utc
    elif offset:
        minutes = int(offset["hours"]) * 60 + int(offset["minutes"])
        zone = timezone(timedelta(minutes=-minutes if offset["sign"] == "-" else minutes))
    else:
        found = _named_zone(zone_text, when)
        if found is None:
            return None, (f"names the zone {zone_text!r}, which is no zone name, and the course's Exchange.timezone "
                          "(nbgrader_config.py) does not write it: set that to the zone nbgrader collected in "
                          "(e.g. Asia/Seoul) and grade again")
        zone = found
    return when.replace(tzinfo=zone).astimezone(timezone.utc), ""


def _named_zone(name: str, when: datetime):
    """An IANA zone name, or an abbreviation the course's ``Exchange.timezone`` writes at ``when`` (KST)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(name)
    course = course_timezone()
    if course is not None and when.replace(tzinfo=course).tzname() == name:
        return course
    return None


def course_timezone():
    """nbgrader's ``Exchange.timezone`` in the course's nbgrader_config.py (the zone its timestamps are in)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from traitlets.config.loader import PyFileConfigLoader

    from .lessons import ROOT

    try:
        config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
        name = config.get("Exchange", {}).get("timezone")
        return ZoneInfo(name) if isinstance(name, str) and name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None
    except Exception:  # noqa: BLE001 - no readable config: nbgrader's default zone, UTC
        return None


def zone_hint(given: list[str]) -> str:
    """When due dates are given in a zone other than UTC while the course has none (nbgrader's
    ``Exchange.timezone``), the line that says how to show pages in it; else ''."""
    if course_timezone() is not None:
        return ""
    zones = [m["zone"] for text in given if (m := _STAMP.search(text.strip().strip("'\""))) is not None
             and m["zone"].upper() not in ("", "UTC", "GMT", "Z")]
    if not zones:
        return ""
    named = next((z for z in zones if "/" in z), None)      # an offset (+09:00) names no zone: say what to write
    setting = f"c.Exchange.timezone = {named!r}" if named else "c.Exchange.timezone to your zone's name (e.g. 'Asia/Seoul')"
    return (f"note: due dates were given in {zones[0]}, but feedback pages and class reports show times in UTC: "
            f"set {setting} in nbgrader_config.py to show them in your zone")


def shown_time(stamp: str, zone: tzinfo | None) -> str:
    """A time as stored (``2025-03-07 14:59:00.25 UTC``) as a person reads it: in ``zone`` (the course's, nbgrader's
    ``Exchange.timezone``) with UTC beside it, ``2025-03-07 23:59:00 KST (14:59:00 UTC)``. Unchanged without a zone,
    in UTC, or for any other text. CSV files keep UTC: this is for pages people read."""
    if zone is None or not stamp.endswith(" UTC") or getattr(zone, "key", "") in ("UTC", "Etc/UTC"):
        return stamp
    try:
        moment = datetime.fromisoformat(stamp[:-4].strip()).replace(tzinfo=timezone.utc)
    except ValueError:
        return stamp
    local = moment.astimezone(zone)
    utc = f"{moment:%H:%M:%S}" if local.date() == moment.date() else f"{moment:%Y-%m-%d %H:%M:%S}"
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()} ({utc} UTC)"


def whole_seconds(stamp: str) -> str:
    """A stored time as people read it in a CSV, to the second: nbgrader's timestamp.txt may carry microseconds
    (``2026-03-09 01:00:00.123456 UTC``), intake.csv writes none; lateness is worked out from the stored time."""
    return re.sub(r"(\d{2}:\d{2}:\d{2})\.\d+", r"\1", stamp)


def due_for_student(late: dict) -> str:
    """The due date a result was judged against, as stored (UTC): the lesson's, moved by the student's extension
    (stored as hours, ``24h``); a waiver or no extension leaves it as it is. grades.csv's ``due`` column."""
    due, extension = str(late.get("due") or ""), str(late.get("extension") or "")
    if not due.endswith(" UTC") or not extension.endswith("h"):
        return due
    try:
        moved = datetime.fromisoformat(due[:-4].strip()) + timedelta(hours=float(extension[:-1]))
    except ValueError:
        return due
    return moved.isoformat(sep=" ") + " UTC"


def naive_utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def parse_duration(text: str) -> timedelta | str:
    """``48h``, ``2d``, ``90m`` -> a timedelta; ``waive`` -> WAIVE."""
    if text.strip().lower() == WAIVE:
        return WAIVE
    match = _DURATION.match(text)
    if not match:
        raise UsageError(f"{text!r} is not an extension: write e.g. 48h, 2d, 90m, or waive")
    amount, unit = float(match[1]), match[2][0].lower()
    return timedelta(minutes=amount) if unit == "m" else timedelta(hours=amount) if unit == "h" else \
        timedelta(days=amount)


@dataclass(frozen=True)
class Policy:
    """How many points a late submission loses. ``method``: none, zero, subtract (``amount`` per ``period``
    seconds, per started period), or plugin (an nbgrader LateSubmissionPlugin class, by its import path)."""
    method: str = "none"
    amount: float = 0.0
    period: float = 3600.0
    plugin: str = ""

    def describe(self) -> str:
        if self.method == "subtract":
            return f"{self.amount:g} point(s) per started {'hour' if self.period == 3600 else 'day'} late"
        if self.method == "zero":
            return "a late submission scores 0"
        if self.method == "plugin":
            return f"nbgrader plugin {self.plugin}"
        return "no penalty"

    def penalty(self, student: str, score: float, seconds_late: float) -> float:
        """nbgrader's rule: a penalty in [0, score]; nothing when not late."""
        if seconds_late <= 0 or score <= 0:
            return 0.0
        if self.method == "zero":
            raw = score
        elif self.method == "subtract":
            raw = self.amount * math.ceil(seconds_late / self.period)
        elif self.method == "plugin":
            raw = _plugin(self.plugin).late_submission_penalty(student, score, seconds_late) or 0.0
        else:
            raw = 0.0
        return float(min(max(0.0, raw), score))

    def as_json(self) -> dict:
        return {"method": self.method, "amount": self.amount, "period": self.period, "plugin": self.plugin}

    @staticmethod
    def from_json(data: dict) -> Policy:
        return Policy(str(data.get("method", "none")), float(data.get("amount", 0)), float(data.get("period", 3600)),
                      str(data.get("plugin", "")))

    def of(self, lesson: str) -> Policy:
        """One policy for every lesson (what :func:`apply` is given when a caller has no per-lesson ones)."""
        return self


@dataclass(frozen=True)
class Policies:
    """Each lesson's policy, as OUT keeps them (``late-policy.json``): a lesson's own, else ``fallback`` (an OUT
    written before policies were kept per lesson: its one policy; else nbgrader's configuration)."""
    lessons: dict[str, Policy]
    fallback: Policy

    def of(self, lesson: str) -> Policy:
        return self.lessons.get(lesson, self.fallback)


def parse_policy(text: str) -> Policy:
    value = text.strip().lower()
    if value in ("none", "zero"):
        return Policy(value)
    match = _RATE.match(value)
    if match:
        return Policy("subtract", float(match[1]), 3600.0 if match[2].startswith("h") else 86400.0)
    raise UsageError(f"--late-penalty {text!r}: write none, zero, N/hour or N/day (e.g. 0.5/hour, 1/day)")


def _plugin(path: str):
    from .lessons import ROOT

    module, _, name = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as err:
        raise UsageError(f"nbgrader_config.py names the late-penalty plugin {path!r}, which could not be "
                         f"imported: {err}") from None
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    return cls(config=config)


def policy_from_nbgrader_config() -> Policy:
    """What ``nbgrader autograde`` would apply with this course's nbgrader_config.py."""
    from traitlets.config.loader import PyFileConfigLoader

    from .lessons import ROOT

    try:
        config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    except Exception:  # noqa: BLE001 - no readable config: nbgrader's default
        return Policy()
    plugin = config.get("AssignLatePenalties", {}).get("plugin_class")
    if plugin:
        path = plugin if isinstance(plugin, str) else f"{plugin.__module__}.{plugin.__qualname__}"
        if path not in ("nbgrader.plugins.LateSubmissionPlugin",
                        "nbgrader.plugins.latesubmission.LateSubmissionPlugin"):
            return Policy("plugin", plugin=path)
    method = config.get("LateSubmissionPlugin", {}).get("penalty_method", "none")
    return Policy("zero" if method == "zero" else "none")


def split_policies(given: list[str] | str | None, lesson_slug) -> tuple[Policy | None, dict[str, Policy]]:
    """``--late-penalty`` as given (repeatable): (the one without a lesson, for the lessons this run grades;
    LESSON=POLICY ones by lesson slug). Checked before anything is graded: a typo must not cost a run."""
    bare: Policy | None = None
    by_lesson: dict[str, Policy] = {}
    for text in [given] if isinstance(given, str) else given or []:
        name, sep, rule = text.partition("=")
        if sep:
            by_lesson[lesson_slug(name.strip())] = parse_policy(rule)
        elif bare is not None and parse_policy(text) != bare:
            raise UsageError(f"--late-penalty given twice without a lesson ({text!r}): give one, or LESSON=POLICY "
                             "for each lesson")
        else:
            bare = parse_policy(text)
    return bare, by_lesson


def load_policy(out: Path, given: Policy | None = None, lessons: list[str] | None = None,
                by_lesson: dict[str, Policy] | None = None, said: list[str] | None = None) -> Policies:
    """Each lesson's policy, kept per lesson in ``OUT/late-policy.json``: ``given`` (``--late-penalty POLICY``)
    for ``lessons`` (the lessons this run grades), ``by_lesson`` (``--late-penalty LESSON=POLICY``) for those; every
    other lesson keeps what OUT kept for it. A lesson OUT has no policy of takes nbgrader's configuration
    (``LateSubmissionPlugin``), as before it was kept per lesson: a policy given with one lesson's export never
    penalises another lesson graded earlier. ``said`` gets a line for each lesson whose kept policy changed."""
    path = out / POLICY_FILE
    kept: dict[str, Policy] = {}
    fallback: Policy | None = None              # kept in the file: an OUT from before (one policy for all)
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if "lessons" in data:
                kept = {str(slug): Policy.from_json(rule) for slug, rule in dict(data["lessons"]).items()}
                fallback = Policy.from_json(data["default"]) if data.get("default") else None
            else:                       # an OUT from before: one policy for every lesson, kept as it was
                fallback = Policy.from_json(data)
        except (OSError, ValueError, TypeError, AttributeError) as err:
            raise UsageError(f"{path} could not be read ({err}); delete it or give --late-penalty") from None
    default = fallback
    fallback = fallback or policy_from_nbgrader_config()
    new = dict(kept)
    if given is not None:
        new.update({slug: given for slug in lessons or []})
    new.update(by_lesson or {})
    for slug in sorted(new):
        was = kept.get(slug, fallback)
        if new[slug] != was and said is not None:
            said.append(f"{slug}: late penalty {new[slug].describe()} (was {was.describe()}), for every {slug} "
                        f"submission in OUT, those graded before included; kept in {path.name}")
    if new != kept:
        data = {"lessons": {slug: rule.as_json() for slug, rule in sorted(new.items())}}
        if default is not None:
            data["default"] = default.as_json()
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return Policies(new, fallback)


def read_extensions(out: Path, lesson_slug=None) -> dict[tuple[str, str], timedelta | str]:
    """OUT/extensions.csv: (student, lesson slug) -> the extension. ``lesson_slug``: the lesson's slug from a name
    as ``--extension`` takes it (``3``, ``03`` or ``03_padding_stride``), raising UsageError for no lesson: a row
    typed by hand with ``03`` applied to nobody without a word (an instructor's trial)."""
    path = out / EXTENSIONS_FILE
    if not path.is_file():
        return {}
    found: dict[tuple[str, str], timedelta | str] = {}
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            for n, row in enumerate(csv.DictReader(f), start=2):
                student, lesson = (row.get("student") or "").strip(), (row.get("lesson") or "").strip()
                if student and lesson:
                    try:
                        if lesson_slug is not None:
                            lesson = lesson_slug(lesson)
                        found[(student, lesson)] = parse_duration(row.get("extension") or "")
                    except UsageError as err:
                        raise UsageError(f"{path}, line {n}: {err}") from None
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise UsageError(f"{path} could not be read: {err}") from None
    return found


def add_extensions(out: Path, given: list[list[str]], lesson_slug) -> None:
    """``--extension STUDENT LESSON DURATION`` (repeatable): kept in OUT/extensions.csv (the last one wins)."""
    if not given:
        return
    path = out / EXTENSIONS_FILE
    rows: dict[tuple[str, str], str] = {}
    if path.is_file():
        with path.open(newline="", encoding="utf-8-sig") as f:
            for row in csv.DictReader(f):
                if row.get("student") and row.get("lesson"):
                    rows[(row["student"].strip(), row["lesson"].strip())] = (row.get("extension") or "").strip()
    for student, lesson, duration in given:
        parse_duration(duration)
        rows[(student, lesson_slug(lesson))] = duration.strip()
    with replacing(path) as tmp, tmp.open("w", newline="", encoding=CSV_ENCODING) as f:
        writer = csv.writer(f)
        writer.writerow(["student", "lesson", "extension"])
        for (student, lesson), duration in sorted(rows.items()):
            writer.writerow([student, lesson, duration])


def due_dates(db_url: str, slugs: list[str], given: dict[str, datetime],
              changed: list[str] | None = None) -> dict[str, datetime | None]:
    """Each lesson's due date (naive UTC); a given one is written into the gradebook first. ``changed`` gets a line
    for each given date that replaces another (it changes everyone's lateness in that lesson at once)."""
    from nbgrader.api import Gradebook, MissingEntry

    dates: dict[str, datetime | None] = {}
    with Gradebook(db_url) as gb:
        for slug in slugs:
            try:
                assignment = gb.find_assignment(slug)
            except MissingEntry:
                assignment = gb.update_or_create_assignment(slug)
            if slug in given:
                if changed is not None and assignment.duedate is not None and assignment.duedate != given[slug]:
                    changed.append(f"{slug}'s due date changed from {assignment.duedate:%Y-%m-%d %H:%M} UTC to "
                                   f"{given[slug]:%Y-%m-%d %H:%M} UTC: every {slug} submission's lateness is judged "
                                   "again by it")
                assignment.duedate = given[slug]
            dates[slug] = assignment.duedate
        gb.db.commit()
    missing = [slug for slug, when in dates.items() if when is None]
    course_db = _course_db_url()
    if missing and course_db and _same_db(course_db, db_url) is False and _exists(course_db):
        try:
            with Gradebook(course_db) as gb:
                for slug in missing:
                    try:
                        dates[slug] = gb.find_assignment(slug).duedate
                    except MissingEntry:
                        pass
        except Exception:  # noqa: BLE001 - the course's own gradebook is only a fallback
            pass
    return dates


def _course_db_url() -> str:
    from traitlets.config.loader import PyFileConfigLoader

    from .lessons import ROOT

    try:
        config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
        return str(config.CourseDirectory.get("db_url", ""))
    except Exception:  # noqa: BLE001
        return ""


def _same_db(a: str, b: str) -> bool:
    norm = [Path(x.removeprefix("sqlite:///")).resolve() if x.startswith("sqlite:///") else x for x in (a, b)]
    return norm[0] == norm[1]


def _exists(db_url: str) -> bool:
    return not db_url.startswith("sqlite:///") or Path(db_url.removeprefix("sqlite:///")).is_file()


def lateness(submitted: datetime | None, marker: bool, due: datetime | None,
             extension: timedelta | str | None, policy: Policy) -> tuple[float, str]:
    """(seconds late, how it is known). A waived submission is never late; without a due date only the LMS's
    own marker makes one late."""
    if extension == WAIVE:
        return 0.0, "waived"
    if submitted is not None and due is not None:
        deadline = due + (extension if isinstance(extension, timedelta) else timedelta(0))
        return max(0.0, (submitted - deadline).total_seconds()), "timestamp"
    if marker and not isinstance(extension, timedelta):
        # The LMS says late but not by how much: the least it can be, one penalty period.
        return (policy.period if policy.method == "subtract" else 1.0), "lms-marker"
    return 0.0, ""


def apply(out: Path, db_url: str, results: list[tuple[Path, dict]], dates: dict[str, datetime | None],
          extensions: dict[tuple[str, str], timedelta | str], policies: Policy | Policies,
          times: dict[tuple[str, str], tuple[datetime | None, bool, str]]) -> list[tuple[Path, dict]]:
    """Work out each graded result's lateness and penalty; write the gradebook; return the results changed.

    ``times``: (student, lesson) -> (submission time, LMS late marker, where the time came from) from this run's
    intake; results of students not in this batch keep the times they were graded with.
    """
    from nbgrader.api import Gradebook, MissingEntry

    changed = []
    with Gradebook(db_url) as gb:
        for path, result in results:
            student, slug = result.get("student", path.parent.name), result.get("lesson", path.stem)
            if slug not in dates:
                continue
            old = result.get("late") or {}
            if (student, slug) in times:
                submitted, marker, source = times[(student, slug)]
                submitted = naive_utc(submitted)
            else:
                submitted = parse_when(old["submitted"]) if old.get("submitted") else None
                marker, source = bool(old.get("lms_marker")), str(old.get("source") or "")
            due, extension = dates[slug], extensions.get((student, slug))
            policy = policies.of(slug)
            seconds, how = lateness(submitted, marker, due, extension, policy)
            graded = result.get("status") == "graded"
            raw = float(result.get("score", 0))
            penalty = policy.penalty(student, raw, seconds) if graded else 0.0
            sub = None
            if graded:
                try:
                    sub = gb.find_submission(slug, student)
                except MissingEntry:
                    pass
            # With grades entered by hand the gradebook's score is another than the tests': its penalty is worked
            # out on it (as below, nbgrader's rule), and every page and report says those numbers.
            marked = None
            if sub is not None and abs(float(sub.score or 0) - raw) > 1e-9:
                marked = {"raw": float(sub.score or 0), "penalty": sum(
                    policy.penalty(student, float(notebook.score or 0), seconds) for notebook in sub.notebooks)
                    if seconds > 0 else 0.0}
            late = {"submitted": submitted.isoformat(sep=" ") + " UTC" if submitted else "",
                    "source": source if submitted else "",
                    "due": due.isoformat(sep=" ") + " UTC" if due else "",
                    "extension": (WAIVE if extension == WAIVE else
                                  f"{extension.total_seconds() / 3600:g}h" if isinstance(extension, timedelta) and extension else ""),
                    "seconds_late": seconds, "how": how, "lms_marker": marker, "penalty": penalty,
                    "policy": policy.describe()}
            if marked is not None:
                late["gradebook"] = marked
            flags = set(result.get("flags", []))
            flags.discard("late")
            if seconds > 0:
                flags.add("late")
            if late != old or sorted(flags) != sorted(result.get("flags", [])):
                result["late"] = late
                result["flags"] = sorted(flags)
                changed.append((path, result))
            if sub is None:
                continue
            sub.timestamp = submitted
            if extension == WAIVE:
                sub.extension = (submitted - due) if submitted and due and submitted > due else timedelta(0)
            else:
                sub.extension = extension if isinstance(extension, timedelta) else None
            for notebook in sub.notebooks:
                # nbgrader's own rule, on the gradebook's score (hand-graded answers included)
                notebook.late_submission_penalty = (policy.penalty(student, float(notebook.score or 0), seconds)
                                                    if seconds > 0 else None)
        gb.db.commit()
    return changed



def final_score(result: dict) -> float:
    """The grade: the tests' points less any late penalty; 0 when not graded."""
    if result.get("status") != "graded":
        return 0.0
    return max(0.0, float(result.get("score", 0)) - float((result.get("late") or {}).get("penalty") or 0))


def _span(seconds: float, lang: str = "en") -> str:
    """'1 day 2 h 30 min', '3 h', '12 min', 'under a minute' (in ``lang``: '1일 2시간 30분')."""
    minutes = int(math.ceil(seconds / 60))
    if minutes < 1:
        return translation(N_("under a minute"), lang)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = ([translation(N_("{n} days") if days > 1 else N_("{n} day"), lang).format(n=days)] if days else []) + \
        ([translation(N_("{n} h"), lang).format(n=hours)] if hours else []) + \
        ([translation(N_("{n} min"), lang).format(n=mins)] if mins else [])
    return " ".join(parts)


_POLICY_RATE = re.compile(r"(\d+(?:\.\d+)?(?:e[+-]?\d+)?) point\(s\) per started (hour|day) late")


def policy_text(policy: str, lang: str = "en") -> str:
    """A stored policy's description (:meth:`Policy.describe`) in ``lang``; a description of another form (an
    older grader's) as stored."""
    rate = _POLICY_RATE.fullmatch(policy)
    if rate:
        per = N_("{amount} point(s) per started hour late") if rate.group(2) == "hour" else \
            N_("{amount} point(s) per started day late")
        return translation(per, lang).format(amount=rate.group(1))
    if policy.startswith("nbgrader plugin "):
        return translation(N_("nbgrader plugin {plugin}"), lang).format(plugin=policy.removeprefix("nbgrader plugin "))
    named = {"a late submission scores 0": N_("a late submission scores 0"), "no penalty": N_("no penalty")}
    return translation(named[policy], lang) if policy in named else policy


@dataclass(frozen=True)
class LateFacts:
    """What lateness did to one result, in the words every page and report uses (one wording, not several).

    Times are as stored (UTC, labelled); ``rows`` shows them in ``zone`` (the course's) with UTC beside them.
    ``lms_only``: the LMS marked the file late without a time."""
    submitted: str
    source: str
    due: str
    extension: str
    late_by: str
    hours_late: float
    lms_only: bool
    policy: str
    raw: float
    penalty: float
    final: float
    zone: tzinfo | None = None
    seconds_late: float = 0.0         # what late_by says, for saying it in another language

    def rows(self, lang: str = "en") -> list[tuple[str, str]]:
        """(label, value) lines for the student's feedback page (in the learner's language, ``lang``) and the class
        report (English) (plain text: escape it)."""
        def say(message: str) -> str:
            return translation(message, lang)

        submitted = (shown_time(self.submitted, self.zone) + (
            " " + say(N_("(from {source})")).format(source=self.source) if self.source else "")) \
            if self.submitted else say(N_("no submission time is known: the LMS marked this submission late"))
        due = shown_time(self.due, self.zone) or say(N_("no due date is set"))
        if self.extension == WAIVE:
            due += " " + say(N_("(lateness waived)"))
        elif self.extension:
            hours = re.fullmatch(r"(\d+(?:\.\d+)?)h", self.extension)        # as recorded: "48h"
            extension = say(N_("{n} h")).format(n=hours.group(1)) if hours and lang != "en" else self.extension
            due += say(N_(", with an extension of {extension}")).format(extension=extension)
        late_by = (say(N_("marked late by the LMS (counted as late by one penalty period)")) if self.lms_only
                   else _span(self.seconds_late, lang) if lang != "en" and self.seconds_late else self.late_by)
        return [(say(N_("Submitted")), submitted), (say(N_("Due")), due), (say(N_("Late by")), late_by),
                (say(N_("Late policy")), policy_text(self.policy, lang)),
                (say(N_("Score before the penalty")), f"{self.raw:g}"), (say(N_("Late penalty")), f"-{self.penalty:g}"),
                (say(N_("Score after the penalty")), f"{self.final:g}")]

    def summary(self) -> str:
        """One line for instructor notes: 'late by 1 day 2 h 30 min: 4 -> 2 (1 point(s) per started day late)'."""
        how = "marked late by the LMS" if self.lms_only else f"late by {self.late_by}"
        return f"{how}: {self.raw:g} -> {self.final:g} ({self.policy})"


def describe_late(result: dict) -> LateFacts | None:
    """The facts of a late result (submitted after its deadline, or marked late by the LMS); None when on time,
    waived, or never checked (no due date and no LMS marker)."""
    late = result.get("late") or {}
    seconds = float(late.get("seconds_late") or 0)
    if seconds <= 0:
        return None
    lms_only = late.get("how") == "lms-marker"
    raw, penalty, final = float(result.get("score", 0)), float(late.get("penalty") or 0), final_score(result)
    marked = late.get("gradebook") or {}
    if marked and result.get("status") == "graded":
        # grades entered by hand: the gradebook's score and the penalty on it, as nbgrader export has them
        raw, penalty = float(marked.get("raw") or 0), float(marked.get("penalty") or 0)
        final = max(0.0, raw - penalty)
    return LateFacts(submitted=str(late.get("submitted") or ""), source=str(late.get("source") or ""),
                     due=str(late.get("due") or ""), extension=str(late.get("extension") or ""),
                     late_by=_span(seconds), hours_late=seconds / 3600, lms_only=lms_only,
                     policy=str(late.get("policy") or "no penalty"), raw=raw, penalty=penalty, final=final,
                     zone=course_timezone(), seconds_late=seconds)


__all__ = ["LateFacts", "Policies", "Policy", "apply", "describe_late", "due_dates", "final_score", "lateness", "load_policy",
           "parse_policy"]
