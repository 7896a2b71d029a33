"""Moodle's grading worksheet in and out: who each participant is, and grades in the shape Moodle imports.

An instructor downloads one worksheet per assignment (Assignment > View all submissions > Grading action
"Download grading worksheet"; Moodle names it ``Grades-<course>-<assignment name>-<cmid>.csv``). Given to the
grader (``--moodle-worksheet CSV``, repeatable; or dropped in ``OUT/lms/moodle-worksheets/``), it is kept there as
``<NN_slug>.csv`` and

- tells who each ``Participant <id>`` of that assignment's "Download all submissions" is (``Full name``,
  ``Email address``, ``ID number`` when the site shows them): the student id is the ID number when there is one,
  else the full name (two participants of one name: the name and their e-mail); names and e-mails go to
  nbgrader's gradebook;
- gives the assignment's ``Maximum Grade``: grades are rescaled to it (each student keeps the share);
- is the shape of ``lms/moodle-<NN_slug>.csv``: its participants and identity columns as downloaded.

What Moodle does with an uploaded worksheet (read in its source, ``mod/assign/feedback/offline/``:
``importgradeslib.php`` and ``locallib.php``'s ``process_import_grades``; the columns in
``mod/assign/gradingtable.php``):

- the columns are found by their names in the language of the Moodle page (``Identifier``, ``Grade`` and
  ``Last modified (grade)`` in English); without any of the three the upload is refused. Any other column is
  ignored, except the feedback plugins' text columns (``Feedback comments``), which replace the feedback;
- ``Identifier`` is ``Participant <n>``: Moodle strips its word for "Participant" and looks ``n`` up in the
  assignment's ``assign_user_mapping``: one id per (assignment, user), so the same person has another id in every
  assignment. An id Moodle cannot find, or of someone no longer a participant, is skipped without a word;
- a row is skipped without a word when its grade equals the current one, is empty or negative, is above the
  assignment's maximum grade ("out of range"), is locked (``Grade can be changed`` = No), or when Moodle's grade
  was modified more than 60 s after the row's ``Last modified (grade)`` (unless the upload's "Allow updating
  records that have been modified more recently in Moodle than in the spreadsheet" is ticked). Only the count of
  updated grades is shown.

Moodle names the columns in the language of the page it was downloaded from, and its importer looks for them by
their names in the language of the page it is uploaded from (``get_string`` of the uploading user). So a worksheet
is read by a table of the names Moodle gives each column (``COLUMNS``, one role each) and written back with the
header it came with: upload it with Moodle in the language you downloaded it in (``lms/moodle-notes.txt`` says
which). The names are Moodle's own strings, copied from its language packs (Moodle 4.5, as exported by AMOS and
mirrored in github.com/projectestac/moodle-langpacks, commit 9f605206, "Updated langpacks on 2026.06.18"):
``<lang>/assign.php`` (``recordid``, ``status``, ``maxgrade``, ``scale``, ``markingworkflowstate``,
``gradecanbechanged``, ``lastmodifiedsubmission``, ``lastmodifiedgrade``, ``hiddenuser``), ``<lang>/moodle.php``
(``fullname``, ``email``, ``idnumber``, ``gradenoun``, ``no``) and ``<lang>/assignfeedback_comments.php``
(``pluginname``); which string names which column is ``mod/assign/gradingtable.php`` in download mode (Moodle
4.1: ``get_string('fullname')``, ``core_user\fields::get_display_name`` of the identity fields,
``get_string('gradenoun')``; older: ``get_string('grade')``; the identifier is ``hiddenuser`` + id, 참가자700201).
A string a pack leaves untranslated is shown in English (Korean 4.5 has no ``gradecanbechanged``: "Grade can be
changed"), so the English names are accepted in every language. The Korean strings used here are the same in
every Korean pack of that mirror's history (2015-04 to 2025-10; ``grade`` and ``gradenoun`` both 성적); for the
other languages only the 4.5 wording is known. A worksheet whose names are in none of these languages is refused,
saying so.

So the grader writes its grade and the time it graded into ``Last modified (grade)`` (a grade changed in Moodle
after that is kept), leaves the rows it has no result for as downloaded (Moodle leaves them as they are), drops
the feedback columns (an old copy of the comments would overwrite newer ones), and writes down in
``lms/moodle-notes.txt`` what Moodle would skip.
"""
from __future__ import annotations

