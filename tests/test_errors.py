"""Errors learners typically meet are explained in their language: each raised for real by numpy, torch and
Python as installed, so a library that rewords its message fails here instead of leaving learners without it."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from autograde.judge import _as_local_exception, _explain
from autograde.kernel import RemoteError
from cnnbook.checks import CheckFailed, check_value
from cnnbook.errors import EXPLAINED, meaning
from cnnbook.i18n import _, set_language


pytestmark = pytest.mark.filterwarnings("ignore:Using a target size")


def _nothing() -> None:
    return None


def _unpack_three(values):
    a, b, c = values
    return a, b, c


def _unpack_two(values):
    a, b = values
    return a, b


def _window_past_the_end(x, i, f=2, s=2):
    # maxpool_backward's loop run one step too long: the last window starts at the end of the map
    return x[:, :, i * s:i * s + f, 0:f].reshape(1, 1, f * f)


def _first_diff_twice():
    loss = (torch.ones(2, requires_grad=True) * 2).exp().sum()
    loss.backward()
    loss.backward()


# what the learner wrote (as a function that raises) -> the start of the explanation it must get
RAISED = {
    "Linear after a wrong flatten size": (lambda: nn.Linear(256, 120)(torch.zeros(4, 400)), "A Linear layer"),
    "Linear on a map never flattened": (lambda: nn.Linear(400, 10)(torch.zeros(4, 16, 5, 5)), "A Linear layer"),
    "torch @ of mismatched matrices": (lambda: torch.zeros(2, 3) @ torch.zeros(2, 3), "A Linear layer"),
    "numpy @ of mismatched matrices": (lambda: np.zeros((2, 3)) @ np.zeros((2, 3)), "A matrix product (n, k)"),
    "conv with the wrong in_channels": (lambda: nn.Conv2d(1, 6, 5)(torch.zeros(2, 3, 32, 32)), "A convolution got"),
    "conv given (N, H, W, C)": (lambda: nn.Conv2d(3, 6, 5)(torch.zeros(2, 32, 32, 3)), "A convolution got"),
    "conv given a bare (H, W) image": (lambda: nn.Conv2d(1, 6, 5)(torch.zeros(32, 32)), "This layer wants a batch"),
    "BatchNorm2d given one image": (lambda: nn.BatchNorm2d(3)(torch.zeros(3, 8, 8)), "This layer wants a batch"),
    "numpy arrays of other shapes": (lambda: np.zeros((3, 3)) * np.zeros((4, 4)), "Two arrays whose shapes"),
    "numpy slice of another shape": (lambda: np.zeros((3, 3)).__setitem__(slice(0, 3), np.zeros((4, 4))),
                                     "Two arrays whose shapes"),
    "tensors of other sizes": (lambda: torch.zeros(3) + torch.zeros(4), "Two arrays whose shapes"),
    "mse_loss of (N, 10) and (N,)": (lambda: F.mse_loss(torch.zeros(4, 10), torch.zeros(4)), "Two arrays whose shapes"),
    # lesson 03's conv2d without its padding: a short window at the edge, summed against the whole filter
    "np.tensordot of axes of other sizes": (lambda: np.tensordot(np.zeros((2, 3, 3, 2)), np.zeros((4, 3, 3, 3)),
                                                                 axes=([1, 2, 3], [1, 2, 3])), "np.tensordot"),
    "view to a size that does not fit": (lambda: torch.zeros(10).view(3, 4), "The sizes given to reshape"),
    "numpy reshape that does not fit": (lambda: np.zeros(10).reshape(3, 4), "The sizes given to reshape"),
    "a numpy window past the end, reshaped": (lambda: _window_past_the_end(np.zeros((1, 1, 4, 4)), 2),
                                              "The array to reshape is empty"),
    "a torch window past the end, viewed": (lambda: _window_past_the_end(torch.zeros(1, 1, 4, 4), 2),
                                            "The array to reshape is empty"),
    "two values returned, three names": (lambda: _unpack_three((np.zeros(3), np.zeros(3))),
                                         "The number of names on the left"),
    "an array of two rows unpacked into three names": (lambda: _unpack_three(np.zeros((2, 4))),
                                                       "The number of names on the left"),
    "three values returned, two names": (lambda: _unpack_two((1, 2, 3)), "The number of names on the left"),
    "view of a transposed tensor": (lambda: torch.zeros(2, 3).t().view(6), "view() needs a tensor"),
    "kernel larger than the map": (lambda: nn.Conv2d(1, 1, 5)(torch.zeros(1, 1, 3, 3)), "The feature map has become"),
    "pooling a 1x1 map": (lambda: nn.MaxPool2d(2)(torch.zeros(1, 16, 1, 1)), "The feature map has become"),
    "float64 into Linear": (lambda: nn.Linear(2, 2)(torch.zeros(1, 2, dtype=torch.float64)), "The input's number type"),
    "float64 into Conv2d": (lambda: nn.Conv2d(1, 1, 3)(torch.zeros(1, 1, 5, 5, dtype=torch.float64)),
                            "The input's number type"),
    "uint8 into Linear": (lambda: nn.Linear(2, 2)(torch.zeros(1, 2, dtype=torch.uint8)), "The input's number type"),
    "int64 into Conv2d": (lambda: nn.Conv2d(1, 1, 3)(torch.zeros(1, 1, 5, 5, dtype=torch.long)),
                          "The input's number type"),
    "a lazy layer's parameters counted before a forward pass": (
        lambda: sum(p.numel() for p in nn.LazyConv2d(6, 5).parameters()), "A lazy layer"),
    "the shape of a lazy layer's weight before a forward pass": (lambda: nn.LazyLinear(3).weight.shape, "A lazy layer"),
    "float labels to cross_entropy": (lambda: F.cross_entropy(torch.zeros(4, 10), torch.zeros(4)),
                                      "The labels given to cross_entropy"),
    "float labels to nll_loss": (lambda: F.nll_loss(torch.zeros(4, 10), torch.zeros(4)),
                                 "The labels given to cross_entropy"),
    "labels of shape (N, 1)": (lambda: F.cross_entropy(torch.zeros(4, 10), torch.zeros(4, 1, dtype=torch.long)),
                               "cross_entropy wants one class number"),
    "a flatten that mixed the batch up": (lambda: F.cross_entropy(torch.zeros(8, 10), torch.zeros(4, dtype=torch.long)),
                                          "The network gave another number of rows"),
    "backward of a constant": (lambda: torch.zeros(2).sum().backward(), "backward() was called on a value"),
    "backward twice": (_first_diff_twice, "backward() went twice"),
    "a parameter changed in place": (lambda: torch.zeros(2, requires_grad=True).add_(1), "A parameter (requires_grad"),
    ".numpy() of a tracked tensor": (lambda: torch.zeros(2, requires_grad=True).numpy(), "A tensor that autograd"),
    ".item() of many elements": (lambda: torch.zeros(3).item(), ".item() (and float())"),
    "if on a numpy array": (lambda: bool(np.zeros(3)), "An if, and, or or"),
    "if on a tensor": (lambda: bool(torch.zeros(3)), "An if, and, or or"),
    "np.stack of other shapes": (lambda: np.stack([np.zeros(2), np.zeros(3)]), "Arrays joined with stack"),
    "torch.cat of other shapes": (lambda: torch.cat([torch.zeros(2, 2), torch.zeros(3, 3)]), "Arrays joined with stack"),
    "np.concatenate of other shapes": (lambda: np.concatenate([np.zeros((2, 2)), np.zeros((3, 3))], axis=1),
                                       "Arrays joined with stack"),
    "BatchNorm2d after another width": (lambda: nn.BatchNorm2d(3)(torch.zeros(2, 6, 8, 8)), "A BatchNorm layer got"),
    "BatchNorm training on one example": (lambda: nn.BatchNorm1d(3)(torch.zeros(1, 3)), "BatchNorm in training mode"),
    "numpy index past the end": (lambda: np.zeros((3, 3))[3, 0], "An index past the end"),
    "torch index past the end": (lambda: torch.zeros(3, 3)[3, 0], "An index past the end"),
    "a slice with / instead of //": (lambda: [1, 2, 3][0:3 / 2], "A float where Python needs a whole number"),
    "range of a float": (lambda: range(7 / 2), "A float where Python needs a whole number"),
    "np.zeros of a float size": (lambda: np.zeros((5 / 2, 3)), "A float where Python needs a whole number"),
    "a numpy index that is a float": (lambda: np.zeros(3)[1.0], "A float where Python needs a whole number"),
    "rows of different lengths": (lambda: np.array([[1, 2], [3]], dtype=float), "np.array got lists"),
    "a float written into uint8": (lambda: np.add(np.zeros(3, np.uint8), 1.5, out=np.zeros(3, np.uint8)),
                                   "A float result was to be written"),
    "indexing what a function returned without return": (lambda: _nothing()[0], "A value is None"),
    "arithmetic on None": (lambda: _nothing() * 2, "A value is None"),
    ".shape of None": (lambda: _nothing().shape, "A value is None"),
    "len of None": (lambda: len(_nothing()), "A value is None"),
    "unsqueeze on a numpy array": (lambda: np.zeros(3).unsqueeze(0), "A numpy array where a torch tensor"),
    ".to(device) on a numpy array": (lambda: np.zeros(3).to("cpu"), "A numpy array where a torch tensor"),
    "astype on a tensor": (lambda: torch.zeros(3).astype(float), "A numpy array where a torch tensor"),
    "a numpy array into F.conv2d": (lambda: F.conv2d(np.zeros((1, 1, 3, 3)), torch.zeros(1, 1, 3, 3)),
                                    "A numpy array where a torch tensor"),
    "a numpy array into a Linear layer": (lambda: nn.Linear(2, 2)(np.zeros((1, 2))), "A numpy array where a torch tensor"),
    # code Python cannot read: compiled for real, as a notebook cell is
    "a full-width colon (a Korean input method)": (lambda: _cell("def f(x)：\n    return x\n"), "A character typed"),
    "a full-width bracket": (lambda: _cell("y = max（1, 2)\n"), "A character typed"),
    "a full-width space": (lambda: _cell("y = 1\u3000+ 2\n"), "A character typed"),
    "curly quotes from a document": (lambda: _cell("s = “conv”\n"), "A character typed"),
    "a non-breaking space pasted from a web page": (lambda: _cell("y = 1\u00a0+ 2\n"), "An invisible character"),
    "a bracket never closed": (lambda: _cell("y = max(1, 2\nz = 3\n"), "A bracket opened on that line"),
    "a list never closed": (lambda: _cell("sizes = [1, 2\n"), "A bracket opened on that line"),
    "a bracket open at the end of a cell (IPython)": (lambda: _cell("sizes = [3, 5\n", incomplete=True),
                                                        "Python reached the end of the cell"),
    "a def with no body at the end of a cell (IPython)": (lambda: _cell("def f(x):\n", incomplete=True),
                                                            "Python reached the end of the cell"),
    "a closing bracket with no opening one": (lambda: _cell("y = 1)\n"), "The brackets on that line"),
    "( closed by ]": (lambda: _cell("y = (1, 2]\n"), "The brackets on that line"),
    "def without its colon": (lambda: _cell("def f(x)\n    return x\n"), "Python expected a colon"),
    "for without its colon": (lambda: _cell("for i in range(3)\n    pass\n"), "Python expected a colon"),
    # a colon is there, but 'else if' (C's, Java's) is not Python's: the explanation must not only say 'add a colon'
    "else if": (lambda: _cell("if x:\n    pass\nelse if x > 0:\n    pass\n"), "Python expected a colon"),
    "else with a condition": (lambda: _cell("if x:\n    pass\nelse x > 0:\n    pass\n"), "Python expected a colon"),
    # = where == was meant: Python's own hint, but without this the self-check added 'look for a missing colon,
    # bracket or quote ... on that line or the line before it'
    "= for == in an if": (lambda: _cell("if x = 1:\n    pass\n"), "A single = stores a value"),
    "= for == after a formula": (lambda: _cell("if f % 2 = 1:\n    pass\n"), "A single = stores a value"),
    "a string never closed": (lambda: _cell("s = 'conv\n"), "A string is never closed"),
    "a docstring never closed": (lambda: _cell('def f(x):\n    """Sizes.\n    return x\n'), "A string is never closed"),
    "a line indented for no block": (lambda: _cell("x = 1\n    y = 2\n"), "This line is indented further"),
    "a body not indented": (lambda: _cell("def f(x):\nreturn x\n"), "After a line that ends with a colon"),
    "an empty body": (lambda: _cell("def f(x):\n"), "After a line that ends with a colon"),
    "a dedent to no level": (lambda: _cell("def f(x):\n    y = 1\n  return y\n"), "This line's indentation"),
    "tabs mixed with spaces": (lambda: _cell("def f(x):\n        y = 1\n\treturn y\n"), "This line's indentation"),
    "return at the top level": (lambda: _cell("return 1\n"), "return belongs to a function"),
}


