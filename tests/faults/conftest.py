"""Fault tests reuse the end-to-end stack (fake Discord, front door, worker, tone server) and
its secrets check."""

import os

import pytest

from tests.e2e.conftest import (  # noqa: F401 - fixtures re-exported for this directory
    bot,
    no_secrets_in_logs,
    start_bot,
    started_fakes,
)


def pytest_collection_modifyitems(config: object, items: list[pytest.Item]) -> None:
    """Long fault variants (marked slow) run only with LONG_FAULTS=1 (`make fuzz-long`)."""
    if os.environ.get("LONG_FAULTS") == "1":
        return
    skip = pytest.mark.skip(reason="long variant: set LONG_FAULTS=1 (make fuzz-long)")
    for item in items:
        if item.get_closest_marker("slow") is not None and "tests/faults/" in str(item.fspath):
            item.add_marker(skip)
