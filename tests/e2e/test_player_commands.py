"""Player commands end to end (/skipto, /loop, /previous, /seek, /volume, queue editing):
signed interaction -> front door -> queue -> worker, judged by the ear and by the store."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fake_discord.ear import EarReport
from tests.e2e.conftest import Bot, BotFactory, is_ephemeral, reply_of
from tests.faults.stalls import ffmpeg_children
from tests.fixtures_audio import ToneServer

pytestmark = pytest.mark.e2e


def frequencies(report: EarReport, min_duration_s: float = 0.2) -> list[int]:
    """The tones heard, in order (rounded to 10 Hz), ignoring blips."""
    return [
        round((s.frequency_hz or 0) / 10) * 10
        for s in report.audible_timeline(min_duration_s=min_duration_s)
    ]


async def test_skipto_jumps_over_the_tracks_before_it(bot: Bot, tone_server: ToneServer) -> None:
    # GIVEN 440 Hz playing and 550, 660 queued
    await bot.command("play", query=tone_server.url(440, 5))
    for hz in (550, 660):
        assert reply_of(await bot.command("play", query=tone_server.url(hz, 2))).startswith(
            "Queued"
        )
    await bot.hear(440, 0.5)

    # WHEN skipping to the second queued track
    record = await bot.command("skipto", position=2)

    # THEN 660 Hz plays next and 550 Hz is never heard
    assert record.deferred
    assert reply_of(record).startswith("Skipped to **660")
    report = await bot.wait_silent()
    assert report.seconds_at(660) >= 1.8
    assert report.seconds_at(550) == 0
    assert frequencies(report) == [440, 660]
    bot.fake.assert_no_failures()


async def test_loop_track_replays_until_loop_is_off(bot: Bot, tone_server: ToneServer) -> None:
    await bot.command("play", query=tone_server.url(440, 1.5))
    assert reply_of(await bot.command("loop", mode="track")) == "Looping the current track."
    # Heard for more than two plays of a 1.5 s track: it came round again.
    await bot.hear(440, 3.5)
    assert reply_of(await bot.command("loop", mode="off")) == "Loop is off."
    report = await bot.wait_silent()
    assert report.seconds_at(440) < 9.0  # stopped repeating once loop was off
    bot.fake.assert_no_failures()


async def test_previous_plays_the_last_track_again_then_the_current_one(
    bot: Bot, tone_server: ToneServer
) -> None:
    await bot.command("play", query=tone_server.url(440, 1.2))
    await bot.command("play", query=tone_server.url(660, 4))
    await bot.hear(660, 0.8)

    record = await bot.command("previous")

    assert reply_of(record).startswith("Playing **440") and reply_of(record).endswith("again.")
    await bot.hear(440, 2.0)  # the first play (1.2 s) and most of the second
    report = await bot.hear(660, 2.5)  # then the interrupted track comes back
    assert frequencies(report)[:4] == [440, 660, 440, 660]


async def test_commands_without_a_player_or_with_bad_positions_get_private_answers(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    bot = await start_bot(rate_limit_commands=50)
    bot.fake.move_user()
    nobody = await bot.command("shuffle")
    assert reply_of(nobody) == "I'm not in a voice channel here."
    assert is_ephemeral(nobody)

    await bot.command("play", query=tone_server.url(440, 4))
    await bot.hear(440, 0.3)
    cases = {
        ("previous", ()): "Nothing was played before this.",
        ("remove", (("position", 1),)): "The queue is empty.",
        ("clear", ()): "The queue is already empty.",
        ("shuffle", ()): "There's nothing to shuffle: the queue needs 2 tracks.",
        ("seek", (("position", "9:00"),)): "That's past the end of the track (0:04).",
    }
    for (name, options), expected in cases.items():
        record = await bot.command(name, **dict[str, Any](options))
        assert reply_of(record) == expected, name
        assert is_ephemeral(record), name
    await bot.command("play", query=tone_server.url(550, 1))
    out_of_range = await bot.command("skipto", position=3)
    assert reply_of(out_of_range) == "There are only 1 tracks in the queue: pick 1 to 1."
    assert is_ephemeral(out_of_range)
    # A bad option never reaches the queue: the front door answers at once.
    refused = await bot.command("volume", percent=200)
    assert not refused.deferred
    assert reply_of(refused) == "Volume must be from 0 to 150 (you gave 200)."
    bot.fake.assert_no_failures()


async def test_queue_edits_are_saved_in_the_store(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    # GIVEN the embedded bot (SQLite store) playing 440 Hz with 550, 660, 770 queued
    bot = await start_bot(embedded=True, rate_limit_commands=50)
    bot.fake.move_user()
    guild_id = bot.fake.guilds[0].guild_id
    state_store = bot.worker.state
    assert state_store is not None

    async def queued() -> list[str]:
        state = await state_store.get_guild(guild_id)
        assert state is not None
        return [track.title.split("-")[0] for track in state.queue]

    await bot.command("play", query=tone_server.url(440, 8))
    for hz in (550, 660, 770):
        await bot.command("play", query=tone_server.url(hz, 1))
    assert await queued() == ["550", "660", "770"]

    # WHEN removing, moving, shuffling and clearing, THEN the store follows each change
    assert reply_of(await bot.command("remove", position=2)).startswith("Removed **660")
    assert await queued() == ["550", "770"]
    await bot.command("play", query=tone_server.url(880, 1))
    move: dict[str, Any] = {"from": 3, "to": 1}  # "from" is a keyword in Python
    assert reply_of(await bot.command("move", **move)) == (
        f"Moved **{tone_title(880)}** to position 1."
    )
    assert await queued() == ["880", "550", "770"]
    assert reply_of(await bot.command("shuffle")) == "Shuffled 3 tracks."
    assert sorted(await queued()) == ["550", "770", "880"]
    assert reply_of(await bot.command("loop", mode="queue")) == "Looping the queue."
    assert reply_of(await bot.command("clear")) == "Cleared 3 tracks from the queue."
    state = await state_store.get_guild(guild_id)
    assert state is not None and state.queue == ()
    assert state.settings.loop.value == "queue"
    assert state.now_playing is not None  # the track on air plays on
    assert state.now_playing.track.title.startswith("440")
    await bot.hear(440, 1.0)
    bot.fake.assert_no_failures()


def tone_title(hz: int) -> str:
    """The title yt-dlp's generic extractor gives a tone file."""
    return f"{hz}-1"


