"""``webinfer bench`` on one backend: inputs, statistics, accuracy, the JSON, the table.

Host tests run the tiny model (2 layers, hidden 32, random weights) on the reference backend; the
browser test runs it on WebGPU through the CLI. No timing thresholds: only that every figure is there
and the outputs match the float64 reference. The comparison (``--compare``) is tested in test_bench_compare.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from webinfer.tools.bench import inputs, models, report, single, stats
from webinfer.tools.bench.errors import BenchError
from webinfer.tools.bench.single import BenchSpec
from webinfer.tools.cli import main

TIMINGS = {"page_load", "weights_fetch", "weights_load", "tokenize", "compile", "first_run", "warm_median",
           "warm_p90", "warm_min", "warm_mean", "python_overhead"}
# float32 through a 2-layer BERT vs float64: errors are ~1e-7 on values of ~0.2; a real bug is far above these.
MAX_ABS_DIFF = 1e-5
MIN_COSINE = 0.9999


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bench root for this module (the tiny model is converted into it once)."""
    from webinfer.models.minilm import ModelFilesNotFound, minilm_path

    try:
        minilm_path()  # the tiny model borrows MiniLM's tokenizer
    except ModelFilesNotFound as e:
        pytest.skip(str(e))
    return tmp_path_factory.mktemp("bench")


