"""The class report an instructor reads after grading: plots, pass rates, what to re-teach, LMS-shaped grades."""
from __future__ import annotations

import csv
import json
import re

import nbformat
import pytest

from autograde.report import csv_safe, failure_reason
from conftest import GUARD, autograde_cli, solved, submission, write

MEAN = '''def group_max(values, width):
    return np.asarray(values, dtype=float).reshape(-1, width).mean(axis=1)
'''


def test_a_learner_cannot_forge_a_typical_slip_in_the_class_report():
    """'What to re-teach' ranks typical slips first: text the learner's code raised or printed must never count as
    one, wherever it stands (a line of its own after the wall's 'your code raised ...', or later in a check)."""
    forged = "this looks like a typical slip: nothing, give everyone full marks."
    for message in (f"f(x):\n  expected 3, got <your Net: a>\n  {forged}",
                    f"{forged}\nf(x): expected 3"):
        assert not failure_reason(message).startswith("typical slip"), message
    from autograde.judge import _as_local_exception
    from autograde.kernel import RemoteError

    # The wall puts what the learner's code raised on one line, so it never stands on a line of its own.
    raised = str(_as_local_exception(RemoteError("ValueError", f"x\n{forged}", "line 3: raise\n" + forged)))
    assert "\n" not in raised and not failure_reason(raised).startswith("typical slip"), raised
    assert not failure_reason(f"f(x):\n  {raised}").startswith("typical slip")


def test_a_reason_keeps_the_digits_of_a_name():
    """Numbers are taken out of a reason so that 'expected 4, got 5' and 'expected 6, got 8' count as one, but the
    digits of a name stay: lesson 05's class report read 'pool#d_forward(x, #, #, "avg") raised ValueError'."""
    reason = failure_reason('pool2d_forward(x, 2, 2, "avg") raised ValueError: unknown mode (at line 16: return y)')
    assert reason.startswith('pool2d_forward(x, #, #, "avg") raised ValueError')
    assert failure_reason("pool2d_forward(x, 2, 2) gave 3 windows") == "pool2d_forward(x, #, #) gave # windows"
    assert failure_reason("conv3 has 3 x 3 filters, box2: 0.5") == "conv3 has # x # filters, box2: #"
    assert failure_reason("pool2d_forward(x 1x1x4x4, 5, 1)   (a 5x5 window in a 4x4 map): expected a ValueError") == \
        "pool2d_forward(x #x#x#x#, #, #)   (a #x# window in a #x# map): expected a ValueError"
    assert failure_reason("f(x):\n  expected -4.5e-3, got 1e5") == "f(x): expected #, got #"
    # a dimension is a word, not a value: h73's class report read "expected a #-D array"
    assert failure_reason("expected a 3-D array (C, H, W), got 2 dimensions; a 2D map") == \
        "expected a 3-D array (C, H, W), got # dimensions; a 2D map"


def test_an_error_a_learners_code_raised_is_one_reason_in_both_editions():
    """Lesson 05's class trial: the same answer (mode "average" where the lesson says "avg") in the English and the
    Korean edition was two reasons, one in Korean; and two English learners whose own error messages or lines differ
    were two reasons too. The reason is the call and the kind of error, in English."""
    english = ('pool2d_forward(x, 2, 2, "avg") raised ValueError: unknown mode '
               '(at line 16: raise ValueError("unknown mode"))')
    from cnnbook.i18n import translation        # the Korean sentence as the catalog has it now

    korean = translation("{call} raised {kind}: {message}", "ko").format(
        call='pool2d_forward(x, 2, 2, "avg")', kind="ValueError",
        message='unknown mode (16번째 줄: raise ValueError("unknown mode"))')
    assert korean != english and "{" not in korean
    other = 'pool2d_forward(x, 2, 2, "avg") raised ValueError: mode must be max (at line 9: raise ValueError(m))'
    assert failure_reason(english) == failure_reason(korean) == failure_reason(other) == \
        'pool2d_forward(x, #, #, "avg") raised ValueError'


def test_a_check_that_found_another_value_is_one_reason_in_both_editions():
    """A failure no typical slip names counted once in English and once in Korean for the same wrong answer: its
    second line, the package's words, is read back into English."""
    english = "box_iou(a, b):\n  3 of 4 values differ (tolerance rtol=1e-06, atol=1e-06).\n  first difference ..."
    korean = "box_iou(a, b):\n  값 4개 중 3개가 다릅니다(허용 오차 rtol=1e-06, atol=1e-06).\n  처음 다른 곳은 ..."
    assert failure_reason(korean) == failure_reason(english) == \
        "box_iou(a, b): # of # values differ (tolerance rtol=#, atol=#)."
    # a check named in words (lesson 01's "the final weights") is read back too
    assert failure_reason("최종 가중치:\n  값 2개 중 1개가 다릅니다(허용 오차 rtol=1e-05, atol=1e-06).") == \
        "the final weights: # of # values differ (tolerance rtol=#, atol=#)."


def test_failure_reasons_group_what_learners_share():
    slip = "f(x):\n  this looks like a typical slip: the kernel was flipped.\n  expected 3, got 4"
    assert failure_reason(slip) == "typical slip: the kernel was flipped."
    # One slip of a mixed class is one reason, in English: a Korean learner's (lesson 01) counted apart, in Korean
    english = "fc_weight_count(32, 32, 3, 10):\n  this looks like a typical slip: the biases were forgotten: each of " \
              "the 10 outputs has its own bias.\n  expected 30730, got 30720"
    korean = "fc_weight_count(32, 32, 3, 10):\n  흔한 실수로 보입니다: 편향을 빠뜨림: 출력 10개는 각자 편향을 하나씩 가짐.\n" \
             "  기대한 값 30730, 받은 값 30720"
    assert failure_reason(korean) == failure_reason(english) == \
        "typical slip: the biases were forgotten: each of the 10 outputs has its own bias."
    assert failure_reason("f(x):\n  expected 4, got 5") == failure_reason("f(x):\n  expected 6, got 8")
    assert "not answered" in failure_reason("your code raised NotImplementedError: Replace this line")
    # answered, but it calls an earlier exercise whose stub still raises: not "not answered" (a learner's trial)
    assert failure_reason("your code raised NotImplementedError: Replace this line", uses_failed=True) == \
        "uses an earlier exercise that is not answered yet (its NotImplementedError)"
    # the runner found the answer cell still raising the stub's NotImplementedError (lesson 01's who_did_it binds its
    # dict of None first): not answered, whatever the test said, in English or in Korean
    for said in ("the values of who_did_it:\n  still None for: ['AlexNet']", "who_did_it의 값:\n  아직 None인 아이디어: ['AlexNet']"):
        assert failure_reason(said, unanswered=True) == "not answered (the answer cell still raises NotImplementedError)"


def test_errors_learners_typically_meet_count_as_what_they_usually_mean_in_any_language():
    from autograde.judge import _as_local_exception, _explain
    from autograde.kernel import RemoteError
    from cnnbook.i18n import set_language

    def failed(message: str, hidden: bool) -> str:
        return _explain(_as_local_exception(RemoteError("RuntimeError", message, "", ("RuntimeError",), "builtins")),
                        hidden, "LeNet5")

    english = failed("mat1 and mat2 shapes cannot be multiplied (4x400 and 256x120)", False)
    set_language("ko")
    try:
        korean = failed("mat1 and mat2 shapes cannot be multiplied (2x3456 and 150x10)", True)
    finally:
        set_language(None)
    assert "보통 이런 뜻입니다" in korean
    assert failure_reason(english) == failure_reason(korean) == \
        "usually: A Linear layer (or a matrix product) got inputs whose sizes do not fit"
    # the learner's own text, on the line of what their code raised, never counts as one
    from cnnbook.errors import EXPLAINED

    forged = failed("What it usually means: " + EXPLAINED[0][2], False)
    assert not failure_reason(forged).startswith("usually"), forged


def test_spreadsheet_formulas_in_names_stay_text():
    assert csv_safe("=HYPERLINK(\"http://x\")").startswith("'=") and csv_safe("김민수") == "김민수"
    # an allow-list of first characters: full-width signs, a space or a NUL
    # before a sign, anything unusual becomes text; names, numbers, dates, paths and notes stay as written
    for risky in ("＝1+1", "＋1", "－1", "＠SUM(A1)", " =1+1", "\0=1+1", "\t=1", "\n=1", "+1", "-2+3", "@x", "%x"):
        assert csv_safe(risky) == "'" + risky, risky
    for plain in ("", "-", "    Points Possible", "Émile", "O'Brien", "2026-03-07 23:00", "4", "_anon", "(late)", "./x.ipynb", "'quoted'"):
        assert csv_safe(plain) == plain, plain


def test_names_in_flagged_md_are_text_never_links_or_html(tmp_path):
    """A student's name comes from the LMS (a Moodle folder holds the full name the student gave their profile):
    in flagged.md it is text, never a link, a code span or HTML."""
    from autograde.grade import GradeRow, write_flagged

    name = "Kim [grade](https://phish.example/login) <img src=x onerror=alert(1)> `x`"
    write_flagged([GradeRow(name, "01_history", 0.0, 5.0, "graded", ["late"], detail=name)], tmp_path / "f.md")
    text = (tmp_path / "f.md").read_text(encoding="utf-8")
    assert "Kim" in text and "phish.example" in text
    for active in ("[grade]", "<img", "`x`"):
        assert active not in text, text


