"""Run a lesson's test cell in the grader's own process, against the learner's objects seen through the wall.

The test cell's code (visible and hidden parts, from solutions/, never from the submission) executes in the
grader's judge process (:mod:`autograde.judge_process`: a separate process under a memory limit and the test's
time limit, so a learner object that makes the checking itself huge or slow costs that test only).
A test reads from the notebook only the exercise's own names: those bound at top level by the lesson's answer
cells (:func:`exercise_names`). Everything else it uses (numpy, constants, data) comes from the test cell itself
or from the grader; a test that reads another name from the notebook is a grader-error. Plain data arrives by
value, anything else as a :class:`Remote`, whose calls, attributes and items are requests to the sandbox
answered with plain data. Expected values and references stay in the grader, so nothing the learner's code
patches (numpy, torch, the check helpers, ``assert`` itself, a constant of the notebook) can change a verdict.
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import hashlib
import io
import json
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from .kernel import CellTimeout, KernelDied, LearnerKernel, RemoteError, parse_reply, remote_error
from .plain import MAX_ELEMENTS, NotPlain, TooLarge, decode, encode, loads

HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"
# Classes of these packages stand for a remote object's class, so isinstance(x, nn.Conv2d) works on remote
# objects. Only modules the grader has already imported are looked in; nothing is ever imported for a reply.
TRUSTED_PACKAGES = {"builtins", "torch", "numpy", "collections", "typing"}
OUT_OF_MEMORY = "the test ran out of memory checking your answer"
# A batch of calls (cnnbook.checks.call_each) sends its cases in requests of about this much JSON each.
BATCH_REQUEST_BYTES = 4 * 2 ** 20
# transport(request, seconds) -> the shim's raw reply text; raises CellTimeout, KernelDied, TooLarge, RemoteError.
Transport = Callable[[dict, float], str]
# Attribute names with double underscores a test may read from a learner's object.
DUNDERS = {"__init__", "__code__", "__name__", "__qualname__", "__doc__", "__module__", "__defaults__",
           "__wrapped__", "__func__", "__self__", "__forward__", "__call__"}


class GraderLimitation(BaseException):
    """The test asked for something that cannot cross the wall: a fault of the test, not of the learner."""


class _Wire:
    """Requests to one kernel, all sharing one test's time budget."""

    def __init__(self, transport: Transport, seconds: float):
        self.transport = transport
        self.deadline = time.monotonic() + seconds
        self.seconds = seconds
        self.classes: dict[tuple, type] = {}

    def ask(self, request: dict, extras: dict | None = None, given: tuple[tuple, dict] | None = None) -> Any:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise CellTimeout(f"this test ran past its {self.seconds:g} s limit (an infinite loop?)")
        try:
            raw = parse_reply(self.transport(request, remaining), extras)
        except RemoteError as err:
            raise _as_local_exception(err) from None
        return self.decode(raw, given)

    def call(self, request: dict, args: tuple, kwargs: dict, name: str = "", params: tuple[str, ...] = ()) -> Any:
        """A call request. The test's objects are the test's: an argument the learner's code changed in place in
        the kernel fails the call (``cnnbook.checks.changed_input``) and stays here as it was, so no expected
        value a test computes afterwards from it is the learner's doing; only the arguments the test allowed
        (``cnnbook.checks.may_change``: an optimizer's weights and state) are changed here the same way, as in the
        notebook, and one the result holds is this one, not a copy (a state that keeps the gradient it was given
        keeps the test's)."""
        extras: dict = {}
        value = self.ask({**request, "args": self.encode(args), "kwargs": self.encode(kwargs)}, extras,
                         (args, kwargs))
        refused = self.settle(extras.get("changed"), args, kwargs, name, params)
        if refused is not None:
            raise refused
        return value

    def settle(self, changed: Any, args: tuple, kwargs: dict, name: str,
               params: tuple[str, ...] = ()) -> BaseException | None:
        """The in-place changes a call reports: written back where the test allowed them; elsewhere the call's
        failure (returned). What the kernel says is not trusted: it can only make the learner's call fail, or
        change what the test let the call change."""
        from cnnbook.checks import changed_input, may_change_now

        if changed is not None:
            try:
                changed = self.decode(changed)
            except NotPlain:
                changed = None
        paths = changed.get("paths") if type(changed) is dict else None
        allowed = may_change_now()
        refused: list = []
        for entry in paths[:1000] if type(paths) is list else ():
            if type(entry) is not list or len(entry) != 2 or type(entry[0]) is not list or len(entry[0]) < 2 \
                    or type(entry[0][0]) is not str or entry[0][0] not in ("args", "kwargs"):
                continue                             # not a place among this call's arguments: nothing to do
            if type(entry[0][1]) not in (int, str) or entry[0][1] not in allowed:
                refused.append(entry[0])
                continue
            try:
                target = _argument_at((args, kwargs), entry[0])
            except NotPlain:
                continue
            _write_back(target, entry[1])
        # A probe's positional arguments by the names its test gave them ("its argument x", not "number 2").
        named = [["kwargs", params[place[1]], *place[2:]] if place[0] == "args" and type(place[1]) is int
                 and 0 <= place[1] < len(params) else place for place in refused]
        return changed_input(name, named, in_lists=any(_in_a_list((args, kwargs), place) for place in refused)) \
            if refused else None

    def call_each(self, request: dict, cases: list[tuple[tuple, dict]], name: str = "",
                  params: tuple[str, ...] = ()) -> list:
        """Calls of one function, one per case, in as few requests as the sizes allow (see shim._call_each).

        Each reply is parsed here within the codec's caps, each case's entry decoded on its own budget (as the
        reply to a single call), its error turned into the local exception a single call raises, and its
        in-place changes written back to that case's arguments. Whatever the kernel sends that is not one entry
        per call run (none, too many, not dicts) is a reply in the wrong form: the learner's failure. A case whose
        call changed an argument in place fails as a single call does (see :meth:`call`)."""
        from cnnbook.checks import Called

        encoded = [(self.encode(args), self.encode(kwargs)) for args, kwargs in cases]
        results: list = []
        while len(results) < len(cases):
            chunk: list[dict] = []
            size = 0
            for args_form, kwargs_form in encoded[len(results):]:
                cost = len(json.dumps(args_form)) + len(json.dumps(kwargs_form))
                if chunk and size + cost > BATCH_REQUEST_BYTES:
                    break
                chunk.append({"args": args_form, "kwargs": kwargs_form})
                size += cost
            for entry in self.ask_each({**request, "cases": chunk}, len(chunk)):
                args, kwargs = cases[len(results)]
                if "error" in entry:
                    results.append(Called(error=_as_local_exception(remote_error(entry["error"]))))
                    continue
                try:
                    value = self.decode(entry["value"], (args, kwargs))
                except NotPlain as problem:              # TooLarge included: as a single call's reply
                    results.append(Called(error=problem))
                    continue
                refused = self.settle(entry.get("changed"), args, kwargs, name, params)
                results.append(Called(value) if refused is None else Called(error=refused))
        return results

    def ask_each(self, request: dict, sent: int) -> list[dict]:
        """The entries of one call_each reply: between 1 and ``sent`` dicts, each with "value" or "error"."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise CellTimeout(f"this test ran past its {self.seconds:g} s limit (an infinite loop?)")
        try:
            text = self.transport(request, remaining)
            reply = loads(text)
            if type(reply) is dict and "error" in reply:
                parse_reply(text)                           # raises its RemoteError
        except RemoteError as err:
            raise _as_local_exception(err) from None
        each = reply.get("each") if type(reply) is dict else None
        if type(each) is not list or not 1 <= len(each) <= sent or \
                any(type(e) is not dict or ("value" not in e and "error" not in e) for e in each):
            raise NotPlain("a reply to a batch of calls in the wrong form")
        return each

    def decode(self, raw: Any, given: tuple[tuple, dict] | None = None) -> Any:
        """A reply's value; with ``given`` (the call's args and kwargs), an ``$arg`` is the test's own object."""
        return decode(raw, lambda obj: Remote(self, obj),
                      given=None if given is None else lambda where: _argument_at(given, where))

    def encode(self, value: Any) -> Any:
        def ref(obj: Any):
            if type(obj) is Remote:
                return {"$ref": object.__getattribute__(obj, "_info")["$ref"]}
            return None
        try:
            return encode(value, ref, by_value=MAX_ELEMENTS)
        except TooLarge:
            # Everything decode makes of a reply can be encoded again, within the same caps, so an argument over
            # them holds the learner's answer (returned nested deeper or larger than a request carries): theirs.
            raise
        except NotPlain as err:
            raise GraderLimitation(f"the test tried to hand a {type(value).__name__} to learner code: {err}. "
                                   "Build such objects in a @learner_side function.") from None

    def local_class(self, info: dict) -> type:
        """A class here that stands for the remote object's class (the real one for torch, numpy, builtins)."""
        mro = tuple(info.get("mro") or ())
        if mro in self.classes:
            return self.classes[mro]
        known = [cls for cls in (_resolve(name) for name in mro) if cls is not None]
        if known and _qual(known[0]) == mro[0] and not _value_class(known[0]):
            result = known[0]            # a torch/numpy/builtin class itself, e.g. nn.Conv2d
        else:
            # A learner's class: a stand-in that keeps its name and its torch.nn base classes, so that
            # isinstance(model, nn.Module) holds. Value types (int, ndarray, Tensor...) are never bases:
            # a learner's subclass of them is not a number or an array to the checks.
            # its name as one short word: a learner's class can name itself anything (a million characters, lines
            # that read as the grader's report), and a test shows type(got).__name__
            name = re.sub(r"\W+", "_", str(mro[0]).rsplit(".", 1)[-1]).strip("_")[:80] if mro else ""
            name = name or "object"
            bases = tuple(cls for cls in known if _is_structural(cls))[:1] or (object,)
            try:
                result = type(name, bases, {"__module__": "learner"})
            except TypeError:
                result = type(name, (object,), {"__module__": "learner"})
        self.classes[mro] = result
        return result


