"""Kernels forked from a process that has imported the lesson's libraries once (docs/forked-kernels.md).

A learner's kernel spends most of its CPU importing ipykernel, numpy, matplotlib and torch (about 2.1 of its 2.5 s
for lessons 01, 03, 05). A *zygote* imports them once per worker, in a sandbox built exactly as a kernel's is
(bubblewrap from an empty root, the same allow-list, /proc masked, no network, a uid of its own), and forks a
kernel for each submission. Before any learner code, the forked child:

- unshares its own mount, network, IPC and UTS namespaces (the zygote made a user namespace of its own, mapped
  by the worker to 1,000 host uids of its own, so it may), with fresh size-capped tmpfs on its home, /tmp and
  /dev/shm: nothing another kernel of the zygote wrote is there, and of the zygote's folders of kernels only its
  own kernel folder is (at the path the grader uses);
- sends its pid to the worker's *stand-in* (the process jupyter_client started as the kernel, in the
  submission's cgroups) and waits until the stand-in has moved it into those cgroups;
- takes a session of its own, drops every capability and takes a uid no other live kernel of the zygote has, its
  rlimits (and a share of the zygote's per-user counts), no new privileges and the sandbox's seccomp filter
  (``sandbox.seccomp_program``), then runs ipykernel in the same process.

The stand-in stays as the kernel's process for jupyter_client (alive, killed, its exit): when it dies the
kernel's socket to it closes and the kernel ends; the kernel's cgroups are killed with the submission's as
before. Used where a kernel would run in bubblewrap as root with cgroups (``available``) and
``GradingLimits.forked_kernels`` is on; elsewhere, or when a zygote cannot start, kernels start as before
(``Sandbox.kernel_argv``). Every socket here is ``SOCK_SEQPACKET``: one message per packet.

Three programs: ``python -m autograde.forked zygote FD SPAWN`` (in the sandbox), ``... standin SOCKET
CONNECTION REQUEST`` (on the host, as the kernel's process), and the worker's side, :class:`Zygote`.
"""
from __future__ import annotations

import ctypes
import json
import os
import re
import secrets
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

START_SECONDS = 120          # the zygote's imports on a busy machine
HANDSHAKE_SECONDS = 60       # a forked kernel's set-up until it is in its cgroups
UIDS = 1000                  # host uids of one zygote: 0 is the zygote's own, 1-999 its kernels'
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWNET = (0x20000, 0x4000000, 0x8000000, 0x10000000,
                                                                         0x40000000)
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 2, 4, 8, 4096, 8192, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_SECCOMP, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 4, 22, 24, 38
SECCOMP_MODE_FILTER = 2
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 1
CREDENTIALS = struct.Struct("3i")
# Limits the kernel counts per user both for a kernel's uid and for the user that made the zygote's user namespace
# (all its kernels together, up to the zygote's own limit): each kernel gets 1/KERNELS_SHARING of the zygote's. A
# worker has one or two live kernels (its current one and a warm one); threads of a Dask worker share its zygotes.
SHARED_RLIMITS = ("RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE")
KERNELS_SHARING = 8


# --- inside the sandbox: the zygote and its children ---------------------------------------------------

def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    return libc


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(libc, source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(), flags,
                      data and data.encode()), f"mount {target}")


def _mounts_under(root: str) -> list[str]:
    """The outermost mount points strictly under ``root``, in mount order (parents before children)."""
    points = []
    with open("/proc/self/mountinfo", "rb") as info:
        for line in info:
            # the kernel writes a path's space, tab, newline and backslash as octal escapes; any other byte as is
            field = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m[1], 8)]), line.split()[4])
            point = os.fsdecode(field)
            if point.startswith(root.rstrip("/") + "/"):
                points.append(point)
    return [p for p in points if not any(q != p and p.startswith(q + "/") for q in points)]


def _send_credentials(sock: socket.socket, payload: bytes) -> None:
    sock.sendmsg([payload], [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS,
                              CREDENTIALS.pack(os.getpid(), os.getuid(), os.getgid()))])


def _receive_pid(sock: socket.socket, timeout: float) -> tuple[bytes, int]:
    """A message and the sender's pid as this process's pid namespace sees it (0: not known)."""
    sock.settimeout(timeout)
    data, ancillary, _, _ = sock.recvmsg(256, socket.CMSG_SPACE(CREDENTIALS.size))
    for level, kind, value in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS and len(value) >= CREDENTIALS.size:
            return data, CREDENTIALS.unpack(value[:CREDENTIALS.size])[0]
    return data, 0


