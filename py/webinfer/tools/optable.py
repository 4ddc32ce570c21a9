"""The op table for the README, generated from the registry and each backend's description.

``python -m webinfer.tools.optable`` prints it; ``--write README.md`` replaces the table between the
``<!-- optable:start -->`` and ``<!-- optable:end -->`` markers. One column per described backend
(``webinfer.backends.BACKENDS``): ✓ it has an entry for the op, ✗ it has none, — its table cannot be
imported here (the reference needs numpy); a composite (hybrid) has the op when one of its parts has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..backends import BACKENDS, get_backend
from ..ir.dtypes import ALL_TYPES
from ..ir.registry import OpSpec, all_ops

_SHORT = {"float32": "f32", "float16": "f16", "int32": "i32", "uint32": "u32", "int64": "i64", "uint64": "u64",
          "int8": "i8", "uint8": "u8", "int4": "i4", "uint4": "u4"}
SUPPORTED, MISSING, UNKNOWN = "✓", "✗", "—"


def backend_table(backend: str) -> Mapping[str, Any] | None:
    """The op-name-keyed table of ``backend``, or None (a composite, unknown, or not importable here)."""
    if backend not in BACKENDS:
        return None
    return get_backend(backend).op_table()


def status(table: Mapping[str, Any] | None, op: str) -> str:
    """One cell: ✓ (has an entry), ✗ (absent), — (no table here)."""
    if table is None:
        return UNKNOWN
    return SUPPORTED if table.get(op) is not None else MISSING


def backend_status(backend: str, op: str, tables: Mapping[str, Mapping[str, Any] | None] | None = None) -> str:
    """The cell for ``backend``: its own table's, or for a composite the best of its parts'."""
    tables = tables if tables is not None else {}
    if backend in BACKENDS and BACKENDS[backend].parts:
        cells = [backend_status(p, op, tables) for p in BACKENDS[backend].parts]
        return SUPPORTED if SUPPORTED in cells else UNKNOWN if UNKNOWN in cells else MISSING
    table = tables[backend] if backend in tables else backend_table(backend)
    return status(table, op)


def dtypes_text(spec: OpSpec) -> str:
    """The data input's dtypes (where's values, not its condition), short ('f32 f16'), or 'all'."""
    data = [s for s in spec.inputs if s.name != "condition"]
    types = (data or spec.inputs)[0].dtypes if spec.inputs else ()
    if set(types) >= {t for t in ALL_TYPES if t != "uint64"}:
        return "all"
    return " ".join(_SHORT.get(t, t) for t in types)


def rows(backends: Sequence[str] | None = None) -> list[dict[str, str]]:
    """One dict per registered op: op, family, dtypes, tolerance and a status per backend."""
    backends = list(BACKENDS) if backends is None else list(backends)
    tables = {b: backend_table(b) for b in BACKENDS}
    out = []
    for spec in all_ops():
        row = {
            "op": spec.name,
            "family": spec.family,
            "dtypes": dtypes_text(spec),
            "tolerance": spec.tolerance_doc or "?",
        }
        row.update({b: backend_status(b, spec.name, tables) if b in BACKENDS else UNKNOWN for b in backends})
        out.append(row)
    return out


def markdown(backends: Sequence[str] | None = None) -> str:
    """The op table as GitHub markdown (✓ supported, ✗ not supported, — backend not available here)."""
    backends = list(BACKENDS) if backends is None else list(backends)
    table = rows(backends)
    cols = ["op", "family", "dtypes", "tolerance", *backends]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in table:
        lines.append("| " + " | ".join(row[c].replace("|", "\\|") for c in cols) + " |")
    return "\n".join(lines) + "\n"


START, END = "<!-- optable:start -->", "<!-- optable:end -->"


def between(text: str, start: str, end: str) -> str | None:
    """What ``text`` holds between the ``start`` and ``end`` markers (None without them)."""
    if start not in text or end not in text:
        return None
    return text.split(start, 1)[1].split(end, 1)[0].strip("\n") + "\n"


def write_between(path: str, start: str, end: str, content: str, what: str = "the table") -> bool:
    """Replace what the file at ``path`` holds between the markers with ``content``; True if it changed."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if between(text, start, end) is None:
        raise SystemExit(f"{path}: no {start} ... {end} markers to write {what} between")
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    new = f"{head}{start}\n{content}{end}{tail}"
    if new != text:
        with open(path, "w", encoding="utf-8") as f:
            f.write(new)
    return new != text


def embedded(text: str) -> str | None:
    """The op table currently between the markers in ``text`` (None without markers)."""
    return between(text, START, END)


def write_into(path: str) -> bool:
    """Replace the op table between the markers in the file at ``path``; True if it changed."""
    return write_between(path, START, END, markdown(), "the op table")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m webinfer.tools.optable [--write FILE]``."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--write"] and len(args) == 2:
        print(f"{args[1]}: {'updated' if write_into(args[1]) else 'already current'}")
        return 0
    if args:
        print("usage: python -m webinfer.tools.optable [--write FILE]", file=sys.stderr)
        return 2
    print(markdown(), end="")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
