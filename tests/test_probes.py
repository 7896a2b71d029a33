"""What runs beside learner code: registered probes, the measurement of what a call runs, inputs changed in place,
and hidden random inputs that change from one grading run to the next.

The unit tests measure functions in this process (what a learner's own notebook does). The slow tests grade
lesson 05 through `grade` (sandboxed) and `check` (no sandbox): one engine, so both give the same verdicts.
"""
from __future__ import annotations

import json
import subprocess
import sys
import types

import nbformat
import numpy as np
import pytest

from autograde.check import check_notebook
from autograde.grade import grade_batch
from autograde.sandbox import bubblewrap_works
from cnnbook.checks import CheckFailed, check_own_work, hidden_rng, set_hidden_seed
from cnnbook.measure import measure
from conftest import GUARD, GUARD_LOOPS, LESSONS, answer_sources, solved, write

LIBRARY_CONV = ["torch", "scipy", "numpy.convolve", "numpy.correlate"]

LEARNER_CODE = '''
import importlib
import numpy as np
import torch
import torch.nn.functional as F
from numpy.lib.stride_tricks import sliding_window_view


def convolve(x, w):                      # the learner's own helper: its name is nobody's business
    windows = sliding_window_view(x, w.shape[-2:], axis=(2, 3))
    return np.einsum("nchwij,kcij->nkhw", windows, w)


def vectorised(x, w):
    return convolve(x, w)


class _Engine:
    def run(self, x, w):
        return F.conv2d(torch.from_numpy(x), torch.from_numpy(w)).numpy()


def torch_in_a_helper(x, w):
    return _Engine().run(x, w)


def torch_through_getattr(x, w):
    return getattr(importlib.import_module("torch.nn.functional"), "con" + "v2d")(torch.from_numpy(x),
                                                                                torch.from_numpy(w)).numpy()


def pixel_loop(x, w):
    out = np.zeros((x.shape[0], w.shape[0], x.shape[2] - w.shape[2] + 1, x.shape[3] - w.shape[3] + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = np.einsum("ncij,kcij->nk", x[:, :, i:i + w.shape[2], j:j + w.shape[3]], w)
    return out


def pads(x, w):
    return vectorised(getattr(np, "pad")(x, ((0, 0), (0, 0), (1, 1), (1, 1))), w)


def hides_its_loop(x, w):
    import sys
    sys.settrace(None)
    return pixel_loop(x, w)
'''


@pytest.fixture(scope="module")
def learner(tmp_path_factory):
    """The functions above, defined in a file outside every library folder, as a notebook's cell would be."""
    path = tmp_path_factory.mktemp("learner") / "cell_42.py"
    path.write_text(LEARNER_CODE)
    module = types.ModuleType("learner_cell")
    module.__file__ = str(path)
    exec(compile(LEARNER_CODE, str(path), "exec"), module.__dict__)
    return module


X = np.random.default_rng(0).normal(size=(1, 2, 60, 60))
W = np.random.default_rng(1).normal(size=(2, 2, 3, 3))


def test_a_helper_named_convolve_is_the_learners_own_code(learner):
    report = measure(learner.vectorised, (X, W), forbidden=LIBRARY_CONV, line_limit=300)
    assert report == {"lines": 3, "stopped": False, "forbidden": [], "raised": None, "tampered": False}
    check_own_work("vectorised", learner.vectorised, (X, W), forbidden=LIBRARY_CONV, max_lines=300)


@pytest.mark.parametrize("name", ["torch_in_a_helper", "torch_through_getattr"])
def test_a_library_call_is_found_by_what_runs_not_by_its_name(learner, name):
    report = measure(getattr(learner, name), (X, W), forbidden=LIBRARY_CONV)
    assert report["forbidden"] == ["torch"], report
    with pytest.raises(CheckFailed, match="your code called torch"):
        check_own_work(name, getattr(learner, name), (X, W), forbidden=LIBRARY_CONV)


def test_one_library_function_and_the_notebooks_own_functions_by_identity(learner):
    assert measure(learner.pads, (X, W), forbidden=["numpy.pad"])["forbidden"] == ["numpy.pad"]
    assert measure(learner.vectorised, (X, W), forbidden=["numpy.pad"])["forbidden"] == []
    # A bare name is what the notebook binds to it: another exercise, a helper of the lesson.
    assert measure(learner.pads, (X, W), forbidden=["convolve"])["forbidden"] == ["convolve"]
    assert measure(learner.pixel_loop, (X[:, :, :8, :8], W), forbidden=["convolve"])["forbidden"] == []


