"""Answer checks whose failure messages teach.

A test cell in a lesson calls these instead of a bare ``assert``. When an answer is wrong the learner
reads what was asked, what was expected, what came back (with shapes), where they first differ, and,
when the wrong answer matches a typical mistake, the name of that mistake:

>>> check_array("flip", np.array([1, 2]), np.array([1, 2]))   # passes silently
>>> check_array("flip", np.array([2, 1]), np.array([1, 2]),
...             mistakes={"the kernel was flipped": np.array([2, 1])})
Traceback (most recent call last):
...
cnnbook.checks.CheckFailed: flip: this looks like a typical slip: the kernel was flipped.
...

``CheckFailed`` subclasses ``AssertionError`` so that nbgrader (and pytest) count it as a failed test.
In a notebook it shows as a short box with its message, not as a traceback (see ``cnnbook.feedback``).
"""
from __future__ import annotations

import contextlib
import importlib.util
import math
import re
import unicodedata
from typing import Any, Callable, Iterable, Mapping, NoReturn

import numpy as np

from .i18n import _, lesson_text

__all__ = [
    "CheckFailed",
    "check_array",
    "check_value",
    "check_shape",
    "check_true",
    "check_raises",
    "check_type",
    "check_parts",
    "described",
    "answer_of",
    "raised_instead",
    "error_message",
    "check_own_work",
    "known_errors",
    "Args",
    "Called",
    "call_each",
    "hidden_case",
    "hidden_rng",
    "measure_call",
    "learner_side",
    "may_change",
    "passed",
]

_ARRAY_PRINT: dict[str, Any] = dict(precision=4, suppress=True, threshold=64, edgeitems=3, linewidth=100)
SPARSE_SHOWN = 16          # a larger array with at most this many values that are not 0 is shown as those values


class CheckFailed(AssertionError):
    """A wrong answer, with an explanation meant for the learner.

    ``what`` names the call that was checked, ``lines`` explain (they may show expected values), ``hint``
    says what to try; the grader uses these parts to word feedback on hidden tests without their values.
    """

    def __init__(self, message: str, *, what: str = "", lines: list[str] | None = None, hint: str | None = None):
        super().__init__(message)
        self.what = what
        self.lines = list(lines or [])
        self.hint = hint

    def _render_traceback_(self) -> list[str]:
        """What IPython shows for this error: the message in a short box, no traceback through this module."""
        from .feedback import check_failed_box

        return check_failed_box(self)


def _fmt(value: Any, precision: int = _ARRAY_PRINT["precision"]) -> str:
    """A value as a failure shows it (cut, a string escaped by its repr); never an error of its own: a learner's
    object that cannot be shown (its ``__repr__`` raises) is said to be one, and why (:func:`_unshown`)."""
    try:
        return _shown(value, precision)
    except MemoryError:
        raise
    except Exception as err:  # noqa: BLE001 - showing a learner's object runs the learner's code
        return _unshown(value, "repr()", err)


def _error_text(err: BaseException, cut: int = 200) -> str:
    """The message of an error of the learner's code on one line, cut ("" when its own ``__str__`` raises)."""
    try:
        message = str(err)
    except Exception:  # noqa: BLE001 - a learner's exception whose own __str__ raises
        message = ""
    return one_line_text(" ".join(message.split()))[:cut]


def _error_words(err: BaseException) -> str:
    """An error of the learner's code on one line: its class and its message, cut."""
    message = _error_text(err)
    kind = one_line_text(type(err).__name__)[:80]
    return f"{kind}: {message}" if message else kind


def _unshown(value: Any, doing: str, err: BaseException) -> str:
    """What a failure writes for a value it cannot show, on one line: its type, and what raised what."""
    return _("<a value of type {kind} that cannot be shown: {doing} raised {error}>").format(
        kind=_safe_type_name(value), doing=doing, error=_error_words(err))


def _safe_type_name(value: Any) -> str:
    try:
        return one_line_text(_type_of(value))[:80]
    except Exception:  # noqa: BLE001 - a learner's class may answer anything
        return "object"


def one_line_text(text: str, indent: str | None = None) -> str:
    """Text a failure shows that the check did not write itself (a test author's sentence, which may hold a
    learner's value in a field; a learner's class name): its control and format characters (a terminal's escape
    codes, a carriage return, a right-to-left override) shown escaped, as ``\\x1b``; a line break escaped too
    (``\\n``), or, with ``indent``, continuing the text on a new line that starts with ``indent``: so it never
    starts a line of the failure's own (a typical slip, a hint) nor acts on the terminal."""
    out = []
    for char in str(text):
        if char == "\n" and indent is not None:
            out.append("\n" + indent)
        elif unicodedata.category(char)[0] == "C" or unicodedata.category(char) in ("Zl", "Zp"):
            out.append(char.encode("unicode_escape").decode("ascii"))
        else:
            out.append(char)
    return "".join(out)


CONTINUED = "      "       # a line break in an author's sentence continues it, deeper than the failure's own lines


def _shown(value: Any, precision: int = _ARRAY_PRINT["precision"]) -> str:
    if isinstance(value, np.ndarray):
        if type(value) is np.ndarray and value.size > _ARRAY_PRINT["threshold"] and value.dtype.kind in "biuf":
            nonzero = np.argwhere(value != 0)
            if len(nonzero) <= SPARSE_SHOWN:
                # A large array that is almost all zeros (a detection target): its few values and where they are,
                # not pages of zeros and "..." that hide them.
                if not len(nonzero):
                    return _("{size} values, all 0").format(size=value.size)
                entries = ", ".join(f"{tuple(int(i) for i in at)}: {float(value[tuple(at)]):.4g}" for at in nonzero)
                return _("{size} values, all 0 except {count}").format(size=value.size, count=len(nonzero)) + \
                    f": {entries}"
        with np.printoptions(**{**_ARRAY_PRINT, "precision": precision}):
            return np.array2string(value, separator=", ", prefix="    ")
    if _is_tensor(value):
        return _shown(value.detach().cpu().numpy(), precision) + "  " + _("(a torch tensor)")
    return _plain_repr(value, [SHOWN_ITEMS], 0)


SHOWN_ITEMS, SHOWN_DEPTH = 1000, 16       # what a shown list, tuple or dict holds at most, then "..."
SHOWN_CHARS = 300                         # of one value's repr (a string of a million characters), then "..."


def _plain_repr(value: Any, room: list[int], depth: int) -> str:
    """``repr(value)``, with a numpy number as the number it is, also inside lists, tuples and dicts (numpy 2 writes
    np.float64(6.27), which a learner reads as a call); after ``room[0]`` items in all or ``SHOWN_DEPTH`` levels,
    "..."; of one value's repr, ``SHOWN_CHARS`` characters, then "..."."""
    kind = type(value)
    if kind not in (list, tuple, dict):
        try:
            text = repr(value.item() if isinstance(value, np.generic) else value)
        except MemoryError:
            raise
        except Exception as err:  # noqa: BLE001 - a learner's __repr__ may raise
            # an item of a list that cannot be shown is said so in its place; the list is shown
            return _unshown(value, "repr()", err)
        if type(text) is not str:
            return _unshown(value, "repr()", TypeError(f"__repr__ returned {type(text).__name__}"))
        return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "..."
    if depth >= SHOWN_DEPTH:
        return "..."
    parts = []
    for item in (value.items() if kind is dict else value):
        if room[0] <= 0:
            parts.append("...")
            break
        room[0] -= 1
        parts.append(f"{_plain_repr(item[0], room, depth + 1)}: {_plain_repr(item[1], room, depth + 1)}"
                     if kind is dict else _plain_repr(item, room, depth + 1))
    opening, closing = "[]" if kind is list else "()" if kind is tuple else "{}"
    return opening + ", ".join(parts) + ("," if kind is tuple and len(value) == 1 else "") + closing


