"""The guild's own limits from /settings, applied by the worker end to end: max queue length
(/play into a full queue), max track length (/play, a playlist load) and the idle timeout."""

from __future__ import annotations

import pytest

from shared.state import Playlist, QueuedTrack
from tests.e2e.conftest import (
    BotFactory,
    is_ephemeral,
    play_and_queue,
    reply_of,
    save_settings,
    start_embedded,
    sub,
)
from tests.fixtures_audio import ToneServer

pytestmark = pytest.mark.e2e


async def test_play_into_a_queue_full_by_the_guilds_bound_is_refused_and_nothing_is_lost(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    # GIVEN a server allowing 2 queued tracks (the deployment allows 500), one track on air
    # and 2 queued
    bot = await start_embedded(start_bot, rate_limit_commands=50)
    store, guild_id = bot.store, bot.guild_id
    await save_settings(bot, max_queue=2)
    await play_and_queue(bot, tone_server, playing=(440, 6), queued=(550, 660))

    # WHEN another /play arrives
    full = await bot.command("play", query=tone_server.url(770, 1))

    # THEN it is refused with a short, private answer
    assert reply_of(full) == "The queue is full (2 tracks)."
    assert is_ephemeral(full)
    # AND the store holds what plays and what waits, unchanged; the music goes on
    state = await store.get_guild(guild_id)
    assert state is not None and state.now_playing is not None
    assert state.now_playing.track.title == "440-6"
    assert [t.title for t in state.queue] == ["550-1", "660-1"]
    await bot.hear(440, 1.0)
    # AND the next command still works (the session and the store agree)
    removed = await bot.command("remove", position=1)
    assert reply_of(removed) == "Removed **550-1** from the queue."
    fits = await bot.command("play", query=tone_server.url(770, 1))
    assert reply_of(fits) == "Queued **770-1** (position 2)."
    state = await store.get_guild(guild_id)
    assert state is not None and [t.title for t in state.queue] == ["660-1", "770-1"]
    bot.fake.assert_no_failures()


async def test_a_track_longer_than_the_guild_allows_is_refused_on_play_and_load(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    # GIVEN a server whose tracks may last 2 s at most
    bot = await start_embedded(start_bot, rate_limit_commands=50)
    store, guild_id = bot.store, bot.guild_id
    await save_settings(bot, max_track_length="2")

    # WHEN a 3 s track is asked for, THEN it is refused privately and nothing plays
    long = await bot.command("play", query=tone_server.url(440, 3))
    assert reply_of(long) == "That track is 0:03 long: this server plays tracks up to 0:02."
    assert is_ephemeral(long)
    assert bot.fake.ear_report() is None or bot.fake.ear_report().seconds_at(440) == 0  # type: ignore[union-attr]

    # WHEN a saved playlist with a long and a short track is loaded
    tracks = (
        stored_track("a", tone_server.url(880, 3), "880-3", 3.0),
        stored_track("b", tone_server.url(660, 1), "660-1", 1.0),
    )
    await store.save_playlist(
        Playlist(guild_id=guild_id, name="mixed", tracks=tracks, created_by="1")
    )
    loaded = await sub(bot, "playlist", "load", name="mixed")

    # THEN only the short one is queued, and the answer says why the other is missing
    assert reply_of(loaded) == (
        "Loaded **mixed**: now playing **660-1**. "
        "1 track was longer than this server's max track length (0:02)."
    )
    await bot.hear(660, 0.6)
    report = await bot.wait_silent()
    assert report.seconds_at(880) == 0
    bot.fake.assert_no_failures()


async def test_the_guilds_idle_timeout_applies_below_the_operators(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    # GIVEN an operator idle timeout of 60 s and a server that set its own to 1 s
    bot = await start_embedded(start_bot, idle_disconnect_s=60, rate_limit_commands=50)
    await save_settings(bot, idle_timeout="1")

    # WHEN a track ends and nothing else is queued
    await bot.command("play", query=tone_server.url(440, 1))
    await bot.hear(440, 0.5)

    # THEN the bot leaves after the server's 1 s, not the operator's 60 s
    await bot.fake.wait_for_bot_voice(connected=False, timeout_s=10)
    await bot.fake.wait_for_channel_message(contains="Left the voice channel after", timeout_s=5)
    bot.fake.assert_no_failures()


def stored_track(entry_id: str, url: str, title: str, duration_s: float) -> QueuedTrack:
    """A playlist entry as the store keeps it."""
    return QueuedTrack(
        entry_id=entry_id,
        query=url,
        webpage_url=url,
        title=title,
        duration_s=duration_s,
        requester_id="1",
    )