def _cell(tmp_path, code: str) -> types.ModuleType:
    """``code`` run as a notebook cell's would be, from a file outside every library folder."""
    path = tmp_path / "cell_7.py"
    path.write_text(code)
    module = types.ModuleType("learner_cell")
    module.__file__ = str(path)
    exec(compile(code, str(path), "exec"), module.__dict__)
    return module


def test_a_package_is_forbidden_whatever_the_notebook_binds_to_its_name(tmp_path):
    """A hostile trial: `import math as torch` (or a function whose globals say torch = None) made the forbidden
    "torch" stand for math (or for nothing), and torch's conv2d did a "write it yourself" answer unseen."""
    cell = _cell(tmp_path, '''
import types
import torch as T
import torch.nn.functional as Fn
import math as torch
scipy = None


def conv(x, w):
    return Fn.conv2d(T.from_numpy(x), T.from_numpy(w)).numpy()


conv_with_its_own_globals = types.FunctionType(conv.__code__, {"Fn": Fn, "T": T, "torch": None}, "conv")
''')
    for name in ("conv", "conv_with_its_own_globals"):
        assert "torch" in measure(getattr(cell, name), (X, W), forbidden=LIBRARY_CONV)["forbidden"], name
        with pytest.raises(CheckFailed, match="torch"):
            check_own_work(name, getattr(cell, name), (X, W), forbidden=LIBRARY_CONV)


def test_the_course_package_never_does_an_exercises_work(tmp_path):
    """A hostile trial: lesson 10's box_iou and nms answered with the nms explorer's pair_iou and suppress got full
    marks (its tests forbid torch only); a function remade from the package's code object with the notebook's
    globals ran it under the learner's module name."""
    cell = _cell(tmp_path, '''
import types
import numpy as np
from cnnbook.nms_explorer import pair_iou, suppress


def box_iou(boxes_a, boxes_b):
    return pair_iou(boxes_a, boxes_b)


def nms(boxes, scores, iou_threshold):
    return suppress(boxes, scores, np.zeros(len(scores)), iou_threshold, per_class=False)[0]


remade_box_iou = types.FunctionType(pair_iou.__code__, globals(), "box_iou")
''')
    boxes = np.array([[0.0, 0, 2, 2], [1, 1, 3, 3]])
    for name, args in [("box_iou", (boxes, boxes)), ("nms", (boxes, np.array([0.9, 0.8]), 0.5)),
                       ("remade_box_iou", (boxes, boxes))]:
        with pytest.raises(CheckFailed, match="did the work: cnnbook"):
            check_own_work(name, getattr(cell, name), args, forbidden=["torch"])
    assert measure(cell.remade_box_iou, (boxes, boxes), forbidden=["cnnbook"])["forbidden"] == ["cnnbook"]
    # nor when the cell changed what the package's folder would be worked out from
    import os

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "sep", "\\")
        patch.setitem(sys.modules, "cnnbook", types.ModuleType("cnnbook"))
        assert measure(cell.remade_box_iou, (boxes, boxes), forbidden=["cnnbook"])["forbidden"] == ["cnnbook"]
    # the learner's own numpy is no course code
    check_own_work("box_iou", _cell(tmp_path, "def box_iou(a, b):\n    return (a[:, None] * b[None]).sum(-1)\n").box_iou,
                   (boxes, boxes), forbidden=["torch"])


# Exercises a function of the course's own package would answer (its explorers compute them for their pictures): the
# answer, the lesson and its test cell.
COURSE_ANSWERS = [
    ("02", "test_conv2d_single", "from cnnbook.widgets import correlate2d as slide\n"
                                 "def conv2d_single(image, kernel):\n    return slide(image, kernel)\n"),
    ("10", "test_box_iou", "from cnnbook.nms_explorer import pair_iou\n"
                           "def box_iou(boxes_a, boxes_b):\n    return pair_iou(boxes_a, boxes_b)\n"),
    ("10", "test_nms", "import numpy as np\nfrom cnnbook.nms_explorer import suppress\n"
                       "def nms(boxes, scores, iou_threshold):\n"
                       "    return suppress(boxes, scores, np.zeros(len(scores)), iou_threshold, per_class=False)[0]\n"),
    ("10", "test_decode_predictions", "from cnnbook.nms_explorer import decode_outputs\n"
                                      "def decode_predictions(output, image_size=64):\n"
                                      "    boxes, scores, labels = decode_outputs(output, image_size)\n"
                                      "    return boxes[0], scores[0], labels[0]\n"),
]


