"""Time to first audio: job handed to the worker -> first packet at the fake's ear.

One guild, our worker in its own process (bench/bots.py), the fake Discord decoding audio in
another. The bot joins voice once (a warm-up track), then, interleaved round by round:

- ``fresh``: /play of a URL never seen before (yt-dlp resolves it, ffmpeg starts);
- ``resolved``: /play of the URL the previous ``fresh`` play resolved (the stream cache);
- ``hand``: the baseline, in this process: ``yt-dlp -g -f bestaudio/best URL`` then ffmpeg
  copying the Opus stream to a pipe, timed from spawning yt-dlp to the first audio page;
- ``warm hand``: the same with yt-dlp already imported and warmed (``extract_info`` in a
  thread of this process): the floor without yt-dlp's start-up, a stricter comparison;
- ``gap``: two tracks queued back to back; the silence the ear hears between them.

Times cross processes on the system-wide monotonic clock (the ear stamps arrivals with the
kernel's receive time). ``first packet`` is what the ear receives first: discord.py also sends
the Ogg stream's two header packets, so audible sound starts about 40 ms later.

Run: ``.venv/bin/python bench/ttfa.py [--rounds 5]`` (prints JSON); bench/run_all.py calls it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from harness import PYTHON, BotProcess, FakeProcess, ToneFiles, median

TONE_S = 1.5
GAP_TONE_S = 2.0
GAP_GOAL_MS = 100.0
FRESH_GOAL_RATIO = 1.2


class Driver:
    """Plays tracks on the one guild and reads the ear."""

    def __init__(self, fake: FakeProcess, bot: BotProcess) -> None:
        self.fake = fake
        self.bot = bot
        self.guild = fake.guilds[0]

    async def play(self, url: str) -> float:
        """Defer an interaction and hand the job over; return when it was handed over."""
        gid = self.guild["guild_id"]
        record = await self.fake.deferred_interaction(gid, url)
        item = {
            "guild_id": gid,
            "text_channel_id": self.guild["text_channel_id"],
            "voice_channel_id": self.guild["voice_channel_id"],
            "user_id": self.guild["user_id"],
            "url": url,
            "interaction_id": record["id"],
            "token": record["token"],
        }
        answer = await self.bot.call({"op": "play", "items": [item]})
        return float(answer["sent_at"][0])

    async def first_packet(self, timeout_s: float = 30.0) -> float:
        """Wait for the ear's first packet since the last reset."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            report = await self.fake.ear(self.guild["guild_id"])
            if report is not None and report["packets"] > 0:
                return float(report["first_packet_monotonic"])
            await asyncio.sleep(0.01)
        raise TimeoutError("no audio at the ear")

    async def idle(self, timeout_s: float = 30.0) -> None:
        """Wait until nothing plays."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if (await self.bot.call({"op": "status"}))["playing"] == 0:
                await asyncio.sleep(0.3)  # the end-of-track silence and bookkeeping
                return
            await asyncio.sleep(0.1)
        raise TimeoutError("the track did not end")

    async def timed_play(self, url: str) -> float:
        """Reset the ear, play, return ms from hand-over to the first packet; wait for its end."""
        await self.fake.reset_ears([self.guild["guild_id"]])
        sent = await self.play(url)
        first = await self.first_packet()
        await self.idle()
        return (first - sent) * 1000


async def hand_run(url: str) -> float:
    """yt-dlp then ffmpeg started by hand: ms from spawning yt-dlp to the first audio page."""
    started = time.monotonic()
    ytdlp = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "yt_dlp", "-q", "--no-warnings", "--no-playlist",
        "-f", "bestaudio/best", "-g", url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    out, _ = await ytdlp.communicate()
    if ytdlp.returncode != 0:
        raise RuntimeError("yt-dlp failed on the tone URL")
    stream_url = out.decode().strip().splitlines()[0]
    return await _first_audio_page(stream_url, started)


class WarmHand:
    """The hand-run with yt-dlp already imported and warmed, in this process (a thread): the
    floor for any bot that uses yt-dlp + ffmpeg, without the interpreter start-up."""

    def __init__(self) -> None:
        import yt_dlp  # noqa: PLC0415 - only this variant needs it in the driver

        self._ydl = yt_dlp.YoutubeDL(
            {"quiet": True, "no_warnings": True, "noplaylist": True, "format": "bestaudio/best"}
        )

    async def run(self, url: str) -> float:
        """ms from asking yt-dlp to the first audio page out of ffmpeg."""
        started = time.monotonic()
        info = await asyncio.to_thread(self._ydl.extract_info, url, download=False)
        return await _first_audio_page(str(info["url"]), started)


async def _first_audio_page(stream_url: str, started: float) -> float:
    ffmpeg = await asyncio.create_subprocess_exec(
        shutil.which("ffmpeg") or "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
        "-i", stream_url, "-map", "0:a:0", "-c:a", "copy", "-f", "opus", "pipe:1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert ffmpeg.stdout is not None
    seen = b""
    try:
        # Pages: OpusHead, OpusTags, then audio. The third page's start is the first audio.
        while seen.count(b"OggS") < 3:
            chunk = await ffmpeg.stdout.read(4096)
            if not chunk:
                raise RuntimeError("ffmpeg ended before any audio")
            seen += chunk
        return (time.monotonic() - started) * 1000
    finally:
        ffmpeg.kill()
        await ffmpeg.wait()


def _gap_figures(report: dict[str, Any]) -> dict[str, Any]:
    span_s = report["last_packet_monotonic"] - report["first_packet_monotonic"] + 0.02
    return {
        "gap_audible_ms": round((span_s - report["audible_s"]) * 1000, 1),
        "gap_packets_ms": round(max(0.0, report["interarrival_max_ms"] - 20.0), 1),
        "order_hz": [s["frequency_hz"] for s in report["timeline"] if s["frequency_hz"]],
        "lost": report["lost"],
    }


async def run(rounds: int, log_dir: Path) -> dict[str, Any]:
    """The whole time-to-first-audio benchmark."""
    tones = ToneFiles()
    await tones.start()
    fresh, resolved, hand, warm_hand, gaps = [], [], [], [], []
    warm = WarmHand()
    try:
        short = await tones.make(523, TONE_S, "webm")
        first_gap, second_gap = (
            await tones.make(440, GAP_TONE_S, "webm"),
            await tones.make(660, GAP_TONE_S, "webm"),
        )
        async with (
            FakeProcess(1, decode=True) as fake,
            BotProcess("ours", fake.info, log_path=log_dir / "ttfa.log") as bot,
        ):
            driver = Driver(fake, bot)
            await fake.move_users([driver.guild["guild_id"]])
            join_ms = await driver.timed_play(tones.url(short, "warm-up"))
            await hand_run(tones.url(short, "hand-warm-up"))  # the OS file cache
            await warm.run(tones.url(short, "warm-hand-warm-up"))  # yt-dlp's extractors
            for index in range(rounds):
                url = tones.url(short, f"fresh-{index}")
                fresh.append(await driver.timed_play(url))
                resolved.append(await driver.timed_play(url))
                hand.append(await hand_run(tones.url(short, f"hand-{index}")))
                warm_hand.append(await warm.run(tones.url(short, f"warm-hand-{index}")))
            for index in range(max(1, rounds // 2)):
                gid = driver.guild["guild_id"]
                await fake.reset_ears([gid])
                await driver.play(tones.url(first_gap, f"gap-a-{index}"))
                await driver.play(tones.url(second_gap, f"gap-b-{index}"))
                await driver.first_packet()
                await asyncio.sleep(1.0)
                await driver.idle(timeout_s=30)
                report = await fake.ear(gid)
                assert report is not None
                gaps.append(_gap_figures(report))
            status = await bot.call({"op": "status"})
    finally:
        await tones.stop()
    fresh_ms, hand_ms = median(fresh), median(hand)
    gap_ms = median([g["gap_audible_ms"] for g in gaps])
    return {
        "benchmark": "ttfa",
        "rounds": rounds,
        "first_play_with_voice_join_ms": round(join_ms, 1),
        "fresh_ms_median": _r(fresh_ms),
        "resolved_ms_median": _r(median(resolved)),
        "hand_ytdlp_ffmpeg_ms_median": _r(hand_ms),
        "ratio_fresh_to_hand": round(fresh_ms / hand_ms, 3) if fresh_ms and hand_ms else None,
        "hand_warm_ytdlp_ffmpeg_ms_median": _r(median(warm_hand)),
        "ratio_fresh_to_warm_hand": _ratio(fresh_ms, median(warm_hand)),
        "goal_ratio_fresh_to_hand": FRESH_GOAL_RATIO,
        "next_track_gap_ms_median": _r(gap_ms),
        "goal_next_track_gap_ms": GAP_GOAL_MS,
        "worker_ttfa_ms_receipt_to_first_read": status.get("ttfa_ms", []),
        "samples": {
            "fresh_ms": [round(v, 1) for v in fresh],
            "resolved_ms": [round(v, 1) for v in resolved],
            "hand_ms": [round(v, 1) for v in hand],
            "warm_hand_ms": [round(v, 1) for v in warm_hand],
            "gaps": gaps,
        },
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def main() -> None:
    """Print the time-to-first-audio benchmark as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--log-dir", default="/tmp")
    args = parser.parse_args()
    report = asyncio.run(run(args.rounds, Path(args.log_dir)))
    sys.stdout.write(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
