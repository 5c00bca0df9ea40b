"""The now-playing message's bookkeeping (now_playing.py) and a big playlist's progress
(playlist_progress.py), against a recording ChannelMessages: no Discord, no clock."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog

from shared.state import GuildSettings, GuildState, MessageRef
from tests.fixtures_interactions import spec_errors
from voice_worker.durable_store import apply_snapshot, to_snapshot
from voice_worker.models import GuildSnapshot, NowPlaying, QueuedTrack, SessionState
from voice_worker.now_playing import NowPlayingCard, finished_body, playing_body
from voice_worker.playlist_progress import ProgressThrottle, adding_text, playlist_reply
from voice_worker.reporting import EditOutcome
from voice_worker.sources.models import TrackRef

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CHANNEL, OTHER = "1300000000000000200", "1300000000000000201"


def item(n: int = 1, **ref: Any) -> QueuedTrack:
    fields = {"title": f"Song {n}", "webpage_url": f"https://media.example/{n}", **ref}
    return QueuedTrack(
        ref=TrackRef(**fields), requester_id="1300000000000000300", job_id=f"130000000000000{n}"
    )


class Messages:
    """A ChannelMessages that records calls; edit outcomes and post ids are scripted."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str | None]] = []
        self.edit_outcomes: list[EditOutcome] = []
        self.post_fails: set[str] = set()
        self._next_id = 1300000000000000900
        self.gate: asyncio.Event | None = None

    async def post_message(self, channel_id: str, body: dict[str, Any]) -> str | None:
        if self.gate is not None:
            await self.gate.wait()
        self.calls.append(("post", channel_id, body["embeds"][0]["title"]))
        if channel_id in self.post_fails:
            return None
        self._next_id += 1
        return str(self._next_id)

    async def edit_message(
        self, channel_id: str, message_id: str, body: dict[str, Any]
    ) -> EditOutcome:
        self.calls.append(("edit", message_id, body["embeds"][0]["title"]))
        return self.edit_outcomes.pop(0) if self.edit_outcomes else EditOutcome.EDITED

    async def delete_message(self, channel_id: str, message_id: str) -> bool:
        self.calls.append(("delete", message_id, None))
        return True


class Harness:
    def __init__(self) -> None:
        self.messages = Messages()
        self.tasks: list[asyncio.Task[None]] = []
        self.moved = 0

        def spawn(coro: Coroutine[Any, Any, None]) -> None:
            self.tasks.append(asyncio.get_running_loop().create_task(coro))

        def moved() -> None:
            self.moved += 1

        self.card = NowPlayingCard(
            self.messages, spawn=spawn, on_moved=moved, log=structlog.get_logger()
        )

    async def settle(self) -> None:
        while self.tasks:
            await self.tasks.pop(0)


def body(n: int) -> dict[str, Any]:
    return playing_body(item(n), position_s=0, paused=False, upcoming=0, loop="off", now=NOW)


async def test_posts_once_then_edits_the_same_message() -> None:
    h = Harness()
    h.card.show(("a",), [CHANNEL], body(1))
    await h.settle()
    assert h.card.message is not None and h.card.message.channel_id == CHANNEL
    posted = h.card.message.message_id
    h.card.show(("b",), [CHANNEL], body(2))
    await h.settle()
    assert h.messages.calls == [("post", CHANNEL, "Song 1"), ("edit", posted, "Song 2")]
    assert h.moved == 1  # only the post changed where the message is


async def test_the_same_key_sends_nothing_and_a_burst_sends_only_the_latest() -> None:
    h = Harness()
    h.card.message = MessageRef(channel_id=CHANNEL, message_id="1300000000000000800")
    h.card.show(("a",), [CHANNEL], body(1))
    await asyncio.sleep(0)  # the first edit is under way
    h.card.show(("a",), [CHANNEL], body(1))
    h.card.show(("b",), [CHANNEL], body(2))
    h.card.show(("c",), [CHANNEL], body(3))
    await h.settle()
    # Of the changes made while it ran, only the last is sent.
    assert [title for _, _, title in h.messages.calls] == ["Song 1", "Song 3"]
    assert h.card.shows(("c",)) and not h.card.shows(("b",))


async def test_a_deleted_message_is_posted_again_but_a_failed_edit_is_not() -> None:
    h = Harness()
    h.card.message = MessageRef(channel_id=CHANNEL, message_id="1300000000000000800")
    h.messages.edit_outcomes = [EditOutcome.FAILED, EditOutcome.GONE]
    h.card.show(("a",), [CHANNEL], body(1))
    await h.settle()
    assert h.card.message.message_id == "1300000000000000800"  # kept: no second player
    h.card.show(("b",), [CHANNEL], body(2))
    await h.settle()
    assert h.messages.calls[-2:] == [
        ("edit", "1300000000000000800", "Song 2"),
        ("post", CHANNEL, "Song 2"),
    ]
    assert h.card.message.message_id != "1300000000000000800" and h.moved == 1


