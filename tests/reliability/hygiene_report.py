"""Measure live GPU buffers, MLTensors, proxies and the JS heap over many runs and compile/close cycles.

    .venv/bin/python tests/reliability/hygiene_report.py [--runs 1000] [--cycles 100] [--backends webgpu,webnn,hybrid]

Prints one JSON object per backend (see hygiene.py for what each count is) and exits 1 if anything grew.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hygiene import BACKENDS, SETUP, js_heap, leaks, measure  # noqa: E402

from webinfer.tools.harness import Browser  # noqa: E402

HEAP_NOISE = 64 * 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--cycles", type=int, default=100)
    ap.add_argument("--backends", default=",".join(BACKENDS))
    ap.add_argument("--browser", help="Chromium executable (default: found as the harness finds it)")
    args = ap.parse_args()
    ok = True
    with Browser(browser_path=args.browser) as browser:
        page = browser.open_page(on_output=lambda stream, text: print(text, end="", file=sys.stderr))
        page.eval(SETUP, timeout=600)
        for backend in args.backends.split(","):
            m = measure(lambda code: page.eval(code, timeout=1800), lambda: js_heap(page.cdp),
                        backend, args.runs, args.cycles)
            m["leaks"] = leaks(m, HEAP_NOISE)
            m["browser"] = browser.version
            ok = ok and not m["leaks"]
            print(json.dumps(m), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
