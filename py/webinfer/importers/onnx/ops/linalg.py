"""MatMul (numpy semantics, 1-D operands included) and Gemm."""

from __future__ import annotations

from onnx import TensorProto

from ..importer import NodeCtx
from ..model import type_name
from . import converter


@converter("MatMul", fold=False)
def _matmul(nc: NodeCtx) -> None:
    a, b = nc.x(0), nc.x(1)
    if a.rank == 0 or b.rank == 0:
        raise nc.error("MatMul needs operands of rank >= 1")
    a2 = nc.op("reshape", [a], new_shape=[1, a.shape[0]]) if a.rank == 1 else a
    b2 = nc.op("reshape", [b], new_shape=[b.shape[0], 1]) if b.rank == 1 else b
    y = nc.op("matmul", [a2, b2])
    if a.rank == 1 or b.rank == 1:  # numpy drops the dims it added
        shape = list(y.shape)
        if b.rank == 1:
            shape.pop(-1)
        if a.rank == 1:
            shape.pop(-1 if b.rank == 1 else -2)
        y = nc.op("reshape", [y], new_shape=shape)
    nc.set(0, y)


def _gemm_check(nc: NodeCtx) -> str | None:
    e = nc.elem(0)
    if e and e not in (TensorProto.FLOAT, TensorProto.FLOAT16):
        return f"input dtype {type_name(e)}; webinfer's gemm takes float32 or float16"
    return None


@converter("Gemm", check=_gemm_check)
def _gemm(nc: NodeCtx) -> None:
    c = nc.opt(2)
    if c is not None and c.rank == 0:
        c = nc.op("reshape", [c], new_shape=[1])
    nc.set(0, nc.op("gemm", [nc.x(0), nc.x(1), c], alpha=nc.attr("alpha", "float", 1.0),
                    beta=nc.attr("beta", "float", 1.0), a_transpose=bool(nc.attr("transA", "int", 0)),
                    b_transpose=bool(nc.attr("transB", "int", 0))))
