"""In a real kernel, a failed check shows as a short box that teaches; answer-cell errors are named."""
from __future__ import annotations

import re

import nbformat
import pytest
from conftest import LESSONS, answer_sources, submission
from nbclient import NotebookClient

from cnnbook.checks import CheckFailed, check_value
from cnnbook.feedback import check_failed_box, defined_names, install

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run(nb, cwd=None):
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(cwd)}} if cwd else {}).execute()
    return nb


def run_cells(cells: list[str]):
    """A notebook of these code cells, run top to bottom (errors kept as outputs)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    run(nb)
    return nb


def error_of(cell):
    errors = [o for o in cell.outputs if o.output_type == "error"]
    assert len(errors) == 1, cell.outputs
    return errors[0], ANSI.sub("", "\n".join(errors[0].traceback))


def test_check_failed_is_still_an_assertion_and_renders_its_parts():
    with pytest.raises(AssertionError) as err:
        check_value("output_size(7, 3)", 4, 5, mistakes={"forgot +1": 4}, hint="count the windows")
    assert isinstance(err.value, CheckFailed)
    text = ANSI.sub("", "\n".join(check_failed_box(err.value)))
    assert text.splitlines()[0] == "✘ Check failed: output_size(7, 3)"
    for part in ("typical slip: forgot +1", "expected 5, got 4", "Hint: count the windows"):
        assert part in text
    assert "Traceback" not in text


def test_outside_ipython_nothing_is_installed():
    assert install() is False


def test_defined_names_reads_cells_that_do_not_parse():
    assert defined_names("def f(x):\n    y = 1\n    return (x +\nclass K: pass\nz: int = 3\nw == 2") == ["f", "K", "z"]


def _ran_as_cells(*cells: str) -> BaseException:
    """The last cell's error, each cell compiled under a file name as ipykernel gives it (the box reads its lines)."""
    import linecache

    namespace: dict = {}
    for number, code in enumerate(cells):
        name = f"/tmp/ipykernel_4243/{number}.py"
        linecache.cache[name] = (len(code), None, code.splitlines(True), name)
        try:
            exec(compile(code, name, "exec"), namespace)  # noqa: S102 - the test's own cells
        except Exception as err:  # noqa: BLE001 - the error is what is looked at
            return err
    raise AssertionError("no cell raised")


def test_the_box_quotes_a_test_line_written_over_several_lines_whole():
    """A learner's trial (lesson 05): the box quoted `check_own_work("maxpool_backward(...)", maxpool_backward, (dout,
    x, 2, 2),` and not the call's next line. The whole statement is quoted, as the self-check quotes it."""
    from cnnbook.feedback import error_in_test_box

    test = ("from cnnbook.checks import check_own_work\n"
            "x = 3\n"
            "check_own_work('f(3)', f,\n               (x,),\n               hint='no hint')\n")
    err = _ran_as_cells("def f(x):\n    return x.shape\n", test)
    text = ANSI.sub("", "\n".join(error_in_test_box(err, err.__traceback__, test)))
    assert ("Line 3 of the test cell:\n      check_own_work('f(3)', f,\n                     (x,),\n"
            "                     hint='no hint')\n" in text), text
    assert "In your code, in `f`, line 2 of its cell:\n      return x.shape" in text, text


def test_the_box_quotes_the_call_of_the_learners_code_not_the_check_around_it():
    """A learner's trial (lesson 02, Korean): conv_volume raised inside `check_array("...", conv_volume(volume,
    filters, bias), expected, mistakes={...})`, and the box quoted ten lines of the test's mistakes, cut with "...",
    where the self-check names the call. When the test's line was calling the learner's function itself, the box
    quotes that call."""
    from cnnbook.feedback import error_in_test_box

    test = ("from cnnbook.checks import check_value\n"
            "x = 3\n"
            "check_value('f of three', f(x), 4,\n"
            "            mistakes={'the first slip, named at length': 5,\n"
            "                      'the second slip': 6},\n"
            "            hint='no hint')\n")
    err = _ran_as_cells("def f(x):\n    return x.shape\n", test)
    text = ANSI.sub("", "\n".join(error_in_test_box(err, err.__traceback__, test)))
    assert "Line 3 of the test cell:\n      f(x)\n" in text, text
    assert "slip" not in text, text
    assert "In your code, in `f`, line 2 of its cell:\n      return x.shape" in text, text


class _Cells:
    """Cells run one after the other as a kernel runs them, with cnnbook.feedback's notebook state (no kernel: fast)."""

    def __init__(self, monkeypatch):
        import cnnbook.feedback as feedback

        from types import SimpleNamespace

        self.namespace: dict = {}
        shell = SimpleNamespace(user_ns=self.namespace)           # the kernel's namespace, as IPython's shell has it
        self.state = feedback._NotebookState(shell)
        monkeypatch.setitem(feedback._installed, id(shell), self.state)
        monkeypatch.setattr(feedback, "_shell", lambda: shell)
        self.count = 0

    def run(self, code: str, capsys) -> str:
        import linecache
        from types import SimpleNamespace

        name = f"/tmp/ipykernel_4244/{self.count}.py"
        self.count += 1
        linecache.cache[name] = (len(code), None, code.splitlines(True), name)
        self.state.pre_run_cell(SimpleNamespace(raw_cell=code))
        error = None
        try:
            exec(compile(code, name, "exec"), self.namespace)  # noqa: S102 - the test's own cells
        except Exception as err:  # noqa: BLE001 - kept as IPython keeps it
            error = err
        self.state.post_run_cell(SimpleNamespace(error_before_exec=None, error_in_exec=error,
                                                 info=SimpleNamespace(raw_cell=code)))
        assert error is None, error
        return capsys.readouterr().out


