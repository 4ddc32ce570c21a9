"""The pytest plugin's contract: browser tests skip without Chromium, unless --require-browser."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
