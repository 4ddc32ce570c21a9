"""Choosing the next token from logits, in pure Python (the page has no numpy): greedy, or sampled with
temperature, top-k and top-p from a seeded ``random.Random`` — the same seed gives the same tokens.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Sequence

from ..errors import InputError


class Sampler:
    """``Sampler(temperature, top_k, top_p, seed)(logits) -> token id``.

    ``temperature=0`` is greedy (the first of equal maxima). Otherwise the logits are divided by the
    temperature, cut to the ``top_k`` largest (0: no cut) and then to the smallest set whose probabilities
    reach ``top_p`` (1: no cut), and a token is drawn from what is left with ``random.Random(seed)``.
    """

    def __init__(self, temperature: float = 0.0, top_k: int = 0, top_p: float = 1.0, seed: int | None = None) -> None:
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
            raise InputError(f"temperature must be a number, got {temperature!r}")
        if not math.isfinite(temperature) or temperature < 0:
            raise InputError(f"temperature must be finite and >= 0 (0 is greedy), got {temperature!r}")
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
            raise InputError(f"top_k must be an integer >= 0 (0 keeps every token), got {top_k!r}")
        if isinstance(top_p, bool) or not isinstance(top_p, (int, float)) or not 0 < top_p <= 1:
            raise InputError(f"top_p must be a number in (0, 1] (1 keeps every token), got {top_p!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise InputError(f"seed must be an integer or None, got {seed!r}")
        self.temperature = float(temperature)
        self.top_k = top_k
        self.top_p = float(top_p)
        self.seed = seed
        self.rng = random.Random(seed)

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def __call__(self, logits: Sequence[float]) -> int:
        """The next token id for one row of logits."""
        n = len(logits)
        if n == 0:
            raise InputError("sampling: no logits")
        # any NaN or inf makes the sum non-finite (float32 logits cannot overflow a float64 sum): one C loop
        if not math.isfinite(sum(logits)):
            raise InputError("sampling: the logits are not finite (NaN or inf): the model's output is broken")
        best = max(logits)
        if self.greedy:
            return logits.index(best)
        order: list[int]
        if self.top_k and self.top_k < n:
            order = heapq.nlargest(self.top_k, range(n), key=logits.__getitem__)
        else:
            order = sorted(range(n), key=logits.__getitem__, reverse=True)
        inv_t = 1.0 / self.temperature
        weights = [math.exp((logits[i] - best) * inv_t) for i in order]  # largest first, the first is 1
        if self.top_p < 1.0:
            total = math.fsum(weights)
            keep, acc = 0, 0.0
            for w in weights:
                keep += 1
                acc += w
                if acc >= self.top_p * total:
                    break
            order, weights = order[:keep], weights[:keep]
        r = self.rng.random() * math.fsum(weights)
        acc = 0.0
        for i, w in zip(order, weights):
            acc += w
            if r < acc:
                return i
        return order[-1]  # r rounded up to the total

    def __repr__(self) -> str:
        if self.greedy:
            return "Sampler(greedy)"
        return f"Sampler(temperature={self.temperature}, top_k={self.top_k}, top_p={self.top_p}, seed={self.seed})"


__all__ = ["Sampler"]
