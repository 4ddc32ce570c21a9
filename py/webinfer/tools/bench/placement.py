"""Where onnxruntime-web placed every node, read from its verbose session log.

ORT logs, at session creation with ``logSeverityLevel: 0`` (``session_state.cc``)::

    ... VerifyEachNodeIsAssignedToAnEp] Node placements
    ... VerifyEachNodeIsAssignedToAnEp]  Node(s) placed on [CPUExecutionProvider]. Number of nodes: 2
    ... VerifyEachNodeIsAssignedToAnEp]   FusedMatMul (/bert/encoder/layer.0/attention/self/MatMul/MatMulScaleFusion/)
    ... VerifyEachNodeIsAssignedToAnEp]  All nodes placed on [WebNNExecutionProvider]. Number of nodes: 1

The WebNN EP fuses what it takes into partitions (one placed node each) and says how many of the
graph's nodes it took (``GetCapability``) and which it refused (``GetSupportedNodes ... supported: [0]``);
the WebGPU EP names the nodes it has no kernel for (``webgpu kernel not found in registries``). A node
on ``CPUExecutionProvider`` when another EP was asked for is a fallback to wasm: the report lists them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

#: Substrings of the log lines the page keeps (the rest of the verbose log is dropped there).
LOG_MARKERS = ("VerifyEachNodeIsAssignedToAnEp", "GetCapability", "GetSupportedNodes", "[W:onnxruntime",
               "[E:onnxruntime")
#: The EP that ORT-web's ``executionProviders`` names stand for in its logs.
EP_NAMES = {"wasm": "CPUExecutionProvider", "cpu": "CPUExecutionProvider", "webnn": "WebNNExecutionProvider",
            "webgpu": "WebGpuExecutionProvider", "jsep-webgpu": "JsExecutionProvider"}

_ANSI = re.compile(r"\x1b\[[0-9;]*m|\[(?:\d+(?:;\d+)*)?m")
_HEADER = re.compile(r"VerifyEachNodeIsAssignedToAnEp\]\s+Node placements")
_PLACED = re.compile(r"VerifyEachNodeIsAssignedToAnEp\]\s+(All nodes|Node\(s\)) placed on \[(\w+)\]\. "
                     r"Number of nodes: (\d+)")
_NODE = re.compile(r"VerifyEachNodeIsAssignedToAnEp\]\s{3,}(\S+) \((.*)\)\s*$")
_WEBNN = re.compile(r"number of partitions supported by WebNN: (\d+) number of nodes in the graph: (\d+) "
                    r"number of nodes supported by WebNN: (\d+)")
_SUPPORTED = re.compile(r"Operator type: \[([^\]]*)\] index: \[(\d+)\] name: \[(.*)\] supported: \[(\d)\]")
_NO_KERNEL = re.compile(r"webgpu kernel not found in registries for Op type: (\S+) node name: (.*?)\s*$")
_WARNING = re.compile(r"\[W:onnxruntime:[^\]]*\]\s*(.*)$")


def short_ep(name: str) -> str:
    """``WebNNExecutionProvider`` -> ``WebNN``; the CPU EP is ORT-web's wasm kernels: ``CPU (wasm)``."""
    short = name.removesuffix("ExecutionProvider")
    return "CPU (wasm)" if short == "CPU" else short