def _fmt_pair(expected: np.ndarray, got: np.ndarray, rtol: float = 1e-5, atol: float = 1e-6) -> tuple[str, str]:
    """The two arrays as :func:`_fmt` shows them, with more decimals when 4 show no difference at all (a learner's
    trial: Adam with eps inside the root printed two identical arrays above "first difference ... 0.903141 vs
    0.903139"). A batch of maps (3 or more axes, more values than numpy prints whole, not mostly zeros) shows only
    the map that holds the first difference: numpy's summary of a (2, 24, 8, 8) output ran to over 200 lines."""
    label = ""
    if (expected.shape == got.shape and expected.ndim >= 3 and expected.size > _ARRAY_PRINT["threshold"]
            and expected.dtype.kind in "biuf" and got.dtype.kind in "biuf"
            and min(np.count_nonzero(expected), np.count_nonzero(got)) > SPARSE_SHOWN):
        bad = np.argwhere(~np.isclose(got.astype(float), expected.astype(float), rtol=rtol, atol=atol, equal_nan=True))
        if len(bad):
            lead = tuple(int(i) for i in bad[0][:-2])
            label = _("[{index}, :, :], the {rows} x {columns} map where they first differ:").format(
                index=", ".join(str(i) for i in lead), rows=expected.shape[-2], columns=expected.shape[-1]) + "\n    "
            expected, got = expected[lead], got[lead]
    shown = _fmt(expected), _fmt(got)
    if shown[0] == shown[1] and expected.shape == got.shape:
        for precision in (6, 8, 10, 12):
            more = _fmt(expected, precision), _fmt(got, precision)
            if more[0] != more[1]:
                shown = more
                break
    return label + shown[0], label + shown[1]


def _is_tensor(value: Any) -> bool:
    try:
        return str(type(value).__module__).startswith("torch") and hasattr(value, "detach")
    except Exception:  # noqa: BLE001 - a learner's metaclass may raise on __module__: no tensor of torch's
        return False


def _as_array(value: Any) -> np.ndarray | None:
    """Return a plain numpy array for arrays, tensors and nested lists of numbers, else None."""
    if _is_tensor(value):
        return value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (list, tuple)):
        try:
            arr = np.asarray(value)
        except MemoryError:
            raise
        except Exception:  # noqa: BLE001 - a learner's item may raise anything (its __array__, __len__, __float__)
            return None
        return arr if arr.dtype.kind in "biuf" else None
    return None


def _matches(got: np.ndarray, candidate: Any, rtol: float, atol: float) -> bool:
    cand = _as_array(candidate)
    if cand is None or cand.shape != got.shape:
        return False
    return bool(np.allclose(got.astype(float), cand.astype(float), rtol=rtol, atol=atol, equal_nan=True))


def slip_line(name: str) -> str:
    """The line that names a typical slip (the grader shows it for hidden checks too)."""
    return _("this looks like a typical slip: {name}.").format(name=one_line_text(lesson_text(name)))


def _slip_prefixes() -> list[str]:
    from .i18n import LANGUAGES, _package_catalog

    prefixes = ["this looks like a typical slip:"]
    for lang in LANGUAGES[1:]:
        text = _package_catalog(lang).get("this looks like a typical slip: {name}.", "")
        if "{name}" in text and text.split("{name}")[0].strip():
            prefixes.append(text.split("{name}")[0].strip())
    return prefixes


def is_slip_line(line: object) -> bool:
    """Whether a failure's first line names a typical slip, in any language of the course."""
    return slip_name(line) is not None


def slip_name(line: object) -> str | None:
    """The typical slip a failure's line names (in any language of the course), else None."""
    if type(line) is not str:
        return None
    line = line.strip()
    for prefix in _slip_prefixes():
        if line.startswith(prefix.rstrip(":")):
            return line[len(prefix.rstrip(":")):].lstrip(":： ").strip()
    return None


SHOWN_LINE = 10_000     # characters of one line of a failure (an author's f"got {got}" of a learner's long string)


def _failure(what: str, lines: Iterable[str], hint: str | None) -> CheckFailed:
    lines = [line[:SHOWN_LINE] + "..." if type(line) is str and len(line) > SHOWN_LINE else line for line in lines]
    stale = _previous_cell_did_not_run()
    if stale:
        lines.append(stale)
    hint = one_line_text(lesson_text(hint), CONTINUED) if type(hint) is str else hint
    what = one_line_text(lesson_text(what))     # a name written in words is translated (autograde.i18n); one line
    msg = what + ":\n  " + "\n  ".join(lines)
    if hint:
        msg += "\n  " + _("Hint: {hint}").format(hint=hint)
    return CheckFailed(msg, what=what, lines=lines, hint=hint)


def _fail(what: str, lines: Iterable[str], hint: str | None) -> NoReturn:
    raise _failure(what, lines, hint)


def _kind(value: Any) -> str:
    """What a check says it got instead: the type's name; for the grader's handle on an object of the learner's
    kernel (a real array too large to cross, or a class that only borrows a numpy or torch name), a phrase."""
    if getattr(type(value), "_measure_remote", None) is not None:
        return _("{name} that the check cannot read as an array of numbers (too large, or no real array)").format(
            name=value.__class__.__name__)
    return type(value).__name__


