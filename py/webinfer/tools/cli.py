"""The ``webinfer`` command.

Each subcommand is a ``register(subparsers)`` function that adds its parser and sets
``handler`` (``args -> exit code``). To add one (``convert``, ``bench``, ``conformance``,
``demo``, ``export-js``, ``build-site``), write a module with ``register`` and add a line to
:data:`COMMANDS`; keep heavy imports inside the handler so ``webinfer --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from ..backends import names
from .cmdline import (
    EXIT_HARNESS,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    Subparsers,
    add_browser_options,
    add_serve_options,
    harness_errors,
)


def _serve(args: argparse.Namespace) -> int:
    from webinfer.tools.lockfile import served_roots
    from webinfer.tools.project import Roots
    from webinfer.tools.server import serve
    from webinfer.tools.wheels import expand_wheels

    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    wheels = expand_wheels(args.wheel or ())
    with served_roots(Roots.discover(models=args.models), wheels) as roots:
        serve(roots, host=args.host, port=args.port)
    return 0


def add_wheel_option(parser: argparse.ArgumentParser) -> None:
    """``--wheel PATH`` (repeatable): the user's pure wheels, installed in the page after webinfer."""
    parser.add_argument("--wheel", action="append", metavar="PATH",
                        help="a pure-Python wheel, a folder of them or a glob, installed in the page too; repeatable")


def register_serve(subparsers: Subparsers) -> None:
    """``webinfer serve``: the pages, Pyodide, the lock, wheels and models."""
    parser = subparsers.add_parser("serve", help="serve the pages, Pyodide, wheels and models")
    add_serve_options(parser)
    parser.add_argument("--models", type=Path, help="directory served at /models/ (default: ./models)")
    add_wheel_option(parser)
    parser.set_defaults(handler=_serve)


def _run(args: argparse.Namespace) -> int:
    from webinfer.tools.harness import run_script

    if not args.script.is_file():
        print(f"webinfer run: no such file: {args.script}", file=sys.stderr)
        return EXIT_USAGE
    prelude = ""
    if args.backend:
        prelude = f"import os\nos.environ['WEBINFER_BACKEND'] = {args.backend!r}"
    return harness_errors(
        "webinfer run",
        lambda: run_script(args.script, args.browser, args.profile, args.timeout, prelude=prelude,
                           wheels=args.wheel or ()),
    )


def register_run(subparsers: Subparsers) -> None:
    """``webinfer run SCRIPT.py``: run a script inside Pyodide in headless Chromium."""
    parser = subparsers.add_parser(
        "run",
        help="run a Python script inside Pyodide in headless Chromium (exit code = the script's)",
        description="Run SCRIPT inside Pyodide with webinfer installed. Its output streams here; "
        "an exception prints the traceback and exits 1. Harness failures exit "
        f"{EXIT_HARNESS}, a timeout {EXIT_TIMEOUT}, no browser {EXIT_USAGE}.",
    )
    parser.add_argument("script", type=Path, metavar="SCRIPT.py")
    add_browser_options(parser)
    parser.add_argument("--timeout", type=float, default=300.0, metavar="S", help="seconds (default 300)")
    parser.add_argument(
        "--backend", metavar="B", help="sets os.environ['WEBINFER_BACKEND'] in the page before the script "
        f"({', '.join(names(browser=True))}, or one the script registers)"
    )
    add_wheel_option(parser)
    parser.set_defaults(handler=_run)


def _devices(args: argparse.Namespace) -> int:
    from webinfer.tools.devices import format_report, probe_devices
    from webinfer.tools.harness import Browser

    def probe() -> int:
        with Browser(browser_path=args.browser, profile=args.profile) as browser:
            report = probe_devices(browser, timeout=args.timeout)
        print(json.dumps(report, indent=2) if args.json else format_report(report))
        return 0

    return harness_errors("webinfer devices", probe)


def register_devices(subparsers: Subparsers) -> None:
    """``webinfer devices``: the browser's WebGPU adapter and WebNN contexts."""
    parser = subparsers.add_parser("devices", help="report the browser, WebGPU adapter and WebNN contexts")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_browser_options(parser)
    parser.add_argument("--timeout", type=float, default=60.0, metavar="S")
    parser.set_defaults(handler=_devices)


#: Subcommands in ``--help`` order: a register function, or the name of a module that has one.
COMMANDS: dict[str, Callable[[Subparsers], None] | str] = {
    "setup": "webinfer.tools.setup",
    "serve": register_serve,
    "run": register_run,
    "devices": register_devices,
    "export-js": "webinfer.tools.export_js",
    "convert": "webinfer.tools.convert",
    "conformance": "webinfer.tools.conformance",
    "bench": "webinfer.tools.bench.cli",
    "demo": "webinfer.tools.demo",
    "build-site": "webinfer.tools.site",
}


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, every entry of :data:`COMMANDS` registered."""
    parser = argparse.ArgumentParser(
        prog="webinfer", description="Neural-network graphs in the browser from Python: WebNN and WebGPU."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in COMMANDS.values():
        if isinstance(register, str):
            register = importlib.import_module(register).register
        register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``webinfer`` console script."""
    from webinfer.tools.project import SetupNeeded
    from webinfer.tools.wheels import WheelError

    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except (SetupNeeded, WheelError) as exc:  # nothing set up, or a wheel the page cannot install: say what to do
        print(f"webinfer {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ModuleNotFoundError as exc:  # a host tool without the host extra: say how to get it, not a traceback
        if (exc.name or "").split(".")[0] not in HOST_EXTRA:
            raise
        print(f"webinfer {args.command}: needs {exc.name}, which is not installed; "
              "pip install 'webinfer[host]' (the host tools' extra)", file=sys.stderr)
        return EXIT_USAGE
    return code


#: Top-level modules of the ``host`` extra (pyproject.toml): missing ones get an install hint, not a traceback.
HOST_EXTRA = frozenset({"numpy", "scipy", "starlette", "uvicorn", "playwright", "pyodide_lock", "brotli"})


if __name__ == "__main__":
    raise SystemExit(main())
