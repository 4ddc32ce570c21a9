"""The search corpus: docstring lines, which stdlib objects are listed and how, the fast host embedding."""

from __future__ import annotations

import json

import numpy as np
import pytest

from webinfer.tools.corpus import (
    CORPUS_FILE,
    EMBEDDINGS_FILE,
    REMOVED_MODULES,
    Entry,
    build_corpus,
    collect_entries,
    first_sentence,
    load_corpus,
)


@pytest.mark.parametrize(
    ("doc", "line"),
    [
        ("Recursively delete a directory tree.\n\n    If ignore_errors is set, ...",
         "Recursively delete a directory tree."),
        ("perf_counter_ns() -> int\n\nPerformance counter for benchmarking as nanoseconds.",
         "Performance counter for benchmarking as nanoseconds."),
        ("Return the string obtained by replacing the leftmost\n    non-overlapping occurrences. More text.",
         "Return the string obtained by replacing the leftmost non-overlapping occurrences."),
        ("Version 1.2 of the format. Second sentence.", "Version 1.2 of the format."),
        ("BoolOp(boolop op, expr* values)", None),  # a signature and nothing else
        ("**DEPRECATED** use something else", None),
        ("   \n  ", None),
        (None, None),
        (42, None),
    ],
)
def test_first_sentence(doc: object, line: str | None) -> None:
    assert first_sentence(doc) == line


def test_first_sentence_cuts_long_lines_at_a_word() -> None:
    line = first_sentence("word " * 100)
    assert line is not None and len(line) <= 160 and line.endswith("…") and " wor…" not in line


@pytest.fixture(scope="module")
def entries() -> list[Entry]:
    return collect_entries()


def test_entries_name_objects_where_people_import_them(entries: list[Entry]) -> None:
    by_name = {e.qualname: e for e in entries}
    assert by_name["shutil.rmtree"].line == "Recursively delete a directory tree."
    assert by_name["shutil.rmtree"].kind == "function"
    assert "os.getcwd" in by_name and "posix.getcwd" not in by_name
    assert "os.path.join" in by_name and not any(q.startswith(("posixpath.", "genericpath.")) for q in by_name)
    assert by_name["builtins.str.split"].kind == "method"  # methods of the built-in types are listed
    assert "builtins.str" in by_name and "typing.Text" not in by_name  # an alias is not a second entry
    assert by_name["pathlib.Path"].kind == "class"


def test_entries_are_public_unique_and_current(entries: list[Entry]) -> None:
    names = [e.qualname for e in entries]
    assert len(names) == len(set(names))
    assert 2000 < len(entries) < 6000  # "a few thousand lines"
    for e in entries:
        parts = e.module.split(".") + e.name.split(".")
        assert not any(p.startswith("_") for p in parts), e
        assert e.module.split(".")[0] not in REMOVED_MODULES, e  # gone from the Python the page runs
        assert e.line and "\n" not in e.line and len(e.line) <= 160, e
    assert entries == sorted(entries)


def test_entry_text_is_name_and_line() -> None:
    assert Entry("shutil", "rmtree", "function", "Recursively delete.").text() == "rmtree: Recursively delete."
    assert Entry("builtins", "str.split", "method", "Split.").text() == "split: Split."


# -- the host embedding, on a tiny random BERT with MiniLM's tokenizer -------------------------------------

CFG = {"vocab_size": 30522, "hidden_size": 16, "num_attention_heads": 2, "num_hidden_layers": 2,
       "intermediate_size": 32, "max_position_embeddings": 64, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
       "hidden_act": "gelu"}


@pytest.fixture(scope="module")
def tiny_encoder(make_tiny_encoder):  # type: ignore[no-untyped-def]
    return make_tiny_encoder(CFG, seed=5)


def test_host_float32_encoder_matches_the_float64_reference(tiny_encoder) -> None:  # type: ignore[no-untyped-def]
    from webinfer.models import SentenceEncoder
    from webinfer.tools.corpus import host_encoder

    texts = ["Recursively delete a directory tree.", "Return the square root of x.", "ok",
             "a longer line, so that the batch is padded and the mask matters here"]
    ref = SentenceEncoder.load(tiny_encoder, backend="reference").encode(texts).numpy()
    enc = host_encoder(tiny_encoder)
    assert enc.session.precision == "float32"
    got = enc.encode(texts, batch_size=3).numpy()
    assert got.dtype == np.float32 and got.shape == ref.shape
    cos = (got * ref).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(ref, axis=1)
    assert cos.min() > 0.99999, cos
    assert enc.info()["device"]["name"].startswith("numpy")


def test_build_corpus_writes_reads_and_caches(tiny_encoder, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "corpus"
    first = build_corpus(tiny_encoder, out, modules={"shutil"}, limit=6)
    assert first["cached"] is False and first["count"] == 6
    manifest = json.loads((out / CORPUS_FILE).read_text())
    assert manifest["format"] == "webinfer-demo-corpus" and manifest["dtype"] == "float16"
    assert (out / EMBEDDINGS_FILE).stat().st_size == 6 * 16 * 2
    entries, matrix = load_corpus(out)
    assert [e.module for e in entries] == ["shutil"] * 6 and matrix.shape == (6, 16)
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=2e-3)  # normalized rows, stored as float16
    again = build_corpus(tiny_encoder, out, modules={"shutil"}, limit=6)
    assert again["cached"] is True
    other = build_corpus(tiny_encoder, out, modules={"shutil"}, limit=4)  # other entries: rebuilt
    assert other["cached"] is False and other["count"] == 4


def test_load_corpus_names_a_missing_corpus(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FileNotFoundError, match="corpus.json"):
        load_corpus(tmp_path)
