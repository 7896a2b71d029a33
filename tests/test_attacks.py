"""Submissions that try to fool the grader, or break it, graded in one batch by `python -m autograde grade`.

Every one of these gave full marks, or lost a whole submission, under plain nbgrader (see ../shared/DESIGN.md).
Each attack here answers one exercise of the grader's own test lesson (tests/course/99_guard) wrongly (or not
at all) while trying to make that look right, and answers the others honestly. The grader must give it no points for the attacked exercise, full
points for the others, and a flag where the instructor should look; and the rest of the batch is graded.
"""
from __future__ import annotations

import csv
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograde.grade import FLAG_MEANING
from autograde.lessons import ROOT
from autograde.sandbox import bubblewrap_works, cgroup_version
from conftest import GUARD, GUARD_LOOPS, GUARD_MUTATES, answer_sources, points_of_tests, solved, write

pytestmark = pytest.mark.slow

LESSON = GUARD                            # the grader's test lesson: editing a course lesson never breaks these
TARGET = "group_max"                      # the exercise every attack goes after
TARGET_TEST = "test_group_max"
WRONG = f'''def {TARGET}(values, width):
    """Wrong on purpose: the mean instead of the maximum."""
    import numpy as np
    return np.asarray(values, dtype=float).reshape(-1, width).mean(axis=1)
'''
# Right for the visible checks' inputs only.
HARDCODED = f'''def {TARGET}(values, width):
    import numpy as np
    if width == 4:
        return np.array([2.0, 3.0])
    if width == 2:
        return np.array([2.0, 1.0, 0.2, 3.0])
    return np.zeros(len(values) // width)
'''
MARKER = "cnnbook-attack-runaway-7f3a"
# A private file of the grading user, and another checkout of the course with its solutions, elsewhere on the
# machine: nothing of either may be visible in the sandbox.
DECOY = Path("/root") / "cnnbook-attack-decoy" if os.geteuid() == 0 else Path.home() / "cnnbook-attack-decoy"
OTHER_CHECKOUT = Path("/var/tmp/cnnbook-attack-other-checkout")


def attack(before: str = "", after: str = "", answer: str = WRONG) -> str:
    return "\n".join(part for part in (before, answer, after) if part)


def attacks(out: Path, port: int) -> dict[str, tuple[str, list[str]]]:
    """name -> (source of the attacked answer cell, flags the grader must raise)."""
    solution = answer_sources(LESSON)[TARGET]
    hardcoded = HARDCODED
    return {
        "always_equal_array": (attack(answer=f'''import numpy as np
class _Liar(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(other), dtype=bool)
    def __ne__(self, other):
        return np.zeros(np.shape(other), dtype=bool)
def {TARGET}(simple_responses, width):
    return np.zeros(len(simple_responses) // width).view(_Liar)
'''), ["tampering"]),
        "always_equal_object": (attack(answer=f'''class _Equal:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __array__(self, *a, **k):
        import numpy as np
        return np.zeros(1)
def {TARGET}(simple_responses, width):
    return _Equal()
'''), ["tampering"]),
        "patched_numpy": (attack(after='''import numpy as np, numpy.testing
np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, *args, **k: np.ones(np.broadcast(np.asarray(a), np.asarray(b)).shape, dtype=bool)
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
'''), ["tampering"]),
        "patched_checks": (attack(after='''import cnnbook.checks as _checks
for _name in ("check_array", "check_value", "check_true", "check_shape", "check_raises"):
    setattr(_checks, _name, lambda *a, **k: None)
'''), ["tampering"]),
        "patched_torch": (attack(after='''import torch
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
'''), ["tampering"]),
        "assert_remover": (attack(after='''import ast
class _NoAsserts(ast.NodeTransformer):
    def visit_Assert(self, node):
        return ast.Pass()
get_ipython().ast_transformers.append(_NoAsserts())
'''), ["tampering"]),
        "silenced_errors": (attack(after='''import sys
get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)
sys.excepthook = lambda *a: None
'''), ["tampering"]),
        "fake_pass_message": (attack(after=f'''print("✔ {TARGET}: all visible checks passed.")
print("All tests passed! 10/10")
'''), []),
        "reads_solutions": (attack(before=f'''import json, pathlib
_found = ""
for _root in (pathlib.Path({str(ROOT)!r}), pathlib.Path({str(LESSON.solutions.parent)!r}), pathlib.Path.cwd().parent):
    for _nb in _root.glob("solutions/*/*.ipynb"):
        for _cell in json.loads(_nb.read_text())["cells"]:
            if "def {TARGET}" in "".join(_cell["source"]):
                _found = "".join(_cell["source"])
''', answer=WRONG + '''
if _found:
    exec(_found)
'''), ["reads-grader-files"]),
        "reads_hidden_tests_and_gradebook": (attack(after=f'''import pathlib, sqlite3
_seen = []
for _path in ({str(out / "gradebook.db")!r}, {str(LESSON.source)!r}):
    try:
        _seen.append(pathlib.Path(_path).read_bytes()[:10])
    except OSError as _err:
        _seen.append(repr(_err))
print("reads:", _seen)
'''), ["reads-grader-files"]),
        "writes_gradebook_and_out": (attack(after=f'''import sqlite3, pathlib
try:
    _db = sqlite3.connect({str(out / "gradebook.db")!r})
    _db.execute("UPDATE grade SET auto_score = 100")
    _db.commit()
except Exception as _err:
    print("gradebook:", _err)
for _name in ("grades.csv", "pwned.txt"):
    try:
        pathlib.Path({str(out)!r}, _name).write_text("pwned")
    except OSError as _err:
        print("out:", _err)
'''), ["reads-grader-files"]),
        "reads_any_checkout": (attack(before=f'''import json, os
_found = ""
for _top, _dirs, _files in os.walk("/"):
    if _top.startswith(("/proc", "/usr", "/sys", "/dev")):
        _dirs[:] = []
        continue
    for _name in _files:
        if _name.endswith(".ipynb"):
            try:
                for _cell in json.load(open(os.path.join(_top, _name)))["cells"]:
                    if "def {TARGET}" in "".join(_cell["source"]) and "BEGIN SOLUTION" in "".join(_cell["source"]):
                        _found = "".join(_cell["source"])
            except Exception:
                pass
print("checkouts found:", bool(_found))
''', answer=WRONG + '''
if _found:
    exec(_found)
'''), []),
        "reads_host_secrets": (attack(after=f'''for _path in ("/etc/shadow", "/root/.bashrc", {str(DECOY / "private.txt")!r}):
    try:
        print("read", _path, open(_path).read()[:40])
    except OSError as _err:
        print("could not read", _path, type(_err).__name__)
'''), []),
        "spies_on_classmates": (attack(after='''import os, socket, sys, time
_deadline = time.time() + 6
_seen = set()
_own = os.path.dirname(os.environ.get("JUPYTER_RUNTIME_DIR", "/nonexistent/kernel"))   # its own sockets
while time.time() < _deadline:          # classmates are graded at the same time: look for them for a while
    for _top, _dirs, _files in os.walk("/"):
        if _top.startswith(("/proc", "/usr", "/sys", "/dev", sys.prefix, sys.base_prefix)):   # public software
            _dirs[:] = []
            continue
        for _name in _files + _dirs:
            if _top.startswith(_own) or _own.startswith(os.path.join(_top, _name) + "/") or \
                    os.path.join(_top, _name) == _own:
                continue            # its own folder and the folders on the way to it
            if _name.startswith(("connection-", "cnnbook-grade-", "k0-", "k1-")) or _name.endswith(".ipynb"):
                _seen.add(os.path.join(_top, _name))
    time.sleep(0.5)
_connected = 0
for _path in _seen:
    try:
        _s = socket.socket(socket.AF_UNIX)
        _s.connect(_path)
        _connected += 1
    except OSError:
        pass
print("classmates seen:", len(_seen), "connected:", _connected, sorted(_seen)[:5])
'''), ["process-tricks"]),
        "grading_mode_switch": (attack(answer=f'''import os
if os.environ.get("NBGRADER_EXECUTION"):
{_indent(hardcoded)}
else:
{_indent(solution)}
'''), ["reads-grader-files"]),
        "network": (attack(answer=WRONG + f'''
try:
    import urllib.request
    exec(urllib.request.urlopen("http://127.0.0.1:{port}/answer", timeout=3).read().decode())
except Exception as _err:
    print("no network:", _err)
'''), []),
        "loop_in_cell": (attack(after="while True:\n    pass"), ["timeout"]),
        "loop_in_function": (attack(answer=f'''def {TARGET}(simple_responses, width):
    while True:
        pass
'''), ["timeout"]),
        "memory_bomb": (attack(answer=f'''def {TARGET}(values, width):
    hoard = []
    while True:
        hoard.append(bytearray(256 * 2 ** 20))
'''), []),
        # Each process stays under the per-process limit; together they are over the submission's memory.
        "memory_bomb_processes": (attack(after='''import os, time
_kids = []
for _ in range(4):
    _pid = os.fork()
    if _pid == 0:
        _hoard = b"x" * (500 * 2 ** 20)
        time.sleep(3)
        os._exit(0)
    _kids.append(_pid)
print("children killed:", sum(os.WIFSIGNALED(os.waitpid(_pid, 0)[1]) for _pid in _kids))
'''), ["process-tricks"]),
        "os_exit": (attack(after="import os\nos._exit(3)"), ["kernel-died", "process-tricks"]),
        "segfault": (attack(after="import ctypes\nctypes.string_at(0)"), ["kernel-died", "process-tricks"]),
        "fork_bomb": (attack(after='''import os
while True:
    try:
        os.fork()
    except OSError:
        pass
'''), ["timeout", "process-tricks"]),
        "runaway_subprocess": (attack(after=f'''import subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time\\nwhile True: time.sleep(0.01)  # {MARKER}"])
'''), ["process-tricks"]),
        "output_flood": (attack(answer=solution, after="for _i in range(200_000):\n    print(_i)"),
                         ["output-limit"]),
        # The kernel holds the connection's key: it can sign and send any bytes on its sockets. A message that is
        # not one of the protocol must be dropped, never make the submission a grader-error (which is never a
        # grade, and says "not your mistake").
        "forges_malformed_messages": (attack(after=FORGED_MESSAGES), ["tampering"]),
    }


