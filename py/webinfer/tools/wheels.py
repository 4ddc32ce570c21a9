"""Wheels for the page: webinfer's own, built from the installed distribution, and the user's, checked pure.

An installed webinfer has no wheel file, and the page needs one. Rather than ship a wheel inside the
wheel (a build step of its own, and a copy that can drift from the code beside it), we zip the installed
package: the files its ``RECORD`` lists (for an editable install, the package directory), without
bytecode, with its ``METADATA`` and a fresh ``WHEEL`` and ``RECORD``. Entries are sorted and time-stamped
1980-01-01, so the same installed files always give the same bytes (and the same sha256 in the lock).
"""

from __future__ import annotations

import base64
import glob
import hashlib
import importlib.metadata
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import webinfer

#: dist-info files not copied into the rebuilt wheel (the installer's own, or regenerated here).
SKIPPED_DIST_INFO = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json", "WHEEL"})
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


class WheelError(ValueError):
    """A wheel the page cannot install (not pure Python, not a wheel, missing); the message names it and why."""


@dataclass(frozen=True)
class WheelName:
    """The parts of a wheel file name (PEP 427): ``name-version[-build]-python-abi-platform.whl``."""

    name: str
    version: str
    python: tuple[str, ...]
    abi: tuple[str, ...]
    platform: tuple[str, ...]

    @classmethod
    def parse(cls, filename: str) -> WheelName:
        """Split a wheel file name; :class:`WheelError` when it is not one."""
        parts = filename.removesuffix(".whl").split("-")
        if not filename.endswith(".whl") or len(parts) not in (5, 6):
            raise WheelError(f"{filename} is not a wheel file name (name-version-python-abi-platform.whl)")
        python, abi, platform = (tuple(tag.split(".")) for tag in parts[-3:])
        return cls(parts[0], parts[1], python, abi, platform)

    def impure_reason(self) -> str | None:
        """Why Pyodide cannot install this wheel as pure Python 3, or None when it can."""
        if self.platform != ("any",):
            return f"platform tag {'.'.join(self.platform)}: it holds compiled code for that platform"
        if self.abi != ("none",):
            return f"ABI tag {'.'.join(self.abi)}: it needs that Python's binary interface"
        if not any(tag.startswith("py3") for tag in self.python):
            return f"python tag {'.'.join(self.python)}: not for Python 3"
        return None


def check_pure(path: Path) -> Path:
    """``path`` when it is a pure-Python wheel file the page can install; else :class:`WheelError` saying why."""
    reason = WheelName.parse(path.name).impure_reason()
    if reason is not None:
        raise WheelError(
            f"{path.name} is not a pure-Python wheel ({reason}); Pyodide in the page installs only pure wheels "
            "(tagged py3-none-any): build one from a pure package with `pip wheel --no-deps -w dist .`"
        )
    if not path.is_file():
        raise WheelError(f"no such wheel: {path}")
    if not zipfile.is_zipfile(path):
        raise WheelError(f"{path} is not a wheel: not a zip file")
    return path


def expand_wheels(items: Iterable[str | Path]) -> list[Path]:
    """Wheel files from paths: a ``.whl`` file, a folder (every ``*.whl`` in it) or a glob pattern; each checked
    pure. Two wheels of one project are an error."""
    found: list[Path] = []
    for item in items:
        text = str(item)
        path = Path(text)
        if glob.has_magic(text):
            matches = sorted(Path(p) for p in glob.glob(text))
            if not matches:
                raise WheelError(f"no wheel matches {text}")
            found.extend(matches)
        elif path.is_dir():
            matches = sorted(path.glob("*.whl"))
            if not matches:
                raise WheelError(f"no wheels (*.whl) in the folder {path}")
            found.extend(matches)
        else:
            found.append(path)
    by_project: dict[str, Path] = {}
    for path in found:
        check_pure(path)
        project = WheelName.parse(path.name).name.lower().replace("_", "-").replace(".", "-")
        if project in by_project and by_project[project].resolve() != path.resolve():
            raise WheelError(f"two wheels of {project}: {by_project[project]} and {path}; pass one")
        by_project[project] = path
    return list(by_project.values())


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def _package_files(dist: importlib.metadata.Distribution, package_dir: Path) -> list[tuple[str, Path]]:
    """(name in the wheel, file) for the package: what RECORD lists, or the whole directory (editable)."""
    listed = {
        str(entry) for entry in dist.files or () if entry.parts[0] == package_dir.name
    }
    files = []
    for path in sorted(package_dir.rglob("*")):
        relative = path.relative_to(package_dir.parent).as_posix()
        if not path.is_file() or "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo"):
            continue
        if listed and relative not in listed:
            continue  # not installed by the wheel: a stray file beside the package
        files.append((relative, path))
    return files


def installed_wheel() -> tuple[str, bytes]:
    """(file name, bytes) of a wheel of the webinfer that is running, rebuilt from its installed files."""
    dist = importlib.metadata.distribution("webinfer")
    package_dir = Path(webinfer.__file__).resolve().parent
    version = dist.version
    info = f"webinfer-{version}.dist-info"
    entries: list[tuple[str, bytes]] = [(name, path.read_bytes()) for name, path in _package_files(dist, package_dir)]
    meta_files = sorted(
        str(entry).split("/", 1)[1] for entry in dist.files or () if str(entry).startswith(f"{info}/")
    ) or ["METADATA"]
    for name in meta_files:
        if name not in SKIPPED_DIST_INFO:
            text = dist.read_text(name)
            if text is not None:
                entries.append((f"{info}/{name}", text.encode()))
    wheel_meta = "Wheel-Version: 1.0\nGenerator: webinfer (from the installed package)\nRoot-Is-Purelib: true\n"
    entries.append((f"{info}/WHEEL", (wheel_meta + "Tag: py3-none-any\n").encode()))
    record = "".join(f"{name},{_record_hash(content)},{len(content)}\n" for name, content in entries)
    record += f"{info}/RECORD,,\n"
    entries.append((f"{info}/RECORD", record.encode()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as whl:
        for name, content in entries:
            item = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            item.external_attr = 0o644 << 16
            item.compress_type = zipfile.ZIP_DEFLATED
            whl.writestr(item, content)
    return f"webinfer-{version}-py3-none-any.whl", buffer.getvalue()


__all__ = ["WheelError", "WheelName", "check_pure", "expand_wheels", "installed_wheel"]
