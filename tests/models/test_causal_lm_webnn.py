"""CausalLM on WebNN in the page with a tiny random Llama GGUF (every weight type webinfer converts): greedy ids equal
the reference backend's, logits agree, the KV cache stays in MLTensors between steps (only the logits row is
read back), and steady decode builds no MLGraph (the session's build counter and runtime.mjs's do not move).
"""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any

import pytest
from llm_samples import write_tiny_gguf

from webinfer.models.causal_lm import CausalLM

pytest.importorskip("gguf")

PROMPT = [3, 4, 5]
LONG = [(7 * i + 3) % 90 + 3 for i in range(70)]  # past the first capacity bucket (64): chunks and a grow
NEW = 12


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("tiny") / "tiny.gguf", seed=5)


@pytest.fixture(scope="module")
def ref(tiny: Path) -> CausalLM:
    return CausalLM.load(tiny, backend="reference")


@pytest.fixture(scope="module")
def page(browser_py: Any, tiny: Path) -> Any:
    blob = base64.b64encode(tiny.read_bytes()).decode()
    browser_py.run(f"""
        import base64, json
        with open("/tmp/tiny.gguf", "wb") as f:
            f.write(base64.b64decode({blob!r}))
        from webinfer.backends.webnn.session import runtime
        from webinfer.models import CausalLM
        lm = CausalLM.load("/tmp/tiny.gguf", backend="webnn")

        def counters():
            stats = dict(lm.session.stats)
            stats["js"] = json.loads(str(runtime().countersJSON()))
            return stats
        lm.session.backend
    """)
    return browser_py


def test_greedy_ids_equal_the_reference(page: Any, ref: CausalLM) -> None:
    want = ref.generate(PROMPT, max_new_tokens=NEW).ids
    got = page.run(f"r = lm.generate({PROMPT}, max_new_tokens={NEW}); [r.ids, r.backend, r.finish_reason]")
    assert got == [want, "webnn", "length"]


def test_long_prompt_chunks_and_grows_the_cache_on_the_device(page: Any, ref: CausalLM) -> None:
    ref.prefill_chunk = 32
    want = ref.generate(LONG, max_new_tokens=6).ids
    got = page.run(f"""
        lm.prefill_chunk = 32
        r = lm.generate({LONG}, max_new_tokens=6)
        lm.prefill_chunk = 512
        [r.ids, r.timings["capacity"], lm.info()["compiles"]["grow_graphs"],
         sorted(s.backend for s in lm._grow_sessions.values())]
    """)
    assert got[0] == want and got[1] == 128 and got[2] >= 1 and set(got[3]) == {"webnn"}


def test_logits_agree_with_the_reference(page: Any, ref: CausalLM) -> None:
    want = ref.logits(PROMPT).tolist()
    got = page.run(f"lm.logits({PROMPT}).tolist()")
    scale = max(abs(v) for v in want)
    assert len(got) == len(want) and max(abs(a - b) for a, b in zip(got, want)) <= 1e-4 * scale


def test_steady_decode_builds_nothing_and_reads_only_logits(page: Any) -> None:
    got = page.run(f"""
        lm.generate({PROMPT}, max_new_tokens=4)  # the prefill and decode graphs of the first buckets exist now
        before = counters()
        r = lm.generate({PROMPT}, max_new_tokens=30)
        after = counters()
        [before, after, len(r.ids), r.timings["capacity"], lm.info()["compiles"]]
    """)
    before, after, n, capacity, compiles = got
    assert n == 30 and capacity == 64  # 3 + 30 tokens: one capacity bucket
    runs = after["runs"] - before["runs"]
    assert runs == n  # one prefill + n - 1 decode steps... and no other run (no grow)
    assert after["builds"] == before["builds"] and after["js"]["builds"] == before["js"]["builds"], (before, after)
    assert after["builds_by_shape"] == before["builds_by_shape"]
    assert compiles["steps_since_last_compile"] >= n
    vocab, layers = 96, 2
    # only the logits row of each step comes back; the cache goes from step to step in MLTensors
    assert after["readback_bytes"] - before["readback_bytes"] == runs * vocab * 4
    assert after["device_inputs"] - before["device_inputs"] == (runs - 1) * 2 * layers
    assert after["kept_outputs"] - before["kept_outputs"] == runs * (1 + 2 * layers)
    # uploads: the zero cache of the prefill, then a few int32s per decode step
    cache_bytes = 2 * layers * 2 * 64 * 16 * 4
    assert after["upload_bytes"] - before["upload_bytes"] <= cache_bytes + runs * 64
    # MLTensors: the cache tensors given back are reused (a pool), so steady decode allocates none
    assert after["js"]["tensors"] == before["js"]["tensors"], (before["js"], after["js"])


def test_weights_folded_once_and_said_so(page: Any) -> None:
    got = page.run("lm.info()['session']['webnn']['weights']")
    assert got["folded"] > 0 and got["bytes_on_device"] > got["computed_from_bytes"] > 0
    assert got["extra_bytes"] == got["bytes_on_device"] - got["computed_from_bytes"]
    assert "dequantizeLinear" in got["note"] and got["prologue_graphs"] >= 1 and math.isfinite(got["fold_ms"])


def test_close_frees_every_mltensor_graph_and_context(page: Any) -> None:
    got = page.run(f"""
        before = json.loads(str(runtime().countersJSON()))
        other = CausalLM.load("/tmp/tiny.gguf", backend="webnn")
        other.prefill_chunk = 32
        other.generate({LONG}, max_new_tokens=3)  # a grow graph too, on the same context
        grown = other.info()["compiles"]["grow_graphs"]
        other.close()
        after = json.loads(str(runtime().countersJSON()))
        [grown, before, after]
    """)
    grown, before, after = got
    assert grown == 1
    assert {k: after[k] for k in ("tensors", "graphs", "contexts")} == {
        k: before[k] for k in ("tensors", "graphs", "contexts")}, (before, after)
