"""Measure what a learner's function actually does when it runs: lines of Python and the library calls it makes.

A "write it yourself" check asks two things of one call: did the learner's own code loop over every pixel
(lines of Python run in the learner's frames), and did it call a library function that does the exercise for it
(``torch.nn.functional.conv2d``, ``np.pad``, anything in ``scipy``...), directly, through a helper of its own,
an alias, ``getattr`` or ``importlib``. Both are measured while the call runs, where the learner's code runs:

- in a learner's own notebook, the test cell calls :func:`measure` on the function itself;
- under ``python -m autograde check`` and ``grade``, the test cell runs in the grader and the function is a
  remote handle: :mod:`cnnbook.checks` then sends one explicit ``measure`` request, and the grader's shim in
  the learner's kernel runs this same :func:`measure` there, on the inputs the test chose, and sends the
  numbers back as plain data. One code path for every way of running a test.

Calls are recognised by identity (the function object, or the code object of a Python function), never by the
name the learner spelled: a helper the learner calls ``convolve`` is just the learner's code; ``F.conv2d`` hidden
in a class method is still ``F.conv2d``. A forbidden entry is a dotted name: a package or module (``"torch"``,
``"scipy"``: every function defined in it) or one callable (``"numpy.pad"``, ``"torch.nn.functional.conv2d"``); a bare name the notebook binds
(``"conv2d_single"``, ``"correlate_valid"``) means the object bound to it there (another exercise or a helper of
the lesson, however the learner's code reaches it), and the package of that name too, whatever the notebook binds
to it (``import math as torch`` forbids torch all the same). A package's code is also known by its files: a function
remade from its code object with the learner's globals is still that package's. Name library functions by their dotted path: a bare
``"convolve"`` would mean the learner's own ``convolve``.

The course's own package (``cnnbook``) is forbidden in every exercise, save the parts that run beside a learner's
code and compute no answer: its progress bar (``from cnnbook.bars import tqdm``), the translation of the bar's words
(``cnnbook.i18n``) and the lending of the course's stand-ins to a later exercise (``cnnbook.standins``). Those are known by
what their code runs (:data:`_ALLOWED_COURSE_CODE`: each function of those files, fixed when this module is
imported, with its file, line and bytecode), never by a module's name or a file's name alone, so code of the
learner's that claims to be ``cnnbook.bars`` (its ``__name__`` or its file), or another course function reached
through the bar, is still the course's package at work.

This is a teaching measurement: code that switches the tracer off (``sys.settrace(None)``) is reported as such
(``tampered``), but a kernel whose learner rewrote the grader's shim can report any numbers it likes. See
DEVELOPERS.md ("What a kernel can fake").
"""
from __future__ import annotations

import importlib
import os
import sys
import types
import warnings
from typing import Any, Callable, Iterable

_HERE = os.path.dirname(os.path.abspath(__file__))


class _TooManyLines(BaseException):
    """Raised inside the measured call to stop it once it ran more lines than the limit."""


def _library_prefixes() -> tuple[str, ...]:
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, _HERE}
    try:
        import autograde

        prefixes.add(os.path.dirname(os.path.abspath(autograde.__file__)))
    except Exception:  # noqa: BLE001, S110 - a learner's copy may not have the grader
        pass
    return tuple(sorted(p.rstrip(os.sep) + os.sep for p in prefixes if p)) + ("<frozen",)


# What counts as library code, fixed when this module is imported (in a graded kernel by the grader's shim, before any
# learner cell). Worked out at each call, it went through os.path's functions, which a learner's cell may replace:
# `os.path.dirname = lambda path: "/"` made every line "library code", and a loop earned its write-it-yourself point
# with no flag (a hostile trial). The shim's seal holds this tuple by value, as it holds the interpreter's prefixes.
_LIBRARY = _library_prefixes()


