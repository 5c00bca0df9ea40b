"""Embedded mode (`musicbot local`): interactions over the worker's own gateway session."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import BotFactory, reply_of
from tests.fixtures_audio import ToneServer

pytestmark = pytest.mark.e2e


async def test_gateway_interactions_play_and_report_status(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    bot = await start_bot(embedded=True)
    assert bot.fake.interactions_url is None  # Discord delivers over the gateway then
    bot.fake.move_user()

    record = await bot.command("play", query=tone_server.url(440, 2.5))
    assert record.delivered_via == "gateway"
    assert record.deferred and record.initial_response_via == "callback"
    assert reply_of(record).startswith("Now playing")
    await bot.hear(440, 1.0)

    # Answered at once by the interactions router, from the state the worker saved in SQLite.
    status = await bot.command("nowplaying")
    assert not status.deferred
    title, progress = reply_of(status).split("\n")
    assert title.startswith("440")
    assert progress.endswith("/ 0:02")  # the bar ends with the track's duration

    report = await bot.wait_silent()
    assert report.seconds_at(440) >= 2.4
    bot.fake.assert_no_failures()


async def test_embedded_mode_persists_the_guild_in_sqlite_under_a_lease(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    # GIVEN the embedded bot (SQLite state store) playing one track with another queued
    bot = await start_bot(embedded=True)
    bot.fake.move_user()
    guild_id = bot.fake.guilds[0].guild_id
    await bot.command("play", query=tone_server.url(440, 4))
    queued = await bot.command("play", query=tone_server.url(660, 1))
    assert reply_of(queued).startswith("Queued")
    await bot.hear(440, 3.0)

    # THEN the store holds what plays, where, the queue, and a position that moves
    state = bot.worker.state
    assert state is not None
    saved = await state.get_guild(guild_id)
    assert saved is not None and saved.now_playing is not None
    assert saved.now_playing.track.title.startswith("440")
    assert saved.now_playing.position_s >= 0.5  # saved every POSITION_SAVE_INTERVAL_S
    assert [t.title for t in saved.queue] == [saved.queue[0].title]
    assert saved.queue[0].title.startswith("660")
    assert saved.voice_channel_id == bot.fake.guilds[0].voice_channel_id
    lease = await state.get_lease(guild_id)
    assert lease is not None and lease.owner == bot.worker.worker_id

    # AND when it moved on, the first track went to history
    await bot.hear(660, 0.8)
    later = await state.get_guild(guild_id)
    assert later is not None and [t.title[:3] for t in later.history] == ["440"]
