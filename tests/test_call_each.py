"""cnnbook.checks.call_each: many calls of a learner's function in one exchange with the sandboxed kernel.

In a notebook it is a loop. In the grader's judge the learner's function is a Remote, and the calls go to the
kernel in one request (shim op ``call_each``). The slow tests run test cells through the real judge process
(judge.run_test) against a real sandboxed kernel holding the guard lesson's answers and a few functions of a
misbehaving learner: every misbehaviour must end as that learner's failure (fail, timeout, died), never as a
grader-error, and a batch must give what the same calls one by one give.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import nbformat
import pytest
from conftest import GUARD, answer_sources

from autograde.judge import exercise_names, lesson_probes, run_here, run_test
from autograde.kernel import LearnerKernel
from autograde.plain import encode
from autograde.sandbox import Limits, Sandbox, bubblewrap_works
from cnnbook.checks import Args, Called, CheckFailed, call_each, check_raises, check_value


# --- in the learner's own kernel: a loop -------------------------------------------------------------------------
def _size(n, f, p=0, s=1):
    if s < 1 or p < 0 or f > n + 2 * p:
        raise ValueError(f"no window fits: n={n}, f={f}, p={p}, s={s}")
    return (n + 2 * p - f) // s + 1


def test_in_a_notebook_call_each_is_a_loop_of_values_and_exceptions():
    results = call_each(_size, [(7, 3), Args(7, 3, s=2), (3, 5), Args(32, 5, p=2)])
    assert [type(r) for r in results] == [Called] * 4
    assert results[0].result() == 5 and results[1].result() == 3 and results[3].result() == 32
    assert isinstance(results[2].error, ValueError) and results[2].value is None
    err = check_raises("output_size(3, 5)", results[2].result, (), ValueError)
    assert "no window fits" in str(err)
    with pytest.raises(CheckFailed, match="expected a ValueError for these arguments, but it returned 5"):
        check_raises("output_size(7, 3)", results[0].result, (), ValueError)
    check_value("output_size(7, 3)", results[0].result(), 5)


def test_a_case_is_a_tuple_or_args():
    with pytest.raises(TypeError, match="a case is a tuple"):
        call_each(_size, [[7, 3]])


def test_in_a_notebook_what_a_single_call_does_not_catch_call_each_does_not_either():
    def leaves(n):
        if n == 2:
            raise SystemExit(1)
        return n

    with pytest.raises(SystemExit):
        call_each(leaves, [(1,), (2,), (3,)])


# --- in the judge, against a kernel that answers with raw text -----------------------------------------------------
_F = json.dumps({"value": {"$ref": 1, "type": "builtins.function", "mro": ["builtins.function", "builtins.object"],
                           "repr": "<function f>", "callable": True}})


class BatchKernel:
    """A kernel whose shim answers every call_each request with ``reply(request)``; records the requests."""

    def __init__(self, reply):
        self.reply = reply
        self.requests: list[dict] = []

    def __call__(self, request: dict, seconds: float) -> str:
        self.requests.append(request)
        if request["op"] == "lookup":
            return _F
        return self.reply(request)


def _entries(*entries) -> str:
    return json.dumps({"each": list(entries)})


@pytest.mark.parametrize("name, reply", [
    ("no entry", lambda r: _entries()),
    ("more entries than calls", lambda r: _entries(*[{"value": 1}] * (len(r["cases"]) + 1))),
    ("an entry that is not a dict", lambda r: _entries({"value": 1}, 7)),
    ("an entry with neither value nor error", lambda r: _entries({"value": 1}, {"what": 1})),
    ("not a batch reply", lambda r: json.dumps({"value": [1, 2, 3]})),
    ("a value that is not plain", lambda r: _entries({"value": {"$module": "os"}}, {"value": 1})),
    ("too deep", lambda r: _entries({"value": json.loads('{"$list": [' * 80 + "1" + "]}" * 80)}, {"value": 1})),
    ("not JSON", lambda r: '{"each": [1,'),
])
def test_a_forged_batch_reply_fails_the_test_never_the_grader(name, reply):
    kernel = BatchKernel(reply)
    source = ("from cnnbook.checks import call_each, check_value\n"
              "for case in call_each(f, [(1,), (2,)]):\n    check_value('f', case.result(), 1)")
    outcome = run_here(source, kernel, 10, ["f"])
    assert outcome.status == "fail", (name, outcome)


def test_a_batch_reply_may_answer_part_of_the_cases_and_is_asked_again_for_the_rest():
    def two_at_a_time(request):
        cases = request["cases"][:2]
        return _entries(*[{"value": encode(c["args"]["$tuple"][0] * 10, lambda o: None)} for c in cases])

    kernel = BatchKernel(two_at_a_time)
    source = ("from cnnbook.checks import call_each, check_value\n"
              "got = [c.result() for c in call_each(f, [(n,) for n in range(5)])]\n"
              "check_value('f', got, [0, 10, 20, 30, 40])")
    outcome = run_here(source, kernel, 10, ["f"])
    assert outcome.status == "pass", outcome
    assert [len(r["cases"]) for r in kernel.requests if r["op"] == "call_each"] == [5, 3, 1]


def test_an_error_entry_becomes_the_local_exception_a_single_call_raises():
    error = {"error": {"type": "ValueError", "mro": ["ValueError", "Exception"], "message": "bad f",
                       "where": "line 3: raise ValueError('bad f')"}}
    kernel = BatchKernel(lambda r: _entries({"value": 1}, error, {"error": {"type": "SystemExit", "message": "1"}}))
    source = ("from cnnbook.checks import call_each, check_raises, check_true, check_value\n"
              "one, two, three = call_each(f, [(1,), (2,), (3,)])\n"
              "check_value('f(1)', one.result(), 1)\n"
              "err = check_raises('f(2)', two.result, (), ValueError)\n"
              "check_true('text', 'bad f' in str(err) and 'line 3' in str(err), str(err))\n"
              "three.result()\n")
    outcome = run_here(source, kernel, 10, ["f"])
    assert outcome.status == "fail" and "SystemExit" in outcome.message, outcome


@pytest.mark.parametrize("reply", [
    json.dumps({"value": {"$list": [1] * 3, "junk": 1}}),                     # malformed: NotPlain
    json.dumps({"value": json.loads('{"$list": [' * 80 + "1" + "]}" * 80)}),   # too deep: TooLarge
    json.dumps({"error": {"type": "TooLarge", "mro": ["TooLarge"], "message": "the kernel's codec refused it"}}),
])
def test_an_answer_that_cannot_cross_the_wall_is_no_error_a_test_expects(reply):
    """check_raises(..., TypeError) must fail a learner's function that returns something too large or malformed
    (the codec's errors were TypeErrors: such a reply passed, a hostile trial noted)."""
    kernel = BatchKernel(lambda r: reply)
    source = "from cnnbook.checks import check_raises\ncheck_raises('f(1)', f, (1,), TypeError)"
    outcome = run_here(source, kernel, 10, ["f"])
    assert outcome.status == "fail", outcome


def _raising(kind, mro, module, message="bad"):
    error = json.dumps({"error": {"type": kind, "mro": mro, "module": module, "message": message,
                                  "where": "line 2: raise"}})
    return BatchKernel(lambda r: error)


@pytest.mark.parametrize("kind, mro, module, expected, said", [
    # numpy's casting error is a TypeError in the notebook: `except TypeError` and check_raises(TypeError) catch it
    ("_UFuncOutputCastingError", ["_UFuncOutputCastingError", "UFuncTypeError", "TypeError", "Exception",
                                  "BaseException", "object"], "numpy._core._exceptions", "TypeError",
     "Your code raised TypeError (numpy's _UFuncOutputCastingError)."),
    # a learner's own `class ShapeError(ValueError)` is a ValueError
    ("ShapeError", ["ShapeError", "ValueError", "Exception", "BaseException", "object"], "__main__", "ValueError",
     "Your code raised an exception of a class it defines (a kind of ValueError)."),
    ("LinAlgError", ["LinAlgError", "ValueError", "Exception", "BaseException", "object"], "numpy.linalg",
     "ValueError", "Your code raised ValueError (numpy's LinAlgError)."),
    # a learner's class whose name and module say anything (a hidden input: a hostile trial) is not named
    ("-3.0 -1.0 by 2", ["-3.0 -1.0 by 2", "ValueError", "Exception", "BaseException", "object"], "w2_n4",
     "ValueError", "Your code raised an exception of a class it defines (a kind of ValueError)."),
    ("FakeError", ["FakeError", "TypeError", "Exception", "BaseException", "object"], "numpy.linalg", "TypeError",
     "Your code raised an exception of a class it defines (a kind of TypeError)."),
])
def test_an_error_of_a_library_or_of_the_learners_class_is_the_builtin_error_it_derives_from(kind, mro, module,
                                                                                                expected, said):
    """A trial with real learner code (CS231n's conv_backward on integer inputs) read "Your code raised an exception
    of a class it defines." for numpy's casting error, a TypeError."""
    source = f"from cnnbook.checks import check_raises\ncheck_raises('f(1)', f, (1,), {expected})"
    assert run_here(source, _raising(kind, mro, module), 10, ["f"]).status == "pass"
    source = ("from cnnbook.checks import check_value, hidden_case\n### BEGIN HIDDEN TESTS\n"
              "with hidden_case('a case'):\n    check_value('f(1)', f(1), 1)\n### END HIDDEN TESTS")
    outcome = run_here(source, _raising(kind, mro, module), 10, ["f"], exercise="f")
    assert outcome.status == "fail" and said in outcome.message, outcome


def test_error_message_is_the_learners_own_text_also_when_the_error_crossed_the_wall():
    """Lesson 02 asks for a ValueError with a message: `len(str(err)) >= 10` always held in the grader, where
    str(err) also says where the error was raised, so `raise ValueError` with no message passed (a trial)."""
    source = ("from cnnbook.checks import check_raises, check_true, error_message\n"
              "err = check_raises('f(1)', f, (1,), ValueError)\n"
              "check_true('a message', len(error_message(err)) >= 10, 'too short')")
    for message, status in [("", "fail"), ("bad", "fail"), ("the kernel (5, 5) does not fit", "pass")]:
        kernel = _raising("ValueError", ["ValueError", "Exception", "BaseException", "object"], "builtins", message)
        assert run_here(source, kernel, 10, ["f"]).status == status, message


def test_a_function_of_the_test_itself_is_called_here_in_a_loop():
    kernel = BatchKernel(lambda r: pytest.fail("nothing of the test's own goes to the kernel"))
    source = ("from cnnbook.checks import call_each, check_value\n"
              "def twice(x):\n    return 2 * x\n"
              "check_value('twice', [c.result() for c in call_each(twice, [(1,), (2,)])], [2, 4])")
    assert run_here(source, kernel, 10, []).status == "pass"


# --- the real judge process and a real sandboxed kernel ------------------------------------------------------------
LEARNER = '''
import os
import sys
import numpy as np

def leaves_at_3(n):
    if n == 3:
        sys.exit(4)
    return n * n

def interrupts_at_3(n):
    if n == 3:
        raise KeyboardInterrupt
    return n * n

def endless_at_5(n):
    while n == 5:
        pass
    return n * n

def dies_at_2(n):
    if n == 2:
        os._exit(1)
    return n * n

def huge_at_2(n):
    return np.zeros(20_000_000 if n == 2 else 3)

def long_at_2(n):
    return list(range(1_500_000 if n == 2 else 3))

def sized(n):
    return np.full(n, 1.5)

class Always:
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    def __array__(self, *args, **kwargs):
        return np.arange(3.0)

def always_equal(n):
    return Always()

def mutates(values, width):
    values *= 0
    return np.asarray(values).reshape(-1, width).max(axis=1)

calls = []
def counted(n):
    calls.append(n)
    return len(calls)

def keeps_grad(w, grad, state):
    if "buf" not in state:
        state["buf"] = grad                     # the gradient itself, changed in place at the next step
    else:
        state["buf"].mul_(0.9).add_(grad)
    return w - 0.1 * state["buf"], state

def scales_weights(weights, strength):
    for w in weights:
        w *= 2 * strength                       # the caller's arrays, changed in place
    return weights

def same_array(x, pair):
    return x, pair["b"]

def wipes(image, kernel):                       # a hostile trial: zero what the test computes its reference from
    image[...] = 0
    kernel[...] = 0
    return np.zeros((image.shape[0] - kernel.shape[0] + 1, image.shape[1] - kernel.shape[1] + 1))

def sorts_in_place(events):
    events.sort()
    return events[0]

class _Pretender:
    pass
_Pretender.__module__ = "torch"
_Pretender.__qualname__ = "Tensor"
def pretends_tensor(n):
    return _Pretender()
'''


@pytest.fixture(scope="module")
def guard_kernel():
    """A sandboxed kernel that ran the guard lesson's solutions and the misbehaving functions above."""
    if not bubblewrap_works():
        pytest.fail("bubblewrap is needed (apt-get install bubblewrap): .ci/run installs it")
    source = nbformat.read(GUARD.source, as_version=4)
    work = Path(tempfile.mkdtemp(prefix="cnnbook-call-each-"))
    sandbox = Sandbox(work, Limits(memory_bytes=int(1.5 * 2 ** 30), cell_seconds=20))
    kernel = LearnerKernel(sandbox, sandbox.env(1), probes=lesson_probes(source))
    kernel.start()
    try:
        kernel.requests = []  # type: ignore[attr-defined]
        real = kernel.request_text

        def counting(request, timeout):
            kernel.requests.append(request["op"])  # type: ignore[attr-defined]
            return real(request, timeout)

        kernel.request_text = counting  # type: ignore[method-assign]
        for code in _learner_cells():
            run = kernel.execute(code, 60)
            assert run.status == "ok", run
        names = exercise_names(source) | {"leaves_at_3", "interrupts_at_3", "endless_at_5", "dies_at_2",
                                          "huge_at_2", "long_at_2", "sized", "always_equal", "mutates", "counted",
                                          "keeps_grad", "scales_weights", "same_array", "pretends_tensor", "wipes",
                                          "sorts_in_place"}
        yield kernel, sorted(names)
    finally:
        kernel.shutdown()
        shutil.rmtree(work, ignore_errors=True)


def _learner_cells() -> list[str]:
    code = [source for name, source in answer_sources(GUARD).items() if name != "why_pooling"]
    return ["import numpy as np\nimport torch\nfrom torch import nn", *code, LEARNER]


def judged(guard_kernel, body: str, seconds: float = 20, hidden: bool = False):
    kernel, names = guard_kernel
    head = "import numpy as np\nimport torch\nfrom torch import nn\nfrom cnnbook.checks import *\n"
    source = head + ("### BEGIN HIDDEN TESTS\n" + body + "\n### END HIDDEN TESTS" if hidden else body)
    kernel.requests.clear()
    outcome = run_test(source, kernel, seconds, names, exercise="batch")
    if outcome.status in ("timeout", "died"):
        kernel.restart()
        for code in _learner_cells():
            kernel.execute(code, 60)
    return outcome, list(kernel.requests)


@pytest.mark.slow
def test_a_batch_gives_what_the_calls_one_by_one_give_in_one_round_trip(guard_kernel):
    body = '''
values = [np.arange(float(n)) for n in (4, 6, 8, 12)]
cases = [(v, w) for v in values for w in (1, 2)] + [(values[0], 3), (values[0], 0)]
batch = call_each(group_max, cases)
for (v, w), case in zip(cases, batch):
    try:
        single = group_max(v, w)
    except Exception as err:
        check_true(f"group_max(..., {w}) raises", case.error is not None, "the batch returned a value")
        check_true("the same exception", type(case.error) is type(err) and str(case.error) == str(err),
                   f"{case.error!r} vs {err!r}")
        continue
    check_array(f"group_max(..., {w})", case.result(), single)
'''
    outcome, requests = judged(guard_kernel, body)
    assert outcome.status == "pass", outcome
    # one lookup, one batch, then the single calls of the comparison
    assert requests.count("call_each") == 1 and requests.count("call") == 10, requests


@pytest.mark.slow
def test_kwargs_results_by_reference_and_probes(guard_kernel):
    body = '''
layers = call_each(make_layer, [(1, 2), Args(3, out_channels=4), (0, 2)])
check_true("a layer", isinstance(layers[0].result(), nn.Conv2d), repr(layers[0].value))
check_value("its out_channels", layers[1].result().out_channels, 4)
check_true("the third raised", layers[2].error is not None or isinstance(layers[2].value, nn.Module), "?")
'''
    outcome, requests = judged(guard_kernel, body)
    assert outcome.status == "pass", outcome
    assert requests.count("call_each") == 1


@pytest.mark.slow
def test_a_large_batch_comes_back_in_several_replies(guard_kernel):
    body = '''
sizes = [300_000] * 12 + [5]
got = call_each(sized, [(n,) for n in sizes])
for n, case in zip(sizes, got):
    check_array(f"sized({n})", case.result(), np.full(n, 1.5))
'''
    outcome, requests = judged(guard_kernel, body, seconds=60)
    assert outcome.status == "pass", outcome
    assert 2 <= requests.count("call_each") <= 13, requests


@pytest.mark.slow
def test_the_calls_run_in_order_once_each(guard_kernel):
    outcome, _ = judged(guard_kernel, "check_value('order', [c.result() for c in call_each(counted, "
                                      "[(n,) for n in range(50)])][-3:], [48, 49, 50])\n"
                                      "check_value('counted(0)', counted(0), 51)")
    assert outcome.status == "pass", outcome


@pytest.mark.slow
@pytest.mark.parametrize("name, body, status, words", [
    ("SystemExit in case 3", "for n, c in zip(range(1, 6), call_each(leaves_at_3, [(n,) for n in range(1, 6)])):\n"
                             "    check_value(f'leaves_at_3({n})', c.result(), n * n)", "fail", "SystemExit"),
    ("KeyboardInterrupt in case 3", "call_each(interrupts_at_3, [(n,) for n in range(1, 6)])", "fail", ""),
    ("an endless case 5", "call_each(endless_at_5, [(n,) for n in range(1, 9)])", "timeout", ""),
    ("a case that kills the kernel", "call_each(dies_at_2, [(n,) for n in range(1, 4)])", "died", ""),
    ("a huge array", "for n, c in zip(range(1, 4), call_each(huge_at_2, [(n,) for n in range(1, 4)])):\n"
                     "    check_array(f'huge_at_2({n})', c.result(), np.zeros(3))", "fail", "array of numbers"),
    ("a list over the caps", "for n, c in zip(range(1, 4), call_each(long_at_2, [(n,) for n in range(1, 4)])):\n"
                             "    check_value(f'long_at_2({n})', c.result(), [0, 1, 2])", "fail", "too large"),
    ("an always-equal object", "for c in call_each(always_equal, [(1,), (2,)]):\n"
                               "    check_value('always_equal', c.result(), 3)", "fail", "always_equal"),
    ("mutates its arguments", "v = np.arange(8.0)\nfor c in call_each(mutates, [(v, 2), (v.copy(), 4)]):\n"
                              "    c.result()\ncheck_array('v after the call', v, np.arange(8.0))", "fail",
     "mutates changed what it was given"),
])
@pytest.mark.parametrize("hidden", [False, True])
def test_a_misbehaving_batch_is_the_learners_failure_never_the_graders(guard_kernel, name, body, status, words, hidden):
    outcome, _ = judged(guard_kernel, body, seconds=8, hidden=hidden)
    assert outcome.status == status, (name, outcome)
    assert "grader" not in outcome.message.lower() or status != "fail", outcome
    if words and not hidden:
        assert words.lower() in outcome.message.lower(), (name, outcome)


@pytest.mark.slow
def test_the_kernel_serves_single_calls_after_a_batch_that_raised(guard_kernel):
    judged(guard_kernel, "call_each(leaves_at_3, [(n,) for n in range(1, 6)])")
    outcome, _ = judged(guard_kernel, "check_value('leaves_at_3(2)', leaves_at_3(2), 4)")
    assert outcome.status == "pass", outcome


ALIASING = '''
grads = [torch.tensor([0.5, -1.0]), torch.tensor([0.2, 0.4])]
given = [g.clone() for g in grads]
w, state = torch.zeros(2), {}
for g in given:
    w, state = may_change(keeps_grad, 2)(w, g, state)
check_true("the state keeps the first gradient itself", state["buf"] is given[0], "a copy")
check_true("which the second step changed", not torch.equal(given[0], grads[0]), "unchanged")
check_array("the weights", w.numpy(), np.array([-0.1 * 0.5 - 0.1 * (0.9 * 0.5 + 0.2), 0.1 + 0.1 * (0.9 - 0.4)]),
            rtol=1e-6)
weights = [np.ones((2, 2)), np.full(3, 2.0)]
kept = weights[1]
out = may_change(scales_weights, 0)(weights, 2.0)
check_true("the list's arrays changed in place", float(kept.sum()) == 24.0 and float(weights[0].sum()) == 16.0,
           f"{weights}")
check_true("and come back as the caller's own", out[0] is weights[0] and out[1] is kept, "copies")
x, pair = np.arange(3.0), {"b": torch.ones(2)}
first, second = same_array(x, pair)
check_true("an argument returned is the argument", first is x and second is pair["b"], "copies")
for case in call_each(may_change(scales_weights, "weights", 0), [([np.ones(2)], 1.0), ([np.ones(2)], 3.0)]):
    check_true("call_each: changed in place too", float(case.result()[0].sum()) in (4.0, 12.0), f"{case.result()}")
'''


@pytest.mark.slow
def test_the_arguments_behave_through_the_wall_as_in_the_notebook(guard_kernel):
    """In the notebook a learner's function gets the test's own objects: a state that keeps the gradient it was
    given keeps the test's tensor, and arrays in a list it was given change in place. Through the wall it got
    copies, so a momentum update that changes the caller's gradient passed when graded and failed in the notebook
    (a learner's trial). Now both give the same verdict: the same checks pass in this process and through the wall."""
    space: dict = {}
    exec("import numpy as np\nimport torch\nfrom cnnbook.checks import *\n" + LEARNER + ALIASING, space)   # the notebook
    outcome, _ = judged(guard_kernel, ALIASING)
    assert outcome.status == "pass", outcome


UNCHANGED = '''
img, ker = np.arange(16.0).reshape(4, 4), np.ones((2, 2))
try:
    wipes(img, ker)
except CheckFailed as err:
    check_true("the call failed for changing its inputs", "wipes changed what it was given" in str(err), str(err))
else:
    check_true("the call failed for changing its inputs", False, "it passed")
check_array("the test's image is as it was", img, np.arange(16.0).reshape(4, 4))
check_array("the test's kernel is as it was", ker, np.ones((2, 2)))
events = [3, 1, 2]
try:
    sorts_in_place(events)
except CheckFailed as err:
    check_true("a list sorted in place fails the call", "its argument number 1" in str(err), str(err))
else:
    check_true("a list sorted in place fails the call", False, "it passed")
check_value("the test's list is as it was", events, [3, 1, 2])
for c in call_each(wipes, [(np.ones((3, 3)), np.ones((2, 2)))]):
    check_true("call_each: fails too", c.error is not None and "changed what it was given" in str(c.error), repr(c))
check_value("allowed, a list may change", may_change(sorts_in_place, 0)(events), 1)
'''


@pytest.mark.slow
def test_a_learner_call_that_changes_the_tests_inputs_fails_and_leaves_them_as_they_were(guard_kernel):
    """From a hostile trial: a conv2d_single that zeroed the image and the kernel it was given and returned zeros
    got full marks, because the hidden check computed correlate2d of the test's arrays after the call and the
    grader copied the learner's in-place changes into them. Now such a call fails, the test's arrays (and lists,
    a sort in place) stay as they were, and only arguments a test allows (may_change) change."""
    outcome, _ = judged(guard_kernel, UNCHANGED)
    assert outcome.status == "pass", outcome


@pytest.mark.slow
def test_a_learner_object_whose_class_says_torch_tensor_is_no_tensor_to_the_judge(guard_kernel):
    """From a hostile trial: a reference whose class claimed torch.Tensor got the real class here, and torch's C++
    code read the stand-in's memory as a tensor (the judge died: SIGSEGV). It is a stand-in class now."""
    outcome, _ = judged(guard_kernel, '''
fake = pretends_tensor(0)
check_true("a learner's class named torch.Tensor is no tensor here", not isinstance(fake, torch.Tensor), "it is")
try:
    torch.as_tensor(fake)
except Exception:
    pass
try:
    torch.ones(1).copy_(fake)
except Exception:
    pass
''')
    assert outcome.status == "pass", outcome


def test_a_malformed_change_report_is_ignored_never_the_graders_own_error():
    """From a hostile trial: a kernel whose shim reported a change at [numpy array, 1] made the grader raise numpy's
    ValueError ("truth value ... ambiguous") in the learner's test, a failure misreported as theirs. Entries that
    name no place among the call's arguments are ignored; a real one still fails the call, naming it."""
    import numpy as np

    from autograde.judge import _Wire
    from autograde.plain import encode

    wire = _Wire(lambda request, seconds: "", 5)
    x = np.arange(3.0)
    report = encode({"paths": [[[np.array([1, 2]), 1], None], [None, {"a": 1}], [[["args"], 0], None],
                               [["args", 0, np.ones(2), "v"], np.zeros(3)], [["kwargs", "k" * 1000], None]]},
                    lambda obj: None)
    refused = wire.settle(report, (x,), {}, "f")
    assert refused is not None and "f changed what it was given" in str(refused), refused
    assert "its argument number 1 (at ['v'])" in str(refused) and np.array_equal(x, np.arange(3.0))
    assert wire.settle(encode({"paths": [[[np.array([1, 2]), 1], None]]}, lambda obj: None), (x,), {}, "f") is None


def test_a_change_made_inside_a_probe_is_the_learners_code_changing_the_argument_by_its_name():
    """A probe (a lesson's @learner_side helper) runs the learner's code in their kernel: when a model changes the
    input it was given there, the failure named the probe and "its argument number 2", words the learner never
    wrote (a trial with real learner code: a ResidualBlock that adds into x in place). It is their code, and the
    argument has the name the test gave it."""
    import numpy as np

    from autograde.judge import _probe_words, _Wire
    from autograde.plain import encode

    wire = _Wire(lambda request, seconds: "", 5)
    x = np.arange(3.0)
    report = encode({"paths": [[["args", 2], None]]}, lambda obj: None)
    said = str(wire.settle(report, (1, 2, x), {}, _probe_words(), ("channels", "stride", "x")))
    assert said.startswith("your code (as the check ran it) changed what it was given"), said
    assert "its argument x" in said and "residual_block" not in said and "number" not in said, said
    unnamed = str(wire.settle(report, (1, 2, x), {}, _probe_words()))
    assert "its argument number 3" in unnamed, unnamed


def test_a_changed_input_is_said_per_argument_in_a_learners_words():
    """A learner's trial read "it wrote into its argument number 1[0], its argument number 1[1] (in place): the
    test's value is kept as it was" and could not tell what was meant: the places are grouped per argument, and
    the message says what writing in place looks like and what it does in the notebook."""
    from cnnbook.checks import changed_input

    said = str(changed_input("l2_grads", [["args", 0, 0], ["args", 0, 1], ["kwargs", "state", "v"]]))
    assert "l2_grads changed what it was given" in said
    assert "it changed its argument number 1 (at [0], [1]), its argument state (at ['v']) in place (as w *= 2" in said
    assert "x = x.copy()" in said
    whole = str(changed_input("", [["args", 1]]))
    assert "your function changed what it was given" in whole and "it changed its argument number 2 in place" in whole


def test_a_list_changed_in_place_is_said_with_the_remedy_for_lists():
    """A trial with real learner code: sort_events written as `events.sort(key=...)` (a common way) changed the
    test's list, and the failure's example and remedy were about arrays (x[0] = 1, x.copy(), x.clone()), which a
    learner sorting a list of dicts cannot use. When what changed is one of the test's lists or dicts (the list
    itself, or a dict inside it), the failure says it with list words; an array keeps the array words."""
    import numpy as np

    from autograde.judge import _Wire
    from autograde.plain import encode

    wire = _Wire(lambda request, seconds: "", 5)
    events = [{"year": 1989, "name": "LeNet"}, {"year": 1958, "name": "Perceptron"}]
    for where in (["args", 0], ["args", 0, 1, "name"]):
        said = str(wire.settle(encode({"paths": [[where, None]]}, lambda obj: None), (events,), {}, "sort_events"))
        assert said.startswith("sort_events changed what it was given"), said
        assert "items.sort()" in said and "sorted(items)" in said and "x.clone()" not in said, said
    said = str(wire.settle(encode({"paths": [[["args", 0], None]]}, lambda obj: None), (np.arange(3.0),), {}, "f"))
    assert "x = x.copy()" in said and "sorted(items)" not in said, said


class _LearnersObject:
    """What the judge holds of an object of the learner's kernel: its description (see shim._ref)."""

    def __init__(self, info):
        self._info = info


def test_a_layer_that_changes_its_input_is_named_by_its_class():
    """From a learner's trial: an in-place layer (nn.ReLU(inplace=True)) called by a test "changed what it was
    given", and the failure said "your function", a function the learner never wrote. A torch module is named by
    its one-line repr ("the module ReLU(inplace=True)"), a network by its class; a function keeps its name."""
    import numpy as np

    from autograde.judge import _function_name, _Wire
    from autograde.plain import encode
    from cnnbook.i18n import set_language

    module = ["torch.nn.modules.module.Module", "builtins.object"]
    relu = _LearnersObject({"type": "torch.nn.modules.activation.ReLU", "repr": "ReLU(inplace=True)",
                            "mro": ["torch.nn.modules.activation.ReLU", *module]})
    net = _LearnersObject({"type": "__main__.LeNet5", "repr": "LeNet5(\n  (features): Sequential(\n ...",
                           "mro": ["__main__.LeNet5", *module]})
    odd = _LearnersObject({"type": "__main__.Odd", "repr": "Odd(); import os", "mro": ["__main__.Odd", *module]})
    function = _LearnersObject({"type": "builtins.function", "repr": "<function conv2d at 0x7f>", "mro": []})
    plain = _LearnersObject({"type": "__main__.Thing", "repr": "Thing()", "mro": ["__main__.Thing"]})
    assert _function_name(relu) == "the module ReLU(inplace=True)"
    assert _function_name(net) == "the module LeNet5"
    assert _function_name(odd) == "the module Odd"
    assert _function_name(function) == "conv2d" and _function_name(plain) == ""

    wire = _Wire(lambda request, seconds: "", 5)
    report = encode({"paths": [[["args", 0], None]]}, lambda obj: None)
    said = str(wire.settle(report, (np.arange(3.0),), {}, _function_name(relu)))
    assert said.startswith("the module ReLU(inplace=True) changed what it was given"), said
    set_language("ko")
    try:
        said = str(wire.settle(report, (np.arange(3.0),), {}, _function_name(relu)))
    finally:
        set_language(None)
    assert said.startswith("모듈 ReLU(inplace=True)이(가) 바꾼 입력"), said