def test_a_demonstration_cell_says_briefly_what_failed_and_where(monkeypatch, capsys):
    """A learner's trial (lesson 06): a demonstration cell pasted PyTorch's whole error, eight English lines of
    signatures, into its Korean sentence. what_failed says the error's first line, the learner's line it came from (or
    this cell's, where what came back was used) and what it usually means."""
    cells = _Cells(monkeypatch)
    cells.run("import torch\nimport torch.nn.functional as F\nfrom cnnbook.feedback import what_failed\n"
              "def prepare(images):\n    return images / 255\n", capsys)
    out = cells.run("import numpy as np\ntry:\n    F.conv2d(prepare(np.zeros((1, 1, 5, 5))), torch.zeros(1, 1, 3, 3))\n"
                    "except Exception as err:\n    print('Your prepare is not ready yet.')\n    what_failed(err)\n", capsys)
    lines = out.splitlines()
    assert lines[0] == "Your prepare is not ready yet.", out
    assert lines[1].startswith("  The error: TypeError: conv2d() received an invalid combination of arguments") \
        and lines[1].endswith(" ...") and len(lines[1]) < 200, out
    assert lines[2] == "  Line 3 of this cell: F.conv2d(prepare(np.zeros((1, 1, 5, 5))), torch.zeros(1, 1, 3, 3))", out
    assert lines[3].startswith("  What it usually means: A numpy array where a torch tensor is needed"), out
    assert len(lines) == 4, out
    out = cells.run("try:\n    prepare(None)\nexcept Exception as err:\n    what_failed(err)\n", capsys)
    assert "  The error: TypeError: unsupported operand type(s) for /: 'NoneType' and 'int'\n" \
           "  In your code, in `prepare`, line 5 of its cell: return images / 255\n" in out, out
    out = cells.run("try:\n    x = prepare(np.zeros(3)).to('cpu')\nexcept Exception as err:\n    what_failed(err)\n",
                    capsys)                           # what came back was used in this cell: its line
    assert "  Line 2 of this cell: x = prepare(np.zeros(3)).to('cpu')\n" in out, out


def test_a_helper_of_the_lessons_own_cells_is_not_called_the_learners_code(monkeypatch, capsys, tmp_path):
    """A Korean learner's trial (lessons 02 and 07): edge_magnitude returned None and the demonstration cell said
    "In your code, in `show_maps`"; vgg_stage's channels were wrong and it said "in `measure`": helpers of the
    lesson's own cells. A function (or a method of a class) that the notebook's answer cells define is "your code";
    one a lesson's cell defines is named without it."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("def measure(x):\n    return x.shape"),
                      nbformat.v4.new_code_cell("def prepare(images):\n    return None\n\n\nclass Net:\n"
                                                "    def forward(self, x):\n        return x.shape",
                                                metadata={"nbgrader": {"solution": True, "grade_id": "prepare"}})]
    path = tmp_path / "lesson.ipynb"
    nbformat.write(notebook, path)
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    cells = _Cells(monkeypatch)
    cells.run("from cnnbook.feedback import what_failed\n" + notebook.cells[0].source, capsys)
    cells.run(notebook.cells[1].source, capsys)
    out = cells.run("try:\n    measure(prepare(3))\nexcept Exception as err:\n    what_failed(err)\n", capsys)
    assert "  In `measure`, line 3 of its cell: return x.shape\n" in out, out
    out = cells.run("try:\n    Net().forward(3)\nexcept Exception as err:\n    what_failed(err)\n", capsys)
    assert "  In your code, in `forward`, line 7 of its cell: return x.shape\n" in out, out


def test_a_demonstration_cells_line_written_over_several_lines_is_quoted_whole(monkeypatch, capsys):
    """A Korean trial (lesson 02): the timing cell stopped in `print("같은 결과:", np.allclose(slow, fast),` and
    what_failed quoted that first line only, cut after a comma. The statement is quoted whole, as a test's is."""
    cells = _Cells(monkeypatch)
    cells.run("import numpy as np\nfrom cnnbook.feedback import what_failed\n", capsys)
    out = cells.run("try:\n    print('same:', np.allclose(np.zeros(3),\n                               np.zeros(4)))\n"
                    "except Exception as err:\n    what_failed(err)\n", capsys)
    assert ("  Line 2 of this cell: print('same:', np.allclose(np.zeros(3),\n"
            "                                 np.zeros(4)))\n") in out, out


HOSTILE_ERRORS = """
class _Text(str):
    def strip(self, *chars):
        return self
    def splitlines(self, *keep):
        raise RuntimeError("splitlines")
    def __getitem__(self, key):
        raise RuntimeError("getitem")
class TextError(Exception):
    def __str__(self):
        return _Text("the shape is wrong")
class NoTraceback(Exception):
    @property
    def __traceback__(self):
        raise RuntimeError("no traceback")
class Untouchable(Exception):
    def __getattribute__(self, name):
        raise RuntimeError(name)
class _Meta(type):
    __name__ = property(lambda cls: 1 / 0)
class Nameless(Exception, metaclass=_Meta):
    pass
def answer(kind):
    raise kind("the shape is wrong")
"""


@pytest.mark.parametrize("kind", ["TextError", "NoTraceback", "Untouchable", "Nameless"])
def test_what_failed_never_raises_whatever_error_the_learners_code_raised(monkeypatch, capsys, kind):
    """A hostile trial: the learner's code raised an error whose text is a str subclass whose methods raise, or whose
    __traceback__ (or any attribute, or its class's name) raises. what_failed raised in the demonstration cell's handler, and the cell ended
    in a traceback of the course's own helper. It says what it can and never raises."""
    cells = _Cells(monkeypatch)
    cells.run("from cnnbook.feedback import what_failed\n" + HOSTILE_ERRORS, capsys)
    out = cells.run(f"try:\n    answer({kind})\nexcept Exception as demo_error:\n    what_failed(demo_error)\n", capsys)
    assert out.startswith(f"  The error: {kind}"), out
    if kind != "Untouchable":
        assert "the shape is wrong" in out and "line 25 of its cell" in out, out


