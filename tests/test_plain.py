"""The wall between the grader and a learner's kernel: what crosses it, and what does not."""
from __future__ import annotations

import ast
import json
import math
import subprocess
import sys
import time
import types

import nbformat
import numpy as np
import pytest
import torch
from conftest import GUARD

from autograde.judge import (_free_names, _prepare, _resolve, _Wire, exercise_names, lesson_probes, probe_hash,
                             run_here, split_hidden)
from autograde.kernel import CellTimeout
from autograde.plain import MAX_ITEMS, NotPlain, TooLarge, decode, encode, loads


def no_refs(obj):
    return None


def keep_refs(table):
    def ref(obj):
        table[id(obj)] = obj
        return {"$ref": id(obj)}
    return ref


@pytest.mark.parametrize("value", [
    None, True, 3, -2 ** 70, 2.5, "text", b"\x00\xff", 1 + 2j, [1, [2, 3]], (1, (2,)), {"a": (1, 2), 3: None},
    {1, 2}, slice(1, None, 2), range(0, 10, 3), np.arange(12, dtype=np.int16).reshape(3, 4),
    np.float32(1.5), np.dtype("float64"), torch.Size([2, 3]), torch.float16, torch.device("cpu"),
])
def test_plain_values_cross_unchanged(value):
    back = decode(encode(value, no_refs), lambda ref: pytest.fail("no references expected"))
    assert type(back) is type(value)
    if isinstance(value, np.ndarray):
        assert np.array_equal(back, value) and back.dtype == value.dtype
    else:
        assert back == value


def test_nan_and_infinity_survive_json():
    back = decode(encode([math.nan, math.inf], no_refs), None)
    assert math.isnan(back[0]) and back[1] == math.inf


def test_tensors_keep_values_dtype_and_whether_they_are_trainable():
    weight = torch.nn.Parameter(torch.randn(3, 2))
    frozen = torch.nn.Parameter(torch.randn(2), requires_grad=False)
    output = weight * 2                                   # computed: not a leaf
    w, f, o = decode(encode([weight, frozen, output], no_refs), None)
    assert torch.equal(w.detach(), weight.detach()) and w.requires_grad
    assert not f.requires_grad and not o.requires_grad
    meta = decode(encode(torch.empty(4, 5, device="meta"), no_refs), None)
    assert meta.device.type == "meta" and meta.shape == (4, 5)


class AlwaysEqual(int):
    def __eq__(self, other):
        return True


class Liar(np.ndarray):
    pass


@pytest.mark.parametrize("value", [AlwaysEqual(3), np.zeros(3).view(Liar), [1, AlwaysEqual(2)],
                                   lambda: 1, object(), np.array([object()])])
def test_lookalikes_and_code_never_pass_as_plain_data(value):
    with pytest.raises(NotPlain):
        encode(value, no_refs)
    table = {}
    assert "$ref" in str(encode(value, keep_refs(table)))


def test_the_grader_refuses_pickles_and_unknown_modules():
    with pytest.raises(NotPlain):
        decode({"$nd": {"data": "", "dtype": "|O", "shape": [0]}}, None)
    with pytest.raises(NotPlain):
        decode({"$module": "learner_module"}, None)
    with pytest.raises(NotPlain):
        decode({"$pickle": "gASV"}, None)


# --- nothing a message names is ever imported or looked up ------------------------------------------------
NAMED_MODULES = ["unittest.__main__", "this", "antigravity", "numpy.f2py.__main__", "pip.__main__", "os", "math"]


def _imports_in_a_fresh_interpreter(code: str) -> set[str]:
    """Run ``code`` in a new interpreter and return the modules it imported beyond what setting up needed."""
    script = f"""
import sys, json
import numpy, torch
from autograde.plain import decode, NotPlain
from autograde.judge import _resolve, _Wire
before = set(sys.modules)
{code}
print(json.dumps(sorted(set(sys.modules) - before)))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_a_module_crosses_only_as_a_reference():
    with pytest.raises(NotPlain):
        encode(math, no_refs)
    table = {}
    assert "$ref" in encode(types.ModuleType("unittest.__main__"), keep_refs(table))
    assert "$ref" in encode([np, torch], keep_refs(table))["$list"][1]


def test_the_decoder_never_imports_a_module_a_message_names():
    new = _imports_in_a_fresh_interpreter(f"""
for name in {NAMED_MODULES!r}:
    for message in ({{"$module": name}}, {{"$tdtype": name}}, {{"$npdtype": name}}, {{"$device": name}},
                    {{"$meta": [1], "dtype": name}}, {{name: 1}}):
        try:
            decode(message, None)
            raise SystemExit("decoded " + repr(message))
        except NotPlain:
            pass
""")
    assert not new & set(NAMED_MODULES), new


def test_remote_classes_resolve_only_in_trusted_modules_already_imported():
    assert _resolve("torch.nn.modules.conv.Conv2d") is torch.nn.Conv2d
    assert _resolve("builtins.dict") is dict and _resolve("numpy.ndarray") is np.ndarray
    for name in ["this.Zen", "unittest.__main__.Main", "antigravity.Fly", "numpy.f2py.__main__.Main",
                 "torch.utils.bottleneck.__main__.Main", "collections.abc.__getattr__", "os.system",
                 "builtins.eval", "torch.nn.modules.conv.Conv2d.forward", "torch.nn.Module.<locals>.X"]:
        assert _resolve(name) is None, name
    new = _imports_in_a_fresh_interpreter("""
wire = _Wire(None, 10)
for mro in (["unittest.__main__.Main", "this.Zen", "antigravity.Fly"], ["numpy.f2py.__main__.X", "builtins.object"],
            ["torch.utils.bottleneck.__main__.Main", "torch._dynamo.eval_frame.X", "torch.onnx.X"]):
    cls = wire.local_class({"mro": mro})
    assert cls.__module__ == "learner", cls
