"""What the class did, for the instructor: a page per lesson with plots, and grades in the shape LMSs import.

Everything is rebuilt from ``OUT/results/`` (one JSON per graded submission), so a partial run (one student
re-graded) updates the class's reports instead of replacing them.

- ``OUT/report/index.html`` and ``OUT/report/<NN_slug>.html``: score histogram, pass rate of every test, the most
  common reasons for failing (typical slips first: what to re-teach next session; unanswered exercises on one
  line after them), the submissions to look at.
- ``OUT/grades-by-student.csv``: one row per student, one column per lesson and a total (Canvas's and Moodle's
  gradebook imports take this shape; map the column names to the LMS's assignment names when importing).
"""
from __future__ import annotations

import base64
import csv
import html
import io
import json
import re
import shutil
import statistics
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

from cnnbook.checks import slip_name
from cnnbook.errors import explained_in

from .late import describe_late, final_score
from .lessons import title_names_lesson
from .text import CSV_ENCODING, replacing, utc_now


# How a cell may start and be left as it is (after spaces): a letter or digit of any script, or one of these. Anything
# else (= + - @, their full-width forms, a tab, a line break, a NUL, a sign no list of ours foresaw) is made text with
# a leading apostrophe: an allow-list, not a list of formula signs.
CSV_SAFE_START = set("_([./'\"#")