def _cell(source: str, incomplete: bool = False):
    """Compile a cell as Python does, or as IPython does (it tells code that could go on from code that is wrong)."""
    import codeop

    flags = codeop.PyCF_ALLOW_INCOMPLETE_INPUT | codeop.PyCF_DONT_IMPLY_DEDENT if incomplete else 0
    return compile(source, "<cell>", "exec", flags=flags)


def _raised(make) -> BaseException:
    with pytest.raises(Exception) as caught:  # noqa: PT011 - any error: what it is is the test
        make()
    return caught.value


@pytest.mark.parametrize("case", list(RAISED))
def test_an_error_learners_meet_is_explained(case):
    make, start = RAISED[case]
    err = _raised(make)
    said = meaning(err)
    assert said.startswith(start), f"{case}: {type(err).__name__}: {err}\n  explained as: {said!r}"
    # exactly one explanation fits: the table's order never decides
    fitting = [text for kinds, pattern, text in EXPLAINED
               if kinds & {c.__name__ for c in type(err).__mro__} and pattern.search(str(err))]
    assert len(fitting) == 1, (case, fitting)


def test_else_if_is_named_and_a_comparison_with_one_equals_sign_too():
    """A learner's trial: `else if x > 0:` (as C and Java write it) got 'A line that starts a block ends with a
    colon: def f(x):', on a line that has its colon; and `if f % 2 = 1:` in the self-check got the general hint
    'look for a missing colon, bracket or quote, or a wrong indentation', though = for == was the slip."""
    said = meaning(_raised(RAISED["else if"][0]))
    assert "elif" in said and "else if" in said, said
    for case in ("= for == in an if", "= for == after a formula"):
        assert "==" in meaning(_raised(RAISED[case][0]))