def test_a_cell_that_needs_what_a_stopped_cell_did_not_make_says_so_not_its_knock_on_error(monkeypatch, capsys):
    """A learner's trial (lesson 06): the learning-rate sweep stopped (its exercise not ready), and the training cell
    after it said "TypeError: '<=' not supported between instances of 'float' and 'NoneType'": learning_rate was
    None. The later cell names what it needed and what stopped the cell that makes it; once that cell runs, the
    note is gone."""
    cells = _Cells(monkeypatch)
    cells.run("from cnnbook.feedback import what_failed\nready = False\n"
              "def train(rate):\n    if not ready:\n        raise NotImplementedError('train is not written')\n"
              "    return rate\n", capsys)
    sweep = ("steps = 3\nlearning_rate = None\ntry:\n    losses = [train(r) for r in (0.1, 0.01)]\n"
             "    learning_rate = min(losses)\nexcept Exception as err:\n    print('The sweep needs exercise 1.')\n"
             "    what_failed(err)\n")
    training = ("try:\n    final = train(steps) <= learning_rate\nexcept Exception as err:\n"
                "    print('Training needs exercise 1.')\n    what_failed(err)\n")
    out = cells.run(sweep, capsys)
    assert "  The error: NotImplementedError: train is not written" in out, out
    cells.run("ready = True\n", capsys)
    out = cells.run(training, capsys)
    assert "`learning_rate`" in out and "NotImplementedError: train is not written" in out, out
    assert "`steps`" not in out and "NoneType" not in out, out       # steps was made before the sweep stopped
    # a cell of the learner's own, with no try: IPython's traceback ends with the same note
    shown = []
    shell = type("Shell", (), {"InteractiveTB": type("TB", (), {"structured_traceback": lambda *a, **k: ["tb"]})(),
                               "_get_exc_info": lambda self, exc: None,
                               "_showtraceback": lambda self, etype, value, stb: shown.append(stb)})()
    mine = "print(learning_rate * 2)\n"
    cells.state.pre_run_cell(__import__("types").SimpleNamespace(raw_cell=mine))
    try:
        exec(mine, {"learning_rate": None})  # noqa: S102 - the learner's cell
    except TypeError as err:
        cells.state.handle(shell, TypeError, err, err.__traceback__)
    assert shown and "`learning_rate`" in ANSI.sub("", shown[0][-1]), shown
    out = cells.run(sweep, capsys)                                    # the sweep runs now
    assert out == "", out
    assert cells.run(training, capsys) == ""


def test_a_kernel_shows_boxes_for_checks_syntax_errors_missing_cells_and_stubs():
    cells = [
        "import cnnbook",
        "def same_padding(f):\n    return (f - 1) // 2 +\n",                           # a SyntaxError
        "from cnnbook.checks import check_value\ncheck_value('same_padding(3)', same_padding(3), 1)",
        "def output_size(n, f):\n    raise NotImplementedError('Replace this line with your answer')",
        "from cnnbook.checks import check_value\ncheck_value('output_size(7, 3)', output_size(7, 3), 5)",
        "from cnnbook.checks import check_value\ncheck_value('output_size(7, 3)', 4, 5, mistakes={'forgot +1': 4})",
        "from cnnbook.checks import check_value\ncheck_value('zero_pad(1)', zero_pad(1), 5)",  # never defined
        "x = 1 / 0\ndef conv(x):\n    return x",                                          # stops before the def
        "from cnnbook.checks import check_value\nconv(1)",
        "undefined_thing + 1",                                                            # not a test cell
        "def late(x):\n    raise ValueError('inside your code')\nlate(1)",
        "def pad(f):\n    return f",                                                     # an old, wrong answer
        "def pad(f)\n    return (f - 1) // 2",                                            # its fix, not parsed
        "from cnnbook.checks import check_value\ncheck_value('pad(3)', pad(3), 1)",       # checks the old one
        "1 + 1",
        "from cnnbook.checks import check_value\ncheck_value('pad(3)', pad(3), 1)",
        "from cnnbook.i18n import set_language\nset_language('ko')",                     # the Korean edition
        "def sort_events(events)\n    return sorted(events)",
        "from cnnbook.checks import check_value\ncheck_value('sort_events([2, 1])', sort_events([2, 1]), [1, 2])",
        "y = 1\nz = y / 0\ndef r(x):\n    return x",
        "from cnnbook.checks import check_value\nr(1)",
        "def pad(f)\n    return (f - 1) // 2",
        "from cnnbook.checks import check_value\ncheck_value('pad(3)', pad(3), 1)",
        "def tally(xs)\n    return len(xs)",                                          # not parsed, then used
        "tally([1, 2])",                                                                  # in a cell of one's own
    ]
    nb = run_cells(cells)
    err, text = error_of(nb.cells[2])
    assert err.ename == "NameError"
    assert "`same_padding` is not defined" in text and "could not read the cell that defines it (SyntaxError)" in text
    assert "line 2: invalid syntax" in text and "return (f - 1) // 2 +" in text
    assert "Traceback" not in text

    err, text = error_of(nb.cells[4])
    assert err.ename == "NotImplementedError" and "`output_size` is not answered yet" in text
    assert "Traceback" not in text

    err, text = error_of(nb.cells[5])
    assert err.ename == "CheckFailed"
    assert "✘ Check failed: output_size(7, 3)" in text and "typical slip: forgot +1" in text
    assert "Traceback" not in text and "checks.py" not in text

    _, text = error_of(nb.cells[6])
    assert "`zero_pad` is not defined" in text and "has not run" in text and "Traceback" not in text

    _, text = error_of(nb.cells[8])
    assert "stopped with an error before `conv` was made" in text and "ZeroDivisionError" in text
    assert "line 1: ZeroDivisionError: division by zero\n      x = 1 / 0" in text, text     # which line, and the line

    # Everything else keeps IPython's traceback: the learner's own line is what they need there.
    _, text = error_of(nb.cells[9])
    assert "Traceback" in text and "undefined_thing" in text
    _, text = error_of(nb.cells[10])
    assert "Traceback" in text and "inside your code" in text

    # A test run right after a cell that did not parse says that it checked an older definition.
    _, text = error_of(nb.cells[13])
    assert "expected 1" in text and "stopped with SyntaxError (line 1) and did not run" in text, text
    _, text = error_of(nb.cells[15])
    assert "expected 1" in text and "did not run" not in text, text

    # In Korean, the line number too is said in Korean (it read "line 1:" in a Korean box).
    _, text = error_of(nb.cells[18])
    # (a particle after an English name is the doubled form, as Korean software writes it: cnnbook.i18n.ending)
    assert "`sort_events`이(가) 정의되지 않았습니다" in text and "첫 번째 줄: expected ':'\n      def sort_events(events)" in text, text
    _, text = error_of(nb.cells[20])
    assert "두 번째 줄: ZeroDivisionError: division by zero\n      z = y / 0" in text, text
    _, text = error_of(nb.cells[22])
    assert "(SyntaxError, 첫 번째 줄)" in text and "line" not in text, text
    # Outside a test cell: IPython's traceback, then which cell did not define the name, and why
    _, text = error_of(nb.cells[24])
    assert "Traceback" in text and "name 'tally' is not defined" in text, text
    after = text.split("NameError: name 'tally' is not defined\n")[1]
    assert after.startswith("`tally`이(가) 없습니다: 이 이름을 정의하는 셀을 파이썬이 읽지 못해서(SyntaxError) 그 셀은 전혀 "
                            "실행되지 않았습니다.\n  첫 번째 줄: expected ':'\n      def tally(xs)"), text


