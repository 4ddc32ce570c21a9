"""The demo's search corpus: one line per public function, class and method of the Python standard library.

    summary = build_corpus("out/minilm", "out/stdlib")     # host only: imports the stdlib, embeds with numpy

Each entry is the first sentence of a docstring ("Recursively delete a directory tree.") with where it lives
(``shutil.rmtree``). The lines are embedded here, on the host, so the page only embeds the query. Written:

- ``corpus.json``: ``{"format": "webinfer-demo-corpus", "version": 1, "count", "dimension", "dtype": "float16",
  "embeddings": "embeddings.f16", "columns": ["module", "name", "kind", "line"], "entries": [[...], ...]}``
- ``embeddings.f16``: float16 little-endian, row-major ``[count, dimension]``, rows L2-normalized.

The embedding runs the converted encoder graph with the reference kernels in float32 (not the float64 oracle)
and a vectorized erf (the oracle's ``math.erf`` loop is ~70 % of its run time): ~10x faster, and its rows match
the oracle's with cosine > 0.99999 (tested).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import inspect
import io
import json
import os
import pkgutil
import re
import sys
import time
import warnings
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

FORMAT = "webinfer-demo-corpus"
CORPUS_FILE = "corpus.json"
EMBEDDINGS_FILE = "embeddings.f16"
#: Bump when the entries or the embedding text change, so cached corpora are rebuilt.
CORPUS_VERSION = 4
#: One docstring sentence fits easily; longer lines are cut to this many tokens.
MAX_TOKENS = 64
MAX_CHARS = 160

#: Modules never imported: side effects on import, GUIs, tests, other platforms, internal tooling.
SKIP_MODULES = frozenset({
    "antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "test", "tests", "lib2to3",
    "ensurepip", "pydoc_data", "encodings", "msilib", "winreg", "winsound", "msvcrt", "nt", "distutils",
    "sre_compile", "sre_constants", "sre_parse", "__main__", "ntpath", "nturl2path",
})
#: Modules removed from the standard library by 3.13 (PEP 594 and friends): the page runs Python 3.14.
REMOVED_MODULES = frozenset({
    "aifc", "asynchat", "asyncore", "audioop", "cgi", "cgitb", "chunk", "crypt", "imghdr", "imp", "mailcap",
    "nis", "nntplib", "ossaudiodev", "pipes", "smtpd", "sndhdr", "spwd", "sunau", "telnetlib", "uu", "xdrlib",
})
#: Modules whose classes' methods are listed too (the built-in types and everyday classes); other classes
#: are listed without their methods, which keeps the corpus at a few thousand lines.
METHOD_MODULES = frozenset({
    "builtins", "pathlib", "datetime", "collections", "re", "random", "string", "threading", "queue", "io",
    "zipfile", "tarfile", "json", "csv", "argparse", "logging", "subprocess", "socket", "sqlite3", "asyncio",
    "fractions", "decimal", "array", "configparser", "email.message", "urllib.request", "http.client",
    "unittest", "unittest.case", "tempfile", "shutil", "contextlib", "enum", "typing", "dataclasses",
})
#: Modules shown under the name people import them by.
ALIASES = {"posixpath": "os.path", "genericpath": "os.path"}

_SIGNATURE = re.compile(r"^[\w.]+\(.*\)(\s*->.*)?$|^[\w.]+\s*->.*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


@dataclass(frozen=True, order=True)
class Entry:
    """One searchable line: ``module.name`` (a function, class or method) and its docstring's first sentence."""

    module: str
    name: str
    kind: str  # "function" | "class" | "method"
    line: str

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"

    def text(self) -> str:
        """What gets embedded: the last name component and the line ("rmtree: Recursively delete ...")."""
        return f"{self.name.rsplit('.', 1)[-1]}: {self.line}"


