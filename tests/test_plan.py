"""What the grader runs and flags for a submission's cells (autograde.runner.plan), without running anything."""
from __future__ import annotations

import nbformat

from autograde.lessons import grade_cells, is_test_cell
from autograde.runner import plan
from conftest import GUARD


def _source_and_release():
    source = nbformat.read(GUARD.source, as_version=4)
    released = nbformat.read(GUARD.student_version, as_version=4)
    return source, released


def _first_visible_test(nb):
    return next(cell for cell in grade_cells(nb).values() if is_test_cell(cell))


def test_a_notebook_as_released_is_not_flagged():
    source, released = _source_and_release()
    steps, flags = plan(released, source)
    assert not flags
    assert sum(kind == "test" for kind, _ in steps) == sum(is_test_cell(c) for c in source.cells)


def test_a_course_update_to_a_visible_test_does_not_flag_earlier_copies():
    source, released = _source_and_release()
    fixed = _first_visible_test(source)
    fixed.source = fixed.source.replace("check_", "# the instructor fixed a typo in a hint\ncheck_", 1)
    assert fixed.source != _first_visible_test(released).source
    _, flags = plan(released, source)
    assert "test-cell-edited" not in flags


def test_a_learners_edit_of_a_test_cell_is_flagged_even_after_a_course_update():
    source, released = _source_and_release()
    _first_visible_test(released).source = "pass"
    _, flags = plan(released, source)
    assert "test-cell-edited" in flags
    fixed = _first_visible_test(source)
    fixed.source = "# a course update\n" + fixed.source
    _, flags = plan(released, source)
    assert "test-cell-edited" in flags


# --- what a stopped cell is known to have defined (runner.leading_statements) --------------------------------


def leading_definitions(source: str) -> tuple[str, list[str]]:
    """The kept code of a stopped cell as one, and the names it defines, as the grader's keep replays them."""
    from autograde.runner import _joined, leading_statements

    return _joined(leading_statements(source))

def test_a_stopped_cells_leading_definitions_are_the_statements_above_its_first_other_one():

    source = ('"""Conv arithmetic."""\nimport numpy as np\nfrom math import floor as fl\nSTRIDE: int = 2\n'
              'SIZES = (3, [5, 7])\n\n@staticmethod\ndef conv_macs(h, w):\n    while True:\n        pass\n\n'
              'class Net:\n    depth = 3\n\nprint(conv_macs(3, 3))\ndef after_the_stop():\n    return 1\n')
    code, names = leading_definitions(source)
    assert names == ["np", "fl", "STRIDE", "SIZES", "conv_macs", "Net"]
    assert code.rstrip().endswith("depth = 3") and "print(" not in code and "after_the_stop" not in code
    compile(code, "<kept>", "exec")                # runs as it stands


def test_a_magic_after_the_definitions_ends_them_and_one_before_keeps_nothing():

    code, names = leading_definitions("def f(x):\n    return x\n%timeit f(3)\n")
    assert names == ["f"] and "timeit" not in code
    assert leading_definitions("%matplotlib inline\ndef f(x):\n    return x\nf(1)\n") == ("", [])
    assert leading_definitions("%%time\ndef f(x):\n    return x\nf(1)\n") == ("", [])


def test_nothing_is_kept_when_the_stop_may_be_in_a_definition_or_the_cell_cannot_be_read():

    # a cell of definitions only stopped in one of them (a class body, an import): replaying it would stop again
    assert leading_definitions("import numpy as np\nclass Net:\n    while True:\n        pass\n") == ("", [])
    assert leading_definitions("x = compute()\ndef f():\n    pass\nwhile True:\n    pass\n") == ("", [])
    assert leading_definitions("def f(:\n") == ("", [])
    assert leading_definitions("rate = 0.1 * 2\ndef f():\n    pass\nf()\n") == ("", [])   # not a literal
    assert leading_definitions("a.b = 1\ndef f():\n    pass\nf()\n") == ("", [])          # not a plain name
    assert leading_definitions("(" * 500 + ")" * 500 + "\n") == ("", [])


