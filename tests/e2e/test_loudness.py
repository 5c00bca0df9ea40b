"""Loudness normalisation end to end: two tones 20 dB apart, judged by the level the ear
measured for each, with the guild's `normalize` setting off and then on."""

from __future__ import annotations

import pytest

from fake_discord.ear import EarReport
from tests.e2e.conftest import BotFactory, reply_of
from tests.e2e.test_vote_skip import settings_set
from tests.fixtures_audio import ToneServer

pytestmark = pytest.mark.e2e

QUIET_DB = -20.0
TONE_S = 5.0


def level_of(report: EarReport, hz: int) -> float:
    """The median level (dBFS) of a tone's stretch, leaving out its edges."""
    segment = next(
        s
        for s in report.audible_timeline(min_duration_s=1.0)
        if s.frequency_hz is not None and abs(s.frequency_hz - hz) <= 5
    )
    level = report.level_dbfs(segment.start_s + 1.0, segment.end_s - 0.5)
    assert level is not None, report.to_json()["levels"]
    return level


async def test_normalize_brings_quiet_and_loud_tracks_to_a_similar_level(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    # GIVEN the embedded bot (settings in its store) and a track 20 dB quieter than the next
    bot = await start_bot(embedded=True, rate_limit_commands=50)
    bot.fake.move_user()

    # WHEN normalisation is off (the default), THEN they are heard 20 dB apart
    await bot.command("play", query=tone_server.url(440, TONE_S, gain_db=QUIET_DB))
    await bot.command("play", query=tone_server.url(660, TONE_S))
    await bot.hear(660, TONE_S - 0.5)
    report = await bot.wait_silent()
    apart = level_of(report, 660) - level_of(report, 440)
    assert apart == pytest.approx(-QUIET_DB, abs=2.0)

    # WHEN it is turned on for the guild, THEN the next tracks are heard at a similar level
    saved = await settings_set(bot, normalize=(5, True))
    assert "Loudness normalisation" in str(saved.original)
    assert bot.fake.reset_ear()
    await bot.command("play", query=tone_server.url(550, TONE_S, gain_db=QUIET_DB))
    await bot.command("play", query=tone_server.url(770, TONE_S))
    await bot.hear(770, TONE_S - 0.5)
    report = await bot.wait_silent()
    quiet, loud = level_of(report, 550), level_of(report, 770)
    assert abs(loud - quiet) < 3.0, (quiet, loud)
    # Brought towards the -16 LUFS target (a sine's RMS level sits a few dB under it)
    assert -24.0 < quiet < -12.0, quiet
    bot.fake.assert_no_failures()


async def test_settings_show_and_reset_normalize(start_bot: BotFactory) -> None:
    bot = await start_bot(embedded=True, rate_limit_commands=50)
    await settings_set(bot, normalize=(5, True))
    record = await bot.fake.send_interaction(
        name="settings",
        options=[
            {
                "type": 1,
                "name": "reset",
                "options": [{"name": "setting", "type": 3, "value": "normalize"}],
            }
        ],
    )
    done = await bot.fake.wait_for_interaction(record.id, lambda r: r.original is not None)
    assert "Setting reset" in reply_of(done)
    assert bot.worker.state is not None
    state = await bot.worker.state.get_guild(bot.fake.guilds[0].guild_id)
    assert state is not None and state.settings.normalize_loudness is False