@pytest.mark.parametrize("lesson, test, answer", COURSE_ANSWERS, ids=[test for _, test, _ in COURSE_ANSWERS])
def test_an_exercise_the_course_package_answers_fails_its_hidden_part(lesson, test, answer):
    """A hostile trial: these answers, a call of the course's own helpers, got full marks (lesson 10's box_iou, nms and
    decode_predictions: 10 points; lesson 02's conv2d_single: 5). Each test cell, hidden part too, run in-process as
    the solution's notebook runs it: its visible checks pass, a hidden check_own_work fails on the course's package."""
    from autograde.lessons import grade_cells

    source = nbformat.read(LESSONS[int(lesson) - 1].source, as_version=4)
    namespace: dict = {"__name__": "__main__", "IMAGE_SIZE": 64, "GRID": 8}
    exec(compile(answer, "<answer>", "exec"), namespace)
    cell = grade_cells(source)[test].source
    visible, hidden = cell.split("### BEGIN HIDDEN TESTS")
    exec(compile(visible, "<visible>", "exec"), namespace)         # the visible checks pass
    with pytest.raises(CheckFailed, match="did the work: cnnbook"):
        exec(compile(hidden, "<hidden>", "exec"), namespace)


BOX_IOU_WITH_A_BAR = """
import numpy as np
from cnnbook.bars import tqdm


def box_iou(boxes_a, boxes_b):
    out = np.zeros((len(boxes_a), len(boxes_b)))
    for i in tqdm(range(len(boxes_a)), desc="rows", leave=False):
        x1 = np.maximum(boxes_a[i, 0], boxes_b[:, 0])
        y1 = np.maximum(boxes_a[i, 1], boxes_b[:, 1])
        x2 = np.minimum(boxes_a[i, 2], boxes_b[:, 2])
        y2 = np.minimum(boxes_a[i, 3], boxes_b[:, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        area_a = (boxes_a[i, 2] - boxes_a[i, 0]) * (boxes_a[i, 3] - boxes_a[i, 1])
        area_b = (boxes_b[:, 2] - boxes_b[:, 0]) * (boxes_b[:, 3] - boxes_b[:, 1])
        out[i] = inter / (area_a + area_b - inter)
    return out


def stops_its_bar(boxes_a, boxes_b):       # a bar left early: it says "(stopped)" in the learner's language
    for _ in tqdm(range(3), desc="rows"):
        break
    return box_iou(boxes_a, boxes_b)
"""


def test_the_course_progress_bar_may_run_inside_a_checked_function(tmp_path):
    """A learner's box_iou with the course's own bar over its rows (`from cnnbook.bars import tqdm`, which the lessons
    offer) was refused as "your code called cnnbook": the bar, and the translation of what it says when it stops, are
    allowed by what their code runs; the rest of the package is not."""
    cell = _cell(tmp_path, BOX_IOU_WITH_A_BAR)
    boxes = np.array([[0.0, 0, 2, 2], [1, 1, 3, 3], [0, 0, 1, 1]])
    for name in ("box_iou", "stops_its_bar"):
        assert measure(getattr(cell, name), (boxes, boxes), forbidden=["cnnbook", "torch"])["forbidden"] == [], name
        check_own_work(name, getattr(cell, name), (boxes, boxes), forbidden=["torch"], max_lines=300)


_CLAIMS_TO_BE_THE_BAR = '''
def box_iou(boxes_a, boxes_b):
    out = np.zeros((len(boxes_a), len(boxes_b)))
    for i in range(len(boxes_a)):
        for j in range(len(boxes_b)):
            a, b = boxes_a[i], boxes_b[j]
            w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
            h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
            inter = w * h
            out[i, j] = inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
    return out
'''

