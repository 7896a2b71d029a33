"""How a failed check shows in a learner's notebook: a short box that teaches, not a traceback.

Installed by ``import cnnbook`` (every lesson's first cell imports it) when the code runs inside IPython
(JupyterLab, Notebook, nbclient); outside IPython nothing changes. Three things change in the notebook:

- A :class:`cnnbook.checks.CheckFailed` renders as its own message in a box (what was checked, expected vs
  got, the named slip, the hint) instead of ~20 lines of traceback through ``cnnbook/checks.py``. It is
  still an ``AssertionError``: nbgrader and the grader count it as a failed test exactly as before.
- A ``NameError`` in a test cell for a name an answer cell defines says why the name is missing: that
  answer cell stopped with a ``SyntaxError`` (with its line), or with another error (with the cell's line where
  it happened), or has not run yet; "line N" is said in the learner's language. A ``NameError`` raised inside the
  learner's own function for a name no cell failed to define (a typo in its body) is not the test's: it shows as
  an error that escaped the test, with the learner's line.
- A ``NotImplementedError`` from an exercise's stub, raised in a test cell, says that the exercise is not
  answered yet.
- Any other error that escapes a test cell (outside a check: the learner's network fails inside the test's own
  helper, a function returns something the test cannot use) shows as the same kind of box: which test stopped,
  at which line of the test cell, where in the learner's code, the error itself and the hidden case if one was
  being tried (``error_in_test_box``). It keeps its type: the grader, which runs test cells in its own process,
  reports it exactly as before.

- A cell that stops with an error (of any kind) scrolls itself into view: Run All stops there, and JupyterLab
  would otherwise leave the view on the last cell of the notebook (``scroll_here``).

An error outside a test cell keeps IPython's normal traceback; when it is one learners typically meet (a Linear
layer that does not fit, float64 input, ``/`` where ``//`` was meant...), one line after it says what it usually
means, in the learner's language (``cnnbook.errors``), as the box of an error in a test cell does. Nothing here runs during grading's verdicts: the
grader runs test cells in its own process, where IPython is not running.
"""
from __future__ import annotations

import re
import sys
import traceback
import warnings
from typing import Any

