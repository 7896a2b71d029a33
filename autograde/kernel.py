"""A learner's kernel in its sandbox, driven cell by cell with time and output limits.

Outputs are read straight off the kernel's messages, so a cell that prints 200,000 lines costs only the
first ``output_bytes`` of them; a cell that loops is interrupted (and the kernel replaced when it will not
stop); a kernel that dies is reported, never waited for.
"""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from jupyter_client import KernelManager
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.kernelspec import KernelSpec

from .plain import MAX_BYTES, NotPlain, TooLarge, loads
from .sandbox import Limits, Sandbox
from .shim import COMM_TARGET, MIME

# The shim is imported, and listens for the grader's requests on a Jupyter comm, before any learner cell runs.
SHIM_IMPORT = "import autograde.shim; autograde.shim.listen()"
# A reply of the shim may carry arrays: allow far more than a cell's printed output (the codec's cap).
REPLY_BYTES = MAX_BYTES + 2 ** 20
# Outputs kept of one cell, whatever their size: an empty display costs 2 bytes of the output limit, so a loop of
# displays left 500,000 outputs in one cell, each checked against nbformat's schema where the notebook is written.
MAX_OUTPUTS = 2_000
START_SECONDS = 120           # the kernel's start with its preloads (torch) on a busy machine


class KernelDied(BaseException):
    """The learner's kernel ended (os._exit, a segfault, the memory limit, a fork bomb...)."""


class CellTimeout(BaseException):
    """A cell or a test ran past its time limit."""


class RemoteError(Exception):
    """An exception raised by the learner's code while the grader called it: its class's name, the names of the
    classes it derives from (``mro``) and the module that defines it, as the kernel says them."""

    def __init__(self, kind: str, message: str, where: str = "", mro: tuple[str, ...] = (), module: str = ""):
        super().__init__(f"{kind}: {message}" if message else kind)
        self.kind = kind
        self.remote_message = message
        self.where = where
        self.mro = mro
        self.module = module


def remote_error(err: object) -> RemoteError:
    """The RemoteError a shim's error entry ({"type", "mro", "module", "message", "where"}) describes, every part
    capped (the kernel may send anything)."""
    err = err if type(err) is dict else {}
    mro = err.get("mro")
    names = tuple(str(name)[:100] for name in mro[:30]) if type(mro) is list else ()
    return RemoteError(str(err.get("type", "Error"))[:100], str(err.get("message", ""))[:2000],
                       str(err.get("where", ""))[:500], names, str(err.get("module", ""))[:100])


@dataclass
class CellRun:
    status: str                       # ok | error | timeout | died
    outputs: list[dict] = field(default_factory=list)
    error: str = ""                   # "ValueError: ..." for status error
    truncated: bool = False           # outputs beyond the limit were dropped


def _close_client(kc: BlockingKernelClient) -> None:
    """Close a kernel client's sockets and its own zmq context now. Left to the garbage collector, a client
    that still has open sockets can hang its process for ever: in a reference cycle the context's finaliser may
    run after the sockets' weak references are cleared, and zmq's term() then waits for sockets nobody closes.
    (A worker hung so in the collector, on a kernel that failed to start.)"""
    try:
        kc.stop_channels()
    except Exception:  # noqa: BLE001 - already gone
        pass
    if kc._created_context and not kc.context.closed:
        kc.context.destroy(linger=0)