import csv
import io
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .lessons import UsageError, title_names_lesson

FOLDER = "moodle-worksheets"                      # OUT/lms/moodle-worksheets/<NN_slug>.csv
LANGUAGES = {"en": "English", "ko": "Korean", "ja": "Japanese", "zh_cn": "Chinese (simplified)", "de": "German",
             "fr": "French", "es": "Spanish"}
# Column role -> the column's name in each language (see the notes above for the source). English: Moodle's own
# strings; "Maximum Grade" (Moodle 3.x) and "Maximum grade" (later) are one name to a case-blind match.
COLUMNS: dict[str, dict[str, str]] = {
    "identifier": {"en": "Identifier", "ko": "식별자", "ja": "ID", "zh_cn": "标识符", "de": "ID",
                   "fr": "Identifiant", "es": "Identificador"},
    "name": {"en": "Full name", "ko": "전체 이름", "ja": "フルネーム", "zh_cn": "全名", "de": "Vollständiger Name",
             "fr": "Nom complet", "es": "Nombre completo"},
    "email": {"en": "Email address", "ko": "이메일 주소", "ja": "メールアドレス", "zh_cn": "电子邮件地址",
              "de": "E-Mail-Adresse", "fr": "Adresse de courriel", "es": "Dirección de correo"},
    "idnumber": {"en": "ID number", "ko": "id 번호", "ja": "IDナンバ", "zh_cn": "学号", "de": "ID-Nummer",
                 "fr": "Numéro d’identification", "es": "Número de ID"},
    "status": {"en": "Status", "ko": "상태", "ja": "ステータス", "zh_cn": "状态", "de": "Status", "fr": "Statut",
               "es": "Estado"},
    "grade": {"en": "Grade", "ko": "성적", "ja": "評点", "zh_cn": "成绩", "de": "Bewertung", "fr": "Note",
              "es": "Calificación"},
    "maximum": {"en": "Maximum grade", "ko": "최대 성적", "ja": "最大評点", "zh_cn": "最高分", "de": "Bestwertung",
                "fr": "Note maximale", "es": "Calificación máxima"},
    "scale": {"en": "Scale", "ko": "척도", "ja": "評価尺度", "zh_cn": "量表", "de": "Skala", "fr": "Barème",
              "es": "Escala"},
    "workflow": {"en": "Marking workflow state", "ko": "표시 진행 상태", "ja": "採点ワークフローステータス",
                 "zh_cn": "批改工作流程状态", "de": "Status des Bewertungsworkflows", "fr": "Statut du flux d’évaluation",
                 "es": "Estado del workflow (flujo de trabajo) de calificaciones"},
    "changeable": {"en": "Grade can be changed", "ja": "評点変更可", "zh_cn": "允许更改成绩",
                   "de": "Bewertung kann geändert werden", "fr": "La note peut être modifiée",
                   "es": "La calificación puede ser cambiada"},
    "submitted": {"en": "Last modified (submission)", "ko": "마지막 수정됨(제출)", "ja": "最終更新日時 (提出)",
                  "zh_cn": "上次修改（作业）", "de": "Zuletzt geändert (Abgabe)",
                  "fr": "Dernière modification (travail remis)", "es": "Última modificación (entrega)"},
    "modified": {"en": "Last modified (grade)", "ko": "마지막 수정됨(성적)", "ja": "最終更新日時 (評定)",
                 "zh_cn": "上次修改（评分）", "de": "Zuletzt geändert (Bewertung)", "fr": "Dernière modification (note)",
                 "es": "Última modificación (calificación)"},
    "feedback": {"en": "Feedback comments", "ko": "피드백 코멘트", "ja": "フィードバックコメント", "zh_cn": "反馈意见",
                 "de": "Feedback als Kommentar", "fr": "Feedback par commentaires",
                 "es": "Comentarios de retroalimentación"},
}
# "Grade can be changed" holds get_string('no') for a locked grade.
NO = {"en": "No", "ko": "아니오", "ja": "No", "zh_cn": "否", "de": "Nein", "fr": "Non", "es": "No"}
REQUIRED = ("identifier", "grade", "modified")     # importgradeslib.php refuses a worksheet without any of these
IDENTITY = ("name", "email", "idnumber")


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


