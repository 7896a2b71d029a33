"""The grader's limits: ONE place for each, as nbgrader-style configurable traits with help text.

Every default is written once, here. An instructor changes one in ``nbgrader_config.py`` the way nbgrader's own
settings are changed (``c.GradingLimits.cell_seconds = 90``); nbgrader's ``Execute.timeout`` is derived from the
same value inside that file. ``grade``, ``check``, ``progress`` and the CLI's defaults (and their ``--help``)
read the configured values through :func:`grading_limits`; ``--timeout``/``--memory`` override them for one run.
A copy of the course without ``nbgrader_config.py`` (a learner's bundle) gets the defaults below.

This module imports only traitlets: ``nbgrader_config.py`` imports it while it is being loaded.
"""
from __future__ import annotations

from pathlib import Path

from traitlets import Bool, Float, Integer
from traitlets.config import Config, Configurable

ROOT = Path(__file__).resolve().parent.parent
CONFIG_FILE = "nbgrader_config.py"
GIB, MIB = 2 ** 30, 2 ** 20


class GradingLimits(Configurable):
    """What one submission may use while it is graded (``grade``) or self-checked (``check``)."""

    cell_seconds = Float(60.0, help="Seconds one cell or one test may run before it is stopped (the rest of the "
                                    "notebook still runs). nbgrader's Execute.timeout follows it.").tag(config=True)
    submission_factor = Float(20.0, help="A whole submission (its cells and tests together) may run for this many "
                                         "times cell_seconds; what is left after that is not run, except the tests' "
                                         "hidden parts (they run last), which have at least one cell_seconds "
                                         "together.").tag(config=True)
    memory_gib = Float(2.0, help="GiB of memory for all processes of one submission together (cgroup), and for "
                                 "each one (prlimit).").tag(config=True)
    max_processes = Integer(128, help="Processes and threads one submission may run (torch starts one thread "
                                      "per core).").tag(config=True)
    output_bytes = Integer(1_000_000, help="Bytes of output kept per cell; the rest is dropped and the submission "
                                           "flagged output-limit.").tag(config=True)
    disk_mib = Integer(256, help="MiB in each of the kernel's two scratch folders (home, /tmp); counted in "
                                 "memory_gib too.").tag(config=True)
    file_mib = Integer(256, help="MiB of the largest file a process of the submission may write.").tag(config=True)
    forked_kernels = Bool(True, help="As root with bubblewrap, fork each learner's kernel from a process of the "
                                     "worker that has imported the lesson's libraries once (autograde/forked.py, "
                                     "docs/forked-kernels.md: about 2 s of CPU less per notebook); False starts "
                                     "each kernel in a sandbox of its own.").tag(config=True)

    def limits(self, cell_seconds: float | None = None, memory_gib: float | None = None) -> dict:
        """The sandbox's limits (``autograde.sandbox.Limits`` fields, in bytes), with one run's overrides."""
        cell = float(self.cell_seconds if cell_seconds is None else cell_seconds)
        memory = float(self.memory_gib if memory_gib is None else memory_gib)
        return {"memory_bytes": int(memory * GIB), "max_processes": int(self.max_processes), "cell_seconds": cell,
                "submission_seconds": cell * float(self.submission_factor), "output_bytes": int(self.output_bytes),
                "disk_bytes": int(self.disk_mib) * MIB, "file_bytes": int(self.file_mib) * MIB,
                "forked_kernels": bool(self.forked_kernels)}


def course_config(root: Path | None = None) -> Config:
    """``nbgrader_config.py`` of the course at ``root`` (the project by default), read with traitlets as nbgrader
    reads it; an empty Config when there is none."""
    folder = ROOT if root is None else Path(root)
    if not (folder / CONFIG_FILE).is_file():
        return Config()
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader(CONFIG_FILE, path=str(folder)).load_config()


def grading_limits(root: Path | None = None) -> GradingLimits:
    """The limits as the course configures them (``c.GradingLimits...`` in nbgrader_config.py), else the defaults."""
    return GradingLimits(config=course_config(root))


def help_text() -> str:
    """Every limit with its default and help, as nbgrader_config.py takes them (for README and ``--help``)."""
    return "\n".join(f"c.GradingLimits.{name} = {trait.default_value!r}: {trait.help}"
                     for name, trait in sorted(GradingLimits.class_traits(config=True).items()))
