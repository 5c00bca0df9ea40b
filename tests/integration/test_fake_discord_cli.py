"""``python -m fake_discord``: one JSON line on stdout, controls reachable, clean SIGTERM."""

from __future__ import annotations

import json
import selectors
import signal
import subprocess
import sys
import urllib.request

import pytest


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_cli_prints_its_json_line_and_exits_0_on_signal(stop_signal: signal.Signals) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "fake_discord", "--guilds", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            assert selector.select(timeout=20), "no JSON line within 20 s"
        info = json.loads(process.stdout.readline())
        assert info["rest_base_url"].endswith("/api/v10")
        assert info["gateway_url"].startswith("ws://127.0.0.1:")
        assert info["control_base_url"].endswith("/_fake")
        assert len(info["public_key"]) == 64 and info["bot_token"] and info["application_id"]
        assert info["ca_file"].endswith(".pem")
        assert [sorted(g) for g in info["guilds"]] == [
            ["guild_id", "name", "text_channel_id", "user_id", "voice_channel_id"]
        ] * 2
        with urllib.request.urlopen(info["control_base_url"] + "/info", timeout=5) as resp:
            assert json.loads(resp.read()) == info
        process.send_signal(stop_signal)
        assert process.wait(timeout=15) == 0
        assert process.stdout.read() == ""  # exactly one line
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
