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
why (in the learner's language). The course's function itself, which the test holds between its calls and a
lent function holds in its closure, runs only while a call has it lent: outside, its code only refuses (a hostile
trial's nms took box_iou out of the lent one with ``getattr(box_iou, "__clo" + "sure__")``, another's box_iou found
the course's among all objects with gc, and both answered box_iou's hidden cases with it). A function the course's
one calls must be lent with it (lesson 04 lends layer_shapes with conv_macs). Frames cannot be made up by the learner's code; reaching a test's own frames
(``sys._getframe``, ``f_back``) is what the grader's ``tampering`` flag names (``autograde.runner.SUSPICIOUS``),
and this module is sealed with the measurement's code (``autograde.shim``).
"""
from __future__ import annotations

import _thread
import sys
import types
from typing import Any, Callable, Mapping

from .i18n import _
from .measure import _LIBRARY as _library_code

__all__ = ["lend", "StandInOutsideItsCall"]

# Bound here, before any learner cell: a learner's cell may replace sys._getframe (the seal holds this module's names).
_caller_frame = sys._getframe
_thread_id = _thread.get_ident
_MAIN_THREAD = _thread.get_ident()       # imported by the grader's shim at the kernel's start, in its main thread
_LIBRARY = _library_code                 # what counts as library code, fixed when cnnbook.measure was imported
# Set by the grader's shim (autograde.shim) before any learner cell, sealed with the rest: a call of the test's lends
# only when the grader made it (see lend.__enter__). In a learner's own notebook, and in the course's in-process
# tests, the test cell's own code is among a lending call's callers.
_GRADED = False


class StandInOutsideItsCall(RuntimeError):
    """A course stand-in called after (or away from) the call of the test that lent it."""


class lend:   # a context manager, named as a verb: `with lend({...}) as lent:`
    """Lend the course's versions of earlier exercises (``{name: function}``) for the call of the function whose
    ``with`` block opens this; ``as`` gives ``{name: the lent function}``, each of which refuses to run outside it."""

    def __init__(self, stand_ins: Mapping[str, Callable[..., Any]]):
        self._stand_ins = dict(stand_ins)
        self._frame: Any = None
        self._armed: list[types.FunctionType] = []
        self._made_by_the_test = True

    def __enter__(self) -> dict[str, Callable[..., Any]]:
        frame = _caller_frame(1)
        self._made_by_the_test = not _GRADED or _made_by_the_grader(frame)
        if not self._made_by_the_test:
            # the test's own function, called by the learner's code (a hostile box_iou ran the test's call of nms with
            # its hidden case waiting, and nms gave it to the lent box_iou): nothing is lent
            return {name: _lent(name, func, self) for name, func in self._stand_ins.items()}
        self._frame = frame
        # The course's function itself runs only while a call has it lent: the test that lends it holds it between
        # its calls, where a learner's code can find it without any lent one (a lent function's closure, gc).
        for func in self._stand_ins.values():
            if type(func) is types.FunctionType:
                _arm(func)
                self._armed.append(func)
        return {name: _lent(name, func, self) for name, func in self._stand_ins.items()}

    def __exit__(self, *exc: object) -> None:
        self._frame = None
        armed, self._armed = self._armed, []
        for func in armed:
            _disarm(func)

    def _covers(self, frame: Any) -> bool:
        lender = self._frame
        while lender is not None and frame is not None:
            if frame is lender:
                return True
            frame = frame.f_back
        return False


def _lent(name: str, func: Callable[..., Any], window: lend) -> Callable[..., Any]:
    def stand_in(*args: Any, **kwargs: Any) -> Any:
        if not window._made_by_the_test:
            raise StandInOutsideItsCall(_(
                "the course's {name} is lent only to a call the test makes, and this call of the test's own code was "
                "made by your code: call {name} by its name inside your function").format(name=name))
        if not window._covers(_caller_frame(1)):
            raise StandInOutsideItsCall(_(
                "the course's {name} was lent to your code for one call of the test that handed it over, and that "
                "call is over: keep no reference to it (call {name} by its name inside your function)").format(
                    name=name))
        return func(*args, **kwargs)

    stand_in.__name__ = stand_in.__qualname__ = getattr(func, "__name__", f"course_{name}")
    stand_in.__doc__ = getattr(func, "__doc__", None)
    return stand_in


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


# Each course function lent so far: id -> [the function, the code it runs while lent, the calls that have it lent now].
_ARMED: dict[int, list] = {}


def _arm(func: types.FunctionType) -> None:
    entry = _ARMED.get(id(func))
    if entry is None or entry[0] is not func:
        entry = _ARMED[id(func)] = [func, func.__code__, 0]
    entry[2] += 1
    func.__code__ = entry[1]


def _disarm(func: types.FunctionType) -> None:
    """When no call has it lent any more: code that only refuses (its cells, the test's own, stay as they are), so a
    reference to it, kept or found, runs nothing of the course's."""
    entry = _ARMED.get(id(func))
    if entry is None or entry[0] is not func:
        return
    entry[2] = max(entry[2] - 1, 0)
    if entry[2] == 0:
        func.__code__ = _refusal(len(func.__closure__ or ()))


def _made_by_the_grader(frame: Any) -> bool:
    """Whether the call of ``frame`` (the test's function that lends) was made by the grader: in the kernel's main
    thread, with nothing but library code (the grader's request server and measurement, the kernel's, Python's)
    among its callers. Read with str's own methods, as cnnbook.measure reads them. A learner's code that spells its
    file as a library's is not told apart (see DEVELOPERS.md, "What a kernel can fake")."""
    if _thread_id() != _MAIN_THREAD:
        return False
    caller = frame.f_back
    while caller is not None:
        filename = caller.f_code.co_filename
        if type(filename) is not str or not str.startswith(filename, _LIBRARY):
            return False
        caller = caller.f_back
    return True