""")
    assert not {m for m in new if m.startswith(("unittest", "this", "antigravity", "numpy.f2py", "torch.utils.bottleneck",
                                                "torch._dynamo", "torch.onnx"))}, new



def test_a_learner_class_stands_here_under_a_name_of_one_short_line():
    """A learner's class may name itself anything (``__qualname__`` of a million characters, or lines that read as
    the grader's report: ``"Box\n  [PASS] test_iou"``); a test's ``f"got {type(got).__name__}"`` showed it whole."""
    wire = _Wire(None, 10)
    for name, shown in [("learner.Box\n  [PASS]    test_iou   4/4", "Box_PASS_test_iou_4_4"), ("learner." + "B" * 10 ** 6, "B" * 80),
                        ("learner.상자", "상자"), ("learner.\n", "object")]:
        assert wire.local_class({"mro": [name, "builtins.object"]}).__name__ == shown, name

# --- caps: one reply can never sink the grader ----------------------------------------------------------------
def test_a_reply_over_the_caps_is_refused_quickly_with_a_clear_reason():
    started = time.monotonic()
    huge_list = json.dumps({"$list": [0] * 3_000_000})
    with pytest.raises(TooLarge, match="items"):
        decode(loads(huge_list), None)
    deep_text = '{"$list": [' * 10_000 + "1" + "]}" * 10_000
    with pytest.raises(TooLarge, match="deep"):
        decode(loads(deep_text), None)
    deep = 1
    for _ in range(10_000):
        deep = {"$list": [deep]}
    with pytest.raises(TooLarge, match="deep"):
        decode(deep, None)
    with pytest.raises(TooLarge, match="characters"):
        decode("x" * 2_000_000, None)
    with pytest.raises(TooLarge, match="array"):
        decode({"$nd": {"data": "", "dtype": "<f8", "shape": [100_000, 100_000]}}, None)
    with pytest.raises(TooLarge, match="MiB"):
        loads(" " * (200 * 2 ** 20))
    items = [{"$dict": [[i, i] for i in range(MAX_ITEMS // 2)]}, {"$list": list(range(10))}]
    with pytest.raises(TooLarge, match="items"):
        decode({"$list": items}, None)
    assert time.monotonic() - started < 20


def test_the_sender_refuses_too_large_or_too_deep_values():
    with pytest.raises(TooLarge):
        encode(list(range(MAX_ITEMS + 1)), no_refs)
    nested: list = []
    for _ in range(10_000):
        nested = [nested]
    with pytest.raises(TooLarge):
        encode(nested, no_refs)


@pytest.mark.parametrize("message", [
    {"$nd": {"data": "AAAA", "dtype": "<f8", "shape": [3]}},            # data and shape disagree
    {"$nd": {"data": "!!", "dtype": "<f8", "shape": [0]}},
    {"$nd": {"data": "", "dtype": "<f8", "shape": [-1]}},
    {"$nd": {"data": "", "dtype": "V8", "shape": [0]}},
    {"$nd": {"data": "", "dtype": "(3,)f8", "shape": [0]}},
    {"$nd": "x"}, {"$set": [{"$list": [1]}]}, {"$dict": [[1]]}, {"$int": "1" * 10_000}, {"$float": "pi"},
    {"$range": [1, 2, 0]}, {"$range": ["a", 1, 1]}, {"$slice": [1]}, {"$tdtype": "nn"}, {"$tdtype": "__class__"},
    {"$device": "cuda:0; import os"}, {"$meta": [1, -2], "dtype": "float32"}, {"$size": ["a"]},
    {"$tensor": {"data": "", "dtype": "|b1", "shape": [1]}}, {"$bytes": 3}, {"$name": ["max"]}, [1, 2], {},
])
def test_malformed_messages_are_refused_as_not_plain(message):
    with pytest.raises(NotPlain):
        decode(message, None)


def test_replies_that_are_not_json_are_refused():
    for text in ("{", "NaN garbage", "\x00"):
        with pytest.raises(NotPlain):
            loads(text)


# --- interned strings: `mode is "max"` behaves as in Jupyter ---------------------------------------------------
def test_interned_strings_stay_interned_and_built_strings_do_not():
    literal = "max"
    built = "".join(["m", "a", "x"])  # noqa: FLY002 - built at run time on purpose
    assert encode(literal, no_refs) == {"$name": "max"}
    assert encode(built, no_refs) == "max"
    wire_form = json.loads(json.dumps(encode([literal, built], no_refs)))
    kernel_side = decode(wire_form, None, intern=True)
    assert kernel_side[0] is literal and kernel_side[1] is not literal and kernel_side[1] == "max"
    grader_side = decode(wire_form, None)
    assert grader_side == ["max", "max"]
    fresh = "".join(["never", "_seen_", "before_7f3a"])  # noqa: FLY002
    assert encode(fresh, no_refs) == fresh           # asking does not intern the string itself
    assert sys.intern("".join(["never", "_seen_", "before_7f3a"])) is not fresh  # noqa: FLY002


# --- what a test may read from the notebook ---------------------------------------------------------------------
def test_exercise_names_are_the_top_level_names_of_answer_cells_without_imports():
    nb = nbformat.v4.new_notebook()
    answer = {"nbgrader": {"solution": True, "grade_id": "a"}}
    nb.cells = [
        nbformat.v4.new_code_cell("import numpy as np\nMILESTONES = [1]", metadata={}),
        nbformat.v4.new_code_cell("import torch\nfrom math import pi\ndef f(x):\n    inner = 1\n    return x\n"
                                  "class Net:\n    size = 2\nTABLE, (a, b) = {}, (1, 2)\nif True:\n    g = 3\n"
                                  "for k in range(2):\n    pass\ntry:\n    h = 1\nexcept Exception:\n    e = 2",
                                  metadata=answer),
        nbformat.v4.new_markdown_cell("why = 1", metadata=answer),
        nbformat.v4.new_code_cell("this is not python", metadata=answer),
    ]
    assert exercise_names(nb) == {"f", "Net", "TABLE", "a", "b", "g", "k", "h", "e"}
    assert exercise_names(nbformat.read(GUARD.source, as_version=4)) == {"group_max", "pool", "make_layer"}


class FakeKernel:
    """A stand-in for the shim: answers lookups from a dict and records every request."""

    def __init__(self, names: dict):
        self.names = names
        self.requests: list[dict] = []

    def __call__(self, request: dict, seconds: float) -> str:
        self.requests.append(request)
        if request["op"] == "lookup":
            if request["name"] not in self.names:
                return json.dumps({"error": {"type": "NameError", "message": f"name {request['name']!r} is not defined"}})
            return json.dumps({"value": encode(self.names[request["name"]], no_refs)})
        raise AssertionError(f"unexpected request {request}")


def test_a_test_reads_only_exercise_names_from_the_notebook():
    fake_np = {"allclose": 1}
    kernel = FakeKernel({"answer": [1, 2, 3], "np": fake_np, "LIMIT": 99})
    source = "import numpy as np\nfrom cnnbook.checks import check_value\ncheck_value('answer', answer, [1, 2, 3])"
    outcome = run_here(source, kernel, 10, ["answer"])
    assert outcome.status == "pass", outcome
    assert [r["name"] for r in kernel.requests] == ["answer"]

    outcome = run_here("from cnnbook.checks import check_value\ncheck_value('answer', len(answer), LIMIT)", kernel, 10,
                       ["answer"])
    assert outcome.status == "grader-error" and "'LIMIT'" in outcome.message, outcome
    assert "LIMIT" not in [r["name"] for r in kernel.requests]

    outcome = run_here("x = np.zeros(3)", kernel, 10, ["answer"])
    assert outcome.status == "grader-error" and "'np'" in outcome.message
    outcome = run_here("missing(1)", kernel, 10, ["missing"])
    assert outcome.status == "fail" and "is the answer cell that defines it there" in outcome.message
    assert outcome.message.startswith("missing is not defined in your notebook."), outcome.message   # not Python's


def test_a_visible_part_reports_what_it_printed_before_the_hidden_part_runs():
    seen = []
    outcome = run_here("print('visible')\n### BEGIN HIDDEN TESTS\nprint('hidden')\nraise ValueError('x')\n"
                       "### END HIDDEN TESTS", FakeKernel({}), 10, [], on_visible_done=seen.append)
    assert seen == ["visible\n"] and outcome.printed == "visible\n" and outcome.status == "fail" and outcome.hidden


def test_a_wire_past_its_deadline_asks_nothing():
    kernel = FakeKernel({"answer": 1})
    wire = _Wire(kernel, 0.0)
    with pytest.raises(CellTimeout):
        wire.ask({"op": "lookup", "name": "answer"})
    assert kernel.requests == []


class ForgingKernel:
    """A kernel whose code rewrote the shim: it answers each lookup with raw reply text of its choice; a call of
    ``f`` or of a probe answers as ``on_call`` says."""

    def __init__(self, replies: dict[str, str], on_call: str = json.dumps({"value": 1})):
        self.replies, self.on_call = replies, on_call
        self.requests: list[dict] = []

    def __call__(self, request: dict, seconds: float) -> str:
        self.requests.append(request)
        if request["op"] == "lookup":
            return self.replies[request["name"]]
        return self.on_call


_F = json.dumps({"value": {"$ref": 1, "type": "builtins.function", "mro": ["builtins.function", "builtins.object"],
                           "repr": "<function f>", "callable": True}})


def _nested(depth: int) -> dict:
    value: object = 1
    for _ in range(depth):
        value = {"$list": [value]}
    return value  # type: ignore[return-value]


@pytest.mark.parametrize("name, reply, status", [
    ("a bfloat16 meta tensor", {"$meta": [2, 3], "dtype": "bfloat16"}, "pass"),
    ("a tensor sent by value past the shim's own limit",
     {"$tensor": {"data": __import__("base64").b64encode(bytes(4 * 3_000_000)).decode(), "dtype": "<f4",
                  "shape": [3_000_000]}, "requires_grad": False}, "pass"),
    ("a list nested as deep as a reply may be", _nested(64), "fail"),
])
def test_whatever_a_reply_decodes_to_a_test_can_hand_back_to_learner_code(name, reply, status):
    """A kernel may answer with anything the decoder takes. When a test passes that answer on to the learner's
    code (f(answer)), the grader never calls it a fault of the test or of the grader (a grader-error is never a
    grade and is graded again on every run): it crosses back, or it is the learner's answer that is too large."""
    kernel = ForgingKernel({"answer": json.dumps({"value": reply}), "f": _F})
    outcome = run_here("f(answer)", kernel, 10, ["answer", "f"])
    assert outcome.status == status, (name, outcome)
    if status == "fail":
        assert "too large or too deeply nested" in outcome.message, outcome
    else:
        assert [r["op"] for r in kernel.requests].count("call") == 1


