"""The Colab set-up cell (autograde.colab): first in every released notebook, inert outside Colab, never graded;
README's Colab links made from the lessons and the one repository address in pyproject.toml."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograde import colab
from autograde.lessons import NOTEBOOKS, ROOT, all_lessons
from autograde.runner import plan, suspicious_flags
from conftest import GUARD, GUARD_SOLUTIONS, LESSONS, solved, write

# Runs a cell's code in a fresh interpreter and records, with an audit hook, every import of a new module, every
# socket, process and exec; prints nothing itself (the record goes to a file), so stdout/stderr are the cell's.
RUNNER = r'''
import json, sys
record = {"events": [], "modules": []}
def hook(event, args):
    if event.startswith(("socket.", "subprocess.", "os.exec", "os.posix_spawn", "os.system", "urllib.")):
        record["events"].append(event)
before = set(sys.modules)
sys.addaudithook(hook)
code = open(sys.argv[1], encoding="utf-8").read()
exec(compile(code, "<setup cell>", "exec"), {"__name__": "__main__"})
record["modules"] = sorted(set(sys.modules) - before)
open(sys.argv[2], "w").write(json.dumps(record))
'''

# The same in a pretend Colab: google.colab imported, some packages missing; subprocess.run only records.
FAKE_COLAB = r'''
import importlib.util, json, sys, types
sys.modules["google"] = types.ModuleType("google")
sys.modules["google.colab"] = types.ModuleType("google.colab")
calls = []
fake = types.ModuleType("subprocess")
fake.run = lambda argv, **kw: calls.append(list(argv))
sys.modules["subprocess"] = fake
hidden = set(sys.argv[3].split(","))
real = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a: None if name in hidden else real(name, *a)
exec(compile(open(sys.argv[1], encoding="utf-8").read(), "<setup cell>", "exec"), {"__name__": "__main__"})
open(sys.argv[2], "w").write(json.dumps(calls))
'''


def _run(script: str, code: str, tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess, object]:
    cell, record, runner = tmp_path / "cell.py", tmp_path / "record.json", tmp_path / "runner.py"
    cell.write_text(code, encoding="utf-8")
    runner.write_text(script, encoding="utf-8")
    proc = subprocess.run([sys.executable, str(runner), str(cell), str(record), *extra], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc, json.loads(record.read_text())


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_the_setup_cell_does_nothing_outside_colab(tmp_path, lang):
    proc, record = _run(RUNNER, colab.setup_source(lang), tmp_path)
    assert proc.stdout == "" and proc.stderr == ""
    assert record["events"] == [], "the cell opened a socket or started a process outside Colab"
    assert record["modules"] == [], f"the cell imported {record['modules']} outside Colab (pip, subprocess, ...)"


@pytest.mark.slow
def test_in_colab_it_installs_the_course_without_deps_and_only_what_is_missing(tmp_path):
    _, calls = _run(FAKE_COLAB, colab.setup_source(), tmp_path, "cnnbook,babel")
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    assert calls == [pip + ["--no-deps", colab.course_requirement()], pip + ["babel==2.19.0"]], calls
    assert colab.course_requirement() == f"cnnbook @ git+{colab.repository_url()}@v{colab._project()['version']}"
    assert not any("torch" in arg for call in calls for arg in call)
    _, calls = _run(FAKE_COLAB, colab.setup_source(), tmp_path, "nothing")
    assert calls == [], "the course is there already (a second run): nothing is installed again"


def test_torch_is_never_among_the_packages_the_cell_may_install():
    pins = colab.learner_pins()
    assert pins and all(re.fullmatch(r"[a-z0-9_]+==[\w.]+", pin) for pin in pins), pins
    assert not [pin for pin in pins if pin.startswith(("torch", "jupyterlab"))]
    assert "babel==2.19.0" in pins and "ipywidgets==8.1.9" in pins


def _released_notebooks() -> list[Path]:
    found = sorted(NOTEBOOKS.rglob("*.ipynb")) + sorted(GUARD.student_version.parent.parent.rglob("*.ipynb"))
    return [p for p in found if ".ipynb_checkpoints" not in p.parts]


def test_every_released_notebook_starts_with_the_setup_cell_in_its_language():
    notebooks = _released_notebooks()
    assert len(notebooks) >= 2 * len(LESSONS) + 1
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        lang = nb.metadata.get("cnnbook", {}).get("language", "en")
        first = nb.cells[0]
        assert colab.is_setup_cell(first), f"{path}: the first cell is not the Colab set-up cell: run release"
        assert first.source == colab.setup_source(lang), f"{path}: an old set-up cell: run release --force"
        assert "nbgrader" not in first.metadata
        assert sum(c.get("id") == colab.CELL_ID for c in nb.cells) == 1


def test_the_korean_cell_differs_from_the_english_one_only_in_its_comment_and_language():
    """Colab gives the kernel no notebook path, so the Korean edition's cell sets CNNBOOK_LANG (in Colab only):
    a learner on Colab read every check of the Korean edition in English."""
    english, korean = colab.setup_source("en"), colab.setup_source("ko")
    assert english != korean and "Colab" in korean

    def code(text):
        return [line for line in text.splitlines() if not line.startswith("#")]

    different = [(a, b) for a, b in zip(code(english), code(korean)) if a != b]
    assert different == [('    os.environ.setdefault("CNNBOOK_LANG", "en")',
                          '    os.environ.setdefault("CNNBOOK_LANG", "ko")')], different


@pytest.mark.slow
def test_in_colab_the_korean_edition_speaks_korean(tmp_path):
    script = FAKE_COLAB.replace('open(sys.argv[2], "w").write(json.dumps(calls))',
                                'import cnnbook.i18n\nopen(sys.argv[2], "w").write(json.dumps(cnnbook.i18n.language()))')
    _, lang = _run(script, colab.setup_source("ko"), tmp_path, "nothing")
    assert lang == "ko"
    _, lang = _run(script, colab.setup_source("en"), tmp_path, "nothing")
    assert lang == "en"


def test_the_cell_of_an_earlier_release_is_still_the_course_s():
    """Learners' saved notebooks keep the set-up cell of the release they started from (no language line)."""
    old = colab.setup_source("en").replace('    import os\n    os.environ.setdefault("CNNBOOK_LANG", "en")\n', "")
    cell = nbformat.v4.new_code_cell(old)
    cell["id"] = colab.CELL_ID
    assert old != colab.setup_source("en") and colab.is_setup_cell(cell)