from .errors import meaning
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
    body = _indented(lines)
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
        # name -> what stopped the cell meant to make it: a demonstration cell that caught its error and said so
        # (what_failed) on its last run, before or at the statement that binds the name; and what the name held then
        # (:meth:`_held`: a name the learner has made since, by whatever means, is no longer unfinished)
        self.unfinished: dict[str, tuple[str, object]] = {}
        self.reported = False           # the cell running now said what failed (what_failed)
        self.recorded: set[str] = set()  # the names it did not make
        self.figures_before: set[int] = set()   # pyplot's figures open when the cell running now started

    # IPython events ------------------------------------------------------------------------------------
    def pre_run_cell(self, info=None) -> None:
        self.current_cell = getattr(info, "raw_cell", "") or ""
        self.reported = False
        self.recorded = set()
        try:
            self.figures_before = set(_open_figures())
        except Exception:  # noqa: BLE001 - a display helper must never break the learner's kernel
            self.figures_before = set()

    def close_half_drawn_figures(self) -> None:
        """Close the pyplot figures the cell running now opened and has not shown: a demonstration cell that stopped
        part-way through drawing (lesson 02's show_maps with an edge_magnitude that returned None: three empty frames
        under the cell's sentence of what failed, in a Korean trial) shows its sentence, not empty axes. Figures open
        before the cell (a learner's ``%matplotlib widget`` figure) are left as they are."""
        pyplot = sys.modules.get("matplotlib.pyplot")
        for number in _open_figures():
            if number not in self.figures_before and pyplot is not None:
                pyplot.close(number)

    def post_run_cell(self, result=None) -> None:
        if result is not None and (getattr(result, "error_before_exec", None) is not None
                                   or getattr(result, "error_in_exec", None) is not None):
            scroll_here()
        try:
            cell = getattr(getattr(result, "info", None), "raw_cell", None) or self.current_cell
            if _is_test_cell(cell):
                return
            if not self.reported:
                for name, _line in assigned_names(cell):
                    self.unfinished.pop(name, None)
            else:           # what they hold as the cell ends (a placeholder its handler set after what_failed)
                for name, (said, _held) in list(self.unfinished.items()):
                    if name in self.recorded:
                        self.unfinished[name] = said, self._held(name)
            names = defined_names(cell)
            if not names:
                return
            before = getattr(result, "error_before_exec", None)
            during = getattr(result, "error_in_exec", None)
            if before is not None:
                entry = (isinstance(before, SyntaxError), type(before).__name__, _syntax_text(before))
            elif during is not None:
                entry = (False, type(during).__name__, _runtime_text(during))
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
        try:
            self._handle(shell, etype, value, tb, tb_offset)
        except KeyboardInterrupt:
            # The stop button pressed again while the box was made (a deep stack, torch's, takes a moment): one line,
            # as IPython's own showtraceback says then. A handler that raises is unregistered by IPython for the rest
            # of the session (every box gone), and the learner read a traceback of this module's insides.
            print("\nKeyboardInterrupt", file=sys.stderr)

    def _handle(self, shell, etype, value, tb, tb_offset=None):
        stb = None
        if isinstance(value, KeyboardInterrupt) and _grading():
            # the grader's interrupt at a cell's time limit, not the learner's: IPython's traceback, as without this
            # handler (the grader says the cell ran past its time limit)
            shell.showtraceback((etype, value, tb), tb_offset=tb_offset, running_compiled_code=True)
            return
        try:
            if isinstance(value, KeyboardInterrupt):
                stb = stopped_box(tb, self.current_cell)
            elif _is_test_cell(self.current_cell):
                if isinstance(value, NameError):
                    stb = self.name_error_box(value, tb)
                elif isinstance(value, NotImplementedError):
                    stb = not_answered_box(tb)
                if stb is None and not hasattr(value, "_render_traceback_"):   # a failed check has its own box
                    stb = error_in_test_box(value, tb, self.current_cell)
        except Exception:  # noqa: BLE001 - fall back to IPython's own traceback
            stb = None
        if stb is None:
            broken = self.broken_name(value)
            note = "\n  ".join(broken) if broken else self.knock_on(self.current_cell, value)
            stb = self.explained_traceback(shell, etype, value, tb, tb_offset, note)
        if stb is None:
            # A cell that does not parse (IPython's "incomplete input": its traceback holds IPython's frames only) is
            # shown as IPython shows it without this handler: Python's message and the caret, not IPython's insides.
            ran = not isinstance(value, SyntaxError) or any(_is_cell_file(f.filename) for f in traceback.extract_tb(tb))
            shell.showtraceback((etype, value, tb), tb_offset=tb_offset, running_compiled_code=ran)
        else:
            shell._get_exc_info((etype, value, tb))     # keeps sys.last_traceback for %debug
            shell._showtraceback(etype, value, stb)

    @staticmethod
    def explained_syntax_error(shell, original):
        """IPython's ``showsyntaxerror`` (a cell that does not parse never reaches ``handle``), with one line more at
        the end of its message when cnnbook.errors explains it (a full-width colon, a bracket never closed)."""
        def showsyntaxerror(filename=None, running_compiled_code=False):
            try:
                etype, value, tb = shell._get_exc_info()
                usually = meaning(value) if isinstance(value, SyntaxError) else ""
                if usually and not getattr(shell, "call_pdb", False):
                    if filename:                                # as IPython's own does
                        value.filename = filename
                    frames = traceback.extract_tb(tb) if running_compiled_code else []
                    stb = shell.SyntaxTB.structured_traceback(etype, value, frames)
                    shell._showtraceback(etype, value, [*stb, f"{BOLD}{_('What it usually means:')}{RESET} {usually}"])
                    return None
            except Exception:  # noqa: BLE001 - fall back to IPython's own message
                pass
            return original(filename, running_compiled_code)
        return showsyntaxerror

    def broken_name(self, err: BaseException) -> tuple[str, str] | None:
        """For a NameError of a name whose cell stopped with an error (or could not be read): that it does not exist
        and why, and how that cell stopped (its line, Python's message); else None. Said in a test cell's box, and
        under IPython's traceback in any other cell (a learner who called their function in a cell of their own,
        after its cell did not parse, read only "name 'f' is not defined")."""
        name = (getattr(err, "name", None) or _name_from_message(str(err))) if isinstance(err, NameError) else None
        if not name or name not in self.broken:
            return None
        syntax, kind, text = self.broken[name]
        said = (_("`{name}` does not exist: Python could not read the cell that defines it ({kind}), so none of it "
                  "ran.") if syntax else
                _("`{name}` does not exist: the cell that defines it stopped with an error before `{name}` was "
                  "made.")).format(name=name, kind=kind)
        return said, text

    def knock_on(self, cell: str, err: BaseException | None = None) -> str:
        """When ``cell`` uses names that an earlier demonstration cell did not make (it stopped, and said so with
        :func:`what_failed`): that, and what stopped it; else "", and for ``err`` a NameError of another name (a
        name of the cell's own misspelt: its own error)."""
        own = {name for name, _line in assigned_names(cell)}
        needed = [name for name in read_names(cell) if name in self.unfinished and name not in own
                  and self.unfinished[name][1] == self._held(name)]
        missing = getattr(err, "name", None) if isinstance(err, NameError) else None
        if not needed or (type(missing) is str and missing not in needed):
            return ""
        shown = ", ".join(f"`{name}`" for name in needed[:3]) + (", ..." if len(needed) > 3 else "")
        return _("This cell uses {names} from an earlier cell, which stopped before making them ({error}). Make "
                 "that cell run first (its message says what it needs); the error here follows from it.").format(
            names=shown, error=self.unfinished[needed[0]][0])

    def _held(self, name: str) -> object:
        """What ``name`` holds in the notebook now, by identity (the object's id and class; "" when it is not
        defined); None when the notebook's namespace is not known."""
        namespace = getattr(self.shell, "user_ns", None)
        if not isinstance(namespace, dict):
            return None
        if name not in namespace:
            return ""
        value = namespace[name]
        return id(value), id(type(value))

    def record_failure(self, err: BaseException, said: str) -> None:
        """The cell running now caught ``err``: the names it binds at or after the statement that failed are not
        made (or not made anew), for the cells that use them later (:meth:`knock_on`)."""
        self.reported = True
        frames = traceback.extract_tb(err.__traceback__) if err.__traceback__ is not None else []
        at = frames[0].lineno if frames and frames[0].name == "<module>" and frames[0].lineno else 0
        bound = assigned_names(self.current_cell)
        for name, _line in bound:
            self.unfinished.pop(name, None)
        for name, line in bound:
            if line >= at:
                self.unfinished[name] = said, self._held(name)
                self.recorded.add(name)

    @staticmethod
    def explained_traceback(shell, etype, value, tb, tb_offset, note: str = "") -> list[str] | None:
        """IPython's own traceback with one line more at its end, ``note`` when there is one, else what the error
        usually means (cnnbook.errors) for an error learners typically meet; None for any other (IPython shows it as
        always)."""
        try:
            if getattr(shell, "call_pdb", False):       # %pdb on: IPython's own path, which starts the debugger
                return None
            usually = meaning(value)
            if (not usually and not note) or isinstance(value, SyntaxError) or hasattr(value, "_render_traceback_"):
                return None
            stb = shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)
            # a note on this cell's situation (a name an earlier cell did not make) says more than the error's usual
            # meaning ("a function that ends without `return`" for learning_rate None)
            return [*stb, f"{BOLD}{note}{RESET}" if note else f"{BOLD}{_('What it usually means:')}{RESET} {usually}"]
        except Exception:  # noqa: BLE001 - fall back to IPython's own traceback
            return None

    def name_error_box(self, err: NameError, tb=None) -> list[str] | None:
        name = getattr(err, "name", None) or _name_from_message(str(err))
        if not name:
            return None
        if name not in self.broken and _raised_in_learner_code(tb):
            # a name the learner's own function reads (a typo in its body: `group` for `groups`), not one the test
            # needs: the box of an error that escaped the test says where in their code (error_in_test_box)
            return None
        if name in self.broken:
            footer = (_("Fix that line in the cell that defines `{name}`, run it (Shift+Enter), then run this test "
                        "cell again.") if self.broken[name][0] else
                      _("Fix the error in the cell that defines `{name}`, run it, then run this test cell again."))
            said, text = self.broken_name(err) or ("", "")
            return box(_("`{name}` is not defined").format(name=name), [f"  {said}", f"  {text}"], footer.format(name=name))
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


