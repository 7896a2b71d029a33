"""The Korean edition (한국어판) stays in sync with the English source.

- every package message (checks, failure boxes, check, progress) has a current Korean translation;
- every lesson declared complete (``autograde.i18n.COMPLETE``) has a current translation of every entry;
- the catalogs hold exactly the English source's entries (``python -m autograde i18n update`` was run);
- the Korean notebooks have the English notebooks' cells, ids, nbgrader cells and code (only words differ),
  and are exactly what release makes of the committed English notebooks and catalogs;
- a changed English cell turns its translation stale, and a stale translation is not used;
- messages come out in Korean when the Korean edition runs.
"""
from __future__ import annotations

import contextlib
import os
import re
import io
import shutil
import sys
import types

import nbformat
import numpy as np
import pytest

from autograde.i18n import (COMPLETE, KIND_COMMENTS, LANGS, build_translations, catalog_path, coverage, current_translations,
                            entries, is_answer_cell, is_nbgrader_cell, package_coverage, read_catalog, same_code, translate_code,
                            translated_path, update_catalog, TranslationProblem)
from autograde.lessons import NOTEBOOKS, Lesson
from cnnbook import i18n
from conftest import LESSONS

TRANSLATED = [(lesson, lang) for lesson in LESSONS for lang in LANGS if catalog_path(lesson, lang).is_file()]
DECLARED = [(lesson, lang) for lesson, lang in TRANSLATED if lesson.slug in COMPLETE.get(lang, set())]


def _ids(pairs):
    return [f"{lesson.slug}-{lang}" for lesson, lang in pairs]


@pytest.fixture
def korean():
    """The Korean edition as a notebook has it: Korean messages, and Hangul in figures drawn with a Korean font
    (cnnbook does that on import inside IPython; the tests run outside it)."""
    import matplotlib

    from cnnbook.plotting import korean_fallback

    families = matplotlib.rcParams["font.family"]
    i18n.set_language("ko")
    korean_fallback()
    yield
    i18n.set_language(None)
    matplotlib.rcParams["font.family"] = families


def test_every_package_message_has_a_current_korean_translation():
    total, left = package_coverage("ko")
    assert total > 50
    assert not left, ("messages without a current Korean translation (run `python -m autograde i18n update`, "
                      "then translate cnnbook/locale/ko/LC_MESSAGES/cnnbook.po):\n" + "\n".join(left))


def test_lessons_01_and_02_at_least_are_translated():
    assert {"01_history"} <= COMPLETE["ko"]
    assert any(lesson.slug == "01_history" for lesson, _ in DECLARED)


@pytest.mark.parametrize("lesson,lang", DECLARED, ids=_ids(DECLARED))
def test_declared_lessons_are_completely_and_currently_translated(lesson, lang):
    report = coverage(lesson, lang)
    assert not report.problems, report.problems
    assert report.current == report.total, (
        f"{lesson.slug} ({lang}) is declared complete, but {report.stale} entries are stale (the English changed) "
        f"and {report.missing} have no translation: translate the fuzzy/empty entries of {catalog_path(lesson, lang)} "
        "(`python -m autograde i18n coverage` shows the table), or take the lesson out of autograde.i18n.COMPLETE")


@pytest.mark.parametrize("lesson,lang", TRANSLATED, ids=_ids(TRANSLATED))
def test_catalogs_hold_the_english_sources_entries(lesson, lang):
    catalog = read_catalog(catalog_path(lesson, lang), lang)
    have = {(m.context or "", m.id) for m in catalog if m.id}
    want = {(e.context, e.msgid) for e in entries(nbformat.read(lesson.source, as_version=4))}
    assert have == want, (f"{catalog_path(lesson, lang)} is out of date with the English source: run "
                          f"`python -m autograde i18n update {lesson.number}` (new: {len(want - have)}, "
                          f"gone: {len(have - want)})")
    for message in catalog:
        if message.id and message.string and not message.fuzzy:
            assert "{" not in message.id or _fields(message.id) == _fields(str(message.string)) or \
                message.auto_comments in (["markdown cell"], [KIND_COMMENTS["answer"]]), (message.context, message.id)
            # (a docstring is never an f-string: its braces are text, like a markdown cell's)


def _fields(text):
    import re

    return sorted(re.findall(r"\{[^{}]*\}", text))


@pytest.mark.parametrize("lesson,lang", TRANSLATED, ids=_ids(TRANSLATED))
def test_translated_notebook_has_the_english_code_cells_and_grading_metadata(lesson, lang):
    english = nbformat.read(lesson.student_version, as_version=4)
    path = translated_path(NOTEBOOKS, lang, lesson.slug)
    assert path.is_file(), f"{path} is missing: run `python -m autograde release`"
    other = nbformat.read(path, as_version=4)
    assert [(c.get("id"), c.cell_type) for c in other.cells] == [(c.get("id"), c.cell_type) for c in english.cells]
    for a, b in zip(english.cells, other.cells):
        if is_answer_cell(a):       # the exercise's statement and the stub translated, the code the same
            from nbgrader.utils import compute_checksum

            assert same_code(a.source, b.source), f"{lesson.slug}/{lang}: answer cell {a.get('id')} changed code"
            assert b.metadata.nbgrader["checksum"] == compute_checksum(b)
            assert {**a.metadata.nbgrader, "checksum": ""} == {**b.metadata.nbgrader, "checksum": ""}
            assert "YOUR CODE HERE" not in b.source or "NotImplementedError(\"Replace" not in b.source
            continue
        if is_nbgrader_cell(a) or a.cell_type == "code":
            assert a.metadata == b.metadata, f"{lesson.slug}/{lang}: cell {a.get('id')} metadata differs"
        if is_nbgrader_cell(a):
            assert a.source == b.source, f"{lesson.slug}/{lang}: nbgrader cell {a.get('id')} differs"
        elif a.cell_type == "code":
            assert same_code(a.source, b.source), \
                f"{lesson.slug}/{lang}: code cell {a.get('id')} differs in more than the words of its strings"
    meta = {k: v for k, v in other.metadata.items() if k != "cnnbook"}
    assert meta == english.metadata
    assert other.metadata["cnnbook"]["language"] == lang


def test_translated_notebooks_are_what_release_makes(tmp_path):
    """The committed notebooks/ko/ is what release builds from the committed English notebooks and catalogs
    (tests/test_notebooks.py checks the English ones against nbgrader)."""
    lessons = [lesson for lesson, _ in TRANSLATED]
    made = build_translations(lessons, tmp_path, NOTEBOOKS)
    committed = {p.relative_to(NOTEBOOKS).as_posix() for lang in LANGS for p in (NOTEBOOKS / lang).rglob("*.ipynb")}
    assert {k for k in made if k.endswith(".ipynb")} == committed, "notebooks/<lang>/ holds other lessons than the catalogs: run release"
    assert {k for k in made if k.endswith(".po")} == \
        {p.relative_to(NOTEBOOKS).as_posix() for lang in LANGS for p in (NOTEBOOKS / lang).rglob("*.po")}
    for key, path in made.items():
        assert path.read_bytes() == (NOTEBOOKS / key).read_bytes(), \
            f"notebooks/{key} is out of date with its catalog: run `python -m autograde release`"


def test_release_ships_no_lesson_catalog_only_the_learners_catalogs():
    """solutions/NN_slug/ko.po quotes hidden tests' hints and is never released; release writes one learner's
    catalog per translated lesson (notebooks/<lang>/NN_slug/checks.po), and nothing else."""
    released = {p.relative_to(NOTEBOOKS).as_posix() for p in NOTEBOOKS.rglob("*.po")}
    assert released == {f"{lang}/{lesson.slug}/checks.po" for lesson, lang in TRANSLATED}, \
        "release wrote other catalogs than the learners' (or not all of them): run release"


def _strings(code: str) -> set[str]:
    """Every string constant of a piece of code (an f-string's constant parts included), and every f-string's
    text as written between its quotes (fields included: a check's name written as an f-string is a catalog
    entry of that form)."""
    import ast
    import re
    import textwrap

    code = textwrap.dedent(code)
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    out = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    piece = re.compile(r"[a-zA-Z]*(\"\"\"|'''|\"|')(.*?)\1", re.S)
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            segment = ast.get_source_segment(code, node) or ""
            out.add("".join(body for _, body in piece.findall(segment)))
    return out


def _hidden_regions(source: str) -> list[str]:
    import re

    return re.findall(r"BEGIN HIDDEN TESTS[^\n]*\n(.*?)[^\n]*END HIDDEN TESTS", source, flags=re.S)


