"""A per-layer table of a PyTorch model: output shape, parameters and multiply-accumulates (MACs).

The course's reference, for the lessons on classic architectures (LeNet-5, AlexNet, VGG):

>>> rows = summarize(model, (1, 32, 32))        # the shape of ONE input, without the batch axis
>>> print(format_summary(rows))                  # or print_summary(model, (1, 32, 32))

In lesson 04 learners write their own ``summary`` for an ``nn.Sequential``; its hidden test forbids
calling this module.

What is counted (per input image, with the conventions of ``cnnbook.cost``):

- one row per call of a *leaf* module (a module without children), in the order the forward pass
  calls them, found with forward hooks; so nested models (blocks, residual connections) work too;
- ``params``: the module's parameters (``p.numel()`` summed), counted at its first call only, so a
  module that is called twice is not counted twice;
- ``macs``: one MAC is one product added into a sum. Convolutions:
  ``out_h * out_w * c_out * (c_in / groups) * kh * kw`` (any number of spatial axes); transposed
  convolutions: ``input elements * (c_out / groups) * kh * kw``; ``nn.Linear``: ``in_features *
  out_features`` per vector it is applied to; everything else (pooling, activations, normalisation,
  Flatten, Dropout): 0. Bias additions are not counted, and FLOPs are about 2 x MACs.
"""
from __future__ import annotations

import math
import unicodedata

import torch
from torch import nn

from .i18n import _, padded

__all__ = ["summarize", "format_summary", "print_summary", "layer_macs"]


def _first_tensor(value):
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (list, tuple)):
        for item in value:
            found = _first_tensor(item)
            if found is not None:
                return found
    return None


def layer_macs(module: nn.Module, inputs: tuple, output) -> int:
    """Multiply-accumulates of one call of ``module`` for a batch of ONE (see the module docstring)."""
    out = _first_tensor(output)
    if out is None:
        return 0
    if isinstance(module, nn.modules.conv._ConvTransposeNd):
        x = _first_tensor(inputs)
        return x.numel() * (module.out_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, nn.modules.conv._ConvNd):
        return out.numel() * (module.in_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, nn.Linear):
        return out.numel() * module.in_features
    return 0


def summarize(model: nn.Module, input_shape: tuple[int, ...]) -> list[dict]:
    """Run one zero input of shape ``(1, *input_shape)`` through ``model`` and describe every leaf call.

    Returns a list of dicts, one per call, in order: ``name`` (the module's path in the model, e.g.
    ``features.0``), ``layer`` (its class name, e.g. ``Conv2d``), ``output_shape`` (a tuple without the
    batch axis), ``params`` (int) and ``macs`` (int). The model is left unchanged (it runs in eval mode
    under ``torch.no_grad`` and is put back into its former mode).
    Raises ValueError, naming the layer, when the input shape does not fit the model.
    """
    input_shape = tuple(int(n) for n in input_shape)
    if not input_shape or min(input_shape) < 1:
        raise ValueError(_("input_shape must be the shape of one input without the batch axis, "
                           "e.g. (3, 32, 32); got {shape}").format(shape=input_shape))
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
    names = {module: name for name, module in model.named_modules()}
    rows: list[dict] = []
    counted: set[int] = set()
    failing: list[str] = []

    given: dict[str, tuple] = {}            # what each layer was given (the shape of its first input)

    def before(module, inputs):
        failing.append(names.get(module, "?"))
        first = _first_tensor(inputs)
        given[failing[-1]] = tuple(first.shape) if first is not None else ()

    def after(module, inputs, output):
        failing.pop()
        out = _first_tensor(output)
        params = 0
        if id(module) not in counted:
            counted.add(id(module))
            params = sum(p.numel() for p in module.parameters())
        rows.append({"name": names.get(module, "?"), "layer": type(module).__name__,
                     "output_shape": tuple(out.shape[1:]) if out is not None else (),
                     "params": int(params), "macs": int(layer_macs(module, inputs, output))})

    leaves = [m for m in model.modules() if not list(m.children())] or [model]
    handles = [m.register_forward_pre_hook(before) for m in leaves]
    handles += [m.register_forward_hook(after) for m in leaves]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros((1, *input_shape), device=device, dtype=dtype))
    except RuntimeError as err:
        where = failing[-1] if failing else "?"
        module = dict(model.named_modules()).get(where, model)
        layer = type(module).__name__
        got = given.get(where, ())
        if isinstance(module, nn.Linear) and len(got) > 2:
            message = _("layer {where} (Linear) is given a {ndim}-D input {shape}: a flatten is missing before it "
                        "(nn.Flatten() in the layers, or x.flatten(1) in forward); flattened, each sample is {n} "
                        "numbers").format(where=repr(where), ndim=len(got), shape=got, n=math.prod(got[1:]))
        elif isinstance(module, nn.Linear) and len(got) == 2 and got[-1] != module.in_features:
            message = _("layer {where} (Linear) takes {n_in} numbers per sample and is given {n_got} (input shape "
                        "{shape}): make its in_features {n_got}, or check the layers before it").format(
                where=repr(where), n_in=module.in_features, n_got=got[-1], shape=got)
        else:
            message = _("the input shape {shape} does not fit the model: layer {where} ({layer}) failed: "
                        "{error}").format(shape=input_shape, where=repr(where), layer=layer,
                                          error=str(err).splitlines()[0].rstrip("."))
        raise ValueError(message) from None
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return rows


def _pad(text: str, width: int, right: bool = False) -> str:
    return padded(text, width, ">" if right else "<")         # one helper for aligned labels: cnnbook.i18n


def _width(text: str) -> int:
    """Columns ``text`` takes in a monospaced font (a Hangul syllable takes two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def format_summary(rows: list[dict], model: nn.Module | None = None) -> str:
    """The rows as a text table with totals; with ``model``, also its own parameter count."""
    labels, shapes = [], []
    for i, row in enumerate(rows):
        named = row.get("name") not in (None, "", str(i))     # a path such as 'features.0' says more
        labels.append(f"{row['name']} ({row['layer']})" if named else row["layer"])
        shapes.append("x".join(str(n) for n in row["output_shape"]))
    # as wide as the longest entry and a space (`branch_pool.0 (MaxPool2d)` once ran into its output shape)
    wide = max([22, *(_width(label) + 1 for label in labels)])
    tall = max([18, *(len(shape) + 1 for shape in shapes)])
    header = (f"{'#':>3}  " + _pad(_("layer"), wide) + _pad(_("output shape"), tall)
              + _pad(_("parameters"), 13, right=True) + _pad("MACs", 16, right=True))
    lines = [header, "-" * _width(header)]
    for i, (row, label, shape) in enumerate(zip(rows, labels, shapes)):
        lines.append(f"{i:>3}  " + _pad(label, wide) + f"{shape:<{tall}}{row['params']:>13,}{row['macs']:>16,}")
    lines.append("-" * _width(header))
    total_params = sum(row["params"] for row in rows)
    total_macs = sum(row["macs"] for row in rows)
    lines.append(f"{'':>3}  " + _pad(_("total"), wide) + f"{'':<{tall}}{total_params:>13,}{total_macs:>16,}")
    if model is not None:
        own = sum(p.numel() for p in model.parameters())
        if own != total_params:
            lines.append(_("(the model holds {n:,} parameters; the rows count leaf modules only)").format(n=own))
    return "\n".join(lines)


def print_summary(model: nn.Module, input_shape: tuple[int, ...]) -> list[dict]:
    """Print the table of ``summarize(model, input_shape)`` and return its rows."""
    rows = summarize(model, input_shape)
    print(format_summary(rows, model))
    return rows