def test_an_error_escaping_a_test_cell_shows_a_box_naming_the_test_the_lines_and_the_error():
    cells = [
        "import cnnbook",
        "class Net:\n    def forward(self, x):\n        return x.reshape(3, 5)\n",            # the learner's bug
        "from cnnbook.checks import check_value, hidden_case, learner_side, passed\n"
        "@learner_side\ndef shape_of(n):\n    out = Net().forward(list(range(n)))\n    return out\n"
        "with hidden_case('an input of 12 numbers'):\n    check_value('Net().forward', shape_of(12), (3, 4))\n"
        "passed('Net')",
        "from cnnbook.checks import check_value\nint('three')",                               # no passed(), no helper
        "int('four')",                                                                      # not a test cell
        "from cnnbook.i18n import set_language\nset_language('ko')",
        "from cnnbook.checks import check_value, passed\nNet().forward(1)\npassed('Net')",
        "set_language(None)\ndef pool(x):\n    return [[1.0, 2.0]]\n",                            # a list, not an array
        "from cnnbook.checks import check_value\ngot = pool(0)\ncheck_value('pool', float(got[0, 1]), 2.0)",
    ]
    nb = run_cells(cells)
    err, text = error_of(nb.cells[2])
    assert err.ename == "AttributeError"                     # the error keeps its type (nbgrader counts it)
    assert text.splitlines()[0] == "✘ Test stopped with an error: Net", text
    assert "Line 4 of the test cell:" in text and "out = Net().forward(list(range(n)))" in text
    assert "shape_of" not in text, text                     # the test's own helper is not the learner's to read
    assert "In your code, in `forward`, line 3 of its cell:" in text and "return x.reshape(3, 5)" in text
    assert "AttributeError: 'list' object has no attribute 'reshape'" in text
    # opened by the sentence the self-check says (cnnbook.checks.escaped_error): the call of the learner's code that
    # raised, what it raised (not "this is not a failed check", as the box once said where the check said this)
    assert text.splitlines()[2] == ("  Net().forward(list(range(n))) raised AttributeError: 'list' object has no "
                                    "attribute 'reshape'"), text
    assert "The case being tried: an input of 12 numbers" in text
    assert "Traceback" not in text and "site-packages" not in text
    err, text = error_of(nb.cells[3])
    assert text.splitlines()[0] == "✘ This test cell stopped with an error"
    assert "Line 2 of the test cell:" in text and "int('three')" in text
    # the sentence the self-check says of it too (cnnbook.checks.escaped_error): the test's own code stopped
    assert "In your code" not in text and "Traceback" not in text
    assert text.splitlines()[2] == ("  The check stopped with ValueError on what your code returned: invalid literal "
                                    "for int() with base 10: 'three'"), text
    _, text = error_of(nb.cells[4])
    assert "Traceback" in text and "four" in text                # outside a test cell: IPython's traceback
    _, text = error_of(nb.cells[6])
    assert text.splitlines()[0].startswith("✘ ") and "Net" in text.splitlines()[0], text
    assert "Traceback" not in text and "AttributeError" in text and "return x.reshape(3, 5)" in text
    assert "stopped with an error" not in text and any("\uac00" <= ch <= "\ud7a3" for ch in text), text
    # the test's own code stopped on what the learner's function returned: what the failing expression worked on
    _, text = error_of(nb.cells[8])
    assert "Line 3 of the test cell:" in text and "got: a list of 1 item" in text, text
    assert "list indices must be integers or slices, not tuple" in text