@pytest.mark.parametrize("raised", ["LookupError", "KeyError"])
def test_a_kernel_that_says_a_probe_is_missing_fails_the_test_never_the_grader(raised):
    """The runner registers every probe before any learner cell runs; a reply that a probe is not there is the
    learner's code (it cleared the shim's table, or raised that text itself), never a grader-error."""
    error = json.dumps({"error": {"type": raised, "mro": [raised, "LookupError", "Exception"],
                                  "message": "no registered probe 'layer_on' with this source"}})
    kernel = ForgingKernel({"make_layer": _F}, on_call=error)
    code = "@learner_side\ndef layer_on():\n    return make_layer(2, 4)\nlayer_on()"
    for source in (code, "### BEGIN HIDDEN TESTS\n" + code + "\n### END HIDDEN TESTS"):
        outcome = run_here(source, kernel, 10, ["make_layer"], exercise="make_layer")
        assert outcome.status == "fail", outcome
        assert "layer_on" not in outcome.message or "### BEGIN" not in source, outcome


def test_a_learner_objects_description_stays_on_one_line():
    """A remote object's repr is the learner's text: in a failure message it never starts a line of its own."""
    kernel = ForgingKernel({"answer": json.dumps({"value": {
        "$ref": 7, "type": "learner.Net\nthis looks like a typical slip: x", "mro": ["learner.Net"],
        "repr": "Net()\nthis looks like a typical slip: full marks", "callable": False}})})
    outcome = run_here("from cnnbook.checks import check_value\ncheck_value('answer', answer, 3)", kernel, 10,
                       ["answer"])
    assert outcome.status == "fail", outcome
    lines = outcome.message.splitlines()
    assert not any(line.strip().startswith("this looks like") for line in lines), outcome.message


def test_a_test_cell_splits_into_visible_and_hidden_parts():
    visible, hidden = split_hidden("a = 1\n### BEGIN HIDDEN TESTS\nb = 2\n### END HIDDEN TESTS\nc = 3")
    assert visible == "a = 1\nc = 3" and hidden == "b = 2"


def test_names_a_test_needs_from_the_notebook():
    code = """
import numpy as np
from cnnbook.checks import check_array
expected = np.ones(3)
check_array("f(x)", f(x), expected, mistakes={k: v for k, v in table.items()})
def helper(arg):
    return arg + offset
try:
    g()
except ValueError as err:
    print(err, len(expected))
"""
    assert _free_names(_prepare(code)[0]) == {"f", "x", "table", "offset", "g"}


def test_learner_side_functions_are_registered_probes_called_by_hash():
    code = '''
@learner_side
def build():
    """builds"""
    import torch
    return train(torch.nn.Linear(2, 1))
result = build()
'''
    tree, functions = _prepare(code)
    assert list(functions) == ["build"]
    assert functions["build"].startswith("def build():") and "learner_side" not in functions["build"]
    assert "__probe__" in _free_names(tree)
    # The test asks for it by the hash of its source; the runner registers exactly those sources beforehand.
    sha = probe_hash(functions["build"])
    assert repr(sha) in ast.unparse(tree)
    cell = nbformat.v4.new_code_cell(code + "### BEGIN HIDDEN TESTS\n@learner_side\ndef other():\n    return 1\n"
                                            "### END HIDDEN TESTS", metadata={"nbgrader": {"grade": True}})
    probes = lesson_probes(nbformat.v4.new_notebook(cells=[cell]))
    assert probes[sha] == functions["build"] and len(probes) == 2


_WAITS = ("print('visible')\nkept = len(answer)\n### BEGIN HIDDEN TESTS\nprint('hidden')\n"
          "from cnnbook.checks import check_value\ncheck_value('len(answer)', kept, 3)\n### END HIDDEN TESTS")


def test_a_hidden_part_waits_in_its_own_tests_namespace():
    """With ``defer``, a test runs its visible part only and keeps its namespace; the hidden part runs later in it,
    on what the visible part looked up, whatever the notebook's name holds by then. Without the kept namespace
    (the judge or the kernel was replaced) the whole test runs again from fresh look-ups, and a failure is told
    as a hidden one; a failing visible part is final, and a test without a hidden part is never pending."""
    from autograde.judge import forget_pending, run_hidden_here

    kernel = FakeKernel({"answer": [1, 2, 3]})
    outcome = run_here(_WAITS, kernel, 10, ["answer"], exercise="answer", defer="a")
    assert (outcome.status, outcome.printed) == ("pending", "visible\n"), outcome
    kernel.names["answer"] = [9]                                  # a later cell binds the name to something else
    outcome = run_hidden_here("a", _WAITS, kernel, 10, ["answer"], exercise="answer")
    assert (outcome.status, outcome.printed) == ("pass", ""), outcome
    outcome = run_hidden_here("a", _WAITS, kernel, 10, ["answer"], exercise="answer")   # used up: all again
    assert outcome.status == "fail" and outcome.hidden and outcome.printed == "", outcome
    assert outcome.message.startswith("answer: a hidden check failed") and "[9]" not in outcome.message, outcome

    kernel.names["answer"] = [1, 2, 3]
    assert run_here(_WAITS, kernel, 10, ["answer"], exercise="answer", defer="b").status == "pending"
    kernel.names["answer"] = [9]
    forget_pending()
    assert run_hidden_here("b", _WAITS, kernel, 10, ["answer"], exercise="answer").status == "fail"

    outcome = run_here(_WAITS.replace("kept = len(answer)", "assert len(answer) == 3, len(answer)"), kernel, 10,
                       ["answer"], exercise="answer", defer="c")
    assert outcome.status == "fail" and not outcome.hidden and outcome.message == "AssertionError: 1", outcome
    assert run_here("x = len(answer)", kernel, 10, ["answer"], defer="d").status == "pass"


def test_the_settings_a_hidden_part_gets_back_are_those_its_place_had():
    """shim.settings/put_back: torch's default dtype, grad and anomaly modes, numpy's error handling and the global
    random generators (Python's, numpy's, torch's), as a test's place left them, whatever a later cell set or drew."""
    import random

    import numpy as np
    import torch

    from autograde.shim import put_back, settings

    before = settings()
    try:
        kept = settings()
        draws = (random.random(), np.random.rand(), float(np.random.randn()), torch.rand(1).item())
        put_back(kept)
        torch.set_default_dtype(torch.float64)
        torch.set_grad_enabled(False)
        torch.set_anomaly_enabled(True)
        np.seterr(all="raise")
        random.seed(1)
        np.random.seed(1)
        torch.manual_seed(1)
        np.random.randn()                  # numpy keeps the second of each pair of normal draws
        assert settings() != kept
        put_back(kept)
        assert settings() == kept
        assert torch.get_default_dtype() == torch.float32 and torch.is_grad_enabled()
        assert not torch.is_anomaly_enabled() and np.geterr()["divide"] != "raise"
        assert (random.random(), np.random.rand(), float(np.random.randn()), torch.rand(1).item()) == draws
    finally:
        put_back(before)


_FILLS_THE_MEMORY = """
import resource, sys
import autograde.shim as shim
if sys.argv[1] == "without the reserve":
    shim._reserve.close()
    shim._reserve = None
size = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024 + 100 * 2 ** 20
resource.setrlimit(resource.RLIMIT_AS, (size, size))     # as prlimit --as limits a kernel
hog, chunk = [], 2 ** 20
while chunk >= 8:                                         # the learner's arrays, up to the last few bytes
    try:
        hog.append(bytearray(chunk))
    except MemoryError:
        chunk //= 2
print(shim.intact())
"""