class LearnerKernel:
    """One sandboxed ipykernel. ``execute`` runs a cell; ``request`` asks the shim for plain data."""

    def __init__(self, sandbox: Sandbox, env: dict[str, str], probes: dict[str, str] | None = None,
                 preload: tuple[str, ...] = ()):
        self.sandbox = sandbox
        self.probes = dict(probes or {})      # sha256 -> source of the lesson's @learner_side test functions
        self.preload = tuple(preload)         # modules imported before any learner cell (no name is bound)
        self.limits: Limits = sandbox.limits
        self.env = env
        self.km: KernelManager | None = None
        self.kc: BlockingKernelClient | None = None
        self.starts = 0
        self.malformed = 0                    # messages from the kernel that were dropped as malformed
        self.comm_id = ""                     # the comm the shim listens on (opened by connect)

    # -- life cycle -----------------------------------------------------------------------------------
    def start(self) -> None:
        self.launch()
        self.connect()

    def launch(self) -> None:
        """Start the kernel's process (quick). The thread that calls this must outlive the kernel: the sandbox
        dies with its parent THREAD (bubblewrap's --die-with-parent is Linux's parent-death signal)."""
        sockets = self.sandbox.kernel_dir
        self.sandbox.unlock()
        km = KernelManager(transport="ipc", ip=str(sockets / f"k{self.starts}"))
        km.connection_file = str(sockets / f"connection-{self.starts}.json")
        km.write_connection_file()          # written now (0600, ours) so the sandbox user can be let read it
        self.sandbox.hand_over(Path(km.connection_file))
        km._kernel_spec = KernelSpec(argv=self.sandbox.kernel_argv(), display_name="sandboxed python",
                                     language="python", interrupt_mode="message", env={})
        cwd = self.sandbox.work if self.sandbox.isolate else self.sandbox.home
        try:
            km.start_kernel(cwd=str(cwd), env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except BaseException:
            try:
                km.cleanup_resources()       # its zmq context too (see _close_client)
            except Exception:  # noqa: BLE001 - reporting the start's own error matters more
                pass
            raise
        self.km = km
        self.starts += 1

    def connect(self) -> None:
        """Wait until the launched kernel is ready, then load the grader's helper, the preloads and the probes
        (any thread may do this)."""
        km = self.km
        if km is None:
            raise KernelDied("the kernel was not launched")
        kc = km.client()
        # Only the channels the grader reads: a socket nobody reads would hold whatever the kernel sends to it
        # (the kernel knows the client's identity from any request) in the grader's memory.
        kc.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=False)
        try:
            kc.wait_for_ready(timeout=60)
        except BaseException as err:
            _close_client(kc)
            self.shutdown()
            if isinstance(err, RuntimeError):
                raise KernelDied(f"the kernel did not start: {err}") from None
            raise
        self.kc = kc
        self.sandbox.lock()
        setup = self.execute(SHIM_IMPORT + (f"; autograde.shim.preload({list(self.preload)!r})" if self.preload else "")
                             + "; autograde.shim.seed_generators()", timeout=START_SECONDS)
        if setup.status != "ok":
            raise KernelDied(f"the grader's helper could not load in the kernel: {setup.error}")
        # Requests go to the shim as messages of this comm (Jupyter's own channel for messages between a
        # frontend and kernel code): the kernel reads them as data. Sent as code, a request was compiled by
        # IPython: about 0.3 s per MB of arguments (measured), a second per large test.
        self.comm_id = uuid.uuid4().hex
        opened = self._collect(self._send("comm_open", {"comm_id": self.comm_id, "target_name": COMM_TARGET,
                                                         "data": {}}), START_SECONDS, reply=False)
        if opened.status != "ok":
            raise KernelDied(f"the grader's helper did not open its channel in the kernel: {opened.error}")
        self.register_probes()

    def register_probes(self) -> None:
        """The lesson's probes, before any learner cell: the only code a test may run there. (A warm kernel,
        started before its submission was known, gets them when it is given one.)"""
        if self.probes:
            setup = self.execute(f"autograde.shim.register({json.dumps(json.dumps(self.probes))})", timeout=60,
                                 keep_outputs=False)
            if setup.status != "ok":
                raise KernelDied(f"the lesson's probes could not be registered in the kernel: {setup.error}")

    def shutdown(self) -> None:
        if self.kc is not None:
            _close_client(self.kc)
            self.kc = None
        if self.km is not None:
            try:
                self.km.shutdown_kernel(now=True)
            except Exception:  # noqa: BLE001
                pass
            try:
                self.km.cleanup_resources()
            except Exception:  # noqa: BLE001
                pass
            self.km = None
        self.sandbox.close()
        self.sandbox.clear_kernel_dir()

    def kill_processes(self) -> None:
        """SIGKILL the kernel's sandbox now (any thread may call this; the owner then sees a dead kernel)."""
        km = self.km
        provisioner = getattr(km, "provisioner", None) if km is not None else None
        pid = getattr(provisioner, "pid", None)
        if type(pid) is int and pid > 0:
            try:
                os.kill(pid, signal.SIGKILL)      # bubblewrap: the sandbox's processes die with it
            except OSError:
                pass
        self.sandbox.kill_processes()

    def restart(self) -> None:
        self.shutdown()
        self.start()

    def alive(self) -> bool:
        return self.km is not None and self.km.is_alive()

    # -- running code ---------------------------------------------------------------------------------
    @property
    def client(self) -> BlockingKernelClient:
        if self.kc is None:
            raise KernelDied("the kernel is not running")
        return self.kc

    def execute(self, code: str, timeout: float, keep_outputs: bool = True, limit: int | None = None) -> CellRun:
        if not self.alive():
            return CellRun("died", error="the kernel is not running")
        msg_id = self.client.execute(code, store_history=False, allow_stdin=False)
        return self._collect(msg_id, timeout, keep_outputs, limit)

    def _send(self, msg_type: str, content: dict) -> str:
        """Send a message of the protocol's shell channel (a comm's); return its id."""
        client = self.client
        msg = client.session.msg(msg_type, content)
        client.shell_channel.send(msg)
        return msg["header"]["msg_id"]

    def _collect(self, msg_id: str, timeout: float, keep_outputs: bool = True, limit: int | None = None,
                 reply: bool = True) -> CellRun:
        """The outputs of one shell message until the kernel is idle again. ``reply``: the message has a reply on
        the shell channel to read away (an execute request; a comm's messages have none)."""
        run = CellRun("ok")
        size = 0
        # A cell's outputs go into the graded notebook: at most MAX_OUTPUTS of them. A request's are only searched
        # for the shim's reply (its size is what counts there).
        most = MAX_OUTPUTS if limit is None else None
        limit = self.limits.output_bytes if limit is None else limit
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return self._timed_out(msg_id, run, reply)
            try:
                msg = self._receive("iopub", min(remaining, 0.5))
            except queue.Empty:
                if not self.alive():
                    run.status = "died"
                    return run
                continue
            if msg is None or msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "status" and content.get("execution_state") == "idle":
                break
            if kind == "error":
                run.status = "error"
                run.error = f"{content.get('ename', 'Error')}: {content.get('evalue', '')}"[:2000]
            if kind in ("stream", "display_data", "execute_result", "error"):
                output = _output(kind, content)
                size += _size(content)
                if size > limit or (most is not None and len(run.outputs) >= most):
                    run.truncated = True
                elif keep_outputs:
                    run.outputs.append(output)
        if reply:
            self._drain_shell(msg_id)
        return run

    def _receive(self, channel: str, timeout: float) -> dict | None:
        """The next message on ``channel`` ("iopub" or "shell"), or None for one that was dropped; raises
        queue.Empty when none came within ``timeout``.

        Everything the kernel sends is the learner's data: its code holds the connection's key and can send any
        bytes on these sockets. A message that does not parse (not JSON, nested too deep, a bad signature) or
        whose parts are not of the types the protocol gives them is dropped and counted (``malformed``), never
        an error of the grader."""
        channel_obj = self.client.iopub_channel if channel == "iopub" else self.client.shell_channel
        try:
            msg = channel_obj.get_msg(timeout=timeout)
        except queue.Empty:
            raise
        except Exception:  # noqa: BLE001 - whatever the kernel sent, it is not a message of the protocol
            self.malformed += 1
            return None
        if not _well_formed(msg):
            self.malformed += 1
            return None
        return msg

    def _drain_shell(self, msg_id: str) -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                reply = self._receive("shell", 0.5)
            except queue.Empty:
                return
            if reply is not None and reply["parent_header"].get("msg_id") == msg_id:
                return

    def _timed_out(self, msg_id: str, run: CellRun, reply: bool = True) -> CellRun:
        """Interrupt; if the kernel does not come back to idle within a few seconds, replace it."""
        run.status = "timeout"
        try:
            if self.km is not None:
                self.km.interrupt_kernel()
        except Exception:  # noqa: BLE001
            pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                msg = self._receive("iopub", 0.5)
            except queue.Empty:
                if not self.alive():
                    break
                continue
            if msg is None:
                continue
            if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status"
                    and msg["content"].get("execution_state") == "idle"):
                if reply:
                    self._drain_shell(msg_id)
                return run
        run.error = "the kernel did not stop when interrupted"
        self.shutdown()
        return run

    def request(self, request: dict, timeout: float):
        """Send one request to the shim; return the reply's JSON value or raise RemoteError/CellTimeout/KernelDied.

        The value is still in the codec's form (``plain.decode`` turns it into objects)."""
        return parse_reply(self.request_text(request, timeout))

    def request_text(self, request: dict, timeout: float) -> str:
        """The shim's reply to one request as raw JSON text, unparsed: the grader parses it in its judge
        process, under that process's memory limit. Raises CellTimeout/KernelDied, TooLarge or RemoteError
        (no reply at all)."""
        if not self.alive():
            raise KernelDied("the kernel died while the grader was calling your code")
        msg_id = self._send("comm_msg", {"comm_id": self.comm_id, "data": {"request": json.dumps(request)}})
        run = self._collect(msg_id, timeout, limit=REPLY_BYTES, reply=False)
        if run.status == "timeout":
            raise CellTimeout(f"no answer within {timeout:g} s (an infinite loop?)")
        if run.status == "died":
            raise KernelDied("the kernel died while the grader was calling your code")
        for output in run.outputs:
            data = output.get("data", {})
            if MIME in data:
                if not isinstance(data[MIME], str):
                    raise RemoteError("NoReply", "the kernel sent a reply in the wrong form")
                return data[MIME]
        if run.truncated:
            raise TooLarge(f"your answer is more than {REPLY_BYTES // 2 ** 20} MiB of data")
        raise RemoteError("NoReply", run.error or "the kernel sent no reply")