SMUGGLED_THROUGH_THE_BAR = {
    # another course helper computes the answer beside the bar
    "beside the bar": """
import numpy as np
from cnnbook.bars import tqdm
from cnnbook.nms_explorer import pair_iou


def box_iou(boxes_a, boxes_b):
    for _ in tqdm(range(1), leave=False):
        pass
    return pair_iou(boxes_a, boxes_b)
""",
    # the bar's class given a close of the learner's that hands the work to the explorer
    "a patched close": """
import numpy as np
import cnnbook.bars
from cnnbook.nms_explorer import pair_iou

_answer = []


def _close(self, _pair_iou=pair_iou):
    _answer.append(_pair_iou(*self.iterable.boxes))


cnnbook.bars.tqdm.close = _close


class _Rows(list):
    pass


def box_iou(boxes_a, boxes_b):
    rows = _Rows(range(len(boxes_a)))
    rows.boxes = (boxes_a, boxes_b)
    _answer.clear()
    for _ in cnnbook.bars.tqdm(rows, leave=False):
        pass
    return _answer[-1]
""",
    # the bar's module replaced by one of the learner's, its loop compiled as the course's file
    "a module that claims to be cnnbook.bars": """
import sys
import types
import numpy as np
import cnnbook.bars

_fake = types.ModuleType("cnnbook.bars")
vars(_fake)["np"] = np
exec(compile(SOURCE, cnnbook.bars.__file__, "exec"), vars(_fake))
sys.modules["cnnbook.bars"] = _fake
box_iou = _fake.box_iou
""".replace("SOURCE", repr(_CLAIMS_TO_BE_THE_BAR)),
    # the bar's own close, remade with globals whose `_` is the explorer's function
    "the bar's code with other globals": """
import types
import numpy as np
import cnnbook.bars
from cnnbook.nms_explorer import pair_iou

_answer = []
_boxes = []


def _translate(text):
    _answer.append(pair_iou(*_boxes))
    return text


_close = types.FunctionType(cnnbook.bars.tqdm.close.__code__,
                            {"_": _translate, "__builtins__": __builtins__, "__name__": "cnnbook.bars"},
                            "close", None, cnnbook.bars.tqdm.close.__closure__)


class _Bar:
    disable, total, n, leave, desc = False, 2, 0, True, "rows"

    def set_description_str(self, text, refresh=True):
        pass


def box_iou(boxes_a, boxes_b):
    _boxes[:] = [boxes_a, boxes_b]
    try:
        _close(_Bar())
    except Exception:
        pass
    return _answer[-1]
""",
}


@pytest.mark.parametrize("name", SMUGGLED_THROUGH_THE_BAR)
def test_the_course_bar_lets_no_other_course_code_do_the_work(tmp_path, name, monkeypatch):
    """Allowing the bar opens no door to the rest of the package, nor to the learner's own code dressed as the bar:
    each answer here has the explorer's pair_iou (or a loop compiled as cnnbook/bars.py, named cnnbook.bars) do
    box_iou's work through the bar, and each is refused as before."""
    import cnnbook.bars

    monkeypatch.setattr(cnnbook.bars.tqdm, "close", cnnbook.bars.tqdm.close)   # put back what a trial patches
    monkeypatch.setitem(sys.modules, "cnnbook.bars", cnnbook.bars)
    boxes = np.array([[0.0, 0, 2, 2], [1, 1, 3, 3]])
    cell = _cell(tmp_path, SMUGGLED_THROUGH_THE_BAR[name])
    np.testing.assert_allclose(cell.box_iou(boxes, boxes), [[1, 1 / 7], [1 / 7, 1]])    # it answers
    assert measure(cell.box_iou, (boxes, boxes), forbidden=["cnnbook"])["forbidden"] == ["cnnbook"]
    with pytest.raises(CheckFailed, match="cnnbook"):
        check_own_work("box_iou", cell.box_iou, (boxes, boxes), forbidden=["torch"], max_lines=300)


_RAN: list = []


class _Runs:
    """A value whose __hash__ and __eq__ say when they ran: the measurement must never run them."""

    def __hash__(self):
        _RAN.append("hash")
        return 1

    def __eq__(self, other):
        _RAN.append("eq")
        return self is other