def csv_safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (a student named '=HYPERLINK(...)' stays text)."""
    first = text.lstrip(" ")[:1]             # spaces alone start nothing (Canvas's '    Points Possible' row)
    if text in ("", "-") or first.isalnum() or first in CSV_SAFE_START:              # "-" alone is no formula
        return text
    return "'" + text


def load_results(out: Path) -> list[dict]:
    results = []
    for path in sorted((out / "results").glob("*/*.json")):
        try:
            results.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError):
            continue
    return results


def failure_reason(message: str, uses_failed: bool = False, unanswered: bool = False) -> str:
    """A failure message reduced to what many learners share: the typical slip it names, or its first lines
    with the numbers taken out (so that 'expected 4, got 5' and 'expected 6, got 8' count as one reason).
    ``uses_failed``: the runner found that the answer uses an earlier exercise that failed its own test.
    ``unanswered``: the runner found that an answer cell before the test still raised the stub's NotImplementedError
    (lesson 01's who_did_it binds its dict of None before it, so its test fails on the None values, in the language
    the learner reads: a class of two editions counted one unanswered exercise as two reasons)."""
    if unanswered and not uses_failed:
        return "not answered (the answer cell still raises NotImplementedError)"
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    # A check names a slip on the line after its first ("what:" or "<exercise>: a hidden check failed."), and
    # only there: text the learner's code produced stays on one line (judge.one_line), so it never reaches it.
    name = slip_name(lines[1]) if len(lines) > 1 else None       # in the language the learner read it in
    if name is not None:
        return "typical slip: " + _slip_in_english(name)
    if "NotImplementedError" in message:
        if uses_failed:          # answered, but it calls an earlier exercise whose stub still raises (nms -> box_iou)
            return "uses an earlier exercise that is not answered yet (its NotImplementedError)"
        return "not answered (the answer cell still raises NotImplementedError)"
    usually = explained_in(message)           # an error learners typically meet: what it usually means
    if usually is not None:
        return "usually: " + usually.split(": ")[0].split(". ")[0].rstrip(".")
    # the package's words in English (a Korean learner's "값 4개 중 3개가 다릅니다" is "3 of 4 values differ")
    shown = [_in_english(line) for line in lines[:2]]
    text = " ".join(shown) if shown and shown[0].endswith(":") else (shown[0] if shown else "")
    raised = _RAISED.fullmatch(text)
    if raised:
        # what the learner's own code raised: its message and line differ from one learner to the next, and come in
        # the words of their edition ("...에서 ValueError 오류가 발생했습니다: ..."): the call and the kind count
        text = f"{raised['call']} raised {raised['kind']}"
    # numbers, sizes (1x1x4x4), not the digits of a name (pool2d_forward, conv3) or of a dimension ("a 3-D array")
    text = re.sub(r"(?<![\w.])\d+(?:x\d+)+\b", lambda size: re.sub(r"\d+", "#", size.group()), text)
    text = re.sub(r"(?<![\w.])-?\d+(\.\d+)?(e-?\d+)?(?!-?D\b|\d)", "#", text)
    if len(text) > 200:
        text = text[:200].rsplit(" ", 1)[0] + " …"
    return text or "(no message)"


# "{call} raised {kind}: {message}" (autograde.judge._said_at), as the report reads it in English
_RAISED = re.compile(r"(?P<call>\S.*?) raised (?P<kind>[A-Za-z_][\w.]*): .*", re.S)
_TEMPLATES: list[tuple[re.Pattern[str], list[str], str]] = []


def _in_english(line: str) -> str:
    """A line the grader wrote in a learner's language, in English when it is one of the package's messages with
    fields (its translation read backwards: the fields' values kept as they are); else as it was."""
    if line.isascii():
        return line
    core = line[:-1] if line.endswith(":") else line          # a check's name in words, before its colon
    english = _english_of().get(core) or _package_english().get(core)
    if english:
        return english + line[len(core):]
    if not _TEMPLATES:
        from cnnbook.i18n import LANGUAGES, _fstring_pattern, _package_catalog, fstring_fields, lesson_fstrings

        for lang in LANGUAGES:
            if lang != "en":
                # the package's sentences, then the lessons' own (a Korean learner's "받은 값은 nan입니다. exp(1000)은
                # ..." stood in the English report, a reason apart from the same slip in English)
                for catalog in (_package_catalog(lang), lesson_fstrings(lang)):
                    _TEMPLATES.extend((*_fstring_pattern(text), english) for english, text in catalog.items()
                                      if fstring_fields(text) and fstring_fields(english))
    for pattern, fields, english in _TEMPLATES:
        found = pattern.fullmatch(line)
        if found:
            from cnnbook.i18n import _fill

            return _fill(english, {field: found.group(f"f{i}") for i, field in enumerate(fields)})
    return line


def _slip_in_english(name: str) -> str:
    """A typical slip's name as its lesson's author wrote it (English), from the words a Korean learner read: one slip
    of a mixed class counts once, in the class report's language (it counted twice, once in Korean). A name no
    lesson catalog holds is kept as it was."""
    core = name.rstrip(". ")
    english = _english_of().get(core)
    return english + name[len(core):] if english else name


_ENGLISH_OF: dict[str, str] = {}
_PACKAGE_ENGLISH: dict[str, str] = {}


def _backwards(cache: dict[str, str], catalog: str) -> dict[str, str]:
    """A catalog of cnnbook.i18n (``_package_catalog`` or ``_lesson_catalog``) read backwards (translation ->
    English), for every language of the course, filled into ``cache`` once."""
    if not cache:
        from cnnbook import i18n

        for lang in i18n.LANGUAGES:
            if lang != "en":
                for english, text in getattr(i18n, catalog)(lang).items():
                    cache.setdefault(text, english)
    return cache


def _package_english() -> dict[str, str]:
    return _backwards(_PACKAGE_ENGLISH, "_package_catalog")


def _english_of() -> dict[str, str]:
    return _backwards(_ENGLISH_OF, "_lesson_catalog")


def late_note(result: dict) -> str:
    """'01_history: late by 1 day 2 h 30 min: 4 -> 2 (1 point(s) per started day late)' for a penalised
    result, else '' (the wording is autograde.late's, shared with the student's page and the class report)."""
    facts = describe_late(result)
    if facts is None or not facts.penalty:
        return ""
    return f"{result['lesson']}: {facts.summary()}"


def person_name(first: str, last: str) -> str:
    """A name as people write it: "Minsu Kim", and a Korean one family name first, unspaced: "김민수"."""
    first, last = (first or "").strip(), (last or "").strip()
    if first and last and all("\uac00" <= ch <= "\ud7a3" for ch in first + last):
        return last + first
    return " ".join(filter(None, [first, last]))


def write_wide_csv(results: list[dict], path: Path, gradebook: dict[tuple[str, str], float] | None = None,
                   names: dict[str, str] | None = None) -> Path:
    """One row per student, with the name the gradebook has (``names``: from a roster, the LMS or formgrader): each
    lesson's grade after late penalties (the gradebook's, so grades entered in formgrader count), the total, and
    what lateness cost. A lesson with no result of the student's (no batch of
    that lesson held anything of theirs) is blank, as in lms/canvas.csv, where a blank leaves the LMS's grade as it
    is; a lesson a batch found nothing of theirs for is graded ``missing``: 0 in every file. A submission the grader
    could not grade (``grader-error``, waiting for the next run) is blank too, as in the LMS files: the grading
    machine's fault is never a 0 of the student's, nor counted in their total."""
    lessons = sorted({r["lesson"] for r in results})
    table: dict[str, dict[str, float]] = defaultdict(dict)
    notes: dict[str, list[str]] = defaultdict(list)
    for r in results:
        row = table[r["student"]]      # a student whose every lesson waits for a re-run still has a row
        if r.get("status") == "graded":
            row[r["lesson"]] = (gradebook or {}).get((r["student"], r["lesson"]), final_score(r))
        elif r.get("status") in ("missing", "invalid-notebook"):
            row[r["lesson"]] = 0.0
        if late_note(r):
            notes[r["student"]].append(late_note(r))
    with replacing(path) as tmp, tmp.open("w", newline="", encoding=CSV_ENCODING) as f:
        writer = csv.writer(f)
        writer.writerow(["student", "name", *lessons, "total", "late penalties (raw -> graded)"])
        for student in sorted(table):
            scores = [table[student].get(lesson) for lesson in lessons]
            writer.writerow([csv_safe(student), csv_safe((names or {}).get(student, "")),
                             *("" if s is None else f"{s:g}" for s in scores),
                             # nothing graded yet (every lesson waits for a re-run): no total, never a 0
                             "" if all(s is None for s in scores) else f"{sum(s for s in scores if s is not None):g}",
                             csv_safe("; ".join(notes[student]))])
    return path


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _plots(lesson: str, results: list[dict], tests: list[str], pass_rate: dict[str, float]) -> tuple[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    graded = [r for r in results if r.get("status") == "graded"]
    maximum = max((sum(t["max_points"] for t in r["tests"]) for r in graded), default=0) or 1
    fig, ax = plt.subplots(figsize=(6, 3))
    scores = [float(r.get("score", 0)) for r in graded]
    bins = [x - 0.5 for x in range(int(maximum) + 2)] if maximum <= 30 else 15
    ax.hist(scores, bins=bins, color="#3b6ea5", edgecolor="white")
    ax.set_title(f"{lesson}: automatic scores of {len(graded)} graded submissions")
    ax.set_xlabel(f"points (of {maximum:g})")
    ax.set_ylabel("submissions")
    ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))     # counts: no 0.5 submission
    histogram = _png(fig)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 0.45 * len(tests) + 1.0))
    rates = [100 * pass_rate[t] for t in tests]
    ax.barh(tests[::-1], rates[::-1], color=["#1a7f37" if r >= 80 else "#d4a72c" if r >= 50 else "#b42318"
                                            for r in rates[::-1]])
    ax.set_xlim(0, 100)
    ax.set_xlabel("submissions that pass (%)")
    ax.set_title("pass rate of each test")
    bars = _png(fig)
    plt.close(fig)
    return histogram, bars


