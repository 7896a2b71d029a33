"""The grader's hand inside the learner's sandboxed kernel: answers requests with plain data only.

The grader sends each request as JSON text in a message of a Jupyter comm (:func:`listen` opens it to the
grader before any learner cell runs), so the kernel reads it as data, never compiles it; :func:`serve` answers
with a display message of the MIME type below. Everything here runs beside the learner's code and can be tampered with by it; that is
fine, because nothing here decides a verdict: it only hands over what the learner's objects return for
inputs the grader chose. Verdicts are computed in the grader's own process. A module, like any object that
is not plain data, leaves the kernel only as a reference (the grader never imports what a reply names).

The requests are a small fixed set: look up an exercise's name; call, read, index a learner's object; run a
*registered* probe (the lesson's ``@learner_side`` test functions, handed over by :func:`register` right after
the kernel starts, before any learner cell runs, each under the sha256 of its source: a test can only ask for
one of those by hash, never send code); measure a call (:mod:`cnnbook.measure`: lines of Python run and
forbidden library calls). After a call, the arrays and tensors the grader passed by value (in its arguments, or
in their lists, tuples and dicts) that the learner's code changed in place, and the lists and dicts it changed,
are named in the reply: the grader fails such a call, unless the test allowed that argument to change
(``cnnbook.checks.may_change``), and then changes its own object the same way; one returned as (or in) the
result is sent as a reference to the grader's own (``$arg``), so a state that keeps the gradient it was given
keeps the grader's, as in the notebook.
See DEVELOPERS.md, "What a kernel can fake", for what a learner who rewrites this module can and cannot get.
"""
from __future__ import annotations

import ast
import contextlib
import os
import hashlib
import json
import mmap
import sys
import traceback
from typing import Any

from autograde.plain import MAX_BYTES, MAX_ITEMS as MAX_MESSAGE_ITEMS, NotPlain, decode, encode
from cnnbook.measure import measure

MIME = "application/x-cnnbook-reply+json"
COMM_TARGET = "autograde.shim"         # the comm the grader opens to send requests
MAX_ITEMS = 100_000
# A batch of calls (call_each) answers in replies of about this much text: far below the codec's caps, so that the
# last entry, which may be large, still fits; one entry alone may hold up to MAX_ENTRY_BYTES.
BATCH_BYTES = 4 * 2 ** 20
BATCH_ITEMS = MAX_MESSAGE_ITEMS // 4
MAX_ENTRY_BYTES = MAX_BYTES - 2 * BATCH_BYTES
_objects: dict[int, Any] = {}
_probes: dict[str, Any] = {}           # sha256 of a probe's source -> the function defined from it
# The notebook's namespace as it was when a test's visible part passed, by the grader's key: its hidden part runs
# after the notebook's last cell with the names as they were then ("keep", then "restore").
_kept: dict[str, tuple[dict, dict]] = {}


# Process-wide settings of the libraries that change what a computation gives (torch's default dtype, grad and
# anomaly modes, numpy's floating-point error handling), kept with the names and put back for the hidden part: a
# later cell's torch.set_default_dtype(torch.float64) made an earlier exercise's hidden probe build float64 layers.
# The global random generators (Python's, numpy's legacy one, torch's CPU one) too: a hidden part that calls code
# drawing from them (a model's initial weights, a shuffle) draws what it would have drawn right after its visible
# part, whatever later cells drew or seeded. Only libraries the notebook has imported are read; any other
# process-wide state is as the notebook left it.
def settings() -> dict:
    found: dict = {}
    rng = sys.modules.get("random")
    if rng is not None:
        found["random"] = rng.getstate()
    torch = sys.modules.get("torch")
    if torch is not None:
        found.update(dtype=torch.get_default_dtype(), grad=torch.is_grad_enabled(),
                     anomaly=torch.is_anomaly_enabled(), torch_rng=torch.get_rng_state().numpy().tobytes())
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        found["numpy_errors"] = numpy.geterr()
        kind, keys, *rest = numpy.random.get_state(legacy=True)
        found["numpy_rng"] = (kind, keys.tobytes(), *rest)      # bytes: two states compare with ==
    return found


