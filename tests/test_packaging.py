"""Install profiles, the installed helper package's data, the console script and the student bundle."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from autograde.lessons import ROOT, all_lessons

REQUIREMENTS = ROOT / "requirements"
#: What a learner must never be made to install: grading, databases, distributed computing, browsers, dev tools.
NOT_FOR_LEARNERS = {"nbgrader", "sqlalchemy", "alembic", "psycopg2", "psycopg2-binary", "dask", "distributed",
                    "playwright", "greenlet", "pytest", "ruff", "mypy", "pip-tools", "nh3", "scikit-learn",
                    "scikit-image"}
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)\s*$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock(profile: str) -> dict[str, str]:
    """name -> version of every package pinned in requirements/<profile>.txt; any other line fails."""
    pins = {}
    for line in (REQUIREMENTS / f"{profile}.txt").read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        match = _PIN.match(text)
        assert match, f"{profile}.txt: {text!r} is not a `name==version` pin"
        pins[canonical(match[1])] = match[2]
    return pins


def test_the_learner_lock_holds_no_grading_database_distributed_browser_or_dev_package():
    learner = lock("learner")
    assert not NOT_FOR_LEARNERS & set(learner), sorted(NOT_FOR_LEARNERS & set(learner))
    for needed in ("torch", "numpy", "matplotlib", "ipywidgets", "jupyterlab", "ipykernel", "jupyter-client",
                   "nbformat", "tqdm", "scipy"):
        assert needed in learner, f"the learner profile lacks {needed}"
    assert {"nbgrader", "sqlalchemy", "psycopg2-binary", "dask", "distributed", "nh3"} <= set(lock("instructor"))
    assert {"pytest", "playwright", "ruff", "mypy", "pip-tools"} <= set(lock("dev"))


@pytest.mark.parametrize("profile", ["learner", "instructor", "dev"])
def test_each_lock_pins_torch_to_the_cpu_version_and_every_transitive_dependency(profile):
    pins = lock(profile)
    assert pins["torch"] == "2.13.0", "torch must be pinned to 2.13.0 exactly (the CPU build satisfies it)"
    assert not any(name.startswith("nvidia-") or name == "triton" for name in pins), "a CUDA package is locked"
    # Every requirement of every locked package (as installed in this environment) is locked too.
    for name in pins:
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            continue   # only the dev environment runs this test; a learner-only package would show here
        for spec in map(Requirement, requires):
            if spec.marker is None or spec.marker.evaluate({"extra": ""}):
                assert canonical(spec.name) in pins, f"{profile}.txt: {name} needs {spec.name}, which is not pinned"


def test_the_profiles_agree_and_build_on_each_other():
    learner, instructor, dev = lock("learner"), lock("instructor"), lock("dev")
    assert learner.items() <= instructor.items(), "instructor.txt changes a learner pin"
    assert instructor.items() <= dev.items(), "dev.txt changes an instructor pin"
    direct = [Requirement(line).name for line in (REQUIREMENTS / "learner.in").read_text().splitlines()
              if line.strip() and not line.startswith(("#", "-"))]
    assert all(canonical(name) in learner for name in direct)
    # CI and conda users install these files: requirements.txt is the dev lock, environment.yml the learner's.
    assert "-r requirements/dev.txt" in (ROOT / "requirements.txt").read_text().splitlines()
    assert "-r requirements/learner.txt" in (ROOT / "environment.yml").read_text()


@pytest.mark.slow
def test_the_self_check_imports_no_grading_package(tmp_path, project_root):
    """`check` runs with nbgrader, Dask, PostgreSQL's driver, nh3 and Playwright unimportable."""
    from conftest import GUARD, solved, write

    notebook = write(solved(GUARD), tmp_path / "mine.ipynb")
    blocked = sorted({"nbgrader", "sqlalchemy", "alembic", "psycopg2", "dask", "distributed", "playwright", "nh3"})
    program = f"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError("not in the learner profile: " + name)
