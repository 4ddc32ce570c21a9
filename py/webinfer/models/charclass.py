"""Unicode character classes for Python's ``re`` (which has no ``\\p{L}``), shared by the pure-Python tokenizers.

A class is a spec string of code point ranges in hex (``"41-5A 61-7A AA"``). ``ClassRegex`` fills the classes into a
regex template and compiles it three times — for ASCII text, BMP-only text and any text — because sre tests a class
whose chars all lie in the BMP with a lookup table but scans astral ranges one by one, so a class cut down to what
the text can hold matches several times faster (most text has no astral char). Tables are data, not
``unicodedata``, so CPython and Pyodide (another Unicode version) classify every char alike.
"""

from __future__ import annotations

import bisect
import re

__all__ = ["WHITESPACE", "AstralStandIns", "ClassRegex", "char_class", "parse_ranges", "text_level"]

# Unicode White_Space (= Rust's char::is_whitespace and Oniguruma's \s); Python's \s adds 1C-1F.
WHITESPACE = "9-D 20 85 A0 1680 2000-200A 2028-2029 202F 205F 3000"


def parse_ranges(spec: str) -> list[tuple[int, int]]:
    """The (first, last) code point pairs of a spec such as ``"9-D 20 85"``."""
    out = []
    for item in spec.split():
        lo, _, hi = item.partition("-")
        out.append((int(lo, 16), int(hi or lo, 16)))
    return out


def char_class(spec: str, below: int = 0x110000) -> str:
    """A regex character-class body for the chars of ``spec`` below ``below`` (each escaped as \\UXXXXXXXX).

    An empty class becomes ``below`` itself, a char that text limited to chars below it cannot hold."""
    ranges = [(lo, min(hi, below - 1)) for lo, hi in parse_ranges(spec) if lo < below] or [(below, below)]
    return "".join(f"\\U{lo:08x}" if lo == hi else f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in ranges)


_ASTRAL_RE = re.compile("[\U00010000-\U0010ffff]")


def text_level(text: str) -> int:
    """Which compiled form of a ``ClassRegex`` suits ``text``: 0 ASCII, 1 BMP only, 2 any."""
    if text.isascii():
        return 0
    return 2 if _ASTRAL_RE.search(text) else 1


class ClassRegex:
    """One regex over class tables (``{name}`` in the template), compiled for ASCII, BMP-only and any text."""

    def __init__(self, template: str, **specs: str) -> None:
        self._template, self._specs = template, specs
        self._compiled: list[re.Pattern[str] | None] = [None, None, None]

    def __getitem__(self, level: int) -> re.Pattern[str]:
        """The form for ``text_level(text)``, compiled on first use (sre compiles these classes slowly)."""
        pattern = self._compiled[level]
        if pattern is None:
            below = (0x80, 0x10000, 0x110000)[level]
            pattern = re.compile(self._template.format(**{k: char_class(v, below) for k, v in self._specs.items()}))
            self._compiled[level] = pattern
        return pattern

    def for_text(self, text: str) -> re.Pattern[str]:
        """The compiled form that suits ``text``."""
        return self[text_level(text)]


class AstralStandIns:
    """Replaces each astral char of a text by a BMP char of the same class, so that a regex that only asks which
    class a char is in can run in its fast BMP form; the match positions are those of the original text.

    ``AstralStandIns({"A": letters_spec, "0": numbers_spec}, other="!")``: astral letters become "A", numbers "0",
    every other astral char "!"."""

    def __init__(self, classes: dict[str, str], other: str) -> None:
        spans = sorted((lo, hi, stand_in) for stand_in, spec in classes.items() for lo, hi in parse_ranges(spec)
                       if hi >= 0x10000)
        self._starts = [max(lo, 0x10000) for lo, _, _ in spans]
        self._ends = [hi for _, hi, _ in spans]
        self._stand_ins = [c for _, _, c in spans]
        self._other = other

    def __call__(self, text: str) -> str:
        """``text`` with its astral chars replaced (the same length: one char for one char)."""
        table = {}
        for c in set(_ASTRAL_RE.findall(text)):
            cp = ord(c)
            i = bisect.bisect_right(self._starts, cp) - 1
            table[cp] = self._stand_ins[i] if i >= 0 and cp <= self._ends[i] else self._other
        return text.translate(table) if table else text
