"""Binder (repo2docker): binder/ installs the learner profile and sets up the learner's JupyterLab."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from autograde.lessons import ROOT

BINDER = ROOT / "binder"


def test_binder_installs_exactly_the_learner_lock_with_cpu_torch():
    lines = [line.strip() for line in (BINDER / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines == ["--extra-index-url https://download.pytorch.org/whl/cpu", "-r ../requirements/learner.txt"]
    # pip reads a nested -r relative to the file that names it: binder/../requirements/learner.txt
    assert (BINDER / "../requirements/learner.txt").resolve() == ROOT / "requirements" / "learner.txt"
    major, minor = sys.version_info[:2]
    assert (BINDER / "runtime.txt").read_text().strip() == f"python-{major}.{minor}"


@pytest.mark.slow  # makes a virtual environment and installs the course package into it
def test_post_build_installs_the_course_and_the_learner_jupyterlab_settings(tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=False)   # the lock's packages: this machine's
    bin_dir = env_dir / "bin"
    (bin_dir / "python").exists() or pytest.skip("no POSIX venv layout")
    home = tmp_path / "home"
    home.mkdir()
    env = {**{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")},
           "HOME": str(home), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    # pip comes from the system site packages; postBuild runs in the repository, as repo2docker runs it
    proc = subprocess.run(["bash", str(BINDER / "postBuild")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    where = subprocess.run([str(bin_dir / "python"), "-c", "import cnnbook, sys; print(cnnbook.__file__, sys.prefix)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert where.returncode == 0, where.stderr
    module, prefix = where.stdout.split()
    assert Path(module) == ROOT / "cnnbook" / "__init__.py" and Path(prefix) == env_dir
    settings = json.loads((home / ".jupyter" / "labconfig" / "page_config.json").read_text())
    assert settings["disabledExtensions"]["@jupyter/nbgrader:formgrader"] is True
