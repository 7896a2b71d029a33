"""Kernels forked from a worker's zygote (autograde.forked), looked at from inside: as confined as a kernel that
bubblewrap starts, apart from each other and from their zygote, in their submission's cgroups; graded alike."""
from __future__ import annotations

import json
import os
import queue
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from autograde.forked import available, close_zygotes, zygote_for
from autograde.kernel import LearnerKernel
from autograde.runner import grade_submission, new_sandbox
from autograde.sandbox import Limits, remove_tree
from conftest import GUARD, solved, write

pytestmark = [pytest.mark.slow,      # starts kernels
              pytest.mark.skipif(not available(True) and not os.environ.get("CI"),
                                 reason="forked kernels need root, bubblewrap, cgroups and user namespaces")]
PRELOAD = ("numpy",)


@pytest.fixture
def start():
    """Start a forked kernel (as the grader does); every one is shut down and its folder removed afterwards."""
    made = []

    def started(limits: Limits | None = None) -> LearnerKernel:
        work_root, sandbox = new_sandbox(limits or Limits(), True, 1, PRELOAD)
        assert sandbox.zygote is not None, "no zygote: the kernel would not be forked"
        kernel = LearnerKernel(sandbox, sandbox.env(1))
        made.append((kernel, work_root))
        kernel.start()
        return kernel

    yield started
    for kernel, work_root in made:
        kernel.shutdown()
        remove_tree(work_root)


def run(kernel: LearnerKernel, code: str) -> dict:
    """Run ``code`` (which prints one JSON line last) in the kernel; the printed object."""
    result = kernel.execute(code, timeout=60)
    assert result.status == "ok", result
    text = "".join(o.get("text", "") for o in result.outputs if o.get("output_type") == "stream")
    return json.loads(text.strip().splitlines()[-1])


LOOK = r'''
import ctypes, json, os, sys
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
libc = ctypes.CDLL(None, use_errno=True)
unshared = libc.unshare(0x20000)                     # a mount namespace of its own
# /proc shows it its own processes only: not the zygote, not its sandbox's first process, no other kernel
visible = [int(p) for p in os.listdir("/proc") if p.isdigit()] + [int(t) for t in os.listdir("/proc/self/task")]
others = [pid for pid in visible if os.stat(f"/proc/{pid}").st_uid != os.getuid()]
signal_zygote = []
for pid in range(1, 64):                  # the zygote and its sandbox's first processes have the smallest pids
    if pid in visible:
        continue
    try:
        os.kill(pid, 0)
        signal_zygote.append(("sent", pid))
    except ProcessLookupError:
        continue
    except OSError as err:
        signal_zygote.append(type(err).__name__)
    try:
        open(f"/proc/{pid}/status").read()
        signal_zygote.append(("status read", pid))
    except OSError as err:
        signal_zygote.append(type(err).__name__)
own = os.environ["JUPYTER_RUNTIME_DIR"]
on_the_way = {}
path = "/tmp"
for part in own[len("/tmp/"):].split("/")[:-1]:
    path = os.path.join(path, part)
    on_the_way[path] = sorted(os.listdir(path))
sockets = [os.path.join(top, name) for top, dirs, files in os.walk("/tmp") for name in files if name.endswith(".sock")]
open("/proc/self/comm", "w").write("renamed")                      # its own /proc entries are its own
print(json.dumps({"forked": b"forked\x00zygote" in open("/proc/self/cmdline", "rb").read(),
                  "comm": open("/proc/self/comm").read().strip(), "uid": os.getuid(), "euid": os.geteuid(),
                  "caps": [status[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")],
                  "no_new_privs": status["NoNewPrivs"].strip(), "seccomp": status["Seccomp"].strip(),
                  "unshare": [unshared, ctypes.get_errno()], "others": others, "signal_zygote": signal_zygote,
                  "on_the_way": on_the_way, "own": own, "sockets": sockets, "cwd": os.getcwd(),
                  "tmp": sorted(os.listdir("/tmp"))}))
'''