def test_a_name_error_inside_the_learners_function_names_their_line_not_a_name_the_test_needs():
    # A learner's typo in a function's body (`group` for `groups`) raised NameError when the test called it, and the
    # box said "This test uses `group` ... The cell that defines `group` has not run": a name the test never uses.
    cells = [
        "import cnnbook",
        "def largest(values):\n    groups = sorted(values)\n    return group[-1]\n",
        "from cnnbook.checks import check_value, passed\ncheck_value('largest([1, 3])', largest([1, 3]), 3)\n"
        "passed('largest')",
        "def helper(:\n    pass\n",                                     # cannot be read: `helper` never defined
        "def uses_helper():\n    return helper()\n",
        "from cnnbook.checks import check_value, passed\ncheck_value('uses_helper()', uses_helper(), 1)\n"
        "passed('uses_helper')",
    ]
    nb = run_cells(cells)
    err, text = error_of(nb.cells[2])
    assert err.ename == "NameError"
    assert "This test uses `group`" not in text and "The cell that defines `group`" not in text, text
    assert "In your code, in `largest`, line 3 of its cell:" in text and "return group[-1]" in text, text
    assert "NameError: name 'group' is not defined" in text, text
    _, text = error_of(nb.cells[5])         # a name whose cell Python could not read: that cell is named
    assert "`helper` is not defined" in text and "SyntaxError" in text, text


@pytest.mark.slow
def test_an_error_learners_typically_meet_says_what_it_usually_means_in_any_cell():
    cells = [
        "import cnnbook\nimport torch\nfrom torch import nn",
        "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.conv = nn.Conv2d(1, 6, 5)\n        self.fc = nn.Linear(6 * 5 * 5, 10)\n"
        "    def forward(self, x):\n        return self.fc(self.conv(x).flatten(1))\n",
        "Net()(torch.zeros(2, 1, 28, 28))",                                         # an answer cell: 3456 != 150
        "from cnnbook.checks import check_value, passed\n"
        "check_value('Net()(x).shape', tuple(Net()(torch.zeros(2, 1, 28, 28)).shape), (2, 10))\npassed('Net')",
        "def out_size(n, f, s):\n    return (n - f) / s + 1\nlist(range(out_size(7, 3, 2)))",
        "{}['conv1']",                                                              # an error it does not explain
        "from cnnbook.i18n import set_language\nset_language('ko')",
        "Net()(torch.zeros(2, 1, 28, 28))",
        "def same_padding(f)：\n    return (f - 1) // 2",                            # typed with a Korean IME
        "from cnnbook.checks import check_value\ncheck_value('same_padding(3)', same_padding(3), 1)",
        "set_language('en')",
        "sizes = [3, 5\n",                                                             # a bracket never closed
        "sizes = max(3, 5\ncount = 2\n",                                               # ... before another line
    ]
    nb = run_cells(cells)
    err, text = error_of(nb.cells[2])
    assert err.ename == "RuntimeError" and "Traceback" in text and "mat1 and mat2 shapes" in text
    assert text.splitlines()[-1].startswith("What it usually means: A Linear layer"), text
    _, text = error_of(nb.cells[3])
    assert text.splitlines()[0] == "✘ Test stopped with an error: Net" and "Traceback" not in text
    assert "What it usually means:\n      A Linear layer" in text, text
    _, text = error_of(nb.cells[4])
    assert "TypeError" in text and "What it usually means: A float where Python needs a whole number" in text
    _, text = error_of(nb.cells[5])
    assert "KeyError" in text and "usually means" not in text
    _, text = error_of(nb.cells[7])
    assert text.splitlines()[-1].startswith("보통 이런 뜻입니다: Linear 층"), text
    # Code Python cannot read: IPython's own message, then what it usually means; and the test's box says it too.
    err, text = error_of(nb.cells[8])
    assert err.ename == "SyntaxError" and "U+FF1A" in text, text
    assert text.splitlines()[-1].startswith("보통 이런 뜻입니다: 한글 입력 상태에서 입력한 전각 문자"), text
    _, text = error_of(nb.cells[9])
    assert "`same_padding`이(가) 정의되지 않았습니다" in text and "보통 이런 뜻입니다: 한글 입력 상태에서" in text, text
    err, text = error_of(nb.cells[11])        # at the end of a cell, IPython's words: "incomplete input"
    assert err.ename == "SyntaxError" and "incomplete input" in text, text
    assert "interactiveshell.py" not in text and "Traceback" not in text, text     # not IPython's own frames
    assert text.splitlines()[-1].startswith("What it usually means: Python reached the end of the cell"), text
    err, text = error_of(nb.cells[12])
    assert err.ename == "SyntaxError" and "'(' was never closed" in text, text
    assert text.splitlines()[-1].startswith("What it usually means: A bracket opened on that line is never closed"), text


@pytest.mark.slow
def test_a_lesson_notebook_shows_the_box_for_a_wrong_answer_and_names_a_syntax_error(tmp_path):
    lesson = next(lesson for lesson in LESSONS if lesson.slug.startswith("03_"))
    answers = answer_sources(lesson)
    nb = submission(lesson, {
        "output_size": "def output_size(n, f, p=0, s=1):\n    return (n + 2 * p - f) // s\n",   # forgot +1
        "same_padding": answers["same_padding"].replace("def same_padding(f: int)", "def same_padding(f: int"),
    })
    run(nb, lesson.student_version.parent)
    tests = {c.metadata.nbgrader["grade_id"]: c for c in nb.cells
             if c.metadata.get("nbgrader", {}).get("grade_id", "").startswith("test_")}
    _, text = error_of(tests["test_output_size"])
    assert "✘ Check failed: output_size(7, 3)" in text and "forgot +1" in text and "Hint:" in text
    assert "Traceback" not in text and "checks.py" not in text and len(text.splitlines()) < 12
    _, text = error_of(tests["test_same_padding"])
    assert "`same_padding` is not defined" in text and "SyntaxError" in text and "Traceback" not in text
    _, text = error_of(tests["test_zero_pad"])
    assert "`zero_pad` is not answered yet" in text


