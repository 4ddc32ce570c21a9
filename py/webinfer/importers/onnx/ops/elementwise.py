"""Elementwise ONNX ops: arithmetic, comparisons, logic, activations, Clip, Cast, Identity, Dropout, Constant."""

from __future__ import annotations

import math

import numpy as np
from onnx import TensorProto

from ..importer import NodeCtx, Value, const_value
from ..model import DTYPES, NUMPY, tensor_data, type_name
from . import converter

FLOATS = (TensorProto.FLOAT, TensorProto.FLOAT16)

BINARY = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div"}
COMPARE = {"Equal": "equal", "Greater": "greater", "Less": "lesser", "GreaterOrEqual": "greater_or_equal",
           "LessOrEqual": "lesser_or_equal"}
UNARY = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Erf": "erf", "Exp": "exp", "Log": "log",
         "Sqrt": "sqrt", "Abs": "abs", "Neg": "neg", "Reciprocal": "reciprocal", "Floor": "floor", "Ceil": "ceil",
         "Sin": "sin", "Cos": "cos"}


@converter(*BINARY, fold=True)
def _binary(nc: NodeCtx) -> None:
    nc.set(0, nc.op(BINARY[nc.op_type], [nc.x(0), nc.x(1)]))


def _pow_check(nc: NodeCtx) -> str | None:
    a, b = nc.elem(0), nc.elem(1)
    if a and b and a != b and a not in FLOATS:
        return f"an integer base ({type_name(a)}) with a {type_name(b)} exponent is not supported"
    return None


@converter("Pow", check=_pow_check, fold=True)
def _pow(nc: NodeCtx) -> None:
    x, y = nc.x(0), nc.x(1)
    if y.dtype != x.dtype:  # ONNX lets the exponent have its own type: compute it in the base's
        y = nc.op("cast", [y], data_type=x.dtype)
    nc.set(0, nc.op("pow", [x, y]))


@converter("Max", "Min", "Sum", "Mean", fold=True)
def _variadic(nc: NodeCtx) -> None:
    op = {"Max": "max", "Min": "min", "Sum": "add", "Mean": "add"}[nc.op_type]
    xs = [nc.x(i) for i in range(len(nc.inputs)) if nc.has(i)]
    if not xs:
        raise nc.error("needs at least one input")
    y = xs[0]
    for other in xs[1:]:
        y = nc.op(op, [y, other])
    if len(xs) == 1:
        y = nc.op("identity", [y])
    if nc.op_type == "Mean":
        y = nc.op("div", [y, nc.const_operand(len(xs), y.dtype)])
    nc.set(0, y)


@converter(*COMPARE, fold=True)
def _compare(nc: NodeCtx) -> None:
    nc.set(0, nc.op(COMPARE[nc.op_type], [nc.x(0), nc.x(1)]), elem=TensorProto.BOOL)


@converter("Not", fold=True)
def _not(nc: NodeCtx) -> None:
    nc.set(0, nc.op("logical_not", [nc.x(0)]), elem=TensorProto.BOOL)


@converter("And", "Or", "Xor", fold=True)
def _logic(nc: NodeCtx) -> None:
    a, b = nc.x(0), nc.x(1)  # bools are uint8 0/1
    if nc.op_type == "Xor":
        nc.set(0, nc.op("logical_not", [nc.op("equal", [a, b])]), elem=TensorProto.BOOL)
    else:
        nc.set(0, nc.op("min" if nc.op_type == "And" else "max", [a, b]), elem=TensorProto.BOOL)


@converter("Where", fold=True)
def _where(nc: NodeCtx) -> None:
    nc.set(0, nc.op("where", [nc.x(0), nc.x(1), nc.x(2)]))


@converter(*UNARY, fold=True)
def _unary(nc: NodeCtx) -> None:
    nc.set(0, nc.op(UNARY[nc.op_type], [nc.x(0)]))


@converter("Identity", fold=True)
def _identity(nc: NodeCtx) -> None:
    nc.set(0, nc.value(0))  # the same value: no node


def _float_check(nc: NodeCtx) -> str | None:
    e = nc.elem(0)
    return None if not e or e in FLOATS else f"input dtype {type_name(e)} is not supported (float32 or float16 only)"


@converter("HardSigmoid", check=_float_check)
def _hard_sigmoid(nc: NodeCtx) -> None:
    x = nc.x(0)
    alpha, beta = nc.attr("alpha", "float", 0.2), nc.attr("beta", "float", 0.5)
    y = nc.op("add", [nc.op("mul", [x, nc.const_operand(alpha, x.dtype)]), nc.const_operand(beta, x.dtype)])
    nc.set(0, nc.op("clamp", [y], min_value=0.0, max_value=1.0))


@converter("HardSwish", check=_float_check)
def _hard_swish(nc: NodeCtx) -> None:
    x = nc.x(0)  # x · clamp(x/6 + 1/2, 0, 1)
    gate = nc.op("add", [nc.op("mul", [x, nc.const_operand(1 / 6, x.dtype)]), nc.const_operand(0.5, x.dtype)])
    nc.set(0, nc.op("mul", [x, nc.op("clamp", [gate], min_value=0.0, max_value=1.0)]))


@converter("LeakyRelu", "PRelu", check=_float_check)
def _leaky_relu(nc: NodeCtx) -> None:
    x = nc.x(0)  # relu(x) + slope · min(x, 0)
    slope = nc.x(1) if nc.op_type == "PRelu" else nc.const_operand(nc.attr("alpha", "float", 0.01), x.dtype)
    neg = nc.op("min", [x, nc.const_operand(0, x.dtype)])
    nc.set(0, nc.op("add", [nc.op("relu", [x]), nc.op("mul", [neg, slope])]))