def _previous_cell_did_not_run() -> str:
    """In Jupyter: a note when the cell run just before this test could not even start (a SyntaxError or an
    IndentationError), so what was tested is whatever an earlier run of it defined, if anything. Elsewhere (the
    grader's judge, a script): nothing."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
        result = getattr(shell, "last_execution_result", None) if shell is not None else None
        err = getattr(result, "error_before_exec", None)
    except Exception:  # noqa: BLE001 - only a note
        return ""
    if not isinstance(err, SyntaxError):
        return ""
    return _("Note: the cell you ran just before this test stopped with {error} and did not run, so this test "
             "checked an older version of your code (if any): fix that cell, run it, then this test "
             "again.").format(error=_("{kind} (line {line})").format(kind=type(err).__name__, line=err.lineno))


def check_array(
    what: str,
    got: Any,
    expected: Any,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    mistakes: Mapping[str, Any] | None = None,
    hint: str | None = None,
    check_dtype_kind: bool = False,
) -> None:
    """Check that ``got`` is an array equal to ``expected`` (within tolerances).

    Parameters
    ----------
    what : a short description of the call being checked, e.g. ``"conv2d_single(image, kernel)"``.
    got, expected : numpy arrays (or torch tensors / nested lists for ``got``).
    mistakes : optional ``{name of a typical slip: the wrong answer that slip produces}``; when ``got``
        equals one of them the message names the slip.
    hint : a sentence shown under the message.
    """
    exp = _as_array(expected)
    if exp is None:
        raise TypeError(f"check_array needs an array as `expected`, got {type(expected).__name__}")
    if got is None:
        _fail(what, [_("returned None. Did you forget the `return` statement?"),
                     _("expected an array of shape {shape}").format(shape=exp.shape)], hint)
    arr = _as_array(got)
    if arr is None:
        _fail(what, [_("expected a numpy array of shape {shape}, but got a {kind}: {value}").format(
            shape=exp.shape, kind=_kind(got), value=_fmt(got))], hint)
    assert arr is not None
    if mistakes:
        for name, wrong in mistakes.items():
            if _matches(arr, wrong, rtol, atol) and not _matches(arr, exp, rtol, atol):
                shown_exp, shown_arr = _fmt_pair(exp, arr, rtol, atol)
                _fail(what, [slip_line(name), *_first_difference(arr, exp, rtol, atol),
                             _("expected (shape {shape}):").format(shape=exp.shape) + f"\n    {shown_exp}",
                             _("got (shape {shape}):").format(shape=arr.shape) + f"\n    {shown_arr}"], hint)
    if arr.shape != exp.shape:
        lines = [_("wrong shape: expected {expected}, got {got}.").format(expected=exp.shape, got=arr.shape)]
        if arr.ndim == exp.ndim and sorted(arr.shape) == sorted(exp.shape) and arr.ndim >= 3:
            lines.append(_("The same sizes in another order: are the channels first where they should be last "
                           "(or the other way round)?"))
        elif arr.T.shape == exp.shape and arr.ndim == 2:
            lines.append(_("That is the transposed shape: are rows and columns (height and width) swapped?"))
        lines.append(_("got:") + f"\n    {_fmt(arr)}")
        _fail(what, lines, hint)
    if check_dtype_kind and arr.dtype.kind != exp.dtype.kind:
        _fail(what, [_("expected values of dtype kind {expected} but got {got}").format(expected=exp.dtype,
                                                                                        got=arr.dtype)], hint)
    if arr.dtype.kind not in "biufc":
        _fail(what, [_("expected numbers, got an array of dtype {dtype}").format(dtype=arr.dtype)], hint)
    a = arr.astype(float)
    e = exp.astype(float)
    if np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True).all():
        return
    shown_exp, shown_arr = _fmt_pair(exp, arr, rtol, atol)
    lines = [
        *_first_difference(arr, exp, rtol, atol),
        _("expected (shape {shape}):").format(shape=exp.shape) + f"\n    {shown_exp}",
        _("got (shape {shape}):").format(shape=arr.shape) + f"\n    {shown_arr}",
    ]
    if np.allclose(a, -e, rtol=rtol, atol=atol):
        lines.insert(1, _("Every value has the wrong sign."))
    elif e.any() and np.allclose(a, 0):
        lines.insert(1, _("Everything came back zero: is the result ever written into the output array?"))
    _fail(what, lines, hint)


def _first_difference(arr: np.ndarray, exp: np.ndarray, rtol: float, atol: float) -> list[str]:
    """How many values differ and the first difference, with the digits that tell the two apart (the arrays shown
    below it have 4 decimals, which may show no difference at all: eps inside a square root)."""
    if arr.shape != exp.shape or arr.dtype.kind not in "biufc":
        return []
    a, e = arr.astype(float), exp.astype(float)
    bad = np.argwhere(~np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True))
    if not len(bad):
        return []
    first = tuple(int(i) for i in bad[0])
    shown_expected, shown_got = _distinct_digits(float(e[first]), float(a[first]))
    return [_("{bad} of {size} values differ (tolerance rtol={rtol}, atol={atol}).").format(
                bad=len(bad), size=exp.size, rtol=f"{rtol:g}", atol=f"{atol:g}"),
            _("first difference at index {index}: expected {expected}, got {got}.").format(
                index=first, expected=shown_expected, got=shown_got)]


def _distinct_digits(expected: float, got: float) -> tuple[str, str]:
    """The two numbers with 6 significant digits, or with as many more as it takes to tell them apart (a tight
    tolerance can fail on a difference in the 9th digit: "expected 0.9, got 0.9" would read as no difference)."""
    for digits in range(6, 18):
        shown = f"{expected:.{digits}g}", f"{got:.{digits}g}"
        if shown[0] != shown[1]:
            return shown
    return repr(expected), repr(got)


def check_value(
    what: str,
    got: Any,
    expected: Any,
    *,
    rel_tol: float = 1e-9,
    abs_tol: float = 0.0,
    mistakes: Mapping[str, Any] | None = None,
    hint: str | None = None,
) -> None:
    """Check one value: a number (within tolerance), a string, a tuple, a list or any ``==``-able value.

    Numbers must be real Python/numpy numbers (an object that only claims equality does not pass).
    """
    if mistakes:
        # A slip's value is matched within at least 1e-12: a slip whose answer is 0 gives a floating-point 0
        # (cos(pi / 2) is 6e-17), which a relative tolerance alone never matches.
        slip_abs = max(abs_tol, 1e-12)
        for name, wrong in mistakes.items():
            if _plain_equal(got, wrong, rel_tol, slip_abs) and not _plain_equal(got, expected, rel_tol, abs_tol):
                _fail(what, [slip_line(name),
                             _("expected {expected}, got {got}").format(expected=_fmt(expected), got=_fmt(got))],
                      hint)
    if got is None and expected is not None:
        _fail(what, [_("returned None. Did you forget the `return` statement?"),
                     _("expected {expected}").format(expected=_fmt(expected))], hint)
    if not _plain_equal(got, expected, rel_tol, abs_tol):
        lines = [_("expected {expected}").format(expected=_fmt(expected)),
                 _("got      {got}").format(got=_fmt(got))]
        if type(got) is not type(expected) and not (_is_number(got) and _is_number(expected)):
            lines.append(_("(expected type {expected}, got {got})").format(expected=type(expected).__name__,
                                                                          got=_safe_type_name(got)))
        _fail(what, lines, hint)


def _is_number(x: Any) -> bool:
    return issubclass(type(x), (int, float, np.integer, np.floating)) and type(x) is not bool   # type(): never raises


def _plain_equal(got: Any, expected: Any, rel_tol: float, abs_tol: float) -> bool:
    """Equality that only trusts plain data: numbers, strings, tuples/lists of them, dicts. A learner's object whose
    comparison raises (its ``__eq__``, ``__len__``, ``__float__``) is not equal."""
    try:
        return _equal(got, expected, rel_tol, abs_tol)
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - comparing runs the learner's code
        return False


def _equal(got: Any, expected: Any, rel_tol: float, abs_tol: float) -> bool:
    if _is_number(expected):
        return _is_number(got) and math.isclose(float(got), float(expected), rel_tol=rel_tol, abs_tol=abs_tol)
    if isinstance(expected, (list, tuple)):
        return (
            isinstance(got, (list, tuple))
            and len(got) == len(expected)
            and all(_equal(g, e, rel_tol, abs_tol) for g, e in zip(got, expected))
        )
    if isinstance(expected, dict):
        return (
            isinstance(got, dict)
            and set(got) == set(expected)
            and all(_equal(got[k], expected[k], rel_tol, abs_tol) for k in expected)
        )
    if isinstance(expected, (str, bool, type(None))):
        return type(got) is type(expected) and got == expected
    return bool(got == expected)


def check_shape(what: str, got: Any, expected_shape: tuple[int, ...], *,
                mistakes: Mapping[str, tuple[int, ...]] | None = None, hint: str | None = None) -> None:
    """Check only the shape of an array or tensor. ``mistakes``: ``{name of a typical slip: the shape that slip
    gives}``; a shape that matches one names the slip."""
    arr = _as_array(got)
    if arr is None:
        _fail(what, [_("expected an array of shape {shape}, got a {kind}").format(shape=tuple(expected_shape),
                                                                                  kind=_kind(got))], hint)
    assert arr is not None
    if tuple(arr.shape) != tuple(expected_shape):
        wrong = _("wrong shape: expected {expected}, got {got}.").format(expected=tuple(expected_shape),
                                                                         got=tuple(arr.shape))
        slips = [name for name, shape in (mistakes or {}).items() if tuple(shape) == tuple(arr.shape)]
        _fail(what, [slip_line(slips[0]), wrong] if slips else [wrong], hint)


# numpy 2's reprs of its numbers, np.float64(760.0), np.True_, np.str_('a'), which a learner reads as calls; an
# author's f-string shows them ({got!r}): the numbers as they are, 760.0
_NUMPY_REPR = re.compile(r"\bnp\.(?:(?:u?int|float|complex|longdouble|clongdouble)\d*|str_|bytes_)\(([^()]*)\)"
                         r"|\bnp\.(True|False)_\b")


def _plain_numbers(text: str) -> str:
    """``text`` with numpy 2's reprs of numbers written as the numbers (``np.float64(760.0)``: ``760.0``)."""
    return _NUMPY_REPR.sub(lambda m: m.group(1) if m.group(2) is None else m.group(2), text)