def _loopback_up() -> None:
    """The new network namespace's loopback up, as bubblewrap's --unshare-net leaves it (127.0.0.1 works)."""
    import fcntl

    ifreq = struct.Struct("16sh14x")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        flags = ifreq.unpack(fcntl.ioctl(sock, SIOCGIFFLAGS, ifreq.pack(b"lo", 0)))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, ifreq.pack(b"lo", flags | IFF_UP))


def _cover(libc, root: str, keep: list[str], home: str, options: str) -> None:
    """A fresh tmpfs on ``root`` (still uid 0 of the zygote's user namespace), with the mounts ``keep`` (at or under
    ``root``) set aside in ``home`` first, then put back at their own paths on it."""
    hold = os.path.join(home, ".hold")
    os.mkdir(hold, 0o700)
    for i, point in enumerate(keep):
        os.mkdir(f"{hold}/{i}")
        _mount(libc, point, f"{hold}/{i}", None, MS_BIND | MS_REC)
    _mount(libc, "tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, options)
    for i, point in enumerate(keep):
        os.makedirs(point, mode=0o755, exist_ok=True)
        _mount(libc, f"{hold}/{i}", point, None, MS_MOVE)
        os.rmdir(f"{hold}/{i}")
    os.rmdir(hold)


def _isolate(libc, request: dict, spawn: str) -> None:
    """The child's own namespaces and writable folders (still uid 0 of the zygote's user namespace)."""
    _check(libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS), "unshare")
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
    _loopback_up()
    home, size = request["home"], int(request["disk_bytes"])
    kernel_dir = request["kernel_dir"]
    _mount(libc, "tmpfs", home, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=0755")
    # Everything bound under /tmp (the project, the interpreter, the matplotlib seed may live there) except the
    # zygote's folder of kernels, and this kernel's own folder, set aside, then put back on a fresh /tmp.
    keep = [p for p in _mounts_under("/tmp") if p != spawn and not p.startswith(spawn + "/")] + [kernel_dir]
    _cover(libc, "/tmp", keep, home, f"size={size},mode=1777")
    if not spawn.startswith("/tmp/"):
        # A TMPDIR outside /tmp (sandbox.work_base): the zygote's folder of kernels is bound at its own path there,
        # not under the fresh /tmp, with the zygote's own folder and every other kernel's in it (a hostile trial
        # saw the zygote's folder and seccomp program, and the mount of its folder of sockets). Covered too, with
        # this kernel's folder put back: the way to it and nothing else, as under /tmp.
        _cover(libc, spawn, [kernel_dir], home, "size=64k,mode=0755")
    _mount(libc, "tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=1777")
    # Pseudo-terminals of its own, as bubblewrap's --dev gives each sandbox (/dev/ptmx links to pts/ptmx): the
    # zygote's devpts was every kernel's, and a kernel opened a pty another had made world-writable.
    _mount(libc, "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620")
    seed = request.get("seed")
    if seed and os.path.isdir(seed):
        import shutil

        shutil.copytree(seed, os.path.join(home, ".matplotlib"), dirs_exist_ok=True)
    uid = int(request["uid"])
    for root, folders, files in os.walk(home):
        for name in folders + files:
            os.lchown(os.path.join(root, name), uid, uid)
    os.chown(home, uid, uid)
    os.chdir(home)


def _confine(libc, request: dict, program: bytes) -> None:
    """No capability, a uid of its own, rlimits, no new privileges, the seccomp filter: from here on, as a
    kernel started by bubblewrap is."""
    import resource

    # A session of its own, as bubblewrap's --new-session gives a kernel it starts. The zygote's session was every
    # kernel's: its scheduling group (the kernel's autogroup, /proc/self/autogroup, which its owner may set to nice
    # 19) is the zygote's own, and a hostile trial lowered the zygote's share of the CPU so for the rest of the run,
    # that of every classmate's kernel it forked after, before it is in its cgroups.
    os.setsid()
    for cap in range(64):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    uid = int(request["uid"])
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)               # from uid 0 to another: every capability goes
    # The change of uid made the process non-dumpable, so its /proc/self belongs to root (it could not even name
    # itself in /proc/self/comm). A process that bubblewrap starts is dumpable again after its exec: so is this.
    _check(libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "dumpable")
    for name, value in request["rlimits"].items():          # Sandbox.rlimits(): what prlimit sets for other kernels
        limit = getattr(resource, f"RLIMIT_{name.upper()}")
        resource.setrlimit(limit, (int(value), int(value)))
    # What the kernel (a uid of the zygote's user namespace) may hold of what the kernel counts per user, counted
    # again for the zygote's own user on the host for all its kernels together, up to the zygote's limit: each
    # kernel gets a share of it, so that none can use up what its classmates' kernels forked by this zygote need
    # (a hostile trial queued 96,369 signals to itself: a classmate's kernel could queue none, nor make a timer).
    for name in SHARED_RLIMITS:
        limit = getattr(resource, name)
        soft, _ = resource.getrlimit(limit)          # the zygote's: the limit of them all together
        if soft != resource.RLIM_INFINITY:            # (none: nothing to use up)
            resource.setrlimit(limit, (soft // KERNELS_SHARING, soft // KERNELS_SHARING))
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no new privileges")

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = Program(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    _check(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0), "seccomp")


def _child(libc, request: dict, link: socket.socket, spawn: str, program: bytes) -> None:
    """A forked kernel: isolated, in its cgroups, confined, then ipykernel (never returns)."""
    code = 1
    try:
        _isolate(libc, request, spawn)
        _send_credentials(link, b"pid")
        link.settimeout(HANDSHAKE_SECONDS)
        if link.recv(16) != b"go":
            os._exit(1)
        _confine(libc, request, program)
        os.environ.update(request["env"])
        os.environ.pop("JPY_PARENT_PID", None)
        link.settimeout(None)

        def watch() -> None:                  # the stand-in gone (killed, or the kernel shut down): end
            try:
                while link.recv(16):
                    pass
            except OSError:
                pass
            os._exit(0)

        threading.Thread(target=watch, name="autograde-standin", daemon=True).start()
        from autograde import kernel_app

        sys.argv = [kernel_app.__file__, "-f", request["connection_file"]]    # as `python -m` would have it
        kernel_app.launch(["-f", request["connection_file"]])
        code = 0
    except BaseException:  # noqa: BLE001 - the stand-in sees the kernel end and the grader reports it
        import traceback

        traceback.print_exc()                 # the zygote's standard error (nowhere, unless debugging)
        code = 1
    finally:
        os._exit(code)


def zygote_main(control_fd: int, spawn: str) -> None:
    """The zygote: handshake with the worker, imports, then a kernel per request until the worker goes."""
    libc = _libc()
    # As ipykernel_launcher does: not the folder it was started in (-m put it first on sys.path; here the
    # zygote's home, which is each kernel's writable home, where a learner's file would shadow the standard
    # library for the shim and the lesson's probes, as it would not in a kernel started the usual way).
    if sys.path and (sys.path[0] == "" or Path(sys.path[0]) == Path.cwd()):
        del sys.path[0]
    control = socket.socket(fileno=control_fd)
    _send_credentials(control, b"pid")
    if control.recv(16) != b"unshare":
        return
    _check(libc.unshare(CLONE_NEWUSER), "unshare user namespace")
    control.sendall(b"unshared")
    if control.recv(16) != b"mapped":
        return
    request = json.loads(control.recv(65536))
    for module in request["preload"]:     # torch._dynamo too for lessons with an optimizer (runner.lesson_preload)
        __import__(module)
    import ipykernel.kernelapp  # noqa: F401 - what every kernel imports
    # and what its start imports (IPythonKernel's debugger class, with debugpy: 0.25 of the 0.3 s of CPU a forked
    # kernel's start took)
    import ipykernel.debugger  # noqa: F401
    import autograde.kernel_app  # noqa: F401
    import gc

    # What the zygote imported lives as long as each kernel: out of the collector's way (as the judge's imports
    # are), so that a kernel's full collections (Python's own, a probe's gc.collect()) walk only what the notebook
    # made, and leave the pages it shares with the zygote unwritten.
    gc.collect()
    gc.freeze()
    with open(request["seccomp"], "rb") as f:
        program = f.read()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(request["socket"])
    listener.listen(8)
    control.sendall(b"ready")
    children: dict[int, int] = {}
    while True:
        try:
            ready, _, _ = select.select([listener, control], [], [], 1.0)
        except InterruptedError:
            ready = []
        while children:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            children.pop(pid, None)
        if control in ready and not control.recv(16):
            return                            # the worker is gone
        if listener not in ready:
            continue
        conn, _ = listener.accept()
        with conn:
            # Only the worker's stand-ins, which live outside this pid namespace (their pid reads as 0 here); a
            # process of a kernel (inside it) never gets one.
            pid, _, _ = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
            if pid != 0:
                continue
            conn.settimeout(10)
            try:
                data, ancillary, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(4))
                fds = [fd for level, kind, value in ancillary
                       if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS
                       for fd in struct.unpack(f"{len(value) // 4}i", value[:len(value) - len(value) % 4])]
                spec = json.loads(data)
            except (OSError, ValueError):
                continue
            if len(fds) != 1:
                for fd in fds:
                    os.close(fd)
                continue
            link = socket.socket(fileno=fds[0])
            child = os.fork()
            if child == 0:
                keep = link.fileno()
                os.closerange(3, keep)
                os.closerange(keep + 1, 65536)
                _child(libc, spec, link, spawn, program)
            children[child] = spec["uid"]
            link.close()


# --- on the host: the stand-in --------------------------------------------------------------------------

def standin_main(socket_path: str, connection_file: str, request: str) -> int:
    """Ask the zygote for a kernel, put it into this process's cgroups, then stand for it until it ends."""
    libc = _libc()
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)      # with the worker's thread that started it
    spec = json.loads(request)
    spec["connection_file"] = connection_file
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    mine.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as zygote:
        zygote.settimeout(HANDSHAKE_SECONDS)
        zygote.connect(socket_path)
        zygote.sendmsg([json.dumps(spec).encode()],
                       [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", theirs.fileno()))])
    theirs.close()
    try:
        message, pid = _receive_pid(mine, HANDSHAKE_SECONDS)
    except OSError:
        return 3
    if message != b"pid" or pid <= 0:
        return 3
    # The kernel's process by a descriptor, not by its number: it waits for "go", so the pid is still its own
    # here; once it has ended, its number may name any process of the host (pid_max is 32,768 on some machines),
    # and this process is root.
    try:
        kernel = os.pidfd_open(pid)
    except OSError:
        return 3
    for procs in spec["procs"]:
        with open(procs, "w", encoding="ascii") as f:
            f.write(str(pid))
    mine.sendall(b"go")

    def forward(signum, frame) -> None:   # noqa: ARG001
        try:
            signal.pidfd_send_signal(kernel, signum)
        except OSError:
            pass

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT):
        signal.signal(signum, forward)
    return _stand(mine, kernel)


def _stand(link: socket.socket, kernel: int) -> int:
    """Stand for the kernel's process until it ends (its pidfd readable), whatever becomes of the link: a child
    of the kernel may hold the link open after the kernel itself has ended. The link closed (the kernel closed
    it, or sent an empty packet, which reads the same) ends the kernel with it. Anything else the kernel sends
    is read and dropped (ancillary data too: recv takes no descriptors or credentials)."""
    poller = select.poll()
    poller.register(kernel, select.POLLIN)
    poller.register(link.fileno(), select.POLLIN)
    link.setblocking(False)
    while True:
        try:
            events = dict(poller.poll())
        except InterruptedError:
            continue
        if kernel in events:
            return 0
        if link.fileno() in events:
            try:
                data = link.recv(16)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                try:
                    signal.pidfd_send_signal(kernel, signal.SIGKILL)
                except OSError:
                    pass
                return 0


# --- the worker's side ----------------------------------------------------------------------------------

def available(isolate: bool) -> bool:
    """Forked kernels here? Only where a kernel would run in bubblewrap as root with cgroups, and the kernel lets
    a process make a user namespace."""
    from .sandbox import bubblewrap_works, cgroup_version

    if not isolate or os.geteuid() != 0:
        return False
    try:
        if int(Path("/proc/sys/user/max_user_namespaces").read_text()) < 2:
            return False
        debian = Path("/proc/sys/kernel/unprivileged_userns_clone")     # Debian's switch (the zygote is no root)
        if debian.exists() and debian.read_text().strip() != "1":
            return False
    except (OSError, ValueError):
        return False
    return cgroup_version() is not None and bubblewrap_works()


class ZygoteFailed(RuntimeError):
    """The zygote could not be started (the grading machine's fault: kernels start as before)."""


class Zygote:
    """One zygote of this worker process: its sandbox, its folder of kernels, the uids of its live kernels."""

    def __init__(self, limits, threads: int, preload: tuple[str, ...]):
        from .sandbox import UID_BASE, UID_SPAN, Sandbox, new_work_root, seccomp_program

        self.preload = tuple(preload)
        self.spawn = new_work_root()                      # named for this process: swept if it dies
        os.chmod(self.spawn, 0o711)                       # the zygote's uid reaches each kernel's folder
        self.uid_base = UID_BASE + UIDS * secrets.randbelow(UID_SPAN // UIDS)
        self.threads = threads
        self.handed = 0
        self.taken: dict[int, int] = {}                  # kernel uid -> the sandbox (id) that holds it
        self.lock = threading.Lock()
        self.sandbox = Sandbox(self.spawn / "zygote", limits)
        self.sandbox.uid = self.uid_base
        os.chmod(self.sandbox.work, 0o711)
        os.chown(self.sandbox.kernel_dir, self.uid_base, self.uid_base)
        os.chmod(self.sandbox.kernel_dir, 0o700)
        self.socket = str(self.sandbox.kernel_dir / "zygote.sock")
        (self.spawn / "seccomp.bpf").write_bytes(seccomp_program())
        os.chmod(self.spawn / "seccomp.bpf", 0o644)
        self.env = self.sandbox.env(threads)
        self.proc: subprocess.Popen | None = None
        self.pidfd: int | None = None                    # the zygote's own process (not bubblewrap's)
        self.control: socket.socket | None = None
        self.error: BaseException | None = None
        started = threading.Event()
        # The zygote's sandbox dies with the thread that started it (bubblewrap's --die-with-parent): a thread
        # that lives as long as this process.
        threading.Thread(target=self._run, args=(started,), name="autograde-zygote", daemon=True).start()
        started.wait()
        if self.error is not None:
            self.close()
            raise ZygoteFailed(f"the zygote did not start: {self.error}")

    def _run(self, started: threading.Event) -> None:
        try:
            self._start()
        except BaseException as err:  # noqa: BLE001 - reported by __init__
            self.error = err
            started.set()
            return
        started.set()
        threading.Event().wait()                          # never ends: the sandbox lives with this thread

    def _start(self) -> None:
        from .sandbox import _matplotlib_seed, seed_home

        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        mine.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        seed = _matplotlib_seed()
        argv = self.sandbox._bwrap(seed)
        argv += ["--bind", str(self.spawn), str(self.spawn)]
        self._write_passwd()
        start = seed_home(seed)
        # /proc shows each process only to its own uid (hidepid=invisible on the sandbox's proc, done while bubblewrap
        # still leaves the root it runs as its capabilities): a kernel sees no other kernel of this zygote, nor the
        # zygote, at all (a hostile trial read a classmate's status, CPU times, mounts and socket list there). Where
        # it cannot be done, the zygote does not start and kernels start as before, each in a sandbox of its own.
        hide = ["sh", "-c", 'mount -o remount,hidepid=invisible /proc && exec "$@"', "hide"]
        inner = hide + ["setpriv", f"--reuid={self.uid_base}", f"--regid={self.uid_base}", "--clear-groups",
                        "--inh-caps=-all", "--bounding-set=-all", "--"] + start + [
                        sys.executable, "-m", "autograde.forked", "zygote", str(theirs.fileno()), str(self.spawn)]
        self.proc = subprocess.Popen(argv + ["--"] + inner, env=self.env, pass_fds=(theirs.fileno(),),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, cwd=str(self.spawn))
        theirs.close()
        self.control = mine
        message, pid = _receive_pid(mine, START_SECONDS)
        if message != b"pid" or pid <= 0:
            raise ZygoteFailed("no pid from the zygote")
        self.pidfd = os.pidfd_open(pid)                   # it waits for "unshare": the pid is still its own
        mine.sendall(b"unshare")
        mine.settimeout(START_SECONDS)
        if mine.recv(16) != b"unshared":
            raise ZygoteFailed("the zygote could not make its user namespace")
        for name in ("uid_map", "gid_map"):
            with open(f"/proc/{pid}/{name}", "w", encoding="ascii") as f:
                f.write(f"0 {self.uid_base} {UIDS}\n")
        mine.sendall(b"mapped")
        mine.sendall(json.dumps({"preload": list(self.preload), "socket": self.socket,
                                 "seccomp": str(self.spawn / "seccomp.bpf")}).encode())
        if mine.recv(16) != b"ready":
            raise ZygoteFailed("the zygote did not get ready")
        mine.settimeout(None)

    def _write_passwd(self) -> None:
        """Inside the zygote's user namespace every kernel uid is the learner (the host's are uid_base + k)."""
        from .sandbox import HOME

        lines = ["root:x:0:0:root:/root:/usr/sbin/nologin"]
        lines += [f"learner:x:{k}:{k}::{HOME}:/usr/sbin/nologin" for k in range(1, UIDS)]
        self.sandbox._passwd().write_text("\n".join(lines) + "\n")
        groups = ["root:x:0:"] + [f"learner:x:{k}:" for k in range(1, UIDS)]
        self.sandbox._group().write_text("\n".join(groups) + "\n")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and not self.ended()

    def ended(self) -> bool:
        """Has the zygote's own process ended? Its kernels end with it (its sandbox's pid namespace goes): a kernel
        that died then died of the grading machine's fault (the machine's out-of-memory killer may take the
        zygote, which is in no submission's cgroup), never of the learner's. Seen at once, before bubblewrap
        itself has gone."""
        if self.pidfd is None:
            return self.proc is not None and self.proc.poll() is not None
        try:
            return bool(select.select([self.pidfd], [], [], 0)[0])
        except (OSError, ValueError):
            return True

    def next_uid(self, owner: int) -> int:
        """A kernel's uid inside the zygote's user namespace, 1 to 999 in turn, never one a sandbox still holds
        (``owner``: the sandbox, by id, until :meth:`release`): one worker has at most two live kernels, but a
        uid's uniqueness does not rest on that (two kernels of one uid may signal each other and change each
        other's rlimits)."""
        with self.lock:
            for _ in range(UIDS - 1):
                self.handed += 1
                uid = 1 + (self.handed - 1) % (UIDS - 1)
                if uid not in self.taken:
                    self.taken[uid] = owner
                    return uid
        raise ZygoteFailed("every kernel uid of the zygote is held")

    def claim(self, uid: int, owner: int) -> None:
        """``owner`` holds ``uid`` again (a sandbox whose kernel is started again after :meth:`release`)."""
        with self.lock:
            self.taken.setdefault(uid, owner)

    def release(self, owner: int) -> None:
        with self.lock:
            for uid in [u for u, o in self.taken.items() if o == owner]:
                del self.taken[uid]

    def new_work_root(self) -> Path:
        """A kernel's host folder, inside the folder the zygote sees (the kernel itself sees only its own)."""
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="k-", dir=self.spawn))
        os.chmod(folder, 0o711)
        return folder

    def close(self) -> None:
        from .sandbox import remove_tree

        if self.control is not None:
            try:
                self.control.close()
            except OSError:
                pass
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if self.pidfd is not None:
            try:
                os.close(self.pidfd)
            except OSError:
                pass
            self.pidfd = None
        remove_tree(self.spawn)


