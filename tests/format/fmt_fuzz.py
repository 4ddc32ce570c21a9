"""Loader fuzzing: hypothesis strategies that mutate valid graph JSON and safetensors files, and a runner that
loads each case and records the figures the README reports (cases, outcomes, slowest case, peak memory).

Used by test_loader_fuzz.py (quick profile in the default run, long with WEBINFER_FUZZ=long) and by
fuzz_report.py (prints the figures as JSON).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import json
import math
import struct
import time
import traceback
import tracemalloc
from collections import Counter
from collections.abc import Callable
from typing import Any

from fmt_samples import SAMPLES
from hypothesis import strategies as st

from webinfer.errors import GraphError, WeightsError
from webinfer.format import from_json, load_bytes, to_bytes, to_json

WEIGHTS = "m.safetensors"
TIME_LIMIT_S = 1.0
MEMORY_LIMIT_BYTES = 32 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Base:
    name: str
    text: bytes
    weights: bytes | None


@functools.cache
def bases() -> tuple[Base, ...]:
    """The valid starting points: each sample graph saved with a weights file."""
    out = []
    for name, make in SAMPLES.items():
        text, files = to_bytes(make(), weights=WEIGHTS)
        out.append(Base(name, text, files.get(WEIGHTS)))
    return tuple(out)


@dataclasses.dataclass
class Case:
    """One input for the loader: JSON (bytes, or a dict for from_json), weights bytes, options, and how it was made."""

    kind: str
    json_data: Any
    weights: bytes | None
    verify_hash: bool = True
    via_dict: bool = False


@dataclasses.dataclass
class Stats:
    """Figures over a fuzz run."""

    cases: int = 0
    accepted: int = 0
    graph_errors: int = 0
    weights_errors: int = 0
    other_exceptions: int = 0
    internal_errors: int = 0
    over_time_limit: int = 0
    max_seconds: float = 0.0  # CPU seconds of the slowest case
    max_wall_seconds: float = 0.0
    max_peak_bytes: int = 0
    max_input_bytes: int = 0
    kinds: Counter = dataclasses.field(default_factory=Counter)
    failures: list = dataclasses.field(default_factory=list)

    def report(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "accepted": self.accepted,
            "graph_errors": self.graph_errors,
            "weights_errors": self.weights_errors,
            "exceptions_other_than_webinfer": self.other_exceptions,
            "internal_errors": self.internal_errors,
            "cases_over_1s": self.over_time_limit,
            "slowest_case_cpu_s": round(self.max_seconds, 4),
            "slowest_case_wall_s": round(self.max_wall_seconds, 4),
            "peak_memory_bytes": self.max_peak_bytes,
            "largest_input_bytes": self.max_input_bytes,
            "kinds": dict(sorted(self.kinds.items())),
            "failures": self.failures[:10],
        }


STATS = Stats()


def _check_loaded(graph: Any) -> None:
    """A graph that loaded must have readable constants and save + load again to the same document."""
    for c in graph.constants.values():
        c.data()
    text, files = to_bytes(graph, weights=WEIGHTS)
    again = load_bytes(text, weights=files)
    if to_json(again) != to_json(graph):
        raise AssertionError("a loaded graph did not survive save + load unchanged")


def run_case(case: Case, stats: Stats = STATS) -> str | None:
    """Load one case; record its outcome; return a description if it broke the contract, else None."""
    size = len(case.weights or b"") + (len(case.json_data) if isinstance(case.json_data, (bytes, str)) else 0)
    weights = {WEIGHTS: case.weights} if case.weights is not None else None
    tracemalloc.reset_peak()
    base_mem = tracemalloc.get_traced_memory()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    problem = None
    try:
        if case.via_dict:
            graph = from_json(case.json_data, weights=weights, verify_hash=case.verify_hash)
        else:
            graph = load_bytes(case.json_data, weights=weights, verify_hash=case.verify_hash)
        _check_loaded(graph)
        stats.accepted += 1
    except (GraphError, WeightsError) as e:
        if isinstance(e, WeightsError):
            stats.weights_errors += 1
        else:
            stats.graph_errors += 1
        if "internal error" in str(e):
            stats.internal_errors += 1
            problem = f"internal error: {e}"
    except Exception as e:  # noqa: BLE001 - counting exactly these is the point
        stats.other_exceptions += 1
        problem = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=8)}"
    elapsed = time.process_time() - c0  # CPU time: what the case costs, whatever else the machine runs
    wall = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] - base_mem
    stats.cases += 1
    stats.kinds[case.kind] += 1
    stats.max_seconds = max(stats.max_seconds, elapsed)
    stats.max_wall_seconds = max(stats.max_wall_seconds, wall)
    stats.max_peak_bytes = max(stats.max_peak_bytes, peak)
    stats.max_input_bytes = max(stats.max_input_bytes, size)
    if elapsed > TIME_LIMIT_S:
        stats.over_time_limit += 1
        problem = problem or f"took {elapsed:.2f} s of CPU"
    if peak > MEMORY_LIMIT_BYTES:
        problem = problem or f"peak memory {peak} bytes"
    if problem:
        stats.failures.append({"kind": case.kind, "problem": problem[:2000]})
    return problem


# -- values and paths ----------------------------------------------------------------------------------

NASTY_SCALARS = [
    None, True, False, 0, -1, 1, 2.0, 0.5, -0.0, 2**31, 2**32, 2**40, 2**40 + 1, 2**53 + 1, 2**63, 2**64, -(2**63) - 1,
    10**30, 1e308, -1e308, 5e-324, math.inf, -math.inf, math.nan, "", "inf", "-inf", "nan", "NaN", "Infinity",
    "float32", "bfloat16", "batch", "é", "\u0000", "\ud800", "\u2028", "__metadata__", "../etc/passwd", "/etc/passwd",
    "C:\\x", ".hidden", WEIGHTS, "x" * 300, "0" * 64, "matmul", "split", [], {}, [[]], [None], [1, 2, 3], {"a": 1},
]

scalars = st.one_of(
    st.sampled_from(NASTY_SCALARS),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.booleans(),
    st.none(),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=8,
)


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (tuple of keys and indices) into a JSON value, the root included."""
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(paths(v, prefix + (k,)))
    elif isinstance(value, list):
        for i, v in enumerate(value[:64]):  # long inline value lists: the first elements are enough
            out.extend(paths(v, prefix + (i,)))
    return out


