"""/playlist list | show | save | load | delete: the guild's saved playlists.

list, show, save and delete are answered at once from the store. load needs the worker (it
joins voice and plays): the playlist is checked here, then a PlaylistLoadJob is queued. /play
takes `playlist:<name>` (what its autocomplete offers) for the same load.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from interactions import permissions, responses
from interactions.commands import display
from interactions.commands.base import Reply, Services
from interactions.commands.definitions import Access
from interactions.commands.enqueue import enqueue_and_wake, job_origin
from interactions.commands.status import NOT_AVAILABLE, UNREADABLE
from interactions.context import Interaction
from interactions.store_access import StoreDown
from interactions.validation import clean_text
from shared.jobs import PlaylistLoadJob

if TYPE_CHECKING:
    from shared.state import QueuedTrack

SHOWN_TRACKS = 15
MAX_NAME = 100
PLAYLIST_PREFIX = "playlist:"
NO_PLAYLISTS = "This server has no saved playlists yet."
NAME_NEEDED = "Give the playlist's name (up to 100 characters)."
NO_STORE = "Saved playlists aren't available here: the bot has no state store."
NOTHING_TO_SAVE = "There's nothing to save: nothing is playing or queued."


def _name(interaction: Interaction) -> str | None:
    raw = interaction.options.get("name")
    return _clean_name(raw) if isinstance(raw, str) else None


def _clean_name(raw: str) -> str | None:
    name = clean_text(raw)
    return name if 0 < len(name) <= MAX_NAME else None


def _count(tracks: int) -> str:
    return f"{tracks} track{'s' if tracks != 1 else ''}"


def _missing(name: str) -> str:
    return f"There's no playlist called “{display.escape(name)}”. See /playlist list."


async def _list(services: Services, guild_id: str) -> Reply:
    assert services.store is not None
    names = await services.store.playlist_names(guild_id)
    if not names:
        return Reply(responses.ephemeral(NO_PLAYLISTS), "answered")
    embed = {
        "title": "Saved playlists",
        "description": responses.truncate(
            "\n".join(f"• {display.escape(name)}" for name in names), 4096
        ),
        "color": display.COLOUR,
        "footer": {"text": f"{len(names)} playlist{'s' if len(names) != 1 else ''}"},
    }
    return Reply(responses.ephemeral_embed(embed), "answered")


async def _show(services: Services, guild_id: str, name: str) -> Reply:
    assert services.store is not None
    playlist = await services.store.playlist(guild_id, name)
    if playlist is None:
        return Reply(responses.ephemeral(_missing(name)), "answered")
    tracks = playlist.tracks
    lines = [
        f"`{n}.` {display.track_link(track)} `{display.track_length(track)}`"
        for n, track in enumerate(tracks[:SHOWN_TRACKS], 1)
    ]
    if len(tracks) > SHOWN_TRACKS:
        lines.append(f"…and {len(tracks) - SHOWN_TRACKS} more")
    embed = {
        "title": responses.truncate(playlist.name, 256),
        "description": responses.truncate("\n".join(lines) or "No tracks.", 4096),
        "color": display.COLOUR,
        "footer": {
            "text": f"{len(tracks)} track{'s' if len(tracks) != 1 else ''} · "
            f"total {display.total_length(tracks)}"
        },
    }
    return Reply(responses.ephemeral_embed(embed), "answered")


async def _delete(services: Services, guild_id: str, name: str) -> Reply:
    assert services.store is not None
    if not await services.store.delete_playlist(guild_id, name):
        return Reply(responses.ephemeral(_missing(name)), "answered")
    return Reply(responses.ephemeral(f"Deleted the playlist “{display.escape(name)}”."), "answered")


async def _save(services: Services, interaction: Interaction, name: str) -> Reply:
    """Save the track on air and the queue; replacing someone else's playlist needs DJ."""
    assert services.store is not None and interaction.guild_id is not None
    state = await services.store.guild(interaction.guild_id)
    tracks: tuple[QueuedTrack, ...] = ()
    if state is not None:
        playing = (state.now_playing.track,) if state.now_playing is not None else ()
        tracks = (*playing, *state.queue)
    if not tracks:
        return Reply(responses.ephemeral(NOTHING_TO_SAVE), "answered")
    user_id = interaction.user_id or "0"
    # A playlist is loaded into the queue, so it obeys the queue's bound (the store checks).
    kept = tracks[: services.max_queue_length]
    existing = await services.store.playlist(interaction.guild_id, name)
    if existing is None or existing.created_by == user_id:
        # Free or ours when read: written only if it still is (one conditional write), so a
        # member saving the same name at the same moment can't be overwritten unasked.
        if await services.store.save_playlist(
            interaction.guild_id, name, kept, created_by=user_id, only_creator=True
        ):
            return _saved(services, name, kept, tracks, replaced=existing is not None)
        existing = await services.store.playlist(interaction.guild_id, name)
        if existing is None:  # deleted meanwhile: a race too many, let them try again
            return Reply(responses.ephemeral(UNREADABLE), "degraded")
    if existing.created_by == user_id:
        # Theirs, yet refused: saved before the store kept the creator apart (DynamoDB).
        await services.store.save_playlist(interaction.guild_id, name, kept, created_by=user_id)
        return _saved(services, name, kept, tracks, replaced=True)
    refused = await permissions.refusal(services, interaction, Access.DJ)
    if refused is not None and refused.outcome == "forbidden":
        text = (
            f"“{display.escape(existing.name)}” was saved by <@{existing.created_by}>: "
            "only they, a DJ or a server manager can replace it. Pick another name."
        )
        return Reply(responses.ephemeral(text), "forbidden")
    if refused is not None:
        return refused
    # A DJ or a manager may replace anyone's playlist.
    await services.store.save_playlist(interaction.guild_id, name, kept, created_by=user_id)
    return _saved(services, name, kept, tracks, replaced=True)


