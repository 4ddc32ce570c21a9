"""The classify page end to end, in headless Chromium: the two sample photos get torch's top-5 on webnn and webgpu.

The oracle is computed here, on the host: PIL decodes the photo (the same RGBA bytes Chromium's createImageBitmap +
canvas give for these two JPEGs: checked byte for byte), webinfer's preprocessing makes the input, the torch module
built from the same package weights gives the probabilities. The page must give the same five classes in the same
order, each probability within TOLERANCE. One model run per photo and backend (WebGPU on SwiftShader is slow:
EfficientNet-Lite0 takes from tens of seconds to two minutes a run on this 2-core machine). Screenshots go to
artifacts/.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from webinfer.tools.project import WEB_DIR

pytestmark = pytest.mark.browser

PHOTOS = ("chelsea.jpg", "coffee.jpg")
#: |page probability - torch probability|: both compute in float32 (WGSL on SwiftShader, TFLite's CPU kernels, torch's
#: CPU kernels) through 49 convolutions and a gemm, summing in different orders; measured: at most 2.2e-6.
TOLERANCE = 1e-4
RUN_TIMEOUT_MS = 900_000  # one WebGPU run on SwiftShader, on a loaded machine

STATE = "() => JSON.parse(JSON.stringify(window.classifyState))"
RESULT = """([backend, name, runs]) => { const s = window.classifyState;
  return s.error || (s.runs >= runs && s.result && s.result.backend === backend && s.result.image.name === name); }"""


@pytest.fixture(scope="module")
def oracle() -> dict[str, list[tuple[int, float]]]:
    """photo -> torch's top-5 (class index, probability)."""
    torch = pytest.importorskip("torch")
    image = pytest.importorskip("PIL.Image")
    import numpy as np

    from webinfer.models import efficientnet
    from webinfer.models.preprocess import prepare

    module = efficientnet.build_torch()
    top: dict[str, list[tuple[int, float]]] = {}
    for name in PHOTOS:
        im = image.open(WEB_DIR / "images" / name).convert("RGBA")
        x = np.frombuffer(prepare(im.tobytes(), *im.size, 4, efficientnet.preprocessing()), np.float32)
        with torch.no_grad():
            logits = module(torch.from_numpy(x.copy()).reshape(1, 3, 224, 224))[0].double()
        probs = torch.softmax(logits, -1).numpy()
        top[name] = [(int(i), float(probs[i])) for i in np.argsort(-probs)[:5]]
    return top


@pytest.fixture(scope="module")
def classified(drive: Callable[..., Any], demo_browser: Any, demo_data: Path,
               artifacts: Path) -> Iterator[tuple[Any, dict[tuple[str, str], dict[str, Any]]]]:
    """One classify page: on webnn the two samples (buttons) and coffee.jpg dropped as "dropped.jpg"; then the switch
    to webgpu, which classifies the current photo (the dropped one) again, and the cat. (backend, name) -> result."""
    manifest = json.loads((demo_data / "demo.json").read_text())
    if not manifest.get("classifier"):
        pytest.skip(f"the demo data has no classifier: {manifest.get('classifier_missing')}")
    url = f"{demo_browser.server.url}/classify.html?backend=webnn"
    coffee = list((WEB_DIR / "images" / "coffee.jpg").read_bytes())

    async def run(context: Any) -> tuple[Any, dict[tuple[str, str], dict[str, Any]]]:
        page = await context.new_page()
        await page.goto(url)
        await page.wait_for_function("() => window.classifyState.ready || window.classifyState.error",
                                     timeout=300_000)
        results: dict[tuple[str, str], dict[str, Any]] = {}

        async def wait(backend: str, name: str, runs: int) -> None:
            await page.wait_for_function(RESULT, arg=[backend, name, runs], timeout=RUN_TIMEOUT_MS, polling=250)
            state = await page.evaluate(STATE)
            assert not state["error"], state["error"]
            results[(backend, name)] = {**state["result"], "state": state}

        for n, name in enumerate(PHOTOS, 1):
            await page.click(f'.sample[data-sample="{name}"]')
            await wait("webnn", name, n)
        await page.evaluate("""(bytes) => {
            const dt = new DataTransfer();
            dt.items.add(new File([new Uint8Array(bytes)], "dropped.jpg", { type: "image/jpeg" }));
            document.getElementById("drop").dispatchEvent(new DragEvent("drop", { dataTransfer: dt }));
        }""", coffee)
        await wait("webnn", "dropped.jpg", 3)
        await page.screenshot(path=str(artifacts / "classify-webnn.png"), full_page=True)
        await page.click('.backend[data-backend="webgpu"]')
        await wait("webgpu", "dropped.jpg", 4)  # switching backend classifies the current photo again
        await page.click('.sample[data-sample="chelsea.jpg"]')
        await wait("webgpu", "chelsea.jpg", 5)
        await page.screenshot(path=str(artifacts / "classify-webgpu.png"), full_page=True)
        return page, results

    page, results = drive(run)
    yield page, results
    drive(lambda _context: page.close())