def _resident() -> int:
    """This process's resident memory in bytes (0 where /proc is not there: the guard then never trips)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class InboundGuard:
    """A limit on what one submission's kernel can make the grader hold: ``budget`` bytes of the grader's memory.

    zmq takes in a kernel's messages in the grader's process before the grader reads them, whole (a message of a
    thousand parts is delivered only when its last part is in), and holds those sent to a socket the grader reads
    only now and then (between two requests of a test). The kernel holds the connection's key and can send
    anything, so without a limit its code could fill the grader's memory and take down the worker. While learner
    code may run, a thread watches the grader's resident memory; above its level at the start plus ``budget``, it
    kills the kernel's processes (the cell or test running then ends as "died", and closing the kernel's channels
    frees what zmq held) and sets ``tripped``. The runner then runs no more of that submission.
    """

    INTERVAL = 0.05

    def __init__(self, kernel: "LearnerKernel", budget: int):
        self.kernel = kernel
        self.budget = budget
        self.base = _resident()
        self.tripped = False
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="autograde-inbound-guard", daemon=True)
        if self.base:
            self.thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.INTERVAL):
            if _resident() - self.base > self.budget:
                self.tripped = True
                self.kernel.kill_processes()
                return

    def stop(self) -> None:
        self._stop.set()
        if self.thread.is_alive():
            self.thread.join(5)


def parse_reply(text: str, extras: dict | None = None):
    """The value of a shim reply (JSON text within the codec's caps); a reported error becomes RemoteError.

    ``extras``, when given, receives the reply's other parts (``changed``: the arguments a call changed in
    place), still in the codec's form."""
    reply = loads(text)
    if type(reply) is not dict or not ("value" in reply or "error" in reply):
        raise NotPlain("a reply in the wrong form")
    if "error" in reply:
        raise remote_error(reply["error"])
    if extras is not None and "changed" in reply:
        extras["changed"] = reply["changed"]
    return reply["value"]


