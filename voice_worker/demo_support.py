"""The offline demo's helpers: a tone server, the front door under uvicorn, the ear summary."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from aiohttp import web

from fake_discord.ear import EarReport

TONE_TOLERANCE_HZ = 5.0
# Silences shorter than this are packet jitter, not gaps anybody hears.
MIN_GAP_S = 0.06


class ToneServer:
    """Serves generated sine tones (Opus in WebM) from 127.0.0.1."""

    def __init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="musicbot-demo-"))
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self, tones: Sequence[tuple[int, float]]) -> None:
        """Generate the tones with ffmpeg, then serve them."""
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            raise RuntimeError("ffmpeg is not installed (apt-get install ffmpeg)")
        for frequency, duration in tones:
            process = await asyncio.create_subprocess_exec(
                ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                "-f", "lavfi", "-i", f"sine=frequency={frequency}:duration={duration}",
                "-ac", "2", "-ar", "48000", "-c:a", "libopus", "-b:a", "64k", "-f", "webm",
                str(self._dir / self.name(frequency, duration)),
            )  # fmt: skip
            if await process.wait() != 0:
                raise RuntimeError(f"ffmpeg could not generate a {frequency} Hz tone")
        app = web.Application()
        app.router.add_static("/tones/", self._dir)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    @staticmethod
    def name(frequency: int, duration: float) -> str:
        """File name of a tone."""
        return f"tone-{frequency}hz-{duration:g}s.webm"

    def url(self, frequency: int, duration: float) -> str:
        """URL of a generated tone."""
        return f"{self.base_url}/tones/{self.name(frequency, duration)}"

    async def stop(self) -> None:
        """Stop serving and delete the files."""
        if self._runner is not None:
            await self._runner.cleanup()
        shutil.rmtree(self._dir, ignore_errors=True)


class _EmbeddedUvicorn(uvicorn.Server):
    """uvicorn inside a process that owns its signals (the worker handles SIGTERM)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class FrontDoorServer:
    """The interactions app served by uvicorn on 127.0.0.1, as Discord would reach it."""

    def __init__(self, app: Any) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        port = self._socket.getsockname()[1]
        config = uvicorn.Config(app, log_config=None, log_level="warning", lifespan="off")
        self._server = _EmbeddedUvicorn(config)
        self._task: asyncio.Task[None] | None = None
        self.url = f"http://127.0.0.1:{port}/interactions"

    async def start(self) -> None:
        """Serve in a task; return once listening."""
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        while not self._server.started:
            if self._task.done():
                await self._task  # raises what went wrong
                raise RuntimeError("the interactions server stopped at start-up")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        """Shut uvicorn down."""
        self._server.should_exit = True
        if self._task is not None:
            await self._task
        self._socket.close()


@dataclass(frozen=True)
class Gap:
    """Silence between audible stretches; ``within_track`` when the same tone resumes after it."""

    at_s: float
    duration_s: float
    within_track: bool

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "at_s": round(self.at_s, 2),
            "duration_s": round(self.duration_s, 3),
            "within_track": self.within_track,
        }


def _same(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and abs(a - b) <= TONE_TOLERANCE_HZ


def find_gaps(report: EarReport) -> list[Gap]:
    """Silent stretches between audible segments (leading and trailing silence excluded)."""
    gaps: list[Gap] = []
    timeline = report.timeline
    for index in range(1, len(timeline) - 1):
        segment = timeline[index]
        if segment.frequency_hz is not None or segment.duration_s < MIN_GAP_S:
            continue
        before, after = timeline[index - 1], timeline[index + 1]
        if before.frequency_hz is None or after.frequency_hz is None:
            continue
        gaps.append(
            Gap(segment.start_s, segment.duration_s, _same(before.frequency_hz, after.frequency_hz))
        )
    return gaps


def order_heard(report: EarReport, frequencies: Sequence[int]) -> list[int]:
    """The expected tones in the order the ear first heard each (short blips ignored)."""
    order: list[int] = []
    for segment in report.audible_timeline(min_duration_s=0.2):
        for frequency in frequencies:
            if _same(segment.frequency_hz, frequency) and frequency not in order:
                order.append(frequency)
    return order
