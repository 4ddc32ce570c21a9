"""Measure page open → ``import webinfer`` in the browser, cold and warm.

``python -m webinfer.tools.boottime [--pages N] [--browser PATH] [--profile P]`` starts one
Chromium with a new (empty) profile and opens N pages one after another: the first boots cold
(empty HTTP and wasm code caches), the rest warm. Prints JSON with every page's timings.
"""

from __future__ import annotations

import argparse
import json
import statistics
from typing import Any

from webinfer.tools.harness import Browser


def measure(pages: int = 4, browser_path: str | None = None, profile: str = "swiftshader") -> dict[str, Any]:
    """Boot ``pages`` pages in one fresh browser; cold is the first, warm the median of the rest."""
    runs = []
    with Browser(browser_path=browser_path, profile=profile) as browser:
        for _ in range(pages):
            page = browser.open_page()
            runs.append(page.timings)
            page.close()
        version = browser.version
    warm = [run["openToImport"] for run in runs[1:]]
    return {
        "browser": version,
        "profile": profile,
        "coldSeconds": round(runs[0]["openToImport"], 2),
        "warmSeconds": round(statistics.median(warm), 2) if warm else None,
        "pages": runs,
    }


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=4, help="pages to open (first cold, rest warm)")
    parser.add_argument("--browser", help="Chromium executable")
    parser.add_argument("--profile", default="swiftshader", choices=("swiftshader", "hardware"))
    args = parser.parse_args(argv)
    print(json.dumps(measure(max(1, args.pages), args.browser, args.profile), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