def test_a_forked_kernel_is_confined_and_cannot_reach_its_zygote(start):
    seen = run(start(), LOOK)
    assert seen["forked"] and seen["comm"] == "renamed", seen
    assert seen["uid"] == seen["euid"] != 0, seen
    assert seen["caps"] == ["0000000000000000"] * 5, seen                 # no capability of any kind
    assert seen["no_new_privs"] == "1" and seen["seccomp"] == "2", seen    # the sandbox's seccomp filter
    assert seen["unshare"] == [-1, 1], seen                                # refused (EPERM)
    assert seen["others"] == [], seen                                      # /proc: its own processes only
    # the zygote and its sandbox's first processes are there (signalling says so) but neither signalled nor seen
    assert seen["signal_zygote"] and all(said in ("PermissionError", "FileNotFoundError")
                                         for said in seen["signal_zygote"]), seen
    assert seen["sockets"] == [], seen                                     # the zygote's socket is not there
    # the folders on the way to its own kernel folder hold nothing but the way: no other kernel's folder
    names = list(seen["on_the_way"].values())
    wanted = seen["own"][len("/tmp/"):].split("/")[1:]
    assert names == [[name] for name in wanted], seen
    assert seen["cwd"] == "/home/learner", seen


SPY = r'''
import json, os, socket
found = [p for p in (os.path.expanduser("~/answers.txt"), "/tmp/classmate", "/dev/shm/classmate") if os.path.exists(p)]
reach = []
# its local listener; its UDP port (IP sockets are datagrams only), bound here if no one has it in this network
for family, kind, address in ((socket.AF_UNIX, socket.SOCK_STREAM, "\0classmate"),
                              (socket.AF_INET, socket.SOCK_DGRAM, ("127.0.0.1", 45454))):
    s = socket.socket(family, kind)
    try:
        if kind == socket.SOCK_STREAM:
            s.connect(address)
            reach.append("connected")
        else:
            s.bind(address)
            reach.append("port free")
    except OSError as err:
        reach.append(type(err).__name__)
try:
    os.kill(PID, 0)
    reach.append("signalled")
except OSError as err:
    reach.append(type(err).__name__)
for name in ("environ", "status", "stat", "mountinfo", "net/unix"):
    try:
        open(f"/proc/{PID}/{name}").read()
        reach.append(name + " read")
    except OSError as err:
        reach.append(type(err).__name__)
print(json.dumps({"found": found, "reach": reach, "uid": os.getuid(), "listed": str(PID) in os.listdir("/proc")}))
'''

HIDE = r'''
import json, os, socket
open(os.path.expanduser("~/answers.txt"), "w").write("42")
open("/tmp/classmate", "w").write("42")
open("/dev/shm/classmate", "w").write("42")
listeners = [socket.socket(socket.AF_UNIX), socket.socket(socket.AF_INET, socket.SOCK_DGRAM)]
listeners[0].bind("\0classmate")
listeners[0].listen(1)
listeners[1].bind(("127.0.0.1", 45454))
print(json.dumps({"pid": os.getpid(), "uid": os.getuid()}))
'''


def test_two_forked_kernels_of_one_zygote_cannot_reach_each_other(start):
    """A classmate's kernel forked by the same zygote, alive at the same time: its files, sockets and process."""
    first = start()
    hidden = run(first, HIDE)
    second = start()
    assert second.sandbox.zygote is first.sandbox.zygote
    seen = run(second, SPY.replace("PID", str(hidden["pid"])))
    assert seen["found"] == [], seen
    assert seen["reach"][:2] == ["ConnectionRefusedError", "port free"], seen     # no one listens, no one has it
    # not signalled, and its /proc not even listed: not its environment, nor its status, CPU times, mounts or
    # sockets (a hostile trial read all but the first while /proc showed every kernel of the zygote)
    assert seen["reach"][2:] == ["PermissionError"] + ["FileNotFoundError"] * 5 and not seen["listed"], seen
    assert seen["uid"] != hidden["uid"], seen


def test_a_forked_kernel_is_in_its_submissions_cgroups_and_limits(start):
    kernel = start(Limits(memory_bytes=768 * 2 ** 20))
    assert kernel.sandbox.cgroups is not None
    pids = [int(p) for procs in kernel.sandbox.cgroups.procs_files() for p in procs.read_text().split()]
    inside = run(kernel, "import json, os; print(json.dumps({'pid': os.getpid()}))")
    assert len(set(pids)) >= 2, pids                   # the stand-in and the kernel
    result = kernel.execute("hoard = bytearray(900 * 2 ** 20)", timeout=60)
    assert result.status in ("error", "died"), result
    assert result.status == "died" or "MemoryError" in result.error, result
    assert inside["pid"] > 0