def lesson_page(lesson: str, results: list[dict], names: dict[str, str] | None = None) -> str:
    e = html.escape

    def who(student: str) -> str:                     # "kim01 (Minsu Kim)" where the gradebook has a name
        name = (names or {}).get(student, "")
        return e(student) + (f" ({e(name)})" if name and name != student else "")
    tests = sorted({t["grade_id"] for r in results for t in r.get("tests", [])},
                   key=lambda gid: min((i for r in results for i, t in enumerate(r.get("tests", []))
                                        if t["grade_id"] == gid), default=0))
    graded = [r for r in results if r.get("status") == "graded"]
    passes = Counter(t["grade_id"] for r in graded for t in r["tests"] if t["status"] == "pass")
    pass_rate = {gid: passes[gid] / len(graded) if graded else 0.0 for gid in tests}
    reasons: dict[str, Counter] = defaultdict(Counter)
    for r in graded:
        for t in r["tests"]:
            if t["status"] != "pass":
                reasons[t["grade_id"]][failure_reason(t.get("message", ""), bool(t.get("uses_failed")),
                                                      bool(t.get("unanswered")))] += 1
    overall: Counter[tuple[str, str]] = Counter()
    for gid, counter in reasons.items():
        for reason, n in counter.items():
            overall[(gid, reason)] += n
    histogram, bars = _plots(lesson, results, tests, pass_rate) if tests else ("", "")
    median = statistics.median(float(r.get("score", 0)) for r in graded) if graded else 0
    # who is in the class's numbers: a student with no notebook (missing) handed in nothing, so "submissions" was untrue
    statuses = Counter(str(r.get("status", "")) for r in results)
    counted = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items(), key=lambda kv: (kv[0] != "graded",
                                                                                                  -kv[1], kv[0])))
    rows = "".join(
        f"<tr><td><code>{e(gid)}</code></td><td>{100 * pass_rate[gid]:.0f}%</td><td><ul>"
        + "".join(f"<li>{n} × {e(reason)}</li>" for reason, n in reasons[gid].most_common(3)) + "</ul></td></tr>"
        for gid in tests)
    # What to re-teach: the typical slips first, then other failures, most common first; unanswered exercises are
    # unfinished work, not a misunderstanding: one line naming them after the rest.
    unanswered = {gid: n for (gid, reason), n in overall.items() if reason.startswith("not answered")}
    ranked = sorted(((key, n) for key, n in overall.items() if key[0] not in unanswered or
                     not key[1].startswith("not answered")),
                    key=lambda item: (not item[0][1].startswith("typical slip"), -item[1], item[0]))
    teach = "".join(f"<li><b>{n}</b> submission{'s' if n > 1 else ''}, <code>{e(gid)}</code>: {e(reason)}</li>"
                    for (gid, reason), n in ranked[:6])
    if unanswered:
        teach += ("<li>Not answered (the answer cell still raises NotImplementedError): " + ", ".join(
            f"<code>{e(gid)}</code> ({n})" for gid, n in sorted(unanswered.items(), key=lambda kv: (-kv[1], kv[0])))
            + "</li>")
    flagged = [r for r in results if r.get("flags") or r.get("status") != "graded"]
    # The same facts, in the same words, as on each student's feedback page (autograde.late.LateFacts.rows).
    late = [(r, facts) for r in results if (facts := describe_late(r)) is not None]
    late_head = [label for label, _ in late[0][1].rows()] if late else []
    late_rows = "".join(f"<tr><td>{who(r['student'])}</td>" + "".join(f"<td>{e(value)}</td>" for _, value in facts.rows())
                        + "</tr>" for r, facts in late)
    late_policy = e(next(((r.get("late") or {}).get("policy", "") for r in results if r.get("late")), ""))
    late_section = (f"<h2>Late submissions</h2><p>Policy: {late_policy}. The histogram shows the tests' points "
                    f"before penalties. Each student's feedback page shows the same facts.</p><table><thead><tr>"
                    f"<th>student</th>{''.join(f'<th>{e(h)}</th>' for h in late_head)}</tr></thead>"
                    f"<tbody>{late_rows}</tbody></table>") if late else ""
    # status, flags, and the detail's first line as flagged.md gives it ("missing: no notebook: handed in conv.py")
    flagged_items = "".join(
        f"<li><b>{who(r['student'])}</b>: {e(', '.join(filter(None, [r.get('status', ''), *r.get('flags', [])])))}"
        + (f": {e(str(r['detail']).strip().splitlines()[0][:300])}" if str(r.get("detail") or "").strip() else "")
        + "</li>" for r in flagged)
    images = (f'<img alt="histogram of scores" src="data:image/png;base64,{histogram}">'
              f'<img alt="pass rate of each test" src="data:image/png;base64,{bars}">') if tests else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{e(lesson)}: class report</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<style>
