"""Wheels for the page: the purity check on the user's wheels, and webinfer's wheel rebuilt from its installed files."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from pathlib import Path

import pytest

import webinfer
from webinfer.tools.wheels import WheelError, WheelName, check_pure, expand_wheels, installed_wheel


def make_wheel(folder: Path, filename: str) -> Path:
    path = folder / filename
    with zipfile.ZipFile(path, "w") as whl:
        whl.writestr("pkg/__init__.py", "")
    return path


@pytest.mark.parametrize(
    ("filename", "reason"),
    [
        ("numpy-2.4.0-cp311-cp311-manylinux_2_28_x86_64.whl", "platform tag manylinux_2_28_x86_64"),
        ("numpy-2.4.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl", "platform tag pyemscripten_2026_0_wasm32"),
        ("odd-1.0-cp311-abi3-any.whl", "ABI tag abi3"),
        ("old-1.0-py2-none-any.whl", "python tag py2: not for Python 3"),
    ],
)
def test_a_wheel_that_is_not_pure_is_refused_with_the_reason(tmp_path: Path, filename: str, reason: str) -> None:
    with pytest.raises(WheelError) as error:
        check_pure(make_wheel(tmp_path, filename))
    message = str(error.value)
    assert message.startswith(f"{filename} is not a pure-Python wheel ({reason}")
    assert "py3-none-any" in message


@pytest.mark.parametrize(
    "filename", ["a-1.0-py3-none-any.whl", "a-1.0-1-py2.py3-none-any.whl", "a-1.0-py312-none-any.whl"]
)
def test_pure_wheels_pass(tmp_path: Path, filename: str) -> None:
    assert check_pure(make_wheel(tmp_path, filename)).name == filename


def test_not_a_wheel(tmp_path: Path) -> None:
    with pytest.raises(WheelError, match="not a wheel file name"):
        check_pure(tmp_path / "pkg-1.0.tar.gz")
    with pytest.raises(WheelError, match="no such wheel"):
        check_pure(tmp_path / "a-1.0-py3-none-any.whl")
    (tmp_path / "b-1.0-py3-none-any.whl").write_text("not a zip")
    with pytest.raises(WheelError, match="not a zip file"):
        check_pure(tmp_path / "b-1.0-py3-none-any.whl")


def test_wheel_name_parts() -> None:
    name = WheelName.parse("my_pkg-2.0-1-py2.py3-none-any.whl")
    assert (name.name, name.version, name.python, name.abi, name.platform) == (
        "my_pkg", "2.0", ("py2", "py3"), ("none",), ("any",))


def test_expand_wheels_takes_files_folders_and_globs(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    a = make_wheel(dist, "a-1.0-py3-none-any.whl")
    b = make_wheel(dist, "b-1.0-py3-none-any.whl")
    assert expand_wheels([dist]) == [a, b]
    assert expand_wheels([str(dist / "a-*.whl")]) == [a]
    assert expand_wheels([a, a]) == [a]
    make_wheel(tmp_path, "a-2.0-py3-none-any.whl")
    with pytest.raises(WheelError, match="two wheels of a"):
        expand_wheels([dist, tmp_path / "a-2.0-py3-none-any.whl"])


def test_expand_wheels_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(WheelError, match="no wheels"):
        expand_wheels([tmp_path / "empty"])
    with pytest.raises(WheelError, match="no wheel matches"):
        expand_wheels([str(tmp_path / "x-*.whl")])
    make_wheel(tmp_path, "c-1.0-cp311-cp311-linux_x86_64.whl")
    with pytest.raises(WheelError, match="c-1.0-cp311-cp311-linux_x86_64.whl is not a pure-Python wheel"):
        expand_wheels([tmp_path])


def test_installed_wheel_is_a_valid_reproducible_wheel() -> None:
    name, data = installed_wheel()
    assert name == f"webinfer-{webinfer.__version__}-py3-none-any.whl"
    assert installed_wheel()[1] == data  # same files, same bytes (so the lock's sha256 stays put)
    with zipfile.ZipFile(io.BytesIO(data)) as whl:
        names = whl.namelist()
        info = name.split("-py3")[0] + ".dist-info"
        assert {"webinfer/__init__.py", "webinfer/tools/harness.py", "webinfer/web/harness.mjs",
                "webinfer/backends/webgpu/executor.js", f"{info}/METADATA", f"{info}/WHEEL"} <= set(names)
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
        assert "Tag: py3-none-any" in whl.read(f"{info}/WHEEL").decode()
        record = whl.read(f"{info}/RECORD").decode().splitlines()
        assert len(record) == len(names)
        for line in record:
            file, digest, size = line.rsplit(",", 2)
            if file.endswith("RECORD"):
                continue
            body = whl.read(file)
            expected = base64.urlsafe_b64encode(hashlib.sha256(body).digest()).rstrip(b"=").decode()
            assert (digest, int(size)) == (f"sha256={expected}", len(body)), file
