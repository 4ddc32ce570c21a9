"""``webinfer build-site DIR``: the demos and the REPL as plain static files that any static host serves.

    webinfer build-site site/          # then e.g.: python -m http.server -d site 8000

Layout (all URLs relative, so the site works from a subdirectory too)::

    index.html classify.html repl.html devices.html      the pages (webinfer/web/, without the test harness),
    *.mjs *.css *.py images/                             their scripts, Python and the classify page's sample photos
    webinfer-config.json                                  where Pyodide, the lock, the wheel and models are
    pyodide/<version>/                                    the Pyodide runtime files
    wheels/                                               pyodide-lock.json, micropip, packaging, webinfer
    models/                                               demo.json, minilm/, stdlib/, efficientnet-lite0/

No special headers are needed: the pages do not need cross-origin isolation (JSPI works without it; only
SharedArrayBuffer and fine timer precision would). The Cache API needs a secure context (https or
localhost); elsewhere the page downloads the weights each time and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

from .cmdline import Subparsers, add_demo_build_options, comma_list
from .project import LOCK_NAME, Roots

#: Pyodide dist files the pages load (the rest of the npm package is docs, types and source maps).
PYODIDE_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "package.json")
#: Pages left out: the harness is driven by the host's test tools, not by people.
EXCLUDED_PAGES = ("harness.html", "harness.mjs")
#: Folders of the pages copied whole (the classify page's sample photos).
PAGE_FOLDERS = ("images",)
CONFIG_NAME = "webinfer-config.json"


class SiteError(RuntimeError):
    """The site cannot be built (a missing input, or an output directory that is not ours to replace)."""


def _copy(src: Path, dst: Path) -> int:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst.stat().st_size


def _lock_wheels(roots: Roots) -> list[str]:
    lock = json.loads((roots.wheels / LOCK_NAME).read_text())
    return sorted(str(p["file_name"]) for p in lock["packages"].values())


def build_site(
    out_dir: str | os.PathLike[str],
    *,
    roots: Roots | None = None,
    build_dir: str | os.PathLike[str] | None = None,
    modules: Collection[str] | None = None,
    rebuild: bool = False,
    log: Any = None,
) -> dict[str, Any]:
    """Write the static site into ``out_dir`` (replacing a site built there before); returns a summary.

    ``roots`` gives the pages, Pyodide dist and wheels (default: this checkout); the demo data is built
    (or reused) in ``build_dir`` by :func:`webinfer.tools.demo.build_demo_data`.
    """
    from .demo import DEMO_MANIFEST, build_demo_data

    roots = roots or Roots.discover()
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not (out / CONFIG_NAME).is_file():
        raise SiteError(f"{out} exists and is not a site built by webinfer (no {CONFIG_NAME}); pick an empty directory")
    version = roots.pyodide_version()
    wheel = roots.webinfer_wheel()
    data = build_demo_data(build_dir, modules=modules, force=rebuild, log=log)
    if out.exists():
        shutil.rmtree(out)
    sizes: dict[str, int] = {"pages": 0, "pyodide": 0, "wheels": 0, "models": 0}
    for page in sorted(roots.web.iterdir()):
        if page.is_file() and page.name not in EXCLUDED_PAGES and not page.name.startswith("."):
            sizes["pages"] += _copy(page, out / page.name)
    for folder in PAGE_FOLDERS:
        for path in sorted((roots.web / folder).iterdir()):
            if path.is_file() and not path.name.startswith("."):
                sizes["pages"] += _copy(path, out / folder / path.name)
    for name in PYODIDE_FILES:
        sizes["pyodide"] += _copy(roots.pyodide / name, out / "pyodide" / version / name)
    for name in [LOCK_NAME, *_lock_wheels(roots)]:
        sizes["wheels"] += _copy(roots.wheels / name, out / "wheels" / name)
    models = Path(data["build_dir"])
    demo = json.loads((models / DEMO_MANIFEST).read_text())
    for name in [DEMO_MANIFEST, *demo["files"]]:
        sizes["models"] += _copy(models / name, out / "models" / name)
    config = {
        "pyodideIndexURL": f"pyodide/{version}/",
        "lockFileURL": f"wheels/{LOCK_NAME}",
        "wheel": f"wheels/{wheel}",
        "modelsURL": "models/",
    }
    (out / CONFIG_NAME).write_text(json.dumps(config, indent=1) + "\n")
    (out / ".nojekyll").write_text("")  # GitHub Pages: serve files as they are
    return {"out": os.fspath(out.resolve()), "bytes": sizes, "total_bytes": sum(sizes.values()), "config": config,
            "corpus_lines": data["corpus"]["count"], "classifier": demo.get("classifier"),
            **({"classifier_missing": demo["classifier_missing"]} if demo.get("classifier_missing") else {})}


def _handler(args: argparse.Namespace) -> int:
    from ..errors import WebinferError

    try:
        summary = build_site(args.dir, build_dir=args.build_dir, modules=comma_list(args.modules),
                             rebuild=args.rebuild, log=lambda msg: print(msg, file=sys.stderr))
    except (SiteError, WebinferError, OSError, ValueError) as exc:
        print(f"webinfer build-site: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        b = summary["bytes"]
        print(f"wrote {summary['out']} ({summary['total_bytes'] / 1e6:.1f} MB: pages {b['pages'] / 1e3:.0f} kB, "
              f"Pyodide {b['pyodide'] / 1e6:.1f} MB, wheels {b['wheels'] / 1e3:.0f} kB, "
              f"models + corpus {b['models'] / 1e6:.1f} MB; {summary['corpus_lines']} corpus lines)")
        if summary.get("classifier_missing"):
            print(f"note: no classify page model: {summary['classifier_missing']}")
        print(f"serve it with any static server, e.g.: python -m http.server -d {args.dir} 8000")
    return 0


def register(subparsers: Subparsers) -> None:
    """``webinfer build-site DIR``: the demo + REPL as static files."""
    parser = subparsers.add_parser(
        "build-site",
        help="write the demos and REPL as plain static files (pages, Pyodide, wheels, models, corpus)",
        description="Writes DIR so that any static file server can serve the demos (search, classify) and the "
        "REPL: no special headers needed. Builds the demo data first when needed (as `webinfer demo` does).",
    )
    parser.add_argument("dir", type=Path, metavar="DIR", help="output directory (replaced if it holds a built site)")
    add_demo_build_options(parser)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(handler=_handler)


__all__ = ["SiteError", "build_site", "register"]