@pytest.mark.parametrize("reserve, said", [("with the reserve", "True"), ("without the reserve", "None")])
def test_a_kernel_at_its_memory_limit_is_not_called_a_tamperer(reserve, said):
    """shim.intact in a process whose address space is full to the last bytes (the memory limit reached by the
    learner's own arrays): it gives back the address space it keeps for this and checks; without that reserve it
    says it could not tell (None), never False (which raised the tampering flag on an honest notebook)."""
    run = subprocess.run([sys.executable, "-c", _FILLS_THE_MEMORY, reserve], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == [said], (run.stdout, run.stderr)


@pytest.mark.parametrize("intact, flag", [(True, None), (None, "unverified"), (False, "tampering"),
                                          ("missing", "tampering")])
def test_what_a_measurement_says_of_its_own_code_decides_the_flag(intact, flag):
    """A measure reply that says its code is intact raises no flag; one that could not tell raises
    ``unverified`` (the runner's measurement-unverified); one that says it changed, or says nothing (a reply server
    of the learner's own), raises tampering."""
    report = {"lines": 3, "stopped": False, "forbidden": [], "raised": None, "tampered": False}
    if intact != "missing":
        report["intact"] = intact
    kernel = ForgingKernel({"f": _F}, on_call=json.dumps({"value": encode(report, no_refs)}))
    outcome = run_here("from cnnbook.checks import measure_call\nassert measure_call(f)['lines'] == 3", kernel, 10,
                       ["f"])
    assert outcome.status == "pass", outcome
    assert [r["op"] for r in kernel.requests] == ["lookup", "measure"]
    assert (outcome.tampering, outcome.unverified) == (flag == "tampering", flag == "unverified"), outcome


# --- the judge process: a test's checking runs under the learner's limits, apart from the worker -------------------
class JudgedKernel(FakeKernel):
    """What run_in_judge needs of a LearnerKernel: its limits, and raw replies."""

    class limits:
        memory_bytes = int(1.5 * 2 ** 30)

    def request_text(self, request: dict, timeout: float) -> str:
        return self(request, timeout)


@pytest.mark.slow  # starts judge processes (each imports torch) and fills one's memory
def test_the_judge_process_contains_memory_and_time_bombs_and_is_replaced():
    from autograde.judge_process import run_in_judge, stop_judge

    kernel = JudgedKernel({"answer": list(range(900_000))})
    try:
        outcome = run_in_judge("print('hello')\nfrom cnnbook.checks import check_value\n"
                               "check_value('len(answer)', len(answer), 900_000)", kernel, 30, ["answer"])
        assert (outcome.status, outcome.printed) == ("pass", "hello\n"), outcome
        started = time.monotonic()
        outcome = run_in_judge("pairs = [(a, b) for a in answer for b in answer if a < b]", kernel, 60, ["answer"])
        assert outcome.status == "fail" and outcome.message.startswith("the test ran out of memory"), outcome
        assert time.monotonic() - started < 60
        started = time.monotonic()
        outcome = run_in_judge("print('visible')\n### BEGIN HIDDEN TESTS\nwhile True:\n    pass\n"
                               "### END HIDDEN TESTS", kernel, 3, ["answer"])
        assert outcome.status == "timeout" and outcome.printed == "visible\n", outcome
        # stopped near its 3 s limit; the time also covers starting a new judge (the last one ran out of
        # memory), which imports torch: seconds on a busy 2-core machine
        assert time.monotonic() - started < 3 + 30
        outcome = run_in_judge("assert len(answer) == 900_000", kernel, 30, ["answer"])
        assert outcome.status == "pass", outcome
    finally:
        stop_judge()


@pytest.mark.slow  # starts a judge process
def test_the_judge_knows_the_lesson_whose_test_it_runs():
    """A lesson's f-string sentences are translated by its own catalog only (cnnbook.i18n.current_lesson): the
    judge, which runs every lesson's tests, is told each time which lesson's test it runs, and forgets it after."""
    from autograde.judge_process import run_in_judge, stop_judge

    asks = "from cnnbook.i18n import current_lesson\nassert current_lesson(['03_x', '04_x']) == {!r}\n"
    kernel = JudgedKernel({})
    try:
        assert run_in_judge(asks.format("04_x"), kernel, 30, [], lesson="04_x").status == "pass"
        assert run_in_judge(asks.format("03_x"), kernel, 30, [], lesson="03_x").status == "pass"
        assert run_in_judge(asks.format(None), kernel, 30, []).status == "pass"
    finally:
        stop_judge()


class _ByValueKernel(JudgedKernel):
    """Answers every lookup with its value as data, arrays of up to 64 MiB included (what a learner may return)."""

    def request_text(self, request: dict, timeout: float) -> str:
        from autograde.plain import MAX_ELEMENTS

        return json.dumps({"value": encode(self.names[request["name"]], no_refs, by_value=MAX_ELEMENTS)})


@pytest.mark.slow  # starts a judge process (it imports torch)
def test_what_one_test_bound_never_weighs_on_the_next_in_the_same_judge():
    """The judge is reused for the next test and the next submission, under one memory limit. A test that binds a
    learner's answer next to a function it defines (the function refers to the test's namespace: a cycle) kept the
    answer until Python's next full collection: twelve tests holding a 64 MB answer each made the judge hold 750 MB
    more, and the next test, maybe another learner's, that needs 320 MB 'ran out of memory' (a fail of theirs)."""
    import numpy as np

    from autograde.judge_process import judge_pid, run_in_judge, stop_judge

    kernel = _ByValueKernel({"answer": np.ones(8_000_000)})          # 64 MB, within one reply's caps
    try:
        assert run_in_judge("x = 1", kernel, 60, ["answer"]).status == "pass"
        judge = judge_pid()
        for _ in range(12):
            outcome = run_in_judge("got = answer\ndef helper(v):\n    return v\n",
                                   kernel, 60, ["answer"])
            assert outcome.status == "pass", outcome
        outcome = run_in_judge("import numpy as np\nmine = np.ones(40_000_000)\n", kernel, 60, [])
        assert outcome.status == "pass", outcome
        assert judge_pid() == judge                     # the same judge: nothing ran out of memory on the way
    finally:
        stop_judge()


def answer_step(text):
    """A step of the runner's plan: an answer cell (nbgrader solution) holding ``text``."""
    return ("code", nbformat.v4.new_code_cell(text, metadata={"nbgrader": {"solution": True}}))


def failed_test_cell(message):
    """A graded test cell whose output says it failed with ``message``."""
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [nbformat.v4.new_output("error", ename="TestFailed", evalue=message, traceback=[message])]
    return cell


def test_a_failed_test_names_an_earlier_failed_answer_its_code_reads():
    """runner._point_to_earlier_failures: the hint goes to a failed test whose region of learner code reads a name an
    earlier region bound last and whose test failed; not when the region binds the name itself, not to a test that
    passed, and in the learner's language."""
    from autograde.runner import _point_to_earlier_failures

    test = ("test", nbformat.v4.new_code_cell("# test"))
    nested_past_the_parser = answer_step("x = " + "-" * 1_000_000 + "1")        # ast.parse: MemoryError, skipped
    steps = [nested_past_the_parser, answer_step("def a():\n    return 1"), test,
             answer_step("def b():\n    return a() + 1"), test,
             ("code", nbformat.v4.new_code_cell("print(b(), a())")),      # a lesson's cell: not the learner's answer
             answer_step("def a():\n    return 2\n\n\ndef c():\n    return a() + b()"), test, answer_step("d = b"), test]
    statuses = ["fail", "fail", "fail", "pass"]
    tests = [{"grade_id": f"test_{n}", "status": s, "message": f"m{n}"} for n, s in zip("abcd", statuses)]
    cells = [failed_test_cell(t["message"]) for t in tests]
    _point_to_earlier_failures(steps, tests, cells, "en", set("abcd"))
    assert [t["message"] for t in tests] == [
        "ma", "mb\nYour code here uses a, which did not pass its own test (test_a): fix a first, then check this "
        "exercise again.", "mc\nYour code here uses b, which did not pass its own test (test_b): fix b first, then "
        "check this exercise again.", "md"]
    assert cells[1].outputs[0]["evalue"] == tests[1]["message"] == cells[1].outputs[0]["traceback"][0]
    tests = [{"grade_id": f"test_{n}", "status": s, "message": ""} for n, s in zip("abcd", statuses)]
    _point_to_earlier_failures(steps, tests, [failed_test_cell("") for _ in tests], "ko", set("abcd"))
    assert tests[1]["message"].startswith("이 답의 코드가 쓰는 a이(가) 자신의 테스트(test_a)를"), tests[1]["message"]
    tests = [{"grade_id": f"test_{n}", "status": s, "message": "m"} for n, s in zip("abcd", statuses)]
    # a, b: not exercises' names
    _point_to_earlier_failures(steps, tests, [failed_test_cell("m") for _ in tests], "en", {"c"})
    assert [t["message"] for t in tests] == ["m"] * 4


def test_a_failed_test_does_not_name_an_earlier_answer_it_runs_the_courses_own_version_of():
    """A Korean learner's trial (lesson 04): depthwise_separable_cost returned None, and the self-check added "fix
    layer_shapes first" though the test runs it with the course's own layer_shapes and conv_macs (`course_backed`):
    the learner's broken layer_shapes could not have caused it, and the notebook's box did not say it. A test cell
    that defines `course_<name>` runs the course's <name> in place of the learner's; the hint leaves <name> out."""
    from autograde.runner import _point_to_earlier_failures

    standing_in = ("test", nbformat.v4.new_code_cell(
        "def course_backed(name):\n    def course_a():\n        return 1\n    return name\n"))
    plain = ("test", nbformat.v4.new_code_cell("# test"))
    steps = [answer_step("def a():\n    return 0"), plain, answer_step("def b():\n    return a() + 1"), standing_in,
             answer_step("def c():\n    return a() + b()"), plain]
    tests = [{"grade_id": f"test_{n}", "status": "fail", "message": f"m{n}"} for n in "abc"]
    _point_to_earlier_failures(steps, tests, [failed_test_cell(t["message"]) for t in tests], "en", set("abc"))
    assert tests[1]["message"] == "mb", tests[1]
    assert "uses a," in tests[2]["message"] and "uses b," in tests[2]["message"], tests[2]


# The kernel's error outputs for answer cells that stopped (ipykernel 7 / IPython 9, as the grader's kernel sends them).
_SYNTAX_OUTPUT = {"output_type": "error", "ename": "SyntaxError", "evalue": "expected ':' (2285951441.py, line 1)",
                  "traceback": ["  \x1b[36mCell\x1b[39m\x1b[36m \x1b[39m\x1b[32mIn[1]\x1b[39m\x1b[32m, line 1\x1b[39m\n"
                                "\x1b[31m    \x1b[39m\x1b[31mdef sort_events(events)\x1b[39m\n        ^\n"
                                "\x1b[31mSyntaxError\x1b[39m\x1b[31m:\x1b[39m expected ':'\n"]}
_INDENT_OUTPUT = {"output_type": "error", "ename": "IndentationError",
                  "evalue": "unexpected indent (1234.py, line 3)", "traceback": []}
_RAISED_OUTPUT = {"output_type": "error", "ename": "NameError", "evalue": "name 'kernel' is not defined", "traceback": [
    "\x1b[31m-----\x1b[39m", "\x1b[31mNameError\x1b[39m        Traceback (most recent call last)",
    "\x1b[36mCell\x1b[39m\x1b[36m \x1b[39m\x1b[32mIn[1]\x1b[39m\x1b[32m, line 5\x1b[39m\n\x1b[32m      3\x1b[39m \n"
    "\x1b[32m----> \x1b[39m\x1b[32m5\x1b[39m helper()\n",
    "\x1b[36mCell\x1b[39m\x1b[36m \x1b[39m\x1b[32mIn[1]\x1b[39m\x1b[32m, line 3\x1b[39m, in \x1b[36mhelper\x1b[39m\n"
    "\x1b[32m----> \x1b[39m\x1b[32m3\x1b[39m     \x1b[38;5;28;01mreturn\x1b[39;00m size * kernel\n",
    "\x1b[31mNameError\x1b[39m: name 'kernel' is not defined"]}


def _answer(gid, text):
    return nbformat.v4.new_code_cell(text, metadata={"nbgrader": {"solution": True, "grade_id": gid}})


def _failed_test(gid, message):
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [nbformat.v4.new_output("error", ename="TestFailed", evalue=message, traceback=[message])]
    return {"grade_id": gid, "status": "fail", "message": message}, cell


@pytest.mark.parametrize("lang, said", [
    ("en", ["sort_events is not defined\nPython could not read your answer cell for sort_events, so none of it ran: "
            "SyntaxError on line 1: `def sort_events(events)` — expected ':'. Fix it, run the cell (Shift+Enter), "
            "then check again.\n  What it usually means: Python expected a colon (:) on that line. A line that "
            "starts a block (def, class, if, elif, else, for, while, with, try) ends with a colon: def f(x):. If the "
            "line has its colon already, a word before it does not belong there: else takes no condition (else if x: "
            "and else x > 0: are written elif x:).",
            "pool is not defined\nPython could not read your answer cell for pool, so none of it ran: "
            "IndentationError on line 3: `if mode == 'max':` — unexpected indent. Fix it, run the cell "
            "(Shift+Enter), then check again.\n  What it usually means: This line is indented further than the line "
            "before it, and nothing there opens a block: line it up with the lines around it.",
            "make_layer is not defined\nYour answer cell for make_layer stopped with an error while it ran, so the "
            "rest of the cell did not run: NameError on line 3: `return size * kernel` — name 'kernel' is not "
            "defined. Fix that line, run the cell (Shift+Enter), then check again.",
            "m\nYour code here uses sort_events, which did not pass its own test (test_sort_events): fix sort_events "
            "first, then check this exercise again."]),
    ("ko", ["sort_events is not defined\n파이썬이 sort_events의 답안 셀을 읽지 못해서 그 셀은 전혀 실행되지 않았습니다: "
            "첫 번째 줄의 SyntaxError: `def sort_events(events)` — expected ':'. 고친 다음 셀을 실행(Shift+Enter)하고 다시 "
            "확인하세요.\n  보통 이런 뜻입니다: 파이썬은 그 줄에서 콜론(:)을 기대했습니다. 블록을 시작하는 줄(def, class, if, "
            "elif, else, for, while, with, try)은 콜론으로 끝나야 합니다: def f(x):. 그 줄에 이미 콜론이 있다면, 콜론 "
            "앞에 그 자리에 올 수 없는 단어가 있는 것입니다. else에는 조건을 붙일 수 없습니다. 조건이 있는 else는 "
            "elif로 씁니다 (else if x: → elif x:).",
            "pool is not defined\n파이썬이 pool의 답안 셀을 읽지 못해서 그 셀은 전혀 실행되지 않았습니다: 세 번째 줄의 "
            "IndentationError: `if mode == 'max':` — unexpected indent. 고친 다음 셀을 실행(Shift+Enter)하고 다시 "
            "확인하세요.\n  보통 이런 뜻입니다: 이 줄은 앞 줄보다 더 들여쓰여 있는데, 앞에서 블록을 시작하지 않았습니다. "
            "주변 줄과 들여쓰기를 맞추세요.",
            "make_layer is not defined\nmake_layer의 답안 셀이 실행 중에 오류로 멈춰서 셀의 나머지 부분은 실행되지 "
            "않았습니다: 세 번째 줄의 NameError: `return size * kernel` — name 'kernel' is not defined. 그 줄을 고친 다음 "
            "셀을 실행(Shift+Enter)하고 다시 확인하세요.",
            "m\n이 답의 코드가 쓰는 sort_events이(가) 자신의 테스트(test_sort_events)를 통과하지 못했습니다. "
            "sort_events부터 고친 다음 이 연습 문제를 다시 확인하세요."]),
])
def test_a_failed_test_names_its_answer_cell_that_python_could_not_read_or_that_raised(lang, said):
    """An instructor's trial: a learner's `def sort_events(events)` without its colon made the test say only
    "sort_events is not defined ... did it run without an error?". A failed test whose answer cell (since the test
    before) stopped with an error says which cell, the kind of error, the line of the cell and Python's message, in
    the learner's language; a SyntaxError or IndentationError is "could not read", an error while the cell ran
    names its deepest line in the cell (inside a function the cell calls). A later exercise that uses a name the
    unreadable cell meant to define is pointed to it (the earlier-failure hint reads that cell's names as written).
    A test that passed, or whose answer cell ran cleanly, is left as it was."""
    from autograde.kernel import CellRun
    from autograde.runner import _cell_failure, _point_to_earlier_failures

    unreadable = _answer("sort_events", "def sort_events(events)\n    return sorted(events)")
    indented = _answer("pool", "def pool(values, width, mode):\n    groups = values\n      if mode == 'max':\n"
                               "        return groups")
    raising = _answer("make_layer", "size = 3\ndef helper():\n    return size * kernel\n\nhelper()\n"
                                    "def make_layer():\n    return 1")
    uses = _answer("count_events", "def count_events(events):\n    return len(sort_events(events))")
    clean = _answer("fine", "def fine():\n    return 1")
    test = ("test", nbformat.v4.new_code_cell("# test"))
    steps = [("code", unreadable), test, ("code", indented), test, ("code", raising), test, ("code", uses), test,
             ("code", clean), test, ("code", unreadable), test]
    failed = {id(cell): _cell_failure(CellRun("error", outputs=[output])) for cell, output in
              [(unreadable, _SYNTAX_OUTPUT), (indented, _INDENT_OUTPUT), (raising, _RAISED_OUTPUT)]}
    results = [_failed_test(f"test_{gid}", f"{gid} is not defined") for gid in ("sort_events", "pool", "make_layer")]
    results += [_failed_test("test_count_events", "m"), _failed_test("test_fine", "m")]
    results += [({"grade_id": "test_again", "status": "pass", "message": ""}, nbformat.v4.new_code_cell(""))]
    tests, cells = [t for t, _ in results], [c for _, c in results]
    _point_to_earlier_failures(steps, tests, cells, lang, {"sort_events", "pool", "make_layer", "count_events"},
                               failed)
    assert [t["message"] for t in tests] == [*said, "m", ""], [t["message"] for t in tests]
    assert [bool(t.get("answer_failed")) for t in tests] == [True, True, True, False, False, False]
    assert cells[0].outputs[0]["evalue"] == tests[0]["message"] == cells[0].outputs[0]["traceback"][0]
    assert not cells[5].outputs


@pytest.mark.parametrize("lang, general, explained", [
    ("en", "Look for a missing colon, bracket or quote, or a wrong indentation, on that line or the line before it",
     "  What it usually means: A character typed with a Korean, Chinese or Japanese input method"),
    ("ko", "그 줄이나 바로 앞 줄에서 빠진 콜론(:), 괄호, 따옴표나 잘못된 들여쓰기를 찾아",
     "  보통 이런 뜻입니다: 한글 입력 상태에서 입력한 전각 문자")])
def test_an_answer_cell_python_could_not_read_gets_the_explanation_that_fits_or_the_general_hint(lang, general,
                                                                                               explained):
    """Python's message is explained when cnnbook.errors knows it (a full-width colon typed in Korean input mode);
    the general hint ("on that line or the line before it") is for the rest (a bare "invalid syntax"): it misled
    where the line Python names is not where the slip is ("'(' was never closed" names the line it opened)."""
    from autograde.runner import _answer_failure

    cell = _answer("sort_events", "def sort_events(events)：\n    return sorted(events)")
    said = _answer_failure(cell, {"kind": "SyntaxError", "message": "invalid character '：' (U+FF1A) (1.py, line 1)",
                                  "traceback": []}, lang).splitlines()
    assert len(said) == 2 and general not in said[0] and said[1].startswith(explained), said
    cell = _answer("sort_events", "def sort_events(events) return sorted(events)")
    said = _answer_failure(cell, {"kind": "SyntaxError", "message": "invalid syntax (1.py, line 1)", "traceback": []},
                           lang).splitlines()
    assert len(said) == 1 and general in said[0] and "invalid syntax" in said[0], said


@pytest.mark.parametrize("lang, fix", [("en", "instead of '='? Fix it, run the cell"),
                                       ("ko", "instead of '='? 고친 다음 셀을 실행")])
def test_pythons_message_that_ends_with_a_question_mark_takes_no_full_stop_after_it(lang, fix):
    """A learner's trial: `if f % 2 = 1:` in lesson 03's self-check read "... Maybe you meant '==' instead of '='?.
    Fix it, ..." (a full stop after Python's question mark); a message of the learner's own that ends with a full stop
    ("must be positive.") got two."""
    from autograde.runner import _answer_failure

    cell = _answer("same_padding", "def same_padding(f):\n    if f % 2 = 1:\n        return (f - 1) // 2")
    said = _answer_failure(cell, {"kind": "SyntaxError", "message": "cannot assign to expression here. Maybe you "
                                  "meant '==' instead of '='? (1.py, line 2)", "traceback": []}, lang)
    assert fix in said and "?." not in said, said
    cell = _answer("same_padding", "raise ValueError('f must be positive.')")
    said = _answer_failure(cell, {"kind": "ValueError", "message": "f must be positive.",
                                  "traceback": ["Cell In[3], line 1"]}, lang)
    assert "positive.." not in said and "positive." in said, said


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_a_name_error_on_the_learners_own_line_is_not_a_name_the_test_needs(lang):
    """A learner's typo in a function's body (`group` for `groups`), raised when the test called it, said "The test
    needs it from your notebook: is the answer cell that defines it there?": a name the test never uses. Raised on
    a line of the learner's cell, it says their code uses a name that is not defined (a typo?); raised in the test's
    own helper in the kernel (a missing exercise), it says the test needs that name, as a test run in the grader
    does (not "your code raised NameError ... (<test cell> line 4)")."""
    from autograde.judge import _as_local_exception, _explain
    from autograde.kernel import RemoteError
    from cnnbook.i18n import set_language

    def said(name, where):
        return _explain(_as_local_exception(RemoteError("NameError", f"name '{name}' is not defined", where,
                                                        ("NameError", "Exception"), "builtins")), False, "top")

    set_language(lang)
    try:
        own, helper = said("group", "line 10: return group.max(axis=1)"), said("AlexNet", "<test cell> line 4")
    finally:
        set_language(None)
    if lang == "en":
        assert own == ("your code raised NameError: name 'group' is not defined (at line 10: return group.max(axis=1))"
                       ". Your code uses a name that is not defined: check its spelling on that line (a typo?); if "
                       "another of your cells defines it, run that cell without an error first."), own
        assert helper == ("AlexNet is not defined in your notebook. The test needs it: is the answer cell that "
                          "defines it there, and did it run without an error?"), helper    # not "<test cell> line 4"
    else:
        assert own.endswith("여러분의 코드가 정의되지 않은 이름을 씁니다. 그 줄에서 이름의 철자(오타)를 확인하고, 그 이름을 "
                            "다른 셀에서 정의한다면 그 셀을 먼저 오류 없이 실행하세요."), own
        assert helper.startswith("노트북에 AlexNet이(가) 정의되어 있지 않습니다. 테스트에 이 이름이 필요합니다."), helper
    assert "test" not in own.lower() and "테스트" not in own


def test_an_answer_cells_error_is_said_short_on_one_line_and_without_a_line_it_cannot_find():
    """What the kernel said of a learner's cell is the learner's own text: one line, cut short; the stub's
    NotImplementedError is "not answered yet" (never named here); a line the kernel names past the cell's end, or
    no line at all (its outputs past the limit: only "ename: evalue"), leaves the line out."""
    from autograde.kernel import CellRun
    from autograde.runner import _answer_failure, _cell_failure

    cell = _answer("shout", "def shout():\n    return 1\nshout(2)")
    long = _cell_failure(CellRun("error", outputs=[{"output_type": "error", "ename": "ValueError",
                                                    "evalue": "first\nsecond " + "x" * 500, "traceback": []}]))
    text = _answer_failure(cell, long, "en")
    assert text.startswith("Your answer cell for shout stopped with an error while it ran, so the rest of the cell "
                           "did not run: ValueError — first | second xxx"), text
    assert "…. Fix it, run the cell" in text and len(text) < 400 and "\n" not in text
    past = _cell_failure(CellRun("error", outputs=[{**_SYNTAX_OUTPUT, "evalue": "invalid syntax (x.py, line 9)"}]))
    assert _answer_failure(cell, past, "en").startswith(
        "Python could not read your answer cell for shout, so none of it ran: SyntaxError — invalid syntax. Fix it"), \
        _answer_failure(cell, past, "en")
    cut = _cell_failure(CellRun("error", error="TypeError: shout() takes 0 positional arguments but 1 was given"))
    assert "TypeError — shout() takes 0 positional arguments but 1 was given." in _answer_failure(cell, cut, "en")
    stub = CellRun("error", outputs=[{"output_type": "error", "ename": "NotImplementedError", "evalue": "",
                                      "traceback": []}])
    assert _cell_failure(stub) is None and _cell_failure(CellRun("error")) is None


@pytest.mark.slow  # grades one notebook of the grader's test lesson twice (a kernel each)
def test_check_and_grade_name_the_answer_cells_that_did_not_parse_or_raised(tmp_path):
    """The same notebook through the grader (grade_submission, what `grade` runs) and the self-check (`check`, in
    Korean): group_max's cell lacks its colon, pool's has a line indented too far, make_layer's stops at a misspelt
    name before its def. Each test's message (and its cell in the graded notebook) says which cell, the kind of
    error, the line and Python's message, after the test's own "not defined"; nothing of the hidden tests."""
    from autograde.check import check_notebook, format_report
    from autograde.grade import grade_batch
    from conftest import GUARD_SOLUTIONS, solved, write

    path = write(solved(GUARD, {
        "group_max": "def group_max(values, width)\n    return np.asarray(values, dtype=float).reshape(-1, width).max(1)",
        "pool": "def pool(values, width, mode):\n    groups = np.asarray(values, dtype=float).reshape(-1, width)\n"
                "      if mode == 'max':\n        return groups.max(axis=1)\n    return groups.mean(axis=1)",
        "make_layer": "import torch\n\nkernel_size = 3\nprint(kernal_size)\n\n\ndef make_layer(in_channels, out_channels):"
                      "\n    return torch.nn.Conv2d(in_channels, out_channels, kernel_size, padding=1)"}),
        tmp_path / "subs" / "s" / GUARD.slug / f"{GUARD.slug}.ipynb")
    out = tmp_path / "out"
    grade_batch(tmp_path / "subs", out, solutions=GUARD_SOLUTIONS, workers=1, progress=lambda *_: None)
    result = json.loads((out / "results" / "s" / f"{GUARD.slug}.json").read_text(encoding="utf-8"))
    said = {t["grade_id"]: t["message"] for t in result["tests"]}
    # Python's message, then what it usually means (cnnbook.errors), in place of the general hint
    assert said["test_group_max"].splitlines()[1:] == [
        "Python could not read your answer cell for group_max, so none of it ran: SyntaxError on line 1: "
        "`def group_max(values, width)` — expected ':'. Fix it, run the cell (Shift+Enter), then check again.",
        "  What it usually means: Python expected a colon (:) on that line. A line that starts a block (def, class, "
        "if, elif, else, for, while, with, try) ends with a colon: def f(x):. If the line has its colon already, "
        "a word before it does not belong there: else takes no condition (else if x: and else x > 0: are "
        "written elif x:)."], said
    assert said["test_pool"].splitlines()[1].startswith(
        "Python could not read your answer cell for pool, so none of it ran: IndentationError on line 3: "
        "`if mode == 'max':` — unexpected indent."), said
    assert said["test_pool"].splitlines()[2].startswith("  What it usually means: This line is indented further"), said
    assert said["test_make_layer"].splitlines()[1] == (
        "Your answer cell for make_layer stopped with an error while it ran, so the rest of the cell did not run: "
        "NameError on line 4: `print(kernal_size)` — name 'kernal_size' is not defined. Fix that line, run the cell "
        "(Shift+Enter), then check again."), said
    assert all(m.splitlines()[0].endswith("did it run without an error?") for m in said.values()), said
    graded = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in
              nbformat.read(out / "autograded" / "s" / GUARD.slug / f"{GUARD.slug}.ipynb", as_version=4).cells}
    assert [o["evalue"] for o in graded["test_group_max"].outputs if o.get("ename") == "TestFailed"] == \
        [said["test_group_max"]]
    assert "HIDDEN" not in str(said) and "all-negative" not in str(said)
    page = (out / "feedback" / "s" / f"{GUARD.slug}.html").read_text(encoding="utf-8")
    assert "Python could not read your answer cell for group_max" in page and "print(kernal_size)" in page

    report = format_report(check_notebook(GUARD, path, lang="ko"))
    assert "파이썬이 group_max의 답안 셀을 읽지 못해서 그 셀은 전혀 실행되지 않았습니다: 첫 번째 줄의 SyntaxError: " \
           "`def group_max(values, width)` — expected ':'. 고친 다음" in report, report
    assert "보통 이런 뜻입니다: 파이썬은 그 줄에서 콜론(:)을 기대했습니다." in report, \
        report
    assert "파이썬이 pool의 답안 셀을 읽지 못해서 그 셀은 전혀 실행되지 않았습니다: 세 번째 줄의 IndentationError: " \
           "`if mode == 'max':` — unexpected indent." in report, report
    assert "make_layer의 답안 셀이 실행 중에 오류로 멈춰서 셀의 나머지 부분은 실행되지 않았습니다: 네 번째 줄의 NameError: " \
           "`print(kernal_size)` — name 'kernal_size' is not defined." in report, report


