"""The pages' Python (py/webinfer/web/demo.py, repl.py) on the host: the same logic the browser runs, on the reference
backend."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from webinfer.tools.project import WEB_DIR


def page_module(name: str) -> ModuleType:
    path = WEB_DIR / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"webinfer_page_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def repl() -> ModuleType:
    return page_module("repl")


@pytest.mark.parametrize(
    ("source", "status"),
    [
        ("x = 1", "complete"),
        ("import os\nx = os.sep", "complete"),
        ("await something()", "complete"),  # top-level await compiles
        ("if x: print(1)", "complete"),
        ("for i in range(3):", "incomplete"),
        ("for i in range(3):\n    print(i)", "incomplete"),  # a block waits for an empty line, as in the REPL
        ("for i in range(3):\n    print(i)\n", "complete"),
        ("for i in range(3):\n    print(i)\n    ", "complete"),
        ("x = (1,", "incomplete"),
        ("x = (1,\n2)", "complete"),
        ('"""doc', "incomplete"),
        ("1 +", "invalid"),
        ("def f(:", "invalid"),
    ],
)
def test_repl_status(repl: ModuleType, source: str, status: str) -> None:
    assert repl.status(source) == status



def test_repl_completions_follow_rlcompleter(repl: ModuleType) -> None:
    import webinfer as wi

    namespace = {"wi": wi, "total": 1, "tolerance": 2}
    assert repl.completions("to", namespace) == ["tolerance", "total"]
    assert "wi.compile(" in repl.completions("wi.comp", namespace)  # attributes; callables get "("
    assert repl.completions("pri", namespace) == ["print("]  # builtins
    assert repl.completions("whi", namespace) == ["while "]  # keywords
    assert repl.completions("nothing_here", namespace) == []
    assert repl.completions("missing.attr", namespace) == []  # no NameError from Tab
    assert len(repl.completions("wi.", namespace, limit=5)) == 5

def _traceback_of(repl: ModuleType, source: str) -> str:
    import traceback

    try:
        exec(compile(source, "<input-1>", "exec"), {})
    except Exception as exc:  # noqa: BLE001 - the REPL formats whatever the user's code raised
        return "".join(traceback.format_exception(repl._user_frames(exc, "<input-1>")))
    raise AssertionError("the source did not raise")


def test_repl_traceback_of_a_webinfer_error_stops_at_the_users_code(repl: ModuleType) -> None:
    text = _traceback_of(repl, "import webinfer as wi\ng = wi.GraphBuilder()\n"
                               "g.matmul(g.input('a', 'float32', [2, 3]), g.input('b', 'float32', [4, 5]))")
    assert 'File "<input-1>", line 3' in text and "site-packages" not in text and "registry.py" not in text
    assert text.rstrip().endswith("inner dimensions differ: a is [2, 3], b is [4, 5]")
    other = _traceback_of(repl, "import json\njson.loads('{')")  # not webinfer's: the whole traceback, as Python gives
    assert 'File "<input-1>"' in other and "decoder.py" in other


@pytest.fixture(scope="module")
def demo() -> ModuleType:
    return page_module("demo")


def test_device_summary_names_backend_and_device() -> None:
    from webinfer.web.describe import device_summary

    adapter = {"vendor": "google", "architecture": "swiftshader"}
    gpu = {"backend": "webgpu", "device": {"type": "gpu", "adapter": adapter, "is_fallback_adapter": True}}
    assert device_summary(gpu) == \
        "WebGPU adapter google swiftshader (software fallback adapter: WebGPU on the CPU)"
    nn = {"backend": "webnn", "device": {"type": "webnn", "asked": {"device": "cpu"}, "created_with": {},
                                         "ops_in_limits": 95, "same_limits_as_cpu_context": True}}
    assert device_summary(nn).startswith("WebNN context (device=cpu), 95 ops; same limits")
    hybrid = {"backend": "hybrid", "device": {"webnn": nn["device"], "webgpu": None}}
    assert device_summary(hybrid).startswith("WebNN context")


def test_demo_searches_the_corpus_on_the_reference_backend(demo: ModuleType, demo_data: Path) -> None:
    """load_corpus → load_model → search → reindex, as the page calls them (here on the host's reference)."""
    page = demo.Demo()
    stdlib = demo_data / "stdlib"
    info = json.loads(page.load_corpus((stdlib / "corpus.json").read_text(), (stdlib / "embeddings.f16").read_bytes()))
    assert info["count"] > 100 and info["dimension"] == 384

    async def session() -> tuple[dict, dict, dict]:  # type: ignore[type-arg]
        loaded = json.loads(await page.load_model(str(demo_data / "minilm"), "reference"))
        found = json.loads(await page.search("  remove a directory tree ", 3))
        again = json.loads(await page.reindex(4, 2))
        return loaded, found, again

    loaded, found, again = asyncio.run(session())
    page.close()
    assert loaded["backend"] == "reference" and loaded["timings"]["warmup_ms"] > 0
    assert found["query"] == "remove a directory tree" and len(found["hits"]) == 3
    assert found["hits"][0]["module"] == "shutil" and found["hits"][0]["name"] == "rmtree"
    assert found["tokens"] == 6 and found["timings"]["total_ms"] > 0
    assert again["count"] == 4 and again["min_cosine"] > 0.999  # the host's rows, stored as float16


def test_demo_rejects_a_truncated_corpus(demo: ModuleType) -> None:
    manifest = json.dumps({"count": 2, "dimension": 4, "entries": [["m", "a", "function", "x"]] * 2})
    with pytest.raises(ValueError, match="expected 2x4 float16"):
        demo.Demo().load_corpus(manifest, b"\0" * 10)


def test_classify_page_python_on_the_reference_backend(demo_data: Path) -> None:
    """load_model → classify, as the classify page calls them (here on the host's reference, from the demo data)."""
    image = pytest.importorskip("PIL.Image")
    if not (demo_data / "efficientnet-lite0" / "classifier.json").is_file():
        pytest.skip("the demo data has no classifier (pip install 'webinfer[efficientnet]')")
    classify = page_module("classify")
    im = image.open(WEB_DIR / "images" / "coffee.jpg").convert("RGBA")
    page = classify.Classifier()

    async def session() -> tuple[dict, dict]:  # type: ignore[type-arg]
        loaded = json.loads(await page.load_model(str(demo_data / "efficientnet-lite0"), "reference"))
        return loaded, json.loads(await page.classify(im.tobytes(), *im.size, 3, "coffee.jpg"))

    loaded, result = asyncio.run(session())
    page.close()
    assert loaded["backend"] == "reference" and loaded["labels"] == 1000 and loaded["timings"]["compile_ms"] > 0
    assert [c["index"] for c in result["top"]] == [967, 925, 968] and result["top"][0]["label"] == "espresso"
    assert result["image"] == {"name": "coffee.jpg", "width": 600, "height": 400} and result["run"] == 1
    assert result["timings"]["preprocess_ms"] > 0 and result["timings"]["total_ms"] >= result["timings"]["run_ms"]
