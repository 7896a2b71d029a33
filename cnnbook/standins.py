"""The course's own versions of earlier exercises, lent to a learner's function for one call of a test.

So that a slip in one exercise costs only that exercise, a later exercise's test runs the learner's function with the
course's versions of the earlier ones standing in (lesson 10's ``nms`` with the course's ``box_iou``; see DEVELOPERS.md,
"Reusing earlier exercises"). A stand-in is a complete answer to the earlier exercise, living in the learner's
kernel: a learner's ``nms`` could keep the one it was handed (``global kept; kept = box_iou``) and their ``box_iou``
hand its own hidden cases to it later (hidden parts run after every visible one), scoring box_iou without writing it.

:class:`lend` closes that: what it hands out works only while the call that lent it is running, on that call's
stack::

    def call(*args, **kwargs):
        with lend({"box_iou": course_box_iou}) as lent:
            namespace["box_iou"] = lent["box_iou"]
            ...
            return yours(*args, **kwargs)

The window is the frame of the function that opened the ``with`` (the test's own ``call``): a lent function checks
that this very frame is among its callers, and that the ``with`` block is still open. A reference kept and called
later, from another test, from a thread or from a generator resumed elsewhere, is refused with a sentence that says
why (in the learner's language). What a lent function holds is reachable through its closure: it holds this lend's
own copy of each course function (cells of its own), emptied and given code that only refuses when the call ends,
so a course function taken out of it during the call runs nothing later (a hostile trial's nms took box_iou out
of the lent one with ``getattr(box_iou, "__clo" + "sure__")``). Frames cannot be made up by the learner's code; reaching a test's own frames
(``sys._getframe``, ``f_back``) is what the grader's ``tampering`` flag names (``autograde.runner.SUSPICIOUS``),
and this module is sealed with the measurement's code (``autograde.shim``).
"""
from __future__ import annotations

import sys
import types
from typing import Any, Callable, Mapping

from .i18n import _

__all__ = ["lend", "StandInOutsideItsCall"]

# Bound here, before any learner cell: a learner's cell may replace sys._getframe (the seal holds this module's names).
_caller_frame = sys._getframe


class StandInOutsideItsCall(RuntimeError):
    """A course stand-in called after (or away from) the call of the test that lent it."""


class lend:   # a context manager, named as a verb: `with lend({...}) as lent:`
    """Lend the course's versions of earlier exercises (``{name: function}``) for the call of the function whose
    ``with`` block opens this; ``as`` gives ``{name: the lent function}``, each of which refuses to run outside it."""

    def __init__(self, stand_ins: Mapping[str, Callable[..., Any]]):
        self._stand_ins = dict(stand_ins)
        self._frame: Any = None
        self._copies: list[types.FunctionType] = []

    def __enter__(self) -> dict[str, Callable[..., Any]]:
        self._frame = _caller_frame(1)
        # What a lent function holds is reachable through its closure (a learner's code took the course's box_iou out
        # of it and kept it): it holds this lend's own copy of each function, switched off when the call ends, and
        # this lend keeps none of the originals.
        stand_ins, self._stand_ins = self._stand_ins, {}
        lent = {}
        for name, func in stand_ins.items():
            copy = _copy(func)
            if isinstance(copy, types.FunctionType) and copy is not func:
                self._copies.append(copy)
            lent[name] = _lent(name, copy, self)
        return lent

    def __exit__(self, *exc: object) -> None:
        self._frame = None
        copies, self._copies = self._copies, []
        for copy in copies:
            _switch_off(copy)

    def _covers(self, frame: Any) -> bool:
        lender = self._frame
        while lender is not None and frame is not None:
            if frame is lender:
                return True
            frame = frame.f_back
        return False


def _lent(name: str, func: Callable[..., Any], window: lend) -> Callable[..., Any]:
    def stand_in(*args: Any, **kwargs: Any) -> Any:
        if not window._covers(_caller_frame(1)):
            raise StandInOutsideItsCall(_(
                "the course's {name} was lent to your code for one call of the test that handed it over, and that "
                "call is over: keep no reference to it (call {name} by its name inside your function)").format(
                    name=name))
        return func(*args, **kwargs)

    stand_in.__name__ = stand_in.__qualname__ = getattr(func, "__name__", f"course_{name}")
    stand_in.__doc__ = getattr(func, "__doc__", None)
    return stand_in


def _copy(func: Callable[..., Any]) -> Callable[..., Any]:
    """A copy of a Python function with cells of its own (so that switching it off leaves the original as it was);
    anything else as it is."""
    if type(func) is not types.FunctionType:
        return func
    cells = []
    for cell in func.__closure__ or ():
        try:
            cells.append(types.CellType(cell.cell_contents))
        except ValueError:                      # an empty cell stays empty
            cells.append(types.CellType())
    copy = types.FunctionType(func.__code__, func.__globals__, func.__name__, func.__defaults__,
                              tuple(cells) if func.__closure__ is not None else None)
    copy.__kwdefaults__ = dict(func.__kwdefaults__) if func.__kwdefaults__ else None
    copy.__qualname__ = func.__qualname__
    copy.__doc__ = func.__doc__
    return copy


_REFUSALS: dict[int, types.CodeType] = {}


def _refusal(free: int) -> types.CodeType:
    """The code of a function that only refuses, with ``free`` free variables (a function's code can only be
    replaced by code with as many as its closure has cells)."""
    code = _REFUSALS.get(free)
    if code is None:
        names = [f"_cell{k}" for k in range(free)]
        source = ("def _outer():\n" + "".join(f"    {name} = None\n" for name in names)
                  + "    def refused(*args, **kwargs):\n"
                  + "        raise RuntimeError('a course stand-in used after the call it was lent for')\n"
                  + "".join(f"        {name}\n" for name in names)
                  + "    return refused\n")
        outer = compile(source, "<cnnbook.standins>", "exec", dont_inherit=True).co_consts[0]
        code = _REFUSALS[free] = next(const for const in outer.co_consts if type(const) is types.CodeType)
    return code


def _switch_off(copy: types.FunctionType) -> None:
    """Empty a copy's cells and give it code that only refuses: a reference to it, or to its cells, kept past the
    call runs nothing of the course's."""
    for cell in copy.__closure__ or ():
        try:
            del cell.cell_contents
        except ValueError:
            pass
    copy.__code__ = _refusal(len(copy.__closure__ or ()))
    copy.__defaults__ = copy.__kwdefaults__ = None