def _visible_strings() -> set[str]:
    """Every string constant of every released notebook's code: what any learner can read anyway."""
    return set().union(*[_strings(c.source) for lesson in LESSONS
                         for c in nbformat.read(lesson.student_version, as_version=4).cells if c.cell_type == "code"])


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.slug for lesson in LESSONS])
def test_learner_catalogs_hold_no_sentence_of_a_hidden_test_only(lesson):
    """Scan every hidden part of the lesson's test cells: none of its strings that no released notebook also
    shows is in any released catalog, in English or in its translation (a whole msgid or msgstr)."""
    from babel.messages.pofile import escape

    from autograde.i18n import hidden_only_sentences

    source = nbformat.read(lesson.source, as_version=4)
    visible = _visible_strings()
    hidden = set()
    for cell in source.cells:
        if cell.cell_type == "code":
            for region in _hidden_regions(cell.source):
                hidden |= {text for text in _strings(region) - visible if len(text.split()) >= 3}
    assert hidden, f"{lesson.slug}: no hidden test sentence found (the scan is broken)"
    # the module's own account (what it keeps out of checks.po) agrees with this independent scan
    assert {t for t in hidden_only_sentences(source) - visible if len(t.split()) >= 3} <= hidden
    catalogs = [read_catalog(p, lang) for lang in LANGS for p in NOTEBOOKS.glob(f"{lang}/*/checks.po")]
    assert catalogs
    shown = {str(m.id) for c in catalogs for m in c if m.id} | {str(m.string) for c in catalogs for m in c if m.id}
    raw = "\n".join(p.read_text(encoding="utf-8") for p in NOTEBOOKS.rglob("*.po"))
    translations = {}
    for lang in LANGS:
        if catalog_path(lesson, lang).is_file():
            full = current_translations(read_catalog(catalog_path(lesson, lang), lang))
            translations.update({english: korean for (_, english), korean in full.items()})
    visible_translations = {translations[t] for t in visible if t in translations}
    leaked = [t for t in sorted(hidden) if t in shown or escape(t) in raw]
    leaked += [f"{t!r} as {translations[t]!r}" for t in sorted(hidden)
               if t in translations and translations[t] not in visible_translations
               and (translations[t] in shown or escape(translations[t]) in raw)]
    assert not leaked, f"{lesson.slug}: a released catalog quotes a hidden test: {leaked[:5]}"


def test_learner_catalog_has_the_visible_checks_sentences():
    lesson = next(lesson for lesson, lang in DECLARED if lesson.slug == "01_history")
    catalog = read_catalog(NOTEBOOKS / "ko" / lesson.slug / "checks.po", "ko")
    table = {str(m.id): str(m.string) for m in catalog if m.id}
    assert table["the colour channels were forgotten (32 * 32)"] == "색 채널을 빠뜨림 (32 * 32)"
    assert "newest first: the order is reversed" in table
    assert all(m.string for m in catalog if m.id) and all(m.auto_comments for m in catalog if m.id)


@pytest.mark.slow
def test_a_learner_without_solutions_gets_korean_hints_from_the_visible_checks(tmp_path):
    """The student bundle (no solutions/, so no lesson catalog): a Korean notebook with a wrong answer, checked
    with ``check --lang ko`` in the bundle, says what is wrong in Korean."""
    import importlib
    import os
    import subprocess
    import sys

    from autograde.lessons import grade_cells
    from autograde.package import build

    bundle = build(tmp_path / "students")
    assert not (bundle / "solutions").exists() and (bundle / "notebooks/ko/01_history/checks.po").is_file()
    bug = importlib.import_module("fixtures.01_history").BUGS[1]
    assert bug["cell"] == "fc_input_size"
    nb = nbformat.read(bundle / "notebooks/ko/01_history/01_history.ipynb", as_version=4)
    [cell] = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "fc_input_size"]
    cell.source = bug["source"]
    mine = bundle / "mine.ipynb"
    nbformat.write(nb, mine)
    assert "test_fc_input_size" in grade_cells(nb)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CNNBOOK_LANG", "JPY_SESSION_NAME")}
    env["PYTHONPATH"] = str(bundle)          # the bundle's own code, not the project's
    proc = subprocess.run([sys.executable, "-m", "autograde", "check", "1", str(mine), "--lang", "ko"], cwd=bundle,
                          env=env, capture_output=True, text=True, timeout=600)
    out = proc.stdout
    assert "보이는 테스트" in out, proc.stdout + proc.stderr      # the visible tests only: no solutions/ here
    assert "흔한 실수로 보입니다: 색 채널을 빠뜨림 (32 * 32)." in out, out
    assert "힌트: 평탄화는 이미지의 모든 수를 그대로 둡니다" in out, out
    assert "Flattening keeps" not in out and "colour channels were forgotten" not in out


def test_a_changed_english_cell_turns_its_translation_stale(tmp_path):
    lesson = next(lesson for lesson, lang in DECLARED)
    copy = tmp_path / "solutions" / lesson.slug
    copy.mkdir(parents=True)
    shutil.copy(lesson.source, copy / lesson.source.name)
    shutil.copy(catalog_path(lesson, "ko"), copy / "ko.po")
    moved = Lesson(lesson.slug, tmp_path / "solutions")
    nb = nbformat.read(moved.source, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "markdown" and not is_nbgrader_cell(c))
    old_text = cell.source
    cell.source = old_text.replace("#", "# Changed:", 1)
    nbformat.write(nb, moved.source)
    update_catalog(moved, "ko")
    catalog = read_catalog(catalog_path(moved, "ko"))
    message = catalog.get(cell.source, context=cell.id)
    assert message is not None and message.fuzzy
    assert message.string == current_translations(read_catalog(catalog_path(lesson, "ko")))[(cell.id, old_text)]
    report = coverage(moved, "ko")
    assert (report.stale, report.missing, report.current) == (1, 0, report.total - 1)
    assert (cell.id, cell.source) not in current_translations(catalog)     # so the notebook keeps the English


def test_a_translation_may_not_change_the_code():
    table = {("c", "n = {n}"): "개수 = {n + 1}"}
    with pytest.raises(TranslationProblem):
        translate_code('print(f"n = {n}")', "c", table)
    assert translate_code('print(f"n = {n}")', "c", {("c", "n = {n}"): "{n}개"}) == 'print(f"{n}개")'
    assert not same_code('print("a")', 'print("a"); import os')
    assert same_code('ax.set_title(f"x {a} y {b}")', 'ax.set_title(f"{b} 그리고 {a}")')


def test_adjacent_literals_desc_and_markdown_are_one_entry_each():
    from autograde.i18n import visible_literals

    source = ('print(f"{n} windows of {f}x{f} "\n'
              '      "with {braces} kept",\n'
              '      sep="")\n'
              'for _ in tqdm(range(3), desc="training"):\n'
              '    pass\n'
              'display(Markdown(f"**In this run:** {n:,} "\n'
              '                 f"steps"))\n'
              'print("left " # a comment between the pieces\n'
              '      "alone")\n'
              "print('mixed ' \"quotes\")\n")
    bodies = [lit.body for lit in visible_literals(source)]
    assert bodies == ["{n} windows of {f}x{f} with {{braces}} kept", "training", "**In this run:** {n:,} steps"]
    table = {("c", bodies[0]): "{f}x{f} 창 {n}개, {{braces}} 유지", ("c", "training"): "학습",
             ("c", bodies[2]): "**이번 실행에서:** {n:,} 스텝"}
    korean = translate_code(source, "c", table)
    assert same_code(source, korean)
    assert 'print(f"{f}x{f} 창 {n}개, {{braces}} 유지",\n      sep="")' in korean
    assert 'desc="학습"' in korean and 'Markdown(f"**이번 실행에서:** {n:,} 스텝"))' in korean
    assert '"left " # a comment between the pieces' in korean
    with pytest.raises(TranslationProblem):
        translate_code(source, "c", {("c", bodies[0]): "{n} 창 {g}"})


def test_the_notebook_path_chooses_korean(monkeypatch):
    monkeypatch.delenv("CNNBOOK_LANG", raising=False)
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/me/course/my-work/ko/01_history/01_history.ipynb")
    assert i18n.language() == "ko"
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/me/course/my-work/01_history/01_history.ipynb")
    assert i18n.language() == "en"
    monkeypatch.setenv("CNNBOOK_LANG", "ko")
    assert i18n.language() == "ko"


def test_a_korean_notebook_saved_outside_a_ko_folder_still_runs_in_korean(monkeypatch, tmp_path):
    """A learner who saved the Korean edition as lesson9/my_try.ipynb read every check in English (a learner's
    trial): the notebook's own metadata, which every translated edition carries, names the edition."""
    import shutil

    from autograde.lessons import NOTEBOOKS

    monkeypatch.delenv("CNNBOOK_LANG", raising=False)
    monkeypatch.setattr(i18n, "_chosen", None)
    mine = tmp_path / "lesson9" / "my_try.ipynb"
    mine.parent.mkdir()
    shutil.copy(NOTEBOOKS / "ko" / "09_losses_optimisers" / "09_losses_optimisers.ipynb", mine)
    monkeypatch.setenv("JPY_SESSION_NAME", str(mine))
    assert i18n.language() == "ko"
    english = tmp_path / "lesson9" / "english.ipynb"
    shutil.copy(NOTEBOOKS / "09_losses_optimisers" / "09_losses_optimisers.ipynb", english)
    monkeypatch.setenv("JPY_SESSION_NAME", str(english))
    assert i18n.language() == "en"
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "gone.ipynb"))      # not on disk (yet): English
    assert i18n.language() == "en"


def test_failed_checks_explain_in_korean(korean):
    from cnnbook.checks import CheckFailed, check_array, check_value, hidden_case, is_slip_line, passed
    from cnnbook.feedback import check_failed_box

    with pytest.raises(CheckFailed) as err:
        check_array("f(x)", np.array([2, 1]), np.array([1, 2]), mistakes={"newest first: the order is reversed":
                                                                           np.array([2, 1])},
                    hint="Sort by the year only; Python's sorted keeps equal keys in their original order.")
    text = str(err.value)
    assert "흔한 실수로 보입니다: 최신 것이 먼저 옴" in text          # the slip, through lesson 01's catalog
    assert "힌트: 연도만으로 정렬하세요" in text
    assert is_slip_line(err.value.lines[0])
    box = "".join(check_failed_box(err.value))
    assert "검사 실패: f(x)" in box and "위 셀의 답을 고치고" in box
    with pytest.raises(CheckFailed) as err:
        check_value("g()", 3, 4)
    assert "기대한 값: 4" in str(err.value) and "받은 값:" in str(err.value)
    with pytest.raises(CheckFailed) as err, hidden_case("the channels were forgotten"):
        check_value("g()", 3, 4)
    assert err.value.hidden_case == "채널을 빠뜨림"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        passed("g")
    assert out.getvalue().strip() == "✔ g: 보이는 검사를 모두 통과했습니다."