def _value_class(cls: type) -> bool:
    """A class whose real instances cross the wall by value (numbers, strings, lists, dicts, numpy arrays and
    scalars, torch tensors): never the class a reference claims. A reference that says it is one is a learner's
    class under a borrowed name (``__module__ = "numpy"; __qualname__ = "ndarray"``) or a real array too large to
    cross: given the real class, checks took it for an array and asked it for what cannot cross (a test's
    ``astype(float)`` became the grader's error, a learner's way out of every failing test); and torch's C++ code
    reads an object whose ``__class__`` says Tensor as a tensor's memory (the judge died: SIGSEGV)."""
    import numpy as np

    if not isinstance(cls, type):
        return False
    values: tuple[type, ...] = (int, float, complex, str, bytes, bytearray, bool, list, tuple, dict, set, frozenset,
                                np.ndarray, np.generic)
    torch = sys.modules.get("torch")
    if torch is not None:
        values += (torch.Tensor,)
    return issubclass(cls, values)


def _object_at(given: tuple[tuple, dict], where: Any) -> Any:
    """The test's own object at ``where`` (["args", 1, "v"]: the state dict's "v" of the second argument) among a
    call's arguments, as the kernel names it; NotPlain for a reference to none (the kernel's word is not trusted)."""
    if type(where) is not list or not 2 <= len(where) <= 8 or where[0] not in ("args", "kwargs"):
        raise NotPlain("a malformed argument's reference")
    obj: Any = given[0] if where[0] == "args" else given[1]
    for step in where[1:]:
        if type(obj) in (list, tuple) and type(step) is int and 0 <= step < len(obj):
            obj = obj[step]
        elif type(obj) is dict and type(step) in (str, int) and step in obj:
            obj = obj[step]
        else:
            raise NotPlain("a reference to no argument")
    return obj


def _argument_at(given: tuple[tuple, dict], where: Any) -> Any:
    """The array or tensor at ``where`` among a call's arguments (:func:`_object_at`); NotPlain for anything else."""
    import numpy as np

    obj = _object_at(given, where)
    if type(obj) is np.ndarray or (type(obj).__module__.startswith("torch") and hasattr(obj, "copy_")):
        return obj
    raise NotPlain("a reference to an argument that is no array or tensor")


def _in_a_list(given: tuple[tuple, dict], where: list) -> bool:
    """Whether the place ``where`` the kernel says a call changed is in one of the test's Python lists or dicts
    (["args", 0]: the list itself, sorted in place; ["args", 0, 2]: its third item replaced), not in an array: the
    failure then says how lists are left alone. Read from the test's own objects; a place that names none: False."""
    try:       # the argument itself, or what holds the last step
        return type(_object_at(given, where if len(where) <= 2 else where[:-1])) in (list, dict)
    except NotPlain:
        return False


def _write_back(target: Any, new: Any) -> None:
    """Make the grader's own array or tensor ``target`` what the learner's code turned its copy into."""
    import numpy as np

    if type(target) is np.ndarray:
        if type(new) is np.ndarray and new.shape == target.shape and target.flags.writeable:
            np.copyto(target, new, casting="unsafe")
        elif target.flags.writeable and target.size and target.dtype.kind in "fc":
            target.fill(np.nan)           # changed beyond copying back (or broken): it did not stay unchanged
        return
    if type(target).__module__.startswith("torch") and hasattr(target, "copy_"):
        import torch

        with torch.no_grad():
            if type(new) in (torch.Tensor, torch.nn.Parameter) and tuple(new.shape) == tuple(target.shape):
                target.copy_(new)
            elif target.numel() and target.is_floating_point():
                target.fill_(float("nan"))


