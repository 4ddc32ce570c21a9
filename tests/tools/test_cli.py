"""The ``webinfer`` command: parser layout, ``run`` exit codes and output, ``devices --json``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from webinfer.tools.cli import COMMANDS, build_parser, main
from webinfer.tools.harness import Browser


def test_subcommands() -> None:
    assert {"setup", "serve", "run", "devices"} <= set(COMMANDS)
    args = build_parser().parse_args(["run", "x.py", "--wheel", "a.whl", "--wheel", "dist"])
    assert args.wheel == ["a.whl", "dist"]
    assert build_parser().parse_args(["setup", "--no-browser"]).no_browser
    args = build_parser().parse_args(["run", "x.py", "--profile", "hardware", "--timeout", "5", "--backend", "webnn"])
    assert (args.script, args.profile, args.timeout, args.backend) == (Path("x.py"), "hardware", 5.0, "webnn")
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port) == ("127.0.0.1", 8000)


def test_bad_profile_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["devices", "--profile", "gpu"])
    assert exit_.value.code == 2


def test_run_missing_script(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(tmp_path / "missing.py")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_a_host_tool_without_the_host_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as in `pip install webinfer` without [host]
    monkeypatch.delitem(sys.modules, "webinfer.tools.server", raising=False)
    assert main(["serve", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "webinfer serve: needs uvicorn" in err and "pip install 'webinfer[host]'" in err and "Traceback" not in err


def test_run_refuses_a_wheel_that_is_not_pure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "s.py").write_text("print(1)\n")
    native = tmp_path / "native-1.0-cp311-cp311-manylinux_2_28_x86_64.whl"
    native.write_bytes(b"PK\5\6" + b"\0" * 18)
    assert main(["run", str(tmp_path / "s.py"), "--wheel", str(native)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"webinfer run: {native.name} is not a pure-Python wheel (platform tag manylinux_2_28_x86_64")
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("command", "code"),
    [(["devices"], 2), (["run", "SCRIPT"], 2), (["serve", "--port", "1"], 2), (["demo", "--query", "x"], 2),
     (["build-site", "SITE"], 1)],
    ids=lambda v: v if isinstance(v, int) else " ".join(v),
)
def test_with_nothing_set_up_every_command_says_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: list[str], code: int
) -> None:
    from webinfer.tools import project

    monkeypatch.setattr(project, "checkout_root", lambda: None)  # as installed from the wheel, in an empty folder
    monkeypatch.setenv("WEBINFER_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("WEBINFER_PYODIDE", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "SCRIPT").write_text("print(1)\n")
    assert main(command) == code
    err = capsys.readouterr().err
    assert f"webinfer {command[0]}" in err and "no Pyodide runtime" in err and err.rstrip().endswith(
        "run `webinfer setup`")
    assert "Traceback" not in err


def webinfer(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "webinfer.tools.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)


@pytest.fixture(scope="module")
def scripts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scripts")
    (folder / "hello.py").write_text(
        "import os, sys, webinfer\n"
        "print('hello from', sys.platform, 'webinfer', webinfer.__version__)\n"
        "print('backend', os.environ.get('WEBINFER_BACKEND'))\n"
    )
    (folder / "fails.py").write_text("print('before')\n\ndef f():\n    raise RuntimeError('it broke')\n\nf()\n")
    return folder


@pytest.mark.browser
def test_run_prints_and_exits_0(webinfer_browser: Browser, scripts: Path) -> None:
    done = webinfer("run", str(scripts / "hello.py"), "--browser", str(webinfer_browser.path), "--backend", "webnn")
    assert done.returncode == 0, done.stderr
    assert "hello from emscripten webinfer" in done.stdout
    assert "backend webnn" in done.stdout


@pytest.mark.browser
def test_run_exits_1_with_the_traceback(webinfer_browser: Browser, scripts: Path) -> None:
    done = webinfer("run", str(scripts / "fails.py"), "--browser", str(webinfer_browser.path))
    assert done.returncode == 1
    assert "before" in done.stdout
    assert f'File "{scripts / "fails.py"}", line 4, in f' in done.stderr
    assert "RuntimeError: it broke" in done.stderr


@pytest.mark.browser
def test_devices_json_shows_swiftshader_and_webnn_cpu(webinfer_browser: Browser) -> None:
    done = webinfer("devices", "--json", "--browser", str(webinfer_browser.path))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["browser"]["profile"] == "swiftshader"
    assert report["crossOriginIsolated"] is True and report["jspi"] is True
    assert report["webgpu"]["available"] is True
    assert report["webgpu"]["adapter"]["architecture"] == "swiftshader"
    assert report["webgpu"]["limits"]["maxStorageBufferBindingSize"] > 0
    cpu = report["webnn"]["contexts"]["cpu"]
    assert cpu["created"] is True, cpu
    assert cpu["limits"]["opCount"] > 50
    assert "matmul" in cpu["limits"]["ops"]
    assert set(report["webnn"]["contexts"]) == {"cpu", "gpu", "npu", "default", "gpuDevice"}
