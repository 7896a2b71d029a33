"""The box a learner's kernel runs in: an allow-list of read-only folders, its own user, limits, no network.

One sandbox per submission, built by bubblewrap from an EMPTY root: only what :func:`allow_list` names is
mounted (the system's /usr, the Python interpreter and its virtual environment, the course's ``cnnbook/``,
``autograde/`` and ``data/``), read-only. Everything else on the machine (other submissions, other kernels'
sockets, home folders, /root, /etc/shadow, the gradebook, OUT, solutions/, any other copy of the course) is
simply not there. The kernel writes only to two size-capped tmpfs folders of its own (its home and /tmp) and to
the folder that holds its connection file and sockets, which the grader locks once the kernel is up (root).

It never runs as the grading user: as root the kernel gets a uid of its own (never a real account), with no
capabilities; as another user, a user namespace maps it to ``nobody``. Memory (RAM and tmpfs of all its
processes together), the number of processes and a CPU share are limited per submission by a cgroup (v2 where
the unified hierarchy has the controllers, v1 otherwise); prlimit limits each process too. README "What the
sandbox isolates" says what holds where.
"""
from __future__ import annotations

import functools
import json
import os
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .lessons import ROOT
from .settings import GradingLimits

if TYPE_CHECKING:
    from .forked import Zygote

CGROUP_ROOT = Path("/sys/fs/cgroup")
# The learner's home and working folder inside the sandbox (a tmpfs); /tmp is another.
HOME = Path("/home/learner")
# As root, every sandbox runs under a uid of its own drawn from this range: no account on any machine uses
# it, so no file outside the sandbox belongs to it and two sandboxes never share a uid.
UID_BASE, UID_SPAN = 1_900_000_000, 100_000_000
NOBODY = 65534
_NAME = re.compile(r"^cnnbook-(\d+)-[0-9a-f]+$")
# Project folders the kernel needs: the helper package, the shim the grader talks to, the lessons' data.
PROJECT_PARTS = ("cnnbook", "autograde", "data")
# The machine's matplotlib font cache, built once and copied into each sandbox's home (see _matplotlib_seed).
MATPLOTLIB_SEED = Path("/tmp") / f"cnnbook-grader-matplotlib-{os.geteuid()}"
# Where the kernel's host folder stays writable (grader not root): what it may leave there.
HOST_QUOTA = 64 * 2 ** 20
# What any entry there costs at least, as host_bytes counts it (a block: most file systems' inode and slot cost).
ENTRY_BYTES = 4096


# Descriptors each process of a kernel may have open (RLIMIT_NOFILE), whatever the grader's own limit is (20,000
# here, 1,048,576 in a Docker container). What the kernel allocates for some of them is not charged to the memory
# cgroup: a hostile trial's 20 processes of 20,000 timerfds each held 48 MiB of the machine's memory outside the
# submission's limit (about 120 bytes a descriptor; 128 processes: 300 MiB). Python, ipykernel and zmq need dozens;
# 4,096 is four times the usual soft limit of a desktop session.
OPEN_FILES = 4096


def open_files() -> int:
    """RLIMIT_NOFILE for a kernel's processes: OPEN_FILES, or the grader's own hard limit where that is lower."""
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return OPEN_FILES if hard == resource.RLIM_INFINITY else min(OPEN_FILES, hard)


# What the buffers of a submission's IP sockets (UDP on its own loopback; TCP is refused: IP_SOCKET_TYPES) may hold. cgroup v1 charges them to
# no group unless the group has a limit for them, and the machine's TCP memory is ONE count for every network
# namespace: a hostile trial's 300 loopback connections, never read, held 2.2 GiB outside the submission's memory
# limit (its group was charged 7 MiB) and brought the machine's TCP to its hard limit (net.ipv4.tcp_mem), where
# every TCP socket of the machine (the grader's network, a Dask scheduler's) waits for memory or fails.
SOCKET_BYTES = 64 * 2 ** 20


# The defaults of autograde.settings.GradingLimits (what each limit means is its help text there); a grading run
# sends every limit as nbgrader_config.py configures it (GradingLimits.limits()) in each task.
_DEFAULT = GradingLimits().limits()


@dataclass
class Limits:
    memory_bytes: int = _DEFAULT["memory_bytes"]
    max_processes: int = _DEFAULT["max_processes"]
    cell_seconds: float = _DEFAULT["cell_seconds"]
    submission_seconds: float = _DEFAULT["submission_seconds"]
    output_bytes: int = _DEFAULT["output_bytes"]
    disk_bytes: int = _DEFAULT["disk_bytes"]
    file_bytes: int = _DEFAULT["file_bytes"]
    forked_kernels: bool = _DEFAULT["forked_kernels"]


# The machine's files in /proc a kernel sees: an ALLOW-LIST, what numpy, torch, psutil and multiprocessing read to size
# their thread pools and buffers (cpuinfo, meminfo, stat, loadavg, uptime, /proc/sys) and two facts of no one's
# doing (version, filesystems). Every other file and folder at the top of /proc, and every one a later kernel adds,
# is hidden behind a read-only empty mount (a file: the host's /dev/null, which the sandbox cannot open; a folder: an
# empty read-only tmpfs). A deny-list of them (the host kernel's build options and symbols, keyrings, timers, memory
# allocators, pressure stall figures) left others open that a hostile trial read: /proc/locks listed every lock of
# the pid namespace with its holder's pid and the file's inode (a forked kernel saw a classmate's kernel, which
# hidepid hides, and what it locked); /proc/cgroups counts every submission's cgroups, /proc/interrupts, vmstat and
# diskstats are machine-wide counters another sandbox moves (covert channels, as pressure was), /proc/cmdline is
# the host's boot command line. What stays besides: the process folders (its own pid namespace; a forked kernel's
# shows only its own processes) and the links into them (self, thread-self, mounts, net). /proc/self/mountinfo
# shows where each mount came from: the paths the sandbox already sees (every folder is bound at its own path) and
# the submission's work folder (passwd, group), whose kernel folder's path the kernel knows anyway.
PROC_VISIBLE = ("cpuinfo", "meminfo", "stat", "loadavg", "uptime", "sys", "version", "filesystems")


