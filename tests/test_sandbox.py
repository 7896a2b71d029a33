"""What a learner's kernel can see and do: the allow-list sandbox, looked at from inside.

Each test starts a real bubblewrap sandbox (the same command the grader starts kernels with) and runs a small
program in it. The listing of everything visible inside is written to test-artifacts/sandbox-view.txt.
"""
from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from autograde.lessons import ROOT
from autograde.sandbox import (HOME, Cgroups, Limits, Sandbox, allow_list, bubblewrap_works, cgroup_version,
                               python_folders, sweep_stale)

pytestmark = pytest.mark.skipif(not bubblewrap_works() and not os.environ.get("CI"),
                                reason="bubblewrap is not installed (.ci/run installs it)")
ARTIFACTS = ROOT / "test-artifacts"


def run_inside(sandbox: Sandbox, code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    argv = sandbox.wrap([sys.executable, "-c", textwrap.dedent(code)])
    try:
        return subprocess.run(argv, capture_output=True, text=True, env=sandbox.env(1), timeout=timeout)
    finally:
        sandbox.close()


WALK = """
import os, json
skip = {"/proc", "/dev", "/usr"} | set(json.loads(os.environ["SKIP"]))
seen = []
for top, dirs, files in os.walk("/", followlinks=False):
    dirs[:] = [d for d in dirs if os.path.join(top, d) not in skip]
    seen += [os.path.join(top, name) for name in dirs + files]
print(json.dumps(seen))
"""


@pytest.fixture
def decoys(tmp_path):
    """Things of other people on this machine: another copy of the course, a private file, a graded batch."""
    tag = secrets.token_hex(4)
    made = [Path(f"/root/cnnbook-decoy-{tag}"), Path(f"/var/tmp/cnnbook-decoy-{tag}"), tmp_path / "other-course"]
    for folder in made:
        try:
            (folder / "solutions" / "01_history").mkdir(parents=True)
        except OSError:
            continue
        (folder / "solutions" / "01_history" / "01_history.ipynb").write_text("{}")
        (folder / "private.txt").write_text("secret")
        os.chmod(folder / "private.txt", 0o600)
        os.chmod(folder, 0o700)
    yield tag
    for folder in made:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_sandbox_shows_exactly_the_allow_list(tmp_path, decoys):
    sandbox = Sandbox(tmp_path / "work", Limits())
    skip = [str(p) for p in python_folders()]
    argv = sandbox.wrap([sys.executable, "-c", WALK])
    env = {**sandbox.env(1), "SKIP": json.dumps(skip)}
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    finally:
        sandbox.close()
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "sandbox-view.txt").write_text(
        "Everything a learner's kernel sees (the python folders, /usr, /proc and /dev not expanded):\n"
        + "\n".join(["/usr", "/proc", "/dev", *skip, *sorted(seen)]) + "\n")
    top = {p for p in seen if p.count("/") == 1}
    # the system's own folders, and the top folder of wherever the course and its venv live (/work here, /check in CI)
    course_tops = {"/" + Path(a).parts[1] for a in allow_list() if len(Path(a).parts) > 1}
    assert top <= {"/bin", "/lib", "/lib64", "/lib32", "/libx32", "/sbin", "/etc", "/home", "/root", "/tmp"} | course_tops
    assert top.isdisjoint({"/var", "/opt", "/srv", "/mnt", "/media", "/boot", "/run", "/sys"})
    for path in seen:
        allowed = any(Path(path).is_relative_to(a) or a.is_relative_to(path) for a in allow_list())
        mine = any(Path(path).is_relative_to(p) or p.is_relative_to(path)
                   for p in (HOME, Path("/tmp"), Path("/etc/passwd"), Path("/etc/group"), sandbox.kernel_dir))
        usr_link = path in {"/bin", "/lib", "/lib64", "/lib32", "/libx32", "/sbin"}
        assert allowed or mine or usr_link, f"{path} is visible in the sandbox but not on the allow-list"
        assert decoys not in path and "solutions" not in path and "gradebook" not in path and "/.git" not in path
    assert not any(p.startswith(str(ROOT / "tests")) or p.startswith(str(ROOT / "notebooks")) for p in seen)