_TEXT_FIELDS = {"stream": ("name", "text"), "error": ("ename", "evalue"), "status": ("execution_state",)}


def _well_formed(msg) -> bool:
    """A message whose parts have the types the messaging protocol gives them (for the kinds the grader reads)."""
    if type(msg) is not dict or type(msg.get("msg_type")) is not str or type(msg.get("content")) is not dict \
            or type(msg.get("parent_header")) is not dict:
        return False
    content = msg["content"]
    if any(type(content.get(name)) is not str for name in _TEXT_FIELDS.get(msg["msg_type"], ())):
        return False
    if msg["msg_type"] == "error":
        return type(content.get("traceback", [])) is list
    if msg["msg_type"] in ("display_data", "execute_result"):
        return type(content.get("data")) is dict and type(content.get("metadata", {})) is dict \
            and _nesting(content) <= MAX_NESTING
    return True


# How deep the data of one output may nest (lists and dicts in lists and dicts). A notebook's outputs nest a few
# levels (a Vega-Lite chart about ten); a learner's kernel could send one thousands deep, which the grader's own
# readers (nbformat, the JSON writer) would fail on with RecursionError: the grader's fault, a grader-error, every
# run (a hostile trial). Deeper ones are dropped as malformed, flagged tampering.
MAX_NESTING = 100


def _nesting(value) -> int:
    """The depth of nested lists and dicts in ``value``, counted without recursion (stops past MAX_NESTING)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_NESTING:
            return depth
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return deepest


def _size(content: dict) -> int:
    """What an output costs against the output limit: its text or data, and its metadata too."""
    try:
        if "text" in content:
            return len(content["text"])
        if "data" in content:
            data = sum(len(v) if isinstance(v, str) else len(json.dumps(v)) for v in content["data"].values())
            return data + len(json.dumps(content.get("metadata") or {}))
        return len(json.dumps(content))
    except (TypeError, ValueError, RecursionError, AttributeError):
        return 2 ** 62            # not measurable: over any limit, so it is dropped


def _output(kind: str, content: dict) -> dict:
    if kind == "stream":
        return {"output_type": "stream", "name": content.get("name", "stdout"), "text": content.get("text", "")}
    if kind == "error":
        return {"output_type": "error", "ename": content.get("ename", ""), "evalue": content.get("evalue", ""),
                "traceback": content.get("traceback", [])}
    output = {"output_type": kind, "data": content.get("data", {}), "metadata": content.get("metadata", {})}
    if kind == "execute_result":
        output["execution_count"] = content.get("execution_count")
    return output


__all__ = ["LearnerKernel", "CellRun", "KernelDied", "CellTimeout", "RemoteError", "parse_reply"]
