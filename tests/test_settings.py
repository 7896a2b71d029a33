"""One place for each setting: the course layout is nbgrader_config.py's, and no module writes it again."""
from __future__ import annotations

import re

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