def test_no_learner_code_runs_inside_the_measurements_own_hooks(tmp_path):
    """Code run by the tracer or the profiler is not measured: a learner's constant of their own class (whose __hash__
    ran when the tables keyed by code object looked the code up), a file name of a str subclass (whose startswith
    said "library"), globals of a dict subclass (whose get ran) and a metaclass's __module__ property could each
    have done an exercise's work there, unseen."""
    cell = _cell(tmp_path, "def plain():\n    return 1\n")

    class Named(str):
        def startswith(self, *args):
            _RAN.append("startswith")
            return True

    class Globals(dict):
        def get(self, *args):
            _RAN.append("get")
            return dict.get(self, *args)

    class Meta(type):
        @property
        def __module__(cls):
            _RAN.append("__module__")
            return "learner"

    class Odd(metaclass=Meta):
        pass

    odd = Odd()
    code = cell.plain.__code__
    with_const = types.FunctionType(code.replace(co_consts=code.co_consts + (_Runs(),)), cell.__dict__)
    with_name = types.FunctionType(code.replace(co_filename=Named(cell.__file__)), cell.__dict__)
    with_globals = types.FunctionType(code, Globals(cell.__dict__))

    def calls_all():
        with_const()
        with_name()
        with_globals()
        odd.__sizeof__()        # a C method bound to an instance of the learner's class
        return 1

    _RAN.clear()
    report = measure(calls_all, (), forbidden=["torch", "cnnbook"], line_limit=100)
    assert _RAN == [] and report["forbidden"] == [], (_RAN, report)
    # and a file name the learner's str subclass says is a library's is still the learner's: its lines count
    assert measure(with_name, (), line_limit=100)["lines"] == 1


def test_a_loop_over_pixels_is_counted_in_the_learners_frames_only(learner):
    report = measure(learner.pixel_loop, (X, W), forbidden=LIBRARY_CONV, line_limit=300)
    assert report["stopped"] and report["lines"] == 301 and not report["tampered"], report
    with pytest.raises(CheckFailed, match="loops over pixels"):
        check_own_work("pixel_loop", learner.pixel_loop, (X, W), max_lines=300, loop_message="loops over pixels")
    # numpy's own Python code (np.pad, einsum's parsing) never counts
    assert measure(learner.pads, (X, W), line_limit=300)["lines"] <= 5


def test_switching_the_measurement_off_is_reported(learner):
    report = measure(learner.hides_its_loop, (X, W), forbidden=LIBRARY_CONV, line_limit=300)
    assert report["tampered"] is True
    with pytest.raises(CheckFailed, match="switched off the measurement"):
        check_own_work("hides_its_loop", learner.hides_its_loop, (X, W), max_lines=300)
    assert sys.gettrace() is None and sys.getprofile() is None


def test_hidden_random_inputs_follow_the_runs_seed_and_the_test():
    try:
        set_hidden_seed(1234, "conv2d")
        first = hidden_rng().normal(size=5)
        assert np.array_equal(first, hidden_rng().normal(size=5))           # reproducible within a run
        assert not np.array_equal(first, hidden_rng("other").normal(size=5))
        set_hidden_seed(1234, "pool")
        assert not np.array_equal(first, hidden_rng().normal(size=5))       # per test, not by test order
        set_hidden_seed(1235, "conv2d")
        assert not np.array_equal(first, hidden_rng().normal(size=5))       # another run, other inputs
        set_hidden_seed(1234, "conv2d")
        assert np.array_equal(first, hidden_rng().normal(size=5))           # the recorded seed repeats a run
    finally:
        set_hidden_seed(None)


def test_a_tests_global_random_draws_repeat_whatever_ran_before_in_the_judge():
    """A test cell's torch.randn / np.random / random draws in the judge: a visible part's are the same in every run
    and after any other test (lesson 07's messages printed other numbers at each self-check), a hidden part's follow
    the run's seed."""
    from autograde.judge import run_here

    draws = ("import random, numpy as np, torch\n"
             "print(torch.randn(3).tolist(), np.random.rand(2).tolist(), random.random())\n")
    hidden = draws + "### BEGIN HIDDEN TESTS\nimport torch, sink\nsink.drawn = torch.randn(2).tolist()\n" \
                     "### END HIDDEN TESTS\n"
    sink = types.ModuleType("sink")           # what the hidden part drew (a hidden part's output is never shown)
    sys.modules["sink"] = sink

    def run(source, exercise, seed):
        outcome = run_here(source, None, 10, [], exercise=exercise, seed=seed)
        assert outcome.status == "pass", outcome
        return outcome.printed, getattr(sink, "drawn", None)

    import torch
    try:
        first = run(draws, "conv2d", 1)
        torch.randn(1000)
        np.random.rand(7)
        assert run(draws, "conv2d", 2) == first                        # visible: not by run, not by what ran before
        assert run(draws, "pool", 1) != first                          # by test
        printed, drawn = run(hidden, "conv2d", 1)
        assert printed == first[0] and drawn is not None
        assert run(hidden, "conv2d", 1)[1] == drawn                    # hidden: the run's seed repeats it
        assert run(hidden, "conv2d", 3)[1] != drawn                    # another run, other draws
    finally:
        set_hidden_seed(None)
        del sys.modules["sink"]


