"""Long variants here are marked ``slow`` and run only when asked for: ``pytest -m slow tests/reliability``.

They are deselected (not skipped) otherwise, because ``--require-browser`` turns a skipped browser test
into a failure.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "slow" in (config.getoption("markexpr") or ""):
        return
    slow = [item for item in items if item.get_closest_marker("slow") and "reliability" in item.path.parts]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if item not in slow]
