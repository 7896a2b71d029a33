"""The course's stand-ins for earlier exercises work only during the call of the test that lent them
(cnnbook.standins.lend): a learner's later function that keeps the one it was handed cannot answer an earlier
exercise's hidden cases with it. In-process here (fast); graded through the real grader in tests/test_attacks.py."""
from __future__ import annotations

import threading
import types

import nbformat
import pytest

from cnnbook.checks import CheckFailed
from cnnbook.standins import StandInOutsideItsCall, lend
from conftest import LESSONS


def _double(x):
    return 2 * x


def test_a_lent_function_works_during_the_call_that_lent_it_and_nowhere_else():
    kept, from_thread, results = [], [], []

    def learner(x):                      # what a learner's later exercise does with what it was handed
        kept.append(handed["double"])

        def later():
            yield handed_double(x)

        handed_double = handed["double"]
        worker = threading.Thread(target=lambda: from_thread.append(_outcome(handed_double, x)))
        kept.append(later())
        kept.append(worker)
        return handed_double(x)

    def call(x):
        global handed
        with lend({"double": _double}) as lent:
            handed = lent
            return learner(x)

    results.append(call(3))
    assert results == [6]
    stolen, generator, worker = kept
    with pytest.raises(StandInOutsideItsCall, match="was lent to your code for one call"):
        stolen(4)
    with pytest.raises(StandInOutsideItsCall):
        next(generator)                  # made inside the call, run after it
    worker.start()
    worker.join()
    assert from_thread == ["StandInOutsideItsCall"]
    assert stolen.__name__ == "_double"  # the course's name: the self-check knows a course_<name> stands in


def _outcome(func, *args):
    try:
        return func(*args)
    except Exception as err:  # noqa: BLE001
        return type(err).__name__


handed: dict = {}


# Each lesson that lends stand-ins: (lesson, the test that lends, the learner's answers (the later exercise keeps
# what it was handed in _kept), arguments to call the kept stand-in with afterwards).
KEEPS_THE_STAND_IN = {
    "01 fc_input_size": ("01", "test_fc_weight_count", '''
_kept = []


def fc_input_size(height, width, channels):
    return height * width          # wrong on purpose: the channels are forgotten


def fc_weight_count(height, width, channels, n_outputs, bias=True):
    _kept.append(fc_input_size)
    if n_outputs <= 0:
        raise ValueError("n_outputs must be positive")
    return fc_input_size(height, width, channels) * n_outputs + (n_outputs if bias else 0)
''', (32, 32, 3)),
    "04 layer_shapes": ("04", "test_conv_macs", '''
_kept = []


def layer_shapes(h, w, c_in, f, c_out, p=0, s=1, m=1):
    raise NotImplementedError


def conv_macs(h, w, c_in, f, c_out, p=0, s=1):
    _kept.append(layer_shapes)
    shapes = layer_shapes(h, w, c_in, f, c_out, p, s)
    return shapes["n_H"] * shapes["n_W"] * c_out * f * f * c_in
''', (32, 32, 3, 5, 6)),
    "04 conv_macs": ("04", "test_depthwise_separable_cost", '''
_kept = []


def layer_shapes(h, w, c_in, f, c_out, p=0, s=1, m=1):
    raise NotImplementedError


def conv_macs(h, w, c_in, f, c_out, p=0, s=1):
    raise NotImplementedError


def depthwise_separable_cost(h, w, c_in, f, c_out, p=0, s=1):
    _kept.append(conv_macs)
    shapes = layer_shapes(h, w, c_in, f, c_out, p, s)
    return (conv_macs(h, w, c_in, f, c_out, p, s), shapes["n_H"] * shapes["n_W"] * c_in * f * f,
            shapes["n_H"] * shapes["n_W"] * c_in * c_out)
''', (32, 32, 3, 5, 6)),
    "10 box_iou": ("10", "test_nms", '''
import numpy as np

_kept = []


def box_iou(boxes_a, boxes_b):
    raise NotImplementedError


def nms(boxes, scores, iou_threshold):
    _kept.append(box_iou)
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    order, keep = np.argsort(-np.asarray(scores, dtype=float), kind="stable"), []
    while len(order):
        keep.append(order[0])
        order = order[1:][box_iou(boxes[order[:1]], boxes[order[1:]])[0] <= iou_threshold]
    return np.array(keep, dtype=int)
''', ([[0.0, 0, 2, 2]], [[1.0, 1, 3, 3]])),
}


