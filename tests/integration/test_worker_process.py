"""The worker as a process: configuration errors, health checks and a clean SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from shared.queue import InMemoryJobQueue
from tests.fixtures_audio import ToneServer
from voice_worker.demo import demo_settings
from voice_worker.health import HealthServer
from voice_worker.worker import EXIT_CONFIG, Worker

MUSICBOT = Path(sys.executable).with_name("musicbot")


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "JOBS_", "WORKER_"))
    }
    return {**env, **extra}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def musicbot(
    *args: str, env: dict[str, str], timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MUSICBOT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def test_local_without_a_token_says_what_to_set() -> None:
    done = musicbot("local", env=clean_env())
    assert done.returncode == 2
    assert "DISCORD_BOT_TOKEN" in done.stderr and "musicbot demo" in done.stderr


def test_worker_without_a_queue_says_what_to_set() -> None:
    done = musicbot("worker", env=clean_env(DISCORD_BOT_TOKEN="x" * 30))
    assert done.returncode == 2
    assert "JOBS_QUEUE_URL" in done.stderr


async def test_a_rejected_token_is_fatal_and_not_retried(fake_discord: Any) -> None:
    settings = demo_settings(fake_discord).model_copy(
        update={"discord_bot_token": SecretStr("not-the-token")}
    )
    worker = Worker(settings, queue=InMemoryJobQueue(), sources=_NoSources(), health_port=0)
    started = time.monotonic()
    assert await asyncio.wait_for(worker.run(), 15) == EXIT_CONFIG
    assert worker.fatal is not None and worker.fatal.reason == "token_rejected"
    assert "DISCORD_BOT_TOKEN" in worker.fatal.hint
    assert time.monotonic() - started < 10


class _NoSources:
    """Sources for a worker that never gets a job."""

    async def warm_up(self) -> None:
        return None

    async def lookup(self, query: str) -> Any:
        raise AssertionError("no lookups expected")

    async def stream(self, ref: Any) -> Any:
        raise AssertionError("no streams expected")

    async def search(self, words: str, *, limit: int) -> Any:
        raise AssertionError("no searches expected")

    def prefetch(self, ref: Any) -> None:
        raise AssertionError("no prefetch expected")


@pytest.mark.parametrize(("healthy", "expected"), [(True, 0), (False, 1)])
async def test_check_turns_health_into_an_exit_code(healthy: bool, expected: int) -> None:
    port = free_port()
    server = HealthServer(
        lambda: (healthy, {"status": "ready" if healthy else "fatal"}), host="127.0.0.1", port=port
    )
    await server.start()
    try:
        env = clean_env(WORKER_HEALTH_PORT=str(port))
        done = await asyncio.to_thread(musicbot, "worker", "--check", env=env)
    finally:
        await server.stop()
    assert done.returncode == expected, done.stderr


def test_check_fails_when_nothing_listens() -> None:
    done = musicbot("worker", "--check", env=clean_env(WORKER_HEALTH_PORT=str(free_port())))
    assert done.returncode == 1
    assert "unreachable" in done.stderr


async def _wait_health(port: int, predicate: Any, timeout_s: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                body: dict[str, Any] = (await client.get(f"http://127.0.0.1:{port}/health")).json()
                if predicate(body):
                    return body
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError("health never matched")


@pytest.mark.e2e
async def test_local_mode_plays_then_stops_cleanly_on_sigterm(
    fake_discord: Any, tone_server: ToneServer, tmp_path: Path
) -> None:
    settings = demo_settings(fake_discord)
    port = free_port()
    env = clean_env(
        DISCORD_BOT_TOKEN=fake_discord.bot_token,
        DISCORD_API_BASE=settings.discord_api_base,
        DISCORD_GATEWAY_URL=settings.discord_gateway_url,
        DISCORD_CA_FILE=settings.discord_ca_file,
        DISCORD_APPLICATION_ID=fake_discord.application_id,
        ALLOW_PRIVATE_SOURCES="true",
        WORKER_HEALTH_PORT=str(port),
        WORKER_GUILD_READY_TIMEOUT_S="0.2",
        WORKER_SHUTDOWN_GRACE_S="5",
        LOG_FORMAT="json",
        # Its own store: the default ./musicbot.sqlite3 may hold other runs' guilds to resume.
        SQLITE_PATH=str(tmp_path / "state.sqlite3"),
    )
    process = await asyncio.create_subprocess_exec(
        str(MUSICBOT), "local", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        await _wait_health(port, lambda body: body["status"] == "ready")
        fake_discord.move_user()
        await fake_discord.send_interaction(name="play", options={"query": tone_server.url(440, 5)})
        await fake_discord.wait_for_audio(seconds=1.0)
        health = await _wait_health(port, lambda body: body["active_sessions"] == 1)
        assert health["counters"]["jobs_succeeded"] == 1
        # The CLI's worker froze its start-up heap before playing (voice_worker/gc_policy.py),
        # and /health says what collections cost since.
        assert health["gc"]["frozen_objects"] > 10_000
        assert health["gc"]["collections"][0] > 0
        assert health["pacer"]["ticks"] > 0  # the pacing thread sent for the track

        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 15)
        stopped_in = time.monotonic() - started
        await fake_discord.wait_for_bot_voice(connected=False, timeout_s=5)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        assert process.stderr is not None
        log = (await process.stderr.read()).decode()
    assert code == 0, log[-4000:]
    assert stopped_in < 10, log[-6000:]
    events = [json.loads(line).get("event") for line in log.splitlines() if line.startswith("{")]
    assert "worker.stop_requested" in events and "worker.stopped" in events
    assert "gc.frozen" in events
    assert fake_discord.bot_token not in log  # the token never reaches the logs


def test_resolve_describes_a_track_as_json(tone_server: ToneServer) -> None:
    env = clean_env(ALLOW_PRIVATE_SOURCES="true")
    done = musicbot("resolve", tone_server.url(440, 2), "--json", env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    info = json.loads(done.stdout)  # stdout holds only the answer; logs go to stderr
    assert info["codec"] == "opus" and info["passthrough"] is True
    assert info["stream_host"] == "127.0.0.1"


def test_resolve_refuses_a_metadata_address() -> None:
    done = musicbot("resolve", "http://169.254.169.254/latest/meta-data/", env=clean_env())
    assert done.returncode == 1
    assert "cloud metadata address" in done.stderr
