"""A grading worker process: grades the submissions the batch sends it, one at a time.

Kept apart from :mod:`autograde.grade` so that a worker starts light: it needs the runner, not nbgrader (whose
package imports its server extensions, jupyter_server and nbconvert: about 1 s of CPU per worker started).
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import warnings

from .runner import discard_spares, grade_submission


def _worker_main(conn, parent: int) -> None:
    """A grading worker: grades the tasks the batch sends, one at a time, until told to stop."""
    _die_with_parent(parent)
    # Ctrl-C in a terminal reaches the whole process group: the batch decides when its workers stop.
    signal.signal(signal.SIGINT, lambda signum, frame: None)
    _stop_on_sigterm()
    try:
        while True:
            try:
                task = conn.recv()
            except (EOFError, OSError):
                return
            if task is None:
                return
            _worker_faults(task, first=task.get("attempt", 1) == 1)
            try:
                result = grade_submission(task)
            except Exception as err:  # noqa: BLE001 - reported as this submission's grader-error
                result = _error_result(task["student"], task["lesson"], f"the grading worker failed: "
                                                                        f"{type(err).__name__}: {err}")
            conn.send(result)
    finally:
        discard_spares()         # a multiprocessing child skips atexit: its warm kernel goes here


def _stop_on_sigterm() -> None:
    """SIGTERM (the batch stopping its workers) raises SystemExit, which unwinds grade_submission: its kernel and
    sandbox are removed. Python runs the handler wherever the main thread is; when that is a weakref callback or a
    __del__ (a garbage collection), the exception cannot leave it: Python prints "Exception ignored in ..." and the
    worker would grade on (SIGTERM is ignored by then) until the batch kills it 20 s later. Such a stop is
    noticed (sys.unraisablehook) and SIGTERM sent again a moment later, once the main thread is out of there."""
    hook = sys.unraisablehook

    def stop(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)        # a second one must not cut the unwinding short
        # Stopped between jupyter_client making a coroutine and running it (its sync wrappers), the coroutine is
        # dropped unawaited and Python would print a RuntimeWarning under the batch's one line: expected here.
        warnings.filterwarnings("ignore", message=r"coroutine '.*' was never awaited", category=RuntimeWarning)
        err = SystemExit(128 + signum)
        err.grader_stop = True                               # type: ignore[attr-defined]
        raise err

    def swallowed(info) -> None:
        if not getattr(info.exc_value, "grader_stop", False):
            hook(info)
            return
        signal.signal(signal.SIGTERM, stop)
        again = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGTERM))
        again.daemon = True
        again.start()

    sys.unraisablehook = swallowed
    signal.signal(signal.SIGTERM, stop)


def _worker_faults(task: dict, first: bool) -> None:
    """Test hook (grade_batch(faults=...) only; the CLI never sets it): "kill-worker" kills the worker's process,
    as the out-of-memory killer would; "hang-worker" leaves it stuck for ever (a deadlock of ours); with "-once"
    only on the submission's first try in the run."""
    fault = task.get("fault", "")
    if fault == "kill-worker" or (fault == "kill-worker-once" and first):
        os.kill(os.getpid(), signal.SIGKILL)
    if fault == "hang-worker" or (fault == "hang-worker-once" and first):
        threading.Event().wait()


def _die_with_parent(parent: int) -> None:
    """Linux: SIGTERM this worker when the batch process dies, even by SIGKILL (its kernel goes with it)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)     # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        raise SystemExit(0)


def _error_result(student: str, lesson: str, detail: str) -> dict:
    return {"student": student, "lesson": lesson, "status": "grader-error", "flags": [], "tests": [],
            "score": 0.0, "notebook": None, "detail": detail}
