"""Routes a verified interaction to its command module, after the checks every command shares.

Order of checks: server only (no DMs), guild allowlist, per-user rate limit, then the command.
Autocomplete skips the rate limit (Discord fires it per keystroke) and answers empty choices
instead of messages, which it cannot show.
"""

from __future__ import annotations

from collections.abc import Mapping

from interactions import responses
from interactions.commands import help as help_commands
from interactions.commands import playback, status
from interactions.commands.base import Handler, Reply, Services
from interactions.context import Interaction
from interactions.discord_types import InteractionType
from interactions.ratelimit import RateLimiter

USE_IN_SERVER = "Use this in a server, in a text channel where the bot is."
NOT_ALLOWED = "This music bot isn't enabled for this server."
UNKNOWN_COMMAND = "I don't know that command. Try /help."

DEFAULT_COMMANDS: Mapping[str, Handler] = {
    **playback.COMMANDS_HANDLED,
    **help_commands.COMMANDS_HANDLED,
    **status.COMMANDS_HANDLED,
}
DEFAULT_AUTOCOMPLETE: Mapping[str, Handler] = playback.AUTOCOMPLETE


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
        component: Handler = playback.component,
    ) -> None:
        self._services = services
        self._rate_limiter = rate_limiter
        self._allowlist = guild_allowlist
        self._commands = commands
        self._autocomplete = autocomplete
        self._component = component

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
            return await self._component(self._services, interaction)
        handler = self._commands.get(interaction.command or "")
        if handler is None:
            return Reply(responses.ephemeral(UNKNOWN_COMMAND), "unknown_command")
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