def test_the_earlier_failure_hint_parses_no_more_code_than_a_lesson_has(monkeypatch):
    """A hostile trial: the hint parses learner cells in the grading worker, which has no memory limit of the
    learner's, and Python's parser takes about 700 bytes per character of dense code: one cell of 1.5 MiB
    (`x = (a, a, ...)`) took the worker from 84 MiB to 1.2 GiB (a notebook may hold 64 MiB). A cell larger than
    runner.HINT_CELL_CHARS is never parsed, and a notebook with more than HINT_NOTEBOOK_CHARS of code gets no hint."""
    import autograde.runner as runner

    parsed: list[int] = []
    parse = ast.parse
    monkeypatch.setattr(runner.ast, "parse", lambda source, *a, **k: parsed.append(len(source)) or parse(source, *a, **k))

    test = ("test", nbformat.v4.new_code_cell("# test"))
    dense = "x = (" + "a," * 800_000 + ")\n"
    regions = runner._regions([answer_step("def a():\n    return 1"), answer_step(dense), test,
                               answer_step("y = a()"), test])
    assert max(parsed) <= runner.HINT_CELL_CHARS, max(parsed)
    assert regions == [({"a"}, set()), ({"y"}, {"a"})], regions
    parsed.clear()
    many = [answer_step("z = (" + "a," * 20_000 + ")\n") for _ in range(50)]      # 2 MB in cells of 40 KB each
    assert runner._regions([*many, test]) == []
    assert sum(parsed) <= runner.HINT_NOTEBOOK_CHARS, sum(parsed)


