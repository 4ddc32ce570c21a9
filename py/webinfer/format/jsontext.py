"""Safe JSON for untrusted files: size and nesting limits, no duplicate keys, no NaN, errors with line/column.

``json.loads`` alone would accept ``NaN``, let a later duplicate key silently win, and recurse without
bound on ``[[[[...``; here every such document is refused with a webinfer error that says where.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import GraphError, WebinferError

MAX_DOCUMENT_BYTES = 64 * 1024 * 1024  # graph JSON larger than this is refused before parsing
MAX_DEPTH = 64  # containers nested deeper than this are refused (the format needs 5)
MAX_CONTAINERS = 4_000_000  # arrays + objects in one document (a 64 MiB graph of nodes has about 3 million)
MAX_STRINGS = 8_000_000  # strings, keys included (bounds what parsing may allocate)
MAX_ITEMS = 20_000_000  # commas: array items and object entries

ErrorType = Callable[[str], WebinferError]

_UNIFY = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKET_BYTES = bytes(b for b in range(256) if b not in b"[]{}")
_NOT_BRACKET_OR_QUOTE = bytes(b for b in range(256) if b not in b'[]{}"')
_MAYBE_HUGE_FLOAT = re.compile(rb"[eE]\+?0*[1-9][0-9]{2}|[0-9]{300}")
_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def json_path(parts: Iterable[str | int]) -> str:
    """A JSON path for messages: ``nodes[3].attributes.axes``, ``constants["a.b"]``."""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif p.isidentifier() and p.isascii():
            out += f".{p}" if out else p
        else:
            out += "[" + json.dumps(p, ensure_ascii=False) + "]"
    return out or "(document)"


def _depth(brackets: bytes, limit: int) -> int:
    """Nesting depth of a string of ``[`` and ``]``: each ``replace(b"[]", b"")`` removes exactly the innermost
    level, so it is the number of passes until nothing is left (stopping once past ``limit``). What an
    unbalanced string leaves (``]]][[[``) counts its openers on top."""
    if b"[" * (limit + 1) in brackets:  # the usual way to be too deep, found in one search
        return limit + 1
    depth = 0
    while brackets and depth <= limit:
        shorter = brackets.replace(b"[]", b"")
        if len(shorter) == len(brackets):
            return depth + brackets.count(b"[")
        brackets, depth = shorter, depth + 1
    return depth


def check_structure(raw: bytes, what: str, error: ErrorType = GraphError, max_depth: int = MAX_DEPTH) -> None:
    """Refuse JSON (as UTF-8 bytes) that nests deeper than ``max_depth`` or has more containers, strings or
    items than the limits, before the parser (which recurses, and allocates per value) sees it.

    Everything runs at C speed in bounded memory: counts, ``bytes.translate`` (UTF-8 never puts an ASCII
    byte inside a multi-byte character, so brackets and quotes are found byte-wise), and at most
    ``max_depth + 1`` replace passes. Brackets inside strings are ignored, exactly, when they matter.
    """
    for token, limit, label in ((b"[", MAX_CONTAINERS, "arrays and objects"), (b'"', 2 * MAX_STRINGS, "quotes"),
                                (b",", MAX_ITEMS, "commas")):
        count = raw.count(token) + (raw.count(b"{") if token == b"[" else 0)
        if count > limit:
            raise error(f"{what}: {count} {label}; at most {limit} are allowed")
    if _depth(raw.translate(None, _NOT_BRACKET_BYTES).translate(_UNIFY), max_depth) <= max_depth:
        return  # even counting brackets inside strings, it is shallow enough
    # drop escaped backslashes, then escaped quotes: the quotes left delimit strings; keep what is outside them
    reduced = raw.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_BRACKET_OR_QUOTE)
    outside = b"".join(reduced.split(b'"')[::2]).translate(_UNIFY)
    if _depth(outside, max_depth) > max_depth:
        raise error(f"{what}: JSON nests deeper than {max_depth} levels")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON (write non-finite floats as the strings \"inf\", \"-inf\", \"nan\")")


def _finite_float(s: str) -> float:
    v = float(s)
    if math.isinf(v):
        shown = s if len(s) <= 24 else s[:20] + "..."
        raise ValueError(f"number {shown} is too large for a float (write \"inf\" for infinity)")
    return v


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def parse_json(
    data: bytes | bytearray | memoryview | str,
    what: str,
    *,
    error: ErrorType = GraphError,
    max_bytes: int = MAX_DOCUMENT_BYTES,
    max_depth: int = MAX_DEPTH,
) -> Any:
    """Parse untrusted JSON text or UTF-8 bytes into Python values, or raise ``error`` saying what and where."""
    if isinstance(data, str):
        if len(data) > max_bytes:  # code points <= bytes: a cheap lower bound
            raise error(f"{what}: {len(data)} characters exceeds the limit of {max_bytes} bytes")
        text = data
        raw = data.encode("utf-8", "surrogatepass")
    else:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise error(f"{what}: expected JSON text or bytes, got {type(data).__name__}")
        size = memoryview(data).nbytes
        if size > max_bytes:
            raise error(f"{what}: {size} bytes exceeds the limit of {max_bytes} bytes")
        raw = data if isinstance(data, bytes) else bytes(data)
        try:
            text = str(raw, "utf-8")
        except UnicodeDecodeError as e:
            raise error(f"{what}: not UTF-8 text (byte {e.start}: {e.reason})") from None
    if text.startswith("\ufeff"):
        raise error(f"{what}: starts with a byte order mark; write plain UTF-8")
    check_structure(raw, what, error, max_depth)
    # a float literal can only overflow to inf with a 3-digit exponent or 300+ digits; check those only
    parse_float = _finite_float if _MAYBE_HUGE_FLOAT.search(raw) else None
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant,
                           parse_float=parse_float)
    except json.JSONDecodeError as e:
        raise error(f"{what}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None
    except (ValueError, RecursionError) as e:  # hooks above, or an int longer than Python's digit limit
        raise error(f"{what}: invalid JSON: {e}") from None
    if _ESCAPED_SURROGATE.search(text):  # the only way parsed JSON can hold what check_value refuses
        check_value(value, what, error, max_depth)
    return value


def check_value(value: Any, what: str, error: ErrorType = GraphError, max_depth: int = MAX_DEPTH) -> None:
    """Check that a Python value is plain JSON data: dict/list/str/int/float/bool/None, str keys, finite
    floats, strings that UTF-8 can encode, nesting within ``max_depth`` (iterative: no recursion)."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        v, path = stack.pop()
        if isinstance(v, str):
            if _SURROGATE.search(v):
                raise error(
                    f"{what}: {json_path(path)}: string contains an unpaired surrogate (not encodable as UTF-8)"
                )
        elif isinstance(v, float):
            if not math.isfinite(v):
                raise error(f"{what}: {json_path(path)}: {v} is not a JSON number "
                            "(write non-finite floats as the strings \"inf\", \"-inf\", \"nan\")")
        elif v is None or isinstance(v, (bool, int)):
            pass
        elif isinstance(v, (dict, list)):
            if len(path) >= max_depth:
                raise error(f"{what}: {json_path(path)}: nests deeper than {max_depth} levels")
            if isinstance(v, dict):
                for k, item in v.items():
                    if not isinstance(k, str):
                        raise error(
                            f"{what}: {json_path(path)}: key {k!r} is a {type(k).__name__}, JSON keys are strings"
                        )
                    if _SURROGATE.search(k):
                        raise error(f"{what}: {json_path(path)}: key {k!r} contains an unpaired surrogate")
                    if isinstance(item, (dict, list, str, float)) or not isinstance(item, (bool, int, type(None))):
                        stack.append((item, path + (k,)))
            else:
                for i, item in enumerate(v):
                    if isinstance(item, (dict, list, str, float)) or not isinstance(item, (bool, int, type(None))):
                        stack.append((item, path + (i,)))
        else:
            raise error(f"{what}: {json_path(path)}: a {type(v).__name__} is not a JSON value")


def dumps(value: Any, width: int = 120) -> str:
    """JSON text for documents we write: UTF-8, no NaN, indented, with small containers and lists of
    scalars kept on one line (so shapes, node entries and inline values stay readable)."""

    def compact(v: Any) -> str:
        return json.dumps(v, ensure_ascii=False, allow_nan=False, separators=(", ", ": "))

    def dump(v: Any, indent: int) -> str:
        text = compact(v)
        if not isinstance(v, (dict, list)) or len(text) + indent <= width or (
            isinstance(v, list) and not any(isinstance(x, (dict, list)) for x in v)
        ):
            return text
        pad = " " * (indent + 2)
        if isinstance(v, dict):
            items = [f"{pad}{compact(k)}: {dump(x, indent + 2)}" for k, x in v.items()]
            return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
        return "[\n" + ",\n".join(pad + dump(x, indent + 2) for x in v) + "\n" + " " * indent + "]"

    return dump(value, 0) + "\n"
