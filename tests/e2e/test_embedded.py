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

    # Answered at once by the interactions router, from the worker's session snapshot.
    status = await bot.command("nowplaying")
    assert "Now playing: 440" in reply_of(status)

    report = await bot.wait_silent()
    assert report.seconds_at(440) >= 2.4
    bot.fake.assert_no_failures()
