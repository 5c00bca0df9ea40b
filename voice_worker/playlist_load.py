"""/playlist load on the worker: a saved playlist's tracks appended to the guild's queue.

The playlist is read from the state store when the job runs (not when it was asked for), its
entries get fresh entry ids and this job's id (so a redelivered load is recognised from the
state it changed), and only as many are added as the queue has room for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from interactions.commands.display import escape
from shared.jobs import PlaylistLoadJob
from shared.state import GuildState, Playlist, StoreUnavailable
from voice_worker.durable_store import from_stored_track
from voice_worker.errors import TransientError, UserFacingError
from voice_worker.models import QueuedTrack
from voice_worker.player_commands import clock, tracks
from voice_worker.reporting import Reply
from voice_worker.track_limits import left_out_text, split_fitting

NEEDS_STORE = "Saved playlists need the bot's state store, which isn't set up here."


class PlaylistReader(Protocol):
    """What loading needs from the StateStore."""

    async def get_playlist(self, guild_id: str, name: str) -> Playlist | None:
        """The playlist of that name, or None."""

    async def get_guild(self, guild_id: str) -> GuildState | None:
        """The guild's state (for its own queue bound)."""


class StoreBusy(TransientError):
    """The state store could not be read: the job is retried."""


def missing(name: str) -> str:
    """The answer for a playlist that does not exist (same wording as the front door's)."""
    return f"There's no playlist called “{escape(name)}”. See /playlist list."


@dataclass(frozen=True)
class GuildBounds:
    """The guild's own limits (/settings), None where it uses the deployment's."""

    max_queue_length: int | None = None
    max_track_length_s: int | None = None


async def read_playlist(
    store: PlaylistReader, job: PlaylistLoadJob
) -> tuple[Playlist, GuildBounds]:
    """The playlist and the guild's own bounds; UserFacingError when it can't be loaded."""
    try:
        playlist = await store.get_playlist(job.guild_id, job.name)
        state = await store.get_guild(job.guild_id)
    except StoreUnavailable:
        raise StoreBusy("store_unavailable") from None
    if playlist is None:
        raise UserFacingError("no_playlist", missing(job.name))
    if not playlist.tracks:
        raise UserFacingError(
            "empty_playlist", f"The playlist “{escape(playlist.name)}” has no tracks."
        )
    if state is None:
        return playlist, GuildBounds()
    settings = state.settings
    return playlist, GuildBounds(settings.max_queue_length, settings.max_track_length_s)


def fitting_items(
    playlist: Playlist, items: list[QueuedTrack], max_length_s: int | None
) -> tuple[list[QueuedTrack], int]:
    """The entries short enough for the guild, and how many were not; UserFacingError when
    none is."""
    fitting, dropped = split_fitting(items, [item.ref for item in items], max_length_s)
    if not fitting and max_length_s is not None:
        raise UserFacingError(
            "track_too_long",
            f"Every track of “{escape(playlist.name)}” is longer than this server's max track "
            f"length ({clock(max_length_s)}).",
        )
    return fitting, dropped


def queue_items(playlist: Playlist, job: PlaylistLoadJob) -> list[QueuedTrack]:
    """The playlist's tracks as new queue entries of this job (each a new entry id)."""
    items = []
    for stored in playlist.tracks:
        item = from_stored_track(stored)
        items.append(
            QueuedTrack(
                ref=item.ref,
                requester_id=job.requester.user_id,
                requester_name=job.requester.display_name,
                job_id=job.job_id,
            )
        )
    return items


def load_reply(
    playlist: Playlist,
    added: int,
    started: QueuedTrack | None,
    *,
    room_limit: int,
    too_long: int = 0,
    max_length_s: int | None = None,
) -> Reply:
    """What the requester is told: how many were added, and whether the queue ran out of room
    (too_long: entries left out for being longer than the guild allows)."""
    name = escape(playlist.name)
    total = len(playlist.tracks) - too_long
    if added == 0:
        return Reply(f"The queue is full ({room_limit} tracks).", ephemeral=True)
    if started is not None:
        more = added - 1
        text = f"Loaded **{name}**: now playing **{escape(started.label)}**"
        text += f", {more} more queued." if more else "."
    else:
        text = f"Added {tracks(added)} from **{name}** to the queue."
    if added < total:
        text += f" {total - added} didn't fit: the queue holds at most {room_limit} tracks."
    return Reply(text + left_out_text(too_long, max_length_s))
