"""The guild's one now-playing message, end to end: posted once, edited as tracks change,
reposted when deleted, finished without buttons; its buttons; a playlist's progress."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from fake_discord.interactions import InteractionRecord
from shared.state import GuildSettings, GuildState, MessageRef
from tests.e2e.conftest import EPHEMERAL, STEP_TIMEOUT_S, Bot, BotFactory, reply_of
from tests.fixtures_audio import ToneServer

pytestmark = pytest.mark.e2e

JSON = dict[str, Any]
PLAYER_BUTTONS = [
    ("player:pause", "Pause"),
    ("player:skip", "Skip"),
    ("player:stop", "Stop"),
    ("player:loop:track", "Loop: off"),
    ("player:shuffle", "Shuffle"),
]


def is_card(message: JSON) -> bool:
    """A message the worker posted with the bot token (not an interaction reply) with an embed."""
    return bool(message.get("embeds")) and not message.get("interaction_metadata")


def title(message: JSON) -> str:
    return str(message["embeds"][0].get("title", ""))


def buttons(message: JSON) -> list[tuple[str, str]]:
    rows = message["components"]
    return [(b["custom_id"], b["label"]) for row in rows for b in row["components"]]


async def wait_card(
    bot: Bot, predicate: Callable[[JSON], bool], channel_id: str | None = None
) -> JSON:
    """The card as it was when ``predicate`` first held (a copy: it keeps being edited)."""
    seen: list[JSON] = []

    def match(message: JSON) -> bool:
        if is_card(message) and predicate(message):
            seen.append(copy.deepcopy(message))
            return True
        return False

    await bot.fake.wait_for_channel_message(channel_id, predicate=match, timeout_s=STEP_TIMEOUT_S)
    return seen[0]


def card_requests(bot: Bot) -> list[tuple[str, str, int]]:
    """(operation, message id, status) of every card post and edit, in order."""
    found = []
    for request in bot.fake.requests:
        if request.operation_id == "create_message" and is_card(request.body or {}):
            found.append(("post", str((request.response or {}).get("id")), request.status))
        elif request.operation_id == "update_message":
            found.append(("edit", request.path.rsplit("/", 1)[-1], request.status))
    return found


async def press(bot: Bot, custom_id: str, message_id: str) -> InteractionRecord:
    """Press a button on a message and wait until the presser got an answer."""
    record = await bot.fake.send_interaction(
        "component", custom_id=custom_id, message_id=message_id
    )

    def answered(r: InteractionRecord) -> bool:
        original = r.original
        loading = original is not None and int(original.get("flags", 0)) & (1 << 7)
        done = original is not None and not loading and (r.original_edits or original["content"])
        return bool(r.followups) or bool(done)

    return await bot.fake.wait_for_interaction(record.id, answered, timeout_s=STEP_TIMEOUT_S)


async def test_one_message_is_posted_then_edited_per_track_then_finished(
    bot: Bot, tone_server: ToneServer
) -> None:
    # GIVEN two tracks played one after the other
    await bot.command("play", query=tone_server.url(440, 1.5))
    await bot.command("play", query=tone_server.url(660, 1.5))

    # THEN the first is shown with its buttons, the second on the SAME message, then the end
    first = await wait_card(bot, lambda m: title(m).startswith("440"))
    assert first["embeds"][0]["author"] == {"name": "Now playing"}
    assert "0:00 / 0:01" in first["embeds"][0]["description"]  # the progress bar at its start
    assert buttons(first) == PLAYER_BUTTONS
    second = await wait_card(bot, lambda m: title(m).startswith("660"))
    assert second["id"] == first["id"]
    assert {"name": "Up next", "value": "0 in the queue", "inline": True} in (
        second["embeds"][0]["fields"]
    )
    done = await wait_card(bot, lambda m: title(m) == "Queue finished")
    assert done["id"] == first["id"] and done["components"] == []
    assert "660" in done["embeds"][0]["description"]  # the last track played

    # AND one post, then edits of that message only; no per-track notices in the channel
    requests = card_requests(bot)
    assert [op for op, _, _ in requests].count("post") == 1, requests
    assert {message for _, message, _ in requests} == {first["id"]}
    assert all(status == 200 for _, _, status in requests)
    channel = bot.fake.channel_messages()
    assert [m["id"] for m in channel if is_card(m)] == [first["id"]]
    notices = [m for m in channel if not m.get("interaction_metadata") and not is_card(m)]
    assert notices == []
    bot.fake.assert_no_failures()  # every body passed the OpenAPI check


async def test_a_deleted_message_is_posted_again_on_the_next_track(
    bot: Bot, tone_server: ToneServer
) -> None:
    # GIVEN the now-playing message of a first track, which a moderator deletes
    await bot.command("play", query=tone_server.url(440, 1.5))
    await bot.command("play", query=tone_server.url(660, 1.5))
    first = await wait_card(bot, lambda m: title(m).startswith("440"))
    guild = bot.fake.guilds[0]
    assert bot.fake.core.messages.delete(guild.text_channel_id, first["id"])

    # WHEN the next track starts THEN the edit finds it gone (404) and a new one is posted
    second = await wait_card(bot, lambda m: title(m).startswith("660"))
    assert second["id"] != first["id"]
    requests = card_requests(bot)
    assert ("edit", first["id"], 404) in requests
    assert requests.index(("edit", first["id"], 404)) < requests.index(("post", second["id"], 200))
    assert [m["id"] for m in bot.fake.channel_messages() if is_card(m)] == [second["id"]]


async def test_buttons_answer_the_presser_privately_and_update_the_message(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    # GIVEN a track playing with one more queued, and its now-playing message
    bot = await start_bot(rate_limit_commands=50)
    bot.fake.move_user()
    await bot.command("play", query=tone_server.url(440, 6))
    await bot.command("play", query=tone_server.url(660, 2))
    card = await wait_card(bot, lambda m: "1 in the queue" in str(m["embeds"][0]["fields"]))

    # WHEN Pause is pressed THEN only the presser reads "Paused." and the message offers Resume
    paused = await press(bot, "player:pause", card["id"])
    assert reply_of(paused) == "Paused."
    assert paused.original is not None and paused.original["flags"] & EPHEMERAL
    shown = await wait_card(bot, lambda m: buttons(m)[0] == ("player:resume", "Resume"))
    assert shown["id"] == card["id"]
    assert shown["embeds"][0]["description"].startswith("⏸ Paused · ")

    # WHEN Loop is pressed THEN loop is on for the track and the button offers the next mode
    looped = await press(bot, "player:loop:track", card["id"])
    assert reply_of(looped) == "Looping the current track."
    shown = await wait_card(bot, lambda m: ("player:loop:queue", "Loop: track") in buttons(m))

    # WHEN Shuffle is refused (one track queued) THEN the refusal is private, the message stays
    refused = await press(bot, "player:shuffle", card["id"])
    assert reply_of(refused) == "There's nothing to shuffle: the queue needs 2 tracks."
    assert refused.followups and int(refused.followups[-1]["flags"]) & EPHEMERAL
    assert bot.fake.core.messages.get(bot.fake.guilds[0].text_channel_id, card["id"])
    resumed = await press(bot, "player:resume", card["id"])
    assert reply_of(resumed) == "Resumed."
    await wait_card(bot, lambda m: buttons(m)[0] == ("player:pause", "Pause"))
    assert [m["id"] for m in bot.fake.channel_messages() if is_card(m)] == [card["id"]]

    # WHEN Stop is pressed THEN the message says so and loses its buttons (they'd do nothing)
    stopped = await press(bot, "player:stop", card["id"])
    assert reply_of(stopped) == "Stopped, cleared the queue and left the channel."
    done = await wait_card(bot, lambda m: title(m) == "Stopped")
    assert done["id"] == card["id"] and done["components"] == []
    bot.fake.assert_no_failures()


async def test_the_announcement_channel_gets_it_and_the_store_knows_where_it_is(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    # GIVEN a guild whose settings name an announcement channel (the voice channel's chat)
    bot = await start_bot(embedded=True)
    bot.fake.move_user()
    guild = bot.fake.guilds[0]
    state = bot.worker.state
    assert state is not None
    settings = GuildSettings(announce_channel_id=guild.voice_channel_id)
    await state.save_guild(GuildState(guild_id=guild.guild_id, settings=settings))

    # WHEN a track plays
    await bot.command("play", query=tone_server.url(440, 2))

    # THEN its message is in that channel, not where the command was typed
    card = await wait_card(bot, lambda m: title(m).startswith("440"), guild.voice_channel_id)
    assert not [m for m in bot.fake.channel_messages() if is_card(m)]
    # AND the guild's state says where it is, for a worker that takes the guild over
    expected = MessageRef(channel_id=guild.voice_channel_id, message_id=card["id"])

    async def stored() -> MessageRef | None:
        saved = await state.get_guild(guild.guild_id)
        return saved.now_playing_message if saved else None

    assert await eventually(stored, expected)
    # AND once the queue is done it is finished and forgotten (the next /play posts anew)
    await wait_card(bot, lambda m: title(m) == "Queue finished", guild.voice_channel_id)
    assert await eventually(stored, None)


async def eventually(read: Callable[[], Awaitable[object]], expected: object) -> bool:
    """Poll the store (written in the worker's background) until it reads ``expected``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STEP_TIMEOUT_S
    while await read() != expected:
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def test_a_big_playlist_reports_its_progress_in_the_reply(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    # GIVEN a page with 120 tracks, and a worker allowed to take that many from one link
    bot = await start_bot(embedded=True, max_playlist_items=200)
    bot.fake.move_user()
    link = tone_server.many_url(120, duration=1.0)

    # WHEN it is played
    record = await bot.command("play", query=link)
    record = await bot.fake.wait_for_original(record.id, contains="Queued", timeout_s=20)

    # THEN the deferred reply counted up by fifty, then gave the total
    edits = [str(edit.get("content")) for edit in record.original_edits]
    assert edits[:2] == ["Adding tracks… 50/120", "Adding tracks… 100/120"], edits
    assert reply_of(record).startswith("Queued 120 tracks: now playing **"), reply_of(record)
    # AND the queue holds the other 119
    shown = await bot.command("queue")
    assert "119 tracks queued" in str(shown.original)
    bot.fake.assert_no_failures()


async def test_a_rate_limited_edit_is_waited_out(bot: Bot, tone_server: ToneServer) -> None:
    # GIVEN Discord answering the next edit of a channel message with 429
    await bot.command("play", query=tone_server.url(440, 1.5))
    first = await wait_card(bot, lambda m: title(m).startswith("440"))
    fault = bot.fake.add_fault(
        429, method="PATCH", path="/channels/*/messages/*", times=1, retry_after_s=0.3
    )
    # WHEN the next track starts THEN the same message shows it once the limit has passed
    await bot.command("play", query=tone_server.url(660, 1.5))
    shown = await wait_card(bot, lambda m: title(m).startswith("660"))
    assert shown["id"] == first["id"] and fault.hits == 1
    assert [m["id"] for m in bot.fake.channel_messages() if is_card(m)] == [first["id"]]
