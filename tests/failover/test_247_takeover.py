"""A 24/7 guild across a handover: the worker taking it over rejoins its voice channel even
with nothing playing; after /leave it stays left (a handover keeps the channel in the guild's
state, /leave clears it)."""

from __future__ import annotations

import asyncio
import signal

import pytest

from tests.failover.conftest import STEP_TIMEOUT_S, Fleet, eventually, reply_of

pytestmark = [pytest.mark.failover, pytest.mark.timeout(150)]


async def handover(fleet: Fleet, owner: str) -> None:
    """SIGTERM the owner and wait until it is gone."""
    leaving = fleet.workers[owner]
    leaving.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(leaving.process.wait(), 20) == 0, leaving.tail()


async def test_an_idle_247_guild_is_rejoined_on_takeover_but_not_after_leave(
    fleet: Fleet,
) -> None:
    # GIVEN two workers and a 24/7 guild whose queue ran out (the bot waits in its channel)
    await fleet.start_worker("a")
    await fleet.start_worker("b")
    fleet.fake.move_user()
    await fleet.command("play", query=fleet.tones.url(440, 1))
    on = await fleet.command("247", mode="on")
    assert reply_of(on).startswith("24/7 is on"), fleet.logs()
    await fleet.wait_silent()
    owner = await fleet.owner()
    assert owner in ("a", "b")
    survivor = "b" if owner == "a" else "a"
    channel = (fleet.fake.bot_voice_state() or {}).get("channel_id")
    assert channel is not None

    # WHEN its worker hands over (SIGTERM: it leaves voice on the way out)
    await handover(fleet, owner)

    # THEN the survivor takes the guild and rejoins the same channel, with nothing to play
    assert await fleet.wait_owner(lambda who: who == survivor) == survivor
    await fleet.fake.wait_for_bot_voice(connected=True, timeout_s=STEP_TIMEOUT_S)
    assert (fleet.fake.bot_voice_state() or {}).get("channel_id") == channel
    assert await eventually(
        lambda: "session.rejoined_24_7" in fleet.workers[survivor].event_names()
    ), fleet.logs()

    # WHEN someone sends /leave and that worker hands over right away (its lease still held)
    await fleet.start_worker("c")
    left = await fleet.command("leave")
    assert reply_of(left) == "Left the voice channel.", fleet.logs()
    await handover(fleet, survivor)

    # THEN the guild's state still says 24/7 but names no voice channel any more ...
    stored = await fleet.state.get_guild(fleet.guild_id)
    assert stored is not None and stored.settings.stay_24_7 and stored.voice_channel_id is None
    # ... so worker c, which takes the guild over (unless, on a slow machine, the leaving
    # worker had already released the unused lease for good), does not rejoin
    await eventually(lambda: "takeover.claimed" in fleet.workers["c"].event_names(), 10)
    await asyncio.sleep(2.0)
    assert fleet.fake.bot_voice_state() is None, fleet.logs()
