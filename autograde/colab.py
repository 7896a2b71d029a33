"""Google Colab: the set-up cell at the top of every released student notebook, and the README's Colab links.

A learner who opens a lesson in Colab gets the notebook alone: no ``cnnbook`` package, no ``data/``. The set-up
cell (id ``colab-setup``, not an nbgrader cell) installs, in Colab only, the course package from the course's
repository at the release's tag (``v`` + ``[project] version``) with ``--no-deps`` (the package carries the data,
see ``cnnbook.data``; Colab's own torch, numpy and friends stay as they are), plus those of the learner profile's
packages (``requirements/learner.in``, torch and JupyterLab excepted) that the runtime lacks, at their pinned
versions. Outside Colab (``google.colab`` not imported) it does nothing, prints nothing and imports only ``sys``.

The repository is written in ONE place: ``[project.urls] Repository`` in ``pyproject.toml``. A fork sets its own
there, then runs ``python -m autograde release --force`` (the cells) and ``python -m autograde.colab`` (the
README's links). ``release`` inserts the cell (:func:`add_setup_cell`); the translated editions get its comment
in their language (:func:`localise`, called by ``autograde.i18n.translate_notebook``). The grader recognises the
cell (:func:`is_setup_cell`, whatever repository or tag it names) and neither runs nor flags it.
"""
from __future__ import annotations

import re
import sys
import tomllib
from functools import lru_cache
from pathlib import Path

import nbformat

from .lessons import NOTEBOOKS, ROOT
CELL_ID = "colab-setup"
BRANCH = "main"                 # the branch the README's Colab links open
COLAB = "https://colab.research.google.com/github"
BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
NEVER_INSTALLED = {"torch", "jupyterlab"}   # Colab ships its own torch; Colab is the notebook front end

COMMENTS = {
    "en": "# Google Colab only: installs the course's helper package and its data (Colab's own torch stays as it is).\n"
          "# Anywhere else this cell does nothing. Run it first.\n",
    "ko": "# Google Colab 전용: 강좌의 도우미 패키지와 데이터를 설치합니다 (Colab에 있는 torch는 그대로 둡니다).\n"
          "# 다른 환경에서는 아무 일도 하지 않습니다. 가장 먼저 실행하세요.\n",
}

_LANG_LINES = '''    import os
    os.environ.setdefault("CNNBOOK_LANG", "{lang}")
'''
_LANG_LINE = re.compile(r'^([ \t]*os\.environ\.setdefault\("CNNBOOK_LANG", )"[a-z]*"\)$', re.MULTILINE)
_CODE = '''import sys
if "google.colab" in sys.modules:
''' + _LANG_LINES + '''    import importlib.util
    import subprocess
    COURSE = "{course}"
    PINS = {pins!r}
    missing = [pin for pin in PINS if importlib.util.find_spec(pin.split("==")[0]) is None]
    if importlib.util.find_spec("cnnbook") is None:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", COURSE], check=True)
    if missing:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *missing], check=True)'''


@lru_cache(maxsize=None)
def _project(root: Path = ROOT) -> dict:
    with (root / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)["project"]


def repository_url(root: Path = ROOT) -> str:
    """``[project.urls] Repository`` of pyproject.toml: the one place the course's GitHub address is written."""
    url = str(_project(root).get("urls", {}).get("Repository", "")).rstrip("/")
    if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url):
        raise ValueError(f"pyproject.toml [project.urls] Repository must be https://github.com/<owner>/<repo>, "
                         f"not {url!r}")
    return url.removesuffix(".git")


def release_ref(root: Path = ROOT) -> str:
    """The git tag the set-up cell installs: ``v`` + the project's version (tag each published version)."""
    return "v" + str(_project(root)["version"])


def course_requirement(root: Path = ROOT) -> str:
    return f"cnnbook @ git+{repository_url(root)}@{release_ref(root)}"


def learner_pins(root: Path = ROOT) -> list[str]:
    """The learner profile's direct requirements Colab may lack (``name==version``), torch and JupyterLab excepted."""
    pins = []
    for line in (root / "requirements" / "learner.in").read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        name, sep, version = line.partition("==")
        if sep and name.strip().lower() not in NEVER_INSTALLED:
            pins.append(f"{name.strip().lower().replace('-', '_')}=={version.strip()}")
    return pins


def setup_source(lang: str = "en", root: Path = ROOT) -> str:
    """The cell of the edition in ``lang``: its comment, and in Colab the messages' language (``CNNBOOK_LANG``:
    Colab gives the kernel no notebook path, from which ``cnnbook.i18n`` would know the edition)."""
    return COMMENTS.get(lang, COMMENTS["en"]) + _CODE.format(course=course_requirement(root), pins=learner_pins(root),
                                                             lang=lang)