def parse_placement(lines: Iterable[str], ep: str) -> dict[str, Any]:
    """Node placement from ORT's verbose log ``lines`` for a session that asked for execution provider ``ep``.

    Returns ``placed`` (nodes per EP, Memcpy nodes apart), ``nodes`` (every placed node: ep, op, name),
    ``fallback`` (nodes on the CPU EP although ``ep`` is not wasm), ``webnn`` (partitions, graph and
    supported node counts, refused nodes) when the WebNN EP logged, ``missing_kernels`` (WebGPU EP),
    ``warnings`` and a one-line ``summary``; ``logged`` is False when no placement block was found.
    """
    wanted = EP_NAMES.get(ep, ep)
    placed: Counter[str] = Counter()
    memcpy: Counter[str] = Counter()
    nodes: list[dict[str, str]] = []
    webnn: dict[str, Any] | None = None
    support: list[tuple[int, str, str, bool]] = []
    missing: dict[tuple[str, str], None] = {}
    warnings: list[str] = []
    logged = False
    current: str | None = None
    for raw in lines:
        line = _ANSI.sub("", str(raw)).rstrip()
        if _HEADER.search(line):
            logged, current = True, None
        elif m := _PLACED.search(line):
            logged, current = True, m.group(2)
            if m.group(1) == "All nodes":  # ORT lists no node names then
                placed[current] += int(m.group(3))
        elif (m := _NODE.search(line)) and current is not None:
            op, name = m.group(1), m.group(2)
            if op.startswith("Memcpy"):
                memcpy[current] += 1
            else:
                placed[current] += 1
                nodes.append({"ep": current, "op": op, "name": name})
        elif m := _WEBNN.search(line):
            webnn = {"partitions": int(m.group(1)), "graph_nodes": int(m.group(2)), "supported": int(m.group(3))}
        elif m := _SUPPORTED.search(line):
            index = int(m.group(2))
            if support and index <= support[-1][0]:  # a new GetCapability pass: keep only the last one
                support = []
            support.append((index, m.group(1), m.group(3), m.group(4) == "1"))
        elif m := _NO_KERNEL.search(line):
            missing[(m.group(1), m.group(2))] = None
        elif (m := _WARNING.search(line)) and m.group(1) not in warnings:
            warnings.append(m.group(1))
    fallback = ([n for n in nodes if n["ep"] == "CPUExecutionProvider"]
                if wanted != "CPUExecutionProvider" else [])
    if webnn is not None:
        webnn["unsupported"] = [{"op": op, "name": name} for _, op, name, ok in support if not ok]
    result: dict[str, Any] = {
        "requested": wanted,
        "logged": logged,
        "placed": dict(placed),
        "memcpy": dict(memcpy),
        "nodes": nodes,
        "fallback": fallback,
        "missing_kernels": [{"op": op, "name": name} for op, name in missing],
        "warnings": warnings,
    }
    if webnn is not None:
        result["webnn"] = webnn
    result["summary"] = placement_summary(result)
    return result


def _ops(items: Iterable[dict[str, str]]) -> str:
    counts = Counter(n["op"] for n in items)
    return ", ".join(f"{op} ×{k}" if k > 1 else op for op, k in counts.most_common())


def placement_summary(p: dict[str, Any]) -> str:
    """One line: how many nodes each EP took, the WebNN partitions, and what fell back to wasm."""
    if not p.get("logged"):
        return "placement not logged (no 'Node placements' block in ORT's verbose log)"
    parts = []
    for ep, count in sorted(p["placed"].items(), key=lambda kv: kv[0] == "CPUExecutionProvider"):
        if ep == "WebNNExecutionProvider" and p.get("webnn"):
            w = p["webnn"]
            parts.append(f"WebNN {w['supported']}/{w['graph_nodes']} nodes in {w['partitions']} "
                         f"partition{'s' if w['partitions'] != 1 else ''}")
        elif ep == "CPUExecutionProvider" and p["fallback"]:
            parts.append(f"fell back to CPU (wasm): {len(p['fallback'])} ({_ops(p['fallback'])})")
        else:
            parts.append(f"{short_ep(ep)} {count} nodes")
    if p["requested"] != "CPUExecutionProvider" and not p["fallback"] and "CPUExecutionProvider" not in p["placed"]:
        parts.append("no fallback")
    return "; ".join(parts)


def case_placement(case: Any, report: dict[str, Any]) -> None:
    """A ``--compare`` case's placement, into its report after set-up: ORT's (parsed from the log the set-up
    returned) or webinfer's (``sess.info()``'s placement, counted per backend)."""
    setup = report.get("setup") or {}
    if "log" in setup:
        report["placement"] = parse_placement(setup.pop("log"), case.facts["ep"])
        report["ort_version"] = (setup.get("info") or {}).get("ort_version")
    info = setup.get("info") or {}
    counts: dict[str, int] = {}
    for where, n in (info.get("placement_counts") or {}).items():  # "webgpu: dispatch 3 (...)" -> "webgpu"
        counts[where.split(":")[0]] = counts.get(where.split(":")[0], 0) + n
    if counts:
        nodes = ", ".join(f"{where} {n}" for where, n in sorted(counts.items(), key=lambda kv: -kv[1]))
        report["placement"] = {"counts": counts, "summary": f"{info.get('nodes')} nodes: {nodes}"}


__all__ = ["EP_NAMES", "LOG_MARKERS", "case_placement", "parse_placement", "placement_summary", "short_ep"]
