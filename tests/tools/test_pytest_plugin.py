"""The pytest plugin's contract: browser tests skip without Chromium, unless --require-browser."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from webinfer.tools.harness import Browser

BROWSER_TEST = """
def test_needs_the_page(browser_py):
    assert browser_py.run("1 + 1") == 2
"""
HOST_TEST = """
def test_plain():
    assert True
"""


def run_pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WEBINFER_CHROMIUM": str(folder / "no-such-chromium")}
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", str(folder), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=folder, timeout=120, check=False)


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    (tmp_path / "test_browser.py").write_text(BROWSER_TEST)
    (tmp_path / "test_host.py").write_text(HOST_TEST)
    return tmp_path


def test_without_chromium_browser_tests_skip_with_the_reason(suite: Path) -> None:
    done = run_pytest(suite)
    assert done.returncode == 0, done.stdout
    assert "1 passed, 1 skipped" in done.stdout
    assert "no Chromium for browser tests" in done.stdout and "no-such-chromium" in done.stdout


def test_require_browser_turns_the_skip_into_a_failure(suite: Path) -> None:
    done = run_pytest(suite, "--require-browser")
    assert done.returncode == 1
    assert "browser test skipped, but --require-browser is set" in done.stdout
    assert "1 passed, 1 error" in done.stdout  # the fixture's skip, at setup, becomes an error


def test_require_browser_fails_a_run_with_no_browser_test(suite: Path) -> None:
    done = run_pytest(suite, "--require-browser", "-m", "not browser")
    assert done.returncode == 1
    assert "no browser test ran" in done.stdout


def test_fixture_users_are_marked_browser(suite: Path) -> None:
    done = run_pytest(suite, "-m", "browser", "--collect-only", "-q")
    assert "test_browser.py::test_needs_the_page" in done.stdout
    assert "test_host.py" not in done.stdout


@pytest.mark.parametrize(
    "how",
    [("-p", "webinfer.tools.pytest_plugin"), ("-p", "webinfer"), ("conftest",), ("-p", "no:webinfer")],
    ids=["-p module", "-p entry point", "pytest_plugins in conftest", "-p no:webinfer"],
)
def test_the_plugin_loads_once_however_it_is_named(suite: Path, how: tuple[str, ...]) -> None:
    args: tuple[str, ...] = how
    if how == ("conftest",):
        (suite / "conftest.py").write_text('pytest_plugins = ["webinfer.tools.pytest_plugin"]\n')
        args = ()
    done = run_pytest(suite, *args)
    assert "already registered" not in done.stdout + done.stderr
    if how == ("-p", "no:webinfer"):
        assert "fixture 'browser_py' not found" in done.stdout  # turned off
    else:
        assert done.returncode == 0, done.stdout + done.stderr
        assert "1 passed, 1 skipped" in done.stdout


def test_settings_come_from_the_ini_file_and_a_bad_wheel_is_a_usage_error(suite: Path) -> None:
    (suite / "dist").mkdir()
    (suite / "dist" / "native-1.0-cp311-cp311-linux_x86_64.whl").write_bytes(b"PK\5\6" + b"\0" * 18)
    (suite / "pytest.ini").write_text("[pytest]\nwebinfer_wheels = dist\n")
    done = run_pytest(suite)
    assert done.returncode == 4, done.stdout + done.stderr  # usage error, before any test
    assert "webinfer wheels: native-1.0-cp311-cp311-linux_x86_64.whl is not a pure-Python wheel" in done.stderr
    assert "Traceback" not in done.stderr
    (suite / "pytest.ini").write_text("[pytest]\nwebinfer_profile = gpu\n")
    done = run_pytest(suite)
    assert done.returncode == 4 and "webinfer_profile = gpu: choose one of swiftshader, hardware" in done.stderr
    (suite / "pytest.ini").write_text("[pytest]\nwebinfer_require_browser = true\n")
    assert run_pytest(suite).returncode == 1  # as --require-browser: the skip becomes a failure


def test_options_override_ini_keys(pytestconfig: pytest.Config) -> None:
    from webinfer.tools.pytest_plugin import setting

    assert setting(pytestconfig, "timeout") == 120.0
    assert setting(pytestconfig, "profile") in ("swiftshader", "hardware")
    assert setting(pytestconfig, "wheels") is None and setting(pytestconfig, "backend") is None


@pytest.mark.browser
def test_the_backend_setting_is_set_in_the_page(webinfer_browser: Browser) -> None:
    from webinfer.tools.pytest_plugin import BrowserPy

    session = BrowserPy(webinfer_browser, backend="webnn", timeout=60)
    try:
        assert session.run("import os\nos.environ.get('WEBINFER_BACKEND')") == "webnn"
    finally:
        session.close()
