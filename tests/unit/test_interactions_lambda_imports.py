"""The Lambda's import graph stays lean, and importing it reads no configuration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("discord", "yt_dlp", "voice_worker", "fake_discord", "uvicorn", "aiobotocore", "httpx")

PROBE = """
import json, sys
import interactions.lambda_entry as entry
assert callable(entry.handler)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def _import_in_fresh_process(env: dict[str, str]) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout))


def test_lambda_entry_imports_no_worker_or_heavy_packages() -> None:
    # GIVEN a fresh interpreter / WHEN it imports the Lambda entry point
    loaded = _import_in_fresh_process({**os.environ, "PYTHONPATH": str(ROOT)})
    # THEN neither discord.py, yt-dlp, the worker, the fake, uvicorn, botocore nor httpx came along
    assert not loaded & set(FORBIDDEN), loaded & set(FORBIDDEN)


def test_import_needs_no_configuration() -> None:
    # GIVEN an environment with no bot settings at all, and an invalid one
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "RATE_LIMIT_COMMANDS": "x"}
    # WHEN the entry point is imported / THEN it succeeds (settings are read on first invocation)
    assert "interactions" in _import_in_fresh_process(env)
