"""Commands end to end, judged by what the fake's ear decoded."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.conftest import Bot, BotFactory, reply_of
from tests.fixtures_audio import ToneServer

pytestmark = pytest.mark.e2e

TONE_S = 2.5


async def test_play_is_heard_at_440_hz_for_the_whole_track_without_gaps(
    bot: Bot, tone_server: ToneServer
) -> None:
    record = await bot.command("play", query=tone_server.url(440, TONE_S))
    assert reply_of(record).startswith("Now playing")
    assert record.deferred  # the front door deferred; the worker completed @original

    report = await bot.wait_silent()
    assert report.seconds_at(440) >= TONE_S - 0.1
    assert report.dominant_frequency_hz == pytest.approx(440, abs=5)
    audible = report.audible_timeline(min_duration_s=0.1)
    assert len(audible) == 1, report.to_json()["timeline"]  # one unbroken stretch of 440 Hz
    assert report.lost == 0 and report.sequence_gaps == []
    assert report.mode == "aead_xchacha20_poly1305_rtpsize"
    assert bot.worker.counters.jobs_succeeded == 1
    bot.fake.assert_no_failures()  # every REST call passed the OpenAPI check


async def test_play_next_is_queued_and_skip_moves_to_its_frequency(
    bot: Bot, tone_server: ToneServer
) -> None:
    await bot.command("play", query=tone_server.url(440, 4))
    await bot.hear(440, 1.0)
    queued = await bot.command("play", query=tone_server.url(660, TONE_S))
    assert "Queued" in reply_of(queued)
    skipped = await bot.command("skip")
    assert reply_of(skipped).startswith("Skipped") and "Now playing" in reply_of(skipped)
    report = await bot.hear(660, TONE_S - 0.2)
    frequencies = [round(s.frequency_hz or 0) for s in report.audible_timeline(min_duration_s=0.2)]
    assert frequencies == [440, 660]
    bot.fake.assert_no_failures()


async def test_next_track_starts_by_itself_and_is_announced_in_the_channel(
    bot: Bot, tone_server: ToneServer
) -> None:
    await bot.command("play", query=tone_server.url(440, 1.5))
    await bot.command("play", query=tone_server.url(660, 1.5))
    await bot.hear(660, 1.2)
    # Shown on the guild's now-playing message, edited with the bot token (the interaction
    # token may be long dead by then): see test_now_playing.py.
    notice = await bot.fake.wait_for_channel_message(
        predicate=lambda m: str((m.get("embeds") or [{}])[0].get("title", "")).startswith("660"),
        timeout_s=10,
    )
    assert notice["author"]["id"] == bot.fake.bot_user_id
    assert not notice.get("interaction_metadata")
    bot.fake.assert_no_failures()


async def test_stop_clears_and_leaves_the_channel(bot: Bot, tone_server: ToneServer) -> None:
    await bot.command("play", query=tone_server.url(440, 4))
    await bot.hear(440, 0.5)
    assert bot.fake.bot_voice_state() is not None
    stopped = await bot.command("stop")
    assert "left" in reply_of(stopped)
    await bot.fake.wait_for_bot_voice(connected=False, timeout_s=10)
    assert bot.fake.bot_voice_state() is None
    assert bot.worker.sessions is not None and bot.worker.sessions.active == 0


async def test_pause_and_resume(bot: Bot, tone_server: ToneServer) -> None:
    await bot.command("play", query=tone_server.url(440, 3))
    await bot.hear(440, 0.5)
    assert reply_of(await bot.command("pause")) == "Paused."
    paused_at = bot.fake.ear_report()
    await asyncio.sleep(0.6)
    during = bot.fake.ear_report()
    assert paused_at is not None and during is not None
    assert during.packets - paused_at.packets <= 10  # nothing but the tail of the last frames
    assert reply_of(await bot.command("resume")) == "Resumed."
    await bot.hear(440, 2.5)


async def test_two_guilds_play_different_tones_at_once_without_gaps(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    bot = await start_bot(guilds=2)
    first, second = bot.fake.guilds
    bot.fake.move_user(first.guild_id)
    bot.fake.move_user(second.guild_id)
    await asyncio.gather(
        bot.command("play", guild=first.guild_id, query=tone_server.url(440, TONE_S)),
        bot.command("play", guild=second.guild_id, query=tone_server.url(660, TONE_S)),
    )
    one, two = await asyncio.gather(
        bot.wait_silent(guild=first.guild_id), bot.wait_silent(guild=second.guild_id)
    )
    for report, hz in ((one, 440), (two, 660)):
        assert report.seconds_at(hz) >= TONE_S - 0.1, report.to_json()["timeline"]
        assert len(report.audible_timeline(min_duration_s=0.1)) == 1
        assert report.lost == 0
    bot.fake.assert_no_failures()