def test_english_stays_english():
    from cnnbook.checks import CheckFailed, check_value

    i18n.set_language("en")
    try:
        with pytest.raises(CheckFailed) as err:
            check_value("g()", 3, 4, hint="Sort by the year only; Python's sorted keeps equal keys in their original order.")
        assert "expected 4" in str(err.value) and "Hint: Sort by the year only" in str(err.value)
    finally:
        i18n.set_language(None)


def test_hidden_feedback_in_korean(korean):
    from autograde.judge import _explain
    from cnnbook.checks import CheckFailed, check_value, hidden_case

    with pytest.raises(CheckFailed) as err, hidden_case("the channels were forgotten"):
        check_value("g(<secret>)", 3, 4, mistakes={"the sizes were added instead of multiplied": 3},
                    hint="Multiply the ints directly; avoid / (which makes a float).")
    text = _explain(err.value, True, "fc_input_size")
    assert text.splitlines()[0] == "fc_input_size: 숨은 검사 하나가 실패했습니다 (채널을 빠뜨림)."
    assert "흔한 실수로 보입니다: 크기를 곱하지 않고 더함." in text and "힌트: int를 그대로 곱하세요" in text
    assert "secret" not in text and "4" not in text.replace("fc_input_size", "")
    # a hidden helper's own `raise CheckFailed(..., hint=...)` (lesson 03's zero_pad helper) skips the check
    # functions: its hint was shown in English in the Korean edition (a learner's trial)
    with pytest.raises(CheckFailed) as err, hidden_case("the channels were forgotten"):
        raise CheckFailed("g(<secret>) raised ValueError", what="g(<secret>)",
                          hint="Multiply the ints directly; avoid / (which makes a float).")
    text = _explain(err.value, True, "fc_input_size")
    assert "힌트: int를 그대로 곱하세요" in text and "Multiply" not in text and "secret" not in text


def test_coverage_command_prints_a_table(capsys):
    from autograde.__main__ import main

    assert main(["i18n", "coverage", "01", "02"]) == 0
    out = capsys.readouterr().out
    assert "01_history" in out and "02_convolution" in out and "declared complete" in out
    assert "package messages" in out


def test_korean_figure_text_is_drawn_with_a_korean_font(recwarn, caplog):
    """Every translated string of a code cell (titles, labels, legends, printed lines) draws without a missing
    glyph once ``import cnnbook`` has added the installed Korean font in the Korean edition (CI installs
    fonts-noto-cjk), math titles too: mathtext draws the words outside the dollars with the first font family
    only, and says so in a log message (not a warning) when a glyph is missing."""
    import logging

    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    from cnnbook.i18n import set_language
    from cnnbook.plotting import korean_fallback

    before = matplotlib.rcParams["font.family"]
    set_language("ko")
    try:
        assert korean_fallback() is not None, "no Korean font installed: apt-get install fonts-noto-cjk"
        texts = [str(m.string) for lesson, lang in TRANSLATED if lang == "ko"
                 for m in read_catalog(catalog_path(lesson, lang), lang)
                 if m.id and m.string and "string in a code cell" in m.auto_comments]
        assert len(texts) > 100
        math = [text for text in texts if text.count("$") >= 2 and "{" not in text.replace("$", "").split("$")[0]]
        assert any(any("\uac00" <= ch <= "\ud7a3" for ch in text) for text in math), "no Korean math title left"
        fig, ax = plt.subplots()
        for i in range(0, len(texts), 40):
            ax.set_title("\n".join(texts[i:i + 40]).replace("$", ""))
            fig.canvas.draw()
        with caplog.at_level(logging.WARNING, logger="matplotlib"):
            for text in math:
                ax.set_title(text)
                try:
                    fig.canvas.draw()
                except ValueError:           # an f-string's text with {fields} is not always valid mathtext
                    pass
        plt.close(fig)
        missing = [str(w.message) for w in recwarn if "missing from font" in str(w.message)]
        missing += [r.getMessage() for r in caplog.records if "does not have a glyph" in r.getMessage()]
        assert not missing, missing[:5]
    finally:
        set_language(None)
        matplotlib.rcParams["font.family"] = before


def test_the_stub_words_are_nbgrader_configs_and_korean_answers_keep_their_grade_ids():
    """The stub release translates is the one nbgrader writes; a Korean answer cell is found by grade_id, so a
    learner's answer replaces the Korean stub exactly as it replaces the English one."""
    from autograde.i18n import STUB_WORDS, code_stub, translated_stub
    from autograde.lessons import grade_cells
    from conftest import answer_sources

    assert all(words in code_stub() for words in STUB_WORDS)
    korean_stub = translated_stub("ko")
    assert "이 줄을 여러분의 답으로 바꾼" in korean_stub and same_code(code_stub(), korean_stub)
    for lesson, lang in DECLARED:
        english = grade_cells(nbformat.read(lesson.student_version, as_version=4))
        other = grade_cells(nbformat.read(translated_path(NOTEBOOKS, lang, lesson.slug), as_version=4))
        answers = {gid for gid, c in english.items() if is_answer_cell(c)}
        assert answers == {gid for gid, c in other.items() if is_answer_cell(c)}
        assert set(answer_sources(lesson)) <= answers
        if lesson.slug != "08_transfer":             # its catalog is updated with the lesson's own edits
            assert all("NotImplementedError(\"Replace" not in other[gid].source for gid in answers), lesson.slug


def test_summary_speaks_korean(korean):
    import torch.nn as nn

    from cnnbook.summary import format_summary, summarize

    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(5, 2))
    with pytest.raises(ValueError) as err:
        summarize(model, (1, 6, 6))
    assert "층 '2' (Linear)는 샘플마다 숫자 5개를 받는데 32개가 들어옵니다" in str(err.value), str(err.value)
    with pytest.raises(ValueError) as err:
        summarize(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Linear(5, 2)), (1, 6, 6))
    assert "평탄화가 빠졌습니다" in str(err.value), str(err.value)
    table = format_summary(summarize(nn.Sequential(nn.Conv2d(1, 2, 3)), (1, 6, 6)))
    assert "층" in table and "출력 형태" in table and "합계" in table


def test_check_names_in_words_are_entries_and_code_names_are_not():
    from autograde.i18n import check_entries, is_natural_name

    assert is_natural_name("the final weights") and is_natural_name("parameters of AlexNet({n_classes})")
    assert is_natural_name("x after conv2d (it must stay unchanged)")
    # a call followed by words: the words are translated around the call (the learner saw these in English)
    for words in ("conv_params(5, 3, 10) returns an int", "AlexNet(): the logits for a batch of 2 images",
                  "pool2d_forward(x 1x1x7x7, 3, 2, 'max')   (windows overlap)",
                  "AlexNet({n_classes}): every layer (layer, output shape, parameters)"):
        assert is_natural_name(words), words
    # two names joined by "and", a name followed by words in parentheses (also seen in English in the Korean edition)
    for words in ("corners_to_centres and centres_to_corners", "precision_recall and average_precision",
                  "who_did_it (form only: the facts are checked when graded)"):
        assert is_natural_name(words), words
    # a function's name or a number followed by words, a call whose arguments are described in words (a Korean
    # learner read "box_iou(a box, three boxes that do not touch it)" and "cosine_lr returns a Python float")
    for words in ("cosine_lr returns a Python float", "l2_penalty with strength 0", "25 Adam steps on {shape}",
                  "adagrad_update: the third weight did not move", "box_iou(a box, three boxes that do not touch it)",
                  "nms(<no boxes>)", "dead_relu_fraction(<torch tensor 64x16>)", "pool2d_forward(int x, 2, 2, 'max')",
                  "detection_loss(<random batch of {n}, grid {grid}, {k} classes>)", "box_iou(<2 boxes>, x)",
                  "nms(<21 boxes apart, 20 of them with equal scores>, 0.5)"):
        assert is_natural_name(words), words
    # what a call returns, indexed or read, then words (lesson 03's corner check stayed English in Korean)
    for words in ("conv2d(x, w, b, 1, 2)[0, 7, 0, 0]   (a corner: half the window is padding)",
                  "avgpool_backward(...)[:, :, 2, :]   (row 2 lies in no window when s = 3 > f = 2)",
                  "l2_penalty(...)[1] is a list with one gradient per weight array", "f(x).shape is not 3-D"):
        assert is_natural_name(words), words
    for code in ("pool2d_forward(x, 2, 2, 'max')", "nms", "{call} returns an int", "w - lr * gradient vs SGD",
                 "box_iou vs torch ops", "f(lambda x y)", "nms(x, 0.5)", "25 + 2", "sort(x)[1:4]", "f(2 if a else b)",
                 "dead_relu_fraction(<1 x 4>)",
                 "7 + 2*same_padding({f}) - {f} + 1", "f(x) = 3", "box_iou(a, b)[0, 1]",
                 "box_iou and nms(x)", "box_iou and 2", "box_iou (x)", "box_iou (x + 1)", "box_iou (a b) c"):
        assert not is_natural_name(code), code
    cell = ('check_value("the final bias", b, 0)\ncheck_array("conv2d(x, w)", y, z)\n'
            'check_value(f"parameters of vgg_stage({c_in}, {n})", p, q, hint="Count the biases.")\n'
            'check_value(f"conv_params{args}", p, q)\npassed("the whole table")\n'
            'check_true("x", ok, f"got {got!r}: exp(1000) overflows", hint=f"Use {n} steps.")\n')
    assert check_entries(cell) == [("the final bias", False), ("parameters of vgg_stage({c_in}, {n})", True),
                                   ("Count the biases.", False), ("the whole table", False),
                                   ("got {got!r}: exp(1000) overflows", True), ("Use {n} steps.", True)]


