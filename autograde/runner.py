"""Grade one submission: its cells in a sandboxed kernel, the lesson's tests in the grader's own process.

``grade_submission`` takes and returns plain dicts, so the same function runs in a local worker process or
on a Dask worker. It never raises for a bad submission: every problem becomes a status or a flag.
"""
from __future__ import annotations

import ast
import atexit
import copy
import functools
import hashlib
import json
import re
import secrets
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat

from cnnbook.errors import explanation
from cnnbook.i18n import N_

from .answers import notebook_answers
from .colab import is_setup_cell
from .judge import TestOutcome, exercise_names, lesson_probes, notebook_language, run_test, split_hidden
from .judge_process import forget_pending, start_judge
from .kernel import MAX_OUTPUTS, REPLY_BYTES, CellTimeout, InboundGuard, KernelDied, LearnerKernel, RemoteError
from .lessons import (ROOT, SOLUTIONS, Lesson, NotebookProblem, grade_cells, is_test_cell, malformed_nbgrader,
                      nbgrader_meta, read_notebook)
from .plain import TooLarge
from .forked import close_zygotes, zygote_for
from .sandbox import Limits, Sandbox, new_work_root, remove_tree

# What an instructor may want to look at in a learner's code. These never cost points by themselves
# (the sandbox and the out-of-process verdicts already make them useless); they are reported as flags.
SUSPICIOUS = [
    ("tampering", re.compile(r"ast_transformers|input_transformers|set_custom_exc|showtraceback|sys\.excepthook"
                             r"|__builtins__|builtins\.|sys\.modules|importlib|__import__|setattr\(|cnnbook\.checks|np\.testing\.\w+\s*=|"
                             r"autograde|grader_shim|sys\.set(trace|profile)|publish_display_data|display_pub|"
                             r"(np|numpy|torch|math)\.\w+\s*=[^=]|checks\.\w+\s*=[^=]|def __eq__|AssertionError\s*=|"
                             # rewriting a function's code or reaching the course's helpers in the kernel (a
                             # hostile trial faked the write-it-yourself measurement through __code__)
                             r"__code__|__globals__|__closure__|__defaults__|cnnbook\.measure|comm_manager|"
                             r"get_referrers|get_objects|_msg_callback|"
                             # reaching the frames of the test's own code, where a course stand-in's window or the
                             # function that lends it can be found (cnnbook.standins)
                             r"_getframe|\.f_back\b|\.f_locals\b|\.tb_frame\b|\.gi_frame\b|cell_contents|"
                             r"inspect\.(stack|trace|currentframe|getouterframes|getinnerframes|getclosurevars)")),
    ("reads-grader-files", re.compile(r"solutions/|gradebook|\.db\b|autograded|NBGRADER|grading_mode\(|os\.environ")),
    ("process-tricks", re.compile(r"os\._exit|os\.fork|os\.kill|subprocess|signal\.|ctypes|multiprocessing|socket")),
]


def _answer_anchors(source: nbformat.NotebookNode) -> dict[str, str | None]:
    """For each test cell of the source, the grade_id of the answer cell just before it."""
    anchors, last_answer = {}, None
    for cell in source.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            last_answer = meta.get("grade_id")
        elif is_test_cell(cell):
            anchors[meta["grade_id"]] = last_answer
    return anchors


def plan(student: nbformat.NotebookNode, source: nbformat.NotebookNode):
    """The cells to run, in the learner's order, with the source's test cells put back after their answers.

    Returns (steps, flags): steps are ("code", cell), ("text", cell), ("setup", cell) (the course's Colab set-up
    cell, see autograde.colab: not run) or ("test", source test cell); every test of the lesson appears exactly
    once, whatever the learner did to their copy of it.
    """
    # nbgrader metadata nbgrader never writes (a string, a list, a grade_id that is not text): those cells are
    # plain cells to the plan (lessons.nbgrader_meta), and the instructor sees that the file was edited by hand.
    flags = {"tampering"} if malformed_nbgrader(student) else set()
    source_tests = {gid: cell for gid, cell in grade_cells(source).items() if is_test_cell(cell)}
    anchors = _answer_anchors(source)
    waiting: dict[str | None, list[str]] = {}   # anchor grade_id -> tests to run after it
    gid: str | None
    for gid, anchor in anchors.items():
        waiting.setdefault(anchor, []).append(gid)
    steps, placed = [], set()

    def place(anchor):
        for gid in waiting.pop(anchor, []):
            steps.append(("test", source_tests[gid]))
            placed.add(gid)

    place(None)
    seen_answer = None
    for cell in student.cells:
        meta = nbgrader_meta(cell)
        gid = meta.get("grade_id")
        if gid in source_tests:
            original = source_tests[gid]
            if cell.get("cell_type") != "code":
                flags.add("test-cell-retyped")
            elif _visible(cell.source) != _visible(split_hidden(original.source)[0]) and not _as_released(cell):
                flags.add("test-cell-edited")
            if anchors.get(gid) is not None and anchors[gid] != seen_answer:
                flags.add("test-cell-moved")
            continue
        if is_setup_cell(cell):
            steps.append(("setup", cell))     # the Colab set-up cell (inert outside Colab): kept, never run
            continue
        steps.append(("code" if cell.get("cell_type") == "code" else "text", cell))
        if meta.get("solution") and gid:
            seen_answer = gid
            place(gid)
    if any(gid not in {nbgrader_meta(c).get("grade_id") for c in student.cells}
           for gid in source_tests):
        flags.add("test-cell-deleted")
    for anchor in list(waiting):
        place(anchor)            # answers the learner deleted: their tests still run, at the end
    return steps, sorted(flags)


def _as_released(cell) -> bool:
    """True when a test cell is exactly as a release of the course wrote it: nbgrader's checksum of the cell holds.

    A course update that fixes a visible test's hint makes every earlier copy differ from today's source; that is
    not the learner's edit. (A learner who edits a test cell and forges its checksum only hides this flag: the
    test that runs is always the source's.) Without nbgrader (a learner's self-check) every difference counts.
    """
    try:
        from nbgrader.utils import compute_checksum
    except ImportError:
        return False
    try:
        return cell.metadata.nbgrader.get("checksum") == compute_checksum(cell)
    except Exception:  # noqa: BLE001 - a submission's metadata may hold anything
        return False


def _visible(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def suspicious_flags(student: nbformat.NotebookNode, source: nbformat.NotebookNode,
                     source_path: Path | None = None) -> list[str]:
    """Patterns of tampering in the code the learner wrote (answer cells and cells they added).

    The course's own code cells are never the learner's: in the English source and, when ``source_path``'s
    folder holds translation catalogs, in each translated edition (whose strings are translated), and the
    Colab set-up cell that release puts first."""
    given = {_visible(c.source) for c in source.cells if c.get("cell_type") == "code"}
    if source_path is not None:
        from .i18n import translated_sources

        given |= {_visible(text) for text in translated_sources(source, source_path.parent)}
    code = "\n".join(c.source for c in student.cells if c.get("cell_type") == "code"
                     and not is_test_cell(c) and not is_setup_cell(c) and _visible(c.source) not in given)
    return [name for name, pattern in SUSPICIOUS if pattern.search(code)]


# The modules grading runs from: the command's own (grade), the worker, and the programs it starts by name (the judge,
# the kernel, the zygote) or calls into (the shim, in the kernel); __init__ runs with any of them.
GRADING_ROOTS = ("__init__", "grade", "worker", "judge_process", "kernel_app", "forked", "shim")
# Modules grading imports whose every output each run writes again from the results (the class reports, the LMS files,
# intake.csv's quoting, names shown beside ids): nothing of theirs is kept in a result, the gradebook or autograded/,
# so a change to them grades nobody again. OUTPUT_HELPERS says which of their names grading may use.
REBUILT_EACH_RUN = ("report",)
OUTPUT_HELPERS = {"report": {"csv_safe", "keep_canvas_gradebook", "write_class_reports", "person_name"}}


def _imported(path: Path, modules: set[str]) -> set[str]:
    """The modules of ``modules`` (one package's) that ``path`` imports anywhere, inside functions too."""
    found = set()
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.ImportFrom):
            parts = (node.module or "").split(".")
            if node.level == 0 and parts[0] != path.parent.name:
                continue
            inner = parts[1:] if node.level == 0 else parts
            if inner and inner[0]:
                found.add(inner[0])
            else:                           # from . import late; from autograde import moodle
                found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".")[1] for alias in node.names
                      if alias.name.startswith(path.parent.name + ".")}
    return found & modules


def graded_modules(package: Path) -> list[str]:
    """The modules of ``package`` (autograde/) that grading can run: GRADING_ROOTS and all they import, read from
    their import statements. The instructor's other tools (release, package-students, progress, reset, the command
    line's parser) are not among them, nor REBUILT_EACH_RUN, so a change to one grades nobody again."""
    modules = {path.stem for path in package.glob("*.py")} - set(REBUILT_EACH_RUN)
    seen: set[str] = set()
    todo = [name for name in GRADING_ROOTS if name in modules]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_imported(package / f"{name}.py", modules) - seen)
    return sorted(seen)