def test_the_grader_keeps_the_cell_but_neither_runs_nor_flags_it():
    source = nbformat.read(GUARD.source, as_version=4)
    released = nbformat.read(GUARD.student_version, as_version=4)
    steps, flags = plan(released, source)
    assert steps[0] == ("setup", released.cells[0]) and not flags
    assert sum(kind == "setup" for kind, _ in steps) == 1
    assert suspicious_flags(released, source, GUARD.source) == []
    # the cell of another release (another repository, tag or pins) is the course's too
    other = nbformat.from_dict(json.loads(json.dumps(released)))
    other.cells[0].source = other.cells[0].source.replace(colab.repository_url(), "https://github.com/a-fork/x") \
        .replace("babel==", "babel>=")
    assert colab.is_setup_cell(other.cells[0]) and plan(other, source)[0][0][0] == "setup"
    # a learner who adds code to it wrote code: it runs and is read like any learner cell
    edited = nbformat.from_dict(json.loads(json.dumps(released)))
    edited.cells[0].source += "\nimport os; os.environ['X'] = '1'"
    assert not colab.is_setup_cell(edited.cells[0])
    assert plan(edited, source)[0][0] == ("code", edited.cells[0])
    assert "reads-grader-files" in suspicious_flags(edited, source, GUARD.source)



