"""The REST operations the fake implements, keyed by the spec's ``operationId``."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from fake_discord.core import INTENT_GUILD_MESSAGES, Core
from fake_discord.interactions import InteractionRecord, Reply, error
from fake_discord.payloads import (
    application_payload,
    apply_message_edit,
    channel_payload,
    command_payload,
    is_empty_message,
    me_payload,
    message_payload,
    voice_state_payload,
)
from fake_discord.spec import RouteMatch
from fake_discord.world import Permission

JSON = dict[str, Any]


@dataclass
class RequestContext:
    """A validated request, as handlers see it."""

    core: Core
    match: RouteMatch
    query: dict[str, str]
    body: Any
    has_files: bool
    auth: str

    def param(self, name: str) -> str:
        """A path parameter."""
        return self.match.path_params[name]


Handler = Callable[[RequestContext], Awaitable[Reply]]


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1")


# --- login and gateway discovery -----------------------------------------------------------
async def get_bot_gateway(ctx: RequestContext) -> Reply:
    """``GET /gateway/bot``: the gateway URL and the identify budget."""
    return Reply(
        200,
        {
            "url": ctx.core.gateway_url,
            "shards": 1,
            "session_start_limit": {
                "total": ctx.core.session_start_total,
                "remaining": ctx.core.session_start_remaining(),
                "reset_after": 86_400_000,
                "max_concurrency": 1,
            },
        },
    )


async def get_gateway(ctx: RequestContext) -> Reply:
    """``GET /gateway``."""
    return Reply(200, {"url": ctx.core.gateway_url})


async def get_my_user(ctx: RequestContext) -> Reply:
    """``GET /users/@me`` (discord.py's login)."""
    return Reply(200, me_payload(ctx.core.bot))


async def get_my_application(ctx: RequestContext) -> Reply:
    """``GET /oauth2/applications/@me`` (discord.py's login)."""
    core = ctx.core
    return Reply(
        200,
        application_payload(
            core.application_id, core.bot, core.owner, core.public_key_hex, core.interactions_url
        ),
    )


async def get_channel(ctx: RequestContext) -> Reply:
    """``GET /channels/{id}``."""
    guild = ctx.core.find_channel(ctx.param("channel_id"))
    if guild is None:
        return error(404, 10003, "Unknown Channel")
    return Reply(200, channel_payload(guild.channels[ctx.param("channel_id")]))


# --- interaction callback and follow-up webhook ---------------------------------------------
async def create_interaction_response(ctx: RequestContext) -> Reply:
    """``POST /interactions/{id}/{token}/callback``."""
    ledger = ctx.core.ledger
    record = ledger.by_id.get(ctx.param("interaction_id"))
    if record is None or record.token != ctx.param("interaction_token"):
        return error(404, 10062, "Unknown interaction")
    reply = ledger.respond(
        record, ctx.body, via="callback", with_response=_truthy(ctx.query.get("with_response"))
    )
    ctx.core.changes.pulse()
    return reply


def _webhook(ctx: RequestContext) -> InteractionRecord | Reply:
    return ctx.core.ledger.webhook(ctx.param("webhook_id"), ctx.param("webhook_token"))


async def execute_webhook(ctx: RequestContext) -> Reply:
    """``POST /webhooks/{app}/{token}``: an interaction follow-up."""
    record = _webhook(ctx)
    if isinstance(record, Reply):
        return record
    reply = ctx.core.ledger.execute(record, ctx.body or {}, ctx.has_files)
    ctx.core.changes.pulse()
    return reply


async def get_webhook_message(ctx: RequestContext) -> Reply:
    """``GET .../messages/@original`` or ``.../messages/{id}``."""
    record = _webhook(ctx)
    if isinstance(record, Reply):
        return record
    message = ctx.core.ledger.find_message(
        record, ctx.match.path_params.get("message_id", "@original")
    )
    return Reply(200, message) if message is not None else error(404, 10008, "Unknown Message")


async def update_webhook_message(ctx: RequestContext) -> Reply:
    """``PATCH .../messages/@original`` or ``.../messages/{id}``."""
    record = _webhook(ctx)
    if isinstance(record, Reply):
        return record
    reply = ctx.core.ledger.edit(
        record, ctx.match.path_params.get("message_id", "@original"), ctx.body or {}
    )
    ctx.core.changes.pulse()
    return reply


async def delete_webhook_message(ctx: RequestContext) -> Reply:
    """``DELETE .../messages/@original`` or ``.../messages/{id}``."""
    record = _webhook(ctx)
    if isinstance(record, Reply):
        return record
    reply = ctx.core.ledger.delete(record, ctx.match.path_params.get("message_id", "@original"))
    ctx.core.changes.pulse()
    return reply


# --- channel messages with the bot token ----------------------------------------------------
def _channel_access(ctx: RequestContext, needed: Permission) -> Reply | None:
    core = ctx.core
    guild = core.find_channel(ctx.param("channel_id"))
    if guild is None:
        return error(404, 10003, "Unknown Channel")
    if guild.channels[ctx.param("channel_id")].type != 0 and needed & Permission.SEND_MESSAGES:
        needed |= Permission.CONNECT  # text-in-voice needs to see the voice channel
    perms = guild.permissions_in(core.bot.id, ctx.param("channel_id"))
    if perms & needed != needed:
        return error(403, 50013, "Missing Permissions")
    return None


async def create_message(ctx: RequestContext) -> Reply:
    """``POST /channels/{id}/messages``."""
    denied = _channel_access(ctx, Permission.VIEW_CHANNEL | Permission.SEND_MESSAGES)
    if denied is not None:
        return denied
    body: JSON = ctx.body or {}
    if is_empty_message(body, ctx.has_files):
        return error(400, 50006, "Cannot send an empty message")
    core = ctx.core
    message = core.messages.add(
        message_payload(core.ids.next(), ctx.param("channel_id"), core.bot, body)
    )
    guild = core.find_channel(ctx.param("channel_id"))
    if guild is not None:
        core.dispatch_guild(
            guild.id, "MESSAGE_CREATE", {**message, "guild_id": guild.id}, INTENT_GUILD_MESSAGES
        )
    core.changes.pulse()
    return Reply(200, message)


def _own_message(ctx: RequestContext) -> JSON | Reply:
    denied = _channel_access(ctx, Permission.VIEW_CHANNEL)
    if denied is not None:
        return denied
    message = ctx.core.messages.get(ctx.param("channel_id"), ctx.param("message_id"))
    if message is None:
        return error(404, 10008, "Unknown Message")
    return message


async def get_message(ctx: RequestContext) -> Reply:
    """``GET /channels/{id}/messages/{mid}``."""
    message = _own_message(ctx)
    return message if isinstance(message, Reply) else Reply(200, message)


async def list_messages(ctx: RequestContext) -> Reply:
    """``GET /channels/{id}/messages`` (newest first, like Discord)."""
    denied = _channel_access(ctx, Permission.VIEW_CHANNEL | Permission.READ_MESSAGE_HISTORY)
    if denied is not None:
        return denied
    limit = int(ctx.query.get("limit", "50"))
    return Reply(200, list(reversed(ctx.core.messages.list(ctx.param("channel_id"))))[:limit])


async def update_message(ctx: RequestContext) -> Reply:
    """``PATCH /channels/{id}/messages/{mid}``: only the bot's own messages."""
    message = _own_message(ctx)
    if isinstance(message, Reply):
        return message
    if message["author"]["id"] != ctx.core.bot.id:
        return error(403, 50005, "Cannot edit a message authored by another user")
    apply_message_edit(message, ctx.body or {})
    ctx.core.changes.pulse()
    return Reply(200, message)


async def delete_message(ctx: RequestContext) -> Reply:
    """``DELETE /channels/{id}/messages/{mid}``."""
    message = _own_message(ctx)
    if isinstance(message, Reply):
        return message
    ctx.core.messages.delete(ctx.param("channel_id"), ctx.param("message_id"))
    ctx.core.changes.pulse()
    return Reply(204, None)


async def trigger_typing(ctx: RequestContext) -> Reply:
    """``POST /channels/{id}/typing``."""
    denied = _channel_access(ctx, Permission.VIEW_CHANNEL | Permission.SEND_MESSAGES)
    return denied or Reply(204, None)


# --- application commands -------------------------------------------------------------------
def _command_scope(ctx: RequestContext) -> str | Reply | None:
    if ctx.param("application_id") != ctx.core.application_id:
        return error(403, 50001, "Missing Access")
    guild_id = ctx.match.path_params.get("guild_id")
    if guild_id is not None and guild_id not in ctx.core.guilds:
        return error(403, 50001, "Missing Access")
    return guild_id


# Discord's docs (which win over the spec) restrict CHAT_INPUT and option names further.
_CHAT_INPUT_NAME = re.compile(r"^[-_'\w]{1,32}$")


def _name_problem(entry: JSON) -> tuple[list[str], str] | None:
    """Where and why a chat-input command (or one of its options) breaks the naming rules."""
    if int(entry.get("type") or 1) != 1:
        return None
    items: list[tuple[list[str], JSON]] = [([], entry)]
    while items:
        path, item = items.pop()
        name = str(item.get("name", ""))
        if not _CHAT_INPUT_NAME.match(name) or name != name.lower():
            return [*path, "name"], f"Invalid chat input name {name!r} (lowercase, no spaces)"
        if not 1 <= len(item.get("description") or "") <= 100:
            return [*path, "description"], "Must be between 1 and 100 in length."
        for index, option in enumerate(item.get("options") or []):
            items.append(([*path, "options", str(index)], option))
    return None


def _form_error(index: int, path: list[str], code: str, message: str) -> Reply:
    node: JSON = {"_errors": [{"code": code, "message": message}]}
    for part in reversed([str(index), *path]):
        node = {part: node}
    return Reply(
        400,
        {"code": 50035, "message": "Invalid Form Body", "errors": node},
        f"command {index}: {message}",
    )


async def bulk_set_commands(ctx: RequestContext) -> Reply:
    """``PUT /applications/{app}[/guilds/{guild}]/commands``: bulk overwrite."""
    scope = _command_scope(ctx)
    if isinstance(scope, Reply):
        return scope
    core = ctx.core
    seen: set[tuple[str, int]] = set()
    for index, entry in enumerate(ctx.body or []):
        key = (entry["name"], int(entry.get("type") or 1))
        if key in seen:
            return _form_error(
                index,
                ["name"],
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                "Application command names must be unique",
            )
        seen.add(key)
        problem = _name_problem(entry)
        if problem is not None:
            return _form_error(index, problem[0], "APPLICATION_COMMAND_INVALID_NAME", problem[1])
    version = core.ids.next()
    commands = [
        command_payload(
            entry,
            core.commands.existing_id(scope, entry["name"]) or core.ids.next(),
            core.application_id,
            version,
            scope,
        )
        for entry in ctx.body or []
    ]
    core.commands.overwrite(scope, commands)
    core.changes.pulse()
    return Reply(200, commands)


async def list_commands(ctx: RequestContext) -> Reply:
    """``GET /applications/{app}[/guilds/{guild}]/commands``."""
    scope = _command_scope(ctx)
    if isinstance(scope, Reply):
        return scope
    return Reply(200, ctx.core.commands.list(scope))


# --- voice states ---------------------------------------------------------------------------
async def get_voice_state(ctx: RequestContext) -> Reply:
    """``GET /guilds/{guild}/voice-states/{user|@me}``."""
    guild = ctx.core.guilds.get(ctx.param("guild_id"))
    if guild is None:
        return error(404, 10004, "Unknown Guild")
    user_id = ctx.match.path_params.get("user_id", ctx.core.bot.id)
    state = guild.voice_states.get(user_id)
    if state is None:
        # A normal answer (the user is not in voice), not a client mistake.
        return Reply(404, {"code": 10065, "message": "Unknown Voice State"})
    return Reply(200, voice_state_payload(guild, state, user_id))


# operationId -> handler; every other operation of the spec answers 501 (see rest.py).
HANDLERS: Mapping[str, Handler] = MappingProxyType(
    {
        "get_bot_gateway": get_bot_gateway,
        "get_gateway": get_gateway,
        "get_my_user": get_my_user,
        "get_my_oauth2_application": get_my_application,
        "get_channel": get_channel,
        "create_interaction_response": create_interaction_response,
        "execute_webhook": execute_webhook,
        "get_original_webhook_message": get_webhook_message,
        "get_webhook_message": get_webhook_message,
        "update_original_webhook_message": update_webhook_message,
        "update_webhook_message": update_webhook_message,
        "delete_original_webhook_message": delete_webhook_message,
        "delete_webhook_message": delete_webhook_message,
        "create_message": create_message,
        "get_message": get_message,
        "list_messages": list_messages,
        "update_message": update_message,
        "delete_message": delete_message,
        "trigger_typing_indicator": trigger_typing,
        "bulk_set_application_commands": bulk_set_commands,
        "bulk_set_guild_application_commands": bulk_set_commands,
        "list_application_commands": list_commands,
        "list_guild_application_commands": list_commands,
        "get_voice_state": get_voice_state,
        "get_self_voice_state": get_voice_state,
    }
)