def put_back(found: dict) -> None:
    """Set again the settings :func:`settings` read."""
    rng = sys.modules.get("random")
    if rng is not None and "random" in found:
        rng.setstate(found["random"])
    torch = sys.modules.get("torch")
    if torch is not None and "dtype" in found:
        torch.set_default_dtype(found["dtype"])
        torch.set_grad_enabled(found["grad"])
        torch.set_anomaly_enabled(found["anomaly"])
        torch.set_rng_state(torch.frombuffer(bytearray(found["torch_rng"]), dtype=torch.uint8))
    numpy = sys.modules.get("numpy")
    if numpy is not None and "numpy_errors" in found:
        numpy.seterr(**found["numpy_errors"])
        kind, keys, *rest = found["numpy_rng"]
        numpy.random.set_state((kind, numpy.frombuffer(keys, dtype=numpy.uint32), *rest))


_changed: dict[str, Any] = {}          # what the last call changed in the arguments it was given by value
# The arrays and tensors the last call was given by value: id -> (the object, where it is among the arguments).
# Held here until the reply is written, so that no id is reused meanwhile.
_given: dict[int, tuple[Any, list]] = {}
MAX_WATCHED = 256                      # arrays and tensors of one call's arguments watched for in-place changes
WATCH_DEPTH = 4                        # how deep into lists, tuples and dicts of the arguments
MAX_MAKE_UP = 100_000                 # items of one list or dict argument compared before and after a call


def register(text: str) -> None:
    """Define the lesson's probes (``@learner_side`` test functions): ``text`` is JSON {sha256: source}.

    Runs once per kernel, right after this module is imported and before any learner cell. Each probe is a
    function whose globals are the notebook's namespace, so it reaches the exercise's names when it is called.
    """
    ns = _user_ns()
    for sha, source in json.loads(text).items():
        if hashlib.sha256(source.encode("utf-8")).hexdigest() != sha:
            raise ValueError("a probe whose source does not match its hash")
        node = ast.parse(source).body[0]
        if not isinstance(node, ast.FunctionDef):
            raise ValueError("a probe is one function definition")
        scope: dict = {}
        exec(compile(source, "<test cell>", "exec"), ns, scope)  # noqa: S102 - the lesson's own test code
        _probes[sha] = scope[node.name]


def listen() -> None:
    """Answer the grader's comm: each of its messages carries one request (``{"request": "<json>"}``)."""
    from IPython import get_ipython

    def opened(comm: Any, _open_msg: dict) -> None:
        def on_msg(msg: dict) -> None:
            data = msg.get("content", {}).get("data")
            serve(data.get("request") if isinstance(data, dict) else None)

        comm.on_msg(on_msg)

    get_ipython().kernel.comm_manager.register_target(COMM_TARGET, opened)


def preload(modules: list[str]) -> None:
    """Import the lesson's heavy libraries before any learner cell (a warm kernel is ready sooner). No name is
    bound in the notebook: a learner's cell still has to import what it uses, exactly as in Jupyter."""
    import importlib

    for name in modules:
        importlib.import_module(name)


def seed_generators() -> None:
    """Seed the global random generators the kernel has imported (Python's, numpy's legacy one, torch's CPU one)
    alike in every kernel, before any learner cell: a notebook that draws from them without seeding them (a model's
    initial weights) draws the same numbers in every grading and self-check, in a forked kernel (which shares its
    zygote's state) and a started one (torch seeds itself at random on import), so a grading repeats with its
    ``--seed``. Nothing hidden comes from them: hidden inputs are drawn in the judge (``hidden_rng``)."""
    import random

    random.seed(0)
    for name, seed in SEEDED_ON_IMPORT.items():
        if name in sys.modules:
            getattr(sys.modules[name], seed)(0)
    if not any(type(finder) is _SeedOnImport for finder in sys.meta_path):
        sys.meta_path.insert(0, _SeedOnImport())


# The global generators of libraries a notebook may import after the kernel started (torch in a numpy-only lesson:
# only the lesson's own libraries are preloaded): module -> its function that seeds it, called with 0 when the module
# is first imported, as seed_generators seeds the ones already there. Each seeds itself at random on import otherwise
# (numpy's legacy generator from the OS, torch's from the clock), and a self-check would not repeat.
SEEDED_ON_IMPORT = {"numpy.random": "seed", "torch": "manual_seed"}


