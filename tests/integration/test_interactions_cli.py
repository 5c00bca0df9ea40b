"""`musicbot commands show|register` and `musicbot serve`, against local servers."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from interactions.cli import register_cli
from interactions.commands.definitions import bulk_overwrite_payload
from tests.fixtures_aws import _free_port
from tests.fixtures_interactions import Signer, encode, payload, spec_errors

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "MTMwMDAwMDAwMDAwMDAwMDAwMQ.Gabcde.fake-bot-token-for-tests-0123456789"
APP_ID = "1300000000000000001"


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="musicbot")
    register_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args))


@dataclass
class FakeDiscordApi:
    """Just enough of Discord's REST API to receive a bulk overwrite, strictly checked."""

    base_url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    answer_status: int = 200
    answer_body: Any = None


@pytest.fixture
async def discord_api() -> AsyncIterator[FakeDiscordApi]:
    api = FakeDiscordApi()

    async def overwrite(request: web.Request) -> web.Response:
        body = await request.json()
        path = request.path.removeprefix("/api/v10")
        api.requests.append(
            {
                "method": request.method,
                "path": path,
                "authorization": request.headers.get("Authorization"),
                "user_agent": request.headers.get("User-Agent", ""),
                "body": body,
                "spec_errors": spec_errors(request.method, path, body),
            }
        )
        if api.answer_status != 200:
            return web.json_response(api.answer_body, status=api.answer_status)
        return web.json_response([{**c, "id": str(n)} for n, c in enumerate(body, 1)])

    app = web.Application()
    app.router.add_put("/api/v10/applications/{app}/commands", overwrite)
    app.router.add_put("/api/v10/applications/{app}/guilds/{guild}/commands", overwrite)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    api.base_url = f"http://127.0.0.1:{port}/api/v10"
    yield api
    await runner.cleanup()


@pytest.fixture
def bot_env(monkeypatch: pytest.MonkeyPatch, discord_api: FakeDiscordApi) -> None:
    for name in ("MAX_QUERY_LENGTH", "DISCORD_CA_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DISCORD_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("DISCORD_APPLICATION_ID", APP_ID)
    monkeypatch.setenv("DISCORD_API_BASE", discord_api.base_url)


async def test_register_puts_the_payload_globally(
    discord_api: FakeDiscordApi, bot_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a bot token and application id
    # WHEN `commands register` runs
    code = await asyncio.to_thread(run_cli, ["commands", "register"])
    # THEN one PUT to the global route, authorised as the bot, with a body the spec accepts
    assert code == 0
    [request] = discord_api.requests
    assert request["method"] == "PUT"
    assert request["path"] == f"/applications/{APP_ID}/commands"
    assert request["authorization"] == f"Bot {TOKEN}"
    assert request["user_agent"].startswith("DiscordBot (")
    assert request["spec_errors"] == {}
    assert request["body"] == bulk_overwrite_payload(max_query_length=500)
    assert "Registered 25 commands (global)" in capsys.readouterr().out


async def test_register_in_one_guild(
    discord_api: FakeDiscordApi, bot_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await asyncio.to_thread(
        run_cli, ["commands", "register", "--guild", "1300000000000000100"]
    )
    assert code == 0
    assert discord_api.requests[0]["path"] == (
        f"/applications/{APP_ID}/guilds/1300000000000000100/commands"
    )
    assert discord_api.requests[0]["spec_errors"] == {}
    assert "(guild 1300000000000000100)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("status", "answer", "expected"),
    [
        (401, {"message": "401: Unauthorized", "code": 0}, "HTTP 401: 401: Unauthorized"),
        (
            429,
            {"message": "You are being rate limited.", "retry_after": 3.5, "global": False},
            "retry after 3.5 s",
        ),
        (
            400,
            {
                "message": "Invalid Form Body",
                "code": 50035,
                "errors": {"0": {"name": {"_errors": [{"code": "X", "message": f"Bot {TOKEN}"}]}}},
            },
            "(code 50035)",
        ),
    ],
)
async def test_refusal_is_reported_with_status_and_never_the_token(
    discord_api: FakeDiscordApi,
    bot_env: None,
    capsys: pytest.CaptureFixture[str],
    status: int,
    answer: dict[str, Any],
    expected: str,
) -> None:
    # GIVEN Discord refusing the overwrite (even echoing the token back)
    discord_api.answer_status, discord_api.answer_body = status, answer
    # WHEN `commands register` runs
    code = await asyncio.to_thread(run_cli, ["commands", "register"])
    # THEN exit 1 with the status and reason, and the token nowhere in the output
    out = capsys.readouterr()
    assert code == 1
    assert f"HTTP {status}" in out.err and expected in out.err
    assert TOKEN not in out.err + out.out


@pytest.mark.parametrize("missing", ["DISCORD_BOT_TOKEN", "DISCORD_APPLICATION_ID"])
async def test_register_without_credentials_says_what_to_set(
    discord_api: FakeDiscordApi,
    bot_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    missing: str,
) -> None:
    monkeypatch.delenv(missing)
    code = await asyncio.to_thread(run_cli, ["commands", "register"])
    assert code == 2
    assert f"set {missing}" in capsys.readouterr().err
    assert discord_api.requests == []


async def test_register_with_discord_unreachable(
    bot_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DISCORD_API_BASE", f"http://127.0.0.1:{_free_port()}/api/v10")
    code = await asyncio.to_thread(run_cli, ["commands", "register"])
    assert code == 1
    assert "could not reach Discord (ConnectError)" in capsys.readouterr().err


def test_bad_guild_id_is_refused(bot_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["commands", "register", "--guild", "abc"]) == 1
    assert "--guild must be a numeric Discord id" in capsys.readouterr().err


def test_show_json_prints_exactly_the_payload(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MAX_QUERY_LENGTH", "300")
    assert run_cli(["commands", "show", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == bulk_overwrite_payload(max_query_length=300)


def test_show_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["commands", "show"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("/play <query> [next]")
    assert len(out.splitlines()) == 25


def test_commands_needs_an_action(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run_cli(["commands"])
    assert exit_info.value.code == 2


SERVE = """
import argparse, sys
from interactions.cli import register_cli
parser = argparse.ArgumentParser()
register_cli(parser.add_subparsers())
args = parser.parse_args(sys.argv[1:])
sys.exit(args.func(args))
"""


async def test_serve_answers_a_signed_ping_and_stops_on_sigterm(signer: Signer) -> None:
    # GIVEN `serve` running in its own process with the in-process queue
    port = _free_port()
    env = {
        **os.environ,
        "DISCORD_PUBLIC_KEY": signer.public_key_hex,
        "JOBS_QUEUE_URL": "",
        "PYTHONPATH": str(ROOT),
        "LOG_FORMAT": "json",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SERVE,
        "serve",
        "--port",
        str(port),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        body = encode(payload("ping"))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            deadline = time.monotonic() + 20
            while True:
                try:
                    # WHEN Discord's PING arrives
                    response = await client.post(
                        "/interactions", content=body, headers=signer.headers(body)
                    )
                    break
                except httpx.ConnectError:
                    assert process.returncode is None, await process.communicate()
                    assert time.monotonic() < deadline, "serve did not start"
                    await asyncio.sleep(0.1)
        # THEN PONG
        assert response.json() == {"type": 1}
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), timeout=20)
    # AND a graceful shutdown (uvicorn re-raises SIGTERM once it has finished), structured logs
    assert process.returncode in (0, -signal.SIGTERM), err
    assert b"Finished server process" in err
    assert b'"event": "interaction.handled"' in err
