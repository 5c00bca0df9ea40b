"""The whole bot against the fake Discord: signed HTTP interactions -> front door (uvicorn)
-> in-process queue -> voice worker -> voice gateway + UDP -> the fake's listening ear."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from fake_discord.ear import EarReport
from fake_discord.interactions import InteractionRecord
from fake_discord.pointing import point_discord_py
from fake_discord.server import FakeDiscord
from fake_discord.world import GuildSpec
from interactions.bootstrap import bootstrap
from shared.logs import Redactor
from shared.queue import InMemoryJobQueue
from shared.state import StateStore
from tests.fixtures_audio import ToneServer
from tests.security.leaks import bot_side, find_leaks, issued_secrets, render
from voice_worker.bootstrap import embedded_worker, resolver_config
from voice_worker.demo import demo_settings
from voice_worker.demo_support import FrontDoorServer
from voice_worker.sources import Resolver, ResolverConfig
from voice_worker.sources.resolver import SearchTarget, youtube_search
from voice_worker.tracks import CachedTracks
from voice_worker.worker import Worker

STEP_TIMEOUT_S = 20.0
# Short enough for the hanging-source test, long enough for a loaded CI machine.
RESOLVE_TIMEOUT_S = 4.0
EPHEMERAL = 1 << 6


def reply_of(record: InteractionRecord) -> str:
    """What the user ended up seeing for an interaction (ephemeral follow-up or @original)."""
    message = record.followups[-1] if record.followups else (record.original or {})
    text = [str(message.get("content") or "")]
    # Embeds (/nowplaying, /queue) count as what the user saw: their title and description.
    for embed in message.get("embeds") or ():
        text += [str(embed.get("title", "")), str(embed.get("description", ""))]
    return "\n".join(part for part in text if part)


def is_ephemeral(record: InteractionRecord) -> bool:
    """True when the answer was an ephemeral follow-up and the public placeholder is gone."""
    return bool(
        record.followups
        and int(record.followups[-1].get("flags", 0)) & EPHEMERAL
        and record.original_deleted
    )


def _answered(record: InteractionRecord) -> bool:
    original = record.original
    loading = original is not None and int(original.get("flags", 0)) & (1 << 7)
    return bool(record.followups) or bool(
        original is not None and not loading and (original.get("content") or original.get("embeds"))
    )


@dataclass
class Bot:
    """A running stack and the verbs tests use."""

    fake: FakeDiscord
    worker: Worker
    queue: InMemoryJobQueue

    @property
    def guild_id(self) -> str:
        """The first seeded guild's id."""
        return self.fake.guilds[0].guild_id

    @property
    def store(self) -> StateStore:
        """The worker's durable state store (the embedded bot's SQLite one)."""
        assert self.worker.state is not None
        return self.worker.state

    async def command(
        self, name: str, *, guild: str | None = None, user_id: str | None = None, **options: Any
    ) -> InteractionRecord:
        """Send a slash command like Discord does and wait for its final answer."""
        record = await self.fake.send_interaction(
            name=name, guild=guild, user_id=user_id, options=options or None
        )
        if record.delivered_via == "http":
            assert record.http_status == 200, record.http_error
        return await self.fake.wait_for_interaction(record.id, _answered, timeout_s=STEP_TIMEOUT_S)

    async def hear(
        self, frequency: float, seconds: float, *, guild: str | None = None
    ) -> EarReport:
        """Wait until the ear heard ``frequency`` for ``seconds``; return the report."""
        deadline = asyncio.get_running_loop().time() + STEP_TIMEOUT_S
        while True:
            report = self.fake.ear_report(guild)
            if report is not None and report.seconds_at(frequency) >= seconds:
                return report
            if asyncio.get_running_loop().time() > deadline:
                heard = report.to_json()["timeline"] if report else None
                raise AssertionError(f"{frequency} Hz not heard for {seconds} s: {heard}")
            await asyncio.sleep(0.05)

    async def wait_silent(self, *, guild: str | None = None, quiet_s: float = 0.5) -> EarReport:
        """Wait until no packet arrived for ``quiet_s``: the track is over."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STEP_TIMEOUT_S
        while loop.time() < deadline:
            report = self.fake.ear_report(guild)
            last = report.last_packet_monotonic if report else None
            if last is not None and loop.time() - last >= quiet_s:
                return report  # type: ignore[return-value]
            await asyncio.sleep(0.05)
        raise AssertionError("audio never stopped")


BotFactory = Callable[..., Awaitable[Bot]]


async def sub(bot: Bot, command: str, subcommand: str, /, **values: Any) -> InteractionRecord:
    """A subcommand (`/playlist save name:x`) as Discord nests it, and its final answer."""
    options = [
        {"name": key, "type": 4 if isinstance(value, int) else 3, "value": value}
        for key, value in values.items()
    ]
    record = await bot.fake.send_interaction(
        name=command, options=[{"type": 1, "name": subcommand, "options": options}]
    )
    return await bot.fake.wait_for_interaction(record.id, _answered, timeout_s=STEP_TIMEOUT_S)


async def save_settings(bot: Bot, **values: Any) -> None:
    """/settings set these values, and check the answer says they were saved."""
    assert reply_of(await sub(bot, "settings", "set", **values)).startswith("Settings saved")


async def play_and_queue(
    bot: Bot, tone_server: ToneServer, playing: tuple[int, float], queued: Sequence[int]
) -> None:
    """/play a tone of ``playing`` (Hz, seconds), then queue a 1 s tone at each of ``queued``."""
    await bot.command("play", query=tone_server.url(*playing))
    for hz in queued:
        await bot.command("play", query=tone_server.url(hz, 1))


async def start_embedded(start_bot: BotFactory, **options: Any) -> Bot:
    """The embedded bot (SQLite store, gateway interactions), the seeded user in the voice
    channel; ``options`` as for ``start_bot``."""
    bot = await start_bot(embedded=True, **options)
    bot.fake.move_user()
    return bot


@pytest.fixture
def started_fakes() -> list[FakeDiscord]:
    """Every fake Discord a test started: they know the tokens that must never be logged."""
    return []


@pytest.fixture(autouse=True)
def no_secrets_in_logs(
    started_fakes: list[FakeDiscord],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> Iterator[None]:
    """Fail the test when the bot's output (stdout, stderr, stdlib log records at INFO and up)
    contains the bot token, or an interaction token (and so a webhook or callback URL) that the
    production log redaction would let through."""
    caplog.set_level(logging.INFO)
    yield
    out, err = capfd.readouterr()
    # Hand the output back so a failing test still shows it.
    sys.stdout.write(out)
    sys.stderr.write(err)
    outputs = {"stdout": out, "stderr": err}
    for when in ("setup", "call", "teardown"):
        for record in filter(bot_side, caplog.get_records(when)):
            where = f"log record of {record.name} ({record.filename}:{record.lineno})"
            outputs[where] = outputs.get(where, "") + render(record)
    leaks = find_leaks(outputs, issued_secrets(started_fakes), scrub=Redactor().scrub)
    assert not leaks, f"secrets in the bot's logs: {leaks}"


@pytest.fixture
async def start_bot(started_fakes: list[FakeDiscord]) -> AsyncIterator[BotFactory]:
    """Start the stack (``guilds``, ``embedded`` for gateway interactions); stopped at teardown."""
    stops: list[Callable[[], Awaitable[None]]] = []

    async def start(
        *,
        guilds: int | Sequence[GuildSpec] = 1,
        embedded: bool = False,
        idle_disconnect_s: float = 300.0,
        rate_limit_commands: int | None = None,
        max_playlist_items: int | None = None,
        search_target: SearchTarget = youtube_search,
        audio_in_process: bool = True,
    ) -> Bot:
        fake = FakeDiscord(guilds=guilds)
        started_fakes.append(fake)
        await fake.start()
        settings = demo_settings(fake).model_copy(
            update={
                "worker_idle_disconnect_s": idle_disconnect_s,
                "worker_audio_in_process": audio_in_process,
            }
        )
        if rate_limit_commands is not None:  # tests sending many commands in a row
            settings = settings.model_copy(update={"rate_limit_commands": rate_limit_commands})
        playlist_items = max_playlist_items or settings.source_max_playlist_items
        settings = settings.model_copy(update={"source_max_playlist_items": playlist_items})
        queue = InMemoryJobQueue()
        # Restored at teardown, so the next test (or another suite) starts from discord.com.
        restore = point_discord_py(fake.rest_base_url, fake.gateway_url)
        server: FrontDoorServer | None = None
        if embedded:
            worker = embedded_worker(settings, queue=queue, health_port=0)
            if search_target is not youtube_search:  # searches go to a local page in tests
                await worker.sources.aclose()  # type: ignore[attr-defined]
                config = resolver_config(settings)
                worker.sources = CachedTracks(Resolver(config, search_target=search_target))
        else:
            front_door = bootstrap(settings, queue=queue, configure_logs=False)
            server = FrontDoorServer(front_door.app)
            await server.start()
            fake.interactions_url = server.url
            sources = CachedTracks(
                Resolver(
                    ResolverConfig(
                        allow_private_addresses=True,
                        timeout_s=RESOLVE_TIMEOUT_S,
                        max_playlist_items=playlist_items,
                    ),
                    search_target=search_target,  # searches go to a local page in tests
                )
            )
            worker = Worker(settings, queue=queue, sources=sources, health_port=0)
        task = asyncio.create_task(worker.run())

        async def stop() -> None:
            worker.request_stop()
            assert await task == 0
            await worker.sources.aclose()  # type: ignore[attr-defined]
            if server is not None:
                await server.stop()
            await fake.stop()
            restore()

        stops.append(stop)
        await asyncio.wait_for(worker.ready.wait(), STEP_TIMEOUT_S)
        return Bot(fake, worker, queue)

    try:
        yield start
    finally:
        for stop in reversed(stops):
            await stop()


@pytest.fixture
async def bot(start_bot: BotFactory) -> Bot:
    """One guild, HTTP interactions, the seeded user in the voice channel."""
    started = await start_bot()
    started.fake.move_user()
    return started