def check_true(what: str, condition: bool, explanation: str, *, hint: str | None = None,
               slip: str | None = None) -> None:
    """Fail with ``explanation`` unless ``condition`` is exactly True. (A value's type: :func:`check_type`.)

    ``slip``: the typical slip this failure means, named on its own line before the explanation, as ``mistakes=``
    names one (an author's explanation never starts with that line's words: the class report counts those)."""
    if condition is not True and not (isinstance(condition, np.bool_) and bool(condition)):
        said = lesson_text(_plain_numbers(explanation) if type(explanation) is str else explanation)
        said = _authored(said) if type(said) is str else said
        lines = [said] if slip is None else [slip_line(slip), said]
        if "NoneType" in str(explanation):
            # "expected a torch.Tensor, got a NoneType" under a hint on converting arrays misled a learner whose
            # function had no `return`: say what None usually is, as check_array does.
            lines.append(_("returned None. Did you forget the `return` statement?"))
        _fail(what, lines, hint)


def _authored(text: str) -> str:
    """An author's sentence as a line of a failure: what a field put in it (a learner's string) never starts a line
    of the failure's own (:func:`one_line_text`), and a sentence that would read as the line naming a typical slip
    (the class report counts those) is shown quoted: the checks write that line themselves (``mistakes=``)."""
    text = one_line_text(text, CONTINUED)
    return repr(text)[:SHOWN_LINE] if is_slip_line(text) else text


def _class_name(kind: type) -> str:
    """A class as a learner writes it: ``int``, ``numpy.float64``, ``torch.Tensor``, ``nn.Sequential``."""
    module = str(getattr(kind, "__module__", "") or "")
    name = str(getattr(kind, "__name__", kind))
    if module in ("builtins", ""):
        return name
    if module.split(".")[0] == "numpy":
        return f"numpy.{name}"
    if module.startswith("torch.nn"):
        return f"nn.{name}"
    if module.split(".")[0] == "torch":
        return f"torch.{name}"
    return name


def _type_of(value: Any) -> str:
    """The type of a value a check got, by the name a learner knows it by (for the grader's handle on an object of
    the learner's kernel: the class's name there)."""
    if getattr(type(value), "_measure_remote", None) is not None:
        return str(value.__class__.__name__)
    return _class_name(type(value))


def _short_value(value: Any) -> str | None:
    """A plain value as one short line (a number, a string, a short list), else None (a model, a long array)."""
    if value is None or not issubclass(type(value), (int, float, complex, str, bytes, list, tuple, dict, np.generic)):
        return None
    shown = _fmt(value)
    return shown if len(shown) <= 100 and "\n" not in shown else None


def check_type(what: str, got: Any, types: type | tuple[type, ...], *, expected: str | None = None,
               length: int | None = None, hint: str | None = None) -> None:
    """Check that ``got`` is an instance of ``types`` (a class or a tuple of classes, as ``isinstance`` takes), and
    with ``length``, that it holds that many values (a function that returns a tuple of 3: ``tuple, length=3``).

    The failure says what was expected (``expected``: the author's words, "a dict {idea: person}", translated as a
    hint is; by default the classes' names) and the type that came back, with the value when it is short; for None,
    that the function returned None and whether `return` was forgotten (a function without `return` gives None);
    for another length, how many values came back and which (their values when short, else what each is:
    :func:`described`). A bool is no int here (Python's bool subclasses int): a count that came back True says so.
    A value whose own code raises when the check reads it (``__len__``, ``__repr__``) fails with a line that says it
    cannot be shown and what raised.
    """
    classes = types if isinstance(types, tuple) else (types,)
    try:
        right_type = isinstance(got, classes)
    except Exception:  # noqa: BLE001 - a learner's __class__ property may raise
        right_type = False
    # a bool is an int to Python (True + True == 2), never a count: a function asked for one that says True or False
    boolean = type(got) in (bool, np.bool_) and not any(kind is object or issubclass(kind, (bool, np.bool_))
                                                            for kind in classes)
    right_type = right_type and not boolean
    count: int | None = None
    if right_type and length is not None:
        try:
            count = len(got)
        except MemoryError:
            raise
        except Exception as err:  # noqa: BLE001 - a learner's __len__ may raise
            _fail(what, [_("expected {expected}: {length} values, but got {value}").format(
                expected=_wanted(classes, expected), length=length, value=_unshown(got, "len()", err))], hint)
    if right_type and (length is None or count == length):
        return
    wanted = _wanted(classes, expected)
    if got is None:
        _fail(what, [_("returned None, but {expected} was expected. Did you forget the `return` "
                       "statement?").format(expected=wanted)], hint)
    if boolean:
        _fail(what, [_("expected {expected}, but a bool (True or False) came back: {value}. To Python a bool is "
                       "an int, but not a count: return the number itself.").format(expected=wanted,
                                                                                 value=bool(got))], hint)
    if right_type:                                      # of another length
        shown = _short_value(got)
        if shown is not None:
            _fail(what, [_("expected {expected}: {length} values, but got {count}: {values}").format(
                expected=wanted, length=length, count=count, values=shown)], hint)
        _fail(what, [_("expected {expected}: {length} values, but it returned {what}").format(
            expected=wanted, length=length, what=described(got))], hint)
    shown = _short_value(got)
    if shown is None and _sized(got):           # too long to show: how long or how large it is
        _fail(what, [_("expected {expected}, but it returned {what}").format(expected=wanted, what=described(got))],
              hint)
    if shown is None:
        line = _("expected {expected}, got a value of type {kind}").format(expected=wanted, kind=_safe_type_name(got))
    else:
        line = _("expected {expected}, got a value of type {kind}: {value}").format(
            expected=wanted, kind=_safe_type_name(got), value=shown)
    _fail(what, [line], hint)