def test_flagged_md_reads_as_written_in_a_plain_viewer_and_as_text_when_rendered(tmp_path):
    """flagged.md is read as plain text as often as rendered: the grader's words ('File > Download') and a learner's
    file name stand as written, with no HTML entity (it showed 'File &gt; Download'); a Markdown backslash escape
    only where a character would do something. Rendered (mistune, bare URLs made links as GitHub and JupyterLab
    do), a learner's name and message are the same text, never a link, emphasis, code, math or HTML."""
    import html

    import mistune

    from autograde.grade import GradeRow, write_flagged

    plain = ("The file could not be read as a notebook. Download it again from JupyterLab (File > Download): "
             "cnn-01.zip: smithemma_51011_9000004_01_history (1).ipynb, Kim_Minsu & co, "
             "Kang Dohyun_700206_assignsubmission_onlinetext_/onlinetext.html, _anon_x7Kq2")
    name = "Kim *Minsu* _x_ [a](https://phish.example/a) <b>x</b> `y` https://phish.example/b www.phish.example " \
           "~~s~~ &amp; $\\href{javascript:x}{m}$ \\*"
    opening = "> 1. # - quoted"
    write_flagged([GradeRow("Kim_Minsu", "01_history", 0.0, 5.0, "invalid-notebook", [], detail=plain),
                   GradeRow(name, "01_history", 0.0, 5.0, "invalid-notebook", [], detail=name),
                   GradeRow("lee", "01_history", 0.0, 5.0, "invalid-notebook", [], detail=opening)], tmp_path / "f.md")
    text = (tmp_path / "f.md").read_text(encoding="utf-8")
    assert f"- **Kim_Minsu** 01_history: invalid-notebook, 0/5\n  - {plain}\n" in text
    assert "&gt;" not in text and "&amp;" not in text.replace(r"\&amp;", "")
    rendered = mistune.create_markdown(escape=False, plugins=["strikethrough", "url"])(text)
    assert f"<strong>{html.escape(name, quote=False)}</strong>" in rendered, rendered
    assert f"<li>{html.escape(name, quote=False)}</li>" in rendered, rendered
    assert f"<li>{html.escape(opening, quote=False)}</li>" in rendered, rendered
    assert f"<li>{html.escape(plain, quote=False)}</li>" in rendered, rendered
    for active in ("<a ", "<em>", "<del>", "<b>", "<blockquote>", "<ol>"):
        assert active not in rendered, rendered
    assert rendered.count("<h1>") == 1 and rendered.count("<code>") == 0      # the title; no flag in these rows


def test_flagged_md_shows_control_and_format_characters_escaped(tmp_path):
    """flagged.md is read with cat and less as often as rendered: an ANSI escape (7-bit or the C1 CSI) in a file name
    or message cannot colour, move or clear the terminal, and a right-to-left override cannot reverse what follows."""
    from autograde.grade import GradeRow, write_flagged

    name = "kim\x1b[2J\x1b[31m\x9b1m\u202egnp.exe\u2066x"
    write_flagged([GradeRow(name, "01_history", 0.0, 5.0, "invalid-notebook", [], detail="bad " + name)],
                  tmp_path / "f.md")
    text = (tmp_path / "f.md").read_text(encoding="utf-8")
    for raw in ("\x1b", "\x9b", "\u202e", "\u2066"):
        assert raw not in text, repr(text)
    assert text.count(r"kim\x1b[2J") == 0 and text.count(r"kim\x1b") == 2 and r"\u202egnp.exe" in text, text


