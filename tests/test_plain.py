"""The wall between the grader and a learner's kernel: what crosses it, and what does not."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from autograde.judge import _free_names, _prepare, split_hidden
from autograde.plain import NotPlain, decode, encode


def no_refs(obj):
    return None


def keep_refs(table):
    def ref(obj):
        table[id(obj)] = obj
        return {"$ref": id(obj)}
    return ref


@pytest.mark.parametrize("value", [
    None, True, 3, -2 ** 70, 2.5, "text", b"\x00\xff", 1 + 2j, [1, [2, 3]], (1, (2,)), {"a": (1, 2), 3: None},
    {1, 2}, slice(1, None, 2), range(0, 10, 3), np.arange(12, dtype=np.int16).reshape(3, 4),
    np.float32(1.5), np.dtype("float64"), torch.Size([2, 3]), torch.float16, torch.device("cpu"), math,
])
def test_plain_values_cross_unchanged(value):
    back = decode(encode(value, no_refs), lambda ref: pytest.fail("no references expected"))
    assert type(back) is type(value)
    if isinstance(value, np.ndarray):
        assert np.array_equal(back, value) and back.dtype == value.dtype
    else:
        assert back == value


def test_nan_and_infinity_survive_json():
    back = decode(encode([math.nan, math.inf], no_refs), None)
    assert math.isnan(back[0]) and back[1] == math.inf


def test_tensors_keep_values_dtype_and_whether_they_are_trainable():
    weight = torch.nn.Parameter(torch.randn(3, 2))
    frozen = torch.nn.Parameter(torch.randn(2), requires_grad=False)
    output = weight * 2                                   # computed: not a leaf
    w, f, o = decode(encode([weight, frozen, output], no_refs), None)
    assert torch.equal(w.detach(), weight.detach()) and w.requires_grad
    assert not f.requires_grad and not o.requires_grad
    meta = decode(encode(torch.empty(4, 5, device="meta"), no_refs), None)
    assert meta.device.type == "meta" and meta.shape == (4, 5)


class AlwaysEqual(int):
    def __eq__(self, other):
        return True


class Liar(np.ndarray):
    pass


@pytest.mark.parametrize("value", [AlwaysEqual(3), np.zeros(3).view(Liar), [1, AlwaysEqual(2)],
                                   lambda: 1, object(), np.array([object()])])
def test_lookalikes_and_code_never_pass_as_plain_data(value):
    with pytest.raises(NotPlain):
        encode(value, no_refs)
    table = {}
    assert "$ref" in str(encode(value, keep_refs(table)))


def test_the_grader_refuses_pickles_and_unknown_modules():
    with pytest.raises(NotPlain):
        decode({"$nd": {"data": "", "dtype": "|O", "shape": [0]}}, None)
    with pytest.raises(NotPlain):
        decode({"$module": "learner_module"}, None)
    with pytest.raises(NotPlain):
        decode({"$pickle": "gASV"}, None)


def test_a_test_cell_splits_into_visible_and_hidden_parts():
    visible, hidden = split_hidden("a = 1\n### BEGIN HIDDEN TESTS\nb = 2\n### END HIDDEN TESTS\nc = 3")
    assert visible == "a = 1\nc = 3" and hidden == "b = 2"


def test_names_a_test_needs_from_the_notebook():
    code = """
import numpy as np
from cnnbook.checks import check_array
expected = np.ones(3)
check_array("f(x)", f(x), expected, mistakes={k: v for k, v in table.items()})
def helper(arg):
    return arg + offset
try:
    g()
except ValueError as err:
    print(err, len(expected))
"""
    assert _free_names(_prepare(code)[0]) == {"f", "x", "table", "offset", "g"}


def test_learner_side_functions_are_sent_whole_and_called_by_name():
    tree, functions = _prepare('''
@learner_side
def build():
    """builds"""
    import torch
    return train(torch.nn.Linear(2, 1))
result = build()
''')
    assert list(functions) == ["build"]
    assert functions["build"].startswith("def build():") and "learner_side" not in functions["build"]
    assert "__define_learner_side__" in _free_names(tree)
