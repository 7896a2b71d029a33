"""docs/architecture.md matches the tree: every module is on it, and every path it names exists (issue #15)."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
TOP = ("autograde/", "cnnbook/", "solutions/", "notebooks/", "data/", "docs/", "tests/", "requirements/", "binder/",
       "jupyter-config/", "benchmarks/", ".ci/", "pyproject.toml", "nbgrader_config.py", "requirements.txt",
       "environment.yml", "README.md", "DEVELOPERS.md")


def named_paths() -> set[str]:
    """Every `path` in backticks, or at the start of a diagram line, that lies in the repository."""
    found = set(re.findall(r"`([^`\s]+)`", PAGE)) | set(re.findall(r"^\s*[│ ]*(?:[a-z_]+ ─+> )?([\w./-]+/[\w./-]+)",
                                                                     PAGE, re.M))
    return {path.rstrip(".,:;") for path in found if path.startswith(TOP)}


def test_every_module_of_the_grader_and_the_helper_package_is_on_the_page():
    listed = set(re.findall(r"^\| `((?:autograde|cnnbook)/[\w]+\.py)` \|", PAGE, re.M))
    modules = {str(path.relative_to(ROOT)) for package in ("autograde", "cnnbook")
               for path in (ROOT / package).glob("*.py")}
    assert modules - listed == set(), "modules missing from docs/architecture.md's 'Every module' table"
    assert listed - modules == set(), "docs/architecture.md lists modules that no longer exist"


def test_every_path_the_page_names_exists():
    paths = named_paths()
    assert len(paths) > 30                      # the page names the tree; an empty match would prove nothing
    missing = []
    for path in sorted(paths):
        pattern = re.sub(r"<[^>]+>|NN_slug|\bNN\b|\*", "*", path.split("::")[0])
        if not any(ROOT.glob(pattern.rstrip("/"))):
            missing.append(path)
    assert missing == [], f"docs/architecture.md names paths that do not exist: {missing}"