def _wanted(classes: tuple[type, ...], expected: str | None) -> str:
    """What check_type says was expected: the author's words (translated, on one line), or the classes' names."""
    if expected:
        return one_line_text(lesson_text(expected))
    names = [_class_name(kind) for kind in classes]
    return _("a value of type {types}").format(
        types=names[0] if len(names) == 1 else _("{first} or {last}").format(first=", ".join(names[:-1]),
                                                                          last=names[-1]))


def check_parts(what: str, got: Any, count: int, *, expected: str | None = None, hint: str | None = None) -> tuple:
    """The ``count`` values a learner's function returned together (a tuple, or a list), for the test to unpack::

        boxes, scores, labels = check_parts("decode_predictions(output)", decode_predictions(output), 3,
                                            expected="a tuple (boxes, scores, labels)")

    Anything else fails ``what``, saying what was expected (``expected``: the author's words, translated as a hint
    is) and what came back, with the type and the shape or length of each part: a test that unpacks or indexes
    the answer itself stops with Python's "not enough values to unpack", which names no call."""
    wanted = expected or _("the values returned together (return {names})").format(
        names=", ".join("abcdefghij"[:count]) if count <= 10 else "...")
    check_type(what, got, (tuple, list), expected=wanted, length=count, hint=hint)
    return tuple(got)


def _sized(value: Any) -> bool:
    return type(value) in (list, tuple, dict) or issubclass(type(value), np.ndarray) or _is_tensor(value)


def escaped_error(kind: str, message: str, call: str = "", function: str = "", *, learner_raised: bool = True) -> str:
    """The sentence that opens what a learner reads of an error that escaped a test outside any check. The notebook's
    test-cell box (``cnnbook.feedback.error_in_test_box``) and the self-check and feedback page (``autograde.judge``)
    both take it from here, so one error is never framed two ways (a Korean trial read "not a failed check: the test
    could not finish, because this error escaped it" in the notebook and "conv_volume(...) raised ValueError" in the
    self-check, for the same ValueError).

    ``call``: the call of the learner's code as the test wrote it (``conv_volume(volume, filters, bias)``), used when
    it is at most 120 characters; else ``function``, the learner's function the test reached (``conv_volume(...)``);
    else "your code". ``learner_raised=False``: the test's own code stopped on what the learner's code returned (it
    unpacked or indexed it). ``message`` is put on one line (its line breaks shown as ``|``).
    """
    message = " | ".join(part.strip() for part in str(message).splitlines() if part.strip())
    if not learner_raised:
        return (_("The check stopped with {kind} on what your code returned: {message}") if message else
                _("The check stopped with {kind} on what your code returned.")).format(kind=kind, message=message)
    call = call if call and len(call) <= 120 else f"{function}(...)" if function else ""
    if call:
        return (_("{call} raised {kind}: {message}") if message else _("{call} raised {kind}.")).format(
            call=call, kind=kind, message=message)
    return (_("your code raised {kind}: {message}") if message else _("Your code raised {kind}.")).format(
        kind=kind, message=message)


def statement_at(source: str, line: int, most: int = 10) -> tuple[int, list[str]]:
    """The whole statement of ``source`` that ``line`` is part of, to quote where a test stopped: the line it starts
    on and its lines without the first line's indentation (a call written over several lines is quoted whole, not its
    first line only; a compound statement, ``for`` or ``with``, by its header). At most ``most`` lines, the last one
    "..." when there are more; the line alone when the source does not parse. The self-check
    (``autograde.judge``) and the notebook's box (``cnnbook.feedback``) quote test lines with it."""
    import ast

    lines = source.splitlines()
    if not 0 < line <= len(lines):
        return line, []
    first, last = line, line
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        tree = None
    best = None
    for node in ast.walk(tree) if tree is not None else ():
        if not isinstance(node, ast.stmt) or node.end_lineno is None:
            continue
        inner = [getattr(node, field) for field in ("body", "handlers", "orelse", "finalbody", "cases")
                 if getattr(node, field, None)]
        end = min(part[0].lineno for part in inner) - 1 if inner else node.end_lineno   # a header only
        if node.lineno <= line <= max(end, node.lineno) and (best is None or end - node.lineno < best[1] - best[0]):
            best = (node.lineno, max(end, node.lineno))
    if best is not None:
        first, last = best
    quoted = lines[first - 1:last]
    indent = len(quoted[0]) - len(quoted[0].lstrip())
    quoted = [text[indent:] if not text[:indent].strip() else text.strip() for text in quoted]
    if len(quoted) > most:
        quoted = quoted[:most - 1] + ["..."]
    return first, [text.rstrip() for text in quoted]


def what_names_hold(expression: str, namespace: Mapping[str, Any]) -> list[str]:
    """For an expression of a test that failed on a value ("got[0, 1, 1]", "float(boxes[3])"): "name: what it holds"
    (:func:`described`) for each name in it that holds a value a learner's function may have returned (a list,
    tuple, dict, array, tensor, None, an object of theirs), not a function, a module or a plain number."""
    import ast
    import types

    try:
        names = [node.id for node in ast.walk(ast.parse(expression.strip(), mode="eval")) if isinstance(node, ast.Name)]
    except (SyntaxError, ValueError):
        return []
    said = []
    for name in dict.fromkeys(names):
        if name not in namespace:
            continue
        value = namespace[name]
        if isinstance(value, (int, float, complex, str, bytes, bool, type, types.ModuleType)) or (
                callable(value) and not _sized(value) and value is not None):
            continue
        said.append(f"{name}: {described(value)}")
    return said


def described(value: Any, parts: bool = True) -> str:
    """What a value is, in a few words of the learner's language: its type and its shape or length ("a numpy array
    of shape (64, 4)", "a list of 3 items"; a short tuple with what each item is), never its values (they may be
    hidden inputs, or pages long). Never an error of its own: what the learner's code raises while it is read is
    said (:func:`_unshown`)."""
    try:
        return _described(value, parts)
    except MemoryError:
        raise
    except Exception as err:  # noqa: BLE001 - reading a learner's object runs the learner's code
        return _unshown(value, "len()" if type(value) in (list, tuple, dict) else "shape", err)


