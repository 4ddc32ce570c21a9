"""Context requests (both spellings of MLContextOptions) and the report of which context we got."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from webinfer.backends.webnn.context import ContextReport, ContextRequest
from webinfer.backends.webnn.limits import Limits
from webinfer.errors import BackendError

LIMITS = Limits(json.loads(Path(__file__).with_name("limits_chromium153_cpu.json").read_text()))


@pytest.mark.parametrize(
    ("request_", "options"),
    [
        (ContextRequest(), {}),
        (ContextRequest("cpu"), {"deviceType": "cpu", "accelerated": False}),
        (ContextRequest("gpu"), {"deviceType": "gpu", "accelerated": True}),
        (ContextRequest("npu"), {"deviceType": "npu", "accelerated": True, "powerPreference": "low-power"}),
        (ContextRequest(power_preference="high-performance"), {"powerPreference": "high-performance"}),
        (ContextRequest("gpu", "high-performance"),
         {"deviceType": "gpu", "accelerated": True, "powerPreference": "high-performance"}),
        (ContextRequest(accelerated=False), {"accelerated": False}),
    ],
)
def test_options_carry_both_spellings(request_: ContextRequest, options: dict) -> None:
    assert request_.options() == options


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"device": "tpu"}, "device 'tpu' is not one of cpu, gpu, npu"),
        ({"power_preference": "fast"}, "power_preference 'fast'"),
        ({"device": "cpu", "accelerated": True}, "contradict"),
        ({"accelerated": "yes"}, "accelerated must be true or false"),
    ],
)
def test_bad_requests(kwargs: dict, message: str) -> None:
    with pytest.raises(BackendError, match=message):
        ContextRequest(**kwargs)


def test_report_does_not_claim_an_npu_it_cannot_see() -> None:
    report = ContextReport(ContextRequest("npu"), ContextRequest("npu").options(), None, LIMITS, True).as_dict()
    assert report["asked"] == {"device": "npu"}
    assert report["created_with"]["deviceType"] == "npu"
    assert report["context_accelerated"] is None
    assert report["same_limits_as_cpu_context"] is True
    assert "likely runs on the same CPU backend" in report["note"]
    assert report["preferred_input_layout"] == "nhwc" and report["int64"] is True


def test_report_when_limits_differ_or_browser_says() -> None:
    differ = ContextReport(ContextRequest("gpu"), {}, None, LIMITS, False).note()
    assert "differ from a cpu context's" in differ
    told = ContextReport(ContextRequest("npu"), {}, True, LIMITS, None).note()
    assert "MLContext.accelerated=true" in told


def test_report_for_gpu_device_context() -> None:
    req = ContextRequest(gpu_device=True)
    report = ContextReport(req, "GPUDevice", None, LIMITS, True).as_dict()
    assert report["asked"] == {"gpu_device": True} and report["created_with"] == "GPUDevice"
    assert "a context from the WebGPU device" in report["note"]


@pytest.mark.parametrize(
    ("request_", "accelerated", "cpu_equal", "label"),
    [
        (ContextRequest("cpu"), None, None, "cpu"),
        (ContextRequest(), None, None, "default"),
        (ContextRequest("npu"), None, True, "npu asked, likely cpu"),  # this Chromium: the TFLite CPU backend
        (ContextRequest("npu"), None, False, "npu"),
        (ContextRequest("npu"), False, None, "npu asked, cpu"),  # the browser says so
        (ContextRequest("gpu"), True, None, "gpu"),
        (ContextRequest(gpu_device=True), None, True, "webgpu device asked, likely cpu"),
    ],
)
def test_tensor_device_label_does_not_claim_what_the_evidence_denies(
    request_: ContextRequest, accelerated: bool | None, cpu_equal: bool | None, label: str
) -> None:
    assert ContextReport(request_, {}, accelerated, LIMITS, cpu_equal).device_label() == label
