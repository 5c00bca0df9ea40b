"""/autoplay and /247 end to end: what the ear hears when the queue runs out, whether the bot
stays in voice past its idle timeout, and what the guild's settings keep."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.conftest import Bot, BotFactory, is_ephemeral, reply_of
from tests.e2e.test_now_playing import card_requests, title, wait_card
from tests.e2e.test_player_commands import frequencies
from tests.e2e.test_vote_skip import settings_set
from tests.fixtures_audio import ToneServer

pytestmark = pytest.mark.e2e

IDLE_S = 1.0


async def stored_settings(bot: Bot) -> dict[str, object]:
    """The guild's settings as the embedded bot's store keeps them."""
    assert bot.worker.state is not None
    state = await bot.worker.state.get_guild(bot.fake.guilds[0].guild_id)
    assert state is not None
    return state.settings.model_dump()


async def test_autoplay_plays_a_related_track_when_the_queue_runs_out(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    # GIVEN a "search engine" (the resolver's search seam) that finds the track just played
    # and another one, on a page of the tone server: resolved like any link, SSRF guard included
    played, related = tone_server.url(440, 3), tone_server.url(660, 2)
    searched: list[str] = []

    def search(words: str, limit: int) -> str:
        searched.append(words)
        return tone_server.page_url(played, related)

    bot = await start_bot(search_target=search, idle_disconnect_s=30)
    bot.fake.move_user()
    await bot.command("play", query=played)

    # WHEN autoplay is turned on and the queue runs out
    on = await bot.command("autoplay", mode="on")
    assert reply_of(on) == "Autoplay is on: when the queue runs out, I'll play related tracks."

    # THEN the other track (not the one just played) is heard, and the channel is told
    report = await bot.hear(660, 1.5)
    assert frequencies(report)[:2] == [440, 660]
    notice = await bot.fake.wait_for_channel_message(contains="Autoplay: the queue ran out")
    # The page's second entry (660 Hz), after the 440 Hz track
    assert "**Tone page (2)**" in notice["content"] and "**440-3**" in notice["content"]
    assert searched and searched[0].startswith("440")  # searched on the last track's title

    # AND once both were played, nothing related is left: said so, and the music stops
    await bot.fake.wait_for_channel_message(contains="Autoplay found nothing related")
    final = await bot.wait_silent()
    assert final.seconds_at(440) < 3.5  # 440 Hz was not played a second time
    bot.fake.assert_no_failures()


async def test_the_autoplayed_track_edits_the_same_now_playing_message(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    # GIVEN autoplay on, and a search that finds one related track
    played, related = tone_server.url(440, 2), tone_server.url(660, 2)

    def search(words: str, limit: int) -> str:
        return tone_server.page_url(played, related)

    bot = await start_bot(search_target=search, idle_disconnect_s=30)
    bot.fake.move_user()
    await bot.command("play", query=played)
    await bot.command("autoplay", mode="on")

    # WHEN the queue runs out and the related track plays, then nothing more is found
    first = await wait_card(bot, lambda m: title(m).startswith("440"))
    await bot.hear(660, 1.0)
    await bot.fake.wait_for_channel_message(contains="Autoplay found nothing related")
    done = await wait_card(bot, lambda m: title(m) == "Queue finished")

    # THEN one message showed both tracks: never "Queue finished" in between, no second post
    assert done["id"] == first["id"]
    requests = card_requests(bot)
    assert [op for op, _, _ in requests].count("post") == 1, requests
    assert {message for _, message, _ in requests} == {first["id"]}
    shown = [
        str(embeds[0].get("title", ""))
        for request in bot.fake.requests
        if request.operation_id in ("create_message", "update_message")
        and (embeds := (request.body or {}).get("embeds"))
    ]
    assert shown[-1] == "Queue finished" and "Queue finished" not in shown[:-1], shown
    assert any(t.startswith("Tone page") for t in shown), shown
    bot.fake.assert_no_failures()


async def test_without_autoplay_the_music_stops_when_the_queue_runs_out(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    searched: list[str] = []

    def search(words: str, limit: int) -> str:
        searched.append(words)
        return tone_server.page_url(tone_server.url(660, 2))

    bot = await start_bot(search_target=search, idle_disconnect_s=30)
    bot.fake.move_user()
    await bot.command("play", query=tone_server.url(440, 1))
    report = await bot.wait_silent(quiet_s=1.5)
    assert report.seconds_at(660) == 0
    assert searched == []


async def test_247_stays_in_voice_past_the_idle_timeout_until_turned_off(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    # GIVEN the embedded bot leaving after 1 s idle, a DJ role, and a member without it
    bot = await start_bot(embedded=True, idle_disconnect_s=IDLE_S, rate_limit_commands=50)
    bot.fake.move_user()
    dj_role = bot.fake.add_role(name="DJ")
    member = bot.fake.add_member(username="member")
    await settings_set(bot, dj_role=(8, dj_role))
    await bot.command("play", query=tone_server.url(440, 3))

    # WHEN someone without the DJ role tries, THEN they are refused privately
    refused = await bot.command("247", mode="on", user_id=member)
    assert reply_of(refused).startswith("Only members with the DJ role")
    assert not refused.deferred
    refused = await bot.command("autoplay", mode="on", user_id=member)
    assert reply_of(refused).startswith("Only members with the DJ role")

    # WHEN the owner turns 24/7 on, THEN it is kept in the guild's settings
    on = await bot.command("247", mode="on")
    assert reply_of(on) == "24/7 is on: I'll stay in the voice channel, even with nothing on."
    assert (await stored_settings(bot))["stay_24_7"] is True

    # AND the bot stays after the queue ran out and after the last listener left
    await bot.wait_silent()
    bot.fake.move_user(channel_id=None)
    await asyncio.sleep(IDLE_S * 3)
    assert bot.fake.bot_voice_state() is not None
    assert bot.worker.sessions is not None and bot.worker.sessions.active == 1

    # AND a listener coming back plays at once, in the same voice session
    bot.fake.move_user()
    again = await bot.command("play", query=tone_server.url(660, 1))
    assert reply_of(again).startswith("Now playing")
    await bot.hear(660, 0.8)

    # WHEN 24/7 is turned off, THEN the idle timeout applies again
    off = await bot.command("247", mode="off")
    assert reply_of(off) == "24/7 is off: I'll leave the voice channel when idle."
    await bot.fake.wait_for_bot_voice(connected=False, timeout_s=10)
    await bot.fake.wait_for_channel_message(contains="Left the voice channel after", timeout_s=5)
    assert (await stored_settings(bot))["stay_24_7"] is False
    bot.fake.assert_no_failures()


async def test_247_and_autoplay_need_a_voice_session_and_a_valid_mode(
    bot: Bot, tone_server: ToneServer
) -> None:
    nobody = await bot.command("247", mode="on")
    assert reply_of(nobody) == "I'm not in a voice channel here."
    assert is_ephemeral(nobody)
    wrong = await bot.command("autoplay", mode="maybe")
    assert reply_of(wrong) == "Autoplay must be on or off."
    assert not wrong.deferred
