"""The format layer works without numpy, as in the browser: import, build, save, load (files and bytes)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from typing import Any

SCRIPT = textwrap.dedent(
    """
    import sys
    sys.modules["numpy"] = None  # any `import numpy` now raises ImportError
    sys.path.insert(0, {tests!r})
    import os, webinfer as wi
    from webinfer.format import load_bytes, to_bytes, to_json, from_json, SafetensorsFile
    from fmt_samples import SAMPLES
    for name, make in SAMPLES.items():
        g = make()
        wi.save(g, os.path.join({tmp!r}, name + ".json"), weights=name + ".safetensors")
        g2 = wi.load(os.path.join({tmp!r}, name + ".json"))
        assert to_json(g2) == to_json(g), name
        text, files = to_bytes(g, weights="w.safetensors")
        g3 = load_bytes(text, weights={{k: bytes(v) for k, v in files.items()}})
        assert to_json(g3) == to_json(g), name
        assert to_json(from_json(to_json(g))) == to_json(g), name
        for f in files.values():
            SafetensorsFile(f)
    assert "numpy" not in sys.modules or sys.modules["numpy"] is None
    assert wi.available_backends() == []  # no numpy: not even the reference backend
    for backend in ("reference", "auto"):
        try:
            wi.compile(g, backend=backend)
            raise AssertionError("compile without numpy worked")
        except wi.BackendError as e:
            assert "needs numpy" in str(e) and "webinfer[host]" in str(e), str(e)
    print("ok", len(SAMPLES))
    """
)


def test_save_and_load_without_numpy(tmp_path: Any) -> None:
    tests = os.path.dirname(os.path.abspath(__file__))
    code = SCRIPT.format(tests=tests, tmp=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "ok 4"