# --- lesson 05 through grade and check ------------------------------------------------------------------------
POOLING = next(lesson for lesson in LESSONS if lesson.slug.startswith("05"))
SIGNATURE = "def conv2d_fast(x, w, b, stride=1, padding=0):\n"
PIXEL_LOOP = SIGNATURE + '''    x, w, b = np.asarray(x), np.asarray(w), np.asarray(b)
    if x.ndim != 4 or w.ndim != 4 or x.shape[1] != w.shape[1] or b.shape != (w.shape[0],) or stride < 1 \\
            or padding < 0 or w.shape[2] > x.shape[2] + 2 * padding or w.shape[3] > x.shape[3] + 2 * padding:
        raise ValueError("shapes do not fit")
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    kh, kw = w.shape[2:]
    out = np.zeros((x.shape[0], w.shape[0], (xp.shape[2] - kh) // stride + 1, (xp.shape[3] - kw) // stride + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            window = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out
'''
TORCH_IN_A_HELPER = '''import torch


class _Engine:
    """A helper class: the name `torch` never appears in conv2d_fast itself."""
    def run(self, x, w, b, stride, padding):
        return torch.nn.functional.conv2d(torch.from_numpy(np.asarray(x, dtype=float)),
                                          torch.from_numpy(np.asarray(w, dtype=float)),
                                          torch.from_numpy(np.asarray(b, dtype=float)),
                                          stride=stride, padding=padding).numpy()


''' + SIGNATURE + '''    x, w, b = np.asarray(x), np.asarray(w), np.asarray(b)
    if x.ndim != 4 or w.ndim != 4 or x.shape[1] != w.shape[1] or b.shape != (w.shape[0],) or stride < 1 \\
            or padding < 0 or w.shape[2] > x.shape[2] + 2 * padding or w.shape[3] > x.shape[3] + 2 * padding:
        raise ValueError("shapes do not fit")
    return _Engine().run(x, w, b, stride, padding)
'''


def _named_convolve(solution: str) -> str:
    """The solution with its body moved into a helper of the learner's own, called `convolve`."""
    body = solution.replace("def conv2d_fast(", "def convolve(", 1)
    return body + "\n\n" + SIGNATURE + "    return convolve(x, w, b, stride, padding)\n"


MUTATES_DOUT = "\n".join(line for line in answer_sources(POOLING)["maxpool_backward"].splitlines()) \
    .replace("    return dx", "    dout *= 0          # \"frees\" the gradient: changes the caller's array\n    return dx")


@pytest.fixture(scope="module")
def lesson05(tmp_path_factory):
    if not bubblewrap_works():
        pytest.fail("bubblewrap is needed (apt-get install bubblewrap): .ci/run installs it")
    solutions = answer_sources(POOLING)
    cases = {
        "pixel_loop": solved(POOLING, {"conv2d_fast": PIXEL_LOOP}),
        "torch_in_a_helper": solved(POOLING, {"conv2d_fast": TORCH_IN_A_HELPER}),
        "named_convolve_and_mutates": solved(POOLING, {"conv2d_fast": _named_convolve(solutions["conv2d_fast"]),
                                                       "maxpool_backward": MUTATES_DOUT}),
    }
    subs, out = tmp_path_factory.mktemp("probe-subs"), tmp_path_factory.mktemp("probe-out")
    for name, nb in cases.items():
        write(nb, subs / name / POOLING.slug / f"{POOLING.slug}.ipynb")
    # three notebooks: one worker (each worker starts its own zygote and judge, torch imported in both)
    grade_batch(subs, out, solutions=POOLING.solutions, workers=1, progress=lambda line: None)
    graded = {}
    for name in cases:
        result = json.loads((out / "results" / name / f"{POOLING.slug}.json").read_text())
        checked = check_notebook(POOLING, subs / name / POOLING.slug / f"{POOLING.slug}.ipynb")
        graded[name] = ({t["grade_id"]: t["status"] == "pass" for t in result["tests"]},
                        {r.grade_id: r.passed for r in checked.results}, result)
    return graded



