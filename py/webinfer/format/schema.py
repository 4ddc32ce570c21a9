"""The graph format's JSON Schema (shipped as ``schema.json``) and a small validator for the part of JSON
Schema it uses.

``jsonschema`` does not exist in Pyodide, so the loader checks documents with this validator; the host
tests check that ``jsonschema`` (draft 2020-12) accepts and rejects the same documents.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

from ..errors import GraphError
from .jsontext import ErrorType, json_path

KEYWORDS = frozenset({
    "$ref", "type", "const", "enum", "minLength", "maxLength", "pattern", "minimum", "maximum", "minItems",
    "maxItems", "items", "required", "properties", "additionalProperties", "propertyNames", "minProperties",
    "maxProperties", "anyOf", "oneOf", "allOf", "not",
})
ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "$defs", "title", "description", "default", "examples"})


@functools.cache
def _schema_text() -> str:
    return resources.files(__package__).joinpath("schema.json").read_text(encoding="utf-8")


def graph_schema() -> dict[str, Any]:
    """The JSON Schema of graph format v1, as shipped in the package (a fresh copy)."""
    return json.loads(_schema_text())  # type: ignore[no-any-return]


def unsupported_keywords(schema: Any) -> set[str]:
    """Keywords used anywhere in ``schema`` that this validator does not implement (should be empty)."""
    found: set[str] = set()
    stack = [schema]
    while stack:
        s = stack.pop()
        if isinstance(s, dict):
            found.update(k for k in s if k not in KEYWORDS and k not in ANNOTATIONS)
            for k, v in s.items():
                if k in ("properties", "$defs"):
                    stack.extend(v.values())
                elif k in ("items", "additionalProperties", "propertyNames", "not"):
                    stack.append(v)
                elif k in ("anyOf", "oneOf", "allOf"):
                    stack.extend(v)
    return found


class Issue:
    """Why an instance failed: where (a JSON path) and what (the message is built only if it is shown)."""

    __slots__ = ("path", "_message", "types")

    def __init__(
        self, path: tuple[str | int, ...], message: str | Callable[[], str], types: tuple[str, ...] = ()
    ) -> None:
        self.path = path
        self._message = message
        self.types = types  # set when the failure is a type mismatch (lets anyOf merge them)

    @property
    def message(self) -> str:
        if callable(self._message):
            self._message = self._message()
        return self._message


Check = Callable[[Any, tuple], Issue | None]


def _later(template: str, *args: Any) -> Callable[[], str]:
    """An Issue message formatted only when shown: ``template.format(*args)``, with ``args`` bound now."""
    return lambda: template.format(*args)

_TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
}
_is_number = _TYPE_TESTS["number"]


def describe(v: Any) -> str:
    """A short description of a JSON value for messages."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return f"an object with {len(v)} keys"
    if isinstance(v, list):
        return f"an array of {len(v)}"
    text = json.dumps(v, ensure_ascii=False) if isinstance(v, (str, int, float)) else repr(v)
    if len(text) > 60:
        text = text[:57] + "..."
    return ("the string " if isinstance(v, str) else "") + text


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: booleans are not numbers, strings equal only strings; 1 equals 1.0."""
    for kind in (bool, str, list, dict):
        if isinstance(a, kind) or isinstance(b, kind):
            return isinstance(a, kind) and isinstance(b, kind) and a == b
    return a == b  # type: ignore[no-any-return]


class Validator:
    """Checks instances against a schema using the keywords in ``KEYWORDS``.

    The schema is compiled once into closures, one per keyword, so a check costs a few calls per value.
    """

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.root = schema
        self._compiled: dict[int, Check] = {}
        self._check = self._compile(schema)

    def validate(self, instance: Any, *, what: str = "graph", error: ErrorType = GraphError) -> None:
        """Raise ``error`` naming the JSON path of the first problem, if any."""
        issue = self._check(instance, ())
        if issue is not None:
            raise error(f"{what}: {json_path(issue.path)}: {issue.message}")

    def is_valid(self, instance: Any) -> bool:
        return self._check(instance, ()) is None

    def first_issue(self, instance: Any) -> Issue | None:
        return self._check(instance, ())

    def _resolve(self, ref: str) -> Mapping[str, Any]:
        if not ref.startswith("#/"):
            raise AssertionError(f"only local $refs are supported, got {ref}")
        node: Any = self.root
        for part in ref[2:].split("/"):
            node = node[part]
        return node  # type: ignore[no-any-return]

    def _compile(self, s: Mapping[str, Any]) -> Check:
        key = id(s)
        if key in self._compiled:
            return self._compiled[key]
        checks: list[Check] = []

        def run(v: Any, path: tuple) -> Issue | None:
            for c in checks:
                issue = c(v, path)
                if issue is not None:
                    return issue
            return None

        self._compiled[key] = run  # registered first, so recursive $refs terminate
        for keywords, make in _KEYWORD_CHECKS:
            if any(k in s for k in keywords):
                checks.append(make(self, s))
        return run


def _ref(val: Validator, s: Mapping[str, Any]) -> Check:
    target: list[Check] = []

    def check(v: Any, path: tuple) -> Issue | None:
        if not target:
            target.append(val._compile(val._resolve(s["$ref"])))
        return target[0](v, path)

    return check


def _type(val: Validator, s: Mapping[str, Any]) -> Check:
    types = (s["type"],) if isinstance(s["type"], str) else tuple(s["type"])
    tests = tuple(_TYPE_TESTS[t] for t in types)

    def check(v: Any, path: tuple) -> Issue | None:
        for t in tests:
            if t(v):
                return None
        return Issue(path, lambda: f"expected {' or '.join(types)}, got {describe(v)}", types)

    return check


def _const(val: Validator, s: Mapping[str, Any]) -> Check:
    const = s["const"]
    return lambda v, path: (
        None if _equal(v, const) else Issue(path, lambda: f"must be {json.dumps(const)}, got {describe(v)}")
    )


def _enum(val: Validator, s: Mapping[str, Any]) -> Check:
    options = tuple(s["enum"])

    def check(v: Any, path: tuple) -> Issue | None:
        for e in options:
            if _equal(v, e):
                return None
        return Issue(path, lambda: f"must be one of {', '.join(json.dumps(e) for e in options)}; got {describe(v)}")

    return check


def _strings(val: Validator, s: Mapping[str, Any]) -> Check:
    lo, hi = s.get("minLength", 0), s.get("maxLength")
    rx = re.compile(s["pattern"]) if "pattern" in s else None
    desc = s.get("description")

    def check(v: Any, path: tuple) -> Issue | None:
        if not isinstance(v, str):
            return None
        if len(v) < lo:
            return Issue(path, lambda: f"{describe(v)} is shorter than {lo} characters")
        if hi is not None and len(v) > hi:
            return Issue(path, lambda: f"{describe(v)} is longer than {hi} characters")
        if rx is not None and rx.search(v) is None:
            return Issue(path, lambda: f"{describe(v)} is not {desc or 'matching ' + rx.pattern}")
        return None

    return check


def _numbers(val: Validator, s: Mapping[str, Any]) -> Check:
    lo, hi = s.get("minimum"), s.get("maximum")

    def check(v: Any, path: tuple) -> Issue | None:
        if not _is_number(v):
            return None
        if lo is not None and v < lo:
            return Issue(path, lambda: f"{describe(v)} is less than the minimum {lo}")
        if hi is not None and v > hi:
            return Issue(path, lambda: f"{describe(v)} is more than the maximum {hi}")
        return None

    return check


def _arrays(val: Validator, s: Mapping[str, Any]) -> Check:
    lo, hi = s.get("minItems", 0), s.get("maxItems")
    items = val._compile(s["items"]) if "items" in s else None

    def check(v: Any, path: tuple) -> Issue | None:
        if not isinstance(v, list):
            return None
        if len(v) < lo:
            return Issue(path, lambda: f"needs at least {lo} items, has {len(v)}")
        if hi is not None and len(v) > hi:
            return Issue(path, lambda: f"has {len(v)} items; at most {hi} are allowed")
        if items is not None:
            for i, item in enumerate(v):
                issue = items(item, path + (i,))
                if issue is not None:
                    return issue
        return None

    return check


def _objects(val: Validator, s: Mapping[str, Any]) -> Check:
    required = tuple(s.get("required", ()))
    lo, hi = s.get("minProperties", 0), s.get("maxProperties")
    props = {k: val._compile(v) for k, v in s.get("properties", {}).items()}
    allowed = ", ".join(s.get("properties", {})) or "none"
    extra_schema = s.get("additionalProperties", True)
    extra = val._compile(extra_schema) if isinstance(extra_schema, dict) else None
    names = val._compile(s["propertyNames"]) if "propertyNames" in s else None

    def check(v: Any, path: tuple) -> Issue | None:
        if not isinstance(v, dict):
            return None
        for key in required:
            if key not in v:
                return Issue(path, f"missing required key {key!r}")
        if len(v) < lo:
            return Issue(path, lambda: f"needs at least {lo} entries, has {len(v)}")
        if hi is not None and len(v) > hi:
            return Issue(path, lambda: f"has {len(v)} entries; at most {hi} are allowed")
        for key, item in v.items():
            if names is not None:
                issue = names(key, path + (key,))
                if issue is not None:
                    return Issue(issue.path, _later("bad key: {0.message}", issue))
            sub = props.get(key)
            if sub is not None:
                issue = sub(item, path + (key,))
            elif extra_schema is False:
                return Issue(path, _later("unknown key {0!r} (allowed: {1})", key, allowed))
            elif extra is not None:
                issue = extra(item, path + (key,))
            else:
                issue = None
            if issue is not None:
                return issue
        return None

    return check


def _all_of(val: Validator, s: Mapping[str, Any]) -> Check:
    subs = [val._compile(x) for x in s["allOf"]]

    def check(v: Any, path: tuple) -> Issue | None:
        for sub in subs:
            issue = sub(v, path)
            if issue is not None:
                return issue
        return None

    return check


def _any_of(val: Validator, s: Mapping[str, Any]) -> Check:
    subs = [val._compile(x) for x in s["anyOf"]]
    desc = s.get("description")

    def check(v: Any, path: tuple) -> Issue | None:
        issues = []
        for sub in subs:
            issue = sub(v, path)
            if issue is None:
                return None
            issues.append(issue)
        return _best(issues, path, desc, v)

    return check


def _one_of(val: Validator, s: Mapping[str, Any]) -> Check:
    subs = [val._compile(x) for x in s["oneOf"]]
    desc = s.get("description")

    def check(v: Any, path: tuple) -> Issue | None:
        issues = [sub(v, path) for sub in subs]
        matched = sum(i is None for i in issues)
        if matched == 1:
            return None
        if matched == 0:
            return _best(issues, path, desc, v)  # type: ignore[arg-type]
        return Issue(path, f"must be {desc}" if desc else "matches more than one alternative")

    return check


def _not(val: Validator, s: Mapping[str, Any]) -> Check:
    sub = val._compile(s["not"])
    desc = s.get("description")

    def check(v: Any, path: tuple) -> Issue | None:
        if sub(v, path) is not None:
            return None
        return Issue(path, lambda: f"{describe(v)} is not allowed here" + (f" ({desc})" if desc else ""))

    return check


_KEYWORD_CHECKS: tuple[tuple[tuple[str, ...], Callable[[Validator, Mapping[str, Any]], Check]], ...] = (
    (("$ref",), _ref), (("type",), _type), (("const",), _const), (("enum",), _enum),
    (("minLength", "maxLength", "pattern"), _strings), (("minimum", "maximum"), _numbers),
    (("minItems", "maxItems", "items"), _arrays),
    (("required", "minProperties", "maxProperties", "properties", "additionalProperties", "propertyNames"), _objects),
    (("allOf",), _all_of), (("anyOf",), _any_of), (("oneOf",), _one_of), (("not",), _not),
)


def _best(issues: list[Issue], path: tuple[str | int, ...], desc: str | None, v: Any) -> Issue:
    """The most telling issue among failed alternatives: one that got deeper into the value if any,
    else the alternatives' description, else their merged types."""
    deepest = max(issues, key=lambda i: len(i.path))
    if len(deepest.path) > len(path):
        return deepest
    if desc:
        return Issue(path, lambda: f"expected {desc}, got {describe(v)}")
    if all(i.types for i in issues):
        types = tuple(dict.fromkeys(t for i in issues for t in i.types))
        return Issue(path, lambda: f"expected {' or '.join(types)}, got {describe(v)}", types)
    return next((i for i in issues if not i.types), issues[0])


@functools.cache
def graph_validator() -> Validator:
    """A validator for the shipped graph schema (built once)."""
    return Validator(graph_schema())