def _is_structural(cls: type) -> bool:
    """Classes whose isinstance a test may ask of a learner's object: modules, optimizers, datasets."""
    module = cls.__module__
    if not module.startswith("torch"):
        return False
    import torch

    return not issubclass(cls, torch.Tensor) and cls.__module__.split(".")[1:2] in (["nn"], ["optim"], ["utils"])


def _qual(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _resolve(qualname: Any) -> type | None:
    """The class named ``qualname`` if a trusted package the grader has already imported defines it.

    Nothing is imported, and no attribute hook runs: only the namespaces (``__dict__``) of modules already
    in sys.modules and of their classes are read, so a learner's mro naming "this" or "unittest.__main__"
    finds nothing and does nothing.
    """
    if type(qualname) is not str or len(qualname) > 300:
        return None
    module_name, _, name = qualname.rpartition(".")
    if module_name.split(".")[0] not in TRUSTED_PACKAGES or "<" in name:
        return None
    parts = name.split(".")
    module = None
    # The module is the longest prefix that is an imported module: "torch.nn.modules.conv" + "Conv2d".
    for cut in range(len(module_name.split(".")), 0, -1):
        candidate = ".".join(module_name.split(".")[:cut])
        if candidate in sys.modules:
            module = sys.modules[candidate]
            parts = module_name.split(".")[cut:] + parts
            break
    if module is None:
        return None
    obj: Any = module
    for part in parts:
        namespace = getattr(obj, "__dict__", None) if isinstance(obj, type) else vars(obj) if \
            isinstance(obj, type(sys)) else None
        if not isinstance(namespace, Mapping) or part not in namespace:
            return None
        obj = namespace[part]
    return obj if isinstance(obj, type) and _qual(obj) == qualname else None


_BUILTIN_ERRORS = {name: getattr(builtins, name) for name in dir(builtins)
                   if isinstance(getattr(builtins, name), type) and issubclass(getattr(builtins, name), Exception)}


def _where(text: str) -> str:
    """Where the learner's code raised, as the shim says it ("line 3: x = y[5]", "f.py line 8"), in their language."""
    from cnnbook.i18n import _

    text = one_line(text)
    found = re.fullmatch(r"(?:(?P<file>\S+) )?line (?P<line>\d+)(?:: (?P<code>.*))?", text)
    if found is None:
        return text
    place = (_("at {file} line {line}").format(file=found["file"], line=found["line"]) if found["file"] else
             _("at line {line}").format(line=found["line"]))
    return f"{place}: {found['code']}" if found["code"] else place


def _as_local_exception(err: RemoteError) -> Exception:
    if err.kind == "TooLarge":          # the kernel's side of the codec refused to send the answer
        return TooLarge(err.remote_message)
    from cnnbook.checks import escaped_error

    where = f" ({_where(err.where)})" if err.where else ""
    text = escaped_error(one_line(err.kind), f"{one_line(err.remote_message)}{where}")
    cls = _BUILTIN_ERRORS.get(err.kind)
    remote_kind = ""
    if cls is None:
        # A class of a library (numpy's _UFuncOutputCastingError) or of the learner's own: here it is the nearest
        # builtin class it derives from, as in the notebook, where `except TypeError` and check_raises(...,
        # TypeError) catch numpy's casting error and a learner's `class ShapeError(ValueError)` is a ValueError.
        remote_kind = err.kind
        cls = next((_BUILTIN_ERRORS[name] for name in err.mro[1:]
                    if name in _BUILTIN_ERRORS and name not in ("Exception", "BaseException")), None)
    # A learner's AssertionError is no AssertionError here (a test's `except CheckFailed`, an AssertionError, must
    # not catch it), but it is named as the learner wrote it wherever a message shows its class.
    local: Exception = LearnerAssertionError(text) if cls is AssertionError else LearnerError(text)
    if cls is not None and cls is not AssertionError:
        try:
            local = cls(text)
        except Exception:  # noqa: BLE001 - exceptions with odd constructors
            pass
    # Raised by learner code, so its text is the learner's (see _explain); NoReply is the wall's own.
    local.from_learner = err.kind != "NoReply"  # type: ignore[attr-defined]
    local.from_kernel = True  # type: ignore[attr-defined]  # its text says so, in the learner's language
    local.learner_message = err.remote_message  # type: ignore[attr-defined]  # cnnbook.checks.error_message
    local.learner_where = where  # type: ignore[attr-defined]  # " (at line 4: ...)" in the learner's language, or ""
    # raised on a line of one of the learner's cells (the shim's "line N: ..."), not in a test's helper ("<test cell>
    # line N") or a library's file: a NameError there is a name their own code reads, not one the test needs
    local.in_learner_cell = re.match(r"line \d+", one_line(err.where or "")) is not None  # type: ignore[attr-defined]
    # What a failed HIDDEN check may say of the class (_explain_hidden): its name and library only when they name a
    # real exception class of a library the grader trusts (numpy's LinAlgError). The kernel says both, and a
    # learner's class may be given any name and module: type("v-3.0_-1.0_w2", (ValueError,), {"__module__": "w2"})
    # put a hidden case's inputs into the failure message (a hostile trial); such a class is "a class it defines".
    real = _resolve(f"{err.module}.{err.kind}") if remote_kind else None
    known = real is not None and issubclass(real, BaseException)
    local.remote_kind = remote_kind  # type: ignore[attr-defined]  # "" for a builtin class; never shown unless known
    local.remote_library = err.module.split(".")[0] if known else ""  # type: ignore[attr-defined]
    return local


def one_line(text: str) -> str:
    """Learner-made text on one line (line breaks shown as ' | '): in a failure message it never starts a line,
    so it can never pass for a line the checks write (a typical slip, which the class report counts)."""
    return " | ".join(part.strip() for part in str(text).splitlines() if part.strip())


class LearnerError(Exception):
    """An exception from learner code whose class does not exist in the grader."""


class LearnerAssertionError(LearnerError):
    """A learner's AssertionError (an ``assert`` in their code), kept apart from the checks' own failures."""


# What a message names it: the learner's class, never the grader's ("expected a ValueError, but it raised
# LearnerError" in a class trial, for `assert f <= H` in place of `raise ValueError`).
LearnerAssertionError.__name__ = "AssertionError"        # __qualname__ stays: pickle finds the class by it


class Remote:
    """A learner's object, seen from the grader: every use is a request for plain data."""

    __slots__ = ("_wire", "_info")

    def __init__(self, wire: _Wire, info: dict):
        object.__setattr__(self, "_wire", wire)
        object.__setattr__(self, "_info", info)

    def _ask(self, op: str, **fields: Any) -> Any:
        # A test that counts the lines of Python a call runs (sys.settrace) counts the learner's code, which
        # runs in the kernel; the grader's own machinery here is not traced, so it neither counts nor is cut.
        tracer = sys.gettrace()
        sys.settrace(None)
        try:
            wire = object.__getattribute__(self, "_wire")
            target = {"$ref": object.__getattribute__(self, "_info")["$ref"]}
            return wire.ask({"op": op, "target": target, **{k: wire.encode(v) for k, v in fields.items()}})
        finally:
            sys.settrace(tracer)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__") and name not in DUNDERS:
            raise AttributeError(name)
        return self._ask("getattr", name=name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._ask("setattr", name=name, value=value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        tracer = sys.gettrace()
        sys.settrace(None)
        try:
            wire = object.__getattribute__(self, "_wire")
            target = {"$ref": object.__getattribute__(self, "_info")["$ref"]}
            return wire.call({"op": "call", "target": target}, args, kwargs, _function_name(self))
        except Exception as err:
            # which of the learner's functions raised, for a failure that names it (_said_at): a check helper may
            # have made the call (check_own_work calls it again), so the test's own line may not show it
            if getattr(err, "from_learner", False) and getattr(err, "learner_function", None) is None:
                err.learner_function = _function_name(self)  # type: ignore[attr-defined]
            raise
        finally:
            sys.settrace(tracer)

    def _measure_remote(self, args: tuple, kwargs: dict, forbidden: list[str], line_limit: int | None) -> Any:
        """cnnbook.measure.measure of this function, run in the learner's kernel on these arguments.

        The shim adds whether the measurement's code is still what it was before any learner cell ran
        (``shim.intact``); a reply that says otherwise, or does not say, raises the test's tampering flag; one
        that says it could not tell (the kernel's memory ran out while it checked) raises the milder
        ``measurement-unverified``."""
        report = self._ask("measure", args=tuple(args), kwargs=dict(kwargs), forbidden=list(forbidden),
                           line_limit=line_limit)
        state = report.get("intact", False) if type(report) is dict else False
        if state is not True:
            _measurement_doubts.append("unverified" if state is None else "tampering")
        return report

    def __iter__(self):
        items = self._ask("list")
        if type(items) is not list:
            raise TypeError("iterating over your object did not give a list of items")
        return iter(items)

    def __len__(self) -> int:
        n = self._ask("len")
        if type(n) is not int:
            raise TypeError(f"len() of your object gave a {type(n).__name__}, not an int")
        return n

    def __getitem__(self, key: Any) -> Any:
        return self._ask("getitem", key=key)

    def __contains__(self, item: Any) -> bool:
        found = self._ask("contains", item=item)
        if type(found) is not bool:
            raise TypeError("`in` on your object did not give True or False")
        return found

    def __array__(self, dtype=None, copy=None):
        import numpy as np

        arr = self._ask("asarray")
        if type(arr) is not np.ndarray:
            raise TypeError("your object could not be turned into an array of numbers")
        return arr.astype(dtype) if dtype is not None else arr

    @property  # type: ignore[misc]
    def __class__(self):  # isinstance(remote, nn.Module) asks this
        info = object.__getattribute__(self, "_info")
        return object.__getattribute__(self, "_wire").local_class(info)

    def __eq__(self, other: Any) -> bool:
        # Identity only: the learner's __eq__ never decides anything here.
        return type(other) is Remote and other._info["$ref"] == self._info["$ref"]

    def __hash__(self) -> int:
        return hash(object.__getattribute__(self, "_info")["$ref"])

    def __bool__(self) -> bool:
        raise TypeError(f"{self!r} has no truth value in a test; compare its values with a check instead")

    def __repr__(self) -> str:
        """A learner's object as a failure shows it, in the learner's language: its class and the start of its
        repr, made by the kernel (on one line, escaped), or, when its ``__repr__`` raised there, what it raised."""
        from cnnbook.checks import one_line_text
        from cnnbook.i18n import _

        info = object.__getattribute__(self, "_info")
        kind = one_line_text(one_line(str(info.get("type", "object")).rsplit(".", 1)[-1]))[:80]
        if "unshown" in info:
            return _("<your {kind}, which cannot be shown: repr() raised {error}>").format(
                kind=kind, error=one_line_text(one_line(str(info["unshown"])))[:200])
        return _("<your {kind}: {text}>").format(kind=kind, text=one_line_text(one_line(str(info.get("repr", ""))))[:80])


def _function_name(remote: Any) -> str:
    """The name of a learner's function, as its kernel's repr gives it ("<function conv2d at 0x..>"); for a torch
    layer or network called (a module: its repr is "ReLU(inplace=True)", not a function's), "the module ReLU" with
    its one-line repr when it has one, else its class; or "". A learner's trial read "your function changed what it
    was given" of an in-place ReLU inside a network, which names nothing they wrote."""
    info = object.__getattribute__(remote, "_info")
    text = str(info.get("repr", ""))
    # (a function nested in another, "<function course_backed.<locals>.call at ..>", is named by nothing the learner wrote)
    found = re.match(r"<(?:function|bound method) ([A-Za-z_][\w.]{0,79})(?= )", text)
    if found:
        return found.group(1)
    mro = info.get("mro")
    if type(mro) is list and "torch.nn.modules.module.Module" in mro:
        kind = str(info.get("type", "")).rsplit(".", 1)[-1]
        if not re.fullmatch(r"[A-Za-z_]\w{0,79}", kind):
            return ""
        shown = text if "\n" not in text and len(text) <= 80 and re.fullmatch(
            rf"{kind}\([\w=., \-()]*\)", text) else kind
        from cnnbook.i18n import _

        return _("the module {name}").format(name=shown)
    return ""


def _probe_words() -> str:
    """How a failure names a probe (a check's helper that runs in the learner's kernel and calls their code):
    as the learner's code, since the probe's name is one the learner never wrote (a learner's trial read
    "residual_block (a check's helper ...) changed its argument number 2" and recognised neither)."""
    from cnnbook.i18n import _

    return _("your code (as the check ran it)")


def _call_each_remote(func: Any, cases: list[tuple[tuple, dict]]) -> list | None:
    """cnnbook.checks.call_each in the judge: one exchange for the calls of a learner's function (a Remote, or a
    registered probe), None for anything else (a function of the test itself: call_each loops over it here).

    Which objects are the learner's is decided by their exact type, a class of this module that nothing the
    kernel sends can create or fake (Remote's __class__ answers for the learner's class, type() does not)."""
    kind = builtins.type(func)
    params: tuple[str, ...] = ()
    if kind is Remote:
        wire = object.__getattribute__(func, "_wire")
        request: dict = {"op": "call_each", "target": {"$ref": object.__getattribute__(func, "_info")["$ref"]}}
        name = _function_name(func)
    elif kind is Probe:
        wire = func.wire
        request = {"op": "call_each", "name": func.name, "sha256": func.sha}
        name = _probe_words()
        params = func.params
    else:
        return None
    tracer = sys.gettrace()
    sys.settrace(None)
    try:
        return wire.call_each(request, cases, name, params)
    finally:
        sys.settrace(tracer)


def install_batch_caller() -> None:
    """Make cnnbook.checks.call_each send a learner function's calls in one exchange (the judge, at start-up)."""
    from cnnbook import checks

    checks.set_batch_caller(_call_each_remote)


def _type(*args):
    """type() for test code: a remote object's type is the class it stands for (nn.Conv2d, not Remote)."""
    if len(args) == 1 and builtins.type(args[0]) is Remote:
        return args[0].__class__
    return builtins.type(*args)


@dataclass
class TestOutcome:
    status: str          # pass | pending (its hidden part waits) | fail | timeout | died | grader-error
    message: str = ""    # what the learner reads (never hidden values)
    printed: str = ""    # what the test printed (visible part only)
    hidden: bool = False  # failed in the hidden part
    tampering: bool = False  # a measurement came from changed measuring code (the instructor's flag)
    unverified: bool = False  # a measurement whose code the kernel could not check (out of memory)


# Measurements of the running test whose reply did not say that the kernel's measuring code is intact: "tampering"
# (changed, or not said) or "unverified" (the kernel could not tell).
_measurement_doubts: list[str] = []


def split_hidden(source: str) -> tuple[str, str]:
    """The visible and the hidden part of a test cell (markers removed)."""
    visible, hidden, inside = [], [], False
    for line in source.splitlines():
        if line.strip() == HIDDEN_BEGIN:
            inside = True
        elif line.strip() == HIDDEN_END:
            inside = False
        elif inside:
            hidden.append(line)
        else:
            visible.append(line)
    return "\n".join(visible), "\n".join(hidden)


def _free_names(tree: ast.AST) -> set[str]:
    """Names the code reads but never binds: those come from the learner's notebook (or builtins)."""
    loaded: set[str] = set()
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return loaded - bound - set(dir(builtins))


def _is_learner_side(node: ast.AST) -> TypeGuard[ast.FunctionDef]:
    if not isinstance(node, ast.FunctionDef):
        return False
    for deco in node.decorator_list:
        name = deco.attr if isinstance(deco, ast.Attribute) else getattr(deco, "id", None)
        if name == "learner_side":
            return True
    return False


def probe_hash(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def _probes_of(code: str) -> dict[str, str]:
    """{sha256: source} of the @learner_side functions at the top level of one part of a test cell."""
    tree = ast.parse(code)
    found = {}
    for node in tree.body:
        if _is_learner_side(node):
            source = ast.get_source_segment(code, node) or ""
            found[probe_hash(source)] = source
    return found


def lesson_probes(notebook) -> dict[str, str]:
    """The probes a lesson may run beside learner code: {sha256: source} of every ``@learner_side`` function of
    its test cells (visible and hidden parts). The runner registers them in the kernel before any learner cell
    runs; a test can then only ask for one of these, by hash, never send code."""
    probes: dict[str, str] = {}
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
        if cell.get("cell_type") != "code" or not meta.get("grade") or meta.get("solution"):
            continue
        for part in split_hidden(cell.source):
            try:
                probes.update(_probes_of(part))
            except SyntaxError:
                continue
    return probes


def _prepare(code: str) -> tuple[ast.Module, dict[str, str]]:
    """Parse a part; replace @learner_side functions by their registered probes (run in the kernel instead)."""
    tree = ast.parse(code)
    learner_side = {}
    body = []
    for node in tree.body:
        if _is_learner_side(node):
            source = ast.get_source_segment(code, node) or ""
            learner_side[node.name] = source
            params = [arg.arg for arg in node.args.posonlyargs + node.args.args]
            call = ast.parse(f"{node.name} = __probe__({node.name!r}, {probe_hash(source)!r}, {params!r})").body[0]
            body.append(ast.copy_location(call, node))
        else:
            body.append(node)
    tree.body = body
    ast.fix_missing_locations(tree)
    return tree, learner_side


class Probe:
    """A registered @learner_side function, seen from the grader: calling it asks the kernel to run it.

    What comes back is data the test then checks like any learner answer: a probe's reply decides nothing by
    itself, because the kernel may answer with anything (see DEVELOPERS.md, "What a kernel can fake"). That
    includes an error saying the probe is not there: the runner registered every probe of the lesson before any
    learner cell ran (``LearnerKernel.register_probes``, which fails the kernel's start otherwise), so such a
    reply is the learner's code at work (it cleared the shim's table, or raised that text itself) and fails the
    test like any error of theirs; it is never taken for a fault of the grader."""

    def __init__(self, wire: _Wire, name: str, sha: str, params: tuple[str, ...] = ()):
        self.wire, self.name, self.sha, self.params = wire, name, sha, params

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        tracer = sys.gettrace()
        sys.settrace(None)
        try:
            return self.wire.call({"op": "probe", "name": self.name, "sha256": self.sha}, args, kwargs,
                                  _probe_words(), self.params)
        finally:
            sys.settrace(tracer)

    def __repr__(self) -> str:
        return f"<probe {self.name}>"


def exercise_names(notebook) -> set[str]:
    """The names a test may read from the learner's notebook: those bound at top level by the answer cells
    (nbgrader ``solution: true`` code cells) of the lesson's source notebook. Imports never count: a test
    imports numpy, torch and the rest itself."""
    names: set[str] = set()
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
        if cell.get("cell_type") != "code" or not meta.get("solution"):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        names |= _top_level_bindings(tree.body)
    return names


def _top_level_bindings(body: list[ast.stmt]) -> set[str]:
    names: set[str] = set()
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor)):
            targets = [node.target]
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            targets = [item.optional_vars for item in node.items if item.optional_vars is not None]
        for target in targets:
            names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
        for field in ("body", "orelse", "finalbody"):            # if / for / while / with / try at top level
            inner = getattr(node, field, None)
            if isinstance(inner, list) and not isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names |= _top_level_bindings(inner)
        for handler in getattr(node, "handlers", []) or []:
            names |= _top_level_bindings(handler.body)
    return names


def run_test(source: str, kernel: LearnerKernel, seconds: float, names: Iterable[str] | None = None,
             exercise: str = "", seed: int | None = None, lang: str | None = None,
             defer: str | None = None, hidden_of: str | None = None, lesson: str | None = None) -> TestOutcome:
    """Run one test cell in the grader's judge process; the learner's names come through the wall.

    ``names``: the exercise's names the test may read from the notebook (:func:`exercise_names` of the
    lesson's source); None means none. The test gets ``seconds`` and the kernel's memory limit; a test whose
    checking runs out of either fails (timeout / out of memory) without touching this process. ``exercise``
    names the exercise in messages about hidden checks (which never name their inputs). ``seed``: this grading
    run's seed of :func:`cnnbook.checks.hidden_rng`. ``lang``: the language of the test's messages (the
    notebook's own, :func:`notebook_language`); None: the grader's (``CNNBOOK_LANG``). ``lesson``: the lesson's slug,
    whose catalog translates the test's sentences (:func:`cnnbook.i18n.set_lesson`). ``defer`` (a key unique
    to the submission): run the visible part only; a test with a hidden part whose visible part passes is then
    ``pending``, and ``hidden_of`` that key runs its hidden part later (:func:`run_hidden_here`).
    """
    from .judge_process import run_in_judge

    return run_in_judge(source, kernel, seconds, sorted(names or ()), exercise, seed, lang, defer, hidden_of, lesson)


def notebook_language(nb) -> str | None:
    """The language a notebook says it is in (``metadata.cnnbook.language``, set by the Korean edition's
    release; else the language its Colab set-up cell names, as a notebook saved by Colab may have lost the
    metadata), when the course has it: its learner reads the tests' messages in it."""
    from cnnbook.i18n import LANGUAGES

    from .colab import setup_cell_language

    meta = nb.get("metadata", {}).get("cnnbook", {}) if isinstance(nb.get("metadata"), dict) else {}
    lang = meta.get("language") if isinstance(meta, dict) else None
    if not isinstance(lang, str):
        lang = setup_cell_language(nb)
    return lang if isinstance(lang, str) and lang in LANGUAGES else None


def run_here(source: str, transport: Transport, seconds: float, names: Iterable[str],
             on_visible_done: Callable[[str], None] | None = None, exercise: str = "",
             seed: int | None = None, defer: str | None = None) -> TestOutcome:
    """Execute one test cell in this process (the judge process calls this); ``transport`` reaches the kernel.

    With ``defer`` (a key), a test that has a hidden part runs its visible part only: when that passes, the
    outcome is ``pending`` and the test's namespace is kept under the key until :func:`run_hidden_here` runs
    the hidden part (the grader does that after the notebook's last cell, DEVELOPERS.md).
    """
    from cnnbook import checks

    install_batch_caller()
    checks.set_hidden_seed(seed, exercise)
    _measurement_doubts.clear()
    try:
        outcome = _run_here(source, transport, seconds, names, on_visible_done, exercise, defer)
    finally:
        doubted = set(_measurement_doubts)
        _measurement_doubts.clear()
    outcome.tampering, outcome.unverified = "tampering" in doubted, "unverified" in doubted
    return outcome


def run_hidden_here(key: str, source: str, transport: Transport, seconds: float, names: Iterable[str],
                    exercise: str = "", seed: int | None = None) -> TestOutcome:
    """The hidden part of a test whose visible part passed under ``key`` (:func:`run_here` with ``defer``), in
    the namespace that part left, with a fresh time budget of ``seconds``. A judge that does not hold the key
    (it was replaced since, or the kernel was) runs the whole test again, from fresh looks at the notebook; what
    it prints is dropped and any failure is told as a hidden one, since hidden inputs have reached the kernel by
    now. Nothing the learner's code does in a hidden part is ever shown."""
    from cnnbook import checks

    install_batch_caller()
    checks.set_hidden_seed(seed, exercise)
    _measurement_doubts.clear()
    pending = _pending.pop(key, None)
    try:
        if pending is None:
            outcome = _run_here(source, transport, seconds, names, None, exercise, None, all_hidden=True)
        else:
            pending.wire.transport = transport
            pending.wire.seconds, pending.wire.deadline = seconds, time.monotonic() + seconds
            outcome = _execute([(pending.tree, True)], pending.namespace, io.StringIO(), pending.not_exercise,
                               None, exercise)
    finally:
        doubted = set(_measurement_doubts)
        _measurement_doubts.clear()
    outcome.printed = ""
    outcome.tampering, outcome.unverified = "tampering" in doubted, "unverified" in doubted
    return outcome


def forget_pending() -> None:
    """Drop every kept namespace (a submission is over, or its kernel was replaced and the objects they refer to
    are gone)."""
    while _pending:
        _pending.popitem()[1].namespace.clear()


@dataclass
class _Pending:
    namespace: dict[str, Any]
    wire: _Wire
    tree: ast.Module
    not_exercise: set[str]


# Tests whose hidden part waits for the end of the notebook, by key (one submission's, in one judge process).
_pending: dict[str, _Pending] = {}


def _run_here(source: str, transport: Transport, seconds: float, names: Iterable[str],
              on_visible_done: Callable[[str], None] | None, exercise: str, defer: str | None = None,
              all_hidden: bool = False) -> TestOutcome:
    wire = _Wire(transport, seconds)
    visible, hidden = split_hidden(source)
    try:
        parts = [(_prepare(visible)[0], all_hidden), (_prepare(hidden)[0], True)]
    except SyntaxError as err:
        return TestOutcome("grader-error", f"the test cell does not parse: {err}")

    namespace: dict[str, Any] = {"__name__": "__test__", "__builtins__": builtins}

    def probe(name: str, sha: str, params: list[str] | None = None) -> Probe:
        return Probe(wire, name, sha, tuple(params or ()))

    namespace["__probe__"] = probe
    namespace["type"] = _type
    printed = io.StringIO()
    allowed = set(names)
    wanted = set()
    for tree, _ in parts:
        wanted |= _free_names(tree)
    wanted.discard("__probe__")
    not_exercise = wanted - allowed
    if defer is not None and parts[1][0].body:
        outcome = _execute(parts[:1], namespace, printed, not_exercise, None, exercise, keep=True,
                           lookups=(wire, sorted(wanted & allowed)), shown=visible)
        if outcome.status == "pass":
            _pending[defer] = _Pending(namespace, wire, parts[1][0], not_exercise)
            return TestOutcome("pending", "", outcome.printed)
        namespace.clear()
        return outcome
    return _execute(parts, namespace, printed, not_exercise, on_visible_done, exercise,
                    lookups=(wire, sorted(wanted & allowed)), shown="" if all_hidden else visible)


def seed_generators(exercise: str, hidden: bool) -> None:
    """Seed this process's global random generators (Python's, numpy's legacy one, torch's CPU one) before a part
    of a test runs, so that what a test draws from them (``torch.randn`` in a test cell) does not depend on which
    tests and submissions this judge ran before, nor on the process (torch seeds itself at random on import): a
    visible part's draws are the same in every run and for every learner (the self-check and a grading say the same
    numbers; the learner can read the test), a hidden part's come from the run's hidden seed and the exercise
    (:func:`cnnbook.checks.hidden_seed`: ``grade --seed N`` repeats them, another run draws others)."""
    from cnnbook import checks

    key = f"{checks.hidden_seed()}\0{exercise}\0hidden" if hidden else f"{exercise}\0visible"
    seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") >> 1
    import random

    random.seed(seed)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(seed % 2 ** 32)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def _execute(parts: list[tuple[ast.Module, bool]], namespace: dict[str, Any], printed: io.StringIO,
             not_exercise: set[str], on_visible_done: Callable[[str], None] | None, exercise: str,
             keep: bool = False, lookups: tuple[_Wire, list[str]] | None = None, shown: str = "") -> TestOutcome:
    """Run parts of a test in ``namespace`` (after looking up the exercise's names it reads, ``lookups``); the
    outcome says how the first failing part failed. The namespace is cleared at the end unless ``keep``.
    ``shown``: the source of the visible part, whose lines a failure there quotes."""
    hidden_part = bool(parts) and parts[0][1]
    try:
        if lookups is not None:
            wire, wanted = lookups
            for name in wanted:
                try:
                    namespace[name] = wire.ask({"op": "lookup", "name": name})
                except NameError:
                    pass  # the test will raise NameError itself, with the name in the message
        for tree, hidden_part in parts:
            if hidden_part and on_visible_done is not None:
                on_visible_done(printed.getvalue())
            if not tree.body:
                continue
            sink = io.StringIO() if hidden_part else printed
            seed_generators(exercise, hidden_part)
            with contextlib.redirect_stdout(sink), warnings.catch_warnings():
                warnings.simplefilter("ignore")   # a library warning in a test is nobody's mistake
                exec(compile(tree, "<test cell>", "exec"), namespace)  # noqa: S102 - our own test code
    except CellTimeout as err:
        return TestOutcome("timeout", str(err), printed.getvalue(), hidden_part)
    except KernelDied as err:
        return TestOutcome("died", f"{err} (os._exit, a crash, or the memory limit).", printed.getvalue(), hidden_part)
    except GraderLimitation as err:
        return TestOutcome("grader-error", str(err), printed.getvalue(), hidden_part)
    except MemoryError:
        return TestOutcome("fail", OUT_OF_MEMORY + ".", printed.getvalue(), hidden_part)
    except NameError as err:
        if getattr(err, "name", None) in not_exercise:
            return TestOutcome("grader-error", f"the test reads {err.name!r} from the notebook, which is not a "
                               "name of the exercise: a test imports or builds what it needs itself",
                               printed.getvalue(), hidden_part)
        return TestOutcome("fail", _explain(err, hidden_part, exercise), printed.getvalue(), hidden_part)
    except Exception as err:  # noqa: BLE001 - any failure of the test is the learner's to read
        return TestOutcome("fail", _explain(err, hidden_part, exercise, "" if hidden_part else shown, namespace),
                           printed.getvalue(), hidden_part)
    finally:
        # What the test bound (the learner's answers among it) ends with it. A function the test defines refers to
        # this namespace, and that cycle would keep it (arrays of 64 MiB each) until Python's rare full collection:
        # in the judge, reused for the next submission, under the same memory limit.
        if not keep:
            namespace.clear()
    return TestOutcome("pass", "", printed.getvalue())


def _explain(err: Exception, hidden: bool, exercise: str = "", source: str = "",
             namespace: Mapping[str, Any] | None = None) -> str:
    """What the learner reads about a failed test.

    A visible check says everything it knows (the learner can read that test anyway). A hidden check says
    only the test author's words: which exercise, the kind of case (``hidden_case``), the typical slip it
    matched and the hint; for an exception, only the name of a builtin exception class (or of a library's) and,
    when its message is one learners typically meet, a fixed sentence of what it usually means
    (``cnnbook.errors``; the choice among them says no more than the choice of a class). Never its inputs,
    expected values, or any text the learner's code produced (which could carry the inputs out).

    An error that is no failed check says where the test met it (``source``: the visible part's source; the test's
    names, ``namespace``, say what the failing expression was working on): raised by a learner's function the test
    called, that call as the test wrote it; raised by the test's own code (unpacking or indexing what a function
    returned), that it stopped on what their code returned, the test's line, and what each name there held.
    """
    from cnnbook.checks import CheckFailed
    from cnnbook.errors import meaning
    from cnnbook.i18n import _

    if hidden:
        return _explain_hidden(err, exercise)
    if isinstance(err, CheckFailed):
        return str(err)
    if isinstance(err, TooLarge):
        return _("your answer is too large or too deeply nested to check: {error}").format(error=err)
    if isinstance(err, NameError):
        name = getattr(err, "name", None)
        if getattr(err, "from_kernel", False) and not getattr(err, "in_learner_cell", False):
            # the test's own helper ran in the kernel ("<test cell> line 4") and did not find an exercise's name: the
            # test's need, not "your code raised NameError ... (<test cell> line 4)"
            found = re.fullmatch(r"name '([A-Za-z_]\w*)' is not defined", str(getattr(err, "learner_message", "")))
            name = found.group(1) if found else None
        if isinstance(name, str):         # said in the learner's language, not Python's
            return _("{name} is not defined in your notebook. The test needs it: is the answer cell that defines it "
                     "there, and did it run without an error?").format(name=name)
        if getattr(err, "in_learner_cell", False):      # a typo in their function's body: `group` for `groups`
            return _("{error}. Your code uses a name that is not defined: check its spelling on that line (a typo?); "
                     "if another of your cells defines it, run that cell without an error first.").format(error=err)
        return _("{error}. The test needs it from your notebook: is the answer cell that defines it there, "
                 "and did it run without an error?").format(error=err)
    said = str(err) if isinstance(err, LearnerError) or getattr(err, "from_kernel", False) \
        else f"{type(err).__name__}: {err}"
    place = _test_place(err, source) if not isinstance(err, AssertionError) else None   # an assert is a verdict
    if place is not None:
        said = _said_at(err, said, place, namespace or {})
    usually = meaning(err)
    return f"{said}\n  " + _("What it usually means: {meaning}").format(meaning=usually) if usually else said


@dataclass
class _Place:
    line: int            # the line of the visible part where the statement the error came from starts
    code: str            # that statement (its lines, cnnbook.checks.statement_at)
    segment: str         # the expression being run there (a call, a subscript), "" if unknown
    calls_learner: bool  # the expression is the call of a learner's object that raised


def _test_place(err: BaseException, source: str) -> _Place | None:
    """Where in the test's visible part (``source``) ``err`` came from: its innermost frame in the test, the
    expression run there (Python 3.11's positions) and whether that expression called the learner's object
    itself (the next frame is :meth:`Remote.__call__`), not a check helper that calls it."""
    import traceback

    if not source:
        return None
    frames = traceback.extract_tb(err.__traceback__)
    at = [k for k, frame in enumerate(frames) if frame.filename == "<test cell>"]
    if not at:
        return None
    frame = frames[at[-1]]
    lines = source.splitlines()
    if not frame.lineno or not 0 < frame.lineno <= len(lines):
        return None
    segment = ""
    if frame.end_lineno == frame.lineno and frame.colno is not None and frame.end_colno is not None:
        spot = type("Spot", (), {"lineno": frame.lineno, "end_lineno": frame.end_lineno, "col_offset": frame.colno,
                                 "end_col_offset": frame.end_colno})
        segment = ast.get_source_segment(source, spot) or ""   # type: ignore[arg-type]
    after = frames[at[-1] + 1] if at[-1] + 1 < len(frames) else None
    # (a call of the test's own @learner_side helper is not the learner's: a trial read "inception_3a_on_meta()
    # raised RuntimeError" of their InceptionModule)
    calls_learner = after is not None and after.filename == __file__ and after.name == "__call__" \
        and getattr(err, "from_kernel", False) and not _through_probe(err.__traceback__) \
        and not _bound_by_test(segment, source)
    from cnnbook.checks import statement_at

    first, quoted = statement_at(source, frame.lineno)
    return _Place(first, "\n".join(quoted), segment, calls_learner)


def _bound_by_test(segment: str, source: str) -> bool:
    """Whether ``segment`` calls a name the test binds itself (``conv_macs_checked = course_backed("conv_macs", ...)``):
    what it calls is the test's, not the learner's object, however it reached the kernel (a trial read
    "conv_macs_checked(28, 28, 192, f=5, c_out=32, p=2) raised ValueError", a name the learner never wrote)."""
    try:
        call = ast.parse(segment, mode="eval").body
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
        return False
    return any(isinstance(node, ast.Name) and node.id == call.func.id and isinstance(node.ctx, ast.Store)
               for node in ast.walk(tree))


def _through_probe(tb) -> bool:
    """Whether the error came back through a call of a test's @learner_side helper (:meth:`Probe.__call__`)."""
    while tb is not None:
        if tb.tb_frame.f_code is Probe.__call__.__code__:
            return True
        tb = tb.tb_next
    return False


def _quoted_line(place: _Place) -> str:
    """"Line N of the test cell: code" for a statement of one line; one of several lines goes under the label, each
    line indented as the test wrote it."""
    from cnnbook.i18n import _

    label = _("Line {line} of the test cell:").format(line=place.line)
    if "\n" not in place.code:
        return f"{label} {place.code}"
    return label + "".join(f"\n      {text}" for text in place.code.splitlines())


def _said_at(err: BaseException, said: str, place: _Place, namespace: Mapping[str, Any]) -> str:
    from cnnbook.checks import escaped_error, what_names_hold

    if getattr(err, "from_kernel", False):
        if not getattr(err, "from_learner", False):
            return said
        message = one_line(str(getattr(err, "learner_message", ""))) + str(getattr(err, "learner_where", ""))
        kind = one_line(str(getattr(err, "remote_kind", "") or type(err).__name__))
        # the sentence is cnnbook.checks.escaped_error's, as the notebook's test-cell box says it
        if place.calls_learner and place.segment and len(place.segment) <= 120:
            # "iou(boxes, others) raised ValueError: ... (at line 10: ...)": the call, then what it raised and where
            return escaped_error(kind, message, call=place.segment)
        function = getattr(err, "learner_function", None)       # called by a check helper: its name, the test's line
        if type(function) is str and re.fullmatch(r"[A-Za-z_][\w.]{0,79}", function):
            said = escaped_error(kind, message, function=function)
        return said + "\n  " + _quoted_line(place)
    lines = [escaped_error(type(err).__name__, one_line(str(err))[:500], learner_raised=False), _quoted_line(place)]
    return "\n  ".join(lines + what_names_hold(place.segment, namespace))


def _explain_hidden(err: Exception, exercise: str) -> str:
    from cnnbook.checks import CheckFailed, is_slip_line
    from cnnbook.errors import meaning
    from cnnbook.i18n import _, lesson_text

    case = getattr(err, "hidden_case", None)
    case = case if type(case) is str and case.strip() else ""
    head = _("{exercise}: a hidden check failed").format(exercise=exercise) if exercise \
        else _("A hidden check failed")
    lines = [f"{head} ({case.strip()})." if case else f"{head}."]
    if isinstance(err, CheckFailed):
        if err.lines and is_slip_line(err.lines[0]):
            lines.append("  " + err.lines[0])
        if err.hint:
            # a test's own `raise CheckFailed(..., hint=...)` did not pass through the check functions, which
            # translate the hint: its catalog entry is read here (a translated hint is not in the catalog, unchanged)
            lines.append("  " + _("Hint: {hint}").format(hint=lesson_text(err.hint)))
        return "\n".join(lines)
    if isinstance(err, TooLarge):
        lines.append("  " + _("Your answer is too large or too deeply nested to check."))
        return "\n".join(lines)
    kind = type(err)
    builtin = kind.__module__ == "builtins" and _BUILTIN_ERRORS.get(kind.__name__) is kind
    if getattr(err, "from_learner", False):
        remote = one_line(getattr(err, "remote_kind", ""))[:80]
        library = getattr(err, "remote_library", "")
        if not remote:
            said = _("Your code raised {kind}.").format(kind=kind.__name__)
        elif library:                  # numpy's, torch's...: the learner reads the error as the library named it
            said = (_("Your code raised {kind} ({library}'s {error}).").format(kind=kind.__name__, library=library,
                                                                               error=remote) if builtin else
                    _("Your code raised {library}'s {error}.").format(library=library, error=remote))
        else:
            said = (_("Your code raised an exception of a class it defines (a kind of {kind}).").format(
                kind=kind.__name__) if builtin else _("Your code raised an exception of a class it defines."))
        lines.append("  " + said)
        # a fixed sentence chosen by the message's pattern, never the message: nothing of the hidden inputs
        usually = meaning(err) if builtin or library else ""
        if usually:
            lines.append("  " + _("What it usually means: {meaning}").format(meaning=usually))
    elif isinstance(err, NameError):
        lines.append("  " + _("The check needs a name your notebook does not define: did every answer cell run?"))
    elif builtin and kind is not AssertionError:
        lines.append("  " + _("The check stopped with {kind} on what your code returned.").format(kind=kind.__name__))
    return "\n".join(lines)