def proc_masks() -> list[str]:
    """bwrap options (after ``--proc /proc``) that hide every entry at the top of this machine's /proc but the
    process folders, the links into them and PROC_VISIBLE (a mount point inside a new /proc cannot be made: only
    what the machine's kernel has)."""
    argv: list[str] = []
    for name in sorted(os.listdir("/proc")):
        path = f"/proc/{name}"
        if name.isdigit() or name in PROC_VISIBLE or os.path.islink(path):
            continue
        if os.path.isdir(path):
            argv += ["--perms", "0555", "--tmpfs", path, "--remount-ro", path]
        elif os.path.isfile(path):
            argv += ["--ro-bind", "/dev/null", path]
    return argv


@functools.lru_cache(maxsize=None)
def bubblewrap_works() -> bool:
    """True when bwrap is installed and can build a sandbox from an empty root on this machine."""
    if not shutil.which("bwrap"):
        return False
    try:
        seccomp_program()
        proc = subprocess.run(["bwrap", *_namespaces(os.geteuid() == 0), "--ro-bind", "/usr", "/usr",
                               *_usr_links(), "--proc", "/proc", "--dev", "/dev", "true"],
                              capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def python_folders() -> list[Path]:
    """The interpreter's installation and the virtual environment (with its site-packages)."""
    folders = []
    for prefix in (sys.base_prefix, sys.prefix, sys.exec_prefix):
        path = Path(prefix).resolve()
        if path not in folders and not path.is_relative_to("/usr"):
            folders.append(path)
    return folders


def allow_list(project: Path = ROOT) -> list[Path]:
    """THE list of host folders and files a learner's kernel can read (read-only). Nothing else is mounted.

    Besides these, the sandbox has its own /proc (with facts of the machine hidden: ``proc_masks``), a minimal
    /dev, its two tmpfs folders, a passwd file that names only its own user, and the folder with its connection
    file and sockets.
    """
    paths = [Path("/usr")]
    paths += [Path("/etc") / name for name in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "fonts")
              if (Path("/etc") / name).exists()]
    paths += python_folders()
    paths += [project / part for part in PROJECT_PARTS if (project / part).exists()]
    return paths


def _usr_links() -> list[str]:
    """/bin, /lib, /lib64, /sbin: symbolic links into /usr on merged-usr systems, as on the host."""
    argv = []
    for name in ("bin", "lib", "lib64", "lib32", "libx32", "sbin"):
        path = Path("/") / name
        if path.is_symlink():
            argv += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            argv += ["--ro-bind", str(path), str(path)]
    return argv


