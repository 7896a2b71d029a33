"""The grader's hand inside the learner's sandboxed kernel: answers requests with plain data only.

The grader sends ``serve('<json request>')`` as code; the reply goes out as a display message with the
MIME type below. Everything here runs beside the learner's code and can be tampered with by it; that is
fine, because nothing here decides a verdict: it only hands over what the learner's objects return for
inputs the grader chose. Verdicts are computed in the grader's own process. A module, like any object that
is not plain data, leaves the kernel only as a reference (the grader never imports what a reply names).
"""
from __future__ import annotations

import json
import sys
import traceback
from typing import Any

from autograde.plain import NotPlain, decode, encode

MIME = "application/x-cnnbook-reply+json"
MAX_ITEMS = 100_000
_objects: dict[int, Any] = {}


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
    try:
        text = object.__repr__(obj) if isinstance(obj, type) else repr(obj)
    except Exception:  # noqa: BLE001
        text = f"<{kind.__name__} object>"
    is_class = isinstance(obj, type)
    return {"$ref": key, "type": mro[0], "mro": mro, "repr": text[:300], "callable": callable(obj),
            "is_class": is_class, "class_mro": [_qualname(k) for k in obj.__mro__] if is_class else None}


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
    if op == "define":
        # A test function marked @learner_side: defined here, so it runs beside the learner's code.
        ns = _user_ns()
        scope: dict = {}
        exec(compile(request["source"], "<test cell>", "exec"), ns, scope)
        return scope[request["name"]]
    target = _decode(request["target"])
    if op == "getattr":
        return getattr(target, _decode(request["name"]))
    if op == "setattr":
        setattr(target, _decode(request["name"]), _decode(request["value"]))
        return None
    if op == "call":
        args = _decode(request["args"])
        kwargs = _decode(request["kwargs"])
        return target(*args, **kwargs)
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


def serve(text: str) -> None:
    """Run one request and publish its reply; errors become replies too (the grader decides what they mean)."""
    from IPython.display import publish_display_data

    try:
        value = _handle(json.loads(text))
        reply = {"value": encode(value, _ref)}
    except BaseException as err:  # noqa: BLE001 - everything the learner's code raises is reported
        if isinstance(err, KeyboardInterrupt):
            raise
        kind = type(err)
        reply = {"error": {"type": kind.__name__, "mro": [k.__name__ for k in kind.__mro__],
                           "message": _safe_str(err),
                           "where": _last_frame(err)}}
    publish_display_data({MIME: json.dumps(reply, allow_nan=True)})


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
        frame = user[-1]
        return f"line {frame.lineno}: {frame.line}" if frame.line else f"line {frame.lineno}"
    except Exception:  # noqa: BLE001
        return ""


sys.modules.setdefault("cnnbook_grader_shim", sys.modules[__name__])
