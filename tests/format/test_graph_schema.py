"""The shipped JSON Schema: valid draft 2020-12, in sync with the dtype table, and agreeing with the loader's
own pure-Python validator (which Pyodide uses, having no jsonschema) on valid and invalid documents."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fmt_fuzz import WEIGHTS, bases, json_values, mutate_graph, mutate_tree
from fmt_samples import SAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_load_errors import DOC_CASES

import webinfer as wi
from webinfer.errors import GraphError, WeightsError
from webinfer.format import from_json, graph_schema, to_bytes, to_json
from webinfer.format.schema import Validator, graph_validator, unsupported_keywords

jsonschema = pytest.importorskip("jsonschema")


@pytest.fixture(scope="module")
def reference() -> Any:
    schema = graph_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_uses_only_keywords_the_builtin_validator_implements() -> None:
    assert unsupported_keywords(graph_schema()) == set()


def test_schema_dtypes_match_the_dtype_table() -> None:
    assert graph_schema()["$defs"]["dataType"]["enum"] == list(wi.DTYPES)


def test_schema_has_descriptions_for_the_document_parts() -> None:
    schema = graph_schema()
    for key, sub in schema["properties"].items():
        assert sub.get("description"), key
    for key in ("name", "dataType", "shape", "constant", "fileName", "weightsRef", "attributeValue"):
        assert schema["$defs"][key].get("description"), key


def test_schema_ships_in_the_package() -> None:
    from importlib import resources

    assert json.loads(resources.files("webinfer.format").joinpath("schema.json").read_text())["$id"]


@pytest.mark.parametrize("sample", list(SAMPLES))
def test_valid_documents_pass_both(reference: Any, sample: str) -> None:
    text, _ = to_bytes(SAMPLES[sample](), weights="m.safetensors")
    for doc in (json.loads(text), to_json(SAMPLES[sample]())):
        assert list(reference.iter_errors(doc)) == []
        assert graph_validator().is_valid(doc)


@pytest.mark.parametrize("case,mutate,error,message", DOC_CASES, ids=[c[0] for c in DOC_CASES])
def test_schema_rejects_what_the_loader_rejects_structurally(reference: Any, case: str, mutate: Any, error: type,
                                                            message: str) -> None:
    """For each bad document: if the builtin validator refuses it, jsonschema does too, and vice versa; the
    rest (cycles, shapes, weights) are refused by the loader's semantic checks, which no schema can express."""
    doc = json.loads(bases()[0].text)
    mutate(doc)
    ours = graph_validator().is_valid(doc)
    assert reference.is_valid(doc) == ours, case
    if not ours:
        with pytest.raises(GraphError):
            from_json(doc)


@settings(max_examples=100, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_builtin_validator_agrees_with_jsonschema_on_mutated_documents(reference: Any, data: Any) -> None:
    base = data.draw(st.sampled_from(bases()))
    doc = json.loads(base.text)
    for _ in range(data.draw(st.integers(1, 2))):
        doc = mutate_tree(data.draw, doc) if data.draw(st.booleans()) else mutate_graph(data.draw, doc)
    doc = json.loads(json.dumps(doc).replace("NaN", "0").replace("Infinity", "1"))  # JSON numbers only
    ours = graph_validator().first_issue(doc)
    assert (ours is None) == reference.is_valid(doc), (ours and ours.message, doc)
    if ours is not None:  # and the loader refuses it with a GraphError at that path
        with pytest.raises(GraphError):
            from_json(doc, weights={WEIGHTS: base.weights or b""})


@given(json_values)
@settings(max_examples=100, deadline=None, database=None, derandomize=True)
def test_builtin_validator_agrees_on_arbitrary_values_for_every_definition(reference: Any, value: Any) -> None:
    value = json.loads(json.dumps(value).replace("NaN", "0").replace("Infinity", "1"))
    schema = graph_schema()
    for name in schema["$defs"]:
        sub = {"$defs": schema["$defs"], "$ref": f"#/$defs/{name}"}
        assert Validator(sub).is_valid(value) == jsonschema.Draft202012Validator(sub).is_valid(value), (name, value)


def test_loaded_documents_never_fail_the_schema_after_saving() -> None:
    """What save writes, the schema accepts (save checks, but make the promise explicit)."""
    for make in SAMPLES.values():
        text, files = to_bytes(make(), weights=WEIGHTS)
        try:
            from_json(json.loads(text), weights=files)
        except (GraphError, WeightsError) as e:  # pragma: no cover - the assertion message is the point
            raise AssertionError(e) from None
