"""Re-make the locks: ``python requirements/lock.py [pip-compile options, e.g. --upgrade-package nh3]``.

Each profile's ``NAME.in`` lists what it needs directly; pip-compile (pip-tools, in the dev profile) writes
``NAME.txt`` with every transitive dependency pinned. The profiles build on each other (learner <
instructor < dev) and each later lock is constrained by the one before, so a package has one version in
all three. Run it with the dev environment active; pip-compile keeps the existing pins unless told to
upgrade.

torch: the resolver sees the CPU build (``2.13.0+cpu`` on Linux). The lock records ``torch==2.13.0``,
which the CPU build satisfies (a local version label matches a plain ``==``), so the same lock works on
macOS and Windows, where PyPI's build is the CPU one, and on Linux with PyTorch's CPU index.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROFILES = ("learner", "instructor", "dev")
TORCH = re.compile(r"^torch==(\d+(?:\.\d+)*)\+\w+$", re.M)


def lock(profile: str, extra: list[str]) -> Path:
    out = HERE / f"{profile}.txt"
    subprocess.run([sys.executable, "-m", "piptools", "compile", "--quiet", "--no-emit-index-url",
                    "--no-emit-find-links", "--strip-extras", "--allow-unsafe", "--no-header",
                    *extra, "-o", out.name, f"{profile}.in"], cwd=HERE, check=True)
    text = TORCH.sub(r"torch==\1", out.read_text(encoding="utf-8"))
    header = (f"# The {profile} profile, every package pinned: made from {profile}.in by "
              f"`python requirements/lock.py` (pip-compile).\n")
    out.write_text(header + text, encoding="utf-8")
    return out


def main(argv: list[str]) -> int:
    for profile in PROFILES:
        print(f"locked {lock(profile, argv)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
