"""Checking a network by what it computes, not by what its layers are called.

Lesson 07's tests let a learner name the layers of a block anything, nest them in ``nn.Sequential`` or not,
use ``nn.ReLU`` modules or ``F.relu`` and register the layers in any order. They look at a block the way its
output sees it:

- ``describe(model, x, norm_params)`` runs where the model was built (inside a ``@learner_side`` probe):
  it gives the model's ``nn.BatchNorm2d`` layers the test's weights and biases, runs the model on the test's
  input in training mode and returns plain data: the output, the parameter count and every convolution,
  batch norm and max-pool with its settings and parameters;
- ``wirings(layers, wanted)`` lists every way to give each role of the architecture (``{"conv1": weight
  shape, ...}``) its own layer with a weight of that shape; layers with equal shapes may play either role;
- ``nearest(got, options)`` picks, among references computed for each wiring, the one closest to the
  learner's output, so that the check compares with the reference of the learner's own wiring (and its
  typical slips);
- ``seed_layers(model, seed)`` (in a probe) gives every ``nn.Conv2d`` and ``nn.Linear`` weights that depend only
  on the seed and the weight's shape (``layer_weights``), so that a test computes the same network from the shapes
  alone, for networks too large to send their weights back (AlexNet's 62 million).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["describe", "wirings", "nearest", "conv_rows", "layer_weights", "seed_layers"]


def describe(model: Any, x: Any, norm_params: Sequence[tuple[Any, Any]] = (), zero_norms: bool = False) -> dict:
    """Run ``model`` (training mode) on ``x`` and describe its layers with plain data (``x = None``: only the
    layers, so that a test can check them before a forward pass that might fail).

    ``norm_params``: (weight, bias) for the model's BatchNorm2d layers in the order of ``model.modules()``
    (a pair whose size does not fit is skipped); ``zero_norms``: set every BatchNorm2d's weight and bias to 0.
    """
    import torch
    from torch import nn

    model.train()
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for m, (w, b) in zip(norms, norm_params):
            w, b = torch.as_tensor(w, dtype=torch.float32), torch.as_tensor(b, dtype=torch.float32)
            if m.weight is not None and m.bias is not None and m.weight.shape == w.shape == b.shape:
                m.weight.copy_(w)
                m.bias.copy_(b)
        if zero_norms:
            for m in norms:
                if m.weight is not None and m.bias is not None:
                    m.weight.zero_()
                    m.bias.zero_()
        out = None if x is None else model(torch.as_tensor(x, dtype=torch.float32))

    def pair(v: Any) -> tuple:
        return tuple(v) if isinstance(v, (tuple, list)) else (v, v)

    convs = [{"weight": m.weight.detach().clone(), "bias": None if m.bias is None else m.bias.detach().clone(),
              "in": m.in_channels, "out": m.out_channels, "kernel": pair(m.kernel_size), "stride": pair(m.stride),
              "groups": m.groups} for m in model.modules() if isinstance(m, nn.Conv2d)]
    norm_rows = [{"weight": None if m.weight is None else m.weight.detach().clone(),
                  "bias": None if m.bias is None else m.bias.detach().clone(), "eps": float(m.eps),
                  "features": m.num_features} for m in norms]
    pools = [(pair(m.kernel_size), pair(m.stride), pair(m.padding)) for m in model.modules()
             if isinstance(m, nn.MaxPool2d)]
    return {"out": out.detach().clone() if isinstance(out, torch.Tensor) else out,
            "params": sum(p.numel() for p in model.parameters()), "convs": convs, "norms": norm_rows,
            "pools": pools}


def conv_rows(info: Mapping[str, Any], *fields: str) -> list[tuple]:
    """The convolutions of ``describe``'s answer as sorted tuples of ``fields`` (order of registration does not
    matter); the field ``"bias"`` gives whether the convolution has one."""
    rows = []
    for conv in info["convs"]:
        rows.append(tuple(conv["bias"] is not None if f == "bias" else conv[f] for f in fields))
    return sorted(rows)


def wirings(layers: Sequence[Mapping[str, Any]], wanted: Mapping[str, tuple]) -> list[dict[str, int]]:
    """Every way to give each role in ``wanted`` (role -> weight shape) its own layer with that weight shape:
    a list of {role: index into layers}. Empty when some role finds no layer."""
    found: list[dict[str, int]] = [{}]
    for role, shape in wanted.items():
        found = [{**chosen, role: k} for chosen in found for k, layer in enumerate(layers)
                 if k not in chosen.values() and layer.get("weight") is not None
                 and tuple(layer["weight"].shape) == tuple(shape)]
    return found


def _distance(got: np.ndarray, candidate: Any) -> float:
    cand = np.asarray(candidate, dtype=float)
    if cand.shape != got.shape:
        return float("inf")
    return float(np.max(np.abs(got - cand))) if got.size else 0.0


def nearest(got: Any, options: Sequence[tuple[Any, Mapping[str, Any]]]) -> tuple[Any, Mapping[str, Any]]:
    """Of ``options`` [(expected, {slip: wrong answer})], one per wiring, the one whose expected value or typical
    slip is closest to ``got`` (the learner's output); the first when ``got`` is not an array. ``options`` must not
    be empty (a test checks the layers, and so that some wiring exists, first)."""
    if not options:
        raise ValueError("nearest() needs at least one reference: check the layers before the output")
    try:
        arr = np.asarray(got.numpy() if hasattr(got, "numpy") else got, dtype=float)
    except (TypeError, ValueError):
        return options[0]
    return min(options, key=lambda option: min([_distance(arr, option[0])]
                                               + [_distance(arr, wrong) for wrong in option[1].values()]))


def _seeded_layer(seed: int, weight: Any, bias: Any) -> None:
    """Fill ``weight`` (He-scaled normal values) and ``bias`` (small normal values; None: no bias) in place from
    ``seed`` and the weight's shape only: the same numbers on every machine and in every process."""
    import math
    import zlib

    import torch

    shape = tuple(int(n) for n in weight.shape)
    generator = torch.Generator().manual_seed((int(seed) ^ zlib.crc32(repr(shape).encode())) % 2 ** 63)
    with torch.no_grad():
        weight.normal_(generator=generator).mul_(math.sqrt(2.0 / math.prod(shape[1:])))
        if bias is not None:
            bias.normal_(generator=generator).mul_(0.1)


def layer_weights(seed: int, shape: Sequence[int]) -> tuple[Any, Any]:
    """(weight, bias) for a convolution or linear layer whose weight has ``shape``, as :func:`seed_layers` gives
    them: He-scaled normal weights and small normal biases drawn from ``seed`` and the shape only."""
    import torch

    shape = tuple(int(n) for n in shape)
    weight, bias = torch.empty(shape), torch.empty(shape[0])
    _seeded_layer(seed, weight, bias)
    return weight, bias


def seed_layers(model: Any, seed: int) -> None:
    """Give every ``nn.Conv2d`` and ``nn.Linear`` of ``model`` the weights (and bias, when it has one) of
    :func:`layer_weights` for its weight's shape, whatever the layers are called or however they are nested. The
    values are written in place (no second copy of a large layer)."""
    from torch import nn

    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            _seeded_layer(seed, m.weight, m.bias)
