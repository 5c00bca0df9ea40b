"""Failures reach the user as clear (ephemeral) answers, and the worker keeps serving."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import Bot, BotFactory, is_ephemeral, reply_of
from tests.fixtures_audio import ToneServer

pytestmark = pytest.mark.e2e


async def test_each_bad_play_gets_the_right_message_and_the_worker_keeps_serving(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    bot = await start_bot()  # the user is NOT in voice yet
    not_in_voice = await bot.command("play", query=tone_server.url(440, 2))
    assert reply_of(not_in_voice) == "Join a voice channel first."
    assert is_ephemeral(not_in_voice)
    assert bot.fake.bot_voice_state() is None  # it didn't join anything

    bot.fake.move_user()
    cases = [
        (tone_server.missing_url(), "unavailable"),
        ("http://169.254.169.254/latest/meta-data/iam/", "cloud metadata address"),
        (tone_server.hang_url(), "took too long"),
    ]
    for query, expected in cases:
        started = time.monotonic()
        record = await bot.command("play", query=query)
        assert expected in reply_of(record), (query, reply_of(record))
        assert is_ephemeral(record)
        assert time.monotonic() - started < 15
    assert not any(r.path.startswith("/latest") for r in tone_server.requests)
    # A failed /play doesn't leave the bot sitting in the channel.
    await bot.fake.wait_for_bot_voice(connected=False, timeout_s=10)

    ok = await bot.command("play", query=tone_server.url(440, 2))
    assert reply_of(ok).startswith("Now playing")
    await bot.hear(440, 1.8)
    assert bot.worker.counters.jobs_failed == 4
    assert bot.worker.counters.jobs_succeeded == 1
    bot.fake.assert_no_failures()


async def test_controls_without_a_session_are_answered(bot: Bot) -> None:
    record = await bot.command("skip")
    assert reply_of(record) == "I'm not in a voice channel here."
    assert is_ephemeral(record)


async def test_voice_channels_the_bot_may_not_use_are_refused_up_front(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    from fake_discord.world import GuildSpec  # noqa: PLC0415

    specs = [
        GuildSpec(bot_can_connect=False),
        GuildSpec(bot_can_speak=False),
        GuildSpec(voice_user_limit=1),  # the user fills it: Discord would just time out
    ]
    bot = await start_bot(guilds=specs)
    expected = ["permission to join", "permission to speak", "is full"]
    for guild, words in zip(bot.fake.guilds, expected, strict=True):
        bot.fake.move_user(guild.guild_id)
        started = time.monotonic()
        record = await bot.command("play", guild=guild.guild_id, query=tone_server.url(440, 2))
        assert words in reply_of(record) and is_ephemeral(record)
        assert time.monotonic() - started < 5  # no 30 s voice timeout
        assert bot.fake.bot_voice_state(guild.guild_id) is None


async def test_a_429_on_the_follow_up_is_waited_out(bot: Bot, tone_server: ToneServer) -> None:
    fault = bot.fake.add_fault(
        429, method="PATCH", path="/webhooks/*/messages/@original", retry_after_s=1.0
    )
    started = time.monotonic()
    record = await bot.command("play", query=tone_server.url(440, 2))
    assert reply_of(record).startswith("Now playing")
    assert fault.hits == 1
    assert time.monotonic() - started >= 1.0  # it waited retry_after before trying again
    bot.fake.assert_no_failures()


async def test_a_5xx_on_the_follow_up_is_retried(bot: Bot, tone_server: ToneServer) -> None:
    fault = bot.fake.add_fault(503, method="PATCH", path="/webhooks/*/messages/@original")
    record = await bot.command("play", query=tone_server.url(440, 2))
    assert reply_of(record).startswith("Now playing")
    assert fault.hits == 1


async def test_an_expired_interaction_token_is_given_up_cleanly(
    bot: Bot, tone_server: ToneServer
) -> None:
    fault = bot.fake.add_fault(401, method="PATCH", path="/webhooks/*/messages/@original")
    record = await bot.fake.send_interaction(
        name="play", options={"query": tone_server.url(440, 2)}
    )
    await bot.hear(440, 1.0)  # playback went on although the reply could not be delivered
    assert fault.hits == 1
    assert bot.fake.interaction(record.id).original_content in ("", None)
    assert bot.worker.counters.jobs_succeeded == 1