def _described(value: Any, parts: bool) -> str:
    if value is None:
        return "None"
    if getattr(type(value), "_measure_remote", None) is not None:      # the grader's handle on a kernel's object
        return _("a value of type {types}").format(types=" ".join(_type_of(value).split())[:80])   # one line
    if isinstance(value, np.ndarray):
        return _("a numpy array of shape {shape}").format(shape=tuple(value.shape)) if value.ndim else \
            _("a numpy array holding one number (shape ())")
    if _is_tensor(value):
        return _("a torch tensor of shape {shape}").format(shape=tuple(value.shape)) if value.dim() else \
            _("a torch tensor holding one number (shape ())")
    if type(value) in (list, tuple, dict):
        kind, n = type(value).__name__, len(value)
        said = (_("a {kind} of 1 item") if n == 1 else _("a {kind} of {n} items")).format(kind=kind, n=n)
        if parts and type(value) is tuple and 0 < n <= 4:
            said += " (" + ", ".join(described(item, parts=False) for item in value) + ")"
        return said
    return _("a value of type {types}").format(types=_safe_type_name(value))


def _one_line(text: str) -> str:
    return " | ".join(part.strip() for part in str(text).splitlines() if part.strip())


def raised_instead(what: str, error: BaseException | tuple[str, str], why: str, *, hint: str | None = None,
                   more: Iterable[str] = ()) -> NoReturn:
    """Fail because the learner's call ``what`` raised ``error`` where it should have answered: "<what>: raised
    <Kind>: <message>, but <why>", the error's usual meaning under it when :mod:`cnnbook.errors` knows it, then
    ``more`` (lines shown as given). ``why`` is the author's words (translated as a hint is). ``error``: the exception,
    or ``(its class's name, its message)`` as a ``learner_side`` function reports one. Use :func:`answer_of` to call
    and check in one step."""
    from .errors import explanation, meaning

    if isinstance(error, BaseException):
        kind = _one_line(getattr(error, "remote_kind", "") or "") or type(error).__name__
        message = _one_line(error_message(error))
        if getattr(error, "from_kernel", False):
            # the grader's text also says where in the learner's code it was raised: "... (at line 4: x[9])"
            where = getattr(error, "learner_where", None)
            if isinstance(where, str):          # the judge's own words for where: "(at line 3: raise ValueError("boom"))"
                tail = _one_line(where)
            else:
                said = _one_line(str(error))
                at = said.rfind(message) if message else -1
                tail = said[at + len(message):].strip() if at >= 0 else ""
            message = f"{message} {tail}".strip()
        usually = meaning(error)
    else:
        kind, message = _one_line(str(error[0])), _one_line(str(error[1]))
        usually = explanation(kind, message)
        usually = _(usually) if usually else ""
    lines = [_("raised {kind}: {message}, but {why}.").format(kind=one_line_text(kind), message=one_line_text(
        message[:500]), why=one_line_text(lesson_text(why)))]
    if usually:
        lines.append(_("What it usually means: {meaning}").format(meaning=usually))
    lines += [_authored(lesson_text(line)) for line in more]
    _fail(what, lines, hint)


def answer_of(what: str, func: Callable[..., Any], args: tuple = (), *, why: str, hint: str | None = None,
              kwargs: Mapping[str, Any] | None = None, more: Iterable[str] = ()) -> Any:
    """``func(*args, **kwargs)`` where it must answer, not raise: its value, or the failure of
    :func:`raised_instead` (``what`` the call, ``why`` the author's words for why it should have worked)::

        got = answer_of(call, conv_params, (3, 1, 8), why="these are possible sizes",
                        hint="Only a size below 1 is an error.")

    A check that fails inside the call (the grader's "changed what it was given") is raised as it is. A case of
    :func:`call_each` is checked as ``answer_of(call, case.result, why=...)``."""
    try:
        return func(*args, **(kwargs or {}))
    except CheckFailed:
        raise
    except Exception as err:  # noqa: BLE001 - every error of the learner's call is reported, with its kind
        raised_instead(what, err, why, hint=hint, more=more)


def check_raises(
    what: str, func: Callable[..., Any], args: tuple, exception: type[BaseException] = ValueError,
    *, hint: str | None = None,
) -> BaseException:
    """Check that ``func(*args)`` raises ``exception``; return the raised exception."""
    try:
        result = func(*args)
    except exception as err:
        return err
    except Exception as err:  # noqa: BLE001 - we report the wrong kind of error to the learner
        # the class as the learner's code named it (the grader's judge holds a stand-in for a class it lacks)
        kind = getattr(err, "remote_kind", "") or type(err).__name__
        _fail(what, [_("expected a {expected}, but it raised {kind}: {error}").format(
            expected=exception.__name__, kind=one_line_text(kind), error=_error_text(err, 500))], hint)
    _fail(what, [_("expected a {expected} for these arguments, but it returned {value}").format(
        expected=exception.__name__, value=_fmt(result))], hint)
    raise AssertionError("unreachable")


def error_message(err: BaseException) -> str:
    """The message the learner's code gave an exception (what ``raise ValueError("...")`` said), for checks on it:
    ``str(err)`` in a notebook. In the grader, where the exception crossed from the learner's kernel, ``str(err)``
    also says where it was raised; this is the learner's own text there too."""
    message = getattr(err, "learner_message", None)
    return message if isinstance(message, str) else str(err)


class Args:
    """One case of :func:`call_each` with keyword arguments: ``Args(7, 3, s=2)`` stands for ``func(7, 3, s=2)``."""

    __slots__ = ("args", "kwargs")

    def __init__(self, *args: Any, **kwargs: Any):
        self.args, self.kwargs = args, kwargs

    def __repr__(self) -> str:
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"Args({', '.join(parts)})"


