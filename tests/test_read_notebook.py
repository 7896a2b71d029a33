"""Reading a submission: every way a file can fail to be a notebook is that file's own clear status."""
from __future__ import annotations

import json

import nbformat
import pytest

from autograde.lessons import MAX_NOTEBOOK_BYTES, NotebookProblem, read_notebook


def _notebook_json(extra_source: str = "") -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("x = 1" + extra_source))
    return nbformat.writes(nb)


def test_a_plain_notebook_reads(tmp_path):
    path = tmp_path / "ok.ipynb"
    path.write_text(_notebook_json(), encoding="utf-8")
    assert read_notebook(path).cells[0].source == "x = 1"



def test_a_notebook_with_a_byte_order_mark_reads(tmp_path):
    """A notebook saved again by a Windows editor as "UTF-8 with BOM" is the learner's work: it was refused as
    invalid JSON ("Unexpected UTF-8 BOM") and graded 0, with the advice to download it again from JupyterLab."""
    path = tmp_path / "bom.ipynb"
    path.write_bytes(b"\xef\xbb\xbf" + _notebook_json("  # \ub0b4 \ub2f5").encode("utf-8"))
    assert read_notebook(path).cells[0].source == "x = 1  # \ub0b4 \ub2f5"
    path.write_bytes(b"\xef\xbb\xbf  \n")
    with pytest.raises(NotebookProblem, match="is empty"):
        read_notebook(path)


def test_a_notebook_other_editors_saved_slightly_off_schema_reads(tmp_path):
    """Editors learners use write notebooks that Jupyter opens with a warning but nbformat's schema refuses: VS Code
    a markdown cell with `outputs` and `execution_count` (microsoft/vscode-python#10855), Azure Data Studio a code
    cell without `execution_count`, others one without `outputs` or with an id that is no id. Each was
    invalid-notebook, 0 for all the learner's work; the answers are read as written."""
    nb = json.loads(_notebook_json())
    nb["cells"] = [{"cell_type": "markdown", "metadata": {}, "source": "# Answers", "outputs": [], "execution_count": None},
                   {"cell_type": "code", "metadata": {"trusted": False}, "source": "x = 1", "outputs": []},
                   {"cell_type": "code", "metadata": {}, "source": "y = 2", "execution_count": 3},
                   {"cell_type": "code", "metadata": {}, "source": "z = 3", "outputs": [], "execution_count": None,
                    "id": "not an id!"}]
    path = tmp_path / "vscode.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    read = read_notebook(path)
    assert [c.source for c in read.cells] == ["# Answers", "x = 1", "y = 2", "z = 3"]
    assert "outputs" not in read.cells[0] and read.cells[1].execution_count is None and read.cells[2].outputs == []
    nbformat.validate(read)

def test_an_nbformat_3_notebook_is_converted_by_nbformat(tmp_path):
    """A trial: a notebook old Jupyter or IPython saved (nbformat 3: cells in worksheets) was "not a notebook" and
    graded 0. nbformat converts it; its cells, their grading metadata and its sources are the learner's."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Answers"),
                nbformat.v4.new_code_cell("def f():\n    return 1", metadata={"nbgrader": {"grade_id": "f", "solution": True}})]
    path = tmp_path / "old.ipynb"
    path.write_text(nbformat.writes(nbformat.convert(nb, 3), version=3), encoding="utf-8")
    assert json.loads(path.read_text())["nbformat"] == 3
    read = read_notebook(path)
    assert read.nbformat == 4 and read.metadata["orig_nbformat"] == 3
    assert [c.source for c in read.cells] == ["# Answers", "def f():\n    return 1"]
    assert read.cells[1].metadata["nbgrader"] == {"grade_id": "f", "solution": True}
    nbformat.validate(read)
    broken = json.loads(path.read_text())
    broken["worksheets"] = "none"
    path.write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(NotebookProblem, match="nbformat 3 but no list of worksheets"):
        read_notebook(path)
    broken["worksheets"] = [{"cells": [{"cell_type": "code"}] * 2001}]
    path.write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(NotebookProblem, match="2,001 cells"):
        read_notebook(path)
    broken["worksheets"] = [{"cells": [{"cell_type": "code", "input": 5, "outputs": "x"}]}]
    path.write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(NotebookProblem):
        read_notebook(path)


def test_a_lone_surrogate_escape_reads_as_a_replacement_character(tmp_path):
    """'\\ud800' is valid JSON but no character: no kernel message or UTF-8 file could carry it."""
    path = tmp_path / "escaped.ipynb"
    path.write_text(_notebook_json('\n"\\ud800"').replace("\\\\ud800", "\\ud800"), encoding="ascii")
    assert "\\ud800" in path.read_text()
    source = read_notebook(path).cells[0].source
    assert source.endswith('"\ufffd"'), source
    source.encode("utf-8")


def test_a_file_past_the_size_limit_is_refused_without_being_read(tmp_path):
    path = tmp_path / "huge.ipynb"
    with path.open("wb") as handle:         # sparse: the size is there, the disk blocks are not
        handle.truncate(MAX_NOTEBOOK_BYTES + 1)
    with pytest.raises(NotebookProblem) as problem:
        read_notebook(path)
    assert problem.value.status == "invalid-notebook" and "Clear large outputs" in str(problem.value)


@pytest.mark.slow  # parses 64 MiB of JSON
def test_a_notebook_just_under_the_limit_is_read(tmp_path):
    text = _notebook_json()
    padding = MAX_NOTEBOOK_BYTES - len(text.encode()) - 64
    path = tmp_path / "big.ipynb"
    path.write_text(_notebook_json("\n# " + "a" * padding), encoding="utf-8")
    assert path.stat().st_size <= MAX_NOTEBOOK_BYTES
    assert read_notebook(path).cells[0].source.startswith("x = 1")


@pytest.mark.parametrize("depth", [10_000, 200_000])
def test_json_nested_past_the_parser_is_that_files_problem(tmp_path, depth):
    path = tmp_path / "deep.ipynb"
    path.write_text(json.dumps({"cells": [], "nbformat": 4})[:-1] + ', "x": ' + "[" * depth + "]" * depth + "}",
                    encoding="utf-8")
    with pytest.raises(NotebookProblem) as problem:
        read_notebook(path)
    assert problem.value.status == "invalid-notebook"


@pytest.mark.parametrize("content", [b"", b"\n  \n"])
def test_an_empty_upload_is_said_to_be_empty_not_bad_json(tmp_path, content):
    """A 0-byte upload (an interrupted save or upload) once read "not valid JSON (line 1, column 1: Expecting
    value)": true, but not what to do."""
    path = tmp_path / "empty.ipynb"
    path.write_bytes(content)
    with pytest.raises(NotebookProblem) as problem:
        read_notebook(path)
    assert problem.value.status == "invalid-notebook"
    assert f"is empty ({len(content)} bytes)" in str(problem.value) and "JSON" not in str(problem.value)