@pytest.mark.parametrize("lang, forgot", [("en", "returned None, but a value of type torch.Tensor was expected. Did "
                                                 "you forget the `return` statement?"),
                                          ("ko", "torch.Tensor 자료형의 값을 기대했지만 None을 돌려주었습니다. `return` 문을 "
                                                 "빠뜨리지 않았나요?")])
def test_a_type_check_that_got_none_says_return_was_forgotten(lang, forgot):
    """A learner's trial (lesson 06): a prepare_images whose body had no `return` read "expected a torch.Tensor, got
    a NoneType" and the hint "torch.from_numpy(images) or torch.tensor(images) turns a numpy array into a tensor",
    which sent them to convert an array they already had. A type check that got None says what None usually is."""
    from cnnbook.checks import CheckFailed, check_true, check_type
    from cnnbook.i18n import set_language

    set_language(lang)
    try:
        with pytest.raises(CheckFailed) as caught:
            check_type("prepare_images(tiny) returns a torch tensor", None, torch.Tensor,
                       hint="torch.from_numpy(images) or torch.tensor(images) turns a numpy array into a tensor.")
        with pytest.raises(CheckFailed) as other:
            check_type("the list", (1, 2), list)
        with pytest.raises(CheckFailed) as plain:
            check_true("the list", False, "expected a list, got a tuple")
    finally:
        set_language(None)
    assert forgot in str(caught.value), str(caught.value)
    assert "return" not in str(other.value) and "return" not in str(plain.value)