async def test_seek_jumps_into_the_track(bot: Bot, tone_server: ToneServer) -> None:
    # An 8 s tone: heard for 1 s, then from 6 s: about 3 s in all instead of 8.
    await bot.command("play", query=tone_server.url(440, 8))
    await bot.hear(440, 1.0)
    record = await bot.command("seek", position="0:06")
    assert reply_of(record) == "Jumped to 0:06."
    report = await bot.wait_silent(quiet_s=0.8)
    assert 2.0 <= report.seconds_at(440) <= 4.5, report.to_json()["timeline"]
    bot.fake.assert_no_failures()


async def test_volume_changes_the_level_the_ear_hears(bot: Bot, tone_server: ToneServer) -> None:
    await bot.command("play", query=tone_server.url(440, 8))
    before = await bot.hear(440, 2.0)
    loud = before.level_dbfs(before.audio_s - 1.2, before.audio_s)

    record = await bot.command("volume", percent=50)
    assert reply_of(record) == "Volume set to 50 %."
    mark = bot.fake.ear_report()
    assert mark is not None
    await asyncio.sleep(0.1)
    after = await bot.hear(440, mark.seconds_at(440) + 2.0)
    quiet = after.level_dbfs(after.audio_s - 1.2, after.audio_s)

    # Half the amplitude is 6 dB down (Opus coding moves a pure tone's level a little).
    assert loud is not None and quiet is not None, after.to_json()["levels"]
    assert loud - quiet == pytest.approx(6.0, abs=1.5)
    assert 440 in frequencies(after)
    # decoded, scaled and encoded again in the worker's process: no ffmpeg child per stream
    assert not ffmpeg_children()
    bot.fake.assert_no_failures()


async def test_filter_presets_change_what_is_heard_and_none_puts_it_back(
    bot: Bot, tone_server: ToneServer
) -> None:
    # Nightcore plays 1.25 times faster and higher: a 440 Hz tone is heard at 550 Hz.
    await bot.command("play", query=tone_server.url(440, 10))
    await bot.hear(440, 1.0)
    assert reply_of(await bot.command("filter", preset="nightcore")) == "Filter: nightcore."
    await bot.hear(550, 1.5)
    assert reply_of(await bot.command("filter", preset="none")) == "Filter off."
    mark = bot.fake.ear_report()
    assert mark is not None
    report = await bot.hear(440, mark.seconds_at(440) + 1.0)
    assert frequencies(report)[:3] == [440, 550, 440]
    bot.fake.assert_no_failures()