def test_a_check_name_kept_in_a_variable_is_an_entry():
    """Lesson 03 kept '(a stride that does not fit)' in `call = "..."` and passed `call` to its checks: the Korean
    edition showed it in English (a learner's trial). A string assigned to a name that a check takes as its name is
    that check's name (in words: an entry; code: not); other assignments are not."""
    from autograde.i18n import check_entries

    cell = ('call = "conv2d(x 1x1x7x7, k, b, stride=3)   (a stride that does not fit)"\n'
            'check_true(call, ok, "why")\n'
            'what = f"replace_head(a network with head nn.Linear({n}, 5), {k})"\n'
            'check_value(what, 1, 1)\n'
            'code = "conv2d(x, w)"\ncheck_array(code, y, z)\n'
            'unused = "a sentence nobody checks"\nprint(unused)\n')
    assert check_entries(cell) == [("conv2d(x 1x1x7x7, k, b, stride=3)   (a stride that does not fit)", False),
                                   ("why", False),
                                   ("replace_head(a network with head nn.Linear({n}, 5), {k})", True)]


def test_either_sentence_of_a_conditional_is_an_entry_and_no_sentence_is_built_with_plus():
    """Lesson 04 built "expected tuples (like array.shape), got " + ", ".join(...): no entry, so the Korean edition
    showed it in English, or worse, through another lesson's f-string entry. A sentence is one literal or f-string,
    or either of `a if c else b` (each is shown whole); no test cell builds one with +, whose pieces are never shown
    alone."""
    import ast

    from autograde.i18n import TEST_KEYWORDS, TYPE_WORDS, check_entries

    cell = 'check_true("x", ok, f"got {a!r}. Did you mean {b!r}?" if b else f"got {a!r}.", hint="h" if c else "i")\n'
    assert check_entries(cell) == [("got {a!r}. Did you mean {b!r}?", True), ("got {a!r}.", True), ("h", False),
                                   ("i", False)]
    built = []
    for lesson in LESSONS:
        for cell in nbformat.read(lesson.source, as_version=4).cells:
            if not (cell.metadata.get("nbgrader") or {}).get("grade"):
                continue
            for node in ast.walk(ast.parse(cell.source)):
                if not isinstance(node, ast.Call):
                    continue
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                said = [kw.value for kw in node.keywords if kw.arg in TEST_KEYWORDS or TYPE_WORDS.get(name) == kw.arg]
                said += node.args[2:3] if name in ("check_true", "raised_instead") else []
                built += [f"{lesson.slug} {cell.id}: {ast.unparse(v)[:90]}" for v in said
                          for part in ast.walk(v) if isinstance(part, ast.BinOp) and isinstance(part.op, ast.Add)
                          and any(isinstance(x, (ast.Constant, ast.JoinedStr)) for x in (part.left, part.right))]
    assert not built, "sentences built with +: write each as one f-string (or a if c else b)\n" + "\n".join(built)


def test_the_f_string_entry_with_the_most_words_is_the_one_that_translates_a_message(monkeypatch, tmp_path):
    """"got {x}" also matches what "got {x!r}: exp(1000) overflows" gives: the longer entry is chosen, whatever the
    catalog's order (else the learner read the short entry's Korean with the rest of the English in its field)."""
    import autograde.lessons
    import cnnbook.i18n as i18n

    (tmp_path / "01_x").mkdir()
    (tmp_path / "01_x" / "ko.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        '#, f-string\nmsgid "got {got}"\nmsgstr "받은 값: {got}"\n\n'
        '#, f-string\nmsgid "got {near!r}: exp(1000) overflows"\nmsgstr "받은 값 {near!r}: exp(1000)이 넘칩니다"\n',
        encoding="utf-8")
    monkeypatch.setattr(autograde.lessons, "SOLUTIONS", tmp_path)
    monkeypatch.setattr(autograde.lessons, "NOTEBOOKS", tmp_path / "none")
    _fresh_lesson_caches(monkeypatch)
    monkeypatch.setattr(i18n, "_chosen", "ko")
    assert i18n.lesson_text("got nan: exp(1000) overflows") == "받은 값 nan: exp(1000)이 넘칩니다"
    assert i18n.lesson_text("got a list") == "받은 값: a list"


def test_an_f_string_check_name_is_translated_with_its_values(monkeypatch):
    import cnnbook.i18n as i18n
    from cnnbook.checks import CheckFailed, check_value

    monkeypatch.setitem(i18n._lessons, "ko", {"parameters of vgg_stage({c_in}, {n})": "vgg_stage({c_in}, {n})의 매개변수 수",
                                               "the final bias": "최종 편향"})
    monkeypatch.setitem(i18n._patterns, "ko", {None: [(*i18n._fstring_pattern("parameters of vgg_stage({c_in}, {n})"),
                                                       "vgg_stage({c_in}, {n})의 매개변수 수")]})
    monkeypatch.setattr(i18n, "_chosen", "ko")
    with pytest.raises(CheckFailed) as err:
        check_value("parameters of vgg_stage(3, 2)", 5, 6)
    assert str(err.value).startswith("vgg_stage(3, 2)의 매개변수 수:") and err.value.what == "vgg_stage(3, 2)의 매개변수 수"
    with pytest.raises(CheckFailed) as err:
        check_value("the final bias", 5, 6)
    assert str(err.value).startswith("최종 편향:")
    with pytest.raises(CheckFailed) as err:
        check_value("conv2d(x, w)", 5, 6)                  # code: as written
    assert str(err.value).startswith("conv2d(x, w):")
    name = "AlexNet({n_classes}): the logits for a batch of 2 images"
    monkeypatch.setitem(i18n._patterns, "ko", {None: [(*i18n._fstring_pattern(name), "AlexNet({n_classes}): 이미지 2장 배치의 로짓")]})
    with pytest.raises(CheckFailed) as err:
        check_value("AlexNet(17): the logits for a batch of 2 images", (2, 1000), (2, 17))
    assert str(err.value).startswith("AlexNet(17): 이미지 2장 배치의 로짓:"), str(err.value)
    with pytest.raises(CheckFailed) as err:
        check_value("conv2d(x, w)", 5, 6)
    assert str(err.value).startswith("conv2d(x, w):")


def test_an_f_string_entry_does_not_take_long_on_a_text_it_does_not_match(monkeypatch):
    """A learner's value is part of some texts tried against the entries (``got {got!r}``); a regular expression
    of lazy fields tried on a text that holds their separators many times but not the end took seconds (a 5-field
    name, 160 characters) to minutes (2 fields, 500 kB)."""
    import time

    import cnnbook.i18n as i18n

    entries = ["{name} cannot take an input of shape {shape}. The features give {n} numbers",
               "InvertedResidual({c_in}, {c_out}, {stride}, {t}) on {x_shape} vs the formula"]
    monkeypatch.setitem(i18n._lessons, "ko", {})
    monkeypatch.setitem(i18n._patterns, "ko", {None: [(*i18n._fstring_pattern(e), "x") for e in entries]})
    monkeypatch.setattr(i18n, "_chosen", "ko")
    for text in ["got str " + " cannot take an input of shape x" * 2000,
                 "InvertedResidual(" + ", 1" * 60 + ") on x vs the formula!",
                 "InvertedResidual(" + ", 1" * 60 + ") on x vs the formula"[:-1] + ")"]:
        began = time.perf_counter()
        assert i18n.lesson_text(text) == text
        assert time.perf_counter() - began < 0.5
    assert i18n.lesson_text("InvertedResidual(3, 4, 2, 6) on (1, 3, 8, 8) vs the formula") == "x"


# ------------------------------------------------------------------------------------ Korean particles
@pytest.mark.parametrize("value,kind", [
    ("아담", "consonant"), ("모델", "rieul"), ("레이어", "vowel"), ("3", "consonant"), ("2", "vowel"), ("1", "rieul"),
    ("10", "consonant"), ("1,000", "consonant"), ("0.5", "vowel"), ("0.50", "consonant"), ("12%", "vowel"),
    ("(3, 3)", "consonant"), ("(2, 2)", "vowel"), ("`그룹`", "consonant"), ("...", None),
    # a Latin letter's or an English word's reading is the reader's: the doubled form stays (group이(가))
    ("'T-shirt/top'", None), ("SGD", None), ("L", None), ("Adam", None), ("lenet", None), ("model", None),
    ("shape", None), ("frame", None), ("layer", None), ("TypeError", None), ("StopIteration", None),
    ("conv2d", None), ("group", None), ("`group`", None),
    # a number that ends a name is the name's (conv3: 삼 or 쓰리)
    ("conv3", None), ("fc1", None), ("layer_2", None), ("v0.5", None),
    # a remark in brackets right after a Korean word: the particle belongs to the word (배열(...)을), not to the
    # remark; a value after a space is read (형태 (1, 4, 7)을: 칠)
    ("numpy 배열(빈 리스트는 float 배열이 됩니다)", "rieul"), ("모델(conv1)", "rieul"), ("값(들)", "consonant"),
    ("형태 (1, 4, 7)", "rieul"), ("픽셀 (2, 2)", "vowel"), ("레이어 (conv1, conv2)", None),
    ("f(3)", "consonant"), ("torch.Size([2, 3])", "consonant"),
])
def test_the_ending_of_a_value_is_how_korean_reads_it(value, kind):
    assert i18n.ending(value) == kind