ROLE_OF: dict[str, str] = {_key(name): role for role, names in COLUMNS.items() for name in names.values()}
NOS = {_key(word) for word in NO.values()}


def roles_of(header: list[str]) -> dict[str, list[int]]:
    """Column role -> the indexes of the header's columns that Moodle names so, in any known language."""
    found: dict[str, list[int]] = {}
    for i, name in enumerate(header):
        role = ROLE_OF.get(_key(name))
        if role:
            found.setdefault(role, []).append(i)
    return found


def language_of(header: list[str]) -> str:
    """The language whose names the worksheet's required columns have ('' when they mix languages)."""
    keys = {_key(name) for name in header}
    for code in LANGUAGES:
        if all(_key(COLUMNS[role][code]) in keys for role in REQUIRED if code in COLUMNS[role]):
            return code
    return ""


@dataclass
class Worksheet:
    path: Path
    header: list[str]
    rows: list[list[str]]
    lesson: str = ""
    people: dict[str, dict[str, str]] = field(default_factory=dict)   # participant id -> name, email, idnumber
    submitted: dict[str, str] = field(default_factory=dict)           # participant id -> Last modified (submission)
    roles: dict[str, int] = field(default_factory=dict)               # column role -> its index in header
    language: str = ""                                                # its names' language (LANGUAGES), '' mixed

    def column(self, role: str) -> int | None:
        """A column by its role (a key of ``COLUMNS``), whatever its name's language."""
        return self.roles.get(role)

    def required(self, role: str) -> int:
        at = self.column(role)
        if at is None:
            raise UsageError(f"the Moodle worksheet {self.path} has no column {COLUMNS[role]['en']!r}.")
        return at

    @property
    def maximum(self) -> str:
        at = self.column("maximum")
        return next((row[at].strip() for row in self.rows if at is not None and at < len(row) and row[at].strip()),
                    "")


def participant_id(identifier: str) -> str:
    """``Participant 123456`` -> ``123456`` (the word is in the language of the Moodle page: ``참가자123456``)."""
    found = re.search(r"(\d+)\s*$", identifier)
    return found.group(1) if found else ""


def looks_like_worksheet(header: list[str]) -> bool:
    found = roles_of([h.strip() for h in header])
    return all(role in found for role in REQUIRED)


def read_worksheet(path: Path) -> Worksheet:
    try:
        text = path.read_text(encoding="utf-8-sig")
        table = list(csv.reader(io.StringIO(text)))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise UsageError(f"the Moodle worksheet {path} could not be read: {err}") from None
    header = [h.strip() for h in table[0]] if table else []
    if not looks_like_worksheet(header):
        known = "; ".join(f"{LANGUAGES[code]}: " + ", ".join(COLUMNS[role][code] for role in REQUIRED
                                                             if code in COLUMNS[role]) for code in LANGUAGES)
        raise UsageError(
            f"{path} is not Moodle's grading worksheet (Assignment > View all submissions > Grading action: Download "
            f"grading worksheet): it needs Moodle's columns Identifier, Grade and Last modified (grade), named in "
            f"the language of the Moodle page it came from ({known}). Moodle in another language: download it "
            f"with Moodle's language set to one of these.")
    found = roles_of(header)
    twice = [COLUMNS[role]["en"] for role, at in found.items() if len(at) > 1]
    if twice:
        raise UsageError(f"the Moodle worksheet {path} has two columns for {', '.join(twice)}: which one Moodle "
                         "would read is not known; download it again.")
    rows = [row + [""] * (len(header) - len(row)) for row in table[1:] if any(cell.strip() for cell in row)]
    sheet = Worksheet(path, header, rows, roles={role: at[0] for role, at in found.items()},
                      language=language_of(header))
    at = sheet.column("identifier")
    names: dict[str, int] = {}
    for row in rows:
        pid = participant_id(row[at]) if at is not None else ""
        if not pid:
            continue
        person = {key: row[i].strip() for key in IDENTITY if (i := sheet.column(key)) is not None and row[i].strip()}
        if (i := sheet.column("submitted")) is not None and row[i].strip() not in ("", "-"):
            sheet.submitted[pid] = row[i].strip()     # Moodle's userdate() of timesubmitted: read with --moodle-times
        sheet.people[pid] = person
        if person.get("name"):
            names[person["name"]] = names.get(person["name"], 0) + 1
    for person in sheet.people.values():
        if names.get(person.get("name", ""), 0) > 1:
            person["same_name"] = "yes"
    return sheet