class _SeedOnImport:
    """A finder on ``sys.meta_path`` that finds nothing itself: for a module of :data:`SEEDED_ON_IMPORT` it asks the
    finders after it, and seeds the module once its loader has run it. (A learner's code may remove it: this is for
    repeatable numbers, not a guard.)"""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        seed = SEEDED_ON_IMPORT.get(name)
        if seed is None:
            return None
        import importlib.machinery

        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        run = getattr(loader, "exec_module", None)
        if run is None or not isinstance(loader, importlib.machinery.SourceFileLoader):
            return spec

        def exec_module(module: Any) -> None:
            run(module)
            # a module of the learner's own by that name (a torch.py beside the notebook) imports as without the
            # grader: nothing to seed, or a seed function of theirs that fails, is no error of the import
            with contextlib.suppress(Exception):
                getattr(module, seed)(0)

        loader.exec_module = exec_module          # type: ignore[method-assign]  # this spec's own loader
        return spec


def _user_ns() -> dict:
    from IPython import get_ipython

    return get_ipython().user_ns


def _qualname(kind: type) -> str:
    return f"{getattr(kind, '__module__', '?')}.{getattr(kind, '__qualname__', kind.__name__)}"


def _ref(obj: Any) -> dict:
    key = id(obj)
    _objects[key] = obj
    kind = type(obj)
    try:
        mro = [_qualname(k) for k in kind.__mro__]
    except Exception:  # noqa: BLE001 - a learner's metaclass may do anything
        mro = [_qualname(kind)]
    unshown = None
    try:
        text = object.__repr__(obj) if isinstance(obj, type) else repr(obj)
        if type(text) is not str:
            raise TypeError(f"__repr__ returned {type(text).__name__}")
    except Exception as err:  # noqa: BLE001 - the learner's __repr__: the grader says it could not show the object
        text, unshown = "", f"{type(err).__name__}: {_safe_str(err)}"[:300]
    is_class = isinstance(obj, type)
    return {"$ref": key, "type": mro[0], "mro": mro, "repr": text[:300], "callable": callable(obj),
            "is_class": is_class, "class_mro": [_qualname(k) for k in obj.__mro__] if is_class else None,
            **({"unshown": unshown} if unshown is not None else {})}


def _deref(obj: dict) -> Any:
    key = obj["$ref"]
    if key not in _objects:
        raise NotPlain("a reference to an object the kernel no longer has (was the kernel restarted?)")
    return _objects[key]


def _decode(obj: Any) -> Any:
    # Strings that were interned in the grader (literals of the test, such as "max") are interned here too,
    # so a learner's `mode is "max"` gives the verdict it gives when the test cell runs in Jupyter.
    return decode(obj, _deref, intern=True)


def _handle(request: dict) -> Any:
    op = request["op"]
    if op == "lookup":
        ns = _user_ns()
        if request["name"] not in ns:
            raise NameError(f"name {request['name']!r} is not defined")
        return ns[request["name"]]
    if op == "probe":
        # A registered @learner_side test function, named by the hash of its source; its arguments are the
        # grader's plain data (the test's own inputs, random ones from hidden_rng() included).
        probe = _probes.get(request["sha256"])
        if probe is None:
            raise LookupError(f"no registered probe {request.get('name', '')!r} with this source")
        return _call(probe, request)
    if op == "keep":
        # What the names of the notebook are bound to now (references, no copies): a later cell that binds one
        # again (a helper of another exercise with the same name, an exercise tried out again) does not change
        # what this test's hidden part calls, nor the globals its functions and probes look names up in.
        try:
            found = settings()
        except Exception:  # noqa: BLE001 - a library the learner's code broke: the names are kept all the same
            found = {}
        _kept[str(request["key"])] = (dict(_user_ns()), found)
        return None
    if op == "restore":
        saved = _kept.pop(str(request["key"]), None)
        if saved is not None:
            ns = _user_ns()
            ns.clear()
            ns.update(saved[0])
            put_back(saved[1])
        return saved is not None
    target = _decode(request["target"])
    if op == "getattr":
        return getattr(target, _decode(request["name"]))
    if op == "setattr":
        setattr(target, _decode(request["name"]), _decode(request["value"]))
        return None
    if op == "call":
        return _call(target, request)
    if op == "measure":
        return measure(target, tuple(_decode(request["args"])), _decode(request["kwargs"]),
                       forbidden=[str(name) for name in _decode(request["forbidden"])],
                       line_limit=_decode(request["line_limit"]))
    if op == "list":
        items = []
        for item in target:
            items.append(item)
            if len(items) > MAX_ITEMS:
                raise ValueError(f"more than {MAX_ITEMS} items")
        return items
    if op == "len":
        return len(target)
    if op == "getitem":
        return target[_decode(request["key"])]
    if op == "contains":
        return _decode(request["item"]) in target
    if op == "asarray":
        import numpy as np

        if type(target).__module__.startswith("torch") and hasattr(target, "detach"):
            target = target.detach().cpu().numpy()
        return np.asarray(target)
    raise ValueError(f"unknown operation {op!r}")