def code_fingerprint(root: Path = ROOT) -> str:
    """The grading code (graded_modules of autograde/), every helper of cnnbook/ (learner code may import any) and
    the helpers' translations (a result keeps its messages in the learner's language)."""
    digest = hashlib.sha256()
    files = [root / "autograde" / f"{name}.py" for name in graded_modules(root / "autograde")]
    files += sorted((root / "cnnbook").rglob("*.py"))
    files += sorted((root / "cnnbook" / "locale").rglob("*.po"))    # the package's words in each language
    for path in files:
        digest.update(f"{path.relative_to(root).as_posix()}\0".encode() + path.read_bytes())
    return digest.hexdigest()


@functools.lru_cache(maxsize=None)
def _code_fingerprint() -> str:
    return code_fingerprint(ROOT)


def fingerprint(lesson_source: Path) -> str:
    """What decides a verdict here: the grader's and the helpers' code and the lesson's tests, and the translations
    of both (a Korean learner's result keeps its messages in Korean: a fixed translation is a new result). A worker (a Dask
    worker on another machine) whose copy differs from the coordinator's refuses to grade."""
    digest = hashlib.sha256((_code_fingerprint() + "\0").encode() + lesson_source.read_bytes())
    for catalog in sorted(lesson_source.parent.glob("*.po")):       # the lesson's words in each language
        digest.update(f"\0{catalog.name}\0".encode() + catalog.read_bytes())
    return digest.hexdigest()


def new_hidden_seed() -> int:
    """A fresh seed for the hidden tests' random inputs (cnnbook.checks.hidden_rng): one per grading run."""
    return secrets.randbits(62)


