"""Submissions that go after the grader's OWN process through the wall, graded by the real grader in one batch.

The grader runs each test cell in its judge process and reads the learner's answers as plain data. A learner may
answer with a module (or a reply that names one), a reply too large or too deep, an object that makes the test's
own checking huge or slow, a notebook full of fake `np` and check helpers, or `mode is "max"`. Each must cost that
learner that exercise only: no import in the grader, the batch finishes, the other tests and submissions are
graded, and the grader's processes stay under the memory limit.

The lesson is the grader's test lesson (tests/course/solutions/99_guard) plus two test cells added here: one whose
checking grows with the square of the answer (as a naive test may), and one that reads `np` from the notebook
the way lessons once did, which the grader must refuse (a test reads only the exercise's names).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import GUARD, answer_sources, solved, write
from nbclient import NotebookClient

from autograde.lessons import ROOT, Lesson
from autograde.release import release
from autograde.sandbox import bubblewrap_works

pytestmark = pytest.mark.slow

MEMORY_GIB = 1.5
TIMEOUT = 10

NUMBERS_ANSWER = '''def numbers(n):
    """[0, 1, ..., n - 1] as a list."""
    ### BEGIN SOLUTION
    return list(range(n))
    ### END SOLUTION'''
# Naive on purpose: the check's work grows with the square of whatever came back.
NUMBERS_TEST = '''from cnnbook.checks import check_value, passed

got = numbers(4)
pairs = [(a, b) for a in got for b in got if a < b]
check_value("the pairs of numbers(4)", len(pairs), 6)
check_value("numbers(4)", got, [0, 1, 2, 3])
passed("numbers")

### BEGIN HIDDEN TESTS
check_value("numbers(0)", numbers(0), [])
### END HIDDEN TESTS'''
# Reads `np` from the notebook instead of importing it, as lessons 01-05 once did.
READS_NP_TEST = '''from cnnbook.checks import check_array, passed

check_array("numbers(3) as an array", np.asarray(numbers(3)), np.arange(3))
passed("numbers as an array")

### BEGIN HIDDEN TESTS
### END HIDDEN TESTS'''


def _meta(gid: str, points: int | None) -> dict:
    if points is None:
        return {"nbgrader": {"grade": False, "grade_id": gid, "locked": False, "schema_version": 3,
                             "solution": True, "task": False}}
    return {"nbgrader": {"grade": True, "grade_id": gid, "locked": True, "points": points, "schema_version": 3,
                         "solution": False, "task": False}}


def guard_lesson(root: Path) -> Lesson:
    """GUARD with the two extra test cells, released into root/notebooks."""
    solutions = root / "solutions"
    shutil.copytree(GUARD.solutions / GUARD.slug, solutions / GUARD.slug)
    lesson = Lesson(GUARD.slug, solutions)
    nb = nbformat.read(lesson.source, as_version=4)
    nb.cells += [nbformat.v4.new_markdown_cell("## 5. `numbers(n)` (2 points)"),
                 nbformat.v4.new_code_cell(NUMBERS_ANSWER, metadata=_meta("numbers", None)),
                 nbformat.v4.new_code_cell(NUMBERS_TEST, metadata=_meta("test_numbers", 1)),
                 nbformat.v4.new_code_cell(READS_NP_TEST, metadata=_meta("test_reads_np", 1))]
    nbformat.write(nb, lesson.source)
    release([lesson], out_dir=root / "notebooks")
    return lesson


GROUP_MAX = answer_sources(GUARD)["group_max"]
SHIM_JSON_PATCH = '''import json as _json
import autograde.shim as _shim
class _Forger:
    loads = staticmethod(_json.loads)
    @staticmethod
    def dumps(reply, **kwargs):
        text = _json.dumps(reply, **kwargs)
        return {forged} if "FORGE-ME" in text else text
_shim.json = _Forger
'''


def cases(lesson: Lesson) -> dict[str, tuple[dict[str, str], dict[str, str | tuple[str, ...]]]]:
    """name -> (answer cells replaced, {test: expected status}); tests not named must pass."""
    answers = answer_sources(lesson)
    forged_module = SHIM_JSON_PATCH.format(forged="""'{"value": {"$module": "unittest.__main__"}}'""")
    forged_deep = SHIM_JSON_PATCH.format(forged="""'{"value": ' + '{"$list": [' * 10000 + '1' + ']}' * 10000 + '}'""")
    forged_mro = '''import autograde.shim as _shim
_real_ref = _shim._ref
def _ref(obj):
    info = _real_ref(obj)
    info["mro"] = ["numpy.f2py.__main__.Main", "unittest.__main__.Main", "this.Zen", "antigravity.Fly",
                   "builtins.object"]
    info["type"] = info["mro"][0]
    return info
_shim._ref = _ref
'''
    return {
        "honest": ({}, {}),
        "module_object": ({"group_max": "import types\ndef group_max(values, width):\n"
                                        "    return types.ModuleType('unittest.__main__')"}, {"test_group_max": "fail"}),
        "stdlib_modules": ({"group_max": "import this, types, unittest\ndef group_max(values, width):\n"
                                         "    return [this, unittest, types.ModuleType('antigravity')]"},
                           {"test_group_max": "fail"}),
        "forged_module_reply": ({"group_max": forged_module + "def group_max(values, width):\n"
                                                             "    return 'FORGE-ME'"}, {"test_group_max": "fail"}),
        # the right layer behind a class name that names modules: nothing is imported, and the layer still works
        "forged_mro": ({"make_layer": forged_mro + answers["make_layer"]}, {}),
        "huge_reply": ({"group_max": "def group_max(values, width):\n    return [0.5] * 3_000_000"},
                       {"test_group_max": "fail"}),
        "deep_reply": ({"group_max": "def group_max(values, width):\n    answer = [1.0]\n"
                                     "    for _ in range(10_000):\n        answer = [answer]\n    return answer"},
                       {"test_group_max": "fail"}),
        "forged_deep_reply": ({"group_max": forged_deep + "def group_max(values, width):\n    return 'FORGE-ME'"},
                              {"test_group_max": "fail"}),
        "memory_bomb": ({"numbers": "def numbers(n):\n    return list(range(900_000))"}, {"test_numbers": "fail"}),
        "time_bomb": ({"numbers": "def numbers(n):\n    return [0] * 900_000"}, {"test_numbers": "timeout"}),
        "endless_iterator": ({"numbers": "import itertools\ndef numbers(n):\n    return itertools.count()"},
                             {"test_numbers": "fail"}),
        # the kernel's list grows until the cell's time or the memory runs out, whichever comes first on this machine
        # (with 2 malloc arenas, since 3a8dbb0, the memory: 3.6 s here at 1.5 GiB)
        "endless_iterator_unbounded_shim": (
            {"numbers": "import itertools\nimport autograde.shim\nautograde.shim.MAX_ITEMS = 10 ** 12\n"
                        "def numbers(n):\n    return itertools.count()"}, {"test_numbers": ("timeout", "fail")}),
        "fake_names": ({"group_max": "import types\nnp = types.SimpleNamespace(array=lambda *a, **k: [2.0, 3.0],\n"
                                     "    asarray=lambda *a, **k: [0, 1, 2], arange=lambda *a, **k: [0, 1, 2],\n"
                                     "    allclose=lambda *a, **k: True, isclose=lambda *a, **k: True,\n"
                                     "    random=None, zeros=lambda *a, **k: [0])\n"
                                     "check_array = check_value = check_shape = passed = lambda *a, **k: None\n"
                                     "values = [2.0, 3.0]\nmode = 'max'\n"
                                     "def group_max(values, width):\n    return [2.0, 3.0]",
                        # the learner's own pool does not use the fake np (it would break it in Jupyter too)
                        "pool": "import numpy\n" + answers["pool"].replace("np.", "numpy.")},
                       {"test_group_max": "fail"}),
        "is_for_both_modes": ({"pool": answers["pool"].replace('mode == "max"', 'mode is "max"')
                                                       .replace('mode == "mean"', 'mode is "mean"')},
                              {"test_pool": "fail"}),
        "is_for_mean_only": ({"pool": answers["pool"].replace('mode == "mean"', 'mode is "mean"')}, {}),
    }


def _max_rss_of_grading(subs: Path, out: Path, solutions: Path) -> int:
    """Grade the batch in a fresh process; return the peak resident memory (bytes) of any process it started.
    One worker: a second one's zygote and judge process (torch imported in each) cost more CPU than it saves."""
    script = f"""
import resource, sys
from pathlib import Path
from autograde.grade import grade_batch
grade_batch(Path({str(subs)!r}), Path({str(out)!r}), solutions=Path({str(solutions)!r}), workers=1,
            cell_timeout={TIMEOUT}, memory_gib={MEMORY_GIB}, progress=lambda line: print(line, flush=True))
print("MAXRSS", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=1500, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return int(proc.stdout.split("MAXRSS")[-1].split()[0])


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if not bubblewrap_works():
        pytest.fail("bubblewrap is needed (apt-get install bubblewrap): .ci/run installs it")
    root = tmp_path_factory.mktemp("wall-course")
    lesson = guard_lesson(root)
    subs = tmp_path_factory.mktemp("wall")
    out = tmp_path_factory.mktemp("wall-out")
    table = cases(lesson)
    for name, (replace, _) in table.items():
        write(solved(lesson, replace), subs / name / lesson.slug / f"{lesson.slug}.ipynb")
    max_rss = _max_rss_of_grading(subs, out, lesson.solutions)
    results = {name: json.loads((out / "results" / name / f"{lesson.slug}.json").read_text()) for name in table}
    return lesson, table, results, max_rss


CASES = [
    "honest", "module_object", "stdlib_modules", "forged_module_reply", "forged_mro", "huge_reply", "deep_reply",
    "forged_deep_reply", "memory_bomb", "time_bomb", "endless_iterator", "endless_iterator_unbounded_shim",
    "fake_names", "is_for_both_modes", "is_for_mean_only"]


@pytest.mark.parametrize("name", CASES)
def test_an_attack_on_the_grader_costs_only_its_own_exercise(graded, name):
    _, table, results, _ = graded
    result = results[name]
    assert result["status"] == "graded", (name, result["status"], result["detail"])
    expected = table[name][1]
    verdicts = {t["grade_id"]: t for t in result["tests"]}
    for gid, test in verdicts.items():
        if gid == "test_reads_np":
            continue
        want = expected.get(gid, "pass")
        assert test["status"] in (want if isinstance(want, tuple) else (want,)), (name, gid, test)
        assert test["points"] == (test["max_points"] if want == "pass" else 0.0), (name, test)
        # a crash of the judge process would also end in a failure: the message says it was not one
        assert "judge process ended" not in test["message"], (name, test)


def test_each_attack_gets_a_clear_reason(graded):
    _, _, results, _ = graded

    def message(name: str, gid: str) -> str:
        return next(t["message"] for t in results[name]["tests"] if t["grade_id"] == gid)

    for name in ("huge_reply", "deep_reply", "forged_deep_reply"):
        assert "your answer is too large or too deeply nested" in message(name, "test_group_max"), name
    assert "items" in message("huge_reply", "test_group_max")
    assert "deep" in message("deep_reply", "test_group_max") and "deep" in message("forged_deep_reply",
                                                                                    "test_group_max")
    assert "'$module'" in message("forged_module_reply", "test_group_max")
    assert message("memory_bomb", "test_numbers").startswith("the test ran out of memory checking your answer")
    assert "limit" in message("time_bomb", "test_numbers")
    assert "more than 100000 items" in message("endless_iterator", "test_numbers")
    unbounded = message("endless_iterator_unbounded_shim", "test_numbers")
    assert "limit" in unbounded or unbounded.startswith("the test ran out of memory checking your answer"), unbounded


def test_the_grader_stayed_under_the_memory_limit(graded):
    *_, max_rss = graded
    assert 0 < max_rss < MEMORY_GIB * 2 ** 30, f"a grading process reached {max_rss / 2 ** 30:.2f} GiB"


def test_a_test_that_reads_np_from_the_notebook_is_refused_for_everyone(graded):
    _, table, results, _ = graded
    for name in table:
        test = next(t for t in results[name]["tests"] if t["grade_id"] == "test_reads_np")
        assert test["status"] == "grader-error" and "reads 'np' from the notebook" in test["message"], (name, test)


def _jupyter_verdict(lesson: Lesson, pool_answer: str, tmp: Path) -> bool:
    """Run the source notebook (hidden tests included) in a plain Jupyter kernel: did test_pool pass?"""
    nb = nbformat.read(lesson.source, as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid == "pool":
            cell.source = pool_answer
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in
                ("numbers", "test_numbers", "test_reads_np")]
    client = NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(tmp)}})
    client.execute()
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_pool")
    return not any(o.output_type == "error" for o in cell.outputs)


@pytest.mark.parametrize("name", ["is_for_both_modes", "is_for_mean_only", "honest"])
def test_mode_is_max_gives_the_verdict_it_gives_in_jupyter(graded, name, tmp_path):
    lesson, table, results, _ = graded
    pool_answer = table[name][0].get("pool", answer_sources(lesson)["pool"])
    in_jupyter = _jupyter_verdict(lesson, pool_answer, tmp_path)
    graded_status = next(t["status"] for t in results[name]["tests"] if t["grade_id"] == "test_pool")
    assert (graded_status == "pass") == in_jupyter, (name, graded_status, in_jupyter)
