"""The page side of ``webinfer bench --model smollm2``: webinfer's CausalLM as a bench case runner (in Pyodide).

Runner name ``python:webinfer.tools.bench.llm_page:CausalLMRunner``. Params: ``model`` (URL of a ``webinfer convert
--model gguf`` directory), ``backend``, ``new_tokens``. The input ``prompt_ids`` (int32) is the prompt every case
gets. One timed run is one greedy generation: the record has the wall time (``ms``) and the model's own split,
prefill (the prompt, one step per chunk) and decode (every token after the first), as ``CausalLM`` times them.
"""

from __future__ import annotations

import array
import base64
import time
from collections.abc import Mapping
from typing import Any


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1e3


def wasm_heap_bytes() -> int | None:
    """Pyodide's wasm memory size (it only grows: the peak so far), or None off the page."""
    try:
        import pyodide_js  # type: ignore[import-not-found]

        return int(pyodide_js._module.HEAP8.length)
    except (ImportError, AttributeError):
        return None


def record(result: Any, wall_ms: float) -> dict[str, Any]:
    """One run's record from a ``Generation``: wall ``ms`` and the prefill / decode split with their token counts."""
    t = result.timings
    return {"ms": wall_ms, "prefill_ms": (t.get("prefill_s") or 0.0) * 1e3, "prefill_tokens": t.get("prompt_tokens"),
            "decode_ms": (t.get("decode_s") or 0.0) * 1e3, "decode_tokens": t.get("decode_tokens"),
            "new_tokens": len(result.ids), "finish_reason": result.finish_reason}


class CausalLMRunner:
    """webinfer's CausalLM on one backend, generating greedily from the bench's prompt ids."""

    EXTRA = ("info",)

    def __init__(self, label: str, params: Mapping[str, Any], inputs: Mapping[str, Any]) -> None:
        self.label = label
        self.params = dict(params)
        ids = inputs["prompt_ids"]
        self.prompt = list(array.array("i", bytes(ids["data"])))
        self.lm: Any = None
        self.last: Any = None

    async def setup(self) -> dict[str, Any]:
        from ...models import CausalLM

        start = time.perf_counter()
        self.lm = await CausalLM.load_async(self.params["model"], self.params["backend"])
        timings = {"load": _ms(start), "compile": self.lm.stats["compile_ms"]}
        first = await self._once()
        timings["first_run"] = first["ms"]
        return {"timings_ms": timings, "first": first, "info": await self.info()}

    async def _once(self) -> dict[str, Any]:
        start = time.perf_counter()
        self.last = await self.lm.generate_async(self.prompt, int(self.params["new_tokens"]))
        return record(self.last, _ms(start))

    async def timed(self, runs: int, warmup: int) -> list[dict[str, Any]]:
        for _ in range(warmup):
            await self._once()
        return [await self._once() for _ in range(runs)]

    async def outputs(self) -> dict[str, Any]:
        data = array.array("i", self.last.ids).tobytes()
        return {"ids": {"dtype": "int32", "shape": [len(self.last.ids)], "data": base64.b64encode(data).decode()}}

    async def info(self) -> dict[str, Any]:
        """Backend, device, what was compiled, the session's plan statistics (GPU bytes) and the wasm heap."""
        info = self.lm.info()
        sess = info.get("session") or {}
        dev = info.get("device")
        return {"backend": info.get("backend"),
                "device": {k: v for k, v in dev.items() if k not in ("limits", "features")} if isinstance(dev, dict)
                else dev,
                "compiles": info.get("compiles"), "plan": sess.get("plan"), "gpu": sess.get("gpu"),
                "weights_bytes": (sess.get("weights") or {}).get("bytes"), "webnn": sess.get("webnn"),
                "wasm_heap_bytes": wasm_heap_bytes()}

    async def close(self) -> None:
        if self.lm is not None:
            self.lm.close()
        self.lm = None


__all__ = ["CausalLMRunner", "record", "wasm_heap_bytes"]