_FOOLS_THE_SEAL = """
import sys, types
import autograde.shim as shim
import cnnbook.measure as measuring
how = sys.argv[1]
if how == "a str whose repr is the original's":     # every prefix '/' after rstrip: all code counts as a library's
    class Prefix(str):
        def rstrip(self, *chars):
            return ""
    sys.prefix = Prefix(sys.prefix)
elif how == "a repr that raises MemoryError":         # over a plain change: 'could not tell' instead of 'changed'
    class Raises(str):
        def __repr__(self):
            raise MemoryError
    sys.prefix = "/"
    sys.base_prefix = Raises(sys.base_prefix)
elif how == "a constant whose repr is the original's":
    class Here(str):
        def startswith(self, *args):
            return True
    measuring._HERE = Here(measuring._HERE)
elif how == "a module class that answers the measurement only":
    class Lying(types.ModuleType):
        def __getattribute__(self, name):
            if name == "prefix" and sys._getframe(1).f_code.co_name == "_library_prefixes":
                return "/"
            return super().__getattribute__(name)
    sys.__class__ = Lying
print(shim.intact())
"""


@pytest.mark.parametrize("how", ["a str whose repr is the original's", "a repr that raises MemoryError",
                                 "a constant whose repr is the original's",
                                 "a module class that answers the measurement only"])
