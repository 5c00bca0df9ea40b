"""The `deploy` marker: checks of the rendered CloudFormation template (scripts/check_deploy.sh)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Registered here so the marker travels with these tests (the suite runs --strict-markers).
    config.addinivalue_line(
        "markers", "deploy: checks of the template `osls package` renders (make check-deploy)"
    )
