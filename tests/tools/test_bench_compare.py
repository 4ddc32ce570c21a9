"""``webinfer bench --compare``: the round order, ratios and spread, the driver and its JSON, ORT placement
logs, the ORT-optimized file, and one end-to-end run in the browser.

The driver is tested on the host with a fake page that runs ``webinfer.tools.bench.page`` in-process and
a fake model whose runner sleeps for nothing and reports set times — so the order, the ratios and the
refusal of a wrong answer are exact. No timing assertions anywhere.
"""

from __future__ import annotations

import ast
import asyncio
import json
import subprocess
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from webinfer.tools.bench import compare, encoder, page, placement, report, stats
from webinfer.tools.bench.compare import Array, Case, CompareOptions, ModelSpec, Pair
from webinfer.tools.bench.errors import BenchError
from webinfer.tools.cli import main
from webinfer.tools.harness import RunResult

DATA = Path(__file__).resolve().parent / "data" / "ort_logs"


# -- statistics -----------------------------------------------------------------------------------------


def test_interleave_alternates_so_every_case_is_first_as_often_as_last() -> None:
    assert stats.interleave(["A", "B"], 4) == [["A", "B"], ["B", "A"], ["A", "B"], ["B", "A"]]
    order = stats.interleave(["A", "B", "C"], 6)
    assert order[0] == ["A", "B", "C"] and order[1] == ["C", "B", "A"]
    firsts = [r[0] for r in order]
    lasts = [r[-1] for r in order]
    assert firsts.count("A") == lasts.count("A") == 3
    flat = [x for r in order for x in r]  # A B C C B A ...: the mean position of every case is the same
    positions = {c: np.mean([i for i, x in enumerate(flat) if x == c]) for c in "ABC"}
    assert len({round(v, 6) for v in positions.values()}) == 1


@pytest.mark.parametrize(("labels", "rounds", "message"), [(["A"], 0, "at least 1"), (["A", "A"], 2, "repeat")])
def test_interleave_refuses_bad_requests(labels: list[str], rounds: int, message: str) -> None:
    with pytest.raises(BenchError, match=message):
        stats.interleave(labels, rounds)


@pytest.mark.parametrize("values", [[5.0], [3.0, 1.0], [4.0, 1.0, 9.0, 2.0, 7.0], [float(x) for x in range(11)]])
def test_spread_matches_numpy(values: list[float]) -> None:
    s = stats.spread(values)
    assert s["median"] == pytest.approx(np.median(values))
    assert (s["p25"], s["p75"]) == pytest.approx((np.percentile(values, 25), np.percentile(values, 75)))
    assert (s["min"], s["max"], s["n"]) == (min(values), max(values), len(values))


def test_round_ratios_pair_rounds_and_skip_missing_ones() -> None:
    assert stats.round_ratios([20.0, 30.0, None], [10.0, 10.0, 5.0]) == [2.0, 3.0, None]
    assert stats.round_ratios([1.0], [0.0]) == [None]
    with pytest.raises(BenchError, match="2 rounds of the peer against 1"):
        stats.round_ratios([1.0, 2.0], [1.0])


# -- the driver, on the host with a fake page ------------------------------------------------------------

CALLS: list[tuple[str, str]] = []  # (what, label), in the order the page saw them


class FakeRunner:
    """A page runner for tests: params ``ms`` (the time every run reports), ``scale`` (output = scale × x),
    ``fail`` (raise at setup, or in round N)."""

    def __init__(self, label: str, params: Mapping[str, Any], inputs: Mapping[str, Any]) -> None:
        self.label, self.params = label, dict(params)
        x = inputs["x"]
        self.x = np.frombuffer(x["data"], "<f4").reshape(x["shape"])
        self.turns = 0

    async def setup(self) -> dict[str, Any]:
        CALLS.append(("setup", self.label))
        if self.params.get("fail") == "setup":
            raise ValueError(f"{self.label} cannot start")
        return {"timings_ms": {"compile": 1.0, "first_run": self.params["ms"]}, "info": {}}

    async def timed(self, runs: int, warmup: int) -> list[dict[str, Any]]:
        CALLS.append(("timed", self.label))
        self.turns += 1
        if self.params.get("fail") == self.turns:
            raise RuntimeError("lost the device")
        return [{"ms": self.params["ms"] + i * 0.001} for i in range(runs)]

    async def outputs(self) -> dict[str, Any]:
        y = (self.x * self.params.get("scale", 2.0)).astype("<f4")
        return {"y": page._encode("float32", y.shape, y.tobytes())}

    async def close(self) -> None:
        CALLS.append(("close", self.label))


