"""`musicbot demo --json`: the README's offline run command, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

MUSICBOT = Path(sys.executable).with_name("musicbot")


def test_demo_exits_0_and_ends_with_the_json_summary() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "JOBS_"))}
    done = subprocess.run(
        [str(MUSICBOT), "demo", "--json"],
        capture_output=True,
        text=True,
        timeout=100,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert "Demo OK." in lines
    result = json.loads(lines[-1])
    for key in ("heard_s", "dominant_hz", "gaps", "ttfa_ms", "tracks", "commands"):
        assert key in result
    assert result["ok"] is True
    assert result["commands"] == ["play", "play", "skip", "stop"]
    assert [t["frequency_hz"] for t in result["tracks"]] == [440, 660]
    assert all(t["heard_s"] >= 1.0 for t in result["tracks"])
    assert result["gaps"] == [] or not any(g["within_track"] for g in result["gaps"])
    assert 0 < result["ttfa_ms"] < 10_000