# The seccomp filter bubblewrap installs before the kernel starts is an ALLOW-LIST: the system calls a Python kernel,
# numpy, torch (its threads and DataLoader workers), ZeroMQ, subprocesses and multiprocessing make. Any other call,
# and every call a later kernel adds, answers ENOSYS ("not implemented": the C library then falls back to an older
# call, as it does on an older kernel), so a new kernel interface never joins the sandbox by default (a hostile
# trial found memfd_secret, the LDT, NUMA page moves and more open under the deny-list this replaced).
# Some are refused by name with EPERM, so that a learner's code is told "not permitted" (as Docker's and Flatpak's
# filters do): new namespaces (as root the sandbox has no user namespace of its own, and `unshare -Ur` gave learner
# code a root with every capability inside one, then netfilter and mounts: the surface of most public Linux
# privilege escalations), mounts, keyrings, BPF, io_uring, userfaultfd, perf events, ptrace and other processes'
# memory, modules, kexec, file handles (open_by_handle_at reads files by inode, past the mounts), the x86 LDT, vm86,
# I/O ports, NUMA page moves, secret memory, uselib, and any personality but plain Linux (ADDR_NO_RANDOMIZE turns
# address randomisation off for the programs the process starts). clone is allowed without namespace flags;
# clone3 answers ENOSYS (its flags are in memory a filter cannot read), and the C library falls back to clone.
# Sockets: only local (AF_UNIX) and IP (in the sandbox's own network namespace: loopback only), the families whose
# buffers the memory cgroup counts; any other family (vsock reaches the hypervisor or the host past the network
# namespace; packet, bluetooth, alg, ...) answers EAFNOSUPPORT. Not netlink: its buffers are charged to no cgroup,
# and a hostile trial's 20 netlink sockets held 168 MiB of the machine's memory (8 MiB each of replies it asked for
# and never read) while its cgroup was charged nothing. A netlink socket answers EOPNOTSUPP, as Windows' WSL 1 does:
# the C library's getaddrinfo and getifaddrs then do without it (getaddrinfo assumes both IPv4 and IPv6), and so does
# ZeroMQ, which resolves a bound address as an interface name first and aborts the kernel on any other error of
# getifaddrs. socketpair makes local pairs only (for any other family it makes the socket, a vsock one too, before it
# says that it cannot pair them).
ALLOWED_SYSCALLS = (
    # files and descriptors
    "read", "write", "open", "openat", "openat2", "close", "close_range", "creat", "lseek", "pread64", "pwrite64",
    "readv", "writev", "preadv", "pwritev", "preadv2", "pwritev2", "sendfile", "copy_file_range", "splice", "tee",
    "stat", "fstat", "lstat", "newfstatat", "statx", "statfs", "fstatfs", "access", "faccessat", "faccessat2",
    "readlink", "readlinkat", "getdents", "getdents64", "getcwd", "chdir", "fchdir", "mkdir", "mkdirat", "rmdir",
    "unlink", "unlinkat", "rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat", "chmod",
    "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat", "truncate", "ftruncate", "fallocate",
    "utime", "utimes", "utimensat", "futimesat", "umask", "mknod", "mknodat", "fsync", "fdatasync", "sync", "syncfs",
    "sync_file_range", "fadvise64", "readahead", "flock", "fcntl", "ioctl", "dup", "dup2", "dup3", "pipe", "pipe2",
    "getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr", "setxattr", "lsetxattr",
    "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
    # memory
    "mmap", "munmap", "mprotect", "mremap", "madvise", "brk", "msync", "mincore", "mlock", "mlock2", "munlock",
    "mlockall", "munlockall", "pkey_mprotect", "pkey_alloc", "pkey_free", "membarrier", "memfd_create",
    "get_mempolicy",
    # processes, threads, signals
    "clone", "fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid", "kill", "tkill", "tgkill",
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigtimedwait", "rt_sigqueueinfo",
    "rt_tgsigqueueinfo", "rt_sigsuspend", "sigaltstack", "pause", "getpid", "getppid", "gettid", "getuid", "geteuid",
    "getgid", "getegid", "getgroups", "getresuid", "getresgid", "setuid", "setgid", "setreuid", "setregid",
    "setresuid", "setresgid", "setgroups", "setfsuid", "setfsgid", "getpgid", "setpgid", "getpgrp", "getsid",
    "setsid", "prctl", "arch_prctl", "set_tid_address", "set_robust_list", "get_robust_list", "rseq", "futex",
    "futex_waitv", "futex_wake", "futex_wait", "futex_requeue", "sched_yield", "sched_getaffinity",
    "sched_setaffinity", "sched_getparam", "sched_setparam", "sched_getscheduler", "sched_setscheduler",
    "sched_get_priority_max", "sched_get_priority_min", "sched_rr_get_interval", "sched_getattr", "sched_setattr",
    "getpriority", "setpriority", "ioprio_get", "getrlimit", "setrlimit", "prlimit64", "getrusage", "times",
    "capget", "capset", "personality", "uname", "sysinfo", "getcpu", "pidfd_open", "pidfd_send_signal",
    "getrandom", "restart_syscall",
    # time
    "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time", "alarm", "getitimer",
    "setitimer", "timer_create", "timer_settime", "timer_gettime", "timer_getoverrun", "timer_delete",
    "timerfd_create", "timerfd_settime", "timerfd_gettime",
    # waiting on events
    "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "poll", "ppoll",
    "select", "pselect6", "eventfd", "eventfd2", "signalfd", "signalfd4",
    # sockets (socket and socketpair themselves: by family, below) and the sandbox's own IPC namespace
    "bind", "listen", "accept", "accept4", "connect", "getsockname", "getpeername", "sendto",
    "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "shutdown", "setsockopt", "getsockopt",
    "shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop", "semctl", "msgget", "msgsnd", "msgrcv",
    "msgctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr",
)
DENIED_SYSCALLS = ("unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount",
                   "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "keyctl", "add_key", "request_key",
                   "bpf", "userfaultfd", "perf_event_open", "io_uring_setup", "io_uring_enter", "io_uring_register",
                   "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "kexec_load", "kexec_file_load",
                   "init_module", "finit_module", "delete_module", "reboot", "swapon", "swapoff", "acct", "quotactl",
                   "name_to_handle_at", "open_by_handle_at", "syslog", "vhangup", "fanotify_init", "modify_ldt",
                   "vm86", "vm86old", "ioperm", "iopl", "uselib", "memfd_secret", "move_pages", "migrate_pages",
                   "mbind", "set_mempolicy")
PER_LINUX = 0
# fcntl's commands (linux/fcntl.h, asm-generic/fcntl.h): F_DUPFD .. F_GETSIG (0-11), F_SETOWN_EX, F_GETOWN_EX,
# F_GETOWNER_UIDS (15-17), the open file description locks (36-38), F_GETLEASE (1025), F_DUPFD_QUERY,
# F_CREATED_QUERY (1027, 1028), F_DUPFD_CLOEXEC, the pipe sizes, seals and read/write hints (1030-1038).
FCNTL_COMMANDS = (*range(12), 15, 16, 17, 36, 37, 38, 1025, 1027, 1028, *range(1030, 1039))
FCNTL_REFUSED = (1024, 1026)          # F_SETLEASE, F_NOTIFY
# clone's flags that make a namespace (linux/sched.h): CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET.
CLONE_NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)
# Socket families (linux/socket.h): AF_UNIX, AF_INET, AF_INET6; socketpair's, AF_UNIX. Others up to AF_MAX (46 today)
# and a margin answer EAFNOSUPPORT; a larger number, ENOSYS.
SOCKET_FAMILIES = (1, 2, 10)
SOCKETPAIR_FAMILIES = (1,)
AF_NETLINK = 16
# IP sockets: datagrams only (SOCK_DGRAM; the type's low four bits, above them SOCK_NONBLOCK and SOCK_CLOEXEC); a
# stream (TCP, MPTCP) or any other type is refused (EPERM). A connection that waits to be accepted is made by the
# kernel's network code and charged to no cgroup (v1 or v2): a hostile trial's 25 loopback listeners that never
# accepted, and 102,425 connections made to them, held 514 MB of the machine's memory in 10 s while the submission's
# cgroup was charged 4 MB (4,096 listeners per process, 4,096 connections each). A UDP socket's buffers are counted
# (SOCKET_BYTES); nothing of a kernel, the grader's or a notebook library's, needs TCP on its own loopback (the
# grader reaches the kernel by local sockets, multiprocessing and DataLoader workers use local sockets too).
IP_FAMILIES = (2, 10)
IP_SOCKET_TYPES = (2,)
SOCKET_TYPE_MASK = 0xF
SOCKET_FAMILY_LIMIT = 64


