"""/playlist list | show | delete: the guild's saved playlists, straight from the store.

Loading a playlist into the queue needs the worker and is not offered yet.
"""

from __future__ import annotations

from interactions import responses
from interactions.commands import display
from interactions.commands.base import Reply, Services
from interactions.commands.status import NOT_AVAILABLE, UNREADABLE
from interactions.context import Interaction
from interactions.store_access import StoreDown
from interactions.validation import clean_text

SHOWN_TRACKS = 15
MAX_NAME = 100
NO_PLAYLISTS = "This server has no saved playlists yet."
NAME_NEEDED = "Give the playlist's name (up to 100 characters)."


def _name(interaction: Interaction) -> str | None:
    raw = interaction.options.get("name")
    if not isinstance(raw, str):
        return None
    name = clean_text(raw)
    return name if 0 < len(name) <= MAX_NAME else None


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


async def playlist(services: Services, interaction: Interaction) -> Reply:
    """Route the subcommand; the router has checked who may delete."""
    if services.store is None:
        return Reply(responses.ephemeral(NOT_AVAILABLE), "degraded")
    assert interaction.guild_id is not None
    action = interaction.subcommand
    try:
        if action == "list":
            return await _list(services, interaction.guild_id)
        if action not in ("show", "delete"):
            return Reply(responses.ephemeral("Use /playlist list, show or delete."), "invalid")
        name = _name(interaction)
        if name is None:
            return Reply(responses.ephemeral(NAME_NEEDED), "invalid_option")
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