def submission_seed(run_seed: int, student: str, lesson: str) -> int:
    """The seed of one submission's hidden inputs: the run's seed (recorded in every result), the student's id
    and the lesson's together. Students graded side by side in one run never get the same hidden inputs, so one
    who solved them cannot hand its answers to another over a side channel between two sandboxes (a hostile
    trial found one: locks on the read-only files both see); the run's seed and the id still repeat a grading."""
    digest = hashlib.sha256(f"{run_seed}\0{student}\0{lesson}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 2


class MachineFault(Exception):
    """A failure of the grading machine, not of the submission: never the learner's grade (the batch retries,
    and a submission that still fails is a grader-error, graded again by the next run)."""


class KernelStartFailed(MachineFault):
    """The sandboxed kernel did not start before any learner code ran: an infrastructure failure."""


# A fault hook's (grade_batch(faults=...), tests only) memory limit of a group above the sandbox's own: the
# learner's kernel starts within it, and a notebook that fills a few hundred MiB more is killed from above.
SQUEEZE_BYTES = 640 * 2**20


def _check_death(kernel: LearnerKernel, limits: Limits) -> None:
    """After the learner's kernel died: raise MachineFault when an out-of-memory killer took it while the
    submission stayed within its own memory limit (the machine ran out: sandbox.Cgroups.killed_from_above), or
    when it was a forked kernel whose zygote ended (autograde.forked: its kernels end with it)."""
    zygote = kernel.sandbox.zygote
    if zygote is not None and zygote.ended():
        raise MachineFault("the process the learner's kernel was forked from (this worker's zygote, "
                           "autograde.forked) ended, and the kernel with it (a fault of the grading machine, not of "
                           "the submission)")
    cgroups = kernel.sandbox.cgroups
    if cgroups is not None and cgroups.killed_from_above():
        raise MachineFault(f"the grading machine ran out of memory, and its out-of-memory killer stopped the "
                           f"learner's kernel while the submission stayed within its own limit of "
                           f"{limits.memory_bytes / 2**30:g} GiB (a fault of the grading machine, not of the "
                           f"submission: on this machine, grade with fewer --workers or a lower --memory)")


def grade_submission(task: dict, on_event: Callable[[str, dict], None] | None = None) -> dict:
    """Grade one notebook. ``task``: student, lesson, solutions, path, limits (dict), sandbox (bool), threads,
    and the coordinator's ``fingerprint`` of the project (optional).

    ``on_event(kind, details)``, when given, hears of the run as it goes, for a learner waiting on a self-check:
    ``("cell", {"cell": <its first line>, "seconds": <its time limit>})`` as a learner's cell starts,
    ``("test", {"grade_id", "seconds"})`` as a test starts, and ``("stopped", {"how": "timeout" or "died", "cell"
    or "grade_id"})`` as soon as one was stopped. What it raises is ignored: it never changes a grade."""
    started = time.monotonic()
    if type(task.get("hidden_seed")) is not int:
        task = {**task, "hidden_seed": new_hidden_seed()}
    result = {"student": task["student"], "lesson": task["lesson"], "path": task["path"], "status": "graded",
              "flags": [], "tests": [], "detail": "", "notebook": None, "hidden_seed": task["hidden_seed"]}
    lesson = Lesson(task["lesson"], ROOT / task.get("solutions", SOLUTIONS))     # relative: this worker's copy
    if task.get("fingerprint") and task["fingerprint"] != fingerprint(lesson.source):
        result.update(status="grader-error", flags=["stale-worker"], tests=[], score=0.0,
                      detail=f"this worker ({socket.gethostname()}) has another version of the course's code or "
                             f"of {lesson.slug}'s tests than the grader that sent the work: update it, then re-run")
        return result
    source = nbformat.read(lesson.source, as_version=4)
    result["max_score"] = float(sum(c.metadata.nbgrader.get("points", 0) for c in grade_cells(source).values()
                                    if is_test_cell(c)))
    tests_meta = [(gid, float(c.metadata.nbgrader.get("points", 0)))
                  for gid, c in grade_cells(source).items() if is_test_cell(c)]
    try:
        student = read_notebook(Path(task["path"]))
    except NotebookProblem as problem:
        result.update(status=problem.status, detail=str(problem), **({"reason": problem.reason} if problem.reason else {}))
        result["tests"] = [{"grade_id": g, "points": 0.0, "max_points": p, "status": "not-run",
                            "message": NOT_READ} for g, p in tests_meta]
        result["score"] = 0.0
        return result
    result.update(notebook_answers(student, lesson))    # flagged.md's note of hand-ins with the same answers
    try:
        _grade(student, source, task, result, on_event)
    except MachineFault as err:               # the machine's fault: never the learner's grade; the batch retries
        result.update(status="grader-error", detail=str(err))
        result["tests"] = []
    except Exception:  # noqa: BLE001 - a bug of ours must not lose the batch either
        result.update(status="grader-error", detail=traceback.format_exc(limit=6))
        result["tests"] = []
    done = {t["grade_id"] for t in result["tests"]}
    for gid, points in tests_meta:
        if gid not in done:
            # The detail (a traceback, a path) is for the instructor; the learner reads a plain reason.
            reason = NOT_RUN_GRADER_ERROR if result["status"] == "grader-error" else NOT_RUN_STOPPED_EARLY
            result["tests"].append({"grade_id": gid, "points": 0.0, "max_points": points, "status": "not-run",
                                    "message": _said(reason, result.get("language") or "en")})
    result["score"] = float(sum(t["points"] for t in result["tests"]))
    result["seconds"] = round(time.monotonic() - started, 2)
    return result


# Heavy libraries a lesson's kernel imports before any learner cell when the lesson's code imports them:
# top-level package -> the module to import. Importing binds no name in the notebook (see shim.preload).
# Outputs of the learner's cells kept in the graded notebook, all cells together (kernel.MAX_OUTPUTS per cell):
# each is checked against nbformat's schema, in the worker and where the batch writes the notebook out.
NOTEBOOK_OUTPUTS = 20_000
PRELOADABLE = {"numpy": "numpy", "matplotlib": "matplotlib.pyplot", "torch": "torch"}
_IMPORT = re.compile(r"^\s*(?:import|from)\s+([A-Za-z_]\w*)", re.MULTILINE)


# What torch.optim imports when a lesson makes its first optimizer (about 1 s of CPU per kernel): preloaded only
# for lessons whose code names an optimizer (06-10); the others (01-05, the grader's test lesson) never import it.
_OPTIMIZER = re.compile(r"\boptim\b")


def lesson_preload(source: nbformat.NotebookNode) -> tuple[str, ...]:
    """The PRELOADABLE modules the lesson's own code cells import, and ``torch._dynamo`` when they use torch.optim."""
    code = [c.source for c in source.cells if c.get("cell_type") == "code"]
    tops = {m for text in code for m in _IMPORT.findall(text)}
    preload = tuple(module for top, module in PRELOADABLE.items() if top in tops)
    if "torch" in tops and any(_OPTIMIZER.search(text) for text in code):
        preload += ("torch._dynamo",)
    return preload


def new_sandbox(limits: Limits, isolate: bool, threads: int, preload: tuple[str, ...],
                squeeze: int | None = None) -> tuple[Path, Sandbox]:
    """A kernel's sandbox and its host folder: forked by this worker's zygote where that is available
    (autograde.forked: the lesson's libraries imported once per worker, not once per kernel), else started as a
    fresh process."""
    zygote = zygote_for(limits, threads, preload) if isolate and limits.forked_kernels else None
    work_root = zygote.new_work_root() if zygote is not None else new_work_root()
    return work_root, Sandbox(work_root, limits, isolate=isolate, squeeze=squeeze, zygote=zygote)


class _Spare:
    """A kernel a worker starts for its NEXT submission while it grades the current one (``task["warm"]``).

    It is started exactly as a cold kernel is (sandbox, shim, preloads), before anything of any submission is
    known; it gets the lesson's probes when it is handed a submission, and it serves that one submission only
    (it is shut down with it, as any kernel is). A spare whose limits differ from the next task's is discarded;
    one nobody takes within ``IDLE_SECONDS`` (a Dask worker between batches) shuts itself down.
    """

    IDLE_SECONDS = 120.0

    def __init__(self, key: tuple, limits: Limits, isolate: bool, threads: int, preload: tuple[str, ...]):
        self.key = key
        self.work_root, sandbox = new_sandbox(limits, isolate, threads, preload)
        self.kernel = LearnerKernel(sandbox, sandbox.env(threads), preload=preload)
        self.error: BaseException | None = None
        self.lock = threading.Lock()
        self.started = threading.Event()  # the start is over (ready, or failed)
        self.claimed = threading.Event()
        self.gone = False                 # shut down (discarded or expired): never handed out
        try:
            self.kernel.launch()          # in the worker's own thread: the sandbox dies with the thread that made it
        except BaseException as err:  # noqa: BLE001 - reported when the spare is taken (it then is not used)
            self.error = err
        self.thread = threading.Thread(target=self._run, name="autograde-warm-kernel", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        if self.error is None:
            try:
                self.kernel.connect()
            except BaseException as err:  # noqa: BLE001 - reported when the spare is taken (it is not used)
                self.error = err
        self.started.set()
        if not self.claimed.wait(self.IDLE_SECONDS):
            self.discard()

    def take(self, key: tuple) -> LearnerKernel | None:
        """This spare's kernel, ready, for a submission with limits ``key``; None (and the spare discarded)
        when it does not fit, did not start or has expired (the caller then starts a kernel the usual way)."""
        self.started.wait()                 # bounded: the start has its own time limits
        with self.lock:
            usable = not self.gone and key == self.key and self.error is None and self.kernel.alive()
            self.claimed.set()
        if usable:
            return self.kernel
        self.discard()
        return None

    def discard(self) -> None:
        self.started.wait()                 # never shut a kernel down while it is being started
        with self.lock:
            if self.gone:
                return
            self.gone = True
            self.claimed.set()
        self.kernel.shutdown()
        remove_tree(self.work_root)


_spares = threading.local()           # each worker thread (a Dask worker may have several) keeps its own spare
_all_spares: set[_Spare] = set()
_spares_lock = threading.Lock()


def discard_spares() -> None:
    """Shut down every spare kernel of this process (a worker that stops)."""
    with _spares_lock:
        spares = list(_all_spares)
        _all_spares.clear()
    for spare in spares:
        spare.discard()


atexit.register(close_zygotes)       # after the spares (atexit runs last first): their folders are the zygote's
atexit.register(discard_spares)


def _start_kernel(task: dict, limits: Limits, probes: dict[str, str],
                  preload: tuple[str, ...]) -> tuple[LearnerKernel, Path, bool]:
    """This submission's kernel, ready and with the lesson's probes, its host work folder, and whether it was
    a warm one (started while the worker graded the submission before).

    With ``task["warm"]`` the kernel started in the background for it is used when there is one, and the next
    submission's kernel starts in the background at once. No learner code has run in either yet: a failure
    here is the grading machine's (KernelStartFailed), never the learner's grade."""
    isolate, threads = task.get("sandbox", True), task.get("threads", 1)
    # A spare fits when it was started with the same limits and the same preloads: one started for another lesson
    # without torch made every kernel of a lesson that needs it import torch in its first cell (about 1 s each).
    key = (json.dumps(task.get("limits", {}), sort_keys=True), isolate, threads, preload)
    fault = task.get("fault") == "kernel-start" or (task.get("fault") == "kernel-start-once"
                                                    and task.get("attempt", 1) == 1)
    squeeze = task.get("fault") == "machine-oom" or (task.get("fault") == "machine-oom-once"
                                                     and task.get("attempt", 1) == 1)
    kernel: LearnerKernel | None = None
    work_root, warm = Path(), False
    spare: _Spare | None = getattr(_spares, "next", None)
    _spares.next = None
    if spare is not None:
        with _spares_lock:
            _all_spares.discard(spare)
        if fault or squeeze:
            spare.discard()
        else:
            kernel = spare.take(key)            # discards itself when it does not fit
            work_root = spare.work_root
    if task.get("warm") and not (fault or squeeze):
        _spares.next = _Spare(key, limits, isolate, threads, preload)
        with _spares_lock:
            _all_spares.add(_spares.next)
    try:
        if kernel is not None:
            kernel.probes = dict(probes)
            try:
                kernel.register_probes()
                warm = True
            except KernelDied:
                kernel.shutdown()
                remove_tree(work_root)
                kernel = None
        if kernel is None:
            work_root, sandbox = new_sandbox(limits, isolate, threads, preload, SQUEEZE_BYTES if squeeze else None)
            kernel = LearnerKernel(sandbox, sandbox.env(threads), probes=probes, preload=preload)
            if fault:
                _never_starts(sandbox)
            try:
                kernel.start()
            except KernelDied:
                remove_tree(work_root)
                raise
        if task.get("fault") == "kernel-restart" or (task.get("fault") == "kernel-restart-once"
                                                     and task.get("attempt", 1) == 1):
            # Test hook (grade_batch(faults=...) only): the kernel starts, but a replacement for it would not.
            _never_starts(kernel.sandbox)
    except KernelDied as err:
        raise KernelStartFailed(f"the learner's kernel could not be started (a fault of the grading machine, "
                                f"not of the submission): {err}") from None
    return kernel, work_root, warm


def _never_starts(sandbox: Sandbox) -> None:
    """Test hook (grade_batch(faults=...) only; the CLI never sets it): the sandbox's next kernels exit at once,
    as a broken sandbox's would."""
    sandbox.kernel_argv = lambda: sandbox.wrap([sys.executable, "-c", "raise SystemExit(3)"])  # type: ignore[method-assign]


def _grade(student, source, task: dict, result: dict, on_event: Callable[[str, dict], None] | None = None) -> None:
    limits = Limits(**task.get("limits", {}))

    def tell(kind: str, **details) -> None:
        if on_event is not None:
            try:
                on_event(kind, details)
            except Exception:  # noqa: BLE001 - what the listener does never costs the grading
                pass

    # The tests speak the learner's language: as asked (``check --lang``), else the notebook's own (the Korean
    # edition says so in its metadata, wherever the file was saved), else the grader's.
    lang = task.get("lang") or notebook_language(student)
    if lang:
        result["language"] = lang
    steps, flags = plan(student, source)
    names = exercise_names(source)              # the only names a test may read from the notebook
    flags += suspicious_flags(student, source, Lesson(task["lesson"], ROOT / task.get("solutions", SOLUTIONS)).source)
    deadline = time.monotonic() + limits.submission_seconds
    graded = copy.deepcopy(student)
    out_cells = []
    ran_ok: list[str] = []          # code that ran cleanly, replayed when a kernel has to be replaced
    stub = False                    # an answer cell since the last test still raised the stub's NotImplementedError
    stopped = ""                    # a cell since the last test was stopped ("timeout") or killed its kernel ("died")
    kept_outputs = 0                # outputs of the learner's cells in the graded notebook (NOTEBOOK_OUTPUTS at most)
    # Hidden parts of the tests run after the notebook's last cell, each in the namespace its visible part left
    # (DEVELOPERS.md, "Hidden inputs and what the learner reads"): no learner cell and no visible check runs after
    # the kernel has seen a hidden input, so nothing they show can carry one out. Keys are this submission's own.
    token = secrets.token_hex(8)
    pending: list[tuple[str, Any, dict, Any]] = []      # (key, test cell, its result, its graded copy)
    seed = submission_seed(task["hidden_seed"], task["student"], task["lesson"])
    replayed = [True]               # False: the kernel was replaced and the time ran out before every cell ran again
    # The lesson's probes (@learner_side test functions) go into the kernel before any learner cell runs.
    started = time.monotonic()
    start_judge(int(limits.memory_bytes))      # its imports while the kernel starts (a self-check's first test)
    kernel, work_root, warm = _start_kernel(task, limits, lesson_probes(source), lesson_preload(source))

    kept_at: dict[str, int] = {}    # a pending test's key -> how many of ran_ok had run when its names were kept
    failed_answers: dict[int, dict] = {}    # id of an answer cell that stopped with an error -> how (_cell_failure)
    graded_tests: list = []         # the graded notebook's test cells, one per result["tests"] entry

    ran_cells: list = []            # the graded notebook's cell of each entry of ran_ok (None: a test's imports)

    def revive(until: float, died: bool = False) -> bool:
        """Replace the kernel (see _revive); True when a cell that ended every kernel was found and dropped: the
        step that noticed the death was ended by it, and runs again."""
        replayed[0] = _revive(kernel, ran_ok, limits, until, kept_at)
        if not (died and replayed[0] and any(ran_ok)):
            return False
        # A cell that answered and then ended its kernel a little later (a timer, a thread, a child process) ran
        # "ok": replayed after every death, it would end each new kernel too, and cost every later test. When the
        # replay alone ends a fresh kernel, the cell whose replay does it is found (by replaying ever shorter
        # beginnings of ran_ok), and is not replayed again: only that cell's work is lost. Nothing is dropped
        # unless the kernel then lives: an honest death costs a few seconds' wait, never a cell.
        wait = min(KILLER_WAIT, limits.cell_seconds)
        if not _dies_within(kernel, wait, until):
            return False
        found = _find_killer(kernel, ran_ok, limits, until, wait)
        if found is None:
            replayed[0] = _revive(kernel, ran_ok, limits, until, kept_at)
            return False
        code, ran_ok[found] = ran_ok[found], ""
        replayed[0] = _revive(kernel, ran_ok, limits, until, kept_at)
        if replayed[0] and _dies_within(kernel, wait, until):
            ran_ok[found] = code                 # it was not that cell (or not that cell alone): as before
            replayed[0] = _revive(kernel, ran_ok, limits, until, kept_at)
            return False
        flags.append("kernel-died")
        if ran_cells[found] is not None:
            ran_cells[found].outputs.append(_note(
                "the kernel died soon after this cell ran, each time it ran (a timer, a thread or a process it "
                "started?): it was not run again when the kernel was replaced, so what it defined is missing after"))
        return True

    def replays(code: str) -> bool:
        remaining = deadline - time.monotonic()
        return remaining > 0 and not guard.tripped and kernel.execute(
            code, timeout=min(limits.cell_seconds, remaining), keep_outputs=False).status == "ok"

    def keep(source: str, new) -> tuple[list[str], Any]:
        """After a cell was stopped (or its kernel died) and the kernel replaced: what the cell defined before its
        first statement that does any work runs again in the new kernel (see leading_statements), and is replayed
        with the cells that finished from now on. A definition can do work (a class body, a decorator, an import):
        they run in at most KEEP_STEPS steps, and those before a step that does not finish cleanly are kept, in a
        kernel replaced once more without it. The names kept, and the note it puts on the cell's output, if any."""
        statements = leading_statements(source)
        if not statements or not replayed[0] or deadline - time.monotonic() <= 0 or guard.tripped \
                or not kernel.alive():
            return [], None
        size = -(-len(statements) // KEEP_STEPS)
        done: list[tuple[str, list[str]]] = []
        for start in range(0, len(statements), size):
            step = statements[start:start + size]
            if not replays(_joined(step)[0]):
                revive(deadline)            # a clean kernel again, with the cells that finished only
                if done and replayed[0] and replays(_joined(done)[0]):
                    break
                if done and replayed[0]:
                    revive(deadline)        # those that finished did not this time: without them
                return [], None
            done += step
        code, defined = _joined(done)
        ran_ok.append(code)
        ran_cells.append(new)
        note = _note(f"what this cell defined above its first other statement ({', '.join(names_shown(defined))}) "
                     "was run again in the new kernel, so the tests after it can use it")
        new.outputs.append(note)
        return defined, note

    result["kernel"] = {"warm": warm, "forked": kernel.sandbox.forked, "preload": list(kernel.preload),
                        "start_seconds": round(time.monotonic() - started, 2)}
    sandbox = kernel.sandbox
    phases = result["kernel"]["phases"] = {"cells": 0.0, "tests": 0.0}
    # What the kernel may make this process hold of its messages (kernel.InboundGuard): as much as the learner's
    # processes may hold themselves, and room for the largest reply the codec takes.
    guard = InboundGuard(kernel, max(limits.memory_bytes, 4 * REPLY_BYTES))
    flooded = "not run: the kernel sent the grader more data than it accepts, and was stopped"
    try:
        for kind, cell in steps:
            remaining = deadline - time.monotonic() if not guard.tripped else 0.0
            if kind == "text":
                out_cells.append(copy.deepcopy(cell))     # written answers stay for manual grading
                continue
            if kind == "setup":                           # the Colab set-up cell: kept, its Colab outputs not
                new = copy.deepcopy(cell)
                new.outputs, new.execution_count = [], None
                out_cells.append(new)
                continue
            if kind == "code":
                new = copy.deepcopy(cell)
                kept_note = None            # keep()'s note on this cell's output
                named = False               # this cell is one of result["stopped"]
                if remaining <= 0:
                    new.outputs = [_note(flooded if guard.tripped else "not run: the submission used up its time limit")]
                    out_cells.append(new)
                    continue
                began = time.monotonic()
                tell("cell", cell=cell_label(cell.source), seconds=min(limits.cell_seconds, remaining))
                run = kernel.execute(cell.source, timeout=min(limits.cell_seconds, remaining))
                revived = False             # the kernel was replaced already after this cell's death
                if run.status == "died" and not guard.tripped:
                    _check_death(kernel, limits)
                    revived = True
                    if revive(deadline, died=True) and deadline - time.monotonic() > 0:
                        # an earlier cell ended every kernel (and this one, in this cell): it was dropped; this
                        # cell runs again in a kernel without it
                        run = kernel.execute(cell.source, timeout=min(limits.cell_seconds, deadline - time.monotonic()))
                        revived = run.status not in ("died", "timeout")   # stopped again: replaced below
                phases["cells"] += time.monotonic() - began
                room = max(0, NOTEBOOK_OUTPUTS - kept_outputs)
                new.outputs = []
                for o in run.outputs[:room]:
                    try:
                        new.outputs.append(nbformat.from_dict(o))
                    except (RecursionError, TypeError, ValueError, AttributeError):
                        # whatever the learner's kernel sent, it costs that output only, never the grading
                        flags.append("tampering")
                        new.outputs.append(_note("an output of this cell was dropped: not one a notebook can hold"))
                kept_outputs += len(new.outputs)
                new.execution_count = None
                if run.truncated or len(run.outputs) > room:
                    flags.append("output-limit")
                    new.outputs.append(_note(f"output cut at {limits.output_bytes:,} bytes or {MAX_OUTPUTS:,} outputs "
                                             f"(a cell), {NOTEBOOK_OUTPUTS:,} outputs (the notebook)"))
                grading = cell.metadata.get("nbgrader")       # the learner's metadata: any JSON at all
                if isinstance(grading, dict) and grading.get("solution") is True and any(
                        isinstance(o, dict) and o.get("output_type") == "error" and o.get("ename") == "NotImplementedError"
                        for o in run.outputs):
                    stub = True             # the next test is "not answered yet", whatever it says (self-check's TO DO)
                if run.status == "error" and isinstance(grading, dict) and grading.get("solution") is True:
                    failure = _cell_failure(run)
                    if failure is not None:
                        failed_answers[id(cell)] = failure      # named by the tests after it that fail
                if run.status == "ok":
                    ran_ok.append(cell.source)
                    ran_cells.append(new)
                elif guard.tripped:
                    flags.append("output-limit")
                    new.outputs.append(_note("the kernel sent the grader more data than it accepts and was stopped; "
                                             "nothing after this cell runs"))
                elif run.status in ("timeout", "died"):
                    if run.status == "died":
                        _check_death(kernel, limits)
                    flags.append("timeout" if run.status == "timeout" else "kernel-died")
                    stopped = run.status
                    tell("stopped", how=run.status, cell=cell_label(cell.source))
                    new.outputs.append(_note("this cell ran past its time limit and was stopped"
                                             if run.status == "timeout" else
                                             "the kernel died in this cell (os._exit, a crash, or the memory limit)"))
                    # Replace the kernel even if it answered the interrupt: children it forked or
                    # started (a fork bomb, a runaway subprocess) die with its sandbox.
                    if not revived:
                        revive(deadline, died=run.status == "died")
                    kept, kept_note = keep(cell.source, new)
                    # said to the learner by the self-check and the feedback page (check.problem_sentences): of at
                    # most STOPPED_NAMED cells (the graded notebook notes each)
                    named = len(result.setdefault("stopped", [])) < STOPPED_NAMED
                    if named:
                        result["stopped"].append({"how": run.status, "cell": cell_label(cell.source),
                                                  "kept": names_shown(kept)})
                if sandbox.over_host_quota():
                    flags.append("disk-limit")
                    new.outputs.append(_note("this cell wrote too much into the kernel's folder; the kernel was "
                                             "replaced"))
                    if ran_cells and ran_cells[-1] is new:
                        ran_ok.pop()                 # replaying it (or what a stopped cell kept) would fill it again
                        ran_cells.pop()
                        if kept_note is not None:
                            new.outputs = [o for o in new.outputs if o is not kept_note]
                            if named:
                                result["stopped"][-1]["kept"] = []
                    revive(deadline)
                out_cells.append(new)
                continue
            gid = cell.metadata.nbgrader["grade_id"]
            points = float(cell.metadata.nbgrader.get("points", 0))
            key = f"{token}:{len(result['tests'])}"
            if remaining <= 0:
                outcome_status, printed, hidden = ("not-run" if guard.tripped else "timeout"), "", False
                message = flooded if guard.tripped else _said(OUT_OF_TIME, lang)
            else:
                began = time.monotonic()
                tell("test", grade_id=gid, seconds=min(limits.cell_seconds, remaining))
                imports = visible_imports(cell.source)
                if imports:
                    run = kernel.execute(imports, timeout=min(limits.cell_seconds, remaining), keep_outputs=False)
                    if run.status == "ok":
                        ran_ok.append(imports)
                        ran_cells.append(None)
                    elif run.status in ("timeout", "died"):     # the learner's kernel hangs or dies on an import
                        if run.status == "died":
                            _check_death(kernel, limits)
                        revive(deadline, died=run.status == "died")
                    remaining = deadline - time.monotonic() if not guard.tripped else 0.0
                outcome = run_test(cell.source, kernel, max(0.0, min(limits.cell_seconds, remaining)), names,
                                   exercise=gid.removeprefix("test_"), lang=lang, seed=seed, defer=key, lesson=task["lesson"])
                dropped = [False]
                _settle(outcome, kernel, limits, guard, flags, lambda died: dropped.__setitem__(0, revive(deadline, died)))
                remaining = deadline - time.monotonic() if not guard.tripped else 0.0
                if dropped[0] and outcome.status == "died" and remaining > 0:
                    # an earlier cell ended every kernel (and this one, in this test): it was dropped; the test runs
                    # again in a kernel without it
                    outcome = run_test(cell.source, kernel, min(limits.cell_seconds, remaining), names,
                                       exercise=gid.removeprefix("test_"), lang=lang, seed=seed, defer=key, lesson=task["lesson"])
                    _settle(outcome, kernel, limits, guard, flags, lambda died: revive(deadline, died))
                phases["tests"] += time.monotonic() - began
                if outcome.status in ("timeout", "died"):
                    tell("stopped", how=outcome.status, grade_id=gid)
                outcome_status, message, printed, hidden = outcome.status, _test_message(outcome, lang), outcome.printed, \
                    outcome.hidden
            entry = {"grade_id": gid, "points": 0.0, "max_points": points, "status": outcome_status,
                     "message": message, "hidden": False, **({"unanswered": True} if stub else {}),
                     **({"stopped_before": _stopped_before(stopped, lang)} if stopped else {})}
            result["tests"].append(entry)
            stub, stopped = False, ""
            test_cell = copy.deepcopy(cell)
            test_cell.outputs = []
            if printed:
                test_cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=printed))
            out_cells.append(test_cell)
            graded_tests.append(test_cell)
            if outcome_status == "pending":
                pending.append((key, cell, entry, test_cell))
                kept_at[key] = len(ran_ok)
                _namespace(kernel, "keep", key, min(limits.cell_seconds, max(0.0, deadline - time.monotonic())))
            else:
                _record(entry, test_cell, outcome_status, message, hidden)
        # The hidden parts, in the notebook's order, once every learner cell and every visible check has run. They
        # have what is left of the submission's time, and at least one cell's time together: a notebook whose own
        # cells used it up (a few endless loops) still has what it answered checked, as when they ran in place.
        # After a flood (guard.tripped) nothing of the submission runs any more.
        deadline = max(deadline, time.monotonic() + limits.cell_seconds)
        if pending and not replayed[0] and not guard.tripped:
            revive(deadline)                # the kernel they need holds the answers again
        for key, cell, entry, test_cell in pending:
            remaining = deadline - time.monotonic() if not guard.tripped else 0.0
            if remaining <= 0:
                _record(entry, test_cell, "not-run" if guard.tripped else "timeout",
                        flooded if guard.tripped else _said(OUT_OF_TIME, lang), False)
                continue
            began = time.monotonic()
            gid = cell.metadata.nbgrader["grade_id"]
            _namespace(kernel, "restore", key, min(limits.cell_seconds, remaining))
            kept_at.pop(key, None)          # a kernel replaced from now on has no need to keep them again
            remaining = deadline - time.monotonic() if not guard.tripped else 0.0
            outcome = run_test(cell.source, kernel, max(0.0, min(limits.cell_seconds, remaining)), names,
                               exercise=gid.removeprefix("test_"), lang=lang, seed=seed, hidden_of=key, lesson=task["lesson"])
            phases["tests"] += time.monotonic() - began
            _settle(outcome, kernel, limits, guard, flags, lambda died: revive(deadline, died))
            _record(entry, test_cell, outcome.status, _test_message(outcome, lang), outcome.hidden)
        if guard.tripped:
            # A flood costs the whole notebook, whenever the grader noticed it: one the kernel sends in the background
            # may come in while a later test runs (a loaded batch once kept the points of the tests before it).
            for entry, test_cell in zip(result["tests"], graded_tests):
                if entry["status"] == "pass":
                    _record(entry, test_cell, "not-run", flooded, False)
        try:
            _point_to_earlier_failures(steps, result["tests"], graded_tests, lang, names, failed_answers)
        except Exception:  # noqa: BLE001 - a hint that cannot be worked out is left out; it never costs a grade
            pass
    except KernelDied as err:
        _check_death(kernel, limits)
        flags.append("kernel-died")
        result["detail"] = str(err)
    finally:
        bound_messages(result["tests"], graded_tests if len(graded_tests) == len(result["tests"]) else [], lang)
        # A test whose hidden part never ran is "not run" (grade_submission says why), never a pass.
        result["tests"] = [t for t in result["tests"] if t["status"] != "pending"]
        forget_pending()
        guard.stop()
        if kernel.malformed:
            flags.append("tampering")          # it sent messages outside the protocol (they were dropped)
        kernel.shutdown()
        remove_tree(work_root)
    for phase in phases:
        phases[phase] = round(phases[phase], 2)
    graded.cells = out_cells
    result["notebook"] = nbformat.writes(graded)
    result["flags"] = sorted(set(flags))


NAMESPACE_SECONDS = 10.0    # a dict copied in the kernel takes milliseconds: one that does not answer is not waited for


def _namespace(kernel: LearnerKernel, op: str, key: str, seconds: float) -> None:
    """Keep the notebook's names as they are now under ``key`` ("keep", when a test's visible part passed), or bind
    them as they were then ("restore", before its hidden part), so that a hidden part sees the notebook as the
    test's place in it left it, as when it ran there (a helper of a later exercise with the same name broke an
    earlier exercise's hidden checks). The kernel does it, so a learner's code may undo it: that changes only
    which of their own bindings their hidden checks call. A kernel replaced since has none kept (its hidden parts
    run again from the notebook's last state); a kernel that does not answer is left to the test that follows."""
    seconds = min(seconds, NAMESPACE_SECONDS)
    if seconds <= 0:
        return
    try:
        kernel.request_text({"op": op, "key": key}, seconds)
    except (CellTimeout, KernelDied, TooLarge, RemoteError):
        pass


def _settle(outcome: TestOutcome, kernel: LearnerKernel, limits: Limits, guard: InboundGuard, flags: list[str],
            revive: Callable[[bool], object]) -> None:
    """Flags for what running a test (or its hidden part) did; a kernel it killed or hung is replaced."""
    if outcome.tampering:
        flags.append("tampering")    # a measurement came from measuring code the learner changed
    if outcome.unverified:
        flags.append("measurement-unverified")
    if guard.tripped:
        flags.append("output-limit")
    elif outcome.status in ("timeout", "died"):
        if outcome.status == "died":
            _check_death(kernel, limits)
        flags.append("timeout" if outcome.status == "timeout" else "kernel-died")
        revive(outcome.status == "died")
    if outcome.status == "grader-error":
        flags.append("grader-error")


def _record(entry: dict, test_cell, status: str, message: str, hidden: bool) -> None:
    """A test's verdict into its result and its cell of the graded notebook."""
    stopped = entry.pop("stopped_before", "")
    if status != "pass" and stopped:
        message = f"{message}\n{stopped}" if message else stopped
    entry.update(status=status, message=message, points=entry["max_points"] if status == "pass" else 0.0,
                 hidden=status != "pass" and hidden)
    if status == "pass":
        entry.pop("unanswered", None)
    else:
        test_cell.outputs.append(nbformat.v4.new_output("error", ename="TestFailed", evalue=message,
                                                        traceback=[message]))


# Said with a failed test when a cell between the test before it and this one was stopped: the learner reads that
# test's message (self-check, the feedback page) and would otherwise see only that a name is not defined.
STOPPED_BEFORE = {
    "timeout": N_("A cell before this test ran past its time limit and was stopped, so what it defines may be missing "
                  "or unfinished: is there an endless loop, or a loop that does far more work than it needs?"),
    "died": N_("The Python kernel died in a cell before this test (out of memory, os._exit or a crash), so what that "
               "cell defines may be missing."),
}


# Said by a test that was itself stopped, in the learner's language: the kernel's and the judge's own words ("no answer
# within 59.99 s (an infinite loop?)") are the grader's, in English (a Korean learner's trial read them in self-check).
TEST_STOPPED = {
    "timeout": N_("This test ran past its time limit and was stopped: does the code it calls have an endless loop, or "
                  "a loop that does far more work than it needs?"),
    "died": N_("The Python kernel died while this test was calling your code (out of memory, os._exit or a crash)."),
}
OUT_OF_TIME = N_("not run: the submission used up its time limit")
# A test's message when the grader did not run it (the learner reads why; the instructor reads the result's detail).
NOT_RUN_GRADER_ERROR = N_("not run: the grader could not run the tests (not your mistake; your instructor will see why)")
NOT_RUN_STOPPED_EARLY = N_("not run: the submission stopped early")
NOT_READ = N_("the notebook could not be read")
# Said again in the learner's language on the feedback page (a result recorded before they were translated).
GRADER_TEST_MESSAGES = (NOT_RUN_GRADER_ERROR, NOT_RUN_STOPPED_EARLY, NOT_READ, OUT_OF_TIME)


def _said(message: str, lang: str | None) -> str:
    from cnnbook.i18n import language, translation

    return translation(message, lang or language())


# What a notebook's feedback holds at most, in characters (the self-check prints it, the feedback page and the graded
# notebook show it): one test's message (a check's lines are cut at 10,000 characters each, but a test can fail with
# many, and earlier answers' errors are added to it), then all of a notebook's together; what is left out is said.
TEST_MESSAGE_CHARS = 6_000
NOTEBOOK_MESSAGE_CHARS = 30_000
MESSAGE_CUT = N_("... (the rest of this message, {count} more characters, is left out: the feedback on one test is "
                 "kept to {limit} characters)")
MESSAGE_LEFT_OUT = N_("(this test's message is left out: the feedback on one notebook is kept to {limit} characters. "
                      "Fix the tests above, then check again.)")


def bound_messages(tests: list[dict], cells: list, lang: str | None) -> None:
    """Cut each test's message to :data:`TEST_MESSAGE_CHARS`, and leave out the messages of the tests after the
    notebook's :data:`NOTEBOOK_MESSAGE_CHARS`, saying so in the learner's language; ``cells``: the tests' cells of
    the graded notebook (or none), whose failure outputs say the same."""
    room = NOTEBOOK_MESSAGE_CHARS
    for k, test in enumerate(tests):
        message = test.get("message")
        if type(message) is not str or not message:
            continue
        if len(message) > TEST_MESSAGE_CHARS:
            kept = message[:TEST_MESSAGE_CHARS]
            kept = kept[:kept.rfind("\n")] if kept.rfind("\n") > TEST_MESSAGE_CHARS // 2 else kept
            message = kept + "\n" + _said(MESSAGE_CUT, lang).format(count=f"{len(message) - len(kept):,}",
                                                                    limit=f"{TEST_MESSAGE_CHARS:,}")
        if len(message) > room:
            message = _said(MESSAGE_LEFT_OUT, lang).format(limit=f"{NOTEBOOK_MESSAGE_CHARS:,}")
        room = max(0, room - len(message))
        if message == test["message"]:
            continue
        test["message"] = message
        for output in cells[k].outputs if k < len(cells) else ():
            if output.get("output_type") == "error" and output.get("ename") == "TestFailed":
                output["evalue"], output["traceback"] = message, [message]


def _test_message(outcome: TestOutcome, lang: str | None) -> str:
    """A test's message for its result: a stopped test's in the learner's language, any other as the test said it."""
    return _said(TEST_STOPPED[outcome.status], lang) if outcome.status in TEST_STOPPED else outcome.message


# Said with a failed test whose exercise's code uses a name an earlier exercise's code defined, when that earlier
# exercise failed its own test: a learner's conv2d that calls their own broken zero_pad failed with numpy's
# broadcasting error and nothing pointed at zero_pad (a Korean learner's trial).
USES_A_FAILED_ANSWER = N_("Your code here uses {name}, which did not pass its own test ({test}): fix {name} first, "
                          "then check this exercise again.")


# What the hint parses of a notebook's code, in characters: Python's parser takes about 700 bytes of memory per
# character of dense code (a cell of 1.5 MiB, `x = (a, a, ...)`, took the grading worker, which runs without the
# learner's memory limit, from 84 MiB to 1.2 GiB and 20 s; a notebook may hold 64 MiB). A lesson's answer cells are
# a few KiB each, all its code cells (tests too) at most 83 KiB; a larger cell is skipped, a notebook of more code
# gets no hint.
HINT_CELL_CHARS = 50_000
HINT_NOTEBOOK_CHARS = 200_000


def _regions(steps) -> list[tuple[set[str], set[str]]]:
    """For each test of the plan, in order: (names the code cells since the test before bind at top level, names its
    answer cells read and those cells do not bind). Empty when the notebook holds more code than the hint reads."""
    from .judge import _top_level_bindings

    regions: list[tuple[set[str], set[str]]] = []
    bound: set[str] = set()
    read: set[str] = set()
    parsed = 0
    for kind, cell in steps:
        if kind == "test":
            regions.append((bound, read - bound))
            bound, read = set(), set()
        elif kind == "code":
            size = len(cell.source) if isinstance(cell.source, str) else HINT_CELL_CHARS + 1
            if size > HINT_CELL_CHARS:
                continue
            parsed += size
            if parsed > HINT_NOTEBOOK_CHARS:
                return []
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                # A cell Python cannot read binds nothing, but its names are the ones the learner meant to define:
                # a later exercise that uses them is pointed to this one's failed test (its message says why).
                from cnnbook.feedback import defined_names

                bound |= set(defined_names(cell.source))
                continue
            except (ValueError, RecursionError, MemoryError):     # a cell nested past the parser
                continue
            bound |= _top_level_bindings(tree.body)
            if nbgrader_meta(cell).get("solution") is True:            # the learner's answer
                read |= {node.id for node in ast.walk(tree)
                         if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    return regions


def _course_versions(test_cell) -> set[str]:
    """The exercises a test cell runs the course's own version of in place of the learner's, so that one slip costs
    one exercise (lesson 04's `course_backed`): each function it defines named ``course_<name>`` stands in for
    <name>. A failure of that test is never the learner's <name>'s doing."""
    try:
        tree = ast.parse(test_cell.source.replace("### BEGIN HIDDEN TESTS", "").replace("### END HIDDEN TESTS", ""))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    return {node.name.removeprefix("course_") for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef) and node.name.startswith("course_")}


def _point_to_earlier_failures(steps, tests: list[dict], cells: list, lang: str | None, names: set[str],
                               failed_answers: dict[int, dict] | None = None) -> None:
    """Add to each failed test what in the learner's code before it went wrong: each answer cell since the test
    before that stopped with an error (``failed_answers``: id of the cell -> :func:`_cell_failure`; said with
    :func:`_answer_failure`), and :data:`USES_A_FAILED_ANSWER` when its answer cells read an exercise's name
    (``names``: what the lesson's answer cells define) last bound by an earlier exercise's code, when that exercise's
    test failed (a hint only: a name read is not always a call), unless the test runs the course's own version of
    that name (:func:`_course_versions`)."""
    if len(cells) != len(tests):
        return                                  # a run that ended early: no hints
    own = _answer_cells_before_tests(steps)
    regions = _regions(steps)
    if len(own) != len(tests):
        return
    failed_answers = failed_answers or {}
    standins = [_course_versions(cell) for kind, cell in steps if kind == "test"]
    for i, test in enumerate(tests):
        if test["status"] in ("pass", "pending"):
            continue
        said = []
        if test["status"] == "fail":            # a test stopped, or not run, has its own reason
            for cell in own[i]:
                if id(cell) in failed_answers:
                    said.append(_answer_failure(cell, failed_answers[id(cell)], lang))
                    test["answer_failed"] = True
        if len(regions) == len(tests):          # none when the notebook holds more code than the hint reads
            for name in sorted(regions[i][1] & names - standins[i]):
                j = next((k for k in range(i - 1, -1, -1) if name in regions[k][0]), None)
                if j is not None and tests[j]["status"] not in ("pass", "pending"):
                    said.append(_said(USES_A_FAILED_ANSWER, lang).format(name=name, test=tests[j]["grade_id"]))
                    test["uses_failed"] = True  # answered: an earlier exercise's stub raising here is not this one's
        if said:
            test["message"] = "\n".join([test["message"], *said]) if test["message"] else "\n".join(said)
            for output in cells[i].outputs:
                if output.get("output_type") == "error" and output.get("ename") == "TestFailed":
                    output["evalue"], output["traceback"] = test["message"], [test["message"]]


# Said with a failed test when an answer cell between the test before it and this one stopped with an error: the
# test's own message says only that a name is not defined ("did it run without an error?"), and a learner whose
# `def sort_events(events)` lacked its colon was never told (an instructor's trial). The line and what Python said
# are the learner's own (their cell, the kernel's error for it), which every learner cell runs before any hidden
# input reaches the kernel: nothing of a hidden test is in them.
ANSWER_UNREADABLE = N_("Python could not read your answer cell for {cell}, so none of it ran: {kind} on line {line}: "
                       "`{code}` — {error}. Look for a missing colon, bracket or quote, or a wrong indentation, on that "
                       "line or the line before it; fix it, run the cell (Shift+Enter), then check again.")
# ... and when cnnbook.errors explains Python's message (a bracket never closed, a full-width colon), that explanation
# takes the place of the general hint (which does not fit "'(' was never closed": the line is where it opened).
ANSWER_UNREADABLE_EXPLAINED = N_("Python could not read your answer cell for {cell}, so none of it ran: {kind} on line "
                                 "{line}: `{code}` — {error}. Fix it, run the cell (Shift+Enter), then check again.")
ANSWER_UNREADABLE_SOMEWHERE = N_("Python could not read your answer cell for {cell}, so none of it ran: {kind} — "
                                 "{error}. Fix it, run the cell (Shift+Enter), then check again.")
ANSWER_RAISED = N_("Your answer cell for {cell} stopped with an error while it ran, so the rest of the cell did not "
                   "run: {kind} on line {line}: `{code}` — {error}. Fix that line, run the cell (Shift+Enter), then "
                   "check again.")
ANSWER_RAISED_SOMEWHERE = N_("Your answer cell for {cell} stopped with an error while it ran, so the rest of the cell "
                             "did not run: {kind} — {error}. Fix it, run the cell (Shift+Enter), then check again.")
MEANS = N_("What it usually means: {meaning}")     # as the judge says it (cnnbook.errors.explained_in reads it)
UNREADABLE = ("SyntaxError", "IndentationError", "TabError")       # Python's errors for a cell it cannot parse
NAME_MOST = 64                  # characters of an exercise's or an error's name said in ANSWER_* (then '…')

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# A frame of the cell in IPython's traceback ("Cell In[3], line 5"; older: ".../ipykernel_12/345.py:5"), and the
# line it stopped at ("----> 5 print(x)").
_CELL_FRAME = re.compile(r"Cell In\[\d*\], line (\d+)|ipykernel_\d+[/\\]\d+\.py:(\d+)")
_ARROW = re.compile(r"^-+>\s*(\d+)[ \t]?(.*)$", re.MULTILINE)
# Python's message for a cell it cannot parse, as the kernel sends it: "expected ':' (2285951441.py, line 1)".
_SYNTAX_AT = re.compile(r"(.*) \([^()\n]*, line (\d+)\)", re.DOTALL)


def _cell_failure(run) -> dict | None:
    """How a cell stopped with an error, from the kernel's error output: its kind, message and traceback (None for the
    stub's NotImplementedError: that exercise is "not answered yet")."""
    error = next((o for o in run.outputs if isinstance(o, dict) and o.get("output_type") == "error"), None)
    if error is not None:
        kind, message, trace = error.get("ename"), error.get("evalue"), error.get("traceback")
    else:                                       # its outputs past the limit: the kernel's "ename: evalue" only
        kind, _, message = (run.error or "").partition(": ")
        trace = []
    if not isinstance(kind, str) or not kind or kind == "NotImplementedError":
        return None
    trace = [t for t in trace[:100] if isinstance(t, str)] if isinstance(trace, list) else []
    return {"kind": kind, "message": message if isinstance(message, str) else "", "traceback": trace}


def _failed_line(source: str, failure: dict) -> tuple[int | None, str]:
    """The line of the cell where it stopped (1 = its first; None when the kernel did not say) and Python's message
    without the kernel's file name."""
    message = failure["message"]
    lines = source.splitlines() if isinstance(source, str) else []
    if failure["kind"] in UNREADABLE:
        found = _SYNTAX_AT.fullmatch(message)
        if found is None:
            return None, message
        line = int(found.group(2))
        return (line if 1 <= line <= len(lines) else None), found.group(1)
    frames = []                                 # (line, the line as the traceback shows it) of each frame of a cell
    for entry in failure["traceback"]:
        text = _ANSI.sub("", entry[:20_000])
        frame, arrow = _CELL_FRAME.search(text), _ARROW.search(text)
        if frame is not None:
            frames.append((int(frame.group(1) or frame.group(2)), arrow.group(2) if arrow else ""))
    if not frames:
        return None, message

    def here(line: int, shown: str) -> bool:
        return 1 <= line <= len(lines) and lines[line - 1].strip() == shown.strip()

    # the deepest frame when it is this cell's (a function the cell defines and calls), else the cell's own line
    # (the first frame is always the cell's: a function of another cell may show a line that is not this one's)
    line = frames[-1][0] if here(*frames[-1]) else frames[0][0]
    return (line if 1 <= line <= len(lines) else None), message


def _answer_failure(cell, failure: dict, lang: str | None) -> str:
    """What :data:`ANSWER_UNREADABLE` or :data:`ANSWER_RAISED` says of an answer cell that stopped with an error: the
    cell by its exercise, the kind of error, the line of the cell and Python's message, each short and on one line."""
    from .judge import one_line
    from .text import shortened

    def short(text: str, most: int) -> str:
        return shortened(one_line(text), most)

    grade_id = nbgrader_meta(cell).get("grade_id")
    source = cell.source if isinstance(cell.source, str) else ""
    line, message = _failed_line(source, failure)
    unreadable = failure["kind"] in UNREADABLE
    fields = {"cell": short(grade_id if isinstance(grade_id, str) else "?", NAME_MOST),
              "kind": short(failure["kind"], NAME_MOST),
              "error": short(message, 200) or short(failure["kind"], NAME_MOST)}
    usually = explanation(failure["kind"], message)
    meant = "\n  " + _said(MEANS, lang).format(meaning=_said(usually, lang)) if usually else ""
    def ended(text: str) -> str:
        # Python's own sentence that ends with its mark ("Maybe you meant '==' instead of '='?") takes no full stop
        # after it ("'='?. Fix it"): the message's own mark ends the sentence, in either language.
        error = fields["error"]
        return text.replace(error + ".", error, 1) if error.endswith(("?", ".", "!")) else text

    if line is None:
        return ended(_said(ANSWER_UNREADABLE_SOMEWHERE if unreadable else ANSWER_RAISED_SOMEWHERE, lang)
                     .format(**fields)) + meant
    code = short(source.splitlines()[line - 1].strip(), 120).replace("`", "'")
    said = (ANSWER_UNREADABLE_EXPLAINED if usually else ANSWER_UNREADABLE) if unreadable else ANSWER_RAISED
    return ended(_said(said, lang).format(line=line, code=code, **fields)) + meant


def _answer_cells_before_tests(steps) -> list[list]:
    """For each test of the plan, in order: the learner's answer cells since the test before."""
    regions: list[list] = []
    cells: list = []
    for kind, cell in steps:
        if kind == "test":
            regions.append(cells)
            cells = []
        elif kind == "code" and nbgrader_meta(cell).get("solution") is True:
            cells.append(cell)
    return regions


def _stopped_before(how: str, lang: str | None) -> str:
    return _said(STOPPED_BEFORE[how], lang)


def visible_imports(test_source: str) -> str:
    """The imports at the top level of a test cell's visible part, each on its own and allowed to fail.

    In Jupyter (and under plain nbgrader) the released test cell runs in the learner's kernel, so what it imports
    (``torch_F``, ``CheckFailed``, ``random``) is there for the learner's later code: an answer that uses such a name
    works. Here tests run in the grader's process, so these imports, and nothing else of a test, run in the
    kernel where the test cell stands."""
    try:
        tree = ast.parse(split_hidden(test_source)[0])
    except SyntaxError:
        return ""
    lines = [ast.unparse(node) for node in tree.body if isinstance(node, ast.Import)
             or (isinstance(node, ast.ImportFrom) and node.module != "__future__")]
    return "\n".join(f"try:\n    {line}\nexcept Exception:\n    pass" for line in lines)


def _fresh_kernel(kernel: LearnerKernel) -> None:
    """Restart the kernel (the judge's kept namespaces, which refer to the old one's objects, are dropped); one that
    fails to start is the grading machine's fault (KernelStartFailed)."""
    forget_pending()
    try:
        kernel.restart()
    except KernelDied as err:
        # The learner's code ran in the kernel that ended; the one that failed to start had run none of it.
        raise KernelStartFailed(f"a replacement for the learner's kernel could not be started (a fault of the "
                                f"grading machine, not of the submission): {err}") from None


def _revive(kernel: LearnerKernel, ran_ok: list[str], limits: Limits, deadline: float,
            kept_at: dict[str, int] | None = None) -> bool:
    """Replace a dead or stuck kernel and replay the cells that had run cleanly, so later tests still run.
    The judge's kept namespaces refer to the old kernel's objects: they are dropped. False when the time
    ran out before every cell ran again. ``kept_at``: the tests whose hidden part still waits, each with how many of
    ``ran_ok`` had run when the notebook's names were kept for it: they are kept again at the same point of the
    replay, so that its hidden part (run again from fresh look-ups) sees them as its place left them."""
    _fresh_kernel(kernel)
    waiting = sorted((at, key) for key, at in (kept_at or {}).items())
    for index, code in enumerate([*ran_ok, None]):
        while waiting and waiting[0][0] <= index:
            _namespace(kernel, "keep", waiting.pop(0)[1], min(limits.cell_seconds, deadline - time.monotonic()))
        remaining = deadline - time.monotonic()
        if code is None:
            break
        if remaining <= 0:
            return False
        if code:                            # "": a cell that is not replayed any more (see _find_killer)
            kernel.execute(code, timeout=min(limits.cell_seconds, remaining), keep_outputs=False)
    return True


# How long a replayed kernel is watched for a death that comes after its cells ran (see _grade's revive): a cell
# that ends its kernel later than this after it ran is replayed as before.
KILLER_WAIT = 2.0


def _dies_within(kernel: LearnerKernel, seconds: float, deadline: float) -> bool:
    """Whether the kernel, left alone, dies within ``seconds`` (or before ``deadline``)."""
    end = min(time.monotonic() + seconds, deadline)
    while time.monotonic() < end:
        if not kernel.alive():
            return True
        time.sleep(0.05)
    remaining = deadline - time.monotonic()
    return remaining > 0 and kernel.execute("pass", timeout=min(5.0, remaining), keep_outputs=False).status == "died"


def _find_killer(kernel: LearnerKernel, ran_ok: list[str], limits: Limits, deadline: float,
                 wait: float) -> int | None:
    """The entry of ``ran_ok`` whose replay ends a fresh kernel within ``wait`` seconds, when replaying all of it
    does: the shortest beginning of ``ran_ok`` whose replay does, by bisection (a fresh kernel per try). None when
    the time runs out or no beginning does (a death that does not come back)."""
    def kills(count: int) -> bool | None:
        _fresh_kernel(kernel)
        for code in ran_ok[:count]:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if code and kernel.execute(code, timeout=min(limits.cell_seconds, remaining),
                                       keep_outputs=False).status == "died":
                return True
        if deadline - time.monotonic() <= 0:
            return None
        return _dies_within(kernel, wait, deadline)

    low, high = 0, len(ran_ok)             # the replay of ran_ok[:low] lives, of ran_ok[:high] ends the kernel
    while high - low > 1:
        middle = (low + high) // 2
        verdict = kills(middle)
        if verdict is None:
            return None
        low, high = (low, middle) if verdict else (middle, high)
    return high - 1 if ran_ok[high - 1] else None


def cell_label(source: str, width: int = 64) -> str:
    """A learner's cell as a sentence names it: its first line that holds anything, on one line with control
    characters escaped, cut at ``width`` characters."""
    from cnnbook.checks import one_line_text

    first = next((line.strip() for line in str(source).splitlines() if line.strip()), "")
    shown = one_line_text(first[:width + 1])
    return shown if len(shown) <= width else shown[:width - 1] + "…"


# What a stopped cell is known to have defined before it stopped: its statements from the top that define and take
# no time to run (a function or a class, an import, a name given a literal value), up to its first other statement.
_DEFINES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom, ast.Pass)
# Names through which code changes a module's names without naming them: a cell whose code reads one keeps nothing.
_CHANGES_ANY_NAME = frozenset({"globals", "vars", "locals", "exec", "eval", "setattr", "delattr"})
# The most steps a stopped cell's kept definitions are replayed in (runner._grade's keep): a step that does not
# finish costs those after it only; each step is a request to the kernel.
KEEP_STEPS = 16
# IPython reads a whole cell again for each line it changes (a magic, a shell command, a help query), in the grading
# worker, beyond the learner's limits: a stopped cell of 5,000 magics took 112 s there and ended in IPython's
# RuntimeError, which made the submission a grader-error (a hostile trial). A cell whose characters IPython may change
# (a conservative count of the lines IPython changes: one that starts with % ! ? , ; or /, one that assigns what a
# magic or a shell command gives, one that ends with ?), plus one, times its length, exceed TRANSFORM_BUDGET keeps
# nothing (about 2 s at most on a 50,000-character cell of short lines). Python's own `!=`, `%` and `%=` in a line,
# and `?` inside a string, change nothing: counted, they cost an honest long cell its kept definitions.
TRANSFORM_BUDGET = 100_000
_MAY_TRANSFORM = re.compile(r"^[ \t]*[%!?,;/]|=[ \t]*[%!]|\?[ \t]*$", re.MULTILINE)
# Python's own line breaks (str.splitlines() takes more: a form feed, U+2028, ...).
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _defined_by(node: ast.stmt) -> list[str]:
    """The names a leading definition binds."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [alias.asname or alias.name.split(".")[0] for alias in node.names]
    if isinstance(node, ast.Assign):
        return [target.id for target in node.targets if isinstance(target, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


def _import_bindings(node: ast.Import | ast.ImportFrom) -> dict[str, str]:
    """The names an import binds, each with what it binds it to (the same import again changes nothing)."""
    if isinstance(node, ast.Import):
        return {alias.asname or alias.name.split(".")[0]: alias.name if alias.asname else alias.name.split(".")[0]
                for alias in node.names}
    source = "." * node.level + (node.module or "")
    return {alias.asname or alias.name: f"{source}:{alias.name}" for alias in node.names}


def _names_changed(rest: list[ast.stmt], cell: ast.Module, imports: dict[str, str]) -> set[str] | None:
    """The names the statements ``rest`` may bind again, delete or change through an attribute or an item (with those
    any function of the ``cell`` declares global); None when they may change any name (``from m import *``, one of
    :data:`_CHANGES_ANY_NAME` read by ``rest``, or a definition of the cell whose body reads one, named by ``rest``).
    ``imports``: what the kept imports bound (importing it again is no change)."""
    changed: set[str] = set()
    for node in ast.walk(cell):
        if isinstance(node, ast.Global):
            changed.update(node.names)
    risky = set(_CHANGES_ANY_NAME)
    reads = {node.name: {inner.id for inner in ast.walk(node) if isinstance(inner, ast.Name)}
             for node in cell.body[:len(cell.body) - len(rest)]
             if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    while True:                     # a definition that calls one that does is one too
        more = {name for name, names in reads.items() if name not in risky and names & risky}
        if not more:
            break
        risky |= more
    rest_module = ast.Module(body=rest, type_ignores=[])
    if any(isinstance(node, ast.Name) and node.id in risky for node in ast.walk(rest_module)):
        return None
    for node in ast.walk(rest_module):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            changed.add(node.id)
        elif isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(node.ctx, (ast.Store, ast.Del)):
            root = node.value
            while isinstance(root, (ast.Attribute, ast.Subscript)):
                root = root.value
            if isinstance(root, ast.Name):
                changed.add(root.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            if any(alias.name == "*" for alias in node.names):
                return None
            changed.update(name for name, bound in _import_bindings(node).items() if imports.get(name) != bound)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            changed.add(node.name)
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            changed.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            changed.add(node.rest)
    return changed


def _statement_text(lines: list[str], node: ast.stmt) -> str:
    """The source of a top-level statement, its decorators too, from ``lines`` (the code split at Python's own line
    breaks). A simple statement may follow another on its line (after a ``;``); ast's columns count UTF-8 bytes."""
    decorators = getattr(node, "decorator_list", [])
    first, start = (decorators[0].lineno, 0) if decorators else (node.lineno, node.col_offset)
    chosen = [line.encode() for line in lines[first - 1:node.end_lineno or node.lineno]]
    if node.end_col_offset is not None:
        chosen[-1] = chosen[-1][:node.end_col_offset]
    chosen[0] = chosen[0][start:]
    return "\n".join(part.decode("utf-8", "replace") for part in chosen)