def _confusion_matrix_too_small():
    labels, predictions = np.array([0, 1, 2]), np.array([0, 2, 1])
    matrix = np.zeros((2, 2), dtype=int)                  # its size from the data, not from n_classes
    np.add.at(matrix, (labels, predictions), 1)


def _pairwise_iou_without_a_new_axis():
    area_a, area_b = np.ones(2), np.ones(5)               # 2 boxes against 5: every pair needs area_a[:, None]
    return area_a + area_b


@pytest.mark.parametrize("raise_it", [_confusion_matrix_too_small, _pairwise_iou_without_a_new_axis,
                                      lambda: np.zeros(3)[3], lambda: torch.zeros(2, 2)[2]])
def test_what_an_error_usually_means_holds_in_every_lesson(raise_it):
    """An error course-wide (an index past an array's end, shapes that do not broadcast) met in a lesson with no
    convolution got a sentence about output positions, strides and windows (a learner's trial: lesson 06's
    confusion_matrix, lesson 10's box_iou): an explanation keyed only to the error must be true in every lesson."""
    with pytest.raises(Exception) as err:
        raise_it()
    said = meaning(err.value)
    assert said, err.value
    for words in ("stride", "window", "n - f", "output size", "output position"):
        assert words not in said, said


def test_every_explanation_is_reached_by_a_real_error():
    reached = {meaning(_raised(make)) for make, _ in RAISED.values()}
    assert {text for _, _, text in EXPLAINED} <= reached


