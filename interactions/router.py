"""Routes a verified interaction to its command module, after the checks every command shares.

Order of checks: server only (no DMs), guild allowlist, per-user rate limit, the member's
permission for that command (commands/definitions.py), then the command.
Autocomplete skips the rate limit (Discord fires it per keystroke) and answers empty choices
instead of messages, which it cannot show.
"""

from __future__ import annotations

from collections.abc import Mapping

from interactions import permissions, responses
from interactions.commands import help as help_commands
from interactions.commands import history, playback, playlists, search, status
from interactions.commands import settings as settings_commands
from interactions.commands.base import Handler, Reply, Services
from interactions.commands.definitions import SPECS, Access
from interactions.context import Interaction
from interactions.discord_types import InteractionType
from interactions.ratelimit import RateLimiter

USE_IN_SERVER = "Use this in a server, in a text channel where the bot is."
NOT_ALLOWED = "This music bot isn't enabled for this server."
UNKNOWN_COMMAND = "I don't know that command. Try /help."
NOT_YET = "That command isn't available yet. Try /help for what works now."

DEFAULT_COMMANDS: Mapping[str, Handler] = {
    **playback.COMMANDS_HANDLED,
    **help_commands.COMMANDS_HANDLED,
    **status.COMMANDS_HANDLED,
    **history.COMMANDS_HANDLED,
    **playlists.COMMANDS_HANDLED,
    **search.COMMANDS_HANDLED,
    **settings_commands.COMMANDS_HANDLED,
}
DEFAULT_AUTOCOMPLETE: Mapping[str, Handler] = {
    **playback.AUTOCOMPLETE,
    **playlists.AUTOCOMPLETE,
}
# Buttons by the custom_id's prefix (before the first ":").
DEFAULT_COMPONENTS: Mapping[str, Handler] = {
    playback.COMPONENT_PREFIX.rstrip(":"): playback.component,
    status.QUEUE_PAGE_PREFIX.rstrip(":"): status.queue_page,
    search.COMPONENT_PREFIX.rstrip(":"): search.choose,
}


def component_access(custom_id: str) -> Access:
    """A player button obeys the rule of the command it stands for (`player:stop` as /stop)."""
    prefix, _, action = custom_id.partition(":")
    command = action.partition(":")[0]  # `player:loop:track` stands for /loop
    spec = SPECS.get(command) if prefix == playback.COMPONENT_PREFIX.rstrip(":") else None
    return spec.access if spec is not None else Access.EVERYONE


class UnsupportedInteraction(ValueError):
    """An interaction type this bot never asks for (e.g. a modal submit): answered with 400."""


class Router:
    """Turns an Interaction into a Reply; owns the app's rate limiter."""

    def __init__(
        self,
        services: Services,
        *,
        rate_limiter: RateLimiter,
        guild_allowlist: frozenset[str] = frozenset(),
        commands: Mapping[str, Handler] = DEFAULT_COMMANDS,
        autocomplete: Mapping[str, Handler] = DEFAULT_AUTOCOMPLETE,
        components: Mapping[str, Handler] = DEFAULT_COMPONENTS,
    ) -> None:
        self._services = services
        self._rate_limiter = rate_limiter
        self._allowlist = guild_allowlist
        self._commands = commands
        self._autocomplete = autocomplete
        self._components = components

    def _allowed_guild(self, guild_id: str) -> bool:
        return not self._allowlist or guild_id in self._allowlist

    async def dispatch(self, interaction: Interaction) -> Reply:
        """Answer one interaction (PING excluded: the app answers it before parsing further)."""
        if interaction.type is InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE:
            return await self._autocomplete_reply(interaction)
        if interaction.type not in (
            InteractionType.APPLICATION_COMMAND,
            InteractionType.MESSAGE_COMPONENT,
        ):
            raise UnsupportedInteraction(interaction.type.name)
        refusal = self._gate(interaction)
        if refusal is not None:
            return refusal
        if interaction.type is InteractionType.MESSAGE_COMPONENT:
            return await self._component_reply(interaction)
        name = interaction.command or ""
        spec = SPECS.get(name)
        handler = self._commands.get(name)
        if spec is not None and not spec.registered:
            # A stale registration, or a client that sent it anyway: the worker can't do it.
            return Reply(responses.ephemeral(NOT_YET), "not_available")
        if handler is None or spec is None:
            return Reply(responses.ephemeral(UNKNOWN_COMMAND), "unknown_command")
        access = spec.access_for(interaction.subcommand)
        refused = await permissions.refusal(self._services, interaction, access)
        if refused is not None:
            return refused
        return await handler(self._services, interaction)

    async def _component_reply(self, interaction: Interaction) -> Reply:
        custom_id = interaction.custom_id or ""
        handler = self._components.get(custom_id.partition(":")[0])
        if handler is None:
            return Reply(responses.ephemeral(playback.UNKNOWN_BUTTON), "unknown")
        access = component_access(custom_id)
        refused = await permissions.refusal(self._services, interaction, access)
        if refused is not None:
            return refused
        return await handler(self._services, interaction)

    def _gate(self, interaction: Interaction) -> Reply | None:
        if interaction.guild_id is None or interaction.channel_id is None:
            return Reply(responses.ephemeral(USE_IN_SERVER), "dm_refused")
        if not self._allowed_guild(interaction.guild_id):
            return Reply(responses.ephemeral(NOT_ALLOWED), "guild_refused")
        wait_s = self._rate_limiter.check(interaction.user_id or "0")
        if wait_s:
            seconds = RateLimiter.whole_seconds(wait_s)
            message = f"You're going a bit fast — try again in {seconds} s."
            return Reply(responses.ephemeral(message), "rate_limited")
        return None

    async def _autocomplete_reply(self, interaction: Interaction) -> Reply:
        handler = self._autocomplete.get(interaction.command or "")
        if (
            handler is None
            or interaction.guild_id is None
            or not self._allowed_guild(interaction.guild_id)
        ):
            return Reply(responses.autocomplete([]), "autocomplete_refused")
        return await handler(self._services, interaction)
