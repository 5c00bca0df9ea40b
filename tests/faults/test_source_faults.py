"""Sources that fail while playing: a stream that stalls mid-way, ffmpeg killed. The guild's
next queued track still plays, and other guilds are not disturbed."""

from __future__ import annotations

import asyncio

import pytest

from fake_discord.ear import EarReport
from tests.e2e.conftest import Bot, BotFactory, reply_of
from tests.faults.stalls import StallingServer, ffmpeg_children, kill_ffmpeg
from tests.fixtures_audio import ToneServer

pytestmark = pytest.mark.e2e

# A stalled read is given up after 10 s (ffmpeg -rw_timeout; PyAV's read timeout is 15 s), and
# the input reconnects a couple of times (waiting again each time) before it gives up.
STALL_GIVE_UP_S = 75.0


async def hear_within(bot: Bot, frequency: float, seconds: float, *, timeout_s: float) -> EarReport:
    """Like Bot.hear, with a longer budget."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        report = bot.fake.ear_report()
        if report is not None and report.seconds_at(frequency) >= seconds:
            return report
        await asyncio.sleep(0.1)
    report = bot.fake.ear_report()
    raise AssertionError(f"{frequency} Hz not heard: {report.to_json() if report else None}")


# webm (Opus) is demuxed in-process with PyAV; mp3 is decoded and encoded in-process.
@pytest.mark.parametrize(("fmt", "content_type"), [("webm", "audio/webm"), ("mp3", "audio/mpeg")])
async def test_a_source_that_stalls_mid_stream_is_given_up_and_the_queue_moves_on(
    bot: Bot, tone_server: ToneServer, fmt: str, content_type: str
) -> None:
    # GIVEN a 6 s track whose server stops sending after about a third of it
    with StallingServer(tone_server.file(440, 6.0, fmt), content_type, 0.35) as stall:
        record = await bot.command("play", query=stall.url)
        assert reply_of(record).startswith("Now playing")
        queued = await bot.command("play", query=tone_server.url(660, 1.5))
        assert "Queued" in reply_of(queued)
        # WHEN the stream stalls
        await bot.hear(440, 0.5)
        # THEN the stalled track is given up within a bounded time and the next one plays
        report = await hear_within(bot, 660, 1.3, timeout_s=STALL_GIVE_UP_S)
    heard = [round(s.frequency_hz or 0) for s in report.audible_timeline(min_duration_s=0.3)]
    assert heard[0] == 440 and heard[-1] == 660, heard
    assert report.seconds_at(440) < 4.0  # not the whole 6 s: the stall cut it short


async def test_ffmpeg_killed_mid_track_moves_on_to_the_next_track(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    # GIVEN a worker encoding through ffmpeg (WORKER_AUDIO_IN_PROCESS=false, or PyAV unable
    # to open a source), a long track playing and another queued
    bot = await start_bot(audio_in_process=False)
    bot.fake.move_user()
    await bot.command("play", query=tone_server.url(440, 30.0, "mp3"))
    await bot.command("play", query=tone_server.url(660, 1.5))
    await bot.hear(440, 1.0)
    # WHEN its ffmpeg process dies (OOM killer, crash)
    pids = []
    for _ in range(50):
        pids = kill_ffmpeg()
        if pids:
            break
        await asyncio.sleep(0.1)
    assert pids, "no ffmpeg child found"
    # THEN the guild's next track plays, and the worker keeps serving
    report = await bot.hear(660, 1.3)
    assert report.seconds_at(440) < 15.0  # cut short: not the whole 30 s
    after = await bot.command("play", query=tone_server.url(880, 1.0))
    assert reply_of(after).startswith(("Now playing", "Queued"))
    await bot.hear(880, 0.8)
    assert not [pid for pid in ffmpeg_children() if pid in pids]  # reaped, no zombies kept
