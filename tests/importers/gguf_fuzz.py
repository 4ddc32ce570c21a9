"""GGUF fuzzing: hypothesis strategies that mutate a valid tiny Llama GGUF — every integer field of its layout
(counts, string and array lengths, value and tensor types, dims, offsets, the alignment), truncation, flipped,
inserted and deleted bytes — and a runner that takes each file through the whole import (``load_gguf``: header,
metadata, tensor infos, config, graph, then every weight read and repacked) and records the figures the
README reports. The contract: only webinfer's own errors come out, each case within the time and memory limits.
"""

from __future__ import annotations

import dataclasses
import functools
import struct
import tempfile
import time
import traceback
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from webinfer.errors import WebinferError

TIME_LIMIT_S = 2.0
MEMORY_LIMIT_BYTES = 64 * 1024 * 1024
GENERATED = ("rope.cos", "rope.sin", "slots")  # constants computed from the config, not read from the file


@dataclasses.dataclass(frozen=True)
class Field:
    """One integer field of the valid file: where, how wide, and what it is."""

    offset: int
    size: int  # 4 or 8
    kind: str  # magic version count length type dim offset value alignment


@functools.cache
def base() -> tuple[bytes, tuple[Field, ...]]:
    """The valid starting file (a 2-layer random Llama, every convertible tensor type) and its field map."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
    from llm_samples import write_tiny_gguf

    with tempfile.TemporaryDirectory() as d:
        data = write_tiny_gguf(Path(d) / "t.gguf", seed=1, vocab=40, ctx=64).read_bytes()
    return data, tuple(_fields(data))


def _fields(data: bytes) -> list[Field]:
    """Walk the layout of a valid GGUF (independently of webinfer's reader) and list its integer fields."""
    out: list[Field] = []
    pos = 0

    def u(size: int, kind: str) -> int:
        nonlocal pos
        out.append(Field(pos, size, kind))
        v = int.from_bytes(data[pos : pos + size], "little")
        pos += size
        return v

    def string(kind: str = "length") -> None:
        nonlocal pos
        n = u(8, kind)
        pos += n

    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

    def value(t: int) -> None:
        nonlocal pos
        if t == 8:
            string()
        elif t == 9:
            item = u(4, "type")
            n = u(8, "count")
            for _ in range(n):
                value(item)
        elif sizes[t] in (4, 8):
            u(sizes[t], "value")
        else:
            pos += sizes[t]

    u(4, "magic")
    u(4, "version")
    n_tensors = u(8, "count")
    n_kv = u(8, "count")
    for _ in range(n_kv):
        key_at = pos
        string()
        key = data[key_at + 8 : pos]
        t = u(4, "type")
        if key == b"general.alignment":
            u(4, "alignment")
        else:
            value(t)
    for _ in range(n_tensors):
        string()
        n_dims = u(4, "rank")
        for _ in range(n_dims):
            u(8, "dim")
        u(4, "type")
        u(8, "offset")
    return out


HOSTILE = (0, 1, 2, 3, 31, 32, 33, 255, 2**16, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**40, 2**50, 2**62, 2**63 - 1,
           2**63, 2**64 - 1)


@dataclasses.dataclass
class Case:
    kind: str
    data: bytes


@st.composite
def cases(draw: st.DrawFn) -> Case:
    data, fields = base()
    kind = draw(st.sampled_from(["field", "field", "field", "fields", "truncate", "flip", "insert", "delete",
                                 "duplicate"]))
    buf = bytearray(data)
    if kind in ("field", "fields"):
        for _ in range(1 if kind == "field" else draw(st.integers(2, 6))):
            f = draw(st.sampled_from(fields))
            old = int.from_bytes(buf[f.offset : f.offset + f.size], "little")
            value = draw(st.one_of(st.sampled_from(HOSTILE), st.sampled_from([old + 1, old - 1, old * 2, old // 2,
                                                                              len(data), len(data) - f.offset]),
                                   st.integers(0, 2 ** (8 * f.size) - 1)))
            buf[f.offset : f.offset + f.size] = (value % 2 ** (8 * f.size)).to_bytes(f.size, "little")
            kind = f"{kind}:{f.kind}"
    elif kind == "truncate":
        del buf[draw(st.integers(0, len(buf) - 1)) :]
    elif kind == "flip":
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(buf) - 1))
            buf[i] ^= draw(st.integers(1, 255))
    elif kind == "insert":
        i = draw(st.integers(0, len(buf)))
        buf[i:i] = draw(st.binary(min_size=1, max_size=64))
    elif kind == "delete":
        i = draw(st.integers(0, len(buf) - 1))
        del buf[i : i + draw(st.integers(1, 64))]
    else:  # a header region repeated: counts and lengths now point at the wrong things
        i = draw(st.integers(0, min(len(buf), 4096) - 1))
        j = draw(st.integers(i, min(len(buf), i + 512)))
        buf[j:j] = buf[i:j]
    return Case(kind, bytes(buf))