def test_facts_of_the_machine_in_proc_are_hidden_and_what_libraries_read_is_not(tmp_path):
    """A hostile trial read the host kernel's build options (/proc/config.gz), the keyrings' users, kernel symbols and
    the machine-wide pressure stall figures (a covert channel between sandboxes) from a learner's kernel, and later,
    what a list of those left open: every lock of the pid namespace (/proc/locks), every submission's cgroups, the
    host's boot command line. Of the machine's entries at the top of /proc only an allow-list is there
    (PROC_VISIBLE); every other is an empty mount. What numpy, torch and multiprocessing read stays, and so does the
    process's own /proc."""
    from autograde.sandbox import PROC_VISIBLE

    present = [f"/proc/{n}" for n in sorted(os.listdir("/proc")) if not n.isdigit() and n not in PROC_VISIBLE
               and not os.path.islink(f"/proc/{n}")]
    assert {"/proc/locks", "/proc/cgroups"} <= set(present), present                # something to hide here
    proc = run_inside(Sandbox(tmp_path / "work", Limits()), f"""
        import json, os
        shown = {{}}
        for path in {present!r}:
            try:
                shown[path] = sorted(os.listdir(path)) if os.path.isdir(path) else open(path, "rb").read(64).decode("latin-1")
            except OSError:
                shown[path] = ""
        kept = {{p: len(open(p).read()) for p in ("/proc/cpuinfo", "/proc/meminfo", "/proc/stat", "/proc/self/status",
                                                 "/proc/self/maps", "/proc/loadavg")}}
        import numpy, torch
        torch.set_num_threads(2)
        print(json.dumps([shown, kept, float(torch.ones(3).sum()), int(numpy.ones(2).sum())]))
    """)
    assert proc.returncode == 0, proc.stderr
    shown, kept, total, count = json.loads(proc.stdout)
    assert shown == {path: ([] if os.path.isdir(path) else "") for path in present}, shown
    assert all(size > 0 for size in kept.values()) and (total, count) == (3.0, 2), kept


def test_the_kernel_is_nobody_we_know_and_holds_no_capability(tmp_path):
    proc = run_inside(Sandbox(tmp_path / "work", Limits()), """
        import os
        status = dict(line.split(":", 1) for line in open("/proc/self/status"))
        print(os.getuid(), os.getgid(), status["CapEff"].strip(), status["NoNewPrivs"].strip())
        for path in ("/etc/shadow", "/root/.bashrc", "/home"):
            print(path, os.path.exists(path))
    """)
    uid, gid, caps, no_new_privs, *paths = proc.stdout.split("\n")[0].split() + proc.stdout.split("\n")[1:]
    assert int(uid) not in (0, os.getuid()) and int(gid) != 0
    assert int(caps, 16) == 0 and no_new_privs == "1"
    assert "/etc/shadow False" in proc.stdout and "/root/.bashrc False" in proc.stdout