ENGLISH_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
                  "november", "december")
# The forms of userdate(timesubmitted) read here, each with what its groups are: d day, M month (number or English
# name), y year, h hour, m minute, p AM/PM (오전/오후); no p: a 24-hour clock.
SUBMISSION_TIMES = [
    (re.compile(r"(\d{1,2}) ([A-Za-z]+),? (\d{4}),? (\d{1,2}):(\d{2}) ?([AaPp][Mm])"), "dMyhmp"),     # English
    (re.compile(r"(\d{1,2}) (\d{1,2})월,? (\d{4}),? (\d{1,2}):(\d{2}) ?(오전|오후)"), "dMyhmp"),    # Korean, 4.5
    (re.compile(r"(\d{4})년 ?(\d{1,2})월 ?(\d{1,2})일.*?(오전|오후) ?(\d{1,2}):(\d{2})"), "yMdphm"),  # older Korean
    (re.compile(r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::\d{2})?$"), "yMdhm"),           # ISO
]


def submission_time(text: str, zone: str):
    """A worksheet's "Last modified (submission)" as an aware UTC datetime, read in ``zone`` (Moodle writes it in
    the downloading user's own time zone, without naming it), or None when it is in no form known here.

    Moodle writes ``userdate(timesubmitted)``: its language pack's ``strftimedaydatetime``, "Thursday, 3 December
    2026, 9:15 AM" in English; in Korean "목요일, 03 12월 2026, 09:15 오후" (Moodle 4.5's pack, as the worksheets of
    tests/test_moodle.py) or "2026년 12월 3일, 목요일, 오후 9:15" (older packs' ``ko/langconfig.php``); an ISO
    "2026-12-03 09:15" is read too."""
    from datetime import datetime, timezone

    from .collect import parse_zone

    text = " ".join(text.split())
    for pattern, order in SUBMISSION_TIMES:
        found = pattern.search(text)
        if found is None:
            continue
        part = dict(zip(order, found.groups()))
        month = part["M"].lower()
        if not month.isdigit() and month not in ENGLISH_MONTHS:
            continue
        hour = int(part["h"]) % 12 + 12 * (part["p"].lower() in ("pm", "오후")) if "p" in part else int(part["h"])
        try:
            local = datetime(int(part["y"]), int(month) if month.isdigit() else ENGLISH_MONTHS.index(month) + 1,
                             int(part["d"]), hour, int(part["m"]), tzinfo=parse_zone(zone))
        except ValueError:
            return None
        return local.astimezone(timezone.utc)
    return None


def lesson_of_file(name: str, slugs: list[str]) -> list[str]:
    """The lessons a worksheet's file name names: Moodle's ``Grades-<course>-<assignment>-[<group>-]<cmid>.csv``
    (a browser's `` (1)`` after it), or a name of the instructor's own (``01_history.csv``)."""
    stem = re.sub(r"(\s*\(\d+\))+$", "", Path(name).stem)
    stem = re.sub(r"-\d+$", "", stem)                     # the course module id
    if stem in slugs:
        return [stem]
    scores = {slug: title_names_lesson(slug, stem) for slug in slugs}
    exact = [slug for slug in slugs if scores[slug] == 2]
    return exact if exact else [slug for slug in slugs if scores[slug] == 1]


def keep_worksheets(out: Path, given: list[Path], slugs: list[str]) -> dict[str, Worksheet]:
    """The worksheets for this OUT: ``given`` ones (read first, refused before anything is kept when unreadable
    or naming no lesson or two) replace the kept one of their lesson; files dropped in the folder under another
    name are identified and renamed ``<NN_slug>.csv``. lesson slug -> Worksheet."""
    folder = out / "lms" / FOLDER

    def identify(path: Path) -> str:
        found = lesson_of_file(path.name, slugs)
        if len(found) != 1:
            raise UsageError(
                f"the Moodle worksheet {path.name} names " + (f"{len(found)} lessons ({', '.join(found)})" if found
                                                             else "no lesson of this course") +
                f" in its file name (Moodle's 'Grades-<course>-<assignment name>-<id>.csv'): rename it to the "
                f"lesson it is for, e.g. 01_history.csv (lessons: {', '.join(slugs)}).")
        return found[0]

    incoming: dict[str, Path] = {}
    for path in given:
        read_worksheet(path)
        slug = identify(path)
        if slug in incoming:
            raise UsageError(f"two Moodle worksheets for {slug}: {incoming[slug].name} and {path.name}.")
        incoming[slug] = path
    if folder.is_dir():
        for path in sorted(folder.glob("*.csv")):
            if path.stem in slugs:
                continue
            read_worksheet(path)
            slug = identify(path)
            if (folder / f"{slug}.csv").exists() and slug not in incoming:
                raise UsageError(f"two Moodle worksheets for {slug} in {folder}: {slug}.csv and {path.name}.")
            if slug not in incoming:
                path.rename(folder / f"{slug}.csv")
            else:
                path.unlink()
    if incoming:
        folder.mkdir(parents=True, exist_ok=True)
        for slug, path in incoming.items():
            target = folder / f"{slug}.csv"
            if path.resolve() != target.resolve():
                shutil.copyfile(path, target)
    return worksheets(out / "lms")


def worksheets(lms: Path) -> dict[str, Worksheet]:
    """The worksheets kept in ``lms/moodle-worksheets/`` (one per lesson, ``<NN_slug>.csv``)."""
    kept = {}
    folder = lms / FOLDER
    for path in sorted(folder.glob("*.csv")) if folder.is_dir() else []:
        if re.fullmatch(r"\d\d_\w+", path.stem):
            sheet = read_worksheet(path)
            sheet.lesson = path.stem
            kept[path.stem] = sheet
    return kept


def participants(sheets: dict[str, Worksheet]) -> dict[str, dict[str, str]]:
    """Participant id -> who (``name``, ``email``, ``idnumber`` as the worksheet has them), its ``lesson`` and, when
    the worksheet has one, the text of its ``submitted`` time. Ids are unique across a site's assignments (one
    ``assign_user_mapping`` row each), so one map serves all."""
    people = {}
    for slug, sheet in sheets.items():
        for pid, person in sheet.people.items():
            people[pid] = {**person, "lesson": slug}
            if pid in sheet.submitted:
                people[pid]["submitted"] = sheet.submitted[pid]
    return people


def _number(text: str) -> float | None:
    try:
        return float(text.strip().replace(",", "."))
    except ValueError:
        return None


def write_from_worksheet(sheet: Worksheet, results: list[dict], lesson_max: float,
                         grade_of, now: str) -> tuple[list[str], list[list[str]], list[str]]:
    """lms/moodle-<lesson>.csv in the shape of the instructor's worksheet: (header, rows, notes).

    ``results``: this lesson's results that came from Moodle (``lms.id`` a participant id of this assignment);
    ``grade_of(result)``: the grade in the lesson's points, '' to leave Moodle's as it is."""
    lesson = sheet.lesson
    notes: list[str] = []
    at_id, at_grade, modified_at = (sheet.required(role) for role in REQUIRED)
    at_changeable = sheet.column("changeable")
    # Feedback columns (they follow "Last modified (grade)") would overwrite the comments with the downloaded copy:
    # dropped, with anything after them.
    keep = [i for i in range(len(sheet.header)) if i != sheet.column("feedback") and i <= modified_at]
    maximum = sheet.maximum
    worth = _number(maximum) if maximum else None
    comma = "," in maximum and "." not in maximum
    scale = sheet.column("maximum") is None and sheet.column("scale") is not None
    factor = 1.0
    if scale:
        notes.append(f"{lesson}: the Moodle assignment is graded with a scale, not points: its grades are left as "
                     "downloaded (enter them in Moodle).")
    elif worth is None or worth <= 0:
        notes.append(f"{lesson}: the worksheet has no Maximum Grade; grades are the lesson's points (of "
                     f"{lesson_max:g}).")
    elif lesson_max > 0 and worth != lesson_max:
        factor = worth / lesson_max
        notes.append(f"{lesson}: the Moodle assignment's Maximum Grade is {maximum}, the lesson's {lesson_max:g} "
                     f"points; grades are rescaled to Moodle's (x {worth:g}/{lesson_max:g}, two decimals), so each "
                     "student keeps the same share.")
    if sheet.language != "en":
        notes.append(f"{lesson}: the worksheet's columns are named in "
                     + (f"{LANGUAGES[sheet.language]}, so lms/moodle-{lesson}.csv keeps those names: upload it with "
                        f"Moodle's language set to {LANGUAGES[sheet.language]}" if sheet.language else
                        f"more than one language, kept as they are: upload lms/moodle-{lesson}.csv with Moodle's "
                        "language set to the one it was downloaded in")
                     + " (Moodle finds the columns by their names in the language of the page, and refuses the "
                       "file otherwise).")
    by_id: dict[str, dict] = {}
    for r in results:
        by_id.setdefault(str(r["lms"]["id"]), r)
    rows: list[list[str]] = []
    unmatched: list[str] = []
    over: list[str] = []
    locked: list[str] = []
    placed: set[str] = set()
    for downloaded in sheet.rows:
        row = list(downloaded)
        pid = participant_id(row[at_id])
        result = by_id.get(pid)
        if result is None:
            if pid:
                unmatched.append(row[at_id])
        elif not scale:
            placed.add(pid)
            text = grade_of(result)
            value = _number(text) if text else None
            if value is not None:
                value = round(value * factor, 2) if factor != 1.0 else value
                text = f"{value:g}".replace(".", ",") if comma else f"{value:g}"
                row[at_grade] = text
                row[modified_at] = result.get("graded_at") or now
                if worth is not None and value > worth + 1e-9:
                    over.append(f"{row[at_id]} ({text})")
                if at_changeable is not None and _key(row[at_changeable]) in NOS:
                    locked.append(row[at_id])
        rows.append([row[i] for i in keep])
    if unmatched:
        notes.append(f"{lesson}: no result for {len(unmatched)} participant(s) of the worksheet (not in the graded "
                     "export: did not submit, another group, or a notebook not graded in this run, as intake.csv "
                     f"says): left as downloaded, Moodle keeps their grades: {', '.join(unmatched)}.")
    extra = sorted((r["student"] for pid, r in by_id.items() if pid not in placed), key=str)
    if extra:
        notes.append(f"{lesson}: graded, but not in the worksheet (by participant id): {', '.join(extra)}; not in "
                     f"lms/moodle-{lesson}.csv. Download the worksheet again (all participants, no group filter).")
    if over:
        notes.append(f"{lesson}: above the Maximum Grade, which Moodle skips without a word: {', '.join(over)}.")
    if locked:
        notes.append(f"{lesson}: locked in Moodle (Grade can be changed: No), so Moodle skips them: "
                     f"{', '.join(locked)}.")
    return [sheet.header[i] for i in keep], rows, notes