def test_a_warning_from_a_cell_names_the_cells_line_not_a_temporary_file(monkeypatch):
    """A Korean trial (lesson 09): softmax_cross_entropy without the max subtracted printed
    `/tmp/ipykernel_18905/2024228189.py:9: RuntimeWarning: overflow encountered in exp` above the test's box, a file
    the learner never saw. A warning raised in a notebook cell names the line of its cell, in the learner's
    language; one raised elsewhere is shown as Python shows it."""
    import io

    from cnnbook import feedback
    from cnnbook.i18n import set_language

    out = io.StringIO()
    feedback.show_warning(RuntimeWarning("overflow encountered in exp"), RuntimeWarning, "/tmp/ipykernel_18905/20.py",
                          9, out, "    probs = np.exp(scores)\n")
    assert out.getvalue() == ("Warning (RuntimeWarning) at line 9 of its cell: overflow encountered in exp\n"
                              "    probs = np.exp(scores)\n"), out.getvalue()
    set_language("ko")
    try:
        out = io.StringIO()
        feedback.show_warning(RuntimeWarning("overflow encountered in exp"), RuntimeWarning,
                              "/tmp/ipykernel_18905/20.py", 9, out, "probs = np.exp(scores)")
        assert out.getvalue().startswith("경고(RuntimeWarning), 그 셀의 아홉 번째 줄: overflow encountered in exp\n"), \
            out.getvalue()
    finally:
        set_language(None)
    out = io.StringIO()
    feedback.show_warning(UserWarning("careful"), UserWarning, "/usr/lib/python3/x.py", 3, out, "x = 1")
    assert out.getvalue() == "/usr/lib/python3/x.py:3: UserWarning: careful\n  x = 1\n", out.getvalue()


def test_a_name_of_the_learners_own_function_or_loop_is_not_one_a_stopped_cell_did_not_make(monkeypatch, capsys):
    """A demonstration cell that stopped in its loop leaves `images` and `rate` unmade; a later cell whose own
    function takes a parameter `images`, or whose comprehension's variable is `rate`, reads no such name of that cell:
    its error is its own, said as any other (a correct learner's names are theirs to choose)."""
    cells = _Cells(monkeypatch)
    cells.run("from cnnbook.feedback import what_failed\n"
              "try:\n    for rate, images in [(0.1, None)][5]:\n        pass\nexcept Exception as err:\n"
              "    print('The demo needs exercise 1.')\n    what_failed(err)\n", capsys)
    out = cells.run("def show(images):\n    return len(images)\n"
                    "try:\n    show(None)\nexcept Exception as err:\n    what_failed(err)\n", capsys)
    assert "earlier cell" not in out and "TypeError: object of type 'NoneType' has no len()" in out, out
    out = cells.run("try:\n    total = sum(rate for rate in [None])\nexcept Exception as err:\n    what_failed(err)\n",
                    capsys)
    assert "earlier cell" not in out and "TypeError" in out, out
    out = cells.run("try:\n    print(images.shape)\nexcept Exception as err:\n    what_failed(err)\n", capsys)
    assert "`images` from an earlier cell" in out, out          # read at the cell's top level: the knock-on note


def test_what_failed_quotes_a_long_line_of_the_learners_by_its_start(monkeypatch, capsys):
    """A learner's function written on one line of 20,000 characters (a table pasted in) raised: the demonstration
    cell's note quotes the start of that line, not all of it (under a sentence of one line, as the error is)."""
    cells = _Cells(monkeypatch)
    cells.run("from cnnbook.feedback import what_failed\n"
              f"def table(i):\n    return [{', '.join(['1'] * 10_000)}][i]\n", capsys)
    out = cells.run("try:\n    table(20_000)\nexcept Exception as err:\n    what_failed(err)\n", capsys)
    assert "In your code, in `table`, line 3 of its cell: return [1, 1, 1" in out, out[:300]
    assert max(len(line) for line in out.splitlines()) < 400, [len(line) for line in out.splitlines()]


def test_a_name_made_since_by_any_means_is_no_longer_one_a_stopped_cell_did_not_make(monkeypatch, capsys):
    """The demonstration cell that makes `model` stopped; the learner then made `model` in a way no assignment in a
    cell shows (a function of theirs that sets it as a global, as a set-up helper does). A later cell that fails for
    its own reason says its own error, not that `model` was never made."""
    cells = _Cells(monkeypatch)
    cells.run("from cnnbook.feedback import what_failed\ndef build():\n    raise NotImplementedError('build')\n"
              "try:\n    model = build()\nexcept Exception as err:\n    what_failed(err)\n", capsys)
    cells.run("def setup():\n    global model\n    model = [1, 2]\nsetup()\n", capsys)
    out = cells.run("try:\n    model[5]\nexcept Exception as err:\n    what_failed(err)\n", capsys)
    assert "earlier cell" not in out and "IndexError: list index out of range" in out, out


def test_a_placeholder_the_stopped_cell_sets_after_saying_what_failed_is_still_not_made(monkeypatch, capsys):
    """A demonstration cell may set its placeholder after what_failed (``model = None`` last in its handler): the
    name is still one the cell did not make, for the cells after it."""
    cells = _Cells(monkeypatch)
    cells.run("from cnnbook.feedback import what_failed\ndef build():\n    raise NotImplementedError('build')\n"
              "try:\n    model = build()\nexcept Exception as err:\n    what_failed(err)\n    model = None\n", capsys)
    out = cells.run("try:\n    model.eval()\nexcept Exception as err:\n    what_failed(err)\n", capsys)
    assert "`model` from an earlier cell" in out, out