def test_the_kernel_can_make_no_namespace_mount_or_keyring_but_threads_and_processes_work(tmp_path):
    """The seccomp filter (an allow-list, autograde.sandbox.ALLOWED_SYSCALLS; DENIED_SYSCALLS by name): learner code that tries `unshare -Ur` (a root with
    every capability in a user namespace of its own, then netfilter and mounts), a raw clone with namespace flags,
    mount, ptrace, keyctl, bpf, io_uring, the LDT, a personality without address randomisation, secret memory,
    I/O ports or moving pages gets EPERM; threads, fork, subprocesses and torch work as before."""
    proc = run_inside(Sandbox(tmp_path / "work", Limits()), """
        import ctypes, errno, os, subprocess, threading
        libc = ctypes.CDLL(None, use_errno=True)
        def call(name, result):
            print(name, result, errno.errorcode.get(ctypes.get_errno()) if result == -1 else "-")
        for flag in (0x10000000, 0x40000000, 0x00020000, 0x20000000, 0x08000000):    # NEWUSER NEWNET NEWNS NEWPID NEWIPC
            call(f"unshare-{flag:#x}", libc.unshare(flag))
        call("clone-newuser", libc.syscall(56, 0x10000000 | 17, 0, 0, 0, 0))         # SIGCHLD | CLONE_NEWUSER
        call("mount", libc.mount(b"none", b"/tmp", b"tmpfs", 0, None))
        call("ptrace", libc.ptrace(16, 1, 0, 0))                                       # PTRACE_ATTACH to pid 1
        call("keyctl", libc.syscall(250, 0, 0, 0, 0, 0))
        call("bpf", libc.syscall(321, 0, 0, 0))
        call("io_uring_setup", libc.syscall(425, 1, 0))
        call("modify_ldt", libc.syscall(154, 0, 0, 0))
        call("personality-no-aslr", libc.personality(0x0040000))                      # ADDR_NO_RANDOMIZE
        call("memfd_secret", libc.syscall(447, 0))
        call("iopl", libc.syscall(172, 3))
        call("move_pages", libc.syscall(279, 0, 0, 0, 0, 0, 0))
        shell = subprocess.run("unshare -Ur id; echo exit=$?", shell=True, capture_output=True, text=True)
        print("unshare-command", shell.stdout.split()[-1])
        seen = []
        thread = threading.Thread(target=seen.append, args=("thread",))
        thread.start(); thread.join()
        pid = os.fork()
        if pid == 0:
            os._exit(7)
        print("works", seen[0], os.waitpid(pid, 0)[1] >> 8, subprocess.run(["echo", "child"], capture_output=True,
              text=True).stdout.strip())
        import torch
        torch.set_num_threads(2)
        print("torch", int(torch.ones(64, 64).matmul(torch.ones(64, 64)).sum()))
        print("seccomp", [line.split()[1] for line in open("/proc/self/status") if line.startswith("Seccomp:")][0])
        import multiprocessing, socket
        with multiprocessing.Pool(2) as pool:                  # semaphores in the sandbox's own /dev/shm
            print("pool", pool.map(abs, [-1, -2]))
        for family, kind in ((40, socket.SOCK_STREAM), (17, socket.SOCK_RAW), (38, socket.SOCK_SEQPACKET),
                             (31, socket.SOCK_STREAM)):       # vsock (past the network namespace), packet, alg, bluetooth
            try:
                socket.socket(family, kind)
                print(f"family-{family} opened")
            except OSError as err:
                print(f"family-{family}", errno.errorcode.get(err.errno))
        for family, kind in ((socket.AF_UNIX, socket.SOCK_STREAM), (socket.AF_INET, socket.SOCK_DGRAM),
                             (socket.AF_INET6, socket.SOCK_DGRAM)):     # IP: datagrams only (no TCP: see below)
            socket.socket(family, kind).close()
        print("families", "local and IP")
        # The filter is an allow-list: a call it does not name, and any call a later kernel adds, is "not implemented"
        # (inotify, Linux AIO, vmsplice, pidfd_getfd, landlock, mseal, a number past every table).
        folder = os.open("/tmp", os.O_RDONLY)           # directory notifications (dnotify) and leases: refused
        call("fcntl-notify", libc.syscall(72, folder, ctypes.c_ulong(1026), ctypes.c_ulong(0x80000001)))
        call("fcntl-notify-high-bits", libc.syscall(72, folder, ctypes.c_ulong(1026 | 1 << 32), ctypes.c_ulong(1)))
        call("fcntl-lease", libc.syscall(72, folder, ctypes.c_ulong(1024), ctypes.c_ulong(0)))
        call("fcntl-getfl", libc.syscall(72, folder, ctypes.c_ulong(3), ctypes.c_ulong(0)))
        for name, number in (("inotify_init1", 294), ("io_setup", 206), ("vmsplice", 278), ("pidfd_getfd", 438),
                             ("landlock_create_ruleset", 444), ("mseal", 462), ("past-the-table", 1000)):
            call(f"unlisted-{name}", libc.syscall(number, 0, 0, 0, 0))
    """)
    said = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    refused = [name for name in said if name.startswith(("unshare-0x", "clone", "mount", "ptrace", "keyctl", "bpf",
                                                         "io_uring", "modify_ldt", "personality", "memfd_secret",
                                                         "iopl", "move_pages"))]
    assert len(refused) == 16, proc.stdout + proc.stderr
    for name in refused:
        assert said[name] == "-1 EPERM", (name, said[name])
    assert said["unshare-command"] == "exit=1"
    assert said["works"] == "thread 7 child" and said["torch"] == str(64 ** 3) and said["seccomp"] == "2"
    assert said["pool"] == "[1, 2]" and said["families"] == "local and IP", proc.stdout + proc.stderr
    assert [said[f"family-{family}"] for family in (40, 17, 38, 31)] == ["EAFNOSUPPORT"] * 4, proc.stdout
    assert (said["fcntl-notify"], said["fcntl-notify-high-bits"], said["fcntl-lease"]) == (
        "-1 EPERM", "-1 ENOSYS", "-1 EPERM") and not said["fcntl-getfl"].startswith("-1"), proc.stdout
    unlisted = [name for name in said if name.startswith("unlisted-")]
    assert len(unlisted) == 7 and all(said[name] == "-1 ENOSYS" for name in unlisted), proc.stdout


