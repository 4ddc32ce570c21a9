"""Every registered op × every backend: the backend's ops table has an entry for it (a composite: one of its
parts has), and the entry answers ``supports`` for each of the op's cases without failing.

A new op shows here first: the failures name each backend that lacks it and the file its entry goes in
(docs/adding-an-op.md).
"""

from __future__ import annotations

import pytest

from webinfer.backends import BUILTIN, get_backend
from webinfer.backends.contract import NodeDescs
from webinfer.ir import all_ops
from webinfer.ir.opcases import cases_for
from webinfer.tools.conformance import case_graph

OPS = [s.name for s in all_ops()]
NAMES = [b.name for b in BUILTIN]

# (op, backend) pairs whose entries are not written yet, each with the reason: the one strict list of gaps. An
# entry listed here that exists fails the test, so the list cannot go stale; until then the backend refuses the
# op with an UnsupportedError naming the node (hybrid places it on another part where one has it).
PENDING = {
    ("dequantize_linear", "webnn"): "issue 14 (browser half): dequantizeLinear with int4/int8, or dequantize at load",
    ("scatter_nd", "webnn"): "issue 14 (browser half): scatterND for the KV-cache write",
    ("rms_normalization", "webnn"): "WebNN has no RMS normalization: the planner runs the registry's decomposition",
}


def _graph_args(case):  # type: ignore[no-untyped-def]
    return [None if d is None else [d.dtype, list(d.shape)] for d in case.inputs]


@pytest.mark.parametrize("backend", NAMES)
@pytest.mark.parametrize("op", OPS)
def test_backend_has_an_entry_for_op(op: str, backend: str) -> None:
    desc = get_backend(backend)
    if (op, backend) in PENDING:
        tables = [get_backend(p).op_table() or {} for p in desc.parts] if desc.parts else [desc.op_table() or {}]
        assert not any(op in t for t in tables), f"remove ({op!r}, {backend!r}) from PENDING: it has an entry now"
        pytest.xfail(PENDING[op, backend])
    if desc.parts:
        having = [p for p in desc.parts if op in (get_backend(p).op_table() or {})]
        assert having, f"{backend} can place {op!r} nowhere: none of {', '.join(desc.parts)} has an entry for it"
        return
    table = desc.op_table()
    assert table is not None, f"{backend}: its ops table {desc.ops} cannot be imported on the host"
    entry = table.get(op)
    assert entry is not None, (f"{backend} has no entry for op {op!r}: add one to {desc.ops_file} "
                               "(docs/adding-an-op.md)")
    for case in cases_for(op):
        if not case.valid:
            continue
        graph = case_graph(op, _graph_args(case), dict(case.attrs))
        node = graph.nodes[0]
        reason = entry.supports(node, NodeDescs.of(graph, node), None)
        assert reason is None or (isinstance(reason, str) and reason), (case.id, reason)