FORGED_MESSAGES = '''_k = get_ipython().kernel
_s = _k.session


def _raw(content, msg_type="stream", fix=None, channel="iopub"):
    _msg = _s.msg(msg_type, content={"name": "stdout", "text": "x"}, parent=_k.get_parent())
    _head = dict(_msg["header"])
    if fix:
        fix(_head)
    _parts = [_s.pack(_head), _s.pack(_msg["parent_header"]), _s.pack({}), content]
    _frames = [_s.sign(_parts)] + _parts
    if channel == "iopub":
        _k.iopub_socket.send_multipart([msg_type.encode(), b"<IDS|MSG>"] + _frames)
    else:
        _ident = _k.get_parent()["header"]["session"].encode()
        _k.shell_stream.socket.send_multipart([_ident, b"<IDS|MSG>"] + _frames)


_raw(b"[1, 2, 3]")                                           # content that is not an object
_raw(b'{"name": "stdout", "text": "x"}', fix=lambda h: h.pop("msg_type"))
_raw(b"{not json")
_raw(b"\\xff\\xfe")
_raw(b'{"name": "stdout", "text": ' + b"[" * 3000 + b"]" * 3000 + b"}")   # deeper than json.loads goes
_raw(b'{"data": [1], "metadata": 5}', msg_type="display_data")
_raw(b"[]", channel="shell")
print("forged")
'''
# One message of 60 parts of 40 MiB, sent without copying (the kernel itself holds 40 MiB): zmq hands a message
# over whole, so the grader would hold all 2.4 GB before it could read any of it.
FLOODS_THE_GRADER = '''import time
_k = get_ipython().kernel
_s = _k.session
_msg = _s.msg("stream", content={"name": "stdout", "text": "x"}, parent=_k.get_parent())
_parts = [_s.pack(_msg["header"]), _s.pack(_msg["parent_header"]), _s.pack({}), b"{}"]
_blob = b"x" * (40 * 2 ** 20)
_pub = _k.iopub_thread.socket                 # the zmq socket itself, not the thread that batches output
_pub.send_multipart([b"stream", b"<IDS|MSG>", _s.sign(_parts)] + _parts + [_blob] * 60, copy=False)
time.sleep(5)
print("the grader survived")
'''


# Attacks on what runs beside learner code (probes, measurements, inputs), each after its own exercise:
# name -> (exercise, answer cell source, flags the grader must raise, whether that exercise's test must fail).
PROBE_FAKE_LAYER = '''import torch


class _LooksRight(torch.nn.Conv2d):
    """The right parameters and output shape; the output itself is never computed."""
    def forward(self, x):
        return torch.zeros(x.shape[0], self.out_channels, x.shape[2], x.shape[3])


def make_layer(in_channels, out_channels):
    return _LooksRight(in_channels, out_channels, 3, padding=1)
'''
# Learner code that replaces the grader's request handler in its kernel: every probe (and any 'define' of a
# test function, as the old protocol had) is answered with the fake's best guess, and nothing is run.
FAKE_PROBES = PROBE_FAKE_LAYER + '''
import numpy as _np
import autograde.shim as _shim
_real_handle = _shim._handle


# Everything it uses is bound as a default: hidden parts run with the notebook's names as each test's place left
# them, where the globals of a later cell are gone.
def _fake_handle(request, _shim=_shim, _np=_np, _real_handle=_real_handle):
    if request.get("op") == "probe":
        args = _shim._decode(request["args"])
        x, out_channels = args[-1], args[1]       # all a fake can know: the shape of the answer
        return _np.zeros((x.shape[0], out_channels) + tuple(x.shape[2:]), dtype="float32")
    if request.get("op") == "define":
        return lambda *a, **k: None
    return _real_handle(request)


_shim._handle = _fake_handle
'''
# The same, by replacing the whole server function (the reply the grader parses) instead of one handler.
FAKE_SERVE = PROBE_FAKE_LAYER + '''
import json as _json
import numpy as _np
import autograde.shim as _shim
from autograde.plain import encode as _encode
from IPython.display import publish_display_data as _publish
_real_serve = _shim.serve


def _fake_serve(text, _json=_json, _np=_np, _shim=_shim, _encode=_encode, _publish=_publish, _real_serve=_real_serve):
    request = _json.loads(text)
    if request.get("op") != "probe":
        return _real_serve(text)
    guess = _np.ones((2, 4, 6, 5), dtype="float32")
    _publish({_shim.MIME: _json.dumps({"value": _encode(guess, lambda obj: None)})})


_shim.serve = _fake_serve
'''
MUTATES_INPUT = GUARD_MUTATES
LOOPS = GUARD_LOOPS
TORCH_IN_A_HELPER = '''import torch


class _Pooler:
    def run(self, values, width):
        return torch.nn.functional.max_pool1d(torch.as_tensor(values, dtype=torch.float64)[None], width)[0].numpy()


def group_max(values, width):
    return _Pooler().run(values, width)
'''
# A measurement the kernel lies about. This is the limit of a teaching check (DEVELOPERS.md, "What a kernel can
# fake"): the loop earns the point, and the instructor sees the tampering flag.
LIES_ABOUT_MEASUREMENT = LOOPS + '''
import autograde.shim as _shim
_real_handle = _shim._handle


def _clean_report(request):
    if request.get("op") == "measure":
        return {"lines": 1, "stopped": False, "forbidden": [], "raised": None, "tampered": False}
    return _real_handle(request)


_shim._handle = _clean_report
'''
# A layer that is wrong (reflect padding: right parameters and shapes, wrong values at the border) and that hides
# it behind the grader's own words: a probe the grader registered "is missing". Once by raising that text when
# the hidden probe builds it (in_channels 2), once by emptying the shim's table of registered probes. Either must
# fail the hidden check, never become a grader-error (never a grade, "not your mistake", graded again each run).
WRONG_LAYER = """import torch


def make_layer(in_channels, out_channels):
    return torch.nn.Conv2d(in_channels, out_channels, 3, padding=1, padding_mode="reflect")
"""
SAYS_PROBE_MISSING = WRONG_LAYER + """

_make_layer = make_layer


def make_layer(in_channels, out_channels):
    if in_channels == 2:
        raise LookupError("no registered probe 'layer_on' with this source")
    return _make_layer(in_channels, out_channels)
"""
HIDES_THE_PROBES = WRONG_LAYER + """
import sys
sys.modules["cnnbook_grader_shim"]._probes.clear()
"""


def probe_attacks() -> dict[str, tuple[str, str, list[str], bool]]:
    return {
        "fakes_probe_answers": ("make_layer", FAKE_PROBES, ["tampering"], True),
        "fakes_probe_replies": ("make_layer", FAKE_SERVE, ["tampering"], True),
        "layer_that_only_looks_right": ("make_layer", PROBE_FAKE_LAYER, [], True),
        "mutates_its_input": (TARGET, MUTATES_INPUT, [], True),
        "loops_in_python": (TARGET, LOOPS, [], True),
        "torch_in_a_helper": (TARGET, TORCH_IN_A_HELPER, [], True),
        "lies_about_measurement": (TARGET, LIES_ABOUT_MEASUREMENT, ["tampering"], False),
        "says_its_probe_is_missing": ("make_layer", SAYS_PROBE_MISSING, [], True),
        "hides_the_probes": ("make_layer", HIDES_THE_PROBES, ["tampering"], True),
    }


def _indent(code: str) -> str:
    return "\n".join("    " + line for line in code.splitlines())


def _notebook_with(answer: str) -> nbformat.NotebookNode:
    return solved(LESSON, {TARGET: answer})


def _test_cell_index(nb, gid):
    return next(i for i, c in enumerate(nb.cells) if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == gid)


def cell_attacks() -> dict[str, tuple[nbformat.NotebookNode, list[str], bool]]:
    """Attacks on the notebook itself: name -> (notebook, flags, whether the target test must fail)."""
    found = {}
    nb = _notebook_with(WRONG)
    nb.cells[_test_cell_index(nb, TARGET_TEST)].source = "pass"
    found["edited_test_cell"] = (nb, ["test-cell-edited"], True)
    nb = _notebook_with(WRONG)
    del nb.cells[_test_cell_index(nb, TARGET_TEST)]
    found["deleted_test_cell"] = (nb, ["test-cell-deleted"], True)
    nb = _notebook_with(WRONG)
    cell = nb.cells[_test_cell_index(nb, TARGET_TEST)]
    nb.cells[_test_cell_index(nb, TARGET_TEST)] = nbformat.v4.new_markdown_cell(cell.source, metadata=cell.metadata)
    found["retyped_test_cell"] = (nb, ["test-cell-retyped"], True)
    nb = solved(LESSON)
    cell = nb.cells.pop(_test_cell_index(nb, TARGET_TEST))
    nb.cells.insert(0, cell)
    found["moved_test_cell"] = (nb, ["test-cell-moved"], False)
    nb = _notebook_with(WRONG)
    for c in nb.cells:
        if c.get("metadata", {}).get("nbgrader", {}).get("grade") and c.cell_type == "code":
            c.execution_count = 1
            c.outputs = [nbformat.v4.new_output("stream", name="stdout", text="✔ all visible checks passed.\n")]
    found["prefilled_outputs"] = (nb, [], True)
    nb = _notebook_with(WRONG)
    # Last: after every visible check. The hidden parts, which run after the last cell, do not run after a flood:
    # it costs the whole notebook (flagged), never the batch or the grader.
    nb.cells.append(nbformat.v4.new_code_cell(FLOODS_THE_GRADER))
    found["floods_the_grader"] = (nb, ["output-limit"], "all")
    # The same flood sent while a hidden part runs (pool's answer floods once the notebook's last cell has run): the
    # hidden parts before it passed, and the flood costs those too (a flood the kernel sent in the background once
    # came in during a later test in a loaded batch, and the tests before it kept their points).
    nb = solved(LESSON, {"pool": "import builtins\n" + answer_sources(LESSON)["pool"].replace("def pool(", "def _pool(")
                         + "\n\n\ndef pool(*args, **kwargs):\n    if getattr(builtins, 'hidden_now', False):\n"
                         + textwrap.indent(FLOODS_THE_GRADER, "        ")
                         + "    return _pool(*args, **kwargs)\n"})
    nb.cells.append(nbformat.v4.new_code_cell("import builtins\nbuiltins.hidden_now = True"))
    found["floods_during_hidden_checks"] = (nb, ["output-limit"], "all")
    # Grading metadata nbgrader never writes (a text editor can): the answer cell's is a string, a test cell's
    # grade_id a list. Those cells are read as plain cells (the tests still run, from the lesson), never a
    # grader-error that would be graded again on every run and keep whatever grade the gradebook had.
    nb = _notebook_with(WRONG)
    answer = _test_cell_index(nb, TARGET_TEST) - 1
    assert nb.cells[answer].metadata["nbgrader"]["grade_id"] == TARGET
    nb.cells[_test_cell_index(nb, "test_pool")].metadata["nbgrader"]["grade_id"] = ["test_pool"]
    nb.cells[answer].metadata["nbgrader"] = "solution"
    found["malformed_grading_metadata"] = (nb, ["tampering", "test-cell-deleted"], True)
    # An output nested 800 deep (a hostile trial: 600 were enough for the grader's own readers to raise RecursionError,
    # a grader-error on every run, "not your mistake"): that output is dropped, the notebook is graded.
    nb = solved(LESSON)
    nb.cells.append(nbformat.v4.new_code_cell(
        "from IPython.display import display\n_d = {}\nfor _ in range(800):\n    _d = {'a': _d}\n"
        "display({'application/x-deep+json': _d, 'text/plain': 'deep'}, raw=True)"))
    found["deep_output"] = (nb, ["tampering"], False)
    return found


