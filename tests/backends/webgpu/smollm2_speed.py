"""SmolLM2-135M (Q4_1) on a browser backend: greedy answer, weight bytes on the device, prefill and decode speed.

Not a test (speed goals go through ``webinfer bench``); a measurement, run in the page:

    webinfer convert --model gguf -o models/smollm2        # once: served at /models/smollm2
    webinfer run tests/backends/webgpu/smollm2_speed.py --backend webgpu --timeout 1200

Env (set in the script's first lines to change): NEW decode tokens, ROUNDS.
"""

import os
import statistics
import time

from js import location  # the page's origin: the model directory is served beside it

from webinfer.models import CausalLM

BACKEND = os.environ.get("WEBINFER_BACKEND", "webgpu")
NEW, ROUNDS = 32, 2

t0 = time.perf_counter()
lm = CausalLM.load(f"{location.origin}/models/smollm2", backend=BACKEND)
print(f"loaded in {time.perf_counter() - t0:.1f} s on {lm.info()['backend']} / {lm.info()['device']}")
r = lm.generate("The capital of France is", max_new_tokens=8)
print(f"answer: {r.text!r}  ({r.timings.get('tokens_per_s')} tok/s decode)")

sess = lm.session.info()
w = sess.get("weights") or {}
gguf = lm.metadata.get("gguf_tensor_bytes")
if w and gguf:
    print(f"weights on the device: {w['bytes']:,} bytes in {w['buffers']} buffers = {w['bytes'] / gguf:.3f} x the "
          f"GGUF's {gguf:,} tensor bytes")

words = ("the quick brown fox jumps over a lazy dog while seven wizards quietly hex an eager jovial "
         "sphinx of black quartz ").split()
ids = lm.tokenizer.encode(" ".join(words * 20))[:128]  # type: ignore[union-attr]
prefill, decode = [], []
for i in range(ROUNDS):
    r = lm.generate(ids, max_new_tokens=NEW)
    prefill.append(len(ids) / r.timings["prefill_s"])
    decode.append(r.timings["tokens_per_s"])
    print(f"round {i}: prefill {prefill[-1]:.1f} tok/s ({len(ids)} tokens), decode {decode[-1]:.2f} tok/s "
          f"({len(r.ids)} tokens)")
s = lm.session.info()["stats"]
print(f"median: prefill {statistics.median(prefill):.1f} tok/s, decode {statistics.median(decode):.2f} tok/s; "
      f"plans built {s.get('plans_built')}, pipelines created {s.get('pipelines_created')}")
