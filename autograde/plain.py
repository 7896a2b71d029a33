"""Plain data across the sandbox wall: a JSON codec that can carry numbers, text, arrays and tensors, never code.

The grader and the learner's sandboxed kernel talk only through this codec. ``encode`` turns a value into
JSON-able data; anything that is not plain data (a learner's class, function, module, or an object whose
type merely *looks* like ``int`` or ``list``) becomes a reference ``{"$ref": id}`` kept on the side that owns
the object. Types are matched exactly (``type(x) is int``, not ``isinstance``), so a subclass with an
``__eq__`` that always says True cannot pass itself off as a number. Nothing is ever unpickled.
"""
from __future__ import annotations

import base64
import importlib
import math
import sys
import types
from typing import Any, Callable

import numpy as np

# A reply larger than this is refused: a learner's function returning gigabytes must not sink the grader.
MAX_ELEMENTS = 16_000_000
# Arrays are sent by value up to this many elements; larger tensors stay behind as references.
BY_VALUE_ELEMENTS = 2_000_000

_NUMERIC_KINDS = "biufc"
# Modules that may be named in a reply: a learner's `np` means the grader's own numpy, never theirs.
TRUSTED_MODULES = {"numpy", "torch", "math", "cnnbook", "scipy", "matplotlib", "itertools", "functools",
                   "collections", "random", "statistics", "time"}


class NotPlain(TypeError):
    """A value that cannot cross the wall (the grader cannot send its own objects into learner code)."""


def _array(arr: np.ndarray) -> dict:
    arr = np.asarray(arr, order="C")            # (ascontiguousarray would turn a 0-d array into 1-d)
    return {"data": base64.b64encode(arr.tobytes()).decode("ascii"), "dtype": arr.dtype.str,
            "shape": list(arr.shape)}


def _unarray(obj: dict) -> np.ndarray:
    dtype = np.dtype(obj["dtype"])
    if dtype.kind not in _NUMERIC_KINDS:
        raise NotPlain(f"arrays of dtype {dtype} are not plain data")
    shape = tuple(int(n) for n in obj["shape"])
    if math.prod(shape) > MAX_ELEMENTS:
        raise NotPlain(f"an array of shape {shape} is too large to send")
    raw = base64.b64decode(obj["data"])
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def encode(value: Any, ref: Callable[[Any], dict | None], _depth: int = 0) -> Any:
    """JSON-able form of ``value``; ``ref(obj)`` turns a non-plain object into a reference (or None: refuse)."""
    if _depth > 40:
        raise NotPlain("the value is nested too deeply")
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        return value if abs(value) < 2 ** 53 else {"$int": str(value)}
    if kind is float:
        return value if math.isfinite(value) else {"$float": repr(value)}
    if kind is complex:
        return {"$complex": [repr(value.real), repr(value.imag)]}
    if kind is bytes:
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if kind is list or kind is tuple or kind is set or kind is frozenset:
        tag = {list: "$list", tuple: "$tuple", set: "$set", frozenset: "$set"}[kind]
        return {tag: [encode(item, ref, _depth + 1) for item in value]}
    if kind is dict:
        return {"$dict": [[encode(k, ref, _depth + 1), encode(v, ref, _depth + 1)] for k, v in value.items()]}
    if kind is slice:
        return {"$slice": [encode(value.start, ref), encode(value.stop, ref), encode(value.step, ref)]}
    if kind is range:
        return {"$range": [value.start, value.stop, value.step]}
    if kind is np.ndarray and value.dtype.kind in _NUMERIC_KINDS and value.size <= MAX_ELEMENTS:
        return {"$nd": _array(value)}
    if isinstance(value, np.generic) and kind.__module__ == "numpy" and value.dtype.kind in _NUMERIC_KINDS:
        return {"$npscalar": _array(np.asarray(value))}
    if isinstance(value, np.dtype) and kind.__module__.startswith("numpy"):
        return {"$npdtype": value.str}
    if kind is types.ModuleType:
        return {"$module": value.__name__}
    torch_form = _encode_torch(value, kind, ref, _depth)
    if torch_form is not None:
        return torch_form
    reference = ref(value)
    if reference is None:
        raise NotPlain(f"a {kind.__name__} is not plain data (numbers, text, lists, dicts, arrays, tensors)")
    return reference