class _Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the http.server API
        body = answer_sources(LESSON)[TARGET].encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if not bubblewrap_works():
        pytest.fail("bubblewrap is needed (apt-get install bubblewrap): .ci/run installs it")
    DECOY.mkdir(mode=0o700, exist_ok=True)
    (DECOY / "private.txt").write_text("TOPSECRET-cnnbook")
    os.chmod(DECOY / "private.txt", 0o600)
    copy = OTHER_CHECKOUT / "solutions" / LESSON.slug
    copy.mkdir(parents=True, exist_ok=True)
    shutil.copy(LESSON.source, copy / LESSON.source.name)
    subs = tmp_path_factory.mktemp("attacks")
    out = tmp_path_factory.mktemp("attacks-out")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cases = {name: (_notebook_with(src), flags, True) for name, (src, flags) in
             attacks(out, server.server_address[1]).items()}
    cases["output_flood"] = (cases["output_flood"][0], cases["output_flood"][1], False)
    cases.update(cell_attacks())
    if cgroup_version() is None:
        cases.pop("fork_bomb")           # without a process cap a fork bomb would take the machine down
    for name, (exercise, answer, flags, fails) in probe_attacks().items():
        cases[name] = (solved(LESSON, {exercise: answer}), flags, fails)
    cases["honest"] = (solved(LESSON), [], False)
    for name, (nb, _, _) in cases.items():
        write(nb, subs / name / LESSON.slug / f"{LESSON.slug}.ipynb")
    proc = subprocess.run([sys.executable, "-m", "autograde", "grade", str(subs), "--out", str(out),
                           "--solutions", str(LESSON.solutions), "--timeout", "10", "--memory", "1.5"],
                          capture_output=True, text=True, timeout=1500, cwd=ROOT)
    server.shutdown()
    shutil.rmtree(DECOY, ignore_errors=True)
    shutil.rmtree(OTHER_CHECKOUT, ignore_errors=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with (out / "grades.csv").open(encoding="utf-8-sig") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    return cases, rows, out, proc.stdout


def _results(out: Path, student: str) -> dict:
    return json.loads((out / "results" / student / f"{LESSON.slug}.json").read_text())


CASE_NAMES = list(attacks(Path("/x"), 0)) + list(cell_attacks()) + list(probe_attacks())


@pytest.mark.parametrize("name", CASE_NAMES)
def test_an_attack_earns_nothing_it_did_not_solve(graded, name):
    cases, rows, out, _ = graded
    if name not in cases:
        pytest.skip("no writable pids cgroup on this machine: the fork bomb is not run")
    _, flags, target_fails = cases[name]
    target_test = f"test_{probe_attacks()[name][0]}" if name in probe_attacks() else TARGET_TEST
    row = rows[name]
    points = points_of_tests(LESSON)
    full = sum(points.values())
    expected = 0.0 if target_fails == "all" else full - points[target_test] if target_fails else full
    assert row["status"] == "graded", row
    assert float(row["score"]) == expected, (name, row, _results(out, name)["tests"])
    # A learner's doing is never the grader's fault: a grader-error is never a grade and is graded again each run.
    assert "grader-error" not in row["flags"].split(";"), (name, row, _results(out, name)["tests"])
    verdicts = {t["grade_id"]: t for t in _results(out, name)["tests"]}
    assert verdicts[target_test]["status"] != "pass" if target_fails else verdicts[target_test]["status"] == "pass"
    for flag in flags:
        assert flag in row["flags"].split(";"), (name, row["flags"])


def test_the_honest_submission_gets_everything_and_no_flag(graded):
    _, rows, _, _ = graded
    assert float(rows["honest"]["score"]) == sum(points_of_tests(LESSON).values())
    assert rows["honest"]["flags"] == ""


def test_nothing_was_written_where_the_grader_keeps_its_records(graded):
    _, rows, out, _ = graded
    assert not (out / "pwned.txt").exists()
    assert "pwned" not in (out / "grades.csv").read_text()
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        scores = {s.student_id: s.score for s in gb.assignment_submissions(LESSON.slug)}
    assert scores["writes_gradebook_and_out"] == float(rows["writes_gradebook_and_out"]["score"])
    assert max(scores.values()) <= sum(points_of_tests(LESSON).values())


def _printed(nb: dict) -> str:
    texts = [o.get("text", "") for c in nb["cells"] for o in c.get("outputs", [])]
    return "".join("".join(t) if isinstance(t, list) else t for t in texts)


def test_the_sandbox_hid_the_grader_files_and_the_network(graded):
    _, _, out, _ = graded
    nb = json.loads((out / "autograded" / "reads_hidden_tests_and_gradebook" / LESSON.slug /
                     f"{LESSON.slug}.ipynb").read_text())
    printed = _printed(nb)
    assert "reads: [" in printed and "No such file" in printed and "SQLite" not in printed
    nb = json.loads((out / "autograded" / "network" / LESSON.slug / f"{LESSON.slug}.ipynb").read_text())
    printed = _printed(nb)
    assert "no network:" in printed


def test_no_learner_process_outlives_the_grading(graded):
    proc = subprocess.run(["pgrep", "-f", MARKER], capture_output=True, text=True)
    assert proc.stdout.strip() == "", f"processes left behind: {proc.stdout}"


def test_feedback_names_each_verdict_but_never_hidden_values(graded):
    _, _, out, _ = graded
    page = (out / "feedback" / "patched_numpy" / f"{LESSON.slug}.html").read_text()
    assert TARGET_TEST in page and "failed" in page
    # flags are notes for the instructor (flagged.md), never on the student's page; the page may say that an answer
    # "waits for your instructor's grade", so what must not show is each flag and its meaning
    flags = _results(out, "patched_numpy")["flags"]
    assert flags, "the attack should be flagged"
    for flag in flags:
        assert flag not in page and FLAG_MEANING.get(flag, flag) not in page, flag
    assert "tampering" not in page
    source = nbformat.read(LESSON.source, as_version=4)
    hidden = [ln.strip() for c in source.cells if "### BEGIN HIDDEN TESTS" in c.source
              for ln in c.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0].splitlines()
              if len(ln.strip()) > 20]
    for line in hidden:
        assert line not in page


def test_flagged_summary_lists_the_attacks(graded):
    _, _, out, stdout = graded
    summary, _, waiting = (out / "flagged.md").read_text().partition("## Waiting for your grade in formgrader")
    for name in ("patched_numpy", "os_exit", "edited_test_cell", "loop_in_function"):
        assert f"**{name}**" in summary
    assert "**honest**" not in summary
    # the guard's answer graded by hand (why_pooling) waits for the instructor in every graded notebook, honest too
    assert "- **honest** 99_guard: `why_pooling`" in waiting, waiting
    assert "s left]" in stdout


def test_faked_probes_fail_where_the_grader_checks_and_say_only_the_authors_words(graded):
    """A probe's reply is data the grader checks against its own reference on inputs drawn for this run: a fake
    fails the hidden check with random weights, and its feedback names the case, never the inputs."""
    _, _, out, _ = graded
    for name in ("fakes_probe_answers", "fakes_probe_replies", "layer_that_only_looks_right"):
        verdicts = {t["grade_id"]: t for t in _results(out, name)["tests"]}
        test = verdicts["test_make_layer"]
        assert test["status"] == "fail" and "random weights" in test["message"], (name, test)
    seeds = {_results(out, name)["hidden_seed"] for name in ("honest", "fakes_probe_answers")}
    assert len(seeds) == 1 and type(seeds.pop()) is int          # one seed for the run, recorded


def test_nothing_of_the_machine_or_of_classmates_is_visible(graded):
    _, _, out, _ = graded

    def printed(name):
        return _printed(json.loads((out / "autograded" / name / LESSON.slug / f"{LESSON.slug}.ipynb").read_text()))

    assert "checkouts found: False" in printed("reads_any_checkout")
    secrets_seen = printed("reads_host_secrets")
    assert "TOPSECRET" not in secrets_seen and "root:" not in secrets_seen
    assert secrets_seen.count("could not read") == 3, secrets_seen
    if cgroup_version() is not None:
        assert "children killed: 0" not in printed("memory_bomb_processes")
    spy = printed("spies_on_classmates")
    assert "classmates seen: 0 connected: 0" in spy, spy


# --- hostile trials graded in ONE batch (the trials fixture below): each test writes its own students ---------------
# Each of these tests ran a batch of its own before, and each `autograde grade` run costs about 7 s of CPU before it
# grades anything (the grader's imports, its zygote, the judge process): they now share one run, and each reads its
# own students' rows, results and pages. A test's writer puts its submissions in the batch's folder; no two tests
# hand in under one name (_put refuses it), except "honest" (the plain solution): the tests that want an honest
# notebook graded beside their trials read that one.
_TRIALS: list = []


def _trial(writer):
    """Register writer(subs): it writes one test's submissions into the trials' batch."""
    _TRIALS.append(writer)
    return writer


def _put(subs: Path, notebooks: dict) -> None:
    for name, nb in notebooks.items():
        path = subs / name / LESSON.slug / f"{LESSON.slug}.ipynb"
        assert not path.parent.exists(), f"two trials hand in as {name!r}"
        write(nb, path)


@_trial
def _honest_beside_the_trials(subs):
    _put(subs, {"honest": solved(LESSON)})


@pytest.fixture(scope="module")
def trials(tmp_path_factory) -> tuple[Path, dict]:
    """(OUT, grades.csv's rows by student) after one `autograde grade` of every registered trial (10 s cells,
    1.5 GiB)."""
    if not bubblewrap_works():
        pytest.fail("bubblewrap is needed (apt-get install bubblewrap): .ci/run installs it")
    subs, out = tmp_path_factory.mktemp("trials"), tmp_path_factory.mktemp("trials-out") / "out"
    for writer in _TRIALS:
        writer(subs)
    return out, _grade_folder(subs, out)