_PASSED = re.compile(r"""\bpassed\(\s*(["'])(.+?)\1\s*\)""")


def name_of_test(cell: str) -> str | None:
    """The name a test cell gives itself in its ``passed("...")`` line (in the learner's language), if any."""
    from .i18n import lesson_text

    found = _PASSED.findall(cell or "")
    return lesson_text(found[-1][1]) if found else None


def _code_line(frame, most: int = 200) -> str:
    """A traceback frame's line, quoted by its start when longer than ``most`` (a table pasted in on one line)."""
    line = (frame.line or "").strip()
    return line if len(line) <= most else line[:most - 4].rstrip() + " ..."


def error_in_test_box(err: BaseException, tb, cell: str) -> list[str]:
    """The box for an error that escaped a test cell outside any check: which test, the test cell's line, the
    learner's line (a frame in another cell of the notebook), the error and the hidden case being tried."""
    from .checks import escaped_error, statement_at

    in_cell, in_notebook = _cell_frames(tb)
    name = name_of_test(cell)
    title = (_("Test stopped with an error: {test}").format(test=name) if name
             else _("This test cell stopped with an error"))
    # the sentence the self-check says too (autograde.judge): the call of the learner's code that raised and the
    # error, or that the test's own code stopped on what that code returned
    kind, message = type(err).__name__, str(err).strip()
    if in_notebook:
        first = escaped_error(kind, message, call=_learner_call(tb, in_cell[-1]) if in_cell else "",
                              function=in_notebook[0].name if in_notebook[0].name.isidentifier() else "")
    else:
        first = escaped_error(kind, message, learner_raised=False)
    lines = [first]
    if in_cell:
        where = in_cell[-1]
        # (not the name of the test's own helper function: a learner's trial read `learner_path` as theirs)
        start, quoted = statement_at(cell, where.lineno or 0)
        call = _learner_call(tb, where) if len(quoted) > 1 else ""
        if call:        # a check written over lines, round the call that raised: the call, as the self-check names it
            start, quoted = where.lineno, [call]
        lines.append(_("Line {line} of the test cell:").format(line=start)
                     + "".join(f"\n    {text}" for text in quoted or [_code_line(where)]))
        if not in_notebook:
            # the test's own code stopped on a value (it unpacked or indexed what a function returned): what the
            # names of the failing expression held, as the self-check says it (autograde.judge)
            lines += _what_was_held(tb, where)
    if in_notebook:
        mine = in_notebook[-1]
        lines.append(_in_function(tb, mine) + f"\n    {_code_line(mine)}")
    usually = meaning(err)
    if usually:
        lines.append(_("What it usually means:") + f"\n    {usually}")
    case = getattr(err, "hidden_case", None)
    if case:
        lines.append(_("The case being tried: {case}").format(case=case))
    body = _indented(lines)
    return box(title, body, _("Fix the code the error points to (usually your answer in a cell above), run that "
                              "cell (Shift+Enter), then run this test cell again."))