def _encode_torch(value: Any, kind: type, ref, depth: int) -> dict | None:
    if not kind.__module__.startswith("torch"):
        return None
    import torch

    if kind is torch.Size:
        return {"$size": [int(n) for n in value]}
    if kind is torch.dtype:
        return {"$tdtype": str(value).removeprefix("torch.")}
    if kind is torch.device:
        return {"$device": str(value)}
    if kind in (torch.Tensor, torch.nn.Parameter):
        if value.is_sparse or value.dtype == torch.bfloat16:
            return None
        if value.device.type == "meta":
            return {"$meta": [int(n) for n in value.shape], "dtype": str(value.dtype).removeprefix("torch.")}
        if value.numel() > BY_VALUE_ELEMENTS:
            return None  # stays behind as a reference: shape, numel() etc. are asked for one by one
        arr = value.detach().cpu().resolve_conj().resolve_neg().numpy()
        # Only leaves (parameters) keep requires_grad: it tells frozen from trainable. A computed result
        # would carry it only because the test's torch.no_grad() does not reach into the learner's kernel.
        return {"$tensor": _array(arr), "requires_grad": bool(value.requires_grad and value.is_leaf)}
    return None


def decode(obj: Any, deref: Callable[[dict], Any]) -> Any:
    """Inverse of :func:`encode`; ``deref`` turns a ``{"$ref": ...}`` back into an object (or raises)."""
    if obj is None or type(obj) in (bool, int, float, str):
        return obj
    if type(obj) is not dict or len(obj) == 0:
        raise NotPlain(f"unexpected {type(obj).__name__} in a message")
    if "$ref" in obj:
        return deref(obj)
    tag = next(iter(obj))
    body = obj[tag]
    if tag == "$int":
        return int(body)
    if tag == "$float":
        return float(body)
    if tag == "$complex":
        return complex(float(body[0]), float(body[1]))
    if tag == "$bytes":
        return base64.b64decode(body)
    if tag == "$list":
        return [decode(item, deref) for item in body]
    if tag == "$tuple":
        return tuple(decode(item, deref) for item in body)
    if tag == "$set":
        return {decode(item, deref) for item in body}
    if tag == "$dict":
        return {decode(k, deref): decode(v, deref) for k, v in body}
    if tag == "$slice":
        return slice(*(decode(part, deref) for part in body))
    if tag == "$range":
        return range(*(int(part) for part in body))
    if tag == "$nd":
        return _unarray(body)
    if tag == "$npscalar":
        return _unarray(body)[()]
    if tag == "$npdtype":
        return np.dtype(body)
    if tag == "$module":
        top = str(body).split(".")[0]
        if top not in TRUSTED_MODULES and top not in sys.stdlib_module_names:
            raise NotPlain(f"the module {body!r} is not available to tests")
        return importlib.import_module(str(body))
    import torch

    if tag == "$size":
        return torch.Size(int(n) for n in body)
    if tag == "$tdtype":
        dtype = getattr(torch, str(body), None)
        if not isinstance(dtype, torch.dtype):
            raise NotPlain(f"unknown torch dtype {body!r}")
        return dtype
    if tag == "$device":
        return torch.device(str(body))
    if tag == "$meta":
        return torch.empty(tuple(int(n) for n in body), dtype=getattr(torch, obj["dtype"]), device="meta")
    if tag == "$tensor":
        tensor = torch.from_numpy(_unarray(body))
        return tensor.requires_grad_(True) if obj.get("requires_grad") and tensor.is_floating_point() else tensor
    raise NotPlain(f"unknown tag {tag!r}")
