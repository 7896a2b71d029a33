"""``python -m autograde package-students OUT``: what an instructor hands learners, without the answers.

The bundle holds the released notebooks (``notebooks/``), the helper package (``cnnbook/``), the self-check
(``autograde/``: ``check`` runs the visible tests where no ``solutions/`` is present), the data with its
checksums, the learner profile's lock as ``requirements.txt``, the learner JupyterLab settings and a README
for students. It never holds ``solutions/``, the tests, the gradebook or nbgrader's configuration, and it is
refused (nothing written) if a notebook in it still carries a solution or a hidden-test marker.
OUT ending in ``.zip`` writes a zip with one top folder instead of a folder.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from pathlib import Path

from .lessons import NOTEBOOKS, ROOT, UsageError

#: What goes into the bundle from the project, as (source, name in the bundle).
PARTS = ((NOTEBOOKS.name, NOTEBOOKS.name), ("nbgrader_config.py", "nbgrader_config.py"), ("cnnbook", "cnnbook"), ("autograde", "autograde"), ("data", "data"),
         ("jupyter-config/student", "jupyter-config/student"), ("requirements/learner.txt", "requirements.txt"),
         ("pyproject.toml", "pyproject.toml"), ("LICENSE", "LICENSE"))
#: Text that only a source notebook has: a bundle notebook holding any of it is refused.
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info")


class LeakError(UsageError):
    """A notebook that would go to students still holds a solution or a hidden test."""


def leaks(notebook: Path) -> list[str]:
    """The markers of solutions and hidden tests found in one notebook's cells."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    found = []
    for index, cell in enumerate(nb.get("cells", [])):
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        found += [f"cell {index}: {marker}" for marker in MARKERS if marker in text]
    return found


def student_readme(lessons: list[str]) -> str:
    rows = "\n".join(f"- `notebooks/{slug}/{slug}.ipynb`" for slug in lessons)
    return f"""# CNN course workbook: the learner's copy

Notebooks that take you from the history of neural networks to convolution, padding and stride,
parameter counts, pooling, LeNet-5, the classic architectures and transfer learning. Everything runs
offline on a laptop CPU; a GPU is used when there is one.

## Set up (two commands, in this folder)

Linux (the CPU build of torch, not PyPI's multi-GB CUDA build):
```bash
python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt -e . --extra-index-url https://download.pytorch.org/whl/cpu
cnn-course lab
```
macOS and Windows (PyPI's torch is the CPU build there; on Windows activate with `.venv\\Scripts\\activate`):
```bash
python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt -e .
cnn-course lab
```
`requirements.txt` pins every package (torch is `torch==2.13.0`). Python 3.10 or newer; 3.11 is tested.
`cnn-course lab` (or `python -m cnnbook.lab`) opens JupyterLab on the lessons. Next time, activate the
environment and run it again.

## Work through a lesson

{rows}

Write your answer where a cell says `YOUR CODE HERE`, then run the test cell under it: a failing test
says what it expected and what it got. To check a whole notebook (save it first):
```bash
cnn-course check 3                  # or: python -m autograde check 3
cnn-course check 3 my_copy.ipynb    # any copy of it
```
Here the check runs the visible tests; your instructor's grading also runs hidden tests (other inputs,
edge cases), so make your code right in general, not just for the examples shown.

## What is here
- `notebooks/`: the lessons; `cnnbook/`: the helpers they import; `autograde/`: the self-check;
- `data/`: the real data the lessons use, each file checked against `data/SHA256SUMS` when loaded
  (sources and licences in `data/README.md`);
- `requirements.txt`: the learner's pinned set; `jupyter-config/student`: JupyterLab's learner settings.

Code and text: MIT (`LICENSE`). Data: see `data/README.md`.
"""


def build(out: Path, project: Path = ROOT) -> Path:
    """Write the student bundle to ``out`` (a new folder, or a ``.zip``); return it."""
    out = Path(out)
    if out.exists():
        raise UsageError(f"{out} already exists: give a new folder (or .zip) for the student bundle.")
    notebooks = project / NOTEBOOKS.name
    lessons = [p.name for p in sorted(notebooks.iterdir()) if (p / f"{p.name}.ipynb").is_file()] \
        if notebooks.is_dir() else []
    if not lessons:
        raise UsageError(f"no released notebooks in {notebooks}: run `python -m autograde release` first.")
    with tempfile.TemporaryDirectory(prefix="cnn-students-") as tmp:
        bundle = Path(tmp) / (out.stem if out.suffix == ".zip" else out.name)
        bundle.mkdir()
        for source, name in PARTS:
            src, dst = project / source, bundle / name
            if not src.exists():
                raise UsageError(f"{src} is missing: the student bundle needs it.")
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, dst, ignore=_SKIP)
            else:
                shutil.copy2(src, dst)
        found = {str(nb.relative_to(bundle)): hits for nb in sorted(bundle.rglob("*.ipynb"))
                 if (hits := leaks(nb))}
        if found:
            lines = "; ".join(f"{name} ({', '.join(hits[:3])})" for name, hits in found.items())
            raise LeakError(f"refusing to package: notebooks still hold solutions or hidden tests: {lines}. "
                            "Run `python -m autograde release` and package again.")
        (bundle / "README.md").write_text(student_readme(lessons), encoding="utf-8")
        if out.suffix == ".zip":
            out.parent.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(p for p in bundle.rglob("*") if p.is_file()):
                    archive.write(path, path.relative_to(bundle.parent).as_posix())
        else:
            shutil.copytree(bundle, out)
    return out
