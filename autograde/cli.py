"""The ``cnn-course`` command (installed with the package): the course's commands under one name.

``cnn-course lab [--instructor]`` is ``python -m cnnbook.lab``; every other command is
``python -m autograde ...`` (``check``, ``release``, ``grade``, ``package-students``).
"""
from __future__ import annotations

import sys

LAB_HELP = ("open JupyterLab on the lessons (python -m cnnbook.lab): --instructor turns nbgrader's instructor tools "
            "on; --lang ko opens the Korean edition (한국어판)")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["lab"]:
        from cnnbook.lab import main as lab

        return lab(args[1:])
    from .__main__ import main as autograde

    return autograde(args, prog="cnn-course", lab=LAB_HELP)


if __name__ == "__main__":
    sys.exit(main())