def _by_value(raw: Any) -> bool:
    return type(raw) is dict and ("$nd" in raw or "$tensor" in raw)


def _same(before: Any, after: Any) -> bool:
    import numpy as np

    if type(after).__module__.startswith("torch"):
        import torch

        after = after.detach()
        if before.shape != after.shape or before.dtype != after.dtype:
            return False
        return bool(torch.equal(before, after)) or (bool(torch.equal(before.isnan(), after.isnan())) and
                                                   bool(torch.equal(before.nan_to_num(), after.nan_to_num())))
    return bool(before.shape == after.shape and before.dtype == after.dtype and
                np.array_equal(before, after, equal_nan=after.dtype.kind in "fc"))


def _call(func: Any, request: dict) -> Any:
    """Call ``func`` with the request's arguments; note which arrays and tensors sent by value it changed."""
    args = _decode(request["args"])
    kwargs = _decode(request["kwargs"])
    raw_args = request["args"].get("$tuple", []) if type(request["args"]) is dict else []
    raw_kwargs = dict((k.get("$name", k) if type(k) is dict else k, v)
                      for k, v in request["kwargs"].get("$dict", [])) if type(request["kwargs"]) is dict else {}
    watched: dict[tuple, tuple[Any, Any]] = {}
    for i, (raw, value) in enumerate(zip(raw_args, args)):
        _watch(raw, value, ("args", i), watched)
    for name, raw in raw_kwargs.items():
        if name in kwargs:
            _watch(raw, kwargs[name], ("kwargs", name), watched)
    # Lists and dicts (sent by value) are watched too, by their make-up: what they hold, in which order, and which
    # object each array in them is (its values are watched above): a sort in place, an append, a key set.
    containers = [(("args", i), value, _make_up(value)) for i, value in enumerate(args) if type(value) in (list, dict)]
    containers += [(("kwargs", name), kwargs[name], _make_up(kwargs[name])) for name in raw_kwargs
                   if name in kwargs and type(kwargs[name]) in (list, dict)]
    _changed.clear()
    _given.clear()
    _given.update((id(value), (value, list(path))) for path, (value, _) in watched.items())
    try:
        return func(*args, **kwargs)
    finally:
        for path, (value, before) in watched.items():
            try:
                same = _same(before, value)
            except Exception:  # noqa: BLE001 - an array the learner's code broke is reported as changed
                same, value = False, None
            if not same:
                _changed.setdefault("paths", []).append([list(path), value])
        for path, value, before in containers:
            try:
                same = _make_up(value) == before
            except Exception:  # noqa: BLE001 - broken by the learner's code: changed
                same = False
            if not same:
                _changed.setdefault("paths", []).append([list(path), None])


def _make_up(value: Any, depth: int = 0) -> Any:
    """What a list or dict holds, comparable before and after a call: numbers and strings by value (a float by its
    repr, so NaN equals itself), lists and dicts item by item, anything else (an array) by identity."""
    kind = type(value)
    if kind in (int, bool, str, bytes, type(None)):
        return value
    if kind is float:
        return repr(value)
    if depth < WATCH_DEPTH and kind in (list, tuple):
        return (kind.__name__, len(value), tuple(_make_up(item, depth + 1) for item in value[:MAX_MAKE_UP]))
    if depth < WATCH_DEPTH and kind is dict:
        return ("dict", len(value), tuple((repr(key), _make_up(item, depth + 1))
                                          for key, item in list(value.items())[:MAX_MAKE_UP]))
    return ("object", id(value))