def _code_key(code: Any, depth: int = 0) -> tuple | None:
    """What a code object runs (its file, name, first line, bytecode, exception table, names and constants) as
    builtin values only, or None when a part of it is of another type. Read without running any code of a learner's:
    no hash, no == and no method of a value whose exact type is not a builtin one (a constant of the learner's own
    class once ran its __hash__ inside the tracer, where nothing it did was measured)."""
    if type(code) is not types.CodeType or depth > 8:
        return None
    words = (code.co_filename, getattr(code, "co_qualname", code.co_name))      # (co_qualname: Python 3.11+)
    if any(type(word) is not str for word in words):
        return None
    names = code.co_names + code.co_varnames + code.co_freevars + code.co_cellvars
    if any(type(name) is not str for name in names):
        return None
    consts = []
    for const in code.co_consts:
        key = _const_key(const, depth + 1)
        if key is None:
            return None
        consts.append(key)
    return (words, code.co_firstlineno, code.co_flags, code.co_argcount, code.co_posonlyargcount,
            code.co_kwonlyargcount, code.co_code, getattr(code, "co_exceptiontable", b""), names, tuple(consts))


def _const_key(const: Any, depth: int) -> tuple | None:
    kind = type(const)
    if kind is types.CodeType:
        inner = _code_key(const, depth)
        return None if inner is None else ("code", inner)
    if any(kind is plain for plain in (str, int, float, complex, bool, bytes, type(None), type(Ellipsis))):
        return (kind.__name__, const)
    if kind is tuple or kind is frozenset:
        items = [_const_key(item, depth + 1) for item in const]
        if any(item is None for item in items):
            return None
        return (kind.__name__, tuple(items) if kind is tuple else tuple(sorted(items, key=repr)))
    return None


def _allowed_course_code(files: Iterable[str]) -> frozenset:
    """The keys (:func:`_code_key`) of every function and class body defined in ``files`` of this package, compiled
    from their source here (importing cnnbook.bars would import tqdm and ipywidgets into every graded kernel)."""
    keys = set()
    for name in files:
        path = os.path.join(_HERE, name)
        try:
            with open(path, encoding="utf-8") as source:
                module = compile(source.read(), path, "exec", dont_inherit=True)
        except (OSError, SyntaxError, ValueError):   # a copy without its sources: the bar is refused as before
            continue
        todo = [const for const in module.co_consts if type(const) is types.CodeType]
        while todo:
            code = todo.pop()
            key = _code_key(code)
            if key is not None:
                keys.add(key)
            todo.extend(const for const in code.co_consts if type(const) is types.CodeType)
    return frozenset(keys)


# The course's code a learner may run inside a checked function (see the module's notes): the progress bar lessons
# offer (`from cnnbook.bars import tqdm`: a learner's box_iou with a bar over its rows was refused as "your code called
# cnnbook"), the translation of what the bar says when its loop stops, and the lending of the course's stand-ins
# (cnnbook.standins: lesson 10's nms is measured with the course's box_iou lent to it; what that runs is judged
# on its own). Fixed at import, before any learner cell, and
# held by value by the grader's seal (autograde.shim), as _LIBRARY is: a learner cannot add to it.
_ALLOWED_COURSE_FILES = ("bars.py", "i18n.py", "standins.py")
_ALLOWED_COURSE_CODE = _allowed_course_code(_ALLOWED_COURSE_FILES)