def first_sentence(doc: object) -> str | None:
    """The first sentence of a docstring's first paragraph, skipping signature lines; None if there is none."""
    if not isinstance(doc, str):
        return None
    paragraph: list[str] = []
    for raw in inspect.cleandoc(doc).splitlines():
        line = raw.strip()
        if not paragraph and (not line or _SIGNATURE.match(line)):
            continue  # "perf_counter_ns() -> int", "bytearray(iterable_of_ints) -> bytearray"
        if not line:
            break
        paragraph.append(line)
    text = " ".join(paragraph)
    if not text or text.lower().startswith(("deprecated", "**deprecated")) or not re.search(r"[a-z]{3}", text):
        return None
    text = _SENTENCE_END.split(text, maxsplit=1)[0]
    if len(text) > MAX_CHARS:
        text = text[: MAX_CHARS - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return text


def stdlib_modules() -> list[ModuleType]:
    """The public stdlib modules (and their public submodules) that import here, quietly."""
    names = sorted(n for n in sys.stdlib_module_names if _public_module(n))
    modules: list[ModuleType] = []
    for name in names:
        module = _quiet_import(name)
        if module is None:
            continue
        modules.append(module)
        if hasattr(module, "__path__"):
            for info in pkgutil.walk_packages(module.__path__, name + ".", onerror=lambda _name: None):
                if _public_module(info.name):
                    sub = _quiet_import(info.name)
                    if sub is not None:
                        modules.append(sub)
    return modules


def _public_module(name: str) -> bool:
    parts = name.split(".")
    return not any(p.startswith("_") or p in SKIP_MODULES or p in REMOVED_MODULES for p in parts)


def _quiet_import(name: str) -> ModuleType | None:
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            return importlib.import_module(name)
    except Exception:  # noqa: BLE001 - platform-specific modules (winreg, dbm.gnu, ...) fail to import here
        return None


def collect_entries(modules: Sequence[ModuleType] | None = None) -> list[Entry]:
    """Every public function and class of ``modules`` (default: the stdlib) with a docstring, and the methods
    of classes in :data:`METHOD_MODULES`.

    An object reachable from several modules is listed once, under the module that exports it in
    its own name, exports it in ``__all__`` and defines it, in that order of preference, else the shortest
    (``os.getcwd``, not ``posix.getcwd``; ``builtins.str``, not ``typing.Text``).
    """
    best: dict[int, tuple[tuple[Any, ...], Entry, object]] = {}
    for module in modules if modules is not None else stdlib_modules():
        exported = getattr(module, "__all__", None)
        for name in exported if exported is not None else dir(module):
            if not isinstance(name, str) or name.startswith("_"):
                continue
            obj = getattr(module, name, None)
            kind = "class" if inspect.isclass(obj) else "function" if inspect.isroutine(obj) else None
            line = first_sentence(getattr(obj, "__doc__", None)) if kind else None
            if kind is None or line is None:
                continue
            defining = getattr(obj, "__module__", None)
            where = ALIASES.get(module.__name__, module.__name__)
            renamed = name != getattr(obj, "__name__", name)  # typing.Text is str: list it as builtins.str
            rank = (renamed, exported is None or name not in exported, module.__name__ != defining, len(where), where)
            if id(obj) not in best or rank < best[id(obj)][0]:
                best[id(obj)] = (rank, Entry(where, name, kind, line), obj)
    entries = {e for _, e, _ in best.values()}
    for _, entry, obj in list(best.values()):
        if entry.kind == "class" and entry.module in METHOD_MODULES \
                and getattr(obj, "__module__", None) in (entry.module, _unalias(entry.module)):
            entries.update(_methods(entry, obj))
    return sorted(entries)


def _unalias(module: str) -> str:
    return next((k for k, v in ALIASES.items() if v == module), module)


def _methods(owner: Entry, cls: object) -> Iterator[Entry]:
    """Public methods (and properties) defined on ``cls`` itself, with a docstring of their own."""
    bases = [b for b in getattr(cls, "__mro__", ())[1:]]
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        func = value.__func__ if isinstance(value, (classmethod, staticmethod)) else value
        if not (inspect.isroutine(func) or isinstance(func, property)):
            continue
        doc = getattr(func, "__doc__", None)
        if any(getattr(getattr(b, name, None), "__doc__", None) == doc for b in bases):
            continue  # an override that only repeats the base class's docstring
        line = first_sentence(doc)
        if line is not None:
            yield Entry(owner.module, f"{owner.name}.{name}", "method", line)


# -- embedding on the host --------------------------------------------------------------------------------


def host_encoder(encoder_dir: str | os.PathLike[str], max_length: int = MAX_TOKENS) -> Any:
    """A SentenceEncoder for ``encoder_dir`` on the reference backend in float32 (fast enough for a corpus)."""
    from ..models import SentenceEncoder

    return SentenceEncoder.load(encoder_dir, backend="reference", max_length=max_length, precision="float32")


def embed(
    encoder_dir: str | os.PathLike[str],
    texts: Sequence[str],
    batch_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """float32 ``[len(texts), dim]`` embeddings of ``texts`` (rows L2-normalized), in chunks for ``progress``."""
    enc = host_encoder(encoder_dir)
    rows = np.zeros((len(texts), enc.dimension), dtype=np.float32)
    chunk = batch_size * 4
    for start in range(0, len(texts), chunk):
        part = texts[start : start + chunk]
        rows[start : start + len(part)] = enc.encode(part, batch_size=batch_size).numpy()
        if progress is not None:
            progress(start + len(part), len(texts))
    return rows


# -- building and reading a corpus ---------------------------------------------------------------------------


def _file_sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def build_corpus(
    encoder_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    modules: Collection[str] | None = None,
    limit: int | None = None,
    force: bool = False,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Collect the stdlib entries, embed them with the encoder in ``encoder_dir`` and write ``out_dir``.

    Skipped (``"cached": True``) when ``out_dir`` already holds a corpus made from the same entries, encoder
    weights and corpus version. ``modules`` keeps only entries of those modules (``os.path``, ``shutil``),
    ``limit`` the first N entries (for quick builds and tests). Returns a summary.
    """
    say = log or (lambda _msg: None)
    out = Path(out_dir)
    encoder = Path(encoder_dir)
    t0 = time.perf_counter()
    entries = collect_entries()
    if modules is not None:
        entries = [e for e in entries if e.module in modules]
    if limit is not None:
        entries = entries[:limit]
    collect_s = time.perf_counter() - t0
    digest = hashlib.sha256(json.dumps([CORPUS_VERSION, MAX_TOKENS] + [list(e.__dict__.values()) for e in entries])
                            .encode()).hexdigest()
    weights = {p.name: _file_sha256(p) for p in sorted(encoder.glob("*.safetensors"))}
    stamp = {"entries_sha256": digest, "encoder_weights": weights}
    old = read_corpus_manifest(out) if not force else None
    if old is not None and old.get("build") == stamp and (out / EMBEDDINGS_FILE).is_file():
        return {**summary_of(old, out), "cached": True}
    say(f"embedding {len(entries)} stdlib docstring lines with numpy (float32) ...")
    t1 = time.perf_counter()
    last = [t1]

    def progress(done: int, total: int) -> None:
        if time.perf_counter() - last[0] > 5 or done == total:
            last[0] = time.perf_counter()
            say(f"  {done}/{total} lines, {done / (last[0] - t1):.0f} lines/s")

    matrix = embed(encoder, [e.text() for e in entries], progress=progress)
    embed_s = time.perf_counter() - t1
    out.mkdir(parents=True, exist_ok=True)
    (out / EMBEDDINGS_FILE).write_bytes(matrix.astype("<f2").tobytes())
    manifest_meta = json.loads((encoder / "encoder.json").read_text())
    manifest = {
        "format": FORMAT,
        "version": 1,
        "title": "Python standard library: first docstring sentence of each public function, class and method",
        "python": sys.version.split()[0],
        "model": manifest_meta.get("model"),
        "count": len(entries),
        "dimension": int(matrix.shape[1]),
        "dtype": "float16",
        "embeddings": EMBEDDINGS_FILE,
        "embeddings_sha256": hashlib.sha256((out / EMBEDDINGS_FILE).read_bytes()).hexdigest(),
        "embedded_as": "last name component + ': ' + line",
        "max_tokens": MAX_TOKENS,
        "build": stamp,
        "timings": {"collect_s": round(collect_s, 2), "embed_s": round(embed_s, 2)},
        "columns": ["module", "name", "kind", "line"],
        "entries": [[e.module, e.name, e.kind, e.line] for e in entries],
    }
    (out / CORPUS_FILE).write_text(json.dumps(manifest, ensure_ascii=False, separators=(",", ":")) + "\n")
    return {**summary_of(manifest, out), "cached": False}


def read_corpus_manifest(out_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The ``corpus.json`` in ``out_dir``, or None when it is missing or not a corpus."""
    try:
        data = json.loads((Path(out_dir) / CORPUS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def summary_of(manifest: dict[str, Any], out: Path) -> dict[str, Any]:
    """The facts about a written corpus that ``webinfer demo`` prints."""
    return {
        "path": os.fspath(out),
        "count": manifest["count"],
        "dimension": manifest["dimension"],
        "python": manifest.get("python"),
        "bytes": (out / EMBEDDINGS_FILE).stat().st_size + (out / CORPUS_FILE).stat().st_size,
        **manifest.get("timings", {}),
    }


def load_corpus(out_dir: str | os.PathLike[str]) -> tuple[list[Entry], np.ndarray]:
    """The entries and float32 ``[count, dim]`` embeddings of a written corpus (for host-side checks)."""
    manifest = read_corpus_manifest(out_dir)
    if manifest is None:
        raise FileNotFoundError(f"no {CORPUS_FILE} in {os.fspath(out_dir)}")
    raw = (Path(out_dir) / manifest["embeddings"]).read_bytes()
    matrix = np.frombuffer(raw, dtype="<f2").astype(np.float32).reshape(manifest["count"], manifest["dimension"])
    return [Entry(*row) for row in manifest["entries"]], matrix


__all__ = [
    "CORPUS_FILE", "EMBEDDINGS_FILE", "Entry", "build_corpus", "collect_entries", "embed",
    "first_sentence", "host_encoder", "load_corpus", "read_corpus_manifest",
]
