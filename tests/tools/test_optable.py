"""The README op table is generated from the registry and the backends' tables."""

from __future__ import annotations

from pathlib import Path

import webinfer as wi
from webinfer.tools import optable


def test_markdown_lists_every_registered_op() -> None:
    text = optable.markdown()
    lines = text.strip().splitlines()
    assert lines[0] == "| op | family | dtypes | tolerance | reference | webgpu | webnn | hybrid |"
    rows = {line.split("|")[1].strip(): line for line in lines[2:]}
    assert set(rows) == {s.name for s in wi.all_ops()}
    assert len(lines) == 2 + len(rows)
    assert "| matmul | linalg | f32 f16 i32 u32 i64 | 2·K ULP (K = inner size) | ✓ |" in rows["matmul"]
    for line in rows.values():
        assert line.count("|") == 9


def test_status_cells() -> None:
    table = {"relu": object(), "tanh": None}
    assert optable.status(None, "relu") == "—"
    assert optable.status(table, "relu") == "✓"
    assert optable.status(table, "tanh") == "✗"
    assert optable.status(table, "sin") == "✗"
    assert optable.backend_table("no-such-backend") is None
    assert optable.rows(["no-such-backend"])[0]["no-such-backend"] == "—"


def test_a_composite_has_an_op_when_a_part_has_it() -> None:
    tables = {"webnn": {"relu": object()}, "webgpu": {"relu": object(), "gelu": object()}}
    assert optable.backend_status("hybrid", "gelu", tables) == "✓"
    assert optable.backend_status("hybrid", "sin", tables) == "✗"
    assert optable.backend_status("hybrid", "sin", {"webnn": None, "webgpu": {}}) == "—"


def test_readme_table_is_current() -> None:
    readme = Path(__file__).resolve().parents[2] / "README.md"
    current = optable.embedded(readme.read_text(encoding="utf-8"))
    assert current is not None, "README.md lost its <!-- optable:start/end --> markers"
    assert current == optable.markdown(), \
        "README op table is stale: run python -m webinfer.tools.optable --write README.md"


def test_write_into(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(f"# x\n{optable.START}\nold\n{optable.END}\ntail\n", encoding="utf-8")
    assert optable.write_into(str(doc)) is True
    assert optable.write_into(str(doc)) is False
    text = doc.read_text(encoding="utf-8")
    assert text.startswith("# x\n") and text.endswith("tail\n") and optable.embedded(text) == optable.markdown()
    assert optable.main(["--bogus"]) == 2
