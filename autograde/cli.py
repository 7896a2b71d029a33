"""The ``cnn-course`` command (installed with the package): the course's commands under one name.

``cnn-course lab [--instructor]`` is ``python -m cnnbook.lab``; every other command is
``python -m autograde ...`` (``check``, ``release``, ``grade``, ``package-students``).
"""
from __future__ import annotations

import sys

LAB_HELP = ("  lab [--instructor] [--lang ko]  open JupyterLab on the lessons (python -m cnnbook.lab); --instructor "
            "turns nbgrader's instructor tools on; --lang ko opens the Korean edition (한국어판)")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["lab"]:
        from cnnbook.lab import main as lab

        return lab(args[1:])
    from .__main__ import main as autograde

    if not args or args[0] in ("-h", "--help"):
        print("usage: cnn-course {lab,check,release,grade,package-students} ...\n\n" + LAB_HELP + "\n")
    return autograde(args, prog="cnn-course")


if __name__ == "__main__":
    sys.exit(main())