def _indented(lines) -> list[str]:
    """A box's body: each of ``lines`` (one may hold line breaks: a quoted statement) indented by two spaces."""
    body = []
    for line in lines:
        first, *rest = str(line).splitlines() or [""]
        body.append(f"  {first}")
        body += [f"  {more}" for more in rest]
    return body


def stopped_box(tb, cell: str) -> list[str]:
    """The box for a cell the learner stopped (the stop button, Kernel > Interrupt: a KeyboardInterrupt): the line it
    was on and the function it was in, the names the cell made before that line, and the usual cause of a cell that
    never ends. Not IPython's traceback: in English, and for a training loop a page of torch's insides (a Korean
    trial of lesson 08)."""
    from .checks import statement_at

    in_cell, in_notebook = _cell_frames(tb)
    lines, start = [], 0
    if in_cell:
        where = in_cell[0]          # the cell's own statement, not a line of a helper the cell defines
        start, quoted = statement_at(cell, where.lineno or 0)
        lines.append(_("Line {line} of this cell:").format(line=start)
                     + "".join(f"\n    {text}" for text in quoted or [_code_line(where)]))
    if in_notebook:
        mine = in_notebook[-1]
        lines.append(_in_function(tb, mine) + f"\n    {_code_line(mine)}")
    made = [] if _is_test_cell(cell) else _defined_before(cell, start)     # a test's helpers are not the learner's
    if made:
        shown = ", ".join(made[:6]) + (", ..." if len(made) > 6 else "")
        lines.append(_("Defined before it stopped, and there for the cells after it: {names}").format(names=shown))
    body = _indented(lines)
    return box(_("You stopped this cell"), body,
               _("The rest of the cell did not run. A cell that never ends usually has a loop whose condition never "
                 "changes (`while n < 10:` with nothing inside that changes n) or does far more work than needed: "
                 "fix it, then run the cell again (Shift+Enter)."))


