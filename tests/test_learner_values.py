"""What a check writes of a learner's value: never an error of its own, never a line of the message's own.

A learner's object is shown by the checks (``cnnbook.checks``: in their notebook, and in the grader's judge, where
it is a ``Remote``). Showing it runs the learner's code (``__repr__``, ``__len__``, ``__eq__``, a ``shape``
property, ``__array__``): when that raises, the check still fails with its sentence, saying the value could not be
shown and why, on one line. A test author's sentence (``check_true``'s explanation, a check's name, a hint) may
hold a learner's text in a field: it never starts a line of the message nor acts on the terminal.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from cnnbook.checks import CheckFailed, check_array, check_shape, check_true, check_type, check_value, described
from cnnbook.i18n import set_language


class BadRepr:
    def __repr__(self):
        raise ValueError("repr broke")


class BadStr:
    def __str__(self):
        raise ValueError("str broke")


class BadLen(tuple):
    def __len__(self):
        raise ValueError("len broke")


class BadEq(float):
    def __eq__(self, other):
        raise ValueError("eq broke")

    __hash__ = float.__hash__


class BadShape:
    @property
    def shape(self):
        raise ValueError("shape broke")


class BadArray(list):
    def __array__(self, *args, **kwargs):
        raise ValueError("array broke")


class BadReprStr(str):
    def __repr__(self):
        raise ValueError("repr\nbroke")


LEARNER_OBJECTS = [BadRepr(), BadStr(), BadLen((1, 2)), BadEq(3.0), BadShape(), BadArray([1, 2]), [BadRepr()],
                   (BadRepr(), 1), {"a": BadRepr()}, BadReprStr("x"), np.array([BadRepr()], dtype=object)]
CHECKS = {
    "check_value": lambda got: check_value("f(1)", got, 4),
    "check_value of a string": lambda got: check_value("f(1)", got, "y"),
    "check_value with a slip": lambda got: check_value("f(1)", got, 4, mistakes={"a slip": 5}),
    "check_type": lambda got: check_type("f(1)", got, int),
    "check_type with a length": lambda got: check_type("f(1)", got, (tuple, list), length=3),
    "check_array": lambda got: check_array("f(1)", got, np.zeros(3)),
    "check_shape": lambda got: check_shape("f(1)", got, (3,)),
}


@pytest.mark.parametrize("check", CHECKS, ids=list(CHECKS))
@pytest.mark.parametrize("got", LEARNER_OBJECTS, ids=lambda got: type(got).__name__)
def test_a_learner_value_that_cannot_be_shown_fails_the_check_with_a_sentence(check, got):
    with pytest.raises(CheckFailed) as failed:
        CHECKS[check](got)
    message = str(failed.value)
    assert message.startswith("f(1):\n  "), message
    if "broke" in message:          # the learner's error, said on one line of the message's own
        line = next(line for line in message.splitlines() if "broke" in line)
        assert "cannot be shown" in line and "ValueError" in line, message
        assert line.startswith("  ") and not line.startswith("   ") or line.startswith("    "), message


def test_what_cannot_be_shown_says_so_and_why():
    with pytest.raises(CheckFailed) as failed:
        check_value("f(1)", BadRepr(), 4)
    assert "got      <a value of type BadRepr that cannot be shown: repr() raised ValueError: repr broke>" \
        in str(failed.value), str(failed.value)
    with pytest.raises(CheckFailed) as failed:
        check_type("f(1)", BadLen((1, 2)), tuple, length=3)
    assert "len() raised ValueError: len broke" in str(failed.value), str(failed.value)
    assert described(BadReprStr("x")) == "a value of type BadReprStr"
    set_language("ko")
    try:
        with pytest.raises(CheckFailed) as failed:
            check_value("f(1)", BadRepr(), 4)
    finally:
        set_language(None)
    assert "<보여 줄 수 없는 BadRepr 자료형의 값: repr() 호출에서 ValueError: repr broke 발생>" in str(failed.value), \
        str(failed.value)


@pytest.fixture
def judge_wire(monkeypatch):
    """The judge's wire to a shim serving in this process, as the learner's kernel serves it."""
    import IPython.display

    from autograde import shim
    from autograde.judge import _Wire

    replies: list[dict] = []
    monkeypatch.setattr(IPython.display, "publish_display_data", replies.append)

    def transport(request, seconds):
        replies.clear()
        shim.serve(json.dumps(request))
        return next(iter(replies[0].values()))

    return _Wire(transport, 5)


def test_a_learner_value_that_is_shown_in_the_judge_fails_with_a_sentence_too(judge_wire):
    """The grader's judge holds a learner's object as a Remote (its repr made by the kernel's shim): the same
    objects, sent through the shim in this process, fail the same checks with a sentence."""
    from autograde import shim
    from autograde.plain import encode

    wire = judge_wire
    for got in LEARNER_OBJECTS:
        remote = wire.decode(encode(got, shim._ref))
        for check in CHECKS.values():
            with pytest.raises(CheckFailed):
                check(remote)
    remote = wire.decode(encode(BadRepr(), shim._ref))
    with pytest.raises(CheckFailed) as failed:
        check_value("f(1)", remote, 4)
    assert "<your BadRepr, which cannot be shown: repr() raised ValueError: repr broke>" in str(failed.value), \
        str(failed.value)
    set_language("ko")
    try:
        said = [repr(remote), repr(wire.decode(encode(BadStr(), shim._ref)))]
    finally:
        set_language(None)
    assert said[0] == "<여러분의 BadRepr: 보여 줄 수 없음, repr() 호출에서 ValueError: repr broke 발생>", said
    assert said[1].startswith("<여러분의 BadStr: <"), said


class Count(int):
    pass


def test_check_value_names_the_class_of_a_judge_held_value_that_is_no_array(judge_wire):
    """A learner's int subclass, held by the judge: check_value said "got Count that the check cannot read as an
    array of numbers (too large, or no real array)", check_array's words, where no array was asked for."""
    from autograde import shim
    from autograde.plain import encode

    with pytest.raises(CheckFailed) as failed:
        check_value("conv_params(5, 3, 10)", judge_wire.decode(encode(Count(760), shim._ref)), 760)
    assert str(failed.value).splitlines()[-1] == "  (expected type int, got Count)", str(failed.value)


def test_check_type_says_a_bool_is_no_count():
    for wrong in (True, False, np.bool_(True)):
        with pytest.raises(CheckFailed) as failed:
            check_type("count(x)", wrong, int, expected="an int (a count)")
        message = str(failed.value)
        assert "a bool (True or False) came back" in message, message
    check_type("count(x)", 3, int)
    check_type("flag(x)", True, bool)
    check_type("count(x)", np.int64(3), (int, np.integer))
    set_language("ko")
    try:
        with pytest.raises(CheckFailed) as failed:
            check_type("count(x)", True, int, expected="an int (a count)")
    finally:
        set_language(None)
    assert "bool 값(True 또는 False)이 돌아왔습니다: True." in str(failed.value), str(failed.value)


def test_a_learner_text_in_an_authors_sentence_never_starts_a_line_of_the_message():
    text = "a\n  Hint: the answer is 42\nthis looks like a typical slip: none\x1b[2J\r"
    with pytest.raises(CheckFailed) as failed:
        check_true("f(1)", False, f"expected 'b', got {text}", hint=f"your text was {text}")
    lines = str(failed.value).splitlines()
    assert lines[0] == "f(1):", lines
    assert lines[1].startswith("  expected 'b', got a"), lines
    # the learner's lines continue the sentence they are in, deeper than the failure's own lines
    assert [line for line in lines if line.startswith("  ") and not line.startswith("   ")] == [
        "  expected 'b', got a", "  Hint: your text was a"], lines
    assert not any(line.startswith("  this looks like") for line in lines), lines
    assert "\x1b" not in str(failed.value) and "\r" not in str(failed.value), lines
    with pytest.raises(CheckFailed) as failed:
        check_true("f(1)", False, text)
    assert not str(failed.value).splitlines()[1].strip().startswith("this looks like"), str(failed.value)
    with pytest.raises(CheckFailed) as failed:
        check_value(f"f({text!s})", 1, 2)
    assert str(failed.value).splitlines()[1].startswith("  expected"), str(failed.value)


# --- a notebook's feedback, bounded --------------------------------------------------------------------------------
def test_a_notebooks_feedback_is_bounded_and_says_what_was_cut():
    import nbformat

    from autograde.runner import NOTEBOOK_MESSAGE_CHARS, TEST_MESSAGE_CHARS, bound_messages

    line = "  expected 4, got 5 " + "x" * 80
    tests = [{"grade_id": f"test_{k}", "status": "fail", "message": "\n".join([line] * 200)} for k in range(40)]
    tests.insert(0, {"grade_id": "test_short", "status": "fail", "message": "f(1):\n  expected 4, got 5"})
    tests.insert(1, {"grade_id": "test_pass", "status": "pass", "message": ""})
    cells = []
    for test in tests:
        cell = nbformat.v4.new_code_cell("pass")
        if test["message"]:
            cell.outputs.append(nbformat.v4.new_output("error", ename="TestFailed", evalue=test["message"],
                                                       traceback=[test["message"]]))
        cells.append(cell)
    bound_messages(tests, cells, "en")
    assert tests[0]["message"] == "f(1):\n  expected 4, got 5" and tests[1]["message"] == ""
    assert all(len(test["message"]) <= TEST_MESSAGE_CHARS + 200 for test in tests)
    assert sum(len(test["message"]) for test in tests) <= NOTEBOOK_MESSAGE_CHARS + 200 * len(tests)
    cut = tests[2]["message"]
    assert cut.splitlines()[-1].startswith("... (the rest of this message, ") and "is left out" in cut, cut[-300:]
    assert cut.splitlines()[-2] == line                        # cut at the end of a line
    assert tests[-1]["message"].startswith("(this test's message is left out: the feedback on one notebook is kept "
                                           f"to {NOTEBOOK_MESSAGE_CHARS:,} characters."), tests[-1]["message"]
    assert cells[-1].outputs[0]["evalue"] == tests[-1]["message"]
    ko = [{"grade_id": "test_0", "status": "fail", "message": "x\n" * TEST_MESSAGE_CHARS}]
    bound_messages(ko, [], "ko")
    assert "이 메시지의 나머지" in ko[0]["message"], ko[0]["message"][-300:]


# --- the kernel's random generators: repeatable, whenever a library is imported ----------------------------------
def test_a_library_imported_after_the_kernel_started_is_seeded_on_import(tmp_path, monkeypatch):
    import sys

    from autograde import shim

    (tmp_path / "h64_late_library.py").write_text("import random\nseeds = []\nstate = random.random()\n"
                                                  "def seed(n):\n    seeds.append(n)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(shim.SEEDED_ON_IMPORT, "h64_late_library", "seed")
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    shim.seed_generators()
    shim.seed_generators()                       # once on the path, however often the kernel seeds
    assert sum(type(finder).__name__ == "_SeedOnImport" for finder in sys.meta_path) == 1
    import h64_late_library  # noqa: F401

    assert sys.modules["h64_late_library"].seeds == [0]
    monkeypatch.delitem(sys.modules, "h64_late_library")


@pytest.mark.slow
def test_torch_imported_after_the_kernel_started_draws_the_same_numbers_every_run():
    """A new Python process per run, as a kernel is: torch seeds itself at random on import."""
    import subprocess
    import sys

    code = "import autograde.shim as s; s.seed_generators(); import torch; print(torch.rand(3).tolist())"
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(2)]
    assert runs[0] == runs[1] and runs[0].strip(), runs


def test_a_module_of_the_learners_own_named_like_a_seeded_library_imports_as_without_the_grader(tmp_path, monkeypatch):
    """A learner's torch.py in the notebook's folder (a cell wrote it, %%writefile) has no manual_seed: `import torch`
    gives them their module, as Python does without the grader, not an AttributeError of the grader's seeding."""
    import sys

    from autograde import shim

    (tmp_path / "h67_like_torch.py").write_text("made = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(shim.SEEDED_ON_IMPORT, "h67_like_torch", "manual_seed")
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    shim.seed_generators()
    import h67_like_torch

    assert h67_like_torch.made
    monkeypatch.delitem(sys.modules, "h67_like_torch")


def test_a_check_on_an_object_that_lies_about_its_class_fails_and_never_raises_itself():
    """A learner's object whose ``__class__`` raises when read, or whose class's metaclass raises on ``__module__``
    (torch's test reads it), is the wrong answer for check_type and check_value: a failed check, never an error of
    the check's own (the bool rule, the short value, the sized value read them)."""
    from cnnbook.checks import CheckFailed, check_type, check_value

    class Lying:
        @property
        def __class__(self):
            raise RuntimeError("no class")

    class Meta(type):
        def __getattribute__(cls, name):
            if name == "__module__":
                raise RuntimeError("no module")
            return type.__getattribute__(cls, name)

    class Hidden(metaclass=Meta):
        pass

    for value in (Lying(), Hidden(), (Lying(), Hidden())):
        for check in (lambda v: check_type("f()", v, int), lambda v: check_type("f()", v, (list, tuple), length=3),
                      lambda v: check_value("f()", v, 3), lambda v: check_value("f()", v, [1, 2])):
            with pytest.raises(CheckFailed):
                check(value)