def test_the_cell_is_the_course_s_in_a_notebook_as_colab_saves_it(tmp_path):
    """Colab saves a notebook as nbformat 4.0: no cell ids, its own in each cell's metadata (``metadata.id``). The
    set-up cell was known by its id alone, so every notebook handed in from Colab ran it and was flagged
    `tampering`, `reads-grader-files` and `process-tricks` for the course's own code (found grading one)."""
    from autograde.lessons import read_notebook

    saved = json.loads(nbformat.writes(solved(GUARD)))
    saved["nbformat_minor"] = 0
    saved["metadata"]["colab"] = {"provenance": []}
    for k, cell in enumerate(saved["cells"]):
        del cell["id"]
        cell["metadata"]["id"] = f"c0lab{k:04d}"
    path = tmp_path / f"{GUARD.slug}.ipynb"
    path.write_text(json.dumps(saved), encoding="utf-8")
    nb = read_notebook(path)
    source = nbformat.read(GUARD.source, as_version=4)
    assert colab.is_setup_cell(nb.cells[0])
    steps, flags = plan(nb, source)
    assert steps[0] == ("setup", nb.cells[0]) and not flags
    assert suspicious_flags(nb, source, GUARD.source) == []
    # still not a cell a learner added code to, nor a copy of it further down
    nb.cells[0].source += "\nimport os; os.environ['X'] = '1'"
    assert not colab.is_setup_cell(nb.cells[0])
    assert "reads-grader-files" in suspicious_flags(nb, source, GUARD.source)


def test_a_korean_notebook_saved_by_colab_without_its_metadata_is_still_korean():
    """A trial: the edition of a handed-in notebook was read only from ``metadata.cnnbook.language``; if Colab drops
    the notebook's own metadata when it saves, a Korean learner's notebook was graded, and its feedback page
    written, in English. The Colab set-up cell says the edition too (its CNNBOOK_LANG line): that is read then.
    Metadata wins where both are; a cell a learner rewrote says nothing; an English cell says nothing either (an
    English notebook names no language: the learner's CNNBOOK_LANG or --lang decides, as before)."""
    from autograde.i18n import translated_path
    from autograde.judge import notebook_language

    korean = nbformat.read(translated_path(NOTEBOOKS, "ko", LESSONS[0].slug), as_version=4)
    assert notebook_language(korean) == "ko"
    korean.metadata.pop("cnnbook", None)
    assert notebook_language(korean) == "ko"                      # from its set-up cell
    korean.cells[0].source = korean.cells[0].source.replace("import importlib.util", "import importlib")
    assert notebook_language(korean) is None                      # not the course's cell any more: no word from it
    english = nbformat.read(LESSONS[0].student_version, as_version=4)
    english.metadata.pop("cnnbook", None)
    assert notebook_language(english) is None
    english.metadata["cnnbook"] = {"language": "ko"}
    assert notebook_language(english) == "ko"                     # the metadata, where there is some


def test_a_hostile_setup_cell_is_read_in_linear_time_and_names_no_language_the_course_lacks():
    """A hostile trial. Blank lines: the cell's regular expressions began with ``^\\s*`` (MULTILINE), which runs on
    across every blank line from every line start: a code cell with 40,000 empty lines (40 kB) took 17 s to be told
    no set-up cell, and a notebook of such cells held its worker for hours. Now a cell far longer than the set-up
    cell is not it, and none of the expressions crosses a line. A learner-written cell naming a language the
    course lacks, or with code in its language line, names none; a fake cell with code in its pins is the course's
    cell by shape, and the grader never runs it."""
    import time

    from autograde.judge import notebook_language

    def notebook(source: str):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(source)]
        return nb

    korean = colab.setup_source("ko")
    began = time.monotonic()
    assert not colab.is_setup_cell(notebook("x = 1" + "\n" * 1_000_000 + "y = 2").cells[0])
    assert notebook_language(notebook("\n" * 1_000_000 + korean)) is None          # not the course's cell
    assert notebook_language(notebook("\n" * 5_000 + korean)) == "ko"              # a few blank lines: still it
    assert notebook_language(notebook(" \n" * 9_000 + korean.replace("\n", "\n\n" + " " * 5, 1))) is None
    assert time.monotonic() - began < 2
    assert notebook_language(notebook(korean.replace('"ko")', '"xx")'))) is None      # no such edition
    assert notebook_language(notebook(korean.replace('"ko")', '"ko"); __import__("os")'))) is None
    assert notebook_language(notebook(korean.replace('"ko")', '"ko" + __import__("os").sep)'))) is None
    sneaky = korean.replace("PINS = [", "PINS = [__import__('os').system('id'), ", 1)
    assert colab.is_setup_cell(notebook(sneaky).cells[0])                        # skipped by the grader, never run