MAX_ZYGOTES = 2
RETRY_SECONDS = 300.0
_failed_until: dict[tuple, float] = {}
_zygotes: dict[tuple, Zygote] = {}
_zygotes_lock = threading.Lock()


def zygote_for(limits, threads: int, preload: tuple[str, ...]) -> Zygote | None:
    """This worker's zygote for kernels with these threads and preloads, started if need be; None where forked
    kernels are not available or the zygote cannot start (kernels then start as before)."""
    if not available(True):
        return None
    key = (threads, tuple(preload))
    with _zygotes_lock:
        zygote = _zygotes.pop(key, None)
        if zygote is not None and not zygote.alive():
            zygote.close()
            zygote = None
        if zygote is None:
            idle = [k for k, z in _zygotes.items() if not z.taken]    # never one a sandbox still holds
            while len(_zygotes) >= MAX_ZYGOTES and idle:   # the one used longest ago goes (about 0.4 GiB each)
                _zygotes.pop(idle.pop(0)).close()
            if time.monotonic() < _failed_until.get(key, 0.0):
                return None
            try:
                zygote = Zygote(limits, threads, preload)
            except (ZygoteFailed, OSError):
                # Kernels start as before; tried again later, not for every kernel (a machine whose policy
                # refuses user namespaces to a sandboxed process refuses them every time).
                _failed_until[key] = time.monotonic() + RETRY_SECONDS
                return None
        _zygotes[key] = zygote                           # the most recently used last
        return zygote


def close_zygotes() -> None:
    with _zygotes_lock:
        zygotes = list(_zygotes.values())
        _zygotes.clear()
    for zygote in zygotes:
        zygote.close()


def main(argv: list[str]) -> int:
    if argv[:1] == ["zygote"] and len(argv) == 3:
        zygote_main(int(argv[1]), argv[2])
        return 0
    if argv[:1] == ["standin"] and len(argv) == 4:
        return standin_main(argv[1], argv[2], argv[3])
    print("usage: python -m autograde.forked zygote FD SPAWN | standin SOCKET CONNECTION REQUEST", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