@functools.lru_cache(maxsize=None)
def seccomp_program() -> bytes:
    """The seccomp filter (BPF, for this machine's architecture) every sandbox runs under, compiled by libseccomp
    (through pyseccomp). Raises OSError where libseccomp is missing: no sandbox is built without it."""
    import errno

    try:
        import pyseccomp as seccomp
    except Exception as err:  # noqa: BLE001 - pyseccomp loads libseccomp.so.2 as it is imported
        raise OSError(f"the sandbox's seccomp filter needs libseccomp (Debian/Ubuntu: libseccomp2): {err}") from err
    refuse, allow = seccomp.ERRNO(errno.EPERM), seccomp.ALLOW
    program = seccomp.SyscallFilter(seccomp.ERRNO(errno.ENOSYS))

    def known(name: str) -> bool:                # a call of this architecture (arch_prctl is x86's, ...)
        return seccomp.resolve_syscall(seccomp.Arch.NATIVE, name) >= 0

    for name in ALLOWED_SYSCALLS:
        if known(name) and name not in ("clone", "personality", "fcntl"):
            program.add_rule(allow, name)
    # fcntl: its commands are an allow-list too (equal as 64 bits: the kernel reads cmd as 32, so a command with
    # high bits set matches none and answers ENOSYS). Not file leases or directory notifications (dnotify: events
    # of other processes reading the shared read-only folders, a channel between sandboxes as inotify was).
    for command in FCNTL_COMMANDS:
        program.add_rule(allow, "fcntl", seccomp.Arg(1, seccomp.EQ, command))
    for command in FCNTL_REFUSED:
        program.add_rule(refuse, "fcntl", seccomp.Arg(1, seccomp.EQ, command))
    for name in DENIED_SYSCALLS:
        if known(name):
            program.add_rule(refuse, name)
    namespaces = functools.reduce(lambda a, b: a | b, CLONE_NAMESPACE_FLAGS)
    program.add_rule(allow, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, namespaces, 0))
    for flag in CLONE_NAMESPACE_FLAGS:
        program.add_rule(refuse, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    # personality: plain Linux only (as Flatpak's filter; nothing a notebook runs asks for another).
    program.add_rule(allow, "personality", seccomp.Arg(0, seccomp.EQ, PER_LINUX))
    program.add_rule(refuse, "personality", seccomp.Arg(0, seccomp.NE, PER_LINUX))
    for call, families in (("socket", SOCKET_FAMILIES), ("socketpair", SOCKETPAIR_FAMILIES)):
        for family in range(SOCKET_FAMILY_LIMIT):
            if call == "socket" and family in IP_FAMILIES:        # by type too (its low bits: not its flags)
                for kind in range(SOCKET_TYPE_MASK + 1):
                    program.add_rule(allow if kind in IP_SOCKET_TYPES else refuse, call, seccomp.Arg(0, seccomp.EQ, family),
                                     seccomp.Arg(1, seccomp.MASKED_EQ, SOCKET_TYPE_MASK, kind))
                continue
            refuse_family = seccomp.ERRNO(errno.EOPNOTSUPP if family == AF_NETLINK else errno.EAFNOSUPPORT)
            program.add_rule(allow if family in families else refuse_family, call, seccomp.Arg(0, seccomp.EQ, family))
    with tempfile.TemporaryFile() as f:
        program.export_bpf(f)
        f.seek(0)
        return f.read()


def _namespaces(as_root: bool) -> list[str]:
    argv = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session"]
    if not as_root:
        # Our own uid becomes nobody inside; the sandbox may not make user namespaces of its own.
        argv += ["--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY), "--disable-userns"]
    return argv


def remove_tree(path: Path) -> None:
    """Remove a folder a learner's kernel may have written to, however deep and whatever its permissions.

    shutil.rmtree recurses (Python 3.11) and raises RecursionError some 1,000 folders down, which would make the
    submission a grader-error on every run; GNU chmod and rm walk a tree without recursion (fts) and stay on
    this file system. shutil finishes whatever they could not (a system without them)."""
    if not os.path.lexists(path):
        return
    for argv in (["chmod", "-R", "u+rwX", "--", str(path)], ["rm", "-rf", "--one-file-system", "--", str(path)]):
        try:
            subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=600, check=False)
        except (OSError, subprocess.SubprocessError):
            pass
    if os.path.lexists(path):
        try:
            shutil.rmtree(path, ignore_errors=True)
        except RecursionError:
            pass


@dataclass
class Sandbox:
    """One submission's sandbox: the command that starts its kernel, its folders, its cgroups."""

    work: Path                           # host folder of this submission (0700); nothing in it is secret
    limits: Limits
    isolate: bool = True                 # False: no bubblewrap (`check`, or --no-sandbox): limits only
    project: Path = ROOT
    uid: int = field(init=False)
    squeeze: int | None = None           # tests only: see Cgroups
    zygote: "Zygote | None" = None       # the kernel is forked by this worker's zygote (autograde.forked)
    cgroups: "Cgroups | None" = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.as_root = os.geteuid() == 0
        self.uid = UID_BASE + secrets.randbelow(UID_SPAN) if (self.isolate and self.as_root) else os.getuid()
        self.inner_uid = 0
        self.forked = False                  # the last kernel started was forked (kernel_argv)
        if self.zygote is not None:          # a uid of the zygote's range, no other live kernel's
            self.inner_uid = self.zygote.next_uid(id(self))
            self.uid = self.zygote.uid_base + self.inner_uid
        self.work.mkdir(parents=True, exist_ok=True)
        os.chmod(self.work, 0o711 if self.zygote is not None else 0o700)    # the zygote reaches kernel_dir
        self.kernel_dir.mkdir(exist_ok=True)
        if self.isolate and self.as_root:
            os.chown(self.kernel_dir, 0, self.uid)        # the kernel's group may write here until locked
        os.chmod(self.kernel_dir, 0o770)
        if not self.isolate:
            shutil.copytree(_matplotlib_seed(), self.home / ".matplotlib", dirs_exist_ok=True)

    # -- folders ----------------------------------------------------------------------------------------
    @property
    def kernel_dir(self) -> Path:
        """Connection file and sockets: the only host folder the kernel sees, at the same path inside."""
        return self.work / "kernel"

    @property
    def home(self) -> Path:
        return HOME if self.isolate else self.work / "home"

    def env(self, threads: int) -> dict[str, str]:
        """The kernel's whole environment: nothing of the grader's own (tokens, paths) leaks in."""
        env = {
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(self.home),
            "PYTHONPATH": str(self.project), "IPYTHONDIR": str(self.home / ".ipython"),
            "MPLCONFIGDIR": str(self.home / ".matplotlib"), "XDG_CACHE_HOME": str(self.home / ".cache"),
            "JUPYTER_RUNTIME_DIR": str(self.kernel_dir), "MPLBACKEND": "agg", "NBGRADER_EXECUTION": "autograde",
            "PYTHONUNBUFFERED": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1", "OMP_NUM_THREADS": str(threads),
            "MKL_NUM_THREADS": str(threads), "TORCH_NUM_THREADS": str(threads),
            # glibc gives each thread that allocates an arena of its own, 64 MiB of address space each, and prlimit's
            # --as (the memory limit, per process) counts address space: after a notebook's cells had run (torch,
            # tqdm and DataLoader threads), hidden parts, which now run last, failed in honest notebooks with
            # oneDNN's "could not create a primitive" (lesson 06's solution: 5 of 18 points at --memory 1.5).
            "MALLOC_ARENA_MAX": "2",
        }
        if os.environ.get("VIRTUAL_ENV"):
            env["VIRTUAL_ENV"] = os.environ["VIRTUAL_ENV"]
        return env

    # -- commands ---------------------------------------------------------------------------------------
    def kernel_argv(self) -> list[str]:
        self.forked = False
        if self.zygote is not None and self.isolate and self.as_root:
            forked = self._forked_argv()
            if forked:
                self.forked = True
                return forked
        return self.wrap([sys.executable, "-m", "autograde.kernel_app", "-f", "{connection_file}"])

    def _forked_argv(self) -> list[str]:
        """The stand-in that asks the zygote for this kernel and moves it into these cgroups (autograde.forked);
        [] without cgroups (a forked kernel is never left without them: it then starts as any other)."""
        zygote = self.zygote
        assert zygote is not None
        self.cgroups = Cgroups.create(self.limits, self.squeeze)
        if self.cgroups is None:
            return []
        zygote.claim(self.inner_uid, id(self))          # again, if a kernel of this sandbox ended before
        env = self.env(zygote.threads)
        request = {"uid": self.inner_uid, "kernel_dir": str(self.kernel_dir), "home": str(HOME),
                   "disk_bytes": self.limits.disk_bytes, "rlimits": self.rlimits(), "seed": str(_matplotlib_seed()),
                   "env": {"JUPYTER_RUNTIME_DIR": env["JUPYTER_RUNTIME_DIR"]},
                   "procs": [str(procs) for procs in self.cgroups.procs_files()]}
        joins = " && ".join(f"echo $$ > {procs}" for procs in self.cgroups.procs_files())
        return ["sh", "-c", f'{joins} && exec "$@"', "sandbox", sys.executable, "-m", "autograde.forked", "standin",
                zygote.socket, "{connection_file}", json.dumps(request)]

    def rlimits(self) -> dict[str, int]:
        """The rlimits of every process of a kernel, by prlimit's option names: set by prlimit for a kernel this
        sandbox starts (``wrap``) and by setrlimit for a forked one (``forked._confine``). No realtime scheduling
        priority and no raised nice priority, whatever the grader was given: a SCHED_FIFO thread that spins would
        starve the classmates graded beside it (cgroup v1's realtime budget of 0 stops it too; v2 has none)."""
        return {"as": self.limits.memory_bytes,
                "cpu": int(self.limits.submission_seconds + self.limits.cell_seconds) + 30,  # and the hidden parts'
                "fsize": self.limits.file_bytes, "nofile": open_files(), "core": 0, "rtprio": 0, "nice": 0}

    def wrap(self, argv: list[str]) -> list[str]:
        """``argv`` as it runs in this sandbox (tests use it to look inside); creates the cgroups."""
        limited = ["prlimit", *(f"--{name}={value}" for name, value in self.rlimits().items()),
                   "--"] if shutil.which("prlimit") else []
        if not self.isolate:
            return self._in_cgroups(limited + argv)
        # Seed matplotlib's font cache into the new home (building it costs seconds per kernel), as the sandbox user.
        seed = _matplotlib_seed()
        start = seed_home(seed)
        inner = start + limited + argv
        if self.as_root:
            inner = ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups", "--no-new-privs",
                     "--inh-caps=-all", "--bounding-set=-all", "--"] + inner
        # bwrap reads the seccomp filter from a descriptor (--seccomp 9) and installs it for the kernel.
        program = self.work / "seccomp.bpf"
        program.write_bytes(seccomp_program())
        read_filter = ["sh", "-c", 'f=$1; shift; exec "$@" 9<"$f"', "seccomp", str(program)]
        return self._in_cgroups(read_filter + self._bwrap(seed) + ["--seccomp", "9", "--"] + inner)

    def _bwrap(self, seed: Path) -> list[str]:
        argv = ["bwrap", *_namespaces(self.as_root)]
        made: set[Path] = set()

        def mount(*option: str, path: Path) -> None:
            # Folders on the way to a mount point are made by bwrap: make them traversable (0755), nothing more.
            for parent in reversed(path.parents[:-1]):
                if parent not in made:
                    argv.extend(["--perms", "0755", "--dir", str(parent)])
                    made.add(parent)
            argv.extend(option)
            made.add(path)

        # The only writable folders besides kernel_dir: two tmpfs of a fixed size, whose pages count towards the
        # memory cgroup. As root they belong to root, and the sandbox user (alone in there) must write them.
        # Mounted first, so that a project or an interpreter that lives under /tmp is bound on top of them.
        mount("--perms", "1777", "--size", str(self.limits.disk_bytes), "--tmpfs", "/tmp", path=Path("/tmp"))
        mount("--perms", "0777", "--size", str(self.limits.disk_bytes), "--tmpfs", str(HOME), path=HOME)
        for path in allow_list(self.project):
            mount("--ro-bind", str(path), str(path), path=path)
            if path == Path("/usr"):
                argv.extend(_usr_links())
        mount("--ro-bind", str(self._passwd()), "/etc/passwd", path=Path("/etc/passwd"))
        mount("--ro-bind", str(self._group()), "/etc/group", path=Path("/etc/group"))
        argv += ["--proc", "/proc", "--dev", "/dev"]
        argv += proc_masks()
        # POSIX semaphores and shared memory (multiprocessing, a DataLoader with workers) live in /dev/shm, which
        # --dev leaves to root: a size-capped tmpfs of the sandbox's own, counted in its memory cgroup like the others.
        argv += ["--perms", "1777", "--size", str(self.limits.disk_bytes), "--tmpfs", "/dev/shm"]
        mount("--ro-bind", str(seed), str(seed), path=seed)
        mount("--bind", str(self.kernel_dir), str(self.kernel_dir), path=self.kernel_dir)
        # ipykernel exits when the process named by JPY_PARENT_PID is gone, and in its own pid namespace it is.
        argv += ["--chdir", str(HOME), "--unsetenv", "JPY_PARENT_PID"]
        return argv

    def _passwd(self) -> Path:
        path = self.work / "passwd"
        name = "learner"
        path.write_text(f"root:x:0:0:root:/root:/usr/sbin/nologin\n{name}:x:{self._inner_uid}:{self._inner_uid}"
                        f"::{HOME}:/usr/sbin/nologin\nnobody:x:{NOBODY}:{NOBODY}::/nonexistent:/usr/sbin/nologin\n")
        return path

    def _group(self) -> Path:
        path = self.work / "group"
        path.write_text(f"root:x:0:\nlearner:x:{self._inner_uid}:\nnogroup:x:{NOBODY}:\n")
        return path

    @property
    def _inner_uid(self) -> int:
        return self.uid if self.as_root else NOBODY

    def _in_cgroups(self, argv: list[str]) -> list[str]:
        self.cgroups = Cgroups.create(self.limits, self.squeeze)
        if self.cgroups is None:
            return argv
        joins = " && ".join(f"echo $$ > {procs}" for procs in self.cgroups.procs_files())
        return ["sh", "-c", f'{joins} && exec "$@"', "sandbox"] + argv

    # -- life cycle -------------------------------------------------------------------------------------
    def hand_over(self, connection_file: Path) -> None:
        """Let the sandbox user read its connection file (the grader wrote it, 0600)."""
        if self.isolate and self.as_root:
            os.chown(connection_file, 0, self.uid)
            os.chmod(connection_file, 0o640)

    def unlock(self) -> None:
        os.chmod(self.kernel_dir, 0o770)

    def lock(self) -> None:
        """Once the kernel has made its sockets, it may not write any more files on the host (root only:
        the folder belongs to the grader, the kernel is only in its group)."""
        if self.isolate and self.as_root:
            os.chmod(self.kernel_dir, 0o550)

    def host_bytes(self) -> int:
        """Bytes the kernel has left in its host folder (policed after each cell where it cannot be locked).

        Every entry counts, whatever its type (a file, a folder, a link, a fifo, a socket): its size or the
        disk blocks it holds, whichever is more, and at least ENTRY_BYTES (an inode and a directory slot). A
        count of regular files alone let a kernel fill the disk with what it does not see: links whose targets
        are kilobytes of text, empty files and folders by the million. GNU find walks it (no recursion, no
        path length limit): a kernel may nest folders thousands deep, past where a path can name them. Links
        are not followed."""
        try:
            found = subprocess.run(["find", "-P", str(self.kernel_dir), "-printf", "%s %b\n"],
                                   stdin=subprocess.DEVNULL, capture_output=True, timeout=120, check=False)
        except (OSError, subprocess.SubprocessError):
            return HOST_QUOTA + 1                      # cannot tell: as if over (the submission's cells stop)
        total = 0
        for line in found.stdout.splitlines():
            size, _, blocks = line.partition(b" ")
            if size.isdigit() and blocks.isdigit():
                total += max(int(size), 512 * int(blocks), ENTRY_BYTES)
        return total

    def over_host_quota(self) -> bool:
        """Where the kernel's host folder cannot be locked (no root), has it written more than it may?"""
        return not (self.isolate and self.as_root) and self.host_bytes() > HOST_QUOTA

    def clear_kernel_dir(self) -> None:
        if not self.kernel_dir.is_dir():
            return                           # gone with its folder (a zygote's, removed as the worker ended)
        self.unlock()
        for path in self.kernel_dir.iterdir():
            if path.is_dir() and not path.is_symlink():
                remove_tree(path)
            else:
                path.unlink(missing_ok=True)

    def kill_processes(self) -> None:
        """SIGKILL every process of the sandbox's cgroups (without removing them: :meth:`close` does that)."""
        cgroups = self.cgroups
        if cgroups is not None:
            for procs in cgroups.procs_files():
                _kill_listed(procs)

    def close(self) -> None:
        if self.zygote is not None:
            self.zygote.release(id(self))
        if self.cgroups is not None:
            self.cgroups.remove()
            self.cgroups = None


