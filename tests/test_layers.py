"""Imports go one way, ``ir → format → importers → backends → models → tools`` (docs/architecture.md): no
module of a lower layer imports a higher one, at the top of the file or inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "py" / "webinfer"
LAYERS = ("ir", "format", "importers", "backends", "models", "tools")


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path``."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = parts if parts[-1] == "__init__" else parts[:-1]
    package = [p for p in package if p != "__init__"]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found += [(node.lineno, module if node.module else f"{module}.{alias.name}") for alias in node.names]
    return found


def test_no_layer_imports_a_higher_one() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        layer = path.relative_to(PACKAGE).parts[0]
        if layer not in LAYERS:
            continue
        for line, module in _imports(path):
            parts = module.split(".")
            if parts[0] == "webinfer" and len(parts) > 1 and parts[1] in LAYERS:
                if LAYERS.index(parts[1]) > LAYERS.index(layer):
                    wrong.append(f"{path.relative_to(PACKAGE)}:{line}: {layer} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_relative_imports() -> None:
    """The scan resolves ``from ..x import y``: tools/cli.py's imports include webinfer.tools.cmdline."""
    assert any(m == "webinfer.tools.cmdline" for _, m in _imports(PACKAGE / "tools" / "cli.py"))
    assert any(m.startswith("webinfer.ir") for _, m in _imports(PACKAGE / "format" / "graph_json.py"))


def test_the_ir_imports_only_itself_and_the_errors() -> None:
    """The bottom layer reaches nothing above it: not ``webinfer.tensor`` (the builder converts constants with
    ``webinfer.ir.hostdata``, which Tensor uses too), not the backends."""
    wrong = []
    for path in sorted((PACKAGE / "ir").rglob("*.py")):
        for line, module in _imports(path):
            parts = module.split(".")
            if parts[0] == "webinfer" and module != "webinfer.errors" and parts[:2] != ["webinfer", "ir"]:
                wrong.append(f"{path.relative_to(PACKAGE)}:{line}: imports {module}")
    assert not wrong, "\n".join(wrong)