def get(doc: Any, path: tuple) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def operand_names(doc: Any) -> list[str]:
    """The operand names a (possibly already damaged) document defines."""
    try:
        names = list(doc.get("inputs", {})) + list(doc.get("constants", {}))
        for n in doc.get("nodes", []):
            names.extend(o for o in n.get("outputs", []) if isinstance(o, str))
    except (AttributeError, TypeError):
        return ["x"]
    return [n for n in names if isinstance(n, str)] or ["x"]


# -- document mutations ---------------------------------------------------------------------------------


def mutate_tree(draw: Callable, doc: Any) -> Any:
    """One generic mutation anywhere in the tree: replace, delete, insert a key, duplicate or drop an item."""
    path = draw(st.sampled_from(paths(doc)))
    action = draw(st.sampled_from(["replace", "replace", "delete", "insert", "duplicate", "name"]))
    if not path:
        return draw(json_values) if action == "replace" else doc
    parent, key = get(doc, path[:-1]), path[-1]
    if action == "replace":
        parent[key] = draw(json_values)
    elif action == "name":
        parent[key] = draw(st.sampled_from(operand_names(doc) if isinstance(doc, dict) else ["x"]))
    elif action == "delete":
        del parent[key]
    elif action == "insert" and isinstance(parent, dict):
        parent[draw(st.text(max_size=10))] = draw(json_values)
    elif action == "duplicate" and isinstance(parent, list):
        parent.insert(key, copy.deepcopy(parent[key]))
    else:
        parent[key] = copy.deepcopy(draw(st.sampled_from(NASTY_SCALARS)))
    return doc