def seed_home(seed: Path) -> list[str]:
    """The command prefix that makes $HOME and copies the font cache into it, then runs the rest (as the
    sandbox's user: run it after setpriv)."""
    return ["sh", "-c", f'mkdir -p "$HOME" && cp -r {seed} "$HOME/.matplotlib" 2>/dev/null; exec "$@"', "start"]


def _matplotlib_seed() -> Path:
    """A ready matplotlib font cache, built once per machine, mounted read-only and copied into each home.

    Its folder has a fixed name in the shared /tmp, so another account on the machine could make it first: then
    every sandbox would copy that account's files, and the grader (maybe root) would chmod whatever its links
    point to. It is used only when it is a real folder of the grading user that nobody else may write to;
    otherwise this grader builds its own in a fresh private folder."""
    cache = MATPLOTLIB_SEED
    try:
        os.mkdir(cache, 0o700)
    except FileExistsError:
        pass
    if not _private_folder(cache):
        cache = Path(tempfile.mkdtemp(prefix="cnnbook-grader-matplotlib-"))
    if not any(cache.glob("fontlist-*.json")):
        subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"],
                       env={**os.environ, "MPLCONFIGDIR": str(cache)}, capture_output=True, timeout=300)
        for path in cache.iterdir():
            if path.is_symlink() or not (path.is_file() or path.is_dir()):
                path.unlink()                  # matplotlib writes plain files; nothing else is handed on
            else:
                os.chmod(path, 0o644 if path.is_file() else 0o755)
        os.chmod(cache, 0o755)
    return cache


