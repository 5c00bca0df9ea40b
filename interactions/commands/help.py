"""/help: an ephemeral embed listing the commands by category, built from their definitions.

One field per category (not per command) keeps the embed inside Discord's limits however many
commands are defined: at most 25 fields, 1024 characters per field value, 256 per field name
and 6000 for the whole embed. A category too long for one field continues in the next; when
the whole list would pass 6000 characters, descriptions are dropped (usage only) and, as a
last resort, the list is cut with a pointer to Discord's own command picker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from interactions import responses
from interactions.commands.base import Reply, Services
from interactions.commands.definitions import CommandSpec, registered_commands, usage
from interactions.context import Interaction

# Discord blurple; purely cosmetic.
_COLOUR = 0x5865F2
TITLE = "Music commands"
DESCRIPTION = "Join a voice channel first; the bot joins yours when you /play."
# Discord's embed limits (https://discord.com/developers/docs/resources/message#embed-object).
MAX_FIELDS: Final = 25
MAX_FIELD_VALUE: Final = 1024
MAX_FIELD_NAME: Final = 256
MAX_EMBED_TOTAL: Final = 6000
CUT_NOTE = "…and more: type / in the message box to see every command."

# Command name -> category; a command not listed here is shown under OTHER.
CATEGORIES: Final[Mapping[str, tuple[str, ...]]] = {
    "Playback": ("play", "search", "pause", "resume", "skip", "previous", "seek", "stop", "leave"),
    "Queue": ("queue", "remove", "move", "skipto", "shuffle", "clear"),
    "Player": ("nowplaying", "volume", "loop", "filter", "autoplay", "247"),
    "Playlists & history": ("playlist", "history"),
    "Settings": ("settings", "help"),
}
OTHER = "More"

Field = dict[str, Any]


def _grouped(specs: Sequence[CommandSpec]) -> list[tuple[str, list[CommandSpec]]]:
    """The commands per category, categories in CATEGORIES order, commands in theirs."""
    category_of = {name: title for title, names in CATEGORIES.items() for name in names}
    order = {name: index for names in CATEGORIES.values() for index, name in enumerate(names)}
    groups: dict[str, list[CommandSpec]] = {title: [] for title in (*CATEGORIES, OTHER)}
    for spec in specs:
        groups[category_of.get(spec.name, OTHER)].append(spec)
    for members in groups.values():
        members.sort(key=lambda spec: order.get(spec.name, len(order)))
    return [(title, members) for title, members in groups.items() if members]


def _line(spec: CommandSpec, *, describe: bool) -> str:
    text = f"`{usage(spec.payload)}`"
    if describe:
        text += f" — {spec.payload['description']}"
    return responses.truncate(text, MAX_FIELD_VALUE)


def _fields(specs: Sequence[CommandSpec], *, describe: bool) -> list[Field]:
    """One field per category, continued in another field when it passes 1024 characters."""
    fields: list[Field] = []
    for title, members in _grouped(specs):
        chunks: list[list[str]] = [[]]
        for line in (_line(spec, describe=describe) for spec in members):
            if chunks[-1] and len("\n".join([*chunks[-1], line])) > MAX_FIELD_VALUE:
                chunks.append([])
            chunks[-1].append(line)
        fields += [_field(title, chunk, continued=index > 0) for index, chunk in enumerate(chunks)]
    return fields


def _field(title: str, lines: list[str], *, continued: bool) -> Field:
    name = f"{title} (continued)" if continued else title
    return {"name": name[:MAX_FIELD_NAME], "value": "\n".join(lines), "inline": False}


def embed_size(embed: Mapping[str, Any]) -> int:
    """Characters Discord counts towards the 6000 limit (title, description, fields, footer)."""
    size = len(embed.get("title", "")) + len(embed.get("description", ""))
    size += len(embed.get("footer", {}).get("text", ""))
    size += len(embed.get("author", {}).get("name", ""))
    return size + sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", ()))


def help_embed(specs: Sequence[CommandSpec] | None = None) -> dict[str, Any]:
    """The help embed: the registered commands (or ``specs``) grouped by category."""
    chosen = registered_commands() if specs is None else list(specs)
    embed: dict[str, Any] = {"title": TITLE, "description": DESCRIPTION, "color": _COLOUR}
    for describe in (True, False):
        embed["fields"] = _fields(chosen, describe=describe)
        if len(embed["fields"]) <= MAX_FIELDS and embed_size(embed) <= MAX_EMBED_TOTAL:
            return embed
    # Still too much (hundreds of commands): keep what fits and say where the rest is.
    budget = MAX_EMBED_TOTAL - embed_size({**embed, "fields": []}) - len(CUT_NOTE) - 2
    kept: list[Field] = []
    for field in embed["fields"][:MAX_FIELDS]:
        cost = len(field["name"]) + len(field["value"])
        if cost > budget:
            break
        kept.append(field)
        budget -= cost
    embed["fields"] = kept
    embed["description"] = f"{DESCRIPTION}\n{CUT_NOTE}"
    return embed


async def show_help(services: Services, interaction: Interaction) -> Reply:
    """Answer immediately: nothing to enqueue."""
    return Reply(responses.ephemeral_embed(help_embed()), "help")


COMMANDS_HANDLED = {"help": show_help}