def mutate_graph(draw: Callable, doc: Any) -> Any:
    """A mutation aimed at the graph's meaning: cycles, dangling and duplicate names, dims, attributes, renames.
    (A document already damaged past recognition is returned as it is.)"""
    try:
        return _mutate_graph(draw, doc)
    except (AttributeError, TypeError, KeyError, IndexError, ValueError):
        return doc


def _mutate_graph(draw: Callable, doc: dict[str, Any]) -> dict[str, Any]:
    nodes = doc["nodes"]
    action = draw(st.sampled_from(["cycle", "dangling", "dup_output", "dims", "attr", "rename", "shuffle", "drop_node",
                                   "swap_op", "const_value", "const_ref", "weights_table"]))
    if action in ("cycle", "dangling", "dup_output", "attr", "drop_node", "swap_op") and not nodes:
        action = "dims"
    if action == "cycle":
        i = draw(st.integers(0, len(nodes) - 1))
        k = draw(st.integers(i, len(nodes) - 1))
        if nodes[i]["inputs"]:
            nodes[i]["inputs"][draw(st.integers(0, len(nodes[i]["inputs"]) - 1))] = nodes[k]["outputs"][0]
    elif action == "dangling":
        n = draw(st.sampled_from(nodes))
        n["inputs"].append(draw(st.sampled_from(["nope", "", None, "x" * 257])))
    elif action == "dup_output":
        n = draw(st.sampled_from(nodes))
        n["outputs"].append(draw(st.sampled_from(operand_names(doc))))
    elif action == "dims":
        holders = [v for v in list(doc.get("inputs", {}).values()) + list(doc.get("constants", {}).values())]
        if holders:
            h = draw(st.sampled_from(holders))
            dim = draw(st.sampled_from([-1, 0, 1, 2**40, 2**40 + 1, 2**62, 2**64, 1.0, 1.5, "batch", "1x", "é", None]))
            if h["shape"] and draw(st.booleans()):
                h["shape"][draw(st.integers(0, len(h["shape"]) - 1))] = dim
            else:
                h["shape"] = h["shape"] + [dim] * draw(st.integers(1, 10))
    elif action == "attr":
        n = draw(st.sampled_from(nodes))
        key = draw(st.sampled_from(list(n.get("attributes", {})) + ["bogus"]))
        n.setdefault("attributes", {})[key] = draw(st.one_of(
            st.sampled_from([math.nan, math.inf, -math.inf, "inf", "nan", 2**53 + 1, 2**40, 4097, 4096, -1, 0, [],
                             [math.nan], [2**64], [0] * 4096,
                             [1] * 5000, ["batch"], [-1, -1], 1e308, True, None, "reflection", "nhwc", "bfloat16"]),
            json_values,
        ))
    elif action == "rename":  # consistent rename: still valid unless the name is illegal
        names = operand_names(doc)
        old = draw(st.sampled_from(names))
        new = draw(st.one_of(st.text(min_size=1, max_size=20), st.sampled_from(names)))
        doc = json.loads(json.dumps(doc).replace(json.dumps(old), json.dumps(new)))
    elif action == "shuffle":  # any order without cycles is valid
        doc["nodes"] = draw(st.permutations(nodes))
    elif action == "drop_node":
        del nodes[draw(st.integers(0, len(nodes) - 1))]
    elif action == "swap_op":
        draw(st.sampled_from(nodes))["op"] = draw(st.sampled_from(["add", "split", "concat", "conv2d", "cast", "where",
                                                                   "gemm", "reshape", "nope", "Add", ""]))
    elif action == "const_value":
        consts = [c for c in doc.get("constants", {}).values() if "value" in c]
        if consts:
            c = draw(st.sampled_from(consts))
            c["value"] = draw(st.one_of(
                st.lists(st.sampled_from(NASTY_SCALARS[:30]), max_size=12),
                st.just(c["value"] + [0]), st.just(c["value"][:-1]),
            ))
    elif action == "const_ref":
        consts = list(doc.get("constants", {}).values())
        if consts:
            c = draw(st.sampled_from(consts))
            c.pop("value", None)
            c["weights"] = {"file": draw(st.sampled_from([WEIGHTS, "other.safetensors", "../m.safetensors"])),
                            "key": draw(st.sampled_from(list(doc.get("constants", {})) + ["", "__metadata__", "nope"]))}
    elif action == "weights_table":
        table = doc.setdefault("weights", {})
        entry = table.setdefault(WEIGHTS, {"sha256": "0" * 64, "size": 8})
        entry[draw(st.sampled_from(["sha256", "size"]))] = draw(st.sampled_from(
            ["0" * 64, "A" * 64, "0" * 63, 0, 7, 8, 2**53, 2**64, -1, 1.5, None]))
    return doc