def _private_folder(path: Path) -> bool:
    """A folder (not a link) that belongs to this process's user and that no one else may write to."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o022


# --- cgroups -------------------------------------------------------------------------------------------

def cgroup_version() -> str | None:
    """"v2" when the unified hierarchy at /sys/fs/cgroup can limit memory and processes, "v1" when the
    memory and pids controllers are mounted separately and writable, None when neither is usable here."""
    controllers = CGROUP_ROOT / "cgroup.controllers"
    if controllers.is_file():
        if {"memory", "pids"} <= set(controllers.read_text().split()) and os.access(CGROUP_ROOT, os.W_OK):
            return "v2"
        return None
    if all(os.access(CGROUP_ROOT / c, os.W_OK) for c in ("memory", "pids")):
        return "v1"
    return None


@dataclass
class Cgroups:
    """The cgroups of one submission, named ``cnnbook-<pid of the grader that made them>-<random>``.

    ``squeeze`` (tests only) puts them inside a group of their own whose memory limit is that many bytes: an
    out-of-memory kill from above, as when the machine (or the container the grader runs in) runs out."""

    folders: list[Path]
    outer: list[Path] = field(default_factory=list)    # the squeezing groups (removed after ``folders``)

    @classmethod
    def create(cls, limits: Limits, squeeze: int | None = None) -> "Cgroups | None":
        version = cgroup_version()
        if version is None:
            return None
        name = f"cnnbook-{os.getpid()}-{secrets.token_hex(6)}"
        outer: list[Path] = []
        try:
            if version == "v2":
                parent = CGROUP_ROOT / "cnnbook"
                parent.mkdir(exist_ok=True)
                _enable_v2_controllers(CGROUP_ROOT, parent)
                if squeeze is not None:
                    parent = parent / name
                    parent.mkdir()
                    outer.append(parent)
                    _write(parent / "memory.max", squeeze)
                    _enable_v2_controllers(parent)
                folder = parent / name
                folder.mkdir()
                _write(folder / "memory.max", limits.memory_bytes)
                _write(folder / "memory.swap.max", 0, optional=True)
                _write(folder / "pids.max", limits.max_processes)
                return cls([folder], outer)
            folders = []
            for controller in ("memory", "pids", "cpu"):
                if not os.access(CGROUP_ROOT / controller, os.W_OK):
                    continue
                base = CGROUP_ROOT / controller
                if controller == "memory" and squeeze is not None:
                    base = base / name
                    base.mkdir()
                    outer.append(base)
                    _write(base / "memory.limit_in_bytes", squeeze)
                folder = base / name
                folder.mkdir()
                folders.append(folder)
                if controller == "memory":
                    _write(folder / "memory.limit_in_bytes", limits.memory_bytes)
                    _write(folder / "memory.memsw.limit_in_bytes", limits.memory_bytes, optional=True)
                    # v1 charges socket buffers to a group only once it has a limit of its own (v2 always does)
                    _write(folder / "memory.kmem.tcp.limit_in_bytes", SOCKET_BYTES, optional=True)
                elif controller == "pids":
                    _write(folder / "pids.max", limits.max_processes)
            return cls(folders, outer)
        except OSError:
            return None

    def procs_files(self) -> list[Path]:
        return [folder / "cgroup.procs" for folder in self.folders]

    def killed_from_above(self) -> bool:
        """Did an out-of-memory killer take a process of this submission while the submission stayed within
        its own memory limit? Then the machine ran out (or a group above this one, such as the container the
        grader runs in), not the learner: a failure of the grading machine.

        The kernel counts each out-of-memory kill in the victim's own group, whoever's limit was reached (v1
        memory.oom_control ``oom_kill``, v2 memory.events ``oom_kill``). That the group reached its own limit
        shows in its peak usage (v1 ``memory.max_usage_in_bytes`` and the memsw one, v2 ``memory.peak``) and in
        its failure counters (v1 ``memory.failcnt``, v2 ``max`` and ``oom``); the counters alone are not enough:
        on cgroup v1 (kernel 6.18) a group whose pages went to a memfd or a tmpfs was killed at its limit with
        both failcnt at 0 (a hostile trial). A group that reached its own limit even once counts as the
        learner's (kills of both kinds are possible then and cannot be told apart). False whenever the counters
        cannot be read."""
        for folder in self.folders:
            try:
                if (folder / "memory.events").is_file():                        # v2
                    events = _counters((folder / "memory.events").read_text())
                    kills = events.get("oom_kill", 0)
                    reached = events.get("oom", 0) + events.get("max", 0)
                elif (folder / "memory.oom_control").is_file():                 # v1
                    kills = _counters((folder / "memory.oom_control").read_text()).get("oom_kill", 0)
                    reached = sum(int((folder / f).read_text()) for f in ("memory.failcnt", "memory.memsw.failcnt")
                                  if (folder / f).is_file())
                else:
                    continue
                return kills > 0 and reached == 0 and not _peaked(folder)
            except (OSError, ValueError):
                return False
        return False

    def remove(self) -> None:
        for folder in self.folders + self.outer:
            _remove_cgroup(folder)


# A group whose peak usage came this close to its limit reached it (the kernel charges pages in batches).
PEAK_MARGIN = 2 ** 20


def _peaked(folder: Path) -> bool:
    """Did the memory cgroup's usage ever reach its own limit (within PEAK_MARGIN)? v1 and v2 files alike."""
    for peak, limit in (("memory.max_usage_in_bytes", "memory.limit_in_bytes"),
                        ("memory.memsw.max_usage_in_bytes", "memory.memsw.limit_in_bytes"),
                        ("memory.peak", "memory.max")):
        if (folder / peak).is_file() and (folder / limit).is_file():
            bound = (folder / limit).read_text().strip()
            if bound.isdigit() and int((folder / peak).read_text().strip()) >= int(bound) - PEAK_MARGIN:
                return True
    return False