async def test_moves_to_another_channel_and_falls_back_when_it_cannot_post() -> None:
    h = Harness()
    h.card.message = MessageRef(channel_id=OTHER, message_id="1300000000000000800")
    h.messages.post_fails = {"1300000000000000999"}
    # The preferred channel refuses (no permission): the next one gets it; the old is deleted.
    h.card.show(("a",), ["1300000000000000999", CHANNEL], body(1))
    await h.settle()
    assert h.messages.calls == [
        ("delete", "1300000000000000800", None),
        ("post", "1300000000000000999", "Song 1"),
        ("post", CHANNEL, "Song 1"),
    ]
    assert h.card.message is not None and h.card.message.channel_id == CHANNEL
    # A message in an allowed (if not preferred) channel is edited where it is.
    h.card.show(("b",), ["1300000000000000999", CHANNEL], body(2))
    await h.settle()
    assert h.messages.calls[-1][0] == "edit"


async def test_nowhere_to_post_is_retried_on_the_next_change() -> None:
    h = Harness()
    h.messages.post_fails = {CHANNEL}
    h.card.show(("a",), [CHANNEL], body(1))
    await h.settle()
    assert h.card.message is None and not h.card.shows(("a",))
    h.messages.post_fails = set()
    h.card.show(("a",), [CHANNEL], body(1))
    await h.settle()
    assert h.card.message is not None


async def test_finish_edits_once_without_buttons_and_forgets() -> None:
    h = Harness()
    h.messages.gate = asyncio.Event()
    h.card.show(("a",), [CHANNEL], body(1))
    await asyncio.sleep(0)
    h.card.finish(finished_body(item(1)))  # while the post is still under way
    h.messages.gate.set()
    await h.settle()
    assert [(op, title) for op, _, title in h.messages.calls] == [
        ("post", "Song 1"),
        ("edit", "Queue finished"),
    ]
    assert h.card.message is None and h.moved == 2
    h.card.finish(finished_body(None))  # nothing to finish any more
    h.card.show(("a",), [CHANNEL], body(1))  # the same track again: a new message
    await h.settle()
    assert [op for op, _, _ in h.messages.calls] == ["post", "edit", "post"]


def test_the_bodies_are_valid_discord_requests_within_embed_limits() -> None:
    long = item(1, title="x" * 600, thumbnail="https://img.example/1.jpg", duration_s=225.0)
    playing = playing_body(long, position_s=83, paused=True, upcoming=3, loop="track", now=NOW)
    embed = playing["embeds"][0]
    assert len(embed["title"]) <= 256 and embed["thumbnail"] == {"url": "https://img.example/1.jpg"}
    assert embed["description"].startswith("⏸ Paused · ") and "1:23 / 3:45" in embed["description"]
    [row] = playing["components"]
    assert len(row["components"]) == 5  # Discord's most per row
    assert [b["custom_id"] for b in row["components"]][3] == "player:loop:queue"
    finished = finished_body(long)
    assert finished["components"] == []
    for payload in (playing, finished):
        assert spec_errors("POST", f"/channels/{CHANNEL}/messages", payload) == {}
        assert (
            spec_errors("PATCH", f"/channels/{CHANNEL}/messages/1300000000000000800", payload) == {}
        )


def test_progress_is_reported_per_step_or_interval_and_only_with_news() -> None:
    now = [0.0]
    throttle = ProgressThrottle(step=50, interval_s=2.0, clock=lambda: now[0])
    assert not throttle.due(0)
    assert not throttle.due(10)  # neither 50 more nor 2 s
    now[0] = 2.5
    assert throttle.due(10)  # 2 s passed with news
    assert not throttle.due(10)  # no news
    assert throttle.due(60)  # 50 more, at once
    now[0] = 10.0
    assert not throttle.due(60)  # time alone is no news


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        (
            {"added": 199, "asked": 199, "started": True, "position": 0, "truncated": False},
            "Queued 200 tracks: now playing **Song**.",
        ),
        (
            {"added": 9, "asked": 9, "started": False, "position": 4, "truncated": True},
            "Queued 10 tracks, starting with **Song** (position 4). That's as many as one link "
            "may add: the rest of the playlist was left out.",
        ),
        (
            {"added": 5, "asked": 20, "started": True, "position": 0, "truncated": False},
            "Queued 6 tracks: now playing **Song**. The queue is full: 15 tracks left out.",
        ),
    ],
)
def test_playlist_replies(kwargs: dict[str, Any], text: str) -> None:
    assert playlist_reply("Song", **kwargs) == text
    assert adding_text(50, 200) == "Adding tracks… 50/200"


def test_where_the_message_is_goes_through_the_store_mapping() -> None:
    # GIVEN a stored guild whose settings name an announcement channel
    ref = MessageRef(channel_id=CHANNEL, message_id="1300000000000000800")
    settings = GuildSettings(announce_channel_id=OTHER)
    stored = GuildState(guild_id="1300000000000000100", settings=settings)
    # WHEN a session's snapshot with its message is applied, then read back
    snapshot = GuildSnapshot(
        guild_id=stored.guild_id,
        state=SessionState.PLAYING,
        now_playing=NowPlaying(track=item(1)),
        now_playing_message=ref,
        announce_channel_id="1300000000000000999",  # never written back: the admins' setting
    )
    saved = apply_snapshot(stored, snapshot)
    assert saved.now_playing_message == ref and saved.settings.announce_channel_id == OTHER
    again = to_snapshot(saved)
    assert again.now_playing_message == ref and again.announce_channel_id == OTHER
    # AND a session that ended on purpose (an empty snapshot) forgets it
    cleared = apply_snapshot(
        saved, GuildSnapshot(guild_id=stored.guild_id, state=SessionState.CLOSED)
    )
    assert cleared.now_playing_message is None