def leading_statements(source: str) -> list[tuple[str, list[str]]]:
    """``source``'s leading definitions (see _DEFINES), each statement's code with the names it defines; [] when the
    cell starts with anything else or cannot be read.

    A cell stopped at its time limit, or whose kernel died, is replaced with a fresh kernel that has only the cells
    that finished: without this, a correct ``def conv_macs`` above an endless loop in the same cell cost every test
    of conv_macs (a helper's trial of a lesson-04 class). Only what certainly ran before the stop is kept: the
    statements above the first that does any work, and of those only the ones whose names the rest of the cell
    cannot have changed before the stop (bound again, deleted, changed through an attribute or an item): what the
    replay gives a name is then what it held when the cell stopped. Magics are read as IPython runs them
    (``%timeit f(x)`` after the definitions is such a first other statement). A cell larger than a hint reads
    (HINT_CELL_CHARS) keeps nothing.
    """
    from IPython.core.inputtransformer2 import TransformerManager

    if len(source) > HINT_CELL_CHARS:       # parsed in the grading worker, without the learner's memory limit
        return []
    if (len(_MAY_TRANSFORM.findall(source)) + 1) * len(source) > TRANSFORM_BUDGET:
        return []
    try:
        code = TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - IPython's own limits (a RuntimeError after 500 changes): a cell it cannot read
        return []
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    kept: list[ast.stmt] = []
    for node in tree.body:
        literal = False
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None and all(
                isinstance(target, ast.Name) for target in (node.targets if isinstance(node, ast.Assign) else [node.target])):
            try:
                ast.literal_eval(node.value)
                literal = True
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                pass
        docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        if not (isinstance(node, _DEFINES) or literal or docstring):
            break
        kept.append(node)
    if not kept or len(kept) == len(tree.body):
        return []                       # nothing, or the whole cell (it did not stop in these)
    try:
        imports: dict[str, str] = {}
        for node in kept:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                imports.update(_import_bindings(node))
            else:
                for name in _defined_by(node):
                    imports.pop(name, None)
        changed = _names_changed(tree.body[len(kept):], tree, imports)
    except RecursionError:
        return []
    if changed is None:
        return []
    kept = [node for node in kept if not changed.intersection(_defined_by(node))]
    if not any(_defined_by(node) for node in kept):
        return []
    lines = _LINE_BREAK.split(code)
    return [(_statement_text(lines, node), _defined_by(node)) for node in kept]