def _test_cell(lesson: str, test: str) -> tuple[str, str]:
    from autograde.lessons import grade_cells

    source = nbformat.read(LESSONS[int(lesson) - 1].source, as_version=4)
    visible, hidden = grade_cells(source)[test].source.split("### BEGIN HIDDEN TESTS")
    return visible, hidden


@pytest.mark.parametrize("case", KEEPS_THE_STAND_IN)
def test_a_stand_in_kept_by_a_later_exercise_refuses_to_run_after_its_test(case):
    """Every lesson that lends the course's version of an earlier exercise: the later exercise's test passes with
    the learner's own earlier answer wrong or missing (the stand-in did its part), and the stand-in the learner's
    function kept refuses to run afterwards, saying why: a hidden case of the earlier exercise handed to it later
    gets nothing (hidden parts run after every visible one)."""
    lesson, test, answers, args = KEEPS_THE_STAND_IN[case]
    namespace: dict = {"__name__": "__main__"}
    exec(compile(answers, "<answers>", "exec"), namespace)
    visible, _ = _test_cell(lesson, test)
    exec(compile(visible, "<visible>", "exec"), namespace)         # the visible checks pass
    kept = namespace["_kept"]
    assert kept and kept[-1].__name__.startswith("course_"), kept
    with pytest.raises(StandInOutsideItsCall, match="was lent to your code for one call of the test"):
        kept[-1](*args)


def test_an_honest_nms_still_gets_its_points_with_the_course_box_iou():
    """Lesson 10's whole nms test (hidden part too, its write-it-yourself measurement included) passes for an nms
    that calls the learner's own box_iou, which is wrong: the lent box_iou stands in, within its window."""
    namespace: dict = {"__name__": "__main__"}
    exec(compile(KEEPS_THE_STAND_IN["10 box_iou"][2].replace("raise NotImplementedError", "return np.zeros((1, 1))"),
                 "<answers>", "exec"), namespace)
    visible, hidden = _test_cell("10", "test_nms")
    exec(compile(visible, "<visible>", "exec"), namespace)
    exec(compile(hidden, "<hidden>", "exec"), namespace)
    with pytest.raises(CheckFailed):                               # and its own box_iou is still its own
        exec(compile(_test_cell("10", "test_box_iou")[0], "<visible>", "exec"), namespace)


@pytest.mark.parametrize("reach", ["sys._getframe(1).f_locals['lent']", "inspect.stack()[1].frame",
                                   "err.__traceback__.tb_frame.f_back", "inspect.getclosurevars(box_iou).nonlocals",
                                   "box_iou.__closure__[0].cell_contents"])
def test_reaching_the_tests_own_frames_is_flagged(reach):
    """A stand-in refuses outside the call of the test that lent it by looking for that call's frame among its callers;
    a learner's code that reaches the test's frames or closures (where the function that lends it can be found, to
    be called again from their own code) is what the grader's tampering flag names, for the instructor to look at."""
    from autograde.runner import suspicious_flags
    from conftest import solved

    lesson = LESSONS[9]
    source = nbformat.read(lesson.source, as_version=4)
    nb = solved(lesson, {"nms": f"import inspect, sys\n_found = lambda err=None: {reach}\n"
                                + KEEPS_THE_STAND_IN["10 box_iou"][2].split("def nms", 1)[1].join(["def nms", ""])})
    assert "tampering" in suspicious_flags(nb, source, lesson.source)
    assert suspicious_flags(solved(lesson), source, lesson.source) == []


def test_what_a_lent_function_holds_runs_nothing_after_the_call():
    """What a lent function holds (its closure: the course's function, the window) is the course's answer too. A
    hostile trial's nms took the course's box_iou out of the lent one's closure during its test (spelled past the
    tampering regex: getattr(box_iou, "__clo" + "sure__")) and gave box_iou's hidden cases to it later: every
    point of box_iou with no flag. What a lent function reaches by its closure, to any depth, is the lend's own copy,
    switched off when the call ends."""
    grabbed, during = [], []

    def reachable(obj, depth=0):           # every function reachable from obj through closures and attributes
        if depth > 4:
            return
        if callable(obj):
            grabbed.append(obj)
        for cell in getattr(obj, "__closure__", None) or ():
            try:
                inner = cell.cell_contents
            except ValueError:
                continue
            reachable(inner, depth + 1)
        for value in list(getattr(obj, "__dict__", {}).values()):
            if isinstance(value, dict):
                for item in list(value.values()):
                    reachable(item, depth + 1)
            else:
                reachable(value, depth + 1)

    def learner(x):
        reachable(handed["double"])
        during.extend(_outcome(func, x) for func in grabbed)
        return handed["double"](x)

    def course_backed():                   # as a lesson's test builds it: the course's function lives in its closure
        factor = 2

        def course_double(x):
            return factor * x

        def call(x):
            global handed
            with lend({"double": course_double}) as lent:
                handed = lent
                return learner(x)

        return call

    assert course_backed()(3) == 6
    assert 6 in during                     # the lend's copy of the course's function did answer inside the call
    later = [_outcome(func, 4) for func in grabbed]
    assert 8 not in later, later
    assert all(isinstance(outcome, str) for outcome in later), later