def test_a_particle_after_an_english_word_is_the_doubled_form(korean):
    """A learner's trial: `group` was read as ending in a vowel (그룹 ends in a consonant), giving "`group`가". A
    value that ends in a Latin letter keeps the doubled form, as Korean software writes it; Hangul and numbers take
    their own form."""
    fmt = i18n.format_text
    assert fmt("`{x}`이(가) 정의되지 않았습니다", x="group") == "`group`이(가) 정의되지 않았습니다"
    assert fmt("{x}을(를) 확인, {x}은(는) 그대로, {x}(으)로 바꿈, {x}와(과) 비교", x="group") == \
        "group을(를) 확인, group은(는) 그대로, group(으)로 바꿈, group와(과) 비교"
    assert fmt("{x}이(가), {y}이(가), {z}이(가), {w}을(를)", x=1, y=2, z=3, w="그룹") == "1이, 2가, 3이, 그룹을"
    assert fmt("{x}을(를)", x="conv3") == "conv3을(를)"


def test_doubled_particles_after_a_field_take_the_values_form(korean):
    fmt = i18n.format_text
    assert fmt("{a}을(를) 받음, {b}이(가) 없음, {c}(으)로 바꿈, {d}와(과) 비교, {e}은(는) 그대로", a="목록", b="요약",
               c=7, d="아담", e="신경망") == "목록을 받음, 요약이 없음, 7로 바꿈, 아담과 비교, 신경망은 그대로"
    assert fmt("`{x}`을(를), {x}(으)로, {y}(이)라는", x="르넷", y="에스지디") == "`르넷`을, 르넷으로, 에스지디라는"
    assert fmt("`{x}`을(를), {x}(으)로, {y}(이)라는", x="lenet", y="SGD") == "`lenet`을(를), lenet(으)로, SGD(이)라는"
    assert fmt("{x:.0%}을(를) {{x}}을(를) {z}을(를)", x=0.5, z="…") == "50%를 {x}을(를) …을(를)"    # unknown: kept
    assert fmt("({x})을(를)", x="3") == "(3)을(를)"                # after a bracket the template closes: not the value's
    # the package's messages: `_()` gives a text whose .format resolves them (and a plain str comes out)
    for name, expected in [("lenet", "`lenet`이(가) 정의되지 않았습니다"), ("summary", "`summary`이(가) 정의되지 않았습니다")]:
        shown = i18n._("`{name}` is not defined").format(name=name)
        assert shown == expected and type(shown) is str
    # a translated f-string check name: the values found in the English fill the translation, particles resolved
    assert i18n._fill("{n}개 중 {k}을(를) 고름", {"n": "10", "k": "3"}) == "10개 중 3을 고름"


_PARTICLE = r"(이|가|을|를|은|는|와|과|으로|로|이나|나|이라|라|이란|란)(?![가-힣])"
_DOUBLED_FORM = "(" + "|".join(re.escape(k) for k in i18n.PARTICLES) + ")"
_QUOTES = r"['\"`’”]*"


def _fields_with_particles(text: str, doubled_ok: bool) -> list[str]:
    """Fields of a translation followed by a particle whose form depends on the value (the doubled form allowed
    where it is resolved at run time; after a ``%`` field, which reads 퍼센트, the vowel forms are right)."""
    bad = []
    for m in re.finditer(r"\{([^{}]*)\}" + _QUOTES + "(" + _DOUBLED_FORM + "|" + _PARTICLE + ")", text):
        field, after = m.group(1), m.group(2)
        if after in i18n.PARTICLES:
            if not doubled_ok:
                bad.append(m.group(0))
        elif not (field.endswith("%") and after in ("가", "를", "는", "와", "로", "나", "라", "란")):
            bad.append(m.group(0))
    return bad


def test_no_particle_follows_a_field_in_a_form_the_value_may_not_take():
    """Package messages write the doubled form after a field (``format_text`` resolves it); a lesson's printed
    f-strings are phrased so that no particle follows a field (nothing resolves them in the notebook), and its
    translated check names may use the doubled form (``lesson_text`` resolves it)."""
    from autograde.i18n import package_catalog_path, visible_literals

    bad = []
    for message in read_catalog(package_catalog_path("ko"), "ko"):
        if message.id and message.string:
            bad += [f"cnnbook.po: {b}  in  {message.string}" for b in _fields_with_particles(str(message.string), True)]
    for lesson, lang in TRANSLATED:
        if lang != "ko":
            continue
        nb = nbformat.read(lesson.source, as_version=4)
        printed = {(cell.get("id"), lit.body) for cell in nb.cells if cell.cell_type == "code"
                   and not is_nbgrader_cell(cell) for lit in visible_literals(cell.source) if lit.is_f}
        names = {(e.context, e.msgid) for e in entries(nb) if e.fstring}
        for message in read_catalog(catalog_path(lesson, lang), lang):
            key = (message.context, message.id)
            if message.string and (key in printed or key in names):
                bad += [f"{lesson.slug} {message.context}: {b}"
                        for b in _fields_with_particles(str(message.string), key in names)]
            if message.string and key in printed and re.search(r"\((가|를|는|과|와|이|으)\)", str(message.string)):
                bad.append(f"{lesson.slug} {message.context}: a doubled particle nothing resolves: {message.string}")
    assert not bad, "\n".join(bad)


# ------------------------------------------------------------------------------------ terminology
SHAPE_TERM, NOT_SHAPE_TERM = "형태", "모양"     # a tensor's shape: 형태 (the lessons' glossary: "output shape | 출력 형태")


def test_shape_is_one_word_in_every_catalog():
    from autograde.i18n import package_catalog_path

    glossary = [str(m.string) for lesson, lang in TRANSLATED if lang == "ko"
                for m in read_catalog(catalog_path(lesson, lang), lang) if m.id and "| output shape |" in m.id]
    assert glossary and all(f"| 출력 {SHAPE_TERM} |" in text for text in glossary)
    catalogs = [package_catalog_path("ko")] + [catalog_path(lesson, lang) for lesson, lang in TRANSLATED
                                               if lang == "ko"]
    catalogs += sorted((NOTEBOOKS / "ko").glob("*/checks.po"))
    bad = [f"{path.parent.name}: {line.strip()}" for path in catalogs for m in read_catalog(path, "ko")
           if m.id and m.string and re.search(r"shape", m.id, re.I)
           for line in str(m.string).splitlines() if NOT_SHAPE_TERM in line]
    assert not bad, f"a shape is {SHAPE_TERM} in the Korean edition:\n" + "\n".join(bad)


def test_a_padded_label_is_an_entry_and_stays_aligned_in_korean():
    from autograde.i18n import visible_literals

    source = ('print(padded("state dict entry", 18) + padded("shape", 18, ">") + f"{n:>9,}")\n'
              "print(f\"{'total':<36}{n:>9,}\")\n")
    bodies = [lit.body for lit in visible_literals(source)]
    assert "state dict entry" in bodies and "shape" in bodies and ">" not in bodies
    assert i18n.padded("형태", 8, ">") == "    형태" and i18n.padded("shape", 8) == "shape   "
    assert len(i18n.padded("state dict 항목", 18)) == 18 - 2        # two Hangul syllables take two columns each
    # the released Korean notebooks print no label of lessons 08 and 09 from a `{'words':<n}` field
    for slug in ("08_transfer", "09_losses_optimisers"):
        nb = nbformat.read(NOTEBOOKS / "ko" / slug / f"{slug}.ipynb", as_version=4)
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert "{'state dict entry'" not in code and '"optimiser          validation loss' not in code
        assert "state dict 항목" in code if slug == "08_transfer" else "모멘텀" in code


@pytest.mark.parametrize("edition", ["en", "ko"])
def test_lesson_03s_receptive_fields_line_up_in_both_editions(edition):
    """From a Korean learner's trial: lesson 03 printed its three receptive fields after labels padded with spaces
    written for the English ("three 3x3 layers, stride 1:    "), so the Korean lists did not line up. The labels
    go through padded() now."""
    path = NOTEBOOKS / "ko" / "03_padding_stride" if edition == "ko" else NOTEBOOKS / "03_padding_stride"
    nb = nbformat.read(path / "03_padding_stride.ipynb", as_version=4)
    source = next(c.source for c in nb.cells if "def receptive_field" in c.source)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(source[:source.index("# PyTorch agrees")], "receptive fields", "exec"), {})
    lines = printed.getvalue().splitlines()
    assert len(lines) == 3 and len({i18n.columns(line[:line.index("[")]) for line in lines}) == 1, lines


def _korean_code(slug: str) -> str:
    nb = nbformat.read(NOTEBOOKS / "ko" / slug / f"{slug}.ipynb", as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def _texts_lists(code: str) -> list[list[str]]:
    """The string lists assigned to ``texts`` in ``code`` (the words a `shown` dict maps dict keys to)."""
    import ast

    found = []
    for node in ast.walk(ast.parse(code)):
        if (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "texts" for t in node.targets)
                and isinstance(node.value, ast.List)):
            found.append([e.value for e in node.value.elts if isinstance(e, ast.Constant)])
    return found