# What the learner reads of the cells stopped in a notebook (result["stopped"], said by check.problem_sentences): at
# most STOPPED_NAMED cells, and of each at most KEPT_NAMES_CHARS characters of the names kept (a hostile trial: six
# cells of 1,500 definitions above an os._exit made a self-check of 263,000 characters, a whole notebook's time
# megabytes, where a notebook's feedback is otherwise held to NOTEBOOK_MESSAGE_CHARS).
STOPPED_NAMED = 10
KEPT_NAMES_CHARS = 200


def names_shown(names: list[str]) -> list[str]:
    """``names`` as the learner reads them: as many as fit in KEPT_NAMES_CHARS characters, then "…"."""
    shown: list[str] = []
    room = KEPT_NAMES_CHARS
    for name in names:
        if len(name) > room:
            return [*shown, "…"]
        shown.append(name)
        room -= len(name) + 2
    return shown


def _joined(statements: list[tuple[str, list[str]]]) -> tuple[str, list[str]]:
    if not statements:
        return "", []
    names = [name for _, defined in statements for name in defined]
    return "\n".join(text for text, _ in statements) + "\n", list(dict.fromkeys(names))


def _note(text: str):
    return nbformat.v4.new_output("stream", name="stderr", text=f"[grader] {text}\n")