@pytest.mark.slow
def test_check_speaks_the_language_of_a_korean_notebook_saved_by_colab_without_its_metadata(tmp_path):
    """A hostile trial: ``check`` read the notebook's raw JSON, where Colab (like Jupyter) writes a cell's source as
    a list of lines, so it never saw the set-up cell's CNNBOOK_LANG line: a Korean learner's ``check`` of a notebook
    Colab saved without the metadata spoke English (its grade spoke Korean). It reads the notebook as the grader does."""
    from autograde.i18n import translated_path
    from conftest import autograde_cli

    korean = nbformat.read(translated_path(NOTEBOOKS, "ko", LESSONS[0].slug), as_version=4)
    korean.metadata.pop("cnnbook", None)
    path = write(korean, tmp_path / f"{LESSONS[0].slug}.ipynb")
    proc = autograde_cli(["check", LESSONS[0].number, str(path)])
    assert "확인 중" in proc.stdout.splitlines()[0] and "points" not in proc.stdout, proc.stdout


@pytest.mark.slow
def test_a_notebook_saved_in_colab_gets_full_marks_and_its_setup_outputs_are_not_kept(tmp_path):
    from autograde.grade import grade_batch

    nb = solved(GUARD)
    assert colab.is_setup_cell(nb.cells[0])
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="Successfully installed cnnbook\n")]
    nb.cells[0].execution_count = 1
    subs, out = tmp_path / "subs", tmp_path / "out"
    write(nb, subs / "colab_user" / GUARD.slug / f"{GUARD.slug}.ipynb")
    rows = grade_batch(subs, out, solutions=GUARD_SOLUTIONS, workers=1, progress=lambda *_: None)
    assert [(r.student, r.score, r.status) for r in rows] == [("colab_user", 4.0, "graded")], rows   # as solved
    assert not rows[0].flags, rows[0].flags
    graded = nbformat.read(out / "autograded" / "colab_user" / GUARD.slug / f"{GUARD.slug}.ipynb", as_version=4)
    assert graded.cells[0].get("id") == colab.CELL_ID and graded.cells[0].outputs == []


# --- README -----------------------------------------------------------------------------------------------

def test_readme_has_a_colab_link_for_every_lesson_made_from_the_lesson_list():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    slugs = [lesson.slug for lesson in all_lessons()]
    start, end = text.find(colab.README_START), text.find(colab.README_END)
    assert 0 <= start < end, "README.md lost its Colab block"
    assert text[start:end + len(colab.README_END)] == colab.readme_block(slugs), \
        "README's Colab links are out of date: run `python -m autograde.colab`"
    links = re.findall(r"\]\((https://colab\.research\.google\.com/github/[^)]+)\)", text)
    owner_repo = colab.repository_url().removeprefix("https://github.com/")
    prefix = f"https://colab.research.google.com/github/{owner_repo}/blob/{colab.BRANCH}/"
    assert {link.removeprefix(prefix) for link in links} == \
        {f"notebooks/{slug}/{slug}.ipynb" for slug in slugs} | {f"notebooks/ko/{slug}/{slug}.ipynb" for slug in slugs
                                                               if (NOTEBOOKS / "ko" / slug).is_dir()}
    for link in links:
        assert link.startswith(prefix) and (ROOT / link.removeprefix(prefix)).is_file(), link


def test_the_repository_address_is_written_only_in_pyproject():
    url = colab.repository_url()
    assert url.startswith("https://github.com/")
    written = [p.relative_to(ROOT).as_posix() for folder in ("autograde", "cnnbook", "tests", "binder", "docs")
               for p in (ROOT / folder).rglob("*") if p.is_file() and p.suffix in (".py", ".md", ".txt", ".toml", "")
               and url in p.read_text(encoding="utf-8", errors="replace")]
    assert written == [], f"the repository address is written again in {written}: read it with autograde.colab"


def test_update_readme_rewrites_only_its_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{colab.README_START}\nstale\n{colab.README_END}\nafter\n", encoding="utf-8")
    assert colab.update_readme(readme, ["01_history"])
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("before\n") and text.endswith("\nafter\n") and "stale" not in text
    assert not colab.update_readme(readme, ["01_history"])
