"""Shared Hypothesis settings for the fuzz targets: short in CI, 100,000 inputs in the long run.

`FUZZ_EXAMPLES` sets the number of generated inputs per target (`make fuzz-long` sets 100000).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

CI_EXAMPLES = 300
LONG_EXAMPLES = 100_000


def fuzz_examples() -> int:
    """Inputs per fuzz target: FUZZ_EXAMPLES, else the CI default."""
    raw = os.environ.get("FUZZ_EXAMPLES", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else CI_EXAMPLES


def fuzz_settings(*, cap: int | None = None) -> settings:
    """No deadline (a loaded CI machine is not a bug) and no health check on big inputs;
    ``cap`` bounds a slow, secondary target in the long run."""
    examples = fuzz_examples() if cap is None else min(cap, fuzz_examples())
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )
