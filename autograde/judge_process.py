"""The judge process: where a lesson's test code runs, apart from the worker, under a memory and a time limit.

A test checks a learner's answer in the grader (see :mod:`autograde.judge`), and that checking can be made huge
or slow by what the learner returns (an object a test iterates over forever, a quadratic case). So it never runs
in the worker: each worker keeps one judge process, a fresh interpreter (spawned, never forked: the worker has
zmq and torch threads) that imports numpy, torch and cnnbook once and is reused for every test of every
submission the worker grades. The judge runs under RLIMIT_AS (the learner's memory limit); the worker gives each
test the learner's time limit. When the test needs the learner's kernel, the judge sends the request to the worker,
which asks the kernel and hands back the raw reply text (parsed in the judge, under its limit). If the judge
passes the deadline or dies of its memory limit, the worker kills it, starts another for the next test and reports
that one test as failed: the batch, the other tests and the worker itself are untouched. A judge killed from
outside (the machine's out-of-memory killer) is the machine's failure: that test is a grader-error.

Messages on the two pipes: a 4-byte length, a JSON header, and for a reply an 8-byte length and the raw text.
Nothing is ever unpickled.
"""
from __future__ import annotations

import atexit
import gc
import json
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time

from .judge import OUT_OF_MEMORY, TestOutcome
from .kernel import CellTimeout, KernelDied, LearnerKernel, RemoteError
from .plain import TooLarge

START_SECONDS = 180          # importing torch on a busy 2-core machine can take a while
GRACE_SECONDS = 2.0          # the judge reports its own timeout first; the worker kills it after this
OUT_OF_MEMORY_EXIT = 3
# How a judge ends because of what a learner's answer made the test do: its own MemoryError under its memory limit
# (exit 3), or a library that gives up where an allocation failed (an abort, a crash). Every other ending (SIGKILL
# from the machine's out-of-memory killer, a SIGTERM, an exit status of the judge's own code) is the grading
# machine's: a grader-error, graded again by the next run, never a failed test.
LEARNER_ENDINGS = {OUT_OF_MEMORY_EXIT, -signal.SIGABRT, -signal.SIGSEGV, -signal.SIGBUS}
_HEADER = struct.Struct("!I")
_PAYLOAD = struct.Struct("!Q")
_MAX_HEADER = 64 * 2 ** 20


class JudgeGone(Exception):
    """The judge process ended or stopped answering."""


# -- framing ------------------------------------------------------------------------------------------------
def _write_all(fd: int, data: bytes, deadline: float | None = None) -> None:
    view = memoryview(data)
    while view:
        if deadline is not None:           # the worker never blocks on a judge that stopped reading
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([], [fd], [], remaining)[1]:
                raise TimeoutError
        written = os.write(fd, view[:2 ** 16] if deadline is not None else view)
        view = view[written:]


def _send(fd: int, header: dict, payload: bytes | None = None, deadline: float | None = None) -> None:
    head = json.dumps(header).encode()
    _write_all(fd, _HEADER.pack(len(head)) + head, deadline)
    if payload is not None:
        _write_all(fd, _PAYLOAD.pack(len(payload)), deadline)
        _write_all(fd, payload, deadline)


def _read_exactly(fd: int, n: int, deadline: float | None) -> bytes:
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(n - got, 4 * 2 ** 20))
        if not chunk:
            raise JudgeGone("the other end closed the pipe")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _receive(fd: int, deadline: float | None = None, with_payload: bool = False) -> tuple[dict, bytes | None]:
    (size,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size, deadline))
    if size > _MAX_HEADER:
        raise JudgeGone("a message header larger than expected")
    header = json.loads(_read_exactly(fd, size, deadline))
    payload = None
    if with_payload and header.get("payload"):
        (length,) = _PAYLOAD.unpack(_read_exactly(fd, _PAYLOAD.size, deadline))
        payload = _read_exactly(fd, length, deadline)
    return header, payload


# -- the worker's side ----------------------------------------------------------------------------------------
class JudgeProcess:
    """One judge process, owned by one worker; replaced whenever it dies, runs out of time or of memory."""

    def __init__(self, memory_bytes: int, wait: bool = True):
        """Start a judge; with ``wait`` (the default) until it is ready, else :meth:`wait_ready` waits later."""
        self.memory_bytes = memory_bytes
        self.ready = False
        to_judge_r, self.to_judge = os.pipe()
        self.from_judge, from_judge_w = os.pipe()
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TORCH_NUM_THREADS": "1",
               "OPENBLAS_NUM_THREADS": "1", "MPLBACKEND": "agg", "PYTHONUNBUFFERED": "1"}
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "autograde.judge_process", str(to_judge_r), str(from_judge_w),
                 str(memory_bytes)],
                pass_fds=(to_judge_r, from_judge_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, env=env, close_fds=True, start_new_session=True)
        finally:
            os.close(to_judge_r)
            os.close(from_judge_w)
        self.start_deadline = time.monotonic() + START_SECONDS
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        """Wait until the judge has imported what it needs and said so (killed, and JudgeGone, if it does not)."""
        if self.ready:
            return
        try:
            header, _ = _receive(self.from_judge, self.start_deadline)
        except (TimeoutError, JudgeGone, ValueError) as err:
            self.kill()
            raise JudgeGone(f"the judge process did not start ({type(err).__name__})") from None
        if header.get("op") != "ready":
            self.kill()
            raise JudgeGone(f"the judge process did not start: {str(header.get('error', header))[:500]}")
        self.ready = True

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)     # its own session: nothing it started survives
            except OSError:
                self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for fd in (self.to_judge, self.from_judge):
            try:
                os.close(fd)
            except OSError:
                pass
        self.to_judge = self.from_judge = -1

    def run(self, source: str, kernel: LearnerKernel, seconds: float, names: list[str],
            exercise: str = "", seed: int | None = None, lang: str | None = None,
            defer: str | None = None, hidden_of: str | None = None,
            lesson: str | None = None) -> tuple[TestOutcome, bool]:
        """Run one test (with ``defer``, its visible part; with ``hidden_of``, the hidden part kept under that
        key, see :func:`autograde.judge.run_here`); returns (outcome, whether this judge may be used again)."""
        deadline = time.monotonic() + seconds + GRACE_SECONDS
        printed, hidden = "", hidden_of is not None
        request = {"op": "test", "source": source, "seconds": seconds, "names": names, "exercise": exercise,
                   "seed": seed, "lang": lang, "lesson": lesson, "defer": defer}
        if hidden_of is not None:
            request = {**request, "op": "hidden", "key": hidden_of}
        try:
            _send(self.to_judge, request)
        except OSError:
            raise JudgeGone("the judge process was gone before the test started") from None
        while True:
            try:
                message, _ = _receive(self.from_judge, deadline)
                op = message.get("op")
                if op == "ask":
                    self._answer(kernel, message, deadline)
                    continue
            except TimeoutError:
                self.kill()
                return TestOutcome("timeout", f"checking your answer ran past the test's {seconds:g} s limit "
                                   "(a very slow or endless answer?)", printed, hidden), False
            except (JudgeGone, ValueError, OSError):
                last = self._last_word()        # it may have reported the test before it went
                if last is not None:
                    self.kill()
                    return last, False
                code = self._ended()
                if code in LEARNER_ENDINGS:
                    return TestOutcome("fail", OUT_OF_MEMORY + ".", printed, hidden), False
                if code is None:           # alive, but what it sent broke the exchange (a header over its cap)
                    return TestOutcome("fail", "the grader's judge process stopped answering while checking your "
                                       "answer.", printed, hidden), False
                how = f"killed by {signal.Signals(-code).name}" if code < 0 and -code in signal.valid_signals() \
                    else f"exit code {code}"
                return TestOutcome("grader-error", f"the grader's judge process ended while checking this answer "
                                   f"({how}): not a fault of the answer", printed, hidden), False
            if op == "visible-done":
                printed, hidden = str(message.get("printed", "")), True
            elif op == "done":
                return _outcome(message), bool(message.get("reusable", True))
            else:
                self.kill()
                return TestOutcome("grader-error", f"the judge process sent {op!r}", printed, hidden), False

    def forget(self) -> None:
        """Drop the namespaces this judge keeps for hidden parts still to run (no reply)."""
        try:
            _send(self.to_judge, {"op": "forget"}, deadline=time.monotonic() + GRACE_SECONDS)
        except (OSError, TimeoutError, JudgeGone):
            self.kill()

    def _last_word(self) -> TestOutcome | None:
        """The outcome the judge sent before its pipe broke, if it sent one."""
        try:
            while True:
                message, _ = _receive(self.from_judge, time.monotonic() + 1)
                if message.get("op") == "done":
                    return _outcome(message)
        except (TimeoutError, JudgeGone, ValueError, OSError):
            return None

    def _answer(self, kernel: LearnerKernel, message: dict, deadline: float) -> None:
        timeout = min(float(message.get("timeout", 0)), deadline - GRACE_SECONDS - time.monotonic())
        try:
            if timeout <= 0:
                raise CellTimeout("this test ran past its time limit (an infinite loop?)")
            text = kernel.request_text(message["request"], timeout)
        except CellTimeout as err:
            _send(self.to_judge, {"raise": "CellTimeout", "message": str(err)}, deadline=deadline)
        except KernelDied as err:
            _send(self.to_judge, {"raise": "KernelDied", "message": str(err)}, deadline=deadline)
        except TooLarge as err:
            _send(self.to_judge, {"raise": "TooLarge", "message": str(err)}, deadline=deadline)
        except RemoteError as err:
            _send(self.to_judge, {"raise": "RemoteError", "kind": err.kind, "message": err.remote_message,
                                  "where": err.where}, deadline=deadline)
        else:
            _send(self.to_judge, {"payload": True}, text.encode("utf-8", "surrogatepass"), deadline=deadline)

    def _ended(self) -> int | None:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        self.kill()
        return code


def _outcome(message: dict) -> TestOutcome:
    outcome = message.get("outcome", {}) if type(message.get("outcome")) is dict else {}
    return TestOutcome(str(outcome.get("status", "grader-error")), str(outcome.get("message", "")),
                       str(outcome.get("printed", "")), bool(outcome.get("hidden", False)),
                       outcome.get("tampering") is True, outcome.get("unverified") is True)


# One judge per worker THREAD: a Dask worker with several threads grades several submissions at once, and a judge
# speaks with one worker at a time (its pipe carries one test's exchange). Sharing one would mix the requests of
# two students' tests and the output each test printed. Every judge started is also listed, to stop them all.
_local = threading.local()
_all_judges: set[JudgeProcess] = set()
_all_lock = threading.Lock()


def _current() -> JudgeProcess | None:
    return getattr(_local, "judge", None)


def _set_current(judge: JudgeProcess | None) -> None:
    old = _current()
    with _all_lock:
        if old is not None:
            _all_judges.discard(old)
        if judge is not None:
            _all_judges.add(judge)
    _local.judge = judge


def run_in_judge(source: str, kernel: LearnerKernel, seconds: float, names: list[str],
                 exercise: str = "", seed: int | None = None, lang: str | None = None,
                 defer: str | None = None, hidden_of: str | None = None, lesson: str | None = None) -> TestOutcome:
    """Run a test in this worker thread's judge process (started, or replaced, as needed). ``defer`` and
    ``hidden_of``: the two halves of a test whose hidden part waits (:func:`autograde.judge.run_here`)."""
    memory = int(kernel.limits.memory_bytes)
    judge = _current()
    if judge is not None and (not judge.alive() or judge.memory_bytes != memory):
        judge.kill()
        _set_current(judge := None)
    for attempt in range(2):
        if judge is None:
            try:
                judge = JudgeProcess(memory)
            except JudgeGone as err:
                return TestOutcome("grader-error", str(err))
            _set_current(judge)
        try:
            judge.wait_ready()              # one start_judge() began
        except JudgeGone as err:
            _set_current(None)
            return TestOutcome("grader-error", str(err))
        try:
            outcome, reusable = judge.run(source, kernel, seconds, names, exercise, seed, lang, defer, hidden_of, lesson)
            break
        except JudgeGone as err:           # it ended between two tests: nobody's fault, start another
            judge.kill()
            _set_current(judge := None)
            if attempt:
                return TestOutcome("grader-error", str(err))
    if not reusable and judge is not None:
        judge.kill()
        _set_current(None)
    return outcome


def start_judge(memory: int) -> None:
    """Start this thread's judge for tests under ``memory`` now, without waiting for it, unless it has one: its
    imports (numpy, torch: about 2 s) then overlap the learner's kernel's start instead of delaying the first
    test (a self-check; a worker's first submission). Tests use it as :func:`run_in_judge` would have started it."""
    judge = _current()
    if judge is not None and judge.alive() and judge.memory_bytes == memory:
        return
    if judge is not None:
        judge.kill()
    _set_current(None)
    try:
        _set_current(JudgeProcess(memory, wait=False))
    except (JudgeGone, OSError):
        pass                        # run_in_judge tries again, and reports it


def forget_pending() -> None:
    """This thread's judge drops the namespaces it keeps for hidden parts still to run."""
    judge = _current()
    if judge is not None and judge.alive():
        judge.forget()
        if not judge.alive():
            _set_current(None)


def judge_pid() -> int | None:
    """The pid of this thread's judge process (None before its first test): for the grader's tests."""
    judge = _current()
    return judge.proc.pid if judge is not None and judge.alive() else None


def stop_judge() -> None:
    """Stop this thread's judge; at exit, every judge this process started."""
    judge = _current()
    if judge is not None:
        judge.kill()
        _set_current(None)


def _stop_all_judges() -> None:
    with _all_lock:
        judges = list(_all_judges)
        _all_judges.clear()
    for judge in judges:
        judge.kill()


atexit.register(_stop_all_judges)


# -- the judge's side -----------------------------------------------------------------------------------------
class _Pipe:
    """The judge's end: one request out, one reply in. Test code that traces or interrupts Python (a test
    counting the lines a call runs with sys.settrace) must neither count nor cut this exchange: tracing is off
    while it runs, and an exchange cut in the middle leaves the pipe ``broken`` (the judge then ends)."""

    def __init__(self, inbox: int, outbox: int):
        self.inbox, self.outbox = inbox, outbox
        self.broken = False

    def transport(self, request: dict, seconds: float) -> str:
        tracer = sys.gettrace()
        sys.settrace(None)
        try:
            if self.broken:
                raise JudgeGone("an earlier exchange with the worker was cut off")
            self.broken = True
            _send(self.outbox, {"op": "ask", "request": request, "timeout": seconds})
            header, payload = _receive(self.inbox, with_payload=True)
            self.broken = False
        finally:
            sys.settrace(tracer)
        kind = header.get("raise")
        if kind == "CellTimeout":
            raise CellTimeout(str(header.get("message", "")))
        if kind == "KernelDied":
            raise KernelDied(str(header.get("message", "")))
        if kind == "TooLarge":
            raise TooLarge(str(header.get("message", "")))
        if kind == "RemoteError":
            raise RemoteError(str(header.get("kind", "Error")), str(header.get("message", "")),
                              str(header.get("where", "")))
        return (payload or b"").decode("utf-8", "surrogatepass")


def _die_with_parent() -> None:
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)     # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001, S110 - not Linux: the closed pipe still ends the loop
        pass