@pytest.mark.parametrize("backend", ["webnn", "webgpu"])
@pytest.mark.parametrize("photo", PHOTOS)
def test_top5_equals_torch(classified: tuple[Any, dict[tuple[str, str], dict[str, Any]]],
                           oracle: dict[str, list[tuple[int, float]]], backend: str, photo: str) -> None:
    results = classified[1]
    result = results.get((backend, photo)) or results[(backend, "dropped.jpg")]  # coffee.jpg's bytes, dropped
    got = [(c["index"], c["score"]) for c in result["top"]]
    want = oracle[photo]
    assert [i for i, _ in got] == [i for i, _ in want], (got, want)
    worst = max(abs(p - q) for (_, p), (_, q) in zip(got, want))
    assert worst <= TOLERANCE, (worst, got, want)
    run_ms = result["timings"]["run_ms"]
    print(f"\n{backend} {photo}: top-5 = torch's; max |p - p_torch| = {worst:.2e}; model run {run_ms:.0f} ms")


def test_the_page_says_what_ran_it_and_how_long_it_took(
        classified: tuple[Any, dict[tuple[str, str], dict[str, Any]]]) -> None:
    _, results = classified
    nn, gpu = results[("webnn", "chelsea.jpg")], results[("webgpu", "chelsea.jpg")]
    assert nn["backend"] == "webnn" and nn["device"].startswith("WebNN context")
    assert gpu["backend"] == "webgpu" and gpu["device"].startswith("WebGPU adapter")
    for result in (nn, gpu):
        assert {"preprocess_ms", "run_ms", "total_ms"} <= set(result["timings"])
        assert result["timings"]["total_ms"] >= result["timings"]["run_ms"] > 0 and result["decodeMs"] > 0
        assert result["image"] == {"name": "chelsea.jpg", "width": 451, "height": 300, "scaledFrom": None}
    state = gpu["state"]
    assert state["compile"]["timings"]["compile_ms"] > 0 and state["weights"]["bytes"] > 18e6
    assert set(state["backendNames"]) == {"webgpu", "webnn", "hybrid"}
    dropped, picked = results[("webnn", "dropped.jpg")], results[("webnn", "coffee.jpg")]
    assert dropped["top"] == picked["top"]  # drag and drop: the same bytes, the same classes


def test_the_page_shows_the_classes(classified: tuple[Any, dict[tuple[str, str], dict[str, Any]]],
                                    drive: Callable[..., Any]) -> None:
    page, results = classified

    async def read(_context: Any) -> dict[str, Any]:
        return {"labels": await page.locator(".class .label").all_inner_texts(),
                "backend": await page.inner_text("#fact-backend"), "run": await page.inner_text("#fact-run"),
                "caption": await page.inner_text("#photo-caption"),
                "checked": await page.get_attribute('.backend[data-backend="webgpu"]', "aria-checked")}

    shown = drive(read)
    assert shown["labels"] == [c["label"] for c in results[("webgpu", "chelsea.jpg")]["top"]]
    assert shown["backend"] == "webgpu" and shown["checked"] == "true" and shown["run"].endswith("s")
    assert shown["caption"] == "chelsea.jpg · 451×300"


def test_a_built_site_classifies_a_sample_from_a_plain_static_server(
        tmp_path_factory: pytest.TempPathFactory, demo_data: Path, site_roots: Any, corpus_modules: tuple[str, ...],
        static_server: Callable[[Path], str], drive: Callable[..., Any], artifacts: Path) -> None:
    """``webinfer build-site``: the page, its sample photos and the model are static files (no isolation needed);
    ``?sample=`` classifies a bundled photo once the model is ready."""
    from webinfer.tools.site import build_site

    site = tmp_path_factory.mktemp("static") / "site"
    build_site(site, roots=site_roots, build_dir=demo_data, modules=corpus_modules)
    url = f"{static_server(site)}/classify.html?backend=webnn&sample=coffee.jpg"

    async def run(context: Any) -> dict[str, Any]:
        page = await context.new_page()
        try:
            await page.goto(url)
            await page.wait_for_function("() => window.classifyState.result || window.classifyState.error",
                                         timeout=300_000)
            await page.screenshot(path=str(artifacts / "classify-static-site.png"), full_page=True)
            return await page.evaluate(STATE)
        finally:
            await page.close()

    state = drive(run)
    assert state["error"] is None, state["error"]
    assert state["isolated"] is False and state["result"]["backend"] == "webnn"
    assert state["result"]["image"]["name"] == "coffee.jpg" and state["result"]["top"][0]["label"] == "espresso"