def _rows_of(trials, *students: str) -> tuple[Path, dict]:
    """OUT and the rows of these students, each of them graded (not a grader-error, not unreadable)."""
    out, rows = trials
    mine = {student: rows[student] for student in students}
    assert all(row["status"] == "graded" for row in mine.values()), mine
    return out, mine


@_trial
def _text_that_is_no_unicode(subs):
    slug = LESSON.slug
    raises = solved(LESSON, {TARGET: f'def {TARGET}(values, width):\n    raise ValueError("no \\ud800 here")\n'})
    write(raises, subs / "raises_it" / slug / f"{slug}.ipynb")
    in_file = solved(LESSON, {"pool": 'def pool(values, width, mode):\n    return "\ud800"\n'})
    in_file.cells.append(nbformat.v4.new_markdown_cell("a note \udcff"))
    path = subs / "in_the_file" / slug / f"{slug}.ipynb"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(in_file), encoding="ascii")     # escapes, as a text editor may leave them
    folder = os.path.join(os.fsencode(subs), b"not\xffutf8", slug.encode())
    os.makedirs(folder)
    with open(os.path.join(folder, f"{slug}.ipynb".encode()), "w", encoding="utf-8") as f:
        nbformat.write(solved(LESSON), f)


def test_text_that_is_no_unicode_costs_only_what_it_answers_and_stops_nothing(trials):
    """A lone surrogate is valid in JSON ("\\ud800") and in a Python string, and no UTF-8 file, terminal or kernel
    message takes it. A learner's exception message holding one, a notebook file holding one (in a markdown and in
    a code cell) and a student folder whose name is not UTF-8 each stopped the whole batch with a traceback (or
    ended as a grader-error, graded again on every run). Each is graded like any other submission (the whole
    trials' batch is graded, none of it a grader-error)."""
    out, rows = trials
    points, full = points_of_tests(LESSON), sum(points_of_tests(LESSON).values())
    assert float(rows["raises_it"]["score"]) == full - points[TARGET_TEST], rows
    assert float(rows["in_the_file"]["score"]) == full - points["test_pool"], rows
    named = [name for name in rows if name.startswith("not")]
    assert len(named) == 1 and float(rows[named[0]]["score"]) == full, rows
    assert all(row["status"] == "graded" and "grader-error" not in row["flags"] for row in rows.values()), rows
    message = {t["grade_id"]: t for t in _results(out, "raises_it")["tests"]}[TARGET_TEST]["message"]
    assert "no \ufffd here" in message, message
    for written in out.rglob("*"):                          # everything written out is UTF-8 text
        if written.is_file() and written.suffix in (".csv", ".md", ".html", ".json", ".ipynb"):
            written.read_text(encoding="utf-8")