def _limit(memory: int) -> int:
    """The learner's memory limit, but never less than what the judge already holds (numpy, torch and cnnbook
    take some 0.6 GiB of address space) plus 256 MiB to check in: a tiny --memory must not fail every test."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            size = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    except (OSError, StopIteration, ValueError):
        return memory
    return max(memory, size + 256 * 2 ** 20)


def main(argv: list[str]) -> int:
    inbox, outbox, memory = int(argv[0]), int(argv[1]), int(argv[2])
    _die_with_parent()
    pipe = _Pipe(inbox, outbox)
    try:
        import warnings

        import numpy  # noqa: F401 - imported once, before the memory limit, for every test to come
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import torch

            import cnnbook.checks
            import cnnbook.data  # noqa: F401
        torch.set_num_threads(1)
        import resource

        from cnnbook.i18n import LANGUAGES, set_language, set_lesson

        from .judge import forget_pending, run_here, run_hidden_here   # it installs the batch caller of call_each

        resource.setrlimit(resource.RLIMIT_AS, (_limit(memory), _limit(memory)))
        # What the judge imported lives as long as it does: out of the collector's way, so that the full
        # collection after each test (below) walks only what the tests made (measured: 94 ms with torch's objects
        # in it, a few microseconds frozen).
        gc.collect()
        gc.freeze()
        frozen_modules = len(sys.modules)
    except Exception as err:  # noqa: BLE001 - reported to the worker, which reports a grader-error
        _send(outbox, {"op": "failed", "error": f"{type(err).__name__}: {err}"})
        return 1
    _send(outbox, {"op": "ready"})
    while True:
        try:
            header, _ = _receive(inbox)
        except (JudgeGone, OSError):
            return 0
        op = header.get("op")
        if op == "forget":
            forget_pending()
            gc.collect()
            # Between two submissions (nothing of the last one is kept any more): what its tests imported for the
            # first time (torch.optim's first optimizer brings in torch._dynamo, some 120,000 objects) is frozen as
            # the judge's start-up imports were. Left in the collector's way, it made every full collection after
            # a test of every later submission walk them: 58 ms each, about 1.1 s of CPU per lesson-09 notebook.
            if len(sys.modules) != frozen_modules:
                gc.freeze()
                frozen_modules = len(sys.modules)
            continue
        if op not in ("test", "hidden"):
            return 1
        reusable = True
        lang = header.get("lang")
        set_language(lang if lang in LANGUAGES else None)     # this submission's language, else the grader's
        set_lesson(header["lesson"] if type(header.get("lesson")) is str else None)   # whose catalog: its sentences
        seed = header["seed"] if type(header.get("seed")) is int else None
        defer = header.get("defer") if type(header.get("defer")) is str else None
        try:
            if op == "hidden":
                outcome = run_hidden_here(str(header["key"]), str(header["source"]), pipe.transport,
                                          float(header["seconds"]), list(header.get("names", [])),
                                          exercise=str(header.get("exercise", "")), seed=seed)
            else:
                outcome = run_here(str(header["source"]), pipe.transport, float(header["seconds"]),
                                   list(header.get("names", [])),
                                   on_visible_done=lambda text: _send(outbox, {"op": "visible-done", "printed": text}),
                                   exercise=str(header.get("exercise", "")), seed=seed, defer=defer)
        except MemoryError:
            outcome = TestOutcome("fail", OUT_OF_MEMORY + ".")
        if outcome.message.startswith(OUT_OF_MEMORY) or pipe.broken:
            reusable = False              # start afresh: what filled the memory may still hold some of it
        try:
            _send(outbox, {"op": "done", "reusable": reusable,
                           "outcome": {"status": outcome.status, "message": outcome.message,
                                       "printed": outcome.printed, "hidden": outcome.hidden,
                                       "tampering": outcome.tampering, "unverified": outcome.unverified}})
        except MemoryError:
            return OUT_OF_MEMORY_EXIT
        if not reusable:
            return 0
        # Nothing of one test (one submission's answers) may weigh on the next, maybe another learner's: cycles
        # the test left are freed now, not at Python's next full collection, which may be many tests away.
        gc.collect()


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except MemoryError:
        os._exit(OUT_OF_MEMORY_EXIT)