def _gelu_check(nc: NodeCtx) -> str | None:
    approx = nc.attr("approximate", "string", "none")
    if approx not in ("none", "tanh"):
        return f"approximate={approx!r} (none or tanh)"
    return _float_check(nc)


@converter("Gelu", check=_gelu_check)
def _gelu(nc: NodeCtx) -> None:
    x = nc.x(0)
    if nc.attr("approximate", "string", "none") == "none":
        nc.set(0, nc.op("gelu", [x]))
        return

    def c(v: float):  # type: ignore[no-untyped-def]
        return nc.const_operand(v, x.dtype)

    # 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))
    cube = nc.op("mul", [nc.op("mul", [x, x]), x])
    inner = nc.op("mul", [nc.op("add", [x, nc.op("mul", [cube, c(0.044715)])]), c(math.sqrt(2 / math.pi))])
    nc.set(0, nc.op("mul", [nc.op("mul", [x, c(0.5)]), nc.op("add", [nc.op("tanh", [inner]), c(1.0)])]))


@converter("Clip", fold=True)
def _clip(nc: NodeCtx) -> None:
    x = nc.x(0)
    bounds: list[float | None] = [None, None]
    runtime = False
    for k in (1, 2):
        if nc.has(k):
            v = nc.value(k)
            if v.kind == "const":
                bounds[k - 1] = float(v.array().reshape(-1)[0]) if v.array().size == 1 else None
            runtime = runtime or v.kind != "const" or v.array().size != 1
    if runtime:  # bounds computed at run time: max(x, lo), then min(·, hi)
        y = nc.op("max", [x, nc.x(1)]) if nc.has(1) else x
        y = nc.op("min", [y, nc.x(2)]) if nc.has(2) else y
        nc.set(0, y if y is not x else nc.op("identity", [x]))
        return
    lo = -math.inf if bounds[0] is None else bounds[0]
    hi = math.inf if bounds[1] is None else bounds[1]
    if lo > hi:  # ONNX (like numpy) then gives max everywhere
        lo = hi
    nc.set(0, nc.op("clamp", [x], min_value=lo, max_value=hi))


def _cast_check(nc: NodeCtx) -> str | None:
    to = nc.attr("to", "int")
    if to is None:
        return "attribute 'to' is required"
    if to not in DTYPES:
        return f"cast to {type_name(to)}, which webinfer does not support"
    return None


def _cast_to(nc: NodeCtx, to: int) -> None:
    v = nc.value(0)
    if v.kind == "operand" and v.elem == to:
        nc.set(0, v)
        return
    x = nc.x(0)
    if to == TensorProto.BOOL:  # x != 0 (NaN is true)
        y = nc.op("logical_not", [nc.op("equal", [x, nc.const_operand(0, x.dtype)])])
    elif DTYPES[to] == x.dtype:
        y = nc.op("identity", [x])
    else:
        y = nc.op("cast", [x], data_type=DTYPES[to])
    nc.imp.values[nc.outputs[0]] = Value("operand", elem=to, operand=y)


@converter("Cast", check=_cast_check, fold=True)
def _cast(nc: NodeCtx) -> None:
    _cast_to(nc, nc.attr("to", "int"))


@converter("CastLike", fold=True)
def _cast_like(nc: NodeCtx) -> None:
    to = nc.value(1).elem
    if to not in DTYPES:
        raise nc.error(f"cast to {type_name(to)}, which webinfer does not support")
    _cast_to(nc, to)


def _dropout_check(nc: NodeCtx) -> str | None:
    if nc.has(2):
        init = next((t for t in nc.imp.graph.initializer if t.name == nc.inputs[2]), None)
        td = tensor_data(init, "training_mode", None) if init is not None else None
        if td is not None and init.data_type == TensorProto.BOOL and td.size == 1:  # type: ignore[union-attr]
            if bool(td.array().reshape(-1)[0]):
                return "training_mode=true (random dropout) is not supported; inference only"
    return None


@converter("Dropout", check=_dropout_check, const_inputs=(1, 2))
def _dropout(nc: NodeCtx) -> None:
    if nc.has(2) and bool(nc.const(2, "training_mode").reshape(-1)[0]):
        raise nc.error("training_mode=true (random dropout) is not supported; inference only")
    nc.set(0, nc.value(0))
    if len(nc.outputs) > 1 and nc.outputs[1]:
        shape = nc.shape(0)
        if not all(isinstance(d, int) for d in shape):
            raise nc.error("the mask output of a tensor with symbolic dims is not supported")
        nc.set(1, const_value(np.ones([int(d) for d in shape], dtype=np.bool_)))


_CONSTANT_ATTRS = ("value", "value_float", "value_floats", "value_int", "value_ints")


def _constant_check(nc: NodeCtx) -> str | None:
    given = list(nc.attrs)
    if len(given) != 1:
        return f"needs exactly one value attribute, got {given}"
    if given[0] not in _CONSTANT_ATTRS:
        return f"attribute {given[0]!r} is not supported (value, value_float(s), value_int(s))"
    if given[0] == "value":
        t = nc.attr("value", "tensor")
        if t.data_type not in NUMPY:
            return f"constant of dtype {type_name(t.data_type)} is not supported"
    return None


@converter("Constant", check=_constant_check)
def _constant(nc: NodeCtx) -> None:
    key = next(iter(nc.attrs))
    if key == "value":
        td = tensor_data(nc.attr("value", "tensor"), f"{nc.label}: value", nc.imp.base_dir)
        nc.set(0, Value("const", elem=td.elem_type, tensor=td))
        return
    kind = {"value_float": "float", "value_floats": "floats", "value_int": "int", "value_ints": "ints"}[key]
    v = nc.attr(key, kind)
    nc.set(0, const_value(np.asarray(v, dtype=np.float32 if "float" in key else np.int64)))