def test_a_killed_forked_kernel_leaves_its_zygote_serving(start):
    first = start()
    zygote = first.sandbox.zygote
    first.kill_processes()
    deadline = time.monotonic() + 20
    while first.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not first.alive()
    second = start()
    assert second.sandbox.zygote is zygote and zygote.alive()
    assert run(second, "import json; print(json.dumps({'sum': sum(range(10))}))") == {"sum": 45}


def test_graded_alike_forked_or_started_fresh(tmp_path):
    """One submission (one answer wrong) graded with a forked kernel and with one bubblewrap starts: the same."""
    nb = solved(GUARD, {"pool": "def pool(values, width, mode):\n    return [0]\n"})
    path = write(nb, tmp_path / "one.ipynb")
    task = {"student": "s", "lesson": GUARD.slug, "solutions": str(GUARD.solutions), "path": str(path),
            "limits": {"cell_seconds": 30.0}, "sandbox": True, "threads": 1}
    forked = grade_submission(dict(task))
    fresh = grade_submission({**task, "limits": {**task["limits"], "forked_kernels": False}})

    def verdicts(result: dict) -> list:
        return [(t["grade_id"], t["points"], t["status"], t["message"]) for t in result["tests"]]

    assert forked["status"] == fresh["status"] == "graded", (forked["detail"], fresh["detail"])
    assert (forked["kernel"]["forked"], fresh["kernel"]["forked"]) == (True, False)     # no silent fallback
    assert forked["score"] == fresh["score"] and verdicts(forked) == verdicts(fresh), (verdicts(forked), verdicts(fresh))
    assert 0 < forked["score"] < sum(t["max_points"] for t in forked["tests"])


OUTSIDE_TMP = r'''
import json, os
own = os.environ["JUPYTER_RUNTIME_DIR"]                    # <spawn>/k-<name>/kernel
spawn = os.path.dirname(os.path.dirname(own))
try:
    listed = sorted(os.listdir(spawn))
except OSError as err:
    listed = type(err).__name__
print(json.dumps({"own": own, "spawn": spawn, "listed": listed,
                  "reached": [name for name in ("zygote", "zygote/kernel", "zygote/passwd", "seccomp.bpf")
                              if os.path.lexists(os.path.join(spawn, name))]}))
'''


def test_a_forked_kernel_under_a_tmpdir_outside_tmp_sees_only_the_way_to_its_own_folder(monkeypatch):
    """With TMPDIR outside /tmp (sandbox.work_base keeps it when it is shallow enough) the zygote's folder of kernels
    is bound at its own path there, not under the kernel's fresh /tmp: the zygote's folder, its seccomp program and
    the way into every other kernel's folder were there (a hostile trial). Covered as /tmp is."""
    if not os.path.isdir("/var/tmp"):
        pytest.skip("no /var/tmp here")
    base = Path(tempfile.mkdtemp(prefix="w", dir="/var/tmp"))
    monkeypatch.setenv("TMPDIR", str(base))
    monkeypatch.setattr(tempfile, "tempdir", None)
    close_zygotes()                         # one started under /tmp would fork this kernel
    kernel = None
    try:
        work_root, sandbox = new_sandbox(Limits(), True, 1, PRELOAD)
        assert sandbox.zygote is not None and str(sandbox.zygote.spawn).startswith(f"{base}/"), sandbox.zygote
        kernel = LearnerKernel(sandbox, sandbox.env(1))
        kernel.start()
        seen = run(kernel, OUTSIDE_TMP)
        assert seen["listed"] == [seen["own"].split("/")[-2]], seen      # its own folder, nothing else
        assert seen["reached"] == [], seen
    finally:
        if kernel is not None:
            kernel.shutdown()
        close_zygotes()
        shutil.rmtree(base, ignore_errors=True)


def test_closing_the_zygotes_ends_them_and_removes_their_folders():
    zygote = zygote_for(Limits(), 1, ("numpy", "torch"))
    assert zygote is not None and zygote.alive()
    spawn = zygote.spawn
    close_zygotes()
    assert not zygote.alive() and not spawn.exists()