def _defined_before(cell: str, line: int) -> list[str]:
    """The functions and classes the cell's top-level statements before the one holding ``line`` defined (a learner
    who stopped an endless loop under a correct def: the def stands); [] when the cell does not parse."""
    import ast

    try:
        tree = ast.parse(cell or "")
    except (SyntaxError, ValueError):
        return []
    top = next((node.lineno for node in tree.body if node.lineno <= line <= (node.end_lineno or node.lineno)), 0)
    return list(dict.fromkeys(node.name for node in tree.body if node.lineno < top
                              and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))))


def _grading() -> bool:
    from . import grading_mode

    return grading_mode()


def _learner_call(tb, where) -> str:
    """The expression the test cell's line ``where`` was running when that expression is itself the call of a
    function of another cell of the notebook (``conv_volume(volume, filters, bias)`` inside a ``check_array(...,
    mistakes={...})`` of ten lines), "" otherwise (a check helper that calls it, an expression over lines)."""
    import linecache

    frames = traceback.extract_tb(tb) if tb is not None else []
    try:
        after = frames[frames.index(where) + 1]
    except (ValueError, IndexError):
        return ""
    if after.filename == where.filename or not _is_cell_file(after.filename):
        return ""
    if where.end_lineno != where.lineno or where.colno is None or where.end_colno is None:
        return ""
    line = linecache.getline(where.filename, where.lineno).encode("utf-8")
    return line[where.colno:where.end_colno].decode("utf-8", "replace").strip()


def _what_was_held(tb, where) -> list[str]:
    """"name: what it holds" for the names of the expression the test cell's line ``where`` was running."""
    import linecache

    from .checks import what_names_hold

    try:
        if where.end_lineno != where.lineno or where.colno is None or where.end_colno is None:
            return []
        line = linecache.getline(where.filename, where.lineno).encode("utf-8")
        expression = line[where.colno:where.end_colno].decode("utf-8")
        frame = None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == where.filename:
                frame = tb.tb_frame
            tb = tb.tb_next
        return what_names_hold(expression, {**frame.f_globals, **frame.f_locals}) if frame is not None else []
    except Exception:  # noqa: BLE001 - only a note
        return []