def _resolve(name: str, namespace: dict) -> tuple[str | None, set[Any], set[types.CodeType]]:
    """A forbidden name: (module prefix, callables, code objects) that stand for it.

    A bare name (no dot) that the notebook binds (the measured function's globals) means that object: a module
    (``torch``) stands for its package, a function (another exercise, a helper of the lesson) for itself. Any
    other name is a module or a dotted path into one (``numpy.pad``), imported from the installed library.
    """
    parts = name.split(".")
    module = None
    obj: Any = None
    if len(parts) == 1 and name in namespace:
        obj = namespace[name]
        if isinstance(obj, types.ModuleType):
            return obj.__name__, set(), set()
    elif name in sys.modules or (len(parts) == 1 and name not in sys.modules):
        # A package is matched by name: one not imported yet is not imported here (that can take seconds);
        # if the call imports and runs it, its functions' module names give it away.
        return name, set(), set()
    else:
        cut = 0
        for cut in range(len(parts), 0, -1):
            try:
                module = importlib.import_module(".".join(parts[:cut]))
                break
            except Exception:  # noqa: BLE001 - not a module (or not installed): try a shorter prefix
                continue
        if module is None:
            # Not importable here (not installed): nothing of it can run either, but match its name.
            return (name, set(), set()) if len(parts) == 1 or "." in name else (None, set(), set())
        if cut == len(parts):
            return module.__name__, set(), set()
        obj = module
        for part in parts[cut:]:
            obj = getattr(obj, part, None)
            if obj is None:
                return None, set(), set()
    if not callable(obj):
        return None, set(), set()
    funcs, codes = {obj}, set()
    seen = 0
    while obj is not None and seen < 5:         # np.pad -> its dispatcher -> the Python function behind it
        code = getattr(obj, "__code__", None)
        if isinstance(code, types.CodeType):
            codes.add(code)
        for attr in ("__wrapped__", "_implementation", "__func__"):
            inner = getattr(obj, attr, None)
            if inner is not None:
                funcs.add(inner)
                obj = inner
                break
        else:
            obj = None
        seen += 1
    return None, funcs, codes


def _in_module(module_name: Any, prefixes: Iterable[str]) -> str | None:
    if type(module_name) is not str:
        return None
    for prefix in prefixes:
        if module_name == prefix or module_name.startswith(prefix + "."):
            return prefix
    return None


# Fixed at import, as _LIBRARY is: a learner's cell may replace os.sep, or the course's entry in sys.modules.
# Warnings raised in a measured call are kept and shown after it: in a notebook, cnnbook.feedback's show_warning shows
# them, and the course's package is forbidden in every exercise (a LeNet5 using a deprecated torch function was
# refused as calling cnnbook).
_catch_warnings = warnings.catch_warnings
_type_module = type.__dict__["__module__"].__get__
_SEP = os.sep
_PACKAGE = __name__.partition(".")[0]


def _folders(modules: list[str]) -> list[tuple[str, str]]:
    """(where its source files are, the forbidden prefix) of each of ``modules`` imported already: a package's
    folder (with a separator at its end), a plain module's file. Worked out with str's own methods only."""
    folders = []
    for prefix in modules:
        if prefix == _PACKAGE:
            folders.append((_HERE + _SEP, prefix))
            continue
        filename = getattr(sys.modules.get(prefix), "__file__", None)
        if type(filename) is not str or not filename:
            continue
        head, _, tail = filename.rpartition(_SEP)
        folders.append((head + _SEP if tail.startswith("__init__.") else filename, prefix))
    return folders


