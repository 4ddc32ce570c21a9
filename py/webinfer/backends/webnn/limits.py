"""What a WebNN context accepts: ``MLContext.opSupportLimits()`` as a plain dict, with questions on it.

The dict is what Chromium returns (op name -> role -> ``{dataTypes, rankRange}``, plus
``preferredInputLayout``, ``maxTensorByteLength`` and the ``input``/``constant``/``output`` entries
for graph edges). Every answer is a reason string when something is not accepted, or ``None``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ...ir.operand import OperandDesc, fmt_shape

GRAPH_ROLES = ("input", "constant", "output")
FEATURES_KEY = "webinferFeatures"  # probed behaviour the limits do not describe, stored beside them


class Limits:
    """A context's ``opSupportLimits()``; ``Limits(None)`` accepts everything (no context to ask)."""

    def __init__(self, raw: Mapping[str, Any] | None, features: Mapping[str, str | None] | None = None) -> None:
        self.raw: dict[str, Any] = {k: v for k, v in (raw or {}).items() if k != FEATURES_KEY}
        self.known = raw is not None
        stored = (raw or {}).get(FEATURES_KEY) or {}
        #: feature ("pad.edge") -> why the context refuses it, None where it works; absent: not probed
        self.features: dict[str, str | None] = {**stored, **(features or {})}

    @classmethod
    def from_json(cls, text: str) -> Limits:
        """Limits from the JSON text of an ``opSupportLimits()`` result."""
        return cls(json.loads(text))

    # -- context-wide facts -----------------------------------------------------------------------
    @property
    def preferred_input_layout(self) -> str | None:
        value = self.raw.get("preferredInputLayout")
        return value if isinstance(value, str) else None

    @property
    def max_tensor_byte_length(self) -> int | None:
        value = self.raw.get("maxTensorByteLength")
        return int(value) if isinstance(value, (int, float)) else None

    def graph_data_types(self, role: str = "input") -> tuple[str, ...] | None:
        """Data types accepted for graph inputs, constants or outputs (None: unknown, all)."""
        entry = self.raw.get(role)
        if isinstance(entry, Mapping) and isinstance(entry.get("dataTypes"), (list, tuple)):
            return tuple(entry["dataTypes"])
        return None

    def supports_int64(self) -> bool:
        """Whether graph inputs, constants and outputs may be int64 here."""
        return all("int64" in (self.graph_data_types(r) or ("int64",)) for r in GRAPH_ROLES)

    def holds_uint4_as_int4(self) -> bool:
        """Whether uint4 graph inputs and constants must be held as int4 here (int4 accepted, uint4 not)."""
        roles = ("input", "constant")
        types = [self.graph_data_types(r) or ("uint4",) for r in roles]
        return all("uint4" not in t and "int4" in t for t in types)

    def has_op(self, op: str) -> bool:
        return not self.known or isinstance(self.raw.get(op), Mapping)

    def fingerprint(self) -> str:
        """A stable text of the whole dict, to tell contexts with identical limits apart from others."""
        return json.dumps(self.raw, sort_keys=True)

    # -- per-operand checks -----------------------------------------------------------------------
    def check_op(self, op: str) -> str | None:
        """Why ``op`` (a WebNN camelCase name) is not accepted at all, or None."""
        if self.has_op(op):
            return None
        return f"the context's opSupportLimits() has no {op!r}"

    def check_operand(self, op: str, role: str, desc: OperandDesc) -> str | None:
        """Why ``desc`` is not accepted as ``role`` of ``op`` (dtype, rank), or None."""
        if not self.known:
            return None
        entry = self.raw.get(op)
        if not isinstance(entry, Mapping):
            return self.check_op(op)
        spec = entry.get(role)
        if not isinstance(spec, Mapping):
            return None  # the context says nothing about this role: nothing to check
        types = spec.get("dataTypes")
        if isinstance(types, (list, tuple)) and desc.dtype not in types:
            return f"{op} {role} is {desc.dtype}; this context takes {', '.join(types) or 'no data type'}"
        lo, hi = _rank_range(spec)
        if lo is not None and desc.rank < lo or hi is not None and desc.rank > hi:
            return f"{op} {role} has rank {desc.rank} {fmt_shape(desc.shape)}; this context takes rank {lo}..{hi}"
        return None

    def check_graph_edge(self, role: str, desc: OperandDesc) -> str | None:
        """Why ``desc`` cannot be a graph input/constant/output here, or None."""
        if not self.known:
            return None
        types = self.graph_data_types(role)
        if types is not None and desc.dtype not in types:
            return f"a graph {role} of {desc.dtype}; this context takes {', '.join(types)}"
        spec = self.raw.get(role)
        if isinstance(spec, Mapping):
            lo, hi = _rank_range(spec)
            if lo is not None and desc.rank < lo or hi is not None and desc.rank > hi:
                return f"a graph {role} of rank {desc.rank}; this context takes rank {lo}..{hi}"
        return self.check_size(desc)

    def check_size(self, desc: OperandDesc) -> str | None:
        """Why a tensor of ``desc`` is too big for this context, or None."""
        limit = self.max_tensor_byte_length
        if limit is not None and desc.is_static and desc.byte_length > limit:
            return f"{desc} is {desc.byte_length} bytes; maxTensorByteLength is {limit}"
        return None


def _rank_range(spec: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """(min, max) rank from ``rankRange`` (current Chromium) or a bare ``rank`` number (older drafts)."""
    rr = spec.get("rankRange")
    if isinstance(rr, Mapping):
        lo, hi = rr.get("min"), rr.get("max")
        return (int(lo) if isinstance(lo, (int, float)) else None, int(hi) if isinstance(hi, (int, float)) else None)
    rank = spec.get("rank")
    if isinstance(rank, (int, float)):
        return None, int(rank)
    return None, None


__all__ = ["Limits"]
