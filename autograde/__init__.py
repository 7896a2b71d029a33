"""Grading for the CNN course workbook: release, self-check and sandboxed batch grading over nbgrader."""
import os
import sys
from pathlib import Path

# nbformat validates notebooks with jsonschema, whose format checkers import rfc3987_syntax when it is installed (it
# comes with jsonschema[format-nongpl], which jupyter-events requires). That module compiles some 38 Earley parsers
# as it is imported: about 1.5 s of CPU in every process that reads a notebook (the grader, each of its workers and
# judges, every `python -m autograde` command), for the "iri" and "iri-reference" formats, which no notebook,
# nbgrader or Jupyter schema uses (python-jsonschema/jsonschema#1428, #1521). With the module marked absent,
# jsonschema skips those two checks, as it does whenever the package is not installed; every other check stays.
if "rfc3987_syntax" not in sys.modules:
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]

# nbgrader's gradebook runs the `alembic` command beside the Python it uses: make it findable even when
# the virtual environment was not activated (e.g. `.venv/bin/python -m autograde ...`).
_BIN = str(Path(sys.executable).parent)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")
