"""The graph format's JSON Schema (shipped as ``schema.json``) and a small validator for the part of JSON
Schema it uses.

``jsonschema`` does not exist in Pyodide, so the loader checks documents with this validator; the host
tests check that ``jsonschema`` (draft 2020-12) accepts and rejects the same documents.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any, Mapping, Optional

from ..errors import GraphError
from .jsontext import ErrorType, json_path

KEYWORDS = frozenset({
    "$ref", "type", "const", "enum", "minLength", "maxLength", "pattern", "minimum", "maximum", "minItems",
    "maxItems", "items", "required", "properties", "additionalProperties", "propertyNames", "minProperties",
    "maxProperties", "anyOf", "oneOf", "allOf", "not",
})
ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "$defs", "title", "description", "default", "examples"})


@functools.cache
def graph_schema() -> dict[str, Any]:
    """The JSON Schema of graph format v1, as shipped in the package."""
    text = resources.files(__package__).joinpath("schema.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


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


@dataclass
class Issue:
    """Why an instance failed: where (a JSON path) and what."""

    path: tuple[str | int, ...]
    message: str
    types: tuple[str, ...] = ()  # set when the failure is a type mismatch (lets anyOf merge them)


_TYPE_TESTS = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
}


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
    """Checks instances against a schema using the keywords in ``KEYWORDS``."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.root = schema
        self._patterns: dict[str, re.Pattern[str]] = {}

    def validate(self, instance: Any, *, what: str = "graph", error: ErrorType = GraphError) -> None:
        """Raise ``error`` naming the JSON path of the first problem, if any."""
        issue = self.check(instance, self.root, ())
        if issue is not None:
            raise error(f"{what}: {json_path(issue.path)}: {issue.message}")

    def is_valid(self, instance: Any) -> bool:
        return self.check(instance, self.root, ()) is None

    def _resolve(self, ref: str) -> Mapping[str, Any]:
        if not ref.startswith("#/"):
            raise AssertionError(f"only local $refs are supported, got {ref}")
        node: Any = self.root
        for part in ref[2:].split("/"):
            node = node[part]
        return node  # type: ignore[no-any-return]

    def _search(self, pattern: str, text: str) -> bool:
        rx = self._patterns.get(pattern)
        if rx is None:
            rx = self._patterns[pattern] = re.compile(pattern)
        return rx.search(text) is not None

    def check(self, v: Any, s: Mapping[str, Any], path: tuple[str | int, ...]) -> Optional[Issue]:
        """The first issue of ``v`` against schema ``s`` (None when valid)."""
        desc = s.get("description")
        if "$ref" in s:
            issue = self.check(v, self._resolve(s["$ref"]), path)
            if issue is not None:
                return issue
        if "type" in s:
            types = (s["type"],) if isinstance(s["type"], str) else tuple(s["type"])
            if not any(_TYPE_TESTS[t](v) for t in types):
                return Issue(path, f"expected {' or '.join(types)}, got {describe(v)}", types)
        if "const" in s and not _equal(v, s["const"]):
            return Issue(path, f"must be {json.dumps(s['const'])}, got {describe(v)}")
        if "enum" in s and not any(_equal(v, e) for e in s["enum"]):
            options = ", ".join(json.dumps(e) for e in s["enum"])
            return Issue(path, f"must be one of {options}; got {describe(v)}")
        if isinstance(v, str):
            if len(v) < s.get("minLength", 0):
                return Issue(path, f"{describe(v)} is shorter than {s['minLength']} characters")
            if "maxLength" in s and len(v) > s["maxLength"]:
                return Issue(path, f"{describe(v)} is longer than {s['maxLength']} characters")
            if "pattern" in s and not self._search(s["pattern"], v):
                return Issue(path, f"{describe(v)} is not {desc or 'matching ' + s['pattern']}")
        if _TYPE_TESTS["number"](v):
            if "minimum" in s and v < s["minimum"]:
                return Issue(path, f"{describe(v)} is less than the minimum {s['minimum']}")
            if "maximum" in s and v > s["maximum"]:
                return Issue(path, f"{describe(v)} is more than the maximum {s['maximum']}")
        if isinstance(v, list):
            issue = self._check_array(v, s, path)
            if issue is not None:
                return issue
        if isinstance(v, dict):
            issue = self._check_object(v, s, path)
            if issue is not None:
                return issue
        for sub in s.get("allOf", ()):
            issue = self.check(v, sub, path)
            if issue is not None:
                return issue
        if "anyOf" in s:
            issues = [self.check(v, sub, path) for sub in s["anyOf"]]
            if all(i is not None for i in issues):
                return _best(issues, path, desc)  # type: ignore[arg-type]
        if "oneOf" in s:
            issues = [self.check(v, sub, path) for sub in s["oneOf"]]
            matched = sum(i is None for i in issues)
            if matched != 1:
                if matched == 0:
                    return _best(issues, path, desc)  # type: ignore[arg-type]
                return Issue(path, f"must be {desc}" if desc else "matches more than one alternative")
        if "not" in s and self.check(v, s["not"], path) is None:
            return Issue(path, f"{describe(v)} is not {desc}" if desc else f"{describe(v)} is not allowed here")
        return None

    def _check_array(self, v: list[Any], s: Mapping[str, Any], path: tuple[str | int, ...]) -> Optional[Issue]:
        if len(v) < s.get("minItems", 0):
            return Issue(path, f"needs at least {s['minItems']} items, has {len(v)}")
        if "maxItems" in s and len(v) > s["maxItems"]:
            return Issue(path, f"has {len(v)} items; at most {s['maxItems']} are allowed")
        items = s.get("items")
        if items is not None:
            for i, item in enumerate(v):
                issue = self.check(item, items, path + (i,))
                if issue is not None:
                    return issue
        return None

    def _check_object(self, v: dict[str, Any], s: Mapping[str, Any], path: tuple[str | int, ...]) -> Optional[Issue]:
        for key in s.get("required", ()):
            if key not in v:
                return Issue(path, f"missing required key {key!r}")
        if len(v) < s.get("minProperties", 0):
            return Issue(path, f"needs at least {s['minProperties']} entries, has {len(v)}")
        if "maxProperties" in s and len(v) > s["maxProperties"]:
            return Issue(path, f"has {len(v)} entries; at most {s['maxProperties']} are allowed")
        props = s.get("properties", {})
        extra = s.get("additionalProperties", True)
        names = s.get("propertyNames")
        for key, item in v.items():
            if names is not None:
                issue = self.check(key, names, path + (key,))
                if issue is not None:
                    return Issue(issue.path, f"bad key: {issue.message}")
            if key in props:
                issue = self.check(item, props[key], path + (key,))
            elif extra is False:
                allowed = ", ".join(props) or "none"
                return Issue(path, f"unknown key {key!r} (allowed: {allowed})")
            elif isinstance(extra, dict):
                issue = self.check(item, extra, path + (key,))
            else:
                issue = None
            if issue is not None:
                return issue
        return None


def _best(issues: list[Issue], path: tuple[str | int, ...], desc: Optional[str]) -> Issue:
    """The most telling issue among failed alternatives: merged type errors, else the deepest one."""
    if all(i.types and i.path == path for i in issues):
        types = tuple(dict.fromkeys(t for i in issues for t in i.types))
        got = issues[0].message.rsplit(", got ", 1)[-1]
        return Issue(path, f"expected {' or '.join(types)}, got {got}", types)
    deep = [i for i in issues if not (i.types and i.path == path)]
    best = max(deep, key=lambda i: len(i.path))
    if best.path == path and desc:
        return Issue(path, f"{best.message} (expected {desc})")
    return best


@functools.cache
def graph_validator() -> Validator:
    """A validator for the shipped graph schema (built once)."""
    return Validator(graph_schema())
