"""The guild's one now-playing message: posted when a track starts, then edited in place.

A notice per track buries a channel; so each guild has one message with the track on air and
the player buttons. It goes to the guild's announcement channel (``/settings``) or, without
one, to the channel of the last command; the next track EDITS it. If someone deleted it (404)
a new one is posted. When the queue runs out it turns into "Queue finished" without buttons
and is forgotten, so the next /play posts a fresh one at the bottom of the channel.

Where the message is belongs to the guild's state in the store (``GuildState.
now_playing_message``), so a worker taking the guild over keeps editing the same message.

Updates run one at a time in the background and the latest wins: a burst of changes (skip,
skip, skip) costs one request per round trip, and no Discord call ever runs under the
session's lock. 429s are discord.py's to sleep out (reporting.py).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from interactions.commands import display
from shared.state.models import MessageRef
from shared.state.models import NowPlaying as StoredNowPlaying
from voice_worker.durable_store import to_stored_track
from voice_worker.models import QueuedTrack
from voice_worker.reporting import NO_MENTIONS, ChannelMessages, EditOutcome

Body = dict[str, Any]
Spawn = Callable[[Coroutine[Any, Any, None]], None]
STOPPED = "Stopped"


def playing_body(
    item: QueuedTrack,
    *,
    position_s: float,
    paused: bool,
    upcoming: int,
    loop: str,
    now: datetime,
) -> Body:
    """The message for the track on air: the same embed and buttons as /nowplaying."""
    playing = StoredNowPlaying(
        track=to_stored_track(item),
        position_s=max(0.0, position_s),
        position_updated_at=now,
        paused=paused,
    )
    embed, rows = display.now_playing_view(playing, upcoming, now, loop=loop)
    return {"embeds": [embed], "components": rows, "allowed_mentions": NO_MENTIONS}


def finished_body(last: QueuedTrack | None, *, title: str = display.QUEUE_FINISHED) -> Body:
    """The message once nothing plays: the last track, no buttons (they would do nothing)."""
    embed = display.finished_view(to_stored_track(last) if last else None, title=title)
    return {"embeds": [embed], "components": [], "allowed_mentions": NO_MENTIONS}


@dataclass(frozen=True)
class _Update:
    channels: tuple[str, ...]  # where it may go, preferred first (empty for a finish)
    body: Body
    finish: bool = False


class NowPlayingCard:
    """One guild's now-playing message: where it is, and the updates still to send."""

    def __init__(
        self,
        messages: ChannelMessages,
        *,
        spawn: Spawn,
        on_moved: Callable[[], None],
        log: Any,
    ) -> None:
        # on_moved: the message was posted anew or forgotten (the owner saves where it is).
        self.message: MessageRef | None = None
        self._messages = messages
        self._spawn = spawn
        self._on_moved = on_moved
        self._log = log
        self._pending: _Update | None = None
        self._running = False
        self._shown: Hashable | None = None

    def shows(self, key: Hashable) -> bool:
        """Whether ``key`` is what the message shows (or is about to)."""
        return key == self._shown

    def show(self, key: Hashable, channels: Sequence[str], body: Body) -> None:
        """Show ``body`` (posting or editing); skipped when ``key`` is what is shown already."""
        if key == self._shown or not channels:
            return
        self._shown = key
        self._enqueue(_Update(tuple(dict.fromkeys(channels)), body))

    def finish(self, body: Body) -> None:
        """Edit the message a last time (no buttons) and forget it."""
        self._shown = None
        if self.message is not None or self._running:
            self._enqueue(_Update((), body, finish=True))

    def _enqueue(self, update: _Update) -> None:
        self._pending = update  # the latest wins: older updates are stale anyway
        if not self._running:
            self._running = True
            self._spawn(self._run())

    async def _run(self) -> None:
        try:
            while (update := self._pending) is not None:
                self._pending = None
                await self._apply(update)
        finally:
            self._running = False

    async def _apply(self, update: _Update) -> None:
        message = self.message
        if update.finish:
            if message is not None:
                self.message = None  # forgotten first: a track starting now posts afresh
                self._on_moved()
                await self._messages.edit_message(
                    message.channel_id, message.message_id, update.body
                )
            return
        if message is not None and message.channel_id in update.channels:
            outcome = await self._messages.edit_message(
                message.channel_id, message.message_id, update.body
            )
            if outcome is not EditOutcome.GONE:
                return  # edited, or failed for now: a repost would leave two players behind
            self._log.info("now_playing.message_gone", channel_id=message.channel_id)
        elif message is not None:
            # The messages now go to another channel: move the player there.
            await self._messages.delete_message(message.channel_id, message.message_id)
        await self._post(update)

    async def _post(self, update: _Update) -> None:
        for channel_id in update.channels:
            message_id = await self._messages.post_message(channel_id, update.body)
            if message_id is not None:
                self.message = MessageRef(channel_id=channel_id, message_id=message_id)
                self._log.info("now_playing.posted", channel_id=channel_id)
                break
        else:
            self.message = None
            self._shown = None  # the next change tries again
            self._log.warning("now_playing.post_failed", channels=len(update.channels))
        self._on_moved()