def _cell_frames(tb) -> tuple[list, list]:
    """The traceback's frames in the cell that ran (the one whose top level raised) and in other cells of the
    notebook (a learner's function defined there), innermost last."""
    frames = traceback.extract_tb(tb) if tb is not None else []
    cell_file = next((f.filename for f in frames if f.name == "<module>"), None)
    return ([f for f in frames if f.filename == cell_file],
            [f for f in frames if f.filename != cell_file and _is_cell_file(f.filename)])


def _in_function(tb, frame) -> str:
    """"In your code, in `f`, line N of its cell:" for a function of the learner's answer cells, "In `f`, line N of
    its cell:" for one the lesson's own cells define (a Korean trial: lessons 02 and 07's demonstration cells said
    "your code, in `show_maps`", "in `measure`", helpers the learner never wrote). "Your code" where it is not known
    (no notebook file to read)."""
    answers = _answer_names()
    qualname = ""
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename == frame.filename and tb.tb_lineno == frame.lineno:
            qualname = getattr(code, "co_qualname", code.co_name)
        tb = tb.tb_next
    # a comprehension or a lambda is named by the function it is written in (`nms`, not `<listcomp>`)
    function = frame.name if frame.name.isidentifier() else next(
        (part for part in reversed(qualname.split(".")) if part.isidentifier()), frame.name)
    if answers is not None and qualname and qualname.split(".")[0] not in answers:
        return _("In `{function}`, line {line} of its cell:").format(function=function, line=frame.lineno)
    return _("In your code, in `{function}`, line {line} of its cell:").format(function=function, line=frame.lineno)


_answers: dict[tuple[str, float], frozenset[str]] = {}


def _answer_names() -> frozenset[str] | None:
    """The names the notebook's answer cells (nbgrader ``solution``) define, read from the notebook file Jupyter
    started this kernel for (``JPY_SESSION_NAME``, absolute or beside the working folder); None when there is none."""
    import json
    import os
    from pathlib import Path

    session = os.environ.get("JPY_SESSION_NAME") or ""
    if not session:
        return None
    try:
        path = Path(session)
        if not path.is_file():
            path = Path.cwd() / path.name
        key = (str(path), path.stat().st_mtime)
        if key not in _answers:
            with path.open(encoding="utf-8") as file:
                cells = json.load(file).get("cells", [])
            names: set[str] = set()
            for cell in cells:
                meta = (cell.get("metadata") or {}).get("nbgrader") or {}
                if cell.get("cell_type") == "code" and meta.get("solution") is True:
                    source = cell.get("source", "")
                    names.update(defined_names(source if isinstance(source, str) else "".join(source)))
            _answers.clear()
            _answers[key] = frozenset(names)
        return _answers[key] or None            # a notebook without answer cells: not a lesson's
    except Exception:  # noqa: BLE001 - not known: the learner's, as before
        return None


def _raised_in_learner_code(tb) -> bool:
    """Whether the error was raised in another cell of the notebook than the test cell (a learner's function)."""
    frames = traceback.extract_tb(tb) if tb is not None else []
    _in_cell, in_notebook = _cell_frames(tb)
    return bool(frames) and bool(in_notebook) and frames[-1] == in_notebook[-1]


def _is_cell_file(filename: str) -> bool:
    """Whether a traceback's file is a notebook cell (ipykernel's ``/tmp/ipykernel_N/M.py``, IPython's
    ``<ipython-input-...>``)."""
    return "ipykernel_" in filename or filename.startswith("<ipython-input-")