def _watch(raw: Any, value: Any, path: tuple, watched: dict, depth: int = 0) -> None:
    """Note the arrays and tensors sent by value in an argument (``raw``: its form in the request, ``value``: what
    it became here), inside lists, tuples and dicts too (a list of weights, an optimizer's state dict)."""
    if len(watched) >= MAX_WATCHED or depth > WATCH_DEPTH:
        return
    if _by_value(raw):
        watched[path] = (value, _snapshot(value))
        return
    if type(raw) is not dict or len(raw) != 1:
        return
    tag, body = next(iter(raw.items()))
    if tag in ("$list", "$tuple") and type(body) is list and type(value) in (list, tuple) and len(body) == len(value):
        for k, (item_raw, item) in enumerate(zip(body, value)):
            _watch(item_raw, item, (*path, k), watched, depth + 1)
    elif tag == "$dict" and type(body) is list and type(value) is dict and len(body) == len(value):
        for pair, (key, item) in zip(body, value.items()):
            if type(key) in (str, int) and type(pair) is list and len(pair) == 2:
                _watch(pair[1], item, (*path, key), watched, depth + 1)


def _snapshot(value: Any) -> Any:
    if type(value).__module__.startswith("torch"):
        return value.detach().clone()
    return value.copy()


def _error(err: BaseException) -> dict:
    kind = type(err)
    return {"type": kind.__name__, "mro": [k.__name__ for k in kind.__mro__], "module": str(kind.__module__),
            "message": _safe_str(err), "where": _last_frame(err)}


def _one(func: Any, case: dict) -> dict:
    """One call of a batch, as a reply of its own: {"value", "changed"} or {"error"}."""
    try:
        _changed.clear()
        entry = {"value": encode(_call(func, case), _ref, same=_given)}
        if _changed:
            entry["changed"] = encode(dict(_changed), _ref)
        return entry
    except BaseException as err:  # noqa: BLE001 - SystemExit of a learner's call is that case's outcome
        if isinstance(err, KeyboardInterrupt):
            raise                 # the grader's interrupt (a time limit): the batch stops, as a single call does
        return {"error": _error(err)}


def _call_each(request: dict) -> str:
    """Call one function for each case of ``request["cases"]`` in order; the reply's "each" holds one entry per
    call run. The calls stop once the entries hold BATCH_BYTES of text (or BATCH_ITEMS separators): the grader
    then asks again for the cases left, so one reply stays far below the codec's caps. An entry that alone
    would not fit in a reply becomes that case's TooLarge error, as a single call's reply over the caps does."""
    if "sha256" in request:
        func = _probes.get(request["sha256"])
        if func is None:
            raise LookupError(f"no registered probe {request.get('name', '')!r} with this source")
    else:
        func = _decode(request["target"])
    texts: list[str] = []
    size = items = 0
    for case in request["cases"]:
        text = json.dumps(_one(func, case), allow_nan=True)
        if len(text) > MAX_ENTRY_BYTES:
            text = json.dumps({"error": {"type": "TooLarge", "mro": ["TooLarge", "NotPlain", "TypeError"],
                                         "message": f"{len(text) / 2 ** 20:,.0f} MiB of data (more than "
                                                    f"{MAX_ENTRY_BYTES // 2 ** 20} MiB)", "where": ""}})
        texts.append(text)
        size += len(text)
        items += text.count(",") + text.count("[") + text.count("{")
        if size >= BATCH_BYTES or items >= BATCH_ITEMS:
            break
    return '{"each": [' + ", ".join(texts) + "]}"


def serve(text: str | None) -> None:
    """Run one request and publish its reply; errors become replies too (the grader decides what they mean)."""
    from IPython.display import publish_display_data

    try:
        _changed.clear()
        _given.clear()
        if not isinstance(text, str):
            raise NotPlain("a request that is not JSON text")
        request = json.loads(text)
        if request["op"] == "call_each":
            out = _call_each(request)
        else:
            value = _handle(request)
            if request["op"] == "measure" and type(value) is dict:
                value = {**value, "intact": intact()}      # the grader flags a measurement whose machinery changed
            reply = {"value": encode(value, _ref, same=_given)}
            if _changed:
                reply["changed"] = encode(dict(_changed), _ref)
            out = json.dumps(reply, allow_nan=True)
    except BaseException as err:  # noqa: BLE001 - everything the learner's code raises is reported
        if isinstance(err, KeyboardInterrupt):
            raise
        out = json.dumps({"error": _error(err)}, allow_nan=True)
    publish_display_data({MIME: out})


def _safe_str(err: BaseException) -> str:
    try:
        return str(err)[:2000]
    except Exception:  # noqa: BLE001
        return "(the error could not be turned into text)"