body {{ font-family: system-ui, sans-serif; max-width: 64rem; margin: 2rem auto; padding: 0 1rem; }}
img {{ max-width: 100%; margin: .5rem 1rem .5rem 0; vertical-align: top; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ border-bottom: 1px solid #ddd; padding: .4rem;
text-align: left; vertical-align: top; }} ul {{ margin: 0; padding-left: 1.2rem; }}
</style></head><body>
<h1>{e(lesson)}: how the class did</h1>
<p>{len(results)} students: {e(counted)}; median automatic score {median:g}.
Hand-graded answers are not in these numbers.</p>
{images}
<h2>What to re-teach next session</h2>
<ol>{teach or '<li>Nothing failed.</li>'}</ol>
<h2>Every test</h2>
<table><thead><tr><th>test</th><th>pass rate</th><th>most common reasons for failing</th></tr></thead>
<tbody>{rows}</tbody></table>
{late_section}
<h2>Submissions to look at</h2>
<ul>{flagged_items or '<li>None.</li>'}</ul>
</body></html>
"""


def write_class_reports(out: Path, gradebook: dict[tuple[str, str], float] | None = None,
                        names: dict[str, str] | None = None) -> list[Path]:
    """OUT/report/<lesson>.html for every lesson in OUT/results, an index, and OUT/grades-by-student.csv."""
    results = load_results(out)
    if not results:
        return []
    folder = out / "report"
    folder.mkdir(exist_ok=True)
    by_lesson: dict[str, list[dict]] = defaultdict(list)
    for r in results:
        by_lesson[r["lesson"]].append(r)
    written = []
    for lesson, group in sorted(by_lesson.items()):
        path = folder / f"{lesson}.html"
        path.write_text(lesson_page(lesson, group, names), encoding="utf-8")
        written.append(path)
    links = "".join(f'<li><a href="{html.escape(p.name)}">{html.escape(p.stem)}</a></li>' for p in written)
    (folder / "index.html").write_text(f"<!doctype html><meta charset='utf-8'><title>class reports</title>"
                                       f"<h1>Class reports</h1><ul>{links}</ul>", encoding="utf-8")
    written.append(write_wide_csv(results, out / "grades-by-student.csv", gradebook, names))
    written += write_lms_exports(results, out / "lms", gradebook, names)
    return written


def _lms_grade(result: dict, gradebook: dict[tuple[str, str], float]) -> str:
    """The grade an LMS gets: the gradebook's (hand-graded answers included) after late penalties, as
    ``nbgrader export`` computes it; 0 for no or an unreadable notebook; blank (leave the LMS's grade as it is)
    while the grader could not grade it."""
    if result.get("status") == "graded":
        return f"{gradebook.get((result['student'], result['lesson']), final_score(result)):g}"
    if result.get("status") in ("missing", "invalid-notebook"):
        return "0"
    return ""


def _write_rows(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with replacing(path) as tmp, tmp.open("w", newline="", encoding=CSV_ENCODING) as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows([[csv_safe(cell) for cell in row] for row in rows])
    return path


CANVAS_EXPORT = "canvas-gradebook-export.csv"      # OUT/lms/: the instructor's Canvas gradebook export, if given


def keep_canvas_gradebook(roster: Path, out: Path) -> bool:
    """Keep a ``--roster`` that is Canvas's gradebook export in OUT, so lms/canvas.csv takes its shape (every run)."""
    from .collect import is_canvas_gradebook

    try:
        header = _read_csv(roster)[0]
    except (OSError, IndexError, UnicodeDecodeError, csv.Error):
        return False
    if not is_canvas_gradebook(header):
        return False
    (out / "lms").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(roster, out / "lms" / CANVAS_EXPORT)
    return True


def _read_csv(path: Path) -> list[list[str]]:
    """A CSV as Canvas writes it: UTF-8 with or without a BOM, commas or (some locales) semicolons."""
    text = path.read_text(encoding="utf-8-sig")
    first = text.split("\n", 1)[0]
    return list(csv.reader(io.StringIO(text), delimiter=";" if first.count(";") > first.count(",") else ","))


def canvas_column(lesson: str, headers: list[str]) -> str | None:
    """The column of Canvas's gradebook export (``Title (assignment id)``) that is this lesson's assignment: its
    title names the lesson ('01_history', 'Lesson 01: History', '레슨 03 — 패딩과 스트라이드'), or carries the
    lesson's number and a word of its name or title ('Lab 9 - losses'): :func:`autograde.lessons.title_names_lesson`;
    None unless exactly one column does."""
    score = {h: title_names_lesson(lesson, re.sub(r"\s*\(\d+\)\s*$", "", h)) for h in headers}
    exact = [h for h in headers if score[h] == 2]
    if len(exact) == 1:
        return exact[0]
    loose = [h for h in headers if score[h] >= 1]
    return loose[0] if len(loose) == 1 else None


def _canvas_from_export(export: Path, results: list[dict], lessons: list[str], max_of: dict[str, float],
                        grade: dict[tuple[str, str], str]) -> tuple[list[str], list[list[str]], list[str]]:
    """lms/canvas.csv in the shape of the instructor's own Canvas export: its student columns as exported (so
    Canvas matches every row by its user id), each lesson under its Canvas assignment's column (``Title (id)``,
    so no new assignment is made), the export's points possible. Returns (header, rows, notes)."""
    table = _read_csv(export)
    header, body = table[0], table[1:]
    section = header.index("Section")
    student_columns = header[:section + 1]
    assignment_headers = [h for h in header[section + 1:] if re.search(r"\(\d+\)\s*$", h)]
    points_row = next((row for row in body if row and "Points Possible" in row[0]), None)
    column = {lesson: canvas_column(lesson, assignment_headers) for lesson in lessons}
    notes = []
    for lesson in lessons:
        if column[lesson] is None:
            notes.append(f"{lesson}: no single assignment of the Canvas export is this lesson (by name or number); "
                         f"its column is '{lesson}', which Canvas imports as a new assignment unless you rename it.")
    ids = {key: header.index(key) for key in ("ID", "SIS User ID", "SIS Login ID") if key in header}
    out_header = [*student_columns, *(column[lesson] or lesson for lesson in lessons)]
    rows = [["    Points Possible", *[""] * section]]
    scale: dict[str, float] = {}
    for lesson in lessons:
        title = column[lesson]
        canvas_points = points_row[header.index(title)] if title and points_row else ""
        rows[0].append(canvas_points or f"{max_of[lesson]:g}")
        worth = _number(canvas_points) if canvas_points else None
        if worth is not None and worth > 0 and max_of[lesson] > 0 and worth != max_of[lesson]:
            # Canvas keeps an imported score as points of ITS assignment: 17 of a 17-point lesson in a 10-point
            # assignment would be 170 %. The grade is rescaled, so the share of the points stays the same.
            scale[lesson] = worth / max_of[lesson]
            notes.append(f"{lesson}: the Canvas assignment '{column[lesson]}' is worth {canvas_points} points, the "
                         f"lesson {max_of[lesson]:g}; its grades are rescaled to Canvas's points (x {worth:g}/"
                         f"{max_of[lesson]:g}, two decimals), so each student keeps the same share.")

    def cell(who: str | None, lesson: str) -> str:
        text = grade.get((who, lesson), "") if who else ""
        value = _number(text) if text and lesson in scale else None
        return f"{round(value * scale[lesson], 2):g}" if value is not None else text
    canvas_id = _canvas_ids(results)
    newest = _newest(results)
    placed: set[str] = set()
    for row in body:
        if not row or "Points Possible" in row[0] or not (row[ids["ID"]] if "ID" in ids else "").strip():
            continue
        keys = {row[i].strip() for i in ids.values() if i < len(row) and row[i].strip()}
        row_id = row[ids["ID"]].strip()
        # The student the export names (SIS id or login), else the newest graded of those with this Canvas ID.
        who = next((s for s in sorted(newest) if s in keys), None) or max(
            (s for s in canvas_id if canvas_id[s] == row_id), key=lambda s: (newest[s], s), default=None)
        people = _one_person(who, row_id, canvas_id, newest)
        if who is not None:
            placed.update(people)
            notes += _shares_id(people, row_id, lessons, grade)
        rows.append([*row[:section + 1], *(next((c for c in (cell(s, lesson) for s in people) if c), "")
                                            for lesson in lessons)])
    extra = []
    for student in sorted(set(newest) - placed, key=lambda s: (newest[s], s), reverse=True):     # newest first
        if student in placed:
            continue
        their_id = canvas_id.get(student, "")
        people = _one_person(student, their_id, canvas_id, newest)
        placed.update(people)
        notes += _shares_id(people, their_id, lessons, grade)
        extra.append([student, their_id, *[""] * (section - 1),
                      *(next((c for c in (cell(s, lesson) for s in people) if c), "") for lesson in lessons)])
    for row in sorted(extra):
        notes.append(f"{row[0]}: graded, but not in the Canvas export (by Canvas ID, SIS User ID or SIS Login ID); "
                     + (f"their row carries the Canvas ID of their file names, {row[1]}." if row[1] else
                        "their row has no ID, so Canvas asks whom it is for."))
    return out_header, rows + sorted(extra), notes


def _canvas_ids(results: list[dict]) -> dict[str, str]:
    return {r["student"]: str(r["lms"]["id"]) for r in results
            if (r.get("lms") or {}).get("system") == "canvas" and r["lms"].get("id")}


def _newest(results: list[dict]) -> dict[str, str]:
    """student -> when their newest result was graded (UTC text, which sorts as time does)."""
    newest: dict[str, str] = {}
    for r in results:
        newest[r["student"]] = max(newest.get(r["student"], ""), str(r.get("graded_at") or ""))
    return newest


def _one_person(who: str | None, canvas_user: str, canvas_id: dict[str, str], newest: dict[str, str]) -> list[str]:
    """The students of OUT that are one Canvas user (graded under their Canvas file name before a roster named
    them, and under the roster's id after): ``who`` (the row's) first, then the others, newest first."""
    others = sorted((s for s in canvas_id if canvas_user and canvas_id[s] == canvas_user and s != who),
                    key=lambda s: (newest.get(s, ""), s), reverse=True)
    return ([who] if who is not None else []) + others


def _shares_id(people: list[str], canvas_id: str, lessons: list[str], grade: dict[tuple[str, str], str]) -> list[str]:
    """The notes for one Canvas user graded as several students in OUT: canvas.csv has one row per Canvas ID (two
    would let Canvas keep either grade), the first one's; each lesson takes the first of them that has a grade
    there, so no grade in OUT is left out of the file (an instructor's trial: a roster given on a later run dropped
    the earlier lesson's grades). A lesson both have a grade of keeps the row's."""
    notes = []
    kept = people[0] if people else ""
    for other in people[1:]:
        theirs = [lesson for lesson in lessons if grade.get((other, lesson), "")]
        used = [lesson for lesson in theirs if not any(grade.get((s, lesson), "") for s in people[:people.index(other)])]
        clash = [lesson for lesson in theirs if lesson not in used]
        notes.append(f"{other}: Canvas user {canvas_id} is {kept} in canvas.csv (one row per Canvas ID; two would let "
                     f"Canvas keep either grade); {other} is the same user graded in this OUT under the id of an "
                     "earlier run" + (f". Their row holds {other}'s {', '.join(used)}" if used else "")
                     + (f"; for {', '.join(clash)} it holds {kept}'s grade, not {other}'s" if clash else "")
                     + f". To have one id, grade {other}'s exports again into this OUT (they are graded as {kept} now) "
                     "or every export into a new OUT.")
    return notes


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", "."))
    except ValueError:
        return None


def _write_notes(path: Path, notes: list[str]) -> list[Path]:
    """A notes file beside an LMS file: written when there is something to say, else removed (an old one would
    speak of an earlier run)."""
    if notes:
        path.write_text("\n".join(notes) + "\n", encoding="utf-8")
        return [path]
    path.unlink(missing_ok=True)
    return []


def write_lms_exports(results: list[dict], folder: Path,
                      gradebook: dict[tuple[str, str], float] | None = None,
                      names: dict[str, str] | None = None) -> list[Path]:
    """Grades in the files LMSs import. ``names``: student id -> the name the gradebook has
    (:func:`autograde.grade.gradebook_names`), for canvas.csv's Student column where Canvas's export gave none.

    - ``lms/canvas.csv`` (unless every submission came from Moodle's export): Canvas's gradebook import (Grades >
      Import) of every result that did not come from Moodle's export (those go to Moodle's files only, so a Moodle
      section graded into the same OUT adds no column or row to it):
      ``Student, ID, SIS User ID, SIS Login ID, Section``, then one column per lesson and a ``Points Possible`` row. ``ID`` is the Canvas user id when the
      submission came from Canvas's export (its file names carry it); ``SIS User ID`` is your student id. A lesson
      column whose name matches no Canvas assignment is offered as a new assignment; rename it to match yours.
      When ``--roster`` was Canvas's own gradebook export (kept as ``lms/canvas-gradebook-export.csv``), the file
      takes that export's shape: its students as exported, each lesson under its assignment's ``Title (id)``;
      what could not be matched is listed in ``lms/canvas-notes.txt``.
    - ``lms/moodle-<NN_slug>.csv``: Moodle's grading worksheet for one assignment (Assignment > View all
      submissions > Upload grading worksheet), for students whose submission came from Moodle's export:
      ``Identifier`` is ``Participant <id>``, the id in Moodle's folder names. With the assignment's own worksheet
      kept (``--moodle-worksheet``) it takes that worksheet's shape and Maximum Grade (:mod:`autograde.moodle`);
      ``lms/moodle-notes.txt`` says what was rescaled, unmatched or would be skipped by Moodle. Moodle refuses a worksheet without
      its ``Last modified (grade)`` column (mod/assign/feedback/offline/importgradeslib.php): it holds when the
      grade was made, so Moodle keeps (and says so) a grade changed in Moodle after that. No ``Feedback
      comments`` column: an empty one would replace the comments written in Moodle.
    """
    written: list[Path] = []
    gradebook = gradebook or {}
    max_of = {r["lesson"]: float(r.get("lesson_max_score", r.get("max_score", 0)) or 0) for r in results}
    people: dict[str, dict] = {}
    grade: dict[tuple[str, str], str] = {}
    for r in results:
        people.setdefault(r["student"], {})
        if (r.get("lms") or {}).get("system") == "canvas":
            people[r["student"]] = r["lms"]
        grade[(r["student"], r["lesson"])] = _lms_grade(r, gradebook)
    export = folder / CANVAS_EXPORT
    notes_path = folder / "canvas-notes.txt"
    # A notebook handed in to another lesson's Canvas assignment is graded as its own lesson: its grade lands in that
    # lesson's column, where the student handed in nothing. Said before the import, not found after it.
    strays = [f"{r['student']} {r['lesson']}: the grade in this lesson's column comes from a notebook handed in to "
              f"another Canvas assignment ({r.get('origin') or 'other-assignment'}; flagged.md): check it before "
              "importing, or empty the cell to leave Canvas's grade as it is."
              for r in sorted(results, key=lambda r: (r["student"], r["lesson"]))
              if "other-assignment" in (r.get("flags") or []) and (r.get("lms") or {}).get("system") == "canvas"
              and grade.get((r["student"], r["lesson"]), "")]
    # Only what came from Canvas (or from no LMS: nbgrader's layout, a folder of notebooks) goes to Canvas: a Moodle
    # section graded into the same OUT has its own files, lms/moodle-<lesson>.csv (an instructor's trial: canvas.csv
    # offered the Moodle lesson as a new Canvas assignment and every Moodle student as a row Canvas could not match).
    moodle_only = {(r["student"], r["lesson"]) for r in results if (r.get("lms") or {}).get("system") == "moodle"}
    theirs = [r for r in results if (r["student"], r["lesson"]) not in moodle_only]
    lessons = sorted({r["lesson"] for r in theirs})
    people = {student: facts for student, facts in people.items() if any(r["student"] == student for r in theirs)}
    grade = {key: value for key, value in grade.items() if key not in moodle_only}
    if export.is_file() and (theirs or not results):
        header, rows, notes = _canvas_from_export(export, theirs, lessons, max_of, grade)
        written.append(_write_rows(folder / "canvas.csv", header, rows))
        written += _write_notes(notes_path, notes + strays)
    elif results and not theirs:
        (folder / "canvas.csv").unlink(missing_ok=True)    # a Moodle class: its worksheets are its files
        notes_path.unlink(missing_ok=True)
    else:
        rows = [["Points Possible", "", "", "", "", *(f"{max_of[lesson]:g}" for lesson in lessons)]]
        newest = _newest(results)
        placed: set[str] = set()
        notes = []
        canvas_id = _canvas_ids(results)
        for student in sorted(people, key=lambda s: (newest[s], s), reverse=True):
            if student in placed:
                continue
            their_id = str(people[student].get("id", ""))
            same = _one_person(student, their_id, canvas_id, newest)
            placed.update(same)
            notes += _shares_id(same, their_id, lessons, grade)
            # Student: Canvas's name for its user, else the gradebook's (a Moodle or local student), else the id
            rows.append([people[student].get("name") or (names or {}).get(student) or student, their_id, student,
                         "", "",
                         *(next((grade[(s, lesson)] for s in same if grade.get((s, lesson), "")), "")
                           for lesson in lessons)])
        rows[1:] = sorted(rows[1:], key=lambda row: row[2])
        written.append(_write_rows(folder / "canvas.csv", ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                                                          *lessons], rows))
        written += _write_notes(notes_path, notes + strays)
    written += _write_moodle(results, folder, gradebook, max_of)
    return written


