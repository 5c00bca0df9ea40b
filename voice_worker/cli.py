"""`musicbot worker|local|demo|resolve`: the voice worker's subcommands.

Heavy imports (discord.py, yt-dlp, the fake Discord) happen inside the subcommand that runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.settings import Settings
    from voice_worker.worker import Worker

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

LOCAL_USAGE = (
    "musicbot local needs DISCORD_BOT_TOKEN: the bot token of a Discord application that has NO "
    "interactions endpoint URL (Discord delivers interactions over the gateway only then).\n"
    "Without credentials, run the offline demo instead: musicbot demo\n"
)
WORKER_USAGE = (
    "musicbot worker consumes the SQS jobs queue: set JOBS_QUEUE_URL (and DISCORD_BOT_TOKEN).\n"
    "For the whole bot on one machine use: musicbot local\n"
)


def register_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `worker`, `local`, `demo` and `resolve` to the musicbot command line."""
    worker = subparsers.add_parser("worker", help="run the voice worker (cloud: SQS jobs)")
    worker.add_argument(
        "--check", action="store_true", help="ask a running worker's /health (exit 0 or 1)"
    )
    worker.set_defaults(func=run_worker)

    local = subparsers.add_parser("local", help="run the whole bot in one process (bot token)")
    local.set_defaults(func=run_local)

    demo = subparsers.add_parser("demo", help="offline demo against a fake Discord")
    demo.add_argument("--json", action="store_true", help="end with one JSON line of results")
    demo.set_defaults(func=run_demo)

    resolve = subparsers.add_parser("resolve", help="show what a query resolves to")
    resolve.add_argument("query", help="a link or search words")
    resolve.add_argument("--json", action="store_true", help="print JSON")
    resolve.set_defaults(func=run_resolve)


def _settings() -> Settings | None:
    from pydantic import ValidationError  # noqa: PLC0415

    from shared.settings import load_settings  # noqa: PLC0415

    try:
        return load_settings()
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
        sys.stderr.write(f"musicbot: invalid settings: {fields}\n")
        return None


def _configure_logs(settings: Settings) -> None:
    from shared.logs import configure_logging  # noqa: PLC0415

    configure_logging(
        secrets=settings.secrets(), log_format=settings.log_format, level=settings.log_level
    )


def run_worker(args: argparse.Namespace) -> int:
    """The cloud worker, or with --check a health probe for container HEALTHCHECK."""
    settings = _settings()
    if settings is None:
        return EXIT_USAGE
    if args.check:
        from voice_worker.health import check  # noqa: PLC0415

        host = settings.worker_health_host
        code, summary = check(f"http://{host}:{settings.worker_health_port}/health")
        (sys.stdout if code == 0 else sys.stderr).write(summary + "\n")
        return code
    if not settings.jobs_queue_url:
        sys.stderr.write(WORKER_USAGE)
        return EXIT_USAGE
    from voice_worker import bootstrap  # noqa: PLC0415

    _configure_logs(settings)
    return _run(bootstrap.cloud_worker(settings, freeze_heap=True))


def run_local(args: argparse.Namespace) -> int:
    """The embedded bot: gateway interactions, in-process queue, one worker."""
    settings = _settings()
    if settings is None:
        return EXIT_USAGE
    if not settings.bot_token:
        sys.stderr.write(LOCAL_USAGE)
        return EXIT_USAGE
    from voice_worker import bootstrap  # noqa: PLC0415

    _configure_logs(settings)
    return _run(bootstrap.embedded_worker(settings, freeze_heap=True))


def _run(worker: Worker) -> int:
    from voice_worker import bootstrap  # noqa: PLC0415

    code = asyncio.run(bootstrap.run(worker))
    if worker.fatal is not None:
        sys.stderr.write(f"musicbot: {worker.fatal.hint}\n")
    return code


def run_demo(args: argparse.Namespace) -> int:
    """Start a fake Discord, the front door and a worker; play tones and report what was heard."""
    from voice_worker.demo import main  # noqa: PLC0415

    return main(json_output=args.json)


def run_resolve(args: argparse.Namespace) -> int:
    """Resolve a query with the worker's resolver and describe the first track."""
    settings = _settings()
    if settings is None:
        return EXIT_USAGE
    _configure_logs(settings)  # logs to stderr: stdout is the answer (maybe JSON)
    from voice_worker.bootstrap import resolver_config  # noqa: PLC0415
    from voice_worker.sources import Resolver, SourceError, describe, format_description  # noqa: PLC0415

    async def resolve() -> dict[str, object]:
        async with Resolver(resolver_config(settings)) as resolver:
            return await describe(args.query, resolver)

    try:
        info = asyncio.run(resolve())
    except SourceError as exc:
        sys.stderr.write(f"musicbot: {exc.user_message} ({exc.reason})\n")
        return EXIT_FAILED
    if args.json:
        sys.stdout.write(json.dumps(info) + "\n")
    else:
        sys.stdout.write(format_description(info) + "\n")
    return EXIT_OK
