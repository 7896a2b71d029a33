"""One place for each setting: the course layout is nbgrader_config.py's, and no module writes it again."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat

import pytest

from autograde.lessons import LAYOUT, NOTEBOOKS, ROOT, SOLUTIONS, course_layout


def test_the_layout_is_what_nbgrader_itself_reads_from_the_course_config(monkeypatch):
    from nbgrader.apps.nbgraderapp import NbGraderApp
    from nbgrader.coursedir import CourseDirectory

    monkeypatch.chdir(ROOT)                 # nbgrader reads nbgrader_config.py from the folder it starts in
    app = NbGraderApp()
    app.load_config_file()
    coursedir = CourseDirectory(parent=app)
    for name, value in LAYOUT.items():
        assert getattr(coursedir, name) == value, name
    assert SOLUTIONS == ROOT / coursedir.source_directory and NOTEBOOKS == ROOT / coursedir.release_directory


def test_a_copy_without_the_config_gets_the_same_layout(tmp_path):
    """A learner given only notebooks/, cnnbook/ and data/ finds the lessons where the config puts them."""
    assert course_layout(tmp_path) == LAYOUT


@pytest.mark.parametrize("package", ["autograde", "cnnbook"])
def test_no_module_writes_a_course_folder_name_again(package):
    names = "|".join(re.escape(v) for v in LAYOUT.values())
    pattern = re.compile(rf"""(ROOT|root|project)\s*/\s*["']({names})["']""")
    offenders = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
                 for path in sorted((ROOT / package).rglob("*.py"))
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert not offenders, "course folders named outside nbgrader_config.py:\n" + "\n".join(offenders)


# --- the grader's limits: traits of autograde.settings.GradingLimits, configured in nbgrader_config.py -------

# How each limit's default could be written again, and the words on a line that make such a number that limit.
LITERAL_CONTEXT = {
    "cell_seconds": r"cell|Execute\.timeout|--timeout|default",   # not kernel.py's start-up waits (other settings)
    "submission_factor": r"submission",
    "memory_gib": r"memory|[Gg]i[Bb]",
    "max_processes": r"process",
    "output_bytes": r"output",
    "disk_mib": r"disk|tmpfs",
    "file_mib": r"file_bytes|file_mib|largest file",
    "forked_kernels": r"forked_kernels",
}
CODE = [*sorted((ROOT / "autograde").glob("*.py")), *sorted((ROOT / "cnnbook").glob("*.py")), ROOT / "nbgrader_config.py"]


def _literal(value) -> str:
    """A regex for ``value`` as code may write it: 60, 60.0, 1_000_000, 2 * 2 ** 30 (GiB), 256 * 2 ** 20 (MiB)."""
    if isinstance(value, bool):
        return rf"(?<![\w.]){value}(?![\w.])"
    number = float(value)
    whole = int(number) if number == int(number) else None
    unit = r"\s*\*\s*2\s*\*\*\s*(?:20|30)"
    if whole is None:
        forms = [re.escape(repr(number)) + f"(?:{unit})?"]
    elif whole < 10:            # a bare 2 is everywhere: 2.0, or 2 GiB written as bytes
        forms = [rf"{whole}\.0+(?:{unit})?", rf"{whole}{unit}"]
    else:
        forms = [rf"(?:{whole}(?:\.0*)?|{re.escape(f'{whole:_}')}|{re.escape(f'{whole:,}')})(?:{unit})?"]
    return rf"(?<![\w.])(?:{'|'.join(forms)})(?![\w.])"


def test_every_limit_is_a_configurable_trait_with_help():
    from autograde.settings import GradingLimits

    traits = GradingLimits.class_traits(config=True)
    assert set(traits) == set(LITERAL_CONTEXT), "a new limit: add how its default may be written to LITERAL_CONTEXT"
    for name, trait in traits.items():
        assert len(trait.help) > 30, f"GradingLimits.{name} needs help text"


@pytest.mark.parametrize("name", sorted(LITERAL_CONTEXT))
def test_no_limit_default_is_written_twice(name):
    """Each default is written once, in autograde/settings.py; nothing else repeats it (the CLI, check, grade,
    the sandbox and nbgrader_config.py read it)."""
    from autograde.settings import GradingLimits

    value = GradingLimits.class_traits()[name].default_value
    number, context = re.compile(_literal(value)), re.compile(LITERAL_CONTEXT[name])
    found = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}" for path in CODE
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if number.search(line.split("#")[0] if not line.lstrip().startswith("#") else "")
             and context.search(line)]
    assert len(found) == 1 and found[0].startswith("autograde/settings.py:"), \
        f"the default of GradingLimits.{name} ({value}) is written {len(found)} times:\n" + "\n".join(found)


