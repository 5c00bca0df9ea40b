"""Many guilds, a burst of play/skip per guild: no job lost or run twice, and the guilds that
are only listening keep steady audio (bench/load_worker.py runs a bigger storm)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import BotFactory
from tests.faults.storm import LISTEN_TRACK_S, run_storm
from tests.fixtures_audio import ToneServer

pytestmark = pytest.mark.e2e

# Five commands per guild: the front door's per-user limit (5 per 10 s) lets all of them in.
LISTENERS, STORMERS, PER_GUILD = 2, 4, 5


async def test_a_play_skip_storm_loses_nothing_and_leaves_listeners_undisturbed(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    bot = await start_bot(guilds=LISTENERS + STORMERS)
    result = await run_storm(
        bot, tone_server, listeners=LISTENERS, stormers=STORMERS, per_guild=PER_GUILD
    )
    # Every command was answered, each job ran once (listeners' plays included).
    assert result.answered == result.commands_sent == STORMERS * PER_GUILD
    assert result.rate_limited == 0
    assert result.jobs_succeeded + result.jobs_failed == result.commands_sent + LISTENERS
    assert result.jobs_duplicate == 0
    for guild, replies in result.replies.items():
        assert all(replies), (guild, replies)
    # The listening guilds heard their whole track in one unbroken, steadily paced stretch.
    for heard in result.listeners:
        assert heard["seconds_at_tone"] >= LISTEN_TRACK_S - 0.5, heard
        assert heard["audible_stretches"] == 1, heard
        assert heard["lost"] == 0 and heard["sequence_gaps"] == 0, heard
        # Late packets, not lost ones: a stall this long would be an audible hiccup.
        assert heard["interarrival_max_ms"] < 400, heard
    bot.fake.assert_no_failures()
