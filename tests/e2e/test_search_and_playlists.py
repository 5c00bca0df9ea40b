"""/search with its select menu, /playlist save | load, and /play's autocomplete, end to end:
signed interaction -> front door -> queue -> worker -> store, judged by the ear and the store.

Searches go to a local page of tones (the resolver's search seam) instead of YouTube: the
same yt-dlp run, SSRF guard and timeout as a real search, offline.
"""

from __future__ import annotations

from typing import Any

import pytest

from fake_discord.interactions import InteractionRecord
from tests.e2e.conftest import (
    EPHEMERAL,
    STEP_TIMEOUT_S,
    Bot,
    BotFactory,
    is_ephemeral,
    play_and_queue,
    reply_of,
    save_settings,
    start_embedded,
    sub,
)
from tests.e2e.test_player_commands import frequencies
from tests.fixtures_audio import ToneServer
from voice_worker.sources.resolver import SearchTarget

pytestmark = pytest.mark.e2e


def tone_search(tone_server: ToneServer, *freqs: int) -> SearchTarget:
    """A search whose results are these tones (2 s each), whatever the words."""
    page = tone_server.page_url(*(tone_server.url(hz, 2) for hz in freqs))
    return lambda _words, _limit: page


def select_menu(record: InteractionRecord) -> dict[str, Any]:
    """The one string select on the interaction's @original message."""
    assert record.original is not None
    [row] = record.original["components"]
    [menu] = row["components"]
    assert menu["type"] == 3
    return dict(menu)


async def choose(bot: Bot, search: InteractionRecord, value: str) -> InteractionRecord:
    """Pick ``value`` in the search's menu, as Discord sends it, and wait for the worker."""
    assert search.original is not None
    menu = select_menu(search)
    record = await bot.fake.send_interaction(
        "component", custom_id=menu["custom_id"], message_id=search.original["id"], values=[value]
    )
    assert record.http_status == 200, record.http_error
    return record


