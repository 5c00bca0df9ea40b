"""Shared pieces of the voice benchmarks: the fake Discord process, tone files, /proc sampling.

The fake Discord runs in its own process (so its listening ear never competes with the system
under test inside one interpreter); the worker or baseline bot runs in another (bench/bots.py),
and this process only drives them and reads /proc. Everything binds 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


# --- /proc ----------------------------------------------------------------------------------
def _children(pid: int) -> list[int]:
    kids: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/children") as f:
                kids += [int(k) for k in f.read().split()]
    return kids


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its live descendants."""
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += _children(current)
    return tree


def cpu_ticks(pid: int) -> int:
    """utime + stime of one process in clock ticks (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in KiB; PSS shares shared pages (libraries) fairly."""
    rss = pss = 0
    with contextlib.suppress(OSError), open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss


def udp_drops(pid: int) -> int:
    """Datagrams the kernel dropped on ``pid``'s UDP sockets (full receive buffers)."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    drops = 0
    with contextlib.suppress(OSError), open(f"/proc/{pid}/net/udp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[9] in inodes:
                drops += int(fields[-1])
    return drops


@dataclass(frozen=True)
class TreeSample:
    """CPU ticks per pid and memory of a process tree at one instant."""

    at: float
    ticks: dict[int, int]
    rss_kb: int
    pss_kb: int
    processes: int


def sample_tree(pid: int, *, memory: bool = True) -> TreeSample:
    """Sample a process tree's CPU ticks and (optionally) memory."""
    pids = process_tree(pid)
    ticks = {p: cpu_ticks(p) for p in pids}
    rss = pss = 0
    if memory:
        for p in pids:
            r, s = memory_kb(p)
            rss, pss = rss + r, pss + s
    return TreeSample(time.monotonic(), ticks, rss, pss, len(pids))


def cpu_seconds_between(
    before: TreeSample, after: TreeSample, *, only_pid: int | None = None
) -> float:
    """CPU seconds the tree (or just ``only_pid`` in it) used between two samples (processes
    alive at the end)."""
    ticks = sum(
        t - before.ticks.get(p, 0)
        for p, t in after.ticks.items()
        if only_pid is None or p == only_pid
    )
    return ticks / CLK_TCK


# --- the fake Discord, in its own process -----------------------------------------------------
class FakeProcess:
    """``musicbot fake-discord`` as a subprocess; ``info`` is the JSON line it prints."""

    def __init__(self, guilds: int, *, decode: bool) -> None:
        self._guilds = guilds
        self._decode = decode
        self.proc: asyncio.subprocess.Process | None = None
        self.info: dict[str, Any] = {}
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> FakeProcess:
        argv = [PYTHON, "-m", "fake_discord", "--guilds", str(self._guilds)]
        if not self._decode:
            argv.append("--no-decode")
        self.proc = await asyncio.create_subprocess_exec(
            *argv, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL
        )
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        self.info = json.loads(line)
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._http is not None:
            await self._http.close()
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()

    @property
    def guilds(self) -> list[dict[str, Any]]:
        """Seeded guilds: guild_id, text_channel_id, voice_channel_id, user_id, name."""
        return list(self.info["guilds"])

    async def control(self, method: str, path: str, body: Any = None, **query: str) -> Any:
        """Call a /_fake control route."""
        assert self._http is not None
        url = self.info["control_base_url"] + path
        async with self._http.request(method, url, json=body, params=query or None) as resp:
            data = await resp.json(content_type=None)
            if resp.status >= 400:
                raise RuntimeError(f"{method} {path}: {resp.status} {data}")
            return data

    async def rest(self, method: str, path: str, body: Any = None) -> int:
        """Call the fake's Discord REST API (unauthenticated routes: interaction callbacks)."""
        assert self._http is not None
        url = self.info["rest_base_url"] + path
        async with self._http.request(method, url, json=body) as resp:
            await resp.read()
            return resp.status

    async def deferred_interaction(self, guild_id: str, query: str) -> dict[str, Any]:
        """Mint a /play interaction and defer it, as the front door does before enqueueing."""
        record: dict[str, Any] = await self.control(
            "POST",
            "/interactions",
            {"via": "none", "guild_id": guild_id, "name": "play", "options": {"query": query}},
        )
        status = await self.rest(
            "POST", f"/interactions/{record['id']}/{record['token']}/callback", {"type": 5}
        )
        if status not in (200, 204):
            raise RuntimeError(f"deferring an interaction answered {status}")
        return record

    async def ear(self, guild_id: str) -> dict[str, Any] | None:
        """The latest ear report for a guild."""
        result: dict[str, Any] | None = await self.control("GET", "/ear", guild_id=guild_id)
        return result

    async def ears(self, guild_ids: Sequence[str]) -> list[dict[str, Any] | None]:
        """Ear reports for many guilds (a few requests at a time)."""
        gate = asyncio.Semaphore(16)

        async def one(gid: str) -> dict[str, Any] | None:
            async with gate:
                return await self.ear(gid)

        return list(await asyncio.gather(*(one(g) for g in guild_ids)))

    async def reset_ears(self, guild_ids: Sequence[str]) -> None:
        """Start new ear reports on the live connections."""
        gate = asyncio.Semaphore(16)

        async def one(gid: str) -> None:
            async with gate:
                await self.control("POST", "/ear/reset", {"guild_id": gid})

        await asyncio.gather(*(one(g) for g in guild_ids))

    async def move_users(self, guild_ids: Sequence[str]) -> None:
        """Put each guild's seeded user into its voice channel."""
        for gid in guild_ids:
            await self.control("POST", "/voice/move", {"guild_id": gid})