def measure(func: Callable[..., Any], args: tuple = (), kwargs: dict | None = None, *,
            forbidden: Iterable[str] = (), line_limit: int | None = None) -> dict:
    """Call ``func(*args, **kwargs)`` and report, as plain data, what ran.

    Returns ``{"lines": lines of Python run in the learner's own frames (not in numpy, torch or the grader),
    "stopped": True if the call was stopped after ``line_limit`` lines, "forbidden": the forbidden names it
    called (sorted), "raised": the class name of an exception it raised (or None), "tampered": True if the
    code switched the measurement off}``. The return value itself is not kept.
    """
    kwargs = dict(kwargs or {})
    library = _LIBRARY
    modules: list[str] = []
    funcs: dict[int, str] = {}
    codes: dict[int, str] = {}      # by id: hashing a code object hashes its constants, which may be a learner's
    namespace = getattr(func, "__globals__", None)
    namespace = namespace if isinstance(namespace, dict) else {}
    alive: list[Any] = []           # the callables and code objects whose ids key the tables below, alive while the call runs
    for name in forbidden:
        module, found, found_codes = _resolve(str(name), namespace)
        if module is not None:
            modules.append(module)
        if "." not in str(name) and str(name) != module:
            # A bare name is also the package of that name, whatever the learner's namespace binds to it: `import math
            # as torch` (or a function whose globals say torch = None) once let torch do a "write it yourself" answer.
            modules.append(str(name))
        for f in found:
            funcs[id(f)] = str(name)
        for c in found_codes:
            codes[id(c)] = str(name)
        alive.extend(found)
        alive.extend(found_codes)
    # Where each forbidden package's files are: a function remade from one of its code objects with other globals
    # (types.FunctionType(pair_iou.__code__, globals())) runs the package's code under the learner's module name.
    folders = _folders(modules)
    by_file: dict[str, str | None] = {}
    lines = 0
    called: set[str] = set()
    own: dict[int, tuple[types.CodeType, bool]] = {}       # by id, each with its code object (kept alive)
    allowed = _ALLOWED_COURSE_CODE

    def learner_frame(frame) -> bool:
        code = frame.f_code
        seen = own.get(id(code))
        if seen is not None and seen[0] is code:
            return seen[1]
        filename = code.co_filename
        if type(filename) is str and filename == "<string>":
            # Code made by exec/eval belongs to whoever ran it: a library's generated code (dataclasses,
            # scipy's imports) is the library's, a learner's exec'd loop is the learner's.
            caller = frame.f_back
            return caller is not None and learner_frame(caller)
        # (A file name of a str subclass of the learner's, whose startswith says "library", is the learner's.)
        mine = type(filename) is not str or not filename.startswith(library)
        own[id(code)] = (code, mine)
        return mine

    def local(frame, event, arg):
        nonlocal lines
        if event == "line":
            lines += 1
            if line_limit is not None and lines > line_limit:
                raise _TooManyLines
        return local

    def tracer(frame, event, arg):
        if event != "call":
            return None
        code = frame.f_code
        hit = codes.get(id(code))
        if hit is None:
            if modules:
                # (dict's own get: a function's globals may be a dict subclass of the learner's, whose get would run
                # their code here, unmeasured)
                hit = _in_module(dict.get(frame.f_globals, "__name__"), modules)
            if hit is None and folders:
                filename = code.co_filename
                if type(filename) is not str:
                    filename = None
                elif filename not in by_file:
                    by_file[filename] = next((prefix for folder, prefix in folders if filename.startswith(folder)),
                                             None)
                hit = by_file.get(filename) if filename is not None else None
            if hit == _PACKAGE and _code_key(code) in allowed:
                hit = None                  # the course's progress bar (or its words), as the course wrote it
        if hit is not None:
            called.add(hit)
        return local if learner_frame(frame) else None

    def profiler(frame, event, arg):
        if event != "c_call":
            return
        hit = funcs.get(id(arg))
        if hit is None and modules:
            owner = getattr(arg, "__module__", None)
            if owner is None:
                # type's own __module__, never the attribute as looked up: a metaclass's property would run here
                owner = _type_module(type(getattr(arg, "__self__", None)))
            hit = _in_module(owner, modules)
        if hit is not None:
            called.add(hit)

    raised = None
    stopped = False
    tampered = False
    previous_trace, previous_profile = sys.gettrace(), sys.getprofile()
    with _catch_warnings(record=True) as kept:
        sys.settrace(tracer)
        sys.setprofile(profiler)
        try:
            func(*args, **kwargs)
        except _TooManyLines:
            stopped = True
        except Exception as err:  # noqa: BLE001 - reported by class name: the test decides what it means
            raised = type(err).__name__
        finally:
            # (Stopping the call from the tracer switches tracing off by itself: that is not the learner's doing.)
            tampered = sys.getprofile() is not profiler or (not stopped and sys.gettrace() is not tracer)
            sys.setprofile(previous_profile)
            sys.settrace(previous_trace)
    for shown in kept or ():
        try:
            warnings.showwarning(shown.message, shown.category, shown.filename, shown.lineno, shown.file, shown.line)
        except Exception:  # noqa: BLE001 - showing a warning never changes the measurement
            pass
    return {"lines": int(lines), "stopped": bool(stopped), "forbidden": sorted(called), "raised": raised,
            "tampered": bool(tampered)}