def test_a_name_the_cell_misspells_is_its_own_error_not_the_stopped_cells(monkeypatch, capsys):
    """`model` was not made (its cell stopped), and this cell also misspells another name: the NameError is about
    that name, not a knock-on of the stopped cell."""
    cells = _Cells(monkeypatch)
    cells.run("from cnnbook.feedback import what_failed\ndef build():\n    raise NotImplementedError('build')\n"
              "try:\n    model = None\n    model = build()\nexcept Exception as err:\n    what_failed(err)\n", capsys)
    out = cells.run("try:\n    print(model)\n    scor = evaluate(model)\nexcept Exception as err:\n    what_failed(err)\n",
                    capsys)
    assert "earlier cell" not in out and "NameError: name 'evaluate' is not defined" in out, out
    out = cells.run("try:\n    model.eval()\nexcept Exception as err:\n    what_failed(err)\n", capsys)
    assert "`model` from an earlier cell" in out, out


def _bars_shown(nb) -> dict[str, dict]:
    """The notebook progress bars a run left, by their left-hand text (description and percentage): the bar's value,
    maximum, style, right-hand text and whether it is hidden (the widget state nbclient stored)."""
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})

    def model(ref: str) -> dict:
        return state.get(ref.removeprefix("IPY_MODEL_"), {}).get("state", {})

    bars = {}
    for entry in state.values():
        if entry.get("model_name") == "HBoxModel" and len(entry["state"].get("children", [])) == 3:
            left, bar, right = (model(ref) for ref in entry["state"]["children"])
            bars[left.get("value", "").replace("\u2007", " ")] = {
                "value": bar.get("value"), "max": bar.get("max"), "style": bar.get("bar_style"),
                "right": right.get("value", "").replace("\u2007", " "),
                "hidden": model(entry["state"]["layout"]).get("visibility") == "hidden"}
    return bars


@pytest.mark.slow
def test_a_progress_bar_whose_loop_stopped_says_so_or_disappears_instead_of_looking_stuck():
    """A Korean trial, lesson 08: the learner's code failed inside the sweep's loop and its bar stayed at
    '클래스별 레이블 수: 0% 0/1' (tqdm's red shows only on the filled part: none at 0 %), beside the fit's own bar at
    0/40, under the cell's sentence of what failed: read as a run still going. The lessons' bar (cnnbook.bars)
    says it stopped where it was to stay, and disappears where it was to disappear when done (leave=False)."""
    from nbclient import NotebookClient

    cells = [
        "from cnnbook.i18n import set_language\nset_language('ko')\nfrom cnnbook.bars import tqdm",
        # lesson 08's sweep: a loop of leave=False bars, the learner's code failing inside the inner one (fit)
        "def fit(steps):\n    for step in tqdm(range(steps), desc='미세 조정', leave=False):\n"
        "        raise RuntimeError('element 0 of tensors does not require grad')\n"
        "try:\n    for per_class in tqdm((1,), desc='클래스별 레이블 수', leave=False):\n        fit(40)\n"
        "except Exception as demo_error:\n    print('비교에는 연습 문제 1부터 4까지가 필요합니다.')",
        # lessons 06, 09, 10: a bar over a training run, updated by hand, stopped by an error after 3 of 8 rounds
        "try:\n    with tqdm(total=8, desc='LeNet-5 학습', unit='round') as progress:\n"
        "        for k in range(8):\n            if k == 3:\n                raise ValueError('a slip')\n"
        "            progress.update(1)\nexcept Exception as demo_error:\n    print('stopped')",
        # lessons 02, 05, 07: a bar over the loop itself, stopped after 2 of 5 steps
        "try:\n    for step in tqdm(range(5), desc='필터 학습'):\n        if step == 2:\n"
        "            raise ValueError('a slip')\nexcept Exception as demo_error:\n    print('stopped')",
        "for step in tqdm(range(5), desc='끝까지 도는 반복문'):\n    pass",             # a bar that finishes
        "for step in tqdm(range(5), desc='사라지는 막대', leave=False):\n    pass",
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=True).execute()
    bars = _bars_shown(nb)
    shown = {text: bar for text, bar in bars.items() if not bar["hidden"]}
    assert not [text for text in shown if "레이블" in text or "미세" in text or "사라지는" in text], bars
    assert shown["LeNet-5 학습 (중단됨):  38%"]["value"] == 3 and shown["LeNet-5 학습 (중단됨):  38%"]["style"] == "danger"
    assert shown["필터 학습 (중단됨):  40%"]["right"].startswith(" 2/5 "), bars
    assert shown["끝까지 도는 반복문: 100%"]["style"] == "success", bars
    assert len(shown) == 3, bars


def test_a_demonstration_cell_that_stopped_while_drawing_shows_its_sentence_not_empty_axes(monkeypatch, capsys):
    """A Korean trial, lesson 02: edge_magnitude returned None (no `return`), and the demonstration cell's show_maps
    stopped after plt.subplots: under the cell's sentence of what failed, the figure showed its frames empty. what_failed
    closes the figures the stopped cell opened and did not show; one a cell before it left open stays."""
    import ast

    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    lesson = next(lesson for lesson in LESSONS if lesson.slug.startswith("02_"))
    nb = nbformat.read(lesson.source, as_version=4)
    helper = next(ast.get_source_segment(cell.source, node) for cell in nb.cells if cell.cell_type == "code"
                  for node in ast.parse(cell.source).body
                  if isinstance(node, ast.FunctionDef) and node.name == "show_maps")
    demo = next(cell.source for cell in nb.cells if cell.cell_type == "code" and "edge_magnitude(camera)" in cell.source
                and "what_failed" in cell.source)
    plt.close("all")
    cells = _Cells(monkeypatch)
    cells.run("import numpy as np\nimport matplotlib.pyplot as plt\nfrom cnnbook.feedback import what_failed\n"
              "from cnnbook.data import load_photo\ncamera = load_photo('camera')\n" + helper, capsys)
    cells.run("kept = plt.figure()   # a figure of the learner's, open before the demonstration", capsys)
    cells.run("def edge_magnitude(image):\n    magnitude = np.abs(np.diff(image, axis=0))[:, 1:-1]\n", capsys)
    try:
        out = cells.run(demo, capsys)
        assert "edge_magnitude" in out and "None" in out, out            # the lesson's sentence and what failed
        assert plt.get_fignums() == [cells.namespace["kept"].number], plt.get_fignums()
    finally:
        plt.close("all")


