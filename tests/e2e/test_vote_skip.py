"""Vote-skip end to end: members join the bot's voice channel on the fake Discord (voice state
updates the worker sees through its gateway), /skip and the Skip button count votes, and the
ear tells when the track really changed."""

from __future__ import annotations

import asyncio

import pytest

from fake_discord.interactions import InteractionRecord
from tests.e2e.conftest import STEP_TIMEOUT_S, Bot, BotFactory, is_ephemeral, reply_of
from tests.e2e.test_player_commands import frequencies
from tests.fixtures_audio import ToneServer

pytestmark = pytest.mark.e2e


def join_voice(bot: Bot, count: int, *, bot_member: bool = False) -> list[str]:
    """Add ``count`` plain members (no roles, not the owner) and put them in the voice channel."""
    members = []
    for index in range(count):
        user_id = bot.fake.add_member(username=f"voter{index + 1}")
        bot.fake.move_user(user_id=user_id)
        members.append(user_id)
    if bot_member:  # another bot and a deafened member: they don't listen, so don't count
        bot.fake.move_user(user_id=bot.fake.add_member(username="otherbot", bot=True))
        bot.fake.move_user(user_id=bot.fake.add_member(username="deaf"), self_deaf=True)
    return members


async def press_skip(bot: Bot, user_id: str) -> InteractionRecord:
    """Press the Skip button as ``user_id`` and wait until the worker answered."""
    record = await bot.fake.send_interaction("component", custom_id="player:skip", user_id=user_id)

    def answered(r: InteractionRecord) -> bool:
        return bool(r.followups) or bool(r.original_edits)

    return await bot.fake.wait_for_interaction(record.id, answered, timeout_s=STEP_TIMEOUT_S)


async def settings_set(bot: Bot, **values: tuple[int, object]) -> InteractionRecord:
    """/settings set with options given as name=(Discord option type, value)."""
    options = [
        {"name": name, "type": kind, "value": value} for name, (kind, value) in values.items()
    ]
    record = await bot.fake.send_interaction(
        name="settings", options=[{"type": 1, "name": "set", "options": options}]
    )
    return await bot.fake.wait_for_interaction(
        record.id, lambda r: r.original is not None, timeout_s=STEP_TIMEOUT_S
    )


async def still_playing(bot: Bot, hz: int, seconds: float = 0.6) -> None:
    """The track on air goes on (nothing was skipped)."""
    mark = bot.fake.ear_report()
    assert mark is not None
    await bot.hear(hz, mark.seconds_at(hz) + seconds)


async def test_votes_skip_once_enough_listeners_voted_and_reset_per_track(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    # GIVEN the owner playing 440 Hz, 660 Hz queued, and three more people listening (four
    # humans: half of them is 2 votes) plus a bot and a deafened member, who don't count
    bot = await start_bot(rate_limit_commands=50)
    bot.fake.move_user()
    await bot.command("play", query=tone_server.url(440, 12))
    await bot.command("play", query=tone_server.url(660, 12))
    await bot.command("play", query=tone_server.url(880, 4))
    first, second, third = join_voice(bot, 3, bot_member=True)
    outsider = bot.fake.add_member(username="outsider")  # not in voice
    await bot.hear(440, 0.5)

    # WHEN one listener votes, THEN the vote is counted publicly and the track plays on
    vote = await bot.command("skip", user_id=first)
    assert reply_of(vote).startswith("Vote recorded: 1/2 to skip **440"), reply_of(vote)
    assert not is_ephemeral(vote)
    again = await bot.command("skip", user_id=first)
    assert reply_of(again) == "You already voted to skip this track (1/2)."
    assert is_ephemeral(again)
    away = await bot.command("skip", user_id=outsider)
    assert reply_of(away).startswith("Join me in <#") and is_ephemeral(away)
    await still_playing(bot, 440)

    # WHEN a second listener votes, THEN the vote passes and 660 Hz plays
    passed = await bot.command("skip", user_id=second)
    assert reply_of(passed).startswith("Vote passed (2/2). Skipped **440"), reply_of(passed)
    await bot.hear(660, 0.8)

    # AND the votes started afresh with the new track: one press of the button is 1/2 again
    await press_skip(bot, third)
    await still_playing(bot, 660)
    await press_skip(bot, first)  # the second vote on this track: skipped
    report = await bot.hear(880, 0.8)
    assert frequencies(report)[:3] == [440, 660, 880]
    bot.fake.assert_no_failures()


async def test_requester_and_managers_skip_at_once_and_votes_follow_who_listens(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    # GIVEN four humans listening: the owner (a manager) and three members
    bot = await start_bot(rate_limit_commands=50)
    bot.fake.move_user()
    first, second, third = join_voice(bot, 3)
    # A member's track: its requester may always skip it
    await bot.command("play", query=tone_server.url(440, 12), user_id=first)
    await bot.command("play", query=tone_server.url(550, 12))
    await bot.command("play", query=tone_server.url(660, 12))
    await bot.command("play", query=tone_server.url(770, 4))
    await bot.hear(440, 0.5)

    own = await bot.command("skip", user_id=first)
    assert reply_of(own).startswith("Skipped **440"), reply_of(own)
    await bot.hear(550, 0.5)

    # The owner has Manage Server: no vote
    manager = await bot.command("skip")
    assert reply_of(manager).startswith("Skipped **550"), reply_of(manager)
    await bot.hear(660, 0.5)

    # A vote from someone who then leaves stops counting: still 1/2 after another vote
    assert reply_of(await bot.command("skip", user_id=second)).startswith("Vote recorded: 1/2")
    bot.fake.move_user(user_id=second, channel_id=None)
    await asyncio.sleep(0.3)  # the voice state update reaches the worker's gateway cache
    # Three humans now (ceil(0.5 * 3) = 2): the leaver's vote is gone, so this is 1/2 again
    recount = await bot.command("skip", user_id=third)
    assert reply_of(recount).startswith("Vote recorded: 1/2"), reply_of(recount)
    await still_playing(bot, 660)
    bot.fake.assert_no_failures()


async def test_vote_ratio_and_dj_role_come_from_the_guild_settings(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    # GIVEN the embedded bot (settings in its store), a DJ role, and a 100 % vote-skip share
    bot = await start_bot(embedded=True, rate_limit_commands=50)
    bot.fake.move_user()
    dj_role = bot.fake.add_role(name="DJ")
    dj = bot.fake.add_member(username="dj", role_ids=[dj_role])
    bot.fake.move_user(user_id=dj)
    first, second = join_voice(bot, 2)
    saved = await settings_set(bot, vote_skip=(4, 100), dj_role=(8, dj_role))
    assert "Settings saved" in reply_of(saved)
    await bot.command("play", query=tone_server.url(440, 12))
    await bot.command("play", query=tone_server.url(660, 12))
    await bot.hear(440, 0.5)

    # WHEN members vote: all four listeners are needed
    assert reply_of(await bot.command("skip", user_id=first)).startswith("Vote recorded: 1/4")
    assert reply_of(await bot.command("skip", user_id=second)).startswith("Vote recorded: 2/4")
    await still_playing(bot, 440)

    # THEN the DJ skips at once
    skipped = await bot.command("skip", user_id=dj)
    assert reply_of(skipped).startswith("Skipped **440"), reply_of(skipped)
    await bot.hear(660, 0.5)
    bot.fake.assert_no_failures()