def what_failed(err: BaseException) -> None:
    """Say briefly, under a demonstration cell's own sentence ("Your conv_block is not ready yet. Finish exercise 2,
    then run this cell again."), what stopped it: the error's first line, the line of the learner's code it came
    from and what it usually means (``cnnbook.errors``); or, when the cell uses names that an earlier demonstration
    cell did not make because it stopped, that (a knock-on error, ``learning_rate`` None after the cell that chooses
    it failed, says nothing useful). The figures the cell opened and has not shown are closed: drawn part-way, they
    would show empty axes under the sentence. A lesson's cell that calls the learner's code catches any error and calls this
    in its handler (``tests/test_test_cells.py`` reads every lesson for it)::

        except Exception as demo_error:   # not ready yet: say so instead of a long traceback
            print("Your conv_block is not ready yet. Finish exercise 2, then run this cell again.")
            what_failed(demo_error)
    """
    said = _first_line(err)
    state = _installed.get(id(_shell())) if _shell() is not None else None
    lines = []
    try:
        knock_on = state.knock_on(state.current_cell, err) if state is not None else ""
        if state is not None:
            state.record_failure(err, said)
    except Exception:  # noqa: BLE001 - a display helper must never break the learner's kernel
        knock_on = ""
    try:
        if state is not None:
            state.close_half_drawn_figures()
    except Exception:  # noqa: BLE001 - a display helper must never break the learner's kernel
        pass
    if knock_on:
        lines.append(knock_on)
    else:
        lines.append(_("The error:") + " " + said)
        try:            # the error is the learner's object: its own attributes may raise (a __getattribute__)
            tb = BaseException.__dict__["__traceback__"].__get__(err)      # not a property of theirs
            in_cell, in_notebook = _cell_frames(tb)
            if in_notebook:
                mine = in_notebook[-1]
                lines.append(_in_function(tb, mine) + " " + _code_line(mine))
            elif in_cell:               # this cell's own line, where what came back was used (unpacked, .to(device))
                lines.append(_this_cells_statement(in_cell[-1]))
        except Exception:  # noqa: BLE001 - a display helper must never break the learner's kernel
            pass
        usually = meaning(err)
        if usually:
            lines.append(_("What it usually means:") + " " + usually)
    print("\n".join(f"  {line}" for line in lines))


def _this_cells_statement(frame) -> str:
    """"Line N of this cell: the statement", a statement over several lines quoted whole (a trial read `print("같은
    결과:", np.allclose(slow, fast),`, cut after its comma)."""
    import linecache

    from .checks import statement_at

    start, quoted = statement_at("".join(linecache.getlines(frame.filename)), frame.lineno or 0)
    quoted = quoted or [_code_line(frame)]
    return (_("Line {line} of this cell:").format(line=start) + " " + quoted[0]
            + "".join(f"\n      {text}" for text in quoted[1:]))


def _first_line(err: BaseException, most: int = 160) -> str:
    """"Kind: the message's first line" ("..." where the message goes on or is cut): PyTorch's errors run to eight
    lines of signatures."""
    try:
        text = str.__str__(str(err)).strip()        # a plain str: __str__ may return a str subclass of theirs
    except Exception:  # noqa: BLE001 - an error whose text cannot be read
        text = ""
    first, *more = text.splitlines() or [""]
    first = first.rstrip()
    if len(first) > most:
        first, more = first[:most - 3].rstrip(), [""]
    if more:
        first = first.rstrip(":").rstrip() + " ..."
    kind = type.__dict__["__name__"].__get__(type(err))      # a metaclass of theirs may make __name__ raise
    return f"{kind}: {first}" if first else kind


def _open_figures() -> list[int]:
    """The numbers of pyplot's open figures (none when the notebook has not imported pyplot)."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    return list(pyplot.get_fignums()) if pyplot is not None else []


def _shell():
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    return get() if get else None


def _bound_at_top(tree):
    """The nodes of a module outside its functions, classes, lambdas and comprehensions (their own scopes); the
    name of a def or class is the module's."""
    import ast

    todo = list(ast.iter_child_nodes(tree))
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            todo += node.decorator_list
            continue
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        todo += ast.iter_child_nodes(node)