def deep(depth: int, kind: str) -> str:
    return "[" * depth + "1" + "]" * depth if kind == "list" else '{"a":' * depth + "1" + "}" * depth


def serialize(draw: Callable, doc: Any) -> Any:
    """Document -> JSON bytes, sometimes with a value replaced by deep nesting or non-UTF-8 text."""
    if draw(st.integers(0, 9)) == 0 and isinstance(doc, dict):
        path = draw(st.sampled_from(paths(doc)))
        if path:
            get(doc, path[:-1])[path[-1]] = "__DEEP__"
            nested = deep(draw(st.sampled_from([60, 63, 64, 65, 200, 5000, 100000])),
                          draw(st.sampled_from(["list", "dict"])))
            text = json.dumps(doc).replace('"__DEEP__"', nested, 1)
            return text.encode()
    ascii_only = draw(st.booleans())
    return json.dumps(doc, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


def mutate_text(draw: Callable, data: bytes) -> bytes:
    """Byte-level damage to JSON text: truncation, flips, insertions, BOM, huge numbers."""
    action = draw(st.sampled_from(["truncate", "flip", "insert", "bom", "bignum", "empty", "garbage_tail"]))
    n = len(data)
    if action == "truncate":
        return data[: draw(st.integers(0, max(n - 1, 0)))]
    if action == "flip" and n:
        i = draw(st.integers(0, n - 1))
        return data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1 :]
    if action == "insert":
        i = draw(st.integers(0, n))
        return data[:i] + draw(st.binary(min_size=1, max_size=8)) + data[i:]
    if action == "bom":
        return b"\xef\xbb\xbf" + data
    if action == "bignum":
        return data.replace(b"1", b"1" + b"0" * draw(st.sampled_from([10, 400, 4400, 100000])), 1)
    if action == "empty":
        return draw(st.sampled_from([b"", b" ", b"null", b"[]", b"{}", b"1", b'"x"']))
    return data + draw(st.sampled_from([b"x", b"{}", b"\x00", b" \n"]))


# -- safetensors mutations ------------------------------------------------------------------------------


def split_safetensors(blob: bytes) -> tuple[dict[str, Any], bytes]:
    n = struct.unpack("<Q", blob[:8])[0]
    return json.loads(blob[8 : 8 + n]), blob[8 + n :]