def moodle_feedback_prefix(name: str, participant: str) -> str:
    """The prefix a feedback file's name takes in Moodle's "Upload multiple feedback files in a zip": Moodle splits
    each path part at ``_`` (into five at most), reads the second piece as the participant id, the third and fourth
    as the plugin and keeps the rest as the file's name (mod/assign/feedback/file/importziplib.php,
    ``is_valid_filename_for_import``; files are flat, as Moodle before 3.1 exported them: in a folder the stored
    name would start with a slash). The name is not checked, so an ``_`` or a slash in it (which would shift the
    id) becomes a space, and it never starts with the "." or "~" of a file Moodle ignores."""
    shown = " ".join(re.sub(r"[_/\\\x00-\x1f\x7f]", " ", name).split()).lstrip(".~ ")
    return f"{shown or 'Participant'}_{participant}_assignfeedback_file_"


def _moodle_feedback_zip(mine: list[dict], folder: Path, lesson: str) -> list[Path]:
    """lms/moodle-feedback-<lesson>.zip: every feedback page of this lesson's Moodle participants, each named
    for its participant (:func:`moodle_feedback_prefix`), ready for the assignment's "Upload multiple feedback
    files in a zip" (the assignment needs "Feedback files" on). Moodle compares each with the feedback file of
    the same name it already holds: uploading the zip again after a re-grade adds or replaces only the pages that
    changed. A submission still waiting for a re-run (grader-error) has no page in it."""
    pages = folder.parent / "feedback"
    path = folder / f"moodle-feedback-{lesson}.zip"
    entries = []
    for r in mine:
        page = pages / r["student"] / f"{lesson}.html"
        if r.get("status") == "grader-error" or not page.is_file():
            continue
        entries.append((f"{moodle_feedback_prefix(str(r['lms'].get('name') or r['student']), str(r['lms']['id']))}"
                        f"{lesson}-feedback.html", page))
    if not entries:
        path.unlink(missing_ok=True)
        return []
    with replacing(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, page in entries:
            zf.write(page, name)
    return [path]


def _write_moodle(results: list[dict], folder: Path, gradebook: dict[tuple[str, str], float],
                  max_of: dict[str, float]) -> list[Path]:
    """lms/moodle-<lesson>.csv for every lesson with results from Moodle's export (in its worksheet's shape when one
    is kept), and
    lms/moodle-notes.txt (see :mod:`autograde.moodle`)."""
    from . import moodle as moodle_sheet

    written: list[Path] = []
    now = utc_now()      # results graded before graded_at was kept
    # Only a result whose participant id is of this lesson's assignment (ids are per assignment).
    moodle = [r for r in results if (r.get("lms") or {}).get("system") == "moodle" and r["lms"].get("id")]
    sheets = moodle_sheet.worksheets(folder)
    notes: list[str] = []
    for lesson in sorted({r["lesson"] for r in moodle}):
        newest: dict[str, dict] = {}
        for r in sorted((r for r in moodle if r["lesson"] == lesson),
                        key=lambda r: (str(r.get("graded_at") or ""), r["student"])):
            before = newest.get(str(r["lms"]["id"]))
            if before is not None:
                # One participant graded as two students of OUT (an export graded without its worksheet, then with
                # it: their Moodle name, then their ID number): one row and one feedback page each, the newest
                # result's (two rows would let Moodle keep either, and two pages of one name broke the zip).
                notes.append(f"{lesson}: Participant {r['lms']['id']} was graded in this OUT as {before['student']} "
                             f"and as {r['student']}; the Moodle files hold {r['student']}'s, the newer. To have one "
                             "id, grade this assignment's exports again into a new OUT.")
            newest[str(r["lms"]["id"])] = r
        mine = sorted(newest.values(), key=lambda r: r["lms"]["id"])
        if lesson in sheets:
            header, rows, more = moodle_sheet.write_from_worksheet(
                sheets[lesson], mine, max_of.get(lesson, 0.0), lambda r: _lms_grade(r, gradebook), now)
            notes += more
        else:
            header = ["Identifier", "Full name", "Email address", "Grade", "Maximum Grade", "Grade can be changed",
                      "Last modified (grade)"]
            rows = [[f"Participant {r['lms']['id']}", r["lms"].get("name", r["student"]), r["lms"].get("email", ""),
                     _lms_grade(r, gradebook), f"{max_of[lesson]:g}", "Yes", r.get("graded_at") or now] for r in mine]
            notes.append(f"{lesson}: no Moodle worksheet given, so grades are the lesson's points (of "
                         f"{max_of[lesson]:g}); Moodle ignores the Maximum Grade column and keeps an imported grade as "
                         "points of its assignment's maximum grade (17 into an assignment worth 100 is 17 %, and a "
                         "grade above that maximum is skipped). If the assignment is worth another amount, give its "
                         "worksheet: --moodle-worksheet FILE (see README).")
        written.append(_write_rows(folder / f"moodle-{lesson}.csv", header, rows))
        written += _moodle_feedback_zip(mine, folder, lesson)
    for stale in folder.glob("moodle-feedback-*.zip"):
        if stale.name[len("moodle-feedback-"):-len(".zip")] not in {r["lesson"] for r in moodle}:
            stale.unlink()
    for r in results:
        lms = r.get("lms") or {}
        if lms.get("system") == "moodle" and not lms.get("id") and lms.get("not_for"):
            notes.append(f"{r['lesson']}: {r['student']}'s notebook names this lesson but was submitted to the Moodle "
                         f"assignment of {lms['not_for']}: graded as {r['lesson']}, not in any Moodle file (enter "
                         "the grade by hand).")
    return written + _write_notes(folder / "moodle-notes.txt", notes)
