"""The benchmark's own error."""

from __future__ import annotations

from ...errors import WebinferError


class BenchError(WebinferError):
    """A benchmark could not be set up or run; the message says what and how to fix it."""


__all__ = ["BenchError"]