def test_a_kernel_has_no_socket_whose_buffers_are_outside_its_memory_limit(tmp_path):
    """A hostile trial: 20 netlink sockets of a kernel, each with an 8 MiB receive buffer filled by asking for the
    list of its network links 20,000 times and never reading, held 168 MiB of the machine's memory while the
    submission's memory cgroup was charged nothing (netlink's buffers are charged to no cgroup, v1 or v2): 4,096
    descriptors of 128 processes could hold terabytes, and the machine's out-of-memory killer would take the grader or
    a classmate's kernel. Sockets are local and IP only (whose buffers the cgroup counts); socketpair, which makes a
    socket of any family the kernel has (vsock, ...) before it says it cannot pair them, is local only. The C
    library's name lookups do without netlink (it then assumes both IPv4 and IPv6)."""
    proc = run_inside(Sandbox(tmp_path / "work", Limits()), """
        import errno, socket
        said = {}
        for name, make in (("netlink", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)),
                           ("pair-vsock", lambda: socket.socketpair(40, socket.SOCK_STREAM)),
                           ("pair-inet", lambda: socket.socketpair(socket.AF_INET, socket.SOCK_STREAM)),
                           ("pair-netlink", lambda: socket.socketpair(socket.AF_NETLINK, socket.SOCK_RAW))):
            try:
                make()
                said[name] = "made"
            except OSError as err:
                said[name] = errno.errorcode.get(err.errno)
        a, b = socket.socketpair()
        a.sendall(b"pair"); said["pair"] = b.recv(4).decode()
        said["lookup"] = sorted({info[4][0] for info in socket.getaddrinfo("127.0.0.1", 80, type=socket.SOCK_STREAM, flags=socket.AI_ADDRCONFIG)})
        print(said)
    """)
    assert proc.returncode == 0, proc.stderr
    said = eval(proc.stdout)  # noqa: S307 - a dict the test printed
    not_supported = errno.errorcode[errno.EOPNOTSUPP]                       # ENOTSUP: the same number on Linux
    assert [said[name] for name in ("netlink", "pair-netlink")] == [not_supported] * 2, said
    assert [said[name] for name in ("pair-vsock", "pair-inet")] == ["EAFNOSUPPORT"] * 2, said
    assert said["pair"] == "pair" and "127.0.0.1" in said["lookup"], said


def test_a_kernel_can_hold_no_connection_the_memory_cgroup_does_not_count(tmp_path):
    """A hostile trial: 25 loopback TCP listeners that never accept, and 102,425 connections made to them and closed,
    held 514 MB of the machine's memory in 10 s while the submission's memory cgroup was charged 4 MB: a connection
    waiting to be accepted is made by the kernel's network code, charged to no cgroup (v1 or v2), and 4,096
    listeners a process could hold the machine's whole memory. IP sockets are datagrams only (UDP, whose buffers the
    cgroup counts); a TCP socket is refused (EPERM). Local stream sockets, whose connections are charged to the
    process that makes them, work as before."""
    proc = run_inside(Sandbox(tmp_path / "work", Limits()), """
        import errno, socket
        said = {}
        for name, family, kind in (("tcp", socket.AF_INET, socket.SOCK_STREAM), ("tcp6", socket.AF_INET6,
                                   socket.SOCK_STREAM), ("tcp-nonblocking", socket.AF_INET,
                                   socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)):
            try:
                socket.socket(family, kind).close()
                said[name] = "made"
            except OSError as err:
                said[name] = errno.errorcode.get(err.errno)
        receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        receiver.bind(("127.0.0.1", 0))
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC).sendto(b"udp", receiver.getsockname())
        said["udp"] = receiver.recv(3).decode()
        server = socket.socket(socket.AF_UNIX)
        server.bind("\\0local")
        server.listen()
        with socket.socket(socket.AF_UNIX) as client:
            client.connect("\\0local")
            server.accept()[0].sendall(b"unix")
            said["unix"] = client.recv(4).decode()
        print(said)
    """)
    assert proc.returncode == 0, proc.stderr
    said = eval(proc.stdout)  # noqa: S307 - a dict the test printed
    assert [said[name] for name in ("tcp", "tcp6", "tcp-nonblocking")] == ["EPERM"] * 3, said
    assert said["udp"] == "udp" and said["unix"] == "unix", said