@pytest.mark.parametrize("err", [KeyError("conv1"), ZeroDivisionError("division by zero"),
                                 ValueError("mode must be 'valid' or 'full'"), RuntimeError("something else"),
                                 AttributeError("'list' object has no attribute 'reshape'"),
                                 AssertionError("mat1 and mat2 shapes cannot be multiplied"),
                                 SyntaxError("invalid syntax"), SyntaxError("expected 'in'"),
                                 SyntaxError("invalid character '→' (U+2192)")])
def test_an_error_it_does_not_know_gets_no_explanation(err):
    assert meaning(err) == ""


def test_an_error_whose_text_cannot_be_read_gets_no_explanation():
    class Unreadable(RuntimeError):
        def __str__(self):
            raise ValueError("no text")

    assert meaning(Unreadable()) == ""


def test_an_error_whose_text_is_a_str_of_its_own_kind_is_read_as_plain_text():
    class Odd(str):
        def __getitem__(self, index):
            return 0

    class Raised(RuntimeError):
        def __str__(self):
            return Odd("mat1 and mat2 shapes cannot be multiplied (1x2 and 3x4)")

    assert meaning(Raised()).startswith("A Linear layer")


def test_with_pdb_on_ipythons_own_traceback_runs_and_starts_the_debugger():
    """%pdb on: the explained traceback must not skip IPython's debugger (a hostile trial found it did). In a process
    of its own: an IPython shell, once started, stays for every later test of the process."""
    import subprocess
    import sys

    script = ("from IPython.testing.globalipapp import start_ipython\n"
              "from cnnbook.feedback import install\n"
              "shell = start_ipython(); install(shell)\n"
              "calls = []\n"
              "shell.debugger = lambda force=False: calls.append(True)\n"
              "shell.call_pdb = True\n"
              "shell.run_cell('None + 1')\n"           # an error cnnbook.errors explains
              "print('DEBUGGER', bool(calls))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert "DEBUGGER True" in proc.stdout, proc.stdout + proc.stderr


def test_a_failed_check_is_never_explained_as_a_library_error():
    with pytest.raises(CheckFailed) as caught:
        check_value("output_size(7, 3)", "index 9 is out of bounds for axis 0", 5)
    assert meaning(caught.value) == ""


def test_the_explanation_is_in_the_learners_language():
    err = _raised(lambda: nn.Linear(256, 120)(torch.zeros(4, 400)))
    set_language("ko")
    try:
        said = meaning(err)
        korean = [_(text) for _kinds, _pattern, text in EXPLAINED]
    finally:
        set_language(None)
    assert said.startswith("Linear 층") and "in_features" in said
    assert all(any("\uac00" <= ch <= "\ud7a3" for ch in text) for text in korean)


def _from_kernel(kind: str, message: str) -> Exception:
    """The error as the grader sees it after the learner's code raised it in the kernel."""
    return _as_local_exception(RemoteError(kind, message, "", (kind, "Exception", "BaseException", "object"),
                                           "builtins"))


def test_the_self_check_and_the_feedback_page_explain_it_and_a_hidden_check_says_nothing_of_its_inputs():
    err = _from_kernel("RuntimeError", "mat1 and mat2 shapes cannot be multiplied (7x400 and 256x120)")
    visible = _explain(err, False, "LeNet5")
    assert "7x400 and 256x120" in visible                                    # a visible test says everything
    assert visible.splitlines()[-1].strip().startswith("What it usually means: A Linear layer")
    hidden = _explain(err, True, "LeNet5")
    assert hidden.splitlines()[0] == "LeNet5: a hidden check failed."
    assert "Your code raised RuntimeError." in hidden and "What it usually means: A Linear layer" in hidden
    assert "7x400" not in hidden and "256" not in hidden
    # numpy's own class (a TypeError), hidden: its class and library, and what it usually means
    cast = _explain(_as_local_exception(RemoteError(
        "UFuncTypeError", "Cannot cast ufunc 'add' output from dtype('float64') to dtype('uint8') with casting rule "
        "'same_kind'", "", ("UFuncTypeError", "TypeError", "Exception"), "numpy._core._exceptions")), True, "conv2d")
    assert "numpy's UFuncTypeError" in cast and "A float result was to be written" in cast and "float64" not in cast
    # a learner's own error that merely looks like one gets the sentence, never its text
    own = _explain(_from_kernel("IndexError", "index 12345 is out of bounds for axis 0 (LEAKED 0.25)"), True, "pool")
    assert "An index past the end" in own and "12345" not in own and "LEAKED" not in own
    assert _explain(_from_kernel("ValueError", "bad mode"), True, "pool") == \
        "pool: a hidden check failed.\n  Your code raised ValueError."


def test_the_readmes_count_the_explanations_there_are():
    """README.md and README.ko.md say how many kinds of errors are explained (runtime, and code Python cannot read);
    one had said 27 while there were 28."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    unreadable = sum(1 for kinds, _, _ in EXPLAINED if kinds == {"SyntaxError"})
    running = len(EXPLAINED) - unreadable
    english, korean = (root / "README.md").read_text(encoding="utf-8"), (root / "README.ko.md").read_text(encoding="utf-8")
    assert f"{running} kinds, `cnnbook/errors.py`" in english and f"({unreadable} kinds)" in english
    assert f"{running}가지)에는" in korean and f"({unreadable}가지)" in korean


def test_a_learners_assert_is_named_assertionerror_never_the_graders_own_class():
    """A class trial (lesson 05): an answer that checks its arguments with `assert` instead of raising ValueError
    was told "expected a ValueError, but it raised LearnerError", the grader's own class. A learner's
    AssertionError stays no AssertionError in the grader (a test's `except CheckFailed` must not catch it), and is
    named as the learner wrote it: in check_raises, raised_instead, a test's own line and a hidden check."""
    from cnnbook.checks import check_raises, raised_instead

    def asserting():
        raise _from_kernel("AssertionError", "")

    assert not isinstance(_from_kernel("AssertionError", ""), AssertionError)
    with pytest.raises(CheckFailed) as caught:
        check_raises("pool2d_forward(x, 5, 1)", asserting, ())
    said = "\n".join(caught.value.lines)
    assert "but it raised AssertionError" in said and "LearnerError" not in said
    with pytest.raises(CheckFailed) as caught:
        raised_instead("pool2d_forward(x, 2, 2)", _from_kernel("AssertionError", "need N,C,H,W"), "it fits")
    assert "raised AssertionError: need N,C,H,W" in "\n".join(caught.value.lines)
    hidden = _explain(_from_kernel("AssertionError", "f <= H"), True, "pool")
    assert hidden == "pool: a hidden check failed.\n  Your code raised AssertionError."
    visible = _explain(_from_kernel("AssertionError", "f <= H"), False, "pool")
    assert "LearnerError" not in visible and "AssertionError" in visible
    # a class of the learner's own, made from Exception: named as they named it, in a visible check
    own = _as_local_exception(RemoteError("PoolError", "bad f", "", ("PoolError", "Exception", "BaseException",
                                                                     "object"), "__main__"))

    def raising_own():
        raise own

    with pytest.raises(CheckFailed) as caught:
        check_raises("pool2d_forward(x, 5, 1)", raising_own, ())
    said = "\n".join(caught.value.lines)
    assert "but it raised PoolError" in said and "LearnerError" not in said
