"""Plain data across the sandbox wall: a JSON codec that can carry numbers, text, arrays and tensors, never code.

The grader and the learner's sandboxed kernel talk only through this codec. ``encode`` turns a value into
JSON-able data; anything that is not plain data (a learner's class, function, module, or an object whose
type merely *looks* like ``int`` or ``list``) becomes a reference ``{"$ref": id}`` kept on the side that owns
the object. Types are matched exactly (``type(x) is int``, not ``isinstance``), so a subclass with an
``__eq__`` that always says True cannot pass itself off as a number. Nothing is ever unpickled.

``decode`` creates only a fixed set of plain types (None, bool, int, float, complex, str, bytes, list, tuple,
dict, set, slice, range, numpy arrays / scalars / dtypes of numeric kinds, torch tensors, ``torch.Size``,
torch dtypes and devices). It never imports, evaluates or looks up anything a message names, and it caps
the size of one message (bytes, items, nesting depth, string length, array elements), so a reply that
would sink the grader becomes a :class:`TooLarge` error for that one test.
"""
from __future__ import annotations

import base64
import binascii
import json
import math
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

# Caps of one message (a reply of the learner's kernel, or a request of the grader).
MAX_BYTES = 128 * 2 ** 20           # JSON text
MAX_ITEMS = 1_000_000               # numbers, strings, containers... (array elements are counted apart)
MAX_ELEMENTS = 16_000_000           # array and tensor elements, all arrays of the message together
MAX_ARRAY_BYTES = 64 * 2 ** 20      # one array's data
MAX_DEPTH = 64                      # nesting of lists, tuples, dicts and sets
MAX_STRING = 1_000_000              # characters of one string (bytes objects too)
# Tensors are sent by value up to this many elements; larger tensors stay behind as references.
BY_VALUE_ELEMENTS = 2_000_000
# Short strings whose identity Python shares (interned) keep that property across the wall, see _interned.
INTERN_CHARS = 200

_NUMERIC_KINDS = "biufc"
_DTYPE_TEXT = re.compile(r"[<>|=]?[biufc][1-9][0-9]?")
_DEVICE_TEXT = re.compile(r"(cpu|cuda|mps|meta|xpu)(:[0-9]{1,3})?")


class NotPlain(Exception):
    """A value that cannot cross the wall (the grader cannot send its own objects into learner code).

    Not a TypeError, nor any error a learner's code may be expected to raise: a test's ``check_raises(...,
    TypeError)`` would otherwise pass a learner's function that returns something too large or malformed."""


class TooLarge(NotPlain):
    """A message over one of the caps: too many bytes, items or array elements, too deep, too long a string."""


def _array(arr: np.ndarray) -> dict:
    arr = np.asarray(arr, order="C")            # (ascontiguousarray would turn a 0-d array into 1-d)
    return {"data": base64.b64encode(arr.tobytes()).decode("ascii"), "dtype": arr.dtype.str,
            "shape": list(arr.shape)}


def _interned(text: str) -> bool:
    """True when ``text`` is the object Python interned for its value (a literal such as "max" in code).

    A fresh copy is handed to sys.intern: it returns the interned object when there is one (and ``text`` is
    interned exactly when it is that object); when there is none it interns the copy, never ``text``, so the
    answer is right either way and ``text`` itself is left as it was.
    """
    if not 1 < len(text) <= INTERN_CHARS:
        return False                            # "" and one-character strings are shared by CPython anyway
    return sys.intern((text + ".")[:-1]) is text


def numeric_dtype(text: Any) -> np.dtype:
    """The numpy dtype named by ``text`` (such as "<f8"); only numeric kinds, and nothing is looked up."""
    if type(text) is not str or not _DTYPE_TEXT.fullmatch(text):
        raise NotPlain(f"{str(text)[:40]!r} is not a numeric dtype")
    dtype = np.dtype(text)
    if dtype.kind not in _NUMERIC_KINDS:
        raise NotPlain(f"arrays of dtype {dtype} are not plain data")
    return dtype


