"""What `grade` compares to decide that a result is still good (runner.fingerprint): the grading code, the helpers and
the lesson's tests. A change to the instructor's other tools (release, package-students, progress, reset, the command
line's parser) grades nobody again: a class trial re-graded 18 notebooks (83 s) after a comment was added to a module
grading never runs. Fast: no kernel."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograde import runner
from autograde.lessons import ROOT


def _copy_course_code(tmp_path: Path) -> Path:
    for package in ("autograde", "cnnbook"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def _touch(path: Path) -> None:
    path.write_text(path.read_text(encoding="utf-8") + "\n# an instructor's update\n", encoding="utf-8")


def test_a_change_to_a_module_grading_never_imports_grades_nobody_again(tmp_path):
    root = _copy_course_code(tmp_path)
    before = runner.code_fingerprint(root)
    for name in ("release", "package", "reset", "progress", "__main__", "cli", "report"):
        assert name not in runner.graded_modules(root / "autograde"), name
        _touch(root / "autograde" / f"{name}.py")
    assert runner.code_fingerprint(root) == before


def test_a_change_to_what_grading_runs_grades_again(tmp_path):
    root = _copy_course_code(tmp_path)
    seen = {runner.code_fingerprint(root)}
    for path in ("autograde/runner.py", "autograde/judge.py", "autograde/grade.py", "autograde/collect.py",
                 "autograde/publish.py", "autograde/shim.py", "autograde/__init__.py", "cnnbook/checks.py",
                 "cnnbook/workspace.py"):
        _touch(root / path)
        seen.add(runner.code_fingerprint(root))
    assert len(seen) == 10                  # every change gave a new fingerprint


@pytest.mark.slow                               # a new Python process
def test_every_module_the_grader_loads_is_in_the_fingerprint():
    """The import closure read from the sources holds every module a process of the grader loads (the command, the
    worker, the judge, the kernel's programs), and every module grading starts by name (`-m autograde.x`)."""
    graded = runner.graded_modules(ROOT / "autograde")
    roots = ", ".join(f"autograde.{name}" for name in runner.GRADING_ROOTS if name != "__init__")
    loaded = subprocess.run([sys.executable, "-c", f"import sys, {roots}; "
                             "print(' '.join(m for m in sys.modules if m.startswith('autograde.')))"],
                            capture_output=True, text=True, check=True, cwd=ROOT).stdout.split()
    assert loaded and {name.split(".")[1] for name in loaded} <= set(graded) | set(runner.REBUILT_EACH_RUN)
    import re

    for name in graded:
        text = (ROOT / "autograde" / f"{name}.py").read_text(encoding="utf-8")
        for started in re.findall(r"[\"']autograde\.(\w+)", text):
            assert started in graded or started in runner.REBUILT_EACH_RUN, (name, started)


def test_progress_reads_no_cached_table_written_by_another_version_of_itself(tmp_path, monkeypatch):
    """progress's cache is keyed by the grading fingerprint, which no longer covers progress.py itself."""
    from autograde import progress

    notebook, tests = tmp_path / "n.ipynb", tmp_path / "t.ipynb"
    notebook.write_text("{}", encoding="utf-8")
    tests.write_text("{}", encoding="utf-8")
    before = progress.cache_key(notebook, tests, True, "en")
    code = tmp_path / "progress.py"
    code.write_text(Path(progress.__file__).read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    monkeypatch.setattr(progress, "__file__", str(code))
    assert progress.cache_key(notebook, tests, True, "en") != before


def test_grading_uses_only_the_output_helpers_of_a_module_every_run_rebuilds():
    """report.py is left out of the fingerprint because all grading takes from it writes files each run rebuilds;
    a new use of it in grading code must be looked at (and the module put back in the fingerprint if it decides
    anything a result keeps)."""
    import ast

    package = ROOT / "autograde"
    for name in runner.graded_modules(package):
        tree = ast.parse((package / f"{name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module in runner.REBUILT_EACH_RUN:
                used = {alias.name for alias in node.names}
                assert used <= runner.OUTPUT_HELPERS[node.module], (name, used)
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module is None:
                assert not {alias.name for alias in node.names} & set(runner.REBUILT_EACH_RUN), name


def test_a_changed_translation_grades_again(tmp_path):
    """A result keeps its messages in the learner's language: a fixed Korean sentence (the package's or the lesson's)
    left the class's stored Korean feedback as it was until --force (an instructor's trial)."""
    root = _copy_course_code(tmp_path)
    before = runner.code_fingerprint(root)
    catalogs = sorted((root / "cnnbook" / "locale").rglob("*.po"))
    assert catalogs
    _touch(catalogs[0])
    assert runner.code_fingerprint(root) != before
    lesson = tmp_path / "solutions" / "04_parameters"
    shutil.copytree(ROOT / "solutions" / "04_parameters", lesson)
    source = lesson / "04_parameters.ipynb"
    first = runner.fingerprint(source)
    _touch(lesson / "ko.po")
    assert runner.fingerprint(source) != first
