"""What the ``webinfer`` subcommands share: exit codes, common options, and the harness's failures as exit codes.

Kept free of heavy imports (the harness and Chromium modules load only when a command runs), so that
``webinfer --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

Subparsers = Any  # argparse's _SubParsersAction is private

EXIT_FAILED = 1
EXIT_USAGE = 2  # also: no browser
EXIT_HARNESS = 3
EXIT_TIMEOUT = 124

PROFILES = ("swiftshader", "hardware")


def add_browser_options(parser: argparse.ArgumentParser) -> None:
    """``--browser PATH`` and ``--profile``, for commands that open headless Chromium."""
    parser.add_argument("--browser", metavar="PATH", help="Chromium executable (else WEBINFER_CHROMIUM, then found)")
    parser.add_argument("--profile", choices=PROFILES, default="swiftshader",
                        help="swiftshader: WebGPU on the CPU, works anywhere (default); hardware: the real GPU/NPU")


def add_serve_options(parser: argparse.ArgumentParser) -> None:
    """``--host`` and ``--port`` of the local server (loopback by default)."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=8000)


def add_demo_build_options(parser: argparse.ArgumentParser) -> None:
    """``--build-dir``, ``--modules`` and ``--rebuild``: where and how the demo data (model + corpus) is built."""
    parser.add_argument("--build-dir", type=Path, metavar="DIR",
                        help="where the model and corpus are built (default: .cache/demo in a checkout, else cache)")
    parser.add_argument("--modules", metavar="A,B", help="only these modules in the corpus (a quick build)")
    parser.add_argument("--rebuild", action="store_true", help="convert and embed again even if current")


def comma_list(text: str | None) -> list[str] | None:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``; None (or empty) -> None, meaning "all"."""
    return [part.strip() for part in text.split(",") if part.strip()] if text else None


def harness_errors(prog: str, run: Callable[[], int]) -> int:
    """``run()``; a missing browser or set-up, a wheel the page cannot install, a harness failure or a timeout
    printed as ``prog: message`` and turned into :data:`EXIT_USAGE`, :data:`EXIT_HARNESS` or :data:`EXIT_TIMEOUT`."""
    from .chromium import BrowserNotFound
    from .harness import HarnessError, HarnessTimeout
    from .project import SetupNeeded
    from .wheels import WheelError

    try:
        return run()
    except (BrowserNotFound, SetupNeeded, WheelError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except HarnessTimeout as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_TIMEOUT
    except HarnessError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_HARNESS


__all__ = [
    "EXIT_FAILED", "EXIT_HARNESS", "EXIT_TIMEOUT", "EXIT_USAGE", "PROFILES", "Subparsers", "add_browser_options",
    "add_demo_build_options", "add_serve_options", "comma_list", "harness_errors",
]