class Called:
    """What one call of :func:`call_each` gave: its ``value``, or the exception it raised (``error``).

    ``result()`` gives the value or raises that exception again, so a test checks a case as it would check a
    call of its own: ``check_value(what, case.result(), expected)``, ``check_raises(what, case.result, (),
    ValueError)``, or a helper that calls ``case.result`` and names the case when it raises."""

    __slots__ = ("value", "error")

    def __init__(self, value: Any = None, error: BaseException | None = None):
        self.value, self.error = value, error

    def result(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value

    def __repr__(self) -> str:
        return f"Called(error={type(self.error).__name__})" if self.error is not None else "Called(value)"


# The arguments a learner's function may change in place during the call under way (positions from 0 and keyword
# names): none, unless a test said otherwise with may_change. The grader's judge reads it at every call.
_MAY_CHANGE: list[frozenset] = [frozenset()]


def may_change(func: Callable[..., Any], *arguments: int | str) -> Callable[..., Any]:
    """``func`` for calls that may change these of their arguments in place (positions from 0, keyword names), as
    an optimizer's step may change its weights and its state.

    In a notebook nothing changes: a function always gets the caller's own objects. In the grader (``python -m
    autograde check`` and ``grade``) a learner's function that changes any *other* argument in place fails the
    test that called it (:func:`changed_input`), and the test's object stays as it was: no expected value is ever
    computed from what a learner's code wrote into it. These arguments are changed in the test as in the
    notebook."""
    allowed = frozenset(arguments)

    def call(*args: Any, **kwargs: Any) -> Any:
        before = _MAY_CHANGE[0]
        _MAY_CHANGE[0] = allowed
        try:
            return func(*args, **kwargs)
        finally:
            _MAY_CHANGE[0] = before
    return call


def may_change_now() -> frozenset:
    """The arguments the call under way may change in place (see :func:`may_change`)."""
    return _MAY_CHANGE[0]


def _argument_words(where: list) -> tuple[str, str]:
    """["args", 0, "v"] -> ("its argument 1", "['v']"): the argument in the learner's words (counted from 1, as
    a reader counts them, or by its keyword) and where in it the change was (each step shortened)."""
    head, rest = where[:2], [step for step in where[2:] if type(step) in (int, str)]
    if head[0] == "kwargs":
        text = _("its argument {name}").format(name=str(head[1])[:40])
    elif type(head[1]) is int:
        text = _("its argument number {n}").format(n=head[1] + 1)
    else:
        text = _("one of its arguments")
    return text, "".join(f"[{repr(step)[:40]}]" for step in rest[:4])


def changed_input(function: str, where: list[list], in_lists: bool = False) -> CheckFailed:
    """The failure of a learner's call that changed, in place, arguments the test gave it (the grader raises it:
    see :func:`may_change`). ``where``: each changed argument, as ["args", 0] or ["kwargs", "x", "v"]. The places
    are said per argument: "its argument number 1 (at [0], [1])", not "its argument number 1[0], its argument
    number 1[1]" (a learner's trial found that hard to read). ``in_lists``: what changed was a Python list or
    dict (``events.sort()``), not an array: the example and the remedy are said for lists."""
    steps: dict[str, list[str]] = {}
    for place in where[:6]:
        argument, step = _argument_words(place)
        steps.setdefault(argument, [])
        if step:
            steps[argument].append(step)
    places = ", ".join(_("{argument} (at {steps})").format(argument=argument, steps=", ".join(at)) if at else argument
                       for argument, at in steps.items()) + (" ..." if len(where) > 6 else "")
    title = _("{function} changed what it was given").format(function=function or _("your function"))
    if in_lists:
        return _failure(title, [_("it changed {places} in place (as items.sort(), items.append(x) or "
                                  "table[key] = value do); in your notebook that changes the caller's own list or "
                                  "dict").format(places=places)],
                        _("leave your inputs as they were: the caller uses them again. Build a new list (sorted(items) "
                          "instead of items.sort(), items + [x] instead of items.append(x)) or work on a copy "
                          "(items = list(items), table = dict(table))."))
    return _failure(title, [_("it changed {places} in place (as w *= 2 or x[0] = 1 do); in your notebook that changes "
                              "the caller's own values").format(places=places)],
                    _("leave your inputs as they were: the caller uses them again. Work on a copy (x = x.copy() for "
                      "numpy, x = x.clone() for torch) or build a new array (x = x - 1, not x -= 1)."))


# The grader's judge process installs its batch caller here (autograde.judge.install_batch_caller): it calls a
# learner's function, which lives in the sandboxed kernel, for every case in one exchange. Elsewhere: None.
_BATCH_CALLER: list[Callable[[Any, list[tuple[tuple, dict]]], list[Called] | None] | None] = [None]


def set_batch_caller(caller: Callable[[Any, list[tuple[tuple, dict]]], list[Called] | None] | None) -> None:
    _BATCH_CALLER[0] = caller


def call_each(func: Callable[..., Any], cases: Iterable[Any]) -> list[Called]:
    """Call ``func`` once per case, in order; one :class:`Called` per case: the value, or the exception raised.

    A case is a tuple of positional arguments, or :class:`Args` for keyword arguments too. In a notebook (and
    wherever the function is a plain function) this is a loop. In the grader, where the learner's function lives
    in the sandboxed kernel, all the calls go in one request instead of one request per call (several when the
    arguments or the answers are large), under the test's time limit: a case that never ends times the whole
    test out, one that kills the kernel ends the test, as a single call would; an array or tensor argument that
    a call changes in place is changed in the test too, as after a single call. All cases are sent before the
    first one runs: give each case its own arguments (not one array that an earlier case may change), and
    build every case beforehand: a case cannot depend on the answer to an earlier one (call the function one
    case at a time for that, e.g. an optimizer's steps)."""
    normalised: list[tuple[tuple, dict]] = []
    for case in cases:
        if type(case) is Args:
            normalised.append((tuple(case.args), dict(case.kwargs)))
        elif type(case) is tuple:
            normalised.append((case, {}))
        else:
            raise TypeError(f"call_each: a case is a tuple of arguments or Args(...), not a {type(case).__name__}")
    caller = _BATCH_CALLER[0]
    if caller is not None:
        done = caller(func, normalised)
        if done is not None:
            return done
    results = []
    for args, kwargs in normalised:
        try:
            results.append(Called(func(*args, **kwargs)))
        except Exception as err:  # noqa: BLE001 - the case's outcome, checked by the test
            results.append(Called(error=err))
    return results


def measure_call(func: Callable[..., Any], args: tuple = (), kwargs: Mapping[str, Any] | None = None, *,
                 forbidden: Iterable[str] = (), line_limit: int | None = None) -> dict:
    """Run ``func(*args, **kwargs)`` where the learner's code runs and report what it did (plain data).

    ``{"lines", "stopped", "forbidden", "raised", "tampered"}``: see :func:`cnnbook.measure.measure`. In a
    learner's notebook the function runs here; under ``python -m autograde check``/``grade`` ``func`` is the
    grader's handle on the learner's function, and the same measurement runs in the learner's kernel (one
    explicit ``measure`` request), never in the grader's process.
    """
    remote = getattr(type(func), "_measure_remote", None)
    if remote is not None:
        report = remote(func, tuple(args), dict(kwargs or {}), [str(f) for f in forbidden], line_limit)
    else:
        from .measure import measure

        report = measure(func, tuple(args), dict(kwargs or {}), forbidden=forbidden, line_limit=line_limit)
    if type(report) is not dict or not {"lines", "stopped", "forbidden", "raised", "tampered"} <= set(report):
        raise CheckFailed("the measurement of your function came back in a form the check does not know",
                          what="measure_call", lines=["the measurement came back in the wrong form"])
    return report


# The course's helper package (this one): check_own_work forbids it in every exercise.
COURSE_PACKAGE = __name__.partition(".")[0]


def _learners_own(name: str) -> bool:
    """Whether a test's forbidden entry names a function of the learner's (``box_iou``): a plain name that is no
    installed package (``torch``, ``numpy.pad`` are libraries)."""
    try:
        return name.isidentifier() and importlib.util.find_spec(name) is None
    except (ImportError, ValueError):
        return False


def check_own_work(
    what: str, func: Callable[..., Any], args: tuple, *, forbidden: Iterable[str] = (),
    max_lines: int | None = None, kwargs: Mapping[str, Any] | None = None, loop_message: str | None = None,
    hint: str | None = None,
) -> None:
    """Check that ``func(*args)`` does the exercise's work itself.

    ``forbidden``: library functions that would do it instead (dotted names: ``"torch"``, ``"scipy"`` for a
    whole package, ``"numpy.pad"``, ``"torch.nn.functional.conv2d"`` for one function); found by what the call
    actually runs (directly, through a helper, an alias or ``getattr``), never by the names the code spells, so
    a helper of the learner's own called ``convolve`` is fine. ``max_lines``: at most this many lines of
    Python may run in the learner's own code for this call (catches a loop over every output pixel; numpy's own
    code does not count). ``what`` describes the call (with the input's size), ``loop_message`` explains a
    failed line count.
    """
    # The course's own package never does an exercise's work, whatever the test forbids: its explorers compute some
    # answers for their pictures (lesson 10's pair_iou and suppress gave box_iou and nms full marks, a hostile trial).
    forbidden = [str(entry) for entry in forbidden]
    if COURSE_PACKAGE not in forbidden:
        forbidden.append(COURSE_PACKAGE)
    report = measure_call(func, args, kwargs, forbidden=forbidden, line_limit=max_lines)
    if report["raised"] == "NotImplementedError":
        func(*args, **(kwargs or {}))      # the stub raises again, from its own cell: "`name` is not answered yet"
    if report["tampered"]:
        _fail(what, [_("your function switched off the measurement of what it runs (sys.settrace or "
                       "sys.setprofile): a check cannot tell what it did.")], hint)
    if report["forbidden"]:
        # The first line names which of the test's own forbidden entries were called, in the test's words, so a
        # hidden check can show it too (the kernel's report is never shown there: it could carry anything).
        entries = [str(entry) for entry in forbidden]
        matched = [entry for entry in entries
                   if any(str(call) == entry or str(call).startswith(entry + ".") for call in report["forbidden"])]
        # A bare name that is no installed package is the learner's answer to another exercise (nms calling their
        # box_iou): a trial with real learner code read "a library function" for a function they had written.
        own = [entry for entry in matched if _learners_own(entry)]
        libraries = [entry for entry in matched if entry not in own]
        lines = [slip_line(_("a library function did the work: {calls}").format(calls=", ".join(libraries)))] \
            if libraries else []
        if own:
            lines.append(slip_line(_("your answer to another exercise did the work: {calls}").format(
                calls=", ".join(own))))
        _fail(what, lines + [(_("this exercise asks for the work written here, but your code called {calls}.")
                              if own and not libraries else
                              _("this exercise is about writing it yourself, but your code called {calls}.")).format(
            calls=", ".join(report["forbidden"]))], hint)
    if report["raised"] is not None:
        func(*args, **(kwargs or {}))      # again, outside the measurement: the learner sees their error and its line
        _fail(what, [_("your function raised {error} on this input, so what it runs could not be "
                       "measured").format(error=report["raised"])], hint)
    if max_lines is not None and (report["stopped"] or report["lines"] > max_lines):
        _fail(what, [lesson_text(loop_message) if loop_message else
                     _("more than {lines} lines of Python ran in your code for this one call: it loops in Python "
                       "where numpy should do the work.").format(lines=max_lines)], hint)


# The seed of hidden_rng(): set by the grader for each grading run (and recorded in its results); otherwise a
# fresh one per process (a learner's self-check may use any seed).
_HIDDEN_SEED: list[Any] = [None, ""]


def set_hidden_seed(seed: int | None, test: str = "") -> None:
    """The grader sets this before each test: the run's seed and the test's name (None: a fresh seed)."""
    _HIDDEN_SEED[0] = seed
    _HIDDEN_SEED[1] = str(test)


def hidden_seed() -> int:
    """The seed hidden_rng() draws from in this run."""
    if _HIDDEN_SEED[0] is None:
        import secrets

        _HIDDEN_SEED[0] = secrets.randbits(62)
    return int(_HIDDEN_SEED[0])


def hidden_rng(name: str = "") -> np.random.Generator:
    """Random numbers for a hidden test that a learner cannot know in advance.

    Seeded per grading run (``python -m autograde grade`` picks a new seed each run and records it in every
    result; ``grade --seed N`` repeats one), and per test and ``name``, so a test's inputs do not depend on the
    order of the tests. A fixed seed in a hidden test would give the same inputs in every run, and answers
    can be memorised from one run's requests; this cannot. Name the case in words (``hidden_case``), never by
    the numbers drawn.
    """
    import zlib

    parts = [hidden_seed(), zlib.crc32(_HIDDEN_SEED[1].encode()), zlib.crc32(str(name).encode())]
    return np.random.default_rng(parts)


@contextlib.contextmanager
def hidden_case(sentence: str):
    """Name, in the author's words, the kind of case the checks inside this block try.

    Use it in the hidden part of a test cell::

        with hidden_case("non-square images"):
            check_array(f"conv2d_single(<a {h}x{w} image>, kernel)", ...)

    The grader never shows a hidden check's inputs or expected values; when a check inside the block fails
    (or the learner's code raises there), the learner reads "conv2d_single: a hidden check failed
    (non-square images)." with the typical slip and the hint. In a learner's own notebook it changes nothing.
    """
    try:
        yield
    except Exception as err:
        if getattr(err, "hidden_case", None) is None:     # the innermost case names it
            try:
                err.hidden_case = lesson_text(str(sentence))  # type: ignore[attr-defined]
            except AttributeError:                          # an exception type without a __dict__
                pass
        raise


@contextlib.contextmanager
def known_errors(what: str, errors: Mapping[str, str]):
    """Learner code that raises an error whose message holds a key of ``errors`` (words of a library's own message,
    ``"Can't call numpy() on Tensor that requires grad"``) fails the check ``what`` with that key's value named as
    the typical slip, and the error itself under it; any other error goes on as it was::

        with known_errors("the slope of smooth_l1", {"Can't call numpy() on Tensor": "numpy inside smooth_l1 ..."}):
            slopes = slopes_around_beta()
    """
    try:
        yield
    except CheckFailed:
        raise
    except Exception as err:
        text = str(err)
        for words, slip in errors.items():
            if words in text:
                # an error that crossed the grader's wall already says "your code raised ..." (judge.py)
                said = text if getattr(err, "from_kernel", False) else \
                    _("your code raised {kind}: {message}").format(kind=type(err).__name__, message=text)
                line = said.splitlines()[0]
                # the error up to the end of the sentence that matched: a library's advice after it ("Use
                # tensor.detach().numpy() instead") is about its own use, and the slip says what to do here
                end = line.find(". ", line.find(words) + len(words)) if words in line else -1
                _fail(what, [slip_line(slip), (line[:end + 1] if end >= 0 else line)[:500]], None)
        raise


def learner_side(func: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a test-cell function that builds objects and runs learner code, returning only plain data.

    In a learner's own notebook this changes nothing. The hardened grader (``python -m autograde grade``)
    runs the rest of a test cell in its own process, where the learner's functions are remote and only
    plain data crosses (numbers, strings, lists, dicts, numpy arrays, torch tensors). A test that must hand
    learner code an object built by the test (a model, an optimizer, a loss) does that inside a function
    marked with this decorator: the grader runs that function in the learner's sandbox and gets back its
    plain return value. Keep expected values out of such functions: they run beside the learner's code.
    """
    setattr(func, "__learner_side__", True)  # a marker attribute: a function type declares none
    return func


def passed(what: str) -> None:
    """Print a one-line confirmation after the checks of a test cell have passed."""
    print("✔ " + _("{what}: all visible checks passed.").format(what=lesson_text(what)))