def _shape(source: str) -> str:
    """The cell without its comments, course requirement and pins: what every release's cell has in common."""
    lines = [line for line in source.strip().splitlines() if not line.startswith("#")]
    text = "\n".join(line.rstrip() for line in lines)
    text = re.sub(r'^([ \t]*COURSE = )"[^"\n]*"$', r'\1""', text, flags=re.MULTILINE)
    text = _LANG_LINE.sub(r'\1"")', text)
    return re.sub(r"^([ \t]*PINS = )\[[^\]\n]*\]$", r"\1[]", text, flags=re.MULTILINE)


_SHAPE = _shape(_CODE.format(course="", pins=[], lang=""))
# the cell of releases before the language line (learners' saved notebooks keep it): the course's too
_SHAPES = {_SHAPE, _shape(_CODE.replace(_LANG_LINES, "").format(course="", pins=[]))}


# The set-up cell is about 1,000 characters: a cell many times longer is not it, and is not looked into (its lines
# start no regular expression at every one of a million blank lines: a hostile trial's 40,000 took 17 s).
MAX_SETUP_CHARS = 20_000


def is_setup_cell(cell) -> bool:
    """The course's Colab set-up cell as some release wrote it (any repository, tag, pins or language), known by its
    code alone: Colab saves a notebook as nbformat 4.0, without the cell ids release wrote (its own are in each
    cell's metadata), and a cell of that code is inert outside Colab wherever it stands."""
    source = cell.get("source", "")
    return cell.get("cell_type") == "code" and isinstance(source, str) and len(source) <= MAX_SETUP_CHARS \
        and _shape(source) in _SHAPES


_SAID_LANG = re.compile(r'^[ \t]*os\.environ\.setdefault\("CNNBOOK_LANG", "([a-z]+)"\)$', re.MULTILINE)


def setup_cell_language(nb) -> str | None:
    """The translated edition the notebook's Colab set-up cell names (its ``CNNBOOK_LANG`` line: "ko"), or None
    (English, as an English notebook's metadata names none): the edition of a notebook saved by Colab, which may
    not keep the notebook's own metadata."""
    for cell in nb.get("cells", [])[:3] if isinstance(nb.get("cells"), list) else []:
        if isinstance(cell, dict) and is_setup_cell(cell):
            found = _SAID_LANG.search(str(cell.get("source", "")))
            return found[1] if found and found[1] != "en" else None
    return None


def add_setup_cell(nb, lang: str = "en", root: Path = ROOT):
    """Put the set-up cell first in ``nb`` (in place; an earlier one is replaced); return ``nb``."""
    nb.cells = [c for c in nb.cells if c.get("id") != CELL_ID]
    cell = nbformat.v4.new_code_cell(setup_source(lang, root))
    cell["id"] = CELL_ID
    nb.cells.insert(0, cell)
    return nb


def localise(nb, lang: str, root: Path = ROOT) -> None:
    """Give a translated edition's set-up cell its comment and language line in ``lang`` (the code is the English
    edition's)."""
    for cell in nb.cells:
        if is_setup_cell(cell):
            code = "\n".join(line for line in cell.source.splitlines() if not line.startswith("#"))
            cell.source = COMMENTS.get(lang, COMMENTS["en"]) + _LANG_LINE.sub(rf'\1"{lang}")', code)


# ---------------------------------------------------------------------------------------------- README
README_START = "<!-- colab-links: made by `python -m autograde.colab`; do not edit by hand -->"
README_END = "<!-- /colab-links -->"


def colab_url(slug: str, lang: str | None = None, root: Path = ROOT) -> str:
    owner_repo = repository_url(root).removeprefix("https://github.com/")
    folder = f"{NOTEBOOKS.name}/{lang}/{slug}" if lang else f"{NOTEBOOKS.name}/{slug}"
    return f"{COLAB}/{owner_repo}/blob/{BRANCH}/{folder}/{slug}.ipynb"


def readme_block(slugs: list[str], root: Path = ROOT) -> str:
    rows = [README_START, "", "| # | lesson | open in Colab |", "|---|---|---|"]
    for slug in slugs:
        number, title = slug[:2], slug[3:].replace("_", " ")
        english = f"[![Open {slug} in Colab]({BADGE})]({colab_url(slug, root=root)})"
        korean = f"[한국어]({colab_url(slug, 'ko', root=root)})" if (NOTEBOOKS / "ko" / slug).is_dir() else ""
        rows.append(f"| {number} | {title} | {english} {korean}".rstrip() + " |")
    return "\n".join(rows + ["", README_END])


def update_readme(readme: Path, slugs: list[str], root: Path = ROOT) -> bool:
    """Rewrite the block between the markers in ``readme``; return whether it changed."""
    text = readme.read_text(encoding="utf-8")
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"{readme} has no Colab block: put the two lines\n{README_START}\n{README_END}\nwhere the "
                         "links belong")
    new = text[:start] + readme_block(slugs, root) + text[end + len(README_END):]
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


def main() -> int:
    from .lessons import all_lessons

    changed = update_readme(ROOT / "README.md", [lesson.slug for lesson in all_lessons()])
    print("README.md: Colab links " + ("rewritten" if changed else "already current"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