def _counters(text: str) -> dict[str, int]:
    """``name number`` lines (memory.events, memory.oom_control) as a dict; other lines are skipped."""
    found = {}
    for line in text.splitlines():
        name, _, number = line.partition(" ")
        if number.strip().isdigit():
            found[name] = int(number)
    return found


def _write(path: Path, value: int, optional: bool = False) -> None:
    try:
        path.write_text(str(value))
    except OSError:
        if not optional:
            raise


def _enable_v2_controllers(*folders: Path) -> None:
    for folder in folders:
        wanted = {"memory", "pids", "cpu"} & set((folder / "cgroup.controllers").read_text().split())
        enabled = set((folder / "cgroup.subtree_control").read_text().split())
        for controller in sorted(wanted - enabled):
            _write(folder / "cgroup.subtree_control", f"+{controller}", optional=True)  # type: ignore[arg-type]


def _kill_listed(procs: Path) -> None:
    try:
        pids = [int(p) for p in procs.read_text().split()]
    except (OSError, ValueError):
        return
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _remove_cgroup(cgroup: Path) -> None:
    """Kill whatever is left in the cgroup (a fork bomb's children) and remove it."""
    for _ in range(50):
        try:
            pids = [int(p) for p in (cgroup / "cgroup.procs").read_text().split()]
        except OSError:
            return
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.05)
    try:
        cgroup.rmdir()
    except OSError:
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


