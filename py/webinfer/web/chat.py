"""The chat page's Python (runs inside Pyodide): load SmolLM2 on a backend and stream a reply, token by token.

The page's JS fetches the converted model (Cache API, progress bar) into Pyodide's file system and calls ``chat``
below; each method returns a JSON string. Generation runs through ``CausalLM.stream_async`` (no JSPI needed), so
the page stays live between tokens: each piece goes to the page's ``on_piece`` callback, and ``control.stop`` (set
by the Stop button) ends the generation after the current token.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from webinfer.models import CausalLM
from webinfer.web.describe import device_summary


def _ms(seconds: float) -> float:
    return round(seconds * 1e3, 2)


def _rate(tokens: int, seconds: float | None) -> float | None:
    return round(tokens / seconds, 3) if tokens and seconds else None


def wasm_heap_bytes() -> int | None:
    """The size of Pyodide's wasm memory: it only grows, so this is the page's peak so far."""
    try:
        import pyodide_js  # type: ignore[import-not-found]

        return int(pyodide_js._module.HEAP8.length)
    except (ImportError, AttributeError):
        return None


class Chat:
    """State of the page: the model compiled for the chosen backend, and the conversation so far."""

    def __init__(self) -> None:
        self.lm: CausalLM | None = None
        self.backend: str | None = None
        self.messages: list[dict[str, str]] = []
        self.replies = 0

    async def load_model(self, model_dir: str, backend: str) -> str:
        """Load the model from ``model_dir`` and compile it for ``backend``. Returns backend, device, facts, timings."""
        self.close()
        t0 = time.perf_counter()
        lm = CausalLM.load(model_dir, backend=backend)
        t1 = time.perf_counter()
        self.lm, self.backend, self.replies = lm, backend, 0
        info = lm.info()
        c = lm.config
        return json.dumps({
            "backend": info["backend"], "device": device_summary(info), "deviceInfo": info["device"],
            "model": lm.metadata.get("model"), "layers": c.num_layers, "hidden": c.hidden_size,
            "vocab": c.vocab_size, "context": lm.context_length, "chat_template": "chat_template" in lm.metadata,
            "timings": {"load_ms": _ms(t1 - t0), "compile_ms": round(lm.stats["compile_ms"], 2)},
            "wasm_heap_bytes": wasm_heap_bytes(),
        }, default=str)

    def new_chat(self) -> str:
        """Forget the conversation."""
        self.messages = []
        return json.dumps({"messages": 0})

    async def reply(self, text: str, max_new_tokens: int, temperature: float, mode: str, on_piece: Any,
                    control: Any) -> str:
        """Generate a reply to ``text``: in ``mode`` "chat" as the next turn of the conversation (the model's chat
        template), in "raw" as a plain continuation. Pieces go to ``on_piece(piece_json)``; a true ``control.stop``
        ends it after the current token. Returns the text, the counts, the rates, the backend and the device."""
        assert self.lm is not None, "load_model first"
        lm = self.lm
        if mode == "chat":
            turn = [*self.messages, {"role": "user", "content": text}]
            prompt = lm.chat_prompt(turn)
        else:
            turn, prompt = [], text
        t0 = time.perf_counter()
        pieces = lm.stream_async(prompt, int(max_new_tokens), temperature=float(temperature),
                                 seed=self.replies if temperature else None)
        first: float | None = None
        stopped = False
        try:
            async for piece in pieces:
                now = time.perf_counter()
                first = first if first is not None else now
                tokens = len(lm.last.ids) if lm.last is not None else 0
                on_piece(json.dumps({"piece": piece, "tokens": tokens, "seconds": round(now - t0, 4),
                                     "tokens_per_s": _rate(tokens - 1, now - first)}))
                await asyncio.sleep(0)  # a turn of the browser's event loop: paints the piece, runs a Stop click
                if control is not None and getattr(control, "stop", False):
                    stopped = True
                    break
        finally:
            await pieces.aclose()  # type: ignore[attr-defined]  # frees the cache now, also when stopped
        total = time.perf_counter() - t0
        result = lm.last
        assert result is not None
        t = result.timings
        self.replies += 1
        reply_text = result.text or ""
        if mode == "chat":
            self.messages = [*turn, {"role": "assistant", "content": reply_text}]
        decode_tokens = int(t.get("decode_tokens") or 0)
        prompt_tokens = int(t.get("prompt_tokens") or 0)
        return json.dumps({
            "text": reply_text, "mode": mode, "finish_reason": "stopped" if stopped else result.finish_reason,
            "prompt_tokens": prompt_tokens, "new_tokens": len(result.ids), "reply": self.replies,
            "timings": {"prefill_ms": _ms(t.get("prefill_s") or 0.0), "decode_ms": _ms(t.get("decode_s") or 0.0),
                        "first_token_ms": _ms(t.get("first_token_s") or 0.0), "total_ms": _ms(total)},
            "prefill_tokens_per_s": _rate(prompt_tokens, t.get("prefill_s")),
            "decode_tokens_per_s": _rate(decode_tokens, t.get("decode_s")),
            "backend": result.backend or lm.info()["backend"], "device": device_summary(lm.info()),
            "wasm_heap_bytes": wasm_heap_bytes(),
        }, default=str)

    def close(self) -> None:
        """Free the current model's sessions (before switching backend)."""
        if self.lm is not None:
            self.lm.close()
        self.lm = None


chat = Chat()
