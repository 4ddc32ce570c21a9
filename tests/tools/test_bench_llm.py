"""``webinfer bench --model smollm2`` plumbing on the host: the prompt, the tokens/s summary and its ratios, the
correctness check, the CLI's options, and one whole comparison through the driver — webinfer's CausalLM runner on
the reference backend (a tiny random Llama) against a fake wllama whose records are fixed, so every rate and
ratio is exact. The browser half (wllama in the page) runs in ``webinfer bench`` itself; no timing assertions.
"""

from __future__ import annotations

import array
import asyncio
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from test_bench_compare import FakeBrowser

from webinfer.tools.bench import compare, llm, page
from webinfer.tools.bench.compare import Array, Case, CompareOptions
from webinfer.tools.bench.errors import BenchError
from webinfer.tools.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from llm_samples import write_tiny_gguf  # noqa: E402

pytest.importorskip("gguf")

#: What the fake wllama reports for every run: 8 prompt tokens in 40 ms, 3 decode tokens in 30 ms.
FAKE_RUN = {"ms": 80.0, "prefill_ms": 40.0, "prefill_tokens": 8, "decode_ms": 30.0, "decode_tokens": 3}


class FakeWllama:
    """A page runner standing in for wllama: fixed records, and the reference's text (``text`` param)."""

    def __init__(self, label: str, params: Mapping[str, Any], inputs: Mapping[str, Any]) -> None:
        self.params = dict(params)

    async def setup(self) -> dict[str, Any]:
        return {"timings_ms": {"first_run": 80.0}, "first": dict(FAKE_RUN), "info": {"threads": 2}}

    async def timed(self, runs: int, warmup: int) -> list[dict[str, Any]]:
        return [dict(FAKE_RUN) for _ in range(runs)]

    async def outputs(self) -> dict[str, Any]:
        import base64

        data = base64.b64encode(self.params["text"].encode()).decode()
        return {"text": {"dtype": "utf8", "shape": [1], "data": data}}

    async def close(self) -> None:
        pass


class TinySpec(llm.LLMSpec):
    """The LLM spec on a tiny GGUF, with webinfer on the host's reference backend and the fake wllama."""

    def cases(self) -> list[Case]:
        runner = Case("webinfer-reference", llm.RUNNER, {"model": str(self.build), "backend": "reference",
                                                         "new_tokens": self.new_tokens}, "webinfer reference",
                      runs=1, warmup=0)
        peer = Case("wllama", f"python:{__name__}:FakeWllama", {"text": self.reference()["text"]}, "fake wllama",
                    runs=2, warmup=0, facts={"peer": "wllama"})
        return [runner, peer]

    def pairs(self) -> list[compare.Pair]:
        return [compare.Pair("wllama", "webinfer-reference", "test")]


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf", seed=3, byte_level=True)


@pytest.fixture(scope="module")
def spec(tiny_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> TinySpec:
    return TinySpec("tiny", prompt_tokens=8, new_tokens=4, cache=tmp_path_factory.mktemp("bench"), gguf=tiny_gguf)


@pytest.fixture(scope="module")
def result(spec: TinySpec) -> dict[str, Any]:
    out = compare.run_compare(spec, CompareOptions(rounds=2, runs=1, warmup=0), browser=FakeBrowser())
    asyncio.run(page.close_all())
    return out


def test_prompt_ids_are_exact_in_count_and_tokenize_back(spec: TinySpec) -> None:
    tok = spec.tokenizer()
    for n in (1, 8, 50):
        ids = llm.prompt_ids(tok, n)
        assert len(ids) == n and tok.encode(tok.decode(ids)) == ids
    assert spec.ids() == llm.prompt_ids(tok, 8) and spec.prompt_text() == tok.decode(spec.ids())
    with pytest.raises(BenchError, match="at least 1"):
        llm.prompt_ids(tok, 0)


def test_the_webinfer_runner_matches_the_reference_and_is_timed(result: dict[str, Any], spec: TinySpec) -> None:
    case = result["cases"]["webinfer-reference"]
    assert case["ok"] and case["accuracy"]["ok"], case.get("error")
    assert case["accuracy"]["ids_head"] == spec.reference()["ids"]
    runs = [r for rd in case["rounds"] for r in rd["runs"]]
    assert len(runs) == 2 and all(r["prefill_tokens"] == 8 and r["new_tokens"] <= 4 for r in runs)
    assert case["setup"]["info"]["backend"] == "reference"


def test_rates_and_ratios_come_from_the_run_records(result: dict[str, Any]) -> None:
    rates = result["rates"]
    peer = rates["cases"]["wllama"]
    assert peer["prefill_tokens_per_s"]["median"] == pytest.approx(200.0)  # 8 tokens / 40 ms
    assert peer["decode_tokens_per_s"]["median"] == pytest.approx(100.0)  # 3 tokens / 30 ms
    ours = result["cases"]["webinfer-reference"]["rounds"]
    want = [r["runs"][0]["prefill_tokens"] / r["runs"][0]["prefill_ms"] * 1e3 / 200.0 for r in ours]
    ratio = next(r for r in rates["ratios"] if r["metric"] == "prefill tokens/s")
    assert ratio["per_round"] == pytest.approx(want, rel=1e-3) and ratio["n"] == 2
    assert "webinfer-reference ÷ wllama" in llm.format_rates(result)


def test_wllama_is_checked_on_the_prompt_it_prefilled(spec: TinySpec) -> None:
    case = Case("wllama", "x", {}, "x", facts={"peer": "wllama"})
    text = spec.reference()["text"]
    spec.finish_case(case, {"setup": {"first": {"prefill_tokens": 8}}})
    good = spec.check(case, {"text": Array("utf8", (1,), text.encode())})
    assert good["ok"] and good["agrees"]
    spec.finish_case(case, {"setup": {"first": {"prefill_tokens": 9}}})
    bad = spec.check(case, {"text": Array("utf8", (1,), text.encode())})
    assert not bad["ok"] and "prefilled 9 tokens" in bad["error"]


def test_a_wrong_token_is_refused(spec: TinySpec) -> None:
    ids = list(spec.reference()["ids"])
    ids[0] = (ids[0] + 1) % 200
    got = spec.check(Case("webinfer-x", "x", {}, "x"), {"ids": Array("int32", (len(ids),),
                                                                        array.array("i", ids).tobytes())})
    assert not got["ok"]


def test_a_case_without_rounds_leaves_its_ratios_missing_with_the_reason() -> None:
    spec = llm.LLMSpec.__new__(llm.LLMSpec)
    result = {"method": {"order": [["a"], ["a"]]},
              "cases": {"webinfer-webgpu": {"rounds": [], "ok": False, "error": "set-up failed"},
                        "wllama": {"rounds": [{"round": r, "runs": [dict(FAKE_RUN)]} for r in range(2)], "ok": True,
                                   "facts": {"peer": "wllama"}}}}
    spec.summarize(result)
    assert result["rates"]["cases"]["webinfer-webgpu"]["decode_tokens_per_s"] is None
    assert all("set-up failed" in r["missing"] for r in result["rates"]["ratios"])


def test_cli_refuses_llm_options_for_other_models_and_bad_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--model", "tiny", "--compare", "--gguf", "x.gguf"]) == 1
    assert "--gguf" in capsys.readouterr().err
    assert main(["bench", "--model", "smollm2", "--prompt-tokens", "0", "--gguf", "x.gguf"]) == 1
    assert "at least 1" in capsys.readouterr().err
