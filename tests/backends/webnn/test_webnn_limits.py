"""Limits: questions on a recorded ``opSupportLimits()`` (Chromium 153, TFLite CPU backend)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from webinfer.backends.webnn.limits import Limits
from webinfer.ir.operand import OperandDesc

FIXTURE = Path(__file__).with_name("limits_chromium153_cpu.json")


@pytest.fixture(scope="module")
def limits() -> Limits:
    return Limits(json.loads(FIXTURE.read_text()))


def test_context_facts(limits: Limits) -> None:
    assert limits.preferred_input_layout == "nhwc"
    assert limits.max_tensor_byte_length == 2**31 - 1
    assert limits.supports_int64()
    assert "int4" in (limits.graph_data_types("constant") or ())


def test_accepted_operand_is_none(limits: Limits) -> None:
    assert limits.check_operand("matmul", "a", OperandDesc("float32", (2, 3))) is None


def test_dtype_reason_names_op_role_and_accepted_types(limits: Limits) -> None:
    reason = limits.check_operand("matmul", "a", OperandDesc("int32", (2, 3)))
    assert reason == "matmul a is int32; this context takes float32, float16"


def test_rank_reason_names_rank_and_range(limits: Limits) -> None:
    reason = limits.check_operand("matmul", "b", OperandDesc("float32", (1,) * 6))
    assert reason is not None and "rank 6" in reason and "2..5" in reason


def test_missing_op(limits: Limits) -> None:
    assert limits.check_op("fooBar") == "the context's opSupportLimits() has no 'fooBar'"
    assert limits.check_operand("fooBar", "input", OperandDesc("float32", (1,))) is not None


def test_unknown_limits_accept_everything() -> None:
    anything = Limits(None)
    assert not anything.known
    assert anything.check_op("fooBar") is None
    assert anything.check_operand("matmul", "a", OperandDesc("int8", (1,) * 8)) is None
    assert anything.check_graph_edge("input", OperandDesc("uint64", (3,))) is None


def test_int64_missing_from_graph_edges() -> None:
    raw = json.loads(FIXTURE.read_text())
    raw["input"]["dataTypes"] = [t for t in raw["input"]["dataTypes"] if t != "int64"]
    limits = Limits(raw)
    assert not limits.supports_int64()
    assert "int64" in (limits.check_graph_edge("input", OperandDesc("int64", (4,))) or "")


def test_size_limit() -> None:
    limits = Limits({"maxTensorByteLength": 64, "add": {"a": {"dataTypes": ["float32"]}}})
    assert limits.check_size(OperandDesc("float32", (16,))) is None
    reason = limits.check_size(OperandDesc("float32", (17,)))
    assert reason is not None and "68 bytes" in reason and "64" in reason
    assert limits.check_size(OperandDesc("float32", ("n",))) is None  # symbolic: checked once bound


def test_older_rank_spelling() -> None:
    limits = Limits({"softmax": {"input": {"dataTypes": ["float32"], "rank": 2}}})
    assert limits.check_operand("softmax", "input", OperandDesc("float32", (2, 3))) is None
    assert "rank 3" in (limits.check_operand("softmax", "input", OperandDesc("float32", (1, 2, 3))) or "")


def test_fingerprint_tells_contexts_apart(limits: Limits) -> None:
    same = Limits(json.loads(FIXTURE.read_text()))
    assert same.fingerprint() == limits.fingerprint()
    other = dict(limits.raw)
    other.pop("gelu")
    assert Limits(other).fingerprint() != limits.fingerprint()