OUTLIVE = r'''
import gc, os, socket, time
links = [s for s in gc.get_objects() if isinstance(s, socket.socket) and s.family == socket.AF_UNIX
         and s.type == socket.SOCK_SEQPACKET and s.fileno() >= 0]          # the link to the stand-in among them
if os.fork() == 0:                     # a child keeps every descriptor, the link too, and lives on
    os.setsid()
    time.sleep(600)
    os._exit(0)
os._exit(0)                            # the kernel itself ends
'''


def test_the_stand_in_ends_with_its_kernel_whoever_holds_the_link(start):
    """The stand-in stands for the kernel's process, not for its link: a child of the kernel that keeps the link
    must not keep the stand-in (root, on the host) alive after the kernel has ended, forwarding signals to a pid
    the host may give to any process (a hostile trial: it did, and pid_max is 32,768 here)."""
    kernel = start()
    standin = kernel.km.provisioner.pid
    pids = {int(p) for procs in kernel.sandbox.cgroups.procs_files() for p in procs.read_text().split()}
    own = pids - {standin}
    assert len(own) == 1, pids
    kernel.client.execute(OUTLIVE)
    deadline = time.monotonic() + 20
    while os.path.exists(f"/proc/{min(own)}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not os.path.exists(f"/proc/{min(own)}"), "the kernel did not end"
    while kernel.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not kernel.alive(), "the stand-in outlives the kernel it stands for"


def _zygote_process(zygote) -> int:
    """The host pid of the zygote's own process (not bubblewrap's)."""
    for name in os.listdir("/proc"):
        try:
            cmdline = open(f"/proc/{name}/cmdline", "rb").read()
            uid = os.stat(f"/proc/{name}").st_uid
        except (OSError, ValueError):
            continue
        if b"autograde.forked\x00zygote" in cmdline and str(zygote.spawn).encode() in cmdline and uid == zygote.uid_base:
            return int(name)
    raise AssertionError("no zygote process")


def test_a_kernel_that_dies_with_its_zygote_is_the_machines_fault(start):
    """The zygote is in no submission's cgroup: the machine's out-of-memory killer may take it (or it may fail of
    itself), and every kernel of it ends then. That must never become the learner's grade ("kernel-died"): the
    grader reports a fault of the machine (a hostile trial: a solved notebook got 0 points, the kernel's death
    and the failed restart on the dead zygote both counted as the learner's)."""
    from autograde.runner import MachineFault, _check_death

    kernel = start()
    zygote = kernel.sandbox.zygote
    os.kill(_zygote_process(zygote), 9)                 # as the machine's out-of-memory killer would
    deadline = time.monotonic() + 20
    while kernel.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not kernel.alive()
    assert not zygote.alive()
    with pytest.raises(MachineFault):
        _check_death(kernel, Limits())


def test_a_forked_kernel_imports_nothing_from_its_home_before_the_standard_library(start):
    """sys.path as a kernel started the usual way has it: the home folder (the learner's, writable) is not put
    before the standard library, where a learner's ``csv.py`` would shadow it for the shim and the probes."""
    kernel = start()
    seen = run(kernel, "import json, os, sys; print(json.dumps({'path': sys.path, 'stdlib': os.path.dirname(os.__file__)}))")
    path = seen["path"]
    assert "/home/learner" not in path, path
    assert "" not in path[:path.index(seen["stdlib"])], path


PTY = r'''
import fcntl, json, os, struct
master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY)
fcntl.ioctl(master, 0x40045431, struct.pack("i", 0))                            # TIOCSPTLCK: unlock
number = struct.unpack("I", fcntl.ioctl(master, 0x80045430, b"\0" * 4))[0]      # TIOCGPTN
os.chmod(f"/dev/pts/{number}", 0o666)                                           # anyone may open it
print(json.dumps({"pty": f"/dev/pts/{number}"}))
'''

OPEN_PTYS = r'''
import json, os
opened = []
for name in os.listdir("/dev/pts"):
    if name != "ptmx":
        try:
            os.close(os.open(f"/dev/pts/{name}", os.O_RDWR | os.O_NOCTTY))
            opened.append(name)
        except OSError:
            pass
print(json.dumps({"listed": sorted(os.listdir("/dev/pts")), "opened": opened}))
'''


def test_two_forked_kernels_do_not_share_pseudo_terminals(start):
    """Each kernel has a devpts of its own (bubblewrap gives each sandbox one): a hostile trial opened, from one
    kernel, a pty another kernel of the same zygote had made world-writable, and wrote to it."""
    first = start()
    made = run(first, PTY)
    second = start()
    assert second.sandbox.zygote is first.sandbox.zygote
    seen = run(second, OPEN_PTYS)
    assert seen == {"listed": ["ptmx"], "opened": []}, (made, seen)


def test_a_zygote_never_hands_out_a_uid_a_sandbox_still_holds():
    """Kernel uids go round 1-999; one a sandbox still holds (a kernel that lives on: a spare no one took, a
    worker thread that died) is never handed to another: two kernels of one uid could signal each other and lower
    each other's rlimits (prlimit)."""
    from autograde.forked import UIDS

    zygote = zygote_for(Limits(), 1, PRELOAD)
    assert zygote is not None
    work_root, held = new_sandbox(Limits(), True, 1, PRELOAD)        # lives on
    try:
        handed = set()
        for _ in range(UIDS + 5):
            root, sandbox = new_sandbox(Limits(), True, 1, PRELOAD)
            handed.add(sandbox.inner_uid)
            sandbox.close()
            shutil.rmtree(root)
        assert held.inner_uid not in handed
    finally:
        held.close()
        remove_tree(work_root)


@pytest.mark.parametrize("slug, dynamo", [("06_lenet", True), ("03_padding_stride", False)])
def test_a_torch_lessons_zygote_has_imported_what_its_first_optimizer_needs(tmp_path, slug, dynamo):
    """torch.optim imports torch._dynamo (about 1 s of CPU) when a lesson makes its first optimizer (lessons
    06-10): the zygote of such a lesson imports it once for all its kernels (measured: 12 notebooks of lessons 06
    and 09 graded in 47 s instead of 53 s). A lesson with torch and no optimizer (02-05, the grader's test lesson)
    does not: it cost each of their zygotes about 1 s of CPU for nothing."""
    import nbformat

    from autograde.lessons import find_lesson
    from autograde.runner import lesson_preload

    preload = lesson_preload(nbformat.read(find_lesson(slug).source, as_version=4))
    assert "torch" in preload
    work_root, sandbox = new_sandbox(Limits(), True, 1, preload)
    assert sandbox.zygote is not None
    kernel = LearnerKernel(sandbox, sandbox.env(1))
    try:
        kernel.start()
        seen = run(kernel, "import json, sys\nprint(json.dumps({'dynamo': 'torch._dynamo' in sys.modules}))")
    finally:
        kernel.shutdown()
        remove_tree(work_root)
    assert seen == {"dynamo": dynamo}


# Realtime signals queued by a kernel to itself (blocked, never taken), up to ``most`` or until the kernel refuses.
QUEUES_SIGNALS = r'''
import ctypes, errno, json, os, signal, threading
libc = ctypes.CDLL(None, use_errno=True)


class SigInfo(ctypes.Structure):
    _fields_ = [("signo", ctypes.c_int), ("errno", ctypes.c_int), ("code", ctypes.c_int), ("pad", ctypes.c_byte * 116)]


def queue(sig, most):
    signal.pthread_sigmask(signal.SIG_BLOCK, [sig])
    queued = 0
    while queued < most and libc.syscall(297, os.getpid(), threading.get_native_id(), sig,       # rt_tgsigqueueinfo
                                         ctypes.byref(SigInfo(sig, 0, -1))) == 0:            # SI_QUEUE
        queued += 1
    return queued
'''
# A hostile trial, as a learner's cell: its scheduling group at the lowest priority, and all the signals it may queue.
HOGS_SHARED_COUNTS = QUEUES_SIGNALS + r'''
open("/proc/self/autogroup", "w").write("19")
queued = queue(signal.SIGRTMIN, 10 ** 6)
print(json.dumps({"queued": queued, "errno": errno.errorcode.get(ctypes.get_errno()),
                  "autogroup": open("/proc/self/autogroup").read().split()[-1]}))
'''
CLASSMATE_QUEUES = QUEUES_SIGNALS + r'''
timer = ctypes.c_int()
made = libc.timer_create(1, None, ctypes.byref(timer))        # CLOCK_MONOTONIC, SIGALRM when it expires
print(json.dumps({"queued": queue(signal.SIGRTMIN + 1, 10), "timer": made,
                  "autogroup": open("/proc/self/autogroup").read().split()[-1]}))
'''


def test_a_forked_kernel_uses_up_nothing_its_zygotes_other_kernels_need(start):
    """Two hostile trials: a kernel set its scheduling group's priority to the lowest (/proc/self/autogroup: nice 19);
    it was the zygote's session's, so the zygote and every kernel it forked after, until each was in its cgroups, had
    1.5 % of a busy CPU's share for the rest of the run. And it queued signals to itself until refused (96,369 here):
    the count is the zygote's user's on the host, for all its kernels together, and a classmate's kernel forked by
    the same zygote could queue none, nor make a timer (EAGAIN). Each kernel has a session of its own and a share of
    the zygote's limits: the classmate's kernel and the zygote keep theirs."""
    classmate = start()
    hog = start()
    assert hog.sandbox.zygote is classmate.sandbox.zygote
    zygote = hog.sandbox.zygote
    with open(f"/proc/self/fdinfo/{zygote.pidfd}", encoding="ascii") as info:
        zygote_pid = next(line.split()[1] for line in info if line.startswith("Pid:"))
    hogged = run(hog, HOGS_SHARED_COUNTS)
    assert hogged["queued"] > 0 and hogged["errno"] == "EAGAIN" and hogged["autogroup"] == "19", hogged
    seen = run(classmate, CLASSMATE_QUEUES)
    assert seen == {"queued": 10, "timer": 0, "autogroup": "0"}, (seen, hogged)
    with open(f"/proc/{zygote_pid}/autogroup", encoding="ascii") as group:
        assert group.read().split()[-1] == "0"


OPENS_DESCRIPTORS = r'''
import ctypes, errno, json, os
libc = ctypes.CDLL(None, use_errno=True)
opened = []
while len(opened) < MOST:
    fd = libc.timerfd_create(1, 0)
    if fd < 0:
        break
    opened.append(fd)
said = errno.errorcode.get(ctypes.get_errno())
for fd in opened:
    os.close(fd)                  # the kernel itself needs descriptors to answer
limits = {line[:26].strip(): line[26:].split()[:2] for line in open("/proc/self/limits")}
print(json.dumps({"opened": len(opened), "errno": said, "rtprio": limits["Max realtime priority"],
                  "nice": limits["Max nice priority"]}))
'''


def test_a_kernels_descriptors_are_limited_whatever_the_graders_limit(start, tmp_path):
    """A hostile trial: 20 processes of a kernel opened 20,000 timerfds each (the grader's own limit here; 1,048,576
    in a Docker container), and 48 MiB of the machine's memory they held were outside the submission's memory
    limit (what the kernel allocates for a timerfd is not charged to the cgroup). Each process of a kernel, forked
    or started by bubblewrap, has sandbox.OPEN_FILES at most."""
    from autograde.sandbox import OPEN_FILES, Sandbox
    from test_sandbox import run_inside

    code = OPENS_DESCRIPTORS.replace("MOST", str(OPEN_FILES + 100))
    forked = run(start(), code)
    assert forked["errno"] == "EMFILE" and forked["opened"] < OPEN_FILES, forked
    cold = run_inside(Sandbox(tmp_path / "cold", Limits()), code)
    said = json.loads(cold.stdout.strip().splitlines()[-1])
    assert said["errno"] == "EMFILE" and said["opened"] < OPEN_FILES, (said, cold.stderr)
    # no realtime priority, no raised nice priority, whatever the grader's own limits (0 here already: on this
    # machine this part cannot fail without the limits; on one that gives the grader a realtime allowance it would)
    for kernel in (forked, said):
        assert kernel["rtprio"] == ["0", "0"] and kernel["nice"] == ["0", "0"], kernel


LOCKS = r'''
import fcntl, json, os
mine = open(os.path.expanduser("~/history.sqlite"), "w")
fcntl.flock(mine, fcntl.LOCK_EX)                  # as IPython's history database does, in the kernel's own home
import builtins
builtins._held = mine
print(json.dumps({"pid": os.getpid()}))
'''
SEES_LOCKS = r'''
import json, os
seen = {}
for name in sorted(os.listdir("/proc")):
    path = os.path.join("/proc", name)
    if name.isdigit() or os.path.islink(path) or not os.path.isfile(path):
        continue
    try:
        with open(path, "rb") as f:
            seen[name] = f.read(1 << 20).decode("latin-1")
    except OSError:
        pass
print(json.dumps(seen))
'''


def test_a_forked_kernel_reads_nothing_of_its_classmates_in_the_machines_proc_files(start):
    """A hostile trial: /proc/locks listed every lock of the zygote's pid namespace, with the pid and the file's
    device and inode, so a kernel saw its classmate's kernel (hidden from /proc by hidepid) and what it locked. Of the
    machine's files in /proc a kernel sees only an allow-list (sandbox.PROC_VISIBLE); the others are empty."""
    from autograde.sandbox import PROC_VISIBLE

    classmate = start()
    held = run(classmate, LOCKS)
    seen = run(start(), SEES_LOCKS)
    assert all(name in PROC_VISIBLE or text == "" for name, text in seen.items()), \
        {name: text[:80] for name, text in seen.items() if name not in PROC_VISIBLE and text}
    assert not any(f" {held['pid']} " in text for name, text in seen.items() if name != "loadavg"), seen
    assert {"cpuinfo", "meminfo", "stat"} <= {name for name, text in seen.items() if text}, seen.keys()


@pytest.mark.parametrize("forked", [True, False], ids=["forked", "started"])
def test_every_output_of_a_cell_reaches_the_grader_however_late_it_reads(forked):
    """A kernel's outputs travel on its IOPub socket, which zmq let hold 1,000 messages in the kernel and 1,000 in
    the grader; past that it dropped the rest without a word. A grader slowed by a loaded machine kept 1,777 of a
    cell's 2,000 displays. The kernel now queues what the grader has not read yet in its own memory (under its own
    limit); here the grader reads nothing until the cell has finished, then gets every display."""
    work_root, sandbox = new_sandbox(Limits(forked_kernels=forked), True, 1, PRELOAD)
    kernel = LearnerKernel(sandbox, sandbox.env(1))
    try:
        kernel.start()
        assert sandbox.forked == forked
        count = 5000
        msg_id = kernel.kc.execute(f"from IPython.display import display\nfor i in range({count}):\n"
                                   "    display({'text/plain': str(i)}, raw=True)")
        while (reply := kernel.kc.get_shell_msg(timeout=60))["parent_header"].get("msg_id") != msg_id:
            pass
        assert reply["content"]["status"] == "ok", reply["content"]
        time.sleep(1)
        shown = []
        while True:
            try:
                msg = kernel.kc.get_iopub_msg(timeout=10)
            except queue.Empty:                 # the cell's last messages were dropped: its idle status too
                break
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "display_data":
                shown.append(int(msg["content"]["data"]["text/plain"]))
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        assert shown == list(range(count)), f"{len(shown)} of {count} displays arrived"
    finally:
        kernel.shutdown()
        remove_tree(work_root)


def test_every_kernel_forked_or_started_draws_the_same_numbers_from_the_global_generators():
    """A notebook that draws from random, numpy or torch without seeding them (a model's initial weights) draws the
    same numbers in every kernel: forked children shared their zygote's torch state (and numpy's was drawn afresh),
    a started kernel's torch seeded itself at random on import, so a grading did not repeat with its --seed."""
    code = ("import json, random, numpy, torch\n"
            "print(json.dumps([random.random(), float(numpy.random.rand()), float(torch.rand(1))]))")
    drawn = []
    for forked in (True, False, True):
        preload = ("numpy", "torch")                  # the lesson's libraries, as the grader gives them
        work_root, sandbox = new_sandbox(Limits(forked_kernels=forked), True, 1, preload)
        kernel = LearnerKernel(sandbox, sandbox.env(1), preload=preload)
        try:
            kernel.start()
            assert sandbox.forked == forked
            drawn.append(run(kernel, code))
        finally:
            kernel.shutdown()
            remove_tree(work_root)
    assert drawn[0] == drawn[1] == drawn[2], drawn