def encode(value: Any, ref: Callable[[Any], dict | None], _depth: int = 0, *,
           by_value: int = BY_VALUE_ELEMENTS, same: Mapping[int, tuple[Any, list]] | None = None) -> Any:
    """JSON-able form of ``value``; ``ref(obj)`` turns a non-plain object into a reference (or None: refuse).

    ``by_value``: tensors up to this many elements are sent as data, larger ones as references. The grader, which
    has no references to give, sends every tensor it holds as data (``MAX_ELEMENTS``): whatever :func:`decode`
    made of a reply can be sent back to the kernel. ``same``: id -> (object, where the grader's copy of it is) for
    the arrays and tensors a call was given: such an object in the reply is ``{"$arg": where}``, so the grader
    gets its own object back (a returned state that holds the gradient it was given holds the grader's)."""
    if _depth > MAX_DEPTH:
        raise TooLarge(f"the value is nested more than {MAX_DEPTH} levels deep")
    if same:
        given = same.get(id(value))
        if given is not None and given[0] is value:
            return {"$arg": list(given[1])}
    kind = type(value)
    if value is None or kind is bool:
        return value
    if kind is str:
        if len(value) > MAX_STRING:
            raise TooLarge(f"a string of {len(value):,} characters (more than {MAX_STRING:,})")
        return {"$name": value} if _interned(value) else value
    if kind is int:
        return value if abs(value) < 2 ** 53 else {"$int": str(value)}
    if kind is float:
        return value if math.isfinite(value) else {"$float": repr(value)}
    if kind is complex:
        return {"$complex": [repr(value.real), repr(value.imag)]}
    if kind is bytes:
        if len(value) > MAX_STRING:
            raise TooLarge(f"a bytes object of {len(value):,} bytes (more than {MAX_STRING:,})")
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if kind is list or kind is tuple or kind is set or kind is frozenset:
        if len(value) > MAX_ITEMS:
            raise TooLarge(f"a {kind.__name__} of {len(value):,} items (more than {MAX_ITEMS:,})")
        tags: dict[type, str] = {list: "$list", tuple: "$tuple", set: "$set", frozenset: "$set"}
        tag = tags[kind]
        return {tag: [encode(item, ref, _depth + 1, by_value=by_value, same=same) for item in value]}
    if kind is dict:
        if len(value) > MAX_ITEMS:
            raise TooLarge(f"a dict of {len(value):,} items (more than {MAX_ITEMS:,})")
        return {"$dict": [[encode(k, ref, _depth + 1, by_value=by_value, same=same),
                           encode(v, ref, _depth + 1, by_value=by_value, same=same)]
                          for k, v in value.items()]}
    if kind is slice:
        return {"$slice": [encode(part, ref, _depth + 1, by_value=by_value, same=same)
                           for part in (value.start, value.stop, value.step)]}
    if kind is range:
        return {"$range": [value.start, value.stop, value.step]}
    if (kind is np.ndarray and value.dtype.kind in _NUMERIC_KINDS and value.size <= MAX_ELEMENTS
            and value.nbytes <= MAX_ARRAY_BYTES):
        return {"$nd": _array(value)}
    if isinstance(value, np.generic) and kind.__module__ == "numpy" and value.dtype.kind in _NUMERIC_KINDS:
        return {"$npscalar": _array(np.asarray(value))}
    if isinstance(value, np.dtype) and kind.__module__.startswith("numpy") and value.kind in _NUMERIC_KINDS:
        return {"$npdtype": value.str}
    torch_form = _encode_torch(value, kind, by_value)
    if torch_form is not None:
        return torch_form
    # Everything else, modules included, stays where it is: at most a reference crosses.
    reference = ref(value)
    if reference is None:
        raise NotPlain(f"a {kind.__name__} is not plain data (numbers, text, lists, dicts, arrays, tensors)")
    return reference


def _encode_torch(value: Any, kind: type, by_value: int = BY_VALUE_ELEMENTS) -> dict | None:
    if not getattr(kind, "__module__", "").startswith("torch") or "torch" not in sys.modules:
        return None
    import torch

    if kind is torch.Size:
        return {"$size": [int(n) for n in value]}
    if kind is torch.dtype:
        return {"$tdtype": str(value).removeprefix("torch.")}
    if kind is torch.device:
        return {"$device": str(value)}
    if kind in (torch.Tensor, torch.nn.Parameter):
        if value.is_sparse or value.dtype not in _torch_dtypes().values():
            return None
        if value.device.type == "meta":          # any dtype of the table, as decode takes it (bfloat16 too)
            return {"$meta": [int(n) for n in value.shape], "dtype": str(value.dtype).removeprefix("torch.")}
        if value.dtype == torch.bfloat16 or value.numel() > by_value:
            return None  # stays behind as a reference: shape, numel() etc. are asked for one by one
        arr = value.detach().cpu().resolve_conj().resolve_neg().numpy()
        # Only leaves (parameters) keep requires_grad: it tells frozen from trainable. A computed result
        # would carry it only because the test's torch.no_grad() does not reach into the learner's kernel.
        return {"$tensor": _array(arr), "requires_grad": bool(value.requires_grad and value.is_leaf)}
    return None


