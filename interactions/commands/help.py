"""/help: an ephemeral embed listing the commands, built from their definitions."""

from __future__ import annotations

from typing import Any

from interactions import responses
from interactions.commands.base import Reply, Services
from interactions.commands.definitions import registered_commands, usage
from interactions.context import Interaction

# Discord blurple; purely cosmetic.
_COLOUR = 0x5865F2


def help_embed() -> dict[str, Any]:
    """The help embed: one field per command, in definition order."""
    return {
        "title": "Music commands",
        "description": "Join a voice channel first; the bot joins yours when you /play.",
        "color": _COLOUR,
        "fields": [
            {"name": usage(spec.payload), "value": spec.payload["description"], "inline": False}
            for spec in registered_commands()
        ],
    }


async def show_help(services: Services, interaction: Interaction) -> Reply:
    """Answer immediately: nothing to enqueue."""
    return Reply(responses.ephemeral_embed(help_embed()), "help")


COMMANDS_HANDLED = {"help": show_help}
