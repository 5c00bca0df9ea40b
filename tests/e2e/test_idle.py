"""Idle disconnect: nothing queued, or nobody left listening."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import BotFactory, reply_of
from tests.fixtures_audio import ToneServer
from tests.unit.test_worker_consumer import until

pytestmark = pytest.mark.e2e


async def test_leaves_after_the_queue_runs_out(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    bot = await start_bot(idle_disconnect_s=1.0)
    bot.fake.move_user()
    await bot.command("play", query=tone_server.url(440, 1))
    await bot.wait_silent()
    await bot.fake.wait_for_bot_voice(connected=False, timeout_s=5)
    await bot.fake.wait_for_channel_message(contains="Left the voice channel after", timeout_s=5)
    assert bot.worker.sessions is not None and bot.worker.sessions.active == 0


async def test_leaves_when_nobody_listens_even_while_playing(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    bot = await start_bot(idle_disconnect_s=1.0)
    bot.fake.move_user()
    await bot.command("play", query=tone_server.url(440, 10))
    await bot.hear(440, 0.5)
    left_at = time.monotonic()
    bot.fake.move_user(channel_id=None)  # the only listener leaves
    await bot.fake.wait_for_bot_voice(connected=False, timeout_s=5)
    assert time.monotonic() - left_at < 4


async def test_a_kick_from_voice_ends_the_session_and_the_worker_keeps_serving(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    bot = await start_bot()
    bot.fake.move_user()
    await bot.command("play", query=tone_server.url(440, 5))
    await bot.hear(440, 0.5)
    bot.fake.disconnect_bot()  # a moderator disconnects the bot: state update + close 4014
    await bot.fake.wait_for_bot_voice(connected=False, timeout_s=5)
    sessions = bot.worker.sessions
    assert sessions is not None
    await until(lambda: sessions.active == 0)
    again = await bot.command("play", query=tone_server.url(660, 1.5))
    assert reply_of(again).startswith("Now playing")
    await bot.hear(660, 1.0)