def assigned_names(cell: str) -> list[tuple[str, int]]:
    """(name, line) of every binding of a module-level name in a cell (assignments in any block, loops' targets,
    imports, defs and classes); [] when it does not parse."""
    import ast

    try:
        tree = ast.parse(cell or "")
    except (SyntaxError, ValueError):
        return []
    found = []
    for node in _bound_at_top(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.append((node.id, node.lineno))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.append((node.name, node.lineno))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            found += [((alias.asname or alias.name).split(".")[0], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ExceptHandler) and node.name:
            found.append((node.name, node.lineno))
    return found


def read_names(cell: str) -> list[str]:
    """The module-level names a cell reads (at its top level, or in its functions' bodies as globals), in the order
    they first appear; not a function's parameter or local, nor a comprehension's variable (the learner's own names,
    whatever an earlier cell called its). [] when it does not parse."""
    import ast
    import symtable

    try:
        tree = ast.parse(cell or "")
        tables = [symtable.symtable(cell or "", "<cell>", "exec")]
    except Exception:  # noqa: BLE001 - SyntaxError, or nesting too deep for the compiler (RecursionError)
        return []
    module: set[str] = set()
    while tables:
        table = tables.pop()
        top = table.get_type() == "module"
        module |= {symbol.get_name() for symbol in table.get_symbols()
                   if symbol.is_referenced() and (top or symbol.is_global())}
        tables += table.get_children()
    loads = sorted((node.lineno, node.col_offset, node.id) for node in ast.walk(tree)
                   if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in module)
    return list(dict.fromkeys(name for _line, _col, name in loads))


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
        said = _("line {line}: {error}").format(line=err.lineno, error=err.msg) if err.lineno else str(err.msg)
        code = f"\n      {err.text.strip()}" if err.text and err.text.strip() else ""
        usually = meaning(err)
        return f"{said}{code}" + (f"\n  {_('What it usually means:')} {usually}" if usually else "")
    return f"{type(err).__name__}: {err}"


def _runtime_text(err: BaseException) -> str:
    """An error a cell stopped with while it ran, with the line of that cell where it happened (the deepest of the
    cell's own lines: in a function it defines and calls, that function's line) and that line."""
    said = f"{type(err).__name__}: {err}"
    try:
        mine, _elsewhere = _cell_frames(err.__traceback__)
        if not mine or not mine[-1].lineno:
            return said
        code = f"\n      {mine[-1].line.strip()}" if mine[-1].line and mine[-1].line.strip() else ""
        return _("line {line}: {error}").format(line=mine[-1].lineno, error=said) + code
    except Exception:  # noqa: BLE001 - the error alone, as before
        return said


_installed: dict[int, _NotebookState] = {}


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """``warnings.showwarning`` in a notebook: a warning raised in a cell names the line of its cell, in the learner's
    language, not the cell's temporary file (a Korean trial read `/tmp/ipykernel_18905/2024228189.py:9:
    RuntimeWarning: overflow encountered in exp` above a test's box); any other as Python shows it."""
    try:
        if _is_cell_file(str(filename)):
            import linecache

            code = (line if line is not None else linecache.getline(str(filename), lineno)).strip()
            text = _("Warning ({kind}) at line {line} of its cell: {message}").format(
                kind=getattr(category, "__name__", "Warning"), line=lineno, message=message)
            text += "\n" + (f"    {code}\n" if code else "")
        else:
            text = warnings.formatwarning(message, category, filename, lineno, line)
        (file if file is not None else sys.stderr).write(text)
    except Exception:  # noqa: BLE001 - a display helper must never break the learner's kernel
        pass


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
    # ``handle`` keeps IPython's traceback outside test cells; a cell the learner stopped gets a box of its own
    shell.set_custom_exc((Exception, KeyboardInterrupt), state.handle)
    shell.showsyntaxerror = state.explained_syntax_error(shell, shell.showsyntaxerror)
    warnings.showwarning = show_warning
    _installed[id(shell)] = state
    return True