def test_the_course_function_itself_runs_only_while_it_is_lent():
    """The test that lends a course function holds it between its calls (lesson 10's course_backed keeps
    course_box_iou in its closure for every call of nms), where the learner's code can find it without any lent
    one: a hostile trial's box_iou looked it up among all of Python's objects (gc, spelled past the tampering regex)
    and handed its hidden cases to it, every point of box_iou with no flag. The course function itself runs only while
    a call has it lent, and refuses before and after; the test that holds it lends it again as often as it likes."""
    import gc

    def course_backed():
        factor = 2

        def course_double(x):
            return factor * x

        def call(x):
            with lend({"double": course_double}) as lent:
                during.append(found(x))
                return lent["double"](x)

        return call

    def found(x):                          # what the learner's code finds by itself, and what it gives
        return [_outcome(obj, x) for obj in gc.get_objects()
                if type(obj) is types.FunctionType and obj.__name__ == "course_double"]

    during: list = []
    call = course_backed()
    assert call(3) == 6 and call(5) == 10  # lent as often as the test likes
    assert 6 in during[0] and 10 in during[1], during       # and found by the learner's code during the call
    later = found(4)
    assert later and 8 not in later, later
    assert all(isinstance(outcome, str) for outcome in later), later



def test_a_call_of_the_test_made_by_the_learners_code_lends_nothing(monkeypatch):
    """The test's own function that lends (lesson 10's call, which runs nms) is in the learner's kernel too: a hostile
    trial's box_iou found it (gc), called it with its own hidden case waiting in a global, and its nms, called inside
    that call, gave the case to the lent box_iou: every point of box_iou with no flag. When graded, a call of the
    test's lends only when nothing but the grader's and the libraries' code is among its callers, in the kernel's main
    thread: one made from the learner's code (a function of theirs, or their thread) lends nothing, and says why.
    (Here this file and its callers stand for the grader's code, "<learner>" for the learner's.)"""
    import sys

    from cnnbook import standins

    harness, frame = [], sys._getframe()        # this test's callers (pytest's, xdist's) stand for the grader's too
    while frame is not None:
        harness.append(frame.f_code.co_filename)
        frame = frame.f_back
    monkeypatch.setattr(standins, "_GRADED", True)
    monkeypatch.setattr(standins, "_LIBRARY", standins._LIBRARY + tuple(harness))
    monkeypatch.setattr(standins, "_MAIN_THREAD", threading.get_ident())

    def course_backed():
        def course_double(x):
            return 2 * x

        def call(learner_function, x):
            with lend({"double": course_double}) as lent:
                return learner_function(lent["double"], x)

        return call

    call = course_backed()
    learner = {"call": call, "asked": [], "given": [], "threading": threading, "outcome": _outcome}
    exec(compile("""
def nms(double, x):                    # the later exercise: gives a waiting case to the lent function
    if asked:
        given.append(outcome(double, asked.pop()))
    return outcome(double, x)


def earlier(x):                        # the earlier exercise, asked a hidden case: runs the test's call itself
    asked.append(x)
    outcome(call, nms, 0)
    return given.pop()


def in_a_thread(x):                    # the same, the test's call run by a thread (threading's code calls it)
    asked.append(x)
    worker = threading.Thread(target=call, args=(nms, 0))
    worker.start()
    worker.join()
    return given.pop()
""", "<learner>", "exec"), learner)
    assert call(learner["nms"], 3) == 6              # the test's call, made by the grader
    assert learner["earlier"](21) == "StandInOutsideItsCall"
    assert learner["in_a_thread"](21) == "StandInOutsideItsCall"
    assert call(learner["nms"], 5) == 10             # and the test's next call lends again
