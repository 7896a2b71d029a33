"""How a failed check shows in a learner's notebook: a short box that teaches, not a traceback.

Installed by ``import cnnbook`` (every lesson's first cell imports it) when the code runs inside IPython
(JupyterLab, Notebook, nbclient); outside IPython nothing changes. Three things change in the notebook:

- A :class:`cnnbook.checks.CheckFailed` renders as its own message in a box (what was checked, expected vs
  got, the named slip, the hint) instead of ~20 lines of traceback through ``cnnbook/checks.py``. It is
  still an ``AssertionError``: nbgrader and the grader count it as a failed test exactly as before.
- A ``NameError`` in a test cell for a name an answer cell defines says why the name is missing: that
  answer cell stopped with a ``SyntaxError`` (with its line), or with another error, or has not run yet.
- A ``NotImplementedError`` from an exercise's stub, raised in a test cell, says that the exercise is not
  answered yet.

- A cell that stops with an error (of any kind) scrolls itself into view: Run All stops there, and JupyterLab
  would otherwise leave the view on the last cell of the notebook (``scroll_here``).

Every other error keeps IPython's normal traceback. Nothing here runs during grading's verdicts: the
grader runs test cells in its own process, where IPython is not running.
"""
from __future__ import annotations

import re
import sys
import traceback
from typing import Any

from .i18n import _

RED, BOLD, DIM, RESET = "\x1b[31m", "\x1b[1m", "\x1b[2m", "\x1b[0m"
RULE = "─" * 60

# Top-level names a cell defines, found with a regular expression so that cells which do not parse
# (a SyntaxError) are covered too.
_DEFINES = re.compile(r"^(?:async\s+)?(?:def|class)\s+([A-Za-z_]\w*)|^([A-Za-z_]\w*)\s*(?::[^=]*)?=(?!=)", re.MULTILINE)


def box(title: str, lines: list[str], footer: str | None = None) -> list[str]:
    """The lines of a short framed message (IPython shows the list as the error's traceback)."""
    out = [f"{RED}{BOLD}✘ {title}{RESET}", f"{DIM}{RULE}{RESET}"]
    out += lines
    if footer:
        out += [f"{DIM}{RULE}{RESET}", footer]
    return ["\n".join(out)]


def check_failed_box(err: BaseException) -> list[str]:
    """The box for a failed check: what was checked, then its explanation lines and the hint."""
    what = getattr(err, "what", "") or ""
    lines = list(getattr(err, "lines", []) or [])
    hint = getattr(err, "hint", None)
    if not what and not lines:                      # a CheckFailed made from a plain message
        text = str(err).splitlines() or [_("this check failed.")]
        what, lines = text[0].rstrip(":"), [ln.strip() for ln in text[1:]]
    body = []
    for line in lines:
        first, *rest = str(line).splitlines() or [""]
        body.append(f"  {first}")
        body += [f"  {more}" for more in rest]
    if hint:
        body.append(f"  {BOLD}{_('Hint:')}{RESET} {hint}")
    return box(_("Check failed: {what}").format(what=what), body,
               _("Change your answer in the cell above, run it (Shift+Enter), then run this test cell again."))


class _NotebookState:
    """What the kernel has seen: the cell running now, and the names of cells that stopped with an error."""

    def __init__(self, shell):
        self.shell = shell
        self.current_cell = ""
        # name -> (kind of error, text) for names whose defining cell failed on its last run
        self.broken: dict[str, tuple[bool, str, str]] = {}

    # IPython events ------------------------------------------------------------------------------------
    def pre_run_cell(self, info=None) -> None:
        self.current_cell = getattr(info, "raw_cell", "") or ""

    def post_run_cell(self, result=None) -> None:
        if result is not None and (getattr(result, "error_before_exec", None) is not None
                                   or getattr(result, "error_in_exec", None) is not None):
            scroll_here()
        try:
            cell = getattr(getattr(result, "info", None), "raw_cell", None) or self.current_cell
            if _is_test_cell(cell):
                return
            names = defined_names(cell)
            if not names:
                return
            before = getattr(result, "error_before_exec", None)
            during = getattr(result, "error_in_exec", None)
            if before is not None:
                entry = (isinstance(before, SyntaxError), type(before).__name__, _syntax_text(before))
            elif during is not None:
                entry = (False, type(during).__name__, f"{type(during).__name__}: {during}")
            else:
                for name in names:
                    self.broken.pop(name, None)
                return
            for name in names:
                self.broken[name] = entry
        except Exception:  # noqa: BLE001 - a display helper must never break the learner's kernel
            pass

    # the custom exception handler ----------------------------------------------------------------------
    def handle(self, shell, etype, value, tb, tb_offset=None):
        stb = None
        try:
            if _is_test_cell(self.current_cell):
                if isinstance(value, NameError):
                    stb = self.name_error_box(value)
                elif isinstance(value, NotImplementedError):
                    stb = not_answered_box(tb)
        except Exception:  # noqa: BLE001 - fall back to IPython's own traceback
            stb = None
        if stb is None:
            shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
        else:
            shell._get_exc_info((etype, value, tb))     # keeps sys.last_traceback for %debug
            shell._showtraceback(etype, value, stb)

    def name_error_box(self, err: NameError) -> list[str] | None:
        name = getattr(err, "name", None) or _name_from_message(str(err))
        if not name:
            return None
        if name in self.broken:
            syntax, kind, text = self.broken[name]
            if syntax:
                lines = ["  " + _("`{name}` does not exist: the cell that defines it has a {kind}, so Python could "
                                  "not run any of it.").format(name=name, kind=kind), f"  {text}"]
                footer = _("Fix that line in the cell that defines `{name}`, run it (Shift+Enter), then run this "
                           "test cell again.").format(name=name)
            else:
                lines = ["  " + _("`{name}` does not exist: the cell that defines it stopped with an error before "
                                  "`{name}` was made.").format(name=name), f"  {text}"]
                footer = _("Fix the error in the cell that defines `{name}`, run it, then run this test cell "
                           "again.").format(name=name)
            return box(_("`{name}` is not defined").format(name=name), lines, footer)
        lines = ["  " + _("This test uses `{name}`, which does not exist in the notebook's Python yet.").format(name=name),
                 "  " + _("The cell that defines `{name}` (usually the answer cell just above) has not run since the "
                          "notebook was opened or the kernel restarted, or it stopped with an error.").format(name=name)]
        return box(_("`{name}` is not defined").format(name=name), lines,
                   _("Run the cells above this one (Run > Run All Above Selected Cell) and look for an error, "
                     "then run this test cell again."))


