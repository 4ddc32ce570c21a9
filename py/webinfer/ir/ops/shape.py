"""Data movement: reshape, transpose, concat, slice, split, expand, gather, scatter_nd, pad."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..operand import Dim, OperandDesc, fmt_shape
from ..registry import Attr, Call, OpSpec, dims_product, normalize_axis, register, same_dims
from ._common import INDEX_TYPES, exact, inp


def _x(call: Call) -> OperandDesc:
    x = call.inputs[0]
    assert x is not None
    return x


def _reshape_infer(call: Call) -> list[OperandDesc]:
    x = _x(call)
    new = list(call["new_shape"])
    if new.count(-1) > 1:
        raise call.error(f"new_shape {fmt_shape(new)} has more than one -1")
    # named dims cancel when both sides name the same ones; then the static parts must hold as many elements
    comparable = sorted(d for d in x.shape if isinstance(d, str)) == sorted(d for d in new if isinstance(d, str))
    total = dims_product([d for d in x.shape if isinstance(d, int)])
    known = dims_product([d for d in new if isinstance(d, int) and d != -1])
    assert total is not None and known is not None
    if -1 in new:
        if not comparable:
            raise call.error(
                f"new_shape {fmt_shape(new)}: -1 needs the same named dims on both sides as {fmt_shape(x.shape)}; "
                "name the dims instead"
            )
        if known == 0 or total % known:
            raise call.error(f"cannot reshape {fmt_shape(x.shape)} ({total} elements) into {fmt_shape(new)}")
        new[new.index(-1)] = total // known
    elif comparable and total != known:
        raise call.error(
            f"cannot reshape {fmt_shape(x.shape)} ({total} elements) into {fmt_shape(new)} ({known} elements)"
        )
    return [OperandDesc(x.dtype, tuple(new))]


register(
    OpSpec("reshape", (inp("input"),), (Attr("new_shape", "dims"),), _reshape_infer, exact, family="shape",
           doc="same elements, new shape (one -1 may be inferred; dims may be names)", symbolic_attrs=("new_shape",),
           notes="-1 with named dims works when both shapes name the same dims ([batch, 4, 8] -> [batch, -1])")
)


def _transpose_infer(call: Call) -> list[OperandDesc]:
    x = _x(call)
    perm = call["permutation"]
    if perm is None:
        perm = tuple(reversed(range(x.rank)))
    if sorted(perm) != list(range(x.rank)):
        raise call.error(f"permutation {list(perm)} is not a permutation of 0..{x.rank - 1} for {fmt_shape(x.shape)}")
    return [OperandDesc(x.dtype, tuple(x.shape[p] for p in perm))]


register(
    OpSpec("transpose", (inp("input"),), (Attr("permutation", "ints", None, optional=True),), _transpose_infer, exact,
           family="shape", doc="permute dims (default: reverse them)")
)


def _concat_infer(call: Call) -> list[OperandDesc]:
    first = call.inputs[0]
    assert first is not None
    if first.rank == 0:
        raise call.error("inputs must have rank >= 1")
    axis = normalize_axis(call, call["axis"], first.rank)
    total: Dim = 0
    for idx, d in enumerate(call.inputs):
        assert d is not None
        others_match = all(same_dims(p, q) for i, (p, q) in enumerate(zip(d.shape, first.shape)) if i != axis)
        if d.rank != first.rank or not others_match:
            raise call.error(
                f"input {idx} is {fmt_shape(d.shape)}, input 0 is {fmt_shape(first.shape)}; "
                f"all dims but axis {axis} must match"
            )
        s = d.shape[axis]
        if isinstance(total, int) and isinstance(s, int):
            total += s
        else:
            raise call.error(f"cannot concatenate along symbolic dim {s if isinstance(s, str) else total!r}")
    shape = list(first.shape)
    shape[axis] = total
    return [OperandDesc(first.dtype, tuple(shape))]


register(
    OpSpec("concat", (inp("inputs", variadic=True),), (Attr("axis", "int"),), _concat_infer, exact, family="shape",
           doc="join inputs along axis")
)


def _slice_infer(call: Call) -> list[OperandDesc]:
    x = _x(call)
    starts, sizes = call["starts"], call["sizes"]
    strides = call["strides"] if call["strides"] is not None else (1,) * x.rank
    if not len(starts) == len(sizes) == len(strides) == x.rank:
        raise call.error(
            f"starts, sizes and strides need {x.rank} entries for {fmt_shape(x.shape)}; "
            f"got {len(starts)}, {len(sizes)}, {len(strides)}"
        )
    out: list[Dim] = []
    for axis, (dim, st, sz, sd) in enumerate(zip(x.shape, starts, sizes, strides)):
        if isinstance(sz, str):  # a symbolic size (e.g. the first 'seq' rows of a table): checked when bound
            if st < 0 or sd != 1:
                raise call.error(f"axis {axis}: symbolic size {sz!r} needs start >= 0 and stride 1, got {st}, {sd}")
            out.append(sz)
            continue
        if st < 0 or sz < 0 or sd < 1:
            raise call.error(f"axis {axis}: start {st}, size {sz} and stride {sd} must be >= 0, >= 0, >= 1")
        if isinstance(dim, int) and st + sz > dim:
            raise call.error(f"axis {axis}: start {st} + size {sz} exceeds the dim {dim} of {fmt_shape(x.shape)}")
        out.append((sz + sd - 1) // sd)
    return [OperandDesc(x.dtype, tuple(out))]


register(
    OpSpec(
        "slice",
        (inp("input"),),
        (Attr("starts", "ints"), Attr("sizes", "dims"), Attr("strides", "ints", None, optional=True)),
        _slice_infer,
        exact,
        family="shape",
        doc="the window starts[i] .. starts[i]+sizes[i] (every strides[i]-th element) of each axis; "
        "a size may be a dim name (stride 1), bound when the graph is specialized",
        symbolic_attrs=("sizes",),
    )
)


def _split_parts(call: Call, x: OperandDesc, axis: int) -> list[int]:
    dim = x.shape[axis]
    splits = call["splits"]
    if isinstance(splits, int):
        if splits < 1:
            raise call.error(f"splits must be >= 1, got {splits}")
        if splits > 4096:  # as many outputs as a splits list may have; never build a huge list from one int
            raise call.error(f"splits {splits} asks for more than 4096 outputs")
        if not isinstance(dim, int):
            raise call.error(f"cannot split the symbolic dim {dim!r} into equal parts")
        if dim % splits:
            raise call.error(f"dim {dim} of axis {axis} does not divide into {splits} equal parts")
        return [dim // splits] * splits
    if not splits or any(s < 0 for s in splits):
        raise call.error(f"splits {list(splits)} must be non-empty and non-negative")
    if isinstance(dim, int) and sum(splits) != dim:
        raise call.error(f"splits {list(splits)} sum to {sum(splits)}, but axis {axis} has {dim}")
    return list(splits)


def _split_infer(call: Call) -> list[OperandDesc]:
    x = _x(call)
    if x.rank == 0:
        raise call.error("input must have rank >= 1")
    axis = normalize_axis(call, call["axis"], x.rank)
    outs = []
    for part in _split_parts(call, x, axis):
        shape = list(x.shape)
        shape[axis] = part
        outs.append(OperandDesc(x.dtype, tuple(shape)))
    return outs


def _split_count(attrs: Mapping[str, Any], n_inputs: int) -> int:
    s = attrs.get("splits")
    return s if isinstance(s, int) else len(s or ())


register(
    OpSpec("split", (inp("input"),), (Attr("splits", "int_or_ints"), Attr("axis", "int", 0)), _split_infer, exact,
           family="shape", doc="split along axis into equal parts (int) or the given sizes (list)",
           num_outputs=_split_count, multi_output=True)
)


def _expand_infer(call: Call) -> list[OperandDesc]:
    x = _x(call)
    new = tuple(call["new_shape"])
    if -1 in new:
        raise call.error("new_shape may not contain -1")
    if x.rank > len(new) or not all(d == 1 or same_dims(d, w) for d, w in zip(x.shape[::-1], new[::-1])):
        raise call.error(f"input {fmt_shape(x.shape)} does not broadcast to new_shape {fmt_shape(new)}")
    return [OperandDesc(x.dtype, new)]


register(
    OpSpec("expand", (inp("input"),), (Attr("new_shape", "dims"),), _expand_infer, exact, family="shape",
           doc="broadcast the input to new_shape, which is the output shape", symbolic_attrs=("new_shape",),
           notes="one-way broadcasting as in WebNN: [3, 1] expands to [2, 3, 4], "
                 "but [3, 4] does not 'expand' to [1, 4]")
)


def _gather_infer(call: Call) -> list[OperandDesc]:
    x, idx = call.inputs
    assert x is not None and idx is not None
    if x.rank == 0:
        raise call.error("input must have rank >= 1")
    axis = normalize_axis(call, call["axis"], x.rank)
    if x.shape[axis] == 0 and idx.shape and all(isinstance(d, int) and d > 0 for d in idx.shape):
        raise call.error(f"cannot gather from the empty axis {axis} of {fmt_shape(x.shape)}")
    return [OperandDesc(x.dtype, x.shape[:axis] + idx.shape + x.shape[axis + 1 :])]


register(
    OpSpec(
        "gather",
        (inp("input"), inp("indices", INDEX_TYPES)),
        (Attr("axis", "int", 0),),
        _gather_infer,
        exact,
        family="shape",
        doc="take entries along axis; negative indices count from the end, out-of-range ones are clamped",
        notes=(
            "indices below -n clamp to 0 and above n-1 clamp to n-1 (WebNN leaves out-of-range indices to the "
            "implementation; clamping never reads out of bounds and is what our kernels do)"
        ),
    )
)


def _scatter_nd_infer(call: Call) -> list[OperandDesc]:
    x, idx, upd = call.inputs
    assert x is not None and idx is not None and upd is not None
    if x.rank == 0:
        raise call.error("input must have rank >= 1")
    if idx.rank == 0:
        raise call.error("indices must have rank >= 1 (the last dim holds one index per input axis)")
    k = idx.shape[-1]
    if not isinstance(k, int) or not 1 <= k <= x.rank:
        raise call.error(f"the last dim of indices {fmt_shape(idx.shape)} is {k}; it must be a size in "
                         f"[1, {x.rank}] (the input {fmt_shape(x.shape)} has rank {x.rank})")
    expected = idx.shape[:-1] + x.shape[k:]
    if upd.rank != len(expected) or not all(same_dims(a, b) for a, b in zip(upd.shape, expected)):
        raise call.error(f"updates is {fmt_shape(upd.shape)}, but indices {fmt_shape(idx.shape)} and input "
                         f"{fmt_shape(x.shape)} need {fmt_shape(expected)} (indices dims but the last, then the "
                         f"input dims from axis {k})")
    for axis in range(k):
        d = x.shape[axis]
        if d == 0 and upd.is_static and dims_product(upd.shape):
            raise call.error(f"cannot scatter into the empty axis {axis} of {fmt_shape(x.shape)}")
    return [x]


register(
    OpSpec(
        "scatter_nd",
        (inp("input"), inp("indices", INDEX_TYPES), inp("updates", same_dtype_as="input")),
        (),
        _scatter_nd_infer,
        exact,
        family="shape",
        doc="a copy of input with the slices named by indices[..., :] replaced by updates (WebNN scatterND)",
        notes=(
            "indices [..., k] name slices input[i0, ..., ik-1, :]; updates is indices.shape[:-1] + input.shape[k:]. "
            "Negative indices count from the end; out-of-range ones clamp (as gather's do: never a write out of "
            "bounds). Where two index tuples name the same slice, which update lands is unspecified (WebNN); the "
            "reference applies them in order"
        ),
    )
)


def _pad_infer(call: Call) -> list[OperandDesc]:
    x = _x(call)
    begin, end = call["beginning_padding"], call["ending_padding"]
    if len(begin) != x.rank or len(end) != x.rank:
        raise call.error(f"beginning_padding and ending_padding need {x.rank} entries for {fmt_shape(x.shape)}")
    if any(p < 0 for p in begin + end):
        raise call.error(f"padding must be >= 0, got {list(begin)} and {list(end)}")
    value = call["value"]
    fits = value.is_integer() and x.info.min <= value <= x.info.max
    if call["mode"] == "constant" and x.info.is_integer and not fits:
        raise call.error(f"value {value} cannot be represented in the input dtype {x.dtype}")
    out: list[Dim] = []
    for axis, (d, b, e) in enumerate(zip(x.shape, begin, end)):
        if call["mode"] == "reflection" and isinstance(d, int) and (b >= d or e >= d):
            raise call.error(f"axis {axis}: reflection padding {b}/{e} must be smaller than the dim {d}")
        if call["mode"] == "edge" and d == 0 and (b or e):
            raise call.error(f"axis {axis}: edge padding of an empty dim")
        if isinstance(d, str):
            if b or e:
                raise call.error(f"axis {axis}: cannot pad the symbolic dim {d!r}")
            out.append(d)
        else:
            out.append(d + b + e)
    return [OperandDesc(x.dtype, tuple(out))]


register(
    OpSpec(
        "pad",
        (inp("input"),),
        (
            Attr("beginning_padding", "ints"),
            Attr("ending_padding", "ints"),
            Attr("mode", "str", "constant", choices=("constant", "edge", "reflection")),
            Attr("value", "float", 0.0),
        ),
        _pad_infer,
        exact,
        family="shape",
        doc="pad each axis (constant value, edge copy, or reflection)",
        notes="reflection mirrors without repeating the edge (numpy 'reflect'); its padding must be < the dim",
    )
)