_TORCH_DTYPES: dict[str, Any] = {}


def _torch_dtypes() -> dict[str, Any]:
    """torch's numeric dtypes by name: a fixed table, so a message never makes us look a name up in torch."""
    if not _TORCH_DTYPES:
        import torch

        for dtype in (torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.float16,
                      torch.bfloat16, torch.float32, torch.float64, torch.complex64, torch.complex128):
            _TORCH_DTYPES[str(dtype).removeprefix("torch.")] = dtype
    return _TORCH_DTYPES


def loads(text: str | bytes) -> Any:
    """Parse one message's JSON text within the caps (bytes, an upper bound of the items, nesting)."""
    size = len(text)
    if size > MAX_BYTES:
        raise TooLarge(f"{size / 2 ** 20:,.0f} MiB of data (more than {MAX_BYTES // 2 ** 20} MiB)")
    separators = (text.count(",") + text.count("[") + text.count("{")) if isinstance(text, str) else \
        (text.count(b",") + text.count(b"[") + text.count(b"{"))
    if separators > 4 * MAX_ITEMS:
        raise TooLarge(f"more than {MAX_ITEMS:,} items")
    try:
        return json.loads(text)
    except RecursionError:
        raise TooLarge(f"nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as err:
        raise NotPlain(f"a message that is not valid JSON ({err})") from None


def decode(obj: Any, deref: Callable[[dict], Any], *, intern: bool = False,
           given: Callable[[Any], Any] | None = None) -> Any:
    """Inverse of :func:`encode`; ``deref`` turns a ``{"$ref": ...}`` back into an object (or raises).

    ``given``: turns an ``{"$arg": where}`` into the caller's own argument there (or raises NotPlain); without it,
    ``$arg`` is refused.

    ``intern``: give strings that were interned on the sending side the interned object of this process
    (the learner's kernel does this, so that ``mode is "max"`` behaves as it does in Jupyter).
    Raises :class:`NotPlain` (:class:`TooLarge` over a cap) for anything else; never another exception.
    """
    budget = _Budget(intern, given)
    try:
        return budget.decode(obj, deref, 0)
    except NotPlain:
        raise
    except RecursionError:
        raise TooLarge(f"nested more than {MAX_DEPTH} levels deep") from None
    except MemoryError:
        raise TooLarge("too large to hold in memory") from None
    except (TypeError, ValueError, KeyError, IndexError, OverflowError, AttributeError, binascii.Error) as err:
        raise NotPlain(f"a malformed message ({type(err).__name__}: {str(err)[:200]})") from None


class _Budget:
    """What one message may still create."""

    def __init__(self, intern: bool, given: Callable[[Any], Any] | None = None):
        self.items = 0
        self.elements = 0
        self.intern = intern
        self.given = given

    def count(self, items: int = 1, add: bool = True) -> None:
        if self.items + items > MAX_ITEMS:
            raise TooLarge(f"more than {MAX_ITEMS:,} items")
        if add:
            self.items += items

    def text(self, value: Any) -> str:
        if type(value) is not str:
            raise NotPlain(f"expected text, got a {type(value).__name__}")
        if len(value) > MAX_STRING:
            raise TooLarge(f"a string of {len(value):,} characters (more than {MAX_STRING:,})")
        return value

    def array(self, body: Any) -> np.ndarray:
        if type(body) is not dict:
            raise NotPlain("a malformed array")
        dtype = numeric_dtype(body.get("dtype"))
        shape = body.get("shape")
        if type(shape) is not list or len(shape) > 32 or any(type(n) is not int or n < 0 for n in shape):
            raise NotPlain("a malformed array shape")
        size = math.prod(shape)
        self.elements += size
        if self.elements > MAX_ELEMENTS or size * dtype.itemsize > MAX_ARRAY_BYTES:
            raise TooLarge(f"an array of shape {tuple(shape)} (more than {MAX_ELEMENTS:,} numbers "
                           f"or {MAX_ARRAY_BYTES // 2 ** 20} MiB)")
        data = body.get("data")
        if type(data) is not str or len(data) > 4 * (MAX_ARRAY_BYTES // 3) + 4:
            raise NotPlain("a malformed array")
        raw = base64.b64decode(data, validate=True)
        if len(raw) != size * dtype.itemsize:
            raise NotPlain("an array whose data does not match its shape")
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()

    def decode(self, obj: Any, deref: Callable[[dict], Any], depth: int) -> Any:
        self.count()
        kind = type(obj)
        if obj is None or kind is bool or kind is int or kind is float:
            return obj
        if kind is str:
            return self.text(obj)
        if kind is not dict or len(obj) == 0:
            raise NotPlain(f"unexpected {kind.__name__} in a message")
        if depth > MAX_DEPTH:
            raise TooLarge(f"nested more than {MAX_DEPTH} levels deep")
        if "$ref" in obj:
            return deref(obj)
        if "$arg" in obj:
            if self.given is None or len(obj) != 1:
                raise NotPlain("an argument's reference where none can be")
            return self.given(obj["$arg"])
        tag = next(iter(obj))
        body = obj[tag]
        inner = depth + 1
        if tag == "$name":
            text = self.text(body)
            return sys.intern(text) if self.intern and len(text) <= INTERN_CHARS else text
        if tag == "$int":
            return int(self.text(body))         # (Python refuses more than 4,300 digits by itself)
        if tag == "$float":
            return float(self.text(body))
        if tag == "$complex":
            return complex(float(self.text(body[0])), float(self.text(body[1])))
        if tag == "$bytes":
            return base64.b64decode(self.text(body), validate=True)
        if tag in ("$list", "$tuple", "$set"):
            if type(body) is not list:
                raise NotPlain(f"a malformed {tag[1:]}")
            self.count(len(body), add=False)     # refuse a huge container before decoding any of it
            items = [self.decode(item, deref, inner) for item in body]
            return items if tag == "$list" else tuple(items) if tag == "$tuple" else set(items)
        if tag == "$dict":
            if type(body) is not list:
                raise NotPlain("a malformed dict")
            self.count(len(body), add=False)
            result = {}
            for pair in body:
                if type(pair) is not list or len(pair) != 2:
                    raise NotPlain("a malformed dict")
                key = self.decode(pair[0], deref, inner)
                result[key] = self.decode(pair[1], deref, inner)
            return result
        if tag == "$slice":
            if type(body) is not list or len(body) != 3:
                raise NotPlain("a malformed slice")
            return slice(*(self.decode(part, deref, inner) for part in body))
        if tag == "$range":
            if type(body) is not list or len(body) != 3 or any(type(n) is not int for n in body):
                raise NotPlain("a malformed range")
            return range(*body)
        if tag == "$nd":
            return self.array(body)
        if tag == "$npscalar":
            return self.array(body)[()]
        if tag == "$npdtype":
            return numeric_dtype(body)
        if tag in ("$size", "$tdtype", "$device", "$meta", "$tensor"):
            return self.torch(tag, body, obj)
        raise NotPlain(f"unknown tag {str(tag)[:40]!r}")

    def torch(self, tag: str, body: Any, obj: dict) -> Any:
        import torch

        if tag == "$size":
            if type(body) is not list or len(body) > 32 or any(type(n) is not int for n in body):
                raise NotPlain("a malformed torch.Size")
            return torch.Size(body)
        if tag == "$tdtype":
            dtype = _torch_dtypes().get(body) if type(body) is str else None
            if dtype is None:
                raise NotPlain(f"unknown torch dtype {str(body)[:40]!r}")
            return dtype
        if tag == "$device":
            if type(body) is not str or not _DEVICE_TEXT.fullmatch(body):
                raise NotPlain(f"unknown device {str(body)[:40]!r}")
            return torch.device(body)
        if tag == "$meta":
            dtype = _torch_dtypes().get(str(obj.get("dtype"))) if type(obj.get("dtype")) is str else None
            if dtype is None or type(body) is not list or len(body) > 32 or \
                    any(type(n) is not int or n < 0 for n in body):
                raise NotPlain("a malformed meta tensor")
            return torch.empty(tuple(body), dtype=dtype, device="meta")
        tensor = torch.from_numpy(self.array(body))
        return tensor.requires_grad_(True) if obj.get("requires_grad") is True and tensor.is_floating_point() \
            else tensor
