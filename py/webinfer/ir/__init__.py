"""The graph IR: dtypes, operand descriptors, nodes, graphs, the op registry and the builder."""

from .builder import GraphBuilder, Operand
from .dtypes import DTYPES, DType, dtype_info
from .graph import Constant, Graph, Node
from .operand import OperandDesc, fmt_shape
from .registry import REGISTRY, Attr, OpSpec, Tolerance, all_ops, get_op

__all__ = [
    "Attr", "Constant", "DTYPES", "DType", "Graph", "GraphBuilder", "Node", "OpSpec", "Operand", "OperandDesc",
    "REGISTRY", "Tolerance", "all_ops", "dtype_info", "fmt_shape", "get_op",
]