def _bench_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code = main(["bench", *args, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


# -- inputs ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("batch", "seq"), [(1, 8), (8, 128), (3, 5), (2, 2)])
def test_token_ids_are_deterministic_with_a_sorted_padding_mask(batch: int, seq: int) -> None:
    ids, mask = inputs.token_ids(batch, seq)
    assert (ids, mask) == inputs.token_ids(batch, seq)
    ids_a = np.array(ids).reshape(batch, seq)
    mask_a = np.array(mask).reshape(batch, seq)
    lengths = mask_a.sum(axis=1)
    assert lengths.tolist() == inputs.token_lengths(batch, seq)
    assert lengths[0] == seq and all(np.diff(lengths) <= 0) and lengths.min() >= 2
    if batch > 1:
        assert lengths[-1] == max(2, seq // 2)  # the shortest row pads about half the sequence
    for row, n in zip(ids_a, lengths):
        assert row[0] == inputs.CLS_ID and row[n - 1] == inputs.SEP_ID
        assert (row[n:] == inputs.PAD_ID).all()
        assert ((row[1 : n - 1] >= inputs.FIRST_WORD_ID) & (row[1 : n - 1] < 30522)).all()
    assert set(np.unique(mask_a)) <= {0, 1}


def test_input_bytes_are_int64_little_endian() -> None:
    data = inputs.input_bytes(2, 4)
    assert set(data) == {"input_ids", "attention_mask"}
    ids, mask = inputs.token_ids(2, 4)
    assert np.frombuffer(data["input_ids"], "<i8").tolist() == ids
    assert np.frombuffer(data["attention_mask"], "<i8").tolist() == mask


def test_token_generator_refuses_a_tiny_vocabulary() -> None:
    with pytest.raises(BenchError, match="vocab_size 100 is too small"):
        inputs.token_ids(1, 4, vocab_size=100)


def test_sample_texts_one_per_row() -> None:
    texts = inputs.sample_texts(3, 16)
    assert len(texts) == 3 and all(isinstance(t, str) and t for t in texts)


# -- statistics and accuracy ------------------------------------------------------------------------------


@pytest.mark.parametrize("values", [[5.0], [3.0, 1.0], [4.0, 1.0, 9.0, 2.0, 7.0], list(range(11))])
def test_summarize_matches_numpy(values: list[float]) -> None:
    s = stats.summarize(values)
    assert s["median"] == pytest.approx(np.median(values))
    assert s["p90"] == pytest.approx(np.percentile(values, 90))
    assert s["min"] == min(values) and s["mean"] == pytest.approx(np.mean(values))


def test_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(BenchError, match="no timed runs"):
        stats.percentile([], 50)


def test_compare_reports_max_diff_and_worst_row_cosine() -> None:
    ref = np.array([[1.0, 0.0], [0.5, 0.25]])  # exact in float32
    same = stats.compare(ref.astype("<f4").tobytes(), ref, 2)
    assert same["max_abs_diff"] == 0 and same["min_cosine"] == pytest.approx(1.0) and same["finite"]
    flipped = ref.copy()
    flipped[1] *= -1
    got = stats.compare(flipped.astype("<f4").tobytes(), ref, 2)
    assert got["min_cosine"] == pytest.approx(-1.0)
    assert got["max_abs_diff"] == 1.0
    nan = ref.copy()
    nan[0, 0] = np.nan
    assert not stats.compare(nan.astype("<f4").tobytes(), ref, 2)["finite"]
    with pytest.raises(BenchError, match="3 values, the reference 4"):
        stats.compare(np.zeros(3, "<f4").tobytes(), ref, 2)


def test_kernel_summary_groups_dispatches_by_kind() -> None:
    assert single.kernel_kind("matmul_3+add_5+gelu_0") == "matmul+add+gelu"
    assert single.kernel_kind("softmax_12") == "softmax"
    dispatches = [
        {"label": "matmul_0+add_0", "ms": 6.0, "grid": [4, 1, 1]},
        {"label": "softmax_0", "ms": 1.0, "grid": [1, 1, 1]},
        {"label": "matmul_1+add_1", "ms": 3.0, "grid": [4, 1, 1]},
    ]
    k = single.kernel_summary(dispatches, top=2)
    assert (k["sum_ms"], k["dispatches"]) == (10.0, 3)
    assert k["by_kind"][0] == {"kind": "matmul+add", "ms": 9.0, "count": 2, "share": 0.9}
    assert [d["label"] for d in k["slowest"]] == ["matmul_0+add_0", "matmul_1+add_1"]


def test_device_summary_names_what_ran() -> None:
    webgpu = {"backend": "webgpu", "device_info": {"adapter": {"vendor": "google", "architecture": "swiftshader"},
                                                   "is_fallback_adapter": True}}
    assert report.device_summary(webgpu) == "WebGPU adapter google swiftshader (fallback adapter)"
    islands = [{"island": "webnn#0"}, {"island": "webgpu#1"}, {"island": "webnn#2"}]
    hybrid = {"backend": "hybrid", "info": {"hybrid": {"islands": islands, "crossings": [{}, {}],
                                                       "bytes_moved_per_run": 2 << 20, "transfer": "readback"}}}
    assert report.device_summary(hybrid) == (
        "hybrid: 3 island(s) (2 WebNN, 1 WebGPU), 2 crossing(s) moving 2.0 MiB per run by readback")


# -- the spec and the CLI -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model": "gpt"}, "unknown model 'gpt'"),
        ({"backend": "cuda"}, "unknown backend 'cuda'"),
        ({"batch": 0}, "--batch must be at least 1"),
        ({"seq": 1}, r"--seq must be at least 2 \(\[CLS\] and \[SEP\]\)"),
        ({"warmup": -1}, "--warmup must be 0 or more"),
        ({"backend": "webgpu", "device": "cpu"}, "webgpu runs on the browser's GPU adapter; --device cpu"),
        ({"backend": "reference", "device": "npu"}, "runs on the host CPU; --device npu"),
        ({"backend": "webnn", "place": {"gelu": "webgpu"}}, "--place is for --backend hybrid"),
        ({"backend": "webnn", "kernels": True}, "--kernels times WebGPU dispatches"),
    ],
)
def test_spec_check_names_the_bad_option(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(BenchError, match=message):
        BenchSpec(**changes).check()


def test_compile_options_bind_the_shape_and_pick_devices() -> None:
    assert BenchSpec(backend="webgpu", batch=2, seq=16).compile_options() == {
        "bindings": {"batch": 2, "seq": 16}, "device": "gpu"}
    assert BenchSpec(backend="webnn").compile_options()["device"] == "cpu"
    assert BenchSpec(backend="webnn", device="npu").compile_options()["device"] == "npu"
    hybrid = BenchSpec(backend="hybrid", place={"gelu": "webgpu"}).compile_options()
    assert "device" not in hybrid and hybrid["place"] == {"gelu": "webgpu"}  # context from the GPU device


def test_cli_lists_bench_and_rejects_bad_options_before_any_work(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "bench" in capsys.readouterr().out
    code = main(["bench", "--backend", "webgpu", "--device", "cpu", "--model", "tiny"])
    assert code == 1
    assert "--device cpu is for webnn and hybrid" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "--backend", "hybrid", "--place", "gelu=cuda"])
    assert "OP_OR_NODE=webnn|webgpu" in capsys.readouterr().err


# -- the reference backend on the host, end to end --------------------------------------------------------


def test_reference_bench_json_and_table(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--model", "tiny", "--backend", "reference", "--batch", "2", "--seq", "8", "--runs", "3",
            "--cache", str(cache)]
    r = _bench_json(capsys, *args)
    assert (r["model"], r["backend"], r["batch"], r["seq"], r["runs"]) == ("tiny", "reference", 2, 8, 3)
    assert (r["model_layers"], r["model_hidden"]) == (2, 32)
    assert r["tokens"] == sum(inputs.token_lengths(2, 8))
    assert set(r["timings_ms"]) == TIMINGS
    assert r["timings_ms"]["page_load"] is None and r["timings_ms"]["warm_median"] > 0
    assert len(r["runs_ms"]) == 3
    assert r["accuracy"]["max_abs_diff"] < 1e-6 and r["accuracy"]["rows"] == 2  # float64 rounded to float32
    assert r["machine"]["cpus"] >= 1 and r["browser"] is None
    assert r["host_float32_ms"]["median"] > 0  # the graph in float32 numpy, beside the float64 oracle
    assert (cache / "tiny" / "model.json").is_file() and (cache / "tiny" / models.STAMP).is_file()

    stamp = (cache / "tiny" / models.STAMP).stat().st_mtime_ns
    assert main(["bench", *args]) == 0  # the human table; the converted model is reused, not rebuilt
    table = capsys.readouterr().out
    for label in ("weights load", "compile", "first run", "warm median", "warm p90", "python overhead", "accuracy"):
        assert label in table
    assert "tiny (2 layer(s), hidden 32) on reference" in table
    assert (cache / "tiny" / models.STAMP).stat().st_mtime_ns == stamp


def test_block_model_is_minilm_cut_to_one_layer(cache: Path) -> None:
    import webinfer as wi

    model = models.prepare_model("block", cache)
    assert (model.layers, model.hidden, model.vocab_size) == (1, 384, 30522)
    graph = wi.load(str(model.build / "model.json"))
    assert sum(n.op == "softmax" for n in graph.nodes) == 1
    assert model.url == "/models/block/"


# -- in the browser ---------------------------------------------------------------------------------------


def _need_chromium(pytestconfig: pytest.Config) -> str | None:
    from webinfer.tools.chromium import BrowserNotFound, find_chromium

    browser = pytestconfig.getoption("webinfer_browser")
    try:
        find_chromium(browser)
    except BrowserNotFound as exc:
        pytest.skip(f"no Chromium for browser tests: {exc}")
    return browser  # type: ignore[no-any-return]


@pytest.mark.browser
def test_webgpu_bench_reports_every_figure_and_matches_the_reference(
    pytestconfig: pytest.Config, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    browser = _need_chromium(pytestconfig)
    args = ["--model", "tiny", "--backend", "webgpu", "--batch", "1", "--seq", "8", "--runs", "2",
            "--cache", str(cache), "--timeout", "600", "--kernels"]
    r = _bench_json(capsys, *args, *(["--browser", browser] if browser else []))
    assert (r["backend"], r["device"], r["profile"], r["runs"]) == ("webgpu", "gpu", "swiftshader", 2)
    t = r["timings_ms"]
    assert set(t) == TIMINGS
    for key in TIMINGS:
        assert isinstance(t[key], (int, float)) and t[key] >= 0, key
    assert t["warm_p90"] >= t["warm_median"] >= t["warm_min"]
    assert len(r["runs_ms"]) == 2
    assert r["python_overhead_source"].startswith("session stats")
    assert {"gpu_ms", "encode_ms", "executor_ms"} <= set(r["breakdown_ms"])
    assert r["memory"]["peak_gpu_bytes"] > 0 and r["memory"]["weights_bytes"] > 0
    assert r["info"]["plan"]["dispatches"] > 0
    assert r["kernels"]["dispatches"] == r["info"]["plan"]["dispatches"]
    assert any(k["kind"].startswith("matmul") for k in r["kernels"]["by_kind"])
    assert r["browser"]["version"] and r["webinfer_wheel"]["file"].startswith("webinfer-")
    acc = r["accuracy"]
    assert acc["finite"] and acc["max_abs_diff"] < MAX_ABS_DIFF and acc["min_cosine"] > MIN_COSINE, acc
