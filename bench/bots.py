"""The bot under test, in its own process: our worker, or a minimal discord.py baseline bot.

``python bench/bots.py {ours|ours-ffmpeg|baseline} FAKE_INFO_JSON`` prints ``{"ready": true}``
once its gateway session is up, then answers JSON-line commands on stdin:

- ``{"op": "play", "items": [...]}``: each item (guild_id, text_channel_id, voice_channel_id,
  user_id, url, interaction_id, token, style) starts a stream; the answer carries the monotonic
  time each job was handed over (``sent_at``). ``ours`` puts a PlayJob on the in-process queue
  (as the front door would, the interaction already deferred by the driver); ``baseline`` does
  what discord.py's documentation shows: ``channel.connect()`` then ``vc.play(source)`` with
  ``FFmpegOpusAudio.from_probe`` (style ``opus``) or ``FFmpegPCMAudio`` (style ``pcm``).
- ``{"op": "status"}``: how many voice clients are playing, errors so far, TTFA figures.
- ``{"op": "quit"}``.

The protocol uses a private copy of the original stdout; fd 1 is pointed at stderr so that
nothing a library prints can corrupt it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import discord

import voice_worker.session as session_module
from shared.jobs import PlayJob, Requester
from shared.logs import configure_logging
from shared.queue import InMemoryJobQueue
from shared.settings import Settings, load_settings
from voice_worker.bootstrap import build_tracks
from voice_worker.endpoints import make_connector, point_discord_py
from voice_worker.models import SessionState
from voice_worker.player import VoiceClientPlayer
from voice_worker.worker import Worker

_PROTOCOL = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)


def emit(message: dict[str, Any]) -> None:
    """One answer line."""
    _PROTOCOL.write(json.dumps(message) + "\n")


def bench_settings(info: dict[str, Any]) -> Settings:
    """Settings pointing at the fake, with room for many guilds and slow (paced) joins."""
    return load_settings(
        discord_public_key=info["public_key"],
        discord_application_id=info["application_id"],
        discord_bot_token=info["bot_token"],
        discord_api_base=info["rest_base_url"],
        discord_gateway_url=info["gateway_url"],
        discord_ca_file=info["ca_file"],
        allow_private_sources=True,
        jobs_queue_url="",
        worker_health_port=0,
        worker_max_guilds=2000,
        worker_idle_disconnect_s=3600.0,
        worker_voice_connect_timeout_s=120.0,
        worker_guild_ready_timeout_s=0.2,
        worker_shutdown_grace_s=2.0,
    )


def _thread_per_guild_player(*args: Any, **kwargs: Any) -> VoiceClientPlayer:
    """The player before the in-process demux and the shared pacer: ffmpeg + a thread per guild."""
    return VoiceClientPlayer(*args, **{**kwargs, "audio_in_process": False, "pacer": None})


class OursBot:
    """Our worker with the in-process queue."""

    def __init__(self, settings: Settings, *, demux_in_process: bool = True) -> None:
        if not demux_in_process:
            # "Before", measured in the same run: the player as it was (one ffmpeg process and
            # one discord.py player thread per guild). A bench-only switch, not a setting.
            session_module.VoiceClientPlayer = _thread_per_guild_player  # type: ignore[attr-defined,assignment]
        self.queue = InMemoryJobQueue()
        # As the CLI builds it: the only tenant of its process (start-up heap frozen).
        self.worker = Worker(
            settings, queue=self.queue, sources=build_tracks(settings), freeze_heap=True
        )
        self._task: asyncio.Task[int] | None = None
        self._app_id = settings.discord_application_id

    async def start(self) -> None:
        """Run the worker until its gateway session is ready (warm-up included)."""
        self._task = asyncio.create_task(self.worker.run())
        ready = asyncio.create_task(self.worker.ready.wait())
        await asyncio.wait({self._task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            raise RuntimeError(f"worker stopped before ready: exit {self._task.result()}")

    async def play(self, items: list[dict[str, Any]]) -> list[float]:
        """Enqueue a PlayJob per item; return when each was handed to the queue."""
        sent_at = []
        loop = asyncio.get_running_loop()
        for item in items:
            job = PlayJob(
                job_id=item["interaction_id"],
                guild_id=item["guild_id"],
                channel_id=item["text_channel_id"],
                application_id=self._app_id,
                interaction_token=item["token"],
                requester=Requester(user_id=item["user_id"], display_name="bench"),
                query=item["url"],
            )
            await self.queue.send(job)
            sent_at.append(loop.time())
        return sent_at

    def status(self) -> dict[str, Any]:
        """Playing voice clients and TTFA (job receipt to first packet read) figures."""
        client, sessions = self.worker.client, self.worker.sessions
        playing = 0
        for vc in client.voice_clients if client else []:
            session = sessions.get(str(vc.guild.id)) if sessions else None  # type: ignore[attr-defined]
            # The pacer sends for discord.py's VoiceClient: its is_playing() stays False.
            if session is not None and session.state is SessionState.PLAYING:
                playing += 1
        counters = self.worker.counters.as_dict()
        return {
            "playing": playing,
            "counters": counters,
            "ttfa_ms": self.worker.playback.ttfa_ms,
            "gc": self.worker.gc_pauses.as_dict(),
            "pacer": self.worker.pacer.report(),
        }

    async def stop(self) -> None:
        """Graceful stop."""
        self.worker.request_stop()
        if self._task is not None:
            await self._task
        await self.worker.sources.aclose()  # type: ignore[attr-defined]


class BaselineBot:
    """A minimal discord.py music bot in the documented style (one player thread + ffmpeg)."""

    def __init__(self, settings: Settings) -> None:
        point_discord_py(settings)
        self._settings = settings
        self.client: discord.Client | None = None
        self.errors = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Log in and wait for READY."""
        intents = discord.Intents.none()
        intents.guilds = intents.voice_states = True
        self.client = client = discord.Client(
            intents=intents, connector=make_connector(self._settings)
        )
        self._runner = asyncio.create_task(client.start(self._settings.bot_token))
        ready = asyncio.create_task(client.wait_until_ready())
        await asyncio.wait({self._runner, ready}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            self._runner.result()

    async def _one(self, item: dict[str, Any]) -> None:
        assert self.client is not None
        try:
            channel = self.client.get_channel(int(item["voice_channel_id"]))
            assert isinstance(channel, discord.VoiceChannel)
            vc: discord.VoiceClient = await channel.connect(timeout=120.0)
            if item.get("style") == "pcm":
                source: discord.AudioSource = discord.FFmpegPCMAudio(item["url"])
            else:
                source = await discord.FFmpegOpusAudio.from_probe(item["url"])
            vc.play(source)
        except Exception:  # the benchmark's boundary: count and log, keep the others going
            self.errors += 1
            logging.getLogger("bench.baseline").exception("baseline stream failed")

    async def play(self, items: list[dict[str, Any]]) -> list[float]:
        """Start each stream in its own task."""
        loop = asyncio.get_running_loop()
        sent_at = []
        for item in items:
            task = asyncio.create_task(self._one(item))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            sent_at.append(loop.time())
        return sent_at

    def status(self) -> dict[str, Any]:
        """Playing voice clients and errors."""
        clients = self.client.voice_clients if self.client else []
        playing = sum(
            1 for vc in clients if isinstance(vc, discord.VoiceClient) and vc.is_playing()
        )
        return {"playing": playing, "errors": self.errors}

    async def stop(self) -> None:
        """Leave voice and close."""
        if self.client is not None:
            for vc in list(self.client.voice_clients):
                await vc.disconnect(force=True)
            await self.client.close()
        if self._runner is not None:
            await asyncio.gather(self._runner, return_exceptions=True)


async def _commands() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**22)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def main(kind: str, info: dict[str, Any]) -> int:
    """Start the bot, then serve commands until quit or EOF."""
    configure_logging(log_format="json", level="WARNING")
    settings = bench_settings(info)
    bot: OursBot | BaselineBot
    if kind == "ours-ffmpeg-paced":
        # Before the in-process transcoder: an ffmpeg child per stream, the same shared pacer.
        settings = settings.model_copy(update={"worker_audio_in_process": False})
    if kind.startswith("ours"):
        bot = OursBot(settings, demux_in_process=kind != "ours-ffmpeg")
    else:
        bot = BaselineBot(settings)
    await bot.start()
    emit({"ready": True, "kind": kind, "pid": os.getpid()})
    reader = await _commands()
    try:
        while line := await reader.readline():
            command = json.loads(line)
            op = command["op"]
            if op == "quit":
                break
            if op == "play":
                emit({"op": op, "sent_at": await bot.play(command["items"])})
            elif op == "status":
                emit({"op": op, **bot.status()})
    finally:
        await bot.stop()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], json.loads(sys.argv[2]))))
