"""`musicbot commands show|register` and `musicbot serve`: the front door's subcommands.

Each subcommand imports what it needs when it runs, so `musicbot --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from interactions.commands.definitions import bulk_overwrite_payload, usage

if TYPE_CHECKING:
    from shared.settings import Settings

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def register_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `commands` (show, register) and `serve` to the musicbot command line."""
    commands = subparsers.add_parser("commands", help="show or register the slash commands")
    actions = commands.add_subparsers(dest="commands_action", metavar="ACTION", required=True)

    show = actions.add_parser("show", help="print the commands (--json: the exact PUT payload)")
    show.add_argument("--json", action="store_true", help="the bulk-overwrite payload as JSON")
    show.set_defaults(func=show_commands)

    register = actions.add_parser("register", help="bulk-overwrite the commands on Discord")
    register.add_argument("--guild", metavar="ID", help="register in one guild (instant)")
    register.set_defaults(func=register_commands)

    serve = subparsers.add_parser("serve", help="run the interactions endpoint with uvicorn")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to bind (8080)")
    serve.set_defaults(func=serve_app)


def _load_settings() -> Settings | None:
    """Settings from the environment, or None after saying which ones are invalid."""
    from pydantic import ValidationError  # noqa: PLC0415

    from shared.settings import load_settings  # noqa: PLC0415

    try:
        return load_settings()
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
        sys.stderr.write(f"musicbot: invalid settings: {fields}\n")
        return None


def show_commands(args: argparse.Namespace) -> int:
    """Print the slash commands; with --json, exactly the body `commands register` sends."""
    settings = _load_settings()
    if settings is None:
        return EXIT_USAGE
    payload = bulk_overwrite_payload(max_query_length=settings.max_query_length)
    if args.json:
        sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        return EXIT_OK
    for command in payload:
        sys.stdout.write(f"{usage(command):<28} {command['description']}\n")
    return EXIT_OK


def register_commands(args: argparse.Namespace) -> int:
    """PUT the commands to Discord, globally or in one guild."""
    from interactions import registration  # noqa: PLC0415 - httpx only here

    settings = _load_settings()
    if settings is None:
        return EXIT_USAGE
    missing = [
        name
        for name, value in (
            ("DISCORD_BOT_TOKEN", settings.bot_token),
            ("DISCORD_APPLICATION_ID", settings.discord_application_id),
        )
        if not value
    ]
    if missing:
        sys.stderr.write(f"musicbot: set {' and '.join(missing)} to register commands.\n")
        return EXIT_USAGE
    try:
        done = registration.register_commands(settings, guild_id=args.guild)
    except registration.RegistrationError as exc:
        sys.stderr.write(f"musicbot: command registration failed: {exc}\n")
        return EXIT_FAILED
    sys.stdout.write(f"Registered {done.count} commands ({done.scope}).\n")
    return EXIT_OK


def serve_app(args: argparse.Namespace) -> int:
    """Serve the interactions endpoint (in-process queue, or SQS when JOBS_QUEUE_URL is set)."""
    import asyncio  # noqa: PLC0415

    import uvicorn  # noqa: PLC0415

    from interactions.bootstrap import bootstrap  # noqa: PLC0415

    settings = _load_settings()
    if settings is None:
        return EXIT_USAGE
    try:
        front_door = bootstrap(settings)
    except ValueError as exc:
        sys.stderr.write(f"musicbot: cannot serve: {exc}\n")
        return EXIT_USAGE
    # log_config=None: keep the structlog pipeline bootstrap configured (and its redaction).
    config = uvicorn.Config(front_door.app, host=args.host, port=args.port, log_config=None)

    async def run() -> None:
        try:
            await uvicorn.Server(config).serve()
        finally:
            await front_door.aclose()

    asyncio.run(run())
    return EXIT_OK