@pytest.mark.slow
@pytest.mark.parametrize("name, verdicts", [
    ("pixel_loop", {"test_conv2d_fast": False, "test_pool2d_forward": True, "test_maxpool_backward": True}),
    ("torch_in_a_helper", {"test_conv2d_fast": False, "test_pool2d_forward": True, "test_maxpool_backward": True}),
    ("named_convolve_and_mutates", {"test_conv2d_fast": True, "test_pool2d_forward": True,
                                    "test_maxpool_backward": False}),
])
def test_lesson05_grade_and_check_agree_on_what_the_code_runs(lesson05, name, verdicts):
    by_grade, by_check, result = lesson05[name]
    assert set(verdicts) <= set(by_grade), result["tests"]
    expected = {gid: verdicts.get(gid, True) for gid in by_grade}     # every other exercise is the solution's
    assert by_grade == expected, result["tests"]
    assert by_check == expected
    assert type(result["hidden_seed"]) is int                     # recorded: the instructor can repeat the run


@pytest.mark.slow
def test_lesson05_says_why_in_the_learners_words(lesson05):
    messages = {t["grade_id"]: t["message"] for t in lesson05["pixel_loop"][2]["tests"]}
    assert "loops over output rows or pixels" in messages["test_conv2d_fast"]
    messages = {t["grade_id"]: t["message"] for t in lesson05["torch_in_a_helper"][2]["tests"]}
    assert "your code called torch" in messages["test_conv2d_fast"]
    messages = {t["grade_id"]: t["message"] for t in lesson05["named_convolve_and_mutates"][2]["tests"]}
    # The learner zeroes the dout it was given: that call fails, named, and the test's own dout stays as it was.
    said = messages["test_maxpool_backward"]
    assert "maxpool_backward changed what it was given" in said and "its argument number 1" in said, said


def test_a_function_that_raises_while_measured_shows_its_own_error():
    """check_own_work said only "your function raised RuntimeError on this input, so what it runs could not be
    measured": the learner's own message and line are what they need (it is raised again, outside the measurement)."""
    def broken(x):
        raise ValueError("operands could not be broadcast together with shapes (3,) (4,)")

    with pytest.raises(ValueError, match="could not be broadcast"):
        check_own_work("broken(x)", broken, (np.zeros(3),), forbidden=["torch"])


def test_a_call_of_the_learners_own_earlier_answer_is_not_called_a_library_function():
    """A trial with real learner code: nms calling the learner's own box_iou (which lesson 10 then asked them not to)
    failed with "a library function did the work: box_iou", a function they had written. Their own answer is named
    as such; a library (numpy.pad) is still a library."""
    notebook: dict = {"np": np}                 # a notebook's names: nms finds box_iou there, as in a notebook
    exec("def box_iou(a, b):\n    return np.ones((len(a), len(b)))\n\n"
         "def nms(boxes):\n    return np.flatnonzero(box_iou(boxes[:1], boxes)[0] > 2)\n\n"
         "def pads(x):\n    return np.pad(x, 1)\n", notebook)
    nms, pads = notebook["nms"], notebook["pads"]
    with pytest.raises(CheckFailed) as failure:
        check_own_work("nms(boxes)", nms, (np.zeros((3, 4)),), forbidden=["torch", "box_iou"])
    said = str(failure.value)
    assert "typical slip: your answer to another exercise did the work: box_iou" in said, said
    assert "library" not in said and "asks for the work written here, but your code called box_iou" in said, said
    with pytest.raises(CheckFailed) as failure:
        check_own_work("pads(x)", pads, (np.zeros((2, 2)),), forbidden=["numpy.pad", "box_iou"])
    said = str(failure.value)
    assert "typical slip: a library function did the work: numpy.pad" in said and "another exercise" not in said, said


def test_a_library_error_named_as_a_slip():
    from cnnbook.checks import known_errors

    with pytest.raises(CheckFailed) as failure:
        with known_errors("f(x)", {"requires grad": "numpy inside f"}):
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
    said = str(failure.value)
    assert "typical slip: numpy inside f" in said and "your code raised RuntimeError: Can't call numpy()" in said
    assert "detach" not in said, said        # torch's advice after the sentence that matched would break the gradient
    with pytest.raises(KeyError):                        # another error goes on as it was
        with known_errors("f(x)", {"requires grad": "numpy inside f"}):
            raise KeyError("w")


