"""CausalLM on WebGPU in the page (SwiftShader here): a tiny random Llama GGUF generates greedily the same ids as
the reference backend on the host; its packed weights stay packed on the device (bytes ≤ 1.15× the GGUF's tensor
bytes); the KV cache stays on the device between steps; steady decode builds no plan and creates no pipeline.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "models"))
from llm_samples import write_tiny_gguf  # noqa: E402

pytest.importorskip("gguf")

PROMPTS = [[3, 5, 7, 11, 13, 17, 19], [40, 2, 9]]
NEW = 12


@pytest.fixture(scope="module")
def page(browser_py, tmp_path_factory):  # type: ignore[no-untyped-def]
    from webinfer.models.causal_lm import CausalLM

    path = write_tiny_gguf(tmp_path_factory.mktemp("tiny") / "tiny.gguf", seed=0, scale=0.5)
    ref = CausalLM.load(path, backend="reference")
    expected = [ref.generate(p, max_new_tokens=NEW).ids for p in PROMPTS]
    blob = base64.b64encode(path.read_bytes()).decode()
    browser_py.run(f"""
        import base64
        with open("/tmp/tiny.gguf", "wb") as f:
            f.write(base64.b64decode({blob!r}))
        from webinfer.models import CausalLM
        lm = CausalLM.load("/tmp/tiny.gguf", backend="webgpu")
        None
    """)
    return browser_py, expected


def test_greedy_generation_equals_the_reference(page) -> None:  # type: ignore[no-untyped-def]
    py, expected = page
    got = py.run(f"[lm.generate(p, max_new_tokens={NEW}).ids for p in {PROMPTS!r}]")
    assert got == expected


def test_steady_decode_builds_no_plan_and_no_pipeline(page) -> None:  # type: ignore[no-untyped-def]
    py, _ = page
    got = py.run(f"""
        def counts():
            s = lm.session.info()
            return s["stats"]["plans_built"], s["stats"]["pipelines_created"], s["gpu"]["pipelinesCompiled"]
        lm.generate({PROMPTS[0]!r}, max_new_tokens={NEW})  # every (T, C) bucket of this length compiled
        before = counts()
        r = lm.generate({PROMPTS[1]!r}, max_new_tokens={NEW})   # the same buckets: {NEW - 1} decode steps
        [before, counts(), len(r.ids), lm.info()["compiles"]["steps_since_last_compile"]]
    """)
    before, after, n, since = got
    assert n == NEW and since >= NEW - 1
    assert after == before, f"plans / pipelines created during steady decode: {before} -> {after}"


def test_cache_stays_on_the_device_and_only_logits_are_read(page) -> None:  # type: ignore[no-untyped-def]
    py, _ = page
    got = py.run("""
        from webinfer.models.causal_lm import _KVCache
        cache = _KVCache(lm.config, 64)
        feeds = lm._step_feeds([3, 4], [0, 1], [1], cache)
        opts = lm._run_options(lm.session)
        out = lm.session.run(feeds, **opts)
        cache.update(out)
        out2 = lm.session.run(lm._step_feeds([5], [2], [0], cache), **opts)
        flags = sorted({k: t.on_device for k, t in out2.items()}.items())
        cache.update(out2)
        cache.release()
        [opts, lm.session.device_outputs, flags, len(out2["logits"].tolist()[0])]
    """)
    opts, device_outputs, flags, vocab = got
    assert opts == {"keep_on_device": True} and device_outputs
    assert all(on for _, on in flags), flags
    assert vocab == 96


def test_weights_stay_packed_on_the_device(page) -> None:  # type: ignore[no-untyped-def]
    py, _ = page
    got = py.run("""
        from webinfer.models.llama import load_gguf
        _, _, _, w = load_gguf("/tmp/tiny.gguf")
        names = set(w.f.tensors)
        consts = lm.session.info()["weights"]["constants"]
        # constants made from the GGUF's tensors: NAME, or NAME.q / NAME.scale / NAME.bias of a quantized one
        ours = sum(n for c, n in consts.items() if c in names or c.rsplit(".", 1)[0] in names)
        [ours, lm.metadata["gguf_tensor_bytes"], lm.session.info()["weights"]["bytes"]]
    """)
    ours, gguf_bytes, total = got
    print(f"\nweights on the device: {ours} bytes (all constants {total}) vs the GGUF's tensors {gguf_bytes}: "
          f"{ours / gguf_bytes:.3f}x")
    assert ours <= 1.15 * gguf_bytes