def _last_frame(err: BaseException) -> str:
    try:
        frames = traceback.extract_tb(err.__traceback__)
        user = [f for f in frames if not f.filename.endswith(("shim.py", "plain.py"))]
        if not user:
            return ""
        # The learner's own line when the error passed through one of their cells (ipykernel names a cell's code
        # /tmp/ipykernel_<pid>/<hash>.py); else the file it came from, so a line of a library or of the test's
        # helper is never taken for a line of theirs; never a library's line (torch's linear.py, for a learner's
        # layer the test called: a learner's trial read it as a place to look), which says nothing of theirs.
        cells = [f for f in user if "ipykernel_" in f.filename or f.filename.startswith("<ipython-input")]
        if not cells:
            from cnnbook.measure import _LIBRARY

            user = [f for f in user if not f.filename.startswith(_LIBRARY)]     # "<frozen ..." is among them
            if not user:
                return ""
        frame = (cells or user)[-1]
        place = f"line {frame.lineno}" if cells else f"{os.path.basename(frame.filename)} line {frame.lineno}"
        return f"{place}: {frame.line}" if frame.line else place
    except Exception:  # noqa: BLE001
        return ""


# --- the measurement's own code, sealed before any learner cell runs ---------------------------------------------
# A hostile trial faked every "write it yourself" check with no flag: it gave cnnbook.measure.measure the code of a
# function that reports a clean run (``measure.__code__ = ...``), spelled so that no word of runner.SUSPICIOUS
# matched. The shim is imported before any learner cell; here it records what the measurement runs, and each
# measure reply says whether that is still so ("intact"); the grader raises the tampering flag when it is not, or
# when a reply does not say (a reply server of the learner's own). What is recorded: every function, class and
# module bound in this module, in cnnbook.measure, in autograde.plain and in cnnbook.standins (which object, and for
# a function its code, defaults, globals and closure; for a class of the module, its own methods alike),
# cnnbook.measure's other globals and the interpreter's prefixes (which decide
# what counts as library code), sys's tracing functions and the builtins the measurement calls. A learner who
# rewrites this check too, or answers the grader's requests with a server of their own that says "intact", is not
# detected by it: see DEVELOPERS.md ("What a kernel can fake").
_SEALED_BUILTINS = ("bool", "callable", "dict", "getattr", "hasattr", "id", "int", "isinstance", "iter", "len",
                    "list", "next", "range", "set", "sorted", "str", "tuple", "type")
_SEALED_SYS = ("settrace", "setprofile", "gettrace", "getprofile", "prefix", "base_prefix", "exec_prefix")


def _code_key(code: Any) -> tuple:
    """What a code object runs, nested functions included (marshal's bytes also depend on reference counts)."""
    import types

    return (code.co_code, code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars,
            tuple(_code_key(c) if type(c) is types.CodeType else _plain(c) for c in code.co_consts))


# The seal reads what it checks without running any code of theirs: a learner's object may not answer for itself.
# An str subclass whose repr was the original's (and whose rstrip was not) put in sys.prefix made every line "library
# code" and the seal said intact; a __repr__ that raised MemoryError made it say "could not tell" over a plain
# tampering (hostile trials). So values count by their exact builtin type and value, anything else by identity;
# types are compared with `is`, never isinstance or == (a __class__ property, a metaclass's __eq__); modules are read
# through the dicts they had when sealed (a module whose __class__ is replaced may show another __dict__).
_PLAIN_TYPES = (str, int, float, complex, bool, bytes, type(None))
_TYPE_MODULE = type.__dict__["__module__"].__get__         # a class's own module and dict, never a metaclass's answer
_TYPE_DICT = type.__dict__["__dict__"].__get__


def _plain(obj: Any, depth: int = 0) -> tuple:
    kind = type(obj)
    if any(kind is plain for plain in _PLAIN_TYPES):
        return (kind.__name__, obj)
    if depth < 4 and (kind is tuple or kind is frozenset):
        items = [_plain(item, depth + 1) for item in obj]
        return (kind.__name__, items if kind is tuple else sorted(items, key=repr))
    if depth < 4 and kind is dict:
        keys = list(obj)
        if all(type(key) is str for key in keys):
            return ("dict", [(key, _plain(obj[key], depth + 1)) for key in sorted(keys)])
    return ("object", id(kind), id(obj))


