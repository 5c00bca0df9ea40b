"""``fake-discord``: run the fake Discord standalone and print one JSON line describing it."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--guilds", type=int, default=1, help="guilds to seed (default 1)")
    parser.add_argument(
        "--interactions-url",
        default=None,
        help="deliver interactions over HTTP to this URL (default: gateway)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--bot-token", default=None, help="bot token to accept (default: random)")
    parser.add_argument(
        "--allow-non-dave",
        action="store_true",
        help="accept voice clients without DAVE support (no close 4017)",
    )
    parser.add_argument(
        "--no-decode",
        action="store_true",
        help="count voice packets without decoding Opus (cheaper)",
    )
    parser.add_argument("--log-level", default="WARNING", help="stderr log level")


async def _serve(args: argparse.Namespace) -> int:
    # Heavy imports only when actually serving: `musicbot --help` imports this module.
    from fake_discord.server import FakeDiscord  # noqa: PLC0415

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    fake = FakeDiscord(
        args.guilds,
        host=args.host,
        bot_token=args.bot_token,
        interactions_url=args.interactions_url,
        require_dave_capable=not args.allow_non_dave,
        decode_audio=not args.no_decode,
    )
    async with fake:
        sys.stdout.write(json.dumps(fake.describe()) + "\n")
        sys.stdout.flush()
        await stop.wait()
    return 0


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; exit code 0 on a clean shutdown."""
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    return asyncio.run(_serve(args))


def register_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``musicbot fake-discord``."""
    parser = subparsers.add_parser("fake-discord", help="run the fake Discord on 127.0.0.1")
    _add_arguments(parser)
    parser.set_defaults(func=run)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m fake_discord``."""
    parser = argparse.ArgumentParser(prog="fake-discord", description=__doc__)
    _add_arguments(parser)
    return run(parser.parse_args(argv))