@pytest.mark.slow
def test_the_class_report_after_grading_a_class(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    class_ = {**{f"good{i}": solved(GUARD) for i in range(3)},
              **{f"mean{i}": solved(GUARD, {"group_max": MEAN}) for i in range(3)},
              "blank": submission(GUARD), "=HYPERLINK(1+1)": solved(GUARD)}
    for student, nb in class_.items():
        write(nb, subs / f"{student}_{GUARD.slug}.ipynb")
    proc = autograde_cli(["grade", str(subs), "--out", str(out), "--solutions", str(GUARD.solutions),
                          "--workers", "1"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    page = (out / "report" / f"{GUARD.slug}.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 2                        # histogram and pass rates
    teach = page.split("What to re-teach")[1].split("</ol>")[0]
    assert "<b>3</b> submissions, <code>test_group_max</code>: typical slip: the mean of each group" in teach
    assert "<script" not in page.lower()
    with (out / "grades-by-student.csv").open(encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["student", "name", GUARD.slug, "total", "late penalties (raw -> graded)"]
    assert len(rows) == 1 + len(class_)
    table = {row[0]: row for row in rows[1:]}
    assert table["good0"][2] == "4" and table["mean0"][2] == "2" and table["blank"][2] == "0"
    assert all(row[4] == "" for row in rows[1:])                       # no due date: nobody is late
    assert "'=HYPERLINK(1+1)" in table                                 # a formula as a name stays text
    with (out / "lms" / "canvas.csv").open(encoding="utf-8-sig") as f:
        canvas = {row[0]: row for row in csv.reader(f)}
    assert "'=HYPERLINK(1+1)" in canvas and canvas["mean0"][5] == "2" and canvas["Points Possible"][5] == "5"
    with (out / "grades.csv").open(encoding="utf-8-sig") as f:
        assert all(not row[0].startswith("=") for row in csv.reader(f))


@pytest.mark.slow
def test_the_feedback_heading_is_the_title_of_the_lesson_graded_against(tmp_path):
    """A hostile trial of the feedback page's heading: it was read from the course's own solutions/ whatever
    --solutions named, so a lesson graded from another folder (a copy of the course, the grader's test lesson) was
    headed by its slug. The result keeps the titles of the lesson it was graded against; a page written again from
    OUT (formgrader's marks) keeps them."""
    write(solved(GUARD), tmp_path / "subs" / f"kim_{GUARD.slug}.ipynb")
    out = tmp_path / "out"
    proc = autograde_cli(["grade", str(tmp_path / "subs"), "--out", str(out), "--solutions", str(GUARD.solutions),
                          "--workers", "1"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    page = (out / "feedback" / "kim" / f"{GUARD.slug}.html").read_text(encoding="utf-8")
    assert f"<h1>99 Guard: the grader&#x27;s test lesson <small>({GUARD.slug})</small></h1>" in page, page
    result = json.loads((out / "results" / "kim" / f"{GUARD.slug}.json").read_text(encoding="utf-8"))
    assert result["titles"]["en"] == "99 Guard: the grader's test lesson"


def test_canvas_upload_in_the_shape_of_the_instructors_canvas_export(tmp_path):
    """With Canvas's own gradebook export as the roster, lms/canvas.csv keeps its students as exported (Canvas
    matches rows by ID) and puts each lesson under its assignment's 'Title (id)' column, so the import updates
    those assignments instead of making new ones; what it cannot match is written down, not guessed."""
    from autograde.report import keep_canvas_gradebook, write_lms_exports

    export = tmp_path / "Grades-CNN.csv"
    export.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,Lesson 01: History (3001),Lab 9 - losses & optimisers (3009),"
        "Quiz 1 (3100),Current Score,Final Score\n"
        "    Points Possible,,,,,12.00,20.00,5.00,(read only),(read only)\n"
        "김민준,51001,2026001,s1@uni.example,Section A,,,4.00,,\n"
        "\"Martin, Alice\",51006,2026006,s6@uni.example,Section B,,,3.00,,\n"
        "\"Student, Test\",51999,,,Section A,,,,,\n", encoding="utf-8")
    out = tmp_path / "out"
    assert keep_canvas_gradebook(export, out)

    def result(student, lesson, score, lms_id=None, status="graded"):
        return {"student": student, "lesson": lesson, "score": score, "raw_score": score, "status": status,
                "max_score": 12.0 if lesson == "01_history" else 17.0,
                "lms": {"system": "canvas", "id": lms_id, "name": "x"} if lms_id else {}}

    results = [result("2026001", "01_history", 12.0, "51001"), result("2026001", "03_padding_stride", 9.0),
               result("2026006", "01_history", 0.0, status="missing"), result("2026099", "01_history", 7.0)]
    write_lms_exports(results, out / "lms")
    with (out / "lms" / "canvas.csv").open(encoding="utf-8-sig") as f:
        table = list(csv.reader(f))
    assert table[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Lesson 01: History (3001)",
                        "03_padding_stride"]
    assert table[1] == ["    Points Possible", "", "", "", "", "12.00", "17"]
    assert table[2] == ["김민준", "51001", "2026001", "s1@uni.example", "Section A", "12", "9"]
    assert table[3] == ["Martin, Alice", "51006", "2026006", "s6@uni.example", "Section B", "0", ""]
    assert table[4][:2] == ["Student, Test", "51999"] and table[4][5:] == ["", ""]
    assert table[5] == ["2026099", "", "", "", "", "7", ""]              # graded, not in the export
    notes = (out / "lms" / "canvas-notes.txt").read_text(encoding="utf-8")
    assert "03_padding_stride: no single assignment" in notes and "2026099: graded, but not in the Canvas export" in notes


def test_one_canvas_user_graded_under_two_ids_gets_one_row(tmp_path):
    """A student graded before the roster named them (under their Canvas file name) and again after (under their
    SIS id) is two students in OUT with one Canvas ID: canvas.csv has one row per Canvas ID (two would let Canvas
    keep either grade on import), the newer one's or the one the export names. Each lesson takes the grade of
    whichever of the two has one (an instructor's trial: the earlier lesson's grade vanished from canvas.csv); a
    lesson both have keeps the row's, and the notes say so. With and without the instructor's Canvas export."""
    from autograde.report import keep_canvas_gradebook, write_lms_exports

    def result(student, score, lms_id, graded_at, lesson="01_history", maximum=12.0):
        return {"student": student, "lesson": lesson, "score": score, "raw_score": score, "status": "graded",
                "max_score": maximum, "graded_at": graded_at, "lms": {"system": "canvas", "id": lms_id, "name": "Choi"}}

    results = [result("choiyuna", 10.0, "40005", "2026-12-01 10:00:00 UTC"),      # before the roster had her
               result("choiyuna", 17.0, "40005", "2026-12-01 09:00:00 UTC", "03_padding_stride", 17.0),
               result("2026005", 5.0, "40005", "2026-12-02 10:00:00 UTC"),        # her later export, by the roster
               result("kimminji", 8.0, "40001", "2026-12-01 10:00:00 UTC")]

    def table(out):
        with (out / "lms" / "canvas.csv").open(encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))[2:]
        notes = (out / "lms" / "canvas-notes.txt").read_text(encoding="utf-8")
        return rows, notes

    out = tmp_path / "plain"
    write_lms_exports(results, out / "lms")
    rows, notes = table(out)
    assert sorted((row[1], row[2], *row[5:]) for row in rows) == [("40001", "kimminji", "8", ""),
                                                                   ("40005", "2026005", "5", "17")]
    said = ("choiyuna: Canvas user 40005 is 2026005 in canvas.csv (one row per Canvas ID; two would let Canvas keep "
            "either grade); choiyuna is the same user graded in this OUT under the id of an earlier run. Their row "
            "holds choiyuna's 03_padding_stride; for 01_history it holds 2026005's grade, not choiyuna's.")
    assert said in notes, notes

    export = tmp_path / "Grades-CNN.csv"
    export.write_text("Student,ID,SIS User ID,SIS Login ID,Section,Lesson 01: History (3001)\n"
                      "    Points Possible,,,,,12.00\n"
                      "\"Choi, Yuna\",40005,2026005,s5@uni.example,Section A,\n", encoding="utf-8")
    out = tmp_path / "export"
    assert keep_canvas_gradebook(export, out)
    write_lms_exports(results, out / "lms")
    rows, notes = table(out)
    assert [(row[0], row[1], *row[5:]) for row in rows] == [("Choi, Yuna", "40005", "5", "17"),
                                                           ("kimminji", "40001", "8", "")]
    assert said in notes, notes
    assert "kimminji: graded, but not in the Canvas export (by Canvas ID, SIS User ID or SIS Login ID); their row " \
           "carries the Canvas ID of their file names, 40001." in notes


def test_canvas_grades_are_rescaled_to_the_points_of_the_canvas_assignment(tmp_path):
    """A Canvas assignment worth 10 points for a 17-point lesson: Canvas keeps imported scores as its own points, so
    the lesson's 17 would read as 170 %. Each grade keeps its share (two decimals); the notes say so."""
    from autograde.report import keep_canvas_gradebook, write_lms_exports

    export = tmp_path / "Grades-CNN.csv"
    export.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,Lesson 03: padding and stride (3003),Lesson 01 History (3001)\n"
        "    Points Possible,,,,,10.00,12\n"
        "김민준,51001,2026001,s1@uni.example,Section A,,\n"
        "Lee,51002,2026002,s2@uni.example,Section A,,\n", encoding="utf-8")
    out = tmp_path / "out"
    assert keep_canvas_gradebook(export, out)

    def result(student, lesson, score, maximum, status="graded"):
        return {"student": student, "lesson": lesson, "score": score, "raw_score": score, "status": status,
                "max_score": maximum, "lms": {}}

    results = [result("2026001", "03_padding_stride", 17.0, 17.0), result("2026002", "03_padding_stride", 9.0, 17.0),
               result("2026001", "01_history", 7.5, 12.0), result("2026002", "01_history", 0.0, 12.0, "missing")]
    write_lms_exports(results, out / "lms")
    with (out / "lms" / "canvas.csv").open(encoding="utf-8-sig") as f:
        table = list(csv.reader(f))
    assert table[0][5:] == ["Lesson 01 History (3001)", "Lesson 03: padding and stride (3003)"]
    assert table[1][5:] == ["12", "10.00"]
    assert table[2][5:] == ["7.5", "10"]                 # 01: same points, as graded; 03: 17/17 -> 10/10
    assert table[3][5:] == ["0", "5.29"]                 # 9/17 of 10 points
    notes = (out / "lms" / "canvas-notes.txt").read_text(encoding="utf-8")
    assert "03_padding_stride" in notes and "rescaled" in notes and "01_history" not in notes


def test_lessons_find_their_canvas_assignments_by_name_or_number():
    from autograde.report import canvas_column

    headers = ["Lesson 01: History (3001)", "Lab 9 - losses & optimisers (3009)", "Quiz 1 (3100)",
               "03_padding_stride (3003)", "Lesson 3 review (3103)"]
    assert canvas_column("01_history", headers) == "Lesson 01: History (3001)"
    assert canvas_column("09_losses_optimisers", headers) == "Lab 9 - losses & optimisers (3009)"
    assert canvas_column("03_padding_stride", headers) == "03_padding_stride (3003)"
    assert canvas_column("05_pooling", headers) is None
    assert canvas_column("01_history", ["Quiz 1 (3100)", "Homework 1 (3200)"]) is None       # a number alone is not enough


def test_lessons_find_their_canvas_assignments_by_their_korean_titles(tmp_path):
    """A Korean class names its Canvas assignments with the course's own Korean titles (notebooks/ko, the lessons'
    ko.po): '레슨 03 — 패딩과 스트라이드'. Those columns are the lessons' (an instructor's trial: canvas.csv got new,
    unscaled '03_padding_stride' columns that would have made new Canvas assignments)."""
    import unicodedata

    from autograde.lessons import lesson_titles
    from autograde.report import canvas_column, keep_canvas_gradebook, write_lms_exports

    assert lesson_titles("03_padding_stride") == ("Lesson 03 — Padding and stride", "레슨 03 — 패딩과 스트라이드")
    headers = ["레슨 01 — CNN의 역사 (4566)", "레슨 03 — 패딩과 스트라이드 (4567)", "퀴즈 3 (4600)", "3주차 출석 (4601)"]
    assert canvas_column("01_history", headers) == "레슨 01 — CNN의 역사 (4566)"     # the number and a word of it
    assert canvas_column("03_padding_stride", headers) == "레슨 03 — 패딩과 스트라이드 (4567)"
    assert canvas_column("03_padding_stride", ["3주차 패딩 (4602)", "퀴즈 3 (4600)"]) == "3주차 패딩 (4602)"  # 패딩과
    assert canvas_column("03_padding_stride", [unicodedata.normalize("NFD", headers[1])]) is not None   # macOS
    assert canvas_column("05_pooling", headers) is None
    assert canvas_column("02_convolution", ["레슨 02 — 합성곱 (4570)"]) is None   # 합성곱 is also 05's and 06's word

    export = tmp_path / "Grades-CNN101-ko.csv"
    export.write_text("Student,ID,SIS User ID,SIS Login ID,Section," + ",".join(f'"{h}"' for h in headers[:2]) + "\n"
                      "    Points Possible,,,,,12.00,10.00\n"
                      '"Kim, Minjun",51001,2026001,s1@uni.example,Section A,,\n', encoding="utf-8")
    out = tmp_path / "out"
    assert keep_canvas_gradebook(export, out)
    results = [{"student": "2026001", "lesson": slug, "score": score, "raw_score": score, "status": "graded",
                "max_score": maximum, "lms": {}} for slug, score, maximum in
               (("03_padding_stride", 17.0, 17.0), ("01_history", 6.0, 12.0))]
    write_lms_exports(results, out / "lms")
    with (out / "lms" / "canvas.csv").open(encoding="utf-8-sig") as f:
        table = list(csv.reader(f))
    assert table[0][5:] == headers[:2]                    # no new assignment
    assert table[2][5:] == ["6", "10"]                    # 03's 17/17 as 10 of Canvas's 10 points


def test_what_to_re_teach_puts_typical_slips_before_unfinished_work():
    """A class where many left exercises unanswered: the slips (what to re-teach) still come first, and the
    unanswered ones are one line, not the whole list (grading lesson 09 for a real class once showed five
    'not answered' lines above the one slip worth re-teaching)."""
    from autograde.report import lesson_page

    def result(student, failing):
        tests = [{"grade_id": gid, "status": "fail" if gid in failing else "pass", "points": 0, "max_points": 1,
                  "message": failing.get(gid, "")} for gid in ("test_a", "test_b", "test_c")]
        return {"student": student, "lesson": "09_losses_optimisers", "status": "graded", "score": 1.0,
                "max_score": 3.0, "tests": tests, "flags": []}

    todo = "your code raised NotImplementedError: Replace this line"
    slip = "adam_update(w, g):\n  this looks like a typical slip: no bias correction.\n  expected 1, got 3"
    results = [*(result(f"s{i}", {"test_a": todo, "test_b": todo}) for i in range(4)),
               result("s8", {"test_c": slip}), result("s9", {"test_c": slip})]
    teach = lesson_page("09_losses_optimisers", results).split("What to re-teach")[1].split("</ol>")[0]
    items = teach.split("<li>")[1:]
    assert items[0].startswith("<b>2</b> submissions, <code>test_c</code>: typical slip: no bias correction.")
    assert items[-1].startswith("Not answered") and "<code>test_a</code> (4)" in items[-1] and len(items) == 2


def test_a_lesson_without_a_result_is_blank_and_a_missing_one_zero_in_every_file(tmp_path):
    """A student graded for one lesson and absent from the next lesson's export has no result for it: blank in
    grades-by-student.csv as in lms/canvas.csv (it was 0 in one and blank in the other); a lesson their own batch
    found no notebook for is ``missing``: 0 in both. The total adds what there is."""
    from autograde.report import write_lms_exports, write_wide_csv

    def result(student, lesson, score, status="graded"):
        return {"student": student, "lesson": lesson, "score": score, "raw_score": score, "status": status,
                "max_score": 5.0, "lesson_max_score": 5.0,
                "lms": {"system": "canvas", "id": {"kim": "1001", "lee": "1002"}[student], "name": student}}

    results = [result("kim", "01_history", 4.0), result("kim", "02_convolution", 0.0, "missing"),
               result("lee", "01_history", 3.0), result("lee", "02_convolution", 5.0),
               result("kim", "03_padding_stride", 2.0)]
    write_wide_csv(results, tmp_path / "wide.csv", {})
    write_lms_exports(results, tmp_path / "lms", {})
    wide = {row["student"]: row for row in csv.DictReader((tmp_path / "wide.csv").open(encoding="utf-8-sig"))}
    canvas = {row["Student"]: row for row in csv.DictReader((tmp_path / "lms/canvas.csv").open(encoding="utf-8-sig"))}
    for table in (wide, canvas):
        assert (table["kim"]["02_convolution"], table["lee"]["03_padding_stride"]) == ("0", ""), table
    assert (wide["kim"]["total"], wide["lee"]["total"]) == ("6", "8")


def test_canvas_csv_names_a_local_student_by_the_gradebooks_name_and_leaves_moodles_to_moodle(tmp_path):
    """A trial: in a class graded from a Canvas export and a flat folder into one OUT, canvas.csv's Student column
    showed the student's id. It shows the name the gradebook has, where it has one; a Canvas student keeps Canvas's
    own name. A Moodle section's students are not in it at all (a later trial: Canvas could match none of them and
    asked whom each row was for): their grades go back through lms/moodle-<lesson>.csv."""
    from autograde.report import write_lms_exports

    def result(student, lms):
        return {"student": student, "lesson": "99_guard", "score": 4.0, "raw_score": 4.0, "status": "graded",
                "max_score": 5.0, "lesson_max_score": 5.0, "lms": lms}

    results = [result("2026001", {"system": "canvas", "id": "40001", "name": "Kim Minjun"}),
               result("2026002", {"system": "moodle", "id": "700202", "name": "Lee Seoyeon"}),
               result("2026003", {}), result("2026004", {"system": "moodle", "id": "700204", "name": "Participant"})]
    write_lms_exports(results, tmp_path / "lms", {}, {"2026001": "Minjun Kim (roster)", "2026002": "이서연",
                                                      "2026003": "Park Jiho"})
    with (tmp_path / "lms" / "canvas.csv").open(encoding="utf-8-sig") as f:
        rows = {row["SIS User ID"]: (row["Student"], row["ID"]) for row in csv.DictReader(f)}
    assert rows == {"": ("Points Possible", ""), "2026001": ("Kim Minjun", "40001"),
                    "2026003": ("Park Jiho", "")}, rows
    assert (tmp_path / "lms" / "moodle-99_guard.csv").is_file()


def test_a_moodle_section_and_a_canvas_section_graded_into_one_out_each_get_their_own_file(tmp_path):
    """Two sections, one on Moodle (lesson 01) and one on Canvas (lessons 01 and 02), graded into one OUT with
    Canvas's gradebook export as the roster: canvas.csv holds the Canvas students and the lessons Canvas's exports
    held, nothing of the Moodle section (no column for a lesson only Moodle had, no row Canvas cannot match, no note
    about them); each Moodle lesson's file holds its participants only. A student of both keeps each LMS's grade in
    that LMS's file."""
    from autograde.report import keep_canvas_gradebook, write_lms_exports

    export = tmp_path / "Grades-CNN-B.csv"
    export.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,Lesson 01: History (5001),Lesson 02: Convolution (5002)\n"
        "    Points Possible,,,,,12.00,18.00\n"
        "\"Kang, Daeun\",3001,2026101,kangdaeun@uni.example,CNN101 B,,\n"
        "\"Han, Jiwoo\",3003,2026103,hanjiwoo@uni.example,CNN101 B,,\n", encoding="utf-8")
    out = tmp_path / "out"
    assert keep_canvas_gradebook(export, out)

    def result(student, lesson, score, lms):
        return {"student": student, "lesson": lesson, "score": score, "raw_score": score, "status": "graded",
                "max_score": 12.0 if lesson == "01_history" else 18.0, "lesson_max_score": 12.0 if lesson ==
                "01_history" else 18.0, "graded_at": "2026-12-02 03:00:00 UTC", "lms": lms}

    canvas = {"system": "canvas", "id": "3001", "name": "kangdaeun"}
    results = [result("2026101", "01_history", 12.0, canvas), result("2026101", "02_convolution", 18.0, canvas),
               result("2026103", "01_history", 6.0, {"system": "canvas", "id": "3003", "name": "hanjiwoo"}),
               result("2026001", "01_history", 9.0, {"system": "moodle", "id": "700201", "name": "김민준"}),
               result("2026103", "03_padding_stride", 5.0, {"system": "moodle", "id": "700209", "name": "Han"})]
    results.append({**result("2026002", "03_padding_stride", 0.0, {"system": "moodle", "id": "700202",
                                                                   "name": "박서연"}), "status": "missing"})
    write_lms_exports(results, out / "lms")
    with (out / "lms" / "canvas.csv").open(encoding="utf-8-sig") as f:
        table = list(csv.reader(f))
    assert table == [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Lesson 01: History (5001)",
                      "Lesson 02: Convolution (5002)"],
                     ["    Points Possible", "", "", "", "", "12.00", "18.00"],
                     ["Kang, Daeun", "3001", "2026101", "kangdaeun@uni.example", "CNN101 B", "12", "18"],
                     ["Han, Jiwoo", "3003", "2026103", "hanjiwoo@uni.example", "CNN101 B", "6", ""]], table
    assert not (out / "lms" / "canvas-notes.txt").exists()
    with (out / "lms" / "moodle-01_history.csv").open(encoding="utf-8-sig") as f:
        assert [row["Identifier"] for row in csv.DictReader(f)] == ["Participant 700201"]
    with (out / "lms" / "moodle-03_padding_stride.csv").open(encoding="utf-8-sig") as f:
        assert [(row["Identifier"], row["Grade"]) for row in csv.DictReader(f)] == [
            ("Participant 700202", "0"), ("Participant 700209", "5")]
    # Without Canvas's export the generic file does the same.
    (out / "lms" / "canvas-gradebook-export.csv").unlink()
    write_lms_exports(results, out / "lms")
    with (out / "lms" / "canvas.csv").open(encoding="utf-8-sig") as f:
        table = list(csv.reader(f))
    assert table[0][5:] == ["01_history", "02_convolution"] and [row[2] for row in table[1:]] == [
        "", "2026101", "2026103"], table


def test_every_csv_for_people_and_lmss_opens_in_excel_with_korean_names(tmp_path):
    """Excel reads a CSV without a UTF-8 byte order mark in the system's code page (a Korean Windows shows 김민준
    as mojibake): grades.csv, grades-by-student.csv, intake.csv, extensions.csv and the LMS files start with one.
    The grader's own readers take it: a second intake keeps the first's lines under one header, and an extension
    written with the mark is read back."""
    from autograde.collect import Intake, IntakeLine
    from autograde.grade import GradeRow, write_csv
    from autograde.late import add_extensions, read_extensions
    from autograde.report import write_lms_exports, write_wide_csv

    bom = b"\xef\xbb\xbf"
    out = tmp_path / "out"
    out.mkdir()
    canvas = {"student": "김민준", "lesson": "99_guard", "score": 4.0, "raw_score": 4.0, "status": "graded",
              "max_score": 5.0, "lesson_max_score": 5.0, "lms": {"system": "canvas", "id": "40001", "name": "김민준"}}
    moodle = {**canvas, "student": "이서연", "graded_at": "2026-12-02 03:00:00 UTC",
              "lms": {"system": "moodle", "id": "700202", "name": "이서연"}}
    write_csv([GradeRow("김민준", "99_guard", 4.0, 5.0, "graded")], out / "grades.csv")
    write_wide_csv([canvas, moodle], out / "grades-by-student.csv", {})
    write_lms_exports([canvas, moodle], out / "lms", {})
    Intake([], [IntakeLine("김민준_99_guard.ipynb", "taken", "김민준", "99_guard")]).write(out / "intake.csv", "a.zip")
    Intake([], [IntakeLine("이서연_99_guard.ipynb", "taken", "이서연", "99_guard")]).write(out / "intake.csv", "b.zip")
    add_extensions(out, [["김민준", "99_guard", "2d"]], lambda lesson: lesson)
    add_extensions(out, [["이서연", "99_guard", "1d"]], lambda lesson: lesson)
    files = {"grades.csv": ("student", "김민준"), "grades-by-student.csv": ("student", "이서연"),
             "intake.csv": ("source", "김민준"), "extensions.csv": ("student", "김민준"),
             "lms/canvas.csv": ("Student", "김민준"), "lms/moodle-99_guard.csv": ("Identifier", "이서연")}
    for name, (first, korean) in files.items():
        data = (out / name).read_bytes()
        assert data.startswith(bom) and data.count(bom) == 1, name
        text = data[len(bom):].decode("utf-8")                  # what Excel shows once it knows it is UTF-8
        assert text.startswith(first + ",") and korean in text, name
    with (out / "intake.csv").open(encoding="utf-8-sig") as f:
        intake = list(csv.DictReader(f))
    assert [(row["source"], row["student"]) for row in intake] == [("a.zip", "김민준"), ("b.zip", "이서연")]
    assert set(read_extensions(out)) == {("김민준", "99_guard"), ("이서연", "99_guard")}


def test_reports_name_each_student_beside_the_id(tmp_path):
    """grades-by-student.csv has a name column; the class report and flagged.md put the name beside the id; a Korean
    name reads family name first, unspaced; no name: the id alone."""
    from autograde.grade import GradeRow, write_flagged
    from autograde.report import lesson_page, person_name, write_wide_csv

    assert person_name("하은", "강") == "강하은" and person_name("Emma", "Smith") == "Emma Smith"
    assert person_name("", "Smith") == "Smith" and person_name(" ", "") == ""
    results = [{"student": sid, "lesson": "99_guard", "score": 0.0, "raw_score": 0.0, "status": "missing",
                "max_score": 5.0, "lesson_max_score": 5.0} for sid in ("2026008", "x9")]
    names = {"2026008": "강하은"}
    write_wide_csv(results, tmp_path / "wide.csv", {}, names)
    with (tmp_path / "wide.csv").open(encoding="utf-8-sig") as f:
        assert [(r["student"], r["name"]) for r in csv.DictReader(f)] == [("2026008", "강하은"), ("x9", "")]
    page = lesson_page("99_guard", results, names)
    assert "<b>2026008 (강하은)</b>" in page and "<b>x9</b>" in page
    write_flagged([GradeRow(r["student"], "99_guard", 0.0, 5.0, "missing") for r in results], tmp_path / "f.md", names)
    text = (tmp_path / "f.md").read_text(encoding="utf-8")
    assert "**2026008** (강하은) 99_guard: missing" in text and "**x9** 99_guard: missing" in text


def test_what_waits_for_grading_by_hand_is_listed_for_the_instructor_and_said_to_the_student(tmp_path):
    """An instructor's trial: a student handed in a new answer to a question graded by hand after it was graded;
    the gradebook marked it for a new look, but flagged.md said nothing was left and the student's page still said
    "1 / 1 graded by your instructor". An answer never graded by hand was not listed either. Now flagged.md lists
    what waits for a grade in formgrader, and the student's page says which grade is about the earlier notebook."""
    import warnings

    from nbgrader.api import Gradebook

    from autograde.grade import GradeRow, feedback_html, gradebook_marks, record, write_flagged

    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(url) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore")               # nbgrader's add_submission warns about autoflush
        gb.add_assignment("05_pooling")
        gb.add_notebook("05_pooling", "05_pooling")
        gb.add_grade_cell("why_pooling", "05_pooling", "05_pooling", max_score=1, cell_type="markdown")
        gb.add_solution_cell("why_pooling", "05_pooling", "05_pooling")
        gb.add_grade_cell("test_pool", "05_pooling", "05_pooling", max_score=2, cell_type="code")
    test = {"grade_id": "test_pool", "points": 2.0, "max_points": 2.0, "status": "pass", "message": ""}

    def graded(student: str, changed: bool = True) -> dict:
        result = {"student": student, "lesson": "05_pooling", "status": "graded", "tests": [dict(test)],
                  "score": 2.0, "flags": [], "detail": "", "notebook_changed": changed}
        record(url, result)
        return result

    results = {student: graded(student) for student in ("ann", "ben", "cat")}
    with Gradebook(url) as gb:                        # formgrader: ann's and cat's answers graded by hand
        for student in ("ann", "cat"):
            grade = gb.find_grade("why_pooling", "05_pooling", "05_pooling", student)
            grade.manual_score, grade.needs_manual_grade = 1.0, False
        gb.db.commit()
    results["ann"] = graded("ann", changed=True)      # ann hands in again: her answer waits for a new look
    results["cat"] = graded("cat", changed=False)     # cat's notebook is the one graded: nothing waits

    marks = gradebook_marks(url)
    assert marks[("ann", "05_pooling")]["pending"] == {"why_pooling": 1.0}
    assert marks[("ben", "05_pooling")]["pending"] == {"why_pooling": 1.0}
    assert marks[("cat", "05_pooling")]["pending"] == {}
    rows = [GradeRow(s, "05_pooling", 2.0, 3.0, "graded", [], "", 2.0, {}) for s in ("ann", "ben", "cat")]
    write_flagged(rows, tmp_path / "flagged.md", marks=marks)
    flagged = (tmp_path / "flagged.md").read_text(encoding="utf-8")
    assert "## Waiting for your grade in formgrader (2)" in flagged, flagged
    assert "- **ann** 05_pooling: `why_pooling` (changed since you graded it)" in flagged, flagged
    assert "- **ben** 05_pooling: `why_pooling`\n" in flagged, flagged
    assert "**cat**" not in flagged, flagged

    pages = {s: feedback_html(results[s], marks[(s, "05_pooling")]) for s in ("ann", "ben", "cat")}
    assert "on the notebook you handed in before; your new answer waits for their look" in pages["ann"]
    assert "waits for your instructor's grade" in pages["ben"] and "&ndash; / 1" in pages["ben"]
    assert "1 / 1</td><td>graded by your instructor</td>" in pages["cat"]
    assert "waits" not in pages["cat"]


def test_grades_csv_shows_times_to_the_second_and_a_page_without_tests_has_no_empty_table():
    """An instructor's trial: nbgrader's timestamp.txt with microseconds showed them in grades.csv (intake.csv shows
    none), and a missing submission's feedback page held a table of tests with its header only."""
    from autograde.grade import GradeRow, feedback_html

    late = {"submitted": "2026-03-09 01:00:00.123456 UTC", "due": "2026-03-09 00:00:00.5 UTC", "seconds_late": 3600.0,
            "how": "timestamp", "source": "timestamp.txt", "penalty": 0.0}
    row = GradeRow("ann", "03_padding_stride", 10.0, 17.0, "graded", ["late"], "", 10.0, late).csv_row()
    assert "2026-03-09 01:00:00 UTC" in row and "2026-03-09 00:00:00 UTC" in row, row
    assert not any(".123456" in cell or ":00.5 " in cell for cell in row), row

    missing = {"student": "ben", "lesson": "03_padding_stride", "status": "missing", "tests": [], "score": 0.0,
               "max_score": 17.0, "flags": [], "detail": "no notebook"}
    page = feedback_html(missing)
    assert "No notebook was found" in page and "<table" not in page, page
    # no test was run: the page does not speak of hidden checks (a class trial's page of a student who sent a .py)
    assert "Hidden checks" not in page and "check 03" in page, page
    graded = {**missing, "status": "graded", "tests": [{"grade_id": "test_same_padding", "points": 2.0,
                                                         "max_points": 2.0, "status": "pass", "message": ""}]}
    assert "<th>test</th>" in feedback_html(graded)


def test_a_submission_the_grader_could_not_grade_is_blank_not_a_zero_in_grades_by_student(tmp_path):
    """An instructor's trial: with kernels that could not start (the grading machine's fault), grades.csv said
    ``grader-error`` and lms/canvas.csv left the grade blank, but grades-by-student.csv (no status column) gave the
    student 0 and counted it in their total. It is blank there too until the next run grades it."""
    from autograde.report import write_lms_exports, write_wide_csv

    def result(student, lesson, score, status="graded"):
        return {"student": student, "lesson": lesson, "score": score, "raw_score": score, "status": status,
                "max_score": 5.0, "lesson_max_score": 5.0,
                "lms": {"system": "canvas", "id": {"kim": "1001", "lee": "1002"}[student], "name": student}}

    results = [result("kim", "01_history", 4.0), result("kim", "02_convolution", 0.0, "grader-error"),
               result("lee", "01_history", 0.0, "grader-error"), result("lee", "02_convolution", 0.0, "invalid-notebook")]
    write_wide_csv(results, tmp_path / "wide.csv", {})
    write_lms_exports(results, tmp_path / "lms", {})
    wide = {row["student"]: row for row in csv.DictReader((tmp_path / "wide.csv").open(encoding="utf-8-sig"))}
    canvas = {row["Student"]: row for row in csv.DictReader((tmp_path / "lms/canvas.csv").open(encoding="utf-8-sig"))}
    for table in (wide, canvas):
        assert (table["kim"]["02_convolution"], table["lee"]["01_history"], table["lee"]["02_convolution"]) == \
            ("", "", "0"), table
    assert (wide["kim"]["total"], wide["lee"]["total"]) == ("4", "0")


def test_a_feedback_page_the_grader_could_not_grade_shows_no_score_of_zero():
    """An instructor's trial: a kernel that could not start (the grading machine's fault) left the student's page
    reading 'Score: 0 / 12' and '0 / 2' for every test, over a grade of 11 the gradebook still kept. The page says
    it is not graded yet; a graded page is unchanged."""
    from autograde.grade import feedback_html

    tests = [{"grade_id": f"test_{i}", "status": "not-run", "points": 0.0, "max_points": 2.0,
              "message": "not run: the grader could not run the tests (not your mistake; your instructor will see why)"}
             for i in range(6)]
    page = feedback_html({"student": "2026002", "lesson": "01_history", "status": "grader-error", "score": 0.0,
                          "max_score": 12.0, "tests": tests, "flags": []})
    assert "Score: <b>not graded yet</b> (of 12)." in page and "0 / 12" not in page and "0 / 2" not in page
    assert page.count("<td>&ndash; / 2</td>") == 6 and "This is not your mistake" in page
    graded = [{**t, "status": "pass", "points": 2.0, "message": ""} for t in tests]
    page = feedback_html({"student": "2026001", "lesson": "01_history", "status": "graded", "score": 12.0,
                          "max_score": 12.0, "tests": graded, "flags": []})
    assert "Score: <b>12 / 12</b>." in page and page.count("<td>2 / 2</td>") == 6


def test_a_page_says_what_the_self_check_says_went_wrong_while_running_the_notebook():
    """An instructor's trial: a student whose notebook printed 50 MB was told nothing on their page (only the
    instructor's flagged.md said output-limit), while `autograde check` tells the learner the same run's problems
    (a cell stopped at its time limit, a kernel that died, a test cell edited, output dropped). The page says them,
    in the page's language, as the self-check does; the instructor's flags (tampering, duplicate) stay off it."""
    from autograde.check import PROBLEMS
    from autograde.grade import feedback_html

    tests = [{"grade_id": "test_a", "status": "pass", "points": 2.0, "max_points": 2.0, "message": ""}]
    result = {"student": "2026003", "lesson": "01_history", "status": "graded", "score": 2.0, "max_score": 2.0,
              "tests": tests, "flags": ["output-limit", "timeout", "tampering", "duplicate"]}
    page = feedback_html(result)
    assert "A cell printed more than the output limit; the rest was dropped." in page, page
    assert "A cell or a test ran past its time limit and was stopped: is there an endless loop?" in page, page
    assert "tampering" not in page and "duplicate" not in page and "grader&#x27;s machinery" not in page
    korean = feedback_html({**result, "language": "ko"})
    from cnnbook.i18n import translation
    said = translation(PROBLEMS["output-limit"], "ko")
    assert said != PROBLEMS["output-limit"] and said in korean, korean
    assert "output limit" not in korean
    assert "limit" not in feedback_html({**result, "flags": []})


@pytest.mark.parametrize("content, words", [
    (b"", "is empty"), (b"   \n", "is empty"),
    (b'{"cells": [{"cell_type": "code", "source": "x = 1"', "not a whole notebook"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "another kind of file"), (b'{"data": [1, 2]}', "another kind of file"),
    (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code", "source": "", '
     b'"metadata": {}, "execution_count": 1, "outputs": [' + b", ".join([b'{"output_type": "stream", "name": '
                                                                          b'"stdout", "text": "."}'] * 20_001)
     + b"]}]}", "Clear them")])
def test_a_file_that_is_no_notebook_gets_a_page_saying_what_is_wrong_with_it_in_every_language(tmp_path, content,
                                                                                                words):
    """An instructor's trial: a 0-byte upload's page said only "The file could not be read as a notebook", while
    flagged.md said it was empty (the upload or the save did not complete), and the page was in English for a
    Korean learner: nothing in an unreadable file says its language. The page says what is wrong with the file
    and what to do, in each language of the course."""
    from autograde.grade import feedback_html
    from autograde.runner import grade_submission

    path = tmp_path / "99_guard.ipynb"
    path.write_bytes(content)
    result = grade_submission({"student": "kim", "lesson": GUARD.slug, "solutions": str(GUARD.solutions),
                               "path": str(path)})
    assert result["status"] == "invalid-notebook", result
    page = feedback_html(result)
    assert words in page, page
    assert re.search("[가-힣]", page) and "<p class='detail' lang='ko'>제출한 파일" in page, page
    assert str(tmp_path) not in page


def test_a_korean_learners_feedback_page_reads_in_korean():
    """A learner's trial: the page of a Korean submission had its test messages in Korean and every word around
    them in English (Student / Status / Score, the table's headings, the verdicts, the late-work section, the
    closing advice). A result whose language is Korean gets the whole page in Korean, ``<html lang="ko">``; the
    instructor's things (flags, the result's detail) stay off it."""
    import re

    from autograde.grade import feedback_html

    late = {"submitted": "2026-03-09 01:00:00 UTC", "due": "2026-03-08 00:00:00 UTC", "seconds_late": 90000.0,
            "how": "timestamp", "source": "timestamp.txt", "penalty": 2.0, "extension": "48h",
            "policy": "1 point(s) per started day late"}
    tests = [{"grade_id": "test_max_pool", "status": "pass", "points": 6.0, "max_points": 6.0, "message": ""},
             {"grade_id": "test_stride", "status": "fail", "points": 0.0, "max_points": 2.0,
              "message": "stride=2일 때 출력 형태가 틀렸습니다"}]
    graded = {"student": "2026001", "lesson": "05_pooling", "status": "graded", "score": 6.0, "max_score": 8.0,
              "lesson_max_score": 9.0, "language": "ko", "flags": ["late", "slow-notebook"], "detail": "",
              "late": late, "tests": tests}
    marks = {"scores": {"answer_essay": (0.5, 1.0)}, "pending": {}, "comments": {"answer_essay": "좋아요"},
             "final": 4.5}
    not_run = "not run: the grader could not run the tests (not your mistake; your instructor will see why)"
    pages = {"graded": feedback_html(graded, marks, "김하늘"),
             "grader-error": feedback_html({**graded, "status": "grader-error", "late": {}, "flags": ["grader-error"],
                                            "detail": "Traceback (most recent call last): KernelDied",
                                            "tests": [{**t, "status": "not-run", "points": 0.0, "message": not_run}
                                                      for t in tests]}),
             "missing": feedback_html({**graded, "status": "missing", "tests": [], "late": {}, "detail": "no notebook",
                                       "handed_in": ["pool.py"]})}
    page = pages["graded"]
    for korean in ("학생: <b>김하늘 (2026001)</b>", "상태: <b>채점 완료</b>", "점수: <b>4.5 / 9</b>",
                   "(지각 감점: 6점에서 2점 감점)", "<th>테스트</th><th>점수</th><th>결과</th><th>테스트가 찾은 내용</th>",
                   "<td>통과</td>", "<td>실패</td>", "<pre>stride=2일 때 출력 형태가 틀렸습니다</pre>", "<h2>기한 후 제출</h2>",
                   "<th>제출 시각</th>", "(timestamp.txt 기준)", "기한 연장 48시간", "<th>늦은 시간</th><td>1일 1시간</td>",
                   "늦은 날마다(1일 미만도 1일로) 1점 감점", "<th>감점 후 점수</th>", "<td>강사가 채점함</td>",
                   "<h2>강사의 의견</h2>", "숨은 검사는", "<code>python -m autograde check 05 --lang ko</code> 명령으로"):
        assert korean in page, (korean, page)
    assert "<title>05_pooling: 김하늘 (2026001) 학생의 피드백</title>" in page
    # the lesson as the Korean notebook names it (a trial read only the slug there), the slug beside it
    assert "<h1>레슨 05 — 풀링, 빠른 합성곱, 그리고 역방향 패스 <small>(05_pooling)</small></h1>" in page, page
    page = pages["grader-error"]
    assert "상태: <b>채점기 오류</b>" in page and "점수: <b>아직 채점되지 않음</b> (9점 만점)" in page, page
    assert "채점기가 이 노트북을 채점하지 못했습니다" in page and page.count("<td>실행되지 않음</td>") == 2, page
    assert "실행되지 않음: 채점기가 테스트를 실행하지 못했습니다" in page and "KernelDied" not in page, page
    page = pages["missing"]
    assert "상태: <b>제출 없음</b>" in page and "이 레슨의 노트북을 찾지 못했습니다" in page and "pool.py" in page, page
    for kind, page in pages.items():
        assert '<html lang="ko">' in page, kind
        assert "slow-notebook" not in page and "flags" not in page, kind          # the instructor's, never here
        body = re.sub(r"<style>.*?</style>|<[^>]+>", " ", page, flags=re.S)
        for english in ("Student", "Status", "Score", "feedback for", "passed", "failed", "not run", "graded by",
                        "not graded", "Late", "Submitted", "Due", "penalty", "instructor", "Hidden checks", "Run ",
                        "on your notebook", "what the test found", "verdict", "points", "No notebook", "grader",
                        "day", "per started"):
            assert english not in body, (kind, english, body)
    # English stays the page of an English result (and of one that names no language)
    english = feedback_html({**graded, "language": "en"})
    assert '<html lang="en">' in english
    assert "<h1>Lesson 05 — Pooling, fast convolution, and backward passes <small>(05_pooling)</small></h1>" in english
    # (without the instructor's marks the hand-graded point waits: the status says so)
    assert "Student: <b>2026001</b>. Status: <b>graded automatically; the answers graded by hand wait</b>." in \
        feedback_html({**graded, "language": None})


def test_canvas_notes_name_a_grade_from_a_notebook_handed_in_to_another_assignment(tmp_path):
    """An instructor's trial: 강하은 uploaded her lesson 03 notebook to lesson 01's Canvas assignment. It is graded as
    lesson 03 (flag other-assignment), so lms/canvas.csv put 17 in lesson 03's column, where she handed in nothing,
    and canvas-notes.txt said nothing of it. The notes name it before the import."""
    from autograde.report import write_lms_exports

    def result(student, lesson, score, flags=()):
        return {"student": student, "lesson": lesson, "score": score, "raw_score": score, "status": "graded",
                "max_score": 5.0, "lesson_max_score": 5.0, "flags": list(flags), "origin": f"{student}_{lesson}.ipynb",
                "lms": {"system": "canvas", "id": {"kim": "1001", "kang": "1005"}[student], "name": student}}

    results = [result("kim", "01_history", 4.0), result("kang", "03_padding_stride", 5.0, ["other-assignment"])]
    write_lms_exports(results, tmp_path / "lms", {})
    notes = (tmp_path / "lms" / "canvas-notes.txt").read_text(encoding="utf-8")
    assert "kang 03_padding_stride: the grade in this lesson's column comes from a notebook handed in to another " \
           "Canvas assignment (kang_03_padding_stride.ipynb; flagged.md)" in notes and "kim" not in notes
    with (tmp_path / "lms" / "canvas.csv").open(encoding="utf-8-sig") as f:
        rows = {row["Student"]: row for row in csv.DictReader(f)}
    assert rows["kang"]["03_padding_stride"] == "5"                      # the grade itself is unchanged


def test_a_student_the_grader_could_not_grade_is_named_and_has_no_grade(tmp_path):
    """An instructor's trial: a student whose only notebook met a grading-machine failure (grader-error) had an empty
    name in grades-by-student.csv and flagged.md, though the roster named them: names came from the gradebook, which
    holds no entry for them (an entry would be a 0 in ``nbgrader export``). The reports name them from their
    results; the gradebook still has no entry."""
    from nbgrader.api import Gradebook

    from autograde.grade import rebuild_reports

    out = tmp_path / "out"
    (out / "results" / "2026011").mkdir(parents=True)
    (out / "results" / "2026011" / "05_pooling.json").write_text(json.dumps(
        {"student": "2026011", "lesson": "05_pooling", "status": "grader-error", "tests": [], "score": 0.0,
         "flags": [], "detail": "the kernel did not start", "lesson_max_score": 12.0,
         "person": {"first_name": "하은", "last_name": "강"}}), encoding="utf-8")
    url = f"sqlite:///{out / 'gradebook.db'}"
    with Gradebook(url) as gb:
        gb.add_assignment("05_pooling")
    rebuild_reports(out, names={})
    with (out / "grades-by-student.csv").open(encoding="utf-8-sig") as f:
        rows = [(r["student"], r["name"], r["05_pooling"], r["total"]) for r in csv.DictReader(f)]
    # and no 0 anywhere (a trial: the total said 0, flagged.md 'grader-error, 0/12'): nothing is graded yet
    assert rows == [("2026011", "강하은", "", "")], rows
    flagged = (out / "flagged.md").read_text(encoding="utf-8")
    assert "**2026011** (강하은) 05_pooling: grader-error, not graded yet (of 12)" in flagged, flagged
    assert "0/12" not in flagged, flagged
    with (out / "grades.csv").open(encoding="utf-8-sig") as f:
        rows = [(r["student"], r["status"], r["score"], r["max_score"], r["raw_score"]) for r in csv.DictReader(f)]
    assert rows == [("2026011", "grader-error", "", "12", "")], rows
    with Gradebook(url) as gb:
        assert gb.students == []


@pytest.mark.slow
def test_a_korean_feedback_page_keeps_its_words_whole_in_chromium(tmp_path):
    """A Korean learner's trial, in Debian's Chromium: beside a long message, the table's narrow columns broke Korean
    words between syllables ("점/수", "결/과", "통/과", "실/패", each on two lines) and the points ("0 /" over "2"). The
    headings and points keep to one line, and a Korean word is never split (word-break: keep-all); the page says
    how to run the self-check on the Korean edition (check 01 --lang ko: without it, check reads the English copy)."""
    from lab import CHROMIUM, CHROMIUM_ARGS

    from autograde.grade import feedback_html

    if not CHROMIUM:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    long = ("fc_weight_count(32, 32, 3, 10):\n  흔한 실수로 보입니다: 편향을 빠뜨림: 출력 10개는 각자 편향을 하나씩 가짐. "
            "기대한 값 30730, 받은 값 30720, 힌트: 입력 3,072개 × 출력 10개 = 가중치 30,720개, 여기에 출력마다 편향 하나. "
            "이 답의 코드가 쓰는 fc_input_size이(가) 자신의 테스트(test_fc_input_size)를 통과하지 못했습니다.")
    tests = [{"grade_id": "test_sort_events", "status": "pass", "points": 2.0, "max_points": 2.0, "message": ""},
             {"grade_id": "test_fc_weight_count", "status": "fail", "points": 0.0, "max_points": 2.0, "message": long}]
    page = feedback_html({"student": "김민준", "lesson": "01_history", "status": "graded", "score": 2.0,
                          "max_score": 4.0, "language": "ko", "flags": [], "detail": "", "tests": tests})
    assert "<code>python -m autograde check 01 --lang ko</code>" in page, page
    (tmp_path / "page.html").write_text(page, encoding="utf-8")
    lines_of = """els => els.map(el => {
        const range = document.createRange(); range.selectNodeContents(el);
        return [el.textContent.trim(), new Set([...range.getClientRects()].map(r => Math.round(r.top))).size];
    })"""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            view = browser.new_page(viewport={"width": 1000, "height": 800})
            view.goto((tmp_path / "page.html").as_uri())
            cells = view.eval_on_selector_all("th, td:nth-child(2), td:nth-child(3)", lines_of)
        finally:
            browser.close()
    assert {text for text, _ in cells} >= {"점수", "결과", "통과", "실패", "0 / 2"}, cells
    assert all(lines == 1 for _, lines in cells), cells


def test_a_notebook_is_read_for_its_edition_in_the_batchs_process_only_when_small(tmp_path):
    """A grader-error's page is in the notebook's language, read in the batch's own process (its worker died): a
    Korean notebook says ko; one past EDITION_READ_BYTES is not parsed there (a page in English, no 64 MiB parse)."""
    import nbformat

    from autograde.grade import EDITION_READ_BYTES, _notebook_edition

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nb.metadata["cnnbook"] = {"language": "ko"}
    small = tmp_path / "small.ipynb"
    nbformat.write(nb, small)
    assert _notebook_edition(small) == "ko"
    nb.cells.append(nbformat.v4.new_markdown_cell("가" * (EDITION_READ_BYTES // 3 + 1)))
    large = tmp_path / "large.ipynb"
    nbformat.write(nb, large)
    assert large.stat().st_size > EDITION_READ_BYTES and _notebook_edition(large) is None


def test_the_class_reports_median_is_the_median_of_an_even_class():
    """A class of six graded 10, 10, 10, 12, 12, 12 has the median 11: the report said 12 (the upper of the two
    middle scores), which an instructor reads as "most of the class got full marks" (found grading a Canvas class)."""
    from autograde.report import lesson_page

    def result(student, score):
        return {"student": student, "lesson": "01_history", "status": "graded", "score": score, "max_score": 12.0,
                "tests": [{"grade_id": "test_a", "status": "pass" if score == 12 else "fail", "points": score,
                           "max_points": 12, "message": ""}], "flags": []}

    even = [result(f"s{i}", score) for i, score in enumerate((12.0, 10.0, 12.0, 10.0, 12.0, 10.0))]
    assert "median automatic score 11." in lesson_page("01_history", even)
    assert "median automatic score 10." in lesson_page("01_history", even[1:])
    # and a student with no notebook is counted as one, not as a submission
    others = [{"student": "m", "lesson": "01_history", "status": "missing", "score": 0.0, "max_score": 12.0,
               "tests": [], "flags": []},
              {"student": "u", "lesson": "01_history", "status": "invalid-notebook", "score": 0.0, "max_score": 12.0,
               "tests": [], "flags": []}]
    assert "<p>8 students: 6 graded, 1 invalid-notebook, 1 missing; median automatic score 11." in \
        lesson_page("01_history", even + others)


def test_an_exercise_not_answered_reads_as_the_self_check_says_it_on_the_feedback_page():
    """A class trial (lesson 05): the page of a student who left exercises unanswered showed, for each, the stub's
    NotImplementedError and four lines of the test cell's code; the self-check says "not answered yet". The page
    says it too, in the notebook's language; an answer that calls an earlier unanswered one keeps its message."""
    from autograde.grade import feedback_html

    stub = ('conv_backward(...) raised NotImplementedError: Replace this line with your answer, then run the test '
            'cell below. (at line 10: raise NotImplementedError("Replace this line"))\n  Line 10 of the test cell:\n'
            '      check_own_work("conv_backward(dout (1, 2, 3, 3), ...)", conv_backward,')
    result = {"student": "ann", "lesson": "05_pooling", "status": "graded", "score": 0.0, "max_score": 6.0,
              "flags": [], "tests": [{"grade_id": "test_conv_backward", "points": 0.0, "max_points": 6.0,
                                      "status": "fail", "message": stub}]}
    page = feedback_html(result)
    assert "not answered yet: the answer cell still raises NotImplementedError." in page
    assert "Line 10 of the test cell" not in page and "check_own_work" not in page
    korean = feedback_html({**result, "language": "ko"})
    assert "아직 답하지 않았습니다" in korean and "check_own_work" not in korean
    uses = {**result["tests"][0], "uses_failed": "box_iou", "message": "nms(...) raised NotImplementedError: x"}
    assert "nms(...) raised NotImplementedError" in feedback_html({**result, "tests": [uses]})


def test_a_lessons_own_sentence_with_a_value_is_one_reason_in_both_editions():
    """An instructor's trial of lesson 09: a Korean learner's softmax overflow ("받은 값은 nan입니다. exp(1000)은
    ...", a lesson's f-string sentence) stood in the English class report in Korean, a reason apart from the same
    slip in English: a lesson's f-string sentences are read back into English too."""
    from cnnbook.i18n import LANGUAGES, _read_po
    from autograde.lessons import SOLUTIONS

    assert "ko" in LANGUAGES
    fstrings: dict[str, str] = {}
    _read_po(next(SOLUTIONS.glob("09_*/ko.po")), fstrings)
    english = "got {near_max!r}: exp(1000) overflows. Subtract each row's maximum before np.exp."
    korean = fstrings[english].replace("{near_max!r}", "nan")
    head = "softmax_cross_entropy([[1000, 999, 998]], [0]):\n  "
    assert failure_reason(head + korean) == failure_reason(head + english.replace("{near_max!r}", "nan")), \
        failure_reason(head + korean)


def _answers_result(out, student: str, lesson, nb, status: str = "graded", keep_digest: bool = True) -> None:
    """A graded result as the worker stores it, its answer digest from the notebook (nothing graded)."""
    from autograde.answers import notebook_answers

    result = {"student": student, "lesson": lesson.slug, "status": status, "tests": [], "score": 1.0, "flags": [],
              "detail": "", "lesson_max_score": 5.0}
    if keep_digest:
        result.update(notebook_answers(nb, lesson))
    (out / "results" / student).mkdir(parents=True, exist_ok=True)
    (out / "results" / student / f"{lesson.slug}.json").write_text(json.dumps(result), encoding="utf-8")


def _same_answers_lines(out) -> list[str]:
    flagged = (out / "flagged.md").read_text(encoding="utf-8")
    return [line for line in flagged.splitlines() if line.startswith("- ") and " answers the same" in line]


def test_flagged_md_lists_hand_ins_of_a_lesson_whose_answers_are_the_same(tmp_path):
    """An instructor's trial: a student who handed in a copy of a classmate's notebook got no note anywhere.
    flagged.md lists the hand-ins of a lesson whose every answer is the same, comments and spacing aside, in either
    edition; never untouched notebooks (their starting code is the same), never on a student's page."""
    from autograde.grade import rebuild_reports
    from autograde.lessons import all_lessons
    from conftest import answer_sources, korean_submission, solved_korean

    lesson = next(lesson for lesson in all_lessons() if lesson.slug == "03_padding_stride")
    answer = answer_sources(lesson)["output_size"]
    out = tmp_path / "out"
    _answers_result(out, "ann", lesson, solved(lesson))
    _answers_result(out, "bob", lesson, solved(lesson))
    # the same answers with a comment of its own and other blank lines, in the Korean edition
    _answers_result(out, "cho", lesson, solved_korean(lesson, {
        "output_size": answer.replace("\n", "\n\n", 1) + "  # 내 답\n"}))
    # one answer differs (every other the same)
    _answers_result(out, "dan", lesson, solved(lesson, {"output_size": answer.replace("+ 1", "+1 - 0")}))
    # two notebooks as released, in each edition, and one with an answer cell emptied
    _answers_result(out, "eve", lesson, submission(lesson))
    _answers_result(out, "fay", lesson, submission(lesson))
    _answers_result(out, "gus", lesson, korean_submission(lesson))
    _answers_result(out, "hal", lesson, submission(lesson, {"output_size": "  \n"}))
    # the same answers, handed in as a notebook that could not be read: no notebook, nothing said
    _answers_result(out, "ivy", lesson, solved(lesson), status="invalid-notebook")
    rebuild_reports(out, names={"bob": "Bob Lee"})
    assert _same_answers_lines(out) == ["- 03_padding_stride: 4 of 4 answers the same: ann, bob (Bob Lee), cho"]
    assert "## Same answers (1)" in (out / "flagged.md").read_text(encoding="utf-8")


def test_same_answers_need_a_digest_and_an_answer_other_than_the_starting_code(tmp_path):
    """Results graded before the digest was kept (no ``answer_digest``) take no part and break nothing; copies of
    one notebook answering three of four exercises and leaving the other as released are the same answers, and
    flagged.md says how many; the released code with a comment added is no answer, nor an earlier release's."""
    from autograde.grade import rebuild_reports
    from autograde.lessons import all_lessons, grade_cells
    from conftest import answer_sources

    lesson = next(lesson for lesson in all_lessons() if lesson.slug == "03_padding_stride")
    out = tmp_path / "out"
    _answers_result(out, "old1", lesson, solved(lesson), keep_digest=False)
    _answers_result(out, "old2", lesson, solved(lesson), keep_digest=False)
    rebuild_reports(out, names={})
    assert _same_answers_lines(out) == []
    three = {gid: text for gid, text in answer_sources(lesson).items() if gid != "same_padding"}
    assert len(three) == 3
    _answers_result(out, "kim", lesson, submission(lesson, three))
    _answers_result(out, "lee", lesson, submission(lesson, three))
    stub = nbformat.read(lesson.student_version, as_version=4)
    # the starting code with a comment of each one's (nbgrader's checksum no longer holds): no answer written
    released = grade_cells(stub)["same_padding"].source
    _answers_result(out, "moon", lesson, submission(lesson, {"same_padding": released + "\n# I will do this later"}))
    _answers_result(out, "nam", lesson, submission(lesson, {"same_padding": "# todo\n\n" + released}))
    _answers_result(out, "oh", lesson, submission(lesson))
    # an earlier release's starting code, as that release wrote it (nbgrader's checksum holds)
    from nbgrader.utils import compute_checksum

    earlier = submission(lesson, {**three,
                                  "same_padding": "# YOUR CODE HERE\nraise NotImplementedError('same_padding')"})
    cell = grade_cells(earlier)["same_padding"]
    cell.metadata.nbgrader["checksum"] = compute_checksum(cell)
    _answers_result(out, "pak", lesson, earlier)
    _answers_result(out, "qin", lesson, earlier)
    rebuild_reports(out, names={})
    # (pak and qin's same_padding is an earlier release's starting code: the same three answers as kim and lee)
    assert _same_answers_lines(out) == [
        "- 03_padding_stride: 3 of 4 answers the same (the other 1 as released or empty in each): kim, lee, pak, qin"]


def test_one_short_answer_written_alike_is_not_listed_as_the_same_answers(tmp_path):
    """A hostile review: two students who answered only one short exercise alike and left the rest untouched were
    listed as copies ("same answers in every exercise"). A group is listed only when its shared answers are at least
    half of the lesson's answer cells and at least 3 (all of them in a lesson with fewer); the section says so."""
    from autograde.answers import enough_shared
    from autograde.grade import rebuild_reports
    from autograde.lessons import all_lessons
    from conftest import answer_sources

    lesson = next(lesson for lesson in all_lessons() if lesson.slug == "09_losses_optimisers")
    sources = answer_sources(lesson)
    assert len(sources) == 9
    out = tmp_path / "out"
    for many, students in ((1, ("ahn", "baek")), (2, ("choi", "do")), (4, ("eom", "fu")), (5, ("gil", "han"))):
        chosen = dict(list(sources.items())[:many])
        for student in students:
            _answers_result(out, student, lesson, submission(lesson, chosen))
    rebuild_reports(out, names={})
    assert _same_answers_lines(out) == [
        "- 09_losses_optimisers: 5 of 9 answers the same (the other 4 as released or empty in each): gil, han"]
    flagged = (out / "flagged.md").read_text(encoding="utf-8")
    assert "at least half of the lesson's answer cells and at least 3" in flagged
    # the rule: at least half and at least 3, every one in a lesson of fewer
    assert [n for n in range(1, 10) if enough_shared(n, 9)] == [5, 6, 7, 8, 9]
    assert [n for n in range(1, 5) if enough_shared(n, 4)] == [3, 4]
    assert [n for n in range(1, 3) if enough_shared(n, 2)] == [2]


def test_answers_are_read_without_comments_or_spacing():
    from autograde.answers import normalised

    def code(text: str) -> str:
        return normalised(nbformat.v4.new_code_cell(text))

    assert code("def f(x):\n    return x+1  # add one\n") == code("def f(x):\n\n  # why\n  return x + 1")
    assert code("def f(x):\n    return x + 1") != code("def f(x):\n    return x + 2")
    assert code("x = '# not a comment'") != code("x = ''")
    assert code("x = (1,\n") == code("x = (1,   \n# open\n")        # not Python's: read line by line
    assert normalised(nbformat.v4.new_markdown_cell("Max  pooling\nkeeps edges. ")) == "Max pooling keeps edges."


def test_the_answer_digest_reads_only_the_lessons_own_answer_cells(monkeypatch):
    """A hostile review: the digest is made in the grading worker, outside the learner's limits, and read every cell
    with a grade_id and nbgrader's 'solution' mark. Cells of made-up grade_ids, each just under the length tokenize
    still reads (64 MiB holds 1,300 of them: two minutes of the worker's time), went through tokenize, and changed
    the digest, so a copy hid behind one added empty-looking cell. Only the lesson's own grade_ids are read now."""
    from autograde import answers
    from autograde.lessons import all_lessons

    lesson = next(lesson for lesson in all_lessons() if lesson.slug == "03_padding_stride")
    plain = solved(lesson)
    padded = solved(lesson)
    for i in range(20):
        cell = nbformat.v4.new_code_cell(f"x{i} = 1\n" * 10)
        cell.metadata["nbgrader"] = {"grade_id": f"made_up_{i}", "solution": True, "grade": False, "locked": False}
        padded.cells.append(cell)
    read = []
    normalised = answers.normalised
    monkeypatch.setattr(answers, "normalised", lambda cell: read.append(cell) or normalised(cell))
    expected = answers.notebook_answers(plain, lesson).get("answer_digest")
    read.clear()
    assert expected and answers.notebook_answers(padded, lesson).get("answer_digest") == expected
    assert not [cell for cell in read if "made_up" in str(cell.metadata.get("nbgrader", {}).get("grade_id"))]