def _saved(
    services: Services,
    name: str,
    kept: tuple[QueuedTrack, ...],
    tracks: tuple[QueuedTrack, ...],
    *,
    replaced: bool,
) -> Reply:
    """What the member is told once their playlist is saved."""
    verb = "Replaced" if replaced else "Saved"
    text = f"{verb} the playlist “{display.escape(name)}” ({_count(len(kept))})."
    if len(kept) < len(tracks):
        text += f" The last {len(tracks) - len(kept)} didn't fit: playlists hold at most "
        text += f"{services.max_queue_length} tracks."
    return Reply(responses.ephemeral(text), "answered")


async def load_named(
    services: Services, interaction: Interaction, raw_name: str, *, started: float
) -> Reply:
    """Queue a PlaylistLoadJob for a playlist that exists (checked here, read again by the
    worker); the worker edits the deferred reply with how many tracks it added."""
    if services.store is None:
        return Reply(responses.ephemeral(NO_STORE), "degraded")
    assert interaction.guild_id is not None
    name = _clean_name(raw_name)
    if name is None:
        return Reply(responses.ephemeral(NAME_NEEDED), "invalid_option")
    try:
        found = await services.store.playlist(interaction.guild_id, name)
    except StoreDown:
        return Reply(responses.ephemeral(UNREADABLE), "degraded")
    if found is None:
        return Reply(responses.ephemeral(_missing(name)), "answered")
    if not found.tracks:
        text = f"The playlist “{display.escape(found.name)}” has no tracks."
        return Reply(responses.ephemeral(text), "answered")
    job = PlaylistLoadJob(**job_origin(interaction), name=found.name)
    deferred = Reply(responses.deferred_message(), "enqueued")
    return await enqueue_and_wake(services, job, deferred, started=started)


async def playlist(services: Services, interaction: Interaction) -> Reply:
    """Route the subcommand; the router has checked who may delete."""
    started = time.monotonic()
    if services.store is None:
        return Reply(responses.ephemeral(NOT_AVAILABLE), "degraded")
    assert interaction.guild_id is not None
    action = interaction.subcommand
    try:
        if action == "list":
            return await _list(services, interaction.guild_id)
        if action not in ("show", "delete", "save", "load"):
            text = "Use /playlist list, show, save, load or delete."
            return Reply(responses.ephemeral(text), "invalid")
        name = _name(interaction)
        if name is None:
            return Reply(responses.ephemeral(NAME_NEEDED), "invalid_option")
        if action == "load":
            return await load_named(services, interaction, name, started=started)
        if action == "save":
            return await _save(services, interaction, name)
        if action == "show":
            return await _show(services, interaction.guild_id, name)
        return await _delete(services, interaction.guild_id, name)
    except StoreDown:
        return Reply(responses.ephemeral(UNREADABLE), "degraded")


async def autocomplete_name(services: Services, interaction: Interaction) -> Reply:
    """Suggest saved playlist names matching what was typed (empty if the store is absent)."""
    if services.store is None or interaction.focused != "name" or interaction.guild_id is None:
        return Reply(responses.autocomplete([]), "autocomplete")
    typed = interaction.options.get("name")
    prefix = clean_text(typed).casefold() if isinstance(typed, str) else ""
    try:
        names = await services.store.playlist_names(interaction.guild_id)
    except StoreDown:
        return Reply(responses.autocomplete([]), "autocomplete")
    matches = [name for name in names if prefix in name.casefold()]
    return Reply(responses.autocomplete([(name, name) for name in matches]), "autocomplete")


COMMANDS_HANDLED = {"playlist": playlist}
AUTOCOMPLETE = {"playlist": autocomplete_name}