sys.meta_path.insert(0, Block())
from pathlib import Path
from autograde.check import check_notebook, format_report
from autograde.lessons import all_lessons
report = check_notebook(all_lessons(Path({str(GUARD.solutions)!r}))[0], Path({str(notebook)!r}))
print(format_report(report))
print("LOADED", sorted(m for m in sys.modules if m.split(".")[0] in {blocked!r}))
"""
    proc = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(project_root)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Every test passes" in proc.stdout, proc.stdout
    assert "LOADED []" in proc.stdout


@pytest.mark.parametrize("command", [["grade", "subs", "--out", "out"], ["release", "3", "--out", "released"]])
def test_an_instructors_command_in_the_learner_profile_says_what_to_install(tmp_path, project_root, command):
    """A learner (the learner profile: no nbgrader, Dask, ...) who runs `grade` or `release` reads one line naming the
    instructor profile, not a traceback (a fresh install's trial met `ModuleNotFoundError: No module named
    'nbgrader'` from grade.py)."""
    blocked = sorted(NOT_FOR_LEARNERS)
    program = f"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError("No module named " + repr(name), name=name)
sys.meta_path.insert(0, Block())
from autograde.cli import main
sys.exit(main({command!r}))
"""
    proc = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(project_root)})
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"`cnn-course {command[0]}`" in lines[0], lines
    assert "instructor profile (pip install -r requirements/instructor.txt -e .)" in lines[0], lines
    assert not (tmp_path / "out").exists() and not (tmp_path / "released").exists()


def test_the_console_script_is_declared_and_dispatches(capsys):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["cnn-course"] == "autograde.cli:main"
    from autograde.cli import main

    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    # one usage line, naming every command (there were two that disagreed, the second without lab)
    assert out.count("usage:") == 1 and "{lab,release,check,progress,reset,grade,i18n,package-students}" in out, out
    assert "--instructor" in out and "한국어판" in out
    with pytest.raises(SystemExit):
        main(["lab", "--help"])
    assert "--instructor" in capsys.readouterr().out


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory):
    """cnnbook built as a wheel and installed into a folder of its own: no repository beside it."""
    where = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(where / "dist"), str(ROOT)], check=True, capture_output=True, timeout=300)
    wheel = next((where / "dist").glob("cnnbook-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(where / "site")    # a wheel is installed by unpacking it (PEP 427)
    return where / "site"


def run_installed(site: Path, code: str, **env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CNNBOOK_DATA")}
    return subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(site)!r})\n{code}"],
                          capture_output=True, text=True, timeout=300, cwd=site.parent, env={**clean, **env})


@pytest.mark.slow  # builds the wheel
def test_an_installed_cnnbook_loads_its_own_checked_data(installed_wheel):
    entry_points = next(installed_wheel.glob("cnnbook-*.dist-info")) / "entry_points.txt"
    assert "cnn-course = autograde.cli:main" in entry_points.read_text()
    proc = run_installed(installed_wheel, """
import cnnbook, cnnbook.data as data
print(cnnbook.__file__); print(data.data_dir())
print(data.load_photo("coins").shape, data.load_digits()["x_train"].shape, data.load_fashion_cnn()["classes"])
""")
    assert proc.returncode == 0, proc.stderr
    module, folder, shapes = proc.stdout.splitlines()
    assert module.startswith(str(installed_wheel)) and folder == str(installed_wheel / "cnnbook" / "_data")
    assert shapes == "(303, 384) (8000, 28, 28) (0, 1, 4, 5, 8)"


@pytest.mark.slow  # builds the wheel
def test_an_installed_cnnbook_refuses_damaged_data_and_says_how_to_restore_it(installed_wheel, tmp_path):
    photos = installed_wheel / "cnnbook" / "_data" / "photos.npz"
    good = photos.read_bytes()
    try:
        photos.write_bytes(good[:-10] + b"0123456789")
        proc = run_installed(installed_wheel, "import cnnbook.data as d; d.load_photo('camera')")
    finally:
        photos.write_bytes(good)
    assert proc.returncode != 0 and "DataError" in proc.stderr
    assert "damaged or was changed" in proc.stderr and "pip install --force-reinstall" in proc.stderr


def secret_lines() -> dict[str, set[str]]:
    """Every line of every lesson's solutions and hidden tests that a learner must not get, by kind.

    A line that also stands outside the solution and hidden-test blocks (in a visible test, a stub) is public;
    so is a line of the project's own helper code (cnnbook/, autograde/, data/*.py), which every learner has.
    """
    secret: dict[str, set[str]] = {"solution": set(), "hidden test": set()}
    public: set[str] = set()
    for lesson in all_lessons():
        for cell in json.loads(lesson.source.read_text(encoding="utf-8"))["cells"]:
            kind = None
            for line in "".join(cell["source"]).splitlines():
                text = line.strip()
                if text in ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS"):
                    kind = "solution" if "SOLUTION" in text else "hidden test"
                elif text in ("### END SOLUTION", "### END HIDDEN TESTS"):
                    kind = None
                elif kind:
                    secret[kind].add(text)
                else:
                    public.add(text)
    for folder in ("cnnbook", "autograde", "data"):
        for path in (ROOT / folder).glob("*.py"):
            public |= {line.strip() for line in path.read_text(encoding="utf-8").splitlines()}
    return {kind: {line for line in lines - public if line} for kind, lines in secret.items()}


@pytest.mark.slow
def test_the_student_bundle_holds_the_course_and_no_solution_or_hidden_test(tmp_path):
    out = tmp_path / "cnn-course-students.zip"
    proc = subprocess.run([sys.executable, "-m", "autograde", "package-students", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    secrets = secret_lines()
    assert len(secrets["solution"]) > 100 and len(secrets["hidden test"]) > 100
    with zipfile.ZipFile(out) as archive:
        names = [n.split("/", 1)[1] for n in archive.namelist()]
        assert {n.split("/", 1)[0] for n in archive.namelist()} == {"cnn-course-students"}
        texts = {name: archive.read(full).decode("utf-8") for name, full in zip(names, archive.namelist())
                 if not name.endswith(".npz")}
    for lesson in all_lessons():
        assert f"notebooks/{lesson.slug}/{lesson.slug}.ipynb" in names
    for needed in ("README.md", "requirements.txt", "pyproject.toml", "cnnbook/data.py", "autograde/check.py",
                   "data/SHA256SUMS", "data/photos.npz", "jupyter-config/student/labconfig/page_config.json",
                   "nbgrader_config.py"):    # it names the course's folders (autograde.lessons reads the layout)
        assert needed in names, f"the bundle lacks {needed}"
    assert not [n for n in names if n.split("/")[0] in ("solutions", "tests", "requirements", "benchmarks")
                or n == "gradebook.db" or "instructor" in n]
    assert texts["requirements.txt"] == (REQUIREMENTS / "learner.txt").read_text(encoding="utf-8")
    found = []
    for name, text in texts.items():
        lines = {line.strip() for line in text.splitlines()}
        if name.endswith(".ipynb"):
            cells = json.loads(text)["cells"]
            lines = {line.strip() for cell in cells for line in "".join(cell["source"]).splitlines()}
            found += [f"{name}: marker {m}" for m in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
                      if any(m in line for line in lines)]
        for kind, secret in secrets.items():
            found += [f"{name}: {kind} line {line!r}" for line in sorted(lines & secret)]
    assert not found, "\n".join(found[:20])
    # The helper code is the project's, unchanged: nothing else was slipped in beside it.
    for name, text in texts.items():
        if name.split("/")[0] in ("cnnbook", "autograde", "data", "notebooks", "nbgrader_config.py"):
            assert text == (ROOT / name).read_text(encoding="utf-8"), f"{name} differs from the project's"


def test_the_bundle_is_refused_when_a_notebook_still_holds_a_hidden_test(tmp_path):
    from autograde.lessons import UsageError
    from autograde.package import build

    project = tmp_path / "course"
    for part in ("cnnbook", "autograde", "data", "jupyter-config"):
        (project / part).mkdir(parents=True)
    (project / "requirements").mkdir()
    for name in ("requirements/learner.txt", "pyproject.toml", "LICENSE", "jupyter-config/student/x.json",
                 "nbgrader_config.py"):
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text("x\n")
    lesson = all_lessons()[0]
    source = json.loads(lesson.source.read_text(encoding="utf-8"))
    (project / "notebooks" / lesson.slug).mkdir(parents=True)
    (project / "notebooks" / lesson.slug / f"{lesson.slug}.ipynb").write_text(json.dumps(source))
    with pytest.raises(UsageError, match="refusing to package.*BEGIN"):
        build(tmp_path / "out", project=project)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_lab_for_an_instructor_without_nbgrader_says_what_to_install(monkeypatch, capsys, lang):
    """`cnn-course lab --instructor` in the learner profile (no nbgrader) opened JupyterLab without the instructor's
    tools and said nothing (a fresh install's trial): it stops with one line naming the instructor profile, in the
    learner's language, and starts nothing."""
    import importlib.util

    import cnnbook.i18n
    import cnnbook.lab

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "nbgrader" else real(name, *a))
    monkeypatch.setattr(cnnbook.lab.os, "execve", lambda *a: pytest.fail(f"JupyterLab was started: {a[1]}"))
    monkeypatch.setattr(cnnbook.lab, "sync_work", lambda *a: pytest.fail("the work folder was touched"))
    chosen = cnnbook.i18n._chosen
    try:
        assert cnnbook.lab.main(["--instructor", "--lang", lang]) == 2
    finally:
        cnnbook.i18n.set_language(chosen)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install -r requirements/instructor.txt -e ." in err[0], err
    assert ("강사용 프로필" in err[0]) == (lang == "ko"), err