# names a lesson keeps as dict keys and shows in tables, legends, progress bars and sentences: the Korean edition
# shows the translated `texts` (through `shown`), never the key itself
SHOWN_NAMES = {
    "05_pooling": (["단순 구현", "픽셀 반복문", "여러분의 conv2d_fast", "torch"],
                   ["label=name)", 'f"{name:>18}"', ": naive / {fastest_numpy}"]),
    "07_architectures": (["일반, 블록 2개", "일반, 블록 20개", "잔차, 블록 20개"],
                         ["label=name)", 'f"{name:<20}']),
    "08_transfer": (["선형 프로브", "미세 조정", "처음부터 학습", "증강 없음", "증강", "무작위 가중치", "사전 학습"],
                    ['label=f"{name}:', "label=name)", '"scratch", steps)', '"probe", steps)', 'f"{name:>16}',
                     "{name + ':':<16}", "{'well above'", 'f"by {gain', 'ten = ", ".join(f"{name} ',
                     'y_watch, "linear probe")', 'ax_bars.bar(names,']),
    "04_parameters": (["일반:", "깊이별:", "점별:"], ["{name + ':':<11}"]),
}


@pytest.mark.parametrize("slug", sorted(SHOWN_NAMES))
def test_the_korean_edition_shows_translated_run_names(slug):
    korean_names, english_only = SHOWN_NAMES[slug]
    code = _korean_code(slug)
    assert korean_names in _texts_lists(code)
    assert not [pattern for pattern in english_only if pattern in code]
    assert "shown = dict(zip(" in code or slug == "04_parameters"      # 04's labels are no dict keys


def test_lesson_08_sentence_parts_are_korean():
    code = _korean_code("08_transfer")
    assert "클래스마다 레이블 붙은 이미지 {k}장으로 {gain:+.1f}%p" in code
    assert ["우연 수준보다 훨씬 높습니다", "우연 수준에 가깝습니다"] in _texts_lists(code)


def test_lesson_08_names_the_clothes_and_labels_its_figures_in_korean(korean):
    """The Korean edition of lesson 08 printed the classes in English ("출력 0..4의 뜻: ['T-shirt/top', 'Trouser',
    ...]", "Pullover: 가장 자주 받은 이름 'Coat'") and left its figures' tick labels ("original", "seed 0") in
    English: the lessons show a class by fashion_class_name, and tick labels are entries of the catalog."""
    from cnnbook.data import FASHION_CLASSES, fashion_class_name

    names = [fashion_class_name(label) for label in range(10)]
    assert names[1] == "바지" and all(re.search("[가-힣]", name) for name in names), names
    i18n.set_language("en")
    assert [fashion_class_name(label) for label in range(10)] == list(FASHION_CLASSES)
    code = _korean_code("08_transfer")
    assert "FASHION_CLASSES[" not in code
    assert '["원본"] + [f"시드 {k}" for k in range(6)]' in code
    # a name right-aligned by its characters ({name:>11}) stands out of line in Hangul, two columns a syllable
    assert "{name:>" not in code and 'padded(name, 11, ">")' in code
    assert not [lesson.slug for lesson in LESSONS
                if "FASHION_CLASSES[" in "\n".join(c.source for c in nbformat.read(lesson.source, as_version=4).cells
                                                   if c.cell_type == "code")]


def test_a_percentage_the_code_shows_is_written_as_python_writes_one():
    """`{x:.1%}` shows 75.5%; a percentage a lesson's code makes by hand (`{100 * x:.1f}%`) is written the same
    way, in both editions, so one output never mixes "82.8 %" with "75.5%" (lesson 08's Korean edition did)."""
    mixed = []
    for lesson in LESSONS:
        for path in (lesson.source, NOTEBOOKS / "ko" / lesson.slug / f"{lesson.slug}.ipynb"):
            for cell in nbformat.read(path, as_version=4).cells:
                if cell.cell_type == "code" and not cell.metadata.get("nbgrader", {}).get("grade"):
                    mixed += [(lesson.slug, line.strip()) for line in cell.source.splitlines()
                              if re.search(r"\} %", line)]
    assert not mixed, mixed


@pytest.mark.parametrize("slug, name, korean", [
    ("01_history", "who_did_it (form only: the facts are checked when graded)", "who_did_it (형식만 확인"),
    ("10_detection", "corners_to_centres and centres_to_corners", "corners_to_centres 및 centres_to_corners"),
    ("10_detection", "precision_recall and average_precision", "precision_recall 및 average_precision")])
def test_check_names_of_two_names_or_a_name_and_words_reach_the_learners_catalog(slug, name, korean):
    catalog = read_catalog(NOTEBOOKS / "ko" / slug / "checks.po")
    assert any(m.id == name and str(m.string).startswith(korean) for m in catalog)



def test_an_explorer_without_a_kernel_says_so_in_korean(korean):
    from cnnbook.widgets import ConvExplorer, PhotoConvExplorer, rerun_note

    explorer = ConvExplorer()
    bundle = explorer._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert data["text/plain"].startswith("ConvExplorer: 대화형 탐색기입니다.")
    assert "셀을 실행하세요(Shift+Enter)" in rerun_note() and "셀을 실행하세요" in explorer.note_html.value
    # the controls and the fixed labels of the convolution explorers are Korean; the values stay the English keys
    assert [s.description for s in (explorer.n_slider, explorer.f_slider, explorer.p_slider, explorer.s_slider)] == \
        ["입력 n", "필터 f", "패딩 p", "스트라이드 s"]
    assert explorer.figure.axes[0].get_xlabel() == "열 (너비)"
    photo = PhotoConvExplorer(kernel="box blur")
    assert photo.kernel_dropdown.description == "필터" and photo.kernel_dropdown.value == "box blur"
    assert photo.kernel_dropdown.label == "평균 흐림"


def test_translated_sources_are_made_once_per_process_and_again_when_the_catalog_changes(tmp_path, monkeypatch):
    """The grader recognises the course's own code in a Korean notebook by translating the lesson; a worker does
    that once per lesson, not once per submission, and again when the lesson or its catalog changes."""
    from autograde import i18n as grader_i18n

    lesson = LESSONS[0]
    shutil.copy(catalog_path(lesson, "ko"), tmp_path / "ko.po")
    source = nbformat.read(lesson.source, as_version=4)
    calls = []
    real = grader_i18n.translate_notebook
    monkeypatch.setattr(grader_i18n, "translate_notebook", lambda *a, **k: calls.append(1) or real(*a, **k))
    first = grader_i18n.translated_sources(source, tmp_path)
    assert first and len(calls) == 1
    assert grader_i18n.translated_sources(nbformat.read(lesson.source, as_version=4), tmp_path) == first
    assert len(calls) == 1                               # the same lesson and catalog: not translated again
    changed = nbformat.read(lesson.source, as_version=4)
    changed.cells[-1].source += "\n# changed"
    grader_i18n.translated_sources(changed, tmp_path)
    assert len(calls) == 2                               # another source text
    with open(tmp_path / "ko.po", "a", encoding="utf-8") as catalog:
        catalog.write("\n")
    grader_i18n.translated_sources(source, tmp_path)
    assert len(calls) == 3                               # the catalog changed on disk


def test_reading_notebooks_skips_jsonschemas_slow_iri_checker_and_still_validates():
    """autograde keeps rfc3987_syntax (about 1.5 s of CPU to import) out of its processes; nbformat's validation
    still rejects a broken notebook."""
    import subprocess
    import sys

    code = ("import autograde, nbformat, sys\n"
            "assert sys.modules.get('rfc3987_syntax', 'absent') is None, sys.modules.get('rfc3987_syntax')\n"
            "nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('1')])\n"
            "nbformat.validate(nb)\n"
            "nb.cells[0]['outputs'] = 'not a list'\n"
            "try:\n    nbformat.validate(nb)\nexcept nbformat.ValidationError:\n    print('rejected')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "rejected"


def test_where_the_learners_code_raised_reads_in_korean(monkeypatch):
    """"(at line 2: w, grad = w.numpy(), grad.numpy())" stayed English in the Korean edition (a learner's trial)."""
    from autograde.judge import _where

    assert _where("line 3: x = y[5]") == "at line 3: x = y[5]" and _where("f.py line 8") == "at f.py line 8"
    monkeypatch.setattr(i18n, "_chosen", "ko")
    assert _where("line 3: x = y[5]") == "세 번째 줄: x = y[5]" and _where("f.py line 18") == "f.py의 18번째 줄"
    assert _where("something else") == "something else"


def _notebook(path, lang=None):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from cnnbook.i18n import language\nprint(language())")])
    if lang:
        nb.metadata["cnnbook"] = {"language": lang}
    nbformat.write(nb, path)
    return nb


def test_without_a_notebook_path_the_folder_s_notebooks_name_the_language(tmp_path, monkeypatch):
    """From a Korean learner's trial: `jupyter nbconvert --execute` of the Korean edition printed English (such a
    kernel has no JPY_SESSION_NAME); it runs in the notebook's folder, whose notebooks name their edition."""
    for name in ("CNNBOOK_LANG", "JPY_SESSION_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(i18n, "_editions", {})
    monkeypatch.setitem(sys.modules, "ipykernel", sys.modules.get("ipykernel") or types.ModuleType("ipykernel"))
    korean, mixed, none = (tmp_path / name for name in ("korean", "mixed", "none"))
    for folder in (korean, mixed, none):
        folder.mkdir()
    _notebook(korean / "10_detection.ipynb", "ko")
    _notebook(korean / "10_detection-Copy1.ipynb", "ko")
    _notebook(mixed / "a.ipynb", "ko")
    _notebook(mixed / "b.ipynb")                        # an English notebook beside it: no guess
    for folder, want in ((korean, "ko"), (mixed, "en"), (none, "en")):
        monkeypatch.chdir(folder)
        assert i18n.language() == want, folder
    monkeypatch.chdir(korean)
    monkeypatch.delitem(sys.modules, "ipykernel")
    assert i18n.language() == "en"                      # not a kernel: the grader's CLI, a script
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "elsewhere.ipynb"))
    assert i18n.language() == "en"                      # a session path is the notebook's word, not the folder