def join_safetensors(header: Any, data: bytes, draw: Callable) -> bytes:
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def mutate_header(draw: Callable, blob: bytes) -> bytes:
    """Mutate the safetensors header's JSON, then write it back with a correct length prefix."""
    header, data = split_safetensors(blob)
    keys = [k for k in header if k != "__metadata__"]
    action = draw(st.sampled_from(["tree", "offsets_past_end", "overlap", "gap", "negative", "dtype", "shape",
                                   "metadata", "drop_data"]))
    entry = header[draw(st.sampled_from(keys))] if keys else None
    if action == "tree" or entry is None:
        header = mutate_tree(draw, header)
    elif action == "offsets_past_end":
        entry["data_offsets"] = [entry["data_offsets"][0], len(data) + draw(st.integers(1, 2**64))]
    elif action == "overlap" and len(keys) > 1:
        other = header[draw(st.sampled_from(keys))]
        entry["data_offsets"] = list(other["data_offsets"])
    elif action == "gap":
        b, e = entry["data_offsets"]
        shift = draw(st.integers(1, 64))
        entry["data_offsets"] = [b + shift, e + shift]
    elif action == "negative":
        entry["data_offsets"][draw(st.integers(0, 1))] = draw(st.sampled_from([-1, -(2**63), 1.5, "0", None, 2**64]))
    elif action == "dtype":
        entry["dtype"] = draw(st.sampled_from(["BF16", "F64", "BOOL", "F4", "F8_E4M3", "X", "f32", "", 5, None]))
    elif action == "shape":
        entry["shape"] = draw(st.sampled_from([[2**40, 2**40, 2**40], [2**64], [-1], [0], [], [1.0], ["a"],
                                               [2**32] * 3, [1] * 100000, None]))
    elif action == "metadata":
        header["__metadata__"] = draw(st.sampled_from([{"a": 1}, {"a": "b"}, [], "x", None, {"a": None}]))
    else:
        data = data[: draw(st.integers(0, max(len(data) - 1, 0)))]
    return join_safetensors(header, data, draw)


def mutate_blob(draw: Callable, blob: bytes) -> bytes:
    """Byte-level damage: header-length lies, truncation, flipped bytes, appended bytes."""
    action = draw(st.sampled_from(["length_lie", "truncate", "flip", "append", "tiny"]))
    n = len(blob)
    if action == "length_lie":
        real = struct.unpack("<Q", blob[:8])[0]
        lie = draw(st.one_of(
            st.sampled_from([0, 1, 7, real - 1, real + 1, real + 8, n, n - 7, 100_000_000, 100_000_001, 2**32, 2**63,
                             2**64 - 1]),
            st.integers(0, 2**64 - 1),
        ))
        return struct.pack("<Q", max(0, min(lie, 2**64 - 1))) + blob[8:]
    if action == "truncate":
        return blob[: draw(st.integers(0, max(n - 1, 0)))]
    if action == "flip" and n:
        i = draw(st.integers(0, n - 1))
        return blob[:i] + bytes([blob[i] ^ draw(st.integers(1, 255))]) + blob[i + 1 :]
    if action == "append":
        return blob + draw(st.binary(min_size=1, max_size=16))
    return draw(st.binary(max_size=16))


def rehash(doc: Any, blob: bytes) -> None:
    """Make the document's weights table match a mutated file, so the checks past the hash get exercised."""
    if isinstance(doc, dict) and isinstance(doc.get("weights"), dict) and isinstance(doc["weights"].get(WEIGHTS), dict):
        doc["weights"][WEIGHTS] = {"sha256": hashlib.sha256(blob).hexdigest(), "size": max(len(blob), 8)}


@st.composite
def cases(draw: Callable) -> Case:
    """One fuzz case: a valid sample damaged in one of several ways."""
    base = draw(st.sampled_from(bases()))
    doc = json.loads(base.text)  # a fresh copy, faster than deepcopy
    blob = base.weights
    kind = draw(st.sampled_from(["tree", "graph", "text", "header", "blob", "dict"]))
    if kind in ("header", "blob") and blob is None:
        kind = "graph"
    verify = True
    if kind == "tree":
        for _ in range(draw(st.integers(1, 3))):
            doc = mutate_tree(draw, doc)
    elif kind in ("graph", "dict"):
        doc = mutate_graph(draw, doc)
        if draw(st.booleans()):
            doc = mutate_tree(draw, doc)
    elif kind == "header":
        blob = mutate_header(draw, blob)
        verify = draw(st.integers(0, 4)) > 0
        if draw(st.integers(0, 4)) > 0:
            rehash(doc, blob)
    elif kind == "blob":
        blob = mutate_blob(draw, blob)
        verify = draw(st.booleans())
        if draw(st.booleans()):
            rehash(doc, blob)
    if kind == "dict":
        return Case(kind, doc, blob, verify, via_dict=True)
    data = serialize(draw, doc)
    if kind == "text":
        data = mutate_text(draw, data)
    return Case(kind, data, blob, verify)