@pytest.mark.slow  # starts kernels in sandboxes
def test_two_sandboxes_cannot_see_each_other(tmp_path):
    """A classmate graded at the same time: their files, sockets and processes are not reachable."""
    first = Sandbox(tmp_path / "first", Limits())
    argv = first.wrap(["sh", "-c", "echo classmate > $HOME/answers.txt && echo x > /tmp/classmate && sleep 60"])
    neighbour = subprocess.Popen(argv, env=first.env(1))
    try:
        time.sleep(1.5)
        proc = run_inside(Sandbox(tmp_path / "second", Limits()), f"""
            import os
            found = [os.path.join(top, f) for top, dirs, files in os.walk("/") if not top.startswith(("/proc", "/usr"))
                     for f in files if "classmate" in f or f.startswith("connection-")]
            pids = [p for p in os.listdir("/proc") if p.isdigit()]
            print("found", found, "processes", len(pids), "first's folder", os.path.exists({str(first.work)!r}))
        """)
    finally:
        neighbour.kill()
        neighbour.wait()
        first.close()
    assert "found [] " in proc.stdout, proc.stdout + proc.stderr
    assert int(proc.stdout.split("processes")[1].split()[0]) <= 3          # only its own
    assert "first's folder False" in proc.stdout


def test_each_tmpfs_is_capped(tmp_path):
    limits = Limits(disk_bytes=64 * 2 ** 20)
    proc = run_inside(Sandbox(tmp_path / "work", limits), """
        import os
        for folder in ("/tmp", os.environ["HOME"]):
            written = 0
            try:
                for i in range(40):
                    with open(os.path.join(folder, f"fill{i}"), "wb") as f:
                        f.write(b"x" * (4 * 2 ** 20))
                    written += 4
            except OSError as err:
                print(folder, "stopped at", written, "MiB:", err.strerror)
    """)
    assert "/tmp stopped at" in proc.stdout and "/home/learner stopped at" in proc.stdout, proc.stdout + proc.stderr
    for line in proc.stdout.splitlines():
        assert int(line.split("stopped at")[1].split()[0]) <= 64


@pytest.mark.slow  # starts kernels in sandboxes
@pytest.mark.skipif(cgroup_version() is None, reason="no writable memory cgroup here (README: isolation table)")
def test_memory_is_limited_for_all_processes_together(tmp_path):
    """Three processes of 600 MB each stay under a per-process limit of 1 GiB, not under 1 GiB in total."""
    limits = Limits(memory_bytes=2 ** 30)
    proc = run_inside(Sandbox(tmp_path / "work", limits), """
        import os
        children = []
        for _ in range(3):
            pid = os.fork()
            if pid == 0:
                hoard = b"x" * (600 * 2 ** 20)
                import time; time.sleep(3)
                os._exit(0)
            children.append(pid)
        codes = [os.waitpid(pid, 0)[1] for pid in children]
        print("killed", sum(os.WIFSIGNALED(c) for c in codes), "of", len(codes))
    """, timeout=60)
    assert "killed" in proc.stdout, proc.stdout + proc.stderr
    assert int(proc.stdout.split("killed")[1].split()[0]) >= 1


@pytest.mark.skipif(cgroup_version() is None, reason="no writable memory cgroup here (README: isolation table)")
def test_socket_buffers_are_limited_per_submission(tmp_path):
    """A hostile trial: 300 TCP connections on the sandbox's own loopback (TCP is refused now), written to and never
    read, held 2.2 GiB of the machine's memory while the submission's memory cgroup (v1) was charged 7 MiB, and brought the machine's TCP, one
    count for every network namespace, to its hard limit (net.ipv4.tcp_mem). What a submission's sockets hold is
    limited (sandbox.SOCKET_BYTES; v1 charges them only to a group with a limit of its own, v2 to the memory limit).
    Here the trial stops at SOCKET_BYTES + 64 MiB, whatever the machine's limits."""
    from autograde.sandbox import SOCKET_BYTES

    most = SOCKET_BYTES + 64 * 2 ** 20
    # IP sockets are datagrams only (TCP is refused: test_a_kernel_can_hold_no_connection_...): UDP receivers with
    # 8 MiB buffers, sent to and never read; what each holds is its SO_MEMINFO's first figure (what it has received).
    proc = run_inside(Sandbox(tmp_path / "work", Limits(memory_bytes=2 ** 30)), f"""
        import socket, struct
        held, total, refused = [], 0, 0
        while total < {most} and refused < 20 and len(held) < 1000:
            receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 2 ** 20)
            receiver.bind(("127.0.0.1", 0))
            sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sender.setblocking(False)
            for _ in range(200):
                try:
                    sender.sendto(b"x" * 60000, receiver.getsockname())
                except OSError:
                    break
            held.append((receiver, sender))
            before, total = total, sum(struct.unpack("9I", r.getsockopt(socket.SOL_SOCKET, 55, 36))[0] for r, _ in held)
            refused = refused + 1 if total - before < 2 ** 20 else 0
        print("queued", total, "connections", len(held))
    """, timeout=120)
    assert "queued" in proc.stdout, proc.stdout + proc.stderr
    assert int(proc.stdout.split("queued")[1].split()[0]) < SOCKET_BYTES + 16 * 2 ** 20, proc.stdout