@dataclasses.dataclass
class Stats:
    cases: int = 0
    accepted: int = 0
    errors: Counter = dataclasses.field(default_factory=Counter)
    other_exceptions: int = 0
    over_time_limit: int = 0
    max_seconds: float = 0.0
    max_peak_bytes: int = 0
    kinds: Counter = dataclasses.field(default_factory=Counter)
    failures: list = dataclasses.field(default_factory=list)

    def report(self) -> dict[str, Any]:
        return {"cases": self.cases, "accepted": self.accepted, "webinfer_errors": dict(self.errors),
                "other_exceptions": self.other_exceptions, "over_time_limit": self.over_time_limit,
                "max_seconds": round(self.max_seconds, 4), "max_peak_mib": round(self.max_peak_bytes / 2**20, 2),
                "kinds": dict(self.kinds.most_common(12)), "failures": self.failures[:5]}


def import_all(data: bytes) -> int:
    """The whole import of one GGUF: parse, config, graph, then every weight read and repacked. Returns bytes read."""
    from webinfer.models.llama import load_gguf

    graph, _, fields, _ = load_gguf(data, "fuzz.gguf")
    total = 0
    for name, c in graph.constants.items():
        if name not in GENERATED:
            total += c.data().nbytes
    return total + len(fields)


def run_case(case: Case, stats: Stats) -> str | None:
    """Run one case; returns a description of a contract violation (None when the loader behaved)."""
    stats.cases += 1
    stats.kinds[case.kind.split(":")[0]] += 1
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]  # what the caller holds (the case itself) is not the import's
    t0 = time.process_time()
    problem = None
    try:
        import_all(case.data)
        stats.accepted += 1
    except WebinferError as e:
        stats.errors[type(e).__name__] += 1
    except Exception as e:  # noqa: BLE001 - the point: nothing else may come out
        stats.other_exceptions += 1
        problem = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=4)}"
    seconds = time.process_time() - t0
    peak = tracemalloc.get_traced_memory()[1] - before
    stats.max_seconds = max(stats.max_seconds, seconds)
    stats.max_peak_bytes = max(stats.max_peak_bytes, peak)
    if seconds > TIME_LIMIT_S:
        stats.over_time_limit += 1
        problem = problem or f"took {seconds:.2f} s of CPU"
    if peak > MEMORY_LIMIT_BYTES:
        problem = problem or f"allocated {peak / 2**20:.1f} MiB"
    if problem:
        stats.failures.append(f"{case.kind}: {problem}")
    return problem


def hand_made(data: bytes) -> list[tuple[str, bytes]]:
    """Deterministic hostile variants of ``data``: every field set to 0 and to its type's largest value (a count,
    length, dim or offset that lies as much as it can), and truncations through the whole header."""
    _, fields = base()
    out = []
    for f in fields:
        for v in (0, 2 ** (8 * f.size) - 1):
            buf = bytearray(data)
            buf[f.offset : f.offset + f.size] = v.to_bytes(f.size, "little")
            out.append((f"field:{f.kind}@{f.offset}={v}", bytes(buf)))
    header_end = fields[-1].offset + fields[-1].size
    for cut in range(0, header_end + 64, 29):
        out.append((f"truncate:@{cut}", data[:cut]))
    return out


__all__ = ["Case", "Field", "Stats", "base", "cases", "hand_made", "import_all", "run_case", "struct"]