def test_a_korean_notebook_run_headless_speaks_korean(tmp_path):
    from nbclient import NotebookClient

    env_before = {name: os.environ.pop(name, None) for name in ("CNNBOOK_LANG", "JPY_SESSION_NAME")}
    try:
        nb = _notebook(tmp_path / "mine.ipynb", "ko")
        NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        os.environ.update({name: value for name, value in env_before.items() if value is not None})
    assert nb.cells[0].outputs[0]["text"].strip() == "ko"


@pytest.mark.slow                   # a kernel, and a test stopped after its 15 s
def test_a_test_stopped_at_its_time_limit_says_so_in_the_learners_language(tmp_path):
    """A test whose call into the learner's code never returns is stopped; its message is the learner's language, not
    the kernel's English ("no answer within 59.99 s (an infinite loop?)": a Korean learner's trial read that)."""
    from autograde.check import check_notebook
    from autograde.runner import TEST_STOPPED
    from conftest import solved, write

    lesson = next(lesson for lesson in LESSONS if lesson.slug == "03_padding_stride")
    # a loop that never ends and sleeps (a spinning one is stopped the same way; it would burn 15 s of CPU)
    looping = "def same_padding(f):\n    import time\n    while f > 0:\n        time.sleep(0.05)\n"
    path = write(solved(lesson, {"same_padding": looping}), tmp_path / f"{lesson.slug}.ipynb")
    report = check_notebook(lesson, path, cell_timeout=15, lang="ko")
    failed = {r.grade_id: r.message for r in report.results if not r.passed}
    assert list(failed) == ["test_same_padding"], failed
    assert failed["test_same_padding"] == i18n.translation(TEST_STOPPED["timeout"], "ko"), failed
    assert "제한 시간" in failed["test_same_padding"] and "infinite loop" not in failed["test_same_padding"]


# ------------------------------------------------------------------------------------ what a Korean reviewer reads
# A Korean learner's trial of the self-check found sentences without their final period, headings with two colons
# ("conv_params(5, 3, 10)의 반환값: int:"), clipped "~함" lines beside full "~습니다" sentences in one box, and
# "1번째 인자". The course's Korean writes its messages as polite full sentences (~습니다, ~세요) that end with a
# period, and a check's name, which starts a failure as its heading ("<name>:") and the notebook's box ("검사 실패:
# <name>"), as a noun phrase without a colon of its own.
_SENTENCE_END = re.compile(r"(니다|세요|나요|까요|어요|에요|예요|지요|가요)$")
_WITH_RIEUL = "".join(chr(c) for c in range(0xAC00, 0xD7A4) if (c - 0xAC00) % 28 == 8)     # 할 쓸 줄 ...: "~할 것"
_CLIPPED_END = re.compile(rf"(?<=[가-힣]) ?(함|했음|었음|았음|였음|없음|있음|됨|않음|[{_WITH_RIEUL}] 것)$|(?<=[가-힣])임$")
_CLOSERS = " \t\n)]}>'\"`’”"


def _clauses(text: str) -> list[str]:
    """The ends of ``text``'s sentences and clauses (before . ; : , or a line's end), brackets' contents dropped."""
    flat = re.sub(r"\([^()]*\)|\[[^\[\]]*\]|`[^`]*`|'[^']*'", "", text)
    return [part.rstrip(_CLOSERS) for part in re.split(r"[.;:,?!]\s|[.;:?!]$|\n", flat) if part.strip()]