@pytest.mark.skipif(cgroup_version() is None, reason="no writable memory cgroup here (README: isolation table)")
def test_an_out_of_memory_kill_from_above_is_told_from_one_at_the_submissions_own_limit(tmp_path):
    """The same program, 400 MB in one process, killed by the kernel's real out-of-memory killer twice: once by a
    group above the sandbox (as when the machine or the grader's container runs out: the grading machine's
    fault), once at the submission's own limit (the learner's). Only the first is ``killed_from_above``. The
    same at the own limit with the memory in a memfd, outside any process's address space (prlimit's --as does not
    stop it, the group's limit does): on cgroup v1 its failure counters stayed at 0, and the learner's own kill
    was the machine's grader-error on every run (a hostile trial)."""
    hoard = "hoard = b'x' * (400 * 2 ** 20); print('survived')"
    in_memfd = ("import os\nfd = os.memfd_create('hoard')\nchunk = b'x' * (16 * 2 ** 20)\n"
                "for _ in range(25):\n    os.write(fd, chunk)\nprint('survived')")

    def run(limits: Limits, squeeze: int | None, work: str, program: str = hoard) -> tuple[int, bool]:
        sandbox = Sandbox(tmp_path / work, limits, squeeze=squeeze)
        argv = sandbox.wrap([sys.executable, "-c", program])
        assert sandbox.cgroups is not None
        groups = sandbox.cgroups.folders + sandbox.cgroups.outer
        assert len(sandbox.cgroups.outer) == (squeeze is not None)
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, env=sandbox.env(1), timeout=60)
            return proc.returncode, sandbox.cgroups.killed_from_above()
        finally:
            sandbox.close()
            assert not [group for group in groups if group.exists()]        # the squeezing group goes too

    from_above = run(Limits(memory_bytes=2 ** 30), 200 * 2 ** 20, "above")
    own = run(Limits(memory_bytes=200 * 2 ** 20), None, "own")
    enough = run(Limits(memory_bytes=2 ** 30), None, "enough")
    own_memfd = run(Limits(memory_bytes=200 * 2 ** 20), None, "own-memfd", in_memfd)
    above_memfd = run(Limits(memory_bytes=2 ** 30), 200 * 2 ** 20, "above-memfd", in_memfd)
    assert from_above[0] != 0 and own[0] != 0 and enough[0] == 0, (from_above, own, enough)
    assert own_memfd[0] != 0 and above_memfd[0] != 0, (own_memfd, above_memfd)
    assert (from_above[1], own[1], enough[1], own_memfd[1], above_memfd[1]) == (True, False, False, False, True)


@pytest.mark.skipif(os.geteuid() != 0, reason="the kernel folder is locked only when the grader runs as root")
def test_a_running_kernel_cannot_write_to_the_host(tmp_path):
    from autograde.kernel import LearnerKernel

    sandbox = Sandbox(tmp_path / "work", Limits())
    kernel = LearnerKernel(sandbox, sandbox.env(1))
    kernel.start()
    try:
        run = kernel.execute(f"open({str(sandbox.kernel_dir / 'dump.bin')!r}, 'wb').write(b'x')", timeout=30)
        assert run.status == "error" and "PermissionError" in run.error, run
        run = kernel.execute("import os; print(os.getcwd(), len(os.listdir('/tmp')))", timeout=30)
        assert run.status == "ok" and str(HOME) in run.outputs[0]["text"]
    finally:
        kernel.shutdown()


