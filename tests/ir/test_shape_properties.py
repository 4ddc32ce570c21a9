"""Property tests: the shape rules agree with numpy on broadcasting, reshape, transpose, slice, reductions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webinfer.errors import GraphError
from webinfer.ir import OperandDesc, get_op

FAST = settings(max_examples=150, deadline=None)
dims = st.lists(st.integers(0, 4), min_size=0, max_size=4)


def D(shape: tuple) -> OperandDesc:
    return OperandDesc("float32", tuple(shape))


@FAST
@given(dims, dims)
def test_broadcast_matches_numpy(a: list, b: list) -> None:
    try:
        want = np.broadcast_shapes(tuple(a), tuple(b))
    except ValueError:
        with pytest.raises(GraphError, match="shapes cannot be broadcast"):
            get_op("add").check([D(a), D(b)], {})
        return
    assert get_op("add").check([D(a), D(b)], {})[0].shape == want
    assert get_op("where").check([OperandDesc("uint8", tuple(a)), D(b), D(())], {})[0].shape == want


@FAST
@given(dims, st.data())
def test_symbolic_dims_broadcast_like_their_bindings(a: list, data: st.DataObject) -> None:
    """Naming a dim never changes the result for a binding the rule accepts (checked again when bound)."""
    if not a:
        return
    axis = data.draw(st.integers(0, len(a) - 1))
    b = data.draw(dims)
    named = list(a)
    named[axis] = "n"
    try:
        sym = get_op("add").check([D(named), D(b)], {})[0].shape
    except GraphError:
        return
    bound = tuple(a[axis] if d == "n" else d for d in sym)
    try:
        want = np.broadcast_shapes(tuple(a), tuple(b))
    except ValueError:
        return  # the symbolic rule accepted what this binding cannot do: specialize() catches it
    assert bound == want


@FAST
@given(st.lists(st.integers(1, 4), min_size=1, max_size=4), st.data())
def test_reshape_matches_numpy(shape: list, data: st.DataObject) -> None:
    total = int(np.prod(shape))
    target = data.draw(st.permutations(shape))
    target = list(target)
    if data.draw(st.booleans()):
        target[data.draw(st.integers(0, len(target) - 1))] = -1
    want = np.zeros(total).reshape(shape).reshape(target).shape
    assert get_op("reshape").check([D(shape)], {"new_shape": target})[0].shape == want
    wrong = [total + 1]
    with pytest.raises(GraphError, match="cannot reshape"):
        get_op("reshape").check([D(shape)], {"new_shape": wrong})


@FAST
@given(st.lists(st.integers(0, 4), min_size=0, max_size=5), st.data())
def test_transpose_matches_numpy(shape: list, data: st.DataObject) -> None:
    perm = data.draw(st.permutations(list(range(len(shape)))))
    want = np.zeros(shape).transpose(perm).shape
    assert get_op("transpose").check([D(shape)], {"permutation": list(perm)})[0].shape == want
    assert get_op("transpose").check([D(shape)], {})[0].shape == np.zeros(shape).T.shape


@FAST
@given(st.lists(st.integers(0, 6), min_size=1, max_size=4), st.data())
def test_slice_matches_numpy(shape: list, data: st.DataObject) -> None:
    starts, sizes, strides = [], [], []
    for d in shape:
        s = data.draw(st.integers(0, d))
        starts.append(s)
        sizes.append(data.draw(st.integers(0, d - s)))
        strides.append(data.draw(st.integers(1, 3)))
    x = np.zeros(shape)
    want = x[tuple(slice(s, s + n, k) for s, n, k in zip(starts, sizes, strides))].shape
    got = get_op("slice").check([D(shape)], {"starts": starts, "sizes": sizes, "strides": strides})[0].shape
    assert got == want


@FAST
@given(st.lists(st.integers(0, 4), min_size=1, max_size=4), st.data(), st.booleans())
def test_reduction_shape_matches_numpy(shape: list, data: st.DataObject, keep: bool) -> None:
    axes = data.draw(st.lists(st.integers(-len(shape), len(shape) - 1), unique_by=lambda a: a % len(shape)))
    want = np.zeros(shape).sum(axis=tuple(axes), keepdims=keep).shape
    assert get_op("reduce_sum").check([D(shape)], {"axes": axes, "keep_dimensions": keep})[0].shape == want


@FAST
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.data())
def test_pad_shape_matches_numpy(shape: list, data: st.DataObject) -> None:
    begin = data.draw(st.lists(st.integers(0, 3), min_size=len(shape), max_size=len(shape)))
    end = data.draw(st.lists(st.integers(0, 3), min_size=len(shape), max_size=len(shape)))
    want = np.pad(np.zeros(shape), list(zip(begin, end))).shape
    assert get_op("pad").check([D(shape)], {"beginning_padding": begin, "ending_padding": end})[0].shape == want