@pytest.mark.slow
def test_students_graded_in_one_run_get_hidden_inputs_of_their_own(tmp_path):
    """One run's seed, two students: each gets other hidden inputs (a hostile trial relayed answers between two
    sandboxes graded side by side while every student had the same ones), and the run's seed with the same
    student repeats exactly that student's inputs (``grade --seed N --student NAME --force``)."""
    from autograde.runner import grade_submission
    from autograde.settings import grading_limits

    seen = tmp_path / "seen"
    seen.mkdir()
    logs_inputs = GUARD_LOOPS.replace('    """Right values, one Python loop step per group."""\n',
                                      '    """Right values; every input is written down."""\n'
                                      f'    with open({str(seen)!r} + "/" + LOG, "a") as f:\n'
                                      '        f.write(repr(list(values)) + "\\n")\n')
    logged = {}
    for run, student in enumerate(["ann", "bob", "ann"]):
        nb = solved(GUARD, {"group_max": f"LOG = {f'{run}-{student}'!r}\n" + logs_inputs})
        path = write(nb, tmp_path / f"{run}-{student}.ipynb")
        result = grade_submission({"student": student, "lesson": GUARD.slug, "solutions": str(GUARD.solutions),
                                   "path": str(path), "limits": grading_limits().limits(None), "sandbox": False,
                                   "threads": 1, "hidden_seed": 7})
        assert result["hidden_seed"] == 7 and result["tests"], result
        logged[run] = (seen / f"{run}-{student}").read_text().splitlines()
    visible = 2                                       # the visible checks' two calls, the same for everyone
    assert logged[0][:visible] == logged[1][:visible]
    assert len(logged[0]) > visible and logged[0][visible:] != logged[1][visible:]
    assert logged[0] == logged[2]


def test_a_warning_the_learners_code_raises_is_not_a_call_of_the_course_package(monkeypatch, capsys):
    """A hostile review: in a notebook, warnings are shown by cnnbook.feedback's show_warning, and check_own_work
    forbids cnnbook in every exercise: a LeNet5 using torch's deprecated ``nn.init.xavier_uniform`` (a FutureWarning)
    was refused with 'your code called cnnbook'. A warning is shown after the measured call, as it was raised."""
    import warnings

    from cnnbook.feedback import show_warning

    monkeypatch.setattr(warnings, "showwarning", show_warning)
    cell = ("import warnings\nimport numpy as np\n\ndef relu(x):\n"
            "    warnings.warn('an old way', FutureWarning)\n    return np.maximum(x, 0)\n")
    namespace = {"__name__": "__main__"}
    exec(compile(cell, "/tmp/ipykernel_1/4242.py", "exec"), namespace)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        check_own_work("relu(x)", namespace["relu"], (np.ones(3),), forbidden=["torch"])
        assert measure(namespace["relu"], (np.ones(3),), forbidden=["torch", "cnnbook"])["forbidden"] == []
    assert "Warning (FutureWarning) at line 5 of its cell: an old way" in capsys.readouterr().err


_CHANGES_THE_ALLOW_LIST = """
import autograde.shim as shim
import cnnbook.measure as measuring
print(shim.intact())
kept = measuring._ALLOWED_COURSE_CODE
measuring._ALLOWED_COURSE_CODE = kept | {measuring._code_key(measuring.measure.__code__)}
print(shim.intact())
measuring._ALLOWED_COURSE_CODE = frozenset(list(kept)[1:])     # one fewer: the seal reads what it holds
print(shim.intact())
measuring._ALLOWED_COURSE_CODE = kept
print(shim.intact())
"""


def test_the_course_code_a_learner_may_run_is_under_the_graders_seal():
    """The allow-list of the course's own code (the bar) is one of the measurement's tables: a learner's cell that
    adds to it, or puts another set in its place, is caught by the seal each measure reply carries (the grader's
    tampering flag), as a change to what counts as library code is."""
    run = subprocess.run([sys.executable, "-c", _CHANGES_THE_ALLOW_LIST], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["True", "False", "False", "True"], (run.stdout, run.stderr)
