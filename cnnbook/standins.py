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
why (in the learner's language). Frames cannot be made up by the learner's code; reaching a test's own frames
(``sys._getframe``, ``f_back``) is what the grader's ``tampering`` flag names (``autograde.runner.SUSPICIOUS``),
and this module is sealed with the measurement's code (``autograde.shim``).
"""
from __future__ import annotations

import sys
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

    def __enter__(self) -> dict[str, Callable[..., Any]]:
        self._frame = _caller_frame(1)
        return {name: _lent(name, func, self) for name, func in self._stand_ins.items()}

    def __exit__(self, *exc: object) -> None:
        self._frame = None

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
