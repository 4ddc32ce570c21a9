"""The GGUF import, the llama graph, the converted directory and the sampler work without numpy, as in the
browser: the file is parsed, every weight repacked, the graph built, saved and loaded back, and tokens sampled."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("gguf")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from llm_samples import write_tiny_gguf  # noqa: E402

SCRIPT = textwrap.dedent(
    """
    import sys
    sys.modules["numpy"] = None  # any `import numpy` now raises ImportError
    import webinfer as wi
    from webinfer.format import load
    from webinfer.models.causal_lm import save_causal_lm
    from webinfer.models.llama import load_gguf
    from webinfer.models.sampling import Sampler
    graph, config, fields, weights = load_gguf({gguf!r})
    data = {{name: bytes(c.data()) for name, c in graph.constants.items()}}
    assert graph.constants["blk.0.attn_q.weight.q"].desc.dtype == "uint4"
    assert graph.constants["token_embd.weight.q"].desc.dtype == "int8"
    paths = save_causal_lm({out!r}, graph, config, fields, shard_bytes=16_000)
    again = load(paths["graph"])
    assert {{n: bytes(c.data()) for n, c in again.constants.items()}} == data
    assert [n.op for n in again.nodes] == [n.op for n in graph.nodes]
    logits = [0.5, 2.0, -1.0, 2.0]
    assert Sampler()(logits) == 1
    draws = [Sampler(1.0, seed=5)(logits) for _ in range(3)]
    assert len(set(draws)) == 1 and Sampler(0.7, top_k=2, top_p=0.9, seed=1)(logits) in (1, 3)
    assert "numpy" not in sys.modules or sys.modules["numpy"] is None
    print("ok", len(data), len(paths["weights"]))
    """
)


def test_gguf_import_without_numpy(tmp_path: Path) -> None:
    gguf = write_tiny_gguf(tmp_path / "t.gguf", seed=3)
    code = SCRIPT.format(gguf=str(gguf), out=str(tmp_path / "out"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    words = proc.stdout.split()
    assert words[0] == "ok" and int(words[1]) > 40 and int(words[2]) > 1