def _fingerprint() -> bytes:
    import types

    digest = hashlib.sha256()

    def add(*parts: object) -> None:
        digest.update(repr(parts).encode("utf-8", "backslashreplace"))

    for module, namespace in _SEALED_MODULES:
        add(id(module), id(type(module)), id(namespace), type(namespace) is dict)
        keys = list(namespace)
        add([key for key in keys if type(key) is not str])           # a key of another type: never one it had
        for name in sorted(key for key in keys if type(key) is str):
            obj = namespace[name]
            kind = type(obj)
            if kind is types.FunctionType:
                add(name, id(obj), id(obj.__code__), _code_key(obj.__code__), id(obj.__globals__),
                    _plain(obj.__defaults__), _plain(obj.__kwdefaults__), obj.__closure__ is None)
            elif issubclass(kind, (type, types.ModuleType, types.BuiltinFunctionType)):
                add(name, id(obj), id(kind))
                if issubclass(kind, type) and _TYPE_MODULE(obj) == namespace.get("__name__"):
                    # a class of the sealed module: its own methods too (cnnbook.standins.lend's __enter__ replaced
                    # would hand out the course's stand-ins unguarded), read through type's own descriptors
                    members = _TYPE_DICT(obj)
                    for member in sorted(key for key in members if type(key) is str):
                        value = members[member]
                        if type(value) is types.FunctionType:
                            add(name, member, id(value), id(value.__code__), _code_key(value.__code__),
                                _plain(value.__defaults__), value.__closure__ is None)
                        else:
                            add(name, member, id(type(value)), id(value))
            elif module is _SEALED_MODULES[1][0]:                    # cnnbook.measure: its other values too
                add(name, _plain(obj) if kind is not dict else id(obj))      # (__builtins__: which dict)
            elif module is _SEALED_MODULES[3][0]:
                # cnnbook.standins: which object each other name is bound to (_GRADED set back to False would lend to
                # a call the learner's code makes; its tables change as it lends, and stay the same objects)
                add(name, id(obj))
    add(id(type(sys)))                  # (a module whose class is replaced answers attribute look-ups as it likes)
    for name in _SEALED_SYS:
        add(name, _plain(_SYS_NAMESPACE.get(name)))
    add([(name, id(_BUILTINS_NAMESPACE.get(name))) for name in _SEALED_BUILTINS])
    return digest.digest()


def _sealed_modules() -> tuple:
    """The modules the seal reads, each with its namespace as it is now (before any learner cell): this one, the
    measurement's, the codec's, the course stand-ins' lending (cnnbook.standins); sys's and builtins' namespaces."""
    import builtins

    import autograde.plain as plain
    import cnnbook.measure as measuring
    import cnnbook.standins as standins

    # In the learner's kernel (not in the grader's own process, which imports this module too): a call of the test's
    # lends only when the grader made it (cnnbook.standins.lend), sealed with the rest.
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    standins._GRADED = getattr(shell, "kernel", None) is not None
    return (tuple((module, vars(module)) for module in (sys.modules[__name__], measuring, plain, standins)),
            vars(sys), vars(builtins))


def intact() -> bool | None:
    """Whether what the measurement runs is still what it was when this module was imported (before any learner
    cell): True, False, or None when it could not be told because the kernel's memory ran out (its limit reached
    by the learner's own arrays) even after the reserve kept for this check was given back. Never raises: whatever
    a learner did to the objects it reads counts as not intact."""
    global _reserve
    try:
        for _ in range(2):
            try:
                return _fingerprint() == _SEAL
            except MemoryError:
                if _reserve is not None:    # a few MiB of address space back, then once more
                    _reserve.close()
                    _reserve = None
            except Exception:  # noqa: BLE001 - a learner's object may raise anything when read
                return False
        return None
    finally:
        if _reserve is None:                # kept again for the next check, when there is room
            try:
                _reserve = mmap.mmap(-1, RESERVE_BYTES)
            except (MemoryError, OSError):
                pass


# Address space kept for intact(): the memory limit is prlimit's --as, which counts address space, and an anonymous
# map that is never touched uses no memory. A kernel whose arrays had reached the limit made the check fail for
# want of a few kilobytes, and the grader read that as tampering (a hostile trial); the check gives this back and
# tries again before it says it could not tell.
RESERVE_BYTES = 4 * 2 ** 20
_reserve: mmap.mmap | None = mmap.mmap(-1, RESERVE_BYTES)
sys.modules.setdefault("cnnbook_grader_shim", sys.modules[__name__])
_SEALED_MODULES, _SYS_NAMESPACE, _BUILTINS_NAMESPACE = _sealed_modules()
_SEAL = _fingerprint()                 # last: every name of this module is bound by now
