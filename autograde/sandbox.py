"""The box a learner's kernel runs in: bubblewrap, a memory limit, a process cap, no network.

One sandbox per submission. Inside it the whole machine is read-only; the only writable place is the
submission's own work folder; the folders the grader must keep secret (solutions/, the batch of other
students' notebooks, the gradebook and the output folder, the project's git history) are replaced by
empty ones; there is no network and only the sandbox's own processes are visible. The kernel talks to
the grader over Unix sockets in the work folder. See README "What the sandbox isolates".
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

PIDS_CGROUP = Path("/sys/fs/cgroup/pids")
# cgroup v1 CPU controller: every sandbox gets an equal share of the CPU however many processes it starts,
# so a fork bomb or a runaway subprocess slows only its own submission.
CPU_CGROUP = Path("/sys/fs/cgroup/cpu")


@dataclass
class Limits:
    memory_bytes: int = 2 * 2 ** 30
    max_processes: int = 128          # threads count too (torch starts one per core)
    cell_seconds: float = 60.0        # one cell, or one test
    submission_seconds: float = 600.0
    output_bytes: int = 1_000_000     # output kept per cell; the rest is dropped and flagged


@functools.lru_cache(maxsize=None)
def bubblewrap_works() -> bool:
    """True when bwrap is installed and can create its namespaces on this machine."""
    if not shutil.which("bwrap"):
        return False
    try:
        proc = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                               "--unshare-net", "--unshare-pid", "--unshare-user", "--uid", "65534",
                               "--die-with-parent", "true"], capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def _cgroup_writable(hierarchy: Path = PIDS_CGROUP) -> bool:
    try:
        probe = hierarchy / f"cnnbook-probe-{uuid.uuid4().hex[:8]}"
        probe.mkdir()
        probe.rmdir()
        return True
    except OSError:
        return False


@dataclass
class Sandbox:
    """Build the kernel command for one submission and clean up after it."""

    work: Path
    hidden: list[Path]
    limits: Limits
    isolate: bool = True                 # False: no bubblewrap (the CLI's --no-sandbox), limits only
    cgroups: list[Path] = field(default_factory=list, init=False)

    def kernel_argv(self) -> list[str]:
        python = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        cpu_seconds = int(self.limits.submission_seconds) + 30
        limited = ["prlimit", f"--as={self.limits.memory_bytes}", f"--cpu={cpu_seconds}", f"--fsize={2 ** 30}",
                   "--core=0", "--"]
        if not shutil.which("prlimit"):
            limited = []
        argv = limited + python
        if self.isolate:
            argv = self._bwrap() + argv
            name = f"cnnbook-{uuid.uuid4().hex[:12]}"
            if _cgroup_writable(PIDS_CGROUP):
                pids = PIDS_CGROUP / name
                pids.mkdir()
                (pids / "pids.max").write_text(str(self.limits.max_processes))
                self.cgroups.append(pids)
            if _cgroup_writable(CPU_CGROUP):
                cpu = CPU_CGROUP / name
                cpu.mkdir()
                self.cgroups.append(cpu)
        if self.cgroups:
            joins = " && ".join(f"echo $$ > {cgroup}/cgroup.procs" for cgroup in self.cgroups)
            argv = ["sh", "-c", f'{joins} && exec "$@"', "sandbox"] + argv
        return argv

    def _bwrap(self) -> list[str]:
        argv = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        # Hidden folders become empty; the work folder is bound afterwards, so it may lie inside one.
        for path in self.hidden:
            if path.is_dir():
                argv += ["--tmpfs", str(path)]
            elif path.is_file():
                argv += ["--ro-bind", "/dev/null", str(path)]
        argv += ["--bind", str(self.work), str(self.work), "--chdir", str(self.work),
                 "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                 "--unshare-user", "--uid", "65534", "--gid", "65534",
                 "--unsetenv", "JPY_PARENT_PID", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
        return argv

    def close(self) -> None:
        for cgroup in self.cgroups:
            _remove_cgroup(cgroup)
        self.cgroups = []


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
                os.kill(pid, 9)
            except OSError:
                pass
        import time

        time.sleep(0.05)
    try:
        cgroup.rmdir()
    except OSError:
        pass


def sweep_stale_cgroups() -> None:
    """Remove process-cap cgroups left by a grader that was killed (their processes die with it)."""
    for cgroup in [*PIDS_CGROUP.glob("cnnbook-*"), *CPU_CGROUP.glob("cnnbook-*")]:
        try:
            if not (cgroup / "cgroup.procs").read_text().split():
                cgroup.rmdir()
        except OSError:
            pass