@pytest.mark.skipif(cgroup_version() is None, reason="no writable cgroups here")
def test_the_sweep_removes_only_cgroups_whose_grader_is_gone(tmp_path):
    gone = subprocess.Popen(["true"])
    gone.wait()
    stale = Cgroups.create(Limits())
    live = Cgroups.create(Limits())
    assert stale is not None and live is not None
    renamed = []
    for folder in stale.folders:
        target = folder.with_name(folder.name.replace(f"cnnbook-{os.getpid()}-", f"cnnbook-{gone.pid}-"))
        folder.rename(target)
        renamed.append(target)
    try:
        sweep_stale()
        assert not any(folder.exists() for folder in renamed)
        assert all(folder.exists() for folder in live.folders)
    finally:
        live.remove()
        Cgroups(renamed).remove()


@pytest.fixture
def short_tmp():
    """A temporary folder shallow enough for the grader's kernel folders (pytest's tmp_path can be too deep)."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="s", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_kernel_folders_go_where_their_sockets_fit(short_tmp, monkeypatch):
    """ZeroMQ's sockets are files in the kernel's folder, and a socket's path holds at most 107 bytes: under a TMPDIR
    too deep for them the grader's folders go in /tmp."""
    import tempfile

    import autograde.sandbox as sandbox

    monkeypatch.setattr(tempfile, "tempdir", str(short_tmp))
    assert sandbox.work_base() == short_tmp and sandbox.new_work_root().parent == short_tmp
    deep = short_tmp / ("d" * (sandbox.SOCKET_PATH_MAX - len(str(short_tmp))))
    deep.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    assert sandbox.work_base() == Path("/tmp")
    root = sandbox.new_work_root()
    try:
        assert root.parent == Path("/tmp")
        longest = root / "k-xxxxxxxx" / "kernel" / "k9999-99"          # a forked kernel's socket, its longest
        assert len(str(longest)) <= sandbox.SOCKET_PATH_MAX
    finally:
        root.rmdir()


def test_the_sweep_removes_only_kernel_folders_whose_grader_is_gone(short_tmp, monkeypatch):
    """A grader killed with SIGKILL (or by the OOM killer) cannot remove its kernels' folders; the next run does,
    but only those of a process that is gone, and only folders named as the grader names them."""
    import tempfile

    import autograde.sandbox as sandbox

    tmp_path = short_tmp
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.Popen(["true"])
    gone.wait()
    live = sandbox.new_work_root()
    assert live.parent == tmp_path and live.name.startswith(f"cnnbook-grade-{os.getpid()}-")
    stale = tmp_path / f"cnnbook-grade-{gone.pid}-abc_12"
    (stale / "kernel" / "deep").mkdir(parents=True)
    (stale / "kernel" / "deep" / "left.txt").write_text("x")
    os.chmod(stale / "kernel", 0o500)              # as a sandbox leaves it: read-only for the grader too
    unproven = [tmp_path / "cnnbook-grade-x1y2z3", tmp_path / f"cnnbook-grade-{gone.pid}-a.b"]
    for folder in unproven:
        folder.mkdir()
    sandbox.sweep_stale()
    assert not stale.exists()
    assert live.exists() and all(folder.exists() for folder in unproven)


def test_a_font_cache_someone_else_made_first_is_never_used(tmp_path, monkeypatch):
    """The matplotlib font cache every sandbox copies lives under a fixed name in the shared /tmp. Another account
    that makes that folder first (with a link to a private file inside) gets neither its files into the sandboxes
    nor the grader's chmod on what its link points to: the grader builds its own cache elsewhere."""
    import autograde.sandbox as sandbox

    private = tmp_path / "private.txt"
    private.write_text("secret")
    os.chmod(private, 0o600)
    planted = tmp_path / "planted-seed"
    planted.mkdir(mode=0o777)
    os.chmod(planted, 0o777)                             # anyone may write to it (or, as root: not ours below)
    (planted / "fontlist-planted.json").symlink_to(private)
    (planted / "link").symlink_to(private)
    if os.geteuid() == 0:
        os.chown(planted, 65534, 65534)
    monkeypatch.setattr(sandbox, "MATPLOTLIB_SEED", planted)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    seed = sandbox._matplotlib_seed()
    assert seed != planted and seed.parent == tmp_path
    assert any(seed.glob("fontlist-*.json")) and not any(p.is_symlink() for p in seed.iterdir())
    assert oct(private.stat().st_mode & 0o777) == oct(0o600)
    own = tmp_path / "own-seed"                          # a folder of ours that no one else may write: used
    monkeypatch.setattr(sandbox, "MATPLOTLIB_SEED", own)
    assert sandbox._matplotlib_seed() == own and any(own.glob("fontlist-*.json"))