WORK_ROOT_PREFIX = "cnnbook-grade-"
_WORK_ROOT_NAME = re.compile(r"^cnnbook-grade-(\d+)-[A-Za-z0-9_]+$")


# A kernel's sockets are files in its kernel folder (ZeroMQ's ipc transport), and a socket's path holds at most 107
# bytes (sun_path). Under a deep TMPDIR (pytest-xdist's, an instructor's home) every kernel failed to start
# ("File name too long"): the grader's folders then go in /tmp. The longest paths below the base: a forked kernel's
# sockets (its folder in the zygote's, kernel/k<start>-<port>) and the zygote's own (zygote/kernel/zygote.sock).
SOCKET_PATH_MAX = 107
_BELOW_BASE = len(f"/{WORK_ROOT_PREFIX}4194304-xxxxxxxx/k-xxxxxxxx/kernel/k9999-99")


def work_base() -> Path:
    """Where the grader's kernel folders go: the temporary folder (TMPDIR), or /tmp when TMPDIR is too deep for
    a kernel's sockets."""
    base = Path(tempfile.gettempdir())
    return base if len(os.fsencode(base)) + _BELOW_BASE <= SOCKET_PATH_MAX else Path("/tmp")


def new_work_root() -> Path:
    """A fresh private folder for one learner kernel's sandbox (its passwd, seccomp program, kernel folder),
    named after this grader process so that a sweep can tell when its owner is gone."""
    return Path(tempfile.mkdtemp(prefix=f"{WORK_ROOT_PREFIX}{os.getpid()}-", dir=work_base()))


def sweep_stale_work_roots() -> None:
    """Remove kernel folders left by a grader process that no longer exists (one killed with SIGKILL, or by the
    OOM killer, cannot remove its own): only this account's, named by new_work_root, whose process is gone."""
    bases = {Path(tempfile.gettempdir()), work_base()}
    for folder in [f for base in bases for f in base.glob(f"{WORK_ROOT_PREFIX}*")]:
        match = _WORK_ROOT_NAME.match(folder.name)
        try:
            mine = folder.lstat().st_uid == os.geteuid() and stat.S_ISDIR(folder.lstat().st_mode)
        except OSError:
            continue
        if match and mine and not _alive(int(match[1])):
            remove_tree(folder)


def sweep_stale() -> None:
    """Remove cgroups and kernel folders left by a grader process that no longer exists. Only ours (by name), and
    only those whose creator is provably gone: a grader running at the same time keeps every one of its own."""
    folders = [*(CGROUP_ROOT / "cnnbook").glob("cnnbook-*")]
    for controller in ("memory", "pids", "cpu"):
        folders += (CGROUP_ROOT / controller).glob("cnnbook-*")
    for folder in folders:
        match = _NAME.match(folder.name)
        if match and not _alive(int(match[1])):
            _remove_cgroup(folder)
    sweep_stale_work_roots()