def test_the_grep_would_catch_a_repeated_default():
    pattern = re.compile(_literal(60.0))
    assert pattern.search("cell_timeout: float = 60,") and pattern.search("timeout=60.0)")
    assert not pattern.search("period: float = 3600.0") and not pattern.search("x = 600")
    assert re.compile(_literal(2.0)).search("memory_bytes: int = 2 * 2 ** 30")
    assert re.compile(_literal(2.0)).search("memory_gib: float = 2.0,")
    assert not re.compile(_literal(2.0)).search("memory = int(argv[2])")
    assert re.compile(_literal(1_000_000)).search("output_bytes: int = 1_000_000")
    assert re.compile(_literal(True)).search("forked_kernels: bool = True") and \
        not re.compile(_literal(True)).search("Trueish = 1")


def _config_copy(tmp_path, **values) -> Path:
    """A copy of the course's nbgrader_config.py with ``c.GradingLimits.<name> = <value>`` set as it says to."""
    text = (ROOT / "nbgrader_config.py").read_text(encoding="utf-8")
    example = "# c.GradingLimits.cell_seconds = 90\n"
    assert example in text, "nbgrader_config.py no longer shows how to set a limit"
    lines = "".join(f"c.GradingLimits.{name} = {value!r}\n" for name, value in values.items())
    (tmp_path / "nbgrader_config.py").write_text(text.replace(example, example + lines), encoding="utf-8")
    return tmp_path


def test_nbgrader_config_sets_the_limits_and_nbgraders_timeout_follows(tmp_path):
    from nbgrader.preprocessors import Execute

    from autograde.settings import course_config, grading_limits

    assert Execute(config=course_config()).timeout == grading_limits().cell_seconds
    root = _config_copy(tmp_path, cell_seconds=7.0, memory_gib=1.5, output_bytes=5000)
    config = course_config(root)
    assert Execute(config=config).timeout == 7 and config.Execute.interrupt_on_timeout
    limits = grading_limits(root).limits()
    assert (limits["cell_seconds"], limits["memory_bytes"], limits["output_bytes"]) == (7.0, int(1.5 * 2 ** 30), 5000)
    assert grading_limits(root).limits(cell_seconds=3, memory_gib=1)["cell_seconds"] == 3       # one run's --timeout


def test_the_cli_defaults_and_help_are_the_configured_limits(tmp_path, monkeypatch):
    import autograde.settings
    from autograde.__main__ import build_parser

    monkeypatch.setattr(autograde.settings, "ROOT", _config_copy(tmp_path, cell_seconds=7.0, memory_gib=1.5))
    parser = build_parser()
    args = parser.parse_args(["grade", "subs", "--out", "out"])
    assert (args.timeout, args.memory) == (7.0, 1.5)
    assert parser.parse_args(["check", "1"]).timeout == 7.0 and parser.parse_args(["progress"]).timeout == 7.0
    grade_help = next(a for a in parser._subparsers._group_actions[0].choices["grade"]._actions if a.dest == "timeout")
    assert "default 7" in grade_help.help


@pytest.mark.slow
def test_check_and_grade_use_the_configured_cell_time(tmp_path, monkeypatch):
    """A cell that sleeps 20 s passes under the default limit and is stopped under a 4 s one set in a copy of
    nbgrader_config.py: by the self-check and by the grader, with no --timeout given."""
    import autograde.settings
    from autograde.check import check_notebook
    from autograde.grade import grade_batch
    from conftest import GUARD, GUARD_SOLUTIONS, solved, write

    monkeypatch.setattr(autograde.settings, "ROOT", _config_copy(tmp_path, cell_seconds=4.0))
    nb = solved(GUARD)
    nb.cells.append(nbformat.v4.new_code_cell("import time\ntime.sleep(20)"))
    path = write(nb, tmp_path / "subs" / "slow" / GUARD.slug / f"{GUARD.slug}.ipynb")
    report = check_notebook(GUARD, path)
    assert "time limit" in report.problem, report.problem
    rows = grade_batch(tmp_path / "subs", tmp_path / "out", solutions=GUARD_SOLUTIONS, workers=1,
                       progress=lambda *_: None)
    assert "timeout" in rows[0].flags, rows[0]