def test_a_kernel_folder_nested_thousands_deep_is_measured_and_removed(tmp_path):
    """A kernel that nests 3,000 folders in its host folder (possible where the grader cannot lock it, without
    root) must neither stop the quota check nor the clean-up (shutil.rmtree and Path.rglob recurse and raise
    RecursionError: a grader-error on every run); a folder it made unreadable or a link out goes too, without
    following the link."""
    from autograde.sandbox import ENTRY_BYTES, remove_tree

    try:
        sandbox = Sandbox(tmp_path / "work", Limits())
        sandbox.kernel_dir.mkdir(parents=True, exist_ok=True)
        outside = tmp_path / "outside.txt"
        outside.write_text("the grader's")
        deep = sandbox.kernel_dir / "d"
        os.makedirs(deep, exist_ok=True)
        here = os.open(deep, os.O_RDONLY)
        try:
            for _ in range(3000):                       # by handles: the path would pass PATH_MAX
                os.mkdir("d", dir_fd=here)
                inner = os.open("d", os.O_RDONLY, dir_fd=here)
                os.close(here)
                here = inner
            with open(os.open("leaf.bin", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=here), "wb") as leaf:
                leaf.write(b"x" * 1000)
        finally:
            os.close(here)
        (sandbox.kernel_dir / "small.txt").write_bytes(b"y" * 24)
        (sandbox.kernel_dir / "link").symlink_to(outside)
        locked = sandbox.kernel_dir / "locked"
        (locked / "inside").mkdir(parents=True)
        (locked / "inside" / "f").write_text("z")
        locked.chmod(0)
        # Every entry costs at least ENTRY_BYTES: the 3,000 folders down to the leaf are all counted (the walk
        # reaches the bottom), and nothing more than the entries there are (the link is not followed).
        entries = 3001 + 1 + 1 + 1 + 2 + 1                 # d and its 3,000 folders, leaf, small, link, locked, kernel
        if os.geteuid() == 0:
            entries += 1                                   # the file in the folder it locked: root reads it
        assert sandbox.host_bytes() == entries * ENTRY_BYTES
        sandbox.clear_kernel_dir()
        assert list(sandbox.kernel_dir.iterdir()) == []
        assert outside.read_text() == "the grader's"
        remove_tree(tmp_path / "work")
        assert not (tmp_path / "work").exists()
    finally:                                        # pytest's own clean-up of tmp_path recurses
        remove_tree(tmp_path / "work")


def test_what_no_regular_file_holds_counts_towards_the_host_quota(tmp_path):
    """Where the kernel's host folder cannot be locked (no root), the quota counts every entry: links whose
    targets are kilobytes of text and empty files by the thousand fill the disk as surely as a file does. (Only
    regular files were counted: 20,000 links of 4,000-byte targets, 86 MB on disk, measured 0 bytes, so a kernel
    could fill the grader's disk cell after cell.)"""
    from autograde.sandbox import ENTRY_BYTES, HOST_QUOTA, remove_tree

    try:
        sandbox = Sandbox(tmp_path / "work", Limits())
        folder = sandbox.kernel_dir
        target = "/" + "a" * 4000
        for i in range(HOST_QUOTA // ENTRY_BYTES // 2 + 1):
            os.symlink(target, folder / f"link{i}")
        (folder / "empty").mkdir()
        for i in range(HOST_QUOTA // ENTRY_BYTES // 2 + 1):
            (folder / "empty" / f"{i:0>200}").touch()
        os.mkfifo(folder / "fifo")
        assert sandbox.host_bytes() > HOST_QUOTA
        sandbox.isolate, sandbox.as_root = True, False           # the grader without root: the folder stays writable
        assert sandbox.over_host_quota()
        # and a kernel's own sockets and connection file alone are far below it
        remove_tree(folder)
        folder.mkdir()
        for name in ("connection-0.json", *(f"k0-{i}" for i in range(1, 6))):
            (folder / name).write_text("{}")
        assert not sandbox.over_host_quota()
    finally:
        remove_tree(tmp_path / "work")