def _without_remark(text: str) -> str:
    """``text`` without the remark in brackets that ends it ("출력(relu(x)와 같아야 함)" -> "출력"): a remark after a noun
    phrase is the phrase's, and its words are no sentence of their own."""
    text = text.rstrip()
    if not text.endswith(")"):
        return text
    depth = 0
    for at in range(len(text) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(text[at], 0)
        if depth == 0:
            return text[:at].rstrip()
    return text


def _check_roles(source: str) -> dict[str, set[str]]:
    """``{an author's sentence of a test cell: its roles}``: "name" (a check's name, its heading), "line" (a line of
    its own: a check_true explanation), "why" (the why= of answer_of and raised_instead, a sentence the package ends),
    "expected" (check_type's words, inside a package sentence), "hint", "slip", "case"."""
    import ast

    from autograde.i18n import _call_name, _is_named_call, _literals_of

    tree = ast.parse(source)
    found: dict[str, set[str]] = {}

    def add(node, role):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.setdefault(node.value, set()).add(role)
        elif isinstance(node, ast.JoinedStr):
            for lit in _literals_of(source, [node]):
                found.setdefault(lit.body, set()).add(role)
    by_variable = {n.args[0].id for n in ast.walk(tree) if isinstance(n, ast.Call) and _is_named_call(_call_name(n))
                   and n.args and isinstance(n.args[0], ast.Name)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in by_variable for t in node.targets):
            add(node.value, "name")
        if not isinstance(node, ast.Call):
            continue
        call = _call_name(node)
        roles = {"hint": "hint", "loop_message": "hint", "explanation": "line", "why": "why"}
        for kw in node.keywords:
            if kw.arg in roles:
                add(kw.value, roles[kw.arg])
            if call == "check_type" and kw.arg == "expected":
                add(kw.value, "expected")
            if kw.arg == "mistakes" and isinstance(kw.value, ast.Dict):
                for key in kw.value.keys:
                    add(key, "slip")
        if call == "check_true" and len(node.args) >= 3:
            add(node.args[2], "line")
        if call == "raised_instead" and len(node.args) >= 3:
            add(node.args[2], "why")
        if _is_named_call(call) and node.args:
            add(node.args[0], "name")
    return found


def _translated_roles():
    """(lesson, English, Korean, roles) of every translated sentence of every test cell of the Korean edition."""
    for lesson, lang in TRANSLATED:
        if lang != "ko":
            continue
        catalog = read_catalog(catalog_path(lesson, lang), lang)
        nb = nbformat.read(lesson.source, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code" and (cell.metadata.get("nbgrader", {}) or {}).get("grade"):
                for english, roles in _check_roles(cell.source).items():
                    message = catalog.get(english, context=cell.get("id"))
                    if message is not None and message.string and not message.fuzzy:
                        yield lesson.slug, english, str(message.string), roles


def _outside_brackets(text: str) -> str:
    """``text`` without what brackets, quotes and backticks hold (a call's arguments, a tuple, code)."""
    out, depth, quote = [], 0, None
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
            continue
        if ch in "'\"`":
            quote = ch
        elif ch in "([{<":
            depth += 1
        elif ch in ")]}>" and depth:
            depth -= 1
        elif not depth:
            out.append(ch)
    return "".join(out)


def test_a_translated_check_name_is_a_heading_without_a_colon_of_its_own():
    """"conv_params(5, 3, 10) returns an int" was "conv_params(5, 3, 10)의 반환값: int", shown as
    "conv_params(5, 3, 10)의 반환값: int:" (and "검사 실패: conv_params(5, 3, 10)의 반환값: int"). An English name
    with a colon of its own ("LeNet5: the layers in order") reads the same in English; its Korean is a noun phrase
    all the same ("LeNet5의 층 순서")."""
    bad = [f"{slug}: {english!r} -> {korean!r}" for slug, english, korean, roles in _translated_roles()
           if "name" in roles and ":" in _outside_brackets(korean)]
    assert not bad, f"{len(bad)} check name(s) with a colon of their own:\n" + "\n".join(bad)


def test_a_translated_check_name_is_a_noun_phrase():
    """"nms(...)는 numpy 배열을 돌려줍니다:" and "smooth_l1(...)는 형태를 유지함:" were sentences, full or clipped, as
    headings; a heading names what was checked: "nms(...)의 반환값(numpy 배열)". (Lesson 09's "the update returns
    (new weights, state)" is another helper's to reword.)"""
    bad = []
    for slug, english, korean, roles in _translated_roles():
        core = _without_remark(korean).rstrip(_CLOSERS + ".")
        if "name" in roles and english != "the update returns (new weights, state)" and \
                (_SENTENCE_END.search(core) or _CLIPPED_END.search(core)):
            bad.append(f"{slug}: {english!r} -> {korean!r}")
    assert not bad, f"{len(bad)} check name(s) that read as a sentence:\n" + "\n".join(bad)


def test_a_failure_s_own_lines_are_polite_sentences_that_end_with_a_period():
    """A line of its own (a check_true explanation, a hint) and a why= sentence (which the package's sentence ends
    with a period) read as the package's lines do: full polite sentences, not clipped "~함" / "~할 것" notes; a line that
    ends with a sentence ends with its period."""
    bad = []
    for slug, english, korean, roles in _translated_roles():
        if roles & {"line", "why", "hint"}:
            bad += [f"{slug}: clipped {end!r} in {korean!r}" for end in _clauses(korean) if _CLIPPED_END.search(end)]
        if roles & {"line", "hint"} and _SENTENCE_END.search(korean.rstrip(_CLOSERS)):
            bad.append(f"{slug}: no period after the sentence {korean!r}")
        if "why" in roles and korean.rstrip().endswith("."):
            bad.append(f"{slug}: the package ends the why= sentence, not the translation: {korean!r}")
    assert not bad, f"{len(bad)} line(s):\n" + "\n".join(bad)


# messages whose sentence the code ends (it adds " (<case>)." or "."), or that a message quotes (cost.py's "No output:
# {error}."), the titles of the notebook's boxes (a title has no period), and the answer stub's comment
_ENDED_ELSEWHERE = {"YOUR CODE HERE", "{exercise}: a hidden check failed", "A hidden check failed",
                    "a {f}x{f} filter does not fit in a {n}x{n} input without padding",
                    "`{name}` is not defined", "Not answered yet", "`{name}` is not answered yet",
                    "This test cell stopped with an error", "You stopped this cell"}


def test_package_sentences_end_with_a_period():
    """Every message of cnnbook.po that ends a sentence ends with its period (or ? !): where the English does, and
    where the Korean ends a full sentence (~습니다, ~세요) though the English is a clipped line ("it changed its
    argument number 1 in place ...; in your notebook that changes the caller's own values")."""
    from autograde.i18n import package_catalog_path

    bad = []
    for message in read_catalog(package_catalog_path("ko"), "ko"):
        if not message.id or not message.string or message.id in _ENDED_ELSEWHERE:
            continue
        english, korean = str(message.id).rstrip(), str(message.string).rstrip()
        last = _without_remark(korean)
        if english.endswith((".", "?", "!")) and not korean.rstrip(_CLOSERS).endswith((".", "?", "!")):
            bad.append(f"ends without its period: {korean!r}")
        elif _SENTENCE_END.search(last.rstrip(_CLOSERS)):
            bad.append(f"a sentence without a period: {korean!r}")
        # a short label before the sentences ("실행되지 않음: ...", "패딩 없음('valid'): ...") is a label, not a clause
        clauses = _clauses(korean)[1:] if re.match(r"[^:.]{1,12}(\([^()]*\))?: ", korean) else _clauses(korean)
        bad += [f"clipped {end!r} in a sentence: {korean!r}" for end in clauses
                if _CLIPPED_END.search(end) and _SENTENCE_END.search(korean.rstrip(_CLOSERS + "."))]
    assert not bad, f"{len(bad)} message(s):\n" + "\n".join(bad)


def test_expected_and_got_are_labelled_alike_and_line_up(korean):
    """"기대한 값 120422400" / "받은 값  (3072,)" had no colon where every other label of a failure has one; the two
    values still start in the same column (a Hangul syllable takes two)."""
    from cnnbook.checks import CheckFailed, check_value

    with pytest.raises(CheckFailed) as err:
        check_value("g()", (3072,), 3072)
    expected, got = err.value.lines[:2]
    assert expected == "기대한 값: 3072" and got.startswith("받은 값:") and got.endswith(" (3072,)"), err.value.lines
    assert i18n.columns(expected[:expected.index("3072")]) == i18n.columns(got[:got.index("(3072,)")])
    assert err.value.lines[2] == "(기대한 자료형: int, 받은 자료형: tuple)"
    for lang in ("en", "ko"):
        i18n.set_language(lang)
        with pytest.raises(CheckFailed) as err:
            check_value("g()", 3, 4)
        shown = [line.split("4")[0] for line in err.value.lines[:1]] + [line.split("3")[0] for line in err.value.lines[1:2]]
        assert i18n.columns(shown[0]) == i18n.columns(shown[1]), err.value.lines


def test_small_ordinals_are_words_in_korean(korean):
    """"1번째 인자" reads as no Korean writes it: 첫 번째 인자; small numbers before 번째 are words, larger ones digits."""
    fmt = i18n.format_text
    assert fmt("{n}번째 인자", n=1) == "첫 번째 인자" and fmt("{n}번째 인자", n=2) == "두 번째 인자"
    assert fmt("{n}번째 줄", n=10) == "열 번째 줄" and fmt("{n}번째 줄", n=21) == "21번째 줄"
    assert fmt("{file}의 {line}번째 줄", file="a.py", line="3") == "a.py의 세 번째 줄"
    assert i18n._("at line {line}").format(line=1) == "첫 번째 줄"


def test_the_in_place_message_reads_as_korean_sentences(korean):
    from cnnbook.checks import changed_input

    failure = changed_input("sort_events", [["args", 0]], in_lists=True)
    heading = str(failure).splitlines()[0]
    assert heading == "sort_events이(가) 바꾼 입력:", heading
    assert failure.lines[0].startswith("첫 번째 인자를 제자리(in place)에서 바꿨습니다") and failure.lines[0].endswith(".")
    failure = changed_input("", [["args", 1, 0]])
    assert str(failure).startswith("여러분의 함수가 바꾼 입력:") and failure.lines[0].endswith("바뀝니다."), failure.lines


def test_an_error_where_an_answer_was_due_says_why_first(korean):
    """fc_weight_count's slip read "IndexError 오류가 발생했습니다: list index out of range. 하지만 이 크기들은 가능한
    값입니다.": a "하지만" that contrasts with nothing. The reason comes first, then the error."""
    from cnnbook.checks import CheckFailed, raised_instead

    with pytest.raises(CheckFailed) as err:
        raised_instead("fc_weight_count(32, 32, 3, 10)", ("IndexError", "list index out of range"),
                       "these sizes are possible")
    assert err.value.lines[0] == ("이 크기들은 가능한 값입니다. 그런데 IndexError 예외가 발생했습니다: list index out "
                                  "of range."), err.value.lines


def test_a_wrong_type_is_one_korean_sentence_with_its_value(korean):
    from cnnbook.checks import CheckFailed, check_type

    with pytest.raises(CheckFailed) as err:
        check_type("fc_input_size(32, 32, 3)", 3072.0, int, expected="an int (a count)")
    assert err.value.lines[0] == "개수를 나타내는 int 값을 기대했지만, 받은 값은 float 자료형의 3072.0입니다.", err.value.lines
    with pytest.raises(CheckFailed) as err:
        check_type("f()", np.zeros(3), float)
    assert err.value.lines[0] == "float 자료형의 값을 기대했지만, 받은 값은 형태 (3,)의 numpy 배열입니다.", err.value.lines


def _two_lessons(monkeypatch, tmp_path, first: str, second: str = ""):
    """Catalogs of two lessons, 03_x (with the f-string entry ``first``) and 04_x (with ``second``), the only ones."""
    import autograde.lessons

    head = 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
    for slug, entry in (("03_x", first), ("04_x", second)):
        (tmp_path / slug).mkdir()
        (tmp_path / slug / "ko.po").write_text(head + entry, encoding="utf-8")
    monkeypatch.setattr(autograde.lessons, "SOLUTIONS", tmp_path)
    monkeypatch.setattr(autograde.lessons, "NOTEBOOKS", tmp_path / "none")
    _fresh_lesson_caches(monkeypatch)
    monkeypatch.setattr(i18n, "_chosen", "ko")
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)


def _fresh_lesson_caches(monkeypatch):
    """Every cache ``_lesson_catalog`` fills, new and empty for the test and given back after it (deleting their "ko"
    keys left a test's made-up catalog as the course's for the rest of the process when the caches were empty before
    it: the class report's test of lesson 09 failed after such a test)."""
    for cache in ("_lessons", "_patterns", "_lesson_fstrings"):
        monkeypatch.setattr(i18n, cache, {})


def test_an_f_string_entry_translates_only_the_messages_of_its_own_lesson(monkeypatch, tmp_path):
    """Lesson 03's "expected {a}, got {b}" translated lesson 04's "expected tuples (like array.shape), got W: list"
    (a learner read "기대한 dtype: tuples (like array.shape), 받은 dtype: W: list"): an entry of one lesson's catalog
    is not used for a message of another lesson, whether the grader's judge says which lesson it checks
    (set_lesson) or a kernel's notebook is named after it."""
    _two_lessons(monkeypatch, tmp_path, '#, f-string\nmsgid "expected {a}, got {b}"\nmsgstr "기대한 값: {a}, 받은 값: {b}"\n')
    message = "expected tuples (like array.shape), got W: list"
    monkeypatch.setattr(i18n, "_lesson_chosen", "04_x")
    assert i18n.lesson_text(message) == message
    monkeypatch.setattr(i18n, "_lesson_chosen", "03_x")
    assert i18n.lesson_text("expected 3, got 4") == "기대한 값: 3, 받은 값: 4"
    monkeypatch.setattr(i18n, "_lesson_chosen", None)
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "my-work" / "ko" / "04_x" / "04_x.ipynb"))
    assert i18n.lesson_text(message) == message
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "my-work" / "ko" / "03_x" / "mine.ipynb"))
    assert i18n.lesson_text("expected 3, got 4") == "기대한 값: 3, 받은 값: 4"


def test_a_field_holds_only_what_a_value_of_its_kind_can_be(monkeypatch, tmp_path):
    """Where the lesson is not known (a notebook saved under another name elsewhere), every lesson's entries are
    tried: a field whose value is a count, a formatted number, a class's name or a dtype is one word, so it does
    not swallow a sentence of another lesson."""
    _two_lessons(monkeypatch, tmp_path,
                 '#, f-string\nmsgid "expected {np.dtype(dtype)}, got {got.dtype}"\n'
                 'msgstr "기대한 dtype: {np.dtype(dtype)}, 받은 dtype: {got.dtype}"\n\n'
                 '#, f-string\nmsgid "got {type(got).__name__} of length {len(got)}, mean {m:.3f}"\n'
                 'msgstr "받은 값: 길이 {len(got)}인 {type(got).__name__}, 평균 {m:.3f}"\n')
    monkeypatch.setattr(i18n, "_lesson_chosen", None)
    assert i18n.lesson_text("expected float32, got torch.float64") == "기대한 dtype: float32, 받은 dtype: torch.float64"
    message = "expected tuples (like array.shape), got filter: tuple, W: list"
    assert i18n.lesson_text(message) == message
    assert i18n.lesson_text("got list of length 3, mean -0.500") == "받은 값: 길이 3인 list, 평균 -0.500"
    for message in ("got a list of length 3, mean 0.5", "got list of length three, mean 0.5",
                    "got list of length 3, mean a half"):
        assert i18n.lesson_text(message) == message