def test_a_cell_larger_than_a_lesson_has_is_not_parsed_for_its_definitions():
    """Parsed in the grading worker, which has no learner memory limit: a 1.6 MB cell stopped by its time limit took
    the worker to 1.2 GiB (tests/test_attacks.py's huge cell, after the definitions rule came)."""
    from autograde.runner import HINT_CELL_CHARS

    big = "def f():\n    return 1\n" + "x = (" + "a," * (HINT_CELL_CHARS // 2) + ")\n"
    assert leading_definitions(big) == ("", [])
    assert leading_definitions("def f():\n    return 1\nx = (a, a)\n")[1] == ["f"]


def test_a_cell_ipython_would_read_again_for_each_magic_keeps_nothing_at_once():
    """IPython reads a whole cell again for each line it changes, in the grading worker, beyond the learner's limits: a
    stopped cell of 5,000 magics took 112 s there and ended in IPython's RuntimeError (500 changes at most), which made
    the submission a grader-error; 64 shell commands among 25,000 short lines took 58 s (a hostile trial)."""
    import time

    stops = "def f():\n    return 1\nimport os\nos._exit(0)\n"
    began = time.monotonic()
    assert leading_definitions(stops + "!true\n" * 600) == ("", [])
    assert leading_definitions(stops + "!true\n" * 40 + "a\n" * 5_000) == ("", [])
    assert time.monotonic() - began < 3.0
    # a cell as a lesson has it keeps its definitions, its magics and all
    assert leading_definitions(stops + "%time f()\n" + "!ls\n" + "a\n" * 200)[1] == ["f", "os"]
    # and Python's own operators are no magics: a long honest cell full of `!=` and `%` keeps its definitions (each
    # one counted as a magic, such a cell of 5,000 characters kept nothing)
    honest = "def g(x, y):\n" + "    z = (x % 7 != y % 5) and x != '?'\n" * 120 + "    return z\n"
    assert len(honest) > 4_000
    assert leading_definitions(honest + stops)[1] == ["g", "f", "os"]
    # an assigned magic or shell command, and a help query at a line's end, are IPython's and are counted
    assert leading_definitions(stops + "x = !true\n" * 300) == ("", [])
    assert leading_definitions(stops + "len?\n" * 300) == ("", [])


def test_a_stopped_cell_is_named_by_its_first_line_with_what_was_kept_and_the_general_sentence_goes():
    from autograde.check import PROBLEMS, problem_sentences
    from autograde.runner import cell_label

    assert cell_label("\n\n  def conv_macs(h, w):\n    pass") == "def conv_macs(h, w):"
    assert cell_label("x = 1\x1b[2J" + "y" * 100).startswith("x = 1\\x1b[2J") and cell_label("y" * 100).endswith("…")
    assert len(cell_label("y" * 100)) == 64
    result = {"flags": ["timeout", "kernel-died", "output-limit"],
              "stopped": [{"how": "timeout", "cell": "def conv_macs(h, w):", "kept": ["conv_macs", "np"]},
                          {"how": "died", "cell": "import os", "kept": []}, "junk", {"how": "other"}]}
    said = problem_sentences(result, lambda text: text)
    assert said[0].startswith("The cell that starts with «def conv_macs(h, w):» ran past its time limit")
    assert said[0].endswith("stopped it (conv_macs, np) was run again, so the tests after it could use it.")
    assert said[1].startswith("The Python kernel died in the cell that starts with «import os»")
    assert "was run again" not in said[1]
    assert said[2:] == [PROBLEMS["output-limit"]]
    # a test stopped at its time limit (no cell named): the general sentence
    assert problem_sentences({"flags": ["timeout"]}, lambda text: text) == [PROBLEMS["timeout"]]


def test_the_kept_definitions_are_cut_where_python_ends_their_lines():
    """A character str.splitlines() takes for a line break and Python does not (U+2028 pasted from a web page into a
    comment, a form feed in a string), and a semicolon that puts the first other statement on the definitions' last
    line: the kept code was cut in the wrong place (an IndentationError, so nothing was kept; or the statement that
    stopped the cell replayed with them)."""

    source = ('def f(x):\n    # pasted \u2028 from a page\n    text = "a\x0cb\x1cc"\n    return len(text)\n'
              'LIMIT = 2; import time; time.sleep(100)\n')
    code, names = leading_definitions(source)
    assert names == ["f", "LIMIT", "time"]
    assert "sleep" not in code, code
    kept: dict = {}
    exec(compile(code, "<kept>", "exec"), kept)
    assert kept["f"](0) == 5 and kept["LIMIT"] == 2


def test_a_definition_the_rest_of_the_cell_may_change_is_not_kept():
    """What a kept name held when the cell stopped must be what the replay gives it: a definition that a later statement
    of the cell binds again, deletes, or changes through an attribute or an item (those ran before the stop, or may
    have) is not kept; one a learner deleted before an endless loop got the exercise's points. The others are."""

    loop = "while True:\n    pass\n"
    code, names = leading_definitions("def group_max(v, w):\n    return 1\ndef pool():\n    pass\nLIMIT = 3\n"
                                      "SIZES = [1, 2]\ndel group_max\nLIMIT += 1\nSIZES[0] = 5\n" + loop)
    assert names == ["pool"] and "group_max" not in code and "LIMIT" not in code and "SIZES" not in code, code
    assert leading_definitions("def f():\n    return 1\ndef g():\n    return 2\nf.__code__ = g.__code__\n" + loop)[1] == ["g"]
    assert leading_definitions("def f():\n    return 1\nfor f in range(3):\n    pass\n" + loop) == ("", [])
    assert leading_definitions("import numpy as np\ndef f():\n    return 1\nprint(f())\nfrom math import *\n" + loop) == ("", [])
    # a function of the cell that declares the name global may bind it when the rest calls it
    assert leading_definitions("def f():\n    return 1\ndef forget():\n    global f\n    f = None\nforget()\n"
                               + loop)[1] == ["forget"]
    # the same import again binds the same module: no change (a learner's cell often imports numpy twice)
    code, names = leading_definitions("import numpy as np\nfrom math import floor\ndef f():\n    return np.zeros(1)\n"
                                      "print(f())\nimport numpy as np\nfrom math import floor\nimport torch as np\n"
                                      "from math import ceil as floor\n" + loop)
    assert names == ["f"], names
    assert leading_definitions("import numpy as np\ndef f():\n    return np.zeros(1)\nprint(f())\n"
                               "import numpy as np\n" + loop)[1] == ["np", "f"]
    # a definition whose own body uses setattr (a network's layers by name) changes no name of the notebook unless
    # the rest of the cell calls it
    net = ("class Net:\n    def __init__(self):\n        for i in range(2):\n            setattr(self, f'conv{i}', i)\n"
           "def group_max(v, w):\n    return 1\n")
    assert leading_definitions(net + "print(group_max(1, 2))\n" + loop)[1] == ["Net", "group_max"]
    assert leading_definitions(net + "model = Net()\n" + loop) == ("", [])
    assert leading_definitions("def f():\n    return 1\ndef wipe():\n    globals().clear()\ndef tidy():\n    wipe()\n"
                               "tidy()\n" + loop) == ("", [])
    # names the rest may change without naming them: nothing is kept
    for change in ('globals()["f"] = None', 'exec("f = None")', 'setattr(sys.modules["__main__"], "f", None)',
                   'vars().pop("f")'):
        assert leading_definitions(f"import sys\ndef f():\n    return 1\n{change}\n" + loop) == ("", []), change