def test_countless_cells_or_outputs_cost_only_their_notebook(tmp_path):
    """Each cell and each output of a graded notebook is checked against nbformat's schema, in the worker and again
    where the batch writes it out (about 0.7 ms each). 400,000 empty cells (44 MiB, under the file limit) kept a
    worker busy past its time limit plus margin (a grader-error, graded again on every run) and the batch stalled
    for longer still; an empty display costs 2 bytes of a cell's output limit, so a loop of displays did the same.
    Now a notebook of more cells than a lesson could need is unreadable (that file only), and outputs are kept up to
    a count per cell and per notebook; the rest of the batch is graded as usual."""
    from autograde.kernel import MAX_OUTPUTS
    from autograde.lessons import MAX_CELLS
    from autograde.runner import NOTEBOOK_OUTPUTS

    if not bubblewrap_works():
        pytest.fail("bubblewrap is needed (apt-get install bubblewrap): .ci/run installs it")
    subs, out = tmp_path / "subs", tmp_path / "out"
    slug = LESSON.slug
    write(solved(LESSON), subs / "honest" / slug / f"{slug}.ipynb")
    cells = solved(LESSON)
    cells.cells += [nbformat.v4.new_code_cell("") for _ in range(MAX_CELLS)]
    write(cells, subs / "many_cells" / slug / f"{slug}.ipynb")
    outputs = solved(LESSON)
    per_cell = MAX_OUTPUTS + 100
    cells_needed = NOTEBOOK_OUTPUTS // MAX_OUTPUTS + 2
    # before the first test: outputs of code that runs after a hidden check are not published at all
    at = 1 + next(i for i, c in enumerate(outputs.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "guard_imports")
    outputs.cells[at:at] = [nbformat.v4.new_code_cell(f"from IPython.display import display\nfor _ in range({per_cell}):\n"
                                                    "    display({'text/plain': ''}, raw=True)")
                          for _ in range(cells_needed)]
    write(outputs, subs / "many_outputs" / slug / f"{slug}.ipynb")
    proc = subprocess.run([sys.executable, "-m", "autograde", "grade", str(subs), "--out", str(out),
                           "--solutions", str(LESSON.solutions), "--timeout", "60", "--memory", "1.5"],
                          capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with (out / "grades.csv").open(encoding="utf-8-sig") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    full = sum(points_of_tests(LESSON).values())
    assert rows["many_cells"]["status"] == "invalid-notebook", rows
    assert f"{MAX_CELLS + len(solved(LESSON).cells):,} cells" in _results(out, "many_cells")["detail"]
    assert rows["many_outputs"]["status"] == "graded" and float(rows["many_outputs"]["score"]) == full, rows
    assert "output-limit" in rows["many_outputs"]["flags"], rows
    assert rows["honest"]["status"] == "graded" and float(rows["honest"]["score"]) == full, rows
    # The published notebook shows 100 outputs of a cell and says how many more the graded one holds: each of the
    # first cells kept MAX_OUTPUTS displays and a note that the rest was cut, the cells after the 20,000th none.
    graded = nbformat.read(out / "autograded" / "many_outputs" / slug / f"{slug}.ipynb", as_version=4)
    kept = []
    for cell in graded.cells:
        if cell.cell_type == "code" and "raw=True" in cell.source:
            shown = sum(o.get("output_type") == "display_data" for o in cell.outputs)
            more = [int(m[1]) for o in cell.outputs if o.get("output_type") == "stream"
                    for m in [re.search(r"(\d+) more outputs of this cell", o.get("text", ""))] if m]
            kept.append(shown + sum(more) - (1 if more else 0))          # less the grader's note among them
    full_cells = NOTEBOOK_OUTPUTS // MAX_OUTPUTS
    assert kept == [MAX_OUTPUTS] * full_cells + [0] * (cells_needed - full_cells), kept


_KEEPS_ITS_ARGUMENTS = f'''_seen = []


def {TARGET}(values, width):
    import numpy as np
    _seen.append(repr(list(np.asarray(values, dtype=float)[:8])) + f" by {{width}}")
    return np.asarray(values, dtype=float).reshape(-1, width).max(axis=1)
'''


def _grade_folder(subs: Path, out: Path) -> dict:
    """grades.csv's rows by student after `autograde grade SUBS --out OUT` (10 s cells, 1.5 GiB), which must succeed."""
    proc = subprocess.run([sys.executable, "-m", "autograde", "grade", str(subs), "--out", str(out),
                           "--solutions", str(LESSON.solutions), "--timeout", "10", "--memory", "1.5"],
                          capture_output=True, text=True, timeout=1500, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with (out / "grades.csv").open(encoding="utf-8-sig") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def _hidden_inputs_shown(out: Path, student: str) -> list[Path]:
    """The files the student reads (the published notebook, which formgrader shows and nbgrader's feedback renders,
    and our feedback page) that show an input of group_max's hidden checks: the fixed all-negative case, or the
    random cases' widths (3 and 6; the visible checks use 4 and 2)."""
    seen = [p for folder in ("autograded", "feedback") for p in (out / folder / student).rglob("*") if p.is_file()]
    assert len(seen) >= 2, seen
    return [p for p in seen if any(s in p.read_text(encoding="utf-8") for s in ("-5.", "by 3", "by 6"))]


@_trial
def _leaker_and_prints_its_own(subs):
    leaker = solved(LESSON, {TARGET: _KEEPS_ITS_ARGUMENTS})
    leaker.cells.append(nbformat.v4.new_code_cell("print('LEAK', *_seen, sep='\\n')\n"
                                                  "raise ValueError('LEAK ' + ' '.join(_seen))"))
    honest = solved(LESSON)
    at = 1 + next(i for i, c in enumerate(honest.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "guard_imports")
    honest.cells.insert(at, nbformat.v4.new_code_cell("print('mine, before the tests')"))
    honest.cells.append(nbformat.v4.new_code_cell("print('mine, after the tests')"))
    _put(subs, {"leaker": leaker, "prints_its_own": honest})


def test_hidden_inputs_never_reach_what_the_student_reads(trials):
    """A hostile trial: an answer that keeps its arguments and a last cell that prints them put every input of the
    hidden checks (the fixed all-negative case too) into OUT/autograded/, which nbgrader's generate_feedback turns
    into the page the student reads. Hidden parts now run after the notebook's last cell: that cell prints what the
    visible checks gave (published, as every output of the learner's cells is) and nothing hidden."""
    slug = LESSON.slug
    out, rows = _rows_of(trials, "leaker", "prints_its_own")
    full = sum(points_of_tests(LESSON).values())
    assert {s: float(r["score"]) for s, r in rows.items()} == {"leaker": full, "prints_its_own": full}, rows
    assert _hidden_inputs_shown(out, "leaker") == []
    published = nbformat.read(out / "autograded" / "leaker" / slug / f"{slug}.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for o in published.cells[-1].outputs)
    assert printed.startswith("LEAK\n") and "by 4" in printed and "by 2" in printed, published.cells[-1].outputs
    mine = nbformat.read(out / "autograded" / "prints_its_own" / slug / f"{slug}.ipynb", as_version=4)
    printed = {c.source: "".join(o.get("text", "") for o in c.outputs) for c in mine.cells if c.cell_type == "code"}
    assert printed["print('mine, before the tests')"] == "mine, before the tests\n", printed
    assert printed["print('mine, after the tests')"] == "mine, after the tests\n", printed
    assert printed[next(c.source for c in mine.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_pool")] \
        == "✔ pool: all visible checks passed.\n", printed


@_trial
def _raiser(subs):
    _put(subs, {"raiser": solved(LESSON, {TARGET: _KEEPS_ITS_ARGUMENTS,
                                          "pool": 'def pool(values, width, mode):\n    raise ValueError(" ".join(_seen))\n'})})


def test_a_later_visible_check_does_not_carry_hidden_inputs_out(trials):
    """A visible check says what the learner's code raised; one that ran after a hidden check could say what the
    hidden check gave. None does now: every visible check runs before any hidden part."""
    out, _ = _rows_of(trials, "raiser")
    assert _hidden_inputs_shown(out, "raiser") == []
    published = nbformat.read(out / "autograded" / "raiser" / LESSON.slug / f"{LESSON.slug}.ipynb", as_version=4)
    said = [o.get("evalue", "") for c in published.cells for o in c.get("outputs", []) if o.get("ename") == "TestFailed"]
    assert any("by 4" in text for text in said), said          # what it said is the visible inputs' only


_NAMES_ITS_ERROR_AFTER_THE_INPUTS = f'''def {TARGET}(values, width):
    import numpy as np
    arr = np.asarray(values, dtype=float)
    if arr.tolist() == [0.5, 2.0, 1.0, 0.0, 0.2, 0.1, 3.0, 0.4]:          # the visible checks' input
        return arr.reshape(-1, width).max(axis=1)
    name = " ".join(repr(float(v)) for v in arr[:8]) + f" by {{width}}"
    raise type(name, (ValueError,), {{"__module__": f"w{{width}}_n{{arr.size}}"}})("hidden")
'''


@_trial
def _namer(subs):
    _put(subs, {"namer": solved(LESSON, {TARGET: _NAMES_ITS_ERROR_AFTER_THE_INPUTS})})


def test_a_hidden_failure_does_not_name_the_learners_exception_class(trials):
    """A hostile trial: a failed hidden check says which class the learner's code raised, "numpy's LinAlgError", and
    took the class's name and module from the kernel. A class named after its arguments put the fixed hidden case
    into the failure message ("Your code raised ValueError (w2_n4's -3.0 -1.0 -2.0 -5.0 by 2)."): in grades,
    feedback and the published notebook, one resubmission later hard-coded. Only a real library class is named."""
    out, rows = _rows_of(trials, "namer")
    assert float(rows["namer"]["score"]) == sum(points_of_tests(LESSON).values()) - points_of_tests(LESSON)[TARGET_TEST]
    assert _hidden_inputs_shown(out, "namer") == []
    said = json.loads((out / "results" / "namer" / f"{LESSON.slug}.json").read_text(encoding="utf-8"))
    message = next(t["message"] for t in said["tests"] if t["grade_id"] == TARGET_TEST)
    assert "a class it defines (a kind of ValueError)" in message and "w2" not in message, message


_REDEFINED_LATER = f'''def {TARGET}(values, width):
    return None
'''


@_trial
def _later_and_dies(subs):
    later = solved(LESSON)
    later.cells.append(nbformat.v4.new_code_cell(_REDEFINED_LATER))
    dies = solved(LESSON, {TARGET: f'''def {TARGET}(values, width):
    import os
    import numpy as np
    if width not in (2, 4):
        os._exit(1)
    return np.asarray(values, dtype=float).reshape(-1, width).max(axis=1)
'''})
    _put(subs, {"later": later, "dies": dies})


def test_hidden_parts_check_the_answer_the_visible_part_saw(trials):
    """Each test's hidden part runs at the end, but on the objects its visible part looked up: a learner who later
    binds an exercise's name to something else (a scratch cell, a wrong retry) loses nothing there; and a kernel
    that dies in one hidden part costs that test only (the next ones look the names up again in a new kernel)."""
    out, rows = _rows_of(trials, "later", "dies")
    points = points_of_tests(LESSON)
    full = sum(points.values())
    assert float(rows["later"]["score"]) == full, rows["later"]
    assert float(rows["dies"]["score"]) == full - points[TARGET_TEST], rows["dies"]
    assert "kernel-died" in rows["dies"]["flags"].split(";"), rows["dies"]


@pytest.mark.slow
def test_a_cell_that_ends_its_kernel_a_little_later_costs_its_own_exercise_only(tmp_path):
    """A trial: an answer that starts a timer ending its kernel half a second later (``threading.Timer(0.5,
    os._exit, (0,))``) ran "ok", so it was replayed in every new kernel and ended each one in turn: the notebook lost
    the later exercises' points too. The replay that ends a fresh kernel is traced to that cell, which is not
    replayed again: it costs its own exercise only. An honest notebook whose kernel dies in two cells in a row (each
    its own os._exit) loses no answer cell to that search."""
    from conftest import autograde_cli

    answer = answer_sources(LESSON)[TARGET]
    # the next test's first call takes a second: the timer ends the kernel in that test
    slow = answer_sources(LESSON)["pool"] + textwrap.dedent("""
        import time as _time
        _first, _pool = [True], pool


        def pool(values, width, mode):
            if _first:
                _first.pop()
                _time.sleep(1)
            return _pool(values, width, mode)
        """)
    timer = solved(LESSON, {TARGET: "import os, threading\nthreading.Timer(0.5, os._exit, (0,)).start()\n" + answer,
                            "pool": slow})
    honest = solved(LESSON)
    at = 1 + next(i for i, c in enumerate(honest.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == TARGET)
    honest.cells[at:at] = [nbformat.v4.new_code_cell("import os\nos._exit(3)") for _ in range(2)]
    _put(tmp_path / "in", {"timer": timer, "honest": honest, "slow": solved(LESSON, {"pool": slow})})
    proc = autograde_cli(["grade", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--solutions",
                          str(LESSON.solutions), "--workers", "1"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = {student: json.loads((tmp_path / "out" / "results" / student / f"{LESSON.slug}.json").read_text())
               for student in ("timer", "honest", "slow")}
    verdicts = {student: {t["grade_id"]: t["status"] for t in result["tests"]} for student, result in results.items()}
    assert verdicts["honest"] == verdicts["slow"] == dict.fromkeys(points_of_tests(LESSON), "pass"), verdicts
    assert verdicts["timer"] == {**dict.fromkeys(points_of_tests(LESSON), "pass"), TARGET_TEST: "fail"}, verdicts
    assert "kernel-died" in results["timer"]["flags"]
    graded = (tmp_path / "out" / "autograded" / "timer" / LESSON.slug / f"{LESSON.slug}.ipynb").read_text()
    assert "the kernel died soon after this cell ran, each time it ran" in graded


# Hostile trials: the loop changes what the measurement counts through objects that answered the seal for themselves
# (shim.intact read them through their repr). An str subclass with the original's repr and an rstrip of its own made
# every line "library code": the loop earned the write-it-yourself point, no flag. A __repr__ that raised MemoryError
# turned a plain change of the prefixes into "could not tell": the point, and only measurement-unverified.
ANSWERS_THE_SEAL = {
    "same_repr": LOOPS + '''
import sys as _s


class _Prefix(str):
    def rstrip(self, *chars):
        return ""


_s.prefix = _Prefix(_s.prefix)
''',
    "repr_raises": LOOPS + '''
import sys as _s


class _Raises(str):
    def __repr__(self):
        raise MemoryError


_s.prefix = "/"
_s.base_prefix = _Raises(_s.base_prefix)
'''}


@_trial
def _answers_the_seal(subs):
    _put(subs, {name: solved(LESSON, {TARGET: source}) for name, source in ANSWERS_THE_SEAL.items()})


def test_a_measurement_changed_through_objects_that_answer_the_seal_is_flagged(trials):
    """The seal compares exact types, values and identities and runs none of the learner's code: both trials are
    flagged tampering, not measurement-unverified, and an honest notebook graded beside them is not flagged."""
    _, rows = _rows_of(trials, *ANSWERS_THE_SEAL, "honest")
    for name in ANSWERS_THE_SEAL:
        flags = rows[name]["flags"].split(";")
        assert "tampering" in flags and "measurement-unverified" not in flags, rows[name]
    assert rows["honest"]["flags"] == "", rows["honest"]


# A hostile trial: the loop with os.path.dirname replaced, which the measurement called at each call to find the
# library's folders: every line was "library code", the loop earned its write-it-yourself point, and no flag.
REPLACES_OS_PATH = LOOPS + '''
import os.path as _p

_p.dirname = lambda path: "/"
'''


@_trial
def _os_path(subs):
    _put(subs, {"os_path": solved(LESSON, {TARGET: REPLACES_OS_PATH})})


def test_a_loop_cannot_pass_for_library_code_by_replacing_os_path(trials):
    """What counts as library code is fixed when the measurement is imported, before any learner cell: the loop loses
    group_max's points, as the plain loop does, and everything else is graded as before."""
    _, rows = _rows_of(trials, "os_path")
    points = points_of_tests(LESSON)
    assert float(rows["os_path"]["score"]) == sum(points.values()) - points[TARGET_TEST], rows["os_path"]


_GRADES_IN_A_PROCESS = """
import json, resource, sys
from autograde.runner import grade_submission
for task in json.loads(sys.argv[1]):
    result = grade_submission(task)
    print(json.dumps({"status": result["status"], "score": result["score"], "detail": result["detail"],
                      "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))
"""


@pytest.mark.parametrize("where", ["a cell of its own", "an answer cell"])
def test_a_huge_learner_cell_does_not_fill_the_grading_workers_memory(tmp_path, where):
    """A hostile trial: the hint about an earlier failed answer parsed every learner cell in the grading worker, which
    runs without the learner's memory limit: one added cell of 1.5 MiB (`x = (a, a, ...)`) took the worker from
    84 MiB to 1.2 GiB at its peak (a notebook may hold 64 MiB: the grading machine's memory). The hint parses no
    more code than a lesson has; the notebook is graded as before. The worker's peak is compared with its own peak
    after grading the same notebook without the cell (a machine's libraries set the baseline: 429 MiB on CI's).
    In an answer cell, 1.6 MB went through tokenize for flagged.md's digest of the answers (autograde.answers: 430 MiB
    more for 800,000 comment lines, 470 MiB for a tuple of 800,000 numbers); such a cell is read line by line."""
    nb = solved(LESSON)
    plain = write(nb, tmp_path / "plain.ipynb")
    if where == "a cell of its own":
        nb.cells.append(nbformat.v4.new_code_cell("x = (" + "a," * 800_000 + ")\n"))
    else:
        answer = next(cell for cell in nb.cells if cell.metadata.get("nbgrader", {}).get("solution"))
        answer.source += "\n" + "#\n" * 800_000       # costs the kernel nothing, tokenize 1.6 million tokens
    huge = write(nb, tmp_path / "huge.ipynb")
    tasks = [{"student": name, "lesson": LESSON.slug, "solutions": str(LESSON.solutions), "path": str(path),
              "limits": {"cell_seconds": 30.0, "memory_bytes": int(1.5 * 2 ** 30)}, "sandbox": True, "threads": 1}
             for name, path in (("plain", plain), ("huge", huge))]
    run = subprocess.run([sys.executable, "-c", _GRADES_IN_A_PROCESS, json.dumps(tasks)], capture_output=True,
                         text=True, timeout=600, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    before, after = (json.loads(line) for line in run.stdout.strip().splitlines()[-2:])
    assert after["status"] == "graded", after
    assert after["score"] == sum(points_of_tests(LESSON).values()), after
    assert after["peak_mib"] - before["peak_mib"] < 100, (before, after)


def test_a_notebook_that_used_up_its_time_still_has_its_answers_checked(tmp_path):
    """Hidden parts run last, so a notebook whose own cells use up the submission's time (endless loops after the
    answers, each stopped at the cell limit and its kernel replaced) would lose every hidden check. They have at
    least one cell's time together: the answers are checked in a kernel that has run every clean cell again."""
    from autograde.runner import grade_submission

    nb = solved(LESSON)
    # endless, but asleep: the grader stops a cell by its time alone (interrupted, its kernel replaced), and a loop
    # that spins would only burn the machine's CPU for the 24 s
    nb.cells += [nbformat.v4.new_code_cell("import time\nwhile True:\n    time.sleep(0.1)") for _ in range(12)]
    path = write(nb, tmp_path / "slow.ipynb")
    # one cell's time is what the kernel's replacement, its replay and the hidden parts have: room on a busy machine
    limits = {"cell_seconds": 8.0, "submission_seconds": 24.0, "memory_bytes": int(1.5 * 2 ** 30)}
    result = grade_submission({"student": "slow", "lesson": LESSON.slug, "solutions": str(LESSON.solutions),
                               "path": str(path), "limits": limits, "sandbox": True, "threads": 1})
    assert result["status"] == "graded", result["detail"]
    assert result["score"] == sum(points_of_tests(LESSON).values()), result["tests"]
    notes = [o.get("text", "") for c in nbformat.reads(result["notebook"], as_version=4).cells[-12:] for o in c.outputs]
    assert any("used up its time limit" in text for text in notes), notes      # the loops did use it up


def _grade_with_target(tmp_path, student: str, answer: str, sandbox: bool) -> dict:
    """The test lesson with ``answer`` as the target's answer cell, graded in this process with 6 s a cell."""
    from autograde.runner import grade_submission

    path = write(solved(LESSON, {TARGET: answer}), tmp_path / f"{student}.ipynb")
    limits = {"cell_seconds": 6.0, "submission_seconds": 60.0, "memory_bytes": int(1.5 * 2 ** 30)}
    return grade_submission({"student": student, "lesson": LESSON.slug, "solutions": str(LESSON.solutions),
                             "path": str(path), "limits": limits, "sandbox": sandbox, "threads": 1})


def test_what_the_learner_reads_of_stopped_cells_is_bounded(tmp_path, monkeypatch):
    """A hostile trial: cells of 1,500 definitions each (long names) above an os._exit: each stop named every kept name
    to the learner, and six such cells made a self-check of 263,000 characters (a notebook's time: megabytes, where its
    feedback is otherwise held to 30,000). At most STOPPED_NAMED cells are named, each with at most KEPT_NAMES_CHARS
    characters of its kept names; the graded notebook still notes each cell."""
    from autograde import runner
    from autograde.check import problem_sentences
    from autograde.runner import grade_submission

    monkeypatch.setattr(runner, "STOPPED_NAMED", 2, raising=False)      # 2 of 3 stopped cells, not 10 of 11
    nb = solved(LESSON)
    names = "".join(f"kept_{i:04d}_{'n' * 40} = {i}\n" for i in range(600))
    nb.cells += [nbformat.v4.new_code_cell(f"# cell {k}\n{names}import os\nos._exit(0)\n") for k in range(3)]
    path = write(nb, tmp_path / "names.ipynb")
    limits = {"cell_seconds": 10.0, "submission_seconds": 120.0, "memory_bytes": int(1.5 * 2 ** 30)}
    result = grade_submission({"student": "names", "lesson": LESSON.slug, "solutions": str(LESSON.solutions),
                               "path": str(path), "limits": limits, "sandbox": True, "threads": 1})
    assert result["status"] == "graded" and result["score"] == sum(points_of_tests(LESSON).values()), result["tests"]
    said = problem_sentences(result, lambda text: text)
    assert [stop["cell"] for stop in result["stopped"]] == ["# cell 0", "# cell 1"], result["stopped"]
    assert all(stop["kept"][0] == f"kept_0000_{'n' * 40}" and stop["kept"][-1] == "…" for stop in result["stopped"])
    assert sum(len(sentence) for sentence in said) < 2_000, said
    notes = [o.get("text", "") for c in nbformat.reads(result["notebook"], as_version=4).cells[-3:] for o in c.outputs]
    assert sum("was run again in the new kernel" in text for text in notes) == 3, notes
    assert max(len(text) for text in notes) < 1_000, notes


def test_a_stopped_cell_keeps_what_it_defined_before_a_definition_that_does_not_finish(tmp_path):
    """A correct answer, then a class whose body never ends (the cell stopped there), then work: the replay of the
    cell's definitions stopped in the class body again, and the answer above it went with it. Each definition the
    replay finished is kept; the one it did not finish, and those after it, are not."""
    stops = answer_sources(LESSON)[TARGET] + (
        "\nimport time\nclass _Waits:\n    while True:\n        time.sleep(0.1)\n\n"
        "def pool(values, width, mode):\n    return None\n\nprint('never reached')\n")
    result = _grade_with_target(tmp_path, "stops", stops, sandbox=True)
    assert result["status"] == "graded" and "timeout" in result["flags"], result
    assert {t["grade_id"]: t["status"] for t in result["tests"]} == dict.fromkeys(points_of_tests(LESSON), "pass"), \
        result["tests"]
    notes = [o.get("text", "") for c in nbformat.reads(result["notebook"], as_version=4).cells if c.cell_type == "code"
             for o in c.outputs]
    assert any(f"({TARGET}, time)" in note and "run again" in note for note in notes), notes


def test_what_a_stopped_cell_kept_is_not_replayed_when_it_fills_the_kernels_folder(tmp_path, monkeypatch):
    """Where the kernel's folder cannot be locked (no root), a cell that wrote too much is not replayed. A stopped
    cell whose kept definitions (a class body) fill the folder was replayed all the same: each later cell that ran
    cleanly was taken for the one that filled it, and dropped with its answer (pool's points lost)."""
    from autograde import sandbox

    monkeypatch.setattr(sandbox, "HOST_QUOTA", 4 * 2 ** 20)
    fills = answer_sources(LESSON)[TARGET] + (
        "\nimport os\nclass _Fills:\n    with open(os.path.join(os.environ['JUPYTER_RUNTIME_DIR'], 'fill'), 'wb') as _f:\n"
        "        _f.write(b'0' * 8 * 2 ** 20)\n\n"
        "import time\nwhile True:\n    time.sleep(0.1)\n")
    result = _grade_with_target(tmp_path, "fills", fills, sandbox=False)
    assert result["status"] == "graded", result["detail"]
    assert "disk-limit" in result["flags"], result["flags"]
    verdicts = {t["grade_id"]: t["status"] for t in result["tests"]}
    assert verdicts == {**dict.fromkeys(points_of_tests(LESSON), "pass"), TARGET_TEST: "fail"}, result["tests"]
    notes = [o.get("text", "") for c in nbformat.reads(result["notebook"], as_version=4).cells if c.cell_type == "code"
             for o in c.outputs]
    assert any("wrote too much" in note for note in notes) and not any("run again" in note for note in notes), notes


# A hostile trial's 8 lines, spelled so that no word of runner.SUSPICIOUS matches: the measurement function the shim
# calls gets the code of one that reports a clean run. The loop then earned the write-it-yourself point, unflagged.
SWAPS_THE_MEASUREMENT = LOOPS + '''
import cnnbook as _c
_m = getattr(getattr(_c, "meas" + "ure"), "meas" + "ure")


def _looks_clean(func, args=(), kwargs=None, *, forbidden=(), line_limit=None):
    func(*args, **dict(kwargs or {}))
    return {"lines": 2, "stopped": False, "forbidden": [], "raised": None, "tampered": False}


type(_m).__setattr__(_m, "__co" + "de__", getattr(_looks_clean, "__co" + "de__"))
'''


@_trial
def _swapped(subs):
    _put(subs, {"swapped": solved(LESSON, {TARGET: SWAPS_THE_MEASUREMENT})})


def test_a_swapped_measurement_is_flagged_however_it_is_spelled(trials):
    """The tampering flag does not depend on spelling: the shim seals the measuring code before any learner cell
    runs, each measurement says whether it is still intact, and the grader flags one that is not. (The point of the
    check itself is the teaching-check bargain of DEVELOPERS.md: a learner who fakes the measurement gets it, and
    the instructor sees the flag.)"""
    from autograde.runner import suspicious_flags

    swapped = solved(LESSON, {TARGET: SWAPS_THE_MEASUREMENT})            # as the trials' batch has it
    assert suspicious_flags(swapped, nbformat.read(LESSON.source, as_version=4)) == []
    out, rows = _rows_of(trials, "swapped", "honest")
    assert "tampering" in rows["swapped"]["flags"].split(";"), rows["swapped"]
    assert rows["honest"]["flags"] == "", rows["honest"]


_HELPER_OF_GROUP_MAX = f'''def helper(values, width):
    return np.asarray(values, dtype=float).reshape(-1, width)


def {TARGET}(values, width):
    return helper(values, width).max(axis=1)
'''
_HELPER_OF_POOL = '''def helper(groups, mode):
    if mode == "max":
        return groups.max(axis=1)
    if mode == "mean":
        return groups.mean(axis=1)
    raise ValueError(f"mode must be 'max' or 'mean', not {mode!r}")


def pool(values, width, mode):
    return helper(np.asarray(values, dtype=float).reshape(-1, width), mode)
'''


@_trial
def _binds_a_name_again(subs):
    helpers = solved(LESSON, {TARGET: _HELPER_OF_GROUP_MAX, "pool": _HELPER_OF_POOL})
    tried = solved(LESSON)
    tried.cells.append(nbformat.v4.new_code_cell(
        "def make_layer(in_channels, out_channels):\n"
        "    return torch.nn.Conv2d(in_channels, out_channels, 5, padding=2)\n"))
    # and when a last cell outlives its time, the kernel is replaced: its replay keeps the names at the same places
    stuck = solved(LESSON, {TARGET: _HELPER_OF_GROUP_MAX, "pool": _HELPER_OF_POOL})
    stuck.cells.append(nbformat.v4.new_code_cell("import time\ntime.sleep(600)\n"))
    _put(subs, {"helpers": helpers, "tried": tried, "stuck": stuck})


def test_a_later_cell_that_binds_a_name_again_does_not_change_an_earlier_hidden_check(trials):
    """A hostile trial, honest work: since hidden parts run after the notebook's last cell, a learner whose two answers
    each had a helper called `helper` lost group_max's hidden points (its function found pool's helper: "Your code
    raised ValueError"), and one who tried make_layer out again at the end with a 5x5 kernel lost make_layer's (its
    probe looked the name up in the notebook's last state), though every test passed where it stands in Jupyter. The
    kernel keeps the notebook's names as each test's visible part left them and binds them so for its hidden part,
    also in a kernel that replaced one (a last cell that ran past its time: every hidden part ran again from the
    notebook's last state)."""
    _, rows = _rows_of(trials, "helpers", "tried", "stuck")
    full = sum(points_of_tests(LESSON).values())
    assert {s: float(r["score"]) for s, r in rows.items()} == {"helpers": full, "tried": full, "stuck": full}, rows
    assert rows["stuck"]["flags"] == "timeout", rows


@_trial
def _doubles(subs):
    doubles = solved(LESSON)
    doubles.cells.append(nbformat.v4.new_code_cell("torch.set_default_dtype(torch.float64)\n"))
    _put(subs, {"doubles": doubles})


def test_a_later_cell_that_changes_a_library_setting_does_not_change_an_earlier_hidden_check(trials):
    """A hostile trial, honest work: a last cell `torch.set_default_dtype(torch.float64)` (double precision for a
    gradient check) made make_layer's hidden probe build a float64 layer and fail on the test's float32 batch
    ("Your code raised RuntimeError"), though make_layer's test passed where it stands, and did when hidden parts
    ran in place. The settings that change what a computation gives are kept with the names (shim.settings)."""
    _, rows = _rows_of(trials, "doubles")
    assert float(rows["doubles"]["score"]) == sum(points_of_tests(LESSON).values()), rows



@_trial
def _leaves(subs):
    notebooks = {}
    for name, code in (("exits", "exit()"), ("quits", "print('done for today')\nquit()")):
        nb = solved(LESSON)
        nb.cells.insert(2, nbformat.v4.new_code_cell(code))     # before every answer
        notebooks[name] = nb
    _put(subs, notebooks)


def test_exit_or_quit_in_a_cell_costs_nothing_after_it(trials):
    """Honest work with an `exit()` left in a cell (or `quit()`): ipykernel ends a moment after that cell answered
    "ok", so the grader found its kernel dead in the next cell, and every replacement died again when the cells that
    had run cleanly were replayed, `exit()` among them: 0 of 4, every test "the kernel died while this test was
    calling your code". In the learner's kernel they end nothing now; the answers after them are graded."""
    _, rows = _rows_of(trials, "exits", "quits")
    full = sum(points_of_tests(LESSON).values())
    assert {s: (float(r["score"]), r["flags"]) for s, r in rows.items()} == {"exits": (full, ""), "quits": (full, "")}

def test_hidden_parts_after_a_real_lessons_cells_have_the_memory_they_had_in_place(tmp_path):
    """A hostile trial, honest work: since hidden parts run after the notebook's last cell, lesson 06's own solution
    got 5 of 18 points at --memory 1.5 (18 before): its hidden probes ran in a kernel whose cells had trained networks
    in several threads, and glibc's arena per thread (64 MiB of address space each, counted by the per-process
    limit) left oneDNN no room ("could not create a primitive"). The kernel keeps 2 arenas (MALLOC_ARENA_MAX)."""
    from autograde.runner import grade_submission
    from conftest import LESSONS

    lesson = next(one for one in LESSONS if one.slug == "06_lenet")
    path = write(solved(lesson), tmp_path / "honest.ipynb")
    limits = {"cell_seconds": 60.0, "memory_bytes": int(1.5 * 2 ** 30)}
    result = grade_submission({"student": "honest", "lesson": lesson.slug, "path": str(path), "limits": limits,
                               "sandbox": True, "threads": 1})
    assert result["status"] == "graded", result["detail"]
    assert result["score"] == result["max_score"], [(t["grade_id"], t["message"]) for t in result["tests"]]


_POOL_CALLS_GROUP_MAX = '''def pool(values, width, mode):
    if mode == "max":
        return group_max(values, width)
    if mode == "mean":
        return np.asarray(values, dtype=float).reshape(-1, width).mean(axis=1)
    raise ValueError(f"mode must be 'max' or 'mean', not {mode!r}")
'''
_GROUP_MIN = f'''def {TARGET}(values, width):
    return np.asarray(values, dtype=float).reshape(-1, width).min(axis=1)
'''


@_trial
def _fails_through(subs):
    _put(subs, {"through": solved(LESSON, {TARGET: _GROUP_MIN, "pool": _POOL_CALLS_GROUP_MAX}),
                "apart": solved(LESSON, {TARGET: _GROUP_MIN}),
                "pool_calls_group_max": solved(LESSON, {"pool": _POOL_CALLS_GROUP_MAX})})


def test_a_test_that_fails_through_an_earlier_broken_answer_says_which(trials):
    """A Korean learner's trial: their correct conv2d called their own broken zero_pad, and conv2d's test failed with
    numpy's error, nothing pointing at zero_pad. A failed test whose exercise's code reads a name an earlier exercise
    bound, whose own test failed, says so; a test that passes, or an exercise that does not read it, says nothing."""
    out, rows = _rows_of(trials, "through", "apart", "pool_calls_group_max")
    full = sum(points_of_tests(LESSON).values())
    assert float(rows["pool_calls_group_max"]["score"]) == full, rows["pool_calls_group_max"]
    said = "uses group_max, which did not pass its own test (test_group_max)"
    for student, pool_fails in (("through", True), ("apart", False), ("pool_calls_group_max", False)):
        result = json.loads((out / "results" / student / f"{LESSON.slug}.json").read_text(encoding="utf-8"))
        tests = {t["grade_id"]: t for t in result["tests"]}
        assert (tests["test_pool"]["status"] == "fail") == pool_fails, (student, tests["test_pool"])
        assert (said in tests["test_pool"]["message"]) == pool_fails, (student, tests["test_pool"])
        assert said not in tests[TARGET_TEST]["message"]
    page = (out / "feedback" / "through" / f"{LESSON.slug}.html").read_text(encoding="utf-8")
    assert said in page


def test_a_cell_stopped_again_after_a_dropped_killer_cell_leaves_no_kernel_behind(tmp_path):
    """A cell killed by an earlier cell's timer runs again once that cell is found and dropped; when the second run
    is stopped at its time limit too, the kernel is replaced: it was kept (read in the code by a hostile trial), and
    the threads and children the cell started went on beside the later cells."""
    from conftest import autograde_cli

    nb = solved(LESSON)
    at = 1 + next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == TARGET)
    nb.cells[at:at] = [
        nbformat.v4.new_code_cell("import os, threading\nthreading.Timer(1.0, os._exit, (0,)).start()"),
        nbformat.v4.new_code_cell("import threading, time\n"
                                  "threading.Thread(target=time.sleep, args=(1000,), name='stale-b', daemon=True)"
                                  ".start()\nwhile True:\n    time.sleep(0.01)"),
        nbformat.v4.new_code_cell("import threading\nprint('threads:', sorted(t.name for t in threading.enumerate()))"),
    ]
    _put(tmp_path / "in", {"stops_twice": nb})
    proc = autograde_cli(["grade", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--solutions",
                          str(LESSON.solutions), "--workers", "1", "--timeout", "5"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    graded = nbformat.read(tmp_path / "out" / "autograded" / "stops_twice" / LESSON.slug / f"{LESSON.slug}.ipynb",
                           as_version=4)
    printed = [o.get("text", "") for c in graded.cells if c.cell_type == "code" for o in c.outputs
               if "threads:" in o.get("text", "")]
    assert printed and "stale-b" not in printed[0], printed
    result = json.loads((tmp_path / "out" / "results" / "stops_twice" / f"{LESSON.slug}.json").read_text())
    assert {"timeout", "kernel-died"} <= set(result["flags"]), result["flags"]


# The course's own progress bar inside an exercise a write-it-yourself check watches: a learner's honest group_max with
# `from cnnbook.bars import tqdm` lost its points as "your code called cnnbook". Beside it, the same loop as GUARD_LOOPS
# compiled as the bar's own file under the bar's module name, which must still lose them.
BAR_IN_GROUP_MAX = f'''from cnnbook.bars import tqdm


def {TARGET}(values, width):
    groups = np.asarray(values, dtype=float).reshape(-1, width)
    for _ in tqdm(range(2), desc="groups", leave=False):
        pass
    for _ in tqdm(range(2), desc="stopped early"):
        break
    return groups.max(axis=1)
'''
LOOP_AS_THE_BAR = f'''import cnnbook.bars as _bars

_as_bar = {{"__name__": "cnnbook.bars", "__builtins__": __builtins__}}
exec(compile({LOOPS!r}, _bars.__file__, "exec"), _as_bar)
{TARGET} = _as_bar["{TARGET}"]
'''


@_trial
def _bars(subs):
    _put(subs, {"bar_in_group_max": solved(LESSON, {TARGET: BAR_IN_GROUP_MAX}),
                "loop_as_the_bar": solved(LESSON, {TARGET: LOOP_AS_THE_BAR})})


def test_the_course_bar_in_a_checked_exercise_costs_nothing_and_opens_no_door(trials):
    """Graded: the honest group_max with the course's bar gets every point and no flag; the loop dressed as the bar
    (the bar's file and module name) loses group_max's points, and only those."""
    out, rows = _rows_of(trials, "bar_in_group_max", "loop_as_the_bar")
    points = points_of_tests(LESSON)
    full = sum(points.values())
    assert float(rows["bar_in_group_max"]["score"]) == full and rows["bar_in_group_max"]["flags"] == "", \
        rows["bar_in_group_max"]
    assert float(rows["loop_as_the_bar"]["score"]) == full - points[TARGET_TEST], rows["loop_as_the_bar"]
    result = json.loads((out / "results" / "loop_as_the_bar" / f"{LESSON.slug}.json").read_text(encoding="utf-8"))
    tests = {t["grade_id"]: t for t in result["tests"]}
    assert "numpy does the work" in tests[TARGET_TEST]["message"], tests[TARGET_TEST]


# Lesson 10's nms is tested with the course's box_iou standing in for the learner's (a slip in box_iou costs only
# box_iou). A hostile trial: nms kept the stand-in it was handed during its visible test, and box_iou handed its own
# hidden cases to it later (hidden parts run after every visible one): box_iou's points without box_iou. Here box_iou
# answers the visible checks with code of its own (in the trial: the visible answers written in), and everything
# after nms's test with the kept stand-in.
KEEPS_THE_COURSE_BOX_IOU = {
    "box_iou": '''_course_iou = []


def box_iou(boxes_a, boxes_b):
    if _course_iou:
        return _course_iou[0](boxes_a, boxes_b)
    a = np.asarray(boxes_a, dtype=float).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=float).reshape(-1, 4)
    sides = np.clip(np.minimum(a[:, None, 2:], b[None, :, 2:]) - np.maximum(a[:, None, :2], b[None, :, :2]), 0, None)
    inter = sides[..., 0] * sides[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
''',
    "nms": '''def nms(boxes, scores, iou_threshold):
    if not _course_iou:
        _course_iou.append(box_iou)          # during nms's test, box_iou is the course's
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    order, keep = np.argsort(-np.asarray(scores, dtype=float), kind="stable"), []
    while len(order):
        keep.append(order[0])
        order = order[1:][box_iou(boxes[order[:1]], boxes[order[1:]])[0] <= iou_threshold]
    return np.array(keep, dtype=int)
'''}
# An honest nms that calls its own box_iou, which is wrong (the + 1 pixel convention): nms keeps its points.
HONEST_NMS_WRONG_BOX_IOU = {
    "box_iou": '''def box_iou(boxes_a, boxes_b):
    a = np.asarray(boxes_a, dtype=float).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=float).reshape(-1, 4)
    sides = np.clip(np.minimum(a[:, None, 2:], b[None, :, 2:]) - np.maximum(a[:, None, :2], b[None, :, :2]) + 1, 0,
                    None)
    inter = sides[..., 0] * sides[..., 1]
    area_a = (a[:, 2] - a[:, 0] + 1) * (a[:, 3] - a[:, 1] + 1)
    area_b = (b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1)
    return inter / (area_a[:, None] + area_b[None, :] - inter)
''',
    "nms": KEEPS_THE_COURSE_BOX_IOU["nms"].replace("    if not _course_iou:\n        _course_iou.append(box_iou)"
                                                   "          # during nms's test, box_iou is the course's\n", ""),
}


def _graded_detection(tmp_path, student: str, answers: dict[str, str]) -> tuple[dict, dict, dict]:
    """Lesson 10 solved but for ``answers`` (grade_id -> source), graded by the real grader (sandboxed, one thread):
    (the result, its tests by grade_id, the lesson's points by test)."""
    from autograde.runner import grade_submission
    from conftest import LESSONS

    lesson = next(one for one in LESSONS if one.slug == "10_detection")
    limits = {"cell_seconds": 60.0, "memory_bytes": int(1.5 * 2 ** 30)}
    path = write(solved(lesson, answers), tmp_path / f"{student}.ipynb")
    result = grade_submission({"student": student, "lesson": lesson.slug, "path": str(path), "limits": limits,
                               "sandbox": True, "threads": 1})
    assert result["status"] == "graded", (student, result["detail"])
    return result, {t["grade_id"]: t for t in result["tests"]}, points_of_tests(lesson)


def _box_iou_loses_only_its_hidden_cases(result: dict, tests: dict, points: dict) -> None:
    """nms keeps its points and box_iou loses exactly its own, in its hidden part: none of box_iou's hidden cases was
    answered by the course's code."""
    assert tests["test_nms"]["status"] == "pass", tests["test_nms"]
    assert tests["test_box_iou"]["status"] == "fail" and tests["test_box_iou"]["hidden"], tests["test_box_iou"]
    assert result["score"] == result["max_score"] - points["test_box_iou"], result["score"]


def test_a_stand_in_kept_by_a_later_exercise_scores_nothing_for_the_earlier_one(tmp_path):
    """Graded by the real grader (sandboxed): the notebook whose nms keeps the course's box_iou loses box_iou's points
    (the kept stand-in refuses to run after nms's call) and keeps nms's; the honest nms beside a wrong box_iou gets
    nms's points with the stand-in, and loses only box_iou's."""
    for student, answers in (("keeps", KEEPS_THE_COURSE_BOX_IOU), ("honest", HONEST_NMS_WRONG_BOX_IOU)):
        assert "_course_iou" not in answers["nms"] or student == "keeps"
        result, tests, points = _graded_detection(tmp_path, student, answers)
        assert tests["test_nms"]["status"] == "pass", (student, tests["test_nms"])
        assert tests["test_box_iou"]["status"] == "fail", (student, tests["test_box_iou"])
        assert result["score"] == result["max_score"] - points["test_box_iou"], (student, result["score"], [
            (t["grade_id"], t["status"]) for t in result["tests"] if t["status"] != "pass"])
        if student == "keeps":
            assert tests["test_box_iou"]["hidden"], tests["test_box_iou"]    # its visible checks passed


# The same theft one step further: nms took the course's box_iou out of the lent one's closure (spelled past the
# tampering regex) and box_iou handed its hidden cases to that. box_iou's own code is wrong where only hidden cases
# look (more than two boxes), so its points can come only from the course's code. Before, every point and no flag.
TAKES_THE_COURSE_BOX_IOU_OUT = {
    "box_iou": KEEPS_THE_COURSE_BOX_IOU["box_iou"].replace(
        "    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)\n",
        "    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0) * (1 + 0.01 * (len(a) > 2))\n"),
    "nms": KEEPS_THE_COURSE_BOX_IOU["nms"].replace(
        "        _course_iou.append(box_iou)          # during nms's test, box_iou is the course's\n",
        '''        for _cell in getattr(box_iou, "__clo" + "sure__") or ():
            _inner = getattr(_cell, "cell_con" + "tents")
            if callable(_inner) and getattr(_inner, "__name__", "") == "course_box_iou":
                _course_iou.append(_inner)
'''),
}


def test_the_course_function_inside_a_lent_stand_in_is_switched_off_after_the_call(tmp_path):
    """Graded by the real grader (sandboxed): the nms that takes the course's box_iou out of the lent one's closure
    keeps nms's points, and box_iou gets none of its hidden cases from the course's code: the same score as the
    same box_iou beside an nms that takes nothing."""
    assert "__clo" in TAKES_THE_COURSE_BOX_IOU_OUT["nms"] and "* (1 + 0.01" in TAKES_THE_COURSE_BOX_IOU_OUT["box_iou"]
    _box_iou_loses_only_its_hidden_cases(*_graded_detection(tmp_path, "takes", TAKES_THE_COURSE_BOX_IOU_OUT))


# No lent function needed: the test that lends box_iou holds the course's own between nms's calls, and box_iou found
# it among all of Python's objects (spelled past the tampering regex) and handed its hidden cases to it. Before,
# every point and no flag.
FINDS_THE_COURSE_BOX_IOU = {
    "box_iou": TAKES_THE_COURSE_BOX_IOU_OUT["box_iou"].replace('''    if _course_iou:
        return _course_iou[0](boxes_a, boxes_b)
''', '''    import gc
    for _found in getattr(gc, "get_obj" + "ects")():
        if type(_found) is type(box_iou) and _found.__name__ == "course_box_iou":
            try:
                return _found(boxes_a, boxes_b)
            except Exception:
                pass
'''),
    "nms": HONEST_NMS_WRONG_BOX_IOU["nms"],
}


def test_the_course_function_a_test_holds_runs_only_while_it_is_lent(tmp_path):
    """Graded by the real grader (sandboxed): the box_iou that finds the course's own among Python's objects and
    hands its cases to it gets none of its hidden cases from the course's code; nms keeps its points."""
    assert "get_obj" in FINDS_THE_COURSE_BOX_IOU["box_iou"] and "_course_iou" not in FINDS_THE_COURSE_BOX_IOU["nms"]
    _box_iou_loses_only_its_hidden_cases(*_graded_detection(tmp_path, "finds", FINDS_THE_COURSE_BOX_IOU))


# The test's own call (which lends box_iou and runs nms) is in the kernel too: box_iou found it (gc), called it with its
# own hidden case waiting in a global, and nms, inside that call, gave the case to the lent box_iou. Before, every
# point and no flag.
CALLS_THE_TEST_ITSELF = {
    "box_iou": FINDS_THE_COURSE_BOX_IOU["box_iou"].replace('''        if type(_found) is type(box_iou) and _found.__name__ == "course_box_iou":
            try:
                return _found(boxes_a, boxes_b)
            except Exception:
                pass
''', '''        if type(_found) is type(box_iou) and _found.__qualname__ == "course_backed.<locals>.call":
            _course_iou[:] = [(boxes_a, boxes_b)]
            try:
                _found(np.zeros((1, 4)), np.zeros(1), 0.5)
            except Exception:
                pass
            if len(_course_iou) == 2:
                return _course_iou.pop()
'''),
    "nms": HONEST_NMS_WRONG_BOX_IOU["nms"].replace('''    boxes = np.asarray(boxes''', '''    if _course_iou:
        _course_iou.append(box_iou(*_course_iou[0]))
    boxes = np.asarray(boxes'''),
}


def test_a_call_of_the_test_made_by_the_learners_code_lends_nothing(tmp_path):
    """Graded by the real grader (sandboxed): the box_iou that runs the test's own call of nms to have the lent
    box_iou answer its hidden case gets none of its hidden cases from the course's code; nms keeps its points."""
    assert "<locals>.call" in CALLS_THE_TEST_ITSELF["box_iou"] and "_course_iou.append(" in CALLS_THE_TEST_ITSELF["nms"]
    _box_iou_loses_only_its_hidden_cases(*_graded_detection(tmp_path, "calls", CALLS_THE_TEST_ITSELF))


def test_switching_the_lending_to_a_learners_own_notebook_is_tampering(tmp_path):
    """The same theft after setting cnnbook.standins._GRADED back to False (lending as in a learner's own notebook),
    spelled past the tampering regex: the seal sees it, and the grader flags tampering for the instructor."""
    answers = {"box_iou": 'import cnnbook.standins as _lending\nvars(_lending)["_GRA" + "DED"] = False\n'
                          + CALLS_THE_TEST_ITSELF["box_iou"], "nms": CALLS_THE_TEST_ITSELF["nms"]}
    result, _, _ = _graded_detection(tmp_path, "switches", answers)
    assert "tampering" in result["flags"], result["flags"]
