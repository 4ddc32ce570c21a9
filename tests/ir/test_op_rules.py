"""Every op's shape/dtype rule, on the valid and must-raise cases of ``webinfer.ir.opcases``.

Parametrized over the registry: a newly registered op fails ``test_every_op_has_cases`` until it has at
least one valid and one must-raise case.
"""

from __future__ import annotations

import pytest

import webinfer as wi
from webinfer.errors import GraphError
from webinfer.ir import get_op
from webinfer.ir.opcases import CASES, OpCase
from webinfer.ir.registry import REGISTRY, Tolerance

VALID = [c for c in CASES if c.valid]
INVALID = [c for c in CASES if not c.valid]


def ids(c: OpCase) -> str:
    return c.id


def test_every_op_has_cases() -> None:
    ops = [s.name for s in wi.all_ops()]
    no_valid = [op for op in ops if not any(c.op == op for c in VALID)]
    no_error = [op for op in ops if not any(c.op == op for c in INVALID)]
    assert not no_valid, f"ops without a valid case in webinfer/ir/opcases.py: {no_valid}"
    assert not no_error, f"ops without a must-raise case in webinfer/ir/opcases.py: {no_error}"


def test_cases_name_registered_ops() -> None:
    unknown = sorted({c.op for c in CASES} - set(REGISTRY))
    assert not unknown


def _apply(case: OpCase) -> tuple[wi.GraphBuilder, list]:
    g = wi.GraphBuilder()
    operands = [None if d is None else g.input(f"in{i}", d.dtype, list(d.shape)) for i, d in enumerate(case.inputs)]
    return g, g.apply(case.op, operands, dict(case.attrs))


@pytest.mark.parametrize("case", VALID, ids=ids)
def test_valid_case(case: OpCase) -> None:
    spec = get_op(case.op)
    assert spec.check(list(case.inputs), case.attrs) == list(case.outputs)
    # the same through the builder, named node, and into a validated Graph
    g, outs = _apply(case)
    assert [o.desc for o in outs] == list(case.outputs)
    graph = g.build({f"out{k}": o for k, o in enumerate(outs)})
    assert [graph.operands[graph.outputs[f"out{k}"]] for k in range(len(outs))] == list(case.outputs)


@pytest.mark.parametrize("case", VALID, ids=ids)
def test_builder_method(case: OpCase) -> None:
    """``g.<op>(...)`` (the generated method) gives the same outputs as the registry rule."""
    g = wi.GraphBuilder()
    operands = [None if d is None else g.input(f"in{i}", d.dtype, list(d.shape)) for i, d in enumerate(case.inputs)]
    spec = get_op(case.op)
    method = getattr(g, case.op)
    if spec.variadic:
        result = method(operands, **case.attrs)
    else:
        kwargs = {s.name: x for s, x in zip(spec.inputs, operands) if x is not None}
        result = method(**kwargs, **case.attrs)
    outs = result if spec.multi_output else [result]
    assert [o.desc for o in outs] == list(case.outputs)


@pytest.mark.parametrize("case", VALID, ids=ids)
def test_tolerance_is_defined(case: OpCase) -> None:
    """Every valid static application has a tolerance; symbolic ones either have one or say to specialize."""
    spec = get_op(case.op)
    static = case.static_inputs()
    tol = spec.tolerance(spec.call(static, case.attrs))
    assert isinstance(tol, Tolerance)
    assert tol.ulp is not None or tol.abs is not None
    assert (tol.ulp or 0) >= 0 and (tol.abs or 0) >= 0
    if any(isinstance(dim, str) for desc in case.inputs if desc is not None for dim in desc.shape):
        try:
            spec.tolerance(spec.call(list(case.inputs), case.attrs))
        except GraphError as e:
            assert "specialize" in str(e)


@pytest.mark.parametrize("case", INVALID, ids=ids)
def test_must_raise(case: OpCase) -> None:
    spec = get_op(case.op)
    with pytest.raises(GraphError) as info:
        spec.check(list(case.inputs), case.attrs)
    message = str(info.value)
    assert message.startswith(f"{case.op}: "), message
    for fragment in case.error:
        assert fragment in message, f"{fragment!r} not in {message!r}"


@pytest.mark.parametrize("case", INVALID, ids=ids)
def test_must_raise_names_the_node(case: OpCase) -> None:
    """Through the builder the same error also names the node."""
    with pytest.raises(GraphError) as info:
        _apply(case)
    message = str(info.value)
    assert message.startswith(f"{case.op} (node '{case.op}_0'): "), message
    for fragment in case.error:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_issue_example_message() -> None:
    g = wi.GraphBuilder()
    a, b = g.input("a", "float32", [2, 3]), g.input("b", "float32", [4, 5])
    with pytest.raises(GraphError,
                       match=r"^matmul \(node 'matmul_0'\): inner dimensions differ: a is \[2, 3\], b is \[4, 5\]$"):
        g.matmul(a, b)
    with pytest.raises(GraphError, match=r"^matmul: inner dimensions differ: a is \[2, 3\], b is \[4, 5\]$"):
        get_op("matmul").check([a.desc, b.desc], {})


def test_graph_error_is_a_value_error() -> None:
    assert issubclass(GraphError, ValueError)


@pytest.mark.parametrize("spec", list(wi.all_ops()), ids=lambda s: s.name)
def test_registry_entry_is_complete(spec) -> None:  # type: ignore[no-untyped-def]
    """Each entry documents itself: a doc line, a tolerance description, a family, named inputs."""
    assert spec.doc and spec.family and spec.tolerance_doc
    assert spec.inputs and all(s.dtypes for s in spec.inputs)
    assert len({s.name for s in spec.inputs}) == len(spec.inputs)
    assert getattr(wi.GraphBuilder, spec.name).__doc__.startswith(spec.name)


def test_unknown_attribute_and_op() -> None:
    with pytest.raises(GraphError, match="softmax: unknown attribute 'axes'; softmax takes axis"):
        get_op("softmax").check([wi.OperandDesc("float32", (2, 3))], {"axes": [1]})
    with pytest.raises(GraphError, match="unknown op 'softmax2'"):
        get_op("softmax2")
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [2])
    with pytest.raises(GraphError, match="relu: unknown argument 'alpha'"):
        g.relu(x, alpha=1.0)
    with pytest.raises(GraphError, match="relu: too many arguments"):
        g.relu(x, 1.0)


def test_symbolic_dims_stay_symbolic() -> None:
    g = wi.GraphBuilder()
    x = g.input("x", "float32", ["batch", 384])
    w = g.constant([[0.0] * 16] * 384, dtype="float32")
    y = g.layer_normalization(g.gelu(g.matmul(x, w)), axes=[1])
    assert y.shape == ("batch", 16)
    assert g.reduce_sum(y, axes=[1], keep_dimensions=True).shape == ("batch", 1)
    assert g.transpose(y).shape == (16, "batch")
    assert g.reshape(y, new_shape=["batch", 4, 4]).shape == ("batch", 4, 4)
