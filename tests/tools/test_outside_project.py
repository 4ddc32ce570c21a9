"""webinfer as a tool for another project, used from outside this checkout, as a new user would.

In a temporary folder: the webinfer wheel is built from this checkout's sources; a fresh virtual environment
(``python -m venv``, nothing from this one) gets it with the ``host`` extra and pytest from the package index;
a tiny pure package (``tinypkg``: a pyproject and one module that uses webinfer) is built into a wheel; then,
with that environment's commands only: ``webinfer setup``, ``webinfer devices --json``, ``webinfer run
hello.py --wheel dist/tinypkg-*.whl``, and ``pytest`` on tinypkg's own suite, whose two tests import tinypkg in
the page and run it on WebGPU and on WebNN, checking the adapter and the context that really ran it.

``webinfer setup`` uses the usual cache (``WEBINFER_CACHE``, else ``~/.cache/webinfer``), so what this
checkout's ``make setup`` unpacked there (Chromium) and what npm's cache holds (the Pyodide tarball) is
reused, not downloaded again. ``WEBINFER_OUTSIDE_EMPTY_CACHE=1`` runs it with an empty cache and no npm
cache instead: everything is then downloaded from the registries (about 77 MB).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]

TINYPKG = '''"""A tiny third-party package that uses webinfer: doubles numbers on a backend and says what ran it."""

import webinfer as wi


def double(values, backend):
    g = wi.GraphBuilder()
    x = g.input("x", "float32", [len(values)])
    sess = wi.compile(g.build({"y": g.add(x, x)}), backend=backend)
    try:
        out = sess.run({"x": wi.Tensor(values, dtype="float32")})["y"]
        info = sess.info()
        return {"values": out.tolist(), "backend": out.backend, "device": info["device"], "stats": info["stats"],
                "lowered": info.get("webnn", {}).get("nodes")}
    finally:
        sess.close()
'''

TINYPKG_TESTS = '''import sys


def test_double_on_webgpu(browser_py):
    r = browser_py.run("import tinypkg; tinypkg.double([1.5, -2.0, 3.0], 'webgpu')")
    assert r["values"] == [3.0, -4.0, 6.0] and r["backend"] == "webgpu"
    device = r["device"]  # the adapter that really ran it: SwiftShader under the default profile
    assert device["type"] == "gpu" and device["adapter"]["architecture"] == "swiftshader", device
    assert device["is_fallback_adapter"] is True and device["lost"] is None
    print("webgpu device:", device["name"], file=sys.stderr)


def test_double_on_webnn(browser_py):
    r = browser_py.run("import tinypkg; tinypkg.double([1.5, -2.0, 3.0], 'webnn')")
    assert r["values"] == [3.0, -4.0, 6.0] and r["backend"] == "webnn"
    assert r["device"]["type"] == "webnn" and r["device"]["ops_in_limits"] > 0, r["device"]
    assert r["stats"]["graphs_built"] == 1 and r["lowered"] == {"add_0": {"op": "add", "webnn": "add"}}
    where = browser_py.run("import tinypkg, webinfer; [tinypkg.__file__, webinfer.__file__]")
    assert all(path.startswith("/lib/python3") for path in where), where  # installed in the page
'''

HELLO = '''import os, sys, tinypkg, webinfer
print("hello from", sys.platform, "webinfer", webinfer.__version__, "backend", os.environ["WEBINFER_BACKEND"])
print("doubled", tinypkg.double([1, 2, 3], os.environ["WEBINFER_BACKEND"])["values"])
'''


@dataclass
class Outside:
    """The temporary folder, its fresh environment and what each step took."""

    folder: Path
    env: dict[str, str]
    seconds: dict[str, float] = field(default_factory=dict)
    setup_output: str = ""

    @property
    def bin(self) -> Path:
        return self.folder / "venv" / "bin"

    def run(self, step: str, *command: str | Path, timeout: float = 600, cwd: Path | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        start = time.perf_counter()
        done = subprocess.run([str(c) for c in command], cwd=cwd or self.folder / "tinypkg", env=env or self.env,
                              capture_output=True, text=True, timeout=timeout, check=False)
        self.seconds[step] = round(time.perf_counter() - start, 1)
        return done


def check(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, f"{done.args} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def write_tinypkg(folder: Path) -> None:
    (folder / "src" / "tinypkg").mkdir(parents=True)
    (folder / "tests").mkdir()
    (folder / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
        '[project]\nname = "tinypkg"\nversion = "0.1.0"\ndependencies = ["webinfer"]\n\n'
        '[tool.pytest.ini_options]\nwebinfer_wheels = ["dist"]\naddopts = "-p no:cacheprovider"\n'
    )
    (folder / "src" / "tinypkg" / "__init__.py").write_text(TINYPKG)
    (folder / "tests" / "test_tinypkg.py").write_text(TINYPKG_TESTS)
    (folder / "hello.py").write_text(HELLO)


def clean_env(folder: Path) -> dict[str, str]:
    """This process's environment without anything that points at this checkout or its virtual environment."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WEBINFER_ROOT", "WEBINFER_PYODIDE", "PYTHON", "VIRTUAL_ENV", "PYTEST"))}
    env["PATH"] = os.pathsep.join([str(folder / "venv" / "bin"), *(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(ROOT)))])
    if os.environ.get("WEBINFER_OUTSIDE_EMPTY_CACHE"):
        env["WEBINFER_CACHE"] = str(folder / "cache")
        env["npm_config_cache"] = str(folder / "npm-cache")
    return env


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outside]:
    folder = tmp_path_factory.mktemp("outside")
    here = Outside(folder, clean_env(folder))
    # The webinfer wheel, built from a copy of the sources (no build/ or egg-info left in the checkout).
    source = folder / "webinfer-src"
    shutil.copytree(ROOT / "py", source / "py", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    check(here.run("build the webinfer wheel", sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                   "--no-build-isolation", "-w", folder / "wheelhouse", source, cwd=folder, env=dict(os.environ)))
    (wheel,) = (folder / "wheelhouse").glob("webinfer-*.whl")
    # A fresh environment. pip runs from here (--python) to spare the venv's ensurepip; it installs from the index.
    check(here.run("python -m venv", sys.executable, "-m", "venv", "--without-pip", folder / "venv", cwd=folder))
    check(here.run("pip install webinfer[host] pytest", sys.executable, "-m", "pip", "--python", here.bin / "python",
                   "install", "-q", "--no-compile", f"{wheel}[host]", "pytest", cwd=folder, env=dict(os.environ)))
    write_tinypkg(folder / "tinypkg")
    check(here.run("build tinypkg's wheel", sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                   "--no-build-isolation", "-w", folder / "tinypkg" / "dist", folder / "tinypkg",
                   env=dict(os.environ)))
    done = check(here.run("webinfer setup", here.bin / "webinfer", "setup"))
    here.setup_output = done.stdout
    yield here
    print(f"\noutside project, seconds per step: {json.dumps(here.seconds)}")
    for line in here.setup_output.splitlines():  # this environment's wheels folder in the cache goes with it
        if line.startswith("lock: ") and "/envs/" in line:
            shutil.rmtree(Path(line.removeprefix("lock: ")).parent, ignore_errors=True)


def test_setup_serves_a_wheel_of_the_installed_package(outside: Outside) -> None:
    text = outside.setup_output
    assert "checkout" not in text.splitlines()[0]  # the installed layout, not this checkout's
    assert "Pyodide 314.0.7: " in text and "Chromium: " in text
    assert "a wheel of the installed package" in text and text.splitlines()[-1].startswith("ready in")
    again = check(outside.run("webinfer setup (again)", outside.bin / "webinfer", "setup")).stdout
    assert "downloading" not in again and "fetching" not in again


def test_devices_json(outside: Outside) -> None:
    done = check(outside.run("webinfer devices --json", outside.bin / "webinfer", "devices", "--json"))
    report = json.loads(done.stdout)
    assert report["crossOriginIsolated"] and report["jspi"]
    assert report["webgpu"]["available"] and report["webnn"]["contexts"]["cpu"]["created"]
    assert report["browser"]["version"].startswith("HeadlessChrome/")


def test_run_a_script_with_the_third_party_wheel(outside: Outside) -> None:
    done = check(outside.run("webinfer run hello.py --wheel", outside.bin / "webinfer", "run", "hello.py", "--wheel",
                             "dist/tinypkg-0.1.0-py3-none-any.whl", "--backend", "webnn"))
    assert "hello from emscripten webinfer 0.1.0 backend webnn" in done.stdout
    assert "doubled [2.0, 4.0, 6.0]" in done.stdout


def test_the_packages_own_suite_runs_in_the_page(outside: Outside) -> None:
    done = outside.run("pytest (tinypkg's suite)", outside.bin / "pytest", "-q", "-rA", "--require-browser")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout and "webgpu device: google swiftshader" in done.stdout + done.stderr