# --- a bot process (bench/bots.py) ------------------------------------------------------------
class BotProcess:
    """bench/bots.py as a subprocess, driven by JSON lines on stdin/stdout."""

    def __init__(self, kind: str, fake_info: dict[str, Any], *, log_path: Path) -> None:
        self._kind = kind
        self._fake_info = fake_info
        self._log_path = log_path
        self.proc: asyncio.subprocess.Process | None = None
        self._log: Any = None

    async def __aenter__(self) -> BotProcess:
        self._log = self._log_path.open("ab")
        env = {**os.environ, "ALLOW_PRIVATE_SOURCES": "true"}
        self.proc = await asyncio.create_subprocess_exec(
            PYTHON,
            str(ROOT / "bench" / "bots.py"),
            self._kind,
            json.dumps(self._fake_info),
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=self._log,
            limit=2**22,
        )
        ready = await self.read(timeout_s=90)
        if not ready.get("ready"):
            raise RuntimeError(f"{self._kind} bot did not start: {ready}")
        return self

    async def __aexit__(self, *_: object) -> None:
        proc = self.proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(OSError, ConnectionError):
                await self.send({"op": "quit"})
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if self._log is not None:
            self._log.close()

    @property
    def pid(self) -> int:
        """The bot process id (its tree is what the benchmark measures)."""
        assert self.proc is not None
        return self.proc.pid

    async def send(self, message: dict[str, Any]) -> None:
        """One command line."""
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        await self.proc.stdin.drain()

    async def read(self, *, timeout_s: float = 300) -> dict[str, Any]:
        """One answer line."""
        assert self.proc is not None and self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout_s)
        if not line:
            raise RuntimeError(f"{self._kind} bot exited (see {self._log_path})")
        result: dict[str, Any] = json.loads(line)
        return result

    async def call(self, message: dict[str, Any], *, timeout_s: float = 300) -> dict[str, Any]:
        """Send a command and wait for its answer."""
        await self.send(message)
        return await self.read(timeout_s=timeout_s)


class JoinPacer:
    """At most ``limit`` voice joins per sliding 60 s.

    Each join is one gateway message (opcode 4); Discord closes a session sending more than
    120 in 60 s (4008), and discord.py's own limiter (110 per fixed window) can still burst past
    that across a window boundary, so the driver spreads joins itself.
    """

    def __init__(self, limit: int = 90) -> None:
        self._limit = limit
        self._sent: deque[float] = deque()

    async def take(self, wanted: int) -> int:
        """Wait until at least one join may go; return how many (<= wanted) may go now."""
        while True:
            now = time.monotonic()
            while self._sent and self._sent[0] < now - 60:
                self._sent.popleft()
            room = self._limit - len(self._sent)
            if room > 0:
                granted = min(room, wanted)
                self._sent.extend([now] * granted)
                return granted
            await asyncio.sleep(self._sent[0] + 60.5 - now)


# --- tone files, served from 127.0.0.1 ---------------------------------------------------------
TONE_FORMATS = {
    # Opus in WebM: what YouTube's bestaudio usually is; passthrough.
    "webm": ["-c:a", "libopus", "-b:a", "64k", "-f", "webm"],
    "ogg": ["-c:a", "libopus", "-b:a", "64k", "-f", "ogg"],
    # Needs transcoding.
    "mp3": ["-c:a", "libmp3lame", "-b:a", "128k", "-f", "mp3"],
    "m4a": ["-c:a", "aac", "-b:a", "128k", "-f", "ipod"],
}


class ToneFiles:
    """Generated sine tones (ffmpeg) served over HTTP from 127.0.0.1."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="musicbot-bench-"))
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def make(self, frequency: int, duration_s: float, fmt: str) -> str:
        """Generate one tone (cached by name); return its file name."""
        name = f"tone-{frequency}hz-{duration_s:g}s.{fmt}"
        path = self.dir / name
        if not path.exists():
            ffmpeg = shutil.which("ffmpeg") or "ffmpeg"
            process = await asyncio.create_subprocess_exec(
                ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                "-f", "lavfi", "-i", f"sine=frequency={frequency}:duration={duration_s}",
                "-ac", "2", "-ar", "48000", *TONE_FORMATS[fmt], str(path),
            )  # fmt: skip
            if await process.wait() != 0:
                raise RuntimeError(f"ffmpeg could not make {name}")
        return name

    async def start(self) -> None:
        """Serve the directory."""
        app = web.Application()
        app.router.add_static("/tones/", self.dir)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    def url(self, name: str, tag: str = "") -> str:
        """URL of a tone; ``tag`` makes it a distinct URL (a fresh source to resolve)."""
        return f"{self.base_url}/tones/{name}" + (f"?n={tag}" if tag else "")

    async def stop(self) -> None:
        """Stop serving and delete the files."""
        if self._runner is not None:
            await self._runner.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank-interpolated percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: Sequence[float]) -> float | None:
    """The median (None for no values)."""
    return percentile(values, 50)