def test_the_measurements_seal_runs_no_code_of_the_learner(how):
    """Hostile trials: the seal (shim.intact) read a prefix through its repr, so an str subclass that kept the repr and
    changed rstrip made every line of a loop "library code" (the loop earned its write-it-yourself point, no flag),
    and a __repr__ that raised MemoryError turned a plain change into 'could not tell' (measurement-unverified, not
    tampering). The seal compares exact types and values, and identities, and runs nothing of the learner's."""
    run = subprocess.run([sys.executable, "-c", _FOOLS_THE_SEAL, how], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["False"], (run.stdout, run.stderr)


_REPLACES_OS_PATH = """
import sys
sys.path.insert(0, sys.argv[1])
import autograde.shim as shim
from cnnbook.measure import measure
from learner import loop
before = measure(loop, (50,))["lines"]
import os.path, posixpath
posixpath.dirname = os.path.dirname = lambda path: "/"
posixpath.abspath = os.path.abspath = lambda path: "/anything"
print(before, measure(loop, (50,))["lines"])
"""


def test_what_counts_as_library_code_is_fixed_before_any_learner_cell(tmp_path):
    """A hostile trial: the measurement worked out the library's folders at each call through os.path's functions, and
    a cell that replaced os.path.dirname (`lambda path: "/"`) made every line of a loop "library code": 0 lines, its
    write-it-yourself point, and the seal (which holds the measurement's own code) said intact. The folders are fixed
    when cnnbook.measure is imported (by the shim, before any learner cell)."""
    (tmp_path / "learner.py").write_text("def loop(n):\n    total = 0\n    for i in range(n):\n        total += i\n"
                                         "    return total\n", encoding="utf-8")
    run = subprocess.run([sys.executable, "-c", _REPLACES_OS_PATH, str(tmp_path)], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    before, after = map(int, run.stdout.split())
    assert before > 100 and after == before, run.stdout


class InProcessKernel:
    """The shim itself, run in this process on a notebook namespace whose cells are files as ipykernel names them
    (so the shim tells the learner's lines from a library's): what the grader hears from a real kernel, fast."""

    def __init__(self, monkeypatch, *cells: str):
        import linecache

        import IPython.display

        from autograde import shim

        self.ns: dict = {}
        self.published: list[dict] = []
        monkeypatch.setattr(shim, "_user_ns", lambda: self.ns)
        monkeypatch.setattr(IPython.display, "publish_display_data", self.published.append)
        for number, code in enumerate(cells):
            name = f"/tmp/ipykernel_4242/{number}.py"
            linecache.cache[name] = (len(code), None, code.splitlines(True), name)
            exec(compile(code, name, "exec"), self.ns)  # noqa: S102 - the test's own learner code

    def __call__(self, request: dict, seconds: float) -> str:
        from autograde import shim

        shim.serve(json.dumps(request))
        return self.published.pop()[shim.MIME]


TRIAL_ANSWERS = '''import numpy as np
import torch
def decode(output):
    return output[:2], output[2:]            # two values where three are asked for
def pool(x):
    return (x * 2).tolist()                  # a list where an array is asked for
def iou(a, b):
    area_a = a.sum(axis=1)
    area_b = b.sum(axis=1)
    return area_a + area_b                   # (2,) + (5,)
layer = torch.nn.Linear(256, 120)
'''


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_an_error_a_test_meets_on_a_returned_value_names_the_test_line_and_what_came_back(monkeypatch, lang):
    """A test cell's own code that unpacks or indexes what a learner's function returned stopped with Python's bare
    words (a learner's trial: "TypeError: list indices must be integers or slices, not tuple", "ValueError: not
    enough values to unpack (expected 3, got 2)"): no call, no value, no place. Now: that the check stopped on what
    their code returned, the test's line, and what each name on the failing expression holds."""
    from cnnbook.i18n import set_language

    kernel = InProcessKernel(monkeypatch, TRIAL_ANSWERS)
    set_language(lang)
    try:
        unpacked = run_here("import numpy as np\nboxes, scores, labels = decode(np.zeros(5))\n", kernel, 10,
                            ["decode"])
        indexed = run_here("import numpy as np\nfrom cnnbook.checks import check_value\ngot = pool(np.zeros((1, 2, 2)))\n"
                           "check_value('pool', float(got[0, 1, 1]), 0.0)\n", kernel, 10, ["pool"])
    finally:
        set_language(None)
    assert unpacked.status == indexed.status == "fail"
    if lang == "en":
        assert unpacked.message.startswith("The check stopped with ValueError on what your code returned: not enough "
                                           "values to unpack (expected 3, got 2)"), unpacked.message
        assert "Line 2 of the test cell: boxes, scores, labels = decode(np.zeros(5))" in unpacked.message
        assert indexed.message.startswith("The check stopped with TypeError on what your code returned: list indices "
                                          "must be integers or slices, not tuple"), indexed.message
        assert "Line 4 of the test cell: check_value('pool', float(got[0, 1, 1]), 0.0)" in indexed.message
        assert "got: a list of 1 item" in indexed.message, indexed.message
    else:
        assert unpacked.message.startswith("여러분의 코드가 돌려준 값을 검사하다가 ValueError 예외로 멈췄습니다: not enough"), \
            unpacked.message
        assert "테스트 셀의 두 번째 줄: boxes, scores, labels = decode(np.zeros(5))" in unpacked.message
        assert "got: 항목 1개짜리 list" in indexed.message, indexed.message


def test_a_test_line_written_over_several_lines_is_quoted_whole(monkeypatch):
    """A learner's trial (lesson 05): the self-check quoted "Line 15 of the test cell: check_own_work("maxpool_backward
    (...)", maxpool_backward, (dout, x, 2, 2)," and stopped there, the call's other lines left out. The whole statement
    is quoted, on lines of its own, as the test wrote it; a statement of one line stays on the label's line."""
    kernel = InProcessKernel(monkeypatch, TRIAL_ANSWERS)
    helper = run_here("import numpy as np\nfrom cnnbook.checks import check_own_work\n"
                      "check_own_work('iou', iou,\n               (np.ones((2, 4)), np.ones((5, 4))))\n"
                      "x = 1\n", kernel, 10, ["iou"])
    unpacked = run_here("import numpy as np\nif True:\n    boxes, scores, labels = decode(\n        np.zeros(5))\n",
                        kernel, 10, ["decode"])
    assert helper.status == unpacked.status == "fail"
    assert ("\n  Line 3 of the test cell:\n      check_own_work('iou', iou,\n                     (np.ones((2, 4)), "
            "np.ones((5, 4))))\n") in helper.message + "\n", helper.message
    assert "Line 3 of the test cell:\n      boxes, scores, labels = decode(\n          np.zeros(5))" \
        in unpacked.message, unpacked.message


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_an_error_raised_in_the_learners_code_names_the_call_and_their_line_not_a_librarys(monkeypatch, lang):
    """The self-check said "your code raised ValueError: operands could not be broadcast ... (at line 15: ...)",
    naming no call, and for a learner's layer the test called, torch's own line ("linear.py line 134"). Now: the
    call as the test wrote it, the learner's line when the error passed through their code, never a library's."""
    from cnnbook.i18n import set_language

    kernel = InProcessKernel(monkeypatch, TRIAL_ANSWERS)
    set_language(lang)
    try:
        broadcast = run_here("import numpy as np\nfrom cnnbook.checks import check_array\n"
                             "check_array('iou', iou(np.ones((2, 4)), np.ones((5, 4))), np.zeros(2))\n", kernel, 10,
                             ["iou"])
        linear = run_here("import torch\nout = layer(torch.zeros(2, 400))\n", kernel, 10, ["layer"])
        helper = run_here("import numpy as np\nfrom cnnbook.checks import check_own_work\n"
                          "check_own_work('iou', iou, (np.ones((2, 4)), np.ones((5, 4))))\n", kernel, 10, ["iou"])
    finally:
        set_language(None)
    assert broadcast.status == linear.status == "fail"
    if lang == "en":
        assert broadcast.message.startswith("iou(np.ones((2, 4)), np.ones((5, 4))) raised ValueError: operands could "
                                            "not be broadcast together with shapes (2,) (5,)"), broadcast.message
        assert "(at line 10: return area_a + area_b" in broadcast.message
        assert "\n  What it usually means: Two arrays whose shapes do not fit" in broadcast.message
        assert linear.message.startswith("layer(torch.zeros(2, 400)) raised RuntimeError: mat1 and mat2 shapes cannot "
                                         "be multiplied (2x400 and 256x120)"), linear.message
        # called by a check helper (check_own_work runs it again for its error): the function, then the test's line
        assert helper.message.startswith("iou(...) raised ValueError: operands could not be broadcast"), helper.message
        assert "\n  Line 3 of the test cell: check_own_work('iou', iou, (np.ones((2, 4)), np.ones((5, 4))))" \
            in helper.message, helper.message
    else:
        assert broadcast.message.startswith("iou(np.ones((2, 4)), np.ones((5, 4)))에서 ValueError 예외가 발생했습니다: "
                                            "operands"), broadcast.message
        assert "(열 번째 줄: return area_a + area_b" in broadcast.message
    assert "linear.py" not in linear.message and "What it usually means" not in linear.message.split("\n")[0]