def test_a_cell_the_learner_stops_says_where_and_what_stays_not_a_traceback():
    """A Korean trial (lessons 01 and 08): the stop button on a cell with an endless loop after a correct def showed
    IPython's KeyboardInterrupt traceback in English, and on lesson 08's training cell a page of torch's insides
    (`loss.backward()`, `torch/autograd/__init__.py`). The cell says, in the learner's language, that they stopped
    it, where (the cell's line, and the function it was in), which functions the cell defined before it, and the usual
    cause of a cell that never ends; Run All still stops there (the output is an error). While grading, the interrupt is
    the grader's (a time limit), and IPython's traceback stays."""
    # the stop button: SIGINT from outside, while the loop spins (as JupyterLab's interrupt sends it)
    press_stop = ("import os, signal, threading\n"
                  "threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT)).start()")
    cells = [
        "import cnnbook",
        press_stop,
        "def fc_input_size(h, w, c):\n    return h * w * c\n\n\nn = 1\nwhile n < 3072:\n    n * 2\nprint(n)",
        "def fit(steps):\n    step = 0\n    while step < steps:\n        step + 1\n    return step",
        press_stop,
        "history = fit(10)\nprint('done')",
        "fc_input_size(32, 32, 3)",
        "from cnnbook.i18n import set_language\nset_language('ko')",
        press_stop,
        "history = fit(10)",
        # lesson 10 in a trial: a test cell's own helper ran the learner's nms, whose comprehension looped; the box
        # quoted the helper's line ("이 셀의 23번째 줄: area_b = ...") and named `<listcomp>`
        "def slow(n):\n    return sum(1 for _ in iter(int, 1))",
        press_stop,
        "from cnnbook.checks import passed\ndef run_it():\n    return slow(3)\n\nresult = run_it()",   # a test cell
        "import os\nos.environ['NBGRADER_EXECUTION'] = '1'",       # the grader's kernel: its interrupt, at a time limit
        press_stop,
        "n = 1\nwhile n < 3072:\n    n * 2",
    ]
    nb = run_cells(cells)
    err, text = error_of(nb.cells[2])
    assert err.ename == "KeyboardInterrupt", err
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text
    assert text.splitlines()[0] == "✘ You stopped this cell", text
    assert ("Line 6 of this cell:\n      while n < 3072:" in text or "Line 7 of this cell:\n      n * 2" in text), text
    assert "Defined before it stopped, and there for the cells after it: fc_input_size\n" in text, text
    assert "a loop whose condition never changes" in text, text
    err, text = error_of(nb.cells[5])
    assert "Traceback" not in text and "Line 1 of this cell:\n      history = fit(10)" in text, text
    assert re.search(r"In (your code, in )?`fit`, line [34] of its cell:", text), text
    assert "Defined before it stopped" not in text, text       # the cell defines no function
    assert nb.cells[6].outputs[0]["data"]["text/plain"] == "3072"
    err, text = error_of(nb.cells[9])
    assert text.splitlines()[0] == "✘ 이 셀을 멈췄습니다", text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text and "stopped" not in text, text
    err, text = error_of(nb.cells[12])
    assert "이 셀의 다섯 번째 줄:\n      result = run_it()" in text and "return slow(3)" not in text, text
    assert "멈추기 전에 정의되어" not in text, text        # a test cell's own helpers are not the learner's
    assert "여러분의 코드, `slow` 안 (그 셀의 두 번째 줄):" in text and "<genexpr>" not in text, text
    err, text = error_of(nb.cells[15])
    assert err.ename == "KeyboardInterrupt" and "Traceback" in text and "stopped this cell" not in text, text


def test_the_stop_button_pressed_again_while_its_box_is_made_keeps_the_boxes(monkeypatch, capsys):
    """A hostile review: IPython unregisters a custom exception handler that raises, for the rest of the session.
    The stop box takes a moment on a deep stack (0.3 s for a recursion of 2,900 calls; torch's frames are read from
    disk): a learner pressing stop again meanwhile lost every box of cnnbook.feedback until the kernel restarted, and
    read a traceback of its insides. Now that second press ends the box with one line, as IPython's own does."""
    from IPython.core.interactiveshell import InteractiveShell

    import cnnbook.feedback as feedback

    shell = InteractiveShell()
    assert feedback.install(shell)
    made = feedback.stopped_box

    def pressed_again(tb, cell):
        raise KeyboardInterrupt

    monkeypatch.setattr(feedback, "stopped_box", pressed_again)
    shell.run_cell("raise KeyboardInterrupt")
    shown = capsys.readouterr()
    assert "Custom TB Handler failed" not in shown.err and "feedback.py" not in shown.out + shown.err, shown
    assert "KeyboardInterrupt" in shown.err, shown
    assert KeyboardInterrupt in shell.custom_exceptions
    monkeypatch.setattr(feedback, "stopped_box", made)
    shell.run_cell("raise KeyboardInterrupt")
    assert "You stopped this cell" in capsys.readouterr().out