# Run once by JupyterLab when the output is shown (trusted outputs only: a notebook opened untrusted drops the
# script, and the empty, hidden line is all that remains). The time check keeps a reopened notebook where
# its reader is: only an error that just happened moves the view.
SCROLL_SCRIPT = """<div class="cnnbook_scroll_here" style="display:none"></div><script>
(() => {
  const here = document.currentScript;
  const row = here && here.closest('.jp-OutputArea-child');
  if (row) row.style.display = 'none';
  if (Math.abs(Date.now() - %d) > 60000) return;
  setTimeout(() => {
    const cell = here && here.closest('.jp-Cell, .cell');
    if (cell) cell.scrollIntoView({block: 'center'});
  }, 100);
})();
</script>"""


def scroll_here() -> None:
    """Bring the cell that is running into view in JupyterLab (a hidden output with a one-time script).

    Called when a cell stops with an error: Run All stops there, but JupyterLab has already moved the view
    to the notebook's last cell. Nothing happens while grading, and nothing outside IPython.
    """
    try:
        from . import grading_mode

        if grading_mode():
            return
        import time

        from IPython.display import HTML, display

        display(HTML(SCROLL_SCRIPT % int(time.time() * 1000)))
    except Exception:  # noqa: BLE001 - a display helper must never break the learner's kernel
        pass


def not_answered_box(tb) -> list[str]:
    frames = traceback.extract_tb(tb)
    name = frames[-1].name if frames else ""
    if not name or name == "<module>":
        return box(_("Not answered yet"), ["  " + _("This exercise still raises NotImplementedError: it has not "
                                                    "been answered yet.")],
                   _("Write your answer in the cell above, run it (Shift+Enter), then run this test cell again."))
    return box(_("`{name}` is not answered yet").format(name=name),
               ["  " + _("`{name}` still raises NotImplementedError: its body is the placeholder of the "
                         "exercise.").format(name=name)],
               _("Replace the `raise NotImplementedError(...)` line of `{name}` with your answer, run that cell "
                 "(Shift+Enter), then run this test cell again.").format(name=name))


def defined_names(cell: str) -> list[str]:
    """Names a cell defines at its top level (def, class, assignment), even when it does not parse."""
    return [a or b for a, b in _DEFINES.findall(cell or "")]


def _is_test_cell(cell: str) -> bool:
    return "cnnbook.checks import" in (cell or "")


def _name_from_message(message: str) -> str | None:
    match = re.search(r"name '([A-Za-z_]\w*)' is not defined", message)
    return match.group(1) if match else None


def _syntax_text(err: BaseException) -> str:
    if isinstance(err, SyntaxError):
        where = f"line {err.lineno}: " if err.lineno else ""
        code = f"\n      {err.text.strip()}" if err.text and err.text.strip() else ""
        return f"{where}{err.msg}{code}"
    return f"{type(err).__name__}: {err}"


_installed: dict[int, _NotebookState] = {}


def install(shell: Any = None) -> bool:
    """Set the notebook's handlers up once per IPython shell; return whether IPython is running."""
    if shell is None:
        ipython = sys.modules.get("IPython")
        get = getattr(ipython, "get_ipython", None)
        shell = get() if get else None
    if shell is None or not hasattr(shell, "set_custom_exc"):
        return False
    if id(shell) in _installed:
        return True
    state = _NotebookState(shell)
    shell.events.register("pre_run_cell", state.pre_run_cell)
    shell.events.register("post_run_cell", state.post_run_cell)
    shell.set_custom_exc((NameError, NotImplementedError), state.handle)
    _installed[id(shell)] = state
    return True