async def test_search_offers_the_results_and_a_choice_plays_it(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    # GIVEN a search that finds three tones
    bot = await start_bot(search_target=tone_search(tone_server, 440, 550, 660))
    bot.fake.move_user()

    # WHEN searching
    search = await bot.command("search", query="tones please")

    # THEN the private "thinking" message becomes a menu of the three results
    assert search.initial_response == {"type": 5, "data": {"flags": EPHEMERAL}}
    assert search.original is not None and search.original["flags"] & EPHEMERAL
    assert reply_of(search) == "Top 3 for “tones please”: pick one to queue it."
    menu = select_menu(search)
    assert menu["custom_id"] == f"search:{search.id}"
    assert [o["value"] for o in menu["options"]] == [
        tone_server.url(hz, 2) for hz in (440, 550, 660)
    ]
    assert [o["label"] for o in menu["options"]] == [f"Tone page ({n})" for n in (1, 2, 3)]

    # WHEN the second result is chosen
    choice = await choose(bot, search, tone_server.url(550, 2))

    # THEN the menu is replaced at once, the worker plays that track and says so there
    assert choice.initial_response is not None and choice.initial_response["type"] == 7
    assert choice.initial_response["data"]["content"] == "Queued **Tone page \\(2\\)**."
    assert choice.initial_response["data"]["components"] == []
    done = await bot.fake.wait_for_original(
        choice.id, contains="Now playing", timeout_s=STEP_TIMEOUT_S
    )
    # The worker's answer went to the same (private) message: the menu's.
    assert done.original is not None and search.original is not None
    assert done.original["id"] == search.original["id"]
    assert done.original["components"] == []
    report = await bot.wait_silent()
    assert frequencies(report) == [550]
    bot.fake.assert_no_failures()


async def test_a_forged_choice_is_refused_and_nothing_is_queued(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    bot = await start_bot(search_target=tone_search(tone_server, 440), rate_limit_commands=50)
    bot.fake.move_user()
    search = await bot.command("search", query="anything")
    received = bot.worker.counters.jobs_received

    # WHEN a client sends values the menu never offered
    for forged in ("file:///etc/passwd", "javascript:alert(1)", "some words", ""):
        record = await choose(bot, search, forged)
        # THEN each gets a private refusal, and the menu stays
        assert record.initial_response is not None
        assert record.initial_response["type"] == 4
        assert (
            record.initial_response["data"]["content"]
            == "I can't play that choice. Try /search again."
        )
        assert record.initial_response["data"]["flags"] == EPHEMERAL
    assert bot.worker.counters.jobs_received == received
    assert select_menu(search)["options"]
    bot.fake.assert_no_failures()


async def test_search_refusals_and_a_failing_search_always_answer(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    # GIVEN a search backend that is down (its page is gone)
    missing = tone_server.missing_url()
    bot = await start_bot(search_target=lambda _w, _n: missing)
    bot.fake.move_user()

    # A link is refused at once: that's what /play is for
    link = await bot.command("search", query=tone_server.url(440, 1))
    assert not link.deferred
    assert reply_of(link) == "That's a link: use /play to play it. /search takes words."

    # WHEN the search itself fails THEN the deferred reply is completed, privately
    failed = await bot.command("search", query="anything")
    assert failed.deferred
    assert reply_of(failed) == "Search isn't working right now. Please try again later."
    assert is_ephemeral(failed)
    bot.fake.assert_no_failures()


async def test_playlist_save_and_load_through_the_store(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    # GIVEN the embedded bot (SQLite store) playing 440 Hz with 550 and 660 queued
    bot = await start_embedded(start_bot, rate_limit_commands=50)
    store, guild_id = bot.store, bot.guild_id
    await play_and_queue(bot, tone_server, playing=(440, 2), queued=(550, 660))

    # WHEN saving the queue as a playlist
    saved = await sub(bot, "playlist", "save", name="Warm up")

    # THEN it holds the track on air and the queue, in order
    assert reply_of(saved) == "Saved the playlist “Warm up” (3 tracks)."
    playlist = await store.get_playlist(guild_id, "warm UP")
    assert playlist is not None and playlist.name == "Warm up"
    assert [t.title for t in playlist.tracks] == ["440-2", "550-1", "660-1"]

    # WHEN the music stops and the playlist is loaded
    await bot.command("stop")
    await bot.wait_silent()
    loaded = await sub(bot, "playlist", "load", name="warm up")

    # THEN the bot rejoins, plays its tracks in order, and says how many it added
    assert loaded.deferred
    assert reply_of(loaded) == "Loaded **Warm up**: now playing **440-2**, 2 more queued."
    state = await store.get_guild(guild_id)
    assert state is not None and [t.title for t in state.queue] == ["550-1", "660-1"]
    report = await bot.hear(660, 0.8)
    assert frequencies(report)[-3:] == [440, 550, 660]

    # /play takes what its autocomplete offers for a playlist: it appends while playing
    await bot.command("play", query=tone_server.url(880, 6))
    await bot.hear(880, 0.3)
    again = await bot.command("play", query="playlist:Warm up")
    assert reply_of(again) == "Added 3 tracks from **Warm up** to the queue."
    state = await store.get_guild(guild_id)
    assert state is not None and [t.title for t in state.queue] == ["440-2", "550-1", "660-1"]
    bot.fake.assert_no_failures()


async def test_playlist_load_respects_the_queue_bound_and_refuses_unknown_names(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    bot = await start_embedded(start_bot, rate_limit_commands=50)
    store, guild_id = bot.store, bot.guild_id
    await play_and_queue(bot, tone_server, playing=(440, 6), queued=(550, 660, 770))
    assert reply_of(await sub(bot, "playlist", "save", name="four")) == (
        "Saved the playlist “four” (4 tracks)."
    )

    missing = await sub(bot, "playlist", "load", name="nope")
    assert not missing.deferred
    assert reply_of(missing) == "There's no playlist called “nope”. See /playlist list."
    not_there = await bot.command("play", query="playlist:nope")
    assert reply_of(not_there) == "There's no playlist called “nope”. See /playlist list."

    # GIVEN the server allows 5 queued tracks and 3 are queued
    await save_settings(bot, max_queue=5)
    # WHEN a playlist of 4 is loaded THEN 2 fit and the answer says so
    loaded = await sub(bot, "playlist", "load", name="four")
    assert reply_of(loaded) == (
        "Added 2 tracks from **four** to the queue. 2 didn't fit: the queue holds at most 5 tracks."
    )
    state = await store.get_guild(guild_id)
    assert state is not None and len(state.queue) == 5
    # WHEN it is full THEN loading is refused privately
    full = await sub(bot, "playlist", "load", name="four")
    assert reply_of(full) == "The queue is full (5 tracks)."
    assert is_ephemeral(full)
    bot.fake.assert_no_failures()


async def test_play_autocomplete_offers_recent_tracks_and_playlists(
    start_bot: BotFactory, tone_server: ToneServer
) -> None:
    bot = await start_embedded(start_bot, rate_limit_commands=50)
    await bot.command("play", query=tone_server.url(440, 1))
    await bot.command("play", query=tone_server.url(550, 4))
    await bot.hear(550, 0.3)  # 440 finished: it is in the history now
    await sub(bot, "playlist", "save", name="evening 440")

    record = await bot.fake.send_interaction(
        "autocomplete", name="play", options={"query": "440"}, focused="query"
    )
    answered = await bot.fake.wait_for_interaction(
        record.id, lambda r: r.initial_response is not None, timeout_s=STEP_TIMEOUT_S
    )
    assert answered.initial_response is not None
    choices = answered.initial_response["data"]["choices"]
    assert choices == [
        {"name": "440", "value": "440"},
        {"name": "Recent: 440-1 (0:01)", "value": tone_server.url(440, 1)},
        {"name": "Playlist: evening 440", "value": "playlist:evening 440"},
    ]
    bot.fake.assert_no_failures()