RUNNER = f"python:{__name__}:FakeRunner"


class FakeSpec(ModelSpec):
    """y = 2x on a [2, 3] input; cases that are fast, slow, wrong, or fail."""

    name = "fake"
    x = np.arange(1, 7, dtype="<f4").reshape(2, 3)

    def inputs(self) -> dict[str, Array]:
        return {"x": Array("float32", (2, 3), self.x.tobytes())}

    def reference(self) -> dict[str, Any]:
        return {"y": self.x.astype(np.float64) * 2}

    def cases(self) -> list[Case]:
        def case(label: str, **params: Any) -> Case:
            return Case(label, RUNNER, params, runtime=f"fake {label}")

        return [case("fast", ms=10.0), case("slow", ms=25.0), case("wrong", ms=1.0, scale=-2.0),
                case("broken", ms=1.0, fail="setup"), case("flaky", ms=5.0, fail=2)]

    def pairs(self) -> list[Pair]:
        return [Pair("slow", "fast", "slow vs fast"), Pair("wrong", "fast", "a wrong answer"),
                Pair("broken", "fast", "cannot start"), Pair("flaky", "fast", "dies in round 2")]


class FakePage:
    """Runs the driver's page calls in this process, as the harness runs them in Pyodide."""

    timings: dict[str, float] = {}

    def run(self, source: str, filename: str = "<exec>", timeout: float = 0) -> RunResult:
        tree = ast.parse(source)
        last = tree.body[-1]
        if isinstance(last, ast.Expr):  # the value of the last expression comes back, as in the page
            tree.body[-1] = ast.Assign(targets=[ast.Name("_result", ast.Store())], value=last.value)
            ast.fix_missing_locations(tree)
        namespace: dict[str, Any] = {}
        try:
            code = compile(tree, filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            pending = eval(code, namespace)
            if pending is not None:
                asyncio.run(pending)
        except Exception as e:  # noqa: BLE001 - the page reports any exception as a failed run
            return RunResult(ok=False, exit_code=1, error_type=type(e).__name__, traceback=traceback.format_exc())
        return RunResult(ok=True, exit_code=0, value=namespace.get("_result"))

    def close(self) -> None:
        pass


class FakeBrowser:
    version = "FakeChrome/1"
    path = Path("/fake/chrome")

    def open_page(self, timeout: float = 0) -> FakePage:
        return FakePage()


@pytest.fixture
def fake_result() -> dict[str, Any]:
    CALLS.clear()
    result = compare.run_compare(FakeSpec(), CompareOptions(rounds=3, runs=4, warmup=0), browser=FakeBrowser())
    asyncio.run(page.close_all())
    return result


def test_driver_times_cases_in_alternating_rounds(fake_result: dict[str, Any]) -> None:
    timed = [label for what, label in CALLS if what == "timed"]
    # wrong and broken are never timed; flaky fails in its second turn and is dropped from then on
    assert timed == ["fast", "slow", "flaky", "flaky", "slow", "fast", "fast", "slow"]
    assert [w for w, _ in CALLS[:5]] == ["setup"] * 5
    assert {label for what, label in CALLS if what == "close"} == {"fast", "slow", "wrong", "broken", "flaky"}
    assert fake_result["method"]["order"][1] == ["flaky", "broken", "wrong", "slow", "fast"]


def test_driver_json_has_every_raw_value_and_exact_ratios(fake_result: dict[str, Any]) -> None:
    r = json.loads(json.dumps(fake_result))  # JSON-able as it is
    assert (r["tool"], r["format_version"]) == ("webinfer bench --compare", 1)
    assert r["inputs"] == {"x": {"dtype": "float32", "shape": [2, 3]}}
    assert r["method"]["rounds"] == 3 and r["method"]["runs_per_round"] == 4
    assert set(r["cases"]) == {"fast", "slow", "wrong", "broken", "flaky"}
    fast = r["cases"]["fast"]
    assert fast["ok"] and len(fast["rounds"]) == 3 and all(len(rd["runs"]) == 4 for rd in fast["rounds"])
    assert fast["round_medians_ms"] == [10.002] * 3 and fast["summary_ms"]["n"] == 3  # 10.0015, rounded
    assert [run["ms"] for run in fast["rounds"][0]["runs"]] == [10.0, 10.001, 10.002, 10.003]
    assert fast["accuracy"]["ok"] and fast["accuracy"]["max_abs_diff"] == 0.0
    assert fast["setup"]["timings_ms"]["first_run"] == 10.0
    ratios = {(x["peer"], x["base"]): x for x in r["ratios"]}
    slow = ratios["slow", "fast"]
    expected = 25.0015 / 10.0015  # medians of 4 runs: x, x + 0.001, x + 0.002, x + 0.003
    assert slow["per_round"] == [pytest.approx(expected, abs=1e-4)] * 3
    assert slow["median"] == slow["min"] == slow["max"] == pytest.approx(expected, abs=1e-4) and slow["n"] == 3
    assert r["machine"]["cpus"] >= 1 and r["browser"]["version"] == "FakeChrome/1"


def test_a_wrong_answer_or_a_failure_is_reported_and_never_wins(fake_result: dict[str, Any]) -> None:
    cases = fake_result["cases"]
    wrong = cases["wrong"]
    assert not wrong["ok"] and not wrong["rounds"] and "wrong output" in wrong["error"]
    assert wrong["accuracy"]["min_cosine"] == pytest.approx(-1.0)
    assert "cannot start" in cases["broken"]["error"] and "ValueError" in cases["broken"]["traceback"]
    flaky = cases["flaky"]
    assert not flaky["ok"] and "round 2" in flaky["error"] and len(flaky["rounds"]) == 1
    ratios = {(x["peer"], x["base"]): x for x in fake_result["ratios"]}
    for peer in ("wrong", "broken", "flaky"):
        assert "median" not in ratios[peer, "fast"] and peer in ratios[peer, "fast"]["missing"]


def test_reports_of_a_comparison(fake_result: dict[str, Any], tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    text = report.format_compare(fake_result)
    assert "slow ÷ fast" in text and "2.50 [2.50–2.50]" in text and "not timed: wrong output" in text
    saved = tmp_path / "fake.json"
    saved.write_text(json.dumps(fake_result))
    assert main(["bench", "--report", str(saved), "--markdown"]) == 0
    md = capsys.readouterr().out
    assert "| slow ÷ fast | slow vs fast | **2.50** [2.50–2.50] (2.50–2.50) |" in md
    assert "| wrong | not timed: wrong output" in md


def test_unknown_cases_and_single_backend_options_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(BenchError, match="unknown case 'nope' for fake; cases: fast, slow"):
        compare.select_cases(FakeSpec(), ["fast", "nope"])
    assert main(["bench", "--compare", "--backend", "webnn", "--model", "tiny"]) == 1
    assert "--backend is for one backend; with --compare pick cases with --cases" in capsys.readouterr().err


def test_page_module_imports_without_numpy_or_playwright() -> None:
    code = ("import sys\nfor m in ('numpy', 'playwright', 'scipy', 'starlette'): sys.modules[m] = None\n"
            "import webinfer.tools.bench.page as p\nprint(p.WebinferRunner.__name__, p.JsRunner.__name__)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["WebinferRunner", "JsRunner"]


# -- ORT placement --------------------------------------------------------------------------------------


def _log(name: str) -> list[str]:
    return (DATA / f"{name}.log").read_text().splitlines()


def test_placement_webnn_whole_graph_in_one_partition() -> None:
    p = placement.parse_placement(_log("tiny-webnn-plain"), "webnn")
    assert p["logged"] and p["placed"] == {"WebNNExecutionProvider": 1} and not p["fallback"]
    assert p["webnn"] == {"partitions": 1, "graph_nodes": 93, "supported": 93, "unsupported": []}
    assert p["summary"] == "WebNN 93/93 nodes in 1 partition; no fallback"


def test_placement_names_the_nodes_that_fell_back_to_wasm() -> None:
    p = placement.parse_placement(_log("tiny-webnn-extended"), "webnn")
    assert p["placed"] == {"WebNNExecutionProvider": 3, "CPUExecutionProvider": 2}
    assert p["memcpy"] == {"WebNNExecutionProvider": 6}
    assert [n["op"] for n in p["fallback"]] == ["FusedMatMul", "FusedMatMul"]
    assert p["fallback"][0]["name"] == "/bert/encoder/layer.0/attention/self/MatMul/MatMulScaleFusion/"
    assert [u["op"] for u in p["webnn"]["unsupported"]] == ["FusedMatMul", "FusedMatMul"]
    assert p["summary"] == "WebNN 73/75 nodes in 3 partitions; fell back to CPU (wasm): 2 (FusedMatMul ×2)"
    assert any("not assigned to the preferred execution providers" in w for w in p["warnings"])


def test_placement_webgpu_lists_every_node_and_the_missing_kernels() -> None:
    p = placement.parse_placement(_log("tiny-webgpu-extended"), "webgpu")
    assert p["placed"] == {"WebGpuExecutionProvider": 70, "CPUExecutionProvider": 5}
    assert len(p["nodes"]) == 75 and {n["ep"] for n in p["nodes"]} == set(p["placed"])
    assert {m["op"] for m in p["missing_kernels"]} == {"Cast", "Unsqueeze", "FusedMatMul"}
    assert p["summary"] == "WebGpu 70 nodes; fell back to CPU (wasm): 5 (Cast ×2, FusedMatMul ×2, Unsqueeze)"


def test_placement_wasm_is_no_fallback_and_a_silent_log_says_so() -> None:
    p = placement.parse_placement(_log("tiny-wasm-plain"), "wasm")
    assert p["placed"] == {"CPUExecutionProvider": 87} and not p["fallback"]
    assert p["summary"] == "CPU (wasm) 87 nodes"
    silent = placement.parse_placement(["[I:onnxruntime:, inference_session.cc:1 Initialize] done"], "webnn")
    assert not silent["logged"] and silent["summary"].startswith("placement not logged")


# -- the encoder model: cases, the ORT-optimized file --------------------------------------------------------


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory, minilm_dir: Path) -> Path:
    return tmp_path_factory.mktemp("bench-compare")


def test_encoder_cases_cover_every_browser_backend_and_ort_ep(cache: Path) -> None:
    import webinfer.backends

    spec = encoder.EncoderSpec("tiny", batch=2, seq=8, cache=cache, gpu_runs=2, gpu_warmup=0)
    labels = [c.label for c in spec.cases()]
    browser = webinfer.backends.names(browser=True)
    assert labels[: len(browser)] == [f"webinfer-{b}" for b in browser]
    assert labels[len(browser):] == ["ort-webnn", "ort-webnn-opt", "ort-wasm", "ort-wasm-opt", "ort-webgpu",
                                     "ort-webgpu-opt"]
    by = {c.label: c for c in spec.cases()}
    assert by["ort-webnn-opt"].params["model"] == "/models/onnx/tiny.extended.b2s8.onnx"
    assert by["ort-wasm"].params["model"] == "/models/onnx/tiny.onnx"
    assert by["ort-webgpu"].params["bundle"].endswith("ort.webgpu.min.mjs") and by["ort-webgpu"].runs == 2
    assert by["webinfer-webgpu"].runs == 2 and by["webinfer-webnn"].runs is None
    assert by["webinfer-webnn"].params["options"] == {"bindings": {"batch": 2, "seq": 8}, "device": "cpu"}
    for pair in spec.pairs():
        assert pair.peer in by and pair.base in by, pair
    assert spec.inputs()["input_ids"].shape == (2, 8) and spec.reference()["embeddings"].shape == (2, 32)


def test_ort_optimized_file_is_cached_and_extended_brings_contrib_ops(cache: Path) -> None:
    pytest.importorskip("onnxruntime")
    from webinfer.tools.bench import ort

    model = encoder.EncoderSpec("tiny", cache=cache).prepared
    plain = ort.export_onnx(model)
    extended = ort.optimize_onnx(plain, "extended", {"batch": 2, "seq": 8})
    basic = ort.optimize_onnx(plain, "basic", {"batch": 2, "seq": 8})
    assert extended.name == "tiny.extended.b2s8.onnx"
    assert any(op.startswith("com.microsoft:") for op in ort.onnx_ops(extended))
    assert not any(":" in op for op in ort.onnx_ops(basic))
    stamp = extended.stat().st_mtime_ns
    assert ort.optimize_onnx(plain, "extended", {"batch": 2, "seq": 8}).stat().st_mtime_ns == stamp
    with pytest.raises(BenchError, match="'all' adds layout transforms"):
        ort.optimize_onnx(plain, "all", {"batch": 2, "seq": 8})


# -- in the browser ------------------------------------------------------------------------------------------


@pytest.mark.browser
def test_compare_runs_webinfer_and_ort_in_one_page(pytestconfig: pytest.Config, cache: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from webinfer.tools.chromium import BrowserNotFound, find_chromium

    browser = pytestconfig.getoption("webinfer_browser")
    try:
        find_chromium(browser)
    except BrowserNotFound as exc:
        pytest.skip(f"no Chromium for browser tests: {exc}")
    out = cache / "compare.json"
    args = ["bench", "--compare", "--model", "tiny", "--batch", "2", "--seq", "8", "--rounds", "2", "--runs", "2",
            "--cases", "webinfer-webnn,ort-wasm,ort-webnn-opt", "--cache", str(cache), "--timeout", "600",
            "--out", str(out), *(["--browser", browser] if browser else [])]
    assert main(args) == 0, capsys.readouterr().err
    text = capsys.readouterr().out
    assert "ort-wasm ÷ webinfer-webnn" in text and "WebGPU here is SwiftShader (a CPU)" in text
    r = json.loads(out.read_text())
    assert r["method"]["order"] == [["webinfer-webnn", "ort-wasm", "ort-webnn-opt"],
                                    ["ort-webnn-opt", "ort-wasm", "webinfer-webnn"]]
    for label, c in r["cases"].items():
        assert c["ok"], (label, c.get("error"))
        assert c["accuracy"]["ok"] and c["accuracy_after"]["ok"]
        assert [len(rd["runs"]) for rd in c["rounds"]] == [2, 2]
    ours = r["cases"]["webinfer-webnn"]
    assert all(run["js_wait_ms"] > 0 for rd in ours["rounds"] for run in rd["runs"])  # readTensor via run_sync
    assert ours["placement"]["counts"] == {"webnn": ours["setup"]["info"]["nodes"]}
    wasm = r["cases"]["ort-wasm"]
    assert wasm["placement"]["logged"] and set(wasm["placement"]["placed"]) == {"CPUExecutionProvider"}
    assert wasm["setup"]["info"]["crossOriginIsolated"] is True
    opt = r["cases"]["ort-webnn-opt"]  # the extended file's contrib ops: WebNN refuses them, ORT runs them on wasm
    assert opt["placement"]["fallback"] and {n["op"] for n in opt["placement"]["fallback"]} == {"FusedMatMul"}
    ratio = next(x for x in r["ratios"] if (x["peer"], x["base"]) == ("ort-wasm", "webinfer-webnn"))
    assert ratio["n"] == 2 and len(ratio["per_round"]) == 2
    # served by webinfer's server from the bench root, not fetched from a CDN
    assert (cache / "ort" / "ort.min.mjs").is_file() and (cache / "onnx" / "tiny.extended.b2s8.onnx").is_file()
